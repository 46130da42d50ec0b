//! The table hash: the software reference the RTL must match bit for bit.
//!
//! **Choice.** Linux `jhash2` (Bob Jenkins' lookup3 as in `include/linux/jhash.h`) over the 10
//! key words with a host-set 32-bit seed (`CTRL.HASH_SEED`, random per boot like the kernel's
//! `ip_vs_conn_rnd`). A keyed ARX mix, not a CRC: CRCs are linear, so colliding keys collide
//! for every seed and a client controlling an IPv6 /64 plus its port could pile flows onto one
//! bucket. Two hash choices per table come from one pipeline: after the shared mixing, the
//! state is finalised twice — `h0` = `jhash2(key, seed)` exactly, `h1` = the final applied to
//! `(a, b ^ H1_TWEAK, c)`. Bucket `i` choice = `h_i & (buckets - 1)` (conn and template tables
//! use the same function on their own keys).
//!
//! **Pipeline (one key per clock, latency 13).** One ARX step is `x -= y; x ^= rol(y, r); y += z`
//! (mix) or `x ^= y; x -= rol(y, r)` (final): one 32-bit adder deep. Each stage holds at most 3
//! dependent steps (3 carry chains, ~4-5 ns on 7-series: 200 MHz); rotates are wiring.
//!
//! | stage | work |
//! |---|---|
//! | 0 | `a = b = c = 0xdeadbeef + 40 + seed`; `a += k0; b += k1; c += k2` |
//! | 1, 2 | mix steps 1-3, 4-6 |
//! | 3 | `a += k3; b += k4; c += k5` |
//! | 4, 5 | mix |
//! | 6 | `a += k6; b += k7; c += k8` |
//! | 7, 8 | mix |
//! | 9 | `a += k9`; fork lane 1: `b1 = b ^ H1_TWEAK` |
//! | 10, 11, 12 | final steps 1-3, 4-6, 7 on both lanes; out `h0 = c`, `h1 = c1` |
//!
//! Key words not yet consumed travel down the pipeline with the state (the RTL may drop them
//! stage by stage). [`jhash2`] is written independently (kernel loop style) from the staged
//! [`PipeState`] model; tests check both agree and match vectors computed by a separate Python
//! implementation.

use crate::key::KEY_WORDS;

pub const JHASH_INITVAL: u32 = 0xdead_beef;
/// XOR into `b` of the second lane (golden ratio).
pub const H1_TWEAK: u32 = 0x9e37_79b9;
/// Pipeline stages (latency in clocks).
pub const HASH_STAGES: usize = 13;
/// Mix rotations, in step order.
pub const MIX_ROT: [u32; 6] = [4, 6, 8, 16, 19, 4];
/// Final rotations, in step order.
pub const FINAL_ROT: [u32; 7] = [14, 11, 25, 16, 4, 14, 24];

/// Linux `jhash2(k, length, initval)` (reference written in the kernel's loop style).
pub fn jhash2(k: &[u32], initval: u32) -> u32 {
    let (mut a, mut b, mut c);
    a = JHASH_INITVAL
        .wrapping_add((k.len() as u32) << 2)
        .wrapping_add(initval);
    b = a;
    c = a;
    let mut k = k;
    while k.len() > 3 {
        a = a.wrapping_add(k[0]);
        b = b.wrapping_add(k[1]);
        c = c.wrapping_add(k[2]);
        // __jhash_mix
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(4);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(6);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(8);
        b = b.wrapping_add(a);
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(16);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(19);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(4);
        b = b.wrapping_add(a);
        k = &k[3..];
    }
    match k.len() {
        3 => {
            c = c.wrapping_add(k[2]);
            b = b.wrapping_add(k[1]);
            a = a.wrapping_add(k[0]);
        }
        2 => {
            b = b.wrapping_add(k[1]);
            a = a.wrapping_add(k[0]);
        }
        1 => a = a.wrapping_add(k[0]),
        _ => return c,
    }
    jhash_final(a, b, c)
}

/// `__jhash_final`, returning `c`.
pub fn jhash_final(mut a: u32, mut b: u32, mut c: u32) -> u32 {
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c.wrapping_sub(b.rotate_left(24))
}

/// The registers of one pipeline stage: two lanes of `(a, b, c)` and the key words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PipeState {
    pub s: [u32; 3],
    pub s1: [u32; 3],
    pub k: [u32; KEY_WORDS],
}

/// Mix step `i` (0..6): roles rotate a->b->c.
fn mix_step(s: &mut [u32; 3], i: usize) {
    let (x, y, z) = (i % 3, (i + 2) % 3, (i + 1) % 3);
    s[x] = s[x].wrapping_sub(s[y]) ^ s[y].rotate_left(MIX_ROT[i]);
    s[y] = s[y].wrapping_add(s[z]);
}

/// Final step `i` (0..7): `x ^= y; x -= rol(y, r)` with (x, y) = (c,b), (a,c), (b,a), ...
fn final_step(s: &mut [u32; 3], i: usize) {
    let (x, y) = [(2, 1), (0, 2), (1, 0)][i % 3];
    s[x] = (s[x] ^ s[y]).wrapping_sub(s[y].rotate_left(FINAL_ROT[i]));
}

/// Stage input for a key and seed (the values entering stage 0).
pub fn pipe_input(key: &[u32; KEY_WORDS], seed: u32) -> PipeState {
    PipeState {
        s: [0; 3],
        s1: [0; 3],
        k: *key,
    }
    .with_seed(seed)
}

impl PipeState {
    fn with_seed(mut self, seed: u32) -> Self {
        let init = JHASH_INITVAL
            .wrapping_add((KEY_WORDS as u32) << 2)
            .wrapping_add(seed);
        self.s = [init; 3];
        self
    }
}

/// The combinational work of stage `n` (0..HASH_STAGES) — what the RTL registers after it.
pub fn stage(n: usize, mut p: PipeState) -> PipeState {
    let add = |p: &mut PipeState, from: usize| {
        for j in 0..3 {
            p.s[j] = p.s[j].wrapping_add(p.k[from + j]);
        }
    };
    match n {
        0 => add(&mut p, 0),
        3 => add(&mut p, 3),
        6 => add(&mut p, 6),
        1 | 4 | 7 => (0..3).for_each(|i| mix_step(&mut p.s, i)),
        2 | 5 | 8 => (3..6).for_each(|i| mix_step(&mut p.s, i)),
        9 => {
            p.s[0] = p.s[0].wrapping_add(p.k[9]);
            p.s1 = [p.s[0], p.s[1] ^ H1_TWEAK, p.s[2]];
        }
        10..=12 => {
            let steps = match n {
                10 => 0..3,
                11 => 3..6,
                _ => 6..7,
            };
            for i in steps {
                final_step(&mut p.s, i);
                final_step(&mut p.s1, i);
            }
        }
        _ => panic!("no hash stage {n}"),
    }
    p
}

/// `(h0, h1)` of a key, by running the stages (the RTL model).
pub fn table_hashes(key: &[u32; KEY_WORDS], seed: u32) -> (u32, u32) {
    let p = (0..HASH_STAGES).fold(pipe_input(key, seed), |p, n| stage(n, p));
    (p.s[2], p.s1[2])
}

/// The two candidate buckets of a key in a table of `2^log2_buckets` buckets.
pub fn buckets(key: &[u32; KEY_WORDS], seed: u32, log2_buckets: u8) -> (u32, u32) {
    let (h0, h1) = table_hashes(key, seed);
    let m = (1u32 << log2_buckets) - 1;
    (h0 & m, h1 & m)
}

/// Reference vectors `(key, seed, h0, h1)` computed by an independent Python implementation
/// of lookup3 (`docs` show them; the RTL tests replay them).
pub const VECTORS: [([u32; KEY_WORDS], u32, u32, u32); 5] = [
    ([0; 10], 0, 0xc0fe_d4b2, 0x62d5_9abc),
    (
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        0x1234_5678,
        0xa099_c472,
        0x5e5b_7bd1,
    ),
    (
        [0x0a00_0001, 0, 0, 0, 0xc000_020a, 0, 0, 0, 0x0050_04d2, 6],
        0,
        0x610b_8f02,
        0x2865_f2fe,
    ),
    (
        [
            0x2001_0db8,
            0,
            0,
            1,
            0x2001_0db8,
            0xffff_0000,
            0,
            0x10,
            0x0035_9c40,
            0x111,
        ],
        0xdead_beef,
        0x4b95_cb4e,
        0x5f3f_0963,
    ),
    (
        [0x0a01_0200, 0, 0, 0, 7, 0, 0, 0, 0, 0],
        0xcafe_f00d,
        0x3f63_96f0,
        0x0af8_cf47,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::FlowKey;
    use proptest::prelude::*;

    #[test]
    fn vectors() {
        for (k, seed, h0, h1) in VECTORS {
            assert_eq!(jhash2(&k, seed), h0, "jhash2 {k:x?}");
            assert_eq!(table_hashes(&k, seed), (h0, h1), "pipeline {k:x?}");
        }
    }

    #[test]
    fn vectors_are_real_keys() {
        let k = FlowKey {
            proto: 6,
            caddr: "10.0.0.1".parse().unwrap(),
            cport: 1234,
            vaddr: "192.0.2.10".parse().unwrap(),
            vport: 80,
        };
        assert_eq!(k.words().unwrap(), VECTORS[2].0);
        let k6 = FlowKey {
            proto: 17,
            caddr: "2001:db8::1".parse().unwrap(),
            cport: 40000,
            vaddr: "2001:db8:ffff::10".parse().unwrap(),
            vport: 53,
        };
        assert_eq!(k6.words().unwrap(), VECTORS[3].0);
    }

    #[test]
    fn short_lengths_follow_the_kernel() {
        // jhash2 of 0 words returns the init value; tails of 1..3 words take the switch path.
        assert_eq!(jhash2(&[], 0), JHASH_INITVAL);
        assert_ne!(jhash2(&[1], 0), jhash2(&[1, 0], 0));
    }

    proptest! {
        #[test]
        fn pipeline_matches_flat(k in any::<[u32; 10]>(), seed in any::<u32>()) {
            let (h0, _h1) = table_hashes(&k, seed);
            prop_assert_eq!(h0, jhash2(&k, seed));
        }
    }

    #[test]
    fn choices_spread() {
        // 4096 sequential client ports: both choices fill most of 1024 buckets, and rarely agree.
        let mut seen0 = vec![false; 1024];
        let mut same = 0;
        for p in 0..4096u32 {
            let k = [0x0a00_0001, 0, 0, 0, 0xc000_020a, 0, 0, 0, p | 80 << 16, 6];
            let (b0, b1) = buckets(&k, 42, 10);
            seen0[b0 as usize] = true;
            same += (b0 == b1) as u32;
        }
        assert!(seen0.iter().filter(|&&x| x).count() > 950);
        assert!(same < 20);
    }
}
