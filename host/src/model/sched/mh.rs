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
use crate::model::types::svc_flags;
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

#[inline]
fn hk_addr(addr: &IpAddr, port: u16, key: HsipKey, offset: u32) -> u32 {
    mh_hashkey(addr_fold(addr), port, key, offset)
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
}

impl Default for Mh {
    fn default() -> Self {
        Mh {
            lookup: vec![Slot::EMPTY; MH_TAB_SIZE].into_boxed_slice(),
            flags: 0,
            gcd: 0,
            rshift: 0,
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
                let offset = hk_addr(&d.addr, d.port, MH_KEY1, 0) % n_tab;
                let skip = hk_addr(&d.addr, d.port, MH_KEY2, 0) % (n_tab - 1) + 1;
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
