//! Event queue (EVQ): card -> host 64-byte records written into the host's ring through a
//! DMA-style write port.
//!
//! * **Sources** (valid/ready, one 512-bit record image each, word 0 = bits 31..0):
//!   `miss` (miss records of the verdict stage), `ev` (learn and flag events of the verdict
//!   stage), `aux` (expire events of the aging sweeps and of `ops` conns, CmdDone records).
//!   Each source has its own FIFO (`SynchronousFIFO`): 64 x 512 for misses, 16 x 512 for the others.
//! * **Arbitration:** fixed priority `aux` > `ev` > `miss`; order is kept within a source.
//! * **Write port:** 512-bit beats, `dma_valid/dma_ready/dma_addr/dma_data/dma_last`, one whole
//!   record per beat (a Corundum/QDMA-style 512-bit host interface): `dma_addr` is the slot's
//!   address (64-byte aligned), `dma_data` the 16 words (word i in bits 32i+31..32i,
//!   little-endian), so the phase bit (word 15 bit 31) is bit 511, the last bit of the write in
//!   address order. `dma_last` is always 1. The beat is held (valid/ready) until `dma_ready`.
//! * **Ring:** slot `idx & (2^LOG_SIZE - 1)` at `base + 64 * slot`; a record is written only when
//!   `idx - CONS < 2^LOG_SIZE` (never over an unconsumed slot); `PROD` advances when the beat is
//!   taken. Phase = 1 on the first lap, flipping each lap: `!bit LOG_SIZE of idx`.
//!   `enable` low resets `PROD` (the regfile resets `CONS`) and drops the beat in the output
//!   register (the record is lost; the host disables the ring only to reset it).
//! * **Interrupt:** `irq` pulses for one clock when a record is written while `arm` is set;
//!   `arm_clr` (same pulse) tells the regfile to clear `EVQ.CTRL.arm`. Records written in
//!   consecutive clocks can pulse `irq` twice (`arm` clears one clock after the pulse); every pulse
//!   follows a write, so no interrupt is lost.
//! * **Loss policy:** nothing is ever dropped. Misses back-pressure their source (`miss_ready`
//!   low when the miss FIFO is full; `miss_room` low from 32 entries on, and the top then holds the
//!   packet stream, so the <= 32 packets in flight always find room). Events are admitted
//!   only while `ev_room` (both event FIFOs have >= 4 free entries); the verdict stage turns a
//!   learn / flag / ops forward into a miss `TableFull` otherwise (ABI: "events are lossless: when a
//!   record has no slot, the card misses instead").
//!
//! Datapath: the source FIFOs are first-word-fall-through; the output register (`rec`, `slot_addr`,
//! `busy` = `dma_valid`) loads the head record (with its phase bit) whenever it is empty or its
//! beat is being taken, the ring has a slot and a FIFO holds a record. So the queue writes **one
//! record per clock** while `dma_ready` is high, with no idle clock between records. Timing:
//! `dma_ready` is combinational into the output register's enable and, through the FIFO read
//! strobes, into the FIFOs' read-address increment (the RAM read is registered); a shell that
//! needs `dma_ready` registered puts a standard skid buffer (register slice) on the port.
//!
//! Latency: a record entering an empty queue with a free slot is on the port 3 clocks later
//! (2 clocks of FIFO write latency, then the output register). Resources: (64 + 2 x 16) x 512 bit
//! FIFO RAM, a 512-bit output register behind a 3:1 512-bit mux.
use rust_hdl::prelude::*;

/// Record image width.
pub const REC_BITS: usize = 512;
/// DMA beat width: one whole record per beat.
pub const DMA_BITS: usize = REC_BITS;

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
    pub dma_data: Signal<Out, Bits<DMA_BITS>>,
    /// always 1: a record is one beat
    pub dma_last: Signal<Out, Bit>,
    // internals
    f_miss: MissFifo,
    f_ev: RecFifo,
    f_aux: RecFifo,
    /// the output register holds a record (`dma_valid`)
    busy: DFF<Bit>,
    rec: DFF<Bits<REC_BITS>>,
    slot_addr: DFF<Bits<64>>,
    prod_r: DFF<Bits<32>>,
    irq_r: DFF<Bit>,
    size: Signal<Local, Bits<32>>,
    mask: Signal<Local, Bits<32>>,
    used: Signal<Local, Bits<32>>,
    nxt: Signal<Local, Bits<32>>,
    nxt_used: Signal<Local, Bits<32>>,
    lap: Signal<Local, Bits<32>>,
    phase: Signal<Local, Bit>,
    has_slot: Signal<Local, Bit>,
    head: Signal<Local, Bits<REC_BITS>>,
    done: Signal<Local, Bit>,
    load: Signal<Local, Bit>,
    one: Constant<Bits<32>>,
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
            rec: Default::default(),
            slot_addr: Default::default(),
            prod_r: Default::default(),
            irq_r: Default::default(),
            size: Default::default(),
            mask: Default::default(),
            used: Default::default(),
            nxt: Default::default(),
            nxt_used: Default::default(),
            lap: Default::default(),
            phase: Default::default(),
            has_slot: Default::default(),
            head: Default::default(),
            done: Default::default(),
            load: Default::default(),
            one: Constant::new(1u64.into()),
        }
    }
}

impl Logic for EventQueue {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, busy, rec, slot_addr, prod_r, irq_r);
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
        // ring arithmetic. PROD counts records written; the record in the output register (if
        // any) has index PROD, so the next one to load has index PROD + busy.
        self.size.next = self.one.val() << self.log_size.val();
        self.mask.next = self.size.val() - self.one.val();
        self.used.next = self.prod_r.q.val() - self.cons.val();
        self.slots_free.next = self.size.val() - self.used.val();
        if self.used.val() >= self.size.val() {
            self.slots_free.next = 0u64.into();
        }
        self.prod.next = self.prod_r.q.val();
        self.nxt.next = self.prod_r.q.val();
        if self.busy.q.val() {
            self.nxt.next = self.prod_r.q.val() + self.one.val();
        }
        self.nxt_used.next = self.nxt.val() - self.cons.val();
        self.has_slot.next = self.nxt_used.val() < self.size.val();
        self.lap.next = self.nxt.val() >> self.log_size.val();
        self.phase.next = !self.lap.val().get_bit(0);
        // the record at the head: fixed priority aux > ev > miss
        self.head.next = self.f_miss.data_out.val();
        if !self.f_ev.empty.val() {
            self.head.next = self.f_ev.data_out.val();
        }
        if !self.f_aux.empty.val() {
            self.head.next = self.f_aux.data_out.val();
        }
        // The output register holds one whole record (one beat). It empties when the port takes
        // the beat, and the next record loads in the same clock: one record per clock.
        self.done.next = self.busy.q.val() && self.dma_ready.val();
        self.load.next = self.enable.val()
            && (!self.busy.q.val() || self.dma_ready.val())
            && self.has_slot.val()
            && !(self.f_miss.empty.val() && self.f_ev.empty.val() && self.f_aux.empty.val());
        self.f_aux.read.next = self.load.val() && !self.f_aux.empty.val();
        self.f_ev.read.next = self.load.val() && self.f_aux.empty.val() && !self.f_ev.empty.val();
        self.f_miss.read.next = self.load.val() && self.f_aux.empty.val() && self.f_ev.empty.val();
        self.irq_r.d.next = false;
        if self.done.val() {
            self.busy.d.next = false;
            self.prod_r.d.next = self.prod_r.q.val() + self.one.val();
            self.irq_r.d.next = self.arm.val();
        }
        if self.load.val() {
            self.busy.d.next = true;
            self.slot_addr.d.next =
                self.base.val() + (bit_cast::<64, 32>(self.nxt.val() & self.mask.val()) << 6);
            // the phase is bit 511 (word 15 bit 31), the last bit in address order
            self.rec.d.next = self.head.val().replace_bit(511, self.phase.val());
        }
        if !self.enable.val() {
            self.busy.d.next = false;
            self.prod_r.d.next = 0u64.into();
        }
        // the port
        self.dma_valid.next = self.busy.q.val();
        self.dma_addr.next = self.slot_addr.q.val();
        self.dma_data.next = self.rec.q.val();
        self.dma_last.next = true;
        self.irq.next = self.irq_r.q.val();
        self.arm_clr.next = self.irq_r.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dest::{bits_to_words, words_to_bits};
    use std::collections::{HashMap, VecDeque};

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

    /// Golden model of the port, checked every clock in which a beat is taken: the slot of the
    /// record is `PROD & (slots - 1)` (PROD counts the records written before it), the phase
    /// is `!bit LOG_SIZE of PROD`, no unconsumed slot is overwritten, `dma_last` is 1.
    /// Returns (slot address, the 16 words with the phase bit).
    fn take_beat(u: &EventQueue, base: u64, log: u32, cons: u32) -> (u64, [u32; 16]) {
        let slots = 1u32 << log;
        let a = u.dma_addr.val().to_u64();
        let prod = u.prod.val().to_u64() as u32;
        assert!(
            prod.wrapping_sub(cons) < slots,
            "wrote over an unconsumed slot"
        );
        assert_eq!(a, base + 64 * (prod & (slots - 1)) as u64, "slot of PROD");
        assert!(u.dma_last.val(), "one beat per record");
        let w: [u32; 16] = bits_to_words(u.dma_data.val()).try_into().unwrap();
        assert_eq!(w[15] >> 31 == 1, (prod >> log) & 1 == 0, "phase of PROD");
        (a, w)
    }

    #[test]
    fn lossless_ordered_phase_with_backpressure_and_full_ring() {
        let mut u = EventQueue::default();
        u.connect_all();
        let base = 0x1_0000_0000u64 + 0x4000;
        let log = 4u32;
        let slots = 1u32 << log;
        let mut r = Rng(0x1234_5678_9abc_def1);
        let n_per = 40u32;
        let recs: Vec<Vec<[u32; 16]>> = (0..3)
            .map(|s| (0..n_per).map(|q| record(s, q, &mut r)).collect())
            .collect();
        let mut next = [0usize; 3];
        let mut got: Vec<Vec<[u32; 16]>> = vec![vec![]; 3];
        let mut mem: HashMap<u64, [u32; 16]> = HashMap::new();
        let mut cons = 0u32;
        let mut irqs = 0;
        let mut arm = true;
        u.base.next = base.into();
        u.log_size.next = (log as u64).into();
        u.enable.next = true;
        let total = 3 * n_per as usize;
        let mut cycle = 0u64;
        let mut max_used = 0;
        let mut saw_full = false;
        let mut back_to_back = 0;
        let mut last_take = 0u64;
        while got.iter().map(|g| g.len()).sum::<usize>() < total {
            cycle += 1;
            assert!(cycle < 20_000, "stuck");
            // drive the sources (random valid), the port (random ready, idle windows), the
            // host's CONS
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
            let port_down = (1200..1300).contains(&cycle);
            u.dma_ready.next = !port_down && r.b(70);
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
            let prod = u.prod.val().to_u64() as u32;
            max_used = max_used.max(prod.wrapping_sub(cons));
            if u.dma_valid.val() && u.dma_ready.val() {
                let (a, w) = take_beat(&u, base, log, cons);
                max_used = max_used.max(prod.wrapping_sub(cons) + 1);
                mem.insert(a, w);
                if last_take + 1 == cycle {
                    back_to_back += 1;
                }
                last_take = cycle;
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
            if !stalled && r.b(45) {
                let slot = (cons & (slots - 1)) as u64;
                let w = mem.get(&(base + slot * 64)).copied().unwrap_or([0; 16]);
                let want = (cons >> log) & 1 == 0;
                if (w[15] >> 31 == 1) == want {
                    let mut w = w;
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
        assert_eq!(max_used, slots, "the last free slot was written");
        assert!(saw_full, "the ring was full (slots_free == 0)");
        assert!(irqs > 1);
        assert!(back_to_back > 10, "records in consecutive clocks");
        // round trip of the test helpers
        let w = recs[0][0];
        assert_eq!(bits_to_words(words_to_bits::<512>(&w)), w.to_vec());
    }

    /// The port is never idle while a record waits: a record offered in clock c is in a FIFO
    /// from clock c + 2 on and can be on the port from c + 3, so in any clock without
    /// `dma_valid` every record offered up to 3 clocks earlier has been written. With the port
    /// always ready and a source offering a record every clock, one record is written per clock.
    #[test]
    fn one_record_per_clock_no_idle_while_records_wait() {
        for (seed, ready_pct, valid_pct) in [(7u64, 100, 100), (11, 80, 60), (13, 95, 50)] {
            let mut u = EventQueue::default();
            u.connect_all();
            let base = 0x2_0000_0000u64;
            let log = 10u32;
            let mut r = Rng(0x9e37_79b9_7f4a_7c15 ^ seed);
            u.base.next = base.into();
            u.log_size.next = (log as u64).into();
            u.enable.next = true;
            u.arm.next = false;
            // (cycle offered, source, seq); sources written in priority order, each in order
            let mut offered: VecDeque<u64> = VecDeque::new();
            let mut seq = [0u32; 3];
            let mut expect_seq = [0u32; 3];
            let mut written = 0u64;
            let mut cons = 0u32;
            let n = 600u64;
            let mut first = None;
            let mut last = 0u64;
            for cycle in 0..n + 200 {
                let feeding = cycle < n;
                // miss every clock (at valid_pct), ev / aux now and then
                let valid = [
                    feeding && r.b(valid_pct),
                    feeding && r.b(3),
                    feeding && r.b(2),
                ];
                u.miss_valid.next = valid[0];
                u.ev_valid.next = valid[1];
                u.aux_valid.next = valid[2];
                let mut w = [[0u32; 16]; 3];
                for s in 0..3 {
                    w[s][1] = s as u32;
                    w[s][2] = seq[s];
                    w[s][3] = !seq[s] ^ (s as u32) << 24;
                }
                u.miss_data.next = words_to_bits(&w[0]);
                u.ev_data.next = words_to_bits(&w[1]);
                u.aux_data.next = words_to_bits(&w[2]);
                u.dma_ready.next = r.b(ready_pct);
                u.cons.next = (cons as u64).into();
                u.clock.next = Clock { clk: false };
                assert!(simulate(&mut u, 200));
                let ready = [u.miss_ready.val(), u.ev_ready.val(), u.aux_ready.val()];
                for s in 0..3 {
                    if valid[s] {
                        assert!(ready[s], "seed {seed}: source {s} back-pressured");
                        offered.push_back(cycle);
                        seq[s] += 1;
                    }
                }
                if !u.dma_valid.val() {
                    let due = offered.iter().filter(|c| **c + 3 <= cycle).count() as u64;
                    assert_eq!(
                        due, written,
                        "seed {seed} clock {cycle}: port idle while a record waits"
                    );
                }
                if u.dma_valid.val() && u.dma_ready.val() {
                    let (_, w) = take_beat(&u, base, log, cons);
                    let s = w[1] as usize;
                    assert_eq!(w[2], expect_seq[s], "seed {seed}: source {s} in order");
                    assert_eq!(w[3], !w[2] ^ (s as u32) << 24, "seed {seed}: record intact");
                    expect_seq[s] += 1;
                    written += 1;
                    first.get_or_insert(cycle);
                    last = cycle;
                }
                u.clock.next = Clock { clk: true };
                assert!(simulate(&mut u, 200));
                // the host consumes everything at once
                cons = u.prod.val().to_u64() as u32;
            }
            assert_eq!(written, offered.len() as u64, "seed {seed}: all written");
            assert_eq!(expect_seq, seq, "seed {seed}");
            if ready_pct == 100 && valid_pct == 100 {
                // a record every clock from the first one on
                assert_eq!(last - first.unwrap() + 1, written, "one record per clock");
                assert_eq!(first, Some(3), "3 clocks from the first offer to the port");
            }
        }
    }

    #[test]
    fn generates_verilog() {
        let mut u = EventQueue::default();
        u.connect_all();
        assert!(generate_verilog(&u).contains("module top"));
    }
}
