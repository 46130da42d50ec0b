//! Firewall-mark rules (ABI `MarkRuleEntry`): every valid matching rule applies, in index order,
//! `mark = (mark & !mask) ^ value`.
//!
//! # Write port
//! `wr_en` with `wr_idx` (rule index; indices >= R are ignored) and `wr_data`, the 13-word
//! `MarkRuleEntry` image (word k in bits 32k+31..32k). Write an image with `valid = 0` to
//! disable a rule. The 128-bit source/destination prefix masks are computed from the prefix
//! lengths once, when the rule is written, and stored. A write in cycle W is seen, entirely and
//! consistently, by packets presented in cycles > W (the rule's mask/value half is written one
//! cycle later, when the packets that matched against the old rule have used the old action).
//!
//! # Lookup
//! `in_valid` with the parsed header (`in_af`, `in_proto`, `in_src`, `in_dst` in the ABI address
//! convention, `in_sport`, `in_dport`) and the initial mark `in_mark`. `out_valid`/`out_mark`
//! follow exactly [`LATENCY`] cycles later; one lookup per clock.
//!
//! # Pipeline (LATENCY = 3)
//! * edge 0: R match bits in parallel (masked compares with negation, port ranges, proto).
//! * edge 1: the R xmark operations composed as a balanced tree (6 levels, R <= 64 leaves;
//!   op (a1,b1) then (a2,b2) = (a1|a2, (b1 & !a2) ^ b2); a non-matching rule is (0,0)).
//! * edge 2: apply the composed op to the mark.

use crate::common::{default_array, front_index_consts};
use rust_hdl::prelude::*;

/// Cycles from `in_valid` to `out_valid`.
pub const LATENCY: usize = 3;
/// Bits of a `MarkRuleEntry` image (13 words).
pub const RULE_BITS: usize = 13 * 32;
const TREE_LEAVES: usize = 64;

/// Firewall-mark rule block with `R` rules (R <= 64). Ports (direction, width):
#[derive(LogicBlock)]
pub struct FwmarkRules<const R: usize> {
    /// in: clock
    pub clock: Signal<In, Clock>,
    /// in 1: write strobe
    pub wr_en: Signal<In, Bit>,
    /// in 8: rule index
    pub wr_idx: Signal<In, Bits<8>>,
    /// in 416: MarkRuleEntry image
    pub wr_data: Signal<In, Bits<RULE_BITS>>,
    /// in 1: a packet header is presented
    pub in_valid: Signal<In, Bit>,
    /// in 1: address family (0 IPv4, 1 IPv6)
    pub in_af: Signal<In, Bit>,
    /// in 8: IP protocol
    pub in_proto: Signal<In, Bits<8>>,
    /// in 128: source address
    pub in_src: Signal<In, Bits<128>>,
    /// in 128: destination address
    pub in_dst: Signal<In, Bits<128>>,
    /// in 16: source port
    pub in_sport: Signal<In, Bits<16>>,
    /// in 16: destination port
    pub in_dport: Signal<In, Bits<16>>,
    /// in 32: initial mark (0 for a packet without a mark)
    pub in_mark: Signal<In, Bits<32>>,
    /// out 1: result valid
    pub out_valid: Signal<Out, Bit>,
    /// out 32: final mark
    pub out_mark: Signal<Out, Bits<32>>,

    kidx: [Constant<Bits<8>>; R],
    ones: Constant<Bits<32>>,
    // write side
    key: [DFF<Bits<RULE_BITS>>; R],
    smask: [DFF<Bits<128>>; R],
    dmask: [DFF<Bits<128>>; R],
    act: [DFF<Bits<64>>; R],
    wd_en: DFF<Bit>,
    wd_idx: DFF<Bits<8>>,
    wd_act: DFF<Bits<64>>,
    w_v6: Signal<Local, Bit>,
    w_splen: Signal<Local, Bits<8>>,
    w_dplen: Signal<Local, Bits<8>>,
    ws0: Signal<Local, Bits<32>>,
    ws1: Signal<Local, Bits<32>>,
    ws2: Signal<Local, Bits<32>>,
    ws3: Signal<Local, Bits<32>>,
    wd0: Signal<Local, Bits<32>>,
    wd1: Signal<Local, Bits<32>>,
    wd2: Signal<Local, Bits<32>>,
    wd3: Signal<Local, Bits<32>>,
    // stage 1
    hit: [DFF<Bit>; R],
    s1_valid: DFF<Bit>,
    s1_mark: DFF<Bits<32>>,
    // stage 2: composition tree
    la0: [Signal<Local, Bits<32>>; TREE_LEAVES],
    lb0: [Signal<Local, Bits<32>>; TREE_LEAVES],
    la1: [Signal<Local, Bits<32>>; 32],
    lb1: [Signal<Local, Bits<32>>; 32],
    la2: [Signal<Local, Bits<32>>; 16],
    lb2: [Signal<Local, Bits<32>>; 16],
    la3: [Signal<Local, Bits<32>>; 8],
    lb3: [Signal<Local, Bits<32>>; 8],
    la4: [Signal<Local, Bits<32>>; 4],
    lb4: [Signal<Local, Bits<32>>; 4],
    la5: [Signal<Local, Bits<32>>; 2],
    lb5: [Signal<Local, Bits<32>>; 2],
    s2_valid: DFF<Bit>,
    s2_mark: DFF<Bits<32>>,
    s2_a: DFF<Bits<32>>,
    s2_b: DFF<Bits<32>>,
    // stage 3
    o_valid: DFF<Bit>,
    o_mark: DFF<Bits<32>>,
}

impl<const R: usize> Default for FwmarkRules<R> {
    fn default() -> Self {
        assert!(R >= 1 && R <= TREE_LEAVES, "1 <= R <= 64");
        Self {
            clock: Default::default(),
            wr_en: Default::default(),
            wr_idx: Default::default(),
            wr_data: Default::default(),
            in_valid: Default::default(),
            in_af: Default::default(),
            in_proto: Default::default(),
            in_src: Default::default(),
            in_dst: Default::default(),
            in_sport: Default::default(),
            in_dport: Default::default(),
            in_mark: Default::default(),
            out_valid: Default::default(),
            out_mark: Default::default(),
            kidx: front_index_consts(),
            ones: Constant::new(0xffff_ffffu64.into()),
            key: default_array(),
            smask: default_array(),
            dmask: default_array(),
            act: default_array(),
            wd_en: Default::default(),
            wd_idx: Default::default(),
            wd_act: Default::default(),
            w_v6: Default::default(),
            w_splen: Default::default(),
            w_dplen: Default::default(),
            ws0: Default::default(),
            ws1: Default::default(),
            ws2: Default::default(),
            ws3: Default::default(),
            wd0: Default::default(),
            wd1: Default::default(),
            wd2: Default::default(),
            wd3: Default::default(),
            hit: default_array(),
            s1_valid: Default::default(),
            s1_mark: Default::default(),
            la0: default_array(),
            lb0: default_array(),
            la1: default_array(),
            lb1: default_array(),
            la2: default_array(),
            lb2: default_array(),
            la3: default_array(),
            lb3: default_array(),
            la4: default_array(),
            lb4: default_array(),
            la5: default_array(),
            lb5: default_array(),
            s2_valid: Default::default(),
            s2_mark: Default::default(),
            s2_a: Default::default(),
            s2_b: Default::default(),
            o_valid: Default::default(),
            o_mark: Default::default(),
        }
    }
}

impl<const R: usize> Logic for FwmarkRules<R> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, wd_en, wd_idx, wd_act, s1_valid, s1_mark, s2_valid, s2_mark, s2_a, s2_b,
            o_valid, o_mark
        );
        // ---------------- write port: prefix masks ----------------
        self.w_v6.next = self.wr_data.val().get_bit(385);
        self.w_splen.next = self.wr_data.val().get_bits::<8>(400);
        self.w_dplen.next = self.wr_data.val().get_bits::<8>(408);
        // word k of a mask covers prefix bits 32k..32k+31 (ABI address convention)
        self.ws0.next = 0.into();
        if self.w_splen.val() >= 32 {
            self.ws0.next = self.ones.val();
        } else if self.w_splen.val() > 0 {
            self.ws0.next = !(self.ones.val() >> self.w_splen.val());
        }
        self.ws1.next = 0.into();
        if self.w_splen.val() >= 64 {
            self.ws1.next = self.ones.val();
        } else if self.w_splen.val() > 32 {
            self.ws1.next = !(self.ones.val() >> (self.w_splen.val() - 32));
        }
        self.ws2.next = 0.into();
        if self.w_splen.val() >= 96 {
            self.ws2.next = self.ones.val();
        } else if self.w_splen.val() > 64 {
            self.ws2.next = !(self.ones.val() >> (self.w_splen.val() - 64));
        }
        self.ws3.next = 0.into();
        if self.w_splen.val() >= 128 {
            self.ws3.next = self.ones.val();
        } else if self.w_splen.val() > 96 {
            self.ws3.next = !(self.ones.val() >> (self.w_splen.val() - 96));
        }
        self.wd0.next = 0.into();
        if self.w_dplen.val() >= 32 {
            self.wd0.next = self.ones.val();
        } else if self.w_dplen.val() > 0 {
            self.wd0.next = !(self.ones.val() >> self.w_dplen.val());
        }
        self.wd1.next = 0.into();
        if self.w_dplen.val() >= 64 {
            self.wd1.next = self.ones.val();
        } else if self.w_dplen.val() > 32 {
            self.wd1.next = !(self.ones.val() >> (self.w_dplen.val() - 32));
        }
        self.wd2.next = 0.into();
        if self.w_dplen.val() >= 96 {
            self.wd2.next = self.ones.val();
        } else if self.w_dplen.val() > 64 {
            self.wd2.next = !(self.ones.val() >> (self.w_dplen.val() - 64));
        }
        self.wd3.next = 0.into();
        if self.w_dplen.val() >= 128 {
            self.wd3.next = self.ones.val();
        } else if self.w_dplen.val() > 96 {
            self.wd3.next = !(self.ones.val() >> (self.w_dplen.val() - 96));
        }
        if !self.w_v6.val() {
            self.ws1.next = 0.into();
            self.ws2.next = 0.into();
            self.ws3.next = 0.into();
            self.wd1.next = 0.into();
            self.wd2.next = 0.into();
            self.wd3.next = 0.into();
        }
        // delayed write of the action half (mask in 31..0, value in 63..32)
        self.wd_en.d.next = self.wr_en.val();
        self.wd_idx.d.next = self.wr_idx.val();
        self.wd_act.d.next = self.wr_data.val().get_bits::<64>(320);

        for i in 0..R {
            self.key[i].clock.next = self.clock.val();
            self.smask[i].clock.next = self.clock.val();
            self.dmask[i].clock.next = self.clock.val();
            self.act[i].clock.next = self.clock.val();
            self.hit[i].clock.next = self.clock.val();
            self.key[i].d.next = self.key[i].q.val();
            self.smask[i].d.next = self.smask[i].q.val();
            self.dmask[i].d.next = self.dmask[i].q.val();
            self.act[i].d.next = self.act[i].q.val();
            if self.wr_en.val() & (self.wr_idx.val() == self.kidx[i].val()) {
                self.key[i].d.next = self.wr_data.val();
                self.smask[i].d.next = bit_cast::<128, 32>(self.ws0.val())
                    | (bit_cast::<128, 32>(self.ws1.val()) << 32)
                    | (bit_cast::<128, 32>(self.ws2.val()) << 64)
                    | (bit_cast::<128, 32>(self.ws3.val()) << 96);
                self.dmask[i].d.next = bit_cast::<128, 32>(self.wd0.val())
                    | (bit_cast::<128, 32>(self.wd1.val()) << 32)
                    | (bit_cast::<128, 32>(self.wd2.val()) << 64)
                    | (bit_cast::<128, 32>(self.wd3.val()) << 96);
            }
            if self.wd_en.q.val() & (self.wd_idx.q.val() == self.kidx[i].val()) {
                self.act[i].d.next = self.wd_act.q.val();
            }
            // ---------------- stage 1: match ----------------
            self.hit[i].d.next = self.in_valid.val()
                & self.key[i].q.val().get_bit(384)
                & (self.key[i].q.val().get_bit(385) == self.in_af.val())
                & ((((self.in_src.val() ^ self.key[i].q.val().get_bits::<128>(0))
                    & self.smask[i].q.val())
                    == 0)
                    ^ self.key[i].q.val().get_bit(386))
                & ((((self.in_dst.val() ^ self.key[i].q.val().get_bits::<128>(128))
                    & self.dmask[i].q.val())
                    == 0)
                    ^ self.key[i].q.val().get_bit(387))
                & (!self.key[i].q.val().get_bit(388)
                    | (self.key[i].q.val().get_bits::<8>(392) == self.in_proto.val()))
                & (self.in_sport.val() >= self.key[i].q.val().get_bits::<16>(256))
                & (self.in_sport.val() <= self.key[i].q.val().get_bits::<16>(272))
                & (self.in_dport.val() >= self.key[i].q.val().get_bits::<16>(288))
                & (self.in_dport.val() <= self.key[i].q.val().get_bits::<16>(304));
            // ---------------- stage 2: leaves ----------------
            self.la0[i].next = 0.into();
            self.lb0[i].next = 0.into();
            if self.hit[i].q.val() {
                self.la0[i].next = self.act[i].q.val().get_bits::<32>(0);
                self.lb0[i].next = self.act[i].q.val().get_bits::<32>(32);
            }
        }
        self.s1_valid.d.next = self.in_valid.val();
        self.s1_mark.d.next = self.in_mark.val();
        for i in R..TREE_LEAVES {
            self.la0[i].next = 0.into();
            self.lb0[i].next = 0.into();
        }
        // ---------------- stage 2: tree (left child applies first) ----------------
        for j in 0..32 {
            self.la1[j].next = self.la0[2 * j].val() | self.la0[2 * j + 1].val();
            self.lb1[j].next =
                (self.lb0[2 * j].val() & !self.la0[2 * j + 1].val()) ^ self.lb0[2 * j + 1].val();
        }
        for j in 0..16 {
            self.la2[j].next = self.la1[2 * j].val() | self.la1[2 * j + 1].val();
            self.lb2[j].next =
                (self.lb1[2 * j].val() & !self.la1[2 * j + 1].val()) ^ self.lb1[2 * j + 1].val();
        }
        for j in 0..8 {
            self.la3[j].next = self.la2[2 * j].val() | self.la2[2 * j + 1].val();
            self.lb3[j].next =
                (self.lb2[2 * j].val() & !self.la2[2 * j + 1].val()) ^ self.lb2[2 * j + 1].val();
        }
        for j in 0..4 {
            self.la4[j].next = self.la3[2 * j].val() | self.la3[2 * j + 1].val();
            self.lb4[j].next =
                (self.lb3[2 * j].val() & !self.la3[2 * j + 1].val()) ^ self.lb3[2 * j + 1].val();
        }
        for j in 0..2 {
            self.la5[j].next = self.la4[2 * j].val() | self.la4[2 * j + 1].val();
            self.lb5[j].next =
                (self.lb4[2 * j].val() & !self.la4[2 * j + 1].val()) ^ self.lb4[2 * j + 1].val();
        }
        self.s2_valid.d.next = self.s1_valid.q.val();
        self.s2_mark.d.next = self.s1_mark.q.val();
        self.s2_a.d.next = self.la5[0].val() | self.la5[1].val();
        self.s2_b.d.next = (self.lb5[0].val() & !self.la5[1].val()) ^ self.lb5[1].val();
        // ---------------- stage 3: apply ----------------
        self.o_valid.d.next = self.s2_valid.q.val();
        self.o_mark.d.next = (self.s2_mark.q.val() & !self.s2_a.q.val()) ^ self.s2_b.q.val();
        self.out_valid.next = self.o_valid.q.val();
        self.out_mark.next = self.o_mark.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::{
        front_bits128, front_check_verilog, front_tick, front_words_to_bits, FrontRng,
    };
    use lvsnic_abi::types::{addr_bits, prefix_mask, Af};
    use lvsnic_abi::{apply_rules, MarkRuleEntry, RulePacket};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    struct Pool {
        v4: Vec<u32>,
        v6: Vec<u128>,
        ports: Vec<u16>,
    }

    fn pool(rng: &mut FrontRng) -> Pool {
        Pool {
            v4: (0..3).map(|_| rng.next_u64() as u32).collect(),
            v6: (0..3).map(|_| rng.u128()).collect(),
            ports: (0..4).map(|_| rng.below(200) as u16).collect(),
        }
    }

    fn mk_addr(af: Af, b: u128) -> IpAddr {
        match af {
            Af::V4 => IpAddr::V4(Ipv4Addr::from(b as u32)),
            Af::V6 => IpAddr::V6(Ipv6Addr::from(b)),
        }
    }

    /// A pool address, sometimes with one random bit flipped.
    fn pick_addr(rng: &mut FrontRng, p: &Pool, af: Af) -> IpAddr {
        let (base, bits) = match af {
            Af::V4 => (p.v4[rng.below(3) as usize] as u128, 32),
            Af::V6 => (p.v6[rng.below(3) as usize], 128),
        };
        let b = if rng.chance(40) {
            base ^ (1u128 << rng.below(bits))
        } else {
            base
        };
        mk_addr(af, b)
    }

    fn plen(rng: &mut FrontRng, af: Af) -> u8 {
        let max = af.bits() as u64;
        match rng.below(4) {
            0 => 0,
            1 => max as u8,
            _ => rng.below(max + 1) as u8,
        }
    }

    /// The ABI image of `addr`'s prefix (network order) as an address with host bits zero.
    fn prefix(af: Af, a: IpAddr, plen: u8) -> IpAddr {
        // prefix_mask is in the field convention; apply it to the field value
        let f = addr_bits(&a) & prefix_mask(af, plen);
        match af {
            Af::V4 => mk_addr(af, f),
            Af::V6 => {
                let w = lvsnic_abi::types::bits_to_words(f);
                let o: u128 = w.iter().fold(0u128, |acc, &x| (acc << 32) | x as u128);
                mk_addr(af, o)
            }
        }
    }

    fn range(rng: &mut FrontRng, p: &Pool) -> (u16, u16) {
        if rng.chance(50) {
            (0, u16::MAX)
        } else {
            let a = p.ports[rng.below(4) as usize];
            let b = p.ports[rng.below(4) as usize];
            (a.min(b), a.max(b))
        }
    }

    fn gen_rule(rng: &mut FrontRng, p: &Pool) -> Option<MarkRuleEntry> {
        if rng.chance(10) {
            return None;
        }
        let af = if rng.chance(50) { Af::V4 } else { Af::V6 };
        let (sp, dp) = (plen(rng, af), plen(rng, af));
        let proto = match rng.below(5) {
            0 | 1 => None,
            2 => Some(6),
            3 => Some(17),
            _ => Some(132),
        };
        let (sport, dport) = if proto.is_some() {
            (range(rng, p), range(rng, p))
        } else {
            ((0, u16::MAX), (0, u16::MAX))
        };
        let sa = pick_addr(rng, p, af);
        let da = pick_addr(rng, p, af);
        let e = MarkRuleEntry {
            src: prefix(af, sa, sp),
            src_plen: sp,
            src_neg: rng.chance(20),
            dst: prefix(af, da, dp),
            dst_plen: dp,
            dst_neg: rng.chance(20),
            proto,
            sport,
            dport,
            mask: if rng.chance(30) {
                0
            } else {
                rng.next_u64() as u32
            },
            value: rng.next_u64() as u32,
        };
        e.validate().expect("generated rule");
        Some(e)
    }

    fn run<const R: usize>(seed: u64, cycles: usize) {
        let mut rng = FrontRng(seed);
        let p = pool(&mut rng);
        let mut uut = FwmarkRules::<R>::default();
        uut.connect_all();
        let mut rules: Vec<Option<MarkRuleEntry>> = vec![None; R];
        // all rules start invalid (registers initialise to 0)
        let mut expect: std::collections::VecDeque<(usize, Option<u32>)> = Default::default();
        let mut matched_any = 0;
        for c in 0..cycles {
            // packet
            let pkt = rng.chance(70).then(|| {
                let af = if rng.chance(50) { Af::V4 } else { Af::V6 };
                RulePacket {
                    proto: [6u8, 17, 132][rng.below(3) as usize],
                    saddr: pick_addr(&mut rng, &p, af),
                    sport: p.ports[rng.below(4) as usize].wrapping_add(rng.below(3) as u16),
                    daddr: pick_addr(&mut rng, &p, af),
                    dport: p.ports[rng.below(4) as usize].wrapping_sub(rng.below(3) as u16),
                }
            });
            let mark = if rng.chance(25) {
                rng.next_u64() as u32
            } else {
                0
            };
            uut.in_valid.next = pkt.is_some();
            uut.in_mark.next = (mark as u64).into();
            if let Some(pk) = &pkt {
                let want = apply_rules(rules.iter().flatten(), pk, mark);
                if want != mark {
                    matched_any += 1;
                }
                expect.push_back((c + LATENCY, Some(want)));
                uut.in_af.next = pk.saddr.is_ipv6();
                uut.in_proto.next = (pk.proto as u64).into();
                uut.in_src.next = front_bits128(addr_bits(&pk.saddr));
                uut.in_dst.next = front_bits128(addr_bits(&pk.daddr));
                uut.in_sport.next = (pk.sport as u64).into();
                uut.in_dport.next = (pk.dport as u64).into();
            } else {
                uut.in_src.next = front_bits128(rng.u128());
            }
            // rule write (visible from the next cycle on)
            uut.wr_en.next = false;
            if rng.chance(if c < 4 * R { 60 } else { 8 }) {
                let idx = rng.below(R as u64 + 1) as usize; // R: out of range, ignored
                let r = gen_rule(&mut rng, &p);
                let img = match &r {
                    Some(e) => e.encode().unwrap(),
                    None => [0u32; 13],
                };
                uut.wr_en.next = true;
                uut.wr_idx.next = (idx as u64).into();
                uut.wr_data.next = front_words_to_bits(&img);
                if idx < R {
                    rules[idx] = r;
                }
            }
            front_tick(&mut uut, |u| &mut u.clock);
            // outputs now show cycle c + 1
            let now = c + 1;
            match expect.front() {
                Some(&(due, Some(want))) if due == now => {
                    assert!(uut.out_valid.val(), "cycle {now}: missing result");
                    assert_eq!(
                        uut.out_mark.val().to_u64() as u32,
                        want,
                        "cycle {now}: mark"
                    );
                    expect.pop_front();
                }
                _ => assert!(!uut.out_valid.val(), "cycle {now}: unexpected result"),
            }
        }
        eprintln!("fwmark R={R}: {matched_any} packets changed their mark");
        assert!(matched_any > cycles / 20);
    }

    #[test]
    fn fwmark_r4_random_vs_reference() {
        run::<4>(0x5eed_0001, 1500);
    }

    #[test]
    fn fwmark_r8_random_vs_reference() {
        run::<8>(0x5eed_0002, 600);
    }

    #[test]
    fn fwmark_composition_order() {
        // two rules matching everything: order matters, (m & !a) ^ b applied left to right
        let mut uut = FwmarkRules::<4>::default();
        uut.connect_all();
        let r = |mask, value| MarkRuleEntry {
            src: "0.0.0.0".parse().unwrap(),
            src_plen: 0,
            src_neg: false,
            dst: "0.0.0.0".parse().unwrap(),
            dst_plen: 0,
            dst_neg: false,
            proto: None,
            sport: (0, u16::MAX),
            dport: (0, u16::MAX),
            mask,
            value,
        };
        for (i, e) in [(1, r(0xff, 0x12)), (3, r(0xf0, 0x0f))] {
            uut.wr_en.next = true;
            uut.wr_idx.next = (i as u64).into();
            uut.wr_data.next = front_words_to_bits(&e.encode().unwrap());
            front_tick(&mut uut, |u| &mut u.clock);
        }
        uut.wr_en.next = false;
        uut.in_valid.next = true;
        uut.in_af.next = false;
        uut.in_mark.next = 0xabcdu64.into();
        front_tick(&mut uut, |u| &mut u.clock);
        uut.in_valid.next = false;
        for _ in 1..LATENCY {
            front_tick(&mut uut, |u| &mut u.clock);
        }
        assert!(uut.out_valid.val());
        let m = ((0xabcdu32 & !0xff) ^ 0x12) & !0xf0 ^ 0x0f;
        assert_eq!(uut.out_mark.val().to_u64() as u32, m);
    }

    #[test]
    fn fwmark_verilog() {
        front_check_verilog("fwmark", &mut FwmarkRules::<4>::default());
    }
}
