//! mh — Maglev hashing (§9.2, `ip_vs_mh.c`).
//!
//! * Table size `primes[CONFIG_IP_VS_MH_TAB_INDEX - 8]` = 4093 (default index 12),
//!   `IP_VS_MH_TAB_BITS` = 12 / 2 = 6.
//! * `ip_vs_mh_hashkey(addr, port, key, offset)` = `hsiphash(u32 v = offset + ntohs(port) +
//!   ntohl(addr_fold))` with the fixed keys key1 = (2654435761, 2654435761) and
//!   key2 = (2654446892, 2654446892) (64-bit kernel hsiphash, little-endian bytes of `v`).
//! * gcd = gcd of positive `last_weight`s (0 if none); `rshift = max(fls(max_lw / gcd) − 6, 0)`;
//!   both recomputed on init and on every add / del / upd *before* the rebuild.
//! * Rebuild (`ip_vs_mh_reassign()`): more than 4093 dests → `-EINVAL`, the old table is kept
//!   (the dest_changed caller ignores the error). gcd < 1 → the table is emptied. Otherwise per
//!   dest (list order) `offset = hk(dest, key1) % N`, `skip = hk(dest, key2) % (N − 1) + 1`,
//!   `turns = ((lw / gcd) >> rshift) ?: (lw != 0)`; populate in rounds over the list, each dest
//!   with `turns >= 1` claiming `turns` slots at its next free permutation position.
//! * Lookup slot `hk(client, port, key1, 0) % N` (client = source address, unmasked; `port` = the
//!   source port with `mh-port` (SCHED2), else 0). Returned unless `weight <= 0 || OVERLOAD`.
//!   With `mh-fallback` (SCHED1): empty first slot → NULL; unavailable → probe
//!   `hk(client, port, key1, (off + ihash) % N) % N` for off = 0..N−1, stop at an empty slot,
//!   first available wins.

use super::hash::{addr_fold, hsiphash_u32, is_unavailable, HsipKey, Slot};
use super::{DestChange, DestId, DestView, Packet, Scheduler};
use crate::model::types::{svc_flags, Af};
use std::net::IpAddr;

/// `primes[]` of ip_vs_mh.c.
pub const MH_PRIMES: [usize; 10] = [
    251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
];
/// `CONFIG_IP_VS_MH_TAB_INDEX` default.
pub const MH_TAB_INDEX: usize = 12;
/// `IP_VS_MH_TAB_SIZE` = 4093.
pub const MH_TAB_SIZE: usize = MH_PRIMES[MH_TAB_INDEX - 8];
/// `IP_VS_MH_TAB_BITS` = 6.
pub const MH_TAB_BITS: i32 = (MH_TAB_INDEX / 2) as i32;
/// `generate_hash_secret()`.
pub const MH_KEY1: HsipKey = HsipKey(2654435761, 2654435761);
pub const MH_KEY2: HsipKey = HsipKey(2654446892, 2654446892);

/// `ip_vs_mh_hashkey()` on a folded address.
#[inline]
pub fn mh_hashkey(fold: u32, port: u16, key: HsipKey, offset: u32) -> u32 {
    hsiphash_u32(offset.wrapping_add(port as u32).wrapping_add(fold), key)
}

/// A real server's folded address as `ip_vs_mh_permutate()` computes it: by the *service's*
/// family (`ip_vs_mh_hashkey(svc->af, &dest->addr, ...)`). An IPv6 tunnel server of an IPv4
/// service folds to `addr->ip`, its first 32 bits, not the XOR of its four words.
#[inline]
fn dest_fold(svc_af: Option<Af>, addr: &IpAddr) -> u32 {
    match (svc_af, addr) {
        (Some(Af::Inet), IpAddr::V6(a)) => {
            let o = a.octets();
            u32::from_be_bytes([o[0], o[1], o[2], o[3]])
        }
        _ => addr_fold(addr),
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

/// `ip_vs_mh_gcd_weight()`: gcd of the positive last_weights, 0 if none.
fn gcd_weight(dests: &[DestView]) -> i32 {
    let mut g = 0;
    for d in dests {
        let w = d.last_weight;
        if w > 0 {
            g = if g > 0 { gcd(w, g) } else { w };
        }
    }
    g
}

/// `fls()`: 1-based index of the most significant set bit, 0 for 0.
fn fls(x: i32) -> i32 {
    32 - (x as u32).leading_zeros() as i32
}

/// `ip_vs_mh_shift_weight()`.
fn shift_weight(dests: &[DestView], gcd: i32) -> i32 {
    if gcd < 1 {
        return 0;
    }
    let weight = dests.iter().map(|d| d.last_weight).fold(0, i32::max);
    let mw = weight / gcd;
    let shift = fls(mw) - MH_TAB_BITS;
    shift.max(0)
}

#[derive(Clone, Debug)]
pub struct Mh {
    lookup: Box<[Slot]>,
    flags: u32,
    gcd: i32,
    rshift: i32,
    /// The service's family (`None` until told: fold by the server's own family).
    svc_af: Option<Af>,
}

impl Default for Mh {
    fn default() -> Self {
        Mh {
            lookup: vec![Slot::EMPTY; MH_TAB_SIZE].into_boxed_slice(),
            flags: 0,
            gcd: 0,
            rshift: 0,
            svc_af: None,
        }
    }
}

impl Mh {
    /// `ip_vs_mh_reassign()` (permutate + populate). Returns false when the kernel returns
    /// `-EINVAL` (more dests than slots) and the old table stays.
    fn reassign(&mut self, dests: &[DestView]) -> bool {
        if dests.len() > MH_TAB_SIZE {
            return false;
        }
        if self.gcd < 1 {
            // ip_vs_mh_populate(): gcd < 1 → ip_vs_mh_reset()
            self.lookup.fill(Slot::EMPTY);
            return true;
        }
        let n_tab = MH_TAB_SIZE as u32;
        // ip_vs_mh_permutate(): (skip, perm, turns) per dest in list order.
        let mut ds: Vec<(u32, u32, i32)> = dests
            .iter()
            .map(|d| {
                let fold = dest_fold(self.svc_af, &d.addr);
                let offset = mh_hashkey(fold, d.port, MH_KEY1, 0) % n_tab;
                let skip = mh_hashkey(fold, d.port, MH_KEY2, 0) % (n_tab - 1) + 1;
                let lw = d.last_weight;
                let t = (lw / self.gcd) >> self.rshift;
                let turns = if t != 0 { t } else { (lw != 0) as i32 };
                (skip, offset, turns)
            })
            .collect();
        // ip_vs_mh_populate()
        let mut used = vec![false; MH_TAB_SIZE];
        let mut n = 0usize;
        let mut dt_count = 0i32;
        while n < MH_TAB_SIZE {
            let mut i = 0usize;
            while i < dests.len() {
                let (skip, ref mut perm, turns) = ds[i];
                if turns < 1 {
                    i += 1;
                    continue;
                }
                while used[*perm as usize] {
                    *perm += skip;
                    if *perm >= n_tab {
                        *perm -= n_tab;
                    }
                }
                let c = *perm as usize;
                used[c] = true;
                self.lookup[c] = Slot::of(dests, i);
                n += 1;
                if n == MH_TAB_SIZE {
                    return true;
                }
                dt_count += 1;
                if dt_count >= turns {
                    dt_count = 0;
                    i += 1;
                }
            }
        }
        true
    }

    /// The dest id in each slot (for inspection and tests).
    pub fn table(&self) -> Vec<Option<DestId>> {
        self.lookup
            .iter()
            .map(|s| (!s.is_empty()).then_some(s.id))
            .collect()
    }
}

impl Scheduler for Mh {
    fn name(&self) -> &'static str {
        "mh"
    }

    fn init(&mut self, dests: &[DestView], sched_flags: u32) {
        // The kernel's init_service fails (-EINVAL) with more than N dests; the service keeps
        // no mh state. Here the table simply stays empty in that case.
        self.flags = sched_flags;
        self.lookup.fill(Slot::EMPTY);
        self.gcd = gcd_weight(dests);
        self.rshift = shift_weight(dests, self.gcd);
        self.reassign(dests);
    }

    fn dest_changed(&mut self, dests: &[DestView], _change: DestChange) {
        self.gcd = gcd_weight(dests);
        self.rshift = shift_weight(dests, self.gcd);
        // Error (> N dests) ignored by the caller: old table kept.
        let _ = self.reassign(dests);
    }

    fn flags_changed(&mut self, sched_flags: u32) {
        self.flags = sched_flags;
    }

    fn set_svc_af(&mut self, af: Af) {
        self.svc_af = Some(af);
    }

    fn schedule(&mut self, dests: &[DestView], pkt: &Packet) -> Option<DestId> {
        let n_tab = MH_TAB_SIZE as u32;
        let fold = addr_fold(&pkt.src.ip());
        // TCP/UDP/SCTP: ports[0] = source port (the model schedules only these protocols).
        let port = if self.flags & svc_flags::SCHED2 != 0 {
            pkt.src.port()
        } else {
            0
        };
        let ihash = mh_hashkey(fold, port, MH_KEY1, 0) % n_tab;
        let first = self.lookup[ihash as usize];
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
        for offset in 0..n_tab {
            let roffset = (offset + ihash) % n_tab;
            let h = mh_hashkey(fold, port, MH_KEY1, roffset) % n_tab;
            let slot = self.lookup[h as usize];
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
    use std::collections::HashMap;

    const A: u32 = 1;
    const B: u32 = 2;
    const C: u32 = 3;

    /// A=192.168.1.1:80, B=.2:80, C=.3:80, weight 1, added A, B, C → list C, B, A.
    fn abc() -> Vec<DestView> {
        vec![
            dv(C, "192.168.1.3", 80, 1),
            dv(B, "192.168.1.2", 80, 1),
            dv(A, "192.168.1.1", 80, 1),
        ]
    }

    fn shares(s: &Mh) -> HashMap<Option<u32>, usize> {
        let mut m = HashMap::new();
        for x in s.table() {
            *m.entry(x.map(|d| d.0)).or_default() += 1;
        }
        m
    }

    fn client(i: u32) -> Packet {
        from(&format!("203.0.113.{i}:33000"))
    }

    fn picks(s: &mut Mh, d: &[DestView]) -> Vec<Option<u32>> {
        (1..=10)
            .map(|i| s.schedule(d, &client(i)).map(|x| x.0))
            .collect()
    }

    /// §9.2 mh constants: N = 4093 (index 12), 6 table bits.
    #[test]
    fn s9_2_mh_constants() {
        assert_eq!(MH_TAB_SIZE, 4093);
        assert_eq!(MH_TAB_BITS, 6);
        assert_eq!(fls(0), 0);
        assert_eq!(fls(1), 1);
        assert_eq!(fls(256), 9);
    }

    /// §9.2 mh example: shares C 1365 / A 1364 / B 1364; 203.0.113.1 → A (slot 1505),
    /// .2 → B (1436), .3 → C (907), .4 → B (3568), .5 → C, .6 → A, .7 → B, .8 → C, .9 → A,
    /// .10 → C. Source port ignored without mh-port.
    #[test]
    fn s9_2_mh_example() {
        let d = abc();
        let mut s = Mh::default();
        s.init(&d, 0);
        let sh = shares(&s);
        assert_eq!(sh.get(&Some(C)), Some(&1365));
        assert_eq!(sh.get(&Some(A)), Some(&1364));
        assert_eq!(sh.get(&Some(B)), Some(&1364));
        assert_eq!(sh.get(&None), None);
        for (i, slot) in [(1, 1505), (2, 1436), (3, 907), (4, 3568)] {
            let fold = addr_fold(&format!("203.0.113.{i}").parse().unwrap());
            assert_eq!(mh_hashkey(fold, 0, MH_KEY1, 0) % 4093, slot, "client .{i}");
        }
        let t = s.table();
        assert_eq!(t[1505], Some(DestId(A)));
        assert_eq!(t[1436], Some(DestId(B)));
        assert_eq!(t[907], Some(DestId(C)));
        assert_eq!(t[3568], Some(DestId(B)));
        let want = [A, B, C, B, C, A, B, C, A, C].map(Some).to_vec();
        assert_eq!(picks(&mut s, &d), want);
        assert_eq!(s.schedule(&d, &from("203.0.113.1:9")), Some(DestId(A)));
    }

    /// §9.2 mh populate order (Appendix A reference model): the first slots are
    /// A B C A C A B A.
    #[test]
    fn s9_2_mh_first_slots() {
        let d = abc();
        let mut s = Mh::default();
        s.init(&d, 0);
        let want: Vec<Option<DestId>> = [A, B, C, A, C, A, B, A]
            .iter()
            .map(|&x| Some(DestId(x)))
            .collect();
        assert_eq!(&s.table()[..8], &want[..]);
    }

    /// §9.2 / §17.3 mh uses last_weight: quiescing A (weight 0, last_weight 1) leaves the table
    /// unchanged; clients landing on A get None. With mh-fallback (values from the Appendix A
    /// reference model): .1 → C, .6 → B, .9 → B; others unchanged.
    #[test]
    fn s9_2_mh_quiesce_and_fallback() {
        let mut d = abc();
        let mut s = Mh::default();
        s.init(&d, 0);
        let before = s.table();
        d[2].weight = 0; // A, last_weight stays 1
        s.dest_changed(&d, DestChange::Updated(DestId(A)));
        assert_eq!(s.table(), before);
        let want = [
            None,
            Some(B),
            Some(C),
            Some(B),
            Some(C),
            None,
            Some(B),
            Some(C),
            None,
            Some(C),
        ];
        assert_eq!(picks(&mut s, &d), want.to_vec());
        s.flags_changed(SCHED1);
        let want = [C, B, C, B, C, B, B, C, B, C].map(Some).to_vec();
        assert_eq!(picks(&mut s, &d), want);
        // OVERLOAD behaves the same as weight 0 at lookup
        d[2].weight = 1;
        d[2].overloaded = true;
        assert_eq!(
            picks(&mut s, &d),
            [C, B, C, B, C, B, B, C, B, C].map(Some).to_vec()
        );
        // everything unavailable → None
        for x in d.iter_mut() {
            x.overloaded = true;
        }
        assert_eq!(s.schedule(&d, &client(1)), None);
    }

    /// §9.2 mh-port: the client's source port is added (Appendix A reference values):
    /// 203.0.113.1:1000 → A (slot 2230), :40000 → A (1337), :40001 → C (3296).
    #[test]
    fn s9_2_mh_port() {
        let d = abc();
        let mut s = Mh::default();
        s.init(&d, SCHED2);
        let fold = 0xCB00_7101;
        assert_eq!(mh_hashkey(fold, 1000, MH_KEY1, 0) % 4093, 2230);
        assert_eq!(mh_hashkey(fold, 40000, MH_KEY1, 0) % 4093, 1337);
        assert_eq!(mh_hashkey(fold, 40001, MH_KEY1, 0) % 4093, 3296);
        assert_eq!(s.schedule(&d, &from("203.0.113.1:1000")), Some(DestId(A)));
        assert_eq!(s.schedule(&d, &from("203.0.113.1:40000")), Some(DestId(A)));
        assert_eq!(s.schedule(&d, &from("203.0.113.1:40001")), Some(DestId(C)));
    }

    /// §9.2 mh weights (Appendix A reference values): last_weights C1 B1 A2 → A 2046, C 1024,
    /// B 1023. With A = 256: gcd 1, rshift = fls(256) − 6 = 3, turns A 32, B and C
    /// (1 >> 3 = 0 → lw != 0) 1 → A 3851, C 121, B 121.
    #[test]
    fn s9_2_mh_weights_and_rshift() {
        let mut d = abc();
        d[2].weight = 2;
        d[2].last_weight = 2;
        let mut s = Mh::default();
        s.init(&d, 0);
        let sh = shares(&s);
        assert_eq!(
            (sh[&Some(A)], sh[&Some(C)], sh[&Some(B)]),
            (2046, 1024, 1023)
        );
        assert_eq!((s.gcd, s.rshift), (1, 0));
        d[2].weight = 256;
        d[2].last_weight = 256;
        s.dest_changed(&d, DestChange::Updated(DestId(A)));
        assert_eq!((s.gcd, s.rshift), (1, 3));
        let sh = shares(&s);
        assert_eq!((sh[&Some(A)], sh[&Some(C)], sh[&Some(B)]), (3851, 121, 121));
    }

    /// §9.2 mh: deleting B rebuilds (Appendix A reference: C 2047 / A 2046; clients
    /// .1 A, .2 A, .3 C, .4 C, .5 C, .6 A, .7 A, .8 C, .9 A, .10 C).
    #[test]
    fn s9_2_mh_delete_rebuilds() {
        let mut d = abc();
        let mut s = Mh::default();
        s.init(&d, 0);
        d.remove(1);
        s.dest_changed(
            &d,
            DestChange::Deleted {
                id: DestId(B),
                index: 1,
            },
        );
        let sh = shares(&s);
        assert_eq!((sh[&Some(C)], sh[&Some(A)]), (2047, 2046));
        assert_eq!(
            picks(&mut s, &d),
            [A, A, C, C, C, A, A, C, A, C].map(Some).to_vec()
        );
    }

    /// §9.2 mh: all last_weights 0 (gcd < 1) → empty table → None even with fallback; an empty
    /// service likewise.
    #[test]
    fn s9_2_mh_all_zero_and_empty() {
        let mut d = abc();
        for x in d.iter_mut() {
            x.weight = 0;
            x.last_weight = 0;
        }
        let mut s = Mh::default();
        s.init(&d, SCHED1);
        assert_eq!(shares(&s).get(&None), Some(&4093));
        assert_eq!(s.schedule(&d, &client(1)), None);
        let mut e = Mh::default();
        e.init(&[], SCHED1);
        assert_eq!(e.schedule(&[], &client(1)), None);
    }

    /// §9.2 mh IPv6 (Appendix A reference values): dests 2001:db8::3/2/1 (C, B, A), clients
    /// 2001:db8:1::1 → B, ::2 → A, ::3 → B.
    #[test]
    fn s9_2_mh_ipv6() {
        let d = vec![
            dv(C, "2001:db8::3", 80, 1),
            dv(B, "2001:db8::2", 80, 1),
            dv(A, "2001:db8::1", 80, 1),
        ];
        let mut s = Mh::default();
        s.init(&d, 0);
        let sh = shares(&s);
        assert_eq!(
            (sh[&Some(C)], sh[&Some(B)], sh[&Some(A)]),
            (1365, 1364, 1364)
        );
        let p = |c: &str| pkt(&format!("[{c}]:5000"), "[2001:db8::80]:80");
        assert_eq!(s.schedule(&d, &p("2001:db8:1::1")), Some(DestId(B)));
        assert_eq!(s.schedule(&d, &p("2001:db8:1::2")), Some(DestId(A)));
        assert_eq!(s.schedule(&d, &p("2001:db8:1::3")), Some(DestId(B)));
    }

    /// §9.2 mh: more than N dests → the rebuild fails and the old table is kept.
    #[test]
    fn s9_2_mh_too_many_dests_keeps_old_table() {
        let mut d = abc();
        let mut s = Mh::default();
        s.init(&d, 0);
        let before = s.table();
        for i in 0..4091u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            d.insert(0, dv(100 + i, &ip.to_string(), 80, 1));
        }
        assert_eq!(d.len(), 4094);
        s.dest_changed(&d, DestChange::Added(DestId(100 + 4090)));
        assert_eq!(s.table(), before);
        // lookups still work against the shifted list (resolved by id)
        assert_eq!(s.schedule(&d, &client(1)), Some(DestId(A)));
        assert_eq!(s.schedule(&d, &client(2)), Some(DestId(B)));
        // back to N dests: rebuild succeeds, every slot taken by a distinct dest
        d.truncate(4093);
        s.dest_changed(
            &d,
            DestChange::Deleted {
                id: DestId(A),
                index: 4093,
            },
        );
        let sh = shares(&s);
        assert_eq!(sh.len(), 4093);
        assert!(sh.values().all(|&c| c == 1));
    }
}
