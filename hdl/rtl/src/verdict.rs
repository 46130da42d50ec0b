//! Verdict + DR action: the per-packet decision of the ABI ("Per-packet decisions the layouts
//! encode", steps 1 and 3..5 of `docs/registers.md`; step 2 is the fwmark block, step 6 the
//! tables' aging sweep), taken from the aligned results of the conn lookup, the template lookup,
//! the service lookup, the two dest reads (A = the conn's dest, B = the template's dest), the
//! parsed header, `now`, the LEARN/CTRL registers and the event queue's room signal.
//!
//! Output: one verdict record per input packet (packet id, kind, dest, miss reason, mark, DR MAC,
//! service) plus side-effect strobes (conn write-back = refresh `last_refresh = now` and clear
//! `ev_next`; conn remove for `ops`; learn-insert request with the new conn's fields; template
//! refresh; learn event; flag event) and statistics strobes.
//!
//! Latency **1 clock** (all outputs registered), II = 1. Resources: ~1 k LUT (three 32-bit
//! subtract/compare for the liveness checks, the 8-bit gen compares, muxes) and ~330 FF.
//!
//! Interpretations where the ABI text is not explicit (documented in hdl/README.md):
//! * `CTRL.enable == 0` -> every parsed packet misses with `HostOnly`.
//! * A conn-hit forward that needs an event (flag event, or the `ops` expire) and has no event room
//!   -> miss `TableFull` (the ABI's reason for "no room for the event"), counted in `EVQ_FULL`.
//! * SCTP "chunk type" that makes a flag event: INIT, INIT_ACK, ABORT, SHUTDOWN, SHUTDOWN_ACK,
//!   COOKIE_ECHO, COOKIE_ACK, SHUTDOWN_COMPLETE (the state-changing chunks of the IPVS SCTP table).
//! * "client port 20 -> HostOnly" applies to every protocol, as written.
use lvsnic_abi::MissReason;
use rust_hdl::prelude::*;

/// Verdict kinds (`kind` output).
pub const KIND_FORWARD: u64 = 0;
pub const KIND_DROP: u64 = 1;
pub const KIND_MISS: u64 = 2;

#[derive(LogicBlock)]
pub struct Verdict {
    pub clock: Signal<In, Clock>,
    // ---- packet (aligned) ----
    pub in_valid: Signal<In, Bit>,
    pub pkt_id: Signal<In, Bits<32>>,
    /// IPv4/IPv6 + TCP/UDP/SCTP with ports
    pub parsed: Signal<In, Bit>,
    pub proto: Signal<In, Bits<8>>,
    /// TCP flags byte or SCTP first chunk type
    pub l4_info: Signal<In, Bits<8>>,
    pub cport: Signal<In, Bits<16>>,
    pub vport: Signal<In, Bits<16>>,
    pub mark: Signal<In, Bits<32>>,
    // ---- registers ----
    pub now: Signal<In, Bits<32>>,
    pub enable: Signal<In, Bit>,
    pub learn_en: Signal<In, Bit>,
    pub ftp_fallback: Signal<In, Bit>,
    pub unpriv_port: Signal<In, Bits<16>>,
    pub tcp_timeout: Signal<In, Bits<32>>,
    pub tcp_flags: Signal<In, Bits<10>>,
    pub udp_timeout: Signal<In, Bits<32>>,
    pub udp_flags: Signal<In, Bits<10>>,
    pub sctp_timeout: Signal<In, Bits<32>>,
    pub sctp_flags: Signal<In, Bits<10>>,
    /// the event queue can take the events this packet may produce
    pub ev_room: Signal<In, Bit>,
    // ---- conn lookup ----
    pub c_hit: Signal<In, Bit>,
    pub c_idx: Signal<In, Bits<32>>,
    pub c_last_refresh: Signal<In, Bits<32>>,
    pub c_timeout: Signal<In, Bits<32>>,
    pub c_dest: Signal<In, Bits<8>>,
    pub c_dest_gen: Signal<In, Bits<8>>,
    pub c_syn_miss: Signal<In, Bit>,
    pub c_ev_next: Signal<In, Bit>,
    pub c_ops: Signal<In, Bit>,
    pub c_state: Signal<In, Bits<4>>,
    /// a free conn slot exists for a learn insert
    pub c_free: Signal<In, Bit>,
    // ---- service lookup ----
    pub s_hit: Signal<In, Bit>,
    pub s_idx: Signal<In, Bits<8>>,
    pub s_persistent: Signal<In, Bit>,
    pub s_ops: Signal<In, Bit>,
    pub s_host_only: Signal<In, Bit>,
    // ---- template lookup ----
    pub t_hit: Signal<In, Bit>,
    pub t_idx: Signal<In, Bits<32>>,
    pub t_learn: Signal<In, Bit>,
    pub t_dport_from_dest: Signal<In, Bit>,
    pub t_dest: Signal<In, Bits<8>>,
    pub t_dest_gen: Signal<In, Bits<8>>,
    pub t_last_refresh: Signal<In, Bits<32>>,
    pub t_timeout: Signal<In, Bits<32>>,
    // ---- dest reads (A: conn's dest, B: template's dest) ----
    pub da_state: Signal<In, Bits<32>>,
    pub da_mac: Signal<In, Bits<48>>,
    pub db_state: Signal<In, Bits<32>>,
    pub db_mac: Signal<In, Bits<48>>,
    pub db_port: Signal<In, Bits<16>>,
    pub db_fwd: Signal<In, Bits<3>>,
    // ---- verdict record ----
    pub o_valid: Signal<Out, Bit>,
    pub o_pkt_id: Signal<Out, Bits<32>>,
    pub o_kind: Signal<Out, Bits<2>>,
    pub o_dest: Signal<Out, Bits<8>>,
    pub o_reason: Signal<Out, Bits<4>>,
    pub o_mark: Signal<Out, Bits<32>>,
    pub o_mac: Signal<Out, Bits<48>>,
    pub o_svc: Signal<Out, Bits<8>>,
    // ---- side effects ----
    /// conn hit forwarded: write `last_refresh = o_now`, clear `ev_next` of conn `o_c_idx`
    pub o_conn_wb: Signal<Out, Bit>,
    /// `ops` conn: remove `o_c_idx` after forwarding (expire event cause Ops)
    pub o_conn_del: Signal<Out, Bit>,
    pub o_c_idx: Signal<Out, Bits<32>>,
    pub o_c_state: Signal<Out, Bits<4>>,
    /// template refresh: `last_refresh = o_now` of template `o_t_idx`
    pub o_tpl_wb: Signal<Out, Bit>,
    pub o_t_idx: Signal<Out, Bits<32>>,
    /// learn-insert request (controlled = 1)
    pub o_learn_ins: Signal<Out, Bit>,
    pub o_learn_gen: Signal<Out, Bits<8>>,
    pub o_learn_fwd: Signal<Out, Bits<3>>,
    pub o_learn_dport: Signal<Out, Bits<16>>,
    pub o_learn_timeout: Signal<Out, Bits<32>>,
    /// LEARN.*_FLAGS image: state 3:0, syn_miss 8, ev_next 9
    pub o_learn_flags: Signal<Out, Bits<10>>,
    pub o_ev_learn: Signal<Out, Bit>,
    pub o_ev_learn_ops: Signal<Out, Bit>,
    pub o_ev_flag: Signal<Out, Bit>,
    pub o_l4_info: Signal<Out, Bits<8>>,
    pub o_now: Signal<Out, Bits<32>>,
    // ---- statistics strobes ----
    pub o_st_conn_hit: Signal<Out, Bit>,
    pub o_st_tpl_hit: Signal<Out, Bit>,
    pub o_st_learn: Signal<Out, Bit>,
    pub o_st_miss: Signal<Out, Bit>,
    pub o_st_drop: Signal<Out, Bit>,
    pub o_st_evq_full: Signal<Out, Bit>,
    // ---- locals ----
    is_tcp: Signal<Local, Bit>,
    is_udp: Signal<Local, Bit>,
    is_sctp: Signal<Local, Bit>,
    syn_like: Signal<Local, Bit>,
    not_new: Signal<Local, Bit>,
    flag_pkt: Signal<Local, Bit>,
    sctp_flag: Signal<Local, Bit>,
    c_live: Signal<Local, Bit>,
    t_live: Signal<Local, Bit>,
    c_gen_ok: Signal<Local, Bit>,
    t_gen_ok: Signal<Local, Bit>,
    c_flag: Signal<Local, Bit>,
    ftp_cand: Signal<Local, Bit>,
    ops_udp: Signal<Local, Bit>,
    n_kind: Signal<Local, Bits<2>>,
    n_reason: Signal<Local, Bits<4>>,
    n_dest: Signal<Local, Bits<8>>,
    n_mac: Signal<Local, Bits<48>>,
    n_conn_wb: Signal<Local, Bit>,
    n_conn_del: Signal<Local, Bit>,
    n_tpl_wb: Signal<Local, Bit>,
    n_learn_ins: Signal<Local, Bit>,
    n_ev_learn: Signal<Local, Bit>,
    n_ev_learn_ops: Signal<Local, Bit>,
    n_ev_flag: Signal<Local, Bit>,
    n_st_conn_hit: Signal<Local, Bit>,
    n_st_tpl_hit: Signal<Local, Bit>,
    n_st_evq_full: Signal<Local, Bit>,
    n_st_drop: Signal<Local, Bit>,
    n_timeout: Signal<Local, Bits<32>>,
    n_flags: Signal<Local, Bits<10>>,
    n_dport: Signal<Local, Bits<16>>,
    // ---- constants (from the ABI enums) ----
    k_forward: Constant<Bits<2>>,
    k_drop: Constant<Bits<2>>,
    k_miss: Constant<Bits<2>>,
    r_schedule: Constant<Bits<4>>,
    r_no_service: Constant<Bits<4>>,
    r_not_new: Constant<Bits<4>>,
    r_tpl_invalid: Constant<Bits<4>>,
    r_dest_invalid: Constant<Bits<4>>,
    r_syn_on_conn: Constant<Bits<4>>,
    r_expired: Constant<Bits<4>>,
    r_table_full: Constant<Bits<4>>,
    r_host_only: Constant<Bits<4>>,
    r_unparsed: Constant<Bits<4>>,
    // ---- output registers ----
    q_valid: DFF<Bit>,
    q_pkt_id: DFF<Bits<32>>,
    q_kind: DFF<Bits<2>>,
    q_dest: DFF<Bits<8>>,
    q_reason: DFF<Bits<4>>,
    q_mark: DFF<Bits<32>>,
    q_mac: DFF<Bits<48>>,
    q_svc: DFF<Bits<8>>,
    q_conn_wb: DFF<Bit>,
    q_conn_del: DFF<Bit>,
    q_c_idx: DFF<Bits<32>>,
    q_c_state: DFF<Bits<4>>,
    q_tpl_wb: DFF<Bit>,
    q_t_idx: DFF<Bits<32>>,
    q_learn_ins: DFF<Bit>,
    q_learn_gen: DFF<Bits<8>>,
    q_learn_fwd: DFF<Bits<3>>,
    q_learn_dport: DFF<Bits<16>>,
    q_learn_timeout: DFF<Bits<32>>,
    q_learn_flags: DFF<Bits<10>>,
    q_ev_learn: DFF<Bit>,
    q_ev_learn_ops: DFF<Bit>,
    q_ev_flag: DFF<Bit>,
    q_l4_info: DFF<Bits<8>>,
    q_now: DFF<Bits<32>>,
    q_st_conn_hit: DFF<Bit>,
    q_st_tpl_hit: DFF<Bit>,
    q_st_learn: DFF<Bit>,
    q_st_miss: DFF<Bit>,
    q_st_drop: DFF<Bit>,
    q_st_evq_full: DFF<Bit>,
}

fn reason(r: MissReason) -> Constant<Bits<4>> {
    Constant::new((r as u64).into())
}

impl Default for Verdict {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            in_valid: Default::default(),
            pkt_id: Default::default(),
            parsed: Default::default(),
            proto: Default::default(),
            l4_info: Default::default(),
            cport: Default::default(),
            vport: Default::default(),
            mark: Default::default(),
            now: Default::default(),
            enable: Default::default(),
            learn_en: Default::default(),
            ftp_fallback: Default::default(),
            unpriv_port: Default::default(),
            tcp_timeout: Default::default(),
            tcp_flags: Default::default(),
            udp_timeout: Default::default(),
            udp_flags: Default::default(),
            sctp_timeout: Default::default(),
            sctp_flags: Default::default(),
            ev_room: Default::default(),
            c_hit: Default::default(),
            c_idx: Default::default(),
            c_last_refresh: Default::default(),
            c_timeout: Default::default(),
            c_dest: Default::default(),
            c_dest_gen: Default::default(),
            c_syn_miss: Default::default(),
            c_ev_next: Default::default(),
            c_ops: Default::default(),
            c_state: Default::default(),
            c_free: Default::default(),
            s_hit: Default::default(),
            s_idx: Default::default(),
            s_persistent: Default::default(),
            s_ops: Default::default(),
            s_host_only: Default::default(),
            t_hit: Default::default(),
            t_idx: Default::default(),
            t_learn: Default::default(),
            t_dport_from_dest: Default::default(),
            t_dest: Default::default(),
            t_dest_gen: Default::default(),
            t_last_refresh: Default::default(),
            t_timeout: Default::default(),
            da_state: Default::default(),
            da_mac: Default::default(),
            db_state: Default::default(),
            db_mac: Default::default(),
            db_port: Default::default(),
            db_fwd: Default::default(),
            o_valid: Default::default(),
            o_pkt_id: Default::default(),
            o_kind: Default::default(),
            o_dest: Default::default(),
            o_reason: Default::default(),
            o_mark: Default::default(),
            o_mac: Default::default(),
            o_svc: Default::default(),
            o_conn_wb: Default::default(),
            o_conn_del: Default::default(),
            o_c_idx: Default::default(),
            o_c_state: Default::default(),
            o_tpl_wb: Default::default(),
            o_t_idx: Default::default(),
            o_learn_ins: Default::default(),
            o_learn_gen: Default::default(),
            o_learn_fwd: Default::default(),
            o_learn_dport: Default::default(),
            o_learn_timeout: Default::default(),
            o_learn_flags: Default::default(),
            o_ev_learn: Default::default(),
            o_ev_learn_ops: Default::default(),
            o_ev_flag: Default::default(),
            o_l4_info: Default::default(),
            o_now: Default::default(),
            o_st_conn_hit: Default::default(),
            o_st_tpl_hit: Default::default(),
            o_st_learn: Default::default(),
            o_st_miss: Default::default(),
            o_st_drop: Default::default(),
            o_st_evq_full: Default::default(),
            is_tcp: Default::default(),
            is_udp: Default::default(),
            is_sctp: Default::default(),
            syn_like: Default::default(),
            not_new: Default::default(),
            flag_pkt: Default::default(),
            sctp_flag: Default::default(),
            c_live: Default::default(),
            t_live: Default::default(),
            c_gen_ok: Default::default(),
            t_gen_ok: Default::default(),
            c_flag: Default::default(),
            ftp_cand: Default::default(),
            ops_udp: Default::default(),
            n_kind: Default::default(),
            n_reason: Default::default(),
            n_dest: Default::default(),
            n_mac: Default::default(),
            n_conn_wb: Default::default(),
            n_conn_del: Default::default(),
            n_tpl_wb: Default::default(),
            n_learn_ins: Default::default(),
            n_ev_learn: Default::default(),
            n_ev_learn_ops: Default::default(),
            n_ev_flag: Default::default(),
            n_st_conn_hit: Default::default(),
            n_st_tpl_hit: Default::default(),
            n_st_evq_full: Default::default(),
            n_st_drop: Default::default(),
            n_timeout: Default::default(),
            n_flags: Default::default(),
            n_dport: Default::default(),
            k_forward: Constant::new(KIND_FORWARD.into()),
            k_drop: Constant::new(KIND_DROP.into()),
            k_miss: Constant::new(KIND_MISS.into()),
            r_schedule: reason(MissReason::Schedule),
            r_no_service: reason(MissReason::NoService),
            r_not_new: reason(MissReason::NotNew),
            r_tpl_invalid: reason(MissReason::TemplateInvalid),
            r_dest_invalid: reason(MissReason::DestInvalid),
            r_syn_on_conn: reason(MissReason::SynOnConn),
            r_expired: reason(MissReason::Expired),
            r_table_full: reason(MissReason::TableFull),
            r_host_only: reason(MissReason::HostOnly),
            r_unparsed: reason(MissReason::Unparsed),
            q_valid: Default::default(),
            q_pkt_id: Default::default(),
            q_kind: Default::default(),
            q_dest: Default::default(),
            q_reason: Default::default(),
            q_mark: Default::default(),
            q_mac: Default::default(),
            q_svc: Default::default(),
            q_conn_wb: Default::default(),
            q_conn_del: Default::default(),
            q_c_idx: Default::default(),
            q_c_state: Default::default(),
            q_tpl_wb: Default::default(),
            q_t_idx: Default::default(),
            q_learn_ins: Default::default(),
            q_learn_gen: Default::default(),
            q_learn_fwd: Default::default(),
            q_learn_dport: Default::default(),
            q_learn_timeout: Default::default(),
            q_learn_flags: Default::default(),
            q_ev_learn: Default::default(),
            q_ev_learn_ops: Default::default(),
            q_ev_flag: Default::default(),
            q_l4_info: Default::default(),
            q_now: Default::default(),
            q_st_conn_hit: Default::default(),
            q_st_tpl_hit: Default::default(),
            q_st_learn: Default::default(),
            q_st_miss: Default::default(),
            q_st_drop: Default::default(),
            q_st_evq_full: Default::default(),
        }
    }
}

impl Logic for Verdict {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            q_valid,
            q_pkt_id,
            q_kind,
            q_dest,
            q_reason,
            q_mark,
            q_mac,
            q_svc,
            q_conn_wb,
            q_conn_del,
            q_c_idx,
            q_c_state,
            q_tpl_wb,
            q_t_idx,
            q_learn_ins,
            q_learn_gen,
            q_learn_fwd,
            q_learn_dport,
            q_learn_timeout,
            q_learn_flags,
            q_ev_learn,
            q_ev_learn_ops,
            q_ev_flag,
            q_l4_info,
            q_now,
            q_st_conn_hit,
            q_st_tpl_hit,
            q_st_learn,
            q_st_miss,
            q_st_drop,
            q_st_evq_full
        );
        // ---- derived packet facts ----
        self.is_tcp.next = self.proto.val() == 6;
        self.is_udp.next = self.proto.val() == 17;
        self.is_sctp.next = self.proto.val() == 132;
        // the kernel's is_new_conn(): TCP SYN (RST or not) / SCTP INIT
        self.syn_like.next = (self.is_tcp.val() && self.l4_info.val().get_bit(1))
            || (self.is_sctp.val() && self.l4_info.val() == 1);
        self.not_new.next = (self.is_tcp.val()
            && (!self.l4_info.val().get_bit(1) || self.l4_info.val().get_bit(2)))
            || (self.is_sctp.val() && self.l4_info.val() != 1);
        self.sctp_flag.next = (self.l4_info.val() == 1)
            | (self.l4_info.val() == 2)
            | (self.l4_info.val() == 6)
            | (self.l4_info.val() == 7)
            | (self.l4_info.val() == 8)
            | (self.l4_info.val() == 10)
            | (self.l4_info.val() == 11)
            | (self.l4_info.val() == 14);
        // TCP: SYN, FIN or RST, or no ACK either (a segment with none of the four moves the
        // kernel's entry to CLOSE: set_tcp_state()'s state index -1)
        self.flag_pkt.next = (self.is_tcp.val() && (self.l4_info.val() & 0x17) != 0x10)
            || (self.is_sctp.val() && self.sctp_flag.val());
        self.c_live.next = (self.now.val() - self.c_last_refresh.val()) < self.c_timeout.val();
        self.t_live.next = (self.now.val() - self.t_last_refresh.val()) < self.t_timeout.val();
        self.c_gen_ok.next = self.da_state.val().get_bits::<8>(8) == self.c_dest_gen.val();
        self.t_gen_ok.next = self.db_state.val().get_bits::<8>(8) == self.t_dest_gen.val();
        self.c_flag.next = self.flag_pkt.val() || self.c_ev_next.val();
        self.ftp_cand.next = self.is_tcp.val()
            && ((self.vport.val() == 20) || (self.vport.val() >= self.unpriv_port.val()));
        self.ops_udp.next = self.s_ops.val() && self.is_udp.val();
        // learned conn: per-protocol timeout/flags, dport per dport_from_dest
        self.n_timeout.next = self.udp_timeout.val();
        self.n_flags.next = self.udp_flags.val();
        if self.is_tcp.val() {
            self.n_timeout.next = self.tcp_timeout.val();
            self.n_flags.next = self.tcp_flags.val();
        }
        if self.is_sctp.val() {
            self.n_timeout.next = self.sctp_timeout.val();
            self.n_flags.next = self.sctp_flags.val();
        }
        self.n_dport.next = self.vport.val();
        if self.t_dport_from_dest.val() && (self.db_port.val() != 0) {
            self.n_dport.next = self.db_port.val();
        }
        // ---- the decision ----
        self.n_kind.next = self.k_miss.val();
        self.n_reason.next = self.r_schedule.val();
        self.n_dest.next = self.c_dest.val();
        self.n_mac.next = self.da_mac.val();
        self.n_conn_wb.next = false;
        self.n_conn_del.next = false;
        self.n_tpl_wb.next = false;
        self.n_learn_ins.next = false;
        self.n_ev_learn.next = false;
        self.n_ev_learn_ops.next = false;
        self.n_ev_flag.next = false;
        self.n_st_conn_hit.next = false;
        self.n_st_tpl_hit.next = false;
        self.n_st_evq_full.next = false;
        self.n_st_drop.next = false;
        if !self.parsed.val() {
            self.n_reason.next = self.r_unparsed.val();
        } else if !self.enable.val() {
            self.n_reason.next = self.r_host_only.val();
        } else if self.cport.val() == 0 {
            // `__ip_vs_conn_in_get()`: client port 0 matches no entry the packet path made;
            // the host schedules every such packet
            self.n_reason.next = self.r_host_only.val();
        } else if self.c_hit.val() {
            // step 3: conn hit
            if !self.c_live.val() {
                self.n_reason.next = self.r_expired.val();
            } else if !self.c_gen_ok.val() {
                self.n_reason.next = self.r_dest_invalid.val();
            } else if !self.da_state.val().get_bit(1) {
                if self.da_state.val().get_bit(2) {
                    self.n_kind.next = self.k_drop.val();
                    self.n_st_drop.next = true;
                } else {
                    self.n_reason.next = self.r_dest_invalid.val();
                }
            } else if self.syn_like.val()
                && (self.c_syn_miss.val() || !self.da_state.val().get_bit(3))
            {
                self.n_reason.next = self.r_syn_on_conn.val();
            } else if (self.c_flag.val() || self.c_ops.val()) && !self.ev_room.val() {
                self.n_reason.next = self.r_table_full.val();
                self.n_st_evq_full.next = true;
            } else {
                self.n_kind.next = self.k_forward.val();
                self.n_conn_wb.next = true;
                self.n_conn_del.next = self.c_ops.val();
                self.n_ev_flag.next = self.c_flag.val();
                self.n_st_conn_hit.next = true;
            }
        } else if self.not_new.val() {
            // step 4: conn miss
            self.n_reason.next = self.r_not_new.val();
        } else if self.cport.val() == 20 {
            self.n_reason.next = self.r_host_only.val();
        } else if !self.s_hit.val() {
            if self.ftp_fallback.val() && self.ftp_cand.val() {
                self.n_reason.next = self.r_host_only.val();
            } else {
                self.n_reason.next = self.r_no_service.val();
            }
        } else if self.s_host_only.val() {
            self.n_reason.next = self.r_host_only.val();
        } else if !self.s_persistent.val() {
            self.n_reason.next = self.r_schedule.val();
        } else if self.vport.val() == 0 {
            // `ip_vs_sched_persist()` keys the template and picks the conn's dport by
            // `dst_port == svc->port`: for a packet to port 0 of a fwmark or port-zero service
            // that is an address template (not the fwmark's) and the real server's port, which
            // the template image does not say. The host decides such packets.
            self.n_reason.next = self.r_host_only.val();
        } else if !self.t_hit.val() {
            // step 5: persistent service, template lookup
            self.n_reason.next = self.r_schedule.val();
        } else if !self.t_live.val() {
            self.n_reason.next = self.r_expired.val();
        } else if !self.t_learn.val()
            || !self.t_gen_ok.val()
            || !self.db_state.val().get_bit(4)
            || !self.learn_en.val()
        {
            self.n_reason.next = self.r_tpl_invalid.val();
        } else if !self.ops_udp.val() && !self.c_free.val() {
            self.n_reason.next = self.r_table_full.val();
        } else if !self.ev_room.val() {
            self.n_reason.next = self.r_table_full.val();
            self.n_st_evq_full.next = true;
        } else {
            self.n_kind.next = self.k_forward.val();
            self.n_dest.next = self.t_dest.val();
            self.n_mac.next = self.db_mac.val();
            self.n_tpl_wb.next = true;
            self.n_ev_learn.next = true;
            self.n_st_tpl_hit.next = true;
            if self.ops_udp.val() {
                self.n_ev_learn_ops.next = true;
            } else {
                self.n_learn_ins.next = true;
            }
        }
        // ---- registers ----
        self.q_valid.d.next = self.in_valid.val();
        self.q_pkt_id.d.next = self.pkt_id.val();
        self.q_kind.d.next = self.n_kind.val();
        self.q_dest.d.next = self.n_dest.val();
        self.q_reason.d.next = self.n_reason.val();
        self.q_mark.d.next = self.mark.val();
        self.q_mac.d.next = self.n_mac.val();
        self.q_svc.d.next = self.s_idx.val();
        self.q_conn_wb.d.next = self.in_valid.val() && self.n_conn_wb.val();
        self.q_conn_del.d.next = self.in_valid.val() && self.n_conn_del.val();
        self.q_c_idx.d.next = self.c_idx.val();
        self.q_c_state.d.next = self.c_state.val();
        self.q_tpl_wb.d.next = self.in_valid.val() && self.n_tpl_wb.val();
        self.q_t_idx.d.next = self.t_idx.val();
        self.q_learn_ins.d.next = self.in_valid.val() && self.n_learn_ins.val();
        self.q_learn_gen.d.next = self.db_state.val().get_bits::<8>(8);
        self.q_learn_fwd.d.next = self.db_fwd.val();
        self.q_learn_dport.d.next = self.n_dport.val();
        self.q_learn_timeout.d.next = self.n_timeout.val();
        self.q_learn_flags.d.next = self.n_flags.val();
        self.q_ev_learn.d.next = self.in_valid.val() && self.n_ev_learn.val();
        self.q_ev_learn_ops.d.next = self.n_ev_learn_ops.val();
        self.q_ev_flag.d.next = self.in_valid.val() && self.n_ev_flag.val();
        self.q_l4_info.d.next = self.l4_info.val();
        self.q_now.d.next = self.now.val();
        self.q_st_conn_hit.d.next = self.in_valid.val() && self.n_st_conn_hit.val();
        self.q_st_tpl_hit.d.next = self.in_valid.val() && self.n_st_tpl_hit.val();
        self.q_st_learn.d.next = self.in_valid.val() && self.n_learn_ins.val();
        self.q_st_miss.d.next = self.in_valid.val() && (self.n_kind.val() == self.k_miss.val());
        self.q_st_drop.d.next = self.in_valid.val() && self.n_st_drop.val();
        self.q_st_evq_full.d.next = self.in_valid.val() && self.n_st_evq_full.val();
        self.o_valid.next = self.q_valid.q.val();
        self.o_pkt_id.next = self.q_pkt_id.q.val();
        self.o_kind.next = self.q_kind.q.val();
        self.o_dest.next = self.q_dest.q.val();
        self.o_reason.next = self.q_reason.q.val();
        self.o_mark.next = self.q_mark.q.val();
        self.o_mac.next = self.q_mac.q.val();
        self.o_svc.next = self.q_svc.q.val();
        self.o_conn_wb.next = self.q_conn_wb.q.val();
        self.o_conn_del.next = self.q_conn_del.q.val();
        self.o_c_idx.next = self.q_c_idx.q.val();
        self.o_c_state.next = self.q_c_state.q.val();
        self.o_tpl_wb.next = self.q_tpl_wb.q.val();
        self.o_t_idx.next = self.q_t_idx.q.val();
        self.o_learn_ins.next = self.q_learn_ins.q.val();
        self.o_learn_gen.next = self.q_learn_gen.q.val();
        self.o_learn_fwd.next = self.q_learn_fwd.q.val();
        self.o_learn_dport.next = self.q_learn_dport.q.val();
        self.o_learn_timeout.next = self.q_learn_timeout.q.val();
        self.o_learn_flags.next = self.q_learn_flags.q.val();
        self.o_ev_learn.next = self.q_ev_learn.q.val();
        self.o_ev_learn_ops.next = self.q_ev_learn_ops.q.val();
        self.o_ev_flag.next = self.q_ev_flag.q.val();
        self.o_l4_info.next = self.q_l4_info.q.val();
        self.o_now.next = self.q_now.q.val();
        self.o_st_conn_hit.next = self.q_st_conn_hit.q.val();
        self.o_st_tpl_hit.next = self.q_st_tpl_hit.q.val();
        self.o_st_learn.next = self.q_st_learn.q.val();
        self.o_st_miss.next = self.q_st_miss.q.val();
        self.o_st_drop.next = self.q_st_drop.q.val();
        self.o_st_evq_full.next = self.q_st_evq_full.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvsnic_abi::entries::dest;

    /// Inputs of one packet (the software reference's view).
    #[derive(Clone, Debug, Default)]
    struct In {
        parsed: bool,
        enable: bool,
        proto: u8,
        l4: u8,
        cport: u16,
        vport: u16,
        now: u32,
        learn_en: bool,
        ftp_fallback: bool,
        unpriv: u16,
        ev_room: bool,
        c_hit: bool,
        c_lr: u32,
        c_to: u32,
        c_dest: u8,
        c_gen: u8,
        c_syn_miss: bool,
        c_ev_next: bool,
        c_ops: bool,
        c_free: bool,
        s_hit: bool,
        s_persistent: bool,
        s_ops: bool,
        s_host_only: bool,
        t_hit: bool,
        t_learn: bool,
        t_dpfd: bool,
        t_dest: u8,
        t_gen: u8,
        t_lr: u32,
        t_to: u32,
        da: u32,
        db: u32,
        db_port: u16,
    }

    #[derive(Debug, PartialEq, Default)]
    struct Out {
        kind: u64,
        reason: u64,
        dest: u64,
        conn_wb: bool,
        conn_del: bool,
        tpl_wb: bool,
        learn_ins: bool,
        ev_learn: bool,
        ev_learn_ops: bool,
        ev_flag: bool,
        dport: u64,
    }

    fn bit(w: u32, f: &lvsnic_abi::layout::Field) -> bool {
        (w >> (f.lsb - 160)) & 1 == 1
    }
    fn gen_of(w: u32) -> u8 {
        (w >> (dest::GEN.lsb - 160)) as u8
    }
    fn live(lr: u32, to: u32, now: u32) -> bool {
        lvsnic_abi::entries::is_live(lr, to, now)
    }

    /// The ABI's "Per-packet decisions the layouts encode", steps 1 and 3..5, written from the text.
    fn reference(i: &In) -> Out {
        use MissReason::*;
        let miss = |r: MissReason| Out {
            kind: KIND_MISS,
            reason: r as u64,
            ..Default::default()
        };
        let tcp = i.proto == 6;
        let udp = i.proto == 17;
        let sctp = i.proto == 132;
        let (syn, fin, rst) = (i.l4 & 2 != 0, i.l4 & 1 != 0, i.l4 & 4 != 0);
        // is_new_conn(): the SYN bit alone (a SYN+RST still counts), SCTP INIT
        let syn_like = (tcp && syn) || (sctp && i.l4 == 1);
        if !i.parsed {
            return miss(Unparsed);
        }
        if !i.enable || i.cport == 0 {
            return miss(HostOnly);
        }
        if i.c_hit {
            if !live(i.c_lr, i.c_to, i.now) {
                return miss(Expired);
            }
            if gen_of(i.da) != i.c_gen {
                return miss(DestInvalid);
            }
            if !bit(i.da, &dest::CONN_OK) {
                if bit(i.da, &dest::CONN_DROP) {
                    return Out {
                        kind: KIND_DROP,
                        ..Default::default()
                    };
                }
                return miss(DestInvalid);
            }
            if syn_like && (i.c_syn_miss || !bit(i.da, &dest::SYN_OK)) {
                return miss(SynOnConn);
            }
            let sctp_flag = matches!(i.l4, 1 | 2 | 6 | 7 | 8 | 10 | 11 | 14);
            let ack = i.l4 & 0x10 != 0;
            let flag = (tcp && (syn || fin || rst || !ack)) || (sctp && sctp_flag) || i.c_ev_next;
            if (flag || i.c_ops) && !i.ev_room {
                return miss(TableFull);
            }
            return Out {
                kind: KIND_FORWARD,
                dest: i.c_dest as u64,
                conn_wb: true,
                conn_del: i.c_ops,
                ev_flag: flag,
                ..Default::default()
            };
        }
        if (tcp && (!syn || rst)) || (sctp && i.l4 != 1) {
            return miss(NotNew);
        }
        if i.cport == 20 {
            return miss(HostOnly);
        }
        if !i.s_hit {
            if i.ftp_fallback && tcp && (i.vport == 20 || i.vport >= i.unpriv) {
                return miss(HostOnly);
            }
            return miss(NoService);
        }
        if i.s_host_only {
            return miss(HostOnly);
        }
        if !i.s_persistent {
            return miss(Schedule);
        }
        if i.vport == 0 {
            return miss(HostOnly);
        }
        if !i.t_hit {
            return miss(Schedule);
        }
        if !live(i.t_lr, i.t_to, i.now) {
            return miss(Expired);
        }
        if !i.t_learn || gen_of(i.db) != i.t_gen || !bit(i.db, &dest::TPL_OK) || !i.learn_en {
            return miss(TemplateInvalid);
        }
        let ops = i.s_ops && udp;
        if !ops && !i.c_free {
            return miss(TableFull);
        }
        if !i.ev_room {
            return miss(TableFull);
        }
        Out {
            kind: KIND_FORWARD,
            dest: i.t_dest as u64,
            tpl_wb: true,
            ev_learn: true,
            ev_learn_ops: ops,
            learn_ins: !ops,
            dport: if ops {
                0
            } else if i.t_dpfd && i.db_port != 0 {
                i.db_port as u64
            } else {
                i.vport as u64
            },
            ..Default::default()
        }
    }

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
        fn pick<T: Copy>(&mut self, v: &[T]) -> T {
            v[(self.next() % v.len() as u64) as usize]
        }
    }

    fn random_in(r: &mut Rng) -> In {
        let now = r.pick(&[5u32, 1000, 0xffff_fff0, 70_000]);
        let state = |r: &mut Rng| -> u32 {
            let mut w = 0;
            for f in [
                &dest::VALID,
                &dest::CONN_OK,
                &dest::CONN_DROP,
                &dest::SYN_OK,
                &dest::TPL_OK,
            ] {
                if r.b(80) {
                    w |= 1 << (f.lsb - 160);
                }
            }
            w | ((r.pick(&[1u32, 2]) << (dest::GEN.lsb - 160)) | 0xa5a5_0000)
        };
        In {
            parsed: r.b(95),
            enable: r.b(95),
            proto: r.pick(&[6, 17, 132, 6]),
            l4: r.pick(&[0x02, 0x10, 0x12, 0x11, 0x04, 0x06, 0x01, 0x00, 0x0a, 0x03]),
            // client port 0 (always to the host) in one packet of ten
            cport: r.pick(&[20, 1234, 40000, 5555, 20, 1234, 40000, 5555, 1234, 0]),
            vport: r.pick(&[20, 80, 2000, 443, 1024, 0]),
            now,
            learn_en: r.b(85),
            ftp_fallback: r.b(50),
            unpriv: r.pick(&[1024, 3000]),
            ev_room: r.b(85),
            c_hit: r.b(45),
            c_lr: now.wrapping_sub(r.pick(&[0u32, 10, 100, 1000])),
            c_to: r.pick(&[1u32, 100, 101, 60000]),
            c_dest: r.next() as u8,
            c_gen: r.pick(&[1, 2, 1]),
            c_syn_miss: r.b(20),
            c_ev_next: r.b(20),
            c_ops: r.b(15),
            c_free: r.b(85),
            s_hit: r.b(85),
            s_persistent: r.b(75),
            s_ops: r.b(20),
            s_host_only: r.b(10),
            t_hit: r.b(80),
            t_learn: r.b(85),
            t_dpfd: r.b(50),
            t_dest: r.next() as u8,
            t_gen: r.pick(&[1, 2, 1]),
            t_lr: now.wrapping_sub(r.pick(&[0u32, 10, 100, 1000])),
            t_to: r.pick(&[1u32, 100, 101, 60000]),
            da: state(r),
            db: state(r),
            db_port: r.pick(&[0, 8080]),
        }
    }

    fn drive(u: &mut Verdict, i: &In, id: u32) {
        u.in_valid.next = true;
        u.pkt_id.next = (id as u64).into();
        u.parsed.next = i.parsed;
        u.enable.next = i.enable;
        u.proto.next = (i.proto as u64).into();
        u.l4_info.next = (i.l4 as u64).into();
        u.cport.next = (i.cport as u64).into();
        u.vport.next = (i.vport as u64).into();
        u.mark.next = (id as u64 ^ 0x55).into();
        u.now.next = (i.now as u64).into();
        u.learn_en.next = i.learn_en;
        u.ftp_fallback.next = i.ftp_fallback;
        u.unpriv_port.next = (i.unpriv as u64).into();
        u.tcp_timeout.next = 60000u64.into();
        u.tcp_flags.next = 0x203u64.into();
        u.udp_timeout.next = 300000u64.into();
        u.udp_flags.next = 0u64.into();
        u.sctp_timeout.next = 4000u64.into();
        u.sctp_flags.next = 0x201u64.into();
        u.ev_room.next = i.ev_room;
        u.c_hit.next = i.c_hit;
        u.c_idx.next = 77u64.into();
        u.c_last_refresh.next = (i.c_lr as u64).into();
        u.c_timeout.next = (i.c_to as u64).into();
        u.c_dest.next = (i.c_dest as u64).into();
        u.c_dest_gen.next = (i.c_gen as u64).into();
        u.c_syn_miss.next = i.c_syn_miss;
        u.c_ev_next.next = i.c_ev_next;
        u.c_ops.next = i.c_ops;
        u.c_state.next = 3u64.into();
        u.c_free.next = i.c_free;
        u.s_hit.next = i.s_hit;
        u.s_idx.next = 5u64.into();
        u.s_persistent.next = i.s_persistent;
        u.s_ops.next = i.s_ops;
        u.s_host_only.next = i.s_host_only;
        u.t_hit.next = i.t_hit;
        u.t_idx.next = 99u64.into();
        u.t_learn.next = i.t_learn;
        u.t_dport_from_dest.next = i.t_dpfd;
        u.t_dest.next = (i.t_dest as u64).into();
        u.t_dest_gen.next = (i.t_gen as u64).into();
        u.t_last_refresh.next = (i.t_lr as u64).into();
        u.t_timeout.next = (i.t_to as u64).into();
        u.da_state.next = (i.da as u64).into();
        u.da_mac.next = 0xaaaa_0000_0001u64.into();
        u.db_state.next = (i.db as u64).into();
        u.db_mac.next = 0xbbbb_0000_0002u64.into();
        u.db_port.next = (i.db_port as u64).into();
        u.db_fwd.next = 3u64.into();
    }

    fn clk(u: &mut Verdict) {
        u.clock.next = Clock { clk: false };
        assert!(simulate(u, 200));
        u.clock.next = Clock { clk: true };
        assert!(simulate(u, 200));
    }

    #[test]
    fn matches_software_reference() {
        let mut u = Verdict::default();
        u.connect_all();
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let mut pending: Option<(In, Out, u32)> = None;
        let mut kinds = [0usize; 3];
        for id in 0..4000u32 {
            let i = random_in(&mut r);
            let e = reference(&i);
            drive(&mut u, &i, id);
            clk(&mut u);
            // latency 1: the outputs now belong to this packet
            assert!(u.o_valid.val());
            let got = Out {
                kind: u.o_kind.val().to_u64(),
                reason: if u.o_kind.val().to_u64() == KIND_MISS {
                    u.o_reason.val().to_u64()
                } else {
                    0
                },
                dest: if u.o_kind.val().to_u64() == KIND_FORWARD {
                    u.o_dest.val().to_u64()
                } else {
                    0
                },
                conn_wb: u.o_conn_wb.val(),
                conn_del: u.o_conn_del.val(),
                tpl_wb: u.o_tpl_wb.val(),
                learn_ins: u.o_learn_ins.val(),
                ev_learn: u.o_ev_learn.val(),
                ev_learn_ops: u.o_ev_learn.val() && u.o_ev_learn_ops.val(),
                ev_flag: u.o_ev_flag.val(),
                dport: if u.o_learn_ins.val() {
                    u.o_learn_dport.val().to_u64()
                } else {
                    0
                },
            };
            assert_eq!(got, e, "packet {id}: {i:?}");
            assert_eq!(u.o_pkt_id.val().to_u64(), id as u64);
            if e.kind == KIND_FORWARD {
                let mac = if e.conn_wb {
                    0xaaaa_0000_0001
                } else {
                    0xbbbb_0000_0002
                };
                assert_eq!(u.o_mac.val().to_u64(), mac, "DR MAC of packet {id}");
            }
            if e.learn_ins {
                let (to, fl) = match i.proto {
                    6 => (60000, 0x203),
                    132 => (4000, 0x201),
                    _ => (300000, 0),
                };
                assert_eq!(u.o_learn_timeout.val().to_u64(), to);
                assert_eq!(u.o_learn_flags.val().to_u64(), fl);
                assert_eq!(u.o_learn_gen.val().to_u64(), gen_of(i.db) as u64);
            }
            assert_eq!(u.o_st_miss.val(), e.kind == KIND_MISS);
            kinds[e.kind as usize] += 1;
            pending = Some((i, e, id));
        }
        assert!(pending.is_some());
        // every branch class is exercised
        assert!(kinds.iter().all(|&k| k > 50), "{kinds:?}");
    }

    #[test]
    fn generates_verilog() {
        let mut u = Verdict::default();
        u.connect_all();
        let v = generate_verilog(&u);
        assert!(v.contains("module top"));
    }
}
