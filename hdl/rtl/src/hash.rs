//! The table hash as a pipeline: `lvsnic_abi::hash` (Linux `jhash2` over the 10 key words, two
//! lanes `h0`/`h1`) in exactly [`LATENCY`] = `HASH_STAGES` (13) register stages, one key per
//! clock. Stage `n` of the RTL computes exactly `lvsnic_abi::hash::stage(n, ..)`; key words that
//! are consumed are dropped from the pipeline (words 3..9 after stage 0, 6..9 after stage 3,
//! word 9 after stage 6).
//!
//! # Ports ([`JHashPipe`])
//!
//! | port | dir | width | meaning |
//! |---|---|---|---|
//! | `clock` | in | 1 | |
//! | `in_valid` | in | 1 | a key is presented this cycle (no back-pressure: accepted every clock) |
//! | `key` | in | 320 | key image, word `i` in bits `32i+31..32i` (the ABI's 10-word flow key) |
//! | `seed` | in | 32 | `CTRL.HASH_SEED` (sampled with the key at stage 0) |
//! | `out_valid` | out | 1 | `in_valid` delayed by [`LATENCY`] |
//! | `h0` | out | 32 | `jhash2(key, seed)` |
//! | `h1` | out | 32 | second choice (lane 1) |
//!
//! `out_valid/h0/h1` at clock edge `t + LATENCY` belong to the key presented before edge `t`.
//! The hashes flow for invalid slots too (don't care); only `out_valid` qualifies them.

use lvsnic_abi::hash::{FINAL_ROT, H1_TWEAK, HASH_STAGES, JHASH_INITVAL, MIX_ROT};
use lvsnic_abi::key::KEY_WORDS;
use rust_hdl::prelude::*;

/// Clocks from `in_valid/key` to `out_valid/h0/h1`.
pub const LATENCY: usize = HASH_STAGES;

fn rot(r: u32) -> (Constant<Bits<32>>, Constant<Bits<32>>) {
    (
        Constant::new(bits(r as u64)),
        Constant::new(bits(32 - r as u64)),
    )
}

/// Three jhash mix steps (combinational): `x -= y; x ^= rol(y, r); y += z` with roles a->b->c.
#[derive(LogicBlock)]
pub struct MixHalf {
    pub a: Signal<In, Bits<32>>,
    pub b: Signal<In, Bits<32>>,
    pub c: Signal<In, Bits<32>>,
    pub a_o: Signal<Out, Bits<32>>,
    pub b_o: Signal<Out, Bits<32>>,
    pub c_o: Signal<Out, Bits<32>>,
    a1: Signal<Local, Bits<32>>,
    c1: Signal<Local, Bits<32>>,
    b1: Signal<Local, Bits<32>>,
    a2: Signal<Local, Bits<32>>,
    r0: Constant<Bits<32>>,
    r0i: Constant<Bits<32>>,
    r1: Constant<Bits<32>>,
    r1i: Constant<Bits<32>>,
    r2: Constant<Bits<32>>,
    r2i: Constant<Bits<32>>,
}

impl MixHalf {
    /// Mix steps `first..first+3` (`first` is 0 or 3).
    pub fn new(first: usize) -> Self {
        let (r0, r0i) = rot(MIX_ROT[first]);
        let (r1, r1i) = rot(MIX_ROT[first + 1]);
        let (r2, r2i) = rot(MIX_ROT[first + 2]);
        Self {
            a: Default::default(),
            b: Default::default(),
            c: Default::default(),
            a_o: Default::default(),
            b_o: Default::default(),
            c_o: Default::default(),
            a1: Default::default(),
            c1: Default::default(),
            b1: Default::default(),
            a2: Default::default(),
            r0,
            r0i,
            r1,
            r1i,
            r2,
            r2i,
        }
    }
}

impl Logic for MixHalf {
    #[hdl_gen]
    fn update(&mut self) {
        self.a1.next = (self.a.val() - self.c.val())
            ^ ((self.c.val() << self.r0.val()) | (self.c.val() >> self.r0i.val()));
        self.c1.next = self.c.val() + self.b.val();
        self.b1.next = (self.b.val() - self.a1.val())
            ^ ((self.a1.val() << self.r1.val()) | (self.a1.val() >> self.r1i.val()));
        self.a2.next = self.a1.val() + self.c1.val();
        self.c_o.next = (self.c1.val() - self.b1.val())
            ^ ((self.b1.val() << self.r2.val()) | (self.b1.val() >> self.r2i.val()));
        self.b_o.next = self.b1.val() + self.a2.val();
        self.a_o.next = self.a2.val();
    }
}

/// Three `__jhash_final` steps (combinational): `c ^= b; c -= rol(b)`, then on `a`, then `b`.
#[derive(LogicBlock)]
pub struct FinalHalf {
    pub a: Signal<In, Bits<32>>,
    pub b: Signal<In, Bits<32>>,
    pub c: Signal<In, Bits<32>>,
    pub a_o: Signal<Out, Bits<32>>,
    pub b_o: Signal<Out, Bits<32>>,
    pub c_o: Signal<Out, Bits<32>>,
    c1: Signal<Local, Bits<32>>,
    a1: Signal<Local, Bits<32>>,
    r0: Constant<Bits<32>>,
    r0i: Constant<Bits<32>>,
    r1: Constant<Bits<32>>,
    r1i: Constant<Bits<32>>,
    r2: Constant<Bits<32>>,
    r2i: Constant<Bits<32>>,
}

impl FinalHalf {
    /// Final steps `first..first+3` (`first` is 0 or 3).
    pub fn new(first: usize) -> Self {
        let (r0, r0i) = rot(FINAL_ROT[first]);
        let (r1, r1i) = rot(FINAL_ROT[first + 1]);
        let (r2, r2i) = rot(FINAL_ROT[first + 2]);
        Self {
            a: Default::default(),
            b: Default::default(),
            c: Default::default(),
            a_o: Default::default(),
            b_o: Default::default(),
            c_o: Default::default(),
            c1: Default::default(),
            a1: Default::default(),
            r0,
            r0i,
            r1,
            r1i,
            r2,
            r2i,
        }
    }
}

impl Logic for FinalHalf {
    #[hdl_gen]
    fn update(&mut self) {
        self.c1.next = (self.c.val() ^ self.b.val())
            - ((self.b.val() << self.r0.val()) | (self.b.val() >> self.r0i.val()));
        self.a1.next = (self.a.val() ^ self.c1.val())
            - ((self.c1.val() << self.r1.val()) | (self.c1.val() >> self.r1i.val()));
        self.b_o.next = (self.b.val() ^ self.a1.val())
            - ((self.a1.val() << self.r2.val()) | (self.a1.val() >> self.r2i.val()));
        self.a_o.next = self.a1.val();
        self.c_o.next = self.c1.val();
    }
}

/// The hash pipeline (see the module docs for ports and timing).
#[derive(LogicBlock)]
pub struct JHashPipe {
    pub clock: Signal<In, Clock>,
    pub in_valid: Signal<In, Bit>,
    pub key: Signal<In, Bits<320>>,
    pub seed: Signal<In, Bits<32>>,
    pub out_valid: Signal<Out, Bit>,
    pub h0: Signal<Out, Bits<32>>,
    pub h1: Signal<Out, Bits<32>>,
    vld: [DFF<Bit>; LATENCY],
    /// Lane 0 state after stage `n`.
    a: [DFF<Bits<32>>; LATENCY],
    b: [DFF<Bits<32>>; LATENCY],
    c: [DFF<Bits<32>>; LATENCY],
    /// Lane 1 state after stages 9, 10, 11 (index 0, 1, 2).
    a1: [DFF<Bits<32>>; 3],
    b1: [DFF<Bits<32>>; 3],
    c1: [DFF<Bits<32>>; 3],
    /// Lane 1 `c` after stage 12.
    h1r: DFF<Bits<32>>,
    /// Key words 3..9 after stages 0..2, 6..9 after stages 3..5, word 9 after stages 6..8.
    k7: [DFF<Bits<224>>; 3],
    k4: [DFF<Bits<128>>; 3],
    k1: [DFF<Bits<32>>; 3],
    init: Signal<Local, Bits<32>>,
    mix: [MixHalf; 6],
    fin0: [FinalHalf; 2],
    fin1: [FinalHalf; 2],
    init_base: Constant<Bits<32>>,
    tweak: Constant<Bits<32>>,
    r24: Constant<Bits<32>>,
    r24i: Constant<Bits<32>>,
}

impl Default for JHashPipe {
    fn default() -> Self {
        let (r24, r24i) = rot(FINAL_ROT[6]);
        Self {
            clock: Default::default(),
            in_valid: Default::default(),
            key: Default::default(),
            seed: Default::default(),
            out_valid: Default::default(),
            h0: Default::default(),
            h1: Default::default(),
            vld: Default::default(),
            a: Default::default(),
            b: Default::default(),
            c: Default::default(),
            a1: Default::default(),
            b1: Default::default(),
            c1: Default::default(),
            h1r: Default::default(),
            k7: Default::default(),
            k4: Default::default(),
            k1: Default::default(),
            init: Default::default(),
            mix: std::array::from_fn(|i| MixHalf::new((i % 2) * 3)),
            fin0: std::array::from_fn(|i| FinalHalf::new(i * 3)),
            fin1: std::array::from_fn(|i| FinalHalf::new(i * 3)),
            init_base: Constant::new(bits(
                JHASH_INITVAL.wrapping_add((KEY_WORDS as u32) << 2) as u64
            )),
            tweak: Constant::new(bits(H1_TWEAK as u64)),
            r24,
            r24i,
        }
    }
}

impl Logic for JHashPipe {
    #[hdl_gen]
    fn update(&mut self) {
        for i in 0..13 {
            self.vld[i].clock.next = self.clock.val();
            self.a[i].clock.next = self.clock.val();
            self.b[i].clock.next = self.clock.val();
            self.c[i].clock.next = self.clock.val();
        }
        for i in 0..3 {
            self.a1[i].clock.next = self.clock.val();
            self.b1[i].clock.next = self.clock.val();
            self.c1[i].clock.next = self.clock.val();
            self.k7[i].clock.next = self.clock.val();
            self.k4[i].clock.next = self.clock.val();
            self.k1[i].clock.next = self.clock.val();
        }
        self.h1r.clock.next = self.clock.val();
        // valid chain
        self.vld[0].d.next = self.in_valid.val();
        for i in 1..13 {
            self.vld[i].d.next = self.vld[i - 1].q.val();
        }
        // stage 0: init, add words 0..2
        self.init.next = self.init_base.val() + self.seed.val();
        self.a[0].d.next = self.init.val() + self.key.val().get_bits::<32>(0);
        self.b[0].d.next = self.init.val() + self.key.val().get_bits::<32>(32);
        self.c[0].d.next = self.init.val() + self.key.val().get_bits::<32>(64);
        self.k7[0].d.next = self.key.val().get_bits::<224>(96);
        // key words travel
        self.k7[1].d.next = self.k7[0].q.val();
        self.k7[2].d.next = self.k7[1].q.val();
        self.k4[1].d.next = self.k4[0].q.val();
        self.k4[2].d.next = self.k4[1].q.val();
        self.k1[1].d.next = self.k1[0].q.val();
        self.k1[2].d.next = self.k1[1].q.val();
        // stages 1, 2 (mix[0], mix[1])
        self.mix[0].a.next = self.a[0].q.val();
        self.mix[0].b.next = self.b[0].q.val();
        self.mix[0].c.next = self.c[0].q.val();
        self.a[1].d.next = self.mix[0].a_o.val();
        self.b[1].d.next = self.mix[0].b_o.val();
        self.c[1].d.next = self.mix[0].c_o.val();
        self.mix[1].a.next = self.a[1].q.val();
        self.mix[1].b.next = self.b[1].q.val();
        self.mix[1].c.next = self.c[1].q.val();
        self.a[2].d.next = self.mix[1].a_o.val();
        self.b[2].d.next = self.mix[1].b_o.val();
        self.c[2].d.next = self.mix[1].c_o.val();
        // stage 3: add words 3..5
        self.a[3].d.next = self.a[2].q.val() + self.k7[2].q.val().get_bits::<32>(0);
        self.b[3].d.next = self.b[2].q.val() + self.k7[2].q.val().get_bits::<32>(32);
        self.c[3].d.next = self.c[2].q.val() + self.k7[2].q.val().get_bits::<32>(64);
        self.k4[0].d.next = self.k7[2].q.val().get_bits::<128>(96);
        // stages 4, 5
        self.mix[2].a.next = self.a[3].q.val();
        self.mix[2].b.next = self.b[3].q.val();
        self.mix[2].c.next = self.c[3].q.val();
        self.a[4].d.next = self.mix[2].a_o.val();
        self.b[4].d.next = self.mix[2].b_o.val();
        self.c[4].d.next = self.mix[2].c_o.val();
        self.mix[3].a.next = self.a[4].q.val();
        self.mix[3].b.next = self.b[4].q.val();
        self.mix[3].c.next = self.c[4].q.val();
        self.a[5].d.next = self.mix[3].a_o.val();
        self.b[5].d.next = self.mix[3].b_o.val();
        self.c[5].d.next = self.mix[3].c_o.val();
        // stage 6: add words 6..8
        self.a[6].d.next = self.a[5].q.val() + self.k4[2].q.val().get_bits::<32>(0);
        self.b[6].d.next = self.b[5].q.val() + self.k4[2].q.val().get_bits::<32>(32);
        self.c[6].d.next = self.c[5].q.val() + self.k4[2].q.val().get_bits::<32>(64);
        self.k1[0].d.next = self.k4[2].q.val().get_bits::<32>(96);
        // stages 7, 8
        self.mix[4].a.next = self.a[6].q.val();
        self.mix[4].b.next = self.b[6].q.val();
        self.mix[4].c.next = self.c[6].q.val();
        self.a[7].d.next = self.mix[4].a_o.val();
        self.b[7].d.next = self.mix[4].b_o.val();
        self.c[7].d.next = self.mix[4].c_o.val();
        self.mix[5].a.next = self.a[7].q.val();
        self.mix[5].b.next = self.b[7].q.val();
        self.mix[5].c.next = self.c[7].q.val();
        self.a[8].d.next = self.mix[5].a_o.val();
        self.b[8].d.next = self.mix[5].b_o.val();
        self.c[8].d.next = self.mix[5].c_o.val();
        // stage 9: add word 9, fork lane 1
        self.a[9].d.next = self.a[8].q.val() + self.k1[2].q.val();
        self.b[9].d.next = self.b[8].q.val();
        self.c[9].d.next = self.c[8].q.val();
        self.a1[0].d.next = self.a[8].q.val() + self.k1[2].q.val();
        self.b1[0].d.next = self.b[8].q.val() ^ self.tweak.val();
        self.c1[0].d.next = self.c[8].q.val();
        // stages 10, 11: final steps 0..2, 3..5 on both lanes
        self.fin0[0].a.next = self.a[9].q.val();
        self.fin0[0].b.next = self.b[9].q.val();
        self.fin0[0].c.next = self.c[9].q.val();
        self.a[10].d.next = self.fin0[0].a_o.val();
        self.b[10].d.next = self.fin0[0].b_o.val();
        self.c[10].d.next = self.fin0[0].c_o.val();
        self.fin1[0].a.next = self.a1[0].q.val();
        self.fin1[0].b.next = self.b1[0].q.val();
        self.fin1[0].c.next = self.c1[0].q.val();
        self.a1[1].d.next = self.fin1[0].a_o.val();
        self.b1[1].d.next = self.fin1[0].b_o.val();
        self.c1[1].d.next = self.fin1[0].c_o.val();
        self.fin0[1].a.next = self.a[10].q.val();
        self.fin0[1].b.next = self.b[10].q.val();
        self.fin0[1].c.next = self.c[10].q.val();
        self.a[11].d.next = self.fin0[1].a_o.val();
        self.b[11].d.next = self.fin0[1].b_o.val();
        self.c[11].d.next = self.fin0[1].c_o.val();
        self.fin1[1].a.next = self.a1[1].q.val();
        self.fin1[1].b.next = self.b1[1].q.val();
        self.fin1[1].c.next = self.c1[1].q.val();
        self.a1[2].d.next = self.fin1[1].a_o.val();
        self.b1[2].d.next = self.fin1[1].b_o.val();
        self.c1[2].d.next = self.fin1[1].c_o.val();
        // stage 12: final step 6 (c only)
        self.a[12].d.next = self.a[11].q.val();
        self.b[12].d.next = self.b[11].q.val();
        self.c[12].d.next = (self.c[11].q.val() ^ self.b[11].q.val())
            - ((self.b[11].q.val() << self.r24.val()) | (self.b[11].q.val() >> self.r24i.val()));
        self.h1r.d.next = (self.c1[2].q.val() ^ self.b1[2].q.val())
            - ((self.b1[2].q.val() << self.r24.val()) | (self.b1[2].q.val() >> self.r24i.val()));
        self.out_valid.next = self.vld[12].q.val();
        self.h0.next = self.c[12].q.val();
        self.h1.next = self.h1r.q.val();
    }
}

/// Key words -> the 320-bit key bus image (word `i` in bits `32i+31..32i`).
pub fn key_bits(words: &[u32; KEY_WORDS]) -> Bits<320> {
    let mut b: Bits<320> = Bits::default();
    for (i, w) in words.iter().enumerate() {
        b.set_bits::<32>(32 * i, bits(*w as u64));
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables_common::{lint_verilog, Rng};
    use lvsnic_abi::hash::{table_hashes, VECTORS};

    fn step(uut: &mut JHashPipe) {
        uut.clock.next = false.into();
        assert!(simulate(uut, 200));
        uut.clock.next = true.into();
        assert!(simulate(uut, 200));
    }

    #[test]
    fn matches_abi_reference_at_latency() {
        let mut uut = JHashPipe::default();
        uut.connect_all();
        let mut rng = Rng(0x1234_5678_9abc_def1);
        // (cycle at which the result is due, expected h0, h1)
        let mut expect: std::collections::VecDeque<(usize, u32, u32)> = Default::default();
        let mut checked = 0;
        let mut vecs = VECTORS.iter();
        for cyc in 0..260 {
            let give = !rng.next().is_multiple_of(4);
            if give {
                let (k, seed) = match vecs.next() {
                    Some((k, s, _, _)) => (*k, *s),
                    None => {
                        let mut k = [0u32; KEY_WORDS];
                        k.iter_mut().for_each(|w| *w = rng.next() as u32);
                        (k, rng.next() as u32)
                    }
                };
                uut.key.next = key_bits(&k);
                uut.seed.next = bits(seed as u64);
                let (h0, h1) = table_hashes(&k, seed);
                expect.push_back((cyc + LATENCY, h0, h1));
            } else {
                // garbage on the bus while idle
                uut.key.next = key_bits(&[rng.next() as u32; KEY_WORDS]);
            }
            uut.in_valid.next = give;
            step(&mut uut);
            // after edge `cyc`: outputs belong to the key presented at cyc + 1 - LATENCY
            let due = expect.front().map(|e| e.0) == Some(cyc + 1);
            assert_eq!(uut.out_valid.val(), due, "out_valid at cycle {cyc}");
            if due {
                let (_, h0, h1) = expect.pop_front().unwrap();
                assert_eq!(uut.h0.val().to_u32(), h0, "h0 at cycle {cyc}");
                assert_eq!(uut.h1.val().to_u32(), h1, "h1 at cycle {cyc}");
                checked += 1;
            }
        }
        assert!(checked > 150);
    }

    #[test]
    fn verilog_lints() {
        let mut uut = JHashPipe::default();
        uut.connect_all();
        let v = generate_verilog(&uut);
        lint_verilog("lvsnic_hash", &v);
    }
}
