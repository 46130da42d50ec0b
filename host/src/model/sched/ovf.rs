//! ovf — overflow-connection (§9.2, `ip_vs_ovf.c: ip_vs_ovf_schedule()`).
//!
//! Skips dests that are OVERLOADed, have `activeconns > weight` (so a dest takes up to
//! weight+1 active connections) or `weight == 0`; among the rest the highest weight, first in
//! list order among equals (`!h || w > hw`).

use super::{DestChange, DestId, DestView, Packet, Scheduler};

#[derive(Clone, Copy, Debug, Default)]
pub struct Ovf;

/// The selection rule.
#[inline]
pub fn pick(dests: &[DestView]) -> Option<DestId> {
    let mut best: Option<DestId> = None;
    let mut hw: i32 = 0;
    for d in dests {
        let w = d.weight;
        // atomic_read(&activeconns) > w: both `int`
        if d.overloaded || (d.activeconns as i32) > w || w == 0 {
            continue;
        }
        if best.is_none() || w > hw {
            best = Some(d.id);
            hw = w;
        }
    }
    best
}

impl Scheduler for Ovf {
    fn name(&self) -> &'static str {
        "ovf"
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

    /// §9.2 ovf: highest weight while active ≤ weight (so weight+1 actives fit), then overflow.
    #[test]
    fn s9_2_ovf_overflow_at_weight_plus_one() {
        // id 2 has weight 3 and 3 active: 3 > 3 is false → still chosen
        let d = [dl(1, 2, 0, 0), dl(2, 3, 3, 0)];
        assert_eq!(pick(&d), Some(DestId(2)));
        // 4 active > 3 → overflow to id 1
        let d = [dl(1, 2, 0, 0), dl(2, 3, 4, 0)];
        assert_eq!(pick(&d), Some(DestId(1)));
        // inactive connections do not count
        let d = [dl(1, 2, 0, 0), dl(2, 3, 0, 1000)];
        assert_eq!(pick(&d), Some(DestId(2)));
    }

    /// §9.2 ovf: equal weights → first in list; weight 0 / OVERLOAD skipped; none → None.
    #[test]
    fn s9_2_ovf_ties_and_eligibility() {
        let d = [dl(1, 3, 1, 0), dl(2, 3, 0, 0)];
        assert_eq!(pick(&d), Some(DestId(1)));
        let mut o = dl(1, 9, 0, 0);
        o.overloaded = true;
        let d = [o, dl(2, 0, 0, 0), dl(3, 1, 1, 0)];
        assert_eq!(pick(&d), Some(DestId(3)));
        let d = [o, dl(2, 0, 0, 0), dl(3, 1, 2, 0)];
        assert_eq!(pick(&d), None);
    }
}
