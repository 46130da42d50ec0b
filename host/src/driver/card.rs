//! The card driver: initialisation, the host side of the cache protocol
//! (`docs/cache-protocol.md`) and the record handlers (miss, learn, flag, expire).

use std::net::SocketAddr;

use etherparse::{IpNumber, PacketBuilder};
use lvsnic_abi::records::{CmdStatus, Command, MissReason, Record};
use lvsnic_abi::FlowKey;

use super::cmd::{self, CmdResult};
use super::ring::EventRing;
use super::tables::{self, flow_key, Exec, Tables};
use super::{Bar, CardInfo, Device, DriverError};
use crate::model::conn::FastMap;
use crate::model::{
    DecidedBy, Decision, Dir, Director, Packet, Proto, SctpChunk, TcpFlags, Time, Verdict,
};

/// Hash seed written at init (fixed: runs are reproducible).
pub const HASH_SEED: u32 = 0x1f2e_3d4c;
/// Event ring size (log2 slots).
pub const RING_LOG_SIZE: u32 = 10;

/// Records a drain handles at most before it mirrors the model's changes (see
/// [`Card::drain`]): 64 records' journal (~20 KiB) and commands stay in L1/L2, where 1024
/// records' measured 10-15 % slower per record (`make bench-card`, host/miss_records_per_s).
pub const MIRROR_EVERY: usize = 64;

/// One per-packet verdict of the card's packet port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardVerdict {
    pub pkt_id: u32,
    /// 0 forward, 1 drop, 2 miss.
    pub kind: u8,
    pub dest: u8,
    pub reason: u8,
    pub mark: u32,
}

pub const KIND_FORWARD: u8 = 0;
pub const KIND_DROP: u8 = 1;
pub const KIND_MISS: u8 = 2;

/// A device with a packet port (the co-simulated card): frames in, verdicts out, one clock
/// at a time.
pub trait PacketPort: Device {
    fn send_frame(&mut self, frame: &[u8]);
    /// Run one clock cycle; the verdict that came out in it, if any.
    fn clock(&mut self) -> Option<CardVerdict>;
    /// Start a VCD waveform of everything that follows.
    fn open_vcd(&mut self, _path: &std::path::Path) -> Result<(), String> {
        Err("this device cannot dump waveforms".into())
    }
}

/// MMIO commands of a card, with the card's refusal as a status.
pub struct BarExec<'a, D: Device>(pub &'a mut Bar<D>);

impl<D: Device> Exec for BarExec<'_, D> {
    fn exec(&mut self, c: &Command) -> Result<Result<CmdResult, CmdStatus>, DriverError> {
        match cmd::execute(self.0, c) {
            Ok(r) => Ok(Ok(r)),
            Err(DriverError::Command { status, .. }) => CmdStatus::ALL
                .iter()
                .find(|s| format!("{s:?}") == status)
                .map(|s| Err(*s))
                .ok_or(DriverError::Backend(format!(
                    "unknown command status {status}"
                ))),
            Err(e) => Err(e),
        }
    }
    fn write_reg(
        &mut self,
        block: &'static str,
        reg: &'static str,
        value: u32,
    ) -> Result<(), DriverError> {
        self.0.write(block, reg, 0, value)
    }
}

/// What a record meant.
#[derive(Clone, Debug, PartialEq)]
pub enum Handled {
    /// The host's decision for a packet the card missed.
    Miss {
        pkt_id: u32,
        decision: Decision,
    },
    /// The card learned a conn under a template; the model agreed.
    Learn {
        key: FlowKey,
        decision: Decision,
    },
    /// A flag event replayed through the model.
    Flag {
        key: FlowKey,
        decision: Decision,
    },
    Expire,
    Other,
}

/// A card-model disagreement (both decisions in the message).
fn mismatch(what: &str, key: &FlowKey, card: String, d: &Decision) -> DriverError {
    DriverError::Backend(format!(
        "card/model mismatch on {what} {}:{} -> {}:{} proto {}: card {card}; model {:?}",
        key.caddr, key.cport, key.vaddr, key.vport, key.proto, d
    ))
}

/// The driver object of one card.
pub struct Card<D: Device> {
    pub bar: Bar<D>,
    pub ring: EventRing,
    pub tables: Tables,
    pub info: CardInfo,
    /// Host decisions of missed packets, by packet id.
    pub decided: FastMap<u32, Decision>,
}

impl<D: Device> Card<D> {
    /// Probe, configure and load the model's configuration.
    pub fn init(dev: D, d: &Director) -> Result<Card<D>, DriverError> {
        let mut bar = Bar::new(dev);
        let info = bar.probe()?;
        let mut polls = 0;
        while bar.read("CTRL", "STATUS", 0)? & 1 == 0 {
            polls += 1;
            if polls > 100_000 {
                return Err(DriverError::Backend(
                    "card never reported CTRL.STATUS.ready".into(),
                ));
            }
        }
        bar.write("CTRL", "CONTROL", 0, 0)?;
        bar.write("CTRL", "HASH_SEED", 0, HASH_SEED)?;
        bar.write("CTRL", "UNPRIV_PORT", 0, tables::UNPRIV_PORT)?;
        bar.write("TIME", "TICK_CTRL", 0, 0)?;
        bar.write("TIME", "TICK", 0, 0)?;
        bar.write("AGING", "CTRL", 0, 1)?;
        let ring = EventRing::setup(&mut bar, RING_LOG_SIZE)?;
        let mut tables = Tables::new(
            info.services as usize,
            info.dests as usize,
            info.rules as usize,
        );
        tables.reserve(info.conn.capacity() as usize, info.tpl.capacity() as usize);
        let mut card = Card {
            tables,
            bar,
            ring,
            info,
            decided: FastMap::default(),
        };
        card.tables.sync_config(d, &mut BarExec(&mut card.bar))?;
        Ok(card)
    }

    /// Set the card's clock (ms ticks).
    pub fn set_tick(&mut self, now: Time) -> Result<(), DriverError> {
        self.bar.write("TIME", "TICK", 0, tables::ticks(now))
    }

    /// After a configuration change: small tables, registers, and the journal.
    pub fn config_changed(&mut self, d: &mut Director, now: Time) -> Result<(), DriverError> {
        self.tables.sync_config(d, &mut BarExec(&mut self.bar))?;
        self.mirror(d, now)
    }

    /// Write the model's entry changes to the card.
    pub fn mirror(&mut self, d: &mut Director, now: Time) -> Result<(), DriverError> {
        self.tables
            .mirror_journal(d, now, &mut BarExec(&mut self.bar))
    }

    /// Fire the model's timers up to `now`, asking the card when offloaded conns were last
    /// refreshed; then mirror.
    pub fn advance(&mut self, d: &mut Director, now: Time) -> Result<(), DriverError> {
        let mut err = None;
        {
            let tables = &mut self.tables;
            let bar = &mut self.bar;
            d.advance_with(now, &mut |v| match tables
                .card_refresh(&flow_key(&v.key), &mut BarExec(bar))
            {
                Ok(lr) => lr.map(|ms| Time::from_millis(ms as u64)),
                Err(e) => {
                    err.get_or_insert(e);
                    None
                }
            });
        }
        if let Some(e) = err {
            return Err(e);
        }
        self.mirror(d, now)
    }

    /// Handle one record. `current` is the packet being replayed (its id, the packet and
    /// its exact time); records about other packets are rebuilt from the record. The model's
    /// entry changes are mirrored to the card before this returns.
    pub fn handle(
        &mut self,
        rec: &Record,
        d: &mut Director,
        current: Option<(u32, &Packet, Time)>,
    ) -> Result<Handled, DriverError> {
        let (h, at) = self.handle_unmirrored(rec, d, current)?;
        if let Some(t) = at {
            self.mirror(d, t)?;
        }
        Ok(h)
    }

    /// The packet and time a record is about (`None`: the record carries no packet for the
    /// model).
    fn record_packet(
        rec: &Record,
        current: Option<(u32, &Packet, Time)>,
    ) -> Option<(Packet, Time)> {
        let pick = |key: &FlowKey, l4: u8, tick: u32| -> (Packet, Time) {
            match current {
                Some((_, p, t)) if conn_key_of(p) == *key => (*p, t),
                _ => (packet_of(key, l4), Time::from_millis(tick as u64)),
            }
        };
        match rec {
            Record::Miss(m)
                if m.reason == MissReason::Unparsed
                    && !matches!(current, Some((id, _, _)) if same_pkt_id(id, m.pkt_id)) =>
            {
                None
            }
            Record::Miss(m) => Some(match current {
                Some((id, p, t)) if same_pkt_id(id, m.pkt_id) || conn_key_of(p) == m.key => (*p, t),
                _ => (
                    packet_of(&m.key, m.l4_info),
                    Time::from_millis(m.tick as u64),
                ),
            }),
            Record::Learn(l) => Some(pick(&l.key, 0x02, l.tick)),
            Record::Flag(f) => Some(pick(&f.key, f.l4_info, f.tick)),
            Record::Expire(_) | Record::CmdDone(_) => None,
        }
    }

    /// [`Card::handle`] without the mirror: what the record meant, and the time at which the
    /// model's entry changes it made are to be mirrored (`None`: it made none).
    fn handle_unmirrored(
        &mut self,
        rec: &Record,
        d: &mut Director,
        current: Option<(u32, &Packet, Time)>,
    ) -> Result<(Handled, Option<Time>), DriverError> {
        let at = Self::record_packet(rec, current);
        let h = match (rec, at) {
            // A frame the card could not parse: its record has no usable key (ports 0, garbage
            // addresses). The host decides it from the frame itself when it has it (`current`
            // with the same packet id); otherwise it is not IPVS traffic for the model: the
            // host stack gets it untouched, and no flow is invented from the record.
            (Record::Miss(m), None) => {
                let decision = Decision {
                    verdict: Verdict::Local,
                    dest: None,
                    mark: 0,
                    by: None,
                    reason: "card: unparsed frame, host stack",
                };
                self.decided.insert(m.pkt_id, decision);
                Handled::Miss {
                    pkt_id: m.pkt_id,
                    decision,
                }
            }
            (Record::Miss(m), Some((p, t))) => {
                let decision = d.process(t, &p);
                self.decided.insert(m.pkt_id, decision);
                Handled::Miss {
                    pkt_id: m.pkt_id,
                    decision,
                }
            }
            (Record::Learn(l), Some((p, t))) => {
                self.tables.seed_learned(l);
                let decision = d.process(t, &p);
                let want = self.tables.dest_id(l.dest);
                let model_dest = if l.ops {
                    decision.dest.map(|a| a.ip())
                } else {
                    d.entry(&tables::conn_entry_key(&l.key))
                        .and_then(|e| e.dest)
                        .and_then(|id| d.dest(id))
                        .map(|x| x.conf.addr)
                };
                let card_dest = want.and_then(|id| d.dest(id)).map(|x| x.conf.addr);
                if decision.verdict != Verdict::Forward
                    || decision.by != Some(DecidedBy::Template)
                    || model_dest.is_none()
                    || model_dest != card_dest
                {
                    return Err(mismatch(
                        "learn",
                        &l.key,
                        format!("forward via template to dest #{} ({card_dest:?})", l.dest),
                        &decision,
                    ));
                }
                Handled::Learn {
                    key: l.key,
                    decision,
                }
            }
            (Record::Flag(f), Some((p, t))) => {
                let decision = d.process(t, &p);
                let card_dest = self
                    .tables
                    .dest_id(f.dest)
                    .and_then(|id| d.dest(id))
                    .map(|x| x.conf.addr);
                if decision.verdict != Verdict::Forward
                    || decision.dest.map(|a| a.ip()) != card_dest
                {
                    return Err(mismatch(
                        "flag event",
                        &f.key,
                        format!("forward on its conn to dest #{} ({card_dest:?})", f.dest),
                        &decision,
                    ));
                }
                Handled::Flag {
                    key: f.key,
                    decision,
                }
            }
            (Record::Expire(e), _) => {
                self.tables.expired(e);
                Handled::Expire
            }
            (Record::CmdDone(_), _) | (Record::Learn(_) | Record::Flag(_), None) => Handled::Other,
        };
        Ok((h, at.map(|(_, t)| t)))
    }

    /// Handle every record the card has written; give the slots back and re-arm.
    ///
    /// The model's entry changes are mirrored once per run of records of one tick (at the end
    /// of the drain, or before a record of another tick) instead of after each record. The
    /// card ends up as handling each record in turn leaves it, with one write per changed
    /// entry instead of one per change: handling a record reads the shadow only for what the
    /// card itself reported (a learn seeds its conn and refreshes its template; an expire
    /// drops the entry, which the mirror re-inserts if the model still holds it), and within
    /// a tick the mirror decides the same whenever it runs (an entry refreshed at the tick is
    /// as fresh as the card's copy, so nothing is read back). A run is mirrored at least every
    /// [`MIRROR_EVERY`] records, as a mirror per record (`Card::handle`) would be more often:
    /// the model decides the same, and a bounded journal keeps the miss path's scratch in the
    /// CPU's cache. Only with the card's table full can the writes differ from one mirror per
    /// run (an entry created and removed within the run has taken a slot meanwhile, and a later
    /// new conn stays with the host, learning off, as it would with a mirror per record).
    pub fn drain(
        &mut self,
        d: &mut Director,
        current: Option<(u32, &Packet, Time)>,
    ) -> Result<Vec<Handled>, DriverError> {
        let mut out = Vec::new();
        // The tick of changes made but not mirrored yet, and the records handled since.
        let mut pending: Option<Time> = None;
        let mut unmirrored = 0;
        while let Some(rec) = self.ring.poll(&mut self.bar)? {
            if let (Some(p), Some((_, t))) = (pending, Self::record_packet(&rec, current)) {
                if t != p || unmirrored >= MIRROR_EVERY {
                    self.mirror(d, p)?;
                    pending = None;
                    unmirrored = 0;
                }
            }
            let (h, at) = self.handle_unmirrored(&rec, d, current)?;
            if at.is_some() {
                unmirrored += 1;
            }
            pending = at.or(pending);
            out.push(h);
        }
        if let Some(t) = pending {
            self.mirror(d, t)?;
        }
        if !out.is_empty() {
            self.ring.doorbell(&mut self.bar, true)?;
        }
        Ok(out)
    }

    /// The real-server address a card forward went to: the dest's address and the conn
    /// entry's port (a Lookup), or the dest/packet port when the card holds no conn (OPS).
    pub fn forward_dest(
        &mut self,
        d: &Director,
        dest: u8,
        p: &Packet,
    ) -> Result<Option<SocketAddr>, DriverError> {
        let Some(conf) = self
            .tables
            .dest_id(dest)
            .and_then(|id| d.dest(id))
            .map(|x| x.conf)
        else {
            return Ok(None);
        };
        let key = conn_key_of(p);
        let port = match BarExec(&mut self.bar)
            .exec(&Command::lookup(lvsnic_abi::TableId::Conn, &key)?)?
        {
            Ok(r) => {
                lvsnic_abi::ConnEntry::decode(
                    r.entry
                        .first_chunk::<14>()
                        .ok_or(DriverError::Backend("short lookup result".into()))?,
                )?
                .dport
            }
            Err(_) if conf.port != 0 => conf.port,
            Err(_) => p.dst.port(),
        };
        Ok(Some(SocketAddr::new(conf.addr, port)))
    }
}

/// Whether a host packet id and a card record's id name the same packet: the card counts
/// packets in 16 bits (the parser's counter), the host in 32.
pub fn same_pkt_id(host: u32, card: u32) -> bool {
    (host ^ card) & 0xffff == 0
}

/// The card's conn key of a client → VIP packet.
pub fn conn_key_of(p: &Packet) -> FlowKey {
    FlowKey {
        proto: p.proto.number(),
        caddr: p.src.ip(),
        cport: p.src.port(),
        vaddr: p.dst.ip(),
        vport: p.dst.port(),
    }
}

/// The packet a record describes (TCP flags byte or SCTP chunk type in `l4`).
pub fn packet_of(k: &FlowKey, l4: u8) -> Packet {
    let src = SocketAddr::new(k.caddr, k.cport);
    let dst = SocketAddr::new(k.vaddr, k.vport);
    match k.proto {
        6 => Packet::tcp(
            src,
            dst,
            TcpFlags {
                fin: l4 & 0x01 != 0,
                syn: l4 & 0x02 != 0,
                rst: l4 & 0x04 != 0,
                ack: l4 & 0x10 != 0,
            },
        ),
        132 => Packet::sctp(src, dst, SctpChunk::from_type(l4)),
        _ => Packet::udp(src, dst),
    }
}

fn chunk_type(c: SctpChunk) -> u8 {
    match c {
        SctpChunk::Data => 0,
        SctpChunk::Init => 1,
        SctpChunk::InitAck => 2,
        SctpChunk::Sack => 3,
        SctpChunk::Heartbeat => 4,
        SctpChunk::HeartbeatAck => 5,
        SctpChunk::Abort => 6,
        SctpChunk::Shutdown => 7,
        SctpChunk::ShutdownAck => 8,
        SctpChunk::Error => 9,
        SctpChunk::CookieEcho => 10,
        SctpChunk::CookieAck => 11,
        SctpChunk::ShutdownComplete => 14,
        SctpChunk::Other(n) => n,
    }
}

/// The Ethernet frame of a client → VIP trace packet: Ethernet II, IPv4/IPv6, TCP with the
/// packet's flags / UDP / SCTP with its first chunk.
pub fn frame(p: &Packet) -> Vec<u8> {
    let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let ip = match (p.src.ip(), p.dst.ip()) {
        (std::net::IpAddr::V4(s), std::net::IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), 64),
        (s, d) => {
            let v6 = |a: std::net::IpAddr| match a {
                std::net::IpAddr::V6(a) => a.octets(),
                std::net::IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            };
            eth.ipv6(v6(s), v6(d), 64)
        }
    };
    let (sp, dp) = (p.src.port(), p.dst.port());
    let mut out = Vec::new();
    let res = match p.proto {
        Proto::Tcp => {
            let mut b = ip.tcp(sp, dp, 1, 65535);
            if p.tcp.syn {
                b = b.syn();
            }
            if p.tcp.fin {
                b = b.fin();
            }
            if p.tcp.rst {
                b = b.rst();
            }
            if p.tcp.ack {
                b = b.ack(1);
            }
            b.write(&mut out, &[]).map_err(|e| e.to_string())
        }
        Proto::Udp => ip
            .udp(sp, dp)
            .write(&mut out, &[])
            .map_err(|e| e.to_string()),
        Proto::Sctp => {
            let mut l4 = Vec::with_capacity(16);
            l4.extend_from_slice(&sp.to_be_bytes());
            l4.extend_from_slice(&dp.to_be_bytes());
            l4.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
            l4.extend_from_slice(&[chunk_type(p.sctp), 0, 0, 4]);
            ip.write(&mut out, IpNumber(132), &l4)
                .map_err(|e| e.to_string())
        }
    };
    res.expect("writing to a Vec cannot fail");
    out
}

/// Whether the host decides this trace packet itself (it does not cross the card in replay).
pub fn host_only(p: &Packet) -> bool {
    p.dir == Dir::Out || p.mark.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::bar::tests::fake_card;
    use crate::replay::pcap::{parse_frame, Link};

    #[test]
    fn frames_parse_back_to_the_same_packet() {
        let s4: SocketAddr = "198.51.100.7:1000".parse().unwrap();
        let d4: SocketAddr = "192.0.2.10:80".parse().unwrap();
        let s6: SocketAddr = "[2001:db8::7]:1000".parse().unwrap();
        let d6: SocketAddr = "[2001:db8::10]:443".parse().unwrap();
        let rst_ack = TcpFlags {
            rst: true,
            ack: true,
            ..TcpFlags::default()
        };
        for p in [
            Packet::tcp(s4, d4, TcpFlags::SYN),
            Packet::tcp(s6, d6, rst_ack),
            Packet::udp(s4, d4),
            Packet::udp(s6, d6),
            Packet::sctp(s4, d4, SctpChunk::Init),
            Packet::sctp(s6, d6, SctpChunk::CookieEcho),
        ] {
            let f = frame(&p);
            assert_eq!(parse_frame(Link::Ethernet, &f).unwrap(), p, "{p:?}");
        }
    }

    #[test]
    fn record_packets_carry_flags() {
        let k = FlowKey {
            proto: 6,
            caddr: "198.51.100.7".parse().unwrap(),
            cport: 1,
            vaddr: "192.0.2.10".parse().unwrap(),
            vport: 80,
        };
        let p = packet_of(&k, 0x12);
        assert!(p.tcp.syn && p.tcp.ack && !p.tcp.rst);
        assert_eq!(conn_key_of(&p), k);
    }

    /// A fake card whose commands all succeed at once, with `d`'s configuration.
    fn fake_ready_card(d: &Director) -> Card<crate::driver::MemDevice> {
        let mut dev = fake_card();
        let reg = |r| lvsnic_abi::regs::offset_of("CTRL", r, 0).unwrap() as usize / 4;
        dev.regs[reg("STATUS")] = 1;
        let st = lvsnic_abi::regs::offset_of("CMD", "STATUS", 0).unwrap();
        dev.regs[st as usize / 4] = 2;
        Card::init(dev, d).unwrap()
    }

    /// The opcodes of the commands written since the last call.
    fn opcodes(card: &mut Card<crate::driver::MemDevice>) -> Vec<u32> {
        let data = lvsnic_abi::regs::offset_of("CMD", "DATA", 0).unwrap();
        let w = std::mem::take(&mut card.bar.dev().writes);
        w.iter()
            .filter(|x| x.0 == data)
            .map(|x| x.1 & 0xff)
            .collect()
    }

    /// One drain mirrors the model's changes once for the records of a tick, and leaves the
    /// card's shadow, the model and the decisions exactly as handling (and mirroring) each
    /// record in turn does — with one write per entry instead of one per change.
    #[test]
    fn drain_mirrors_once_per_tick_like_handling_each_record() {
        let key = |port: u16| FlowKey {
            proto: 6,
            caddr: "198.51.100.7".parse().unwrap(),
            cport: port,
            vaddr: "192.0.2.10".parse().unwrap(),
            vport: 80,
        };
        let miss = |pkt_id: u32, port: u16, flags: u8, tick: u32| {
            Record::Miss(lvsnic_abi::records::MissRecord {
                reason: MissReason::Schedule,
                key: key(port),
                l4_valid: true,
                l4_info: flags,
                vlan: None,
                fwmark: 0,
                svc: 0,
                pkt_id,
                tick,
            })
        };
        // A flow's SYN and its ACK (which came before the host installed the conn), a second
        // flow's SYN, then a record of a later tick.
        let recs = [
            miss(1, 1000, 0x02, 1000),
            miss(2, 1000, 0x10, 1000),
            miss(3, 1001, 0x02, 1000),
            miss(4, 1000, 0x10, 1001),
        ];
        let d0 = tables::tests::director(None);
        let mut one = fake_ready_card(&d0);
        let mut d1 = d0.clone();
        opcodes(&mut one);
        for r in &recs {
            one.handle(r, &mut d1, None).unwrap();
        }
        let per_record = opcodes(&mut one);

        let mut all = fake_ready_card(&d0);
        let mut d2 = d0.clone();
        for (i, r) in recs.iter().enumerate() {
            let (addr, phase) = all.ring.slot_of(i as u32);
            let bytes: Vec<u8> = r
                .encode(phase)
                .unwrap()
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect();
            all.bar.dev().dma_write(addr, &bytes).unwrap();
        }
        opcodes(&mut all);
        let hs = all.drain(&mut d2, None).unwrap();
        assert_eq!(hs.len(), 4);
        let drained = opcodes(&mut all);

        let insert = lvsnic_abi::records::Opcode::Insert as u32;
        let modify = lvsnic_abi::records::Opcode::Modify as u32;
        // Per record: Insert, Modify (ACK), Insert (second flow), Modify (next tick).
        assert_eq!(per_record, [insert, modify, insert, modify]);
        // The first tick's changes once: two Inserts (the first conn already ESTABLISHED); the
        // later tick's on their own.
        assert_eq!(drained, [insert, insert, modify]);
        assert_eq!(one.tables.conns, all.tables.conns);
        assert_eq!(one.tables.tpls, all.tables.tpls);
        assert_eq!(one.decided, all.decided);
        assert_eq!(d1.entries(), d2.entries());
        for port in [1000, 1001] {
            let k = tables::conn_entry_key(&key(port));
            let (a, b) = (d1.entry(&k).unwrap(), d2.entry(&k).unwrap());
            assert!(a.offloaded && b.offloaded);
        }
    }

    #[test]
    fn init_programs_the_card_and_loads_the_config() {
        let mut dev = fake_card();
        let ready = lvsnic_abi::regs::offset_of("CTRL", "STATUS", 0).unwrap();
        dev.regs[ready as usize / 4] = 1;
        // Commands complete at once on this fake: STATUS done.
        let st = lvsnic_abi::regs::offset_of("CMD", "STATUS", 0).unwrap();
        dev.regs[st as usize / 4] = 2;
        let d = tables::tests::director(Some(300));
        let mut card = Card::init(dev, &d).unwrap();
        let w = &card.bar.dev().writes;
        let reg = |b, r| lvsnic_abi::regs::offset_of(b, r, 0).unwrap();
        assert!(w.contains(&(reg("CTRL", "HASH_SEED"), HASH_SEED)));
        assert!(w.contains(&(reg("TIME", "TICK_CTRL"), 0)));
        assert!(w.contains(&(reg("CTRL", "CONTROL"), 0b011)));
        let doorbells = w.iter().filter(|x| x.0 == reg("CMD", "DOORBELL")).count();
        assert_eq!(doorbells, 3, "two dests and one service");
    }
}
