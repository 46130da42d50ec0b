//! The in-process sim card: the Verilated `top` plus what a board shell and the host's memory
//! would provide — the packet stream, host memory the card DMAs records into, the BAR0 register
//! bus, the interrupt line, and a cycle counter.

use std::collections::VecDeque;
use std::path::Path;

use crate::{Model, SimIn, SimOut, PORTS};

/// One per-packet verdict record from `v_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The parser's packet counter.
    pub pkt_id: u32,
    /// 0 forward, 1 drop, 2 miss.
    pub kind: u8,
    pub dest: u8,
    /// MissReason (miss).
    pub reason: u8,
    pub mark: u32,
    pub mac: u64,
    /// Clock cycle at which the verdict appeared.
    pub cycle: u64,
}

pub const KIND_FORWARD: u8 = 0;
pub const KIND_DROP: u8 = 1;
pub const KIND_MISS: u8 = 2;

/// Host memory the card writes into, addressed by bus address.
#[derive(Clone, Debug, Default)]
pub struct HostMemory {
    pub base: u64,
    pub bytes: Vec<u8>,
}

impl HostMemory {
    fn range(&self, addr: u64, len: usize) -> Option<std::ops::Range<usize>> {
        let start = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        let end = start.checked_add(len)?;
        (end <= self.bytes.len()).then_some(start..end)
    }
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        match self.range(addr, buf.len()) {
            Some(r) => {
                buf.copy_from_slice(&self.bytes[r]);
                true
            }
            None => false,
        }
    }
    pub fn write(&mut self, addr: u64, data: &[u8]) -> bool {
        match self.range(addr, data.len()) {
            Some(r) => {
                self.bytes[r].copy_from_slice(data);
                true
            }
            None => false,
        }
    }
    /// Zeroed memory of `len` bytes aligned to `align`; returns its bus address.
    pub fn alloc(&mut self, len: usize, align: usize) -> u64 {
        let start = self.bytes.len().next_multiple_of(align.max(1));
        self.bytes.resize(start + len, 0);
        self.base + start as u64
    }
}

/// Bytes of one DMA beat: the width of `top`'s `dma_data` port, from the generated port list
/// (512 bits: one whole 64-byte record per beat).
pub const DMA_BEAT_BYTES: usize = dma_data_bytes();

const fn dma_data_bytes() -> usize {
    let mut i = 0;
    while i < PORTS.len() {
        let (name, _, width) = PORTS[i];
        if matches!(name.as_bytes(), b"dma_data") {
            return width as usize / 8;
        }
        i += 1;
    }
    panic!("top has no dma_data port")
}

/// Bytes per beat of the packet stream (`s_data` is 512 bits).
pub const BEAT_BYTES: usize = 64;

/// One `s_data` beat as the port's 32-bit words (word 0 = bits 31..0).
type Beat = [u32; BEAT_BYTES / 4];

/// A beat from up to [`BEAT_BYTES`] frame bytes: first byte in bits 511..504 (the beat read as a
/// big-endian number), zeros after; and its `s_keep` (bit 63 = first byte, contiguous).
pub fn beat_of(chunk: &[u8]) -> (Beat, u64) {
    assert!(chunk.len() <= BEAT_BYTES);
    let mut b = [0u8; BEAT_BYTES];
    b[..chunk.len()].copy_from_slice(chunk);
    let n = BEAT_BYTES / 4;
    let words = core::array::from_fn(|w| {
        let at = (n - 1 - w) * 4;
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    });
    let keep = if chunk.is_empty() {
        0
    } else {
        !0u64 << (BEAT_BYTES - chunk.len())
    };
    (words, keep)
}

/// Beats a frame of `len` bytes takes on the packet stream (a zero-length frame is one beat).
pub fn beats_of(len: usize) -> usize {
    len.div_ceil(BEAT_BYTES).max(1)
}

/// Counters of what crossed the card's ports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    pub beats_in: u64,
    pub packets_in: u64,
    pub verdicts: u64,
    /// Beats taken on the DMA write port (one per record on the 512-bit port).
    pub dma_beats: u64,
    pub dma_errors: u64,
    pub irqs: u64,
    /// Cycles in which a beat was offered but `s_ready` was low.
    pub stream_stalls: u64,
}

/// The co-simulated card.
pub struct SimCard {
    model: Model,
    inp: SimIn,
    cycle: u64,
    /// Beats waiting to enter the card: (data as `s_data` words, last, keep).
    beats: VecDeque<(Beat, bool, u64)>,
    verdicts: VecDeque<Verdict>,
    pub mem: HostMemory,
    irq: bool,
    /// When set, `dma_ready` is low in cycles where `stall(cycle)` is true (back-pressure tests).
    dma_stall: Option<fn(u64) -> bool>,
    pub stats: PortStats,
    /// Benchmark stamps, off (`None`) unless a caller enables them: the cycle of every
    /// accepted last beat of a packet, in packet order.
    pub last_beat_log: Option<Vec<u64>>,
    /// Benchmark stamps, off unless enabled: every accepted DMA beat as (cycle, bus address).
    pub dma_log: Option<Vec<(u64, u64)>>,
}

impl Default for SimCard {
    fn default() -> Self {
        SimCard::new()
    }
}

impl SimCard {
    pub fn new() -> SimCard {
        let mut c = SimCard {
            model: Model::new(),
            inp: SimIn::default(),
            cycle: 0,
            beats: VecDeque::new(),
            verdicts: VecDeque::new(),
            mem: HostMemory {
                base: 0x1_0000_0000,
                bytes: Vec::new(),
            },
            irq: false,
            dma_stall: None,
            stats: PortStats::default(),
            last_beat_log: None,
            dma_log: None,
        };
        c.run(4);
        c
    }

    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// Start writing a VCD waveform.
    pub fn trace_open(&mut self, path: &Path) -> Result<(), String> {
        self.model.trace_open(path)
    }
    pub fn trace_close(&mut self) {
        self.model.trace_close()
    }

    /// Apply DMA back-pressure in the cycles `stall` selects.
    pub fn set_dma_stall(&mut self, stall: Option<fn(u64) -> bool>) {
        self.dma_stall = stall;
    }

    /// Queue one Ethernet frame (first byte first) as 64-byte beats. A zero-length frame is sent
    /// as one beat with no byte enabled.
    pub fn send(&mut self, frame: &[u8]) {
        self.stats.packets_in += 1;
        if frame.is_empty() {
            self.beats.push_back(([0; BEAT_BYTES / 4], true, 0));
            return;
        }
        let n = beats_of(frame.len());
        for (i, chunk) in frame.chunks(BEAT_BYTES).enumerate() {
            let (data, keep) = beat_of(chunk);
            self.beats.push_back((data, i + 1 == n, keep));
        }
    }

    /// Beats not yet taken by the card.
    pub fn pending_beats(&self) -> usize {
        self.beats.len()
    }

    /// One clock cycle: offer the next beat, accept a DMA beat, collect a verdict.
    pub fn tick(&mut self) -> SimOut {
        match self.beats.front() {
            Some(&(data, last, keep)) => {
                self.inp.s_valid = [1];
                self.inp.s_data = data;
                self.inp.s_last = [last as u32];
                self.inp.s_keep = [keep as u32, (keep >> 32) as u32];
            }
            None => self.inp.s_valid = [0],
        }
        let stall = self.dma_stall.is_some_and(|f| f(self.cycle));
        self.inp.dma_ready = [!stall as u32];
        // What the card presents in this cycle, before the edge.
        let pre = self.model.eval(&self.inp);
        if self.inp.s_valid[0] == 1 {
            if pre.s_ready[0] == 1 {
                let last = self.beats.pop_front().is_some_and(|b| b.1);
                self.stats.beats_in += 1;
                if let (Some(log), true) = (self.last_beat_log.as_mut(), last) {
                    log.push(self.cycle);
                }
            } else {
                self.stats.stream_stalls += 1;
            }
        }
        if pre.dma_valid[0] == 1 && !stall {
            // One beat = `dma_data`'s bytes at `dma_addr`, word 0 first, little-endian (one
            // whole 64-byte record per beat on the 512-bit port).
            let addr = pre.dma_addr[0] as u64 | (pre.dma_addr[1] as u64) << 32;
            let mut data = [0u8; DMA_BEAT_BYTES];
            for (b, w) in data.chunks_exact_mut(4).zip(&pre.dma_data) {
                b.copy_from_slice(&w.to_le_bytes());
            }
            if !self.mem.write(addr, &data) {
                self.stats.dma_errors += 1;
            }
            self.stats.dma_beats += 1;
            if let Some(log) = self.dma_log.as_mut() {
                log.push((self.cycle, addr));
            }
        }
        let out = self.model.step(&self.inp, 1);
        self.cycle += 1;
        // Single-cycle strobes of the bus are cleared after their edge.
        self.inp.reg_wr = [0];
        self.inp.reg_rd = [0];
        if out.v_valid[0] == 1 {
            self.stats.verdicts += 1;
            self.verdicts.push_back(Verdict {
                pkt_id: out.v_pkt_id[0],
                kind: out.v_kind[0] as u8,
                dest: out.v_dest[0] as u8,
                reason: out.v_reason[0] as u8,
                mark: out.v_mark[0],
                mac: out.v_mac[0] as u64 | (out.v_mac[1] as u64) << 32,
                cycle: self.cycle,
            });
        }
        if out.irq[0] == 1 {
            self.irq = true;
            self.stats.irqs += 1;
        }
        out
    }

    /// Run `n` cycles.
    pub fn run(&mut self, n: u64) {
        for _ in 0..n {
            self.tick();
        }
    }

    /// The next verdict, if one has come out.
    pub fn take_verdict(&mut self) -> Option<Verdict> {
        self.verdicts.pop_front()
    }

    /// Read a BAR0 register over the register bus (a few cycles).
    pub fn reg_read(&mut self, offset: u32) -> Option<u32> {
        self.inp.reg_addr = [offset & 0xffff];
        self.inp.reg_rd = [1];
        for _ in 0..8 {
            let out = self.tick();
            if out.reg_rvalid[0] == 1 {
                return Some(out.reg_rdata[0]);
            }
        }
        None
    }

    /// Write a BAR0 register over the register bus (one cycle).
    pub fn reg_write(&mut self, offset: u32, value: u32) {
        self.inp.reg_addr = [offset & 0xffff];
        self.inp.reg_wdata = [value];
        self.inp.reg_wr = [1];
        self.tick();
    }

    /// True once per interrupt since the last call.
    pub fn take_irq(&mut self) -> bool {
        std::mem::take(&mut self.irq)
    }
}
