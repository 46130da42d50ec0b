//! wlc — weighted least connection, the ipvsadm default (§9.2,
//! `ip_vs_wlc.c: ip_vs_wlc_schedule()`).
//!
//! The first dest (list order) that is not OVERLOADed and has `weight > 0` is the initial
//! `least`; every later non-OVERLOADed dest replaces it when
//! `(s64)loh * w_dest > (s64)doh * w_least` (strict; `int` overheads). The second loop does not
//! test the weight: a weight-0 dest can only win if its `int` overhead is negative (wrapped).

use super::{DestChange, DestId, DestView, Packet, Scheduler};

#[derive(Clone, Copy, Debug, Default)]
pub struct Wlc;

/// The wlc / sed comparison loop, parametrised by the overhead function (`int` result).
#[inline]
pub(crate) fn weighted_least(dests: &[DestView], oh: impl Fn(&DestView) -> i32) -> Option<DestId> {
    let start = dests.iter().position(|d| !d.overloaded && d.weight > 0)?;
    let mut least = &dests[start];
    let mut loh = oh(least);
    for d in &dests[start + 1..] {
        if d.overloaded {
            continue;
        }
        let doh = oh(d);
        if (loh as i64) * (d.weight as i64) > (doh as i64) * (least.weight as i64) {
            least = d;
            loh = doh;
        }
    }
    Some(least.id)
}

/// The selection rule.
#[inline]
pub fn pick(dests: &[DestView]) -> Option<DestId> {
    weighted_least(dests, DestView::kernel_overhead)
}

impl Scheduler for Wlc {
    fn name(&self) -> &'static str {
        "wlc"
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

    /// §9.2 wlc: minimum overhead/weight, strict comparison → ties to the front.
    #[test]
    fn s9_2_wlc_ratio_and_ties() {
        // 512/2 = 256 vs 256/1 = 256: tie → first (id 1)
        let d = [dl(1, 2, 2, 0), dl(2, 1, 1, 0)];
        assert_eq!(pick(&d), Some(DestId(1)));
        // 512/2 = 256 vs 255/1 → id 2
        let d = [dl(1, 2, 2, 0), dl(2, 1, 0, 255)];
        assert_eq!(pick(&d), Some(DestId(2)));
        // weight 3 with 3 active (768/3=256) vs weight 1 with 257 inactive → id 1
        let d = [dl(1, 3, 3, 0), dl(2, 1, 0, 257)];
        assert_eq!(pick(&d), Some(DestId(1)));
        // all idle → list head
        let d = [dl(1, 1, 0, 0), dl(2, 9, 0, 0)];
        assert_eq!(pick(&d), Some(DestId(1)));
    }

    /// §9.2 wlc: weight-0 dests never win; the first eligible starts even if loaded;
    /// OVERLOAD skipped; nothing eligible → None.
    #[test]
    fn s9_2_wlc_weight0_and_overload() {
        let d = [dl(1, 0, 0, 0), dl(2, 1, 10, 0), dl(3, 0, 0, 0)];
        assert_eq!(pick(&d), Some(DestId(2)));
        let mut o = dl(1, 5, 0, 0);
        o.overloaded = true;
        let d = [o, dl(2, 1, 4, 0), dl(3, 1, 3, 0)];
        assert_eq!(pick(&d), Some(DestId(3)));
        assert_eq!(pick(&[o, dl(2, 0, 0, 0)]), None);
    }

    /// §9.2 wlc: products are 64-bit (no overflow with large counts and weights).
    #[test]
    fn s9_2_wlc_64bit_products() {
        // loh = 1_000_000*256 = 256e6, w=65535 vs doh = 256e6-1 with w=65535:
        // 32-bit products would overflow; 64-bit picks the smaller overhead (id 2).
        let d = [dl(1, 65535, 1_000_000, 0), dl(2, 65535, 999_999, 255)];
        assert_eq!(pick(&d), Some(DestId(2)));
    }
}
