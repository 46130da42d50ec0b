//! wrr — weighted round robin (§9.2, `ip_vs_wrr.c`).
//!
//! State `ip_vs_wrr_mark`: `cl` (list head or a dest), `cw` (current weight), `mw` (max weight
//! − (di − 1)), `di` (gcd of the positive weights, 1 if none).
//!
//! * `init_service`: `cl` = head, `di` = gcd, `mw` = max − (di − 1), `cw` = `mw`.
//! * `add_dest` / `del_dest` / `upd_dest` (`ip_vs_wrr_dest_changed()`): `cl` = head, `di` and
//!   `mw` recomputed; `cw` = `mw` if `cw > mw || cw == 0`, else if `di > 1`
//!   `cw = (cw / di) * di + 1`.
//! * `ip_vs_wrr_schedule()`: `mw == 0` → NULL (cl unchanged). Otherwise walk from `cl` for the
//!   first non-OVERLOADed dest with `weight >= cw`; at each end of list `cw -= di`, and when
//!   `cw <= 0`: `cw = mw` and stop (NULL) if this was already the last pass or the walk started
//!   at the head, otherwise mark `restarted`. `last_pass = cw <= di`; on a last pass after a
//!   restart the walk stops at the starting dest (`stop`). On failure `cl` is left at the dest
//!   where the walk stopped: the `stop` dest, or the head when the end of the list was reached.

use super::{DestChange, DestId, DestView, Packet, Scheduler};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wrr {
    /// `None` = list head; else the index of the current dest (always valid: every list change
    /// resets `cl` to the head).
    cl: Option<usize>,
    cw: i32,
    mw: i32,
    di: i32,
}

impl Default for Wrr {
    fn default() -> Self {
        // The state of `init_service` on an empty list.
        Wrr {
            cl: None,
            cw: 0,
            mw: 0,
            di: 1,
        }
    }
}

fn gcd(mut a: i32, mut b: i32) -> i32 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// `ip_vs_wrr_gcd_weight()`: gcd of the weights > 0; 1 if there are none.
fn gcd_weight(dests: &[DestView]) -> i32 {
    let mut g = 0;
    for d in dests {
        if d.weight > 0 {
            g = if g > 0 { gcd(d.weight, g) } else { d.weight };
        }
    }
    if g != 0 {
        g
    } else {
        1
    }
}

/// `ip_vs_wrr_max_weight()`.
fn max_weight(dests: &[DestView]) -> i32 {
    dests.iter().map(|d| d.weight).fold(0, i32::max)
}

impl Wrr {
    /// `(cl, cw, mw, di)` for inspection; `cl` as the dest id (`None` = head).
    pub fn state(&self, dests: &[DestView]) -> (Option<DestId>, i32, i32, i32) {
        (self.cl.map(|i| dests[i].id), self.cw, self.mw, self.di)
    }
}

impl Scheduler for Wrr {
    fn name(&self) -> &'static str {
        "wrr"
    }

    fn init(&mut self, dests: &[DestView], _sched_flags: u32) {
        self.cl = None;
        self.di = gcd_weight(dests);
        self.mw = max_weight(dests) - (self.di - 1);
        self.cw = self.mw;
    }

    fn dest_changed(&mut self, dests: &[DestView], _change: DestChange) {
        self.cl = None;
        self.di = gcd_weight(dests);
        self.mw = max_weight(dests) - (self.di - 1);
        if self.cw > self.mw || self.cw == 0 {
            self.cw = self.mw;
        } else if self.di > 1 {
            self.cw = (self.cw / self.di) * self.di + 1;
        }
    }

    fn schedule(&mut self, dests: &[DestView], _pkt: &Packet) -> Option<DestId> {
        if self.mw == 0 {
            return None;
        }
        let n = dests.len();
        // Defensive: a stale index (list changed without dest_changed) behaves as the head.
        let last = self.cl.filter(|&i| i < n);
        let mut start = last.map_or(0, |i| i + 1);
        let mut stop: Option<usize> = None;
        let mut last_pass = false;
        let mut restarted = false;
        loop {
            for (i, d) in dests.iter().enumerate().skip(start) {
                if !d.overloaded && d.weight >= self.cw {
                    self.cl = Some(i);
                    return Some(d.id);
                }
                if stop == Some(i) {
                    self.cl = Some(i);
                    return None;
                }
            }
            start = 0;
            self.cw -= self.di;
            if self.cw <= 0 {
                self.cw = self.mw;
                if last_pass || last.is_none() {
                    self.cl = None;
                    return None;
                }
                restarted = true;
            }
            last_pass = self.cw <= self.di;
            if last_pass && restarted && last.is_some() {
                stop = last;
            }
        }
    }

    fn box_clone(&self) -> Box<dyn Scheduler> {
        Box::new(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    fn ws(ws: &[(u32, i32)]) -> Vec<DestView> {
        ws.iter()
            .map(|&(id, w)| dv(id, "10.0.0.1", 80, w))
            .collect()
    }

    /// §9.2 wrr, weights 4,3,2 in list order A(1),B(2),C(3): worked by hand from
    /// ip_vs_wrr_schedule(): di=1, mw=4; cw=4: A | cw=3: A B | cw=2: A B C | cw=1: A B C | cw
    /// wraps to 4 → repeat.
    #[test]
    fn s9_2_wrr_4_3_2_cycle() {
        let mut s = Wrr::default();
        let d = ws(&[(1, 4), (2, 3), (3, 2)]);
        s.init(&d, 0);
        assert_eq!(s.state(&d), (None, 4, 4, 1));
        let cycle = vec![1, 1, 2, 1, 2, 3, 1, 2, 3];
        let mut want = cycle.clone();
        want.extend(&cycle);
        assert_eq!(run(&mut s, &d, 18), want);
    }

    /// §9.2 wrr with gcd > 1: weights 4,2 → di=2, mw=4−1=3; cw=3: A | cw=1: A B | cw=−1→3.
    #[test]
    fn s9_2_wrr_gcd_4_2() {
        let mut s = Wrr::default();
        let d = ws(&[(1, 4), (2, 2)]);
        s.init(&d, 0);
        assert_eq!(s.state(&d), (None, 3, 3, 2));
        assert_eq!(run(&mut s, &d, 6), vec![1, 1, 2, 1, 1, 2]);
    }

    /// §9.2 wrr history dependence: 4,3,2 after five picks (cw=2, cl=B) a dest D of weight 1 is
    /// added at the head. dest_changed: cl=head, di=1, mw=4, cw stays 2 (not > mw, not 0,
    /// di == 1). From the head: cw=2: A B C | cw=1: D A B C | cw→4: A | cw=3: A B ...
    /// A fresh service with the same list D,A,B,C instead starts cw=4: A | cw=3: A B | ...
    #[test]
    fn s9_2_wrr_history_after_add() {
        let mut s = Wrr::default();
        let mut d = ws(&[(1, 4), (2, 3), (3, 2)]);
        s.init(&d, 0);
        assert_eq!(run(&mut s, &d, 5), vec![1, 1, 2, 1, 2]);
        assert_eq!(s.state(&d), (Some(DestId(2)), 2, 4, 1));
        d.insert(0, dv(4, "10.0.0.4", 80, 1));
        s.dest_changed(&d, DestChange::Added(DestId(4)));
        assert_eq!(s.state(&d), (None, 2, 4, 1));
        assert_eq!(run(&mut s, &d, 10), vec![1, 2, 3, 4, 1, 2, 3, 1, 1, 2]);

        let mut fresh = Wrr::default();
        fresh.init(&d, 0);
        assert_eq!(run(&mut fresh, &d, 10), vec![1, 1, 2, 1, 2, 3, 4, 1, 2, 3]);
    }

    /// §9.2 wrr dest_changed with di > 1: cw = (cw/di)*di + 1. Weights 6,4 (di=2, mw=5,
    /// cw=5). Edit B to 3: di=3, mw=4, cw=5 > 4 → cw = 4. Two picks leave cw = 1. Edit B
    /// back to 4: di=2, mw=5, cw=1 → (1/2)*2+1 = 1.
    #[test]
    fn s9_2_wrr_dest_changed_rounding() {
        let mut s = Wrr::default();
        let mut d = ws(&[(1, 6), (2, 4)]);
        s.init(&d, 0);
        assert_eq!(s.state(&d), (None, 5, 5, 2));
        d[1].weight = 3;
        s.dest_changed(&d, DestChange::Updated(DestId(2)));
        assert_eq!(s.state(&d), (None, 4, 4, 3));
        // cw=4: A | cw=1: A B | cw=-2 → 4: A ...
        assert_eq!(run(&mut s, &d, 2), vec![1, 1]);
        assert_eq!(s.state(&d), (Some(DestId(1)), 1, 4, 3));
        d[1].weight = 4;
        s.dest_changed(&d, DestChange::Updated(DestId(2)));
        // cw=1: not > 5, not 0, di=2 → (1/2)*2+1 = 1
        assert_eq!(s.state(&d), (None, 1, 5, 2));
        // from the head, cw=1: A B | cw=-1 → 5: A | cw=3: A B | cw=1: A B
        assert_eq!(run(&mut s, &d, 7), vec![1, 2, 1, 1, 2, 1, 2]);
    }

    /// §9.2 wrr: all weights 0 → mw = 0 → None; OVERLOAD skipped.
    #[test]
    fn s9_2_wrr_no_dest() {
        let mut s = Wrr::default();
        let d = ws(&[(1, 0), (2, 0)]);
        s.init(&d, 0);
        assert_eq!(s.state(&d), (None, 0, 0, 1));
        assert_eq!(run(&mut s, &d, 2), vec![u32::MAX, u32::MAX]);
        let mut s = Wrr::default();
        s.init(&[], 0);
        assert_eq!(run(&mut s, &[], 1), vec![u32::MAX]);
    }

    /// §9.2 wrr failure leaves `cl` where the walk stopped. Started at a dest: a restart, then
    /// the last pass stops at that dest (cl stays A), so the next pick after recovery is B.
    #[test]
    fn s9_2_wrr_failure_cursor_stop_dest() {
        let mut s = Wrr::default();
        let mut d = ws(&[(1, 1), (2, 1), (3, 1)]);
        s.init(&d, 0);
        assert_eq!(run(&mut s, &d, 1), vec![1]);
        for x in d.iter_mut() {
            x.overloaded = true;
        }
        assert_eq!(run(&mut s, &d, 1), vec![u32::MAX]);
        assert_eq!(s.state(&d), (Some(DestId(1)), 1, 1, 1));
        for x in d.iter_mut() {
            x.overloaded = false;
        }
        assert_eq!(run(&mut s, &d, 3), vec![2, 3, 1]);
    }

    /// §9.2 wrr failure via the `last_pass` exit: started at A with cw=2 > di, passes cw=2
    /// (after A), cw=1 (all), then cw ≤ 0 on a last pass → NULL with cl = head, cw = mw = 2.
    /// Weights A=2,B=1,C=1. Recovery from the head: cw=2: A | cw=1: A B C.
    #[test]
    fn s9_2_wrr_failure_cursor_head() {
        let mut s = Wrr::default();
        let mut d = ws(&[(1, 2), (2, 1), (3, 1)]);
        s.init(&d, 0);
        assert_eq!(run(&mut s, &d, 1), vec![1]);
        assert_eq!(s.state(&d), (Some(DestId(1)), 2, 2, 1));
        for x in d.iter_mut() {
            x.overloaded = true;
        }
        assert_eq!(run(&mut s, &d, 1), vec![u32::MAX]);
        assert_eq!(s.state(&d), (None, 2, 2, 1));
        for x in d.iter_mut() {
            x.overloaded = false;
        }
        assert_eq!(run(&mut s, &d, 4), vec![1, 1, 2, 3]);
    }

    /// §9.2 wrr: deleting a dest resets `cl` to the head and keeps cw (1,1,1 → picks 1, 2;
    /// delete 3 → from the head: 1, 2, 1 ...; rr-like restart from the front, not after 2).
    #[test]
    fn s9_2_wrr_delete_resets_cursor() {
        let mut s = Wrr::default();
        let mut d = ws(&[(1, 1), (2, 1), (3, 1)]);
        s.init(&d, 0);
        assert_eq!(run(&mut s, &d, 2), vec![1, 2]);
        d.remove(2);
        s.dest_changed(
            &d,
            DestChange::Deleted {
                id: DestId(3),
                index: 2,
            },
        );
        assert_eq!(s.state(&d), (None, 1, 1, 1));
        assert_eq!(run(&mut s, &d, 3), vec![1, 2, 1]);
    }
}
