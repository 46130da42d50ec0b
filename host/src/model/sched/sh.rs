//! sh — source hashing (§9.2, `ip_vs_sh.c`).
//!
//! * Table: 256 buckets (`CONFIG_IP_VS_SH_TAB_BITS` = 8), rebuilt by `ip_vs_sh_reassign()` on
//!   init / add / del / **upd**: walk the list cyclically, each dest taking `max(weight, 1)`
//!   consecutive buckets (`++d_count >= weight` advances, so weight 0 still takes one). Empty
//!   list → all buckets empty.
//! * Lookup (`ip_vs_sh_hashkey()`): `(offset + hash_32(ntohs(port) + ntohl(addr_fold), 8)) & 255`
//!   with the client (source) address, unmasked; `port` = client source port with `sh-port`
//!   (SCHED2), else 0.
//! * `ip_vs_sh_get()`: the bucket's dest unless `weight <= 0 || OVERLOAD` (no AVAILABLE test).
//! * `ip_vs_sh_get_fallback()` (`sh-fallback`, SCHED1): empty first bucket → NULL; unavailable →
//!   probe `roffset = (offset + ihash) % 256`, bucket `hashkey(roffset)` = `(offset + 2·ihash)
//!   & 255` for offset 0..255; stop at an empty bucket, first available wins.

use super::hash::{addr_fold, hash_32, is_unavailable, Slot};
use super::{DestChange, DestId, DestView, Packet, Scheduler};
use crate::model::types::svc_flags;

pub const SH_TAB_BITS: u32 = 8;
pub const SH_TAB_SIZE: usize = 1 << SH_TAB_BITS;
const SH_TAB_MASK: u32 = (SH_TAB_SIZE as u32) - 1;

#[derive(Clone, Debug)]
pub struct Sh {
    buckets: Box<[Slot; SH_TAB_SIZE]>,
    flags: u32,
}

impl Default for Sh {
    fn default() -> Self {
        Sh {
            buckets: Box::new([Slot::EMPTY; SH_TAB_SIZE]),
            flags: 0,
        }
    }
}

/// `ip_vs_sh_hashkey()` on the folded address.
#[inline]
pub fn sh_hashkey(fold: u32, port: u16, offset: u32) -> u32 {
    offset.wrapping_add(hash_32((port as u32).wrapping_add(fold), SH_TAB_BITS)) & SH_TAB_MASK
}

impl Sh {
    /// `ip_vs_sh_reassign()`.
    fn reassign(&mut self, dests: &[DestView]) {
        if dests.is_empty() {
            self.buckets.fill(Slot::EMPTY);
            return;
        }
        let mut i = 0usize;
        let mut d_count = 0i32;
        for b in self.buckets.iter_mut() {
            *b = Slot::of(dests, i);
            d_count += 1;
            if d_count >= dests[i].weight {
                i += 1;
                if i == dests.len() {
                    i = 0;
                }
                d_count = 0;
            }
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

impl Scheduler for Sh {
    fn name(&self) -> &'static str {
        "sh"
    }

    fn init(&mut self, dests: &[DestView], sched_flags: u32) {
        self.flags = sched_flags;
        self.reassign(dests);
    }

    fn dest_changed(&mut self, dests: &[DestView], _change: DestChange) {
        self.reassign(dests);
    }

    fn flags_changed(&mut self, sched_flags: u32) {
        self.flags = sched_flags;
    }

    fn schedule(&mut self, dests: &[DestView], pkt: &Packet) -> Option<DestId> {
        let fold = addr_fold(&pkt.src.ip());
        // TCP/UDP/SCTP: ports[0] = source port (the model schedules only these protocols).
        let port = if self.flags & svc_flags::SCHED2 != 0 {
            pkt.src.port()
        } else {
            0
        };
        let ihash = sh_hashkey(fold, port, 0);
        let first = self.buckets[ihash as usize];
        if first.is_empty() {
            return None;
        }
        match first.resolve(dests) {
            Some(d) if !is_unavailable(d) => return Some(d.id),
            _ => {}
        }
        if self.flags & svc_flags::SCHED1 == 0 {
            return None;
        }
        for offset in 0..SH_TAB_SIZE as u32 {
            let roffset = (offset + ihash) % SH_TAB_SIZE as u32;
            let slot = self.buckets[sh_hashkey(fold, port, roffset) as usize];
            if slot.is_empty() {
                break;
            }
            if let Some(d) = slot.resolve(dests) {
                if !is_unavailable(d) {
                    return Some(d.id);
                }
            }
        }
        None
    }

    fn box_clone(&self) -> Box<dyn Scheduler> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::model::types::svc_flags::{SCHED1, SCHED2};

    const A: u32 = 1;
    const B: u32 = 2;
    const C: u32 = 3;

    /// A, B, C (weight 1) added in that order → list C, B, A.
    fn abc() -> Vec<DestView> {
        vec![
            dv(C, "192.168.1.3", 80, 1),
            dv(B, "192.168.1.2", 80, 1),
            dv(A, "192.168.1.1", 80, 1),
        ]
    }

    fn pick(s: &mut Sh, d: &[DestView], src: &str) -> Option<u32> {
        s.schedule(d, &from(src)).map(|x| x.0)
    }

    /// §9.2 sh example: buckets i mod 3 → C, B, A; .1 → 50 → A, .2 → 147 → C, .6 → 26 → A,
    /// .7 → 124 → B, .9 → 64 → B. The source port is ignored without sh-port.
    #[test]
    fn s9_2_sh_example() {
        let d = abc();
        let mut s = Sh::default();
        s.init(&d, 0);
        let t = s.table();
        assert_eq!(
            &t[..6],
            &[
                Some(DestId(C)),
                Some(DestId(B)),
                Some(DestId(A)),
                Some(DestId(C)),
                Some(DestId(B)),
                Some(DestId(A))
            ]
        );
        assert_eq!(t[255], Some(DestId(C))); // 255 mod 3 = 0
        assert_eq!(pick(&mut s, &d, "203.0.113.1:1000"), Some(A));
        assert_eq!(pick(&mut s, &d, "203.0.113.1:2000"), Some(A));
        assert_eq!(pick(&mut s, &d, "203.0.113.2:1000"), Some(C));
        assert_eq!(pick(&mut s, &d, "203.0.113.6:1000"), Some(A));
        assert_eq!(pick(&mut s, &d, "203.0.113.7:1000"), Some(B));
        assert_eq!(pick(&mut s, &d, "203.0.113.9:1000"), Some(B));
    }

    /// §9.2 sh-port: the input is port + addr, so 203.0.113.1:40001 and 203.0.113.2:40000
    /// collide at bucket 55 (55 mod 3 = 1 → B).
    #[test]
    fn s9_2_sh_port_collision() {
        assert_eq!(sh_hashkey(0xCB00_7101, 40001, 0), 55);
        assert_eq!(sh_hashkey(0xCB00_7102, 40000, 0), 55);
        let d = abc();
        let mut s = Sh::default();
        s.init(&d, SCHED2);
        assert_eq!(pick(&mut s, &d, "203.0.113.1:40001"), Some(B));
        assert_eq!(pick(&mut s, &d, "203.0.113.2:40000"), Some(B));
        // flags edited back: port ignored again → .1 → A
        s.flags_changed(0);
        assert_eq!(pick(&mut s, &d, "203.0.113.1:40001"), Some(A));
    }

    /// §9.2 sh: the hashed address is the client's source address; the VIP does not matter.
    #[test]
    fn s9_2_sh_uses_source_not_destination() {
        let d = abc();
        let mut s = Sh::default();
        s.init(&d, 0);
        let p1 = pkt("203.0.113.1:1000", "192.0.2.10:80");
        let p2 = pkt("203.0.113.1:1000", "198.51.100.77:443");
        assert_eq!(s.schedule(&d, &p1), Some(DestId(A)));
        assert_eq!(s.schedule(&d, &p2), Some(DestId(A)));
    }

    /// §9.2 sh: unavailable (OVERLOAD or weight 0) bucket dest → None without sh-fallback;
    /// with it, probe (offset + 2h): .1 has h = 50, first probe bucket 100 → B (a naive
    /// (offset + h) probe would revisit 50 = A, then 51 → C).
    #[test]
    fn s9_2_sh_fallback_probe_quirk() {
        let mut d = abc();
        d[2].overloaded = true; // A
        let mut s = Sh::default();
        s.init(&d, 0);
        assert_eq!(pick(&mut s, &d, "203.0.113.1:1000"), None);
        s.flags_changed(SCHED1);
        assert_eq!(pick(&mut s, &d, "203.0.113.1:1000"), Some(B));
        // available first bucket: no probing
        assert_eq!(pick(&mut s, &d, "203.0.113.2:1000"), Some(C));
        // everything unavailable → None after 256 probes
        d[0].overloaded = true;
        d[1].weight = 0;
        s.dest_changed(&d, DestChange::Updated(DestId(B)));
        assert_eq!(pick(&mut s, &d, "203.0.113.1:1000"), None);
    }

    /// §9.2 sh: weights give consecutive buckets; weight 0 still gets one bucket (but is
    /// unavailable at lookup); rebuilt on upd.
    #[test]
    fn s9_2_sh_weights_and_weight0_bucket() {
        // list P(w3), Q(w1): P P P Q P P P Q ...
        let mut d = vec![dv(10, "10.0.0.1", 80, 3), dv(11, "10.0.0.2", 80, 1)];
        let mut s = Sh::default();
        s.init(&d, 0);
        let t = s.table();
        for (i, b) in t.iter().enumerate() {
            assert_eq!(
                *b,
                Some(DestId(if i % 4 < 3 { 10 } else { 11 })),
                "bucket {i}"
            );
        }
        // upd: P weight 0 → P Q P Q ...
        d[0].weight = 0;
        s.dest_changed(&d, DestChange::Updated(DestId(10)));
        let t = s.table();
        for (i, b) in t.iter().enumerate() {
            assert_eq!(
                *b,
                Some(DestId(if i % 2 == 0 { 10 } else { 11 })),
                "bucket {i}"
            );
        }
        // .1 → bucket 50 (even) → P, weight 0 → None
        assert_eq!(pick(&mut s, &d, "203.0.113.1:1"), None);
        // .7 → 124 (even) → None; .2 → 147 (odd) → Q
        assert_eq!(pick(&mut s, &d, "203.0.113.2:1"), Some(11));
    }

    /// §9.2 sh: IPv6 clients fold by XOR of the four words: 2001:db8::1 → 0x20010db9 →
    /// bucket 63 → 63 mod 3 = 0 → C. Empty service → None.
    #[test]
    fn s9_2_sh_ipv6_fold_and_empty() {
        let d = vec![
            dv(C, "2001:db8::c", 80, 1),
            dv(B, "2001:db8::b", 80, 1),
            dv(A, "2001:db8::a", 80, 1),
        ];
        let mut s = Sh::default();
        s.init(&d, 0);
        let p = pkt("[2001:db8::1]:5000", "[2001:db8::80]:80");
        assert_eq!(s.schedule(&d, &p), Some(DestId(C)));
        let mut e = Sh::default();
        e.init(&[], SCHED1);
        assert_eq!(e.schedule(&[], &p), None);
    }

    /// §9.1 (kernel `ip_vs_sh.c: is_unavailable()`): sh tests only `weight <= 0 || OVERLOAD`,
    /// not `IP_VS_DEST_F_AVAILABLE` (unlike dh).
    #[test]
    fn s9_1_sh_ignores_available_flag() {
        let mut d = abc();
        d[2].available = false; // A
        let mut s = Sh::default();
        s.init(&d, 0);
        assert_eq!(pick(&mut s, &d, "203.0.113.1:1000"), Some(A));
    }
}
