//! The table manager: the mapping from the model (`Director`) to the card's entries, the delta
//! planner for the small tables (services, dests, fwmark rules, control registers) and the
//! journal mirror for the hash tables (conns, templates). See `docs/cache-protocol.md`.
//!
//! Everything here talks to the card through [`Exec`], so it is unit-tested with a fake that
//! records commands ([`tests::FakeExec`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvsnic_abi::entries::{
    ConnEntry, DestEntry, DestState, MarkRuleEntry, ServiceEntry, ServiceKey as CardSvcKey,
    TableEntry, TableId, TemplateEntry,
};
use lvsnic_abi::limits::{DESTS, RULES, SERVICES};
use lvsnic_abi::records::{CmdStatus, Command, ExpireEvent, LearnEvent, Opcode};
use lvsnic_abi::types::{bits_addr, is_l4};
use lvsnic_abi::{Af as CardAf, FlowKey, FwdMethod as CardFwd, PersistMask};

use super::cmd::CmdResult;
pub use super::shadow::HeldTemplate;
use super::shadow::{self, Shadow};
use super::DriverError;
use crate::model::conn::{FastMap, FastSet};
use crate::model::fwmark::{MarkRule, MarkRules, Match, MultiportDir, Target};
use crate::model::proto::{self, StateDir, Timeouts};
use crate::model::sched::DestId;
use crate::model::service::Dest;
use crate::model::{
    Af, Director, EntryChange, EntryKey, EntryView, FwdMethod, Netmask, Proto, SctpChunk,
    ServiceConf, ServiceKey, Sysctls, TcpFlags, Time,
};

/// `ip_unprivileged_port_start` (the model's constant).
pub const UNPRIV_PORT: u32 = 1024;
const FTPPORT: u16 = 21;

/// What the table manager needs from the card: commands and a few registers.
pub trait Exec {
    /// Run one command; `Ok(Err(status))` is a command the card refused.
    fn exec(&mut self, cmd: &Command) -> Result<Result<CmdResult, CmdStatus>, DriverError>;
    /// Write `block.reg` (index 0).
    fn write_reg(
        &mut self,
        block: &'static str,
        reg: &'static str,
        value: u32,
    ) -> Result<(), DriverError>;
}

// ---------------------------------------------------------------- mapping

pub fn card_af(af: Af) -> CardAf {
    match af {
        Af::Inet => CardAf::V4,
        Af::Inet6 => CardAf::V6,
    }
}

pub fn card_fwd(f: FwdMethod) -> CardFwd {
    match f {
        FwdMethod::Route => CardFwd::Route,
        FwdMethod::Masq => CardFwd::Masq,
        FwdMethod::Tunnel => CardFwd::Tunnel,
    }
}

/// Milliseconds (card ticks) of a model time, wrapping like the card's counter.
pub fn ticks(t: Time) -> u32 {
    t.as_millis() as u32
}

fn dur_ms(d: std::time::Duration) -> u32 {
    d.as_millis().min(u32::MAX as u128) as u32
}

/// The card's flow key of a model entry key.
pub fn flow_key(k: &EntryKey) -> FlowKey {
    FlowKey {
        proto: k.proto,
        caddr: k.client.ip(),
        cport: k.client.port(),
        vaddr: k.virt.ip(),
        vport: k.virt.port(),
    }
}

/// The model's key of a card conn key.
pub fn conn_entry_key(k: &FlowKey) -> EntryKey {
    EntryKey {
        template: false,
        af: match k.af() {
            CardAf::V4 => Af::Inet,
            CardAf::V6 => Af::Inet6,
        },
        proto: k.proto,
        client: std::net::SocketAddr::new(k.caddr, k.cport),
        virt: std::net::SocketAddr::new(k.vaddr, k.vport),
    }
}

/// The dest state word (cache-protocol "Per-entry flags").
pub fn dest_state(d: &Dest, sys: &Sysctls, gen: u8) -> DestState {
    let conn_ok = d.available;
    let quiet = d.conf.weight == 0;
    DestState {
        conn_ok,
        conn_drop: !conn_ok && !sys.expire_nodest_conn,
        syn_ok: conn_ok && !(sys.expire_nodest_conn && quiet),
        tpl_ok: conn_ok && !(sys.expire_quiescent_template && quiet),
        gen,
    }
}

pub fn dest_entry(d: &Dest, sys: &Sysctls, gen: u8) -> DestEntry {
    DestEntry {
        addr: d.conf.addr,
        port: d.conf.port,
        fwd: card_fwd(d.conf.fwd),
        mac: [0; 6],
        state: dest_state(d, sys, gen),
    }
}

pub fn card_service_key(k: &ServiceKey) -> CardSvcKey {
    match *k {
        ServiceKey::Addr { proto, addr, port } => CardSvcKey::Addr {
            proto: proto.number(),
            vaddr: addr,
            vport: port,
        },
        ServiceKey::Fwmark { af, mark } => CardSvcKey::Fwmark {
            af: card_af(af),
            mark,
        },
    }
}

/// A service as the card holds it. FTP (port 21) services and persistence engines are
/// `host_only`: their templates use keys the card does not build.
pub fn service_entry(c: &ServiceConf) -> ServiceEntry {
    let ftp = matches!(c.key, ServiceKey::Addr { proto: Proto::Tcp, port, .. } if port == FTPPORT);
    let mask = match c.netmask {
        Netmask::V4(m) => PersistMask::V4(u32::from(m)),
        Netmask::V6(p) => PersistMask::V6(p),
    };
    ServiceEntry {
        key: card_service_key(&c.key),
        persistent: c.persistence.is_some(),
        ops: c.ops,
        host_only: ftp || c.pe.is_some(),
        mask,
        timeout_ms: c.persistence.map_or(0, |s| s.saturating_mul(1000)),
    }
}

fn tcp_flags(syn: bool, ack: bool) -> TcpFlags {
    TcpFlags {
        syn,
        ack,
        fin: false,
        rst: false,
    }
}

/// `syn_miss`: a new SYN/INIT on this conn must be rescheduled by the host (§2 step 5).
pub fn syn_miss(v: &EntryView, sys: &Sysctls) -> bool {
    if v.controlled || sys.conn_reuse_mode == 0 {
        return false;
    }
    match Proto::from_number(v.key.proto) {
        Some(Proto::Tcp) => {
            v.state == proto::TCP_TIME_WAIT
                || v.state == proto::TCP_CLOSE
                || (sys.conn_reuse_mode & 2 != 0 && v.state == proto::TCP_FIN_WAIT && v.no_output)
        }
        Some(Proto::Sctp) => v.state == proto::SCTP_CLOSED,
        _ => false,
    }
}

/// `ev_next`: an ACK-only segment (TCP) or a DATA chunk (SCTP) would change the state, so the
/// next hit must be reported. The doc's list, plus anything the model's state tables say.
/// `no_output`: the entry's NOOUTPUT flag (the INPUT_ONLY table until a DR/TUN entry sees a
/// reply), not its forwarding method's.
pub fn ev_next(proto_num: u8, state: u8, no_output: bool) -> bool {
    let dir = if no_output {
        StateDir::InputOnly
    } else {
        StateDir::Input
    };
    match Proto::from_number(proto_num) {
        Some(Proto::Tcp) => {
            matches!(
                state,
                proto::TCP_NONE | proto::TCP_SYN_RECV | proto::TCP_LAST_ACK | proto::TCP_SYNACK
            ) || proto::tcp_next_state(dir, state, tcp_flags(false, true)) != state
        }
        Some(Proto::Sctp) => {
            // INIT1: the state a learned association starts in (LEARN block: ev_next 1).
            matches!(
                state,
                proto::SCTP_NONE | proto::SCTP_INIT1 | proto::SCTP_COOKIE_WAIT
            ) || proto::sctp_next_state(dir, state, SctpChunk::Data) != state
        }
        _ => false,
    }
}

/// Whether tick `a` is later than tick `b` (wrap-safe, like the card's own compare).
fn newer(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Last refresh tick of a model entry: `deadline - timeout`.
fn last_refresh(v: &EntryView, now: Time) -> u32 {
    match v.deadline {
        Some(d) => ticks(Time(d.0.saturating_sub(v.timeout.as_nanos() as u64))),
        None => ticks(now),
    }
}

/// Whether a conn's timeout is not the one its state has now: `--set` changed the table since
/// the conn's last transition. The kernel keeps the old `cp->timeout` until the conn's next
/// packet, whose state transition assigns the new one even when the state stays
/// (`set_tcp_state()`, `udp_state_transition()`); the card would re-arm with the old value on
/// a hit, so that hit must be reported (`ev_next`).
fn stale_timeout(proto_num: u8, state: u8, timeout_ms: u32, t: &Timeouts) -> bool {
    Proto::from_number(proto_num).is_some_and(|p| dur_ms(t.of(p, state)) != timeout_ms)
}

/// The conn entry the card should hold for a model conn (`None`: not cacheable). `t`: the
/// model's current state timeouts.
pub fn conn_entry(
    v: &EntryView,
    sys: &Sysctls,
    t: &Timeouts,
    dest_gen: u8,
    now: Time,
) -> Option<ConnEntry> {
    let dest = v.dest?;
    // Client port 0: the card sends every such packet to the host (no lookup finds the entry).
    if v.key.template || !is_l4(v.key.proto) || dest.0 as usize >= DESTS || v.key.client.port() == 0
    {
        return None;
    }
    Some(ConnEntry {
        key: flow_key(&v.key),
        fwd: card_fwd(v.fwd),
        controlled: v.controlled,
        ops: false,
        syn_miss: syn_miss(v, sys),
        ev_next: ev_next(v.key.proto, v.state, v.no_output)
            || stale_timeout(v.key.proto, v.state, dur_ms(v.timeout), t),
        state: v.state,
        dest: dest.0 as u8,
        dest_gen,
        last_refresh: last_refresh(v, now),
        timeout_ms: dur_ms(v.timeout),
        dport: v.daddr.port(),
    })
}

/// The template entry the card should hold for a model template.
pub fn template_entry(
    v: &EntryView,
    dest_gen: u8,
    learn: bool,
    now: Time,
) -> Option<TemplateEntry> {
    let dest = v.dest?;
    if !v.key.template || dest.0 as usize >= DESTS {
        return None;
    }
    let key = flow_key(&v.key);
    Some(TemplateEntry {
        key,
        learn,
        dport_from_dest: key.proto != 0 && key.vport != 0,
        dest: dest.0 as u8,
        dest_gen,
        last_refresh: last_refresh(v, now),
        timeout_ms: dur_ms(v.timeout),
    })
}

// ---------------------------------------------------------------- fwmark rules

/// Port alternatives of one direction: disjoint inclusive ranges (`[(0, 65535)]` = any).
type Alts = Vec<(u16, u16)>;

fn intersect(a: &Alts, b: &Alts) -> Alts {
    let mut out = Vec::new();
    for &(alo, ahi) in a {
        for &(blo, bhi) in b {
            let (lo, hi) = (alo.max(blo), ahi.min(bhi));
            if lo <= hi {
                out.push((lo, hi));
            }
        }
    }
    out
}

fn disjoint(r: &Alts) -> bool {
    let mut v = r.clone();
    v.sort();
    v.windows(2).all(|w| w[0].1 < w[1].0)
}

fn zero_addr(af: CardAf) -> IpAddr {
    match af {
        CardAf::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        CardAf::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// One model rule as card rules (several for a multiport list), or why it cannot be.
pub fn compile_rule(r: &MarkRule) -> Result<Vec<MarkRuleEntry>, String> {
    let (value, mask) = match &r.target {
        Target::None => return Ok(Vec::new()),
        Target::Mark { value, mask } => (*value, *mask),
        other => return Err(format!("target {other:?} is not a mark")),
    };
    let af = card_af(r.af);
    let addr = |m: &Option<crate::model::fwmark::AddrMatch>,
                what: &str|
     -> Result<(IpAddr, u8, bool), String> {
        match m {
            None => Ok((zero_addr(af), 0u8, false)),
            Some(m) => {
                let plen = m
                    .prefix_len(r.af)
                    .ok_or_else(|| format!("{what} mask is not a prefix"))?;
                let a = bits_addr(af, m.net & m.mask, "rule address").map_err(|e| e.to_string())?;
                Ok((a, plen, m.invert))
            }
        }
    };
    let (src, src_plen, src_neg) = addr(&r.src, "source")?;
    let (dst, dst_plen, dst_neg) = addr(&r.dst, "destination")?;
    let proto = match r.proto {
        None => None,
        Some(p) if p.invert => return Err("inverted protocol".into()),
        Some(p) => Some(p.num),
    };
    let any: Alts = vec![(0, u16::MAX)];
    let (mut sp, mut dp) = (any.clone(), any.clone());
    for m in &r.matches {
        match m {
            Match::Comment(_) => {}
            Match::Mark { .. } => return Err("mark match".into()),
            Match::Ports { sport, dport } => {
                for (pm, alts) in [(sport, &mut sp), (dport, &mut dp)] {
                    if let Some(pm) = pm {
                        if pm.invert {
                            return Err("inverted port".into());
                        }
                        *alts = intersect(alts, &vec![(pm.range.lo, pm.range.hi)]);
                    }
                }
            }
            Match::Multiport { dir, ports, invert } => {
                if *invert {
                    return Err("inverted multiport".into());
                }
                let list: Alts = ports.iter().map(|p| (p.lo, p.hi)).collect();
                if !disjoint(&list) {
                    return Err("overlapping multiport list".into());
                }
                match dir {
                    MultiportDir::Src => sp = intersect(&sp, &list),
                    MultiportDir::Dst => dp = intersect(&dp, &list),
                    MultiportDir::Any => return Err("multiport --ports".into()),
                }
            }
        }
    }
    let mut out = Vec::new();
    for s in &sp {
        for d in &dp {
            out.push(MarkRuleEntry {
                src,
                src_plen,
                src_neg,
                dst,
                dst_plen,
                dst_neg,
                proto,
                sport: *s,
                dport: *d,
                mask,
                value,
            });
        }
    }
    for e in &out {
        e.validate().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// The card's flat rule table for the model's rules (PREROUTING then INPUT of each family;
/// a card rule applies to its family only), or why the rules do not fit.
pub fn compile_rules(rules: &MarkRules, max: usize) -> Result<Vec<MarkRuleEntry>, String> {
    let mut out = Vec::new();
    for af in [Af::Inet, Af::Inet6] {
        for chain in ["PREROUTING", "INPUT"] {
            for (i, r) in rules.rules(af, chain).unwrap_or(&[]).iter().enumerate() {
                // Every packet comes in on the ingress interface: a rule whose `-i` names
                // another never matches, and one whose `-i` matches it needs no test.
                if !rules.rule_on(r) {
                    continue;
                }
                let e = compile_rule(r).map_err(|m| format!("{chain} rule {}: {m}", i + 1))?;
                out.extend(e);
            }
        }
    }
    if out.len() > max {
        return Err(format!(
            "{} card rules needed, the card has {max}",
            out.len()
        ));
    }
    Ok(out)
}

// ---------------------------------------------------------------- LEARN block

/// Initial state of conns the card learns, per protocol (LEARN block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LearnRegs {
    pub tcp: (u32, u8, bool),
    pub udp: (u32, u8, bool),
    pub sctp: (u32, u8, bool),
}

impl LearnRegs {
    /// From the model: TCP SYN → SYN_RECV, UDP → the udp timeout, SCTP INIT → INIT1.
    pub fn of(d: &Director) -> LearnRegs {
        let (_, _, udp) = d.timeouts();
        let t = |p: Proto, s: u8| dur_ms(proto::Timeouts::default().of(p, s));
        let tcp_state = proto::TCP_SYN_RECV;
        let sctp_state = proto::SCTP_INIT1;
        LearnRegs {
            tcp: (
                t(Proto::Tcp, tcp_state),
                tcp_state,
                ev_next(6, tcp_state, true),
            ),
            udp: ((udp as u32).saturating_mul(1000), 0, false),
            sctp: (
                t(Proto::Sctp, sctp_state),
                sctp_state,
                ev_next(132, sctp_state, true),
            ),
        }
    }
    pub(crate) fn get(&self, proto: u8) -> (u32, u8, bool) {
        match proto {
            6 => self.tcp,
            132 => self.sctp,
            _ => self.udp,
        }
    }
}

pub(crate) fn flags_word(state: u8, ev_next: bool) -> u32 {
    state as u32 | (ev_next as u32) << 9
}

// ---------------------------------------------------------------- the manager

/// What the card holds, as the host last wrote (or learned) it.
#[derive(Debug)]
pub struct Tables {
    pub max_services: usize,
    pub max_dests: usize,
    pub max_rules: usize,
    /// Service slots.
    pub services: Vec<Option<ServiceEntry>>,
    /// Dest slots; the card index of a model dest is its `DestId`.
    pub dests: Vec<Option<DestEntry>>,
    pub rules: Vec<MarkRuleEntry>,
    /// `CTRL.CONTROL` as last written.
    pub control: Option<u32>,
    pub learn: Option<LearnRegs>,
    /// Why the datapath is off (empty: on).
    pub disabled: Vec<String>,
    pub conns: Shadow<ConnEntry>,
    /// Templates, with their card index (the reverse of `tpl_at`, kept with the entry so that
    /// a template write touches one map less).
    pub tpls: Shadow<HeldTemplate>,
    /// Template key by card index (learn events name the template by index).
    pub tpl_at: FastMap<u32, FlowKey>,
    /// Index of templates no longer in `tpls` whose `tpl_at` slot an expire event left in
    /// place (an event naming another index than the template's): the rest of the reverse
    /// of `tpl_at`. Empty in practice.
    tpl_idx_stale: FastMap<FlowKey, u32>,
    /// `last_refresh` of conns the card reclaimed (aging), for the model's timer checks.
    pub reclaimed: FastMap<FlowKey, u32>,
    /// Controlled conns the card has no room for: learning stays off while any exists.
    pub not_installed: FastSet<FlowKey>,
    sysctl: Option<Sysctls>,
    /// The model's state timeouts as last synced (`--set`).
    timeouts: Option<Timeouts>,
    /// Scratch of [`Tables::mirror_journal`]: the journal's buffer, swapped with the model's
    /// so that neither side allocates per mirror.
    journal: Vec<EntryChange>,
    /// Scratch of [`Tables::mirror_changes`]: key → position of its last change in the batch.
    last_change: FastMap<EntryKey, usize>,
    /// Commands run, by kind (for tests and stats).
    pub stats: TableStats,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    pub writes: u64,
    pub inserts: u64,
    pub modifies: u64,
    pub deletes: u64,
    pub lookups: u64,
    pub full: u64,
}

fn cmd_err(cmd: &Command, st: CmdStatus) -> DriverError {
    DriverError::Command {
        op: format!("{:?}", cmd.opcode()),
        table: format!("{:?}", cmd.table()),
        status: format!("{st:?}"),
    }
}

fn run(x: &mut dyn Exec, cmd: &Command) -> Result<CmdResult, DriverError> {
    x.exec(cmd)?.map_err(|st| cmd_err(cmd, st))
}

/// Insert (or Modify); falls back to the other when the card disagrees with the shadow
/// (an entry aged out by the card meanwhile, or still there). `None`: table full.
fn upsert<E: TableEntry>(
    stats: &mut TableStats,
    e: &E,
    insert: bool,
    x: &mut dyn Exec,
) -> Result<Option<u32>, DriverError> {
    // One encoding of the entry; the fallback is the same command with the other opcode
    // (built only when the card disagrees with the shadow).
    let first = if insert {
        Command::insert(e)?
    } else {
        Command::modify(e)?
    };
    let r = match x.exec(&first)? {
        Ok(r) => Ok(r),
        Err(CmdStatus::Exists) | Err(CmdStatus::NotFound) => {
            let opcode = if insert {
                Opcode::Modify
            } else {
                Opcode::Insert
            };
            x.exec(&first.with_opcode(opcode)?)?
        }
        Err(st) => Err(st),
    };
    match r {
        Ok(r) => {
            if insert {
                stats.inserts += 1;
            } else {
                stats.modifies += 1;
            }
            Ok(Some(r.index))
        }
        Err(CmdStatus::Full) => {
            stats.full += 1;
            Ok(None)
        }
        Err(st) => Err(cmd_err(&first, st)),
    }
}

/// A cached conn's `last_refresh` as the card holds it (a Lookup; `None`: the card no longer
/// holds it).
fn lookup_card_refresh(
    stats: &mut TableStats,
    k: &FlowKey,
    x: &mut dyn Exec,
) -> Result<Option<u32>, DriverError> {
    stats.lookups += 1;
    let cmd = Command::lookup(TableId::Conn, k)?;
    match x.exec(&cmd)? {
        Ok(r) => Ok(Some(ConnEntry::from_payload(&r.entry)?.last_refresh)),
        Err(CmdStatus::NotFound) => Ok(None),
        Err(st) => Err(cmd_err(&cmd, st)),
    }
}

impl Tables {
    pub fn new(max_services: usize, max_dests: usize, max_rules: usize) -> Tables {
        Tables {
            max_services: max_services.min(SERVICES),
            max_dests: max_dests.min(DESTS),
            max_rules: max_rules.min(RULES),
            services: vec![None; max_services.min(SERVICES)],
            dests: vec![None; max_dests.min(DESTS)],
            rules: Vec::new(),
            control: None,
            learn: None,
            disabled: Vec::new(),
            conns: Shadow::default(),
            tpls: Shadow::default(),
            tpl_at: FastMap::default(),
            tpl_idx_stale: FastMap::default(),
            reclaimed: FastMap::default(),
            not_installed: FastSet::default(),
            sysctl: None,
            timeouts: None,
            journal: Vec::new(),
            last_change: FastMap::default(),
            stats: TableStats::default(),
        }
    }

    /// Size the conn and template shadows for tables of these capacities (the card's
    /// geometry; capped): the shadow never holds more than the card, and a shadow sized up
    /// front never rehashes while traffic is being mirrored.
    pub fn reserve(&mut self, conns: usize, templates: usize) {
        const CAP: usize = 1 << 17;
        let (c, t) = (conns.min(CAP), templates.min(CAP));
        self.conns.reserve(c.saturating_sub(self.conns.len()));
        self.tpls.reserve(t.saturating_sub(self.tpls.len()));
        self.tpl_at.reserve(t.saturating_sub(self.tpl_at.len()));
    }

    pub fn enabled(&self) -> bool {
        self.disabled.is_empty()
    }

    /// Bring services, dests, rules, control and LEARN registers in line with the model,
    /// writing only what changed. Re-applying the same configuration writes nothing.
    pub fn sync_config(&mut self, d: &Director, x: &mut dyn Exec) -> Result<(), DriverError> {
        let mut disabled = Vec::new();
        // Dests: index = DestId.
        let sys = d.sysctl().clone();
        for (id, dest) in d.dests() {
            let i = id.0 as usize;
            if i >= self.max_dests {
                disabled.push(format!(
                    "real server #{i} beyond the card's {}",
                    self.max_dests
                ));
                continue;
            }
            let e = dest_entry(dest, &sys, 0);
            if self.dests[i] != Some(e) {
                run(x, &Command::write(i as u32, &e)?)?;
                self.stats.writes += 1;
                self.dests[i] = Some(e);
            }
        }
        // Services: keep slots by key; deletes first, then changes, then new ones.
        let want: Vec<ServiceEntry> = d.config().iter().map(|(c, _)| service_entry(c)).collect();
        if want.len() > self.max_services {
            disabled.push(format!(
                "{} services, the card has {}",
                want.len(),
                self.max_services
            ));
        }
        for i in 0..self.services.len() {
            if let Some(e) = self.services[i] {
                if !want.iter().any(|w| w.key == e.key) {
                    run(x, &Command::delete_index(TableId::Service, i as u32)?)?;
                    self.stats.deletes += 1;
                    self.services[i] = None;
                }
            }
        }
        for w in want.iter().take(self.max_services) {
            let slot = self
                .services
                .iter()
                .position(|s| s.is_some_and(|s| s.key == w.key))
                .or_else(|| self.services.iter().position(|s| s.is_none()));
            let Some(i) = slot else { continue };
            if self.services[i] != Some(*w) {
                run(x, &Command::write(i as u32, w)?)?;
                self.stats.writes += 1;
                self.services[i] = Some(*w);
            }
        }
        // Rules.
        match compile_rules(d.marks(), self.max_rules) {
            Ok(rules) => {
                for i in 0..rules.len().max(self.rules.len()) {
                    match (rules.get(i), self.rules.get(i)) {
                        (Some(n), Some(o)) if n == o => {}
                        (Some(n), _) => {
                            run(x, &Command::write(i as u32, n)?)?;
                            self.stats.writes += 1;
                        }
                        (None, _) => {
                            run(x, &Command::delete_index(TableId::Rule, i as u32)?)?;
                            self.stats.deletes += 1;
                        }
                    }
                }
                self.rules = rules;
            }
            Err(m) => disabled.push(format!("mark rules: {m}")),
        }
        // LEARN block.
        let learn = LearnRegs::of(d);
        if self.learn != Some(learn) {
            for (to, fl, p) in [
                ("TCP_TIMEOUT", "TCP_FLAGS", 6u8),
                ("UDP_TIMEOUT", "UDP_FLAGS", 17),
                ("SCTP_TIMEOUT", "SCTP_FLAGS", 132),
            ] {
                let (t, s, ev) = learn.get(p);
                x.write_reg("LEARN", to, t)?;
                x.write_reg("LEARN", fl, flags_word(s, ev))?;
            }
            self.learn = Some(learn);
        }
        self.disabled = disabled;
        self.write_control(d, x)?;
        // Sysctls change one conn flag (syn_miss): rewrite the cached conns whose flag
        // changes, and nothing else of them (their `last_refresh` is the card's to keep).
        if self.sysctl.as_ref() != Some(&sys) {
            if self.sysctl.is_some() {
                let flips: Vec<ConnEntry> = self
                    .conns
                    .values()
                    .filter_map(|e| {
                        let v = d.entry(&conn_entry_key(&e.key))?;
                        let want = syn_miss(&v, &sys);
                        (want != e.syn_miss).then_some(ConnEntry {
                            syn_miss: want,
                            ..*e
                        })
                    })
                    .collect();
                for e in flips {
                    self.put_conn(e, None, x)?;
                }
            }
            self.sysctl = Some(sys);
        }
        // `--set` changes the timeout a conn's next packet gives it (§7.3): the cached conns
        // whose state's timeout is now another than theirs report their next hit, so that the
        // host applies the transition (and writes the new timeout). Until then the card keeps
        // their old timeout, as the kernel does.
        if self.timeouts.as_ref() != Some(d.state_timeouts()) {
            if self.timeouts.is_some() {
                let t = d.state_timeouts();
                let flips: Vec<ConnEntry> = self
                    .conns
                    .values()
                    .filter(|e| !e.ev_next && stale_timeout(e.key.proto, e.state, e.timeout_ms, t))
                    .map(|e| ConnEntry {
                        ev_next: true,
                        ..*e
                    })
                    .collect();
                for e in flips {
                    self.put_conn(e, None, x)?;
                }
            }
            self.timeouts = Some(d.state_timeouts().clone());
        }
        Ok(())
    }

    fn write_control(&mut self, d: &Director, x: &mut dyn Exec) -> Result<(), DriverError> {
        let ftp = d.config().iter().any(|(c, _)| {
            matches!(c.key, ServiceKey::Addr { proto: Proto::Tcp, port, .. } if port == FTPPORT)
        });
        let v = self.enabled() as u32
            | ((self.not_installed.is_empty()) as u32) << 1
            | (ftp as u32) << 2;
        if self.control != Some(v) {
            x.write_reg("CTRL", "CONTROL", v)?;
            self.control = Some(v);
        }
        Ok(())
    }

    /// Mirror model journal changes onto the card (Insert / Modify / Delete against the
    /// shadow; unchanged entries write nothing). Conns the card now holds are marked offloaded.
    pub fn mirror(
        &mut self,
        changes: Vec<EntryChange>,
        d: &mut Director,
        now: Time,
        x: &mut dyn Exec,
    ) -> Result<(), DriverError> {
        self.mirror_changes(&changes, d, now, x)
    }

    /// [`Tables::mirror`] of everything the model's journal holds (`Director::take_changes`),
    /// without allocating: the journal's buffer is swapped with the manager's scratch.
    pub fn mirror_journal(
        &mut self,
        d: &mut Director,
        now: Time,
        x: &mut dyn Exec,
    ) -> Result<(), DriverError> {
        let mut changes = std::mem::take(&mut self.journal);
        d.swap_changes(&mut changes);
        // The model's journal holds each key once (`Director::take_changes`).
        debug_assert!(
            {
                let mut seen = FastSet::default();
                changes.iter().all(|c| seen.insert(*c.key()))
            },
            "a key twice in the journal: {changes:?}"
        );
        let r = self.mirror_batch(&changes, false, d, now, x);
        changes.clear();
        self.journal = changes;
        r
    }

    /// [`Tables::mirror`] of a batch of changes, in order.
    pub fn mirror_changes(
        &mut self,
        changes: &[EntryChange],
        d: &mut Director,
        now: Time,
        x: &mut dyn Exec,
    ) -> Result<(), DriverError> {
        self.mirror_batch(changes, true, d, now, x)
    }

    /// `repeats`: a key may appear more than once in `changes`.
    fn mirror_batch(
        &mut self,
        changes: &[EntryChange],
        repeats: bool,
        d: &mut Director,
        now: Time,
        x: &mut dyn Exec,
    ) -> Result<(), DriverError> {
        // Only the final state of each key matters (no packet crosses the card meanwhile); a
        // key is written at the position of its first change in the batch. A handful of
        // changes (one packet's) are matched by comparison, a drain's through a map.
        const SMALL: usize = 8;
        let mut last = std::mem::take(&mut self.last_change);
        last.clear();
        if repeats && changes.len() > SMALL {
            for (i, c) in changes.iter().enumerate() {
                last.insert(*c.key(), i);
            }
        }
        let sys = d.sysctl().clone();
        let timeouts = d.state_timeouts().clone();
        let learn_before = self.not_installed.is_empty();
        let mut r = Ok(());
        for (i, c) in changes.iter().enumerate() {
            let j = if !repeats {
                i
            } else if changes.len() > SMALL {
                // The first time the key is seen: its last change; later: already written.
                match last.remove(c.key()) {
                    Some(j) => j,
                    None => continue,
                }
            } else {
                let k = c.key();
                if changes[..i].iter().any(|p| p.key() == k) {
                    continue;
                }
                changes[i..]
                    .iter()
                    .rposition(|n| n.key() == k)
                    .map_or(i, |n| i + n)
            };
            r = self.mirror_one(&changes[j], &sys, &timeouts, d, now, x);
            if r.is_err() {
                break;
            }
        }
        self.last_change = last;
        r?;
        if learn_before != self.not_installed.is_empty() {
            self.write_control(d, x)?;
        }
        Ok(())
    }

    fn mirror_one(
        &mut self,
        c: &EntryChange,
        sys: &Sysctls,
        timeouts: &Timeouts,
        d: &mut Director,
        now: Time,
        x: &mut dyn Exec,
    ) -> Result<(), DriverError> {
        match c {
            EntryChange::Upsert(v) if v.key.template => match template_entry(v, 0, true, now) {
                Some(e) => self.put_template(e, x),
                None => self.remove(TableId::Template, &flow_key(&v.key), x),
            },
            EntryChange::Upsert(v) => match conn_entry(v, sys, timeouts, 0, now) {
                Some(e) => {
                    let fk = e.key;
                    let held = self.put_conn(e, Some(ticks(now)), x)?;
                    if held && !v.offloaded {
                        d.set_offloaded_entry(v, true);
                    }
                    // `held` implies the shadow has the key.
                    if !held && v.controlled && !self.conns.contains_key(&fk) {
                        self.not_installed.insert(fk);
                    }
                    Ok(())
                }
                None => self.remove(TableId::Conn, &flow_key(&v.key), x),
            },
            EntryChange::Removed(k) => {
                let t = if k.template {
                    TableId::Template
                } else {
                    TableId::Conn
                };
                self.remove(t, &flow_key(k), x)
            }
        }
    }

    fn remove(&mut self, t: TableId, k: &FlowKey, x: &mut dyn Exec) -> Result<(), DriverError> {
        let had = match t {
            TableId::Conn => {
                self.reclaimed.remove(k);
                self.not_installed.remove(k);
                self.conns.remove(k).is_some()
            }
            _ => {
                let held = self.tpls.remove(k);
                let index = match held {
                    Some(h) => h.index,
                    None if !self.tpl_idx_stale.is_empty() => self.tpl_idx_stale.remove(k),
                    None => None,
                };
                if let Some(i) = index {
                    self.tpl_at.remove(&i);
                }
                held.is_some()
            }
        };
        if had {
            let cmd = Command::delete_key(t, k)?;
            match x.exec(&cmd)? {
                Ok(_) | Err(CmdStatus::NotFound) => self.stats.deletes += 1,
                Err(st) => return Err(cmd_err(&cmd, st)),
            }
        }
        Ok(())
    }

    /// Ensure the card holds `e`; false if the table is full.
    ///
    /// The card refreshes a conn on every hit without telling the host, so its
    /// `last_refresh` may be newer than the shadow's. A rewrite whose `last_refresh` is not
    /// newer than the shadow's (the model saw no packet of the flow since the last write:
    /// a sysctl flag change, a re-arm from the card's own value) keeps the card's value —
    /// otherwise the rewrite would move the conn's expiry back and the model, asking the card
    /// later, would expire a live conn (and with it release its template).
    ///
    /// `now`: the current tick when known; an entry refreshed at `now` is as fresh as the
    /// card's can be, so nothing is read.
    fn put_conn(
        &mut self,
        mut e: ConnEntry,
        now: Option<u32>,
        x: &mut dyn Exec,
    ) -> Result<bool, DriverError> {
        let h = shadow::hash(&e.key);
        match self.conns.get_mut_hashed(h, &e.key) {
            None => {
                if upsert(&mut self.stats, &e, true, x)?.is_none() {
                    return Ok(false);
                }
                self.conns.insert_absent(h, e);
            }
            Some(old) => {
                if *old == e {
                    return Ok(true);
                }
                if now != Some(e.last_refresh) && !newer(e.last_refresh, old.last_refresh) {
                    if let Some(lr) = lookup_card_refresh(&mut self.stats, &e.key, x)? {
                        // As `lookup_refresh`: the shadow takes the card's value.
                        if newer(lr, old.last_refresh) {
                            old.last_refresh = lr;
                        }
                        if newer(lr, e.last_refresh) {
                            e.last_refresh = lr;
                        }
                    }
                    // The Lookup may have brought the shadow to exactly `e`.
                    if *old == e {
                        return Ok(true);
                    }
                }
                if upsert(&mut self.stats, &e, false, x)?.is_none() {
                    return Ok(false);
                }
                *old = e;
            }
        }
        if !self.reclaimed.is_empty() {
            self.reclaimed.remove(&e.key);
        }
        if !self.not_installed.is_empty() {
            self.not_installed.remove(&e.key);
        }
        Ok(true)
    }

    fn put_template(&mut self, e: TemplateEntry, x: &mut dyn Exec) -> Result<(), DriverError> {
        // `old` is the index the template had.
        let h = shadow::hash(&e.key);
        let (idx, old) = match self.tpls.get_mut_hashed(h, &e.key) {
            Some(held) => {
                if held.entry == e {
                    return Ok(());
                }
                let Some(idx) = upsert(&mut self.stats, &e, false, x)? else {
                    return Ok(());
                };
                held.entry = e;
                (idx, held.index.replace(idx))
            }
            None => {
                let Some(idx) = upsert(&mut self.stats, &e, true, x)? else {
                    return Ok(());
                };
                self.tpls.insert_absent(
                    h,
                    HeldTemplate {
                        entry: e,
                        index: Some(idx),
                    },
                );
                let old = if self.tpl_idx_stale.is_empty() {
                    None
                } else {
                    self.tpl_idx_stale.remove(&e.key)
                };
                (idx, old)
            }
        };
        // Template `key` sits at card index `idx` (both directions).
        if let Some(old) = old {
            if old != idx {
                self.tpl_at.remove(&old);
            }
        }
        if let Some(prev) = self.tpl_at.insert(idx, e.key) {
            if prev != e.key {
                self.forget_index(&prev);
            }
        }
        Ok(())
    }

    /// Template `k` no longer sits where `tpl_at` said.
    fn forget_index(&mut self, k: &FlowKey) {
        match self.tpls.get_mut(k) {
            Some(h) => h.index = None,
            None => {
                self.tpl_idx_stale.remove(k);
            }
        }
    }

    /// Seed the shadow with what the card wrote when it learned a conn (so nothing is written
    /// when the model agrees). Returns the learned conn's key.
    pub fn seed_learned(&mut self, ev: &LearnEvent) -> Option<FlowKey> {
        let tkey = self.tpl_at.get(&ev.tpl_index).copied();
        let tpl = tkey
            .and_then(|k| self.tpls.get_mut(&k))
            .map(|h| &mut h.entry);
        let mut dport_from_dest = true;
        if let Some(t) = tpl {
            t.last_refresh = ev.tick;
            dport_from_dest = t.dport_from_dest;
        }
        // The card forwarded and reported the learn, but its conn table answered Full
        // (`conn_index` all-ones): the card holds no conn. Leave the shadow without it, so the
        // mirror of the model's new conn tries an Insert, finds the table full and turns
        // learning off while the host holds the flow (`not_installed`).
        if ev.ops || ev.conn_index == u32::MAX {
            return None;
        }
        let dest = self.dests.get(ev.dest as usize).copied().flatten()?;
        let (timeout_ms, state, ev_next) = self.learn?.get(ev.key.proto);
        let dport = if dport_from_dest && dest.port != 0 {
            dest.port
        } else {
            ev.key.vport
        };
        let e = ConnEntry {
            key: ev.key,
            fwd: dest.fwd,
            controlled: true,
            ops: false,
            syn_miss: false,
            ev_next,
            state,
            dest: ev.dest,
            dest_gen: ev.dest_gen,
            last_refresh: ev.tick,
            timeout_ms,
            dport,
        };
        self.reclaimed.remove(&ev.key);
        self.conns.insert(e);
        Some(ev.key)
    }

    /// The card reclaimed an entry (aging). Stale events (the host re-wrote the entry since)
    /// are ignored.
    pub fn expired(&mut self, ev: &ExpireEvent) {
        let dead = |lr: u32, to: u32| {
            lr == ev.last_refresh || !lvsnic_abi::entries::is_live(lr, to, ev.tick)
        };
        match ev.table {
            TableId::Conn => {
                if let Some(e) = self.conns.get(&ev.key) {
                    if dead(e.last_refresh, e.timeout_ms) {
                        self.conns.remove(&ev.key);
                        self.reclaimed.insert(ev.key, ev.last_refresh);
                    }
                }
            }
            _ => {
                if let Some(h) = self.tpls.get(&ev.key) {
                    if dead(h.entry.last_refresh, h.entry.timeout_ms) {
                        let index = h.index;
                        self.tpls.remove(&ev.key);
                        let at = self.tpl_at.remove(&ev.index);
                        if at != Some(ev.key) {
                            // The template's own index mapping stays (as `tpl_at` does), and
                            // whatever sat at the event's index loses its.
                            if let Some(i) = index {
                                self.tpl_idx_stale.insert(ev.key, i);
                            }
                            if let Some(k) = at {
                                self.forget_index(&k);
                            }
                        }
                    }
                }
            }
        }
    }

    /// The card's last refresh of a conn it holds (Lookup), or of one it reclaimed.
    pub fn card_refresh(
        &mut self,
        k: &FlowKey,
        x: &mut dyn Exec,
    ) -> Result<Option<u32>, DriverError> {
        if self.conns.contains_key(k) {
            if let Some(lr) = self.lookup_refresh(k, x)? {
                return Ok(Some(lr));
            }
        }
        Ok(self.reclaimed.get(k).copied())
    }

    /// Read a cached conn's `last_refresh` from the card (`None`: the card no longer holds
    /// it). The shadow takes the value: the model re-arms from it, and a later rewrite that
    /// is not newer than the shadow must ask the card again (see [`Tables::put_conn`]).
    fn lookup_refresh(
        &mut self,
        k: &FlowKey,
        x: &mut dyn Exec,
    ) -> Result<Option<u32>, DriverError> {
        let lr = lookup_card_refresh(&mut self.stats, k, x)?;
        if let (Some(lr), Some(s)) = (lr, self.conns.get_mut(k)) {
            if newer(lr, s.last_refresh) {
                s.last_refresh = lr;
            }
        }
        Ok(lr)
    }

    /// The model dest behind a card dest index.
    pub fn dest_id(&self, idx: u8) -> Option<DestId> {
        self.dests
            .get(idx as usize)
            .and_then(|d| d.map(|_| DestId(idx as u32)))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{DestConf, IpvsCmd, Packet, ServiceConf};
    use std::collections::HashMap;
    use std::net::SocketAddr;

    /// A card that records every command and register write and keeps the hash tables as
    /// sets of keys (enough for the status codes the manager reacts to).
    #[derive(Default)]
    pub(crate) struct FakeExec {
        pub cmds: Vec<Command>,
        pub regs: Vec<(&'static str, &'static str, u32)>,
        pub conns: HashMap<FlowKey, [u32; 14]>,
        pub tpls: HashMap<FlowKey, [u32; 14]>,
        pub capacity: usize,
    }

    impl FakeExec {
        pub fn new() -> Self {
            FakeExec {
                capacity: usize::MAX,
                ..Default::default()
            }
        }
        pub fn clear(&mut self) {
            self.cmds.clear();
            self.regs.clear();
        }
    }

    impl Exec for FakeExec {
        fn exec(&mut self, cmd: &Command) -> Result<Result<CmdResult, CmdStatus>, DriverError> {
            self.cmds.push(*cmd);
            let ok = |index| {
                Ok(Ok(CmdResult {
                    index,
                    entry: [0; 14],
                }))
            };
            let cap = self.capacity;
            let t = match cmd.table() {
                TableId::Conn => &mut self.conns,
                TableId::Template => &mut self.tpls,
                _ => return ok(cmd.index()),
            };
            let key = FlowKey::read(cmd.payload(), 0).unwrap();
            let n = t.len() as u32;
            match cmd.opcode() {
                Opcode::Insert if t.contains_key(&key) => Ok(Err(CmdStatus::Exists)),
                Opcode::Insert if t.len() >= cap => Ok(Err(CmdStatus::Full)),
                Opcode::Insert => {
                    t.insert(key, *cmd.payload());
                    ok(n)
                }
                Opcode::Modify if t.contains_key(&key) => {
                    t.insert(key, *cmd.payload());
                    ok(0)
                }
                Opcode::Delete if t.remove(&key).is_some() => ok(0),
                Opcode::Lookup if t.contains_key(&key) => Ok(Ok(CmdResult {
                    index: 0,
                    entry: t[&key],
                })),
                _ => Ok(Err(CmdStatus::NotFound)),
            }
        }
        fn write_reg(
            &mut self,
            block: &'static str,
            reg: &'static str,
            value: u32,
        ) -> Result<(), DriverError> {
            self.regs.push((block, reg, value));
            Ok(())
        }
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn svc(port: u16, persist: Option<u32>) -> ServiceConf {
        let mut c = ServiceConf::new(ServiceKey::Addr {
            proto: Proto::Tcp,
            addr: "192.0.2.10".parse().unwrap(),
            port,
        });
        c.scheduler = "rr".into();
        c.persistence = persist;
        c
    }

    fn dest(addr: &str, weight: i32) -> DestConf {
        let a = sa(addr);
        DestConf {
            addr: a.ip(),
            port: a.port(),
            fwd: FwdMethod::Route,
            weight,
            u_threshold: 0,
            l_threshold: 0,
            tunnel: Default::default(),
        }
    }

    pub(crate) fn director(persist: Option<u32>) -> Director {
        let mut d = Director::new();
        let s = svc(80, persist);
        let k = s.key;
        d.apply(Time::ZERO, &IpvsCmd::AddService(s)).unwrap();
        for a in ["10.0.0.1:80", "10.0.0.2:80"] {
            d.apply(
                Time::ZERO,
                &IpvsCmd::AddDest {
                    svc: k,
                    dest: dest(a, 1),
                },
            )
            .unwrap();
        }
        d.enable_journal();
        d
    }

    #[test]
    fn reapplying_the_same_config_writes_nothing() {
        let d = director(Some(300));
        let mut t = Tables::new(64, 256, 32);
        let mut x = FakeExec::new();
        t.sync_config(&d, &mut x).unwrap();
        let dests = x.cmds.iter().filter(|c| c.table() == TableId::Dest).count();
        let svcs = x
            .cmds
            .iter()
            .filter(|c| c.table() == TableId::Service)
            .count();
        assert_eq!((dests, svcs), (2, 1));
        assert!(x.regs.contains(&("CTRL", "CONTROL", 0b011)), "{:?}", x.regs);
        assert!(x.regs.contains(&("LEARN", "TCP_TIMEOUT", 60_000)));
        assert!(x.regs.contains(&("LEARN", "TCP_FLAGS", 3 | 1 << 9)));
        assert!(x.regs.contains(&("LEARN", "SCTP_FLAGS", 1 | 1 << 9)));
        assert!(x.regs.contains(&("LEARN", "UDP_TIMEOUT", 300_000)));
        x.clear();
        t.sync_config(&d, &mut x).unwrap();
        t.sync_config(&d.clone(), &mut x).unwrap();
        assert!(
            x.cmds.is_empty() && x.regs.is_empty(),
            "{:?} {:?}",
            x.cmds,
            x.regs
        );
    }

    #[test]
    fn dest_changes_write_one_dest_and_service_delete_frees_its_slot() {
        let mut d = director(None);
        let mut t = Tables::new(64, 256, 32);
        let mut x = FakeExec::new();
        t.sync_config(&d, &mut x).unwrap();
        x.clear();
        let k = d.config()[0].0.key;
        d.apply(
            Time::ZERO,
            &IpvsCmd::EditDest {
                svc: k,
                dest: dest("10.0.0.1:80", 0),
            },
        )
        .unwrap();
        d.sysctl_mut().expire_quiescent_template = true;
        t.sync_config(&d, &mut x).unwrap();
        assert_eq!(x.cmds.len(), 1, "{:?}", x.cmds);
        let e = DestEntry::from_payload(x.cmds[0].payload()).unwrap();
        assert!(e.state.conn_ok && e.state.syn_ok && !e.state.tpl_ok);
        x.clear();
        d.apply(Time::ZERO, &IpvsCmd::DelService(k)).unwrap();
        t.sync_config(&d, &mut x).unwrap();
        let ops: Vec<_> = x.cmds.iter().map(|c| (c.opcode(), c.table())).collect();
        assert!(ops.contains(&(Opcode::Delete, TableId::Service)), "{ops:?}");
        // Both dests are now unavailable: conn_drop (expire_nodest_conn = 0).
        let dests: Vec<_> = x
            .cmds
            .iter()
            .filter(|c| c.table() == TableId::Dest)
            .map(|c| DestEntry::from_payload(c.payload()).unwrap().state)
            .collect();
        assert_eq!(dests.len(), 2);
        assert!(dests.iter().all(|s| !s.conn_ok && s.conn_drop && !s.tpl_ok));
        assert!(t.services.iter().all(|s| s.is_none()));
    }

    #[test]
    fn journal_mirror_inserts_modifies_deletes_and_skips_unchanged() {
        let mut d = director(None);
        let mut t = Tables::new(64, 256, 32);
        let mut x = FakeExec::new();
        t.sync_config(&d, &mut x).unwrap();
        x.clear();
        let (c, v) = (sa("198.51.100.7:1000"), sa("192.0.2.10:80"));
        let now = Time::from_secs(1);
        d.process(now, &Packet::tcp(c, v, TcpFlags::SYN));
        let ch = d.take_changes();
        t.mirror(ch, &mut d, now, &mut x).unwrap();
        assert_eq!(x.cmds.len(), 1);
        assert_eq!(x.cmds[0].opcode(), Opcode::Insert);
        let e = ConnEntry::from_payload(x.cmds[0].payload()).unwrap();
        assert_eq!(
            (e.state, e.ev_next, e.syn_miss),
            (proto::TCP_SYN_RECV, true, false)
        );
        assert_eq!((e.last_refresh, e.timeout_ms), (1000, 60_000));
        let key = conn_entry_key(&e.key);
        assert!(d.entry(&key).unwrap().offloaded);
        // Nothing changed: nothing written.
        x.clear();
        t.mirror(
            vec![EntryChange::Upsert(d.entry(&key).unwrap())],
            &mut d,
            now,
            &mut x,
        )
        .unwrap();
        assert!(x.cmds.is_empty());
        // ACK → ESTABLISHED: a Modify.
        let now = Time::from_secs(2);
        d.process(now, &Packet::tcp(c, v, TcpFlags::ACK));
        let ch = d.take_changes();
        t.mirror(ch, &mut d, now, &mut x).unwrap();
        assert_eq!(x.cmds.len(), 1);
        assert_eq!(x.cmds[0].opcode(), Opcode::Modify);
        let e = ConnEntry::from_payload(x.cmds[0].payload()).unwrap();
        assert_eq!((e.state, e.ev_next), (proto::TCP_ESTABLISHED, false));
        // RST → CLOSE: syn_miss (conn_reuse_mode 1); then the entry expires: a Delete.
        x.clear();
        let rst = TcpFlags {
            rst: true,
            ..TcpFlags::default()
        };
        d.process(now, &Packet::tcp(c, v, rst));
        let ch = d.take_changes();
        t.mirror(ch, &mut d, now, &mut x).unwrap();
        let e = ConnEntry::from_payload(x.cmds[0].payload()).unwrap();
        assert!(e.syn_miss);
        x.clear();
        let mut ask = 0;
        d.advance_with(Time::from_secs(100), &mut |_| {
            ask += 1;
            None
        });
        assert_eq!(ask, 1, "offloaded conn: the card is asked");
        let ch = d.take_changes();
        t.mirror(ch, &mut d, Time::from_secs(100), &mut x).unwrap();
        assert_eq!(x.cmds.len(), 1);
        assert_eq!(x.cmds[0].opcode(), Opcode::Delete);
        assert!(t.conns.is_empty());
    }

    /// `--set` (§7.3): the kernel gives a conn the new timeout of its state at its next
    /// packet (`set_tcp_state()` assigns `timeout_table[new_state]` even when the state
    /// stays) and keeps the old one until then. A cached ESTABLISHED conn must therefore
    /// report its next hit (`ev_next`; the card would re-arm with 900 s), keeping its old
    /// timeout; once the host has seen that packet it holds the new timeout. A conn in a state
    /// whose timeout did not change (SYN_RECV) is left alone.
    #[test]
    fn set_timeouts_make_stale_conns_report_their_next_hit() {
        let mut d = director(None);
        let mut t = Tables::new(64, 256, 32);
        let mut x = FakeExec::new();
        t.sync_config(&d, &mut x).unwrap();
        let v = sa("192.0.2.10:80");
        let (c1, c2) = (sa("198.51.100.7:1000"), sa("198.51.100.8:1000"));
        let now = Time::from_secs(1);
        d.process(now, &Packet::tcp(c1, v, TcpFlags::SYN));
        d.process(now, &Packet::tcp(c1, v, TcpFlags::ACK));
        d.process(now, &Packet::tcp(c2, v, TcpFlags::SYN));
        let ch = d.take_changes();
        t.mirror(ch, &mut d, now, &mut x).unwrap();
        let held =
            |t: &Tables, c: SocketAddr| *t.conns.values().find(|e| e.key.caddr == c.ip()).unwrap();
        let e1 = held(&t, c1);
        assert_eq!(
            (e1.state, e1.ev_next, e1.timeout_ms),
            (proto::TCP_ESTABLISHED, false, 900_000)
        );
        x.clear();
        let now = Time::from_secs(2);
        d.apply(
            now,
            &IpvsCmd::SetTimeouts {
                tcp: 100,
                tcpfin: 0,
                udp: 0,
            },
        )
        .unwrap();
        t.sync_config(&d, &mut x).unwrap();
        let writes: Vec<ConnEntry> = x
            .cmds
            .iter()
            .filter(|c| c.table() == TableId::Conn && c.opcode() == Opcode::Modify)
            .map(|c| ConnEntry::from_payload(c.payload()).unwrap())
            .collect();
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert_eq!(writes[0].key.caddr, c1.ip());
        assert_eq!(
            (writes[0].state, writes[0].ev_next, writes[0].timeout_ms),
            (proto::TCP_ESTABLISHED, true, 900_000)
        );
        assert_eq!(
            (held(&t, c2).state, held(&t, c2).timeout_ms),
            (proto::TCP_SYN_RECV, 60_000)
        );
        // Nothing more to do on the next sync.
        x.clear();
        t.sync_config(&d, &mut x).unwrap();
        assert!(x.cmds.is_empty(), "{:?}", x.cmds);
        // The reported hit: the model re-arms with 100 s, the card gets it, no more reports.
        let now = Time::from_secs(3);
        d.process(now, &Packet::tcp(c1, v, TcpFlags::ACK));
        let ch = d.take_changes();
        t.mirror(ch, &mut d, now, &mut x).unwrap();
        let e1 = held(&t, c1);
        assert_eq!(
            (e1.state, e1.ev_next, e1.timeout_ms, e1.last_refresh),
            (proto::TCP_ESTABLISHED, false, 100_000, 3000)
        );
    }

    /// The fake card refreshes a conn as a hit would (no event to the host).
    fn card_hit(x: &mut FakeExec, k: &FlowKey, tick: u32) {
        let p = x.conns.get_mut(k).unwrap();
        let mut e = ConnEntry::from_payload(p).unwrap();
        e.last_refresh = tick;
        *p = e.payload().unwrap();
    }

    /// A rewrite the model makes without seeing a packet (here: a sysctl flips `syn_miss`)
    /// must keep the card's newer `last_refresh`: writing the model's older one would move
    /// the conn's expiry back, and the model, asking the card when its timer fires, would
    /// expire a live conn (and release its template early). Found by the random
    /// differential test (seed 1795315921125566210).
    #[test]
    fn rewrites_without_a_packet_keep_the_cards_newer_refresh() {
        let mut d = director(None);
        let mut t = Tables::new(64, 256, 32);
        let mut x = FakeExec::new();
        t.sync_config(&d, &mut x).unwrap();
        let (c, v) = (sa("198.51.100.7:1000"), sa("192.0.2.10:80"));
        let now = Time::from_secs(1);
        let rst = TcpFlags {
            rst: true,
            ..TcpFlags::default()
        };
        d.process(now, &Packet::tcp(c, v, TcpFlags::SYN));
        d.process(now, &Packet::tcp(c, v, TcpFlags::ACK));
        d.process(now, &Packet::tcp(c, v, rst));
        let ch = d.take_changes();
        t.mirror(ch, &mut d, now, &mut x).unwrap();
        let key = *t.conns.keys().next().unwrap();
        assert!(t.conns[&key].syn_miss, "CLOSE with conn_reuse_mode 1");
        card_hit(&mut x, &key, 5_000);
        x.clear();
        d.sysctl_mut().conn_reuse_mode = 0;
        t.sync_config(&d, &mut x).unwrap();
        let ops: Vec<_> = x.cmds.iter().map(|c| c.opcode()).collect();
        assert_eq!(ops, [Opcode::Lookup, Opcode::Modify], "read, then rewrite");
        let e = ConnEntry::from_payload(&x.conns[&key]).unwrap();
        assert!(!e.syn_miss);
        assert_eq!(
            e.last_refresh, 5_000,
            "the card's refresh survives the rewrite"
        );
        assert_eq!(t.conns[&key].last_refresh, 5_000, "and the shadow knows it");
        // The same sysctl again: nothing to rewrite, nothing read.
        x.clear();
        t.sync_config(&d, &mut x).unwrap();
        assert!(x.cmds.is_empty(), "{:?}", x.cmds);
        // A packet the model sees is newer than any hit: written as is, no read.
        card_hit(&mut x, &key, 6_000);
        let now = Time::from_secs(7);
        d.process(now, &Packet::tcp(c, v, TcpFlags::ACK));
        let ch = d.take_changes();
        t.mirror(ch, &mut d, now, &mut x).unwrap();
        assert!(x.cmds.iter().all(|c| c.opcode() != Opcode::Lookup));
        let e = ConnEntry::from_payload(&x.conns[&key]).unwrap();
        assert_eq!(e.last_refresh, 7_000);
    }

    #[test]
    fn persistent_service_mirrors_template_and_full_conn_table_stops_learning() {
        let mut d = director(Some(300));
        let mut t = Tables::new(64, 256, 32);
        let mut x = FakeExec::new();
        t.sync_config(&d, &mut x).unwrap();
        x.clear();
        x.capacity = 0;
        let now = Time::from_secs(1);
        d.process(
            now,
            &Packet::tcp(sa("198.51.100.7:1000"), sa("192.0.2.10:80"), TcpFlags::SYN),
        );
        let ch = d.take_changes();
        t.mirror(ch, &mut d, now, &mut x).unwrap();
        // Template and conn both refused (capacity 0): learning off.
        assert_eq!(t.not_installed.len(), 1);
        assert!(x.regs.contains(&("CTRL", "CONTROL", 0b001)), "{:?}", x.regs);
        x.capacity = usize::MAX;
        x.clear();
        let now = Time::from_secs(2);
        d.process(
            now,
            &Packet::tcp(sa("198.51.100.7:1000"), sa("192.0.2.10:80"), TcpFlags::ACK),
        );
        let ch = d.take_changes();
        t.mirror(ch, &mut d, now, &mut x).unwrap();
        assert!(t.not_installed.is_empty());
        assert!(x.regs.contains(&("CTRL", "CONTROL", 0b011)), "{:?}", x.regs);
    }

    #[test]
    fn template_entry_uses_the_fwmark_and_port_conventions() {
        let mut d = director(Some(300));
        d.process(
            Time::from_secs(1),
            &Packet::tcp(sa("198.51.100.7:1000"), sa("192.0.2.10:80"), TcpFlags::SYN),
        );
        let v = d
            .take_changes()
            .into_iter()
            .find_map(|c| match c {
                EntryChange::Upsert(v) if v.key.template => Some(v),
                _ => None,
            })
            .unwrap();
        let e = template_entry(&v, 0, true, Time::ZERO).unwrap();
        assert!(e.dport_from_dest && e.learn);
        assert_eq!((e.last_refresh, e.timeout_ms), (1000, 300_000));
        assert_eq!(e.key.cport, 0);
    }

    #[test]
    fn rules_compile_with_multiport_expansion_and_refuse_the_rest() {
        use crate::config::iptables::parse_ruleset;
        let ok = "*mangle\n:PREROUTING ACCEPT [0:0]\n\
            -A PREROUTING -d 192.0.2.0/24 -p tcp -m multiport --dports 80,443,8000:8080 -j MARK --set-xmark 0x1/0xffffffff\n\
            -A PREROUTING -s 10.0.0.0/8 -p udp --sport 53 -j MARK --set-mark 2\n\
            -A PREROUTING -m comment --comment x -j MARK --or-mark 4\nCOMMIT\n";
        let r = parse_ruleset(ok).unwrap();
        let e = compile_rules(&r, 32).unwrap();
        assert_eq!(e.len(), 5);
        assert_eq!(e[0].dport, (80, 80));
        assert_eq!(e[2].dport, (8000, 8080));
        assert_eq!((e[3].src_plen, e[3].sport), (8, (53, 53)));
        for bad in [
            "-A PREROUTING -p tcp -m multiport --dports 80,70:90 -j MARK --set-mark 1",
            "-A PREROUTING -p tcp ! --dport 80 -j MARK --set-mark 1",
            "-A PREROUTING -m mark --mark 1 -j MARK --set-mark 2",
            "-A PREROUTING -j ACCEPT",
            "-A PREROUTING ! -p tcp -j MARK --set-mark 1",
            "-A PREROUTING -p tcp -m multiport --ports 80 -j MARK --set-mark 1",
        ] {
            let text = format!("*mangle\n:PREROUTING ACCEPT [0:0]\n{bad}\nCOMMIT\n");
            let r = parse_ruleset(&text).unwrap_or_else(|e| panic!("{bad}: {e}"));
            assert!(compile_rules(&r, 32).is_err(), "{bad}");
        }
        let many: String = (0..33)
            .map(|i| {
                format!(
                    "-A PREROUTING -p tcp --dport {} -j MARK --set-mark 1\n",
                    i + 1
                )
            })
            .collect();
        let r = parse_ruleset(&format!(
            "*mangle\n:PREROUTING ACCEPT [0:0]\n{many}COMMIT\n"
        ))
        .unwrap();
        assert!(compile_rules(&r, 32).is_err());
    }

    /// Every packet comes in on the ingress interface: a rule whose `-i` names another is left
    /// out (even one the card could not express), one whose `-i` matches loses the test.
    #[test]
    fn rules_for_another_interface_are_left_out() {
        use crate::config::iptables::parse_ruleset;
        let text = "*mangle\n:PREROUTING ACCEPT [0:0]\n\
            -A PREROUTING -i lo -j ACCEPT\n\
            -A PREROUTING -i eth0 -p tcp --dport 80 -j MARK --set-mark 1\n\
            -A PREROUTING -i eth1 -p tcp --dport 443 -j MARK --set-mark 2\n\
            -A PREROUTING ! -i eth+ -j MARK --set-mark 3\nCOMMIT\n";
        let mut r = parse_ruleset(text).unwrap();
        assert_eq!(r.ingress(), "eth0");
        let e = compile_rules(&r, 32).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].dport, e[0].value), ((80, 80), 1));
        r.set_ingress("eth1");
        let e = compile_rules(&r, 32).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].dport, e[0].value), ((443, 443), 2));
        r.set_ingress("lo");
        assert!(
            compile_rules(&r, 32).is_err(),
            "-i lo -j ACCEPT now applies"
        );
    }

    #[test]
    fn unrepresentable_rules_turn_the_datapath_off() {
        use crate::config::iptables::parse_ruleset;
        let mut d = director(None);
        let r = parse_ruleset("*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m mark --mark 1 -j MARK --set-mark 2\nCOMMIT\n").unwrap();
        d.marks_mut().extend(r);
        let mut t = Tables::new(64, 256, 32);
        let mut x = FakeExec::new();
        t.sync_config(&d, &mut x).unwrap();
        assert!(!t.enabled());
        assert!(x.regs.contains(&("CTRL", "CONTROL", 0b010)), "{:?}", x.regs);
    }

    #[test]
    fn ev_next_and_syn_miss_rules() {
        for s in [
            proto::TCP_NONE,
            proto::TCP_SYN_RECV,
            proto::TCP_LAST_ACK,
            proto::TCP_SYNACK,
        ] {
            assert!(ev_next(6, s, false), "{s}");
        }
        assert!(!ev_next(6, proto::TCP_ESTABLISHED, true));
        assert!(!ev_next(6, proto::TCP_TIME_WAIT, true));
        assert!(ev_next(132, proto::SCTP_NONE, true));
        assert!(ev_next(132, proto::SCTP_COOKIE_WAIT, true));
        assert!(!ev_next(17, 0, true));
    }

    /// `is_new_conn_expected()` looks at the entry's NOOUTPUT flag: a DR conn in FIN_WAIT that
    /// has seen a reply (from the VIP) is not reusable under `conn_reuse_mode & 2`, one that
    /// has not is — the card's `syn_miss` must follow the entry, not the forwarding method.
    #[test]
    fn syn_miss_follows_the_entrys_nooutput_flag() {
        let mut d = director(None);
        let mut sys = d.sysctl().clone();
        sys.set("conn_reuse_mode", "3").unwrap();
        let vip = sa("192.0.2.10:80");
        let fin_ack = TcpFlags {
            fin: true,
            ..TcpFlags::ACK
        };
        let (quiet, replied) = (sa("198.51.100.7:1000"), sa("198.51.100.7:1001"));
        let t0 = Time::from_millis(1000);
        let out = |c: SocketAddr, flags| {
            // The DR real server answers from the VIP: the entry leaves NOOUTPUT.
            let mut p = Packet::tcp(vip, c, flags);
            p.dir = crate::model::Dir::Out;
            p
        };
        // Both reach FIN_WAIT: the quiet one by the client's FIN (INPUT_ONLY table), the
        // other by the server's (OUTPUT table).
        let trace = [
            Packet::tcp(quiet, vip, TcpFlags::SYN),
            Packet::tcp(quiet, vip, TcpFlags::ACK),
            Packet::tcp(quiet, vip, fin_ack),
            Packet::tcp(replied, vip, TcpFlags::SYN),
            out(replied, TcpFlags::ACK),
            out(replied, fin_ack),
        ];
        for p in &trace {
            assert_eq!(d.process(t0, p).verdict, crate::model::Verdict::Forward);
        }
        let views: Vec<EntryView> = d
            .take_changes()
            .into_iter()
            .filter_map(|c| match c {
                EntryChange::Upsert(v) => Some(v),
                EntryChange::Removed(_) => None,
            })
            .collect();
        let view = |c: SocketAddr| views.iter().find(|v| v.key.client == c).unwrap();
        let (q, r) = (view(quiet), view(replied));
        assert_eq!(
            (q.state, r.state),
            (proto::TCP_FIN_WAIT, proto::TCP_FIN_WAIT)
        );
        assert_eq!((q.no_output, r.no_output), (true, false));
        assert!(syn_miss(q, &sys));
        assert!(!syn_miss(r, &sys));
        assert!(
            conn_entry(q, &sys, d.state_timeouts(), 0, t0)
                .unwrap()
                .syn_miss
        );
        assert!(
            !conn_entry(r, &sys, d.state_timeouts(), 0, t0)
                .unwrap()
                .syn_miss
        );
    }

    #[test]
    fn learn_seed_matches_the_model_so_nothing_is_written() {
        let mut d = director(Some(300));
        let mut t = Tables::new(64, 256, 32);
        let mut x = FakeExec::new();
        t.sync_config(&d, &mut x).unwrap();
        let now = Time::from_secs(1);
        let v = sa("192.0.2.10:80");
        d.process(now, &Packet::tcp(sa("198.51.100.7:1000"), v, TcpFlags::SYN));
        let ch = d.take_changes();
        t.mirror(ch, &mut d, now, &mut x).unwrap();
        x.clear();
        // The card learns a second conn of the same client under the template.
        let tpl_index = *t.tpl_at.keys().next().unwrap();
        let tpl = t.tpls.values().next().copied().unwrap().entry;
        let now = Time::from_secs(2);
        let c2 = sa("198.51.100.7:1001");
        let key = FlowKey {
            proto: 6,
            caddr: c2.ip(),
            cport: c2.port(),
            vaddr: v.ip(),
            vport: v.port(),
        };
        let ev = LearnEvent {
            key,
            ops: false,
            tpl_index,
            conn_index: 5,
            dest: tpl.dest,
            dest_gen: 0,
            svc: 0,
            tick: 2000,
        };
        t.seed_learned(&ev).unwrap();
        let dec = d.process(now, &Packet::tcp(c2, v, TcpFlags::SYN));
        assert_eq!(dec.by, Some(crate::model::DecidedBy::Template));
        let ch = d.take_changes();
        t.mirror(ch, &mut d, now, &mut x).unwrap();
        assert!(x.cmds.is_empty(), "{:?}", x.cmds);
        assert!(d.entry(&conn_entry_key(&key)).unwrap().offloaded);
    }
}
