//! fo — weighted fail-over (§9.2, `ip_vs_fo.c: ip_vs_fo_schedule()`).
//!
//! The non-OVERLOADed dest with the highest weight (`weight > hw`, `hw` starting at 0, so
//! weight-0 dests never win); strict `>` → the first in list order among equals. No load
//! awareness.

use super::{DestChange, DestId, DestView, Packet, Scheduler};

#[derive(Clone, Copy, Debug, Default)]
pub struct Fo;

/// The selection rule.
#[inline]
pub fn pick(dests: &[DestView]) -> Option<DestId> {
    let mut best: Option<DestId> = None;
    let mut hw: i32 = 0;
    for d in dests {
        if !d.overloaded && d.weight > hw {
            best = Some(d.id);
            hw = d.weight;
        }
    }
    best
}

impl Scheduler for Fo {
    fn name(&self) -> &'static str {
        "fo"
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

    /// §9.2 fo: highest weight, first in list among equals, load ignored.
    #[test]
    fn s9_2_fo_highest_weight_first_of_equals() {
        let d = [
            dl(1, 2, 0, 0),
            dl(2, 5, 900, 900),
            dl(3, 5, 0, 0),
            dl(4, 3, 0, 0),
        ];
        assert_eq!(pick(&d), Some(DestId(2)));
    }

    /// §9.2 fo: OVERLOAD fails over to the next-highest weight; weight 0 never chosen.
    #[test]
    fn s9_2_fo_failover_and_weight0() {
        let mut o = dl(2, 5, 0, 0);
        o.overloaded = true;
        let d = [dl(1, 2, 0, 0), o, dl(3, 4, 0, 0)];
        assert_eq!(pick(&d), Some(DestId(3)));
        assert_eq!(pick(&[dl(1, 0, 0, 0), o]), None);
    }
}
