//! Register file: the ABI's BAR0 (64 KiB, 32-bit registers) on a simple register bus
//! (`addr` 16 bits = BAR0 byte offset, `wdata` 32, `wr`, `rd`; `rdata` valid with `rvalid`
//! **one clock** after `rd`).
//!
//! **Single source:** the register map is `lvsnic_abi::regs::BLOCKS`. [`RegMap::build`] walks it and
//! classifies every register (constant / host-writable store / card-driven input / counter);
//! both the Verilog (a generated `case` read mux and per-register write logic, emitted through
//! `Verilog::Custom`) and the Rust simulation model of this block interpret that same map, so no
//! offset, reset value or access mask is written by hand here. What *is* written here is the
//! binding of ABI register names to this block's ports ([`OUT_PORTS`], [`IN_REGS`],
//! [`STAT_PORTS`]); a register the ABI adds without a binding makes the generator panic (test
//! `every_abi_register_is_bound`).
//!
//! Behaviour beyond plain storage (from the ABI field docs):
//! * `TIME.TICK` advances every `TICK_DIV` clocks while `TICK_CTRL.run`, or by one on a
//!   `TICK_CTRL.step` write; a host write sets it. Output `now`.
//! * `CMD.DOORBELL.go` -> `cmd_go` pulse (one clock after the write) with `cmd_data` = the 16
//!   `CMD.DATA` words (word 0 = bits 31..0); `CMD.STATUS.busy` from the doorbell write (so a
//!   STATUS read right after it never sees the last command's `done`) until `cmd_resp`, which latches
//!   `code`, `RESULT_INDEX`, `RESULT[0..14]` and sets `done`.
//! * `EVQ.CTRL.arm` is cleared by `evq_arm_clr`; `EVQ.CONS` (`CMDQ.PROD`) is held at 0 while
//!   the ring is disabled.
//! * W1C bits (`CTRL.ERROR`, `EVQ.STATUS`, `CMDQ.STATUS`) are set by `*_set` inputs.
//! * `STATS.*` count `st_*` strobes (wrapping).
//!
//! Latency: write 1 clock, read 1 clock. Resources (estimate): ~60 x 32 FF of storage + counters,
//! a ~110-way 32-bit read mux (~400 LUT).
use lvsnic_abi::limits::{Geometry, SIM_GEOMETRY};
use lvsnic_abi::regs::{Access, Reset, BLK_NEXT, BLK_TYPE, BLK_VER, BLOCKS};
use rust_hdl::prelude::*;
use std::fmt::Write as _;

/// Per-build values of the ABI's `Reset::Generated` fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildConfig {
    pub geometry: Geometry,
    pub build_id: u32,
    pub target: u32,
    pub dirty: bool,
    pub cmdq: bool,
    pub nat: bool,
    pub tun: bool,
    pub ipv6: bool,
    pub learn: bool,
    pub clk_khz: u32,
    pub build_time: u32,
}

impl BuildConfig {
    /// The default simulation build (deterministic: build id and time 0).
    pub fn default_sim() -> Self {
        BuildConfig {
            geometry: SIM_GEOMETRY,
            build_id: 0,
            target: 0,
            dirty: false,
            cmdq: false,
            nat: false,
            tun: false,
            ipv6: true,
            learn: true,
            clk_khz: 250_000,
            build_time: 0,
        }
    }

    /// Value of a generated field `BLOCK.REG.field`.
    pub fn generated(&self, block: &str, reg: &str, field: &str) -> u32 {
        let g = &self.geometry;
        let h = lvsnic_abi::abi_hash();
        match (block, reg, field) {
            ("ID", "ABI_HASH_LO", _) => h as u32,
            ("ID", "ABI_HASH_HI", _) => (h >> 32) as u32,
            ("ID", "CONN_GEOM", f) | ("ID", "TPL_GEOM", f) => {
                let t = if reg == "CONN_GEOM" {
                    g.conns
                } else {
                    g.templates
                };
                match f {
                    "log2_buckets" => t.log2_buckets as u32,
                    "ways" => t.ways as u32,
                    "stash" => t.stash as u32,
                    _ => panic!("unknown geometry field {f}"),
                }
            }
            ("ID", "BUILD_ID", _) => self.build_id,
            ("ID", "BUILD_INFO", "target") => self.target,
            ("ID", "BUILD_INFO", "dirty") => self.dirty as u32,
            ("ID", "CAPS", "cmdq") => self.cmdq as u32,
            ("ID", "CAPS", "nat") => self.nat as u32,
            ("ID", "CAPS", "tun") => self.tun as u32,
            ("ID", "CAPS", "ipv6") => self.ipv6 as u32,
            ("ID", "CAPS", "learn") => self.learn as u32,
            ("ID", "CLK_KHZ", _) => self.clk_khz,
            ("ID", "BUILD_TIME", _) => self.build_time,
            ("TIME", "TICK_DIV", _) => self.clk_khz,
            _ => panic!("no generator for {block}.{reg}.{field}"),
        }
    }
}

/// How a register slot behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Read-only constant (block headers, ID block).
    Const(u32),
    /// Host-visible storage: `wmask` RW bits, `w1c` write-1-to-clear bits, `wo` write-only bits.
    Store {
        reset: u32,
        wmask: u32,
        w1c: u32,
        wo: u32,
    },
    /// Driven by the card: index into [`IN_REGS`].
    Input(usize),
    /// A STATS counter: index into [`STAT_PORTS`].
    Counter(usize),
}

/// One 32-bit register of BAR0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub addr: u16,
    /// `BLOCK.REG` or `BLOCK.REG[i]`
    pub name: String,
    pub kind: Kind,
}

/// Output ports driven by a stored register: (port, `BLOCK.REG`).
pub const OUT_PORTS: &[(&str, &str)] = &[
    ("ctrl_control", "CTRL.CONTROL"),
    ("hash_seed", "CTRL.HASH_SEED"),
    ("unpriv_port", "CTRL.UNPRIV_PORT"),
    ("now", "TIME.TICK"),
    ("learn_tcp_timeout", "LEARN.TCP_TIMEOUT"),
    ("learn_tcp_flags", "LEARN.TCP_FLAGS"),
    ("learn_udp_timeout", "LEARN.UDP_TIMEOUT"),
    ("learn_udp_flags", "LEARN.UDP_FLAGS"),
    ("learn_sctp_timeout", "LEARN.SCTP_TIMEOUT"),
    ("learn_sctp_flags", "LEARN.SCTP_FLAGS"),
    ("evq_base_lo", "EVQ.BASE_LO"),
    ("evq_base_hi", "EVQ.BASE_HI"),
    ("evq_log_size", "EVQ.LOG_SIZE"),
    ("evq_ctrl", "EVQ.CTRL"),
    ("evq_cons", "EVQ.CONS"),
    ("cmdq_base_lo", "CMDQ.BASE_LO"),
    ("cmdq_base_hi", "CMDQ.BASE_HI"),
    ("cmdq_log_size", "CMDQ.LOG_SIZE"),
    ("cmdq_ctrl", "CMDQ.CTRL"),
    ("cmdq_prod", "CMDQ.PROD"),
    ("aging_ctrl", "AGING.CTRL"),
    ("aging_rate", "AGING.RATE"),
];

/// Stored registers used only inside this block (no port).
const INTERNAL: &[&str] = &[
    "CTRL.SCRATCH",
    "CTRL.ERROR",
    "TIME.TICK_CTRL",
    "TIME.TICK_DIV",
    "CMD.DOORBELL",
    "CMD.DATA",
    "EVQ.STATUS",
    "CMDQ.STATUS",
];

/// Card-driven read-only registers: (`BLOCK.REG`, Verilog expression).
pub const IN_REGS: &[(&str, &str)] = &[
    ("CTRL.STATUS", "{31'b0, status_ready}"),
    (
        "CMD.STATUS",
        "{16'b0, cmd_code_r, 6'b0, cmd_done_r, cmd_busy_r}",
    ),
    ("CMD.RESULT_INDEX", "cmd_index_r"),
    ("CMD.RESULT", "cmd_result_r[32*I +: 32]"),
    ("EVQ.PROD", "evq_prod"),
    ("CMDQ.CONS", "cmdq_cons"),
    ("AGING.POS", "aging_pos"),
    ("AGING.LAPS", "aging_laps"),
];

/// STATS counters: (`STATS.REG`, strobe input port).
pub const STAT_PORTS: &[(&str, &str)] = &[
    ("STATS.PKTS", "st_pkts"),
    ("STATS.CONN_HITS", "st_conn_hits"),
    ("STATS.TPL_HITS", "st_tpl_hits"),
    ("STATS.LEARNS", "st_learns"),
    ("STATS.MISSES", "st_misses"),
    ("STATS.DROPS", "st_drops"),
    ("STATS.FLAG_EVENTS", "st_flag_events"),
    ("STATS.EXPIRES", "st_expires"),
    ("STATS.EVQ_FULL", "st_evq_full"),
    ("STATS.PARSE_ERRORS", "st_parse_errors"),
];

/// W1C registers and their set-input ports.
const W1C_SETS: &[(&str, &str)] = &[
    ("CTRL.ERROR", "err_set"),
    ("EVQ.STATUS", "evq_status_set"),
    ("CMDQ.STATUS", "cmdq_status_set"),
];

/// The classified BAR0 map.
#[derive(Clone, Debug)]
pub struct RegMap {
    pub slots: Vec<Slot>,
}

impl RegMap {
    /// Walk `lvsnic_abi::regs::BLOCKS`.
    pub fn build(cfg: &BuildConfig) -> RegMap {
        let mut slots = Vec::new();
        for (bi, b) in BLOCKS.iter().enumerate() {
            let next = BLOCKS.get(bi + 1).map(|n| n.base).unwrap_or(0);
            for (off, v, n) in [
                (BLK_TYPE, b.type_id, "BLK_TYPE"),
                (BLK_VER, b.version, "BLK_VER"),
                (BLK_NEXT, next, "BLK_NEXT"),
            ] {
                slots.push(Slot {
                    addr: (b.base + off) as u16,
                    name: format!("{}.{}", b.name, n),
                    kind: Kind::Const(v),
                });
            }
            for r in b.regs {
                let full = format!("{}.{}", b.name, r.name);
                for i in 0..r.count {
                    let name = if r.count > 1 {
                        format!("{full}[{i}]")
                    } else {
                        full.clone()
                    };
                    let addr = (b.base + r.offset + 4 * i) as u16;
                    let kind = if let Some(k) = IN_REGS.iter().position(|(n, _)| *n == full) {
                        Kind::Input(k)
                    } else if let Some(k) = STAT_PORTS.iter().position(|(n, _)| *n == full) {
                        Kind::Counter(k)
                    } else {
                        let mut reset = 0u32;
                        let (mut wmask, mut w1c, mut wo) = (0u32, 0u32, 0u32);
                        for f in r.fields {
                            let v = match f.reset {
                                Reset::Value(v) => v,
                                Reset::Generated(_) => cfg.generated(b.name, r.name, f.name),
                            };
                            reset = f.put(reset, v);
                            match f.access {
                                Access::RO => {}
                                Access::RW => wmask |= f.mask(),
                                Access::W1C => w1c |= f.mask(),
                                Access::WO => wo |= f.mask(),
                            }
                        }
                        if wmask | w1c | wo == 0 {
                            Kind::Const(reset)
                        } else {
                            assert!(
                                OUT_PORTS.iter().any(|(_, n)| *n == full)
                                    || INTERNAL.contains(&full.as_str()),
                                "ABI register {full} has no binding in regfile.rs"
                            );
                            Kind::Store {
                                reset,
                                wmask,
                                w1c,
                                wo,
                            }
                        }
                    };
                    if let Kind::Const(_) = kind {
                        assert!(
                            b.name == "ID" || r.fields.iter().all(|f| f.access == Access::RO),
                            "{full}"
                        );
                        // a read-only register outside ID that the card must drive needs a binding
                        assert!(
                            b.name == "ID",
                            "ABI read-only register {full} has no card-side binding in regfile.rs"
                        );
                    }
                    slots.push(Slot { addr, name, kind });
                }
            }
        }
        RegMap { slots }
    }

    pub fn slot(&self, name: &str) -> &Slot {
        self.slots
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no register {name}"))
    }

    pub fn addr(&self, name: &str) -> u16 {
        self.slot(name).addr
    }

    fn index(&self, name: &str) -> usize {
        self.slots
            .iter()
            .position(|s| s.name == name)
            .unwrap_or_else(|| panic!("no register {name}"))
    }
}

const CMD_WORDS: usize = 16;
const RESULT_WORDS: usize = 14;

#[derive(LogicBlock)]
pub struct RegFile {
    pub clock: Signal<In, Clock>,
    // register bus
    pub addr: Signal<In, Bits<16>>,
    pub wdata: Signal<In, Bits<32>>,
    pub wr: Signal<In, Bit>,
    pub rd: Signal<In, Bit>,
    pub rdata: Signal<Out, Bits<32>>,
    pub rvalid: Signal<Out, Bit>,
    // stored registers (OUT_PORTS)
    pub ctrl_control: Signal<Out, Bits<32>>,
    pub hash_seed: Signal<Out, Bits<32>>,
    pub unpriv_port: Signal<Out, Bits<32>>,
    pub now: Signal<Out, Bits<32>>,
    pub learn_tcp_timeout: Signal<Out, Bits<32>>,
    pub learn_tcp_flags: Signal<Out, Bits<32>>,
    pub learn_udp_timeout: Signal<Out, Bits<32>>,
    pub learn_udp_flags: Signal<Out, Bits<32>>,
    pub learn_sctp_timeout: Signal<Out, Bits<32>>,
    pub learn_sctp_flags: Signal<Out, Bits<32>>,
    pub evq_base_lo: Signal<Out, Bits<32>>,
    pub evq_base_hi: Signal<Out, Bits<32>>,
    pub evq_log_size: Signal<Out, Bits<32>>,
    pub evq_ctrl: Signal<Out, Bits<32>>,
    pub evq_cons: Signal<Out, Bits<32>>,
    pub cmdq_base_lo: Signal<Out, Bits<32>>,
    pub cmdq_base_hi: Signal<Out, Bits<32>>,
    pub cmdq_log_size: Signal<Out, Bits<32>>,
    pub cmdq_ctrl: Signal<Out, Bits<32>>,
    pub cmdq_prod: Signal<Out, Bits<32>>,
    pub aging_ctrl: Signal<Out, Bits<32>>,
    pub aging_rate: Signal<Out, Bits<32>>,
    // MMIO command interface
    pub cmd_go: Signal<Out, Bit>,
    pub cmd_data: Signal<Out, Bits<512>>,
    pub cmd_resp: Signal<In, Bit>,
    pub cmd_code: Signal<In, Bits<8>>,
    pub cmd_index: Signal<In, Bits<32>>,
    pub cmd_result: Signal<In, Bits<448>>,
    // card-driven registers (IN_REGS)
    pub status_ready: Signal<In, Bit>,
    pub evq_prod: Signal<In, Bits<32>>,
    pub cmdq_cons: Signal<In, Bits<32>>,
    pub aging_pos: Signal<In, Bits<32>>,
    pub aging_laps: Signal<In, Bits<32>>,
    pub evq_arm_clr: Signal<In, Bit>,
    // W1C set inputs
    pub err_set: Signal<In, Bits<32>>,
    pub evq_status_set: Signal<In, Bits<32>>,
    pub cmdq_status_set: Signal<In, Bits<32>>,
    // STATS strobes (STAT_PORTS)
    pub st_pkts: Signal<In, Bit>,
    pub st_conn_hits: Signal<In, Bit>,
    pub st_tpl_hits: Signal<In, Bit>,
    pub st_learns: Signal<In, Bit>,
    pub st_misses: Signal<In, Bit>,
    pub st_drops: Signal<In, Bit>,
    pub st_flag_events: Signal<In, Bit>,
    pub st_expires: Signal<In, Bit>,
    pub st_evq_full: Signal<In, Bit>,
    pub st_parse_errors: Signal<In, Bit>,
    // simulation model state (the Verilog keeps the same state in regs)
    _map: RegMapBox,
    _store: Vec<u32>,
    _counters: Vec<u32>,
    _div_cnt: u32,
    _go_r: bool,
    _cmd_busy: bool,
    _cmd_done: bool,
    _cmd_code_r: u32,
    _cmd_index_r: u32,
    _cmd_result_r: [u32; RESULT_WORDS],
    _rdata_r: u32,
    _rvalid_r: bool,
}

/// Holder so the map can sit in a `LogicBlock` struct (not a signal, not visited).
#[derive(Clone, Debug)]
pub struct RegMapBox(pub Box<RegMap>);

impl RegFile {
    pub fn new(cfg: &BuildConfig) -> Self {
        let map = RegMap::build(cfg);
        let store = map
            .slots
            .iter()
            .map(|s| match s.kind {
                Kind::Store { reset, .. } => reset,
                _ => 0,
            })
            .collect();
        RegFile {
            clock: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            wr: Default::default(),
            rd: Default::default(),
            rdata: Default::default(),
            rvalid: Default::default(),
            ctrl_control: Default::default(),
            hash_seed: Default::default(),
            unpriv_port: Default::default(),
            now: Default::default(),
            learn_tcp_timeout: Default::default(),
            learn_tcp_flags: Default::default(),
            learn_udp_timeout: Default::default(),
            learn_udp_flags: Default::default(),
            learn_sctp_timeout: Default::default(),
            learn_sctp_flags: Default::default(),
            evq_base_lo: Default::default(),
            evq_base_hi: Default::default(),
            evq_log_size: Default::default(),
            evq_ctrl: Default::default(),
            evq_cons: Default::default(),
            cmdq_base_lo: Default::default(),
            cmdq_base_hi: Default::default(),
            cmdq_log_size: Default::default(),
            cmdq_ctrl: Default::default(),
            cmdq_prod: Default::default(),
            aging_ctrl: Default::default(),
            aging_rate: Default::default(),
            cmd_go: Default::default(),
            cmd_data: Default::default(),
            cmd_resp: Default::default(),
            cmd_code: Default::default(),
            cmd_index: Default::default(),
            cmd_result: Default::default(),
            status_ready: Default::default(),
            evq_prod: Default::default(),
            cmdq_cons: Default::default(),
            aging_pos: Default::default(),
            aging_laps: Default::default(),
            evq_arm_clr: Default::default(),
            err_set: Default::default(),
            evq_status_set: Default::default(),
            cmdq_status_set: Default::default(),
            st_pkts: Default::default(),
            st_conn_hits: Default::default(),
            st_tpl_hits: Default::default(),
            st_learns: Default::default(),
            st_misses: Default::default(),
            st_drops: Default::default(),
            st_flag_events: Default::default(),
            st_expires: Default::default(),
            st_evq_full: Default::default(),
            st_parse_errors: Default::default(),
            _counters: vec![0; STAT_PORTS.len()],
            _map: RegMapBox(Box::new(map)),
            _store: store,
            _div_cnt: 0,
            _go_r: false,
            _cmd_busy: false,
            _cmd_done: false,
            _cmd_code_r: 0,
            _cmd_index_r: 0,
            _cmd_result_r: [0; RESULT_WORDS],
            _rdata_r: 0,
            _rvalid_r: false,
        }
    }

    pub fn map(&self) -> &RegMap {
        &self._map.0
    }

    fn out_port(&mut self, port: &str) -> &mut Signal<Out, Bits<32>> {
        match port {
            "ctrl_control" => &mut self.ctrl_control,
            "hash_seed" => &mut self.hash_seed,
            "unpriv_port" => &mut self.unpriv_port,
            "now" => &mut self.now,
            "learn_tcp_timeout" => &mut self.learn_tcp_timeout,
            "learn_tcp_flags" => &mut self.learn_tcp_flags,
            "learn_udp_timeout" => &mut self.learn_udp_timeout,
            "learn_udp_flags" => &mut self.learn_udp_flags,
            "learn_sctp_timeout" => &mut self.learn_sctp_timeout,
            "learn_sctp_flags" => &mut self.learn_sctp_flags,
            "evq_base_lo" => &mut self.evq_base_lo,
            "evq_base_hi" => &mut self.evq_base_hi,
            "evq_log_size" => &mut self.evq_log_size,
            "evq_ctrl" => &mut self.evq_ctrl,
            "evq_cons" => &mut self.evq_cons,
            "cmdq_base_lo" => &mut self.cmdq_base_lo,
            "cmdq_base_hi" => &mut self.cmdq_base_hi,
            "cmdq_log_size" => &mut self.cmdq_log_size,
            "cmdq_ctrl" => &mut self.cmdq_ctrl,
            "cmdq_prod" => &mut self.cmdq_prod,
            "aging_ctrl" => &mut self.aging_ctrl,
            "aging_rate" => &mut self.aging_rate,
            _ => panic!("no output port {port}"),
        }
    }

    fn stat_in(&self, k: usize) -> bool {
        [
            &self.st_pkts,
            &self.st_conn_hits,
            &self.st_tpl_hits,
            &self.st_learns,
            &self.st_misses,
            &self.st_drops,
            &self.st_flag_events,
            &self.st_expires,
            &self.st_evq_full,
            &self.st_parse_errors,
        ][k]
            .val()
    }

    fn w1c_set(&self, name: &str) -> u32 {
        match name {
            "CTRL.ERROR" => self.err_set.val().to_u64() as u32,
            "EVQ.STATUS" => self.evq_status_set.val().to_u64() as u32,
            "CMDQ.STATUS" => self.cmdq_status_set.val().to_u64() as u32,
            _ => 0,
        }
    }

    fn input_value(&self, k: usize, name: &str) -> u32 {
        match IN_REGS[k].0 {
            "CTRL.STATUS" => self.status_ready.val() as u32,
            "CMD.STATUS" => {
                (self._cmd_code_r << 8) | ((self._cmd_done as u32) << 1) | self._cmd_busy as u32
            }
            "CMD.RESULT_INDEX" => self._cmd_index_r,
            "CMD.RESULT" => {
                let i: usize = name
                    .trim_start_matches("CMD.RESULT[")
                    .trim_end_matches(']')
                    .parse()
                    .unwrap();
                self._cmd_result_r[i]
            }
            "EVQ.PROD" => self.evq_prod.val().to_u64() as u32,
            "CMDQ.CONS" => self.cmdq_cons.val().to_u64() as u32,
            "AGING.POS" => self.aging_pos.val().to_u64() as u32,
            "AGING.LAPS" => self.aging_laps.val().to_u64() as u32,
            n => panic!("no input {n}"),
        }
    }

    /// Read value of slot `i` (the read mux).
    fn read_slot(&self, i: usize) -> u32 {
        let s = &self._map.0.slots[i];
        match s.kind {
            Kind::Const(v) => v,
            Kind::Store { wo, .. } => self._store[i] & !wo,
            Kind::Input(k) => self.input_value(k, &s.name),
            Kind::Counter(k) => self._counters[k],
        }
    }

    /// Verilog body (the same behaviour as `update`), generated from the map.
    pub fn verilog_body(&self) -> String {
        let map = &self._map.0;
        let mut v = String::new();
        let r = |s: &Slot| format!("r_{:04x}", s.addr);
        let a = |n: &str| map.addr(n);
        let tick = map.slot("TIME.TICK");
        let tick_ctrl = map.slot("TIME.TICK_CTRL");
        let tick_div = map.slot("TIME.TICK_DIV");
        let doorbell = map.slot("CMD.DOORBELL");
        let evq_ctrl = map.slot("EVQ.CTRL");
        let evq_cons = map.slot("EVQ.CONS");
        let cmdq_ctrl = map.slot("CMDQ.CTRL");
        let cmdq_prod = map.slot("CMDQ.PROD");
        let _ = a;
        writeln!(
            v,
            "// Generated from lvsnic_abi::regs::BLOCKS by lvsnic_hdl::regfile."
        )
        .unwrap();
        for s in &map.slots {
            if let Kind::Store { reset, .. } = s.kind {
                writeln!(v, "reg [31:0] {}; // {}", r(s), s.name).unwrap();
                writeln!(v, "initial {} = 32'h{:08x};", r(s), reset).unwrap();
            }
        }
        for (k, (n, _)) in STAT_PORTS.iter().enumerate() {
            writeln!(v, "reg [31:0] c_{k}; // {n}\ninitial c_{k} = 32'h0;").unwrap();
        }
        v.push_str(
            "reg [31:0] div_cnt; initial div_cnt = 32'h0;
reg go_r; initial go_r = 1'b0;
reg cmd_busy_r; initial cmd_busy_r = 1'b0;
reg cmd_done_r; initial cmd_done_r = 1'b0;
reg [7:0] cmd_code_r; initial cmd_code_r = 8'h0;
reg [31:0] cmd_index_r; initial cmd_index_r = 32'h0;
reg [447:0] cmd_result_r; initial cmd_result_r = 448'h0;
initial rdata = 32'h0;
initial rvalid = 1'b0;
wire tick_run = ",
        );
        writeln!(v, "{}[0];", r(tick_ctrl)).unwrap();
        writeln!(
            v,
            "wire tick_step = wr && addr == 16'h{:04x} && wdata[1];",
            tick_ctrl.addr
        )
        .unwrap();
        writeln!(
            v,
            "wire tick_wrap = tick_run && (div_cnt + 32'h1 >= {});",
            r(tick_div)
        )
        .unwrap();
        v.push_str("always @(posedge clock) begin\n");
        // host writes
        for s in &map.slots {
            if let Kind::Store { wmask, w1c, wo, .. } = s.kind {
                let set = W1C_SETS.iter().find(|(n, _)| *n == s.name).map(|(_, p)| *p);
                let hit = format!("wr && addr == 16'h{:04x}", s.addr);
                if w1c != 0 {
                    writeln!(
                        v,
                        "   {rs} <= (({rs} & ~(({hit}) ? (wdata & 32'h{w1c:08x}) : 32'h0)) | ({set} & 32'h{w1c:08x}));",
                        rs = r(s),
                        set = set.expect("W1C register without a set input"),
                    )
                    .unwrap();
                } else if wmask != 0 {
                    writeln!(
                        v,
                        "   if ({hit}) {rs} <= ({rs} & 32'h{nm:08x}) | (wdata & 32'h{wmask:08x});",
                        rs = r(s),
                        nm = !wmask
                    )
                    .unwrap();
                }
                let _ = wo;
            }
        }
        // specials
        writeln!(v, "   // TIME.TICK: host write wins, else divider / step").unwrap();
        writeln!(
            v,
            "   if (!(wr && addr == 16'h{:04x}) && (tick_wrap || tick_step)) {t} <= {t} + 32'h1;",
            tick.addr,
            t = r(tick)
        )
        .unwrap();
        v.push_str(
            "   if (!tick_run || tick_wrap) div_cnt <= 32'h0; else div_cnt <= div_cnt + 32'h1;\n",
        );
        writeln!(
            v,
            "   if (evq_arm_clr && !(wr && addr == 16'h{:04x})) {e}[1] <= 1'b0;",
            evq_ctrl.addr,
            e = r(evq_ctrl)
        )
        .unwrap();
        writeln!(v, "   if (!{}[0]) {} <= 32'h0;", r(evq_ctrl), r(evq_cons)).unwrap();
        writeln!(v, "   if (!{}[0]) {} <= 32'h0;", r(cmdq_ctrl), r(cmdq_prod)).unwrap();
        writeln!(
            v,
            "   go_r <= wr && addr == 16'h{:04x} && wdata[0];",
            doorbell.addr
        )
        .unwrap();
        // busy from the doorbell write itself: a STATUS read right after it never sees the
        // previous command's `done`
        writeln!(
            v,
            "   if (wr && addr == 16'h{:04x} && wdata[0]) begin cmd_busy_r <= 1'b1; cmd_done_r <= 1'b0; end",
            doorbell.addr
        )
        .unwrap();
        v.push_str(
            "   if (cmd_resp) begin
      cmd_busy_r <= 1'b0; cmd_done_r <= 1'b1;
      cmd_code_r <= cmd_code; cmd_index_r <= cmd_index; cmd_result_r <= cmd_result;
   end
",
        );
        for (k, (_, p)) in STAT_PORTS.iter().enumerate() {
            writeln!(v, "   if ({p}) c_{k} <= c_{k} + 32'h1;").unwrap();
        }
        // read mux
        v.push_str("   rvalid <= rd;\n   if (rd) begin\n      case (addr)\n");
        for s in &map.slots {
            let e = match &s.kind {
                Kind::Const(c) => format!("32'h{c:08x}"),
                Kind::Store { wo, .. } => format!("{} & 32'h{:08x}", r(s), !wo),
                Kind::Input(k) => {
                    let i: u32 = s
                        .name
                        .rsplit_once('[')
                        .map(|(_, x)| x.trim_end_matches(']').parse().unwrap())
                        .unwrap_or(0);
                    IN_REGS[*k].1.replace("32*I", &format!("{}", 32 * i))
                }
                Kind::Counter(k) => format!("c_{k}"),
            };
            writeln!(
                v,
                "         16'h{:04x}: rdata <= {e}; // {}",
                s.addr, s.name
            )
            .unwrap();
        }
        v.push_str("         default: rdata <= 32'h0;\n      endcase\n   end\nend\n");
        // outputs
        v.push_str("always @(*) begin\n");
        for (p, n) in OUT_PORTS {
            writeln!(v, "   {p} = {};", r(map.slot(n))).unwrap();
        }
        v.push_str("   cmd_go = go_r;\n   cmd_data = {");
        let data: Vec<String> = (0..CMD_WORDS)
            .rev()
            .map(|i| r(map.slot(&format!("CMD.DATA[{i}]"))))
            .collect();
        v.push_str(&data.join(", "));
        v.push_str("};\nend\n");
        v
    }
}

impl Logic for RegFile {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let map = self._map.0.clone();
            let addr = self.addr.val().to_u64() as u16;
            let wdata = self.wdata.val().to_u64() as u32;
            let wr = self.wr.val();
            let old = self._store.clone();
            // read mux (old values, like the Verilog non-blocking read)
            if self.rd.val() {
                self._rdata_r = map
                    .slots
                    .iter()
                    .position(|s| s.addr == addr)
                    .map(|i| self.read_slot(i))
                    .unwrap_or(0);
            }
            self._rvalid_r = self.rd.val();
            for (i, s) in map.slots.iter().enumerate() {
                if let Kind::Store { wmask, w1c, .. } = s.kind {
                    let hit = wr && addr == s.addr;
                    if w1c != 0 {
                        let clr = if hit { wdata & w1c } else { 0 };
                        self._store[i] = (old[i] & !clr) | (self.w1c_set(&s.name) & w1c);
                    } else if hit && wmask != 0 {
                        self._store[i] = (old[i] & !wmask) | (wdata & wmask);
                    }
                }
            }
            let ix = |n: &str| map.index(n);
            let (tick, tctl, tdiv) = (ix("TIME.TICK"), ix("TIME.TICK_CTRL"), ix("TIME.TICK_DIV"));
            let run = old[tctl] & 1 == 1;
            let step = wr && addr == map.slots[tctl].addr && wdata & 2 != 0;
            let wrap = run && self._div_cnt.wrapping_add(1) >= old[tdiv];
            if !(wr && addr == map.slots[tick].addr) && (wrap || step) {
                self._store[tick] = old[tick].wrapping_add(1);
            }
            self._div_cnt = if !run || wrap {
                0
            } else {
                self._div_cnt.wrapping_add(1)
            };
            let (ectl, econs) = (ix("EVQ.CTRL"), ix("EVQ.CONS"));
            if self.evq_arm_clr.val() && !(wr && addr == map.slots[ectl].addr) {
                self._store[ectl] &= !2;
            }
            if old[ectl] & 1 == 0 {
                self._store[econs] = 0;
            }
            let (cctl, cprod) = (ix("CMDQ.CTRL"), ix("CMDQ.PROD"));
            if old[cctl] & 1 == 0 {
                self._store[cprod] = 0;
            }
            self._go_r = wr && addr == map.addr("CMD.DOORBELL") && wdata & 1 != 0;
            if self._go_r {
                self._cmd_busy = true;
                self._cmd_done = false;
            }
            if self.cmd_resp.val() {
                self._cmd_busy = false;
                self._cmd_done = true;
                self._cmd_code_r = self.cmd_code.val().to_u64() as u32;
                self._cmd_index_r = self.cmd_index.val().to_u64() as u32;
                let w = crate::dest::bits_to_words(self.cmd_result.val());
                self._cmd_result_r.copy_from_slice(&w);
            }
            for k in 0..STAT_PORTS.len() {
                if self.stat_in(k) {
                    self._counters[k] = self._counters[k].wrapping_add(1);
                }
            }
        }
        // outputs
        let map = self._map.0.clone();
        for (p, n) in OUT_PORTS {
            let v = self._store[map.index(n)];
            self.out_port(p).next = (v as u64).into();
        }
        let data: Vec<u32> = (0..CMD_WORDS)
            .map(|i| self._store[map.index(&format!("CMD.DATA[{i}]"))])
            .collect();
        self.cmd_data.next = crate::dest::words_to_bits(&data);
        self.cmd_go.next = self._go_r;
        self.rdata.next = (self._rdata_r as u64).into();
        self.rvalid.next = self._rvalid_r;
    }

    fn connect(&mut self) {
        self.rdata.connect();
        self.rvalid.connect();
        self.cmd_go.connect();
        self.cmd_data.connect();
        for (p, _) in OUT_PORTS {
            self.out_port(p).connect();
        }
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(self.verilog_body())
    }
}

impl Default for RegFile {
    fn default() -> Self {
        RegFile::new(&BuildConfig::default_sim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvsnic_abi::limits::{ABI_VERSION, DESTS, MAGIC, RULES, SERVICES};
    use lvsnic_abi::regs::{cmd, ctrl, evq, id, learn, ring, stats, time};

    struct Bus(RegFile);
    impl Bus {
        fn new() -> Self {
            let mut u = RegFile::default();
            u.connect_all();
            Bus(u)
        }
        fn clk(&mut self) {
            self.0.clock.next = Clock { clk: false };
            assert!(simulate(&mut self.0, 100));
            self.0.clock.next = Clock { clk: true };
            assert!(simulate(&mut self.0, 100));
        }
        fn write(&mut self, a: u32, v: u32) {
            self.0.addr.next = (a as u64).into();
            self.0.wdata.next = (v as u64).into();
            self.0.wr.next = true;
            self.clk();
            self.0.wr.next = false;
        }
        fn read(&mut self, a: u32) -> u32 {
            self.0.addr.next = (a as u64).into();
            self.0.rd.next = true;
            self.clk();
            self.0.rd.next = false;
            assert!(self.0.rvalid.val());
            self.0.rdata.val().to_u64() as u32
        }
    }

    #[test]
    fn id_block_matches_the_abi() {
        let mut b = Bus::new();
        let h = lvsnic_abi::abi_hash();
        let g = SIM_GEOMETRY;
        let geom = |t: lvsnic_abi::limits::TableGeometry| {
            t.log2_buckets as u32 | (t.ways as u32) << 8 | (t.stash as u32) << 16
        };
        let expect = [
            (id::BASE, id::TYPE),
            (id::BASE + 4, 1),
            (id::BASE + 8, ctrl::BASE),
            (id::MAGIC, MAGIC),
            (id::ABI_VERSION, ABI_VERSION),
            (id::ABI_HASH_LO, h as u32),
            (id::ABI_HASH_HI, (h >> 32) as u32),
            (id::CONN_GEOM, geom(g.conns)),
            (id::TPL_GEOM, geom(g.templates)),
            (
                id::SMALL_GEOM,
                RULES as u32 | (SERVICES as u32) << 8 | (DESTS as u32) << 16,
            ),
            (id::BUILD_ID, 0),
            (id::BUILD_INFO, 0),
            (id::CAPS, 0x18),
            (id::CLK_KHZ, 250_000),
            (id::BUILD_TIME, 0),
            (ctrl::BASE, ctrl::TYPE),
            (stats::BASE + 8, lvsnic_abi::regs::aging::BASE),
            (lvsnic_abi::regs::aging::BASE + 8, 0),
        ];
        for (a, v) in expect {
            assert_eq!(b.read(a), v, "register at {a:#x}");
        }
        // every ID register of the ABI list is readable and non-RW
        for r in BLOCKS[0].regs {
            let _ = b.read(r.offset);
        }
        assert_eq!(b.read(0x0ffc), 0, "unmapped reads 0");
    }

    #[test]
    fn rw_registers_read_back_and_reset_values() {
        let mut b = Bus::new();
        let map = b.0.map().clone();
        // reset values first (ABI reset column)
        for s in &map.slots {
            if let Kind::Store { reset, wo, .. } = s.kind {
                if s.name == "TIME.TICK" {
                    continue;
                }
                assert_eq!(b.read(s.addr as u32), reset & !wo, "reset of {}", s.name);
            }
        }
        // rings on so CONS / PROD are not held at 0
        b.write(evq::BASE + ring::CTRL, 1);
        b.write(lvsnic_abi::regs::cmdq::BASE + ring::CTRL, 1);
        b.write(time::BASE + time::TICK_CTRL, 0); // stop the tick
        for pat in [0xffff_ffffu32, 0x5a5a_5a5a, 0xa5a5_a5a4, 0] {
            for s in &map.slots {
                let Kind::Store { wmask, w1c, .. } = s.kind else {
                    continue;
                };
                if wmask == 0
                    || w1c != 0
                    || s.name.ends_with(".CTRL") && !s.name.starts_with("AGING")
                {
                    continue;
                }
                if s.name == "TIME.TICK_CTRL" {
                    continue;
                }
                b.write(s.addr as u32, pat);
                let got = b.read(s.addr as u32);
                assert_eq!(got & wmask, pat & wmask, "{} pattern {pat:#x}", s.name);
            }
        }
        // outputs follow the registers
        b.write(ctrl::BASE + ctrl::HASH_SEED, 0xdead_beef);
        b.write(learn::BASE + learn::UDP_TIMEOUT, 1234);
        assert_eq!(b.0.hash_seed.val().to_u64(), 0xdead_beef);
        assert_eq!(b.0.learn_udp_timeout.val().to_u64(), 1234);
        // W1C: set by the card, cleared by writing 1
        b.0.err_set.next = 0b1010u64.into();
        b.clk();
        b.0.err_set.next = 0u64.into();
        assert_eq!(b.read(ctrl::BASE + ctrl::ERROR), 0b1010);
        b.write(ctrl::BASE + ctrl::ERROR, 0b0010);
        assert_eq!(b.read(ctrl::BASE + ctrl::ERROR), 0b1000);
        // EVQ arm cleared by the card; CONS reset when the ring is disabled
        b.write(evq::BASE + ring::CONS, 9);
        b.write(evq::BASE + ring::CTRL, 3);
        b.0.evq_arm_clr.next = true;
        b.clk();
        b.0.evq_arm_clr.next = false;
        assert_eq!(b.read(evq::BASE + ring::CTRL), 1);
        assert_eq!(b.read(evq::BASE + ring::CONS), 9);
        b.write(evq::BASE + ring::CTRL, 0);
        b.clk();
        assert_eq!(b.read(evq::BASE + ring::CONS), 0);
        // card-driven registers
        b.0.evq_prod.next = 77u64.into();
        b.0.status_ready.next = true;
        assert_eq!(b.read(evq::BASE + ring::PROD), 77);
        assert_eq!(b.read(ctrl::BASE + ctrl::STATUS), 1);
    }

    #[test]
    fn tick_divider_step_and_set() {
        let mut b = Bus::new();
        b.write(time::BASE + time::TICK_DIV, 3);
        b.write(time::BASE + time::TICK, 100);
        let t0 = b.0.now.val().to_u64();
        assert_eq!(t0, 100);
        for _ in 0..30 {
            b.clk();
        }
        let t1 = b.0.now.val().to_u64();
        assert!((109..=111).contains(&t1), "{t1}");
        b.write(time::BASE + time::TICK_CTRL, 0);
        let t2 = b.0.now.val().to_u64();
        for _ in 0..10 {
            b.clk();
        }
        assert_eq!(b.0.now.val().to_u64(), t2);
        b.write(time::BASE + time::TICK_CTRL, 2); // step
        assert_eq!(b.0.now.val().to_u64(), t2 + 1);
        assert_eq!(b.read(time::BASE + time::TICK) as u64, t2 + 1);
    }

    #[test]
    fn doorbell_produces_the_command_strobe() {
        let mut b = Bus::new();
        let words: Vec<u32> = (0..16u32)
            .map(|i| 0x1000_0000 * (i % 7) + i * 0x0101 + 1)
            .collect();
        for (i, w) in words.iter().enumerate() {
            b.write(cmd::BASE + cmd::DATA + 4 * i as u32, *w);
        }
        assert!(!b.0.cmd_go.val());
        b.write(cmd::BASE + cmd::DOORBELL, 1);
        assert!(b.0.cmd_go.val(), "go one clock after the doorbell write");
        assert_eq!(crate::dest::bits_to_words(b.0.cmd_data.val()), words);
        b.clk();
        assert!(!b.0.cmd_go.val(), "a single pulse");
        assert_eq!(b.read(cmd::BASE + cmd::STATUS) & 3, 1, "busy");
        assert_eq!(b.read(cmd::BASE + cmd::DOORBELL), 0, "WO reads 0");
        let res: Vec<u32> = (0..14u32).map(|i| 0xabc0_0000 + i).collect();
        b.0.cmd_resp.next = true;
        b.0.cmd_code.next = 4u64.into();
        b.0.cmd_index.next = 4242u64.into();
        b.0.cmd_result.next = crate::dest::words_to_bits(&res);
        b.clk();
        b.0.cmd_resp.next = false;
        assert_eq!(b.read(cmd::BASE + cmd::STATUS), 2 | (4 << 8));
        assert_eq!(b.read(cmd::BASE + cmd::RESULT_INDEX), 4242);
        for (i, w) in res.iter().enumerate() {
            assert_eq!(b.read(cmd::BASE + cmd::RESULT + 4 * i as u32), *w);
        }
    }

    #[test]
    fn stats_count_strobes() {
        let mut b = Bus::new();
        b.0.st_misses.next = true;
        for _ in 0..5 {
            b.clk();
        }
        b.0.st_misses.next = false;
        b.0.st_drops.next = true;
        b.clk();
        b.0.st_drops.next = false;
        assert_eq!(b.read(stats::BASE + stats::MISSES), 5);
        assert_eq!(b.read(stats::BASE + stats::DROPS), 1);
        assert_eq!(b.read(stats::BASE + stats::PKTS), 0);
    }

    #[test]
    fn every_abi_register_is_bound() {
        let map = RegMap::build(&BuildConfig::default_sim());
        let n: u32 = BLOCKS
            .iter()
            .map(|b| 3 + b.regs.iter().map(|r| r.count).sum::<u32>())
            .sum();
        assert_eq!(map.slots.len() as u32, n);
        let mut addrs: Vec<u16> = map.slots.iter().map(|s| s.addr).collect();
        addrs.sort();
        addrs.dedup();
        assert_eq!(addrs.len(), map.slots.len(), "no overlapping registers");
        let v = RegFile::default().verilog_body();
        assert!(v.contains("case (addr)"));
    }

    /// Differential test of the generated Verilog (the `Verilog::Custom` body) against this
    /// block's Rust model: the same random bus/input script through Verilator and `simulate()`.
    /// Skipped (with a message) when `verilator` is not installed.
    #[test]
    fn generated_verilog_matches_the_model_under_verilator() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        if Command::new("verilator").arg("--version").output().is_err() {
            eprintln!("verilator not found: skipping the Verilog-vs-model regfile test");
            return;
        }
        let dir = std::env::temp_dir().join(format!("lvsnic-regfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut u = RegFile::default();
        u.connect_all();
        std::fs::write(dir.join("top.v"), generate_verilog(&u)).unwrap();
        std::fs::write(dir.join("tb.cpp"), TB_CPP).unwrap();
        let st = Command::new("verilator")
            .current_dir(&dir)
            .args([
                "--cc",
                "--exe",
                "--build",
                "-j",
                "2",
                "-Wno-fatal",
                "-Wno-lint",
                "--top-module",
                "top",
                "-Mdir",
                "obj",
                "-o",
                "tb",
                "top.v",
                "tb.cpp",
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "verilator build failed");
        // random script: mostly bus traffic to real registers, plus card-side inputs
        let slots: Vec<u16> = u.map().slots.iter().map(|s| s.addr).collect();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut script = String::new();
        let mut ops = vec![];
        for _ in 0..3000 {
            let r = rnd();
            let addr = if r % 10 == 0 {
                (rnd() % 0x9000) as u32 & !3
            } else {
                slots[(rnd() % slots.len() as u64) as usize] as u32
            };
            let wdata = if r % 3 == 0 {
                rnd() as u32 & 0xff
            } else {
                rnd() as u32
            };
            let op = [
                addr,
                wdata,
                (r >> 8) as u32 & 1,
                (r >> 9) as u32 & 1,
                ((r >> 10) % 8 == 0) as u32,
                (r >> 16) as u32 & 0x3ff,
                if (r >> 26) % 8 == 0 {
                    (r >> 30) as u32 & 0xf
                } else {
                    0
                },
                ((r >> 34) % 16 == 0) as u32,
                (r >> 40) as u32 & 0xff,
                rnd() as u32,
                (r >> 48) as u32 & 0xff,
                (r >> 63) as u32,
            ];
            script.push_str(
                &op.iter()
                    .map(|v| format!("{v:x}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            script.push('\n');
            ops.push(op);
        }
        // the script goes through a file: piping both ways would deadlock on full pipes
        std::fs::File::create(dir.join("script.txt"))
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = Command::new(dir.join("obj").join("tb"))
            .stdin(std::fs::File::open(dir.join("script.txt")).unwrap())
            .output()
            .unwrap();
        assert!(out.status.success());
        let vlines: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        assert_eq!(vlines.len(), ops.len());
        let stats = |u: &mut RegFile, m: u32| {
            let p = [
                &mut u.st_pkts,
                &mut u.st_conn_hits,
                &mut u.st_tpl_hits,
                &mut u.st_learns,
                &mut u.st_misses,
                &mut u.st_drops,
                &mut u.st_flag_events,
                &mut u.st_expires,
                &mut u.st_evq_full,
                &mut u.st_parse_errors,
            ];
            for (k, s) in p.into_iter().enumerate() {
                s.next = (m >> k) & 1 == 1;
            }
        };
        for (n, op) in ops.iter().enumerate() {
            u.addr.next = (op[0] as u64).into();
            u.wdata.next = (op[1] as u64).into();
            u.wr.next = op[2] == 1;
            u.rd.next = op[3] == 1;
            u.evq_arm_clr.next = op[4] == 1;
            stats(&mut u, op[5]);
            u.err_set.next = (op[6] as u64).into();
            u.cmd_resp.next = op[7] == 1;
            u.cmd_code.next = (op[8] as u64).into();
            u.cmd_index.next = (op[9] as u64).into();
            u.evq_prod.next = (op[10] as u64).into();
            u.status_ready.next = op[11] == 1;
            u.clock.next = Clock { clk: false };
            assert!(simulate(&mut u, 100));
            u.clock.next = Clock { clk: true };
            assert!(simulate(&mut u, 100));
            let h = |s: &Signal<Out, Bits<32>>| format!("{:08x}", s.val().to_u64());
            let mut line = format!(
                "{:08x} {:x} {} {:x} {} {} {} {}",
                u.rdata.val().to_u64(),
                u.rvalid.val() as u8,
                h(&u.now),
                u.cmd_go.val() as u8,
                h(&u.ctrl_control),
                h(&u.evq_ctrl),
                h(&u.evq_cons),
                h(&u.cmdq_prod)
            );
            for w in crate::dest::bits_to_words(u.cmd_data.val()) {
                line.push_str(&format!(" {w:08x}"));
            }
            assert_eq!(vlines[n], line, "cycle {n}, op {op:x?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    const TB_CPP: &str = r#"
#include "Vtop.h"
#include "verilated.h"
#include <cstdio>
int main(int argc, char** argv) {
    VerilatedContext* ctx = new VerilatedContext;
    ctx->commandArgs(argc, argv);
    Vtop* t = new Vtop{ctx};
    unsigned a, wd, wr, rd, clr, st, es, resp, code, idx, prod, ready;
    t->clock = 0;
    t->eval();
    while (scanf("%x %x %x %x %x %x %x %x %x %x %x %x", &a, &wd, &wr, &rd, &clr, &st, &es,
                 &resp, &code, &idx, &prod, &ready) == 12) {
        t->addr = a; t->wdata = wd; t->wr = wr; t->rd = rd; t->evq_arm_clr = clr;
        t->st_pkts = st & 1; t->st_conn_hits = (st >> 1) & 1; t->st_tpl_hits = (st >> 2) & 1;
        t->st_learns = (st >> 3) & 1; t->st_misses = (st >> 4) & 1; t->st_drops = (st >> 5) & 1;
        t->st_flag_events = (st >> 6) & 1; t->st_expires = (st >> 7) & 1;
        t->st_evq_full = (st >> 8) & 1; t->st_parse_errors = (st >> 9) & 1;
        t->err_set = es; t->cmd_resp = resp; t->cmd_code = code; t->cmd_index = idx;
        t->evq_prod = prod; t->status_ready = ready;
        t->clock = 0; t->eval();
        t->clock = 1; t->eval();
        printf("%08x %x %08x %x %08x %08x %08x %08x", t->rdata, t->rvalid, t->now, t->cmd_go,
               t->ctrl_control, t->evq_ctrl, t->evq_cons, t->cmdq_prod);
        for (int i = 0; i < 16; i++) printf(" %08x", t->cmd_data[i]);
        printf("\n");
    }
    t->final();
    delete t;
    delete ctx;
    return 0;
}
"#;
}
