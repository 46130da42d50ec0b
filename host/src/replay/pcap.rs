//! pcap / pcapng input: a real capture, read with `pcap-file` and parsed with `etherparse`.
//!
//! The whole file is read into memory and parsed in place (no per-packet copies). Link types:
//! Ethernet (optionally with 802.1Q / QinQ VLAN tags), Linux cooked capture (SLL) and raw IP
//! (`RAW`, `IPV4`, `IPV6`). Network: IPv4 and IPv6 (with extension headers). Transport: TCP
//! (flags from the header), UDP, SCTP (the first chunk's type, the byte after the 12-byte common
//! header). Every packet is client → director (`dir` in) and carries no mark (the mark rules
//! decide it).
//!
//! IP fragments are reassembled as the kernel does before IPVS sees them ([`Defrag`]): each
//! fragment is reported `local` with reason `IP fragment`, except the one that completes its
//! datagram, which carries the datagram's decision (with `--backend sim` the card then gets a
//! frame rebuilt from the datagram).
//!
//! Anything else — ARP, ICMP, other IP protocols, truncated or malformed headers, unsupported
//! link types — is not handed to the model: it is reported as verdict `local` with a `reason`
//! (see [`Skip`]).
//!
//! Time: `t` = packet timestamp − first packet's timestamp (so the first packet is at 0). A
//! timestamp earlier than the previous packet's is clamped to the previous one (the model's
//! clock never goes back). pcapng timestamps honour the interface's `if_tsresol`.
//!
//! Container errors (bad magic, corrupt block) are errors naming the file and the packet; a
//! record cut short at the very end of the file (a capture that was interrupted) ends the
//! capture with a warning.

use std::fmt;

use etherparse::err::packet::SliceError;
use etherparse::{NetSlice, SlicedPacket};
use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{DataLink, PcapError, TsResolution};

use crate::model::{Dir, Packet, Proto, SctpChunk, TcpFlags};
use std::net::{IpAddr, SocketAddr};

/// Why a captured packet was not handed to the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    /// The capture's link type is not Ethernet, Linux SLL or raw IP.
    LinkType(u32),
    /// ARP.
    Arp,
    /// Not IPv4/IPv6/ARP (the EtherType is given when known).
    NotIp(Option<u16>),
    /// ICMP or ICMPv6.
    Icmp,
    /// IP protocol other than TCP, UDP, SCTP.
    IpProto(u8),
    /// An IP fragment (IPv4 MF/offset or IPv6 fragment header).
    Fragment,
    /// Headers cut short (snap length or bad length fields).
    Truncated,
    /// A header with invalid contents.
    Malformed,
    /// Not a packet for this host (`skb->pkt_type != PACKET_HOST`): a broadcast or multicast
    /// Ethernet destination, or a Linux SLL packet type other than "to us" (e.g. "outgoing" in a
    /// `tcpdump -i any` capture). `ip_vs_in_hook()` lets these pass untouched.
    NotForHost(&'static str),
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::LinkType(l) => write!(f, "unsupported link type {l}"),
            Skip::Arp => f.write_str("ARP"),
            Skip::NotIp(Some(e)) => write!(f, "not IP (ethertype 0x{e:04x})"),
            Skip::NotIp(None) => f.write_str("not IP"),
            Skip::Icmp => f.write_str("ICMP"),
            Skip::IpProto(p) => write!(f, "unsupported IP protocol {p}"),
            Skip::Fragment => f.write_str("IP fragment"),
            Skip::Truncated => f.write_str("truncated"),
            Skip::Malformed => f.write_str("malformed header"),
            Skip::NotForHost(why) => write!(f, "not addressed to this host ({why})"),
        }
    }
}

/// How a capture's frames start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Ethernet,
    LinuxSll,
    /// Raw IPv4 or IPv6 (version nibble decides).
    RawIp,
    Other(u32),
}

impl Link {
    pub fn of(dl: DataLink) -> Link {
        match dl {
            DataLink::ETHERNET => Link::Ethernet,
            DataLink::LINUX_SLL => Link::LinuxSll,
            DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => Link::RawIp,
            other => Link::Other(u32::from(other)),
        }
    }
}

/// One captured packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedPacket {
    /// Nanoseconds since the first packet of the capture.
    pub t_ns: u64,
    pub packet: Result<Packet, Skip>,
    /// The captured bytes when the link is Ethernet: what a card replay sends to the card's
    /// parser (other links get a frame rebuilt from `packet`).
    pub ether: Option<Vec<u8>>,
}

impl CapturedPacket {
    /// `t` in seconds, as printed.
    pub fn t(&self) -> f64 {
        self.t_ns as f64 / 1e9
    }
}

/// Parse one frame. Never panics, whatever the bytes.
pub fn parse_frame(link: Link, data: &[u8]) -> Result<Packet, Skip> {
    let sliced = match link {
        Link::Ethernet => SlicedPacket::from_ethernet(data),
        Link::LinuxSll => SlicedPacket::from_linux_sll(data),
        Link::RawIp => SlicedPacket::from_ip(data),
        Link::Other(l) => return Err(Skip::LinkType(l)),
    }
    .map_err(|e| match e {
        SliceError::Len(_) => Skip::Truncated,
        _ => Skip::Malformed,
    })?;
    let (src, dst): (IpAddr, IpAddr) = match &sliced.net {
        Some(NetSlice::Ipv4(v4)) => {
            let h = v4.header();
            (h.source_addr().into(), h.destination_addr().into())
        }
        Some(NetSlice::Ipv6(v6)) => {
            let h = v6.header();
            (h.source_addr().into(), h.destination_addr().into())
        }
        Some(NetSlice::Arp(_)) => return Err(Skip::Arp),
        None => return Err(Skip::NotIp(sliced.payload_ether_type().map(|e| e.0))),
    };
    let payload = sliced.ip_payload().ok_or(Skip::NotIp(None))?;
    if payload.fragmented || sliced.is_ip_payload_fragmented() {
        return Err(Skip::Fragment);
    }
    let l4 = payload.payload;
    let num = payload.ip_number.0;
    let proto = match num {
        1 | 58 => return Err(Skip::Icmp),
        n => Proto::from_number(n).ok_or(Skip::IpProto(n))?,
    };
    let port = |at: usize| -> Result<u16, Skip> {
        let b = l4.get(at..at + 2).ok_or(Skip::Truncated)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    };
    let (sport, dport) = (port(0)?, port(2)?);
    let mut pkt = match proto {
        Proto::Tcp => {
            if l4.len() < 20 {
                return Err(Skip::Truncated);
            }
            let b = l4[13];
            let flags = TcpFlags {
                fin: b & 0x01 != 0,
                syn: b & 0x02 != 0,
                rst: b & 0x04 != 0,
                ack: b & 0x10 != 0,
            };
            Packet::tcp(
                SocketAddr::new(src, sport),
                SocketAddr::new(dst, dport),
                flags,
            )
        }
        Proto::Udp => {
            if l4.len() < 8 {
                return Err(Skip::Truncated);
            }
            Packet::udp(SocketAddr::new(src, sport), SocketAddr::new(dst, dport))
        }
        Proto::Sctp => {
            // 12-byte common header, then chunks (type, flags, length); the first one counts.
            let t = *l4.get(12).ok_or(Skip::Truncated)?;
            if l4.len() < 16 {
                return Err(Skip::Truncated);
            }
            Packet::sctp(
                SocketAddr::new(src, sport),
                SocketAddr::new(dst, dport),
                SctpChunk::from_type(t),
            )
        }
    };
    pkt.dir = Dir::In;
    Ok(pkt)
}

/// How long an incomplete datagram waits for its missing fragments: IPv4 `ipfrag_time` (30 s,
/// `ip_defrag()` in `ip_local_deliver()` or `nf_defrag_ipv4`), IPv6 `nf_conntrack_frag6_timeout`
/// (`IPV6_FRAG_TIMEOUT`, 60 s: `ip_vs_add_service()` enables `nf_defrag_ipv6` for an IPv6
/// service). The timer is armed when the queue is created and never refreshed.
const FRAG_TIMEOUT_V4_NS: u64 = 30_000_000_000;
const FRAG_TIMEOUT_V6_NS: u64 = 60_000_000_000;

/// A fragment queue's key: IPv4 `(saddr, daddr, id, protocol)` (`ip4_frag` key), IPv6
/// `(saddr, daddr, id)` (`frag_v6_compare_key`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FragKey {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

/// One `inet_frag_queue`: its runs of contiguous fragments (`inet_frag_queue_insert()`), the
/// datagram length known so far (`q.len`), the bytes received (`q.meat`) and the first/last flags.
#[derive(Debug)]
struct FragQueue {
    created_ns: u64,
    /// `[start, end)` byte ranges; the last element is the run holding `fragments_tail`.
    runs: Vec<(usize, usize)>,
    len: usize,
    meat: usize,
    first_in: bool,
    last_in: bool,
    data: Vec<u8>,
    /// From the offset-0 fragment: IPv4 header length / IPv6 unfragmentable part, and the
    /// transport protocol (IPv6: the fragment header's next header).
    head_hlen: usize,
    head_proto: u8,
}

/// IP reassembly as the kernel does it before IPVS sees a packet. `ip_vs_in_hook()` runs at
/// LOCAL_IN: IPv4 fragments are reassembled before it by `ip_local_deliver()` (or by
/// `nf_defrag_ipv4` at PRE_ROUTING), IPv6 fragments by `nf_defrag_ipv6` at PRE_ROUTING, which
/// passes the reassembled datagram on. So IPVS decides each datagram once, when its last missing
/// fragment arrives, and never sees a fragment. Queue handling follows `ip_frag_queue()` /
/// `nf_ct_frag6_queue()` and `inet_frag_queue_insert()`: an overlap discards the whole queue, a
/// duplicate (inside one run) is dropped alone, a fragment ending beyond a known end or a second
/// different end is refused.
#[derive(Debug, Default)]
pub struct Defrag {
    queues: std::collections::HashMap<FragKey, FragQueue>,
    /// Bytes the queues hold (their reassembly buffers).
    held: usize,
    /// Capture time of the last sweep for expired queues.
    swept_ns: u64,
}

/// Memory for incomplete datagrams, as the kernel's `ipfrag_high_thresh` /
/// `nf_conntrack_frag6_high_thresh` (4 MiB each): past it a fragment that would start a new
/// queue is dropped (`inet_frag_find()`). The kernel counts socket-buffer truesize, lvsnic the
/// reassembly buffers, so the limit is reached later here; what matters is that a capture
/// full of fragments that never complete cannot grow the replay without bound.
const FRAG_HIGH_THRESH: usize = 4 << 20;

/// A fragment as read from its IP header.
struct Fragment<'a> {
    key: FragKey,
    v6: bool,
    offset: usize,
    more: bool,
    /// The IP header length (IPv4) or the bytes before the fragment header (IPv6).
    hlen: usize,
    /// Transport protocol: IPv4 protocol, IPv6 the fragment header's next header.
    proto: u8,
    data: &'a [u8],
}

/// Why the kernel would give this frame a `pkt_type` other than `PACKET_HOST`, as far as the
/// capture shows it (`eth_type_trans()`: the destination MAC's group bit; Linux SLL: the packet
/// type field). A unicast MAC of another host cannot be told from the capture: it is decided.
fn not_for_host(link: Link, data: &[u8]) -> Option<&'static str> {
    match link {
        Link::Ethernet => {
            let dst = data.get(..6)?;
            if dst[0] & 1 == 0 {
                None
            } else if dst.iter().all(|&b| b == 0xff) {
                Some("broadcast")
            } else {
                Some("multicast")
            }
        }
        Link::LinuxSll => match u16::from_be_bytes([*data.first()?, *data.get(1)?]) {
            0 => None,
            1 => Some("broadcast"),
            2 => Some("multicast"),
            3 => Some("to another host"),
            4 => Some("outgoing"),
            _ => Some("not to us"),
        },
        Link::RawIp | Link::Other(_) => None,
    }
}

impl Defrag {
    /// Parse one frame: a whole datagram as [`parse_frame`] does; a fragment is queued and,
    /// when it completes its datagram, the datagram is returned with `true` (the packet then
    /// does not come from this frame's bytes alone).
    pub fn frame(&mut self, link: Link, data: &[u8], t_ns: u64) -> (Result<Packet, Skip>, bool) {
        let r = parse_frame(link, data);
        // An IP packet IPVS would see, but the stack marks it for someone else.
        if matches!(r, Ok(_) | Err(Skip::Fragment)) {
            if let Some(why) = not_for_host(link, data) {
                return (Err(Skip::NotForHost(why)), false);
            }
        }
        if r != Err(Skip::Fragment) {
            return (r, false);
        }
        match fragment_of(link, data).and_then(|f| self.queue(f, t_ns)) {
            Some(datagram) => (parse_frame(Link::RawIp, &datagram), true),
            None => (Err(Skip::Fragment), false),
        }
    }

    fn remove_queue(&mut self, k: &FragKey) -> Option<FragQueue> {
        let q = self.queues.remove(k)?;
        self.held -= q.data.len();
        Some(q)
    }

    /// Queue a fragment; the rebuilt whole datagram (a raw IP packet) when it is complete.
    fn queue(&mut self, f: Fragment<'_>, t_ns: u64) -> Option<Vec<u8>> {
        let timeout = if f.v6 {
            FRAG_TIMEOUT_V6_NS
        } else {
            FRAG_TIMEOUT_V4_NS
        };
        // The kernel's queue timers: at most once per second of capture time, expired queues go.
        if t_ns >= self.swept_ns.saturating_add(1_000_000_000) {
            self.swept_ns = t_ns;
            let mut freed = 0;
            self.queues.retain(|k, q| {
                let to = if k.src.is_ipv6() {
                    FRAG_TIMEOUT_V6_NS
                } else {
                    FRAG_TIMEOUT_V4_NS
                };
                let live = t_ns < q.created_ns.saturating_add(to);
                if !live {
                    freed += q.data.len();
                }
                live
            });
            self.held -= freed;
        }
        if !self.queues.contains_key(&f.key) && self.held > FRAG_HIGH_THRESH {
            return None;
        }
        if self
            .queues
            .get(&f.key)
            .is_some_and(|q| t_ns >= q.created_ns.saturating_add(timeout))
        {
            self.remove_queue(&f.key);
        }
        let q = self.queues.entry(f.key).or_insert_with(|| FragQueue {
            created_ns: t_ns,
            runs: Vec::new(),
            len: 0,
            meat: 0,
            first_in: false,
            last_in: false,
            data: Vec::new(),
            head_hlen: 0,
            head_proto: 0,
        });
        let offset = f.offset;
        let mut end = offset + f.data.len();
        if f.v6 && end > 65535 {
            return None; // "offset is too large": this fragment only
        }
        // Discard the queue (IPv4 `discard_qp`) or only this fragment (IPv6 `goto err`).
        let refuse = |me: &mut Self| {
            if !f.v6 {
                me.remove_queue(&f.key);
            }
            None
        };
        if !f.more {
            if end < q.len || (q.last_in && end != q.len) {
                return refuse(self);
            }
            q.last_in = true;
            q.len = end;
        } else {
            if end & 7 != 0 {
                if f.v6 {
                    // RFC 8200: the queue is killed; the fragment goes on unreassembled, and
                    // IPVS sees a fragment (no scheduling for it).
                    self.remove_queue(&f.key);
                    return None;
                }
                end &= !7;
            }
            if end > q.len {
                if q.last_in {
                    return refuse(self);
                }
                q.len = end;
            }
        }
        if end == offset {
            return refuse(self);
        }
        // inet_frag_queue_insert()
        let last_end = q.runs.last().map(|r| r.1);
        match last_end {
            None => q.runs.push((offset, end)),
            Some(le) if le < end => {
                if offset < le {
                    self.remove_queue(&f.key); // IPFRAG_OVERLAP
                    return None;
                }
                if offset == le {
                    q.runs.last_mut().expect("a run").1 = end;
                } else {
                    q.runs.push((offset, end));
                }
            }
            Some(_) => match q.runs.iter().find(|r| offset < r.1 && end > r.0) {
                Some(r) if offset >= r.0 && end <= r.1 => return None, // IPFRAG_DUP
                Some(_) => {
                    self.remove_queue(&f.key); // IPFRAG_OVERLAP
                    return None;
                }
                None => {
                    // A new run below the last one: `fragments_tail` stays where it is.
                    let at = q.runs.len() - 1;
                    q.runs.insert(at, (offset, end));
                }
            },
        }
        if q.data.len() < end {
            self.held += end - q.data.len();
            q.data.resize(end, 0);
        }
        q.data[offset..end].copy_from_slice(&f.data[..end - offset]);
        q.meat += end - offset;
        if offset == 0 {
            q.first_in = true;
            q.head_hlen = f.hlen;
            q.head_proto = f.proto;
        }
        if !(q.first_in && q.last_in && q.meat == q.len) {
            return None;
        }
        let q = self.remove_queue(&f.key)?;
        let payload = &q.data[..q.len];
        let (src, dst) = (f.key.src, f.key.dst);
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                // ip_frag_reasm(): "Oversized IP packet" past 65535 bytes.
                if q.head_hlen + q.len > 65535 {
                    return None;
                }
                let total = (20 + q.len) as u16;
                let mut v = vec![0x45, 0];
                v.extend_from_slice(&total.to_be_bytes());
                v.extend_from_slice(&[0, 0, 0, 0, 64, q.head_proto, 0, 0]);
                v.extend_from_slice(&s.octets());
                v.extend_from_slice(&d.octets());
                v.extend_from_slice(payload);
                Some(v)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                // nf_ct_frag6_reasm(): payload length past IPV6_MAXPLEN.
                if q.head_hlen + q.len > 65535 {
                    return None;
                }
                let plen = q.len as u16;
                let mut v = vec![0x60, 0, 0, 0];
                v.extend_from_slice(&plen.to_be_bytes());
                v.extend_from_slice(&[q.head_proto, 64]);
                v.extend_from_slice(&s.octets());
                v.extend_from_slice(&d.octets());
                v.extend_from_slice(payload);
                Some(v)
            }
            _ => None,
        }
    }
}

/// Read a fragment's IP header (the frame already sliced as a fragment by etherparse).
fn fragment_of(link: Link, data: &[u8]) -> Option<Fragment<'_>> {
    let sliced = match link {
        Link::Ethernet => SlicedPacket::from_ethernet(data),
        Link::LinuxSll => SlicedPacket::from_linux_sll(data),
        Link::RawIp => SlicedPacket::from_ip(data),
        Link::Other(_) => return None,
    }
    .ok()?;
    let start = |h: &[u8]| (h.as_ptr() as usize).checked_sub(data.as_ptr() as usize);
    match &sliced.net {
        Some(NetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let hlen = usize::from(h.ihl()) * 4;
            let at = start(h.slice())?;
            let ip = data.get(at..at + usize::from(h.total_len()))?;
            Some(Fragment {
                key: FragKey {
                    src: h.source_addr().into(),
                    dst: h.destination_addr().into(),
                    id: u32::from(h.identification()),
                    proto: h.protocol().0,
                },
                v6: false,
                offset: usize::from(h.fragments_offset().value()) * 8,
                more: h.more_fragments(),
                hlen,
                proto: h.protocol().0,
                data: ip.get(hlen..)?,
            })
        }
        Some(NetSlice::Ipv6(v6)) => {
            let h = v6.header();
            let at = start(h.slice())?;
            let ip = data.get(at..at + 40 + usize::from(h.payload_length()))?;
            // find_prev_fhdr(): extension headers up to the fragment header.
            let (mut next, mut pos) = (h.next_header().0, 40usize);
            while next != 44 {
                let hdrlen = match next {
                    0 | 43 | 60 => (usize::from(*ip.get(pos + 1)?) + 1) * 8,
                    51 => (usize::from(*ip.get(pos + 1)?) + 2) * 4,
                    _ => return None,
                };
                next = *ip.get(pos)?;
                pos += hdrlen;
            }
            let fh = ip.get(pos..pos + 8)?;
            let off = u16::from_be_bytes([fh[2], fh[3]]);
            // ipv6frag_thdr_truncated(): a first fragment without its whole transport header is
            // not queued (it goes on unreassembled). Extension headers after the fragment header
            // are not walked here: they count as the one byte of an unknown header.
            let thdr = match fh[0] {
                6 => 20,
                17 | 58 => 8,
                _ => 1,
            };
            if off & !7 == 0 && ip.len() < pos + 8 + thdr {
                return None;
            }
            Some(Fragment {
                key: FragKey {
                    src: h.source_addr().into(),
                    dst: h.destination_addr().into(),
                    id: u32::from_be_bytes([fh[4], fh[5], fh[6], fh[7]]),
                    proto: 0,
                },
                v6: true,
                offset: usize::from(off & !7),
                more: off & 1 != 0,
                hlen: pos,
                proto: fh[0],
                data: ip.get(pos + 8..)?,
            })
        }
        _ => None,
    }
}

/// A capture that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapFileError {
    /// 0-based index of the packet where it went wrong (`None`: the file header).
    pub packet: Option<u64>,
    pub msg: String,
}

impl fmt::Display for PcapFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.packet {
            Some(n) => write!(f, "packet {n}: {}", self.msg),
            None => f.write_str(&self.msg),
        }
    }
}

/// A parsed capture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capture {
    pub packets: Vec<CapturedPacket>,
    /// Set when the file ended inside a record (that record is dropped).
    pub truncated_tail: bool,
}

/// Parse a whole pcap or pcapng file (told apart by the magic number). Never panics.
pub fn parse_capture(data: &[u8]) -> Result<Capture, PcapFileError> {
    let magic = data.get(..4).ok_or_else(|| PcapFileError {
        packet: None,
        msg: "file too short for a capture".into(),
    })?;
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        parse_pcapng(data)
    } else {
        parse_pcap(data)
    }
}

struct Clock {
    first: Option<u128>,
    last: u64,
}

impl Clock {
    fn rel(&mut self, abs_ns: u128) -> u64 {
        let first = *self.first.get_or_insert(abs_ns);
        let rel = u64::try_from(abs_ns.saturating_sub(first))
            .unwrap_or(u64::MAX)
            .max(self.last);
        self.last = rel;
        rel
    }
}

fn container_err(n: u64, e: PcapError) -> PcapFileError {
    PcapFileError {
        packet: Some(n),
        msg: format!("bad capture record: {e}"),
    }
}

fn parse_pcap(data: &[u8]) -> Result<Capture, PcapFileError> {
    let (mut rest, parser) = PcapParser::new(data).map_err(|e| PcapFileError {
        packet: None,
        msg: format!("not a pcap or pcapng file: {e}"),
    })?;
    let header = parser.header();
    let link = Link::of(header.datalink);
    let mut cap = Capture::default();
    let mut clock = Clock {
        first: None,
        last: 0,
    };
    let mut defrag = Defrag::default();
    while !rest.is_empty() {
        let n = cap.packets.len() as u64;
        let (next, raw) = match parser.next_raw_packet(rest) {
            Ok(x) => x,
            Err(PcapError::IncompleteBuffer) => {
                cap.truncated_tail = true;
                break;
            }
            Err(e) => return Err(container_err(n, e)),
        };
        rest = next;
        let frac_ns = match header.ts_resolution {
            TsResolution::MicroSecond => u128::from(raw.ts_frac) * 1000,
            TsResolution::NanoSecond => u128::from(raw.ts_frac),
        };
        let abs = u128::from(raw.ts_sec) * 1_000_000_000 + frac_ns;
        let t_ns = clock.rel(abs);
        let (packet, reassembled) = defrag.frame(link, &raw.data, t_ns);
        cap.packets.push(CapturedPacket {
            t_ns,
            packet,
            ether: (link == Link::Ethernet && !reassembled).then(|| raw.data.to_vec()),
        });
    }
    Ok(cap)
}

/// Nanoseconds per 2^-n / 10^-n second unit of `if_tsresol` (default 10^-6).
fn tsresol_to_ns(raw: u64, tsresol: u8) -> u128 {
    let raw = u128::from(raw);
    if tsresol & 0x80 == 0 {
        let exp = u32::from(tsresol);
        if exp <= 9 {
            raw * 10u128.pow(9 - exp)
        } else {
            raw / 10u128.pow((exp - 9).min(38))
        }
    } else {
        let exp = u32::from(tsresol & 0x7f);
        if exp >= 100 {
            0
        } else {
            // raw * 1e9 / 2^exp without overflow for any u64 raw and exp < 100.
            let whole = raw >> exp.min(127);
            let frac = raw - (whole << exp.min(127));
            whole * 1_000_000_000 + ((frac * 1_000_000_000) >> exp.min(127))
        }
    }
}

fn parse_pcapng(data: &[u8]) -> Result<Capture, PcapFileError> {
    let (mut rest, mut parser) = PcapNgParser::new(data).map_err(|e| PcapFileError {
        packet: None,
        msg: format!("not a pcapng file: {e}"),
    })?;
    let mut cap = Capture::default();
    let mut clock = Clock {
        first: None,
        last: 0,
    };
    let mut defrag = Defrag::default();
    while !rest.is_empty() {
        let n = cap.packets.len() as u64;
        let (next, block) = match parser.next_block(rest) {
            Ok(x) => x,
            Err(PcapError::IncompleteBuffer) => {
                cap.truncated_tail = true;
                break;
            }
            Err(e) => return Err(container_err(n, e)),
        };
        rest = next;
        let (iface, ts_raw, frame) = match &block {
            Block::EnhancedPacket(epb) => (
                Some(epb.interface_id),
                u64::try_from(epb.timestamp.as_nanos()).unwrap_or(u64::MAX),
                &epb.data,
            ),
            Block::SimplePacket(spb) => (Some(0), 0, &spb.data),
            Block::Packet(pb) => (Some(u32::from(pb.interface_id)), pb.timestamp, &pb.data),
            _ => (None, 0, &std::borrow::Cow::Borrowed(&[][..])),
        };
        let Some(iface) = iface else { continue };
        let idb = parser
            .interfaces()
            .get(iface as usize)
            .ok_or_else(|| PcapFileError {
                packet: Some(n),
                msg: format!("packet refers to interface {iface}, which is not described"),
            })?;
        let tsresol = idb
            .options
            .iter()
            .find_map(|o| match o {
                InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
                _ => None,
            })
            .unwrap_or(6);
        let abs = if matches!(block, Block::SimplePacket(_)) {
            // Simple packet blocks carry no timestamp: keep the previous packet's time.
            clock.first.unwrap_or(0) + u128::from(clock.last)
        } else {
            tsresol_to_ns(ts_raw, tsresol)
        };
        let t_ns = clock.rel(abs);
        let link = Link::of(idb.linktype);
        let (packet, reassembled) = defrag.frame(link, frame, t_ns);
        cap.packets.push(CapturedPacket {
            t_ns,
            packet,
            ether: (link == Link::Ethernet && !reassembled).then(|| frame.to_vec()),
        });
    }
    Ok(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
    use pcap_file::pcapng::PcapNgWriter;
    use proptest::prelude::*;
    use std::borrow::Cow;
    use std::time::Duration;

    const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    fn tcp_v4(flags: &str) -> Vec<u8> {
        let mut b = PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([198, 51, 100, 7], [192, 0, 2, 10], 64)
            .tcp(1000, 80, 1, 65535);
        if flags.contains('S') {
            b = b.syn();
        }
        if flags.contains('A') {
            b = b.ack(1);
        }
        if flags.contains('F') {
            b = b.fin();
        }
        if flags.contains('R') {
            b = b.rst();
        }
        let mut v = Vec::new();
        b.write(&mut v, b"").unwrap();
        v
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn tcp_ipv4_flags() {
        let p = parse_frame(Link::Ethernet, &tcp_v4("S")).unwrap();
        assert_eq!(
            p,
            Packet::tcp(sa("198.51.100.7:1000"), sa("192.0.2.10:80"), TcpFlags::SYN)
        );
        let p = parse_frame(Link::Ethernet, &tcp_v4("AF")).unwrap();
        assert_eq!(
            p.tcp,
            TcpFlags {
                syn: false,
                ack: true,
                fin: true,
                rst: false
            }
        );
        let p = parse_frame(Link::Ethernet, &tcp_v4("R")).unwrap();
        assert_eq!(
            p.tcp,
            TcpFlags {
                syn: false,
                ack: false,
                fin: false,
                rst: true
            }
        );
        assert_eq!(p.mark, None);
        assert_eq!(p.dir, Dir::In);
    }

    #[test]
    fn vlan_udp() {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .single_vlan(100.try_into().unwrap())
            .ipv4([203, 0, 113, 9], [192, 0, 2, 10], 64)
            .udp(5000, 53)
            .write(&mut v, b"hello")
            .unwrap();
        assert_eq!(&v[12..14], &[0x81, 0x00]);
        let p = parse_frame(Link::Ethernet, &v).unwrap();
        assert_eq!(p, Packet::udp(sa("203.0.113.9:5000"), sa("192.0.2.10:53")));
    }

    #[test]
    fn ipv6_tcp() {
        let mut v = Vec::new();
        let src = "2001:db8::5"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        let dst = "2001:db8::10"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(src, dst, 64)
            .tcp(1000, 443, 7, 1000)
            .syn()
            .write(&mut v, &[])
            .unwrap();
        let p = parse_frame(Link::Ethernet, &v).unwrap();
        assert_eq!(
            p,
            Packet::tcp(
                sa("[2001:db8::5]:1000"),
                sa("[2001:db8::10]:443"),
                TcpFlags::SYN
            )
        );
    }

    fn sctp_frame(chunk_type: u8) -> Vec<u8> {
        // SCTP common header (sport 2000, dport 3868, vtag 0, checksum 0) + one chunk header.
        let mut l4 = vec![0x07, 0xd0, 0x0f, 0x1c, 0, 0, 0, 0, 0, 0, 0, 0];
        l4.extend_from_slice(&[chunk_type, 0, 0, 4]);
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([198, 51, 100, 7], [192, 0, 2, 10], 64)
            .write(&mut v, etherparse::IpNumber(132), &l4)
            .unwrap();
        v
    }

    #[test]
    fn sctp_first_chunk() {
        let p = parse_frame(Link::Ethernet, &sctp_frame(1)).unwrap();
        assert_eq!(
            p,
            Packet::sctp(
                sa("198.51.100.7:2000"),
                sa("192.0.2.10:3868"),
                SctpChunk::Init
            )
        );
        assert_eq!(
            parse_frame(Link::Ethernet, &sctp_frame(6)).unwrap().sctp,
            SctpChunk::Abort
        );
        assert_eq!(
            parse_frame(Link::Ethernet, &sctp_frame(200)).unwrap().sctp,
            SctpChunk::Other(200)
        );
        // Common header only: no chunk.
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([198, 51, 100, 7], [192, 0, 2, 10], 64)
            .write(&mut v, etherparse::IpNumber(132), &[0u8; 12])
            .unwrap();
        assert_eq!(parse_frame(Link::Ethernet, &v), Err(Skip::Truncated));
    }

    #[test]
    fn skipped_frames() {
        // Truncated: cut inside the TCP header.
        let full = tcp_v4("S");
        for cut in [0, 10, 14, 20, 33, 40, full.len() - 1] {
            assert_eq!(
                parse_frame(Link::Ethernet, &full[..cut]),
                Err(Skip::Truncated),
                "cut {cut}"
            );
        }
        // ARP request.
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&MAC_A);
        arp.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
        arp.extend_from_slice(&MAC_A);
        arp.extend_from_slice(&[192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 10]);
        assert_eq!(parse_frame(Link::Ethernet, &arp), Err(Skip::Arp));
        // Unknown ethertype.
        let mut other = MAC_B.to_vec();
        other.extend_from_slice(&MAC_A);
        other.extend_from_slice(&[0x88, 0xcc, 1, 2, 3]);
        assert_eq!(
            parse_frame(Link::Ethernet, &other),
            Err(Skip::NotIp(Some(0x88cc)))
        );
        // ICMP echo.
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([198, 51, 100, 7], [192, 0, 2, 10], 64)
            .icmpv4_echo_request(1, 1)
            .write(&mut v, b"ping")
            .unwrap();
        assert_eq!(parse_frame(Link::Ethernet, &v), Err(Skip::Icmp));
        // GRE.
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([198, 51, 100, 7], [192, 0, 2, 10], 64)
            .write(&mut v, etherparse::IpNumber(47), &[0u8; 8])
            .unwrap();
        assert_eq!(parse_frame(Link::Ethernet, &v), Err(Skip::IpProto(47)));
        // Unsupported link type.
        assert_eq!(
            parse_frame(Link::Other(105), &full),
            Err(Skip::LinkType(105))
        );
        // Skip reasons read well.
        assert_eq!(Skip::Fragment.to_string(), "IP fragment");
        assert_eq!(
            Skip::NotIp(Some(0x88cc)).to_string(),
            "not IP (ethertype 0x88cc)"
        );
    }

    #[test]
    fn ipv4_fragments() {
        // First fragment (MF set) of a UDP datagram, and a later fragment (offset != 0).
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([198, 51, 100, 7], [192, 0, 2, 10], 64)
            .udp(5000, 53)
            .write(&mut v, &[0u8; 16])
            .unwrap();
        let mut mf = v.clone();
        mf[14 + 6] |= 0x20; // more fragments
        fix_ipv4_checksum(&mut mf);
        assert_eq!(parse_frame(Link::Ethernet, &mf), Err(Skip::Fragment));
        let mut later = v.clone();
        later[14 + 7] = 3; // fragment offset 24 bytes
        fix_ipv4_checksum(&mut later);
        assert_eq!(parse_frame(Link::Ethernet, &later), Err(Skip::Fragment));
        // The untouched datagram parses.
        assert!(parse_frame(Link::Ethernet, &v).is_ok());
    }

    fn fix_ipv4_checksum(frame: &mut [u8]) {
        let h = &mut frame[14..34];
        h[10] = 0;
        h[11] = 0;
        let mut sum: u32 = 0;
        for c in h.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let ck = !(sum as u16);
        h[10..12].copy_from_slice(&ck.to_be_bytes());
    }

    /// An IPv4 UDP datagram (8-byte header + 24 bytes) cut in fragments of `cuts` payload bytes.
    fn v4_frags(id: u16, cuts: &[(usize, usize, bool)]) -> Vec<Vec<u8>> {
        let mut whole = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([198, 51, 100, 7], [192, 0, 2, 10], 64)
            .udp(5000, 53)
            .write(&mut whole, &[7u8; 24])
            .unwrap();
        let payload = whole[34..].to_vec();
        cuts.iter()
            .map(|&(from, to, more)| {
                let mut f = whole[..34].to_vec();
                f.extend_from_slice(&payload[from..to]);
                let total = (20 + to - from) as u16;
                f[16..18].copy_from_slice(&total.to_be_bytes());
                f[18..20].copy_from_slice(&id.to_be_bytes());
                let fo = (from / 8) as u16 | if more { 0x2000 } else { 0 };
                f[20..22].copy_from_slice(&fo.to_be_bytes());
                fix_ipv4_checksum(&mut f);
                f
            })
            .collect()
    }

    fn run_defrag(frames: &[(u64, Vec<u8>)]) -> Vec<(Result<Packet, Skip>, bool)> {
        let mut d = Defrag::default();
        frames
            .iter()
            .map(|(t, f)| d.frame(Link::Ethernet, f, *t))
            .collect()
    }

    #[test]
    fn ipv4_fragments_are_decided_once_reassembled() {
        let dns = Packet::udp(sa("198.51.100.7:5000"), sa("192.0.2.10:53"));
        // In order: the last fragment completes the datagram.
        let f = v4_frags(1, &[(0, 16, true), (16, 32, false)]);
        let r = run_defrag(&[(0, f[0].clone()), (1, f[1].clone())]);
        assert_eq!(r[0], (Err(Skip::Fragment), false));
        assert_eq!(r[1], (Ok(dns), true));
        // Out of order, with a duplicate in between: the first fragment completes it.
        let f = v4_frags(
            2,
            &[
                (16, 24, true),
                (24, 32, false),
                (16, 24, true),
                (0, 16, true),
            ],
        );
        let r = run_defrag(&f.iter().map(|x| (0, x.clone())).collect::<Vec<_>>());
        assert_eq!(r[2], (Err(Skip::Fragment), false));
        assert_eq!(r[3], (Ok(dns), true));
        // An overlap discards the whole queue: the datagram never completes.
        let f = v4_frags(
            3,
            &[
                (0, 16, true),
                (8, 24, true),
                (24, 32, false),
                (16, 24, true),
            ],
        );
        let r = run_defrag(&f.iter().map(|x| (0, x.clone())).collect::<Vec<_>>());
        assert!(r.iter().all(|x| x.0 == Err(Skip::Fragment)), "{r:?}");
        // ipfrag_time: a queue lives 30 s from its first fragment.
        let f = v4_frags(4, &[(0, 16, true), (16, 32, false)]);
        let r = run_defrag(&[(0, f[0].clone()), (30_000_000_000, f[1].clone())]);
        assert_eq!(r[1], (Err(Skip::Fragment), false));
        let r = run_defrag(&[(0, f[0].clone()), (29_999_999_999, f[1].clone())]);
        assert_eq!(r[1], (Ok(dns), true));
        // Different ids are different datagrams.
        let g = v4_frags(5, &[(16, 32, false)]);
        let r = run_defrag(&[(0, f[0].clone()), (1, g[0].clone())]);
        assert_eq!(r[1], (Err(Skip::Fragment), false));
    }

    /// `ip_vs_in_hook()` lets packets with `pkt_type != PACKET_HOST` pass: a broadcast or
    /// multicast Ethernet destination, an SLL packet that is not "to us" (an "outgoing" one in a
    /// `tcpdump -i any` capture is the director's own transmission).
    #[test]
    fn frames_not_for_this_host_are_not_decided() {
        let mut d = Defrag::default();
        let unicast = tcp_v4("S");
        assert!(d.frame(Link::Ethernet, &unicast, 0).0.is_ok());
        let mut bcast = unicast.clone();
        bcast[..6].copy_from_slice(&[0xff; 6]);
        let mut mcast = unicast.clone();
        mcast[..6].copy_from_slice(&[0x01, 0x00, 0x5e, 0, 0, 1]);
        for (f, why) in [(bcast, "broadcast"), (mcast, "multicast")] {
            assert_eq!(
                d.frame(Link::Ethernet, &f, 0),
                (Err(Skip::NotForHost(why)), false)
            );
        }
        // SLL: 16-byte header (packet type, ARPHRD, address length, address, protocol)
        let sll = |ptype: u16| {
            let mut f = ptype.to_be_bytes().to_vec();
            f.extend_from_slice(&[0, 1, 0, 6]);
            f.extend_from_slice(&MAC_A);
            f.extend_from_slice(&[0, 0, 0x08, 0x00]);
            f.extend_from_slice(&unicast[14..]);
            f
        };
        assert!(d.frame(Link::LinuxSll, &sll(0), 0).0.is_ok());
        for (t, why) in [
            (1, "broadcast"),
            (2, "multicast"),
            (3, "to another host"),
            (4, "outgoing"),
        ] {
            assert_eq!(
                d.frame(Link::LinuxSll, &sll(t), 0),
                (Err(Skip::NotForHost(why)), false)
            );
        }
    }

    /// Fragments that never complete hold at most `FRAG_HIGH_THRESH` bytes: past it a fragment
    /// that would start a queue is dropped; expired queues are freed, then datagrams complete
    /// again.
    #[test]
    fn incomplete_datagrams_are_bounded_and_expire() {
        let dns = Packet::udp(sa("198.51.100.7:5000"), sa("192.0.2.10:53"));
        let mut d = Defrag::default();
        // 8 bytes at offset 64,000 each: a 64,008-byte buffer per queue.
        for id in 0..70u16 {
            let mut f = v4_frags(id, &[(16, 24, true)]).remove(0);
            f[20..22].copy_from_slice(&(0x2000u16 | 8000).to_be_bytes());
            fix_ipv4_checksum(&mut f);
            assert_eq!(d.frame(Link::Ethernet, &f, 0), (Err(Skip::Fragment), false));
        }
        // 66 queues pass 4 MiB; the later fragments start none
        assert_eq!(d.queues.len(), FRAG_HIGH_THRESH / 64_008 + 1);
        assert!(d.held > FRAG_HIGH_THRESH);
        let f = v4_frags(100, &[(0, 16, true), (16, 32, false)]);
        for x in &f {
            assert_eq!(d.frame(Link::Ethernet, x, 1), (Err(Skip::Fragment), false));
        }
        assert_eq!(d.queues.len(), 66, "no new queue past the threshold");
        // 30 s later the queues have expired and are freed.
        let t = 30_000_000_000;
        assert_eq!(
            d.frame(Link::Ethernet, &f[0], t),
            (Err(Skip::Fragment), false)
        );
        assert_eq!(d.frame(Link::Ethernet, &f[1], t), (Ok(dns), true));
        assert_eq!((d.held, d.queues.len()), (0, 0));
    }

    #[test]
    fn ipv6_fragments_are_decided_once_reassembled() {
        let src = "2001:db8::5".parse::<std::net::Ipv6Addr>().unwrap();
        let dst = "2001:db8::10".parse::<std::net::Ipv6Addr>().unwrap();
        let mut whole = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(src.octets(), dst.octets(), 64)
            .tcp(1000, 443, 7, 1000)
            .syn()
            .write(&mut whole, &[9u8; 20])
            .unwrap();
        let l4 = whole[54..].to_vec(); // 20-byte TCP header + 20 bytes
        let frag = |from: usize, to: usize, more: bool| {
            let mut f = whole[..54].to_vec();
            f[20] = 44; // next header: fragment
            let plen = (8 + to - from) as u16;
            f[18..20].copy_from_slice(&plen.to_be_bytes());
            let fo = from as u16 | u16::from(more);
            f.extend_from_slice(&[6, 0]);
            f.extend_from_slice(&fo.to_be_bytes());
            f.extend_from_slice(&[0, 0, 0, 42]);
            f.extend_from_slice(&l4[from..to]);
            f
        };
        let syn = Packet::tcp(
            sa("[2001:db8::5]:1000"),
            sa("[2001:db8::10]:443"),
            TcpFlags::SYN,
        );
        let r = run_defrag(&[(0, frag(0, 24, true)), (0, frag(24, 40, false))]);
        assert_eq!(r[0], (Err(Skip::Fragment), false));
        assert_eq!(r[1], (Ok(syn), true));
        // A first fragment without the whole TCP header is not queued (RFC 8200 4.5).
        let r = run_defrag(&[(0, frag(0, 16, true)), (0, frag(16, 40, false))]);
        assert_eq!(r[1], (Err(Skip::Fragment), false));
        // IPv6 keeps a queue 60 s.
        let r = run_defrag(&[
            (0, frag(0, 24, true)),
            (59_000_000_000, frag(24, 40, false)),
        ]);
        assert_eq!(r[1], (Ok(syn), true));
    }

    #[test]
    fn capture_reassembles_fragments_and_rebuilds_the_frame() {
        let f = v4_frags(9, &[(0, 16, true), (16, 32, false)]);
        let bytes = pcap_bytes(
            &[
                (Duration::new(10, 0), f[0].clone()),
                (Duration::new(11, 0), f[1].clone()),
            ],
            DataLink::ETHERNET,
        );
        let cap = parse_capture(&bytes).unwrap();
        assert_eq!(cap.packets[0].packet, Err(Skip::Fragment));
        assert!(cap.packets[0].ether.is_some());
        assert_eq!(
            cap.packets[1].packet,
            Ok(Packet::udp(sa("198.51.100.7:5000"), sa("192.0.2.10:53")))
        );
        // The card gets a frame rebuilt from the datagram, not the last fragment.
        assert_eq!(cap.packets[1].ether, None);
    }

    #[test]
    fn raw_ip_link() {
        let full = tcp_v4("S");
        let p = parse_frame(Link::RawIp, &full[14..]).unwrap();
        assert_eq!(p.src, sa("198.51.100.7:1000"));
    }

    fn pcap_bytes(frames: &[(Duration, Vec<u8>)], datalink: DataLink) -> Vec<u8> {
        let header = PcapHeader {
            datalink,
            ts_resolution: TsResolution::MicroSecond,
            ..Default::default()
        };
        let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
        for (ts, f) in frames {
            w.write_packet(&PcapPacket::new(*ts, f.len() as u32, f))
                .unwrap();
        }
        w.into_writer()
    }

    /// A NAT real server's replies in a capture meet `ip_vs_out_hook()` first (it runs before
    /// `ip_vs_in_hook()` at LOCAL_IN and alone at FORWARD): forwarded as replies, they move
    /// the entry by the OUTPUT table and re-arm it. The server's data at 800 s keeps the
    /// ESTABLISHED entry (900 s) alive for the client's ACK at 1000 s.
    #[test]
    fn captured_nat_replies_are_replies() {
        use crate::model::{DestConf, Director, FwdMethod, IpvsCmd, ServiceConf, ServiceKey, Time};
        let frame = |src: ([u8; 4], u16), dst: ([u8; 4], u16), flags: &str| {
            let mut b = PacketBuilder::ethernet2(MAC_A, MAC_B)
                .ipv4(src.0, dst.0, 64)
                .tcp(src.1, dst.1, 1, 65535);
            if flags.contains('S') {
                b = b.syn();
            }
            if flags.contains('A') {
                b = b.ack(1);
            }
            let mut v = Vec::new();
            b.write(&mut v, b"").unwrap();
            v
        };
        let (c, vip, rs) = (
            ([198, 51, 100, 7], 1000),
            ([192, 0, 2, 10], 80),
            ([10, 0, 0, 1], 8080),
        );
        let at = |s: u64, ms: u32| Duration::new(1_700_000_000 + s, ms * 1_000_000);
        let frames = vec![
            (at(0, 0), frame(c, vip, "S")),
            (at(0, 100), frame(rs, c, "SA")),
            (at(0, 200), frame(c, vip, "A")),
            (at(800, 0), frame(rs, c, "A")),
            (at(1000, 0), frame(c, vip, "A")),
        ];
        let mut d = Director::new();
        let k = ServiceKey::Addr {
            proto: Proto::Tcp,
            addr: sa("192.0.2.10:80").ip(),
            port: 80,
        };
        let mut conf = ServiceConf::new(k);
        conf.scheduler = "rr".into();
        d.apply(Time::ZERO, &IpvsCmd::AddService(conf)).unwrap();
        let dest = DestConf {
            addr: sa("10.0.0.1:8080").ip(),
            port: 8080,
            fwd: FwdMethod::Masq,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tunnel: Default::default(),
        };
        d.apply(Time::ZERO, &IpvsCmd::AddDest { svc: k, dest })
            .unwrap();
        let mut out = Vec::new();
        let bytes = pcap_bytes(&frames, DataLink::ETHERNET);
        crate::replay::run_pcap(d, &bytes, "nat.pcap", &mut out).unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let got: Vec<(&str, &str)> = lines
            .iter()
            .map(|l| {
                (
                    l["verdict"].as_str().unwrap(),
                    l["by"].as_str().unwrap_or("-"),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("forward", "scheduler"),
                ("forward", "conn"),
                ("forward", "conn"),
                ("forward", "conn"),
                ("forward", "conn"),
            ]
        );
    }

    #[test]
    fn pcap_file_relative_time_and_mixed_packets() {
        let frames = vec![
            (Duration::new(1_700_000_000, 250_000_000), tcp_v4("S")),
            (Duration::new(1_700_000_000, 750_000_000), sctp_frame(1)),
            (Duration::new(1_700_000_003, 0), tcp_v4("")[..30].to_vec()),
            // Out of order: clamped to the previous time.
            (Duration::new(1_700_000_001, 0), tcp_v4("A")),
        ];
        let bytes = pcap_bytes(&frames, DataLink::ETHERNET);
        let cap = parse_capture(&bytes).unwrap();
        assert!(!cap.truncated_tail);
        let ts: Vec<u64> = cap.packets.iter().map(|p| p.t_ns).collect();
        assert_eq!(ts, vec![0, 500_000_000, 2_750_000_000, 2_750_000_000]);
        assert_eq!(cap.packets[0].t(), 0.0);
        assert_eq!(cap.packets[1].t(), 0.5);
        assert!(cap.packets[0].packet.unwrap().tcp.syn);
        assert_eq!(cap.packets[1].packet.unwrap().sctp, SctpChunk::Init);
        assert_eq!(cap.packets[2].packet, Err(Skip::Truncated));
        assert!(cap.packets[3].packet.is_ok());
        // Cut the file inside the last record.
        let cut = parse_capture(&bytes[..bytes.len() - 5]).unwrap();
        assert!(cut.truncated_tail);
        assert_eq!(cut.packets.len(), 3);
        // Not a capture at all.
        assert!(parse_capture(b"{\"t\":0}").is_err());
        assert!(parse_capture(b"").is_err());
    }

    #[test]
    fn pcap_unsupported_link_type() {
        let bytes = pcap_bytes(&[(Duration::ZERO, tcp_v4("S"))], DataLink::IEEE802_11);
        let cap = parse_capture(&bytes).unwrap();
        assert_eq!(cap.packets[0].packet, Err(Skip::LinkType(105)));
    }

    #[test]
    fn pcapng_file() {
        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        // Default if_tsresol is microseconds: the raw timestamp unit is 1 µs.
        let idb = InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: 0,
            options: vec![],
        };
        w.write_pcapng_block(idb).unwrap();
        for (us, f) in [(1_000_000u64, tcp_v4("S")), (1_250_000, tcp_v4("A"))] {
            // pcap-file writes `timestamp.as_nanos()` as the raw count of interface units.
            let epb = EnhancedPacketBlock {
                interface_id: 0,
                timestamp: Duration::from_nanos(us),
                original_len: f.len() as u32,
                data: Cow::Owned(f),
                options: vec![],
            };
            w.write_pcapng_block(epb).unwrap();
        }
        let bytes = w.into_inner();
        let cap = parse_capture(&bytes).unwrap();
        assert_eq!(cap.packets.len(), 2);
        assert_eq!(cap.packets[1].t_ns, 250_000_000);
        assert!(cap.packets[0].packet.unwrap().tcp.syn);
    }

    #[test]
    fn tsresol() {
        assert_eq!(tsresol_to_ns(5, 6), 5_000);
        assert_eq!(tsresol_to_ns(5, 9), 5);
        assert_eq!(tsresol_to_ns(5_000, 12), 5);
        assert_eq!(tsresol_to_ns(3, 0x80 | 1), 1_500_000_000);
        assert_eq!(tsresol_to_ns(u64::MAX, 0x80 | 127), 0);
        let _ = tsresol_to_ns(u64::MAX, 0);
        let _ = tsresol_to_ns(u64::MAX, 255);
    }

    proptest! {
        #[test]
        fn parse_frame_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for link in [Link::Ethernet, Link::LinuxSll, Link::RawIp, Link::Other(1)] {
                let _ = parse_frame(link, &bytes);
            }
        }

        #[test]
        fn parse_frame_never_panics_on_mutated_packets(
            idx in 0usize..4, pos in any::<prop::sample::Index>(), val in any::<u8>(), cut in any::<prop::sample::Index>()
        ) {
            let mut f = [tcp_v4("S"), sctp_frame(1), tcp_v4("A"), sctp_frame(0)][idx].clone();
            let p = pos.index(f.len());
            f[p] = val;
            let c = cut.index(f.len() + 1);
            let _ = parse_frame(Link::Ethernet, &f[..c]);
        }

        #[test]
        fn defrag_never_panics(
            muts in proptest::collection::vec((0usize..4, any::<prop::sample::Index>(), any::<u8>(), any::<u64>()), 1..12)
        ) {
            let base = v4_frags(1, &[(0, 16, true), (16, 24, true), (24, 32, false), (8, 32, false)]);
            let mut d = Defrag::default();
            for (i, pos, val, t) in muts {
                let mut f = base[i].clone();
                let p = 14 + pos.index(f.len() - 14);
                f[p] = val;
                let _ = d.frame(Link::Ethernet, &f, t);
                let _ = d.frame(Link::RawIp, &f[14..], t);
            }
        }

        #[test]
        fn parse_capture_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..300), ng in any::<bool>(), pos in any::<prop::sample::Index>(), val in any::<u8>()
        ) {
            let _ = parse_capture(&bytes);
            let mut good = if ng {
                let mut w = PcapNgWriter::new(Vec::new()).unwrap();
                w.write_pcapng_block(InterfaceDescriptionBlock { linktype: DataLink::ETHERNET, snaplen: 0, options: vec![] }).unwrap();
                let f = tcp_v4("S");
                w.write_pcapng_block(EnhancedPacketBlock { interface_id: 0, timestamp: Duration::from_nanos(1), original_len: f.len() as u32, data: Cow::Owned(f), options: vec![] }).unwrap();
                w.into_inner()
            } else {
                pcap_bytes(&[(Duration::ZERO, tcp_v4("S")), (Duration::ZERO, sctp_frame(1))], DataLink::ETHERNET)
            };
            let p = pos.index(good.len());
            good[p] = val;
            let _ = parse_capture(&good);
            good.extend_from_slice(&bytes);
            let _ = parse_capture(&good);
        }
    }
}
