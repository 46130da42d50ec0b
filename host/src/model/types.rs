//! Vocabulary shared by the model, the config importers and the replay front end.
//!
//! Names follow IPVS: a *virtual service* (svc) is reached by `(proto, VIP, port)` or by a
//! firewall mark; a *real server* (dest) belongs to one service; a *template* is a persistence
//! entry. These are configuration-level values: what `ipvsadm` says, already validated.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Transport protocols IPVS balances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    /// IANA protocol number (the kernel's `IPPROTO_*`).
    pub const fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Sctp => 132,
        }
    }
    pub const fn from_number(n: u8) -> Option<Self> {
        match n {
            6 => Some(Proto::Tcp),
            17 => Some(Proto::Udp),
            132 => Some(Proto::Sctp),
            _ => None,
        }
    }
    /// Lower-case name as used in traces (`tcp`, `udp`, `sctp`).
    pub const fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            "sctp" => Some(Proto::Sctp),
            _ => None,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Af {
    Inet,
    Inet6,
}

impl Af {
    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Af::Inet,
            IpAddr::V6(_) => Af::Inet6,
        }
    }
}

/// Virtual time: nanoseconds since the start of a trace. The model never reads a wall clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Time(pub u64);

impl Time {
    pub const ZERO: Time = Time(0);

    /// From seconds as written in a trace. Rounded to the nearest nanosecond so that `0.1`
    /// means exactly 100 ms. Negative, NaN or absurdly large values are rejected.
    pub fn from_secs_f64(s: f64) -> Option<Time> {
        if !s.is_finite() || !(0.0..=1.0e9).contains(&s) {
            return None;
        }
        Some(Time((s * 1e9).round() as u64))
    }
    pub fn from_secs(s: u64) -> Time {
        Time(s.saturating_mul(1_000_000_000))
    }
    pub fn from_millis(ms: u64) -> Time {
        Time(ms.saturating_mul(1_000_000))
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    pub fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }
    pub fn plus(self, d: Duration) -> Time {
        Time(
            self.0
                .saturating_add(d.as_nanos().min(u64::MAX as u128) as u64),
        )
    }
    /// Time left until `deadline` (zero if passed).
    pub fn until(self, deadline: Time) -> Duration {
        Duration::from_nanos(deadline.0.saturating_sub(self.0))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_secs_f64())
    }
}

/// How a virtual service is identified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ServiceKey {
    /// `-t/-u/--sctp-service addr:port`.
    Addr {
        proto: Proto,
        addr: IpAddr,
        port: u16,
    },
    /// `-f MARK [-6]`. The mark is 1..=u32::MAX.
    Fwmark { af: Af, mark: u32 },
}

/// The fields as one or two words (a new connection looks its service up three times; the
/// derived `Hash` feeds the hasher each piece, the address as a length-prefixed byte slice).
/// Equal keys hash equally: every field `Eq` compares is hashed.
impl std::hash::Hash for ServiceKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match *self {
            ServiceKey::Addr { proto, addr, port } => {
                h.write_u64(1 | (proto.number() as u64) << 8 | (port as u64) << 16);
                match addr {
                    IpAddr::V4(a) => h.write_u32(a.to_bits()),
                    IpAddr::V6(a) => h.write_u128(a.to_bits()),
                }
            }
            ServiceKey::Fwmark { af, mark } => {
                h.write_u64(2 | ((af == Af::Inet6) as u64) << 8 | (mark as u64) << 16)
            }
        }
    }
}

impl ServiceKey {
    pub fn af(&self) -> Af {
        match self {
            ServiceKey::Addr { addr, .. } => Af::of(addr),
            ServiceKey::Fwmark { af, .. } => *af,
        }
    }
    /// Service port (0 for fwmark services).
    pub fn port(&self) -> u16 {
        match self {
            ServiceKey::Addr { port, .. } => *port,
            ServiceKey::Fwmark { .. } => 0,
        }
    }
    pub fn fwmark(&self) -> u32 {
        match self {
            ServiceKey::Addr { .. } => 0,
            ServiceKey::Fwmark { mark, .. } => *mark,
        }
    }
}

impl fmt::Display for ServiceKey {
    /// ipvsadm option form: `-t 192.0.2.10:80`, `-u [2001:db8::1]:53`, `-f 1 -6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr { proto, addr, port } => {
                let opt = match proto {
                    Proto::Tcp => "-t",
                    Proto::Udp => "-u",
                    Proto::Sctp => "--sctp-service",
                };
                write!(f, "{opt} {}", SocketAddr::new(*addr, *port))
            }
            ServiceKey::Fwmark { af: Af::Inet, mark } => write!(f, "-f {mark}"),
            ServiceKey::Fwmark {
                af: Af::Inet6,
                mark,
            } => write!(f, "-f {mark} -6"),
        }
    }
}

/// Persistence netmask: IPv4 services keep a raw 32-bit mask (non-contiguous masks are applied
/// literally, §5.1); IPv6 services keep a prefix length 1..=128.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Netmask {
    V4(Ipv4Addr),
    V6(u8),
}

impl Netmask {
    pub fn full(af: Af) -> Netmask {
        match af {
            Af::Inet => Netmask::V4(Ipv4Addr::BROADCAST),
            Af::Inet6 => Netmask::V6(128),
        }
    }
    /// Mask a client address (§5.1). A v4 mask applied to a v6 address (or vice versa) cannot
    /// happen for a validated service; the address is then returned unchanged.
    pub fn apply(&self, addr: IpAddr) -> IpAddr {
        match (self, addr) {
            (Netmask::V4(m), IpAddr::V4(a)) => {
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & u32::from(*m)))
            }
            (Netmask::V6(plen), IpAddr::V6(a)) => {
                let p = (*plen).min(128) as u32;
                let mask: u128 = if p == 0 { 0 } else { u128::MAX << (128 - p) };
                IpAddr::V6((u128::from(a) & mask).into())
            }
            _ => addr,
        }
    }
    pub fn is_full(&self) -> bool {
        match self {
            Netmask::V4(m) => *m == Ipv4Addr::BROADCAST,
            Netmask::V6(p) => *p == 128,
        }
    }
}

/// Service flag bits as in `include/uapi/linux/ip_vs.h` (the sched flags are named per scheduler:
/// sh-fallback/mh-fallback = SCHED1, sh-port/mh-port = SCHED2).
pub mod svc_flags {
    pub const PERSISTENT: u32 = 0x0001;
    pub const HASHED: u32 = 0x0002;
    pub const ONEPACKET: u32 = 0x0004;
    pub const SCHED1: u32 = 0x0008;
    pub const SCHED2: u32 = 0x0010;
    pub const SCHED3: u32 = 0x0020;
    pub const SCHED_MASK: u32 = SCHED1 | SCHED2 | SCHED3;
}

/// Scheduler names the model implements (ipvsadm `-s`).
pub const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "sh", "dh", "mh", "none",
];

/// A virtual service as configured (`ipvsadm -A/-E`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConf {
    pub key: ServiceKey,
    /// One of [`SCHEDULERS`].
    pub scheduler: String,
    /// `svc_flags::SCHED1..3` bits (`-b sh-fallback,sh-port,...`).
    pub sched_flags: u32,
    /// Persistence timeout in seconds (`-p`); `None` = not persistent.
    pub persistence: Option<u32>,
    pub netmask: Netmask,
    /// One-packet scheduling (`-o`).
    pub ops: bool,
    /// Persistence engine (`--pe sip`). Parsed and saved; see the README for what the model does.
    pub pe: Option<String>,
}

impl ServiceConf {
    /// ipvsadm defaults for a key: wlc, not persistent, full mask.
    pub fn new(key: ServiceKey) -> Self {
        ServiceConf {
            key,
            scheduler: "wlc".to_string(),
            sched_flags: 0,
            persistence: None,
            netmask: Netmask::full(key.af()),
            ops: false,
            pe: None,
        }
    }
}

/// Forwarding method (`-g`, `-m`, `-i`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FwdMethod {
    /// Direct routing, `-g` (ipvsadm default).
    Route,
    /// NAT, `-m`.
    Masq,
    /// IP tunnel, `-i`.
    Tunnel,
}

impl FwdMethod {
    /// The word `ipvsadm -L` prints.
    pub fn label(self) -> &'static str {
        match self {
            FwdMethod::Route => "Route",
            FwdMethod::Masq => "Masq",
            FwdMethod::Tunnel => "Tunnel",
        }
    }
    /// DR and TUN entries carry `IP_VS_CONN_F_NOOUTPUT` (no reply seen by the director).
    pub fn no_output(self) -> bool {
        !matches!(self, FwdMethod::Masq)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum TunType {
    #[default]
    Ipip,
    Gue,
    Gre,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum TunCsum {
    #[default]
    NoCsum,
    Csum,
    RemCsum,
}

/// Tunnel options (`--tun-type`, `--tun-port`, `--tun-*csum`); meaningful only with `-i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TunnelConf {
    pub kind: TunType,
    pub port: u16,
    pub csum: TunCsum,
}

/// A real server as configured (`ipvsadm -a/-e`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DestConf {
    pub addr: IpAddr,
    pub port: u16,
    pub fwd: FwdMethod,
    /// 0..=65535 through ipvsadm (the kernel allows up to INT_MAX).
    pub weight: i32,
    /// `-x`: upper connection threshold, 0 = none.
    pub u_threshold: u32,
    /// `-y`: lower connection threshold, 0 = none.
    pub l_threshold: u32,
    pub tunnel: TunnelConf,
}

impl DestConf {
    pub fn sockaddr(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }
}

/// One configuration command, as `ipvsadm` would send it to the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpvsCmd {
    AddService(ServiceConf),
    EditService(ServiceConf),
    DelService(ServiceKey),
    /// `-C`: delete every service.
    Clear,
    AddDest {
        svc: ServiceKey,
        dest: DestConf,
    },
    EditDest {
        svc: ServiceKey,
        dest: DestConf,
    },
    DelDest {
        svc: ServiceKey,
        addr: IpAddr,
        port: u16,
    },
    /// `--set tcp tcpfin udp` in seconds; 0 keeps the current value.
    SetTimeouts {
        tcp: u32,
        tcpfin: u32,
        udp: u32,
    },
    /// `-Z [service]`: zero counters. Has no effect on decisions.
    Zero(Option<ServiceKey>),
}

/// Transmission direction of a packet relative to the director.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Dir {
    /// Client → VIP (the normal case).
    #[default]
    In,
    /// Real server → client (only meaningful for NAT).
    Out,
    /// Not known (a captured frame): decided in the kernel's hook order. `ip_vs_out_hook()`
    /// runs before `ip_vs_in_hook()` at LOCAL_IN (priority `NF_IP_PRI_NAT_SRC - 2` vs `- 1`)
    /// and alone at FORWARD, so a packet the reply lookup (`ip_vs_conn_out_get()`) finds is a
    /// reply (`handle_response()`); any other is client → VIP.
    Any,
}

/// TCP flags the model looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

impl TcpFlags {
    pub const ACK: TcpFlags = TcpFlags {
        syn: false,
        ack: true,
        fin: false,
        rst: false,
    };
    pub const SYN: TcpFlags = TcpFlags {
        syn: true,
        ack: false,
        fin: false,
        rst: false,
    };

    /// Parse trace letters `S`, `A`, `F`, `R` (any order, each at most once, case-insensitive).
    pub fn from_letters(s: &str) -> Result<TcpFlags, String> {
        let mut f = TcpFlags::default();
        for c in s.chars() {
            let slot = match c.to_ascii_uppercase() {
                'S' => &mut f.syn,
                'A' => &mut f.ack,
                'F' => &mut f.fin,
                'R' => &mut f.rst,
                other => {
                    return Err(format!(
                        "unknown TCP flag letter {other:?} (expected S, A, F, R)"
                    ))
                }
            };
            if *slot {
                return Err(format!("TCP flag letter {c:?} given twice"));
            }
            *slot = true;
        }
        Ok(f)
    }
    pub fn letters(&self) -> String {
        let mut s = String::new();
        for (on, c) in [
            (self.syn, 'S'),
            (self.ack, 'A'),
            (self.fin, 'F'),
            (self.rst, 'R'),
        ] {
            if on {
                s.push(c);
            }
        }
        s
    }
}

/// SCTP chunk types the model distinguishes (the first chunk of the packet).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SctpChunk {
    Data,
    Init,
    InitAck,
    Sack,
    Heartbeat,
    HeartbeatAck,
    Abort,
    Shutdown,
    ShutdownAck,
    Error,
    CookieEcho,
    CookieAck,
    ShutdownComplete,
    /// Any other chunk type number.
    Other(u8),
}

impl SctpChunk {
    pub fn from_type(t: u8) -> SctpChunk {
        match t {
            0 => SctpChunk::Data,
            1 => SctpChunk::Init,
            2 => SctpChunk::InitAck,
            3 => SctpChunk::Sack,
            4 => SctpChunk::Heartbeat,
            5 => SctpChunk::HeartbeatAck,
            6 => SctpChunk::Abort,
            7 => SctpChunk::Shutdown,
            8 => SctpChunk::ShutdownAck,
            9 => SctpChunk::Error,
            10 => SctpChunk::CookieEcho,
            11 => SctpChunk::CookieAck,
            14 => SctpChunk::ShutdownComplete,
            n => SctpChunk::Other(n),
        }
    }
    pub fn from_name(s: &str) -> Option<SctpChunk> {
        Some(match s.to_ascii_uppercase().replace('-', "_").as_str() {
            "DATA" => SctpChunk::Data,
            "INIT" => SctpChunk::Init,
            "INIT_ACK" => SctpChunk::InitAck,
            "SACK" => SctpChunk::Sack,
            "HEARTBEAT" => SctpChunk::Heartbeat,
            "HEARTBEAT_ACK" => SctpChunk::HeartbeatAck,
            "ABORT" => SctpChunk::Abort,
            "SHUTDOWN" => SctpChunk::Shutdown,
            "SHUTDOWN_ACK" => SctpChunk::ShutdownAck,
            "ERROR" => SctpChunk::Error,
            "COOKIE_ECHO" => SctpChunk::CookieEcho,
            "COOKIE_ACK" => SctpChunk::CookieAck,
            "SHUTDOWN_COMPLETE" => SctpChunk::ShutdownComplete,
            _ => return None,
        })
    }
}

/// One packet as the model sees it (already parsed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    pub proto: Proto,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub dir: Dir,
    /// Meaningful for TCP.
    pub tcp: TcpFlags,
    /// Meaningful for SCTP: the first chunk.
    pub sctp: SctpChunk,
    /// `Some(m)`: the packet arrives already marked and the mark rules are not consulted.
    pub mark: Option<u32>,
}

impl Packet {
    /// A TCP packet with the given flags, not pre-marked, client → VIP.
    pub fn tcp(src: SocketAddr, dst: SocketAddr, flags: TcpFlags) -> Packet {
        Packet {
            proto: Proto::Tcp,
            src,
            dst,
            dir: Dir::In,
            tcp: flags,
            sctp: SctpChunk::Data,
            mark: None,
        }
    }
    pub fn udp(src: SocketAddr, dst: SocketAddr) -> Packet {
        Packet {
            proto: Proto::Udp,
            src,
            dst,
            dir: Dir::In,
            tcp: TcpFlags::default(),
            sctp: SctpChunk::Data,
            mark: None,
        }
    }
    pub fn sctp(src: SocketAddr, dst: SocketAddr, chunk: SctpChunk) -> Packet {
        Packet {
            proto: Proto::Sctp,
            src,
            dst,
            dir: Dir::In,
            tcp: TcpFlags::default(),
            sctp: chunk,
            mark: None,
        }
    }
    pub fn af(&self) -> Af {
        Af::of(&self.src.ip())
    }
}

/// What happened to a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Sent to a real server (or, for a NAT reply, back to the client).
    Forward,
    /// Accepted to the director's own stack untouched.
    Local,
    /// Silently dropped.
    Drop,
    /// ICMP port unreachable sent, packet dropped.
    Icmp,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Forward => "forward",
            Verdict::Local => "local",
            Verdict::Drop => "drop",
            Verdict::Icmp => "icmp",
        }
    }
}

/// Which part of the model made a forward decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecidedBy {
    /// An existing connection entry.
    Conn,
    /// A new connection through a valid persistence template.
    Template,
    /// A new connection (and template, if persistent) chosen by the scheduler.
    Scheduler,
}

impl DecidedBy {
    pub fn name(self) -> &'static str {
        match self {
            DecidedBy::Conn => "conn",
            DecidedBy::Template => "template",
            DecidedBy::Scheduler => "scheduler",
        }
    }
}

/// The model's decision for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    /// The real server address:port the connection uses (forward only).
    pub dest: Option<SocketAddr>,
    /// The packet's mark after the mark rules.
    pub mark: u32,
    pub by: Option<DecidedBy>,
    /// Why, in a few words (for humans and mismatch reports; not part of the stable output).
    pub reason: &'static str,
}
