//! nq — never queue (§9.2, `ip_vs_nq.c: ip_vs_nq_schedule()`).
//!
//! Skips OVERLOADed and `weight == 0` dests. The first remaining dest (list order) with
//! `activeconns == 0` is returned at once; otherwise the sed rule
//! (`(s64)loh * w_dest > (s64)doh * w_least`, overhead `activeconns + 1`, strict).

use super::{sed::sed_overhead, DestChange, DestId, DestView, Packet, Scheduler};

#[derive(Clone, Copy, Debug, Default)]
pub struct Nq;

/// The selection rule.
#[inline]
pub fn pick(dests: &[DestView]) -> Option<DestId> {
    let mut least: Option<&DestView> = None;
    let mut loh: i32 = 0;
    for d in dests {
        if d.overloaded || d.weight == 0 {
            continue;
        }
        let doh = sed_overhead(d);
        if d.activeconns == 0 {
            return Some(d.id);
        }
        let better = match least {
            None => true,
            Some(l) => (loh as i64) * (d.weight as i64) > (doh as i64) * (l.weight as i64),
        };
        if better {
            least = Some(d);
            loh = doh;
        }
    }
    least.map(|d| d.id)
}

impl Scheduler for Nq {
    fn name(&self) -> &'static str {
        "nq"
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

    /// §9.2 nq: the first idle (activeconns == 0) eligible dest wins immediately, even if a
    /// later dest has a much better ratio; inactive connections do not make a dest busy.
    #[test]
    fn s9_2_nq_first_idle_wins() {
        let d = [dl(1, 10, 1, 0), dl(2, 1, 0, 500), dl(3, 100, 0, 0)];
        assert_eq!(pick(&d), Some(DestId(2)));
    }

    /// §9.2 nq: no idle dest → sed rule, ties to the front.
    #[test]
    fn s9_2_nq_sed_fallback() {
        // (1+1)/1 = 2, (3+1)/2 = 2 (tie), (2+1)/2 = 1.5 → id 3
        let d = [dl(1, 1, 1, 0), dl(2, 2, 3, 0), dl(3, 2, 2, 0)];
        assert_eq!(pick(&d), Some(DestId(3)));
        let d = [dl(1, 1, 1, 0), dl(2, 2, 3, 0)];
        assert_eq!(pick(&d), Some(DestId(1)));
    }

    /// §9.2 nq: idle but quiesced (weight 0) or OVERLOADed dests are skipped.
    #[test]
    fn s9_2_nq_eligibility() {
        let mut o = dl(2, 1, 0, 0);
        o.overloaded = true;
        let d = [dl(1, 0, 0, 0), o, dl(3, 1, 4, 0)];
        assert_eq!(pick(&d), Some(DestId(3)));
        assert_eq!(pick(&[dl(1, 0, 0, 0), o]), None);
    }
}
