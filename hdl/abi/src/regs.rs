//! BAR0 register map as const data: a chain of 4 KiB register blocks (Corundum-style).
//!
//! Every block starts with the same three read-only header registers — `BLK_TYPE` (0x00),
//! `BLK_VER` (0x04), `BLK_NEXT` (0x08: BAR0 offset of the next block, 0 = last) — then its own
//! registers. The ID block sits at offset 0. All registers are 32-bit, little-endian, aligned.
//! Access: RO read-only; RW read/write; WO write-only (reads 0); W1C write 1 to clear;
//! a doorbell is a WO/RW register whose write triggers an action.

use crate::limits::*;

/// How software may access a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    RO,
    RW,
    WO,
    W1C,
}

impl Access {
    pub const fn as_str(self) -> &'static str {
        match self {
            Access::RO => "RO",
            Access::RW => "RW",
            Access::WO => "WO",
            Access::W1C => "W1C",
        }
    }
}

/// Reset value of a field: a constant, or set by the RTL generator per build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reset {
    Value(u32),
    Generated(&'static str),
}

/// A field of a register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegField {
    pub name: &'static str,
    pub lsb: u8,
    pub width: u8,
    pub access: Access,
    pub reset: Reset,
    pub doc: &'static str,
}

impl RegField {
    pub const fn mask(&self) -> u32 {
        (((1u64 << self.width) - 1) as u32) << self.lsb
    }
    /// Extract the field from a register value.
    pub const fn get(&self, reg: u32) -> u32 {
        (reg & self.mask()) >> self.lsb
    }
    /// Insert `v` (truncated to the width) into a register value.
    pub const fn put(&self, reg: u32, v: u32) -> u32 {
        (reg & !self.mask()) | ((v << self.lsb) & self.mask())
    }
}

/// A register (or an array of `count` registers at `offset + 4 * i`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg {
    pub name: &'static str,
    /// Offset inside the block.
    pub offset: u32,
    pub count: u32,
    pub fields: &'static [RegField],
    pub doc: &'static str,
}

/// A register block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegBlock {
    pub name: &'static str,
    pub type_id: u32,
    pub version: u32,
    /// BAR0 offset.
    pub base: u32,
    pub regs: &'static [Reg],
    pub doc: &'static str,
}

const fn fld(
    name: &'static str,
    lsb: u8,
    width: u8,
    access: Access,
    reset: u32,
    doc: &'static str,
) -> RegField {
    RegField {
        name,
        lsb,
        width,
        access,
        reset: Reset::Value(reset),
        doc,
    }
}

const fn gen(name: &'static str, lsb: u8, width: u8, how: &'static str) -> RegField {
    RegField {
        name,
        lsb,
        width,
        access: Access::RO,
        reset: Reset::Generated(how),
        doc: how,
    }
}

/// A single register.
macro_rules! reg {
    ($name:expr, $off:expr, $fields:expr, $doc:expr $(,)?) => {
        Reg {
            name: $name,
            offset: $off,
            count: 1,
            fields: $fields,
            doc: $doc,
        }
    };
}

/// A register whose only field is the whole 32-bit value.
macro_rules! word {
    ($name:expr, $off:expr, $acc:expr, $reset:expr, $doc:expr) => {
        reg!(
            $name,
            $off,
            &[fld("value", 0, 32, $acc, $reset, $doc)],
            $doc
        )
    };
}

/// Header register offsets, common to every block.
pub const BLK_TYPE: u32 = 0x00;
pub const BLK_VER: u32 = 0x04;
pub const BLK_NEXT: u32 = 0x08;

/// Offsets of each block (base) and of its registers (relative to the base).
pub mod id {
    pub const BASE: u32 = 0x0000;
    pub const TYPE: u32 = 0x0001;
    pub const MAGIC: u32 = 0x0C;
    pub const ABI_VERSION: u32 = 0x10;
    pub const ABI_HASH_LO: u32 = 0x14;
    pub const ABI_HASH_HI: u32 = 0x18;
    pub const CONN_GEOM: u32 = 0x1C;
    pub const TPL_GEOM: u32 = 0x20;
    pub const SMALL_GEOM: u32 = 0x24;
    pub const BUILD_ID: u32 = 0x28;
    pub const BUILD_INFO: u32 = 0x2C;
    pub const CAPS: u32 = 0x30;
    pub const CLK_KHZ: u32 = 0x34;
    pub const BUILD_TIME: u32 = 0x38;
}
pub mod ctrl {
    pub const BASE: u32 = 0x1000;
    pub const TYPE: u32 = 0x0002;
    pub const CONTROL: u32 = 0x0C;
    pub const HASH_SEED: u32 = 0x10;
    pub const UNPRIV_PORT: u32 = 0x14;
    pub const STATUS: u32 = 0x18;
    pub const ERROR: u32 = 0x1C;
    pub const SCRATCH: u32 = 0x20;
}
pub mod time {
    pub const BASE: u32 = 0x2000;
    pub const TYPE: u32 = 0x0003;
    pub const TICK: u32 = 0x0C;
    pub const TICK_CTRL: u32 = 0x10;
    pub const TICK_DIV: u32 = 0x14;
}
pub mod learn {
    pub const BASE: u32 = 0x3000;
    pub const TYPE: u32 = 0x0004;
    pub const TCP_TIMEOUT: u32 = 0x0C;
    pub const TCP_FLAGS: u32 = 0x10;
    pub const UDP_TIMEOUT: u32 = 0x14;
    pub const UDP_FLAGS: u32 = 0x18;
    pub const SCTP_TIMEOUT: u32 = 0x1C;
    pub const SCTP_FLAGS: u32 = 0x20;
}
pub mod cmd {
    pub const BASE: u32 = 0x4000;
    pub const TYPE: u32 = 0x0005;
    pub const STATUS: u32 = 0x0C;
    pub const RESULT_INDEX: u32 = 0x10;
    pub const DOORBELL: u32 = 0x14;
    /// `DATA[i]` at `DATA + 4 i`, i < 16: the command record.
    pub const DATA: u32 = 0x40;
    /// `RESULT[i]` at `RESULT + 4 i`, i < 14: entry image of Read/Lookup.
    pub const RESULT: u32 = 0x80;
}
/// Ring register offsets shared by the event queue and the command queue.
pub mod ring {
    pub const BASE_LO: u32 = 0x0C;
    pub const BASE_HI: u32 = 0x10;
    pub const LOG_SIZE: u32 = 0x14;
    pub const CTRL: u32 = 0x18;
    pub const PROD: u32 = 0x1C;
    pub const CONS: u32 = 0x20;
    pub const STATUS: u32 = 0x24;
}
pub mod evq {
    pub const BASE: u32 = 0x5000;
    pub const TYPE: u32 = 0x0006;
}
pub mod cmdq {
    pub const BASE: u32 = 0x6000;
    pub const TYPE: u32 = 0x0007;
}
pub mod stats {
    pub const BASE: u32 = 0x7000;
    pub const TYPE: u32 = 0x0008;
    pub const PKTS: u32 = 0x0C;
    pub const CONN_HITS: u32 = 0x10;
    pub const TPL_HITS: u32 = 0x14;
    pub const LEARNS: u32 = 0x18;
    pub const MISSES: u32 = 0x1C;
    pub const DROPS: u32 = 0x20;
    pub const FLAG_EVENTS: u32 = 0x24;
    pub const EXPIRES: u32 = 0x28;
    pub const EVQ_FULL: u32 = 0x2C;
    pub const PARSE_ERRORS: u32 = 0x30;
}
pub mod aging {
    pub const BASE: u32 = 0x8000;
    pub const TYPE: u32 = 0x0009;
    pub const CTRL: u32 = 0x0C;
    pub const RATE: u32 = 0x10;
    pub const POS: u32 = 0x14;
    pub const LAPS: u32 = 0x18;
}

use Access::*;

const GEOM_FIELDS: &[RegField] = &[
    gen(
        "log2_buckets",
        0,
        8,
        "build geometry: log2 of the bucket count",
    ),
    gen("ways", 8, 8, "build geometry: entries per bucket"),
    gen("stash", 16, 8, "build geometry: stash entries"),
];

const ID_REGS: &[Reg] = &[
    word!("MAGIC", id::MAGIC, RO, MAGIC, "\"LVSN\" (0x4e53564c)"),
    reg!(
        "ABI_VERSION",
        id::ABI_VERSION,
        &[
            fld(
                "minor",
                0,
                16,
                RO,
                ABI_VERSION_MINOR as u32,
                "compatible additions"
            ),
            fld(
                "major",
                16,
                16,
                RO,
                ABI_VERSION_MAJOR as u32,
                "incompatible changes"
            ),
        ],
        "ABI version",
    ),
    reg!(
        "ABI_HASH_LO",
        id::ABI_HASH_LO,
        &[gen("value", 0, 32, "abi_hash() bits 31..0")],
        "ABI hash, low word; the driver refuses a card whose hash differs",
    ),
    reg!(
        "ABI_HASH_HI",
        id::ABI_HASH_HI,
        &[gen("value", 0, 32, "abi_hash() bits 63..32")],
        "ABI hash, high word",
    ),
    reg!(
        "CONN_GEOM",
        id::CONN_GEOM,
        GEOM_FIELDS,
        "connection table geometry"
    ),
    reg!(
        "TPL_GEOM",
        id::TPL_GEOM,
        GEOM_FIELDS,
        "template table geometry"
    ),
    reg!(
        "SMALL_GEOM",
        id::SMALL_GEOM,
        &[
            fld("rules", 0, 8, RO, RULES as u32, "fwmark rules"),
            fld("services", 8, 8, RO, SERVICES as u32, "services"),
            fld("dests", 16, 16, RO, DESTS as u32, "real servers"),
        ],
        "small table sizes",
    ),
    reg!(
        "BUILD_ID",
        id::BUILD_ID,
        &[gen("value", 0, 32, "first 32 bits of the source commit")],
        "build identity",
    ),
    reg!(
        "BUILD_INFO",
        id::BUILD_INFO,
        &[
            gen("target", 0, 4, "0 simulation, 1 board"),
            gen("dirty", 4, 1, "built from a modified tree"),
        ],
        "build kind",
    ),
    reg!(
        "CAPS",
        id::CAPS,
        &[
            gen("cmdq", 0, 1, "DMA command ring implemented"),
            gen("nat", 1, 1, "NAT forwarding implemented"),
            gen("tun", 2, 1, "tunnel forwarding implemented"),
            gen("ipv6", 3, 1, "IPv6 implemented"),
            gen("learn", 4, 1, "template learning implemented"),
        ],
        "capabilities",
    ),
    reg!(
        "CLK_KHZ",
        id::CLK_KHZ,
        &[gen("value", 0, 32, "core clock in kHz")],
        "core clock"
    ),
    reg!(
        "BUILD_TIME",
        id::BUILD_TIME,
        &[gen("value", 0, 32, "build time, Unix seconds")],
        "build time",
    ),
];

const CTRL_REGS: &[Reg] = &[
    reg!(
        "CONTROL",
        ctrl::CONTROL,
        &[
            fld(
                "enable",
                0,
                1,
                RW,
                0,
                "datapath on; off: every packet goes to the host"
            ),
            fld(
                "learn_en",
                1,
                1,
                RW,
                0,
                "card may learn conns under templates"
            ),
            fld(
                "ftp_fallback",
                2,
                1,
                RW,
                0,
                "an FTP (port 21) service exists: FTP-data candidates miss (HostOnly)"
            ),
        ],
        "global control",
    ),
    word!(
        "HASH_SEED",
        ctrl::HASH_SEED,
        RW,
        0,
        "hash seed (change only with both hash tables empty)"
    ),
    reg!(
        "UNPRIV_PORT",
        ctrl::UNPRIV_PORT,
        &[fld(
            "port",
            0,
            16,
            RW,
            DEFAULT_UNPRIV_PORT as u32,
            "ip_unprivileged_port_start"
        )],
        "FTP-data fallback port threshold",
    ),
    reg!(
        "STATUS",
        ctrl::STATUS,
        &[fld(
            "ready",
            0,
            1,
            RO,
            0,
            "tables cleared after reset; commands accepted"
        )],
        "global status",
    ),
    reg!(
        "ERROR",
        ctrl::ERROR,
        &[
            fld(
                "evq_overflow",
                0,
                1,
                W1C,
                0,
                "a record was not written (ring full)"
            ),
            fld("cmd_error", 1, 1, W1C, 0, "a command failed"),
            fld("dma_error", 2, 1, W1C, 0, "a DMA transfer failed"),
            fld("parse_error", 3, 1, W1C, 0, "a malformed packet was seen"),
        ],
        "sticky error bits",
    ),
    word!(
        "SCRATCH",
        ctrl::SCRATCH,
        RW,
        0,
        "scratch register for access tests"
    ),
];

const TIME_REGS: &[Reg] = &[
    word!(
        "TICK",
        time::TICK,
        RW,
        0,
        "current 1 ms tick; a write sets it (co-simulation, replay)"
    ),
    reg!(
        "TICK_CTRL",
        time::TICK_CTRL,
        &[
            fld("run", 0, 1, RW, 1, "tick advances every TICK_DIV clocks"),
            fld(
                "step",
                1,
                1,
                WO,
                0,
                "write 1 while stopped: advance TICK by one"
            ),
        ],
        "tick control",
    ),
    reg!(
        "TICK_DIV",
        time::TICK_DIV,
        &[RegField {
            access: RW,
            ..gen("value", 0, 32, "core clocks per tick (CLK_KHZ)")
        }],
        "tick divider"
    ),
];

const fn learn_flags(state: u32, ev_next: u32) -> [RegField; 3] {
    [
        fld("state", 0, 4, RW, state, "state field of learned conns"),
        fld("syn_miss", 8, 1, RW, 0, "syn_miss of learned conns"),
        fld("ev_next", 9, 1, RW, ev_next, "ev_next of learned conns"),
    ]
}
const TCP_FLAGS: [RegField; 3] = learn_flags(TCP_S_SYN_RECV as u32, 1);
const UDP_FLAGS: [RegField; 3] = learn_flags(0, 0);
const SCTP_FLAGS: [RegField; 3] = learn_flags(SCTP_S_INIT1 as u32, 1);

const LEARN_REGS: &[Reg] = &[
    word!(
        "TCP_TIMEOUT",
        learn::TCP_TIMEOUT,
        RW,
        DEFAULT_LEARN_TCP_TIMEOUT_MS,
        "timeout of a conn learned from a TCP SYN (ticks)"
    ),
    reg!(
        "TCP_FLAGS",
        learn::TCP_FLAGS,
        &TCP_FLAGS,
        "entry flags of TCP learned conns"
    ),
    word!(
        "UDP_TIMEOUT",
        learn::UDP_TIMEOUT,
        RW,
        DEFAULT_LEARN_UDP_TIMEOUT_MS,
        "timeout of a learned UDP conn (ticks)"
    ),
    reg!(
        "UDP_FLAGS",
        learn::UDP_FLAGS,
        &UDP_FLAGS,
        "entry flags of UDP learned conns"
    ),
    word!(
        "SCTP_TIMEOUT",
        learn::SCTP_TIMEOUT,
        RW,
        DEFAULT_LEARN_SCTP_TIMEOUT_MS,
        "timeout of a conn learned from an SCTP INIT (ticks)"
    ),
    reg!(
        "SCTP_FLAGS",
        learn::SCTP_FLAGS,
        &SCTP_FLAGS,
        "entry flags of SCTP learned conns"
    ),
];

const CMD_REGS: &[Reg] = &[
    reg!(
        "STATUS",
        cmd::STATUS,
        &[
            fld(
                "busy",
                0,
                1,
                RO,
                0,
                "command executing; DATA must not be written"
            ),
            fld(
                "done",
                1,
                1,
                RO,
                0,
                "last command finished (cleared by DOORBELL)"
            ),
            fld("code", 8, 8, RO, 0, "CmdStatus of the last command"),
        ],
        "MMIO command status",
    ),
    word!(
        "RESULT_INDEX",
        cmd::RESULT_INDEX,
        RO,
        0,
        "entry index the last command used or found"
    ),
    reg!(
        "DOORBELL",
        cmd::DOORBELL,
        &[fld(
            "go",
            0,
            1,
            WO,
            0,
            "write 1: execute the command in DATA"
        )],
        "MMIO command doorbell",
    ),
    Reg {
        name: "DATA",
        offset: cmd::DATA,
        count: 16,
        fields: &[fld("value", 0, 32, RW, 0, "Command record word i")],
        doc: "the command record (16 words, same layout as a DMA ring slot)",
    },
    Reg {
        name: "RESULT",
        offset: cmd::RESULT,
        count: 14,
        fields: &[fld("value", 0, 32, RO, 0, "entry image word i")],
        doc: "entry read by Read / Lookup",
    },
];

/// Registers of a DMA ring (event queue or command queue) given PROD and CONS access.
macro_rules! ring_regs {
    ($pa:expr, $ca:expr) => { [
        reg!(
            "BASE_LO",
            ring::BASE_LO,
            &[fld("addr", 6, 26, RW, 0, "ring IOVA bits 31..6 (64-byte aligned)")],
            "ring base address, low",
        ),
        word!("BASE_HI", ring::BASE_HI, RW, 0, "ring IOVA bits 63..32"),
        reg!(
            "LOG_SIZE",
            ring::LOG_SIZE,
            &[fld("log_size", 0, 5, RW, 0, "log2 of the slot count, 4..=16")],
            "ring size",
        ),
        reg!(
            "CTRL",
            ring::CTRL,
            &[
                fld("enable", 0, 1, RW, 0, "ring on (set after BASE/LOG_SIZE; clearing resets PROD/CONS)"),
                fld("arm", 1, 1, RW, 0, "EVQ: interrupt at the next record, then cleared by the card; CMDQ: completion record for every command"),
            ],
            "ring control",
        ),
        Reg {
            name: "PROD",
            offset: ring::PROD,
            count: 1,
            fields: &[fld("index", 0, 32, $pa, 0, "free-running producer index (CMDQ: host doorbell)")],
            doc: "producer index",
        },
        Reg {
            name: "CONS",
            offset: ring::CONS,
            count: 1,
            fields: &[fld("index", 0, 32, $ca, 0, "free-running consumer index (EVQ: host doorbell)")],
            doc: "consumer index",
        },
        reg!(
            "STATUS",
            ring::STATUS,
            &[
                fld("overflow", 0, 1, W1C, 0, "EVQ: a record was dropped for lack of space"),
                fld("dma_error", 1, 1, W1C, 0, "a DMA access failed; ring stopped"),
            ],
            "ring status",
        ),
    ] };
}
const EVQ_REGS: [Reg; 7] = ring_regs!(RO, RW);
const CMDQ_REGS: [Reg; 7] = ring_regs!(RW, RO);

const STATS_REGS: &[Reg] = &[
    word!("PKTS", stats::PKTS, RO, 0, "packets parsed"),
    word!(
        "CONN_HITS",
        stats::CONN_HITS,
        RO,
        0,
        "packets forwarded by a conn hit"
    ),
    word!(
        "TPL_HITS",
        stats::TPL_HITS,
        RO,
        0,
        "packets forwarded through a template (learn or OPS)"
    ),
    word!("LEARNS", stats::LEARNS, RO, 0, "conns learned"),
    word!("MISSES", stats::MISSES, RO, 0, "packets sent to the host"),
    word!("DROPS", stats::DROPS, RO, 0, "packets dropped (conn_drop)"),
    word!(
        "FLAG_EVENTS",
        stats::FLAG_EVENTS,
        RO,
        0,
        "flag events written"
    ),
    word!("EXPIRES", stats::EXPIRES, RO, 0, "entries reclaimed"),
    word!(
        "EVQ_FULL",
        stats::EVQ_FULL,
        RO,
        0,
        "misses forced by a full event ring"
    ),
    word!(
        "PARSE_ERRORS",
        stats::PARSE_ERRORS,
        RO,
        0,
        "malformed packets"
    ),
];

const AGING_REGS: &[Reg] = &[
    reg!(
        "CTRL",
        aging::CTRL,
        &[fld(
            "enable",
            0,
            1,
            RW,
            1,
            "sweep reclaims expired/stale entries and reports them"
        )],
        "aging control",
    ),
    reg!(
        "RATE",
        aging::RATE,
        &[fld(
            "per_tick",
            0,
            16,
            RW,
            64,
            "entries visited per tick per table (>= capacity / 2^30 keeps wrap safety)"
        )],
        "sweep rate",
    ),
    word!("POS", aging::POS, RO, 0, "conn table sweep position"),
    word!(
        "LAPS",
        aging::LAPS,
        RO,
        0,
        "completed sweeps of the conn table"
    ),
];

/// All blocks, in chain order.
pub const BLOCKS: [RegBlock; 9] = [
    RegBlock {
        name: "ID",
        type_id: id::TYPE,
        version: 1,
        base: id::BASE,
        regs: ID_REGS,
        doc: "identity, ABI version/hash, geometry, build identity",
    },
    RegBlock {
        name: "CTRL",
        type_id: ctrl::TYPE,
        version: 1,
        base: ctrl::BASE,
        regs: CTRL_REGS,
        doc: "global control, hash seed, errors",
    },
    RegBlock {
        name: "TIME",
        type_id: time::TYPE,
        version: 1,
        base: time::BASE,
        regs: TIME_REGS,
        doc: "free-running 1 ms tick counter, settable by the host",
    },
    RegBlock {
        name: "LEARN",
        type_id: learn::TYPE,
        version: 1,
        base: learn::BASE,
        regs: LEARN_REGS,
        doc: "initial timeout and flags of conns the card learns under a template",
    },
    RegBlock {
        name: "CMD",
        type_id: cmd::TYPE,
        version: 1,
        base: cmd::BASE,
        regs: CMD_REGS,
        doc: "MMIO command interface: write DATA, ring DOORBELL, poll STATUS",
    },
    RegBlock {
        name: "EVQ",
        type_id: evq::TYPE,
        version: 1,
        base: evq::BASE,
        regs: &EVQ_REGS,
        doc: "card -> host record ring (miss, learn, expire, flag, cmd-done)",
    },
    RegBlock {
        name: "CMDQ",
        type_id: cmdq::TYPE,
        version: 1,
        base: cmdq::BASE,
        regs: &CMDQ_REGS,
        doc: "host -> card command ring (present if ID.CAPS.cmdq)",
    },
    RegBlock {
        name: "STATS",
        type_id: stats::TYPE,
        version: 1,
        base: stats::BASE,
        regs: STATS_REGS,
        doc: "wrapping 32-bit counters",
    },
    RegBlock {
        name: "AGING",
        type_id: aging::TYPE,
        version: 1,
        base: aging::BASE,
        regs: AGING_REGS,
        doc: "aging sweep",
    },
];

impl RegBlock {
    /// Value of `BLK_NEXT`: the next block's base, 0 for the last.
    pub fn next(&self) -> u32 {
        let i = BLOCKS
            .iter()
            .position(|b| b.base == self.base)
            .unwrap_or(BLOCKS.len());
        BLOCKS.get(i + 1).map_or(0, |b| b.base)
    }

    /// The three header registers with their reset values.
    pub fn header(&self) -> [(&'static str, u32, u32); 3] {
        [
            ("BLK_TYPE", BLK_TYPE, self.type_id),
            ("BLK_VER", BLK_VER, self.version),
            ("BLK_NEXT", BLK_NEXT, self.next()),
        ]
    }

    pub fn reg(&self, name: &str) -> Option<&'static Reg> {
        self.regs.iter().find(|r| r.name == name)
    }
}

/// Look a block up by name.
pub fn block(name: &str) -> Option<&'static RegBlock> {
    BLOCKS.iter().find(|b| b.name == name)
}

/// Absolute BAR0 offset of `block.reg[i]`.
pub fn offset_of(block_name: &str, reg: &str, i: u32) -> Option<u32> {
    let b = block(block_name)?;
    let r = b.reg(reg)?;
    (i < r.count).then_some(b.base + r.offset + 4 * i)
}

impl Reg {
    pub fn field(&self, name: &str) -> Option<&'static RegField> {
        self.fields.iter().find(|f| f.name == name)
    }
    /// Reset value of the register (generated fields count as 0).
    pub fn reset_value(&self) -> u32 {
        self.fields.iter().fold(0, |v, f| match f.reset {
            Reset::Value(x) => f.put(v, x),
            Reset::Generated(_) => v,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn offsets_unique_aligned_in_block() {
        let mut abs = HashSet::new();
        for (i, b) in BLOCKS.iter().enumerate() {
            assert_eq!(b.base % BLOCK_STRIDE, 0, "{}", b.name);
            assert!(b.base + BLOCK_STRIDE <= BAR0_SIZE);
            assert_eq!(
                b.base,
                i as u32 * BLOCK_STRIDE,
                "blocks are contiguous in order"
            );
            for (_, off, _) in b.header() {
                assert!(abs.insert(b.base + off));
            }
            for r in b.regs {
                assert!(
                    r.offset >= 0x0C && r.offset % 4 == 0,
                    "{}.{}",
                    b.name,
                    r.name
                );
                assert!(r.count >= 1 && r.offset + 4 * r.count <= BLOCK_STRIDE);
                for k in 0..r.count {
                    assert!(
                        abs.insert(b.base + r.offset + 4 * k),
                        "{}.{} overlaps",
                        b.name,
                        r.name
                    );
                }
                let mut used = 0u32;
                for f in r.fields {
                    assert!(
                        f.width >= 1 && f.lsb as u32 + f.width as u32 <= 32,
                        "{}.{}.{}",
                        b.name,
                        r.name,
                        f.name
                    );
                    assert_eq!(
                        used & f.mask(),
                        0,
                        "{}.{}.{} overlaps",
                        b.name,
                        r.name,
                        f.name
                    );
                    used |= f.mask();
                    if let Reset::Value(v) = f.reset {
                        assert!(
                            f.width == 32 || v >> f.width == 0,
                            "{}.{}.{} reset",
                            b.name,
                            r.name,
                            f.name
                        );
                    }
                }
                let names: HashSet<_> = r.fields.iter().map(|f| f.name).collect();
                assert_eq!(names.len(), r.fields.len());
            }
            let names: HashSet<_> = b.regs.iter().map(|r| r.name).collect();
            assert_eq!(names.len(), b.regs.len());
        }
        let types: HashSet<_> = BLOCKS.iter().map(|b| b.type_id).collect();
        assert_eq!(types.len(), BLOCKS.len());
    }

    #[test]
    fn chain_and_lookup() {
        assert_eq!(BLOCKS[0].base, 0);
        assert_eq!(BLOCKS[0].next(), ctrl::BASE);
        assert_eq!(BLOCKS[8].next(), 0);
        assert_eq!(offset_of("ID", "MAGIC", 0), Some(0x0C));
        assert_eq!(
            offset_of("CMD", "DATA", 15),
            Some(cmd::BASE + cmd::DATA + 60)
        );
        assert_eq!(offset_of("CMD", "DATA", 16), None);
        assert_eq!(offset_of("EVQ", "CONS", 0), Some(evq::BASE + ring::CONS));
        assert_eq!(
            block("ID").unwrap().reg("MAGIC").unwrap().reset_value(),
            MAGIC
        );
        let v = block("ID")
            .unwrap()
            .reg("ABI_VERSION")
            .unwrap()
            .reset_value();
        assert_eq!(v, ABI_VERSION);
        let f = block("TIME")
            .unwrap()
            .reg("TICK_CTRL")
            .unwrap()
            .field("step")
            .unwrap();
        assert_eq!(f.put(0, 1), 2);
        assert_eq!(f.get(3), 1);
    }
}
