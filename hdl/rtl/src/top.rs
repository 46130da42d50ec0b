//! The card (`top`): packet stream in, verdict records out, the EVQ's DMA write port, the BAR0
//! register bus and the interrupt.
//!
//! ```text
//!  s_* ─► FRONT (parser 3 ─► fwmark 3 ─► service 2) ──► KeyForm 1 ──► LOOKUP (jhash 13 ─► tables 3)
//!            │ header + service result                 conn key,       │ conn / template results
//!            └──────────► context RAM (32 x 367 b, read 17 clocks later) ┤
//!                                                        dest table 1 ◄──┘ (A: conn's dest, B: tpl's dest)
//!                                                              ▼
//!                                                         Verdict 1 ─► v_* (verdict record, DR MAC)
//!                                                              ├─► write-backs / learn inserts ─► LOOKUP
//!                                                              └─► Records ─► EventQueue ─► dma_* , irq
//!  reg_* ◄─► RegFile ─► CTRL/TIME/LEARN/EVQ registers, `now`; CMD doorbell ─► dest table write port
//! ```
//!
//! Latency from the cycle the packet's trigger beat (its last beat) is accepted to `v_valid`:
//! [`TOTAL_LATENCY`] = 8 + 1 + 16 + 1 + 1 = **27 clocks**; II = 1 (one packet per clock).
//!
//! **Integration status.** The front end (parser/fwmark/service, `hdl-front`) and the hash
//! tables (jhash/conn/template tables, `hdl-tables`) are being written in parallel; until they are
//! merged this top instantiates two placeholders with their latencies and the port names of the
//! real blocks, marked `TODO(integration)`:
//! * [`FrontStub`]: counts packets and emits, [`FRONT_LATENCY`] clocks after a packet's last beat,
//!   a header record with `parsed = 0` (so every packet misses `Unparsed`).
//! * [`LookupStub`]: delays `in_valid` by [`LOOKUP_LATENCY`] and reports no conn / template hit;
//!   it takes the verdict's write-back / learn strobes and ignores them.
//!
//! Everything else is real: register file, key formation (conn key and the masked template key),
//! context RAM and delay alignment, dest table and its MMIO command path, verdict + DR MAC,
//! record formation (miss, learn, flag, ops-expire), the event queue with DMA and interrupt,
//! statistics, and packet-stream back-pressure.
use crate::common::default_array;
use crate::dest::DestTable;
use crate::fwmark::{FwmarkRules, LATENCY as FWMARK_LATENCY, RULE_BITS};
use crate::hash::{JHashPipe, LATENCY as HASH_LATENCY};
use crate::parser::{
    Parser, DATA_BITS as PARSER_DATA_BITS, LATENCY as PARSER_LATENCY, VERDICT_MALFORMED, VERDICT_OK,
};
use crate::queue::{EventQueue, DMA_BITS, REC_BITS};
use crate::regfile::RegFile;
use crate::service::{ServiceLookup, LATENCY as SERVICE_LATENCY, SERVICE_BITS};
use crate::table::{
    HashTable, CONN_BITS, KEY_BITS as TKEY_BITS, LATENCY as TABLE_LATENCY, LR_LO, TEMPLATE_BITS,
    VALID_BIT,
};
use crate::verdict::{Verdict, KIND_MISS};
use lvsnic_abi::entries::TableId;
use lvsnic_abi::key::key_fields;
use lvsnic_abi::records::rec;
use lvsnic_abi::{CmdStatus, ExpireCause, MissReason, Opcode, RecordType};
use rust_hdl::prelude::*;

/// Front end: parser (3) + fwmark rules (3) + service lookup (2).
pub const FRONT_LATENCY: usize = PARSER_LATENCY + FWMARK_LATENCY + SERVICE_LATENCY;
/// Key formation.
pub const KEY_LATENCY: usize = 1;
/// jhash pipeline (13) + hash table lookup (3).
pub const LOOKUP_LATENCY: usize = HASH_LATENCY + TABLE_LATENCY;
/// Dest table read.
pub const DEST_LATENCY: usize = 1;
/// Verdict stage.
pub const VERDICT_LATENCY: usize = 1;
/// Trigger beat accepted -> `v_valid`.
pub const TOTAL_LATENCY: usize =
    FRONT_LATENCY + KEY_LATENCY + LOOKUP_LATENCY + DEST_LATENCY + VERDICT_LATENCY;
/// Context RAM: written with the front-end record, read back `CTX_DIST + 1` clocks later (at
/// the verdict input, beside the lookup results).
pub const CTX_DIST: u64 = (KEY_LATENCY + LOOKUP_LATENCY) as u64;
/// Context RAM word: id 16 | parsed | af | vlan | proto 8 | l4 8 | sport 16 | dport 16 | mark 32 |
/// s_hit | s_idx 8 | s_persistent | s_ops | s_host_only | src 128 | dst 128 | s_ftp_host.
pub const CTX_BITS: usize = 368;
const KEY_BITS: usize = 320;
/// Key RAM (conn key | template key): written at the key-formation output, read
/// `KRAM_DIST + 1` = `HASH_LATENCY` clocks later, beside the hashes.
const KRAM_BITS: usize = 2 * KEY_BITS;
const KRAM_DIST: u64 = (HASH_LATENCY - 1) as u64;
/// Stored conn entry bits used here (see `table::conn_pack`).
const C_CTL: usize = 365;
const C_EV_NEXT: usize = 368;
/// Exclusive table access. `idle` counts clocks since the last accepted beat. From
/// `ENG_KEY_AT` the front end and key formation are empty and the conn hash lane may hash a
/// command's key (ready `HASH_LATENCY + 1` clocks later) ...
pub const ENG_KEY_AT: usize = FRONT_LATENCY + KEY_LATENCY + 1;
/// ... and from `ENG_GO_AT` the last packet's verdict and write-back are done: the table
/// command / learn insert is issued then.
pub const ENG_GO_AT: usize = TOTAL_LATENCY + 3;
const _: () = assert!(ENG_GO_AT < 63 && HASH_LATENCY + 1 < 31);
/// Delay of a lookup's hashes to the verdict output (table 3, dest read 1, verdict 1): a learn
/// reuses its packet's conn-key hashes.
const HASH_TO_VERDICT: usize = TABLE_LATENCY + DEST_LATENCY + VERDICT_LATENCY;
/// The tables' own drain (`table` Hazards): LATENCY + result-to-write-back delay (2) + 1.
pub const TABLE_DRAIN: usize = TABLE_LATENCY + 2 + 1;

// ----------------------------------------------------------------------------------------------
/// Parser fields wait in this many register stages for the fwmark rules (3) and the service
/// lookup (2).
pub const FRONT_DELAY: usize = FWMARK_LATENCY + SERVICE_LATENCY;

/// The front end: `parser::Parser` (3) -> `fwmark::FwmarkRules<32>` (3) ->
/// `service::ServiceLookup<64>` (2), [`FRONT_LATENCY`] = 8 clocks from the trigger beat. The
/// parsed header waits in a [`FRONT_DELAY`]-deep register delay line (3 stages feed the service
/// lookup with vaddr/vport beside the fwmark result, 5 stages meet the service result), so all
/// `out_*`/`s_*` outputs belong to the same packet.
#[derive(LogicBlock)]
pub struct Front {
    pub clock: Signal<In, Clock>,
    pub in_valid: Signal<In, Bit>,
    pub in_data: Signal<In, Bits<PARSER_DATA_BITS>>,
    pub in_last: Signal<In, Bit>,
    pub in_nbytes: Signal<In, Bits<7>>,
    // write ports (MMIO commands)
    pub rule_wr_en: Signal<In, Bit>,
    pub rule_wr_idx: Signal<In, Bits<8>>,
    pub rule_wr_data: Signal<In, Bits<RULE_BITS>>,
    pub svc_wr_en: Signal<In, Bit>,
    pub svc_wr_idx: Signal<In, Bits<8>>,
    pub svc_wr_data: Signal<In, Bits<SERVICE_BITS>>,
    pub ftp_fallback_en: Signal<In, Bit>,
    pub unpriv_port: Signal<In, Bits<16>>,
    pub out_valid: Signal<Out, Bit>,
    pub out_id: Signal<Out, Bits<16>>,
    /// parser verdict OK
    pub out_parsed: Signal<Out, Bit>,
    /// parser verdict MALFORMED
    pub out_malformed: Signal<Out, Bit>,
    pub out_af: Signal<Out, Bit>,
    pub out_vlan: Signal<Out, Bit>,
    pub out_proto: Signal<Out, Bits<8>>,
    pub out_src: Signal<Out, Bits<128>>,
    pub out_dst: Signal<Out, Bits<128>>,
    pub out_sport: Signal<Out, Bits<16>>,
    pub out_dport: Signal<Out, Bits<16>>,
    /// TCP flags (TCP) or first chunk type (SCTP)
    pub out_l4_info: Signal<Out, Bits<8>>,
    /// mark after the fwmark rules
    pub out_mark: Signal<Out, Bits<32>>,
    pub s_hit: Signal<Out, Bit>,
    pub s_idx: Signal<Out, Bits<8>>,
    pub s_persistent: Signal<Out, Bit>,
    pub s_ops: Signal<Out, Bit>,
    pub s_host_only: Signal<Out, Bit>,
    pub s_is_fwmark: Signal<Out, Bit>,
    pub s_pmask: Signal<Out, Bits<128>>,
    pub s_vport: Signal<Out, Bits<16>>,
    /// the FTP-data fallback found a port-21 service on the VIP: miss HostOnly (kernel order:
    /// before the port-zero service, which the service block then does not report)
    pub s_ftp_host: Signal<Out, Bit>,
    parser: Parser,
    rules: FwmarkRules<32>,
    svc: ServiceLookup<64>,
    d_valid: [DFF<Bit>; FRONT_DELAY],
    d_id: [DFF<Bits<16>>; FRONT_DELAY],
    d_verdict: [DFF<Bits<3>>; FRONT_DELAY],
    d_af: [DFF<Bit>; FRONT_DELAY],
    d_vlan: [DFF<Bit>; FRONT_DELAY],
    d_proto: [DFF<Bits<8>>; FRONT_DELAY],
    d_src: [DFF<Bits<128>>; FRONT_DELAY],
    d_dst: [DFF<Bits<128>>; FRONT_DELAY],
    d_sport: [DFF<Bits<16>>; FRONT_DELAY],
    d_dport: [DFF<Bits<16>>; FRONT_DELAY],
    d_l4: [DFF<Bits<8>>; FRONT_DELAY],
    d_mark: [DFF<Bits<32>>; SERVICE_LATENCY],
    k_ok: Constant<Bits<3>>,
    k_malformed: Constant<Bits<3>>,
    k_host_only: Constant<Bits<4>>,
}

impl Default for Front {
    fn default() -> Self {
        Front {
            clock: Default::default(),
            in_valid: Default::default(),
            in_data: Default::default(),
            in_last: Default::default(),
            in_nbytes: Default::default(),
            rule_wr_en: Default::default(),
            rule_wr_idx: Default::default(),
            rule_wr_data: Default::default(),
            svc_wr_en: Default::default(),
            svc_wr_idx: Default::default(),
            svc_wr_data: Default::default(),
            ftp_fallback_en: Default::default(),
            unpriv_port: Default::default(),
            out_valid: Default::default(),
            out_id: Default::default(),
            out_parsed: Default::default(),
            out_malformed: Default::default(),
            out_af: Default::default(),
            out_vlan: Default::default(),
            out_proto: Default::default(),
            out_src: Default::default(),
            out_dst: Default::default(),
            out_sport: Default::default(),
            out_dport: Default::default(),
            out_l4_info: Default::default(),
            out_mark: Default::default(),
            s_hit: Default::default(),
            s_idx: Default::default(),
            s_persistent: Default::default(),
            s_ops: Default::default(),
            s_host_only: Default::default(),
            s_is_fwmark: Default::default(),
            s_pmask: Default::default(),
            s_vport: Default::default(),
            s_ftp_host: Default::default(),
            parser: Default::default(),
            rules: Default::default(),
            svc: Default::default(),
            d_valid: default_array(),
            d_id: default_array(),
            d_verdict: default_array(),
            d_af: default_array(),
            d_vlan: default_array(),
            d_proto: default_array(),
            d_src: default_array(),
            d_dst: default_array(),
            d_sport: default_array(),
            d_dport: default_array(),
            d_l4: default_array(),
            d_mark: default_array(),
            k_ok: Constant::new(VERDICT_OK.into()),
            k_malformed: Constant::new(VERDICT_MALFORMED.into()),
            k_host_only: Constant::new((MissReason::HostOnly as u64).into()),
        }
    }
}

impl Logic for Front {
    #[hdl_gen]
    fn update(&mut self) {
        clock!(self, clock, parser, rules, svc);
        for i in 0..FRONT_DELAY {
            self.d_valid[i].clock.next = self.clock.val();
            self.d_id[i].clock.next = self.clock.val();
            self.d_verdict[i].clock.next = self.clock.val();
            self.d_af[i].clock.next = self.clock.val();
            self.d_vlan[i].clock.next = self.clock.val();
            self.d_proto[i].clock.next = self.clock.val();
            self.d_src[i].clock.next = self.clock.val();
            self.d_dst[i].clock.next = self.clock.val();
            self.d_sport[i].clock.next = self.clock.val();
            self.d_dport[i].clock.next = self.clock.val();
            self.d_l4[i].clock.next = self.clock.val();
        }
        // parser
        self.parser.in_valid.next = self.in_valid.val();
        self.parser.in_data.next = self.in_data.val();
        self.parser.in_last.next = self.in_last.val();
        self.parser.in_nbytes.next = self.in_nbytes.val();
        // header delay line
        self.d_valid[0].d.next = self.parser.out_valid.val();
        self.d_id[0].d.next = self.parser.out_id.val();
        self.d_verdict[0].d.next = self.parser.out_verdict.val();
        self.d_af[0].d.next = self.parser.out_af.val();
        self.d_vlan[0].d.next = self.parser.out_vlan.val();
        self.d_proto[0].d.next = self.parser.out_proto.val();
        self.d_src[0].d.next = self.parser.out_src.val();
        self.d_dst[0].d.next = self.parser.out_dst.val();
        self.d_sport[0].d.next = self.parser.out_sport.val();
        self.d_dport[0].d.next = self.parser.out_dport.val();
        self.d_l4[0].d.next = self.parser.out_tcp_flags.val();
        if self.parser.out_proto.val() == 132 {
            self.d_l4[0].d.next = self.parser.out_sctp_chunk.val();
        }
        for i in 1..FRONT_DELAY {
            self.d_valid[i].d.next = self.d_valid[i - 1].q.val();
            self.d_id[i].d.next = self.d_id[i - 1].q.val();
            self.d_verdict[i].d.next = self.d_verdict[i - 1].q.val();
            self.d_af[i].d.next = self.d_af[i - 1].q.val();
            self.d_vlan[i].d.next = self.d_vlan[i - 1].q.val();
            self.d_proto[i].d.next = self.d_proto[i - 1].q.val();
            self.d_src[i].d.next = self.d_src[i - 1].q.val();
            self.d_dst[i].d.next = self.d_dst[i - 1].q.val();
            self.d_sport[i].d.next = self.d_sport[i - 1].q.val();
            self.d_dport[i].d.next = self.d_dport[i - 1].q.val();
            self.d_l4[i].d.next = self.d_l4[i - 1].q.val();
        }
        // fwmark rules on the parser output (packets arrive without a mark)
        self.rules.wr_en.next = self.rule_wr_en.val();
        self.rules.wr_idx.next = self.rule_wr_idx.val();
        self.rules.wr_data.next = self.rule_wr_data.val();
        self.rules.in_valid.next = self.parser.out_valid.val();
        self.rules.in_af.next = self.parser.out_af.val();
        self.rules.in_proto.next = self.parser.out_proto.val();
        self.rules.in_src.next = self.parser.out_src.val();
        self.rules.in_dst.next = self.parser.out_dst.val();
        self.rules.in_sport.next = self.parser.out_sport.val();
        self.rules.in_dport.next = self.parser.out_dport.val();
        self.rules.in_mark.next = 0.into();
        // service lookup: header 3 stages late, beside the mark
        self.svc.wr_en.next = self.svc_wr_en.val();
        self.svc.wr_idx.next = self.svc_wr_idx.val();
        self.svc.wr_data.next = self.svc_wr_data.val();
        self.svc.ftp_fallback_en.next = self.ftp_fallback_en.val();
        self.svc.unpriv_port.next = self.unpriv_port.val();
        self.svc.in_valid.next = self.rules.out_valid.val();
        self.svc.in_af.next = self.d_af[2].q.val();
        self.svc.in_proto.next = self.d_proto[2].q.val();
        self.svc.in_vaddr.next = self.d_dst[2].q.val();
        self.svc.in_vport.next = self.d_dport[2].q.val();
        self.svc.in_mark.next = self.rules.out_mark.val();
        // the mark waits for the service result
        self.d_mark[0].clock.next = self.clock.val();
        self.d_mark[1].clock.next = self.clock.val();
        self.d_mark[0].d.next = self.rules.out_mark.val();
        self.d_mark[1].d.next = self.d_mark[0].q.val();
        // outputs: header 5 stages late, beside the service result
        self.out_valid.next = self.d_valid[4].q.val();
        self.out_id.next = self.d_id[4].q.val();
        self.out_parsed.next = self.d_verdict[4].q.val() == self.k_ok.val();
        self.out_malformed.next = self.d_verdict[4].q.val() == self.k_malformed.val();
        self.out_af.next = self.d_af[4].q.val();
        self.out_vlan.next = self.d_vlan[4].q.val();
        self.out_proto.next = self.d_proto[4].q.val();
        self.out_src.next = self.d_src[4].q.val();
        self.out_dst.next = self.d_dst[4].q.val();
        self.out_sport.next = self.d_sport[4].q.val();
        self.out_dport.next = self.d_dport[4].q.val();
        self.out_l4_info.next = self.d_l4[4].q.val();
        self.out_mark.next = self.d_mark[1].q.val();
        self.s_hit.next = self.svc.out_hit.val();
        self.s_idx.next = self.svc.out_idx.val();
        self.s_persistent.next = self.svc.out_persistent.val();
        self.s_ops.next = self.svc.out_ops.val();
        self.s_host_only.next = self.svc.out_host_only.val();
        self.s_is_fwmark.next = self.svc.out_is_fwmark.val();
        self.s_pmask.next = self.svc.out_pmask.val();
        self.s_vport.next = self.svc.out_vport.val();
        self.s_ftp_host.next = !self.svc.out_hit.val()
            && self.svc.out_miss.val()
            && (self.svc.out_reason.val() == self.k_host_only.val());
    }
}

// ----------------------------------------------------------------------------------------------
/// Key formation (latency 1): the conn key from the packet, and the template key per the ABI's
/// `template_key` rules — client address masked with the service's `pmask` **before** hashing,
/// cport 0; fwmark service: proto 0, vaddr = mark (word 0), vport 0; port-zero service (service
/// vport 0): vport 0; else the packet's vport. Field positions come from `lvsnic_abi::key`.
#[derive(LogicBlock)]
pub struct KeyForm {
    pub clock: Signal<In, Clock>,
    pub in_valid: Signal<In, Bit>,
    pub af: Signal<In, Bit>,
    pub proto: Signal<In, Bits<8>>,
    pub src: Signal<In, Bits<128>>,
    pub dst: Signal<In, Bits<128>>,
    pub sport: Signal<In, Bits<16>>,
    pub dport: Signal<In, Bits<16>>,
    pub mark: Signal<In, Bits<32>>,
    pub s_is_fwmark: Signal<In, Bit>,
    pub s_pmask: Signal<In, Bits<128>>,
    pub s_vport: Signal<In, Bits<16>>,
    pub out_valid: Signal<Out, Bit>,
    pub conn_key: Signal<Out, Bits<KEY_BITS>>,
    pub tpl_key: Signal<Out, Bits<KEY_BITS>>,
    p_caddr: Constant<Bits<10>>,
    p_vaddr: Constant<Bits<10>>,
    p_cport: Constant<Bits<10>>,
    p_vport: Constant<Bits<10>>,
    p_proto: Constant<Bits<10>>,
    p_af: Constant<Bits<10>>,
    t_vaddr: Signal<Local, Bits<128>>,
    t_vport: Signal<Local, Bits<16>>,
    t_proto: Signal<Local, Bits<8>>,
    q_valid: DFF<Bit>,
    q_conn: DFF<Bits<KEY_BITS>>,
    q_tpl: DFF<Bits<KEY_BITS>>,
}

fn pos(lsb: u16) -> Constant<Bits<10>> {
    Constant::new((lsb as u64).into())
}

impl Default for KeyForm {
    fn default() -> Self {
        let f = key_fields(0);
        KeyForm {
            clock: Default::default(),
            in_valid: Default::default(),
            af: Default::default(),
            proto: Default::default(),
            src: Default::default(),
            dst: Default::default(),
            sport: Default::default(),
            dport: Default::default(),
            mark: Default::default(),
            s_is_fwmark: Default::default(),
            s_pmask: Default::default(),
            s_vport: Default::default(),
            out_valid: Default::default(),
            conn_key: Default::default(),
            tpl_key: Default::default(),
            p_caddr: pos(f[0].lsb),
            p_vaddr: pos(f[1].lsb),
            p_cport: pos(f[2].lsb),
            p_vport: pos(f[3].lsb),
            p_proto: pos(f[4].lsb),
            p_af: pos(f[5].lsb),
            t_vaddr: Default::default(),
            t_vport: Default::default(),
            t_proto: Default::default(),
            q_valid: Default::default(),
            q_conn: Default::default(),
            q_tpl: Default::default(),
        }
    }
}

impl Logic for KeyForm {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, q_valid, q_conn, q_tpl);
        self.q_valid.d.next = self.in_valid.val();
        self.q_conn.d.next = (bit_cast::<KEY_BITS, 128>(self.src.val()) << self.p_caddr.val())
            | (bit_cast::<KEY_BITS, 128>(self.dst.val()) << self.p_vaddr.val())
            | (bit_cast::<KEY_BITS, 16>(self.sport.val()) << self.p_cport.val())
            | (bit_cast::<KEY_BITS, 16>(self.dport.val()) << self.p_vport.val())
            | (bit_cast::<KEY_BITS, 8>(self.proto.val()) << self.p_proto.val())
            | (bit_cast::<KEY_BITS, 1>(self.af.val().into()) << self.p_af.val());
        self.t_vaddr.next = self.dst.val();
        self.t_proto.next = self.proto.val();
        self.t_vport.next = self.dport.val();
        if self.s_vport.val() == 0 {
            self.t_vport.next = 0.into();
        }
        if self.s_is_fwmark.val() {
            self.t_vaddr.next = bit_cast::<128, 32>(self.mark.val());
            self.t_proto.next = 0.into();
            self.t_vport.next = 0.into();
        }
        self.q_tpl.d.next = (bit_cast::<KEY_BITS, 128>(self.src.val() & self.s_pmask.val())
            << self.p_caddr.val())
            | (bit_cast::<KEY_BITS, 128>(self.t_vaddr.val()) << self.p_vaddr.val())
            | (bit_cast::<KEY_BITS, 16>(self.t_vport.val()) << self.p_vport.val())
            | (bit_cast::<KEY_BITS, 8>(self.t_proto.val()) << self.p_proto.val())
            | (bit_cast::<KEY_BITS, 1>(self.af.val().into()) << self.p_af.val());
        self.out_valid.next = self.q_valid.q.val();
        self.conn_key.next = self.q_conn.q.val();
        self.tpl_key.next = self.q_tpl.q.val();
    }
}

// ----------------------------------------------------------------------------------------------
/// Record formation (combinational): the 64-byte images of MissRecord, LearnEvent, FlagEvent
/// and ExpireEvent (cause Ops) from the verdict outputs and the packet's context; every field
/// position is the ABI's (`lvsnic_abi::records::rec`, key fields at word 1).
#[derive(LogicBlock)]
pub struct Records {
    // verdict
    pub reason: Signal<In, Bits<4>>,
    pub pkt_id: Signal<In, Bits<32>>,
    pub mark: Signal<In, Bits<32>>,
    pub svc: Signal<In, Bits<8>>,
    pub l4_info: Signal<In, Bits<8>>,
    pub dest: Signal<In, Bits<8>>,
    pub c_idx: Signal<In, Bits<32>>,
    pub c_state: Signal<In, Bits<4>>,
    pub c_gen: Signal<In, Bits<8>>,
    pub c_ctl: Signal<In, Bit>,
    pub t_idx: Signal<In, Bits<32>>,
    pub learn_gen: Signal<In, Bits<8>>,
    pub learn_ops: Signal<In, Bit>,
    pub now: Signal<In, Bits<32>>,
    // context
    pub parsed: Signal<In, Bit>,
    pub vlan: Signal<In, Bit>,
    pub af: Signal<In, Bit>,
    pub proto: Signal<In, Bits<8>>,
    pub src: Signal<In, Bits<128>>,
    pub dst: Signal<In, Bits<128>>,
    pub sport: Signal<In, Bits<16>>,
    pub dport: Signal<In, Bits<16>>,
    // records
    pub miss_rec: Signal<Out, Bits<REC_BITS>>,
    pub learn_rec: Signal<Out, Bits<REC_BITS>>,
    pub flag_rec: Signal<Out, Bits<REC_BITS>>,
    pub exp_rec: Signal<Out, Bits<REC_BITS>>,
    key: Signal<Local, Bits<REC_BITS>>,
    tick: Signal<Local, Bits<REC_BITS>>,
    k_miss: Constant<Bits<REC_BITS>>,
    k_learn: Constant<Bits<REC_BITS>>,
    k_flag: Constant<Bits<REC_BITS>>,
    k_exp_ops: Constant<Bits<REC_BITS>>,
    k_no_conn: Constant<Bits<REC_BITS>>,
    p_caddr: Constant<Bits<10>>,
    p_vaddr: Constant<Bits<10>>,
    p_cport: Constant<Bits<10>>,
    p_vport: Constant<Bits<10>>,
    p_proto: Constant<Bits<10>>,
    p_af: Constant<Bits<10>>,
    p_tick: Constant<Bits<10>>,
    p_m_reason: Constant<Bits<10>>,
    p_m_l4_valid: Constant<Bits<10>>,
    p_m_vlan_valid: Constant<Bits<10>>,
    p_m_l4_info: Constant<Bits<10>>,
    p_m_fwmark: Constant<Bits<10>>,
    p_m_svc: Constant<Bits<10>>,
    p_m_pkt_id: Constant<Bits<10>>,
    p_l_ops: Constant<Bits<10>>,
    p_l_tpl: Constant<Bits<10>>,
    p_l_dest: Constant<Bits<10>>,
    p_l_gen: Constant<Bits<10>>,
    p_l_svc: Constant<Bits<10>>,
    p_f_flags: Constant<Bits<10>>,
    p_f_index: Constant<Bits<10>>,
    p_f_dest: Constant<Bits<10>>,
    p_f_state: Constant<Bits<10>>,
    p_e_index: Constant<Bits<10>>,
    p_e_dest: Constant<Bits<10>>,
    p_e_gen: Constant<Bits<10>>,
    p_e_ctl: Constant<Bits<10>>,
    p_e_state: Constant<Bits<10>>,
    p_e_last: Constant<Bits<10>>,
}

/// A record constant from `(value, lsb)` field pairs.
fn rec_const(fields: &[(u64, u16)]) -> Constant<Bits<REC_BITS>> {
    let mut b = Bits::<REC_BITS>::default();
    for (v, lsb) in fields {
        for k in 0..64 {
            if (v >> k) & 1 == 1 {
                b = b.replace_bit(*lsb as usize + k, true);
            }
        }
    }
    Constant::new(b)
}

impl Default for Records {
    fn default() -> Self {
        let kf = key_fields(1);
        let ty = |t: RecordType| (t as u64, rec::TYPE.lsb);
        Records {
            reason: Default::default(),
            pkt_id: Default::default(),
            mark: Default::default(),
            svc: Default::default(),
            l4_info: Default::default(),
            dest: Default::default(),
            c_idx: Default::default(),
            c_state: Default::default(),
            c_gen: Default::default(),
            c_ctl: Default::default(),
            t_idx: Default::default(),
            learn_gen: Default::default(),
            learn_ops: Default::default(),
            now: Default::default(),
            parsed: Default::default(),
            vlan: Default::default(),
            af: Default::default(),
            proto: Default::default(),
            src: Default::default(),
            dst: Default::default(),
            sport: Default::default(),
            dport: Default::default(),
            miss_rec: Default::default(),
            learn_rec: Default::default(),
            flag_rec: Default::default(),
            exp_rec: Default::default(),
            key: Default::default(),
            tick: Default::default(),
            k_miss: rec_const(&[ty(RecordType::Miss)]),
            k_learn: rec_const(&[ty(RecordType::Learn)]),
            k_flag: rec_const(&[ty(RecordType::Flag)]),
            k_exp_ops: rec_const(&[
                ty(RecordType::Expire),
                (ExpireCause::Ops as u64, rec::E_CAUSE.lsb),
            ]),
            // learned conn index is not known here: TODO(integration) (the conn table's learn
            // engine reports it); 0 for now, all-ones for OPS per the ABI
            k_no_conn: rec_const(&[(0xffff_ffff, rec::L_CONN.lsb)]),
            p_caddr: pos(kf[0].lsb),
            p_vaddr: pos(kf[1].lsb),
            p_cport: pos(kf[2].lsb),
            p_vport: pos(kf[3].lsb),
            p_proto: pos(kf[4].lsb),
            p_af: pos(kf[5].lsb),
            p_tick: pos(rec::TICK.lsb),
            p_m_reason: pos(rec::M_REASON.lsb),
            p_m_l4_valid: pos(rec::M_L4_VALID.lsb),
            p_m_vlan_valid: pos(rec::M_VLAN_VALID.lsb),
            p_m_l4_info: pos(rec::M_L4_INFO.lsb),
            p_m_fwmark: pos(rec::M_FWMARK.lsb),
            p_m_svc: pos(rec::M_SVC.lsb),
            p_m_pkt_id: pos(rec::M_PKT_ID.lsb),
            p_l_ops: pos(rec::L_OPS.lsb),
            p_l_tpl: pos(rec::L_TPL.lsb),
            p_l_dest: pos(rec::L_DEST.lsb),
            p_l_gen: pos(rec::L_GEN.lsb),
            p_l_svc: pos(rec::L_SVC.lsb),
            p_f_flags: pos(rec::F_FLAGS.lsb),
            p_f_index: pos(rec::F_INDEX.lsb),
            p_f_dest: pos(rec::F_DEST.lsb),
            p_f_state: pos(rec::F_STATE.lsb),
            p_e_index: pos(rec::E_INDEX.lsb),
            p_e_dest: pos(rec::E_DEST.lsb),
            p_e_gen: pos(rec::E_GEN.lsb),
            p_e_ctl: pos(rec::E_CTL.lsb),
            p_e_state: pos(rec::E_STATE.lsb),
            p_e_last: pos(rec::E_LAST.lsb),
        }
    }
}

impl Logic for Records {
    #[hdl_gen]
    fn update(&mut self) {
        self.key.next = (bit_cast::<REC_BITS, 128>(self.src.val()) << self.p_caddr.val())
            | (bit_cast::<REC_BITS, 128>(self.dst.val()) << self.p_vaddr.val())
            | (bit_cast::<REC_BITS, 16>(self.sport.val()) << self.p_cport.val())
            | (bit_cast::<REC_BITS, 16>(self.dport.val()) << self.p_vport.val())
            | (bit_cast::<REC_BITS, 8>(self.proto.val()) << self.p_proto.val())
            | (bit_cast::<REC_BITS, 1>(self.af.val().into()) << self.p_af.val());
        self.tick.next = bit_cast::<REC_BITS, 32>(self.now.val()) << self.p_tick.val();
        self.miss_rec.next = self.k_miss.val()
            | self.key.val()
            | self.tick.val()
            | (bit_cast::<REC_BITS, 4>(self.reason.val()) << self.p_m_reason.val())
            | (bit_cast::<REC_BITS, 1>(self.parsed.val().into()) << self.p_m_l4_valid.val())
            | (bit_cast::<REC_BITS, 1>(self.vlan.val().into()) << self.p_m_vlan_valid.val())
            | (bit_cast::<REC_BITS, 8>(self.l4_info.val()) << self.p_m_l4_info.val())
            | (bit_cast::<REC_BITS, 32>(self.mark.val()) << self.p_m_fwmark.val())
            | (bit_cast::<REC_BITS, 8>(self.svc.val()) << self.p_m_svc.val())
            | (bit_cast::<REC_BITS, 32>(self.pkt_id.val()) << self.p_m_pkt_id.val());
        self.learn_rec.next = self.k_learn.val()
            | self.key.val()
            | self.tick.val()
            | (bit_cast::<REC_BITS, 1>(self.learn_ops.val().into()) << self.p_l_ops.val())
            | (bit_cast::<REC_BITS, 32>(self.t_idx.val()) << self.p_l_tpl.val())
            | (bit_cast::<REC_BITS, 8>(self.dest.val()) << self.p_l_dest.val())
            | (bit_cast::<REC_BITS, 8>(self.learn_gen.val()) << self.p_l_gen.val())
            | (bit_cast::<REC_BITS, 8>(self.svc.val()) << self.p_l_svc.val());
        if self.learn_ops.val() {
            self.learn_rec.next = self.k_learn.val()
                | self.k_no_conn.val()
                | self.key.val()
                | self.tick.val()
                | (bit_cast::<REC_BITS, 1>(self.learn_ops.val().into()) << self.p_l_ops.val())
                | (bit_cast::<REC_BITS, 32>(self.t_idx.val()) << self.p_l_tpl.val())
                | (bit_cast::<REC_BITS, 8>(self.dest.val()) << self.p_l_dest.val())
                | (bit_cast::<REC_BITS, 8>(self.learn_gen.val()) << self.p_l_gen.val())
                | (bit_cast::<REC_BITS, 8>(self.svc.val()) << self.p_l_svc.val());
        }
        self.flag_rec.next = self.k_flag.val()
            | self.key.val()
            | self.tick.val()
            | (bit_cast::<REC_BITS, 8>(self.l4_info.val()) << self.p_f_flags.val())
            | (bit_cast::<REC_BITS, 32>(self.c_idx.val()) << self.p_f_index.val())
            | (bit_cast::<REC_BITS, 8>(self.dest.val()) << self.p_f_dest.val())
            | (bit_cast::<REC_BITS, 4>(self.c_state.val()) << self.p_f_state.val());
        self.exp_rec.next = self.k_exp_ops.val()
            | self.key.val()
            | self.tick.val()
            | (bit_cast::<REC_BITS, 32>(self.c_idx.val()) << self.p_e_index.val())
            | (bit_cast::<REC_BITS, 8>(self.dest.val()) << self.p_e_dest.val())
            | (bit_cast::<REC_BITS, 8>(self.c_gen.val()) << self.p_e_gen.val())
            | (bit_cast::<REC_BITS, 1>(self.c_ctl.val().into()) << self.p_e_ctl.val())
            | (bit_cast::<REC_BITS, 4>(self.c_state.val()) << self.p_e_state.val())
            | (bit_cast::<REC_BITS, 32>(self.now.val()) << self.p_e_last.val());
    }
}

// ----------------------------------------------------------------------------------------------
/// The card. Ports:
///
/// | port | dir | width | meaning |
/// |---|---|---|---|
/// | `clock` | in | 1 | core clock |
/// | `s_valid`, `s_ready` | in, out | 1 | packet stream handshake (`s_ready` low: the miss FIFO could not take the packets in flight) |
/// | `s_data` | in | 512 | beat of 64 bytes, first byte in bits 511..504 (a frame of up to 64 bytes is one beat) |
/// | `s_last` | in | 1 | last beat of the packet |
/// | `s_keep` | in | 64 | byte enables of the beat (bit 63 = first byte; contiguous from bit 63; all ones on beats before the last); the byte count is its popcount |
/// | `v_valid` | out | 1 | verdict record (one per packet, [`TOTAL_LATENCY`] clocks after the last beat) |
/// | `v_pkt_id` | out | 32 | packet id (the parser's packet counter) |
/// | `v_kind` | out | 2 | 0 forward, 1 drop, 2 miss |
/// | `v_dest` | out | 8 | real-server index (forward) |
/// | `v_reason` | out | 4 | MissReason (miss) |
/// | `v_mark` | out | 32 | fwmark after the rules |
/// | `v_mac` | out | 48 | DR: destination MAC to write into the frame (forward) |
/// | `dma_valid`, `dma_ready` | out, in | 1 | EVQ DMA write port (512-bit beats, one 64-byte record per beat, see `queue`) |
/// | `dma_addr`, `dma_data` | out | 64, 512 | byte address of the ring slot, the record (word i in bits 32i+31..32i) |
/// | `dma_last` | out | 1 | always 1 (a record is one beat) |
/// | `reg_addr`, `reg_wdata`, `reg_wr`, `reg_rd` | in | 16, 32, 1, 1 | BAR0 register bus |
/// | `reg_rdata`, `reg_rvalid` | out | 32, 1 | read data, one clock after `reg_rd` |
/// | `irq` | out | 1 | EVQ interrupt pulse |
#[derive(LogicBlock)]
pub struct Card {
    pub clock: Signal<In, Clock>,
    pub s_valid: Signal<In, Bit>,
    pub s_ready: Signal<Out, Bit>,
    pub s_data: Signal<In, Bits<PARSER_DATA_BITS>>,
    pub s_last: Signal<In, Bit>,
    pub s_keep: Signal<In, Bits<64>>,
    pub v_valid: Signal<Out, Bit>,
    pub v_pkt_id: Signal<Out, Bits<32>>,
    pub v_kind: Signal<Out, Bits<2>>,
    pub v_dest: Signal<Out, Bits<8>>,
    pub v_reason: Signal<Out, Bits<4>>,
    pub v_mark: Signal<Out, Bits<32>>,
    pub v_mac: Signal<Out, Bits<48>>,
    pub dma_valid: Signal<Out, Bit>,
    pub dma_ready: Signal<In, Bit>,
    pub dma_addr: Signal<Out, Bits<64>>,
    pub dma_data: Signal<Out, Bits<DMA_BITS>>,
    pub dma_last: Signal<Out, Bit>,
    pub reg_addr: Signal<In, Bits<16>>,
    pub reg_wdata: Signal<In, Bits<32>>,
    pub reg_wr: Signal<In, Bit>,
    pub reg_rd: Signal<In, Bit>,
    pub reg_rdata: Signal<Out, Bits<32>>,
    pub reg_rvalid: Signal<Out, Bit>,
    pub irq: Signal<Out, Bit>,
    // blocks
    pub regs: RegFile,
    front: Front,
    keys: KeyForm,
    chash: JHashPipe,
    thash: JHashPipe,
    kram: RAM<Bits<KRAM_BITS>, 5>,
    ctab: HashTable<12, 2, 8, CONN_BITS>,
    ttab: HashTable<12, 2, 8, TEMPLATE_BITS>,
    ctx: RAM<Bits<CTX_BITS>, 5>,
    dests: DestTable<8>,
    verdict: Verdict,
    records: Records,
    evq: EventQueue,
    // context / key ring pointer
    wp: DFF<Bits<5>>,
    ctx_dist: Constant<Bits<5>>,
    kram_dist: Constant<Bits<5>>,
    one5: Constant<Bits<5>>,
    // s_keep -> byte count (popcount, SWAR: 2-, 4-, 8-bit partial sums, then 16/32/64)
    kc1: Signal<Local, Bits<64>>,
    kc2: Signal<Local, Bits<64>>,
    kc3: Signal<Local, Bits<64>>,
    kc4: Signal<Local, Bits<64>>,
    kc5: Signal<Local, Bits<64>>,
    k_m1: Constant<Bits<64>>,
    k_m2: Constant<Bits<64>>,
    k_m4: Constant<Bits<64>>,
    // lookup results, held one clock while the dest table is read
    lk_valid: DFF<Bit>,
    lk_c_hit: DFF<Bit>,
    lk_c_idx: DFF<Bits<32>>,
    lk_c_ent: DFF<Bits<CONN_BITS>>,
    lk_t_hit: DFF<Bit>,
    lk_t_idx: DFF<Bits<32>>,
    lk_t_ent: DFF<Bits<TEMPLATE_BITS>>,
    // results after write-back forwarding: at the table output (rc/rt) and at the verdict
    // input (lc/lt)
    rc_ent: Signal<Local, Bits<CONN_BITS>>,
    rt_ent: Signal<Local, Bits<TEMPLATE_BITS>>,
    lc_ent: Signal<Local, Bits<CONN_BITS>>,
    lt_ent: Signal<Local, Bits<TEMPLATE_BITS>>,
    // the entries beside the verdict outputs, and their write-back images
    v_c_ent: DFF<Bits<CONN_BITS>>,
    v_t_ent: DFF<Bits<TEMPLATE_BITS>>,
    c_wb: Signal<Local, Bit>,
    c_wbe: Signal<Local, Bits<CONN_BITS>>,
    t_wbe: Signal<Local, Bits<TEMPLATE_BITS>>,
    keep_c: Constant<Bits<CONN_BITS>>,
    keep_t: Constant<Bits<TEMPLATE_BITS>>,
    // context and conn fields one more clock (verdict latency) for the records
    ctx_d: DFF<Bits<CTX_BITS>>,
    c_gen_d: DFF<Bits<8>>,
    c_ctl_d: DFF<Bit>,
    ctx_q: Signal<Local, Bits<CTX_BITS>>,
    // learn: the entry built from the verdict, waiting for the drained pipeline
    n_key: Signal<Local, Bits<KEY_BITS>>,
    h_d: [DFF<Bits<64>>; HASH_TO_VERDICT],
    l_h: DFF<Bits<64>>,
    lpend: DFF<Bit>,
    l_issued: DFF<Bit>,
    l_push: DFF<Bit>,
    l_ent: DFF<Bits<CONN_BITS>>,
    l_rec: DFF<Bits<REC_BITS>>,
    l_idx: Signal<Local, Bits<32>>,
    k_learn_fixed: Constant<Bits<CONN_BITS>>,
    p_l_conn: Constant<Bits<10>>,
    // exclusive table access: stop the stream, drain, hash the engine key, run
    eng_req: Signal<Local, Bit>,
    eng_ready: Signal<Local, Bit>,
    eng_key_sel: Signal<Local, Bit>,
    idle: DFF<Bits<6>>,
    kcnt: DFF<Bits<5>>,
    k_idle_key: Constant<Bits<6>>,
    k_idle_go: Constant<Bits<6>>,
    k_idle_max: Constant<Bits<6>>,
    k_kcnt_ready: Constant<Bits<5>>,
    k_kcnt_max: Constant<Bits<5>>,
    k_drain: Constant<Bits<8>>,
    // MMIO commands
    cmd_op: Signal<Local, Bits<8>>,
    cmd_op4: Signal<Local, Bits<4>>,
    cmd_table: Signal<Local, Bits<4>>,
    cmd_idx: Signal<Local, Bits<32>>,
    cmd_pl: Signal<Local, Bits<448>>,
    cmd_is_dest: Signal<Local, Bit>,
    cmd_is_svc: Signal<Local, Bit>,
    cmd_is_rule: Signal<Local, Bit>,
    cmd_is_hash: Signal<Local, Bit>,
    cmd_is_write: Signal<Local, Bit>,
    cmd_is_del: Signal<Local, Bit>,
    c_cmd_ent: Signal<Local, Bits<CONN_BITS>>,
    t_cmd_ent: Signal<Local, Bits<TEMPLATE_BITS>>,
    imm_go: Signal<Local, Bit>,
    imm_code: Signal<Local, Bits<8>>,
    c_done: Signal<Local, Bit>,
    c_res_img: Signal<Local, Bits<448>>,
    t_res_img: Signal<Local, Bits<448>>,
    cpend: DFF<Bit>,
    c_tpl: DFF<Bit>,
    c_issued: DFF<Bit>,
    resp: DFF<Bit>,
    resp_code: DFF<Bits<8>>,
    resp_idx: DFF<Bits<32>>,
    resp_res: DFF<Bits<448>>,
    k_table_dest: Constant<Bits<4>>,
    k_table_svc: Constant<Bits<4>>,
    k_table_rule: Constant<Bits<4>>,
    k_table_conn: Constant<Bits<4>>,
    k_table_tpl: Constant<Bits<4>>,
    k_op_write: Constant<Bits<8>>,
    k_op_delete: Constant<Bits<8>>,
    k_st_ok: Constant<Bits<8>>,
    k_st_bad_opcode: Constant<Bits<8>>,
    k_st_bad_table: Constant<Bits<8>>,
    k_st_bad_index: Constant<Bits<8>>,
    k_dests: Constant<Bits<32>>,
    k_svcs: Constant<Bits<32>>,
    k_rules: Constant<Bits<32>>,
    // aging expire events -> aux
    c_ev_take: Signal<Local, Bit>,
    t_ev_take: Signal<Local, Bit>,
    aged_c_rec: Signal<Local, Bits<REC_BITS>>,
    aged_t_rec: Signal<Local, Bits<REC_BITS>>,
    k_aged_c: Constant<Bits<REC_BITS>>,
    k_aged_t: Constant<Bits<REC_BITS>>,
    p_rec_key: Constant<Bits<10>>,
    p_tick: Constant<Bits<10>>,
    p_e_index: Constant<Bits<10>>,
    p_e_dest: Constant<Bits<10>>,
    p_e_gen: Constant<Bits<10>>,
    p_e_ctl: Constant<Bits<10>>,
    p_e_state: Constant<Bits<10>>,
    p_e_last: Constant<Bits<10>>,
    k_ones32: Constant<Bits<32>>,
    k_err_parse: Constant<Bits<32>>,
    k_kind_miss: Constant<Bits<2>>,
    k_base_mask: Constant<Bits<32>>,
}

fn st(s: CmdStatus) -> Constant<Bits<8>> {
    Constant::new((s as u64).into())
}

fn tbl(t: TableId) -> Constant<Bits<4>> {
    Constant::new((t as u64).into())
}

/// A wide constant with the bit ranges `(lsb, width)` set.
fn ones_at<const N: usize>(ranges: &[(usize, usize)]) -> Constant<Bits<N>> {
    let mut b = Bits::<N>::default();
    for &(lsb, w) in ranges {
        for k in lsb..lsb + w {
            b = b.replace_bit(k, true);
        }
    }
    Constant::new(b)
}

/// The complement of [`ones_at`].
fn zeros_at<const N: usize>(ranges: &[(usize, usize)]) -> Constant<Bits<N>> {
    let mut b = Bits::<N>::default();
    for k in 0..N {
        b = b.replace_bit(k, true);
    }
    for &(lsb, w) in ranges {
        for k in lsb..lsb + w {
            b = b.replace_bit(k, false);
        }
    }
    Constant::new(b)
}

impl Default for Card {
    fn default() -> Self {
        let err = lvsnic_abi::regs::block("CTRL")
            .and_then(|b| b.reg("ERROR"))
            .and_then(|r| r.field("parse_error"))
            .expect("CTRL.ERROR.parse_error");
        let ty = |t: RecordType| (t as u64, rec::TYPE.lsb);
        let aged = |table: u64| {
            rec_const(&[
                ty(RecordType::Expire),
                (ExpireCause::Aged as u64, rec::E_CAUSE.lsb),
                (table, rec::E_TABLE.lsb),
            ])
        };
        Card {
            clock: Default::default(),
            s_valid: Default::default(),
            s_ready: Default::default(),
            s_data: Default::default(),
            s_last: Default::default(),
            s_keep: Default::default(),
            v_valid: Default::default(),
            v_pkt_id: Default::default(),
            v_kind: Default::default(),
            v_dest: Default::default(),
            v_reason: Default::default(),
            v_mark: Default::default(),
            v_mac: Default::default(),
            dma_valid: Default::default(),
            dma_ready: Default::default(),
            dma_addr: Default::default(),
            dma_data: Default::default(),
            dma_last: Default::default(),
            reg_addr: Default::default(),
            reg_wdata: Default::default(),
            reg_wr: Default::default(),
            reg_rd: Default::default(),
            reg_rdata: Default::default(),
            reg_rvalid: Default::default(),
            irq: Default::default(),
            regs: Default::default(),
            front: Default::default(),
            keys: Default::default(),
            chash: Default::default(),
            thash: Default::default(),
            kram: Default::default(),
            ctab: Default::default(),
            ttab: Default::default(),
            ctx: Default::default(),
            dests: Default::default(),
            verdict: Default::default(),
            records: Default::default(),
            evq: Default::default(),
            wp: Default::default(),
            ctx_dist: Constant::new(CTX_DIST.into()),
            kram_dist: Constant::new(KRAM_DIST.into()),
            one5: Constant::new(1u64.into()),
            kc1: Default::default(),
            kc2: Default::default(),
            kc3: Default::default(),
            kc4: Default::default(),
            kc5: Default::default(),
            k_m1: Constant::new(0x5555_5555_5555_5555u64.into()),
            k_m2: Constant::new(0x3333_3333_3333_3333u64.into()),
            k_m4: Constant::new(0x0f0f_0f0f_0f0f_0f0fu64.into()),
            lk_valid: Default::default(),
            lk_c_hit: Default::default(),
            lk_c_idx: Default::default(),
            lk_c_ent: Default::default(),
            lk_t_hit: Default::default(),
            lk_t_idx: Default::default(),
            lk_t_ent: Default::default(),
            rc_ent: Default::default(),
            rt_ent: Default::default(),
            lc_ent: Default::default(),
            lt_ent: Default::default(),
            v_c_ent: Default::default(),
            v_t_ent: Default::default(),
            c_wb: Default::default(),
            c_wbe: Default::default(),
            t_wbe: Default::default(),
            // write-back: last_refresh = now; conn also clears ev_next
            keep_c: zeros_at(&[(LR_LO, 32), (C_EV_NEXT, 1)]),
            keep_t: zeros_at(&[(LR_LO, 32)]),
            ctx_d: Default::default(),
            c_gen_d: Default::default(),
            c_ctl_d: Default::default(),
            ctx_q: Default::default(),
            n_key: Default::default(),
            h_d: default_array(),
            l_h: Default::default(),
            lpend: Default::default(),
            l_issued: Default::default(),
            l_push: Default::default(),
            l_ent: Default::default(),
            l_rec: Default::default(),
            l_idx: Default::default(),
            // learned conns: valid, controlled by their template
            k_learn_fixed: ones_at(&[(VALID_BIT, 1), (C_CTL, 1)]),
            p_l_conn: pos(rec::L_CONN.lsb),
            eng_req: Default::default(),
            eng_ready: Default::default(),
            eng_key_sel: Default::default(),
            idle: Default::default(),
            kcnt: Default::default(),
            k_idle_key: Constant::new((ENG_KEY_AT as u64).into()),
            k_idle_go: Constant::new((ENG_GO_AT as u64).into()),
            k_idle_max: Constant::new(63u64.into()),
            k_kcnt_ready: Constant::new(((HASH_LATENCY + 1) as u64).into()),
            k_kcnt_max: Constant::new(31u64.into()),
            k_drain: Constant::new((TABLE_DRAIN as u64).into()),
            cmd_op: Default::default(),
            cmd_op4: Default::default(),
            cmd_table: Default::default(),
            cmd_idx: Default::default(),
            cmd_pl: Default::default(),
            cmd_is_dest: Default::default(),
            cmd_is_svc: Default::default(),
            cmd_is_rule: Default::default(),
            cmd_is_hash: Default::default(),
            cmd_is_write: Default::default(),
            cmd_is_del: Default::default(),
            c_cmd_ent: Default::default(),
            t_cmd_ent: Default::default(),
            imm_go: Default::default(),
            imm_code: Default::default(),
            c_done: Default::default(),
            c_res_img: Default::default(),
            t_res_img: Default::default(),
            cpend: Default::default(),
            c_tpl: Default::default(),
            c_issued: Default::default(),
            resp: Default::default(),
            resp_code: Default::default(),
            resp_idx: Default::default(),
            resp_res: Default::default(),
            k_table_dest: tbl(TableId::Dest),
            k_table_svc: tbl(TableId::Service),
            k_table_rule: tbl(TableId::Rule),
            k_table_conn: tbl(TableId::Conn),
            k_table_tpl: tbl(TableId::Template),
            k_op_write: Constant::new((Opcode::Write as u64).into()),
            k_op_delete: Constant::new((Opcode::Delete as u64).into()),
            k_st_ok: st(CmdStatus::Ok),
            k_st_bad_opcode: st(CmdStatus::BadOpcode),
            k_st_bad_table: st(CmdStatus::BadTable),
            k_st_bad_index: st(CmdStatus::BadIndex),
            k_dests: Constant::new((lvsnic_abi::limits::DESTS as u64).into()),
            k_svcs: Constant::new((lvsnic_abi::limits::SERVICES as u64).into()),
            k_rules: Constant::new((lvsnic_abi::limits::RULES as u64).into()),
            c_ev_take: Default::default(),
            t_ev_take: Default::default(),
            aged_c_rec: Default::default(),
            aged_t_rec: Default::default(),
            k_aged_c: aged(0),
            k_aged_t: aged(1),
            p_rec_key: pos(key_fields(1)[0].lsb),
            p_tick: pos(rec::TICK.lsb),
            p_e_index: pos(rec::E_INDEX.lsb),
            p_e_dest: pos(rec::E_DEST.lsb),
            p_e_gen: pos(rec::E_GEN.lsb),
            p_e_ctl: pos(rec::E_CTL.lsb),
            p_e_state: pos(rec::E_STATE.lsb),
            p_e_last: pos(rec::E_LAST.lsb),
            k_ones32: Constant::new(0xffff_ffffu64.into()),
            k_err_parse: Constant::new((err.mask() as u64).into()),
            k_kind_miss: Constant::new(KIND_MISS.into()),
            // EVQ.BASE_LO.addr: ring IOVA bits 31..6
            k_base_mask: Constant::new(0xffff_ffc0u64.into()),
        }
    }
}

impl Logic for Card {
    #[hdl_gen]
    fn update(&mut self) {
        clock!(self, clock, regs, front, keys, chash, thash, ctab, ttab, dests, verdict, evq);
        dff_setup!(
            self, clock, wp, lk_valid, lk_c_hit, lk_c_idx, lk_c_ent, lk_t_hit, lk_t_idx, lk_t_ent,
            v_c_ent, v_t_ent, ctx_d, c_gen_d, c_ctl_d, l_h, lpend, l_issued, l_push, l_ent, l_rec,
            idle, kcnt, cpend, c_tpl, c_issued, resp, resp_code, resp_idx, resp_res
        );
        // ---- register bus ----
        self.regs.addr.next = self.reg_addr.val();
        self.regs.wdata.next = self.reg_wdata.val();
        self.regs.wr.next = self.reg_wr.val();
        self.regs.rd.next = self.reg_rd.val();
        self.reg_rdata.next = self.regs.rdata.val();
        self.reg_rvalid.next = self.regs.rvalid.val();
        // ---- exclusive table access (learn insert, conn/template command) ----
        // While one is pending the stream stops. `idle` >= ENG_KEY_AT: the front end and key
        // formation are empty, the conn hash lane hashes a command's key (`kcnt` clocks so
        // far); `idle` >= ENG_GO_AT: the pipeline has drained, last write-back included.
        self.eng_req.next = self.lpend.q.val() || self.cpend.q.val() || self.l_push.q.val();
        if self.s_valid.val()
            && self.evq.miss_room.val()
            && !self.eng_req.val()
            && !self.ctab.sweep_due.val()
            && !self.ttab.sweep_due.val()
        {
            self.idle.d.next = 0.into();
        } else if self.idle.q.val() != self.k_idle_max.val() {
            self.idle.d.next = self.idle.q.val() + 1;
        }
        self.eng_ready.next = self.idle.q.val() >= self.k_idle_go.val();
        self.eng_key_sel.next = self.cpend.q.val() && (self.idle.q.val() >= self.k_idle_key.val());
        if !self.eng_key_sel.val() {
            self.kcnt.d.next = 0.into();
        } else if self.kcnt.q.val() != self.k_kcnt_max.val() {
            self.kcnt.d.next = self.kcnt.q.val() + 1;
        }
        // ---- packet stream -> front end ----
        // An aging sweep behind its AGING.RATE asks for one clock without a packet (`sweep_due`).
        self.s_ready.next = self.evq.miss_room.val()
            && !self.eng_req.val()
            && !self.ctab.sweep_due.val()
            && !self.ttab.sweep_due.val();
        self.front.in_valid.next = self.s_valid.val()
            && self.evq.miss_room.val()
            && !self.eng_req.val()
            && !self.ctab.sweep_due.val()
            && !self.ttab.sweep_due.val();
        self.front.in_data.next = self.s_data.val();
        self.front.in_last.next = self.s_last.val();
        // byte count of the beat = popcount of `s_keep` (0..=64)
        self.kc1.next =
            (self.s_keep.val() & self.k_m1.val()) + ((self.s_keep.val() >> 1) & self.k_m1.val());
        self.kc2.next =
            (self.kc1.val() & self.k_m2.val()) + ((self.kc1.val() >> 2) & self.k_m2.val());
        self.kc3.next = (self.kc2.val() + (self.kc2.val() >> 4)) & self.k_m4.val();
        self.kc4.next = self.kc3.val() + (self.kc3.val() >> 8);
        self.kc5.next = self.kc4.val()
            + (self.kc4.val() >> 16)
            + (self.kc4.val() >> 32)
            + (self.kc4.val() >> 48);
        self.front.in_nbytes.next = self.kc5.val().get_bits::<7>(0);
        self.front.ftp_fallback_en.next = self.regs.ctrl_control.val().get_bit(2);
        self.front.unpriv_port.next = self.regs.unpriv_port.val().get_bits::<16>(0);
        // ---- key formation ----
        self.keys.in_valid.next = self.front.out_valid.val();
        self.keys.af.next = self.front.out_af.val();
        self.keys.proto.next = self.front.out_proto.val();
        self.keys.src.next = self.front.out_src.val();
        self.keys.dst.next = self.front.out_dst.val();
        self.keys.sport.next = self.front.out_sport.val();
        self.keys.dport.next = self.front.out_dport.val();
        self.keys.mark.next = self.front.out_mark.val();
        self.keys.s_is_fwmark.next = self.front.s_is_fwmark.val();
        self.keys.s_pmask.next = self.front.s_pmask.val();
        self.keys.s_vport.next = self.front.s_vport.val();
        // ---- context RAM: written with the front record, read CTX_DIST clocks later ----
        self.wp.d.next = self.wp.q.val() + self.one5.val();
        self.ctx.write_clock.next = self.clock.val();
        self.ctx.read_clock.next = self.clock.val();
        self.ctx.write_enable.next = true;
        self.ctx.write_address.next = self.wp.q.val();
        self.ctx.read_address.next = self.wp.q.val() - self.ctx_dist.val();
        self.ctx.write_data.next = bit_cast::<CTX_BITS, 16>(self.front.out_id.val())
            | (bit_cast::<CTX_BITS, 1>(self.front.out_parsed.val().into()) << 16)
            | (bit_cast::<CTX_BITS, 1>(self.front.out_af.val().into()) << 17)
            | (bit_cast::<CTX_BITS, 1>(self.front.out_vlan.val().into()) << 18)
            | (bit_cast::<CTX_BITS, 8>(self.front.out_proto.val()) << 19)
            | (bit_cast::<CTX_BITS, 8>(self.front.out_l4_info.val()) << 27)
            | (bit_cast::<CTX_BITS, 16>(self.front.out_sport.val()) << 35)
            | (bit_cast::<CTX_BITS, 16>(self.front.out_dport.val()) << 51)
            | (bit_cast::<CTX_BITS, 32>(self.front.out_mark.val()) << 67)
            | (bit_cast::<CTX_BITS, 1>(self.front.s_hit.val().into()) << 99)
            | (bit_cast::<CTX_BITS, 8>(self.front.s_idx.val()) << 100)
            | (bit_cast::<CTX_BITS, 1>(self.front.s_persistent.val().into()) << 108)
            | (bit_cast::<CTX_BITS, 1>(self.front.s_ops.val().into()) << 109)
            | (bit_cast::<CTX_BITS, 1>(self.front.s_host_only.val().into()) << 110)
            | (bit_cast::<CTX_BITS, 128>(self.front.out_src.val()) << 111)
            | (bit_cast::<CTX_BITS, 128>(self.front.out_dst.val()) << 239)
            | (bit_cast::<CTX_BITS, 1>(self.front.s_ftp_host.val().into()) << 367);
        self.ctx_q.next = self.ctx.read_data.val();
        // ---- MMIO commands ----
        self.cmd_op.next = self.regs.cmd_data.val().get_bits::<8>(0);
        self.cmd_op4.next = self.cmd_op.val().get_bits::<4>(0);
        if self.cmd_op.val().get_bits::<4>(4) != 0 {
            self.cmd_op4.next = 0.into();
        }
        self.cmd_table.next = self.regs.cmd_data.val().get_bits::<4>(8);
        self.cmd_idx.next = self.regs.cmd_data.val().get_bits::<32>(32);
        self.cmd_pl.next = self.regs.cmd_data.val().get_bits::<448>(64);
        self.cmd_is_dest.next = self.cmd_table.val() == self.k_table_dest.val();
        self.cmd_is_svc.next = self.cmd_table.val() == self.k_table_svc.val();
        self.cmd_is_rule.next = self.cmd_table.val() == self.k_table_rule.val();
        self.cmd_is_hash.next = (self.cmd_table.val() == self.k_table_conn.val())
            || (self.cmd_table.val() == self.k_table_tpl.val());
        self.cmd_is_write.next = self.cmd_op.val() == self.k_op_write.val();
        self.cmd_is_del.next = self.cmd_op.val() == self.k_op_delete.val();
        // ---- hash lanes; the keys wait for their hashes in the key RAM ----
        self.chash.seed.next = self.regs.hash_seed.val();
        self.chash.in_valid.next = self.keys.out_valid.val();
        self.chash.key.next = self.keys.conn_key.val();
        if self.eng_key_sel.val() {
            self.chash.key.next = self.cmd_pl.val().get_bits::<KEY_BITS>(0);
        }
        self.thash.seed.next = self.regs.hash_seed.val();
        self.thash.in_valid.next = self.keys.out_valid.val();
        self.thash.key.next = self.keys.tpl_key.val();
        self.kram.write_clock.next = self.clock.val();
        self.kram.read_clock.next = self.clock.val();
        self.kram.write_enable.next = true;
        self.kram.write_address.next = self.wp.q.val();
        self.kram.read_address.next = self.wp.q.val() - self.kram_dist.val();
        self.kram.write_data.next = bit_cast::<KRAM_BITS, KEY_BITS>(self.keys.conn_key.val())
            | (bit_cast::<KRAM_BITS, KEY_BITS>(self.keys.tpl_key.val()) << 320);
        // ---- tables ----
        self.ctab.now.next = self.regs.now.val();
        self.ctab.lk_valid.next = self.chash.out_valid.val();
        self.ctab.lk_key.next = self.kram.read_data.val().get_bits::<KEY_BITS>(0);
        self.ctab.lk_h0.next = self.chash.h0.val();
        self.ctab.lk_h1.next = self.chash.h1.val();
        self.ctab.drain.next = self.k_drain.val();
        self.ctab.sweep_en.next = self.regs.aging_ctrl.val().get_bit(0);
        self.ctab.sweep_interval.next = 0.into();
        self.ctab.sweep_rate.next = self.regs.aging_rate.val().get_bits::<16>(0);
        self.ttab.now.next = self.regs.now.val();
        self.ttab.lk_valid.next = self.thash.out_valid.val();
        self.ttab.lk_key.next = self.kram.read_data.val().get_bits::<KEY_BITS>(320);
        self.ttab.lk_h0.next = self.thash.h0.val();
        self.ttab.lk_h1.next = self.thash.h1.val();
        self.ttab.drain.next = self.k_drain.val();
        self.ttab.sweep_en.next = self.regs.aging_ctrl.val().get_bit(0);
        self.ttab.sweep_interval.next = 0.into();
        self.ttab.sweep_rate.next = self.regs.aging_rate.val().get_bits::<16>(0);
        // ---- write-backs (from the verdict outputs) ----
        self.c_wb.next = self.verdict.o_conn_wb.val() || self.verdict.o_conn_del.val();
        self.c_wbe.next = (self.v_c_ent.q.val() & self.keep_c.val())
            | (bit_cast::<CONN_BITS, 32>(self.verdict.o_now.val()) << 297);
        if self.verdict.o_conn_del.val() {
            self.c_wbe.next = 0.into();
        }
        self.t_wbe.next = (self.v_t_ent.q.val() & self.keep_t.val())
            | (bit_cast::<TEMPLATE_BITS, 32>(self.verdict.o_now.val()) << 297);
        self.ctab.wb_en.next = self.c_wb.val();
        self.ctab.wb_slot.next = self.verdict.o_c_idx.val();
        self.ctab.wb_entry.next = self.c_wbe.val();
        self.ttab.wb_en.next = self.verdict.o_tpl_wb.val();
        self.ttab.wb_slot.next = self.verdict.o_t_idx.val();
        self.ttab.wb_entry.next = self.t_wbe.val();
        // results, forwarded with the write-back presented now (the table reflects it only in
        // results seen after this clock): at the table output and at the verdict input
        self.rc_ent.next = self.ctab.res_entry.val();
        if self.c_wb.val()
            && self.ctab.res_found.val()
            && (self.ctab.res_slot.val() == self.verdict.o_c_idx.val())
        {
            self.rc_ent.next = self.c_wbe.val();
        }
        self.rt_ent.next = self.ttab.res_entry.val();
        if self.verdict.o_tpl_wb.val()
            && self.ttab.res_found.val()
            && (self.ttab.res_slot.val() == self.verdict.o_t_idx.val())
        {
            self.rt_ent.next = self.t_wbe.val();
        }
        self.lc_ent.next = self.lk_c_ent.q.val();
        if self.c_wb.val()
            && self.lk_c_hit.q.val()
            && (self.lk_c_idx.q.val() == self.verdict.o_c_idx.val())
        {
            self.lc_ent.next = self.c_wbe.val();
        }
        self.lt_ent.next = self.lk_t_ent.q.val();
        if self.verdict.o_tpl_wb.val()
            && self.lk_t_hit.q.val()
            && (self.lk_t_idx.q.val() == self.verdict.o_t_idx.val())
        {
            self.lt_ent.next = self.t_wbe.val();
        }
        // results -> dest read addresses now, to the verdict one clock later
        self.dests.a_idx.next = self.ctab.res_entry.val().get_bits::<8>(373);
        self.dests.b_idx.next = self.ttab.res_entry.val().get_bits::<8>(364);
        self.lk_valid.d.next = self.ctab.res_valid.val();
        self.lk_c_hit.d.next = self.ctab.res_found.val();
        self.lk_c_idx.d.next = self.ctab.res_slot.val();
        self.lk_c_ent.d.next = self.rc_ent.val();
        self.lk_t_hit.d.next = self.ttab.res_found.val();
        self.lk_t_idx.d.next = self.ttab.res_slot.val();
        self.lk_t_ent.d.next = self.rt_ent.val();
        self.v_c_ent.d.next = self.lc_ent.val();
        self.v_t_ent.d.next = self.lt_ent.val();
        // ---- learn: latch the entry and its lookup's hashes, insert once the pipeline is empty
        for i in 0..HASH_TO_VERDICT {
            self.h_d[i].clock.next = self.clock.val();
        }
        self.h_d[0].d.next = bit_cast::<64, 32>(self.chash.h0.val())
            | (bit_cast::<64, 32>(self.chash.h1.val()) << 32);
        for i in 1..HASH_TO_VERDICT {
            self.h_d[i].d.next = self.h_d[i - 1].q.val();
        }
        self.n_key.next = bit_cast::<KEY_BITS, 128>(self.ctx_d.q.val().get_bits::<128>(111))
            | (bit_cast::<KEY_BITS, 128>(self.ctx_d.q.val().get_bits::<128>(239)) << 128)
            | (bit_cast::<KEY_BITS, 16>(self.ctx_d.q.val().get_bits::<16>(35)) << 256)
            | (bit_cast::<KEY_BITS, 16>(self.ctx_d.q.val().get_bits::<16>(51)) << 272)
            | (bit_cast::<KEY_BITS, 8>(self.ctx_d.q.val().get_bits::<8>(19)) << 288)
            | (bit_cast::<KEY_BITS, 1>(self.ctx_d.q.val().get_bits::<1>(17)) << 296);
        if self.verdict.o_learn_ins.val() {
            self.lpend.d.next = true;
            self.l_ent.d.next = bit_cast::<CONN_BITS, KEY_BITS>(self.n_key.val())
                | self.k_learn_fixed.val()
                | (bit_cast::<CONN_BITS, 32>(self.verdict.o_now.val()) << 297)
                | (bit_cast::<CONN_BITS, 32>(self.verdict.o_learn_timeout.val()) << 329)
                | (bit_cast::<CONN_BITS, 3>(self.verdict.o_learn_fwd.val()) << 362)
                | (bit_cast::<CONN_BITS, 1>(self.verdict.o_learn_flags.val().get_bits::<1>(8))
                    << 367)
                | (bit_cast::<CONN_BITS, 1>(self.verdict.o_learn_flags.val().get_bits::<1>(9))
                    << 368)
                | (bit_cast::<CONN_BITS, 4>(self.verdict.o_learn_flags.val().get_bits::<4>(0))
                    << 369)
                | (bit_cast::<CONN_BITS, 8>(self.verdict.o_dest.val()) << 373)
                | (bit_cast::<CONN_BITS, 8>(self.verdict.o_learn_gen.val()) << 381)
                | (bit_cast::<CONN_BITS, 16>(self.verdict.o_learn_dport.val()) << 389);
            self.l_rec.d.next = self.records.learn_rec.val();
            self.l_h.d.next = self.h_d[4].q.val();
        }
        self.ctab.ln_valid.next =
            self.lpend.q.val() && self.eng_ready.val() && !self.l_issued.q.val();
        self.ctab.ln_entry.next = self.l_ent.q.val();
        self.ctab.ln_h0.next = self.l_h.q.val().get_bits::<32>(0);
        self.ctab.ln_h1.next = self.l_h.q.val().get_bits::<32>(32);
        if self.ctab.ln_valid.val() && self.ctab.ln_ready.val() {
            self.l_issued.d.next = true;
        }
        // the learned index (all-ones if the table was full) goes into the learn event
        self.l_idx.next = self.ctab.eng_slot.val();
        if self.ctab.eng_status.val() != self.k_st_ok.val() {
            self.l_idx.next = self.k_ones32.val();
        }
        if self.ctab.ln_done.val() {
            self.lpend.d.next = false;
            self.l_issued.d.next = false;
            self.l_push.d.next = true;
            self.l_rec.d.next = self.l_rec.q.val()
                | (bit_cast::<REC_BITS, 32>(self.l_idx.val()) << self.p_l_conn.val());
        }
        if self.l_push.q.val() && self.evq.ev_ready.val() {
            self.l_push.d.next = false;
        }
        self.ttab.ln_valid.next = false;
        self.ttab.ln_entry.next = 0.into();
        self.ttab.ln_h0.next = 0.into();
        self.ttab.ln_h1.next = 0.into();
        // ---- MMIO commands (continued) ----
        // ABI entry image (payload) -> stored image
        self.c_cmd_ent.next =
            bit_cast::<CONN_BITS, TKEY_BITS>(self.cmd_pl.val().get_bits::<TKEY_BITS>(0))
                | (bit_cast::<CONN_BITS, 64>(self.cmd_pl.val().get_bits::<64>(352)) << 297)
                | (bit_cast::<CONN_BITS, 1>(self.cmd_pl.val().get_bits::<1>(320)) << 361)
                | (bit_cast::<CONN_BITS, 7>(self.cmd_pl.val().get_bits::<7>(321)) << 362)
                | (bit_cast::<CONN_BITS, 4>(self.cmd_pl.val().get_bits::<4>(328)) << 369)
                | (bit_cast::<CONN_BITS, 16>(self.cmd_pl.val().get_bits::<16>(336)) << 373)
                | (bit_cast::<CONN_BITS, 16>(self.cmd_pl.val().get_bits::<16>(416)) << 389);
        self.t_cmd_ent.next =
            bit_cast::<TEMPLATE_BITS, TKEY_BITS>(self.cmd_pl.val().get_bits::<TKEY_BITS>(0))
                | (bit_cast::<TEMPLATE_BITS, 64>(self.cmd_pl.val().get_bits::<64>(352)) << 297)
                | (bit_cast::<TEMPLATE_BITS, 1>(self.cmd_pl.val().get_bits::<1>(320)) << 361)
                | (bit_cast::<TEMPLATE_BITS, 2>(self.cmd_pl.val().get_bits::<2>(321)) << 362)
                | (bit_cast::<TEMPLATE_BITS, 16>(self.cmd_pl.val().get_bits::<16>(336)) << 364);
        // stored image -> ABI entry image (RESULT)
        self.c_res_img.next =
            bit_cast::<448, TKEY_BITS>(self.ctab.eng_entry.val().get_bits::<TKEY_BITS>(0))
                | (bit_cast::<448, 1>(self.ctab.eng_entry.val().get_bits::<1>(361)) << 320)
                | (bit_cast::<448, 7>(self.ctab.eng_entry.val().get_bits::<7>(362)) << 321)
                | (bit_cast::<448, 4>(self.ctab.eng_entry.val().get_bits::<4>(369)) << 328)
                | (bit_cast::<448, 16>(self.ctab.eng_entry.val().get_bits::<16>(373)) << 336)
                | (bit_cast::<448, 64>(self.ctab.eng_entry.val().get_bits::<64>(297)) << 352)
                | (bit_cast::<448, 16>(self.ctab.eng_entry.val().get_bits::<16>(389)) << 416);
        self.t_res_img.next =
            bit_cast::<448, TKEY_BITS>(self.ttab.eng_entry.val().get_bits::<TKEY_BITS>(0))
                | (bit_cast::<448, 1>(self.ttab.eng_entry.val().get_bits::<1>(361)) << 320)
                | (bit_cast::<448, 2>(self.ttab.eng_entry.val().get_bits::<2>(362)) << 321)
                | (bit_cast::<448, 16>(self.ttab.eng_entry.val().get_bits::<16>(364)) << 336)
                | (bit_cast::<448, 64>(self.ttab.eng_entry.val().get_bits::<64>(297)) << 352);
        // dest / service / rule: by index, answered at once
        self.imm_go.next = self.regs.cmd_go.val() && !self.cmd_is_hash.val();
        self.dests.wr_en.next = self.regs.cmd_go.val()
            && self.cmd_is_dest.val()
            && self.cmd_is_write.val()
            && (self.cmd_idx.val() < self.k_dests.val());
        self.dests.wr_idx.next = self.cmd_idx.val().get_bits::<8>(0);
        self.dests.wr_data.next = self.regs.cmd_data.val().get_bits::<256>(64);
        self.front.svc_wr_en.next = self.regs.cmd_go.val()
            && self.cmd_is_svc.val()
            && (self.cmd_is_write.val() || self.cmd_is_del.val())
            && (self.cmd_idx.val() < self.k_svcs.val());
        self.front.svc_wr_idx.next = self.cmd_idx.val().get_bits::<8>(0);
        self.front.svc_wr_data.next = 0.into();
        if self.cmd_is_write.val() {
            self.front.svc_wr_data.next = self.cmd_pl.val().get_bits::<SERVICE_BITS>(0);
        }
        self.front.rule_wr_en.next = self.regs.cmd_go.val()
            && self.cmd_is_rule.val()
            && (self.cmd_is_write.val() || self.cmd_is_del.val())
            && (self.cmd_idx.val() < self.k_rules.val());
        self.front.rule_wr_idx.next = self.cmd_idx.val().get_bits::<8>(0);
        self.front.rule_wr_data.next = 0.into();
        if self.cmd_is_write.val() {
            self.front.rule_wr_data.next = self.cmd_pl.val().get_bits::<RULE_BITS>(0);
        }
        self.imm_code.next = self.k_st_bad_table.val();
        if self.cmd_is_dest.val() {
            if !self.cmd_is_write.val() {
                self.imm_code.next = self.k_st_bad_opcode.val();
            } else if self.cmd_idx.val() < self.k_dests.val() {
                self.imm_code.next = self.k_st_ok.val();
            } else {
                self.imm_code.next = self.k_st_bad_index.val();
            }
        }
        if self.cmd_is_svc.val() {
            if !(self.cmd_is_write.val() || self.cmd_is_del.val()) {
                self.imm_code.next = self.k_st_bad_opcode.val();
            } else if self.cmd_idx.val() < self.k_svcs.val() {
                self.imm_code.next = self.k_st_ok.val();
            } else {
                self.imm_code.next = self.k_st_bad_index.val();
            }
        }
        if self.cmd_is_rule.val() {
            if !(self.cmd_is_write.val() || self.cmd_is_del.val()) {
                self.imm_code.next = self.k_st_bad_opcode.val();
            } else if self.cmd_idx.val() < self.k_rules.val() {
                self.imm_code.next = self.k_st_ok.val();
            } else {
                self.imm_code.next = self.k_st_bad_index.val();
            }
        }
        // conn / template: through the table's engine, with exclusive access
        if self.regs.cmd_go.val() && self.cmd_is_hash.val() {
            self.cpend.d.next = true;
            self.c_tpl.d.next = self.cmd_table.val() == self.k_table_tpl.val();
        }
        self.ctab.cmd_valid.next = self.cpend.q.val()
            && !self.c_tpl.q.val()
            && self.eng_ready.val()
            && (self.kcnt.q.val() >= self.k_kcnt_ready.val())
            && !self.lpend.q.val()
            && !self.l_push.q.val()
            && !self.c_issued.q.val();
        self.ttab.cmd_valid.next = self.cpend.q.val()
            && self.c_tpl.q.val()
            && self.eng_ready.val()
            && (self.kcnt.q.val() >= self.k_kcnt_ready.val())
            && !self.lpend.q.val()
            && !self.l_push.q.val()
            && !self.c_issued.q.val();
        if (self.ctab.cmd_valid.val() && self.ctab.cmd_ready.val())
            || (self.ttab.cmd_valid.val() && self.ttab.cmd_ready.val())
        {
            self.c_issued.d.next = true;
        }
        self.ctab.cmd_op.next = self.cmd_op4.val();
        self.ctab.cmd_slot.next = self.cmd_idx.val();
        self.ctab.cmd_entry.next = self.c_cmd_ent.val();
        self.ctab.cmd_h0.next = self.chash.h0.val();
        self.ctab.cmd_h1.next = self.chash.h1.val();
        self.ttab.cmd_op.next = self.cmd_op4.val();
        self.ttab.cmd_slot.next = self.cmd_idx.val();
        self.ttab.cmd_entry.next = self.t_cmd_ent.val();
        self.ttab.cmd_h0.next = self.chash.h0.val();
        self.ttab.cmd_h1.next = self.chash.h1.val();
        self.c_done.next = self.cpend.q.val()
            && ((self.ctab.cmd_done.val() && !self.c_tpl.q.val())
                || (self.ttab.cmd_done.val() && self.c_tpl.q.val()));
        if self.c_done.val() {
            self.cpend.d.next = false;
            self.c_issued.d.next = false;
        }
        self.resp.d.next = self.imm_go.val() || self.c_done.val();
        self.resp_idx.d.next = self.cmd_idx.val();
        self.resp_code.d.next = self.imm_code.val();
        self.resp_res.d.next = 0.into();
        if self.c_done.val() {
            if self.c_tpl.q.val() {
                self.resp_idx.d.next = self.ttab.eng_slot.val();
                self.resp_code.d.next = self.ttab.eng_status.val();
                self.resp_res.d.next = self.t_res_img.val();
            } else {
                self.resp_idx.d.next = self.ctab.eng_slot.val();
                self.resp_code.d.next = self.ctab.eng_status.val();
                self.resp_res.d.next = self.c_res_img.val();
            }
        }
        self.regs.cmd_resp.next = self.resp.q.val();
        self.regs.cmd_code.next = self.resp_code.q.val();
        self.regs.cmd_index.next = self.resp_idx.q.val();
        self.regs.cmd_result.next = self.resp_res.q.val();
        // ---- verdict ----
        self.verdict.in_valid.next = self.lk_valid.q.val();
        self.verdict.pkt_id.next = bit_cast::<32, 16>(self.ctx_q.val().get_bits::<16>(0));
        self.verdict.parsed.next = self.ctx_q.val().get_bit(16);
        self.verdict.proto.next = self.ctx_q.val().get_bits::<8>(19);
        self.verdict.l4_info.next = self.ctx_q.val().get_bits::<8>(27);
        self.verdict.cport.next = self.ctx_q.val().get_bits::<16>(35);
        self.verdict.vport.next = self.ctx_q.val().get_bits::<16>(51);
        self.verdict.mark.next = self.ctx_q.val().get_bits::<32>(67);
        self.verdict.s_hit.next = self.ctx_q.val().get_bit(99);
        self.verdict.s_idx.next = self.ctx_q.val().get_bits::<8>(100);
        self.verdict.s_persistent.next = self.ctx_q.val().get_bit(108);
        self.verdict.s_ops.next = self.ctx_q.val().get_bit(109);
        self.verdict.s_host_only.next = self.ctx_q.val().get_bit(110);
        self.verdict.now.next = self.regs.now.val();
        self.verdict.enable.next = self.regs.ctrl_control.val().get_bit(0);
        self.verdict.learn_en.next = self.regs.ctrl_control.val().get_bit(1);
        // FTP-data fallback: decided by the service lookup in the kernel's order (before the
        // port-zero service, only when a port-21 service exists on the VIP); the verdict's
        // "no service + ftp_fallback" branch then reports HostOnly.
        self.verdict.ftp_fallback.next = self.ctx_q.val().get_bit(367);
        self.verdict.unpriv_port.next = self.regs.unpriv_port.val().get_bits::<16>(0);
        self.verdict.tcp_timeout.next = self.regs.learn_tcp_timeout.val();
        self.verdict.tcp_flags.next = self.regs.learn_tcp_flags.val().get_bits::<10>(0);
        self.verdict.udp_timeout.next = self.regs.learn_udp_timeout.val();
        self.verdict.udp_flags.next = self.regs.learn_udp_flags.val().get_bits::<10>(0);
        self.verdict.sctp_timeout.next = self.regs.learn_sctp_timeout.val();
        self.verdict.sctp_flags.next = self.regs.learn_sctp_flags.val().get_bits::<10>(0);
        self.verdict.ev_room.next = self.evq.ev_room.val();
        self.verdict.c_hit.next = self.lk_c_hit.q.val() && self.lc_ent.val().get_bit(361);
        self.verdict.c_idx.next = self.lk_c_idx.q.val();
        self.verdict.c_last_refresh.next = self.lc_ent.val().get_bits::<32>(297);
        self.verdict.c_timeout.next = self.lc_ent.val().get_bits::<32>(329);
        self.verdict.c_dest.next = self.lc_ent.val().get_bits::<8>(373);
        self.verdict.c_dest_gen.next = self.lc_ent.val().get_bits::<8>(381);
        self.verdict.c_syn_miss.next = self.lc_ent.val().get_bit(367);
        self.verdict.c_ev_next.next = self.lc_ent.val().get_bit(368);
        self.verdict.c_ops.next = self.lc_ent.val().get_bit(366);
        self.verdict.c_state.next = self.lc_ent.val().get_bits::<4>(369);
        // one learn at a time: a second one meanwhile misses TableFull (the host decides it)
        self.verdict.c_free.next =
            !(self.lpend.q.val() || self.l_push.q.val() || self.verdict.o_learn_ins.val());
        self.verdict.t_hit.next = self.lk_t_hit.q.val() && self.lt_ent.val().get_bit(361);
        self.verdict.t_idx.next = self.lk_t_idx.q.val();
        self.verdict.t_learn.next = self.lt_ent.val().get_bit(362);
        self.verdict.t_dport_from_dest.next = self.lt_ent.val().get_bit(363);
        self.verdict.t_dest.next = self.lt_ent.val().get_bits::<8>(364);
        self.verdict.t_dest_gen.next = self.lt_ent.val().get_bits::<8>(372);
        self.verdict.t_last_refresh.next = self.lt_ent.val().get_bits::<32>(297);
        self.verdict.t_timeout.next = self.lt_ent.val().get_bits::<32>(329);
        self.verdict.da_state.next = self.dests.a_state.val();
        self.verdict.da_mac.next = self.dests.a_mac.val();
        self.verdict.db_state.next = self.dests.b_state.val();
        self.verdict.db_mac.next = self.dests.b_mac.val();
        self.verdict.db_port.next = self.dests.b_port.val();
        self.verdict.db_fwd.next = self.dests.b_fwd.val();
        // verdict record out
        self.v_valid.next = self.verdict.o_valid.val();
        self.v_pkt_id.next = self.verdict.o_pkt_id.val();
        self.v_kind.next = self.verdict.o_kind.val();
        self.v_dest.next = self.verdict.o_dest.val();
        self.v_reason.next = self.verdict.o_reason.val();
        self.v_mark.next = self.verdict.o_mark.val();
        self.v_mac.next = self.verdict.o_mac.val();
        // ---- records -> event queue ----
        self.ctx_d.d.next = self.ctx_q.val();
        self.c_gen_d.d.next = self.lc_ent.val().get_bits::<8>(381);
        self.c_ctl_d.d.next = self.lc_ent.val().get_bit(365);
        self.records.reason.next = self.verdict.o_reason.val();
        self.records.pkt_id.next = self.verdict.o_pkt_id.val();
        self.records.mark.next = self.verdict.o_mark.val();
        self.records.svc.next = self.verdict.o_svc.val();
        self.records.l4_info.next = self.verdict.o_l4_info.val();
        self.records.dest.next = self.verdict.o_dest.val();
        self.records.c_idx.next = self.verdict.o_c_idx.val();
        self.records.c_state.next = self.verdict.o_c_state.val();
        self.records.c_gen.next = self.c_gen_d.q.val();
        self.records.c_ctl.next = self.c_ctl_d.q.val();
        self.records.t_idx.next = self.verdict.o_t_idx.val();
        self.records.learn_gen.next = self.verdict.o_learn_gen.val();
        self.records.learn_ops.next = self.verdict.o_ev_learn_ops.val();
        self.records.now.next = self.verdict.o_now.val();
        self.records.parsed.next = self.ctx_d.q.val().get_bit(16);
        self.records.af.next = self.ctx_d.q.val().get_bit(17);
        self.records.vlan.next = self.ctx_d.q.val().get_bit(18);
        self.records.proto.next = self.ctx_d.q.val().get_bits::<8>(19);
        self.records.sport.next = self.ctx_d.q.val().get_bits::<16>(35);
        self.records.dport.next = self.ctx_d.q.val().get_bits::<16>(51);
        self.records.src.next = self.ctx_d.q.val().get_bits::<128>(111);
        self.records.dst.next = self.ctx_d.q.val().get_bits::<128>(239);
        self.evq.miss_valid.next =
            self.verdict.o_valid.val() && (self.verdict.o_kind.val() == self.k_kind_miss.val());
        self.evq.miss_data.next = self.records.miss_rec.val();
        // events: flag and OPS learn at once; a conn learn when its insert is done
        self.evq.ev_valid.next = (self.verdict.o_ev_learn.val()
            && self.verdict.o_ev_learn_ops.val())
            || self.verdict.o_ev_flag.val()
            || self.l_push.q.val();
        self.evq.ev_data.next = self.records.flag_rec.val();
        if self.verdict.o_ev_learn.val() {
            self.evq.ev_data.next = self.records.learn_rec.val();
        }
        if self.l_push.q.val() {
            self.evq.ev_data.next = self.l_rec.q.val();
        }
        // aux: ops expire (always taken), else the tables' aging expire events
        self.aged_c_rec.next = self.k_aged_c.val()
            | (bit_cast::<REC_BITS, TKEY_BITS>(self.ctab.ev_entry.val().get_bits::<TKEY_BITS>(0))
                << self.p_rec_key.val())
            | (bit_cast::<REC_BITS, 32>(self.regs.now.val()) << self.p_tick.val())
            | (bit_cast::<REC_BITS, 32>(self.ctab.ev_slot.val()) << self.p_e_index.val())
            | (bit_cast::<REC_BITS, 8>(self.ctab.ev_entry.val().get_bits::<8>(373))
                << self.p_e_dest.val())
            | (bit_cast::<REC_BITS, 8>(self.ctab.ev_entry.val().get_bits::<8>(381))
                << self.p_e_gen.val())
            | (bit_cast::<REC_BITS, 1>(self.ctab.ev_entry.val().get_bits::<1>(365))
                << self.p_e_ctl.val())
            | (bit_cast::<REC_BITS, 4>(self.ctab.ev_entry.val().get_bits::<4>(369))
                << self.p_e_state.val())
            | (bit_cast::<REC_BITS, 32>(self.ctab.ev_entry.val().get_bits::<32>(297))
                << self.p_e_last.val());
        self.aged_t_rec.next = self.k_aged_t.val()
            | (bit_cast::<REC_BITS, TKEY_BITS>(self.ttab.ev_entry.val().get_bits::<TKEY_BITS>(0))
                << self.p_rec_key.val())
            | (bit_cast::<REC_BITS, 32>(self.regs.now.val()) << self.p_tick.val())
            | (bit_cast::<REC_BITS, 32>(self.ttab.ev_slot.val()) << self.p_e_index.val())
            | (bit_cast::<REC_BITS, 8>(self.ttab.ev_entry.val().get_bits::<8>(364))
                << self.p_e_dest.val())
            | (bit_cast::<REC_BITS, 8>(self.ttab.ev_entry.val().get_bits::<8>(372))
                << self.p_e_gen.val())
            | (bit_cast::<REC_BITS, 32>(self.ttab.ev_entry.val().get_bits::<32>(297))
                << self.p_e_last.val());
        // an aged event takes the aux FIFO only with room for the verdict's reservations
        self.c_ev_take.next = self.ctab.ev_valid.val()
            && !self.verdict.o_conn_del.val()
            && self.evq.aux_ready.val()
            && self.evq.ev_room.val();
        self.t_ev_take.next = self.ttab.ev_valid.val()
            && !self.ctab.ev_valid.val()
            && !self.verdict.o_conn_del.val()
            && self.evq.aux_ready.val()
            && self.evq.ev_room.val();
        self.ctab.ev_ready.next = self.c_ev_take.val();
        self.ttab.ev_ready.next = self.t_ev_take.val();
        self.evq.aux_valid.next =
            self.verdict.o_conn_del.val() || self.c_ev_take.val() || self.t_ev_take.val();
        self.evq.aux_data.next = self.records.exp_rec.val();
        if self.c_ev_take.val() {
            self.evq.aux_data.next = self.aged_c_rec.val();
        }
        if self.t_ev_take.val() {
            self.evq.aux_data.next = self.aged_t_rec.val();
        }
        self.evq.enable.next = self.regs.evq_ctrl.val().get_bit(0);
        self.evq.arm.next = self.regs.evq_ctrl.val().get_bit(1);
        self.evq.base.next = (bit_cast::<64, 32>(self.regs.evq_base_hi.val()) << 32)
            | bit_cast::<64, 32>(self.regs.evq_base_lo.val() & self.k_base_mask.val());
        self.evq.log_size.next = self.regs.evq_log_size.val().get_bits::<5>(0);
        self.evq.cons.next = self.regs.evq_cons.val();
        self.evq.dma_ready.next = self.dma_ready.val();
        self.dma_valid.next = self.evq.dma_valid.val();
        self.dma_addr.next = self.evq.dma_addr.val();
        self.dma_data.next = self.evq.dma_data.val();
        self.dma_last.next = self.evq.dma_last.val();
        self.irq.next = self.evq.irq.val();
        self.regs.evq_prod.next = self.evq.prod.val();
        self.regs.evq_arm_clr.next = self.evq.arm_clr.val();
        // ---- card-driven registers and statistics ----
        self.regs.status_ready.next = true;
        self.regs.cmdq_cons.next = 0.into();
        self.regs.aging_pos.next = self.ctab.sweep_pos.val();
        self.regs.aging_laps.next = self.ctab.sweep_laps.val();
        self.regs.evq_status_set.next = 0.into();
        self.regs.cmdq_status_set.next = 0.into();
        self.regs.err_set.next = 0.into();
        if self.front.out_valid.val() && self.front.out_malformed.val() {
            self.regs.err_set.next = self.k_err_parse.val();
        }
        self.regs.st_pkts.next = self.front.out_valid.val();
        self.regs.st_parse_errors.next =
            self.front.out_valid.val() && self.front.out_malformed.val();
        self.regs.st_conn_hits.next = self.verdict.o_st_conn_hit.val();
        self.regs.st_tpl_hits.next = self.verdict.o_st_tpl_hit.val();
        self.regs.st_learns.next = self.verdict.o_st_learn.val();
        self.regs.st_misses.next = self.verdict.o_st_miss.val();
        self.regs.st_drops.next = self.verdict.o_st_drop.val();
        self.regs.st_flag_events.next = self.verdict.o_ev_flag.val();
        self.regs.st_expires.next =
            self.verdict.o_conn_del.val() || self.c_ev_take.val() || self.t_ev_take.val();
        self.regs.st_evq_full.next = self.verdict.o_st_evq_full.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dest::{bits_to_words, words_to_bits};
    use lvsnic_abi::regs::{cmd, ctrl, evq, ring, stats};
    use lvsnic_abi::types::addr_bits;
    use lvsnic_abi::{template_key, FlowKey, MissReason, PersistMask, TemplateKind};
    use std::collections::HashMap;
    use std::net::IpAddr;

    fn u128_bits(v: u128) -> Bits<128> {
        let w = [
            v as u32,
            (v >> 32) as u32,
            (v >> 64) as u32,
            (v >> 96) as u32,
        ];
        words_to_bits(&w)
    }

    #[test]
    fn key_formation_matches_the_abi() {
        let mut u = KeyForm::default();
        u.connect_all();
        type Case = (
            &'static str,
            &'static str,
            u16,
            u16,
            u8,
            u32,
            PersistMask,
            u8,
        );
        let cases: Vec<Case> = vec![
            // (client, vip, cport, vport, proto, mark, pmask, kind: 0 port, 1 port-zero, 2 fwmark)
            (
                "10.1.2.3",
                "192.0.2.10",
                40000,
                80,
                6,
                0,
                PersistMask::V4(0xffff_ff00),
                0,
            ),
            (
                "10.1.2.3",
                "192.0.2.10",
                40000,
                443,
                17,
                0,
                PersistMask::V4(0xffff_0000),
                1,
            ),
            (
                "10.1.2.3",
                "192.0.2.10",
                40000,
                443,
                6,
                7,
                PersistMask::V4(0xffff_ffff),
                2,
            ),
            (
                "2001:db8:1:2::99",
                "2001:db8::10",
                5555,
                80,
                132,
                0,
                PersistMask::V6(48),
                0,
            ),
            (
                "2001:db8:1:2::99",
                "2001:db8::10",
                5555,
                21,
                6,
                9,
                PersistMask::V6(64),
                2,
            ),
            (
                "2001:db8:1:2::99",
                "2001:db8::10",
                5555,
                21,
                6,
                0,
                PersistMask::V6(128),
                1,
            ),
        ];
        for (c, v, cport, vport, proto, mark, pm, kind) in cases {
            let caddr: IpAddr = c.parse().unwrap();
            let vaddr: IpAddr = v.parse().unwrap();
            let conn = FlowKey {
                proto,
                caddr,
                cport,
                vaddr,
                vport,
            };
            let tk = match kind {
                0 => TemplateKind::Port {
                    proto,
                    vaddr,
                    vport,
                },
                1 => TemplateKind::AnyPort { proto, vaddr },
                _ => TemplateKind::Fwmark { mark },
            };
            let tpl = template_key(tk, &caddr, pm).unwrap();
            u.in_valid.next = true;
            u.af.next = caddr.is_ipv6();
            u.proto.next = (proto as u64).into();
            u.src.next = u128_bits(addr_bits(&caddr));
            u.dst.next = u128_bits(addr_bits(&vaddr));
            u.sport.next = (cport as u64).into();
            u.dport.next = (vport as u64).into();
            u.mark.next = (mark as u64).into();
            u.s_is_fwmark.next = kind == 2;
            u.s_pmask.next = u128_bits(pm.bits());
            u.s_vport.next = (if kind == 1 { 0 } else { vport } as u64).into();
            u.clock.next = Clock { clk: false };
            assert!(simulate(&mut u, 100));
            u.clock.next = Clock { clk: true };
            assert!(simulate(&mut u, 100));
            assert!(u.out_valid.val());
            assert_eq!(
                bits_to_words(u.conn_key.val()),
                conn.words().unwrap().to_vec(),
                "conn key {c}"
            );
            assert_eq!(
                bits_to_words(u.tpl_key.val()),
                tpl.words().unwrap().to_vec(),
                "template key {c} kind {kind}"
            );
        }
    }

    struct Tb {
        u: Card,
        mem: HashMap<u64, u64>,
        cycle: u64,
        verdicts: Vec<(u64, u64, u64, u64)>,
        vdests: Vec<u64>,
        last_beats: Vec<u64>,
        irqs: usize,
    }

    impl Tb {
        fn new() -> Tb {
            let mut u = Card::default();
            u.connect_all();
            Tb {
                u,
                mem: HashMap::new(),
                cycle: 0,
                verdicts: vec![],
                vdests: vec![],
                last_beats: vec![],
                irqs: 0,
            }
        }
        /// One clock: sample the outputs of this cycle, then the edge.
        fn clk(&mut self) {
            self.u.dma_ready.next = self.cycle % 3 != 1;
            self.u.clock.next = Clock { clk: false };
            assert!(simulate(&mut self.u, 400));
            if self.u.s_valid.val() && self.u.s_ready.val() && self.u.s_last.val() {
                self.last_beats.push(self.cycle);
            }
            if self.u.dma_valid.val() && self.u.dma_ready.val() {
                // one beat = one 64-byte record at its slot address; kept as 8 little-endian
                // 64-bit words at addr + 8k
                assert!(self.u.dma_last.val());
                let a = self.u.dma_addr.val().to_u64();
                assert_eq!(a % 64, 0, "a beat is one aligned record");
                let w = bits_to_words(self.u.dma_data.val());
                for k in 0..8 {
                    let d = w[2 * k] as u64 | (w[2 * k + 1] as u64) << 32;
                    self.mem.insert(a + 8 * k as u64, d);
                }
            }
            if self.u.v_valid.val() {
                self.verdicts.push((
                    self.cycle,
                    self.u.v_pkt_id.val().to_u64(),
                    self.u.v_kind.val().to_u64(),
                    self.u.v_reason.val().to_u64(),
                ));
                self.vdests.push(self.u.v_dest.val().to_u64());
            }
            if self.u.irq.val() {
                self.irqs += 1;
            }
            self.u.clock.next = Clock { clk: true };
            assert!(simulate(&mut self.u, 400));
            self.cycle += 1;
        }
        fn write(&mut self, a: u32, v: u32) {
            self.u.reg_addr.next = (a as u64).into();
            self.u.reg_wdata.next = (v as u64).into();
            self.u.reg_wr.next = true;
            self.clk();
            self.u.reg_wr.next = false;
        }
        fn read(&mut self, a: u32) -> u32 {
            self.u.reg_addr.next = (a as u64).into();
            self.u.reg_rd.next = true;
            self.clk();
            self.u.reg_rd.next = false;
            self.u.reg_rdata.val().to_u64() as u32
        }
        /// Send a frame in 64-byte beats, waiting while `s_ready` is low.
        fn frame(&mut self, f: &[u8]) {
            let n = f.len().div_ceil(64).max(1);
            for i in 0..n {
                let c = &f[(i * 64).min(f.len())..((i + 1) * 64).min(f.len())];
                self.u.s_valid.next = true;
                self.u.s_data.next = beat(c);
                self.u.s_last.next = i + 1 == n;
                self.u.s_keep.next = keep(c.len()).into();
                self.clk();
                while !self.u.s_ready.val() {
                    self.clk();
                }
            }
            self.u.s_valid.next = false;
            self.u.s_last.next = false;
        }
        /// Write dest 5 (10.0.0.1:80) by its raw command words and ring the doorbell, without
        /// waiting: the MMIO command path as the driver drives it.
        fn write_dest5(&mut self) {
            let mut cmdw = [0u32; 16];
            cmdw[0] = lvsnic_abi::Opcode::Write as u32 | (TableId::Dest as u32) << 8;
            cmdw[1] = 5;
            cmdw[2..10].copy_from_slice(&[
                0x0a00_0001,
                0,
                0,
                0,
                80,
                0x0000_011b,
                0x3344_5566,
                0x1122,
            ]);
            for (i, w) in cmdw.iter().enumerate() {
                self.write(cmd::BASE + cmd::DATA + 4 * i as u32, *w);
            }
            self.write(cmd::BASE + cmd::DOORBELL, 1);
        }
        /// `TIME.TICK = t`, the tick counter stopped (the tests step it).
        fn set_tick(&mut self, t: u32) {
            use lvsnic_abi::regs::time;
            self.write(time::BASE + time::TICK, t);
            self.write(time::BASE + time::TICK_CTRL, 0);
        }
        /// Run one MMIO command; (status code, RESULT_INDEX, RESULT words).
        fn command(&mut self, c: &lvsnic_abi::Command) -> (u32, u32, Vec<u32>) {
            for (i, w) in c.encode().iter().enumerate() {
                self.write(cmd::BASE + cmd::DATA + 4 * i as u32, *w);
            }
            self.write(cmd::BASE + cmd::DOORBELL, 1);
            let mut n = 0;
            let st = loop {
                let st = self.read(cmd::BASE + cmd::STATUS);
                if st & 3 == 2 {
                    break st;
                }
                n += 1;
                assert!(n < 200, "command hangs");
            };
            let idx = self.read(cmd::BASE + cmd::RESULT_INDEX);
            let res = (0..14)
                .map(|i| self.read(cmd::BASE + cmd::RESULT + 4 * i))
                .collect();
            (st >> 8, idx, res)
        }
        /// A packet of `beats` full beats of garbage (not IP).
        fn packet(&mut self, beats: usize) {
            for b in 0..beats {
                self.u.s_valid.next = true;
                self.u.s_data.next = beat(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, b as u8]);
                self.u.s_last.next = b + 1 == beats;
                self.u.s_keep.next = keep(64).into();
                self.clk();
            }
            self.u.s_valid.next = false;
            self.u.s_last.next = false;
        }
    }

    /// A 512-bit beat from up to 64 bytes: first byte in bits 511..504, zeros after.
    fn beat(c: &[u8]) -> Bits<512> {
        let mut b = [0u8; 64];
        b[..c.len()].copy_from_slice(c);
        b.iter().fold(Bits::<512>::default(), |a, &x| {
            (a << 8u64) | Bits::<512>::from(x as u64)
        })
    }

    /// `s_keep` of a beat with `n` bytes: the top `n` bits.
    fn keep(n: usize) -> u64 {
        if n == 0 {
            0
        } else {
            !0u64 << (64 - n)
        }
    }

    #[test]
    fn card_end_to_end_unparsed() {
        crate::gen::with_big_stack(|| {
            let mut tb = Tb::new();
            let base = 0x8000_0000u64;
            // ID magic through the whole register path
            assert_eq!(
                tb.read(lvsnic_abi::regs::id::MAGIC),
                lvsnic_abi::limits::MAGIC
            );
            // EVQ: 16 slots at `base`, armed
            tb.write(evq::BASE + ring::BASE_LO, base as u32);
            tb.write(evq::BASE + ring::BASE_HI, (base >> 32) as u32);
            tb.write(evq::BASE + ring::LOG_SIZE, 4);
            tb.write(evq::BASE + ring::CTRL, 3);
            tb.write(ctrl::BASE + ctrl::CONTROL, 1);
            // a dest entry through the MMIO command interface
            tb.write_dest5();
            tb.clk();
            tb.clk();
            let status = tb.read(cmd::BASE + cmd::STATUS);
            assert_eq!(status, 2 | (CmdStatus::Ok as u32) << 8, "done, Ok");
            assert_eq!(tb.read(cmd::BASE + cmd::RESULT_INDEX), 5);
            // a command to a table that does not exist: BadTable
            tb.write(
                cmd::BASE + cmd::DATA,
                lvsnic_abi::Opcode::Write as u32 | 9 << 8,
            );
            tb.write(cmd::BASE + cmd::DOORBELL, 1);
            tb.clk();
            tb.clk();
            assert_eq!(
                tb.read(cmd::BASE + cmd::STATUS) >> 8,
                CmdStatus::BadTable as u32
            );
            // packets: not IP, every one misses Unparsed
            // packets: every one misses Unparsed (front placeholder)
            let n = 6;
            for k in 0..n {
                tb.packet(1 + k % 3);
            }
            for _ in 0..120 {
                tb.clk();
            }
            assert_eq!(tb.verdicts.len(), n);
            for (k, (cyc, id, kind, reason)) in tb.verdicts.iter().enumerate() {
                assert_eq!(*id, k as u64);
                assert_eq!(*kind, KIND_MISS);
                assert_eq!(*reason, MissReason::Unparsed as u64);
                assert_eq!(
                    cyc - tb.last_beats[k],
                    TOTAL_LATENCY as u64,
                    "parse-to-verdict latency"
                );
            }
            // the miss records in host memory, phase 1 on the first lap
            assert_eq!(tb.read(evq::BASE + ring::PROD), n as u32);
            for k in 0..n as u64 {
                let slot = base + 64 * k;
                let w0 = tb.mem[&slot];
                assert_eq!(w0 & 0xf, RecordType::Miss as u64);
                assert_eq!((w0 >> 8) & 0xf, MissReason::Unparsed as u64);
                let w13 = tb.mem[&(slot + 48)] >> 32;
                assert_eq!(w13, k, "pkt_id in word 13");
                assert_eq!(tb.mem[&(slot + 56)] >> 63, 1, "phase");
            }
            assert_eq!(tb.irqs, 1, "one interrupt, then arm is cleared");
            assert_eq!(tb.read(evq::BASE + ring::CTRL), 1);
            assert_eq!(tb.read(stats::BASE + stats::PKTS), n as u32);
            assert_eq!(tb.read(stats::BASE + stats::MISSES), n as u32);
        });
    }

    /// Ethernet / IPv4 / TCP frame.
    fn tcp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        f.extend_from_slice(&[0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0x10, 0, 0, 0, 0, 0]);
        f
    }

    /// The real front end and conn table: a conn inserted and looked up through the MMIO
    /// command path (engine, shared hash lane), then a TCP ACK of that flow hits it, forwards to
    /// its dest, and the write-back refreshes it.
    #[test]
    fn card_conn_command_and_hit() {
        crate::gen::with_big_stack(|| {
            use lvsnic_abi::{Command, ConnEntry, FwdMethod, TableEntry};
            let mut tb = Tb::new();
            tb.write(ctrl::BASE + ctrl::CONTROL, 1);
            tb.set_tick(1000);
            tb.write_dest5();
            let key = FlowKey {
                proto: 6,
                caddr: "10.1.2.3".parse().unwrap(),
                cport: 40000,
                vaddr: "192.0.2.10".parse().unwrap(),
                vport: 80,
            };
            let e = ConnEntry {
                key,
                fwd: FwdMethod::Route,
                controlled: false,
                ops: false,
                syn_miss: false,
                ev_next: false,
                state: 1,
                dest: 5,
                dest_gen: 1,
                last_refresh: 990,
                timeout_ms: 900_000,
                dport: 80,
            };
            let (st, slot, _) = tb.command(&Command::insert(&e).unwrap());
            assert_eq!(st, CmdStatus::Ok as u32, "insert");
            let (st, _, _) = tb.command(&Command::insert(&e).unwrap());
            assert_eq!(st, CmdStatus::Exists as u32, "second insert");
            let (st, i2, res) = tb.command(&Command::lookup(TableId::Conn, &key).unwrap());
            assert_eq!((st, i2), (CmdStatus::Ok as u32, slot), "lookup");
            let mut p = [0u32; 14];
            p.copy_from_slice(&res);
            assert_eq!(ConnEntry::from_payload(&p).unwrap(), e, "lookup image");
            // a service write by index answers at once
            let (st, _, _) = tb.command(&Command::delete_index(TableId::Service, 3).unwrap());
            assert_eq!(st, CmdStatus::Ok as u32, "service delete");
            // the flow's ACK hits the conn
            tb.frame(&tcp_frame([10, 1, 2, 3], [192, 0, 2, 10], 40000, 80, 0x10));
            for _ in 0..40 {
                tb.clk();
            }
            assert_eq!(tb.verdicts.len(), 1);
            let (cyc, _, kind, _) = tb.verdicts[0];
            assert_eq!(kind, crate::verdict::KIND_FORWARD, "conn hit forwards");
            assert_eq!(cyc - tb.last_beats[0], TOTAL_LATENCY as u64);
            assert_eq!(tb.vdests[0], 5);
            let (_, _, res) = tb.command(&Command::lookup(TableId::Conn, &key).unwrap());
            p.copy_from_slice(&res);
            assert_eq!(
                ConnEntry::from_payload(&p).unwrap().last_refresh,
                1000,
                "refreshed"
            );
            assert_eq!(tb.read(stats::BASE + stats::CONN_HITS), 1);
        });
    }

    /// Ethernet / IPv4 / UDP frame (42 bytes, one beat).
    fn udp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        f.extend_from_slice(&[0x45, 0, 0, 28, 0, 1, 0x40, 0, 64, 17, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&[0, 8, 0, 0]);
        f
    }

    /// One-beat frames on consecutive clocks through the real pipeline: one verdict per clock,
    /// each `TOTAL_LATENCY` after its beat, and back-to-back packets of the same flow see each
    /// other's write-backs (the table's read-after-write forwarding and the top's forwarding of
    /// the write-back presented in the clock of a later result):
    /// * conn A (TCP, `ev_next` set): the first ACK forwards with a flag event and clears
    ///   `ev_next`; the next ACKs, one clock apart, forward without one (STATS.FLAG_EVENTS = 1);
    /// * conn B (UDP, `ops`): the first datagram forwards and removes the conn (STATS.EXPIRES = 1);
    ///   the next ones, one clock apart, no longer hit it and miss (no service is configured);
    /// * interleaved A, B, A, B and runs of A give the same answers.
    #[test]
    fn card_one_beat_frames_back_to_back_same_flow() {
        crate::gen::with_big_stack(|| {
            use lvsnic_abi::{Command, ConnEntry, FwdMethod, TableEntry};
            let mut tb = Tb::new();
            let base = 0x8000_0000u64;
            tb.write(evq::BASE + ring::BASE_LO, base as u32);
            tb.write(evq::BASE + ring::BASE_HI, (base >> 32) as u32);
            tb.write(evq::BASE + ring::LOG_SIZE, 5);
            tb.write(evq::BASE + ring::CTRL, 1);
            tb.write(ctrl::BASE + ctrl::CONTROL, 1);
            tb.set_tick(1000);
            tb.write_dest5();
            let conn = |proto: u8, cport: u16, vport: u16, ops: bool, ev_next: bool| ConnEntry {
                key: FlowKey {
                    proto,
                    caddr: "10.1.2.3".parse().unwrap(),
                    cport,
                    vaddr: "192.0.2.10".parse().unwrap(),
                    vport,
                },
                fwd: FwdMethod::Route,
                controlled: false,
                ops,
                syn_miss: false,
                ev_next,
                state: 1,
                dest: 5,
                dest_gen: 1,
                last_refresh: 990,
                timeout_ms: 900_000,
                dport: vport,
            };
            let a = conn(6, 40000, 80, false, true);
            let b = conn(17, 40001, 53, true, false);
            for e in [&a, &b] {
                let (st, _, _) = tb.command(&Command::insert(e).unwrap());
                assert_eq!(st, CmdStatus::Ok as u32, "insert");
            }
            let fa = tcp_frame([10, 1, 2, 3], [192, 0, 2, 10], 40000, 80, 0x10);
            let fb = udp_frame([10, 1, 2, 3], [192, 0, 2, 10], 40001, 53);
            assert!(fa.len() <= 64 && fb.len() <= 64);
            // (frame, expected kind)
            let fwd = crate::verdict::KIND_FORWARD;
            let plan: Vec<(&Vec<u8>, u64)> = vec![
                (&fa, fwd),
                (&fa, fwd),
                (&fa, fwd),
                (&fb, fwd),
                (&fb, KIND_MISS),
                (&fb, KIND_MISS),
                (&fa, fwd),
                (&fb, KIND_MISS),
                (&fa, fwd),
                (&fb, KIND_MISS),
                (&fa, fwd),
                (&fa, fwd),
            ];
            let v0 = tb.verdicts.len();
            let l0 = tb.last_beats.len();
            for (f, _) in &plan {
                tb.frame(f);
            }
            for _ in 0..TOTAL_LATENCY + 40 {
                tb.clk();
            }
            let beats = &tb.last_beats[l0..];
            assert_eq!(beats.len(), plan.len());
            assert!(
                beats.windows(2).all(|w| w[1] == w[0] + 1),
                "one beat per clock, no stall: {beats:?}"
            );
            let got = &tb.verdicts[v0..];
            assert_eq!(got.len(), plan.len());
            for (k, ((cyc, _, kind, _), (_, want))) in got.iter().zip(&plan).enumerate() {
                assert_eq!(*kind, *want, "packet {k}: {got:?}");
                assert_eq!(cyc - beats[k], TOTAL_LATENCY as u64, "packet {k}");
            }
            assert!(
                got.windows(2).all(|w| w[1].0 == w[0].0 + 1),
                "one verdict per clock"
            );
            assert_eq!(tb.read(stats::BASE + stats::CONN_HITS), 8);
            assert_eq!(
                tb.read(stats::BASE + stats::FLAG_EVENTS),
                1,
                "ev_next seen once"
            );
            assert_eq!(
                tb.read(stats::BASE + stats::EXPIRES),
                1,
                "ops conn removed once"
            );
            assert_eq!(tb.read(stats::BASE + stats::MISSES), 4);
            // the refresh reached the table: conn A's last_refresh is now
            let (st, _, res) = tb.command(&Command::lookup(TableId::Conn, &a.key).unwrap());
            assert_eq!(st, CmdStatus::Ok as u32);
            let mut p = [0u32; 14];
            p.copy_from_slice(&res);
            let e = ConnEntry::from_payload(&p).unwrap();
            assert_eq!(
                (e.last_refresh, e.ev_next),
                (1000, false),
                "refreshed, ev_next cleared"
            );
            let (st, _, _) = tb.command(&Command::lookup(TableId::Conn, &b.key).unwrap());
            assert_eq!(st, CmdStatus::NotFound as u32, "ops conn gone");
        });
    }

    #[test]
    fn latency_budget() {
        assert_eq!(TOTAL_LATENCY, 27);
        assert_eq!(CTX_DIST, 17);
        const { assert!(TOTAL_LATENCY <= 32) };
        // the context ring must be deeper than the distance it bridges
        const { assert!(CTX_DIST < 32) };
    }

    #[test]
    fn control_bits_used_by_top_match_the_abi() {
        let r = lvsnic_abi::regs::block("CTRL")
            .unwrap()
            .reg("CONTROL")
            .unwrap();
        assert_eq!(r.field("enable").unwrap().lsb, 0);
        assert_eq!(r.field("learn_en").unwrap().lsb, 1);
        assert_eq!(r.field("ftp_fallback").unwrap().lsb, 2);
        let e = lvsnic_abi::regs::block("EVQ").unwrap().reg("CTRL").unwrap();
        assert_eq!(e.field("enable").unwrap().lsb, 0);
        assert_eq!(e.field("arm").unwrap().lsb, 1);
        let l = lvsnic_abi::regs::block("EVQ")
            .unwrap()
            .reg("BASE_LO")
            .unwrap();
        assert_eq!(l.field("addr").unwrap().mask(), 0xffff_ffc0);
        // learn flags image: state 3:0, syn_miss 8, ev_next 9 (10 bits)
        let f = lvsnic_abi::regs::block("LEARN")
            .unwrap()
            .reg("TCP_FLAGS")
            .unwrap();
        assert!(f.fields.iter().all(|x| x.lsb + x.width <= 10));
        // command record: opcode 7:0, table 11:8, index word 1, payload from word 2
        use lvsnic_abi::records::cmd as c;
        assert_eq!((c::OPCODE.lsb, c::OPCODE.width), (0, 8));
        assert_eq!((c::TABLE.lsb, c::TABLE.width), (8, 4));
        assert_eq!(c::INDEX.lsb, 32);
    }
}
