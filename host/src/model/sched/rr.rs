//! rr — round robin (§9.2, `ip_vs_rr.c`).
//!
//! The kernel keeps `svc->sched_data` pointing at a list position: the list head or a dest's
//! `n_list`. `ip_vs_rr_schedule()` walks forward from that position; from the head it makes one
//! pass over the whole list, from a dest it walks to the end and then (second pass of the
//! do/while) from the first dest up to and *including* the cursor's own dest. The first dest
//! that is not OVERLOADed and has `weight > 0` becomes the new cursor. No eligible dest → NULL,
//! cursor unchanged.
//!
//! `ip_vs_rr_del_dest()`: deleting the cursor's dest moves the cursor to its predecessor
//! (`p->next->prev`, i.e. the head if it was first). Adding a dest (at the head) does not move
//! it; `upd_dest` does nothing.

use super::{DestChange, DestId, DestView, Packet, Scheduler};

/// Cursor: `None` = list head, `Some((index, id))` = after that dest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rr {
    cursor: Option<(usize, DestId)>,
}

impl Rr {
    /// The dest the cursor points at (`None` = list head).
    pub fn cursor(&self) -> Option<DestId> {
        self.cursor.map(|c| c.1)
    }

    /// Cursor index in `dests`, re-synchronised by id if the index went stale.
    #[inline]
    fn cursor_index(&mut self, dests: &[DestView]) -> Option<usize> {
        let (idx, id) = self.cursor?;
        if dests.get(idx).is_some_and(|d| d.id == id) {
            return Some(idx);
        }
        // Should not happen when every list change is reported; fall back to a search, and to
        // the head if the dest is gone.
        match dests.iter().position(|d| d.id == id) {
            Some(i) => {
                self.cursor = Some((i, id));
                Some(i)
            }
            None => {
                self.cursor = None;
                None
            }
        }
    }
}

impl Scheduler for Rr {
    fn name(&self) -> &'static str {
        "rr"
    }

    fn init(&mut self, _dests: &[DestView], _sched_flags: u32) {
        self.cursor = None;
    }

    fn dest_changed(&mut self, dests: &[DestView], change: DestChange) {
        let Some((idx, id)) = self.cursor else { return };
        match change {
            DestChange::Added(_) => self.cursor = Some((idx + 1, id)),
            DestChange::Deleted { id: gone, index } => {
                if gone == id {
                    self.cursor = if index == 0 {
                        None
                    } else {
                        Some((index - 1, dests[index - 1].id))
                    };
                } else if idx > index {
                    self.cursor = Some((idx - 1, id));
                }
            }
            DestChange::Updated(_) => {}
        }
    }

    fn schedule(&mut self, dests: &[DestView], _pkt: &Packet) -> Option<DestId> {
        let n = dests.len();
        let start = match self.cursor_index(dests) {
            None => 0,
            Some(c) => c + 1,
        };
        // From the head: one pass over 0..n. From dest c: c+1..n, then 0..=c.
        for k in 0..n {
            let i = if start + k >= n {
                start + k - n
            } else {
                start + k
            };
            let d = &dests[i];
            if !d.overloaded && d.weight > 0 {
                self.cursor = Some((i, d.id));
                return Some(d.id);
            }
        }
        None
    }

    fn box_clone(&self) -> Box<dyn Scheduler> {
        Box::new(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    fn list(ids: &[u32]) -> Vec<DestView> {
        ids.iter().map(|&i| dv(i, "10.0.0.1", 80, 1)).collect()
    }

    /// §9.1/§9.2 rr: order follows the newest-first list. Added A(1), B(2), C(3) → list C,B,A
    /// → C, B, A, C, B, A.
    #[test]
    fn s9_2_rr_newest_first_order() {
        let mut s = Rr::default();
        let d = list(&[3, 2, 1]);
        s.init(&d, 0);
        assert_eq!(run(&mut s, &d, 6), vec![3, 2, 1, 3, 2, 1]);
    }

    /// §9.2 rr: ineligible dests (weight 0, OVERLOAD) are skipped; the cursor's own dest is
    /// checked last (second pass); nothing eligible → None and the cursor stays.
    #[test]
    fn s9_2_rr_skip_and_second_pass() {
        let mut s = Rr::default();
        let mut d = list(&[1, 2, 3]);
        s.init(&d, 0);
        assert_eq!(run(&mut s, &d, 1), vec![1]);
        d[1].weight = 0;
        d[2].overloaded = true;
        // from 1: 2 skip, 3 skip, wrap, 1 itself → 1
        assert_eq!(run(&mut s, &d, 2), vec![1, 1]);
        d[0].overloaded = true;
        assert_eq!(run(&mut s, &d, 1), vec![u32::MAX]);
        assert_eq!(s.cursor(), Some(DestId(1)));
        d[1].weight = 1;
        assert_eq!(run(&mut s, &d, 1), vec![2]);
    }

    /// §9.2 rr: adding a dest (at the head) does not move the cursor; the new dest is reached
    /// only after wrapping.
    #[test]
    fn s9_2_rr_add_keeps_cursor() {
        let mut s = Rr::default();
        let mut d = list(&[2, 1]);
        s.init(&d, 0);
        assert_eq!(run(&mut s, &d, 1), vec![2]); // cursor at 2 (index 0)
        d.insert(0, dv(3, "10.0.0.3", 80, 1));
        s.dest_changed(&d, DestChange::Added(DestId(3)));
        assert_eq!(run(&mut s, &d, 4), vec![1, 3, 2, 1]);
    }

    /// §9.2 rr: deleting the cursor's dest moves the cursor to its predecessor, so the
    /// dest after the deleted one is next; deleting the first dest moves it to the head.
    #[test]
    fn s9_2_rr_delete_cursor_moves_back() {
        // list 4,3,2,1; schedule 4,3 → cursor at 3 (index 1); delete 3 → cursor at 4
        let mut s = Rr::default();
        let mut d = list(&[4, 3, 2, 1]);
        s.init(&d, 0);
        assert_eq!(run(&mut s, &d, 2), vec![4, 3]);
        d.remove(1);
        s.dest_changed(
            &d,
            DestChange::Deleted {
                id: DestId(3),
                index: 1,
            },
        );
        assert_eq!(s.cursor(), Some(DestId(4)));
        assert_eq!(run(&mut s, &d, 3), vec![2, 1, 4]);

        // cursor on the first dest; delete it → head → next is the new first dest
        let mut s = Rr::default();
        let mut d = list(&[4, 3, 2, 1]);
        s.init(&d, 0);
        assert_eq!(run(&mut s, &d, 1), vec![4]);
        d.remove(0);
        s.dest_changed(
            &d,
            DestChange::Deleted {
                id: DestId(4),
                index: 0,
            },
        );
        assert_eq!(s.cursor(), None);
        assert_eq!(run(&mut s, &d, 3), vec![3, 2, 1]);
    }

    /// §9.2 rr: deleting another dest keeps the cursor on its dest (index shifts).
    #[test]
    fn s9_2_rr_delete_other_keeps_cursor() {
        let mut s = Rr::default();
        let mut d = list(&[4, 3, 2, 1]);
        s.init(&d, 0);
        assert_eq!(run(&mut s, &d, 3), vec![4, 3, 2]); // cursor at 2 (index 2)
        d.remove(0);
        s.dest_changed(
            &d,
            DestChange::Deleted {
                id: DestId(4),
                index: 0,
            },
        );
        assert_eq!(s.cursor(), Some(DestId(2)));
        assert_eq!(run(&mut s, &d, 3), vec![1, 3, 2]);
    }
}
