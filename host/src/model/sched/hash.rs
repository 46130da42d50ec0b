//! Hash primitives used by the sh / dh / mh schedulers (§9.2, Appendix A).
//!
//! * `hsiphash` as built on a **64-bit** kernel (`lib/siphash.c`): SipHash-1-3 with a 128-bit
//!   key of two `unsigned long`s, result truncated to 32 bits.
//! * `hash_32` from `include/linux/hash.h` (generic version, `GOLDEN_RATIO_32`).
//! * The IPVS address fold: `ntohl(addr->ip)` for IPv4, XOR of the four 32-bit words (each
//!   taken in network order) for IPv6.

use std::net::IpAddr;

use super::{DestId, DestView};

/// `hsiphash_key_t` on a 64-bit kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HsipKey(pub u64, pub u64);

const C0: u64 = 0x736f_6d65_7073_6575;
const C1: u64 = 0x646f_7261_6e64_6f6d;
const C2: u64 = 0x6c79_6765_6e65_7261;
const C3: u64 = 0x7465_6462_7974_6573;

#[inline(always)]
fn sipround(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

#[inline(always)]
fn preamble(key: HsipKey) -> [u64; 4] {
    [C0 ^ key.0, C1 ^ key.1, C2 ^ key.0, C3 ^ key.1]
}

#[inline(always)]
fn finish(mut v: [u64; 4], b: u64) -> u32 {
    v[3] ^= b;
    sipround(&mut v);
    v[0] ^= b;
    v[2] ^= 0xff;
    sipround(&mut v);
    sipround(&mut v);
    sipround(&mut v);
    ((v[0] ^ v[1]) ^ (v[2] ^ v[3])) as u32
}

/// `hsiphash(data, len, key)` of a 64-bit kernel (SipHash-1-3, 32-bit result).
pub fn hsiphash(data: &[u8], key: HsipKey) -> u32 {
    let mut v = preamble(key);
    let len = data.len();
    let mut b = (len as u64) << 56;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let m = u64::from_le_bytes(c.try_into().expect("8-byte chunk"));
        v[3] ^= m;
        sipround(&mut v);
        v[0] ^= m;
    }
    for (i, &byte) in chunks.remainder().iter().enumerate() {
        b |= (byte as u64) << (8 * i);
    }
    finish(v, b)
}

/// `hsiphash(&v, sizeof(v), key)` for a `u32` in little-endian CPU byte order (what
/// `ip_vs_mh_hashkey()` does on x86-64 / arm64). Same value as `hsiphash(&v.to_le_bytes())`.
#[inline]
pub fn hsiphash_u32(v: u32, key: HsipKey) -> u32 {
    finish(preamble(key), (4u64 << 56) | v as u64)
}

/// `GOLDEN_RATIO_32` from `include/linux/hash.h`.
pub const GOLDEN_RATIO_32: u32 = 0x61C8_8647;

/// `hash_32(val, bits)` (generic implementation): `(val * GOLDEN_RATIO_32) >> (32 - bits)`.
#[inline]
pub fn hash_32(val: u32, bits: u32) -> u32 {
    debug_assert!((1..=32).contains(&bits));
    val.wrapping_mul(GOLDEN_RATIO_32) >> (32 - bits)
}

/// `ntohl(addr_fold)`: the IPv4 address as a host-order `u32`, or for IPv6 the XOR of its four
/// 32-bit words (`ip6[0] ^ ip6[1] ^ ip6[2] ^ ip6[3]`, then `ntohl`).
#[inline]
pub fn addr_fold(addr: &IpAddr) -> u32 {
    match addr {
        IpAddr::V4(a) => u32::from(*a),
        IpAddr::V6(a) => {
            let o = a.octets();
            let w =
                |k: usize| u32::from_be_bytes([o[4 * k], o[4 * k + 1], o[4 * k + 2], o[4 * k + 3]]);
            w(0) ^ w(1) ^ w(2) ^ w(3)
        }
    }
}

/// One bucket of an sh / dh / mh table: the dest it points to, remembered by list index (valid
/// as long as the table is rebuilt after every add/delete, which the kernel does) and by id
/// (to detect a stale table, e.g. mh keeping its old table after a failed rebuild).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub idx: u32,
    pub id: DestId,
}

impl Slot {
    pub const EMPTY: Slot = Slot {
        idx: u32::MAX,
        id: DestId(u32::MAX),
    };

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.idx == u32::MAX
    }

    /// The dest this slot points to, or `None` if it is no longer in the list (the kernel would
    /// still hold a pointer to the unlinked dest; the model cannot see it and treats it as
    /// unavailable).
    #[inline]
    pub fn resolve<'a>(&self, dests: &'a [DestView]) -> Option<&'a DestView> {
        match dests.get(self.idx as usize) {
            Some(d) if d.id == self.id => Some(d),
            _ => dests.iter().find(|d| d.id == self.id),
        }
    }

    pub fn of(dests: &[DestView], idx: usize) -> Slot {
        Slot {
            idx: idx as u32,
            id: dests[idx].id,
        }
    }
}

/// `is_unavailable()` of ip_vs_sh.c / ip_vs_mh.c: `weight <= 0 || OVERLOAD`.
#[inline]
pub(crate) fn is_unavailable(d: &DestView) -> bool {
    d.weight <= 0 || d.overloaded
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// `lib/siphash_kunit.c`, `test_vectors_hsiphash[64]` for `BITS_PER_LONG == 64`.
    const VECTORS: [u32; 64] = [
        0x050fc4dc, 0x7d57ca93, 0x4dc7d44d, 0xe7ddf7fb, 0x88d38328, 0x49533b67, 0xc59f22a7,
        0x9bb11140, 0x8d299a8e, 0x6c063de4, 0x92ff097f, 0xf94dc352, 0x57b4d9a2, 0x1229ffa7,
        0xc0f95d34, 0x2a519956, 0x7d908b66, 0x63dbd80c, 0xb473e63e, 0x8d297d1c, 0xa6cce040,
        0x2b45f844, 0xa320872e, 0xdae6c123, 0x67349c8c, 0x705b0979, 0xca9913a5, 0x4ade3b35,
        0xef6cd00d, 0x4ab1e1f4, 0x43c5e663, 0x8c21d1bc, 0x16a7b60d, 0x7a8ff9bf, 0x1f2a753e,
        0xbf186b91, 0xada26206, 0xa3c33057, 0xae3a36a1, 0x7b108392, 0x99e41531, 0x3f1ad944,
        0xc8138825, 0xc28949a6, 0xfaf8876b, 0x9f042196, 0x68b1d623, 0x8b5114fd, 0xdf074c46,
        0x12cc86b3, 0x0a52098f, 0x9d292f9a, 0xa2f41f12, 0x43a71ed0, 0x73f0bce6, 0x70a7e980,
        0x243c6d75, 0xfdb71513, 0xa67d8a08, 0xb7e8f148, 0xf7a644ee, 0x0f1837f2, 0x4b6694e0,
        0xb7bbb3a8,
    ];
    const KEY: HsipKey = HsipKey(0x0706050403020100, 0x0f0e0d0c0b0a0908);

    /// §9.2 / §18 / Appendix A: hsiphash (64-bit kernel) matches the kernel's test vectors.
    #[test]
    fn s9_2_hsiphash_kernel_vectors() {
        assert_eq!(hsiphash(&[], KEY), 0x050fc4dc);
        assert_eq!(hsiphash(&[0], KEY), 0x7d57ca93);
        let input: Vec<u8> = (0..64u8).collect();
        for (i, want) in VECTORS.iter().enumerate() {
            assert_eq!(hsiphash(&input[..i], KEY), *want, "vector {i}");
        }
    }

    /// The 4-byte fast path equals the generic function (kernel vector i=4 is bytes 0,1,2,3).
    #[test]
    fn s9_2_hsiphash_u32_fast_path() {
        assert_eq!(hsiphash_u32(0x0302_0100, KEY), VECTORS[4]);
        for v in [0u32, 1, 0xdead_beef, u32::MAX, 0xcb00_7101] {
            let k = HsipKey(2654435761, 2654435761);
            assert_eq!(hsiphash_u32(v, k), hsiphash(&v.to_le_bytes(), k));
        }
    }

    /// §9.2 sh: hash_32(v, 8) = (v * 0x61C88647 mod 2^32) >> 24, checked by hand:
    /// 203.0.113.1 = 0xCB007101; 0xCB007101 * 0x61C88647 mod 2^32 = 0x32...; bucket 50.
    #[test]
    fn s9_2_hash_32_and_fold() {
        assert_eq!(hash_32(0, 8), 0);
        assert_eq!(hash_32(1, 8), 0x61);
        assert_eq!(hash_32(1, 32), 0x61C8_8647);
        assert_eq!(hash_32(0xCB00_7101, 8), 50);
        assert_eq!(
            addr_fold(&IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1))),
            0xCB00_7101
        );
        let v6: Ipv6Addr = "2001:db8:0:1::5".parse().unwrap();
        // words 0x20010db8, 0x00000001, 0x00000000, 0x00000005
        assert_eq!(addr_fold(&IpAddr::V6(v6)), 0x2001_0db8 ^ 0x1 ^ 0x5);
    }
}
