//! Trace input: one JSON object per line (JSON Lines), each a packet or a configuration event.
//!
//! Format (fixed; other tools write it):
//!
//! * packet: `{"t":0.0,"proto":"tcp","src":"198.51.100.7:1000","dst":"192.0.2.10:80","flags":"S"}`
//!   with optional `"flags"` (letters S, A, F, R; default `"A"`), `"mark":N` (the packet arrives
//!   already marked: the mark rules are not consulted), `"dir":"in"|"out"` (default `"in"`) and,
//!   for SCTP, `"chunk":"INIT"` (else derived from the flags: S→INIT, R→ABORT, F→SHUTDOWN, else
//!   DATA). `proto` is `tcp`, `udp` or `sctp`; IPv6 endpoints are written `"[2001:db8::5]:1000"`.
//! * `{"t":5.0,"ipvsadm":"-e -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 0"}`
//! * `{"t":5.0,"iptables":"-t mangle -D PREROUTING ..."}` (IPv4), `{"t":5.0,"ip6tables":"..."}`
//! * `{"t":0.0,"sysctl":"expire_quiescent_template=1"}`
//!
//! `t` is in seconds (a JSON number, integer or not), non-negative and non-decreasing.
//! A leading UTF-8 byte order mark is ignored. Blank (whitespace-only) lines are allowed and skipped; they still count as lines, so an
//! event's index `i` is always its 0-based physical line number in the file. Every other line
//! must be exactly one event; anything else (bad JSON, unknown or misplaced keys, missing fields,
//! bad addresses or flag letters, unknown protocol, two event kinds in one object) is an error
//! that names the file and the 1-based line number.
//!
//! Command texts (`ipvsadm`, `iptables`, `ip6tables`) are kept as text here and parsed by the
//! runner (`replay::run`) before anything is executed; `sysctl` assignments are checked here.

use std::fmt;
use std::net::SocketAddr;

use serde_json::{Map, Value};

use crate::model::{Af, Dir, Packet, Proto, SctpChunk, Sysctls, TcpFlags, Time};

/// What one trace line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    Packet(Packet),
    /// An `ipvsadm` command line (without the leading `ipvsadm`, though it may have one).
    Ipvsadm(String),
    /// An `iptables`/`ip6tables` command; the family says which.
    Iptables {
        af: Af,
        cmd: String,
    },
    /// `NAME=VALUE` (already checked to be a valid assignment).
    Sysctl(String),
}

/// One trace event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// 0-based physical line number in the trace (the `i` of the output).
    pub line: usize,
    /// `t` as the trace gave it (seconds); printed back in the output.
    pub t: f64,
    /// `t` as virtual time.
    pub time: Time,
    pub kind: EventKind,
}

/// A trace line that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError {
    /// The trace's name (its path).
    pub source_name: String,
    /// 1-based line number (0 = the file as a whole).
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.source_name, self.line, self.msg)
        } else {
            write!(f, "{}: {}", self.source_name, self.msg)
        }
    }
}

impl std::error::Error for TraceError {}

const PACKET_KEYS: &[&str] = &["proto", "src", "dst", "flags", "mark", "dir", "chunk"];
const COMMAND_KEYS: &[&str] = &["ipvsadm", "iptables", "ip6tables", "sysctl"];

/// Parse a whole trace. `source_name` (usually the path) is used in error messages. Nothing is
/// returned unless every line is valid.
pub fn parse_trace(text: &str, source_name: &str) -> Result<Vec<Event>, TraceError> {
    let mut events = Vec::new();
    let mut last_t: Option<f64> = None;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (idx, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let err = |msg: String| TraceError {
            source_name: source_name.to_string(),
            line: idx + 1,
            msg,
        };
        let ev = parse_line(line, idx).map_err(err)?;
        if let Some(prev) = last_t {
            if ev.t < prev {
                return Err(err(format!(
                    "time goes backwards: t={} after t={}",
                    fmt_t(ev.t),
                    fmt_t(prev)
                )));
            }
        }
        last_t = Some(ev.t);
        events.push(ev);
    }
    Ok(events)
}

fn fmt_t(t: f64) -> String {
    super::output::format_t(t)
}

/// Parse one non-blank trace line; `line` is its 0-based number. Errors are bare messages.
pub fn parse_line(text: &str, line: usize) -> Result<Event, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(obj) = value else {
        return Err("an event must be a JSON object".to_string());
    };
    let t = match obj.get("t") {
        None => return Err("missing \"t\" (time in seconds)".to_string()),
        Some(Value::Number(n)) => n
            .as_f64()
            .ok_or_else(|| format!("\"t\" {n} is not a usable number"))?,
        Some(other) => return Err(format!("\"t\" must be a number of seconds, not {other}")),
    };
    let time = Time::from_secs_f64(t)
        .ok_or_else(|| format!("\"t\" {t} must be between 0 and 1e9 seconds"))?;
    let mut kinds: Vec<&str> = COMMAND_KEYS
        .iter()
        .copied()
        .filter(|k| obj.contains_key(*k))
        .collect();
    if obj.contains_key("proto") {
        kinds.insert(0, "packet");
    }
    for k in obj.keys() {
        if k != "t" && !PACKET_KEYS.contains(&k.as_str()) && !COMMAND_KEYS.contains(&k.as_str()) {
            return Err(format!(
                "unknown key {k:?} (known: t, {}, {})",
                PACKET_KEYS.join(", "),
                COMMAND_KEYS.join(", ")
            ));
        }
    }
    let kind = match kinds.as_slice() {
        [] => {
            if obj.keys().any(|k| PACKET_KEYS.contains(&k.as_str())) {
                return Err("packet event without \"proto\"".to_string());
            }
            return Err(format!(
                "event has no kind: expected \"proto\" (a packet) or one of {}",
                COMMAND_KEYS.join(", ")
            ));
        }
        ["packet"] => EventKind::Packet(parse_packet(&obj)?),
        [cmd] => {
            if let Some(k) = obj.keys().find(|k| PACKET_KEYS.contains(&k.as_str())) {
                return Err(format!(
                    "key {k:?} belongs to packet events, not to a {cmd:?} event"
                ));
            }
            let Some(Value::String(s)) = obj.get(*cmd) else {
                return Err(format!("\"{cmd}\" must be a string"));
            };
            match *cmd {
                "ipvsadm" => EventKind::Ipvsadm(s.clone()),
                "iptables" => EventKind::Iptables {
                    af: Af::Inet,
                    cmd: s.clone(),
                },
                "ip6tables" => EventKind::Iptables {
                    af: Af::Inet6,
                    cmd: s.clone(),
                },
                _ => {
                    Sysctls::default()
                        .set_assignment(s)
                        .map_err(|e| format!("bad sysctl {s:?}: {e}"))?;
                    EventKind::Sysctl(s.clone())
                }
            }
        }
        many => return Err(format!("event has more than one kind: {}", many.join(", "))),
    };
    Ok(Event {
        line,
        t,
        time,
        kind,
    })
}

fn get_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("\"{key}\" must be a string, not {other}")),
    }
}

fn parse_endpoint(obj: &Map<String, Value>, key: &str) -> Result<SocketAddr, String> {
    let s = get_str(obj, key)?.ok_or_else(|| format!("packet without \"{key}\" (address:port)"))?;
    s.parse::<SocketAddr>().map_err(|_| {
        format!(
            "\"{key}\" {s:?} is not an address:port (IPv4 `192.0.2.1:80`, IPv6 `[2001:db8::1]:80`)"
        )
    })
}

fn parse_packet(obj: &Map<String, Value>) -> Result<Packet, String> {
    let proto_s = get_str(obj, "proto")?.unwrap_or_default();
    let proto = Proto::from_name(proto_s)
        .ok_or_else(|| format!("unknown \"proto\" {proto_s:?} (expected tcp, udp or sctp)"))?;
    let src = parse_endpoint(obj, "src")?;
    let dst = parse_endpoint(obj, "dst")?;
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(format!(
            "\"src\" {src} and \"dst\" {dst} are of different address families"
        ));
    }
    let flags_s = get_str(obj, "flags")?;
    let tcp = TcpFlags::from_letters(flags_s.unwrap_or("A"))
        .map_err(|e| format!("bad \"flags\": {e}"))?;
    let dir = match get_str(obj, "dir")? {
        None | Some("in") => Dir::In,
        Some("out") => Dir::Out,
        Some(other) => return Err(format!("\"dir\" {other:?} must be \"in\" or \"out\"")),
    };
    let mark = match obj.get("mark") {
        None => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .and_then(|m| u32::try_from(m).ok())
                .ok_or_else(|| format!("\"mark\" {n} must be an integer 0..=4294967295"))?,
        ),
        Some(other) => return Err(format!("\"mark\" must be an integer, not {other}")),
    };
    let chunk_s = get_str(obj, "chunk")?;
    let sctp = match (proto, chunk_s) {
        (Proto::Sctp, Some(name)) => {
            SctpChunk::from_name(name).ok_or_else(|| format!("unknown SCTP \"chunk\" {name:?}"))?
        }
        (Proto::Sctp, None) => {
            if tcp.syn {
                SctpChunk::Init
            } else if tcp.rst {
                SctpChunk::Abort
            } else if tcp.fin {
                SctpChunk::Shutdown
            } else {
                SctpChunk::Data
            }
        }
        (_, Some(_)) => return Err("\"chunk\" is only for sctp packets".to_string()),
        (_, None) => SctpChunk::Data,
    };
    let tcp = if proto == Proto::Tcp {
        tcp
    } else {
        TcpFlags::default()
    };
    Ok(Packet {
        proto,
        src,
        dst,
        dir,
        tcp,
        sctp,
        mark,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(line: &str) -> Result<Event, String> {
        parse_line(line, 7)
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn tcp_packet_defaults() {
        let ev = one(r#"{"t":0.0,"proto":"tcp","src":"198.51.100.7:1000","dst":"192.0.2.10:80"}"#)
            .unwrap();
        assert_eq!(ev.line, 7);
        assert_eq!(ev.t, 0.0);
        assert_eq!(ev.time, Time::ZERO);
        let expect = Packet::tcp(sa("198.51.100.7:1000"), sa("192.0.2.10:80"), TcpFlags::ACK);
        assert_eq!(ev.kind, EventKind::Packet(expect));
    }

    #[test]
    fn tcp_packet_all_fields() {
        let ev = one(
            r#"{"t":1.5,"proto":"TCP","src":"[2001:db8::5]:1000","dst":"[2001:db8::10]:443","flags":"sa","mark":4294967295,"dir":"out"}"#,
        )
        .unwrap();
        assert_eq!(ev.time, Time(1_500_000_000));
        let EventKind::Packet(p) = ev.kind else {
            panic!()
        };
        assert_eq!(p.proto, Proto::Tcp);
        assert_eq!(p.src, sa("[2001:db8::5]:1000"));
        assert_eq!(p.dst, sa("[2001:db8::10]:443"));
        assert_eq!(
            p.tcp,
            TcpFlags {
                syn: true,
                ack: true,
                fin: false,
                rst: false
            }
        );
        assert_eq!(p.mark, Some(u32::MAX));
        assert_eq!(p.dir, Dir::Out);
        assert_eq!(p.af(), Af::Inet6);
    }

    #[test]
    fn integer_time_and_mark_zero() {
        let ev =
            one(r#"{"t":5,"proto":"udp","src":"1.2.3.4:5","dst":"5.6.7.8:53","mark":0}"#).unwrap();
        assert_eq!(ev.t, 5.0);
        assert_eq!(ev.time, Time::from_secs(5));
        let EventKind::Packet(p) = ev.kind else {
            panic!()
        };
        assert_eq!(p.proto, Proto::Udp);
        assert_eq!(p.mark, Some(0));
        assert_eq!(p.tcp, TcpFlags::default());
    }

    #[test]
    fn sctp_chunks() {
        let chunk = |extra: &str| {
            let l =
                format!(r#"{{"t":0,"proto":"sctp","src":"1.2.3.4:5","dst":"5.6.7.8:9"{extra}}}"#);
            match one(&l).unwrap().kind {
                EventKind::Packet(p) => p.sctp,
                _ => panic!(),
            }
        };
        assert_eq!(chunk(""), SctpChunk::Data);
        assert_eq!(chunk(r#","flags":"S""#), SctpChunk::Init);
        assert_eq!(chunk(r#","flags":"R""#), SctpChunk::Abort);
        assert_eq!(chunk(r#","flags":"FA""#), SctpChunk::Shutdown);
        assert_eq!(chunk(r#","chunk":"cookie-echo""#), SctpChunk::CookieEcho);
        assert_eq!(chunk(r#","chunk":"INIT","flags":"R""#), SctpChunk::Init);
    }

    #[test]
    fn command_events() {
        let k = |l: &str| one(l).unwrap().kind;
        assert_eq!(
            k(r#"{"t":5.0,"ipvsadm":"-e -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 0"}"#),
            EventKind::Ipvsadm("-e -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 0".into())
        );
        assert_eq!(
            k(r#"{"t":5.0,"iptables":"-t mangle -F"}"#),
            EventKind::Iptables {
                af: Af::Inet,
                cmd: "-t mangle -F".into()
            }
        );
        assert_eq!(
            k(r#"{"t":5.0,"ip6tables":"-t mangle -F"}"#),
            EventKind::Iptables {
                af: Af::Inet6,
                cmd: "-t mangle -F".into()
            }
        );
        assert_eq!(
            k(r#"{"t":0.0,"sysctl":"expire_quiescent_template=1"}"#),
            EventKind::Sysctl("expire_quiescent_template=1".into())
        );
    }

    fn err(line: &str) -> String {
        one(line).unwrap_err()
    }

    #[test]
    fn line_errors() {
        let cases: &[(&str, &str)] = &[
            ("{not json", "not valid JSON"),
            ("[1,2]", "JSON object"),
            ("42", "JSON object"),
            (
                r#"{"proto":"tcp","src":"1.2.3.4:5","dst":"5.6.7.8:80"}"#,
                "missing \"t\"",
            ),
            (
                r#"{"t":"0","proto":"tcp","src":"1.2.3.4:5","dst":"5.6.7.8:80"}"#,
                "must be a number",
            ),
            (
                r#"{"t":-1,"proto":"tcp","src":"1.2.3.4:5","dst":"5.6.7.8:80"}"#,
                "between 0",
            ),
            (
                r#"{"t":1e10,"proto":"tcp","src":"1.2.3.4:5","dst":"5.6.7.8:80"}"#,
                "between 0",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"1.2.3.4:5","dst":"5.6.7.8:80","x":1}"#,
                "unknown key \"x\"",
            ),
            (
                r#"{"t":0,"proto":"icmp","src":"1.2.3.4:5","dst":"5.6.7.8:80"}"#,
                "unknown \"proto\"",
            ),
            (
                r#"{"t":0,"proto":6,"src":"1.2.3.4:5","dst":"5.6.7.8:80"}"#,
                "must be a string",
            ),
            (
                r#"{"t":0,"proto":"tcp","dst":"5.6.7.8:80"}"#,
                "without \"src\"",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"1.2.3.4:5"}"#,
                "without \"dst\"",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"1.2.3.4","dst":"5.6.7.8:80"}"#,
                "not an address:port",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"1.2.3.4:70000","dst":"5.6.7.8:80"}"#,
                "not an address:port",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"2001:db8::1:5","dst":"5.6.7.8:80"}"#,
                "not an address:port",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"[2001:db8::1]:5","dst":"5.6.7.8:80"}"#,
                "different address families",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"1.2.3.4:5","dst":"5.6.7.8:80","flags":"SX"}"#,
                "bad \"flags\"",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"1.2.3.4:5","dst":"5.6.7.8:80","flags":"SS"}"#,
                "bad \"flags\"",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"1.2.3.4:5","dst":"5.6.7.8:80","flags":1}"#,
                "must be a string",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"1.2.3.4:5","dst":"5.6.7.8:80","dir":"up"}"#,
                "\"dir\"",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"1.2.3.4:5","dst":"5.6.7.8:80","mark":-1}"#,
                "\"mark\"",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"1.2.3.4:5","dst":"5.6.7.8:80","mark":4294967296}"#,
                "\"mark\"",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"1.2.3.4:5","dst":"5.6.7.8:80","mark":1.5}"#,
                "\"mark\"",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"1.2.3.4:5","dst":"5.6.7.8:80","mark":"1"}"#,
                "\"mark\"",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"1.2.3.4:5","dst":"5.6.7.8:80","chunk":"INIT"}"#,
                "only for sctp",
            ),
            (
                r#"{"t":0,"proto":"sctp","src":"1.2.3.4:5","dst":"5.6.7.8:80","chunk":"HELLO"}"#,
                "unknown SCTP",
            ),
            (r#"{"t":0}"#, "no kind"),
            (
                r#"{"t":0,"src":"1.2.3.4:5","dst":"5.6.7.8:80"}"#,
                "without \"proto\"",
            ),
            (
                r#"{"t":0,"proto":"tcp","src":"1.2.3.4:5","dst":"5.6.7.8:80","ipvsadm":"-C"}"#,
                "more than one kind",
            ),
            (
                r#"{"t":0,"ipvsadm":"-C","sysctl":"conntrack=1"}"#,
                "more than one kind",
            ),
            (
                r#"{"t":0,"ipvsadm":"-C","flags":"S"}"#,
                "belongs to packet events",
            ),
            (r#"{"t":0,"ipvsadm":["-C"]}"#, "must be a string"),
            (r#"{"t":0,"sysctl":"no_such=1"}"#, "bad sysctl"),
            (r#"{"t":0,"sysctl":"expire_nodest_conn"}"#, "bad sysctl"),
            (r#"{"t":0,"sysctl":"expire_nodest_conn=x"}"#, "bad sysctl"),
        ];
        for (line, want) in cases {
            let e = err(line);
            assert!(
                e.contains(want),
                "line {line}: error {e:?} should contain {want:?}"
            );
        }
    }

    #[test]
    fn whole_trace_blank_lines_count_and_crlf() {
        let text = "\n{\"t\":0,\"sysctl\":\"conntrack=1\"}\r\n   \n{\"t\":0.5,\"proto\":\"udp\",\"src\":\"1.2.3.4:5\",\"dst\":\"5.6.7.8:53\"}\n";
        let evs = parse_trace(text, "x.jsonl").unwrap();
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].line, 1);
        assert_eq!(evs[1].line, 3);
        assert_eq!(evs[1].t, 0.5);
    }

    #[test]
    fn whole_trace_errors_name_file_and_line() {
        let text =
            "{\"t\":1,\"sysctl\":\"conntrack=1\"}\n\n{\"t\":0.5,\"sysctl\":\"conntrack=0\"}\n";
        let e = parse_trace(text, "dir/x.jsonl").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(
            e.to_string()
                .starts_with("dir/x.jsonl:3: time goes backwards"),
            "{e}"
        );
        // Equal times are fine.
        parse_trace(
            "{\"t\":1,\"sysctl\":\"conntrack=1\"}\n{\"t\":1.0,\"sysctl\":\"conntrack=0\"}",
            "x",
        )
        .unwrap();
        let e = parse_trace(
            "{\"t\":1,\"sysctl\":\"conntrack=1\"}\n{\"t\":2,\"bogus\":1}",
            "y.jsonl",
        )
        .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().starts_with("y.jsonl:2: unknown key"), "{e}");
        assert!(parse_trace("", "empty").unwrap().is_empty());
        // A UTF-8 byte order mark is ignored.
        assert_eq!(
            parse_trace("\u{feff}{\"t\":0,\"sysctl\":\"conntrack=1\"}", "bom")
                .unwrap()
                .len(),
            1
        );
    }

    proptest! {
        #[test]
        fn parse_line_never_panics(s in ".{0,200}") {
            let _ = parse_line(&s, 0);
        }

        #[test]
        fn parse_line_never_panics_on_near_valid(
            t in prop_oneof![any::<f64>().prop_map(|f| f.to_string()), "[0-9.e-]{1,8}"],
            proto in "(tcp|udp|sctp|x)",
            src in "[0-9.:\\[\\]a-f]{0,20}",
            flags in "[SAFRX]{0,5}",
        ) {
            let l = format!(r#"{{"t":{t},"proto":"{proto}","src":"{src}","dst":"1.2.3.4:80","flags":"{flags}"}}"#);
            let _ = parse_line(&l, 0);
        }
    }
}
