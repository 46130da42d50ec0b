//! lc — least connection (§9.2, `ip_vs_lc.c: ip_vs_lc_schedule()`).
//!
//! Skips dests that are OVERLOADed or have `weight == 0`; picks the minimum of
//! `ip_vs_dest_conn_overhead()` = `(activeconns << 8) + inactconns`, compared as
//! `unsigned int` with strict `<` so the earliest dest in list order wins ties.

use super::{DestChange, DestId, DestView, Packet, Scheduler};

#[derive(Clone, Copy, Debug, Default)]
pub struct Lc;

/// The selection rule, shared with tests.
#[inline]
pub fn pick(dests: &[DestView]) -> Option<DestId> {
    let mut least: Option<&DestView> = None;
    let mut loh: u32 = 0;
    for d in dests {
        if d.overloaded || d.weight == 0 {
            continue;
        }
        let doh = d.kernel_overhead() as u32;
        if least.is_none() || doh < loh {
            least = Some(d);
            loh = doh;
        }
    }
    least.map(|d| d.id)
}

impl Scheduler for Lc {
    fn name(&self) -> &'static str {
        "lc"
    }
    fn init(&mut self, _dests: &[DestView], _sched_flags: u32) {}
    fn dest_changed(&mut self, _dests: &[DestView], _change: DestChange) {}
    fn schedule(&mut self, dests: &[DestView], _pkt: &Packet) -> Option<DestId> {
        pick(dests)
    }
    fn box_clone(&self) -> Box<dyn Scheduler> {
        Box::new(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    /// §9.2 lc: minimum of active*256 + inactive; ties to the list front.
    #[test]
    fn s9_2_lc_min_overhead_ties_front() {
        // overheads: 1*256+0=256, 0*256+300=300, 1*256+0=256 → first of the two 256s.
        let d = [dl(1, 1, 1, 0), dl(2, 5, 0, 300), dl(3, 1, 1, 0)];
        assert_eq!(pick(&d), Some(DestId(1)));
        // all equal → list head
        let d = [dl(1, 1, 0, 0), dl(2, 1, 0, 0)];
        assert_eq!(pick(&d), Some(DestId(1)));
        // weights do not matter (only weight 0 excludes)
        let d = [dl(1, 100, 0, 2), dl(2, 1, 0, 1)];
        assert_eq!(pick(&d), Some(DestId(2)));
    }

    /// §9.2 lc: the factor is 256 (<<8), not 32 as the source comment says.
    #[test]
    fn s9_2_lc_shift_is_8_not_5() {
        // with <<5: 32 vs 100 → dest 1; with <<8: 256 vs 100 → dest 2
        let d = [dl(1, 1, 1, 0), dl(2, 1, 0, 100)];
        assert_eq!(pick(&d), Some(DestId(2)));
    }

    /// §9.1/§9.2 lc: weight 0 and OVERLOAD are skipped; none eligible → None.
    #[test]
    fn s9_2_lc_skips_quiesced_and_overloaded() {
        let mut o = dl(2, 1, 0, 0);
        o.overloaded = true;
        let d = [dl(1, 0, 0, 0), o, dl(3, 1, 5, 5)];
        assert_eq!(pick(&d), Some(DestId(3)));
        let d = [dl(1, 0, 0, 0), o];
        assert_eq!(pick(&d), None);
        assert_eq!(pick(&[]), None);
    }
}
