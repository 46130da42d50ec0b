//! Table-entry word layouts and their typed values.
//!
//! Every entry is an image of 32-bit words; bit positions are fixed (see [`crate::layout`]).
//! `encode` validates and builds the image; `decode` rejects reserved bits, a clear valid bit,
//! unknown enum values and impossible combinations — an entry that cannot exist cannot be built.
//! Hash-table entries (conn, template) are 14 words so that a command record (2 header words +
//! 14 payload words) carries any entry; the RTL stores only the used bits (one BRAM word per way).

use std::net::IpAddr;

use crate::error::AbiError;
use crate::key::{key_fields, FlowKey, PersistMask};
use crate::layout::{Field, Layout, MAX_WORDS};
use crate::limits::MAX_TIMEOUT_MS;
use crate::types::*;

/// Words of the largest entry = command payload words.
pub const PAYLOAD_WORDS: usize = 14;

/// The tables a command can address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TableId {
    Conn = 0,
    Template = 1,
    Service = 2,
    Dest = 3,
    Rule = 4,
}

impl TableId {
    pub const ALL: [TableId; 5] = [
        TableId::Conn,
        TableId::Template,
        TableId::Service,
        TableId::Dest,
        TableId::Rule,
    ];
    pub fn from_bits(v: u32) -> Result<Self, AbiError> {
        Self::ALL.get(v as usize).copied().ok_or(AbiError::BadEnum {
            field: "table",
            value: v,
        })
    }
    /// Whether entries are found by key (hash tables) rather than by index.
    pub const fn is_hashed(self) -> bool {
        matches!(self, TableId::Conn | TableId::Template)
    }
    pub const fn layout(self) -> &'static Layout {
        match self {
            TableId::Conn => &CONN_LAYOUT,
            TableId::Template => &TEMPLATE_LAYOUT,
            TableId::Service => &SERVICE_LAYOUT,
            TableId::Dest => &DEST_LAYOUT,
            TableId::Rule => &RULE_LAYOUT,
        }
    }
}

/// Whether an entry refreshed at `last_refresh` with `timeout` is live at `now` (wrap-safe).
pub const fn is_live(last_refresh: u32, timeout: u32, now: u32) -> bool {
    now.wrapping_sub(last_refresh) < timeout
}

fn check_timeout(t: u32, what: &'static str) -> Result<(), AbiError> {
    if t == 0 || t > MAX_TIMEOUT_MS {
        return Err(AbiError::Invalid {
            what,
            why: "timeout must be 1..=MAX_TIMEOUT_MS ticks",
        });
    }
    Ok(())
}

#[inline(always)]
fn flag(f: &Field, w: &[u32]) -> Result<bool, AbiError> {
    Ok(f.get32(w)? != 0)
}

#[inline(always)]
fn check_valid<const N: usize>(
    l: &Layout,
    mask: &[u32; MAX_WORDS],
    w: &[u32; N],
    valid: &Field,
) -> Result<(), AbiError> {
    debug_assert_eq!(l.words, N);
    l.check_reserved_words(w, mask)?;
    if !flag(valid, w)? {
        return Err(AbiError::NotValid { layout: l.name });
    }
    Ok(())
}

fn to_payload(w: &[u32]) -> [u32; PAYLOAD_WORDS] {
    let mut p = [0u32; PAYLOAD_WORDS];
    p[..w.len()].copy_from_slice(w);
    p
}

/// A value that lives in one of the card's tables.
pub trait TableEntry: Sized {
    const TABLE: TableId;
    /// Image of the entry, zero-padded to a command payload.
    fn payload(&self) -> Result<[u32; PAYLOAD_WORDS], AbiError>;
    /// Decode from a command payload / read-back (padding words must be zero).
    fn from_payload(p: &[u32; PAYLOAD_WORDS]) -> Result<Self, AbiError>;
}

macro_rules! table_entry {
    ($t:ty, $id:expr, $n:expr) => {
        impl TableEntry for $t {
            const TABLE: TableId = $id;
            fn payload(&self) -> Result<[u32; PAYLOAD_WORDS], AbiError> {
                Ok(to_payload(&self.encode()?))
            }
            fn from_payload(p: &[u32; PAYLOAD_WORDS]) -> Result<Self, AbiError> {
                if let Some(i) = p[$n..].iter().position(|&x| x != 0) {
                    return Err(AbiError::Reserved {
                        layout: <$t>::LAYOUT.name,
                        word: $n + i,
                        bits: p[$n + i],
                    });
                }
                let mut w = [0u32; $n];
                w.copy_from_slice(&p[..$n]);
                <$t>::decode(&w)
            }
        }
    };
}

// ---------------------------------------------------------------- connection entry

pub mod conn {
    use crate::layout::Field;
    pub const WORDS: usize = 14;
    pub const VALID: Field = Field::at("valid", 10, 0, 1, "slot holds an entry");
    pub const FWD: Field = Field::at("fwd", 10, 1, 3, "forwarding method (IPVS numbering)");
    pub const CTL: Field = Field::at(
        "controlled",
        10,
        4,
        1,
        "controlled by a template (host keeps n_control)",
    );
    pub const OPS: Field = Field::at(
        "ops",
        10,
        5,
        1,
        "one-packet: first hit forwards, then the card removes the entry (expire event)",
    );
    pub const SYN_MISS: Field = Field::at(
        "syn_miss",
        10,
        6,
        1,
        "a TCP SYN (RST or not, as is_new_conn()) / SCTP INIT hitting this entry is a miss (conn_reuse_mode is the host's)",
    );
    pub const EV_NEXT: Field = Field::at(
        "ev_next",
        10,
        7,
        1,
        "report the next hit as a flag event whatever its flags; the card clears the bit",
    );
    pub const STATE: Field = Field::at(
        "state",
        10,
        8,
        4,
        "protocol state (IPVS numbering), owned by the host; the card does not interpret it",
    );
    pub const DEST: Field = Field::at("dest", 10, 16, 8, "real-server index");
    pub const DEST_GEN: Field = Field::at(
        "dest_gen",
        10,
        24,
        8,
        "dest generation at bind time; a hit needs it equal to the dest's gen",
    );
    pub const LAST_REFRESH: Field = Field::at(
        "last_refresh",
        11,
        0,
        32,
        "tick of the last refresh (card writes it on every forwarded hit)",
    );
    pub const TIMEOUT: Field = Field::at(
        "timeout",
        12,
        0,
        32,
        "ticks; live while now - last_refresh < timeout",
    );
    pub const DPORT: Field = Field::at("dport", 13, 0, 16, "real-server port (NAT/TUN room)");
}

const K0: [Field; 6] = key_fields(0);

pub const CONN_LAYOUT: Layout = Layout {
    name: "ConnEntry",
    words: conn::WORDS,
    fields: &[
        K0[0],
        K0[1],
        K0[2],
        K0[3],
        K0[4],
        K0[5],
        conn::VALID,
        conn::FWD,
        conn::CTL,
        conn::OPS,
        conn::SYN_MISS,
        conn::EV_NEXT,
        conn::STATE,
        conn::DEST,
        conn::DEST_GEN,
        conn::LAST_REFRESH,
        conn::TIMEOUT,
        conn::DPORT,
    ],
    doc: "Connection table entry (one hash-table way). Key words 0..9 are the hash input.",
};
/// Bits some field of [`CONN_LAYOUT`] covers (reserved-bit check of its decoder).
const CONN_MASK: [u32; MAX_WORDS] = CONN_LAYOUT.used_mask_words();

/// A connection entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnEntry {
    pub key: FlowKey,
    pub fwd: FwdMethod,
    pub controlled: bool,
    pub ops: bool,
    pub syn_miss: bool,
    pub ev_next: bool,
    pub state: u8,
    pub dest: u8,
    pub dest_gen: u8,
    pub last_refresh: u32,
    pub timeout_ms: u32,
    pub dport: u16,
}

impl ConnEntry {
    pub const LAYOUT: Layout = CONN_LAYOUT;

    pub fn validate(&self) -> Result<(), AbiError> {
        self.key.validate_conn()?;
        check_timeout(self.timeout_ms, "ConnEntry")?;
        if self.state > 15 {
            return Err(AbiError::Overflow {
                field: "state",
                value: self.state as u128,
                width: 4,
            });
        }
        Ok(())
    }

    pub fn encode(&self) -> Result<[u32; conn::WORDS], AbiError> {
        self.validate()?;
        let mut w = [0u32; conn::WORDS];
        self.key.write(&mut w, 0)?;
        conn::VALID.set(&mut w, 1)?;
        conn::FWD.set(&mut w, self.fwd as u128)?;
        conn::CTL.set(&mut w, self.controlled as u128)?;
        conn::OPS.set(&mut w, self.ops as u128)?;
        conn::SYN_MISS.set(&mut w, self.syn_miss as u128)?;
        conn::EV_NEXT.set(&mut w, self.ev_next as u128)?;
        conn::STATE.set(&mut w, self.state as u128)?;
        conn::DEST.set(&mut w, self.dest as u128)?;
        conn::DEST_GEN.set(&mut w, self.dest_gen as u128)?;
        conn::LAST_REFRESH.set(&mut w, self.last_refresh as u128)?;
        conn::TIMEOUT.set(&mut w, self.timeout_ms as u128)?;
        conn::DPORT.set(&mut w, self.dport as u128)?;
        Ok(w)
    }

    pub fn decode(w: &[u32; conn::WORDS]) -> Result<Self, AbiError> {
        check_valid(&CONN_LAYOUT, &CONN_MASK, w, &conn::VALID)?;
        let e = ConnEntry {
            key: FlowKey::read(w, 0)?,
            fwd: FwdMethod::from_bits(conn::FWD.get32(w)?)?,
            controlled: flag(&conn::CTL, w)?,
            ops: flag(&conn::OPS, w)?,
            syn_miss: flag(&conn::SYN_MISS, w)?,
            ev_next: flag(&conn::EV_NEXT, w)?,
            state: conn::STATE.get32(w)? as u8,
            dest: conn::DEST.get32(w)? as u8,
            dest_gen: conn::DEST_GEN.get32(w)? as u8,
            last_refresh: conn::LAST_REFRESH.get32(w)?,
            timeout_ms: conn::TIMEOUT.get32(w)?,
            dport: conn::DPORT.get32(w)? as u16,
        };
        e.validate()?;
        Ok(e)
    }
}
table_entry!(ConnEntry, TableId::Conn, conn::WORDS);

// ---------------------------------------------------------------- template entry

pub mod template {
    use crate::layout::Field;
    pub const WORDS: usize = 14;
    pub const VALID: Field = Field::at("valid", 10, 0, 1, "slot holds an entry");
    pub const LEARN: Field = Field::at(
        "learn",
        10,
        1,
        1,
        "the card may learn conns under this template (else a hit is a miss)",
    );
    pub const DPORT_FROM_DEST: Field = Field::at(
        "dport_from_dest",
        10,
        2,
        1,
        "learned conn dport = dest port if non-zero (case (a)), else packet vport",
    );
    pub const DEST: Field = Field::at("dest", 10, 16, 8, "real-server index");
    pub const DEST_GEN: Field = Field::at("dest_gen", 10, 24, 8, "dest generation at bind time");
    pub const LAST_REFRESH: Field = Field::at(
        "last_refresh",
        11,
        0,
        32,
        "tick of the last refresh (a learn or an OPS datagram)",
    );
    pub const TIMEOUT: Field = Field::at(
        "timeout",
        12,
        0,
        32,
        "ticks (service persistence timeout, or 60 s after a deferral)",
    );
}

pub const TEMPLATE_LAYOUT: Layout = Layout {
    name: "TemplateEntry",
    words: template::WORDS,
    fields: &[
        K0[0],
        K0[1],
        K0[2],
        K0[3],
        K0[4],
        K0[5],
        template::VALID,
        template::LEARN,
        template::DPORT_FROM_DEST,
        template::DEST,
        template::DEST_GEN,
        template::LAST_REFRESH,
        template::TIMEOUT,
    ],
    doc: "Template (persistence) table entry. Key words 0..9 (masked caddr, cport 0) are the hash input; word 13 is reserved.",
};
/// Bits some field of [`TEMPLATE_LAYOUT`] covers (reserved-bit check of its decoder).
const TEMPLATE_MASK: [u32; MAX_WORDS] = TEMPLATE_LAYOUT.used_mask_words();

/// A persistence template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemplateEntry {
    pub key: FlowKey,
    pub learn: bool,
    pub dport_from_dest: bool,
    pub dest: u8,
    pub dest_gen: u8,
    pub last_refresh: u32,
    pub timeout_ms: u32,
}

impl TemplateEntry {
    pub const LAYOUT: Layout = TEMPLATE_LAYOUT;

    pub fn validate(&self) -> Result<(), AbiError> {
        self.key.validate_template()?;
        check_timeout(self.timeout_ms, "TemplateEntry")
    }

    pub fn encode(&self) -> Result<[u32; template::WORDS], AbiError> {
        self.validate()?;
        let mut w = [0u32; template::WORDS];
        self.key.write(&mut w, 0)?;
        template::VALID.set(&mut w, 1)?;
        template::LEARN.set(&mut w, self.learn as u128)?;
        template::DPORT_FROM_DEST.set(&mut w, self.dport_from_dest as u128)?;
        template::DEST.set(&mut w, self.dest as u128)?;
        template::DEST_GEN.set(&mut w, self.dest_gen as u128)?;
        template::LAST_REFRESH.set(&mut w, self.last_refresh as u128)?;
        template::TIMEOUT.set(&mut w, self.timeout_ms as u128)?;
        Ok(w)
    }

    pub fn decode(w: &[u32; template::WORDS]) -> Result<Self, AbiError> {
        check_valid(&TEMPLATE_LAYOUT, &TEMPLATE_MASK, w, &template::VALID)?;
        let e = TemplateEntry {
            key: FlowKey::read(w, 0)?,
            learn: flag(&template::LEARN, w)?,
            dport_from_dest: flag(&template::DPORT_FROM_DEST, w)?,
            dest: template::DEST.get32(w)? as u8,
            dest_gen: template::DEST_GEN.get32(w)? as u8,
            last_refresh: template::LAST_REFRESH.get32(w)?,
            timeout_ms: template::TIMEOUT.get32(w)?,
        };
        e.validate()?;
        Ok(e)
    }
}
table_entry!(TemplateEntry, TableId::Template, template::WORDS);

// ---------------------------------------------------------------- service entry

pub mod service {
    use crate::layout::Field;
    pub const WORDS: usize = 12;
    pub const VADDR: Field = Field::at(
        "vaddr",
        0,
        0,
        128,
        "virtual address (0 for fwmark services)",
    );
    pub const PMASK: Field = Field::at(
        "pmask",
        4,
        0,
        128,
        "persistence client mask (IPv4: any 32-bit mask; IPv6: a prefix)",
    );
    pub const FWMARK: Field = Field::at("fwmark", 8, 0, 32, "mark of a fwmark service, else 0");
    pub const VPORT: Field = Field::at("vport", 9, 0, 16, "virtual port (0: port-zero service)");
    pub const PROTO: Field = Field::at("proto", 9, 16, 8, "protocol (0 for fwmark services)");
    pub const AF: Field = Field::at("af", 9, 24, 1, "address family");
    pub const IS_FWMARK: Field =
        Field::at("is_fwmark", 9, 25, 1, "fwmark service: key is (af, mark)");
    pub const VALID: Field = Field::at("valid", 10, 0, 1, "entry in use");
    pub const PERSISTENT: Field = Field::at("persistent", 10, 1, 1, "IP_VS_SVC_F_PERSISTENT");
    pub const OPS: Field = Field::at("ops", 10, 2, 1, "IP_VS_SVC_F_ONEPACKET");
    pub const HOST_ONLY: Field = Field::at(
        "host_only",
        10,
        3,
        1,
        "every new flow of this service is a miss (e.g. persistence engine, FTP)",
    );
    pub const TIMEOUT: Field = Field::at(
        "timeout",
        11,
        0,
        32,
        "persistence timeout, ticks (0 if not persistent)",
    );
}

pub const SERVICE_LAYOUT: Layout = Layout {
    name: "ServiceEntry",
    words: service::WORDS,
    fields: &[
        service::VADDR,
        service::PMASK,
        service::FWMARK,
        service::VPORT,
        service::PROTO,
        service::AF,
        service::IS_FWMARK,
        service::VALID,
        service::PERSISTENT,
        service::OPS,
        service::HOST_ONLY,
        service::TIMEOUT,
    ],
    doc: "Virtual service. Lookup order: fwmark (af, mark) exact, then (af, proto, vaddr, vport), then vport 0.",
};
/// Bits some field of [`SERVICE_LAYOUT`] covers (reserved-bit check of its decoder).
const SERVICE_MASK: [u32; MAX_WORDS] = SERVICE_LAYOUT.used_mask_words();

/// How a service is identified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKey {
    Fwmark {
        af: Af,
        mark: u32,
    },
    Addr {
        proto: u8,
        vaddr: IpAddr,
        vport: u16,
    },
}

impl ServiceKey {
    pub fn af(&self) -> Af {
        match self {
            ServiceKey::Fwmark { af, .. } => *af,
            ServiceKey::Addr { vaddr, .. } => Af::of(vaddr),
        }
    }
}

/// A virtual service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    pub key: ServiceKey,
    pub persistent: bool,
    pub ops: bool,
    pub host_only: bool,
    pub mask: PersistMask,
    pub timeout_ms: u32,
}

impl ServiceEntry {
    pub const LAYOUT: Layout = SERVICE_LAYOUT;

    pub fn validate(&self) -> Result<(), AbiError> {
        match self.key {
            ServiceKey::Fwmark { mark: 0, .. } => {
                return Err(AbiError::Invalid {
                    what: "ServiceEntry",
                    why: "fwmark 0 means no mark",
                })
            }
            ServiceKey::Addr { proto, .. } if !is_l4(proto) => {
                return Err(AbiError::BadEnum {
                    field: "proto",
                    value: proto as u32,
                })
            }
            _ => {}
        }
        if self.mask.af() != self.key.af() {
            return Err(AbiError::Invalid {
                what: "ServiceEntry",
                why: "persistence mask of another family",
            });
        }
        self.mask.validate()?;
        if self.persistent {
            check_timeout(self.timeout_ms, "ServiceEntry")
        } else if self.timeout_ms != 0 {
            Err(AbiError::Invalid {
                what: "ServiceEntry",
                why: "timeout set on a non-persistent service",
            })
        } else {
            Ok(())
        }
    }

    pub fn encode(&self) -> Result<[u32; service::WORDS], AbiError> {
        self.validate()?;
        let mut w = [0u32; service::WORDS];
        match self.key {
            ServiceKey::Fwmark { mark, .. } => {
                service::FWMARK.set(&mut w, mark as u128)?;
                service::IS_FWMARK.set(&mut w, 1)?;
            }
            ServiceKey::Addr {
                proto,
                vaddr,
                vport,
            } => {
                service::VADDR.set(&mut w, addr_bits(&vaddr))?;
                service::VPORT.set(&mut w, vport as u128)?;
                service::PROTO.set(&mut w, proto as u128)?;
            }
        }
        service::AF.set(&mut w, self.key.af().bit() as u128)?;
        service::PMASK.set(&mut w, self.mask.bits())?;
        service::VALID.set(&mut w, 1)?;
        service::PERSISTENT.set(&mut w, self.persistent as u128)?;
        service::OPS.set(&mut w, self.ops as u128)?;
        service::HOST_ONLY.set(&mut w, self.host_only as u128)?;
        service::TIMEOUT.set(&mut w, self.timeout_ms as u128)?;
        Ok(w)
    }

    pub fn decode(w: &[u32; service::WORDS]) -> Result<Self, AbiError> {
        check_valid(&SERVICE_LAYOUT, &SERVICE_MASK, w, &service::VALID)?;
        let af = Af::from_bit(service::AF.get32(w)?);
        let key = if flag(&service::IS_FWMARK, w)? {
            if service::VADDR.get(w)? != 0
                || service::VPORT.get(w)? != 0
                || service::PROTO.get(w)? != 0
            {
                return Err(AbiError::Invalid {
                    what: "ServiceEntry",
                    why: "fwmark service with address, port or protocol",
                });
            }
            ServiceKey::Fwmark {
                af,
                mark: service::FWMARK.get32(w)?,
            }
        } else {
            if service::FWMARK.get(w)? != 0 {
                return Err(AbiError::Invalid {
                    what: "ServiceEntry",
                    why: "address service with a fwmark",
                });
            }
            ServiceKey::Addr {
                proto: service::PROTO.get32(w)? as u8,
                vaddr: bits_addr(af, service::VADDR.get(w)?, "vaddr")?,
                vport: service::VPORT.get32(w)? as u16,
            }
        };
        let e = ServiceEntry {
            key,
            persistent: flag(&service::PERSISTENT, w)?,
            ops: flag(&service::OPS, w)?,
            host_only: flag(&service::HOST_ONLY, w)?,
            mask: PersistMask::from_bits(af, service::PMASK.get(w)?)?,
            timeout_ms: service::TIMEOUT.get32(w)?,
        };
        e.validate()?;
        Ok(e)
    }
}
table_entry!(ServiceEntry, TableId::Service, service::WORDS);

// ---------------------------------------------------------------- dest (real server) entry

pub mod dest {
    use crate::layout::Field;
    pub const WORDS: usize = 8;
    /// The state word (checked on every hit; one MMIO-sized word so updates are O(1)).
    pub const STATE_WORD: usize = 5;
    pub const ADDR: Field = Field::at("addr", 0, 0, 128, "real-server address (TUN/NAT)");
    pub const PORT: Field = Field::at(
        "port",
        4,
        0,
        16,
        "real-server port (0: keep the packet's port)",
    );
    pub const FWD: Field = Field::at("fwd", 4, 16, 3, "forwarding method of new conns");
    pub const AF: Field = Field::at("af", 4, 19, 1, "address family of addr");
    pub const VALID: Field = Field::at("valid", 5, 0, 1, "entry in use");
    pub const CONN_OK: Field = Field::at(
        "conn_ok",
        5,
        1,
        1,
        "AVAILABLE: conn hits forward; else drop (conn_drop) or miss",
    );
    pub const CONN_DROP: Field = Field::at(
        "conn_drop",
        5,
        2,
        1,
        "when !conn_ok: drop hits on the card without refresh (expire_nodest_conn=0)",
    );
    pub const SYN_OK: Field = Field::at(
        "syn_ok",
        5,
        3,
        1,
        "a SYN/INIT hitting a conn may be forwarded (clear: weight 0 with expire_nodest_conn=1)",
    );
    pub const TPL_OK: Field = Field::at(
        "tpl_ok",
        5,
        4,
        1,
        "templates may be used (available and not weight-0 with expire_quiescent_template)",
    );
    pub const GEN: Field = Field::at(
        "gen",
        5,
        8,
        8,
        "generation: entries with another dest_gen miss (bump on delete/reuse of the index)",
    );
    pub const MAC_LO: Field = Field::at(
        "mac_lo",
        6,
        0,
        32,
        "DR next-hop MAC bytes 2..5 (big-endian)",
    );
    pub const MAC_HI: Field = Field::at(
        "mac_hi",
        7,
        0,
        16,
        "DR next-hop MAC bytes 0..1 (big-endian)",
    );
}

pub const DEST_LAYOUT: Layout = Layout {
    name: "DestEntry",
    words: dest::WORDS,
    fields: &[
        dest::ADDR,
        dest::PORT,
        dest::FWD,
        dest::AF,
        dest::VALID,
        dest::CONN_OK,
        dest::CONN_DROP,
        dest::SYN_OK,
        dest::TPL_OK,
        dest::GEN,
        dest::MAC_LO,
        dest::MAC_HI,
    ],
    doc: "Real server: forwarding data and the state word (word 5) checked on every conn/template hit.",
};
/// Bits some field of [`DEST_LAYOUT`] covers (reserved-bit check of its decoder).
const DEST_MASK: [u32; MAX_WORDS] = DEST_LAYOUT.used_mask_words();

/// The per-dest state word: host-computed predicates so IPVS dest changes apply in O(1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DestState {
    pub conn_ok: bool,
    pub conn_drop: bool,
    pub syn_ok: bool,
    pub tpl_ok: bool,
    pub gen: u8,
}

impl DestState {
    pub fn validate(&self) -> Result<(), AbiError> {
        let why = if self.conn_ok && self.conn_drop {
            "conn_drop only applies when !conn_ok"
        } else if !self.conn_ok && (self.syn_ok || self.tpl_ok) {
            "syn_ok/tpl_ok need conn_ok (an unavailable dest)"
        } else {
            return Ok(());
        };
        Err(AbiError::Invalid {
            what: "DestState",
            why,
        })
    }

    /// The state word alone (valid bit set).
    pub fn word(&self) -> Result<u32, AbiError> {
        self.validate()?;
        let mut w = [0u32; dest::WORDS];
        dest::VALID.set(&mut w, 1)?;
        dest::CONN_OK.set(&mut w, self.conn_ok as u128)?;
        dest::CONN_DROP.set(&mut w, self.conn_drop as u128)?;
        dest::SYN_OK.set(&mut w, self.syn_ok as u128)?;
        dest::TPL_OK.set(&mut w, self.tpl_ok as u128)?;
        dest::GEN.set(&mut w, self.gen as u128)?;
        Ok(w[dest::STATE_WORD])
    }
}

/// A real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DestEntry {
    pub addr: IpAddr,
    pub port: u16,
    pub fwd: FwdMethod,
    pub mac: [u8; 6],
    pub state: DestState,
}

impl DestEntry {
    pub const LAYOUT: Layout = DEST_LAYOUT;

    pub fn encode(&self) -> Result<[u32; dest::WORDS], AbiError> {
        let mut w = [0u32; dest::WORDS];
        w[dest::STATE_WORD] = self.state.word()?;
        dest::ADDR.set(&mut w, addr_bits(&self.addr))?;
        dest::PORT.set(&mut w, self.port as u128)?;
        dest::FWD.set(&mut w, self.fwd as u128)?;
        dest::AF.set(&mut w, Af::of(&self.addr).bit() as u128)?;
        let m = self.mac;
        dest::MAC_HI.set(&mut w, u16::from_be_bytes([m[0], m[1]]) as u128)?;
        dest::MAC_LO.set(&mut w, u32::from_be_bytes([m[2], m[3], m[4], m[5]]) as u128)?;
        Ok(w)
    }

    pub fn decode(w: &[u32; dest::WORDS]) -> Result<Self, AbiError> {
        check_valid(&DEST_LAYOUT, &DEST_MASK, w, &dest::VALID)?;
        let af = Af::from_bit(dest::AF.get32(w)?);
        let hi = (dest::MAC_HI.get32(w)? as u16).to_be_bytes();
        let lo = dest::MAC_LO.get32(w)?.to_be_bytes();
        let state = DestState {
            conn_ok: flag(&dest::CONN_OK, w)?,
            conn_drop: flag(&dest::CONN_DROP, w)?,
            syn_ok: flag(&dest::SYN_OK, w)?,
            tpl_ok: flag(&dest::TPL_OK, w)?,
            gen: dest::GEN.get32(w)? as u8,
        };
        state.validate()?;
        Ok(DestEntry {
            addr: bits_addr(af, dest::ADDR.get(w)?, "addr")?,
            port: dest::PORT.get32(w)? as u16,
            fwd: FwdMethod::from_bits(dest::FWD.get32(w)?)?,
            mac: [hi[0], hi[1], lo[0], lo[1], lo[2], lo[3]],
            state,
        })
    }
}
table_entry!(DestEntry, TableId::Dest, dest::WORDS);

// ---------------------------------------------------------------- fwmark rule entry

pub mod rule {
    use crate::layout::Field;
    pub const WORDS: usize = 13;
    pub const SRC: Field = Field::at("src", 0, 0, 128, "source prefix address (host bits zero)");
    pub const DST: Field = Field::at(
        "dst",
        4,
        0,
        128,
        "destination prefix address (host bits zero)",
    );
    pub const SPORT_LO: Field =
        Field::at("sport_lo", 8, 0, 16, "source port range low (inclusive)");
    pub const SPORT_HI: Field =
        Field::at("sport_hi", 8, 16, 16, "source port range high (inclusive)");
    pub const DPORT_LO: Field = Field::at("dport_lo", 9, 0, 16, "destination port range low");
    pub const DPORT_HI: Field = Field::at("dport_hi", 9, 16, 16, "destination port range high");
    pub const MASK: Field = Field::at("mark_mask", 10, 0, 32, "mark = (mark & ~mask) ^ value");
    pub const VALUE: Field = Field::at("mark_value", 11, 0, 32, "mark = (mark & ~mask) ^ value");
    pub const VALID: Field = Field::at("valid", 12, 0, 1, "rule in use");
    pub const AF: Field = Field::at("af", 12, 1, 1, "address family the rule applies to");
    pub const SRC_NEG: Field = Field::at("src_neg", 12, 2, 1, "negate the source prefix match");
    pub const DST_NEG: Field =
        Field::at("dst_neg", 12, 3, 1, "negate the destination prefix match");
    pub const MATCH_PROTO: Field = Field::at("match_proto", 12, 4, 1, "compare proto (else any)");
    pub const PROTO: Field = Field::at("proto", 12, 8, 8, "protocol to match");
    pub const SRC_PLEN: Field = Field::at("src_plen", 12, 16, 8, "source prefix length (0 = any)");
    pub const DST_PLEN: Field =
        Field::at("dst_plen", 12, 24, 8, "destination prefix length (0 = any)");
}

pub const RULE_LAYOUT: Layout = Layout {
    name: "MarkRuleEntry",
    words: rule::WORDS,
    fields: &[
        rule::SRC,
        rule::DST,
        rule::SPORT_LO,
        rule::SPORT_HI,
        rule::DPORT_LO,
        rule::DPORT_HI,
        rule::MASK,
        rule::VALUE,
        rule::VALID,
        rule::AF,
        rule::SRC_NEG,
        rule::DST_NEG,
        rule::MATCH_PROTO,
        rule::PROTO,
        rule::SRC_PLEN,
        rule::DST_PLEN,
    ],
    doc: "Firewall-mark rule. Every valid matching rule applies, in index order.",
};
/// Bits some field of [`RULE_LAYOUT`] covers (reserved-bit check of its decoder).
const RULE_MASK: [u32; MAX_WORDS] = RULE_LAYOUT.used_mask_words();

/// An iptables-mangle-like MARK rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkRuleEntry {
    pub src: IpAddr,
    pub src_plen: u8,
    pub src_neg: bool,
    pub dst: IpAddr,
    pub dst_plen: u8,
    pub dst_neg: bool,
    pub proto: Option<u8>,
    pub sport: (u16, u16),
    pub dport: (u16, u16),
    pub mask: u32,
    pub value: u32,
}

/// What a rule looks at in a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RulePacket {
    pub proto: u8,
    pub saddr: IpAddr,
    pub sport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
}

impl MarkRuleEntry {
    pub const LAYOUT: Layout = RULE_LAYOUT;

    pub fn af(&self) -> Af {
        Af::of(&self.src)
    }

    pub fn validate(&self) -> Result<(), AbiError> {
        let af = self.af();
        let bad = |why| {
            Err(AbiError::Invalid {
                what: "MarkRuleEntry",
                why,
            })
        };
        if Af::of(&self.dst) != af {
            return bad("src and dst of different families");
        }
        if self.src_plen > af.bits() || self.dst_plen > af.bits() {
            return bad("prefix longer than the address");
        }
        if addr_bits(&self.src) & !prefix_mask(af, self.src_plen) != 0
            || addr_bits(&self.dst) & !prefix_mask(af, self.dst_plen) != 0
        {
            return bad("prefix with host bits set");
        }
        if self.sport.0 > self.sport.1 || self.dport.0 > self.dport.1 {
            return bad("empty port range");
        }
        let ports = self.sport != (0, u16::MAX) || self.dport != (0, u16::MAX);
        if ports && !self.proto.is_some_and(is_l4) {
            return bad("port ranges need proto TCP, UDP or SCTP");
        }
        Ok(())
    }

    pub fn encode(&self) -> Result<[u32; rule::WORDS], AbiError> {
        self.validate()?;
        let mut w = [0u32; rule::WORDS];
        rule::SRC.set(&mut w, addr_bits(&self.src))?;
        rule::DST.set(&mut w, addr_bits(&self.dst))?;
        rule::SPORT_LO.set(&mut w, self.sport.0 as u128)?;
        rule::SPORT_HI.set(&mut w, self.sport.1 as u128)?;
        rule::DPORT_LO.set(&mut w, self.dport.0 as u128)?;
        rule::DPORT_HI.set(&mut w, self.dport.1 as u128)?;
        rule::MASK.set(&mut w, self.mask as u128)?;
        rule::VALUE.set(&mut w, self.value as u128)?;
        rule::VALID.set(&mut w, 1)?;
        rule::AF.set(&mut w, self.af().bit() as u128)?;
        rule::SRC_NEG.set(&mut w, self.src_neg as u128)?;
        rule::DST_NEG.set(&mut w, self.dst_neg as u128)?;
        rule::MATCH_PROTO.set(&mut w, self.proto.is_some() as u128)?;
        rule::PROTO.set(&mut w, self.proto.unwrap_or(0) as u128)?;
        rule::SRC_PLEN.set(&mut w, self.src_plen as u128)?;
        rule::DST_PLEN.set(&mut w, self.dst_plen as u128)?;
        Ok(w)
    }

    pub fn decode(w: &[u32; rule::WORDS]) -> Result<Self, AbiError> {
        check_valid(&RULE_LAYOUT, &RULE_MASK, w, &rule::VALID)?;
        let af = Af::from_bit(rule::AF.get32(w)?);
        let match_proto = flag(&rule::MATCH_PROTO, w)?;
        let proto = rule::PROTO.get32(w)? as u8;
        if !match_proto && proto != 0 {
            return Err(AbiError::Invalid {
                what: "MarkRuleEntry",
                why: "proto set without match_proto",
            });
        }
        let e = MarkRuleEntry {
            src: bits_addr(af, rule::SRC.get(w)?, "src")?,
            src_plen: rule::SRC_PLEN.get32(w)? as u8,
            src_neg: flag(&rule::SRC_NEG, w)?,
            dst: bits_addr(af, rule::DST.get(w)?, "dst")?,
            dst_plen: rule::DST_PLEN.get32(w)? as u8,
            dst_neg: flag(&rule::DST_NEG, w)?,
            proto: match_proto.then_some(proto),
            sport: (
                rule::SPORT_LO.get32(w)? as u16,
                rule::SPORT_HI.get32(w)? as u16,
            ),
            dport: (
                rule::DPORT_LO.get32(w)? as u16,
                rule::DPORT_HI.get32(w)? as u16,
            ),
            mask: rule::MASK.get32(w)?,
            value: rule::VALUE.get32(w)?,
        };
        e.validate()?;
        Ok(e)
    }

    /// Whether the rule matches the packet (reference for the RTL).
    pub fn matches(&self, p: &RulePacket) -> bool {
        let af = self.af();
        if Af::of(&p.saddr) != af || Af::of(&p.daddr) != af {
            return false;
        }
        let pm = |a: &IpAddr, net: &IpAddr, plen: u8, neg: bool| {
            ((addr_bits(a) & prefix_mask(af, plen)) == addr_bits(net)) != neg
        };
        let inr = |v: u16, r: (u16, u16)| r.0 <= v && v <= r.1;
        pm(&p.saddr, &self.src, self.src_plen, self.src_neg)
            && pm(&p.daddr, &self.dst, self.dst_plen, self.dst_neg)
            && self.proto.is_none_or(|x| x == p.proto)
            && inr(p.sport, self.sport)
            && inr(p.dport, self.dport)
    }

    /// The mark operation of the rule.
    pub const fn apply(&self, mark: u32) -> u32 {
        (mark & !self.mask) ^ self.value
    }
}
table_entry!(MarkRuleEntry, TableId::Rule, rule::WORDS);

/// Runs every matching rule in order, starting from `mark` (reference for the RTL).
pub fn apply_rules<'a>(
    rules: impl IntoIterator<Item = &'a MarkRuleEntry>,
    p: &RulePacket,
    mark: u32,
) -> u32 {
    rules
        .into_iter()
        .filter(|r| r.matches(p))
        .fold(mark, |m, r| r.apply(m))
}

/// All entry layouts.
pub const ENTRY_LAYOUTS: [&Layout; 5] = [
    &CONN_LAYOUT,
    &TEMPLATE_LAYOUT,
    &SERVICE_LAYOUT,
    &DEST_LAYOUT,
    &RULE_LAYOUT,
];
