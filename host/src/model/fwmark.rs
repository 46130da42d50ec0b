//! fwmark rules: the iptables mangle `MARK` rules that classify packets before IPVS sees them.
//!
//! Semantics (ipvs-semantics.md §2, §3, §8; kernel `net/netfilter/xt_mark.c`, iptables
//! `extensions/libxt_MARK.c`):
//!
//! * A packet reaching IPVS (`LOCAL_IN`, priority 99) has traversed the mangle `PREROUTING` chain
//!   and then the mangle `INPUT` chain of its own family (iptables rules see only IPv4 packets,
//!   ip6tables rules only IPv6). It starts with mark 0.
//! * Rules of a chain are tried in order. Every matching rule's target runs. `MARK` is
//!   non-terminating (`XT_CONTINUE`): `mark = (mark & !mask) ^ value` (`xt_mark.c: mark_tg()`),
//!   and every MARK flavour is stored in that `--set-xmark value/mask` form exactly as
//!   `libxt_MARK.c: MARK_parse()` does (set-mark v/m → v/(m|v); and-mark b → 0/!b;
//!   or-mark b → b/b; xor-mark b → b/0).
//! * `-j ACCEPT` ends the traversal of the current built-in chain (also from inside a user
//!   chain); `-j RETURN` returns from a user chain, or ends a built-in chain (its policy, which
//!   must be ACCEPT, applies). `-j CHAIN` jumps into a user-defined chain of the same family.
//! * `-m mark --mark v/m` compares `(mark & m) == v` against the *current* mark, i.e. it sees
//!   marks set by earlier rules (`xt_mark.c: mark_mt()`).
//! * Rules in FORWARD/OUTPUT/POSTROUTING are kept (for round trips and `-D` numbering) but never
//!   run: no packet on the model's path traverses them.
//!
//! The hot path ([`MarkRules::mark`]) does no allocation: addresses are pre-reduced to
//! `(network, mask)` integers, jumps to chain indices, and the entry chains per family are
//! resolved whenever the rule list changes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::types::{Af, Packet};

/// The built-in chains of the mangle table, in iptables-save order.
pub const BUILTIN_CHAINS: [&str; 5] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];

/// Is `name` one of the mangle table's built-in chains?
pub fn is_builtin_chain(name: &str) -> bool {
    BUILTIN_CHAINS.contains(&name)
}

/// `-s` / `-d`: `(addr & mask) == net`, inverted by `!`. Addresses are held as integers (IPv4 in
/// the low 32 bits); `net` is always already masked, as iptables stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddrMatch {
    pub net: u128,
    pub mask: u128,
    pub invert: bool,
}

impl AddrMatch {
    /// `addr/mask` (mask as an integer of the address's width), normalized like iptables:
    /// the address is masked.
    pub fn new(addr: IpAddr, mask: u128, invert: bool) -> AddrMatch {
        let a = addr_bits(addr);
        let mask = match addr {
            IpAddr::V4(_) => mask & u32::MAX as u128,
            IpAddr::V6(_) => mask,
        };
        AddrMatch {
            net: a & mask,
            mask,
            invert,
        }
    }
    /// Mask with `len` leading one bits for family `af`.
    pub fn prefix_mask(af: Af, len: u8) -> u128 {
        match af {
            Af::Inet => {
                let l = len.min(32) as u32;
                if l == 0 {
                    0
                } else {
                    (u32::MAX << (32 - l)) as u128
                }
            }
            Af::Inet6 => {
                let l = len.min(128) as u32;
                if l == 0 {
                    0
                } else {
                    u128::MAX << (128 - l)
                }
            }
        }
    }
    #[inline]
    pub fn matches(&self, addr: u128) -> bool {
        ((addr & self.mask) == self.net) != self.invert
    }
    /// The prefix length if the mask is contiguous.
    pub fn prefix_len(&self, af: Af) -> Option<u8> {
        let (m, width) = match af {
            Af::Inet => (self.mask << 96, 32),
            Af::Inet6 => (self.mask, 128),
        };
        let ones = m.leading_ones();
        let ones = ones.min(width);
        if AddrMatch::prefix_mask(af, ones as u8) == self.mask {
            Some(ones as u8)
        } else {
            None
        }
    }
    fn write(&self, f: &mut String, af: Af, opt: &str) -> fmt::Result {
        use fmt::Write;
        if self.invert {
            f.push_str(" !");
        }
        write!(f, " {opt} {}/", bits_addr(af, self.net))?;
        match self.prefix_len(af) {
            Some(l) => write!(f, "{l}"),
            None => write!(f, "{}", bits_addr(af, self.mask)),
        }
    }
}

/// An address as an integer (IPv4 in the low 32 bits).
#[inline]
pub fn addr_bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The inverse of [`addr_bits`] for family `af`.
pub fn bits_addr(af: Af, bits: u128) -> IpAddr {
    match af {
        Af::Inet => IpAddr::V4(Ipv4Addr::from(bits as u32)),
        Af::Inet6 => IpAddr::V6(Ipv6Addr::from(bits)),
    }
}

/// `-p proto` (`num` is the IANA number, never 0: `-p all` is no match at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProtoMatch {
    pub num: u8,
    pub invert: bool,
}

/// The name iptables-save prints for a protocol number.
pub fn proto_name(num: u8) -> Option<&'static str> {
    Some(match num {
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        50 => "esp",
        51 => "ah",
        58 => "ipv6-icmp",
        132 => "sctp",
        136 => "udplite",
        _ => return None,
    })
}

/// An inclusive port range (`80`, `1000:2000`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl PortRange {
    #[inline]
    pub fn contains(&self, p: u16) -> bool {
        self.lo <= p && p <= self.hi
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}:{}", self.lo, self.hi)
        }
    }
}

/// A port option of the tcp/udp/sctp match: range and `!`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortMatch {
    pub range: PortRange,
    pub invert: bool,
}

impl PortMatch {
    #[inline]
    fn matches(&self, p: u16) -> bool {
        self.range.contains(p) != self.invert
    }
}

/// Which ports `-m multiport` looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MultiportDir {
    /// `--sports`
    Src,
    /// `--dports`
    Dst,
    /// `--ports`: source or destination.
    Any,
}

/// One `-m` match of a rule (iptables keeps them in the order given; so do we).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Match {
    /// The tcp/udp/sctp match (`-m tcp`, or implicit through `-p tcp --dport ...`). The module is
    /// the rule's protocol, which must be tcp, udp or sctp and not inverted.
    Ports {
        sport: Option<PortMatch>,
        dport: Option<PortMatch>,
    },
    /// `-m multiport [!] --dports|--sports|--ports list`.
    Multiport {
        dir: MultiportDir,
        ports: Vec<PortRange>,
        invert: bool,
    },
    /// `-m mark [!] --mark value[/mask]`: `(mark & mask) == value`.
    Mark { value: u32, mask: u32, invert: bool },
    /// `-m comment --comment text`: always matches.
    Comment(String),
}

impl Match {
    #[inline]
    fn matches(&self, k: &Key, mark: u32) -> bool {
        match self {
            Match::Ports { sport, dport } => {
                sport.is_none_or(|m| m.matches(k.sport)) && dport.is_none_or(|m| m.matches(k.dport))
            }
            Match::Multiport { dir, ports, invert } => {
                let hit = match dir {
                    MultiportDir::Src => ports.iter().any(|r| r.contains(k.sport)),
                    MultiportDir::Dst => ports.iter().any(|r| r.contains(k.dport)),
                    MultiportDir::Any => ports
                        .iter()
                        .any(|r| r.contains(k.sport) || r.contains(k.dport)),
                };
                hit != *invert
            }
            Match::Mark {
                value,
                mask,
                invert,
            } => ((mark & mask) == *value) != *invert,
            Match::Comment(_) => true,
        }
    }
}

/// What a matching rule does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// No `-j`: counters only.
    None,
    /// `-j MARK`, in the kernel's `--set-xmark value/mask` form: `mark = (mark & !mask) ^ value`.
    Mark { value: u32, mask: u32 },
    /// `-j ACCEPT`: stop traversing the current built-in chain.
    Accept,
    /// `-j RETURN`: back to the calling chain (or, in a built-in chain, stop it).
    Return,
    /// `-j CHAIN`: a user-defined chain of the same family.
    Jump(String),
}

impl Target {
    /// `--set-mark value[/mask]` (libxt_MARK.c: mask |= value; no mask = 0xffffffff).
    pub fn set_mark(value: u32, mask: u32) -> Target {
        Target::Mark {
            value,
            mask: mask | value,
        }
    }
    /// `--and-mark bits`.
    pub fn and_mark(bits: u32) -> Target {
        Target::Mark {
            value: 0,
            mask: !bits,
        }
    }
    /// `--or-mark bits`.
    pub fn or_mark(bits: u32) -> Target {
        Target::Mark {
            value: bits,
            mask: bits,
        }
    }
    /// `--xor-mark bits`.
    pub fn xor_mark(bits: u32) -> Target {
        Target::Mark {
            value: bits,
            mask: 0,
        }
    }
}

/// `-i NAME` / `! -i NAME`: the packet came in on interface NAME — or, for a NAME ending in `+`,
/// on one whose name starts with the text before it (`ifname_compare()` with the mask
/// `xtables_parse_interface()` builds; `+` alone is every interface).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IfaceMatch {
    pub name: String,
    pub invert: bool,
}

impl IfaceMatch {
    pub fn matches(&self, iface: &str) -> bool {
        let hit = match self.name.strip_suffix('+') {
            Some(prefix) => iface.starts_with(prefix),
            None => iface == self.name,
        };
        hit != self.invert
    }
}

/// `IFNAMSIZ`: an interface name has at most `IFNAMSIZ - 1` bytes.
pub const IFNAMSIZ: usize = 16;

/// The interface the model's packets come in on unless told otherwise (`--iface`).
pub const DEFAULT_INGRESS: &str = "eth0";

/// One mangle rule (match + target), normalized as iptables stores it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MarkRule {
    /// iptables rules are `Inet`, ip6tables rules `Inet6`; a rule only sees its family's packets.
    pub af: Af,
    pub src: Option<AddrMatch>,
    pub dst: Option<AddrMatch>,
    /// `-i`: decided per rule set, not per packet (every packet comes in on the director's one
    /// ingress interface, [`MarkRules::ingress`]).
    pub iface: Option<IfaceMatch>,
    pub proto: Option<ProtoMatch>,
    pub matches: Vec<Match>,
    pub target: Target,
}

impl MarkRule {
    /// A rule matching every packet of `af`, doing nothing.
    pub fn new(af: Af) -> MarkRule {
        MarkRule {
            af,
            src: None,
            dst: None,
            iface: None,
            proto: None,
            matches: Vec::new(),
            target: Target::None,
        }
    }

    #[inline]
    fn matches(&self, k: &Key, mark: u32) -> bool {
        if let Some(a) = &self.src {
            if !a.matches(k.src) {
                return false;
            }
        }
        if let Some(a) = &self.dst {
            if !a.matches(k.dst) {
                return false;
            }
        }
        if let Some(p) = &self.proto {
            if (k.proto == p.num) == p.invert {
                return false;
            }
        }
        self.matches.iter().all(|m| m.matches(k, mark))
    }

    /// Apply this rule to a packet with the given current mark, as the kernel would, ignoring
    /// jumps and `-i` (`Some(new mark)` if it matched). Useful for tests and tooling.
    pub fn eval(&self, pkt: &Packet, mark: u32) -> Option<u32> {
        let k = Key::of(pkt);
        if k.af != self.af || !self.matches(&k, mark) {
            return None;
        }
        Some(match self.target {
            Target::Mark { value, mask } => (mark & !mask) ^ value,
            _ => mark,
        })
    }
}

/// iptables-save quoting (`xtables_save_string()`): bare if only `[A-Za-z0-9_-]`, else in double
/// quotes with `"`, `\` and `'` escaped by a backslash.
pub fn save_string(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

impl fmt::Display for MarkRule {
    /// The rule specification as iptables-save prints it after `-A CHAIN`, e.g.
    /// `-d 192.0.2.10/32 -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x1/0xffffffff`.
    /// The MARK target is always printed in its stored `--set-xmark value/mask` form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        let mut s = String::new();
        if let Some(a) = &self.src {
            a.write(&mut s, self.af, "-s")?;
        }
        if let Some(a) = &self.dst {
            a.write(&mut s, self.af, "-d")?;
        }
        if let Some(i) = &self.iface {
            if i.invert {
                s.push_str(" !");
            }
            write!(s, " -i {}", i.name)?;
        }
        let module = self.proto.and_then(|p| proto_name(p.num)).unwrap_or("tcp");
        if let Some(p) = &self.proto {
            if p.invert {
                s.push_str(" !");
            }
            match proto_name(p.num) {
                Some(n) => write!(s, " -p {n}")?,
                None => write!(s, " -p {}", p.num)?,
            }
        }
        for m in &self.matches {
            match m {
                Match::Ports { sport, dport } => {
                    write!(s, " -m {module}")?;
                    for (opt, pm) in [("--sport", sport), ("--dport", dport)] {
                        if let Some(pm) = pm {
                            if pm.invert {
                                s.push_str(" !");
                            }
                            write!(s, " {opt} {}", pm.range)?;
                        }
                    }
                }
                Match::Multiport { dir, ports, invert } => {
                    s.push_str(" -m multiport");
                    if *invert {
                        s.push_str(" !");
                    }
                    let opt = match dir {
                        MultiportDir::Src => "--sports",
                        MultiportDir::Dst => "--dports",
                        MultiportDir::Any => "--ports",
                    };
                    let list: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
                    write!(s, " {opt} {}", list.join(","))?;
                }
                Match::Mark {
                    value,
                    mask,
                    invert,
                } => {
                    s.push_str(" -m mark");
                    if *invert {
                        s.push_str(" !");
                    }
                    write!(s, " --mark {value:#x}")?;
                    if *mask != u32::MAX {
                        write!(s, "/{mask:#x}")?;
                    }
                }
                Match::Comment(c) => write!(s, " -m comment --comment {}", save_string(c))?,
            }
        }
        match &self.target {
            Target::None => {}
            Target::Mark { value, mask } => write!(s, " -j MARK --set-xmark {value:#x}/{mask:#x}")?,
            Target::Accept => s.push_str(" -j ACCEPT"),
            Target::Return => s.push_str(" -j RETURN"),
            Target::Jump(c) => write!(s, " -j {c}")?,
        }
        f.write_str(s.trim_start())
    }
}

/// A change to the rule list, as an `iptables -t mangle ...` command says it.
///
/// `-D CHAIN num` and `-F` carry the family the command was given for (`iptables` vs
/// `ip6tables`): the IPv4 and IPv6 tables are separate, as in Linux.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarkCmd {
    /// `-A CHAIN rule`
    Append { chain: String, rule: MarkRule },
    /// `-I CHAIN [pos] rule` (pos is 1-based, default 1)
    Insert {
        chain: String,
        pos: usize,
        rule: MarkRule,
    },
    /// `-D CHAIN rule` (first rule equal to it)
    Delete { chain: String, rule: MarkRule },
    /// `-D CHAIN num` (1-based)
    DeleteNum { chain: String, num: usize, af: Af },
    /// `-F [CHAIN]`
    Flush { chain: Option<String>, af: Af },
    /// `-R CHAIN num rule` (1-based): the rule at `num` is replaced.
    Replace {
        chain: String,
        num: usize,
        rule: MarkRule,
    },
    /// `-N CHAIN`: a new user-defined chain.
    NewChain { chain: String, af: Af },
    /// `-X [CHAIN]`: delete an empty, unreferenced user-defined chain (all of them without a
    /// name).
    DeleteChain { chain: Option<String>, af: Af },
}

/// One chain of one family's mangle table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub af: Af,
    pub name: String,
    pub rules: Vec<MarkRule>,
}

/// Compiled form of one rule: resolved jump target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    None,
    Mark(u32, u32),
    Accept,
    Return,
    Jump(u32),
}

const NO_CHAIN: u32 = u32::MAX;

/// The ordered mark rules of the mangle table (PREROUTING, then INPUT), per family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkRules {
    /// Chains in creation order (built-ins are created on first use).
    chains: Vec<Chain>,
    /// Compiled actions, parallel to `chains[i].rules`.
    acts: Vec<Vec<Act>>,
    /// `[af][0=PREROUTING, 1=INPUT]` chain index, or `NO_CHAIN`.
    entry: [[u32; 2]; 2],
    /// Number of rules in the entry chains (0 → every packet keeps mark 0 at once).
    live: usize,
    /// The interface every packet comes in on (`-i` matches it): set, or the first one a rule
    /// named (fixed from then on); `None`: [`DEFAULT_INGRESS`] until a rule names one.
    ingress: Option<String>,
    /// Parallel to `chains[i].rules`: the rule's `-i` matches `ingress` (or it has none).
    on: Vec<Vec<bool>>,
}

/// The packet fields rules look at, extracted once per packet.
#[derive(Clone, Copy, Debug)]
struct Key {
    af: Af,
    proto: u8,
    src: u128,
    dst: u128,
    sport: u16,
    dport: u16,
}

impl Key {
    #[inline]
    fn of(pkt: &Packet) -> Key {
        Key {
            af: pkt.af(),
            proto: pkt.proto.number(),
            src: addr_bits(pkt.src.ip()),
            dst: addr_bits(pkt.dst.ip()),
            sport: pkt.src.port(),
            dport: pkt.dst.port(),
        }
    }
}

fn af_idx(af: Af) -> usize {
    match af {
        Af::Inet => 0,
        Af::Inet6 => 1,
    }
}

enum Flow {
    Continue,
    Accept,
}

impl Default for MarkRules {
    fn default() -> Self {
        MarkRules {
            chains: Vec::new(),
            acts: Vec::new(),
            entry: [[NO_CHAIN; 2]; 2],
            live: 0,
            ingress: None,
            on: Vec::new(),
        }
    }
}

impl MarkRules {
    pub fn new() -> Self {
        MarkRules::default()
    }

    /// The interface every packet comes in on (what `-i` is matched against): the one set by
    /// [`MarkRules::set_ingress`], else the first one a rule named with `-i` (not inverted, no
    /// `+`; fixed once chosen), else [`DEFAULT_INGRESS`]. The model is a director with one
    /// ingress interface (the card's port).
    pub fn ingress(&self) -> &str {
        self.ingress.as_deref().unwrap_or(DEFAULT_INGRESS)
    }

    /// Packets come in on `name` from now on.
    pub fn set_ingress(&mut self, name: &str) {
        self.ingress = Some(name.to_string());
        self.compile_lenient();
    }

    /// Whether a rule's `-i` (if any) matches the ingress interface: a rule whose `-i` does
    /// not never matches.
    pub fn rule_on(&self, r: &MarkRule) -> bool {
        r.iface.as_ref().is_none_or(|m| m.matches(self.ingress()))
    }

    /// The first interface a rule names with `-i` (not inverted, no `+`, not the loopback
    /// `lo`, which traffic to a virtual service never comes in on), in chain order.
    pub fn first_named_iface(&self) -> Option<&str> {
        self.chains
            .iter()
            .flat_map(|c| &c.rules)
            .filter_map(|r| r.iface.as_ref())
            .find(|m| !m.invert && !m.name.ends_with('+') && m.name != "lo")
            .map(|m| m.name.as_str())
    }

    /// The mark a packet carries when it reaches IPVS (it arrives with mark 0). A packet that
    /// arrives pre-marked (`pkt.mark = Some(m)`) keeps `m`: the rules are not consulted.
    #[inline]
    pub fn mark(&self, pkt: &Packet) -> u32 {
        if let Some(m) = pkt.mark {
            return m;
        }
        if self.live == 0 {
            return 0;
        }
        let k = Key::of(pkt);
        let mut mark = 0u32;
        for &ci in &self.entry[af_idx(k.af)] {
            if ci != NO_CHAIN {
                self.run(ci as usize, &k, &mut mark, 0);
            }
        }
        mark
    }

    fn run(&self, ci: usize, k: &Key, mark: &mut u32, depth: usize) -> Flow {
        // Loops are rejected by `apply`/`parse_ruleset`; this guard only protects against a
        // loop assembled by `extend` from two files (then the looping jump is not taken).
        if depth > self.chains.len() {
            return Flow::Continue;
        }
        let rules = &self.chains[ci].rules;
        let acts = &self.acts[ci];
        for ((r, a), on) in rules.iter().zip(acts).zip(&self.on[ci]) {
            if !on || !r.matches(k, *mark) {
                continue;
            }
            match *a {
                Act::None => {}
                Act::Mark(value, mask) => *mark = (*mark & !mask) ^ value,
                Act::Accept => return Flow::Accept,
                Act::Return => return Flow::Continue,
                Act::Jump(j) => {
                    if let Flow::Accept = self.run(j as usize, k, mark, depth + 1) {
                        return Flow::Accept;
                    }
                }
            }
        }
        Flow::Continue
    }

    /// Total number of rules in all chains of both families.
    pub fn len(&self) -> usize {
        self.chains.iter().map(|c| c.rules.len()).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// All chains (built-in ones appear once used), in creation order.
    pub fn chains(&self) -> &[Chain] {
        &self.chains
    }
    /// The rules of one chain (`None` if the chain does not exist).
    pub fn rules(&self, af: Af, chain: &str) -> Option<&[MarkRule]> {
        self.find(af, chain)
            .map(|i| self.chains[i].rules.as_slice())
    }

    fn find(&self, af: Af, name: &str) -> Option<usize> {
        self.chains
            .iter()
            .position(|c| c.af == af && c.name == name)
    }

    /// Create a user-defined chain (`-N`, or `:NAME - [0:0]` in iptables-save text).
    pub fn new_chain(&mut self, af: Af, name: &str) -> Result<(), String> {
        check_chain_name(name)?;
        if is_builtin_chain(name) || self.find(af, name).is_some() {
            return Err(format!("chain `{name}` already exists"));
        }
        self.chains.push(Chain {
            af,
            name: name.to_string(),
            rules: Vec::new(),
        });
        self.compile_lenient();
        Ok(())
    }

    /// The index of chain `name` of `af`, creating a built-in chain on first use.
    fn chain_mut(&mut self, af: Af, name: &str) -> Result<usize, String> {
        if let Some(i) = self.find(af, name) {
            return Ok(i);
        }
        if is_builtin_chain(name) {
            self.chains.push(Chain {
                af,
                name: name.to_string(),
                rules: Vec::new(),
            });
            self.acts.push(Vec::new());
            return Ok(self.chains.len() - 1);
        }
        Err(format!(
            "no chain `{name}` (user-defined chains must be declared first)"
        ))
    }

    fn check_target(&self, af: Af, rule: &MarkRule) -> Result<(), String> {
        if rule.af != af {
            return Err("rule family differs from the command's family".to_string());
        }
        if let Target::Jump(t) = &rule.target {
            if is_builtin_chain(t) {
                return Err(format!("cannot jump to built-in chain `{t}`"));
            }
            if self.find(af, t).is_none() {
                return Err(format!("unsupported target or unknown chain `{t}`"));
            }
        }
        Ok(())
    }

    /// Apply one rule-list change; nothing changes on error.
    pub fn apply(&mut self, cmd: MarkCmd) -> Result<(), String> {
        let mut next = self.clone();
        next.apply_raw(cmd)?;
        next.compile()?;
        *self = next;
        Ok(())
    }

    /// Apply without recompiling (the caller compiles).
    pub(crate) fn apply_raw(&mut self, cmd: MarkCmd) -> Result<(), String> {
        match cmd {
            MarkCmd::Append { chain, rule } => {
                self.check_target(rule.af, &rule)?;
                let i = self.chain_mut(rule.af, &chain)?;
                self.chains[i].rules.push(rule);
            }
            MarkCmd::Insert { chain, pos, rule } => {
                self.check_target(rule.af, &rule)?;
                let i = self.chain_mut(rule.af, &chain)?;
                let len = self.chains[i].rules.len();
                if pos == 0 || pos > len + 1 {
                    return Err(format!(
                        "index of insertion too big: {pos} (chain `{chain}` has {len} rules)"
                    ));
                }
                self.chains[i].rules.insert(pos - 1, rule);
            }
            MarkCmd::Delete { chain, rule } => {
                let i = self
                    .find(rule.af, &chain)
                    .ok_or_else(|| format!("no chain `{chain}`"))?;
                let at = self.chains[i]
                    .rules
                    .iter()
                    .position(|r| *r == rule)
                    .ok_or_else(|| {
                        format!("bad rule (does a matching rule exist in chain `{chain}`?)")
                    })?;
                self.chains[i].rules.remove(at);
            }
            MarkCmd::DeleteNum { chain, num, af } => {
                let i = self
                    .find(af, &chain)
                    .ok_or_else(|| format!("no chain `{chain}`"))?;
                let len = self.chains[i].rules.len();
                if num == 0 || num > len {
                    return Err(format!(
                        "index of deletion too big: {num} (chain `{chain}` has {len} rules)"
                    ));
                }
                self.chains[i].rules.remove(num - 1);
            }
            MarkCmd::Flush { chain: None, af } => {
                for c in self.chains.iter_mut().filter(|c| c.af == af) {
                    c.rules.clear();
                }
            }
            MarkCmd::Flush {
                chain: Some(chain),
                af,
            } => match self.find(af, &chain) {
                Some(i) => self.chains[i].rules.clear(),
                None if is_builtin_chain(&chain) => {}
                None => return Err(format!("no chain `{chain}`")),
            },
            MarkCmd::Replace { chain, num, rule } => {
                self.check_target(rule.af, &rule)?;
                let i = match self.find(rule.af, &chain) {
                    Some(i) => i,
                    None if is_builtin_chain(&chain) => self.chain_mut(rule.af, &chain)?,
                    None => return Err(format!("no chain `{chain}`")),
                };
                let len = self.chains[i].rules.len();
                if num == 0 || num > len {
                    return Err(format!(
                        "index of replacement too big: {num} (chain `{chain}` has {len} rules)"
                    ));
                }
                self.chains[i].rules[num - 1] = rule;
            }
            MarkCmd::NewChain { chain, af } => {
                check_chain_name(&chain)?;
                if is_builtin_chain(&chain) || self.find(af, &chain).is_some() {
                    return Err(format!("chain `{chain}` already exists"));
                }
                self.chains.push(Chain {
                    af,
                    name: chain,
                    rules: Vec::new(),
                });
                self.acts.push(Vec::new());
            }
            MarkCmd::DeleteChain { chain, af } => {
                // libiptc iptc_delete_chain(): built-in chains cannot go; a chain must be empty
                // (ENOTEMPTY) and no rule may jump to it (EMLINK). Without a name every
                // user-defined chain of the table goes, or none.
                let names: Vec<String> = match chain {
                    Some(c) => {
                        if is_builtin_chain(&c) {
                            return Err(format!("cannot delete built-in chain `{c}`"));
                        }
                        if self.find(af, &c).is_none() {
                            return Err(format!("no chain `{c}`"));
                        }
                        vec![c]
                    }
                    None => self
                        .chains
                        .iter()
                        .filter(|c| c.af == af && !is_builtin_chain(&c.name))
                        .map(|c| c.name.clone())
                        .collect(),
                };
                for name in &names {
                    let i = self.find(af, name).expect("listed");
                    if !self.chains[i].rules.is_empty() {
                        return Err(format!("chain `{name}` is not empty"));
                    }
                    let referenced = self.chains.iter().any(|c| {
                        c.af == af
                            && c.rules
                                .iter()
                                .any(|r| matches!(&r.target, Target::Jump(t) if t == name))
                    });
                    if referenced {
                        return Err(format!("chain `{name}` is referenced by a rule"));
                    }
                }
                for name in &names {
                    let i = self.find(af, name).expect("listed");
                    self.chains.remove(i);
                    self.acts.remove(i);
                }
            }
        }
        Ok(())
    }

    /// Append all rules of `other` (a second `--marks` file): chain by chain, user-defined chains
    /// of the same family and name are merged.
    pub fn extend(&mut self, other: MarkRules) {
        for c in other.chains {
            let i = match self.find(c.af, &c.name) {
                Some(i) => i,
                None => {
                    self.chains.push(Chain {
                        af: c.af,
                        name: c.name.clone(),
                        rules: Vec::new(),
                    });
                    self.chains.len() - 1
                }
            };
            self.chains[i].rules.extend(c.rules);
        }
        self.compile_lenient();
    }

    fn compile_lenient(&mut self) {
        let _ = self.compile();
    }

    /// Resolve jumps and entry chains; reject loops (iptables: "Too many levels of symbolic
    /// links"/ELOOP at commit). On a loop error the compiled form is still usable.
    pub(crate) fn compile(&mut self) -> Result<(), String> {
        let mut acts = Vec::with_capacity(self.chains.len());
        let mut unresolved = None;
        for c in &self.chains {
            let mut v = Vec::with_capacity(c.rules.len());
            for r in &c.rules {
                v.push(match &r.target {
                    Target::None => Act::None,
                    Target::Mark { value, mask } => Act::Mark(*value, *mask),
                    Target::Accept => Act::Accept,
                    Target::Return => Act::Return,
                    Target::Jump(t) => match self.find(c.af, t) {
                        Some(j) => Act::Jump(j as u32),
                        None => {
                            unresolved.get_or_insert_with(|| t.clone());
                            Act::None
                        }
                    },
                });
            }
            acts.push(v);
        }
        self.acts = acts;
        if self.ingress.is_none() {
            self.ingress = self.first_named_iface().map(str::to_string);
        }
        self.on = self
            .chains
            .iter()
            .map(|c| c.rules.iter().map(|r| self.rule_on(r)).collect())
            .collect();
        self.entry = [[NO_CHAIN; 2]; 2];
        self.live = 0;
        for af in [Af::Inet, Af::Inet6] {
            for (slot, name) in ["PREROUTING", "INPUT"].iter().enumerate() {
                if let Some(i) = self.find(af, name) {
                    self.entry[af_idx(af)][slot] = i as u32;
                    self.live += self.chains[i].rules.len();
                }
            }
        }
        if let Some(t) = unresolved {
            return Err(format!("jump to unknown chain `{t}`"));
        }
        // Loop check: DFS colouring over jump edges.
        let n = self.chains.len();
        let mut state = vec![0u8; n];
        fn dfs(ms: &MarkRules, i: usize, state: &mut [u8]) -> Result<(), String> {
            state[i] = 1;
            for a in &ms.acts[i] {
                if let Act::Jump(j) = *a {
                    let j = j as usize;
                    match state[j] {
                        1 => {
                            return Err(format!(
                                "loop: chain `{}` jumps back into `{}`",
                                ms.chains[i].name, ms.chains[j].name
                            ))
                        }
                        0 => dfs(ms, j, state)?,
                        _ => {}
                    }
                }
            }
            state[i] = 2;
            Ok(())
        }
        for i in 0..n {
            if state[i] == 0 {
                dfs(self, i, &mut state)?;
            }
        }
        Ok(())
    }

    /// This family's chains as iptables-save text (`*mangle`, chain lines, `-A` rules, `COMMIT`),
    /// which [`crate::config::iptables::parse_ruleset`] reads back.
    pub fn save(&self, af: Af) -> String {
        let mut out = String::new();
        out.push_str(match af {
            Af::Inet => "# Generated by iptables-save (lvsnic)\n",
            Af::Inet6 => "# Generated by ip6tables-save (lvsnic)\n",
        });
        out.push_str("*mangle\n");
        for name in BUILTIN_CHAINS {
            out.push_str(&format!(":{name} ACCEPT [0:0]\n"));
        }
        for c in self
            .chains
            .iter()
            .filter(|c| c.af == af && !is_builtin_chain(&c.name))
        {
            out.push_str(&format!(":{} - [0:0]\n", c.name));
        }
        for c in self.chains.iter().filter(|c| c.af == af) {
            for r in &c.rules {
                out.push_str(&format!("-A {} {}\n", c.name, r).replace(" \n", "\n"));
            }
        }
        out.push_str("COMMIT\n");
        out
    }
}

/// iptables chain names: 1..=28 characters, no whitespace, not starting with `-` or `!`.
pub fn check_chain_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 28 {
        return Err(format!("invalid chain name `{name}` (1 to 28 characters)"));
    }
    if name.starts_with('-') || name.starts_with('!') || name.chars().any(|c| c.is_whitespace()) {
        return Err(format!("invalid chain name `{name}`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::iptables::parse_command;
    use crate::model::types::{Packet, TcpFlags};
    use proptest::prelude::*;
    use std::net::SocketAddr;

    fn tcp(src: &str, dst: &str) -> Packet {
        Packet::tcp(
            src.parse::<SocketAddr>().unwrap(),
            dst.parse::<SocketAddr>().unwrap(),
            TcpFlags::SYN,
        )
    }
    fn udp(src: &str, dst: &str) -> Packet {
        Packet::udp(
            src.parse::<SocketAddr>().unwrap(),
            dst.parse::<SocketAddr>().unwrap(),
        )
    }
    /// Build a rule list from `iptables -t mangle ...` lines of family `af`.
    fn rules(af: Af, lines: &[&str]) -> MarkRules {
        let mut r = MarkRules::new();
        for l in lines {
            r.apply(parse_command(&format!("-t mangle {l}"), af).unwrap())
                .unwrap();
        }
        r
    }

    #[test]
    fn empty_rules_leave_mark_zero_and_premarked_packets_keep_theirs() {
        let r = MarkRules::new();
        let p = tcp("198.51.100.1:1234", "192.0.2.10:80");
        assert_eq!(r.mark(&p), 0);
        let r = rules(Af::Inet, &["-A PREROUTING -j MARK --set-mark 7"]);
        assert_eq!(r.mark(&p), 7);
        // types.rs: `Some(m)` = pre-marked, rules not consulted.
        assert_eq!(r.mark(&Packet { mark: Some(3), ..p }), 3);
        assert_eq!(MarkRules::default(), MarkRules::new());
    }

    /// xt_MARK is non-terminating (XT_CONTINUE): both matching rules apply, in order.
    #[test]
    fn mark_target_is_non_terminating_and_rules_compose_in_order() {
        let r = rules(
            Af::Inet,
            &[
                "-A PREROUTING -p tcp -j MARK --set-mark 0x1",
                "-A PREROUTING -p tcp --dport 443 -j MARK --or-mark 0x100",
            ],
        );
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.10:443")), 0x101);
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.10:80")), 0x1);
        assert_eq!(r.mark(&udp("198.51.100.1:1000", "192.0.2.10:443")), 0);
        // Order matters: a later set-mark overwrites an earlier one.
        let r = rules(
            Af::Inet,
            &[
                "-A PREROUTING -j MARK --set-mark 5",
                "-A PREROUTING -j MARK --set-mark 9",
            ],
        );
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.10:443")), 9);
        // PREROUTING runs before INPUT (both before IPVS at LOCAL_IN, §2).
        let r = rules(
            Af::Inet,
            &[
                "-A INPUT -j MARK --xor-mark 0x3",
                "-A PREROUTING -j MARK --set-mark 0x1",
            ],
        );
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.10:443")), 0x2);
    }

    /// The MARK flavours against their iptables(8)/iptables-extensions(8) definitions, written
    /// independently of the xmark encoding: set-mark v/m "zeroes the bits in m and ORs v",
    /// and/or/xor are the plain bit operations, set-xmark v/m "zeroes m and XORs v".
    #[test]
    fn mark_flavours_match_iptables_extensions_definitions() {
        let start = 0xdead_beef_u32;
        let p = tcp("198.51.100.1:1000", "192.0.2.10:80");
        let cases: &[(&str, u32)] = &[
            ("--set-mark 0x1", 0x1),
            ("--set-mark 0x10/0xf0", (start & !0xf0) | 0x10),
            ("--set-xmark 0x11/0xf0", (start & !0xf0) ^ 0x11),
            ("--and-mark 0xffff", start & 0xffff),
            ("--or-mark 0x1", start | 1),
            ("--xor-mark 0xff", start ^ 0xff),
            ("--set-mark 0", 0),
        ];
        for (opt, want) in cases {
            let r = rules(
                Af::Inet,
                &[
                    &format!("-A PREROUTING -j MARK --set-mark {start:#x}"),
                    &format!("-A PREROUTING -j MARK {opt}"),
                ],
            );
            assert_eq!(r.mark(&p), *want, "{opt}");
        }
    }

    proptest! {
        #[test]
        fn xmark_encodings_equal_bit_operations(x: u32, v: u32, m: u32) {
            let ap = |t: Target| match t { Target::Mark { value, mask } => (x & !mask) ^ value, _ => unreachable!() };
            prop_assert_eq!(ap(Target::set_mark(v, m)), (x & !m) | v);
            prop_assert_eq!(ap(Target::set_mark(v, u32::MAX)), v);
            prop_assert_eq!(ap(Target::and_mark(v)), x & v);
            prop_assert_eq!(ap(Target::or_mark(v)), x | v);
            prop_assert_eq!(ap(Target::xor_mark(v)), x ^ v);
        }
    }

    /// xt_mark.c mark_mt() reads skb->mark as it is *now*: marks set by earlier rules count.
    #[test]
    fn mark_match_sees_mark_set_by_earlier_rule() {
        let r = rules(
            Af::Inet,
            &[
                "-A PREROUTING -p tcp --dport 80 -j MARK --set-mark 0x1",
                "-A PREROUTING -m mark --mark 0x1 -j MARK --or-mark 0x20",
                "-A PREROUTING -m mark ! --mark 0x0/0xff -j MARK --or-mark 0x4000",
            ],
        );
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.10:80")), 0x4021);
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.10:81")), 0);
    }

    #[test]
    fn accept_stops_the_chain_but_keeps_the_mark_and_input_still_runs() {
        let r = rules(
            Af::Inet,
            &[
                "-A PREROUTING -d 192.0.2.10 -j MARK --set-mark 1",
                "-A PREROUTING -d 192.0.2.10 -j ACCEPT",
                "-A PREROUTING -j MARK --set-mark 2",
                "-A INPUT -j MARK --or-mark 0x10",
            ],
        );
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.10:80")), 0x11);
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.11:80")), 0x12);
    }

    #[test]
    fn user_chains_jump_return_and_accept() {
        let mut r = MarkRules::new();
        r.new_chain(Af::Inet, "LVS").unwrap();
        for l in [
            "-A LVS -p udp -j RETURN",
            "-A LVS -j MARK --set-mark 0x5",
            "-A LVS --dst 192.0.2.99 -j ACCEPT",
            "-A LVS -j MARK --or-mark 0x100",
            "-A PREROUTING -j LVS",
            "-A PREROUTING -j MARK --or-mark 0x1000",
        ] {
            r.apply(parse_command(&format!("-t mangle {l}"), Af::Inet).unwrap())
                .unwrap();
        }
        assert_eq!(r.mark(&udp("198.51.100.1:1000", "192.0.2.10:53")), 0x1000); // RETURN → caller continues
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.10:80")), 0x1105);
        // ACCEPT inside a user chain ends PREROUTING as a whole.
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.99:80")), 0x5);
        // A jump to an undeclared chain is an error, and changes nothing.
        let before = r.clone();
        assert!(r
            .apply(parse_command("-t mangle -A PREROUTING -j NOPE", Af::Inet).unwrap())
            .is_err());
        assert_eq!(r, before);
        // A loop is rejected.
        r.new_chain(Af::Inet, "B").unwrap();
        r.apply(parse_command("-t mangle -A LVS -j B", Af::Inet).unwrap())
            .unwrap();
        let e = r
            .apply(parse_command("-t mangle -A B -j LVS", Af::Inet).unwrap())
            .unwrap_err();
        assert!(e.contains("loop"), "{e}");
    }

    /// §8: an iptables rule sees only IPv4 packets, an ip6tables rule only IPv6 packets.
    #[test]
    fn families_are_separate() {
        let mut r = rules(Af::Inet, &["-A PREROUTING -p tcp -j MARK --set-mark 1"]);
        r.extend(rules(
            Af::Inet6,
            &["-A PREROUTING -p tcp -j MARK --set-mark 2"],
        ));
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.10:80")), 1);
        assert_eq!(r.mark(&tcp("[2001:db8::1]:1000", "[2001:db8::10]:80")), 2);
        // -F with the IPv6 family flushes only the IPv6 table.
        r.apply(MarkCmd::Flush {
            chain: None,
            af: Af::Inet6,
        })
        .unwrap();
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.10:80")), 1);
        assert_eq!(r.mark(&tcp("[2001:db8::1]:1000", "[2001:db8::10]:80")), 0);
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn chains_not_on_the_local_in_path_do_not_mark() {
        let r = rules(
            Af::Inet,
            &[
                "-A FORWARD -j MARK --set-mark 1",
                "-A OUTPUT -j MARK --set-mark 2",
                "-A POSTROUTING -j MARK --set-mark 3",
            ],
        );
        assert_eq!(r.len(), 3);
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.10:80")), 0);
    }

    #[test]
    fn negations_and_prefixes() {
        let r = rules(
            Af::Inet,
            &[
                "-A PREROUTING ! -s 10.0.0.0/8 -j MARK --or-mark 0x1",
                "-A PREROUTING -s ! 198.51.100.0/24 -j MARK --or-mark 0x2",
                "-A PREROUTING ! -p tcp -j MARK --or-mark 0x4",
                "-A PREROUTING -p tcp ! --dport 80 -j MARK --or-mark 0x8",
                "-A PREROUTING -d 192.0.2.0/255.255.255.0 -j MARK --or-mark 0x10",
            ],
        );
        assert_eq!(r.mark(&tcp("10.1.2.3:1000", "192.0.2.10:80")), 0x2 | 0x10);
        assert_eq!(
            r.mark(&tcp("198.51.100.7:1000", "192.0.2.10:80")),
            0x1 | 0x10
        );
        assert_eq!(
            r.mark(&udp("198.51.100.7:1000", "203.0.113.1:80")),
            0x1 | 0x4
        );
        assert_eq!(
            r.mark(&tcp("198.51.100.7:1000", "203.0.113.1:22")),
            0x1 | 0x8
        );
    }

    #[test]
    fn port_ranges_and_multiport() {
        let r = rules(
            Af::Inet,
            &[
                "-A PREROUTING -p tcp -m tcp --dport 1000:2000 -j MARK --or-mark 0x1",
                "-A PREROUTING -p udp --sport :1023 -j MARK --or-mark 0x2",
                "-A PREROUTING -p tcp --sport 60000: -j MARK --or-mark 0x4",
                "-A PREROUTING -p tcp -m multiport --dports 80,443,8000:8080 -j MARK --or-mark 0x8",
                "-A PREROUTING -p sctp -m multiport ! --ports 5000 -j MARK --or-mark 0x10",
            ],
        );
        assert_eq!(
            r.mark(&tcp("198.51.100.1:60000", "192.0.2.10:1000")),
            0x1 | 0x4
        );
        assert_eq!(r.mark(&tcp("198.51.100.1:59999", "192.0.2.10:2001")), 0);
        assert_eq!(r.mark(&udp("198.51.100.1:1023", "192.0.2.10:53")), 0x2);
        assert_eq!(r.mark(&udp("198.51.100.1:1024", "192.0.2.10:53")), 0);
        assert_eq!(r.mark(&tcp("198.51.100.1:1024", "192.0.2.10:443")), 0x8);
        assert_eq!(r.mark(&tcp("198.51.100.1:1024", "192.0.2.10:8080")), 0x8);
        assert_eq!(r.mark(&tcp("198.51.100.1:1024", "192.0.2.10:8081")), 0);
        let s = |a: &str, b: &str| {
            Packet::sctp(
                a.parse().unwrap(),
                b.parse().unwrap(),
                crate::model::types::SctpChunk::Init,
            )
        };
        assert_eq!(r.mark(&s("198.51.100.1:5000", "192.0.2.10:9")), 0); // --ports: either side
        assert_eq!(r.mark(&s("198.51.100.1:5001", "192.0.2.10:9")), 0x10);
    }

    #[test]
    fn insert_positions_and_delete_by_spec_and_number() {
        let af = Af::Inet;
        let cmd = |l: &str| parse_command(&format!("iptables -t mangle {l}"), af).unwrap();
        let mut r = MarkRules::new();
        r.apply(cmd("-A PREROUTING -j MARK --set-mark 1")).unwrap();
        r.apply(cmd("-I PREROUTING -j MARK --set-mark 2")).unwrap(); // default position 1
        r.apply(cmd("-I PREROUTING 3 -j MARK --set-mark 3"))
            .unwrap(); // len+1 is allowed
        r.apply(cmd("-I PREROUTING 2 -j MARK --set-mark 4"))
            .unwrap();
        let order: Vec<u32> = r
            .rules(af, "PREROUTING")
            .unwrap()
            .iter()
            .map(|x| match x.target {
                Target::Mark { value, .. } => value,
                _ => 0,
            })
            .collect();
        assert_eq!(order, vec![2, 4, 1, 3]);
        assert!(r
            .apply(cmd("-I PREROUTING 6 -j MARK --set-mark 5"))
            .is_err());
        // The last matching MARK wins: rule 3 (set-mark 3) is last.
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.10:80")), 3);
        // -D by spec compares the normalized rule: --set-xmark 0x1/0xffffffff == --set-mark 1.
        r.apply(cmd("-D PREROUTING -j MARK --set-xmark 0x1/0xffffffff"))
            .unwrap();
        assert!(r.apply(cmd("-D PREROUTING -j MARK --set-mark 1")).is_err());
        r.apply(cmd("-D PREROUTING 3")).unwrap(); // removes set-mark 3
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.10:80")), 4);
        assert!(r.apply(cmd("-D PREROUTING 3")).is_err());
        r.apply(cmd("-F PREROUTING")).unwrap();
        assert_eq!(r.len(), 0);
        assert_eq!(r.mark(&tcp("198.51.100.1:1000", "192.0.2.10:80")), 0);
    }

    #[test]
    fn delete_matches_address_normalized_like_iptables() {
        let af = Af::Inet;
        let cmd = |l: &str| parse_command(&format!("-t mangle {l}"), af).unwrap();
        let mut r = MarkRules::new();
        r.apply(cmd(
            "-A PREROUTING -s 10.1.2.3/8 -p tcp --dport 80 -j MARK --set-mark 1",
        ))
        .unwrap();
        r.apply(cmd(
            "-D PREROUTING -s 10.0.0.0/8 -p 6 -m tcp --dport 80 -j MARK --set-xmark 1/0xffffffff",
        ))
        .unwrap();
        assert!(r.is_empty());
    }

    #[test]
    fn display_prints_iptables_save_form() {
        let c = parse_command(
            "-t mangle -A PREROUTING -d 192.0.2.10 -p tcp -m multiport --dports 80,443 -m comment --comment \"web VIP\" -j MARK --set-mark 1",
            Af::Inet,
        )
        .unwrap();
        let MarkCmd::Append { rule, .. } = c else {
            panic!()
        };
        assert_eq!(
            rule.to_string(),
            "-d 192.0.2.10/32 -p tcp -m multiport --dports 80,443 -m comment --comment \"web VIP\" -j MARK --set-xmark 0x1/0xffffffff"
        );
        let c = parse_command(
            "-t mangle -A PREROUTING -p udp ! --sport 53 -m mark ! --mark 1/0xf -j ACCEPT",
            Af::Inet,
        )
        .unwrap();
        let MarkCmd::Append { rule, .. } = c else {
            panic!()
        };
        assert_eq!(
            rule.to_string(),
            "-p udp -m udp ! --sport 53 -m mark ! --mark 0x1/0xf -j ACCEPT"
        );
    }

    /// Hot-path smoke benchmark (run with `--release -- --ignored`): the §8 ruleset plus a few
    /// non-matching rules; prints decisions per second. No allocation happens per packet.
    #[test]
    #[ignore]
    fn mark_throughput_smoke() {
        let r = rules(
            Af::Inet,
            &[
                "-A PREROUTING -s 10.0.0.0/8 -j ACCEPT",
                "-A PREROUTING -d 192.0.2.20/32 -p udp --dport 53 -j MARK --set-mark 2",
                "-A PREROUTING -d 192.0.2.10/32 -p tcp -m multiport --dports 80,443 -j MARK --set-mark 1",
                "-A PREROUTING -m mark --mark 0x1 -j MARK --or-mark 0x100",
                "-A INPUT -p sctp -j MARK --set-mark 3",
            ],
        );
        let pkts: Vec<Packet> = (0..1024u32)
            .map(|i| {
                tcp(
                    &format!("198.51.{}.{}:{}", i % 7, i % 251, 1024 + i),
                    &format!("192.0.2.10:{}", [80, 443, 22][i as usize % 3]),
                )
            })
            .collect();
        let n = 20_000_000usize;
        let t = std::time::Instant::now();
        let mut acc = 0u64;
        for i in 0..n {
            acc += r.mark(std::hint::black_box(&pkts[i & 1023])) as u64;
        }
        let dt = t.elapsed().as_secs_f64();
        println!("{:.1} M decisions/s (acc {acc})", n as f64 / dt / 1e6);
        assert!(acc > 0);
    }

    /// `-i` is matched against the one ingress interface (`ifname_compare()`: exact, or a
    /// prefix before a final `+`; `!` inverts): by default the first interface a rule names.
    #[test]
    fn in_interface_matches_the_ingress_interface() {
        let p = tcp("198.51.100.7:1000", "192.0.2.10:80");
        let r = rules(
            Af::Inet,
            &[
                "-A PREROUTING -i lo -j MARK --or-mark 0x1",
                "-A PREROUTING ! -i ens3 -j MARK --or-mark 0x2",
                "-A PREROUTING -i ens3 -j MARK --or-mark 0x4",
                "-A PREROUTING -i ens+ -j MARK --or-mark 0x8",
                "-A PREROUTING -i eth0 -j MARK --or-mark 0x10",
                "-A PREROUTING ! -i eth+ -j MARK --or-mark 0x20",
                "-A PREROUTING -i + -j MARK --or-mark 0x40",
            ],
        );
        // `lo`, inverted and wildcard names are skipped: the ingress is ens3.
        assert_eq!(r.ingress(), "ens3");
        assert_eq!(r.mark(&p), 0x4 | 0x8 | 0x20 | 0x40);
        let mut r2 = r.clone();
        r2.set_ingress("eth0");
        assert_eq!(r2.mark(&p), 0x2 | 0x10 | 0x40);
        // Fixed once chosen: a later rule naming another interface does not move it.
        let mut r3 = rules(Af::Inet, &["-A PREROUTING -i lo -j MARK --or-mark 0x1"]);
        assert_eq!(r3.ingress(), DEFAULT_INGRESS);
        r3.apply(
            parse_command("-t mangle -A INPUT -i eth1 -j MARK --or-mark 0x2", Af::Inet).unwrap(),
        )
        .unwrap();
        r3.apply(
            parse_command("-t mangle -A INPUT -i eth2 -j MARK --or-mark 0x4", Af::Inet).unwrap(),
        )
        .unwrap();
        assert_eq!(r3.ingress(), "eth1");
        assert_eq!(r3.mark(&p), 0x2);
        // Printed as iptables-save does (after -s/-d, before -p) and read back equal.
        let rule = &r.rules(Af::Inet, "PREROUTING").unwrap()[1];
        assert_eq!(rule.to_string(), "! -i ens3 -j MARK --set-xmark 0x2/0x2");
        let back = crate::config::iptables::parse_ruleset(&r.save(Af::Inet)).unwrap();
        assert_eq!(
            back.rules(Af::Inet, "PREROUTING"),
            r.rules(Af::Inet, "PREROUTING")
        );
    }
}
