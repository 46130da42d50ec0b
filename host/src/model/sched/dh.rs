//! dh — destination hashing (§9.2, `ip_vs_dh.c`).
//!
//! * Table: 256 buckets filled cyclically with one bucket per dest in list order (weights
//!   ignored), rebuilt by `ip_vs_dh_reassign()` on init / add / del only (**no** `upd_dest`
//!   hook). Empty list → all buckets empty.
//! * Lookup: bucket `hash_32(ntohl(addr_fold), 8)` of the packet's **destination** address (for
//!   a normal service always the VIP, so one dest takes everything).
//! * The bucket's dest is returned unless it is not AVAILABLE, `weight <= 0` or OVERLOADed. No
//!   fallback.

use super::hash::{addr_fold, hash_32, Slot};
use super::{DestChange, DestId, DestView, Packet, Scheduler};

pub const DH_TAB_BITS: u32 = 8;
pub const DH_TAB_SIZE: usize = 1 << DH_TAB_BITS;

#[derive(Clone, Debug)]
pub struct Dh {
    buckets: Box<[Slot; DH_TAB_SIZE]>,
}

impl Default for Dh {
    fn default() -> Self {
        Dh {
            buckets: Box::new([Slot::EMPTY; DH_TAB_SIZE]),
        }
    }
}

impl Dh {
    /// `ip_vs_dh_reassign()`.
    fn reassign(&mut self, dests: &[DestView]) {
        if dests.is_empty() {
            self.buckets.fill(Slot::EMPTY);
            return;
        }
        for (i, b) in self.buckets.iter_mut().enumerate() {
            *b = Slot::of(dests, i % dests.len());
        }
    }

    /// The dest id in each bucket (for inspection and tests).
    pub fn table(&self) -> Vec<Option<DestId>> {
        self.buckets
            .iter()
            .map(|s| (!s.is_empty()).then_some(s.id))
            .collect()
    }
}

impl Scheduler for Dh {
    fn name(&self) -> &'static str {
        "dh"
    }

    fn init(&mut self, dests: &[DestView], _sched_flags: u32) {
        self.reassign(dests);
    }

    fn dest_changed(&mut self, dests: &[DestView], change: DestChange) {
        match change {
            DestChange::Added(_) | DestChange::Deleted { .. } => self.reassign(dests),
            // ip_vs_dh_scheduler has no .upd_dest
            DestChange::Updated(_) => {}
        }
    }

    fn schedule(&mut self, dests: &[DestView], pkt: &Packet) -> Option<DestId> {
        let h = hash_32(addr_fold(&pkt.dst.ip()), DH_TAB_BITS);
        let slot = self.buckets[h as usize];
        if slot.is_empty() {
            return None;
        }
        let d = slot.resolve(dests)?;
        if !d.available || d.weight <= 0 || d.overloaded {
            return None;
        }
        Some(d.id)
    }

    fn box_clone(&self) -> Box<dyn Scheduler> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    fn three() -> Vec<DestView> {
        // added 1, 2, 3 → list 3, 2, 1 → buckets i mod 3: 0 → 3, 1 → 2, 2 → 1
        vec![
            dv(3, "10.0.0.3", 80, 1),
            dv(2, "10.0.0.2", 80, 5),
            dv(1, "10.0.0.1", 80, 1),
        ]
    }

    /// §9.2 dh: one bucket per dest cyclically (weights ignored); the packet's destination is
    /// hashed: 192.0.2.10 → bucket 162 (mod 3 = 0) → id 3, whatever the client;
    /// 198.51.100.77 → 103 (mod 3 = 1) → id 2; 192.0.2.11 → 4 → id 2.
    #[test]
    fn s9_2_dh_hashes_destination() {
        let d = three();
        let mut s = Dh::default();
        s.init(&d, 0);
        let t = s.table();
        assert_eq!(
            &t[..4],
            &[
                Some(DestId(3)),
                Some(DestId(2)),
                Some(DestId(1)),
                Some(DestId(3))
            ]
        );
        for c in ["203.0.113.1:1000", "203.0.113.2:2000", "[::1]:1"] {
            let p = pkt(c, "192.0.2.10:80");
            assert_eq!(s.schedule(&d, &p), Some(DestId(3)), "client {c}");
        }
        assert_eq!(
            s.schedule(&d, &pkt("203.0.113.1:1", "198.51.100.77:80")),
            Some(DestId(2))
        );
        assert_eq!(
            s.schedule(&d, &pkt("203.0.113.1:1", "192.0.2.11:80")),
            Some(DestId(2))
        );
    }

    /// §9.2 dh: NULL if the dest is not AVAILABLE, weight ≤ 0 or OVERLOADed — no fallback.
    #[test]
    fn s9_2_dh_unavailable() {
        let mut d = three();
        let mut s = Dh::default();
        s.init(&d, 0);
        let p = from("203.0.113.1:1000");
        d[0].overloaded = true;
        assert_eq!(s.schedule(&d, &p), None);
        d[0].overloaded = false;
        d[0].weight = 0;
        assert_eq!(s.schedule(&d, &p), None);
        d[0].weight = 1;
        d[0].available = false;
        assert_eq!(s.schedule(&d, &p), None);
        d[0].available = true;
        assert_eq!(s.schedule(&d, &p), Some(DestId(3)));
    }

    /// §9.2 dh: rebuilt on add/del only. After deleting id 2 the list is 3, 1 → bucket 162
    /// (even) → id 3, bucket 103 (odd) → id 1. Updated does not rebuild.
    #[test]
    fn s9_2_dh_rebuild_on_add_del_only() {
        let mut d = three();
        let mut s = Dh::default();
        s.init(&d, 0);
        let before = s.table();
        d[1].weight = 0;
        s.dest_changed(&d, DestChange::Updated(DestId(2)));
        assert_eq!(s.table(), before);
        d.remove(1);
        s.dest_changed(
            &d,
            DestChange::Deleted {
                id: DestId(2),
                index: 1,
            },
        );
        assert_eq!(s.schedule(&d, &from("203.0.113.1:1")), Some(DestId(3)));
        assert_eq!(
            s.schedule(&d, &pkt("203.0.113.1:1", "198.51.100.77:80")),
            Some(DestId(1))
        );
        d.insert(0, dv(4, "10.0.0.4", 80, 1));
        s.dest_changed(&d, DestChange::Added(DestId(4)));
        // list 4, 3, 1: bucket 162 mod 3 = 0 → id 4
        assert_eq!(s.schedule(&d, &from("203.0.113.1:1")), Some(DestId(4)));
        let mut e = Dh::default();
        e.init(&[], 0);
        assert_eq!(e.schedule(&[], &from("203.0.113.1:1")), None);
    }
}
