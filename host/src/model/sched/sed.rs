//! sed — shortest expected delay (§9.2, `ip_vs_sed.c: ip_vs_sed_schedule()`).
//!
//! Same loop as wlc with overhead `activeconns + 1` (inactive connections ignored).

use super::{wlc, DestChange, DestId, DestView, Packet, Scheduler};

#[derive(Clone, Copy, Debug, Default)]
pub struct Sed;

/// `ip_vs_sed_dest_overhead()`: `atomic_read(&activeconns) + 1` as `int`.
#[inline]
pub(crate) fn sed_overhead(d: &DestView) -> i32 {
    (d.activeconns as i32).wrapping_add(1)
}

/// The selection rule.
#[inline]
pub fn pick(dests: &[DestView]) -> Option<DestId> {
    wlc::weighted_least(dests, sed_overhead)
}

impl Scheduler for Sed {
    fn name(&self) -> &'static str {
        "sed"
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

    /// §9.2 sed: (active+1)/weight, inactive ignored, ties to the front.
    #[test]
    fn s9_2_sed_rule() {
        // (0+1)/1 = 1 vs (1+1)/2 = 1: tie → id 1
        let d = [dl(1, 1, 0, 0), dl(2, 2, 1, 0)];
        assert_eq!(pick(&d), Some(DestId(1)));
        // (0+1)/1 = 1 vs (0+1)/2 = 0.5 → id 2 (wlc would say 0/1 vs 0/2: tie → id 1)
        let d = [dl(1, 1, 0, 0), dl(2, 2, 0, 0)];
        assert_eq!(pick(&d), Some(DestId(2)));
        assert_eq!(wlc::pick(&d), Some(DestId(1)));
        // inactive ignored: id 1 has 1000 inactive, still (0+1)/3 < (1+1)/3
        let d = [dl(1, 3, 0, 1000), dl(2, 3, 1, 0)];
        assert_eq!(pick(&d), Some(DestId(1)));
    }

    /// §9.2 sed: weight 0 / OVERLOAD never chosen; nothing eligible → None.
    #[test]
    fn s9_2_sed_eligibility() {
        let mut o = dl(2, 10, 0, 0);
        o.overloaded = true;
        let d = [dl(1, 0, 0, 0), o, dl(3, 1, 7, 0)];
        assert_eq!(pick(&d), Some(DestId(3)));
        assert_eq!(pick(&[dl(1, 0, 0, 0), o]), None);
    }
}
