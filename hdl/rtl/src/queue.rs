//! Event queue (EVQ): card -> host 64-byte records written into the host's ring through a
//! DMA-style write port.
//!
//! * **Sources** (valid/ready, one 512-bit record image each, word 0 = bits 31..0):
//!   `miss` (miss records of the verdict stage), `ev` (learn and flag events of the verdict
//!   stage), `aux` (expire events of the aging sweeps and of `ops` conns, CmdDone records).
//!   Each source has its own FIFO (`SynchronousFIFO`): 64 x 512 for misses, 16 x 512 for the others.
//! * **Arbitration:** fixed priority `aux` > `ev` > `miss`; order is kept within a source.
//! * **Write port:** 64-bit beats, `dma_valid/dma_ready/dma_addr/dma_data/dma_last`; a record is
//!   8 beats to consecutive addresses `slot + 8 k`, word pair (2k, 2k+1) in beat k (little-endian),
//!   so the phase bit (word 15 bit 31) is bit 63 of the **last** beat: it is written last.
//!   A 512-bit port would be the same logic with one beat; 64-bit matches an AXI/PCIe 64-bit
//!   shell and keeps the block small.
//! * **Ring:** slot `PROD & (2^LOG_SIZE - 1)` at `base + 64 * slot`; a record is written only when
//!   `PROD - CONS < 2^LOG_SIZE` (never over an unconsumed slot); `PROD` advances after the last
//!   beat. Phase = 1 on the first lap, flipping each lap: `!bit LOG_SIZE of PROD`.
//!   `enable` low resets `PROD` (the regfile resets `CONS`) and aborts a burst in progress.
//! * **Interrupt:** `irq` pulses for one clock when a record completes while `arm` is set;
//!   `arm_clr` (same pulse) tells the regfile to clear `EVQ.CTRL.arm`.
//! * **Loss policy:** nothing is ever dropped. Misses back-pressure their source (`miss_ready`
//!   low when the miss FIFO is full; `miss_room` low from 32 entries on, and the top then holds the
//!   packet stream, so the <= 32 packets in flight always find room). Events are admitted
//!   only while `ev_room` (both event FIFOs have >= 4 free entries); the verdict stage turns a
//!   learn / flag / ops forward into a miss `TableFull` otherwise (ABI: "events are lossless: when a
//!   record has no slot, the card misses instead").
//!
//! Latency: a record entering an empty queue with a free slot starts its burst 2 clocks later;
//! a burst is 8 beats + 1 idle clock (8/9 of the port's bandwidth). Resources: (64 + 2 x 16) x 512 bit
//! FIFO RAM, a 512-bit shift register, ~300 LUT.
use rust_hdl::prelude::*;

/// Record image width.
pub const REC_BITS: usize = 512;

declare_sync_fifo!(RecFifo, Bits<REC_BITS>, 16, 4);
// The miss FIFO is deeper: `miss_room` drops at 32 entries, leaving 32 for the packets that are
// already in the lookup pipeline when the card stops taking packets (pipeline depth < 32).
declare_sync_fifo!(MissFifo, Bits<REC_BITS>, 64, 32);

#[derive(LogicBlock)]
pub struct EventQueue {
    pub clock: Signal<In, Clock>,
    // sources
    pub miss_valid: Signal<In, Bit>,
    pub miss_data: Signal<In, Bits<REC_BITS>>,
    pub miss_ready: Signal<Out, Bit>,
    pub ev_valid: Signal<In, Bit>,
    pub ev_data: Signal<In, Bits<REC_BITS>>,
    pub ev_ready: Signal<Out, Bit>,
    pub aux_valid: Signal<In, Bit>,
    pub aux_data: Signal<In, Bits<REC_BITS>>,
    pub aux_ready: Signal<Out, Bit>,
    /// room for the events of a packet in flight (see module doc)
    pub ev_room: Signal<Out, Bit>,
    /// the miss FIFO has >= 32 free entries (the card takes packets only while this is high)
    pub miss_room: Signal<Out, Bit>,
    // ring registers
    pub enable: Signal<In, Bit>,
    pub arm: Signal<In, Bit>,
    /// ring IOVA (64-byte aligned)
    pub base: Signal<In, Bits<64>>,
    pub log_size: Signal<In, Bits<5>>,
    pub cons: Signal<In, Bits<32>>,
    pub prod: Signal<Out, Bits<32>>,
    pub slots_free: Signal<Out, Bits<32>>,
    pub irq: Signal<Out, Bit>,
    pub arm_clr: Signal<Out, Bit>,
    // DMA write port
    pub dma_valid: Signal<Out, Bit>,
    pub dma_ready: Signal<In, Bit>,
    pub dma_addr: Signal<Out, Bits<64>>,
    pub dma_data: Signal<Out, Bits<64>>,
    pub dma_last: Signal<Out, Bit>,
    // internals
    f_miss: MissFifo,
    f_ev: RecFifo,
    f_aux: RecFifo,
    busy: DFF<Bit>,
    beat: DFF<Bits<3>>,
    rec: DFF<Bits<REC_BITS>>,
    slot_addr: DFF<Bits<64>>,
    phase: DFF<Bit>,
    prod_r: DFF<Bits<32>>,
    irq_r: DFF<Bit>,
    size: Signal<Local, Bits<32>>,
    mask: Signal<Local, Bits<32>>,
    used: Signal<Local, Bits<32>>,
    lap: Signal<Local, Bits<32>>,
    has_slot: Signal<Local, Bit>,
    start: Signal<Local, Bit>,
    one: Constant<Bits<32>>,
    one3: Constant<Bits<3>>,
    last_beat: Constant<Bits<3>>,
}

impl Default for EventQueue {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            miss_valid: Default::default(),
            miss_data: Default::default(),
            miss_ready: Default::default(),
            ev_valid: Default::default(),
            ev_data: Default::default(),
            ev_ready: Default::default(),
            aux_valid: Default::default(),
            aux_data: Default::default(),
            aux_ready: Default::default(),
            ev_room: Default::default(),
            miss_room: Default::default(),
            enable: Default::default(),
            arm: Default::default(),
            base: Default::default(),
            log_size: Default::default(),
            cons: Default::default(),
            prod: Default::default(),
            slots_free: Default::default(),
            irq: Default::default(),
            arm_clr: Default::default(),
            dma_valid: Default::default(),
            dma_ready: Default::default(),
            dma_addr: Default::default(),
            dma_data: Default::default(),
            dma_last: Default::default(),
            f_miss: Default::default(),
            f_ev: Default::default(),
            f_aux: Default::default(),
            busy: Default::default(),
            beat: Default::default(),
            rec: Default::default(),
            slot_addr: Default::default(),
            phase: Default::default(),
            prod_r: Default::default(),
            irq_r: Default::default(),
            size: Default::default(),
            mask: Default::default(),
            used: Default::default(),
            lap: Default::default(),
            has_slot: Default::default(),
            start: Default::default(),
            one: Constant::new(1u64.into()),
            one3: Constant::new(1u64.into()),
            last_beat: Constant::new(7u64.into()),
        }
    }
}

impl Logic for EventQueue {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, busy, beat, rec, slot_addr, phase, prod_r, irq_r);
        clock!(self, clock, f_miss, f_ev, f_aux);
        // source FIFOs
        self.f_miss.write.next = self.miss_valid.val() && !self.f_miss.full.val();
        self.f_miss.data_in.next = self.miss_data.val();
        self.miss_ready.next = !self.f_miss.full.val();
        self.f_ev.write.next = self.ev_valid.val() && !self.f_ev.full.val();
        self.f_ev.data_in.next = self.ev_data.val();
        self.ev_ready.next = !self.f_ev.full.val();
        self.f_aux.write.next = self.aux_valid.val() && !self.f_aux.full.val();
        self.f_aux.data_in.next = self.aux_data.val();
        self.aux_ready.next = !self.f_aux.full.val();
        self.ev_room.next = !self.f_ev.almost_full.val() && !self.f_aux.almost_full.val();
        self.miss_room.next = !self.f_miss.almost_full.val();
        // ring arithmetic
        self.size.next = self.one.val() << self.log_size.val();
        self.mask.next = self.size.val() - self.one.val();
        self.used.next = self.prod_r.q.val() - self.cons.val();
        self.lap.next = self.prod_r.q.val() >> self.log_size.val();
        self.has_slot.next = self.used.val() < self.size.val();
        self.slots_free.next = self.size.val() - self.used.val();
        if !self.has_slot.val() {
            self.slots_free.next = 0u64.into();
        }
        self.prod.next = self.prod_r.q.val();
        // start a burst
        self.start.next = self.enable.val()
            && !self.busy.q.val()
            && self.has_slot.val()
            && !(self.f_miss.empty.val() && self.f_ev.empty.val() && self.f_aux.empty.val());
        self.f_miss.read.next = false;
        self.f_ev.read.next = false;
        self.f_aux.read.next = false;
        self.irq_r.d.next = false;
        if self.start.val() {
            self.busy.d.next = true;
            self.beat.d.next = 0u64.into();
            self.slot_addr.d.next =
                self.base.val() + (bit_cast::<64, 32>(self.prod_r.q.val() & self.mask.val()) << 6);
            self.phase.d.next = !self.lap.val().get_bit(0);
            if !self.f_aux.empty.val() {
                self.rec.d.next = self.f_aux.data_out.val();
                self.f_aux.read.next = true;
            } else if !self.f_ev.empty.val() {
                self.rec.d.next = self.f_ev.data_out.val();
                self.f_ev.read.next = true;
            } else {
                self.rec.d.next = self.f_miss.data_out.val();
                self.f_miss.read.next = true;
            }
        }
        // the burst
        self.dma_valid.next = self.busy.q.val();
        self.dma_addr.next = self.slot_addr.q.val() + (bit_cast::<64, 3>(self.beat.q.val()) << 3);
        self.dma_data.next = self.rec.q.val().get_bits::<64>(0);
        self.dma_last.next = self.beat.q.val() == self.last_beat.val();
        if self.beat.q.val() == self.last_beat.val() {
            self.dma_data.next = self
                .rec
                .q
                .val()
                .get_bits::<64>(0)
                .replace_bit(63, self.phase.q.val());
        }
        if self.busy.q.val() && self.dma_ready.val() {
            self.beat.d.next = self.beat.q.val() + self.one3.val();
            self.rec.d.next = self.rec.q.val() >> 64;
            if self.beat.q.val() == self.last_beat.val() {
                self.busy.d.next = false;
                self.prod_r.d.next = self.prod_r.q.val() + self.one.val();
                self.irq_r.d.next = self.arm.val();
            }
        }
        if !self.enable.val() {
            self.busy.d.next = false;
            self.prod_r.d.next = 0u64.into();
        }
        self.irq.next = self.irq_r.q.val();
        self.arm_clr.next = self.irq_r.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dest::{bits_to_words, words_to_bits};
    use std::collections::HashMap;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn b(&mut self, pct: u64) -> bool {
            self.next() % 100 < pct
        }
    }

    fn record(src: u32, seq: u32, r: &mut Rng) -> [u32; 16] {
        let mut w = [0u32; 16];
        for x in w.iter_mut() {
            *x = r.next() as u32;
        }
        w[1] = src;
        w[2] = seq;
        w[15] &= 0x7fff_ffff;
        w
    }

    #[test]
    fn lossless_ordered_phase_with_backpressure_and_full_ring() {
        let mut u = EventQueue::default();
        u.connect_all();
        let base = 0x1_0000_0000u64 + 0x4000;
        let log = 4u32;
        let slots = 1u32 << log;
        let mut r = Rng(0x1234_5678_9abc_def1);
        let n_per = 24u32;
        let recs: Vec<Vec<[u32; 16]>> = (0..3)
            .map(|s| (0..n_per).map(|q| record(s, q, &mut r)).collect())
            .collect();
        let mut next = [0usize; 3];
        let mut got: Vec<Vec<[u32; 16]>> = vec![vec![]; 3];
        let mut mem: HashMap<u64, u64> = HashMap::new();
        let mut cons = 0u32;
        let mut beat_expect = 0u64;
        let mut irqs = 0;
        let mut arm = true;
        u.base.next = base.into();
        u.log_size.next = (log as u64).into();
        u.enable.next = true;
        let total = 3 * n_per as usize;
        let mut cycle = 0u64;
        let mut max_used = 0;
        let mut saw_full = false;
        while got.iter().map(|g| g.len()).sum::<usize>() < total {
            cycle += 1;
            assert!(cycle < 20_000, "stuck");
            // drive the sources (random valid), the port (random ready), the host's CONS
            let valid: Vec<bool> = (0..3)
                .map(|s| next[s] < n_per as usize && r.b(40))
                .collect();
            u.miss_valid.next = valid[0];
            u.ev_valid.next = valid[1];
            u.aux_valid.next = valid[2];
            if valid[0] {
                u.miss_data.next = words_to_bits(&recs[0][next[0]]);
            }
            if valid[1] {
                u.ev_data.next = words_to_bits(&recs[1][next[1]]);
            }
            if valid[2] {
                u.aux_data.next = words_to_bits(&recs[2][next[2]]);
            }
            u.dma_ready.next = r.b(60);
            u.cons.next = (cons as u64).into();
            u.arm.next = arm;
            u.clock.next = Clock { clk: false };
            assert!(simulate(&mut u, 200));
            // observe the handshakes of this cycle
            let ready = [u.miss_ready.val(), u.ev_ready.val(), u.aux_ready.val()];
            for s in 0..3 {
                if valid[s] && ready[s] {
                    next[s] += 1;
                }
            }
            if u.dma_valid.val() && u.dma_ready.val() {
                let a = u.dma_addr.val().to_u64();
                let off = a - base;
                let prod = u.prod.val().to_u64() as u32;
                assert!(
                    prod.wrapping_sub(cons) < slots,
                    "wrote over an unconsumed slot"
                );
                max_used = max_used.max(prod.wrapping_sub(cons));
                assert_eq!(off / 64, (prod & (slots - 1)) as u64, "slot of PROD");
                assert_eq!((off % 64) / 8, beat_expect, "beats in order");
                assert_eq!(u.dma_last.val(), beat_expect == 7);
                mem.insert(a, u.dma_data.val().to_u64());
                beat_expect = (beat_expect + 1) % 8;
            }
            saw_full |= u.slots_free.val().to_u64() == 0;
            if u.irq.val() {
                assert!(u.arm_clr.val());
                irqs += 1;
                arm = false;
            }
            u.clock.next = Clock { clk: true };
            assert!(simulate(&mut u, 200));
            // the host: stalls for a while (ring fills up), otherwise consumes at random
            let stalled = (200..900).contains(&cycle);
            if !stalled && r.b(30) {
                let slot = (cons & (slots - 1)) as u64;
                let hi = mem.get(&(base + slot * 64 + 56)).copied().unwrap_or(0);
                let phase = (hi >> 63) & 1;
                let want = if (cons >> log) & 1 == 0 { 1 } else { 0 };
                if phase == want {
                    let mut w = [0u32; 16];
                    for k in 0..8u64 {
                        let d = mem[&(base + slot * 64 + 8 * k)];
                        w[2 * k as usize] = d as u32;
                        w[2 * k as usize + 1] = (d >> 32) as u32;
                    }
                    w[15] &= 0x7fff_ffff;
                    got[w[1] as usize].push(w);
                    cons += 1;
                    if cons.is_multiple_of(7) {
                        arm = true;
                    }
                }
            }
        }
        for s in 0..3 {
            assert_eq!(got[s], recs[s], "source {s}: lossless and in order");
        }
        assert_eq!(max_used, slots - 1, "the last free slot was written");
        assert!(saw_full, "the ring was full (slots_free == 0)");
        assert!(irqs > 1);
        // round trip of the test helpers
        let w = recs[0][0];
        assert_eq!(bits_to_words(words_to_bits::<512>(&w)), w.to_vec());
    }

    #[test]
    fn generates_verilog() {
        let mut u = EventQueue::default();
        u.connect_all();
        assert!(generate_verilog(&u).contains("module top"));
    }
}
