//! Card -> host records (miss, learn, expire, flag, command-done) and the host -> card command.
//!
//! **Size: 64 bytes (16 words).** A record must carry the 297-bit flow key plus type, indices,
//! time and phase (~15 words); 32 bytes cannot. 64 bytes is one cache line and one naturally
//! aligned PCIe write TLP, so a record never straddles lines; the card writes it in one burst.
//!
//! Common frame: word 0 holds the type (bits 3..0) and type-specific header bits; words 1..10
//! the flow key (same image as table keys, so one RTL bus); word 14 the card tick; word 15 bit
//! 31 the **phase** (last bit of the record in address order). Ring slot `i & (size-1)` is valid
//! when its phase equals `ring_phase(i, log_size)`: 1 on the first lap (the host zero-fills the
//! ring), flipping every lap. The host reads phase, then `fence(Acquire)`, then the record.

use crate::entries::{TableEntry, TableId, PAYLOAD_WORDS};
use crate::error::AbiError;
use crate::key::{key_fields, FlowKey, KEY_WORDS};
use crate::layout::{Field, Layout, MAX_WORDS};
use crate::limits::RECORD_WORDS;

/// Phase a record written at free-running producer index `idx` carries.
pub const fn ring_phase(idx: u32, log_size: u32) -> bool {
    (idx >> log_size) & 1 == 0
}

/// Record type codes (word 0, bits 3..0). 0 is never written (an empty, zero-filled slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordType {
    Miss = 1,
    Learn = 2,
    Expire = 3,
    Flag = 4,
    CmdDone = 5,
}

impl RecordType {
    pub const ALL: [RecordType; 5] = [
        RecordType::Miss,
        RecordType::Learn,
        RecordType::Expire,
        RecordType::Flag,
        RecordType::CmdDone,
    ];
    pub fn from_bits(v: u32) -> Result<Self, AbiError> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| *t as u32 == v)
            .ok_or(AbiError::BadEnum {
                field: "type",
                value: v,
            })
    }
}

/// Why a packet went to the host (word 0 bits 11..8 of a miss record).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MissReason {
    /// Service found, the scheduler must run (non-persistent, or no usable template).
    Schedule = 0,
    /// No virtual service: deliver to the host stack.
    NoService = 1,
    /// TCP non-SYN (or RST) / SCTP non-INIT without an entry: host stack (sloppy modes are the host's).
    NotNew = 2,
    /// A template was found but cannot be used (dest !tpl_ok, stale gen, learn clear).
    TemplateInvalid = 3,
    /// A conn was found but its dest is stale or unavailable (and not conn_drop).
    DestInvalid = 4,
    /// A SYN/INIT hit a conn with syn_miss or a dest without syn_ok (reuse/reschedule decision).
    SynOnConn = 5,
    /// An entry was found but expired by its timestamp.
    Expired = 6,
    /// Learning needed a slot and none was free (or the event ring had no room for the learn).
    TableFull = 7,
    /// Host-only case: service host_only, FTP (port 21 / FTP-data fallback), client port 20.
    HostOnly = 8,
    /// Not parsed far enough: fragment, unknown protocol, malformed header.
    Unparsed = 9,
}

impl MissReason {
    pub const ALL: [MissReason; 10] = [
        MissReason::Schedule,
        MissReason::NoService,
        MissReason::NotNew,
        MissReason::TemplateInvalid,
        MissReason::DestInvalid,
        MissReason::SynOnConn,
        MissReason::Expired,
        MissReason::TableFull,
        MissReason::HostOnly,
        MissReason::Unparsed,
    ];
    pub fn from_bits(v: u32) -> Result<Self, AbiError> {
        Self::ALL.get(v as usize).copied().ok_or(AbiError::BadEnum {
            field: "reason",
            value: v,
        })
    }
}

/// Why an entry left the card (expire record word 0 bits 11..9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpireCause {
    /// The aging sweep found it expired and reclaimed the slot.
    Aged = 0,
    /// A one-packet conn served its packet.
    Ops = 1,
    /// The sweep reclaimed an entry whose dest generation is stale.
    Stale = 2,
}

impl ExpireCause {
    pub const ALL: [ExpireCause; 3] = [ExpireCause::Aged, ExpireCause::Ops, ExpireCause::Stale];
    pub fn from_bits(v: u32) -> Result<Self, AbiError> {
        Self::ALL.get(v as usize).copied().ok_or(AbiError::BadEnum {
            field: "cause",
            value: v,
        })
    }
}

pub mod rec {
    use crate::layout::Field;
    pub const TYPE: Field = Field::at("type", 0, 0, 4, "record type");
    pub const TICK: Field = Field::at("tick", 14, 0, 32, "card tick when the record was produced");
    pub const PHASE: Field = Field::at("phase", 15, 31, 1, "ring phase (written last)");
    // miss
    pub const M_REASON: Field = Field::at("reason", 0, 8, 4, "MissReason");
    pub const M_L4_VALID: Field = Field::at("l4_valid", 0, 12, 1, "ports (and flags) were parsed");
    pub const M_VLAN_VALID: Field = Field::at("vlan_valid", 0, 13, 1, "packet had an 802.1Q tag");
    pub const M_L4_INFO: Field = Field::at(
        "l4_info",
        0,
        16,
        8,
        "TCP flags byte (FIN=0x01 SYN=0x02 RST=0x04 ...) or SCTP first chunk type",
    );
    pub const M_FWMARK: Field = Field::at("fwmark", 11, 0, 32, "mark after the rule table");
    pub const M_SVC: Field = Field::at("svc", 12, 0, 8, "service index (0xff: none)");
    pub const M_VLAN: Field = Field::at("vlan_id", 12, 16, 12, "802.1Q VID");
    pub const M_PKT_ID: Field = Field::at(
        "pkt_id",
        13,
        0,
        32,
        "id of the held packet (verdict handle)",
    );
    // learn
    pub const L_OPS: Field = Field::at("ops", 0, 8, 1, "OPS datagram: forwarded, no conn stored");
    pub const L_TPL: Field = Field::at("tpl_index", 11, 0, 32, "template entry index");
    pub const L_CONN: Field = Field::at(
        "conn_index",
        12,
        0,
        32,
        "learned conn index (0xffffffff for OPS)",
    );
    pub const L_DEST: Field = Field::at("dest", 13, 0, 8, "dest index");
    pub const L_GEN: Field = Field::at("dest_gen", 13, 8, 8, "dest generation");
    pub const L_SVC: Field = Field::at("svc", 13, 16, 8, "service index");
    // expire
    pub const E_TABLE: Field = Field::at("table", 0, 8, 1, "0 conn, 1 template");
    pub const E_CAUSE: Field = Field::at("cause", 0, 9, 3, "ExpireCause");
    pub const E_INDEX: Field = Field::at("index", 11, 0, 32, "entry index");
    pub const E_DEST: Field = Field::at("dest", 12, 0, 8, "dest index");
    pub const E_GEN: Field = Field::at("dest_gen", 12, 8, 8, "dest generation of the entry");
    pub const E_CTL: Field = Field::at("controlled", 12, 16, 1, "conn was template-controlled");
    pub const E_STATE: Field = Field::at("state", 12, 24, 4, "conn state field");
    pub const E_LAST: Field = Field::at("last_refresh", 13, 0, 32, "entry's last refresh tick");
    // flag
    pub const F_FLAGS: Field = Field::at("l4_info", 0, 16, 8, "TCP flags byte or SCTP chunk type");
    pub const F_INDEX: Field = Field::at("index", 11, 0, 32, "conn index");
    pub const F_DEST: Field = Field::at("dest", 12, 0, 8, "dest index");
    pub const F_STATE: Field = Field::at("state", 12, 24, 4, "conn state field at the hit");
    // command done
    pub const C_STATUS: Field = Field::at("status", 0, 8, 8, "CmdStatus");
    pub const C_TAG: Field = Field::at("tag", 0, 16, 16, "tag of the command");
    pub const C_INDEX: Field = Field::at("index", 11, 0, 32, "entry index the command used/found");
    pub const C_OP: Field = Field::at("opcode", 12, 0, 8, "opcode of the command");
    pub const C_TABLE: Field = Field::at("table", 12, 8, 4, "table of the command");
}

const K1: [Field; 6] = key_fields(1);

macro_rules! rec_layout {
    ($name:ident, $n:expr, $doc:expr, [$($f:expr),* $(,)?]) => {
        pub const $name: Layout = Layout {
            name: $n,
            words: RECORD_WORDS,
            fields: &[rec::TYPE, $($f,)* rec::TICK, rec::PHASE],
            doc: $doc,
        };
    };
}

rec_layout!(
    MISS_LAYOUT,
    "MissRecord",
    "Packet the card could not decide (type 1).",
    [
        rec::M_REASON,
        rec::M_L4_VALID,
        rec::M_VLAN_VALID,
        rec::M_L4_INFO,
        K1[0],
        K1[1],
        K1[2],
        K1[3],
        K1[4],
        K1[5],
        rec::M_FWMARK,
        rec::M_SVC,
        rec::M_VLAN,
        rec::M_PKT_ID,
    ]
);
rec_layout!(
    LEARN_LAYOUT,
    "LearnEvent",
    "Conn learned under a template (type 2); the template was refreshed.",
    [
        rec::L_OPS,
        K1[0],
        K1[1],
        K1[2],
        K1[3],
        K1[4],
        K1[5],
        rec::L_TPL,
        rec::L_CONN,
        rec::L_DEST,
        rec::L_GEN,
        rec::L_SVC,
    ]
);
rec_layout!(
    EXPIRE_LAYOUT,
    "ExpireEvent",
    "Entry removed by the card (type 3); the key is the entry's key.",
    [
        rec::E_TABLE,
        rec::E_CAUSE,
        K1[0],
        K1[1],
        K1[2],
        K1[3],
        K1[4],
        K1[5],
        rec::E_INDEX,
        rec::E_DEST,
        rec::E_GEN,
        rec::E_CTL,
        rec::E_STATE,
        rec::E_LAST,
    ]
);
rec_layout!(
    FLAG_LAYOUT,
    "FlagEvent",
    "TCP SYN/FIN/RST or a segment without ACK (or ev_next) seen on a card-hit conn (type 4).",
    [
        rec::F_FLAGS,
        K1[0],
        K1[1],
        K1[2],
        K1[3],
        K1[4],
        K1[5],
        rec::F_INDEX,
        rec::F_DEST,
        rec::F_STATE,
    ]
);
rec_layout!(
    CMD_DONE_LAYOUT,
    "CmdDoneEvent",
    "Completion of a DMA-ring command (type 5).",
    [
        rec::C_STATUS,
        rec::C_TAG,
        rec::C_INDEX,
        rec::C_OP,
        rec::C_TABLE,
    ]
);

/// All record layouts.
pub const RECORD_LAYOUTS: [&Layout; 5] = [
    &MISS_LAYOUT,
    &LEARN_LAYOUT,
    &EXPIRE_LAYOUT,
    &FLAG_LAYOUT,
    &CMD_DONE_LAYOUT,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissRecord {
    pub reason: MissReason,
    /// Parsed key; ports are 0 when `!l4_valid`.
    pub key: FlowKey,
    pub l4_valid: bool,
    pub l4_info: u8,
    pub vlan: Option<u16>,
    pub fwmark: u32,
    pub svc: u8,
    pub pkt_id: u32,
    pub tick: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LearnEvent {
    pub key: FlowKey,
    pub ops: bool,
    pub tpl_index: u32,
    pub conn_index: u32,
    pub dest: u8,
    pub dest_gen: u8,
    pub svc: u8,
    pub tick: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpireEvent {
    pub table: TableId,
    pub cause: ExpireCause,
    pub key: FlowKey,
    pub index: u32,
    pub dest: u8,
    pub dest_gen: u8,
    pub controlled: bool,
    pub state: u8,
    pub last_refresh: u32,
    pub tick: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlagEvent {
    pub key: FlowKey,
    pub l4_info: u8,
    pub index: u32,
    pub dest: u8,
    pub state: u8,
    pub tick: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmdDoneEvent {
    pub status: CmdStatus,
    pub tag: u16,
    pub index: u32,
    pub opcode: Opcode,
    pub table: TableId,
    pub tick: u32,
}

/// Any card -> host record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    Miss(MissRecord),
    Learn(LearnEvent),
    Expire(ExpireEvent),
    Flag(FlagEvent),
    CmdDone(CmdDoneEvent),
}

fn b(v: bool) -> u128 {
    v as u128
}

impl Record {
    pub fn record_type(&self) -> RecordType {
        match self {
            Record::Miss(_) => RecordType::Miss,
            Record::Learn(_) => RecordType::Learn,
            Record::Expire(_) => RecordType::Expire,
            Record::Flag(_) => RecordType::Flag,
            Record::CmdDone(_) => RecordType::CmdDone,
        }
    }

    pub fn layout(t: RecordType) -> &'static Layout {
        match t {
            RecordType::Miss => &MISS_LAYOUT,
            RecordType::Learn => &LEARN_LAYOUT,
            RecordType::Expire => &EXPIRE_LAYOUT,
            RecordType::Flag => &FLAG_LAYOUT,
            RecordType::CmdDone => &CMD_DONE_LAYOUT,
        }
    }

    /// [`Layout::used_mask_words`] of [`Record::layout`], computed at compile time.
    fn reserved_mask(t: RecordType) -> &'static [u32; MAX_WORDS] {
        const MASKS: [[u32; MAX_WORDS]; 5] = [
            MISS_LAYOUT.used_mask_words(),
            LEARN_LAYOUT.used_mask_words(),
            EXPIRE_LAYOUT.used_mask_words(),
            FLAG_LAYOUT.used_mask_words(),
            CMD_DONE_LAYOUT.used_mask_words(),
        ];
        match t {
            RecordType::Miss => &MASKS[0],
            RecordType::Learn => &MASKS[1],
            RecordType::Expire => &MASKS[2],
            RecordType::Flag => &MASKS[3],
            RecordType::CmdDone => &MASKS[4],
        }
    }

    /// The 16-word image with the given phase.
    pub fn encode(&self, phase: bool) -> Result<[u32; RECORD_WORDS], AbiError> {
        let mut w = [0u32; RECORD_WORDS];
        rec::TYPE.set(&mut w, self.record_type() as u128)?;
        rec::PHASE.set(&mut w, b(phase))?;
        let tick = match self {
            Record::Miss(m) => {
                m.key.write(&mut w, 1)?;
                rec::M_REASON.set(&mut w, m.reason as u128)?;
                rec::M_L4_VALID.set(&mut w, b(m.l4_valid))?;
                rec::M_L4_INFO.set(&mut w, m.l4_info as u128)?;
                if let Some(v) = m.vlan {
                    rec::M_VLAN_VALID.set(&mut w, 1)?;
                    rec::M_VLAN.set(&mut w, v as u128)?;
                }
                rec::M_FWMARK.set(&mut w, m.fwmark as u128)?;
                rec::M_SVC.set(&mut w, m.svc as u128)?;
                rec::M_PKT_ID.set(&mut w, m.pkt_id as u128)?;
                m.tick
            }
            Record::Learn(l) => {
                l.key.validate_conn()?;
                l.key.write(&mut w, 1)?;
                rec::L_OPS.set(&mut w, b(l.ops))?;
                rec::L_TPL.set(&mut w, l.tpl_index as u128)?;
                rec::L_CONN.set(&mut w, l.conn_index as u128)?;
                rec::L_DEST.set(&mut w, l.dest as u128)?;
                rec::L_GEN.set(&mut w, l.dest_gen as u128)?;
                rec::L_SVC.set(&mut w, l.svc as u128)?;
                l.tick
            }
            Record::Expire(e) => {
                let t = match e.table {
                    TableId::Conn => {
                        e.key.validate_conn()?;
                        0
                    }
                    TableId::Template => {
                        e.key.validate_template()?;
                        1
                    }
                    _ => {
                        return Err(AbiError::Invalid {
                            what: "ExpireEvent",
                            why: "only conn and template entries expire",
                        })
                    }
                };
                e.key.write(&mut w, 1)?;
                rec::E_TABLE.set(&mut w, t)?;
                rec::E_CAUSE.set(&mut w, e.cause as u128)?;
                rec::E_INDEX.set(&mut w, e.index as u128)?;
                rec::E_DEST.set(&mut w, e.dest as u128)?;
                rec::E_GEN.set(&mut w, e.dest_gen as u128)?;
                rec::E_CTL.set(&mut w, b(e.controlled))?;
                rec::E_STATE.set(&mut w, e.state as u128)?;
                rec::E_LAST.set(&mut w, e.last_refresh as u128)?;
                e.tick
            }
            Record::Flag(f) => {
                f.key.validate_conn()?;
                f.key.write(&mut w, 1)?;
                rec::F_FLAGS.set(&mut w, f.l4_info as u128)?;
                rec::F_INDEX.set(&mut w, f.index as u128)?;
                rec::F_DEST.set(&mut w, f.dest as u128)?;
                rec::F_STATE.set(&mut w, f.state as u128)?;
                f.tick
            }
            Record::CmdDone(c) => {
                rec::C_STATUS.set(&mut w, c.status as u128)?;
                rec::C_TAG.set(&mut w, c.tag as u128)?;
                rec::C_INDEX.set(&mut w, c.index as u128)?;
                rec::C_OP.set(&mut w, c.opcode as u128)?;
                rec::C_TABLE.set(&mut w, c.table as u128)?;
                c.tick
            }
        };
        rec::TICK.set(&mut w, tick as u128)?;
        Ok(w)
    }

    /// Decode a record and its phase.
    pub fn decode(w: &[u32; RECORD_WORDS]) -> Result<(Record, bool), AbiError> {
        let t = RecordType::from_bits(rec::TYPE.get32(w)?)?;
        Record::layout(t).check_reserved_words(w, Record::reserved_mask(t))?;
        let phase = rec::PHASE.get32(w)? != 0;
        let tick = rec::TICK.get32(w)?;
        let g = |f: &Field| f.get32(w);
        let r = match t {
            RecordType::Miss => {
                let vlan_valid = g(&rec::M_VLAN_VALID)? != 0;
                if !vlan_valid && g(&rec::M_VLAN)? != 0 {
                    return Err(AbiError::Invalid {
                        what: "MissRecord",
                        why: "vlan_id without vlan_valid",
                    });
                }
                Record::Miss(MissRecord {
                    reason: MissReason::from_bits(g(&rec::M_REASON)?)?,
                    key: FlowKey::read(w, 1)?,
                    l4_valid: g(&rec::M_L4_VALID)? != 0,
                    l4_info: g(&rec::M_L4_INFO)? as u8,
                    vlan: vlan_valid.then_some(g(&rec::M_VLAN)? as u16),
                    fwmark: g(&rec::M_FWMARK)?,
                    svc: g(&rec::M_SVC)? as u8,
                    pkt_id: g(&rec::M_PKT_ID)?,
                    tick,
                })
            }
            RecordType::Learn => {
                let key = FlowKey::read(w, 1)?;
                key.validate_conn()?;
                Record::Learn(LearnEvent {
                    key,
                    ops: g(&rec::L_OPS)? != 0,
                    tpl_index: g(&rec::L_TPL)?,
                    conn_index: g(&rec::L_CONN)?,
                    dest: g(&rec::L_DEST)? as u8,
                    dest_gen: g(&rec::L_GEN)? as u8,
                    svc: g(&rec::L_SVC)? as u8,
                    tick,
                })
            }
            RecordType::Expire => {
                let key = FlowKey::read(w, 1)?;
                let table = if g(&rec::E_TABLE)? == 0 {
                    key.validate_conn()?;
                    TableId::Conn
                } else {
                    key.validate_template()?;
                    TableId::Template
                };
                Record::Expire(ExpireEvent {
                    table,
                    cause: ExpireCause::from_bits(g(&rec::E_CAUSE)?)?,
                    key,
                    index: g(&rec::E_INDEX)?,
                    dest: g(&rec::E_DEST)? as u8,
                    dest_gen: g(&rec::E_GEN)? as u8,
                    controlled: g(&rec::E_CTL)? != 0,
                    state: g(&rec::E_STATE)? as u8,
                    last_refresh: g(&rec::E_LAST)?,
                    tick,
                })
            }
            RecordType::Flag => {
                let key = FlowKey::read(w, 1)?;
                key.validate_conn()?;
                Record::Flag(FlagEvent {
                    key,
                    l4_info: g(&rec::F_FLAGS)? as u8,
                    index: g(&rec::F_INDEX)?,
                    dest: g(&rec::F_DEST)? as u8,
                    state: g(&rec::F_STATE)? as u8,
                    tick,
                })
            }
            RecordType::CmdDone => Record::CmdDone(CmdDoneEvent {
                status: CmdStatus::from_bits(g(&rec::C_STATUS)?)?,
                tag: g(&rec::C_TAG)? as u16,
                index: g(&rec::C_INDEX)?,
                opcode: Opcode::from_bits(g(&rec::C_OP)?)?,
                table: TableId::from_bits(g(&rec::C_TABLE)?)?,
                tick,
            }),
        };
        Ok((r, phase))
    }
}

// ---------------------------------------------------------------- host -> card command

/// Command opcodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    Nop = 0,
    /// Write the entry at `index` atomically (any table; publishes small-table entries).
    Write = 1,
    /// Hash tables: insert by key; the card picks the slot (status Exists / Full).
    Insert = 2,
    /// Hash tables: delete by key (payload = key words); other tables: clear `index`.
    Delete = 3,
    /// Hash tables: find by key and replace the value fields with the payload's.
    Modify = 4,
    /// Read the entry at `index` into the result registers / nothing for the ring.
    Read = 5,
    /// Hash tables: find by key; result = index and entry.
    Lookup = 6,
    /// Clear the whole table.
    Flush = 7,
}

impl Opcode {
    pub const ALL: [Opcode; 8] = [
        Opcode::Nop,
        Opcode::Write,
        Opcode::Insert,
        Opcode::Delete,
        Opcode::Modify,
        Opcode::Read,
        Opcode::Lookup,
        Opcode::Flush,
    ];
    pub fn from_bits(v: u32) -> Result<Self, AbiError> {
        Self::ALL.get(v as usize).copied().ok_or(AbiError::BadEnum {
            field: "opcode",
            value: v,
        })
    }
}

/// Command completion status (MMIO `CMD_STATUS.code` and `CmdDoneEvent.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmdStatus {
    Ok = 0,
    BadOpcode = 1,
    BadTable = 2,
    BadIndex = 3,
    Exists = 4,
    NotFound = 5,
    Full = 6,
    BadEntry = 7,
}

impl CmdStatus {
    pub const ALL: [CmdStatus; 8] = [
        CmdStatus::Ok,
        CmdStatus::BadOpcode,
        CmdStatus::BadTable,
        CmdStatus::BadIndex,
        CmdStatus::Exists,
        CmdStatus::NotFound,
        CmdStatus::Full,
        CmdStatus::BadEntry,
    ];
    pub fn from_bits(v: u32) -> Result<Self, AbiError> {
        Self::ALL.get(v as usize).copied().ok_or(AbiError::BadEnum {
            field: "status",
            value: v,
        })
    }
}

pub mod cmd {
    use crate::layout::Field;
    pub const OPCODE: Field = Field::at("opcode", 0, 0, 8, "Opcode");
    pub const TABLE: Field = Field::at("table", 0, 8, 4, "TableId");
    pub const TAG: Field = Field::at("tag", 0, 16, 16, "echoed in the completion");
    pub const INDEX: Field = Field::at(
        "index",
        1,
        0,
        32,
        "entry index (Write/Read/Delete of indexed tables)",
    );
    pub const PAYLOAD: [Field; 14] = {
        const NAMES: [&str; 14] = [
            "payload0",
            "payload1",
            "payload2",
            "payload3",
            "payload4",
            "payload5",
            "payload6",
            "payload7",
            "payload8",
            "payload9",
            "payload10",
            "payload11",
            "payload12",
            "payload13",
        ];
        let mut a = [Field::at("", 0, 0, 1, ""); 14];
        let mut i = 0;
        while i < 14 {
            a[i] = Field::at(
                NAMES[i],
                2 + i as u16,
                0,
                32,
                "entry image word (or key words 0..9)",
            );
            i += 1;
        }
        a
    };
}

pub const COMMAND_LAYOUT: Layout = Layout {
    name: "Command",
    words: RECORD_WORDS,
    fields: &[
        cmd::OPCODE,
        cmd::TABLE,
        cmd::TAG,
        cmd::INDEX,
        cmd::PAYLOAD[0],
        cmd::PAYLOAD[1],
        cmd::PAYLOAD[2],
        cmd::PAYLOAD[3],
        cmd::PAYLOAD[4],
        cmd::PAYLOAD[5],
        cmd::PAYLOAD[6],
        cmd::PAYLOAD[7],
        cmd::PAYLOAD[8],
        cmd::PAYLOAD[9],
        cmd::PAYLOAD[10],
        cmd::PAYLOAD[11],
        cmd::PAYLOAD[12],
        cmd::PAYLOAD[13],
    ],
    doc: "Host -> card command, the same 16 words in the MMIO CMD_DATA registers and in a DMA command ring slot.",
};

/// A host -> card command.
///
/// Valid by construction: every constructor checks the opcode/table/payload combination
/// (the typed-entry ones by encoding a validated entry), and the fields are read-only, so
/// [`Command::encode`] cannot fail and does not check again on the driver's hot path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command {
    opcode: Opcode,
    table: TableId,
    tag: u16,
    index: u32,
    payload: [u32; PAYLOAD_WORDS],
}

fn key_payload(key: &FlowKey) -> Result<[u32; PAYLOAD_WORDS], AbiError> {
    let mut p = [0u32; PAYLOAD_WORDS];
    p[..KEY_WORDS].copy_from_slice(&key.words()?);
    Ok(p)
}

impl Command {
    fn new(opcode: Opcode, table: TableId, index: u32, payload: [u32; PAYLOAD_WORDS]) -> Self {
        Command {
            opcode,
            table,
            tag: 0,
            index,
            payload,
        }
    }
    /// A command from its parts, checked as [`Command::decode`] checks one.
    pub fn from_parts(
        opcode: Opcode,
        table: TableId,
        index: u32,
        payload: [u32; PAYLOAD_WORDS],
    ) -> Result<Self, AbiError> {
        Self::new(opcode, table, index, payload).checked()
    }
    pub fn with_tag(mut self, tag: u16) -> Self {
        self.tag = tag;
        self
    }
    /// The same command with another opcode (an Insert retried as a Modify and back); the
    /// payload stays valid, the opcode/table combination is checked.
    pub fn with_opcode(self, opcode: Opcode) -> Result<Self, AbiError> {
        let c = Command { opcode, ..self };
        c.validate_shape()?;
        Ok(c)
    }
    pub fn opcode(&self) -> Opcode {
        self.opcode
    }
    pub fn table(&self) -> TableId {
        self.table
    }
    pub fn tag(&self) -> u16 {
        self.tag
    }
    pub fn index(&self) -> u32 {
        self.index
    }
    pub fn payload(&self) -> &[u32; PAYLOAD_WORDS] {
        &self.payload
    }
    pub fn write<E: TableEntry>(index: u32, e: &E) -> Result<Self, AbiError> {
        Ok(Self::new(Opcode::Write, E::TABLE, index, e.payload()?))
    }
    /// The payload of a typed entry is valid by construction (`payload()` validates the
    /// entry and encodes it; decode(encode(e)) == e is the ABI's round-trip property), so
    /// only the opcode/table combination is checked here, not the payload again.
    pub fn insert<E: TableEntry>(e: &E) -> Result<Self, AbiError> {
        let c = Self::new(Opcode::Insert, E::TABLE, 0, e.payload()?);
        c.validate_shape()?;
        Ok(c)
    }
    pub fn modify<E: TableEntry>(e: &E) -> Result<Self, AbiError> {
        let c = Self::new(Opcode::Modify, E::TABLE, 0, e.payload()?);
        c.validate_shape()?;
        Ok(c)
    }
    pub fn delete_key(table: TableId, key: &FlowKey) -> Result<Self, AbiError> {
        Self::new(Opcode::Delete, table, 0, key_payload(key)?).checked()
    }
    pub fn lookup(table: TableId, key: &FlowKey) -> Result<Self, AbiError> {
        Self::new(Opcode::Lookup, table, 0, key_payload(key)?).checked()
    }
    pub fn delete_index(table: TableId, index: u32) -> Result<Self, AbiError> {
        Self::new(Opcode::Delete, table, index, [0; PAYLOAD_WORDS]).checked()
    }
    pub fn read(table: TableId, index: u32) -> Self {
        Self::new(Opcode::Read, table, index, [0; PAYLOAD_WORDS])
    }
    pub fn flush(table: TableId) -> Self {
        Self::new(Opcode::Flush, table, 0, [0; PAYLOAD_WORDS])
    }

    fn checked(self) -> Result<Self, AbiError> {
        self.validate()?;
        Ok(self)
    }

    /// The opcode/table/payload combination is one the card accepts.
    pub fn validate(&self) -> Result<(), AbiError> {
        self.validate_shape()?;
        if matches!(self.opcode, Opcode::Write | Opcode::Insert | Opcode::Modify) {
            entry_check(self.table, &self.payload)?;
        }
        Ok(())
    }

    /// [`Command::validate`] without decoding a Write/Insert/Modify payload as an entry.
    fn validate_shape(&self) -> Result<(), AbiError> {
        let bad = |why| {
            Err(AbiError::Invalid {
                what: "Command",
                why,
            })
        };
        let hashed = self.table.is_hashed();
        let zero_payload = || self.payload.iter().all(|&x| x == 0);
        match self.opcode {
            Opcode::Nop | Opcode::Read | Opcode::Flush => {
                if !zero_payload() || (self.opcode != Opcode::Read && self.index != 0) {
                    return bad("Nop/Read/Flush carry no payload (Read: index only)");
                }
            }
            Opcode::Write | Opcode::Insert | Opcode::Modify => {
                if self.opcode != Opcode::Write && (!hashed || self.index != 0) {
                    return bad("Insert/Modify are for hash tables and take no index");
                }
            }
            Opcode::Delete | Opcode::Lookup => {
                if hashed {
                    if self.index != 0 || self.payload[KEY_WORDS..].iter().any(|&x| x != 0) {
                        return bad("hash-table Delete/Lookup carry only a key");
                    }
                    let k = FlowKey::read(&self.payload, 0)?;
                    let mut w = [0u32; KEY_WORDS];
                    k.write(&mut w, 0)?;
                    if w[..] != self.payload[..KEY_WORDS] {
                        return bad("key words with reserved bits set");
                    }
                    match self.table {
                        TableId::Conn => k.validate_conn()?,
                        _ => k.validate_template()?,
                    }
                } else if self.opcode == Opcode::Lookup || !zero_payload() {
                    return bad("indexed tables: Delete by index only, no Lookup");
                }
            }
        }
        Ok(())
    }

    /// The 16 words the card reads. A `Command` is valid by construction, so this does not
    /// check again (a debug build still does).
    pub fn encode(&self) -> [u32; RECORD_WORDS] {
        debug_assert_eq!(self.validate(), Ok(()), "{self:?}");
        let mut w = [0u32; RECORD_WORDS];
        // Every field fits its ABI field by type (the Opcode and TableId values fit their 8-
        // and 4-bit fields, tag 16 bits, index 32), so `set` cannot fail.
        let fits = |r: Result<(), AbiError>| r.expect("command field wider than its ABI field");
        fits(cmd::OPCODE.set(&mut w, self.opcode as u128));
        fits(cmd::TABLE.set(&mut w, self.table as u128));
        fits(cmd::TAG.set(&mut w, self.tag as u128));
        fits(cmd::INDEX.set(&mut w, self.index as u128));
        w[2..].copy_from_slice(&self.payload);
        w
    }

    pub fn decode(w: &[u32; RECORD_WORDS]) -> Result<Self, AbiError> {
        COMMAND_LAYOUT.check_reserved(w)?;
        let mut payload = [0u32; PAYLOAD_WORDS];
        payload.copy_from_slice(&w[2..]);
        let c = Command {
            opcode: Opcode::from_bits(cmd::OPCODE.get32(w)?)?,
            table: TableId::from_bits(cmd::TABLE.get32(w)?)?,
            tag: cmd::TAG.get32(w)? as u16,
            index: cmd::INDEX.get32(w)?,
            payload,
        };
        c.validate()?;
        Ok(c)
    }
}

fn entry_check(t: TableId, p: &[u32; PAYLOAD_WORDS]) -> Result<(), AbiError> {
    use crate::entries::*;
    match t {
        TableId::Conn => ConnEntry::from_payload(p).map(|_| ()),
        TableId::Template => TemplateEntry::from_payload(p).map(|_| ()),
        TableId::Service => ServiceEntry::from_payload(p).map(|_| ()),
        TableId::Dest => DestEntry::from_payload(p).map(|_| ()),
        TableId::Rule => MarkRuleEntry::from_payload(p).map(|_| ()),
    }
}
