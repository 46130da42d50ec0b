//! The card's hash table (conn table and template table): `2^B` buckets of `W = 2H` ways in
//! block RAM, two hash choices, an `S`-entry stash in registers, inline expiry, a write-back
//! port, a command/learn engine and an aging sweep.
//!
//! # Scheme (d-left, two choices)
//!
//! Ways `0..H` of every bucket form way-set 0 and are addressed by `h0 & (2^B-1)`; ways `H..2H`
//! form way-set 1 and are addressed by `h1 & (2^B-1)`. An entry with hashes `(h0, h1)` lives in
//! a set-0 way of bucket `h0`, a set-1 way of bucket `h1`, or the stash. Every way is one RAM
//! (`RAM<Bits<E>, B>`, synchronous read) read once per lookup, so a lookup costs one read per
//! way RAM and the table accepts a lookup every clock. Slot ids follow the ABI
//! (`TableGeometry::slot`): `bucket * W + way`, stash `s` at `2^B * W + s`.
//! Insert (host or learn) takes the first free slot in the order: set-0 ways of bucket `h0`
//! (way 0 first), set-1 ways of bucket `h1`, stash; none free -> `Full`. A key that is already
//! present (even expired, not yet reclaimed) -> `Exists`: the sweep must report it first.
//!
//! # Stored entry (`E` bits, "used bits only", one RAM word per way)
//!
//! | bits | field |
//! |---|---|
//! | 296..0 | key (flow-key image bits 296..0: caddr, vaddr, cport, vport, proto, af) |
//! | 328..297 | `last_refresh` |
//! | 360..329 | `timeout` |
//! | 361 | `valid` |
//! | E-1..362 | value fields: see [`conn_pack`] / [`template_pack`] ([`CONN_BITS`] = 405, [`TEMPLATE_BITS`] = 380) |
//!
//! # Lookup pipeline ([`LATENCY`] = 3)
//!
//! Edge 0 registers the request and presents the bucket addresses to the RAMs; edge 1 registers
//! the RAM words (patched with the writes of the previous and the current cycle); in the
//! following cycle the ways are patched with that cycle's write, every way and every stash
//! entry is compared with the full 297-bit key in parallel, and the one-hot hit is OR-encoded
//! (slot id and entry); edge 2 registers the result. `res_*` are valid after edge 2 (LATENCY
//! edges after the request was accepted). `res_live = now - last_refresh < timeout`
//! (wrap-safe, evaluated combinationally on the registered entry with the current `now`).
//!
//! # Hazards
//!
//! * All writes (write-back port, engine, sweep) go through one internal write bus, one write
//!   per clock; the write-back port has priority and never waits; the engine retries.
//! * **Read-after-write forwarding:** a lookup in flight snoops the write bus at every stage
//!   (the RAM output is patched with the write of the cycle of the read, which the RAM does not
//!   return, and with the write of the following cycle; the registered ways are patched with the
//!   write of the compare cycle; the stash is read live). So a result seen after edge `t`
//!   reflects every write presented in cycles `<= t`: no write is lost or missed by a lookup.
//!   The decision stage must forward its own in-flight write-backs (between seeing a result
//!   and presenting its write-back) to later results for the same slot.
//! * **Engine (commands, learn) vs write-backs:** an engine operation first stops the lookup
//!   input (`lk_ready = 0`) and waits until no lookup was accepted and no write-back was seen
//!   for `drain` cycles (input; set it to `LATENCY +` the longest delay from a `res_*` to its
//!   write-back `+ 1`). Then it reads both buckets through the lookup pipeline, decides and
//!   writes, and releases the lookup input (about `drain + 6` cycles of back-pressure).
//! * **Sweep vs write-backs:** the sweep waits for a clock without a lookup (it never refuses
//!   one: `lk_ready` stays high, so a pipeline without back-pressure can feed the table) and reclaims an
//!   entry only when `now - last_refresh > timeout` (one tick after lookups start to miss it),
//!   so a write-back (which only follows a live hit) cannot race with a reclaim; its copy of the
//!   entry also snoops the write bus.
//!
//! # Sweep
//!
//! While `sweep_en`, one slot every `sweep_interval + 1` clocks (0..capacity, wrapping): read
//! it; if valid and expired, clear it (write), then present an expire event (`ev_*`) until
//! `ev_ready`; the engine does nothing else meanwhile, so no reclaim goes unreported.
//! The sweep reads its slot in a clock without a lookup. So that a stream with no gaps cannot
//! starve it, every change of `now` (a tick) adds `sweep_rate` visits to a debt (capped at one
//! lap) and every visit pays one; while more than a tick's visits behind and waiting, the sweep
//! raises `sweep_due` for one clock (again every 64 clocks while still waiting): the card then
//! skips one input clock, which reaches the table as a free clock. `sweep_pos` / `sweep_laps` are the position and the
//! completed passes (AGING.POS / LAPS).
//! Stale-dest-generation reclaim is not implemented (no dest-gen input yet).
//!
//! Reset: RAMs power up as zero (FPGA BRAM init; Verilator `--x-initial 0`), stash registers
//! are zero-initialised; there is no Flush yet.

use rust_hdl::prelude::*;

/// Clocks (edges) from an accepted lookup to `res_valid`.
pub const LATENCY: usize = 3;

/// Stored-entry bit positions.
pub const KEY_BITS: usize = 297;
pub const LR_LO: usize = 297;
pub const TO_LO: usize = 329;
pub const VALID_BIT: usize = 361;
pub const VALUE_LO: usize = 362;
/// Stored widths of the two tables.
pub const CONN_BITS: usize = 405;
pub const TEMPLATE_BITS: usize = 380;

/// Command opcodes (ABI `Opcode` numbering).
pub const OP_WRITE: u64 = 1;
pub const OP_INSERT: u64 = 2;
pub const OP_DELETE: u64 = 3;
pub const OP_MODIFY: u64 = 4;
pub const OP_READ: u64 = 5;
pub const OP_LOOKUP: u64 = 6;
/// Status codes (ABI `CmdStatus` numbering).
pub const ST_OK: u64 = 0;
pub const ST_BAD_OPCODE: u64 = 1;
pub const ST_BAD_INDEX: u64 = 3;
pub const ST_EXISTS: u64 = 4;
pub const ST_NOT_FOUND: u64 = 5;
pub const ST_FULL: u64 = 6;

// engine states (literals in the HDL): 0 idle, 1 drain, 2 issue, 3 wait, 4 act,
// 5 sweep issue, 6 sweep wait, 7 sweep evaluate, 8 sweep clear, 9 sweep emit.

/// The hash table. `B`: log2 buckets; `H`: ways per way-set (`W = 2H` ways per bucket); `S`:
/// stash entries (`W + S <= 32`); `E`: stored entry bits ([`CONN_BITS`] or [`TEMPLATE_BITS`]).
///
/// Ports (all synchronous to `clock`; `Bits<32>` slot ids are ABI entry indices):
///
/// | port | dir | width | meaning |
/// |---|---|---|---|
/// | `now` | in | 32 | card tick |
/// | `lk_valid`, `lk_ready` | in, out | 1 | lookup handshake (accepted when both) |
/// | `lk_key` | in | 320 | flow-key image (bits 296..0 used) |
/// | `lk_h0`, `lk_h1` | in | 32 | hashes of the key ([`crate::hash::JHashPipe`]) |
/// | `res_valid` | out | 1 | result of the lookup accepted LATENCY edges ago |
/// | `res_found` | out | 1 | a valid entry with the key exists |
/// | `res_live` | out | 1 | its `now - last_refresh < timeout` |
/// | `res_hit` | out | 1 | `found && live` (else miss; `found && !live` = Expired) |
/// | `res_slot` | out | 32 | slot id of the entry (for the write-back) |
/// | `res_entry` | out | E | the stored entry |
/// | `wb_en`, `wb_slot`, `wb_entry` | in | 1, 32, E | write-back: store `wb_entry` at `wb_slot` (zero = invalidate) |
/// | `cmd_valid`, `cmd_ready` | in, out | 1 | host command handshake |
/// | `cmd_op` | in | 4 | `OP_*` (ABI opcode numbers) |
/// | `cmd_slot` | in | 32 | index for Read/Write |
/// | `cmd_entry` | in | E | entry image (Insert/Modify/Write) or key (Delete/Lookup) |
/// | `cmd_h0`, `cmd_h1` | in | 32 | hashes of the command key |
/// | `cmd_done` | out | 1 | one-clock pulse: host command finished |
/// | `ln_valid`, `ln_ready` | in, out | 1 | learn (data-path insert) handshake; priority over `cmd` |
/// | `ln_entry`, `ln_h0`, `ln_h1` | in | E, 32, 32 | entry to insert and its hashes |
/// | `ln_done` | out | 1 | one-clock pulse: learn finished |
/// | `eng_status` | out | 8 | `ST_*` of the last command/learn (held) |
/// | `eng_slot` | out | 32 | slot used/found |
/// | `eng_entry` | out | E | entry read/found/deleted |
/// | `drain` | in | 8 | see Hazards |
/// | `sweep_en`, `sweep_interval` | in | 1, 16 | aging sweep enable and pace |
/// | `sweep_rate` | in | 16 | slots the sweep must visit per tick (`now` change) at least |
/// | `sweep_due` | out | 1 | one-clock request: give the sweep a clock without a lookup |
/// | `sweep_pos`, `sweep_laps` | out | 32, 32 | next slot the sweep visits; completed laps |
/// | `ev_valid`, `ev_ready` | out, in | 1 | expire-event handshake |
/// | `ev_slot`, `ev_entry` | out | 32, E | reclaimed slot and its entry (cause Aged) |
#[derive(LogicBlock)]
pub struct HashTable<const B: usize, const H: usize, const S: usize, const E: usize> {
    pub clock: Signal<In, Clock>,
    pub now: Signal<In, Bits<32>>,
    pub lk_valid: Signal<In, Bit>,
    pub lk_key: Signal<In, Bits<320>>,
    pub lk_h0: Signal<In, Bits<32>>,
    pub lk_h1: Signal<In, Bits<32>>,
    pub lk_ready: Signal<Out, Bit>,
    pub res_valid: Signal<Out, Bit>,
    pub res_found: Signal<Out, Bit>,
    pub res_live: Signal<Out, Bit>,
    pub res_hit: Signal<Out, Bit>,
    pub res_slot: Signal<Out, Bits<32>>,
    pub res_entry: Signal<Out, Bits<E>>,
    pub wb_en: Signal<In, Bit>,
    pub wb_slot: Signal<In, Bits<32>>,
    pub wb_entry: Signal<In, Bits<E>>,
    pub cmd_valid: Signal<In, Bit>,
    pub cmd_op: Signal<In, Bits<4>>,
    pub cmd_slot: Signal<In, Bits<32>>,
    pub cmd_entry: Signal<In, Bits<E>>,
    pub cmd_h0: Signal<In, Bits<32>>,
    pub cmd_h1: Signal<In, Bits<32>>,
    pub cmd_ready: Signal<Out, Bit>,
    pub cmd_done: Signal<Out, Bit>,
    pub ln_valid: Signal<In, Bit>,
    pub ln_entry: Signal<In, Bits<E>>,
    pub ln_h0: Signal<In, Bits<32>>,
    pub ln_h1: Signal<In, Bits<32>>,
    pub ln_ready: Signal<Out, Bit>,
    pub ln_done: Signal<Out, Bit>,
    pub eng_status: Signal<Out, Bits<8>>,
    pub eng_slot: Signal<Out, Bits<32>>,
    pub eng_entry: Signal<Out, Bits<E>>,
    pub drain: Signal<In, Bits<8>>,
    pub sweep_en: Signal<In, Bit>,
    pub sweep_interval: Signal<In, Bits<16>>,
    pub sweep_rate: Signal<In, Bits<16>>,
    pub sweep_due: Signal<Out, Bit>,
    pub sweep_pos: Signal<Out, Bits<32>>,
    pub sweep_laps: Signal<Out, Bits<32>>,
    pub ev_valid: Signal<Out, Bit>,
    pub ev_ready: Signal<In, Bit>,
    pub ev_slot: Signal<Out, Bits<32>>,
    pub ev_entry: Signal<Out, Bits<E>>,

    // storage
    ram0: [RAM<Bits<E>, B>; H],
    ram1: [RAM<Bits<E>, B>; H],
    stash: [DFF<Bits<E>>; S],

    // write bus (combinational) and its copy one clock later
    wr_en: Signal<Local, Bit>,
    wr_slot: Signal<Local, Bits<32>>,
    wr_data: Signal<Local, Bits<E>>,
    wr_stash: Signal<Local, Bit>,
    wr_bucket: Signal<Local, Bits<B>>,
    wr_way: Signal<Local, Bits<32>>,
    wr_sidx: Signal<Local, Bits<32>>,
    wrd_en: DFF<Bit>,
    wrd_stash: DFF<Bit>,
    wrd_bucket: DFF<Bits<B>>,
    wrd_way: DFF<Bits<32>>,
    wrd_data: DFF<Bits<E>>,

    // issue (stage 0)
    iss_valid: Signal<Local, Bit>,
    iss_eng: Signal<Local, Bit>,
    iss_rd: Signal<Local, Bit>,
    iss_key: Signal<Local, Bits<297>>,
    iss_b0: Signal<Local, Bits<B>>,
    iss_b1: Signal<Local, Bits<B>>,
    iss_slot: Signal<Local, Bits<32>>,
    // stage 1
    p1_valid: DFF<Bit>,
    p1_eng: DFF<Bit>,
    p1_rd: DFF<Bit>,
    p1_key: DFF<Bits<297>>,
    p1_b0: DFF<Bits<B>>,
    p1_b1: DFF<Bits<B>>,
    p1_slot: DFF<Bits<32>>,
    // stage 2
    p2_valid: DFF<Bit>,
    p2_eng: DFF<Bit>,
    p2_rd: DFF<Bit>,
    p2_key: DFF<Bits<297>>,
    p2_b0: DFF<Bits<B>>,
    p2_b1: DFF<Bits<B>>,
    p2_slot: DFF<Bits<32>>,
    cand0: [DFF<Bits<E>>; H],
    cand1: [DFF<Bits<E>>; H],
    // stage-2 combinational
    tgt_stash: Signal<Local, Bit>,
    tgt_way: Signal<Local, Bits<32>>,
    tgt_sidx: Signal<Local, Bits<32>>,
    c0x: [Signal<Local, Bits<E>>; H],
    c1x: [Signal<Local, Bits<E>>; H],
    csx: [Signal<Local, Bits<E>>; S],
    m0: [Signal<Local, Bit>; H],
    m1: [Signal<Local, Bit>; H],
    ms: [Signal<Local, Bit>; S],
    sl0: [Signal<Local, Bits<32>>; H],
    sl1: [Signal<Local, Bits<32>>; H],
    // OR chains in order set 0, set 1, stash
    hf0: [Signal<Local, Bit>; H],
    hf1: [Signal<Local, Bit>; H],
    hfs: [Signal<Local, Bit>; S],
    hs0: [Signal<Local, Bits<32>>; H],
    hs1: [Signal<Local, Bits<32>>; H],
    hss: [Signal<Local, Bits<32>>; S],
    hd0: [Signal<Local, Bits<E>>; H],
    hd1: [Signal<Local, Bits<E>>; H],
    hds: [Signal<Local, Bits<E>>; S],
    ft0: [Signal<Local, Bit>; H],
    ft1: [Signal<Local, Bit>; H],
    fts: [Signal<Local, Bit>; S],
    fl0: [Signal<Local, Bits<32>>; H],
    fl1: [Signal<Local, Bits<32>>; H],
    fls: [Signal<Local, Bits<32>>; S],
    // chain ends
    e_hf0: Signal<Local, Bit>,
    e_hs0: Signal<Local, Bits<32>>,
    e_hd0: Signal<Local, Bits<E>>,
    e_ft0: Signal<Local, Bit>,
    e_fl0: Signal<Local, Bits<32>>,
    e_hf1: Signal<Local, Bit>,
    e_hs1: Signal<Local, Bits<32>>,
    e_hd1: Signal<Local, Bits<E>>,
    e_ft1: Signal<Local, Bit>,
    e_fl1: Signal<Local, Bits<32>>,
    e_hfs: Signal<Local, Bit>,
    e_hss: Signal<Local, Bits<32>>,
    e_hds: Signal<Local, Bits<E>>,
    e_fts: Signal<Local, Bit>,
    e_fls: Signal<Local, Bits<32>>,
    // stage 3 (result registers)
    p3_valid: DFF<Bit>,
    p3_eng: DFF<Bit>,
    p3_found: DFF<Bit>,
    p3_slot: DFF<Bits<32>>,
    p3_entry: DFF<Bits<E>>,
    p3_free: DFF<Bit>,
    p3_free_slot: DFF<Bits<32>>,

    // engine
    state: DFF<Bits<4>>,
    quiet: DFF<Bits<8>>,
    e_op: DFF<Bits<4>>,
    e_learn: DFF<Bit>,
    e_entry: DFF<Bits<E>>,
    e_h0: DFF<Bits<32>>,
    e_h1: DFF<Bits<32>>,
    e_slot: DFF<Bits<32>>,
    r_found: DFF<Bit>,
    r_slot: DFF<Bits<32>>,
    r_entry: DFF<Bits<E>>,
    r_free: DFF<Bit>,
    r_free_slot: DFF<Bits<32>>,
    o_status: DFF<Bits<8>>,
    o_slot: DFF<Bits<32>>,
    o_entry: DFF<Bits<E>>,
    o_cmd_done: DFF<Bit>,
    o_ln_done: DFF<Bit>,
    sw_ptr: DFF<Bits<32>>,
    sw_tmr: DFF<Bits<16>>,
    /// Visits owed (`sweep_rate` per tick, one paid per visit; at most `capacity`).
    sw_credit: DFF<Bits<32>>,
    sw_last_now: DFF<Bits<32>>,
    sw_laps: DFF<Bits<32>>,
    /// Clocks since the sweep asked for a free clock (it asks again after 64).
    sw_asked: DFF<Bits<8>>,
    sw_step: Signal<Local, Bit>,
    // engine combinational
    eng_wr: Signal<Local, Bit>,
    eng_wr_slot: Signal<Local, Bits<32>>,
    eng_wr_data: Signal<Local, Bits<E>>,
    act_go: Signal<Local, Bit>,
    act_status: Signal<Local, Bits<8>>,
    act_slot: Signal<Local, Bits<32>>,
    act_entry: Signal<Local, Bits<E>>,
    bad_index: Signal<Local, Bit>,
    expired: Signal<Local, Bit>,
    age: Signal<Local, Bits<32>>,
    res_age: Signal<Local, Bits<32>>,

    // constants
    lw: Constant<Bits<32>>,
    way_mask: Constant<Bits<32>>,
    stash_base: Constant<Bits<32>>,
    capacity: Constant<Bits<32>>,
    wid0: [Constant<Bits<32>>; H],
    wid1: [Constant<Bits<32>>; H],
    sid: [Constant<Bits<32>>; S],
    sslot: [Constant<Bits<32>>; S],
    zero_e: Constant<Bits<E>>,
    valid_e: Constant<Bits<E>>,
    z32: Constant<Bits<32>>,
}

impl<const B: usize, const H: usize, const S: usize, const E: usize> Default
    for HashTable<B, H, S, E>
{
    fn default() -> Self {
        let w = 2 * H;
        assert!(H >= 1 && w.is_power_of_two() && w + S <= 32 && S >= 1);
        assert!(E > VALUE_LO && B >= 1 && B + w.trailing_zeros() as usize <= 30);
        let lw = w.trailing_zeros() as u64;
        let base = (1u64 << B) * w as u64;
        let c = |v: u64| Constant::new(bits::<32>(v));
        Self {
            clock: Default::default(),
            now: Default::default(),
            lk_valid: Default::default(),
            lk_key: Default::default(),
            lk_h0: Default::default(),
            lk_h1: Default::default(),
            lk_ready: Default::default(),
            res_valid: Default::default(),
            res_found: Default::default(),
            res_live: Default::default(),
            res_hit: Default::default(),
            res_slot: Default::default(),
            res_entry: Default::default(),
            wb_en: Default::default(),
            wb_slot: Default::default(),
            wb_entry: Default::default(),
            cmd_valid: Default::default(),
            cmd_op: Default::default(),
            cmd_slot: Default::default(),
            cmd_entry: Default::default(),
            cmd_h0: Default::default(),
            cmd_h1: Default::default(),
            cmd_ready: Default::default(),
            cmd_done: Default::default(),
            ln_valid: Default::default(),
            ln_entry: Default::default(),
            ln_h0: Default::default(),
            ln_h1: Default::default(),
            ln_ready: Default::default(),
            ln_done: Default::default(),
            eng_status: Default::default(),
            eng_slot: Default::default(),
            eng_entry: Default::default(),
            drain: Default::default(),
            sweep_en: Default::default(),
            sweep_interval: Default::default(),
            sweep_rate: Default::default(),
            sweep_due: Default::default(),
            sweep_pos: Default::default(),
            sweep_laps: Default::default(),
            ev_valid: Default::default(),
            ev_ready: Default::default(),
            ev_slot: Default::default(),
            ev_entry: Default::default(),
            ram0: std::array::from_fn(|_| Default::default()),
            ram1: std::array::from_fn(|_| Default::default()),
            stash: std::array::from_fn(|_| Default::default()),
            wr_en: Default::default(),
            wr_slot: Default::default(),
            wr_data: Default::default(),
            wr_stash: Default::default(),
            wr_bucket: Default::default(),
            wr_way: Default::default(),
            wr_sidx: Default::default(),
            wrd_en: Default::default(),
            wrd_stash: Default::default(),
            wrd_bucket: Default::default(),
            wrd_way: Default::default(),
            wrd_data: Default::default(),
            iss_valid: Default::default(),
            iss_eng: Default::default(),
            iss_rd: Default::default(),
            iss_key: Default::default(),
            iss_b0: Default::default(),
            iss_b1: Default::default(),
            iss_slot: Default::default(),
            p1_valid: Default::default(),
            p1_eng: Default::default(),
            p1_rd: Default::default(),
            p1_key: Default::default(),
            p1_b0: Default::default(),
            p1_b1: Default::default(),
            p1_slot: Default::default(),
            p2_valid: Default::default(),
            p2_eng: Default::default(),
            p2_rd: Default::default(),
            p2_key: Default::default(),
            p2_b0: Default::default(),
            p2_b1: Default::default(),
            p2_slot: Default::default(),
            cand0: std::array::from_fn(|_| Default::default()),
            cand1: std::array::from_fn(|_| Default::default()),
            tgt_stash: Default::default(),
            tgt_way: Default::default(),
            tgt_sidx: Default::default(),
            c0x: std::array::from_fn(|_| Default::default()),
            c1x: std::array::from_fn(|_| Default::default()),
            csx: std::array::from_fn(|_| Default::default()),
            m0: std::array::from_fn(|_| Default::default()),
            m1: std::array::from_fn(|_| Default::default()),
            ms: std::array::from_fn(|_| Default::default()),
            sl0: std::array::from_fn(|_| Default::default()),
            sl1: std::array::from_fn(|_| Default::default()),
            hf0: std::array::from_fn(|_| Default::default()),
            hf1: std::array::from_fn(|_| Default::default()),
            hfs: std::array::from_fn(|_| Default::default()),
            hs0: std::array::from_fn(|_| Default::default()),
            hs1: std::array::from_fn(|_| Default::default()),
            hss: std::array::from_fn(|_| Default::default()),
            hd0: std::array::from_fn(|_| Default::default()),
            hd1: std::array::from_fn(|_| Default::default()),
            hds: std::array::from_fn(|_| Default::default()),
            ft0: std::array::from_fn(|_| Default::default()),
            ft1: std::array::from_fn(|_| Default::default()),
            fts: std::array::from_fn(|_| Default::default()),
            fl0: std::array::from_fn(|_| Default::default()),
            fl1: std::array::from_fn(|_| Default::default()),
            fls: std::array::from_fn(|_| Default::default()),
            e_hf0: Default::default(),
            e_hs0: Default::default(),
            e_hd0: Default::default(),
            e_ft0: Default::default(),
            e_fl0: Default::default(),
            e_hf1: Default::default(),
            e_hs1: Default::default(),
            e_hd1: Default::default(),
            e_ft1: Default::default(),
            e_fl1: Default::default(),
            e_hfs: Default::default(),
            e_hss: Default::default(),
            e_hds: Default::default(),
            e_fts: Default::default(),
            e_fls: Default::default(),
            p3_valid: Default::default(),
            p3_eng: Default::default(),
            p3_found: Default::default(),
            p3_slot: Default::default(),
            p3_entry: Default::default(),
            p3_free: Default::default(),
            p3_free_slot: Default::default(),
            state: Default::default(),
            quiet: Default::default(),
            e_op: Default::default(),
            e_learn: Default::default(),
            e_entry: Default::default(),
            e_h0: Default::default(),
            e_h1: Default::default(),
            e_slot: Default::default(),
            r_found: Default::default(),
            r_slot: Default::default(),
            r_entry: Default::default(),
            r_free: Default::default(),
            r_free_slot: Default::default(),
            o_status: Default::default(),
            o_slot: Default::default(),
            o_entry: Default::default(),
            o_cmd_done: Default::default(),
            o_ln_done: Default::default(),
            sw_ptr: Default::default(),
            sw_tmr: Default::default(),
            sw_credit: Default::default(),
            sw_last_now: Default::default(),
            sw_laps: Default::default(),
            sw_asked: Default::default(),
            sw_step: Default::default(),
            eng_wr: Default::default(),
            eng_wr_slot: Default::default(),
            eng_wr_data: Default::default(),
            act_go: Default::default(),
            act_status: Default::default(),
            act_slot: Default::default(),
            act_entry: Default::default(),
            bad_index: Default::default(),
            expired: Default::default(),
            age: Default::default(),
            res_age: Default::default(),
            lw: c(lw),
            way_mask: c(w as u64 - 1),
            stash_base: c(base),
            capacity: c(base + S as u64),
            wid0: std::array::from_fn(|i| c(i as u64)),
            wid1: std::array::from_fn(|i| c((H + i) as u64)),
            sid: std::array::from_fn(|i| c(i as u64)),
            sslot: std::array::from_fn(|i| c(base + i as u64)),
            zero_e: Constant::new(Bits::default()),
            valid_e: Constant::new(Bits::<E>::default().replace_bit(VALID_BIT, true)),
            z32: c(0),
        }
    }
}

impl<const B: usize, const H: usize, const S: usize, const E: usize> Logic
    for HashTable<B, H, S, E>
{
    #[hdl_gen]
    fn update(&mut self) {
        // ---------------------------------------------------------------- clocks
        for i in 0..H {
            self.ram0[i].read_clock.next = self.clock.val();
            self.ram0[i].write_clock.next = self.clock.val();
            self.ram1[i].read_clock.next = self.clock.val();
            self.ram1[i].write_clock.next = self.clock.val();
            self.cand0[i].clock.next = self.clock.val();
            self.cand1[i].clock.next = self.clock.val();
        }
        for i in 0..S {
            self.stash[i].clock.next = self.clock.val();
        }
        dff_setup!(
            self,
            clock,
            wrd_en,
            wrd_stash,
            wrd_bucket,
            wrd_way,
            wrd_data,
            p1_valid,
            p1_eng,
            p1_rd,
            p1_key,
            p1_b0,
            p1_b1,
            p1_slot,
            p2_valid,
            p2_eng,
            p2_rd,
            p2_key,
            p2_b0,
            p2_b1,
            p2_slot,
            p3_valid,
            p3_eng,
            p3_found,
            p3_slot,
            p3_entry,
            p3_free,
            p3_free_slot,
            state,
            quiet,
            e_op,
            e_learn,
            e_entry,
            e_h0,
            e_h1,
            e_slot,
            r_found,
            r_slot,
            r_entry,
            r_free,
            r_free_slot,
            o_status,
            o_slot,
            o_entry,
            o_cmd_done,
            o_ln_done,
            sw_ptr,
            sw_tmr,
            sw_credit,
            sw_last_now,
            sw_laps,
            sw_asked
        );

        // ---------------------------------------------------------------- engine outputs
        self.eng_wr.next = false;
        self.eng_wr_slot.next = self.e_slot.q.val();
        self.eng_wr_data.next = self.zero_e.val();
        self.act_go.next = false;
        self.act_status.next = bits::<8>(0);
        self.act_slot.next = self.r_slot.q.val();
        self.act_entry.next = self.r_entry.q.val();
        self.bad_index.next = self.e_slot.q.val() >= self.capacity.val();
        self.age.next = self.now.val() - self.r_entry.q.val().get_bits::<32>(297);
        self.expired.next = self.r_entry.q.val().get_bit(361)
            && (self.r_entry.q.val().get_bits::<32>(329) < self.age.val());
        if self.state.q.val() == 4 {
            if self.e_op.q.val() == 2 {
                if self.r_found.q.val() {
                    self.act_status.next = bits::<8>(4);
                } else if self.r_free.q.val() {
                    self.eng_wr.next = true;
                    self.eng_wr_slot.next = self.r_free_slot.q.val();
                    self.eng_wr_data.next = self.e_entry.q.val() | self.valid_e.val();
                    self.act_slot.next = self.r_free_slot.q.val();
                    self.act_entry.next = self.e_entry.q.val() | self.valid_e.val();
                } else {
                    self.act_status.next = bits::<8>(6);
                }
            } else if self.e_op.q.val() == 3 {
                if self.r_found.q.val() {
                    self.eng_wr.next = true;
                    self.eng_wr_slot.next = self.r_slot.q.val();
                } else {
                    self.act_status.next = bits::<8>(5);
                }
            } else if self.e_op.q.val() == 4 {
                if self.r_found.q.val() {
                    self.eng_wr.next = true;
                    self.eng_wr_slot.next = self.r_slot.q.val();
                    self.eng_wr_data.next = self.e_entry.q.val() | self.valid_e.val();
                    self.act_entry.next = self.e_entry.q.val() | self.valid_e.val();
                } else {
                    self.act_status.next = bits::<8>(5);
                }
            } else if self.e_op.q.val() == 6 {
                if !self.r_found.q.val() {
                    self.act_status.next = bits::<8>(5);
                }
            } else if self.e_op.q.val() == 5 {
                self.act_slot.next = self.e_slot.q.val();
                if self.bad_index.val() {
                    self.act_status.next = bits::<8>(3);
                }
            } else if self.e_op.q.val() == 1 {
                self.act_slot.next = self.e_slot.q.val();
                self.act_entry.next = self.e_entry.q.val();
                if self.bad_index.val() {
                    self.act_status.next = bits::<8>(3);
                } else {
                    self.eng_wr.next = true;
                    self.eng_wr_slot.next = self.e_slot.q.val();
                    self.eng_wr_data.next = self.e_entry.q.val();
                }
            } else {
                self.act_status.next = bits::<8>(1);
            }
            // the write-back port has priority: retry next clock
            if self.wb_en.val() {
                self.eng_wr.next = false;
            } else {
                self.act_go.next = true;
            }
        }
        if self.state.q.val() == 8 {
            self.eng_wr_slot.next = self.sw_ptr.q.val();
            self.eng_wr.next = !self.wb_en.val();
        }

        // ---------------------------------------------------------------- write bus
        self.wr_en.next = self.wb_en.val() || self.eng_wr.val();
        if self.wb_en.val() {
            self.wr_slot.next = self.wb_slot.val();
            self.wr_data.next = self.wb_entry.val();
        } else {
            self.wr_slot.next = self.eng_wr_slot.val();
            self.wr_data.next = self.eng_wr_data.val();
        }
        self.wr_stash.next = self.wr_slot.val() >= self.stash_base.val();
        self.wr_bucket.next = bit_cast::<B, 32>(self.wr_slot.val() >> self.lw.val());
        self.wr_way.next = self.wr_slot.val() & self.way_mask.val();
        self.wr_sidx.next = self.wr_slot.val() - self.stash_base.val();
        for i in 0..H {
            self.ram0[i].write_address.next = self.wr_bucket.val();
            self.ram0[i].write_data.next = self.wr_data.val();
            self.ram0[i].write_enable.next = self.wr_en.val()
                && !self.wr_stash.val()
                && (self.wr_way.val() == self.wid0[i].val());
            self.ram1[i].write_address.next = self.wr_bucket.val();
            self.ram1[i].write_data.next = self.wr_data.val();
            self.ram1[i].write_enable.next = self.wr_en.val()
                && !self.wr_stash.val()
                && (self.wr_way.val() == self.wid1[i].val());
        }
        for i in 0..S {
            if self.wr_en.val() && self.wr_stash.val() && (self.wr_sidx.val() == self.sid[i].val())
            {
                self.stash[i].d.next = self.wr_data.val();
            } else {
                self.stash[i].d.next = self.stash[i].q.val();
            }
        }
        self.wrd_en.d.next = self.wr_en.val();
        self.wrd_stash.d.next = self.wr_stash.val();
        self.wrd_bucket.d.next = self.wr_bucket.val();
        self.wrd_way.d.next = self.wr_way.val();
        self.wrd_data.d.next = self.wr_data.val();

        // ---------------------------------------------------------------- stage 0: issue
        // the sweep (state 5) never refuses a lookup: it issues its read in a free slot only
        self.lk_ready.next = !((self.state.q.val() == 1)
            || (self.state.q.val() == 2)
            || (self.state.q.val() == 3)
            || (self.state.q.val() == 4));
        self.iss_valid.next = self.lk_valid.val() && self.lk_ready.val();
        self.iss_eng.next = false;
        self.iss_rd.next = false;
        self.iss_key.next = self.lk_key.val().get_bits::<297>(0);
        self.iss_b0.next = bit_cast::<B, 32>(self.lk_h0.val());
        self.iss_b1.next = bit_cast::<B, 32>(self.lk_h1.val());
        self.iss_slot.next = self.e_slot.q.val();
        if self.state.q.val() == 2 {
            self.iss_valid.next = true;
            self.iss_eng.next = true;
            self.iss_key.next = self.e_entry.q.val().get_bits::<297>(0);
            if (self.e_op.q.val() == 5) || (self.e_op.q.val() == 1) {
                self.iss_rd.next = true;
                self.iss_b0.next = bit_cast::<B, 32>(self.e_slot.q.val() >> self.lw.val());
                self.iss_b1.next = bit_cast::<B, 32>(self.e_slot.q.val() >> self.lw.val());
            } else {
                self.iss_b0.next = bit_cast::<B, 32>(self.e_h0.q.val());
                self.iss_b1.next = bit_cast::<B, 32>(self.e_h1.q.val());
            }
        }
        if (self.state.q.val() == 5) && !self.lk_valid.val() {
            self.iss_valid.next = true;
            self.iss_eng.next = true;
            self.iss_rd.next = true;
            self.iss_slot.next = self.sw_ptr.q.val();
            self.iss_b0.next = bit_cast::<B, 32>(self.sw_ptr.q.val() >> self.lw.val());
            self.iss_b1.next = bit_cast::<B, 32>(self.sw_ptr.q.val() >> self.lw.val());
        }
        for i in 0..H {
            self.ram0[i].read_address.next = self.iss_b0.val();
            self.ram1[i].read_address.next = self.iss_b1.val();
        }
        self.p1_valid.d.next = self.iss_valid.val();
        self.p1_eng.d.next = self.iss_eng.val();
        self.p1_rd.d.next = self.iss_rd.val();
        self.p1_key.d.next = self.iss_key.val();
        self.p1_b0.d.next = self.iss_b0.val();
        self.p1_b1.d.next = self.iss_b1.val();
        self.p1_slot.d.next = self.iss_slot.val();

        // ---------------------------------------------------------------- stage 1: RAM data
        for i in 0..H {
            // newest write first: this clock's, then last clock's (not in the RAM output)
            if self.wr_en.val()
                && !self.wr_stash.val()
                && (self.wr_way.val() == self.wid0[i].val())
                && (self.wr_bucket.val() == self.p1_b0.q.val())
            {
                self.cand0[i].d.next = self.wr_data.val();
            } else if self.wrd_en.q.val()
                && !self.wrd_stash.q.val()
                && (self.wrd_way.q.val() == self.wid0[i].val())
                && (self.wrd_bucket.q.val() == self.p1_b0.q.val())
            {
                self.cand0[i].d.next = self.wrd_data.q.val();
            } else {
                self.cand0[i].d.next = self.ram0[i].read_data.val();
            }
            if self.wr_en.val()
                && !self.wr_stash.val()
                && (self.wr_way.val() == self.wid1[i].val())
                && (self.wr_bucket.val() == self.p1_b1.q.val())
            {
                self.cand1[i].d.next = self.wr_data.val();
            } else if self.wrd_en.q.val()
                && !self.wrd_stash.q.val()
                && (self.wrd_way.q.val() == self.wid1[i].val())
                && (self.wrd_bucket.q.val() == self.p1_b1.q.val())
            {
                self.cand1[i].d.next = self.wrd_data.q.val();
            } else {
                self.cand1[i].d.next = self.ram1[i].read_data.val();
            }
        }
        self.p2_valid.d.next = self.p1_valid.q.val();
        self.p2_eng.d.next = self.p1_eng.q.val();
        self.p2_rd.d.next = self.p1_rd.q.val();
        self.p2_key.d.next = self.p1_key.q.val();
        self.p2_b0.d.next = self.p1_b0.q.val();
        self.p2_b1.d.next = self.p1_b1.q.val();
        self.p2_slot.d.next = self.p1_slot.q.val();

        // ---------------------------------------------------------------- stage 2: compare
        self.tgt_stash.next = self.p2_slot.q.val() >= self.stash_base.val();
        self.tgt_way.next = self.p2_slot.q.val() & self.way_mask.val();
        self.tgt_sidx.next = self.p2_slot.q.val() - self.stash_base.val();
        for i in 0..H {
            if self.wr_en.val()
                && !self.wr_stash.val()
                && (self.wr_way.val() == self.wid0[i].val())
                && (self.wr_bucket.val() == self.p2_b0.q.val())
            {
                self.c0x[i].next = self.wr_data.val();
            } else {
                self.c0x[i].next = self.cand0[i].q.val();
            }
            if self.wr_en.val()
                && !self.wr_stash.val()
                && (self.wr_way.val() == self.wid1[i].val())
                && (self.wr_bucket.val() == self.p2_b1.q.val())
            {
                self.c1x[i].next = self.wr_data.val();
            } else {
                self.c1x[i].next = self.cand1[i].q.val();
            }
            if self.p2_rd.q.val() {
                self.m0[i].next =
                    !self.tgt_stash.val() && (self.tgt_way.val() == self.wid0[i].val());
                self.m1[i].next =
                    !self.tgt_stash.val() && (self.tgt_way.val() == self.wid1[i].val());
            } else {
                self.m0[i].next = self.c0x[i].val().get_bit(361)
                    && (self.c0x[i].val().get_bits::<297>(0) == self.p2_key.q.val());
                self.m1[i].next = self.c1x[i].val().get_bit(361)
                    && (self.c1x[i].val().get_bits::<297>(0) == self.p2_key.q.val());
            }
            self.sl0[i].next =
                (bit_cast::<32, B>(self.p2_b0.q.val()) << self.lw.val()) | self.wid0[i].val();
            self.sl1[i].next =
                (bit_cast::<32, B>(self.p2_b1.q.val()) << self.lw.val()) | self.wid1[i].val();
        }
        for i in 0..S {
            if self.wr_en.val() && self.wr_stash.val() && (self.wr_sidx.val() == self.sid[i].val())
            {
                self.csx[i].next = self.wr_data.val();
            } else {
                self.csx[i].next = self.stash[i].q.val();
            }
            if self.p2_rd.q.val() {
                self.ms[i].next =
                    self.tgt_stash.val() && (self.tgt_sidx.val() == self.sid[i].val());
            } else {
                self.ms[i].next = self.csx[i].val().get_bit(361)
                    && (self.csx[i].val().get_bits::<297>(0) == self.p2_key.q.val());
            }
        }
        // OR chains, set 0
        self.hf0[0].next = self.m0[0].val();
        self.hs0[0].next = self.z32.val();
        self.hd0[0].next = self.zero_e.val();
        if self.m0[0].val() {
            self.hs0[0].next = self.sl0[0].val();
            self.hd0[0].next = self.c0x[0].val();
        }
        self.ft0[0].next = !self.c0x[0].val().get_bit(361);
        self.fl0[0].next = self.z32.val();
        if !self.c0x[0].val().get_bit(361) {
            self.fl0[0].next = self.sl0[0].val();
        }
        for i in 1..H {
            self.hf0[i].next = self.hf0[i - 1].val() || self.m0[i].val();
            self.hs0[i].next = self.hs0[i - 1].val();
            self.hd0[i].next = self.hd0[i - 1].val();
            if self.m0[i].val() {
                self.hs0[i].next = self.hs0[i - 1].val() | self.sl0[i].val();
                self.hd0[i].next = self.hd0[i - 1].val() | self.c0x[i].val();
            }
            self.ft0[i].next = self.ft0[i - 1].val() || !self.c0x[i].val().get_bit(361);
            self.fl0[i].next = self.fl0[i - 1].val();
            if !self.c0x[i].val().get_bit(361) && !self.ft0[i - 1].val() {
                self.fl0[i].next = self.fl0[i - 1].val() | self.sl0[i].val();
            }
        }
        self.e_hf0.next = false;
        self.e_hs0.next = self.z32.val();
        self.e_hd0.next = self.zero_e.val();
        self.e_ft0.next = false;
        self.e_fl0.next = self.z32.val();
        for i in 0..H {
            self.e_hf0.next = self.hf0[i].val();
            self.e_hs0.next = self.hs0[i].val();
            self.e_hd0.next = self.hd0[i].val();
            self.e_ft0.next = self.ft0[i].val();
            self.e_fl0.next = self.fl0[i].val();
        }
        // set 1 continues the chain
        self.hf1[0].next = self.e_hf0.val() || self.m1[0].val();
        self.hs1[0].next = self.e_hs0.val();
        self.hd1[0].next = self.e_hd0.val();
        if self.m1[0].val() {
            self.hs1[0].next = self.e_hs0.val() | self.sl1[0].val();
            self.hd1[0].next = self.e_hd0.val() | self.c1x[0].val();
        }
        self.ft1[0].next = self.e_ft0.val() || !self.c1x[0].val().get_bit(361);
        self.fl1[0].next = self.e_fl0.val();
        if !self.c1x[0].val().get_bit(361) && !self.e_ft0.val() {
            self.fl1[0].next = self.e_fl0.val() | self.sl1[0].val();
        }
        for i in 1..H {
            self.hf1[i].next = self.hf1[i - 1].val() || self.m1[i].val();
            self.hs1[i].next = self.hs1[i - 1].val();
            self.hd1[i].next = self.hd1[i - 1].val();
            if self.m1[i].val() {
                self.hs1[i].next = self.hs1[i - 1].val() | self.sl1[i].val();
                self.hd1[i].next = self.hd1[i - 1].val() | self.c1x[i].val();
            }
            self.ft1[i].next = self.ft1[i - 1].val() || !self.c1x[i].val().get_bit(361);
            self.fl1[i].next = self.fl1[i - 1].val();
            if !self.c1x[i].val().get_bit(361) && !self.ft1[i - 1].val() {
                self.fl1[i].next = self.fl1[i - 1].val() | self.sl1[i].val();
            }
        }
        self.e_hf1.next = false;
        self.e_hs1.next = self.z32.val();
        self.e_hd1.next = self.zero_e.val();
        self.e_ft1.next = false;
        self.e_fl1.next = self.z32.val();
        for i in 0..H {
            self.e_hf1.next = self.hf1[i].val();
            self.e_hs1.next = self.hs1[i].val();
            self.e_hd1.next = self.hd1[i].val();
            self.e_ft1.next = self.ft1[i].val();
            self.e_fl1.next = self.fl1[i].val();
        }
        // stash continues the chain
        self.hfs[0].next = self.e_hf1.val() || self.ms[0].val();
        self.hss[0].next = self.e_hs1.val();
        self.hds[0].next = self.e_hd1.val();
        if self.ms[0].val() {
            self.hss[0].next = self.e_hs1.val() | self.sslot[0].val();
            self.hds[0].next = self.e_hd1.val() | self.csx[0].val();
        }
        self.fts[0].next = self.e_ft1.val() || !self.csx[0].val().get_bit(361);
        self.fls[0].next = self.e_fl1.val();
        if !self.csx[0].val().get_bit(361) && !self.e_ft1.val() {
            self.fls[0].next = self.e_fl1.val() | self.sslot[0].val();
        }
        for i in 1..S {
            self.hfs[i].next = self.hfs[i - 1].val() || self.ms[i].val();
            self.hss[i].next = self.hss[i - 1].val();
            self.hds[i].next = self.hds[i - 1].val();
            if self.ms[i].val() {
                self.hss[i].next = self.hss[i - 1].val() | self.sslot[i].val();
                self.hds[i].next = self.hds[i - 1].val() | self.csx[i].val();
            }
            self.fts[i].next = self.fts[i - 1].val() || !self.csx[i].val().get_bit(361);
            self.fls[i].next = self.fls[i - 1].val();
            if !self.csx[i].val().get_bit(361) && !self.fts[i - 1].val() {
                self.fls[i].next = self.fls[i - 1].val() | self.sslot[i].val();
            }
        }
        self.e_hfs.next = false;
        self.e_hss.next = self.z32.val();
        self.e_hds.next = self.zero_e.val();
        self.e_fts.next = false;
        self.e_fls.next = self.z32.val();
        for i in 0..S {
            self.e_hfs.next = self.hfs[i].val();
            self.e_hss.next = self.hss[i].val();
            self.e_hds.next = self.hds[i].val();
            self.e_fts.next = self.fts[i].val();
            self.e_fls.next = self.fls[i].val();
        }
        self.p3_valid.d.next = self.p2_valid.q.val();
        self.p3_eng.d.next = self.p2_eng.q.val();
        self.p3_found.d.next = self.e_hfs.val();
        self.p3_slot.d.next = self.e_hss.val();
        self.p3_entry.d.next = self.e_hds.val();
        self.p3_free.d.next = self.e_fts.val();
        self.p3_free_slot.d.next = self.e_fls.val();

        // ---------------------------------------------------------------- results
        self.res_valid.next = self.p3_valid.q.val() && !self.p3_eng.q.val();
        self.res_found.next = self.p3_found.q.val();
        self.res_age.next = self.now.val() - self.p3_entry.q.val().get_bits::<32>(297);
        self.res_live.next = self.res_age.val() < self.p3_entry.q.val().get_bits::<32>(329);
        self.res_hit.next = self.p3_found.q.val() && self.res_live.val();
        self.res_slot.next = self.p3_slot.q.val();
        self.res_entry.next = self.p3_entry.q.val();

        // ---------------------------------------------------------------- engine state
        self.state.d.next = self.state.q.val();
        self.e_op.d.next = self.e_op.q.val();
        self.e_learn.d.next = self.e_learn.q.val();
        self.e_entry.d.next = self.e_entry.q.val();
        self.e_h0.d.next = self.e_h0.q.val();
        self.e_h1.d.next = self.e_h1.q.val();
        self.e_slot.d.next = self.e_slot.q.val();
        self.o_status.d.next = self.o_status.q.val();
        self.o_slot.d.next = self.o_slot.q.val();
        self.o_entry.d.next = self.o_entry.q.val();
        self.o_cmd_done.d.next = false;
        self.o_ln_done.d.next = false;
        self.sw_ptr.d.next = self.sw_ptr.q.val();
        self.sw_laps.d.next = self.sw_laps.q.val();
        self.r_found.d.next = self.r_found.q.val();
        self.r_slot.d.next = self.r_slot.q.val();
        self.r_entry.d.next = self.r_entry.q.val();
        self.r_free.d.next = self.r_free.q.val();
        self.r_free_slot.d.next = self.r_free_slot.q.val();
        if self.p3_valid.q.val() && self.p3_eng.q.val() {
            self.r_found.d.next = self.p3_found.q.val();
            self.r_slot.d.next = self.p3_slot.q.val();
            self.r_entry.d.next = self.p3_entry.q.val();
            self.r_free.d.next = self.p3_free.q.val();
            self.r_free_slot.d.next = self.p3_free_slot.q.val();
        } else if self.wb_en.val() && (self.wb_slot.val() == self.e_slot.q.val()) {
            // the sweep's copy of its slot follows later writes
            self.r_entry.d.next = self.wr_data.val();
        }
        // quiet: clocks since the last accepted lookup or write-back (saturating)
        if (self.iss_valid.val() && !self.iss_eng.val()) || self.wb_en.val() {
            self.quiet.d.next = 0.into();
        } else if self.quiet.q.val() == 255 {
            self.quiet.d.next = self.quiet.q.val();
        } else {
            self.quiet.d.next = self.quiet.q.val() + 1;
        }
        // sweep pacing
        if !self.sweep_en.val() {
            self.sw_tmr.d.next = 0.into();
        } else if self.sw_tmr.q.val() == 0xffff {
            self.sw_tmr.d.next = self.sw_tmr.q.val();
        } else {
            self.sw_tmr.d.next = self.sw_tmr.q.val() + 1;
        }
        self.ln_ready.next = self.state.q.val() == 0;
        self.cmd_ready.next = (self.state.q.val() == 0) && !self.ln_valid.val();
        self.sw_step.next = false;
        self.ev_valid.next = false;
        if self.state.q.val() == 0 {
            if self.ln_valid.val() {
                self.e_op.d.next = bits::<4>(2);
                self.e_learn.d.next = true;
                self.e_entry.d.next = self.ln_entry.val();
                self.e_h0.d.next = self.ln_h0.val();
                self.e_h1.d.next = self.ln_h1.val();
                self.state.d.next = bits::<4>(1);
            } else if self.cmd_valid.val() {
                self.e_op.d.next = self.cmd_op.val();
                self.e_learn.d.next = false;
                self.e_entry.d.next = self.cmd_entry.val();
                self.e_h0.d.next = self.cmd_h0.val();
                self.e_h1.d.next = self.cmd_h1.val();
                self.e_slot.d.next = self.cmd_slot.val();
                self.state.d.next = bits::<4>(1);
            } else if self.sweep_en.val() && (self.sw_tmr.q.val() > self.sweep_interval.val()) {
                self.e_slot.d.next = self.sw_ptr.q.val();
                self.state.d.next = bits::<4>(5);
            }
        } else if self.state.q.val() == 1 {
            if self.quiet.q.val() >= self.drain.val() {
                self.state.d.next = bits::<4>(2);
            }
        } else if self.state.q.val() == 2 {
            self.state.d.next = bits::<4>(3);
        } else if self.state.q.val() == 3 {
            if self.p3_valid.q.val() && self.p3_eng.q.val() {
                self.state.d.next = bits::<4>(4);
            }
        } else if self.state.q.val() == 4 {
            if self.act_go.val() {
                self.o_status.d.next = self.act_status.val();
                self.o_slot.d.next = self.act_slot.val();
                self.o_entry.d.next = self.act_entry.val();
                self.o_cmd_done.d.next = !self.e_learn.q.val();
                self.o_ln_done.d.next = self.e_learn.q.val();
                self.state.d.next = bits::<4>(0);
            }
        } else if self.state.q.val() == 5 {
            if !self.lk_valid.val() {
                self.sw_tmr.d.next = 0.into();
                self.state.d.next = bits::<4>(6);
            }
        } else if self.state.q.val() == 6 {
            if self.p3_valid.q.val() && self.p3_eng.q.val() {
                self.state.d.next = bits::<4>(7);
            }
        } else if self.state.q.val() == 7 {
            if self.expired.val() {
                self.state.d.next = bits::<4>(8);
            } else {
                self.state.d.next = bits::<4>(0);
                self.sw_step.next = true;
            }
        } else if self.state.q.val() == 8 {
            if !self.wb_en.val() {
                self.state.d.next = bits::<4>(9);
            }
        } else if self.state.q.val() == 9 {
            self.ev_valid.next = true;
            if self.ev_ready.val() {
                self.state.d.next = bits::<4>(0);
                self.sw_step.next = true;
            }
        } else {
            self.state.d.next = bits::<4>(0);
        }
        // sweep position, laps and rate (AGING.POS / LAPS / RATE): a visit done moves on
        if self.sw_step.val() {
            if self.sw_ptr.q.val() + 1 >= self.capacity.val() {
                self.sw_ptr.d.next = 0.into();
                self.sw_laps.d.next = self.sw_laps.q.val() + 1;
            } else {
                self.sw_ptr.d.next = self.sw_ptr.q.val() + 1;
            }
        }
        // Each tick owes `sweep_rate` visits, each visit pays one (idle-clock visits too). The
        // debt is capped at a lap: a jump of `now` asks for no more than one pass of the table.
        self.sw_last_now.d.next = self.now.val();
        self.sw_credit.d.next = self.sw_credit.q.val();
        if !self.sweep_en.val() {
            self.sw_credit.d.next = 0.into();
        } else if self.now.val() != self.sw_last_now.q.val() {
            if self.sw_credit.q.val() + bit_cast::<32, 16>(self.sweep_rate.val())
                >= self.capacity.val()
            {
                self.sw_credit.d.next = self.capacity.val();
            } else {
                self.sw_credit.d.next =
                    self.sw_credit.q.val() + bit_cast::<32, 16>(self.sweep_rate.val());
            }
        } else if self.sw_step.val() && (self.sw_credit.q.val() != 0) {
            self.sw_credit.d.next = self.sw_credit.q.val() - 1;
        }
        // A sweep more than a tick's visits behind, waiting for a clock without a lookup, asks
        // for one (the stream skips a clock; the gap reaches the table a pipeline later): once,
        // again after 64 clocks. One tick of slack: visits in the clocks the stream leaves free
        // pay a tick's debt without a skipped clock, and a tick change alone never stalls.
        self.sweep_due.next = false;
        if (self.state.q.val() == 5)
            && (self.sw_credit.q.val() > bit_cast::<32, 16>(self.sweep_rate.val()))
        {
            if self.sw_asked.q.val() == 0 {
                self.sweep_due.next = true;
            }
            if self.sw_asked.q.val() == 63 {
                self.sw_asked.d.next = 0.into();
            } else {
                self.sw_asked.d.next = self.sw_asked.q.val() + 1;
            }
        } else {
            self.sw_asked.d.next = 0.into();
        }
        self.sweep_pos.next = self.sw_ptr.q.val();
        self.sweep_laps.next = self.sw_laps.q.val();
        self.ev_slot.next = self.e_slot.q.val();
        self.ev_entry.next = self.r_entry.q.val();
        self.cmd_done.next = self.o_cmd_done.q.val();
        self.ln_done.next = self.o_ln_done.q.val();
        self.eng_status.next = self.o_status.q.val();
        self.eng_slot.next = self.o_slot.q.val();
        self.eng_entry.next = self.o_entry.q.val();
    }
}

/// Stored image of the common fields (key words, timers, valid); value bits zero.
pub fn stored_base<const E: usize>(
    key: &[u32; 10],
    last_refresh: u32,
    timeout: u32,
    valid: bool,
) -> Bits<E> {
    let mut b: Bits<E> = Bits::default();
    for (i, w) in key.iter().enumerate().take(9) {
        b.set_bits::<32>(32 * i, bits(*w as u64));
    }
    b.set_bits::<9>(288, bits((key[9] & 0x1ff) as u64));
    b.set_bits::<32>(LR_LO, bits(last_refresh as u64));
    b.set_bits::<32>(TO_LO, bits(timeout as u64));
    b.replace_bit(VALID_BIT, valid)
}

/// Key words of a stored image.
pub fn stored_key<const E: usize>(b: Bits<E>) -> [u32; 10] {
    let mut k = [0u32; 10];
    for (i, w) in k.iter_mut().enumerate().take(9) {
        *w = b.get_bits::<32>(32 * i).to_u32();
    }
    k[9] = b.get_bits::<9>(288).to_u32();
    k
}

/// Conn entry -> stored image ([`CONN_BITS`]): value bits `fwd` 364..362, `controlled` 365,
/// `ops` 366, `syn_miss` 367, `ev_next` 368, `state` 372..369, `dest` 380..373,
/// `dest_gen` 388..381, `dport` 404..389.
pub fn conn_pack(e: &lvsnic_abi::entries::ConnEntry) -> Bits<CONN_BITS> {
    let k = e.key.words().expect("conn key");
    let mut b = stored_base::<CONN_BITS>(&k, e.last_refresh, e.timeout_ms, true);
    b.set_bits::<3>(362, bits(e.fwd as u64));
    b = b.replace_bit(365, e.controlled);
    b = b.replace_bit(366, e.ops);
    b = b.replace_bit(367, e.syn_miss);
    b = b.replace_bit(368, e.ev_next);
    b.set_bits::<4>(369, bits(e.state as u64));
    b.set_bits::<8>(373, bits(e.dest as u64));
    b.set_bits::<8>(381, bits(e.dest_gen as u64));
    b.set_bits::<16>(389, bits(e.dport as u64));
    b
}

/// Template entry -> stored image ([`TEMPLATE_BITS`]): value bits `learn` 362,
/// `dport_from_dest` 363, `dest` 371..364, `dest_gen` 379..372.
pub fn template_pack(e: &lvsnic_abi::entries::TemplateEntry) -> Bits<TEMPLATE_BITS> {
    let k = e.key.words().expect("template key");
    let mut b = stored_base::<TEMPLATE_BITS>(&k, e.last_refresh, e.timeout_ms, true);
    b = b.replace_bit(362, e.learn);
    b = b.replace_bit(363, e.dport_from_dest);
    b.set_bits::<8>(364, bits(e.dest as u64));
    b.set_bits::<8>(372, bits(e.dest_gen as u64));
    b
}

#[cfg(test)]
mod tests;
