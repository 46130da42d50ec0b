//! ipvsadm rules text (`ipvsadm -S -n` output, `ipvsadm -R` input).
//!
//! This follows ipvsadm.c (`parse_options()`, `process_options()`, `parse_service()`,
//! `parse_netmask()`, `parse_timeout()`, `parse_fwmark()`, `parse_sched_flags()`,
//! `generic_opt_check()`, `tunnel_opt_check()`) and popt's option scanning, so that a line means
//! here what it means to `ipvsadm -R`, including its quirks (spec §12.1):
//!
//! * the first option of a line must be the command (`-t x -A` is refused, as popt returns
//!   options in order and ipvsadm insists that the first one is a command);
//! * `-p` takes an *optional* argument: the attached form `-p300`/`--persistent=300`, or the next
//!   word when it does not start with `-` (`-p 300`); `-p` alone is 360 s;
//! * mandatory arguments take the next word whatever it is (`-w -1` is weight `-1`, an error);
//! * `-M` is an IPv4 mask through `inet_aton()` (`-M 24` = 0.0.0.24) unless the service is
//!   already known to be IPv6; a later IPv6 `-t`/`-6` resets the mask to 128;
//! * `-6` is only valid after `-f`;
//! * an omitted `-r` port copies the service port *as known when `-r` is parsed*;
//! * `-E`/`-e` describe the whole object: omitted options take their defaults.
//!
//! Things ipvsadm would do that lvsnic does not: host and service names are not resolved
//! (numeric addresses and ports only); listing, save/restore and daemon options are refused.

use super::libc::{atoi, inet_aton, string_to_number, strtol_full};
use super::ConfigError;
use crate::model::{
    svc_flags, Af, DestConf, FwdMethod, IpvsCmd, Netmask, Proto, ServiceConf, ServiceKey, TunCsum,
    TunType, TunnelConf, SCHEDULERS,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `IPVS_SVC_PERSISTENT_TIMEOUT` (libipvs.h): 6 * 60.
pub const DEFAULT_PERSISTENT_TIMEOUT: u32 = 360;
/// ipvsadm `MAX_TIMEOUT`: 31 days.
pub const MAX_TIMEOUT: i64 = 86400 * 31;
/// Kernel schedulers lvsnic does not model.
const UNSUPPORTED_SCHEDULERS: &[&str] = &["lblc", "lblcr", "twos"];
/// `IP_VS_SCHEDNAME_MAXLEN` - 1: ipvsadm `strncpy()`s the scheduler name into 16 bytes.
const SCHEDNAME_MAX: usize = 15;

/// Parse a whole rules text. Blank lines and `#` comments are skipped; a leading `ipvsadm` word is
/// allowed. Returns each command with its 1-based line number, or the first error.
pub fn parse_rules(text: &str) -> Result<Vec<(usize, IpvsCmd)>, ConfigError> {
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match parse_command(line) {
            Ok(Some(cmd)) => out.push((i + 1, cmd)),
            Ok(None) => {}
            Err(msg) => return Err(ConfigError::new(i + 1, line, msg)),
        }
    }
    Ok(out)
}

/// Parse one command line (as in a trace's `"ipvsadm"` field). `Ok(None)` for blank/comment.
pub fn parse_command(line: &str) -> Result<Option<IpvsCmd>, String> {
    let mut words = tokenize(line)?;
    if words.first().map(String::as_str) == Some("ipvsadm") {
        words.remove(0);
        if words.is_empty() {
            return Err(
                "`ipvsadm` without a command lists the table: not supported in a rules file".into(),
            );
        }
    }
    if words.is_empty() {
        return Ok(None);
    }
    Parser::default().run(&words).map(Some)
}

/// Why an `ipvsadm` line of a trace does not become a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceCmdError {
    /// ipvsadm itself refuses it (an unknown or illegal option, a bad value or combination): it
    /// prints the error and exits without calling the kernel, so nothing changes and the
    /// session goes on.
    Refused(String),
    /// lvsnic cannot replay it (a shell syntax it does not take, a host or service name to
    /// resolve, a scheduler or invocation it does not model): the trace stops.
    Unsupported(String),
}

/// Parts of the messages of lines lvsnic cannot replay (its own limits, not ipvsadm's).
const LIMITS: &[&str] = &[
    "names are not resolved",
    "is not supported by lvsnic",
    "is not supported in a trace",
];

/// Parse an `ipvsadm` invocation of a trace: as [`parse_command`], and also the invocations
/// that change nothing the model decides with — listing (`-L`/`-l` with its display options,
/// `-S`, `-h`, `-v`) and the connection-sync daemon (`--start-daemon`/`--stop-daemon` with
/// their options; §13 is not modelled, and a director's own decisions do not depend on it) —
/// which are `Ok(None)`. A rules file refuses those (`ipvsadm -R` input holds table commands).
/// Errors say whether ipvsadm itself would refuse the line or lvsnic cannot replay it.
pub fn parse_trace_command(line: &str) -> Result<Option<IpvsCmd>, TraceCmdError> {
    // A line the shell would not split (an open quote) never ran: lvsnic cannot tell what
    // was meant.
    let mut words = tokenize(line).map_err(TraceCmdError::Unsupported)?;
    if words.first().map(String::as_str) == Some("ipvsadm") {
        words.remove(0);
        if words.is_empty() {
            // `ipvsadm` alone lists the table.
            return Ok(None);
        }
    }
    trace_command(&words).map_err(|m| {
        if LIMITS.iter().any(|l| m.contains(l)) {
            TraceCmdError::Unsupported(m)
        } else {
            TraceCmdError::Refused(m)
        }
    })
}

/// [`parse_trace_command`] on the line's words (`ipvsadm` stripped).
fn trace_command(words: &[String]) -> Result<Option<IpvsCmd>, String> {
    if words.is_empty() {
        return Ok(None);
    }
    let mut scan = Scanner::new(words);
    let first = match scan.next_item()? {
        Some(Item::Opt(shown, Opt::Unsupported(kind), _)) => (shown, kind),
        _ => return Parser::default().run(words).map(Some),
    };
    let allowed = |k: NoEffect| match first.1 {
        NoEffect::Show => k == NoEffect::Display,
        NoEffect::Daemon => k == NoEffect::DaemonOpt,
        _ => false,
    };
    if !matches!(first.1, NoEffect::Show | NoEffect::Daemon) {
        return Err(format!("option `{}' is not supported in a trace", first.0));
    }
    while let Some(item) = scan.next_item()? {
        match item {
            Item::Opt(_, Opt::Unsupported(k), _) if allowed(k) => {}
            // `-L -t VIP:PORT` lists one service.
            Item::Opt(_, Opt::Tcp | Opt::Udp | Opt::Sctp | Opt::Fwmark | Opt::Ipv6, _)
                if first.1 == NoEffect::Show => {}
            Item::Opt(shown, _, _) => {
                return Err(format!("illegal option `{shown}' with `{}'", first.0))
            }
            Item::Arg(a) => return Err(format!("unexpected argument {a}")),
        }
    }
    Ok(None)
}

/// Split a line into words like a shell would for these simple cases: white space separates,
/// `'...'` and `"..."` group, `\` escapes the next character (outside single quotes), and an
/// unquoted word starting with `#` begins a comment.
fn tokenize(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' | '\x0b' | '\x0c' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated ' quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => cur.push(c),
                            None => return Err("unterminated \" quote".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unterminated \" quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => cur.push(c),
                    None => {
                        return Err(
                            "`\\` at the end of the line (continuation lines are not supported)"
                                .into(),
                        )
                    }
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// ipvsadm's commands, in its `CMD_*` order (only the ones a rules file may hold).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    Zero,
}

impl Cmd {
    fn name(self) -> &'static str {
        match self {
            Cmd::Add => "add-service",
            Cmd::Edit => "edit-service",
            Cmd::Del => "delete-service",
            Cmd::Flush => "flush",
            Cmd::AddDest => "add-server",
            Cmd::DelDest => "delete-server",
            Cmd::EditDest => "edit-server",
            Cmd::Timeout => "set",
            Cmd::Zero => "zero",
        }
    }
    /// The row of ipvsadm's `commands_v_options` table ('+' compulsory, 'x' illegal,
    /// '.' optional), columns in `OPTC_*` order.
    fn row(self) -> &'static [u8; NUMBER_OF_OPT] {
        match self {
            Cmd::Add | Cmd::Edit => b"xx+...xxxxxxxxxxxxxxx...xxxxxxxxxx",
            Cmd::Del => b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::Flush | Cmd::Timeout => b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::AddDest | Cmd::EditDest => b"xx+xxx+....xxxxxxxxxxxxxxxxxx.....",
            Cmd::DelDest => b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::Zero => b"xx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        }
    }
}

const NUMBER_OF_OPT: usize = 34;
/// ipvsadm `optnames[]`, indexed by `OPTC_*`.
const OPTNAMES: [&str; NUMBER_OF_OPT] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
];
const OPTC_SERVICE: usize = 2;
const OPTC_SCHEDULER: usize = 3;
const OPTC_PERSISTENT: usize = 4;
const OPTC_NETMASK: usize = 5;
const OPTC_SERVER: usize = 6;
const OPTC_FORWARD: usize = 7;
const OPTC_WEIGHT: usize = 8;
const OPTC_UTHRESHOLD: usize = 9;
const OPTC_LTHRESHOLD: usize = 10;
const OPTC_ONEPACKET: usize = 21;
const OPTC_PE: usize = 22;
const OPTC_SCHED_FLAGS: usize = 23;
const OPTC_TUN_TYPE: usize = 29;
const OPTC_TUN_PORT: usize = 30;
const OPTC_TUN_NOCSUM: usize = 31;
const OPTC_TUN_CSUM: usize = 32;
const OPTC_TUN_REMCSUM: usize = 33;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arg {
    None,
    Required,
    Optional,
}

/// What an option does here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opt {
    Command(Cmd),
    Tcp,
    Udp,
    Sctp,
    Fwmark,
    Sched,
    Persistent,
    Netmask,
    Real,
    Masq,
    Ipip,
    Gate,
    Weight,
    UThresh,
    LThresh,
    Ipv6,
    Ops,
    Pe,
    SchedFlags,
    TunType,
    TunPort,
    TunNoCsum,
    TunCsum,
    TunRemCsum,
    /// Listing, save/restore, daemon and help options: meaningless in a rules file.
    Unsupported(NoEffect),
}

/// The options of ipvsadm invocations that change nothing the model decides with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NoEffect {
    /// `-L`/`-l`, `-S`, `-h`, `-v`: print, change nothing.
    Show,
    /// `--start-daemon`/`--stop-daemon`: connection synchronisation (§13), not modelled; a
    /// director's own decisions do not depend on it.
    Daemon,
    /// Modifiers of a listing (`-n`, `-c`, `--stats`, ...).
    Display,
    /// Modifiers of a daemon command (`--mcast-interface`, `--syncid`, ...).
    DaemonOpt,
    /// `-R`: reads a rules file from standard input (a trace has none).
    Restore,
}

/// popt's option table of ipvsadm (`parse_options()`): long name, short name, argument, meaning.
const OPTIONS: &[(&str, Option<char>, Arg, Opt)] = &[
    ("add-service", Some('A'), Arg::None, Opt::Command(Cmd::Add)),
    (
        "edit-service",
        Some('E'),
        Arg::None,
        Opt::Command(Cmd::Edit),
    ),
    (
        "delete-service",
        Some('D'),
        Arg::None,
        Opt::Command(Cmd::Del),
    ),
    ("clear", Some('C'), Arg::None, Opt::Command(Cmd::Flush)),
    (
        "list",
        Some('L'),
        Arg::None,
        Opt::Unsupported(NoEffect::Show),
    ),
    (
        "list",
        Some('l'),
        Arg::None,
        Opt::Unsupported(NoEffect::Show),
    ),
    ("zero", Some('Z'), Arg::None, Opt::Command(Cmd::Zero)),
    (
        "add-server",
        Some('a'),
        Arg::None,
        Opt::Command(Cmd::AddDest),
    ),
    (
        "edit-server",
        Some('e'),
        Arg::None,
        Opt::Command(Cmd::EditDest),
    ),
    (
        "delete-server",
        Some('d'),
        Arg::None,
        Opt::Command(Cmd::DelDest),
    ),
    ("set", None, Arg::None, Opt::Command(Cmd::Timeout)),
    (
        "help",
        Some('h'),
        Arg::None,
        Opt::Unsupported(NoEffect::Show),
    ),
    (
        "version",
        Some('v'),
        Arg::None,
        Opt::Unsupported(NoEffect::Show),
    ),
    (
        "restore",
        Some('R'),
        Arg::None,
        Opt::Unsupported(NoEffect::Restore),
    ),
    (
        "save",
        Some('S'),
        Arg::None,
        Opt::Unsupported(NoEffect::Show),
    ),
    (
        "start-daemon",
        None,
        Arg::Required,
        Opt::Unsupported(NoEffect::Daemon),
    ),
    (
        "stop-daemon",
        None,
        Arg::Required,
        Opt::Unsupported(NoEffect::Daemon),
    ),
    ("tcp-service", Some('t'), Arg::Required, Opt::Tcp),
    ("udp-service", Some('u'), Arg::Required, Opt::Udp),
    ("sctp-service", None, Arg::Required, Opt::Sctp),
    ("fwmark-service", Some('f'), Arg::Required, Opt::Fwmark),
    ("scheduler", Some('s'), Arg::Required, Opt::Sched),
    ("persistent", Some('p'), Arg::Optional, Opt::Persistent),
    ("netmask", Some('M'), Arg::Required, Opt::Netmask),
    ("real-server", Some('r'), Arg::Required, Opt::Real),
    ("masquerading", Some('m'), Arg::None, Opt::Masq),
    ("ipip", Some('i'), Arg::None, Opt::Ipip),
    ("gatewaying", Some('g'), Arg::None, Opt::Gate),
    ("weight", Some('w'), Arg::Required, Opt::Weight),
    ("u-threshold", Some('x'), Arg::Required, Opt::UThresh),
    ("l-threshold", Some('y'), Arg::Required, Opt::LThresh),
    (
        "numeric",
        Some('n'),
        Arg::None,
        Opt::Unsupported(NoEffect::Display),
    ),
    (
        "connection",
        Some('c'),
        Arg::None,
        Opt::Unsupported(NoEffect::Display),
    ),
    (
        "mcast-interface",
        None,
        Arg::Required,
        Opt::Unsupported(NoEffect::DaemonOpt),
    ),
    (
        "syncid",
        None,
        Arg::Required,
        Opt::Unsupported(NoEffect::DaemonOpt),
    ),
    (
        "timeout",
        None,
        Arg::None,
        Opt::Unsupported(NoEffect::Display),
    ),
    (
        "daemon",
        None,
        Arg::None,
        Opt::Unsupported(NoEffect::Display),
    ),
    (
        "stats",
        None,
        Arg::None,
        Opt::Unsupported(NoEffect::Display),
    ),
    ("rate", None, Arg::None, Opt::Unsupported(NoEffect::Display)),
    (
        "thresholds",
        None,
        Arg::None,
        Opt::Unsupported(NoEffect::Display),
    ),
    (
        "persistent-conn",
        None,
        Arg::None,
        Opt::Unsupported(NoEffect::Display),
    ),
    (
        "nosort",
        None,
        Arg::None,
        Opt::Unsupported(NoEffect::Display),
    ),
    ("sort", None, Arg::None, Opt::Unsupported(NoEffect::Display)),
    (
        "exact",
        Some('X'),
        Arg::None,
        Opt::Unsupported(NoEffect::Display),
    ),
    ("ipv6", Some('6'), Arg::None, Opt::Ipv6),
    ("ops", Some('o'), Arg::None, Opt::Ops),
    ("pe", None, Arg::Required, Opt::Pe),
    ("sched-flags", Some('b'), Arg::Required, Opt::SchedFlags),
    (
        "mcast-group",
        None,
        Arg::Required,
        Opt::Unsupported(NoEffect::DaemonOpt),
    ),
    (
        "mcast-port",
        None,
        Arg::Required,
        Opt::Unsupported(NoEffect::DaemonOpt),
    ),
    (
        "mcast-ttl",
        None,
        Arg::Required,
        Opt::Unsupported(NoEffect::DaemonOpt),
    ),
    (
        "sync-maxlen",
        None,
        Arg::Required,
        Opt::Unsupported(NoEffect::DaemonOpt),
    ),
    (
        "tun-info",
        None,
        Arg::None,
        Opt::Unsupported(NoEffect::Display),
    ),
    ("tun-type", None, Arg::Required, Opt::TunType),
    ("tun-port", None, Arg::Required, Opt::TunPort),
    ("tun-nocsum", None, Arg::None, Opt::TunNoCsum),
    ("tun-csum", None, Arg::None, Opt::TunCsum),
    ("tun-remcsum", None, Arg::None, Opt::TunRemCsum),
];

/// One item of popt's scan of a line.
enum Item {
    /// The option as written (for messages), its table entry and its argument.
    Opt(String, Opt, Option<String>),
    /// A non-option word.
    Arg(String),
}

/// popt's scanning of argv (`poptGetNextOpt()`), lazily, so that errors come in the same order as
/// ipvsadm reports them.
struct Scanner<'a> {
    words: &'a [String],
    next: usize,
    /// Remaining characters of a short-option bundle (`-nt`).
    bundle: Option<(String, usize)>,
    only_args: bool,
}

impl<'a> Scanner<'a> {
    fn new(words: &'a [String]) -> Self {
        Scanner {
            words,
            next: 0,
            bundle: None,
            only_args: false,
        }
    }

    /// Argument for an option with no attached value: the next word (for an optional argument,
    /// only if it does not start with `-`).
    fn detached_arg(&mut self, shown: &str, arg: Arg) -> Result<Option<String>, String> {
        match self.words.get(self.next) {
            None => match arg {
                Arg::Optional => Ok(None),
                _ => Err(format!(
                    "option `{shown}' requires an argument (missing argument)"
                )),
            },
            Some(w) if arg == Arg::Optional && w.starts_with('-') => Ok(None),
            Some(w) => {
                self.next += 1;
                Ok(Some(w.clone()))
            }
        }
    }

    fn next_item(&mut self) -> Result<Option<Item>, String> {
        if let Some((rest, pos)) = self.bundle.take() {
            let c = rest[pos..].chars().next().expect("non-empty bundle");
            let after = pos + c.len_utf8();
            let shown = format!("-{c}");
            let Some(&(_, _, arg, opt)) = OPTIONS.iter().find(|o| o.1 == Some(c)) else {
                return Err(format!("unknown option `{shown}'"));
            };
            let tail = &rest[after..];
            if arg == Arg::None {
                if !tail.is_empty() {
                    self.bundle = Some((rest.clone(), after));
                }
                return Ok(Some(Item::Opt(shown, opt, None)));
            }
            let value = if !tail.is_empty() {
                // popt: the rest of the bundle is the argument (`-p300`, `-w=5`).
                Some(tail.strip_prefix('=').unwrap_or(tail).to_string())
            } else {
                self.detached_arg(&shown, arg)?
            };
            return Ok(Some(Item::Opt(shown, opt, value)));
        }
        let Some(w) = self.words.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        if self.only_args || !w.starts_with('-') || w == "-" {
            return Ok(Some(Item::Arg(w.clone())));
        }
        if w == "--" {
            self.only_args = true;
            return self.next_item();
        }
        if let Some(long) = w.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let shown = format!("--{name}");
            let Some(&(_, _, arg, opt)) = OPTIONS.iter().find(|o| o.0 == name) else {
                return Err(format!("unknown option `{shown}'"));
            };
            let value = match (arg, attached) {
                (Arg::None, Some(_)) => {
                    return Err(format!("option `{shown}' does not take an argument"))
                }
                (Arg::None, None) => None,
                (_, Some(v)) => Some(v),
                (_, None) => self.detached_arg(&shown, arg)?,
            };
            return Ok(Some(Item::Opt(shown, opt, value)));
        }
        self.bundle = Some((w.clone(), 1));
        self.next_item()
    }
}

/// ipvsadm's `struct ipvs_command_entry` while a line is parsed (C defaults from
/// `process_options()`).
struct Parser {
    cmd: Option<Cmd>,
    options: u64,
    // service
    svc_af: Option<Af>,
    proto: Proto,
    addr: IpAddr,
    port: u16,
    fwmark: u32,
    sched: String,
    persistent: bool,
    timeout: u32,
    /// Raw `svc.netmask`: an IPv4 mask (as a host-order u32) or an IPv6 prefix length.
    netmask: u32,
    ops: bool,
    pe: String,
    sched_flags_arg: String,
    // dest
    dest_af: Option<Af>,
    dest_addr: IpAddr,
    dest_port: u16,
    fwd: FwdMethod,
    weight: i32,
    u_threshold: u32,
    l_threshold: u32,
    tun_type: TunType,
    tun_port: u16,
    tun_csum: bool,
    tun_remcsum: bool,
    // --set
    args: Vec<String>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser {
            cmd: None,
            options: 0,
            svc_af: None,
            proto: Proto::Tcp,
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            fwmark: 0,
            sched: String::new(),
            persistent: false,
            timeout: 0,
            netmask: u32::MAX,
            ops: false,
            pe: String::new(),
            sched_flags_arg: String::new(),
            dest_af: None,
            dest_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dest_port: 0,
            fwd: FwdMethod::Route,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: TunType::Ipip,
            tun_port: 0,
            tun_csum: false,
            tun_remcsum: false,
            args: Vec::new(),
        }
    }
}

/// Result of ipvsadm `parse_service()`: an address, and a port if one was written.
struct ParsedService {
    addr: IpAddr,
    port: Option<u16>,
}

/// ipvsadm `parse_service()`: `[v6]:port`, a bare IPv6 address, or `v4[:port]` where v4 is
/// anything `inet_aton()` takes. A bare number is refused (`str_is_digit()`). Quirk kept: in
/// `[v4]:port` the port is ignored (the bracketed text is not IPv6, and the `:port` was already
/// cut off before the IPv4 branch looks for one).
fn parse_service(buf: &str) -> Result<ParsedService, String> {
    if buf.bytes().all(|b| b.is_ascii_digit()) {
        return Err(if buf.is_empty() {
            "empty address".into()
        } else {
            format!("`{buf}' is a bare number")
        });
    }
    let mut host = buf;
    let mut port_str: Option<&str> = None;
    let mut bracketed = false;
    if let Some(rest) = buf.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return Err(format!("`{buf}': missing `]'"));
        };
        let Some(p) = after.strip_prefix(':') else {
            return Err(format!("`{buf}': `[address]' must be followed by `:port'"));
        };
        host = inner;
        port_str = Some(p);
        bracketed = true;
    }
    let addr = if let Ok(a6) = host.parse::<Ipv6Addr>() {
        IpAddr::V6(a6)
    } else {
        if bracketed {
            port_str = None;
        }
        if !bracketed {
            if let Some((h, p)) = host.rsplit_once(':') {
                host = h;
                port_str = Some(p);
            }
        }
        match inet_aton(host) {
            Some(a4) => IpAddr::V4(a4),
            None if may_be_host_name(host) => {
                return Err(format!(
                    "`{host}' is not a numeric IPv4 or IPv6 address (host names are not resolved)"
                ))
            }
            None => return Err(format!("`{host}' is not an IPv4 or IPv6 address")),
        }
    };
    let port = match port_str {
        None => None,
        Some(p) => match string_to_number(p, 0, 65535) {
            Some(n) => Some(n as u16),
            None if may_be_service_name(p) => {
                return Err(format!(
                    "`{p}' is not a port number 0..65535 (service names are not resolved)"
                ));
            }
            None => return Err(format!("`{p}' is not a port number 0..65535")),
        },
    };
    Ok(ParsedService { addr, port })
}

/// Whether glibc `gethostbyname()` (ipvsadm `host_to_addr()`, tried when `inet_aton()` fails)
/// could answer for `s`, so that only a resolver knows what ipvsadm does. It cannot for a name
/// made only of digits and dots that does not end with a dot: `__nss_hostname_digits_dots()`
/// answers HOST_NOT_FOUND without a lookup ("10.0.0.256"); nor for a text with characters no
/// host name has (`:` of an IPv6-like text, `/` of a prefix, ...). Those ipvsadm refuses itself.
fn may_be_host_name(s: &str) -> bool {
    let b = s.as_bytes();
    let digits_dots = b.first().is_some_and(u8::is_ascii_digit)
        && b.iter().all(|&c| c.is_ascii_digit() || c == b'.')
        && b.last() != Some(&b'.');
    !digits_dots
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
}

/// Whether `getservbyname()` (ipvsadm `service_to_port()`, tried when the port is not a number
/// 0..65535) could know `p`: no service is named by a (signed) number or by nothing.
fn may_be_service_name(p: &str) -> bool {
    let digits = p.strip_prefix(['+', '-']).unwrap_or(p);
    !(digits.is_empty() || digits.bytes().all(|c| c.is_ascii_digit()))
        && p.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'+'))
}

impl Parser {
    /// ipvsadm `set_option()`.
    fn set_option(&mut self, optc: usize) -> Result<(), String> {
        let bit = 1u64 << optc;
        if self.options & bit != 0 {
            return Err(format!("multiple '{}' options specified", OPTNAMES[optc]));
        }
        self.options |= bit;
        Ok(())
    }

    fn has(&self, optc: usize) -> bool {
        self.options & (1u64 << optc) != 0
    }

    fn run(mut self, words: &[String]) -> Result<IpvsCmd, String> {
        let mut scan = Scanner::new(words);
        while let Some(item) = scan.next_item()? {
            match item {
                Item::Arg(a) => self.args.push(a),
                Item::Opt(shown, opt, value) => self.option(&shown, opt, value)?,
            }
        }
        let Some(cmd) = self.cmd else {
            return Err(
                "no command given (expected -A, -E, -D, -C, -a, -e, -d, -Z or --set)".into(),
            );
        };
        let mut set = None;
        let mut args = std::mem::take(&mut self.args).into_iter();
        if cmd == Cmd::Timeout {
            let (Some(a), Some(b), Some(c)) = (args.next(), args.next(), args.next()) else {
                return Err("--set option requires 3 timeout values".into());
            };
            let t = |s: &str| {
                string_to_number(s, 0, MAX_TIMEOUT)
                    .map(|n| n as u32)
                    .ok_or_else(|| format!("invalid timeout value `{s}' specified"))
            };
            set = Some(IpvsCmd::SetTimeouts {
                tcp: t(&a)?,
                tcpfin: t(&b)?,
                udp: t(&c)?,
            });
        }
        if let Some(extra) = args.next() {
            return Err(format!("unexpected argument {extra}"));
        }
        let mut sched_flags = 0;
        if !self.sched_flags_arg.is_empty() {
            sched_flags = parse_sched_flags(&self.sched, &self.sched_flags_arg)?;
        }
        self.generic_opt_check(cmd)?;
        if let Some(set) = set {
            return Ok(set);
        }
        match cmd {
            Cmd::Flush => Ok(IpvsCmd::Clear),
            Cmd::Zero => Ok(IpvsCmd::Zero(self.has(OPTC_SERVICE).then(|| self.key()))),
            Cmd::Del => Ok(IpvsCmd::DelService(self.key())),
            Cmd::Add | Cmd::Edit => {
                let conf = self.service_conf(sched_flags)?;
                Ok(if cmd == Cmd::Add {
                    IpvsCmd::AddService(conf)
                } else {
                    IpvsCmd::EditService(conf)
                })
            }
            Cmd::DelDest => Ok(IpvsCmd::DelDest {
                svc: self.key(),
                addr: self.dest_addr,
                port: self.dest_port,
            }),
            Cmd::AddDest | Cmd::EditDest => {
                let dest = self.dest_conf()?;
                let svc = self.key();
                Ok(if cmd == Cmd::AddDest {
                    IpvsCmd::AddDest { svc, dest }
                } else {
                    IpvsCmd::EditDest { svc, dest }
                })
            }
            Cmd::Timeout => unreachable!("handled above"),
        }
    }

    fn svc_af(&self) -> Af {
        self.svc_af.unwrap_or(Af::Inet)
    }

    fn key(&self) -> ServiceKey {
        if self.fwmark != 0 {
            ServiceKey::Fwmark {
                af: self.svc_af(),
                mark: self.fwmark,
            }
        } else {
            ServiceKey::Addr {
                proto: self.proto,
                addr: self.addr,
                port: self.port,
            }
        }
    }

    /// One option, as the `switch` in ipvsadm `parse_options()`.
    fn option(&mut self, shown: &str, opt: Opt, value: Option<String>) -> Result<(), String> {
        let v = value.clone().unwrap_or_default();
        if self.cmd.is_none() && !matches!(opt, Opt::Command(_) | Opt::Unsupported(_)) {
            return Err(format!(
                "the first option must be a command (-A, -E, -D, -C, -a, -e, -d, -Z or --set), not `{shown}'"
            ));
        }
        match opt {
            Opt::Unsupported(_) => {
                return Err(format!("option `{shown}' is not supported in a rules file"));
            }
            Opt::Command(c) => {
                if self.cmd.is_some() {
                    return Err("multiple commands specified".into());
                }
                self.cmd = Some(c);
            }
            Opt::Tcp | Opt::Udp | Opt::Sctp => {
                self.set_option(OPTC_SERVICE)?;
                self.proto = match opt {
                    Opt::Tcp => Proto::Tcp,
                    Opt::Udp => Proto::Udp,
                    _ => Proto::Sctp,
                };
                let s = parse_service(&v)
                    .map_err(|e| format!("illegal virtual server address[:port] specified: {e}"))?;
                self.addr = s.addr;
                if let Some(p) = s.port {
                    self.port = p;
                }
                self.svc_af = Some(Af::of(&s.addr));
                if s.addr.is_ipv6() {
                    self.netmask = 128;
                }
            }
            Opt::Fwmark => {
                self.set_option(OPTC_SERVICE)?;
                self.svc_af = Some(Af::Inet);
                self.proto = Proto::Tcp;
                self.fwmark = match strtol_full(&v) {
                    Some(n) if n > 0 && n <= u32::MAX as i64 => n as u32,
                    _ => return Err(format!("invalid fwmark value `{v}' specified")),
                };
            }
            Opt::Sched => {
                self.set_option(OPTC_SCHEDULER)?;
                let mut end = v.len().min(SCHEDNAME_MAX);
                while !v.is_char_boundary(end) {
                    end -= 1;
                }
                self.sched = v[..end].to_string();
            }
            Opt::Persistent => {
                self.set_option(OPTC_PERSISTENT)?;
                self.persistent = true;
                self.timeout = match value.as_deref() {
                    None => DEFAULT_PERSISTENT_TIMEOUT,
                    Some(s) => string_to_number(s, 1, MAX_TIMEOUT).ok_or_else(|| {
                        format!("invalid timeout value `{s}' specified (1..{MAX_TIMEOUT} s)")
                    })? as u32,
                };
            }
            Opt::Netmask => {
                self.set_option(OPTC_NETMASK)?;
                if self.svc_af != Some(Af::Inet6) {
                    // parse_netmask(): inet_aton(), else host_to_addr().
                    self.netmask = match inet_aton(&v) {
                        Some(m) => u32::from(m),
                        None if may_be_host_name(&v) => {
                            return Err(format!(
                                "illegal virtual server persistent mask specified: `{v}' is not numeric (host names are not resolved)"
                            ))
                        }
                        None => {
                            return Err(format!(
                                "illegal virtual server persistent mask specified: `{v}'"
                            ))
                        }
                    };
                } else {
                    let n = atoi(&v);
                    if !(1..=128).contains(&n) {
                        return Err(format!("illegal ipv6 netmask specified: `{v}' (1..128)"));
                    }
                    self.netmask = n as u32;
                }
            }
            Opt::Real => {
                self.set_option(OPTC_SERVER)?;
                let s = parse_service(&v)
                    .map_err(|e| format!("illegal real server address[:port] specified: {e}"))?;
                self.dest_af = Some(Af::of(&s.addr));
                self.dest_addr = s.addr;
                // No port written: copy the service port known at this point.
                self.dest_port = s.port.unwrap_or(self.port);
            }
            Opt::Ipip | Opt::Gate | Opt::Masq => {
                self.set_option(OPTC_FORWARD)?;
                self.fwd = match opt {
                    Opt::Ipip => FwdMethod::Tunnel,
                    Opt::Gate => FwdMethod::Route,
                    _ => FwdMethod::Masq,
                };
            }
            Opt::Weight => {
                self.set_option(OPTC_WEIGHT)?;
                self.weight = string_to_number(&v, 0, 65535)
                    .ok_or_else(|| format!("illegal weight specified: `{v}' (0..65535)"))?
                    as i32;
            }
            Opt::UThresh | Opt::LThresh => {
                let (optc, what) = if opt == Opt::UThresh {
                    (OPTC_UTHRESHOLD, "u_threshold")
                } else {
                    (OPTC_LTHRESHOLD, "l_threshold")
                };
                self.set_option(optc)?;
                let n = string_to_number(&v, 0, i32::MAX as i64)
                    .ok_or_else(|| format!("illegal {what} specified: `{v}' (0..{})", i32::MAX))?
                    as u32;
                if opt == Opt::UThresh {
                    self.u_threshold = n;
                } else {
                    self.l_threshold = n;
                }
            }
            Opt::Ipv6 => {
                if self.fwmark == 0 {
                    return Err("-6 used before -f (it only marks a fwmark service as IPv6)".into());
                }
                self.svc_af = Some(Af::Inet6);
                self.netmask = 128;
            }
            Opt::Ops => {
                self.set_option(OPTC_ONEPACKET)?;
                self.ops = true;
            }
            Opt::Pe => {
                self.set_option(OPTC_PE)?;
                self.pe = v;
            }
            Opt::SchedFlags => {
                self.set_option(OPTC_SCHED_FLAGS)?;
                self.sched_flags_arg = v;
            }
            Opt::TunType => {
                self.set_option(OPTC_TUN_TYPE)?;
                self.tun_type = match v.as_str() {
                    "ipip" => TunType::Ipip,
                    "gue" => TunType::Gue,
                    "gre" => TunType::Gre,
                    _ => {
                        return Err(format!(
                            "illegal tunnel type specified: `{v}' (ipip, gue or gre)"
                        ))
                    }
                };
            }
            Opt::TunPort => {
                self.set_option(OPTC_TUN_PORT)?;
                self.tun_port = string_to_number(&v, 1, 65535)
                    .ok_or_else(|| format!("illegal tunnel port specified: `{v}' (1..65535)"))?
                    as u16;
            }
            Opt::TunNoCsum => self.set_option(OPTC_TUN_NOCSUM)?,
            Opt::TunCsum => {
                self.set_option(OPTC_TUN_CSUM)?;
                self.tun_csum = true;
            }
            Opt::TunRemCsum => {
                self.set_option(OPTC_TUN_REMCSUM)?;
                self.tun_remcsum = true;
            }
        }
        Ok(())
    }

    /// ipvsadm `generic_opt_check()`.
    fn generic_opt_check(&self, cmd: Cmd) -> Result<(), String> {
        let row = cmd.row();
        for (j, &rule) in row.iter().enumerate() {
            let given = self.has(j);
            if !given && rule == b'+' {
                return Err(format!(
                    "You need to supply the '{}' option for the '{}' command",
                    OPTNAMES[j],
                    cmd.name()
                ));
            }
            if given && rule == b'x' {
                return Err(format!(
                    "Illegal '{}' option with the '{}' command",
                    OPTNAMES[j],
                    cmd.name()
                ));
            }
        }
        Ok(())
    }

    /// `-A`/`-E`: `process_options()` checks, then what lvsnic does not model (a few kernel
    /// schedulers) and the persistence engine name (only `sip` exists).
    fn service_conf(&self, sched_flags: u32) -> Result<ServiceConf, String> {
        if self.fwmark == 0 && self.port == 0 && !self.persistent {
            return Err("Zero port specified for non-persistent service".into());
        }
        if self.ops && self.fwmark == 0 && self.proto != Proto::Udp {
            return Err("One-Packet Scheduling is only for UDP virtual services".into());
        }
        let sched = if self.sched.is_empty() {
            "wlc"
        } else {
            self.sched.as_str()
        };
        // A scheduler the kernel has but lvsnic does not model is refused here; any other
        // unknown name goes on to the model, which refuses it as `ip_vs_add_service()` /
        // `ip_vs_edit_service()` do (ENOENT, nothing changed).
        if !SCHEDULERS.contains(&sched) && UNSUPPORTED_SCHEDULERS.contains(&sched) {
            return Err(format!(
                "scheduler `{sched}' is not supported by lvsnic (supported: {})",
                SCHEDULERS.join(", ")
            ));
        }
        // ipvsadm strncpy()s the name into IP_VS_PENAME_MAXLEN bytes; the kernel treats an empty
        // name as "no persistence engine" and looks any other up (only `sip` exists).
        let pe = match self.pe.as_str() {
            "" => None,
            "sip" => Some("sip".to_string()),
            other => {
                return Err(format!("Scheduler or persistence engine not found: no persistence engine `{other}' (only sip)"));
            }
        };
        let key = self.key();
        let netmask = match key.af() {
            Af::Inet6 => Netmask::V6(self.netmask as u8),
            Af::Inet => Netmask::V4(Ipv4Addr::from(self.netmask)),
        };
        Ok(ServiceConf {
            key,
            scheduler: sched.to_string(),
            sched_flags,
            persistence: self.persistent.then_some(self.timeout),
            netmask,
            ops: self.ops,
            pe,
        })
    }

    /// `-a`/`-e`: `process_options()` checks and `tunnel_opt_check()`.
    fn dest_conf(&self) -> Result<DestConf, String> {
        let mut port = self.dest_port;
        if self.fwmark == 0 && matches!(self.fwd, FwdMethod::Tunnel | FwdMethod::Route) {
            port = self.port;
        }
        if self.dest_af != Some(self.svc_af()) && self.fwd != FwdMethod::Tunnel {
            return Err("Different address family is allowed only for tunneling servers".into());
        }
        let tun_opts = [
            OPTC_TUN_TYPE,
            OPTC_TUN_PORT,
            OPTC_TUN_NOCSUM,
            OPTC_TUN_CSUM,
            OPTC_TUN_REMCSUM,
        ];
        if tun_opts.iter().any(|&o| self.has(o)) && self.fwd != FwdMethod::Tunnel {
            return Err("Tunnel options conflict with forward method".into());
        }
        self.tunnel_opt_check()?;
        // l_threshold > u_threshold is not ipvsadm's check but the kernel's (ERANGE from
        // `ip_vs_add_dest()` / `ip_vs_edit_dest()`): the model refuses it.
        let csum = if self.tun_remcsum {
            TunCsum::RemCsum
        } else if self.tun_csum {
            TunCsum::Csum
        } else {
            TunCsum::NoCsum
        };
        Ok(DestConf {
            addr: self.dest_addr,
            port,
            fwd: self.fwd,
            weight: self.weight,
            u_threshold: self.u_threshold,
            l_threshold: self.l_threshold,
            tunnel: TunnelConf {
                kind: self.tun_type,
                port: self.tun_port,
                csum,
            },
        })
    }

    /// ipvsadm `tunnel_opt_check()` with its `tunnel_types_v_options` table (gre row from the
    /// ipvsadm GRE patch): columns tun-port, tun-nocsum, tun-csum, tun-remcsum.
    fn tunnel_opt_check(&self) -> Result<(), String> {
        let (name, row): (&str, &[u8; 4]) = match self.tun_type {
            TunType::Ipip => ("ipip", b"xxxx"),
            TunType::Gue => ("gue", b"+111"),
            TunType::Gre => ("gre", b"x11x"),
        };
        let cols = [
            OPTC_TUN_PORT,
            OPTC_TUN_NOCSUM,
            OPTC_TUN_CSUM,
            OPTC_TUN_REMCSUM,
        ];
        let mut last: Option<usize> = None;
        for (j, &k) in cols.iter().enumerate() {
            if !self.has(k) {
                if row[j] == b'+' {
                    return Err(format!(
                        "You need to supply the '{}' option for the '{name}' tunnel type",
                        OPTNAMES[k]
                    ));
                }
                continue;
            }
            if row[j] == b'x' {
                return Err(format!(
                    "Illegal '{}' option with the '{name}' tunnel type",
                    OPTNAMES[k]
                ));
            }
            if row[j] == b'1' {
                if let Some(l) = last {
                    return Err(format!(
                        "The option '{}' conflicts with the '{}' option in the '{name}' tunnel type",
                        OPTNAMES[k], OPTNAMES[l]
                    ));
                }
                last = Some(k);
            }
        }
        Ok(())
    }
}

/// ipvsadm `parse_sched_flags()`: comma-separated, empty items skipped (strtok); sh-*/mh-* only
/// with that scheduler (the default scheduler wlc if `-s` is absent), flag-1..3 with any.
fn parse_sched_flags(sched: &str, arg: &str) -> Result<u32, String> {
    let sched = if sched.is_empty() { "wlc" } else { sched };
    let mut flags = 0;
    let mut any = false;
    for flag in arg.split(',').filter(|f| !f.is_empty()) {
        any = true;
        let (bit, only) = match flag {
            "flag-1" => (svc_flags::SCHED1, None),
            "flag-2" => (svc_flags::SCHED2, None),
            "flag-3" => (svc_flags::SCHED3, None),
            "sh-fallback" => (svc_flags::SCHED1, Some("sh")),
            "sh-port" => (svc_flags::SCHED2, Some("sh")),
            "mh-fallback" => (svc_flags::SCHED1, Some("mh")),
            "mh-port" => (svc_flags::SCHED2, Some("mh")),
            _ => return Err(format!("invalid scheduler flag `{flag}'")),
        };
        if let Some(s) = only {
            if s != sched {
                return Err(format!(
                    "incompatible scheduler flag `{flag}' (scheduler is {sched})"
                ));
            }
        }
        flags |= bit;
    }
    if !any {
        // ipvsadm would call strcmp(NULL, ...) here and crash.
        return Err(format!("invalid scheduler flag `{arg}'"));
    }
    Ok(flags)
}
