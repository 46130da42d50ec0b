//! `lvsnic replay`: run a configuration against a trace and print one decision per packet.
//!
//! ```text
//! lvsnic replay --ipvs RULES [--marks RULES]... [--sysctl NAME=VALUE]... (--trace EVENTS.jsonl | --pcap FILE) [--backend model]
//! ```
//!
//! * `--ipvs`: ipvsadm rules (`ipvsadm -S -n` form), applied atomically at t = 0
//!   ([`Director::apply_all`]); an error names `file:line`.
//! * `--marks` (repeatable): iptables-save / ip6tables-save text of the mangle table; the rules of
//!   later files are appended after earlier ones.
//! * `--sysctl NAME=VALUE` (repeatable): set before t = 0.
//! * `--trace`: JSON Lines events ([`trace`]); `--pcap`: a pcap/pcapng capture ([`pcap`]).
//!
//! Output ([`output`]): one JSON line per packet on the given writer; the [`Summary`] is
//! returned (the CLI prints it on stderr).
//!
//! Nothing half-done: the whole trace is parsed and checked before the first decision is
//! printed — every line's syntax, every `ipvsadm`/`iptables` command's syntax, and the
//! configuration events themselves, which are dry-run in order on a copy of the configured
//! director (their acceptance does not depend on packets). So a trace with any bad line prints
//! no decisions at all and the error names the trace path and the 1-based line number.
//!
//! Except one kind of "bad": an `ipvsadm` command that ipvsadm itself refuses (an illegal
//! option, value or combination: it exits before calling the kernel), and an `ipvsadm` or
//! `iptables` command that parses but that the kernel itself refuses (`-a` of a real server that exists: EEXIST, `-d`/`-e` of one that does not:
//! ENOENT, `-D`/`-E` of a missing service: ESRCH, `-l` above `-u`: ERANGE, `iptables -D` of a
//! rule that is not there, ...). The kernel returns the error and changes nothing, and the traffic
//! that follows is decided as before; so does the replay: the event is skipped with a warning in
//! the summary, and the trace goes on.

pub mod output;
pub mod pcap;
pub mod sim;
pub mod trace;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::config::ipvsadm::TraceCmdError;
use crate::config::{self, ConfigError};
use crate::model::fwmark::MarkCmd;
use crate::model::{Director, IpvsCmd, Packet, Time};
pub use output::Summary;
use trace::{EventKind, TraceError};

/// Where the packets come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Trace(PathBuf),
    Pcap(PathBuf),
}

/// Everything `lvsnic replay` is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub ipvs: PathBuf,
    pub marks: Vec<PathBuf>,
    /// `NAME=VALUE` assignments.
    pub sysctls: Vec<String>,
    /// The interface every packet comes in on (iptables `-i`); `None`: the first one a rule
    /// names, else `eth0` ([`crate::model::fwmark::MarkRules::ingress`]).
    pub iface: Option<String>,
    pub input: Input,
}

/// Why a replay (or `save`/`check`) could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{path}: {err}")]
    Read { path: String, err: io::Error },
    /// `--ipvs`/`--marks` file errors (`file:line: message: \`text\``).
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// Trace errors (`trace:line: message`).
    #[error("{0}")]
    Trace(#[from] TraceError),
    #[error("--sysctl {arg}: {msg}")]
    Sysctl { arg: String, msg: String },
    #[error("{path}: {msg}")]
    Pcap { path: String, msg: String },
    #[error("writing decisions: {0}")]
    Output(io::Error),
    /// The card backend failed, or the card and the model disagreed.
    #[error("{0}")]
    Card(String),
}

fn read_text(path: &Path) -> Result<String, ReplayError> {
    fs::read_to_string(path).map_err(|err| ReplayError::Read {
        path: path.display().to_string(),
        err,
    })
}

/// Build the director the options describe: sysctls, mark rules, then the ipvsadm rules
/// (atomically, at t = 0).
pub fn load_config(
    ipvs: &Path,
    marks: &[PathBuf],
    sysctls: &[String],
) -> Result<Director, ReplayError> {
    let mut director = Director::new();
    for s in sysctls {
        director
            .sysctl_mut()
            .set_assignment(s)
            .map_err(|e| ReplayError::Sysctl {
                arg: s.clone(),
                msg: e.to_string(),
            })?;
    }
    for path in marks {
        let name = path.display().to_string();
        let text = read_text(path)?;
        let rules = config::iptables::parse_ruleset(&text).map_err(|e| e.in_source(&name))?;
        director.marks_mut().extend(rules);
    }
    let name = ipvs.display().to_string();
    let text = read_text(ipvs)?;
    let parsed = config::ipvsadm::parse_rules(&text).map_err(|e| e.in_source(&name))?;
    let cmds: Vec<IpvsCmd> = parsed.iter().map(|(_, c)| c.clone()).collect();
    director.apply_all(Time::ZERO, &cmds).map_err(|(i, e)| {
        let line = parsed.get(i).map(|(l, _)| *l).unwrap_or(0);
        let src = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
        ConfigError::new(line, src, e.to_string()).in_source(&name)
    })?;
    Ok(director)
}

/// [`load_config`] for a replay's options, with its ingress interface (`--iface`).
pub(crate) fn configured(opts: &Options) -> Result<Director, ReplayError> {
    let mut director = load_config(&opts.ipvs, &opts.marks, &opts.sysctls)?;
    if let Some(i) = &opts.iface {
        director.marks_mut().set_ingress(i);
    }
    Ok(director)
}

/// Run a replay: decisions go to `out` (flushed at the end), the summary is returned.
pub fn run(opts: &Options, out: &mut dyn Write) -> Result<Summary, ReplayError> {
    // The input is read and checked first (cheap, and independent of the configuration).
    match &opts.input {
        Input::Trace(path) => {
            let name = path.display().to_string();
            let text = read_text(path)?;
            let events = trace::parse_trace(&text, &name)?;
            let director = configured(opts)?;
            run_events(director, &events, &name, out)
        }
        Input::Pcap(path) => {
            let name = path.display().to_string();
            let data = fs::read(path).map_err(|err| ReplayError::Read {
                path: name.clone(),
                err,
            })?;
            let cap = pcap::parse_capture(&data).map_err(|e| ReplayError::Pcap {
                path: name.clone(),
                msg: e.to_string(),
            })?;
            let director = configured(opts)?;
            run_capture(director, &cap, &name, out)
        }
    }
}

/// A trace event ready to execute.
pub(crate) enum Step {
    Packet(Packet),
    Ipvs(IpvsCmd),
    Mark(MarkCmd),
    Sysctl(String),
    Nothing,
    /// An `ipvsadm`/`iptables` event the kernel refuses (the message): nothing changes.
    Refused(String),
}

/// Apply one configuration step; `Err` is the model's message.
pub(crate) fn apply_step(d: &mut Director, now: Time, step: &Step) -> Result<(), String> {
    match step {
        Step::Ipvs(cmd) => d.apply(now, cmd).map_err(|e| e.to_string()),
        Step::Mark(cmd) => d.marks_mut().apply(cmd.clone()),
        Step::Sysctl(s) => d.sysctl_mut().set_assignment(s).map_err(|e| e.to_string()),
        Step::Packet(_) | Step::Nothing | Step::Refused(_) => Ok(()),
    }
}

/// Run trace text (see [`trace`]) on a configured director.
pub fn run_trace(
    director: Director,
    text: &str,
    source_name: &str,
    out: &mut dyn Write,
) -> Result<Summary, ReplayError> {
    let events = trace::parse_trace(text, source_name)?;
    run_events(director, &events, source_name, out)
}

/// Parse every command of the trace and dry-run the configuration events on a copy of the
/// director, so that a bad event stops the replay before any decision is printed.
pub(crate) fn prepare(
    director: &Director,
    events: &[trace::Event],
    source_name: &str,
) -> Result<Vec<Step>, ReplayError> {
    let err = |line: usize, msg: String| TraceError {
        source_name: source_name.to_string(),
        line: line + 1,
        msg,
    };
    // 1. Parse every command.
    let mut steps = Vec::with_capacity(events.len());
    for ev in events {
        let step = match &ev.kind {
            EventKind::Packet(p) => Step::Packet(*p),
            EventKind::Ipvsadm(cmd) => match config::ipvsadm::parse_trace_command(cmd) {
                Ok(Some(c)) => Step::Ipvs(c),
                Ok(None) => Step::Nothing,
                // ipvsadm itself refuses the line: it exits with the error before calling the
                // kernel, nothing changes, and the session goes on (as for kernel refusals).
                Err(TraceCmdError::Refused(m)) => Step::Refused(format!(
                    "{source_name}:{}: ipvsadm `{cmd}` refused by ipvsadm: {m}; nothing changes, the trace goes on",
                    ev.line + 1
                )),
                Err(TraceCmdError::Unsupported(m)) => {
                    return Err(err(ev.line, format!("ipvsadm `{cmd}`: {m}")).into())
                }
            },
            EventKind::Iptables { af, cmd } => match config::iptables::parse_command(cmd, *af) {
                Ok(c) => Step::Mark(c),
                Err(m) => return Err(err(ev.line, format!("iptables `{cmd}`: {m}")).into()),
            },
            EventKind::Sysctl(s) => Step::Sysctl(s.clone()),
        };
        steps.push(step);
    }
    // 2. Dry-run the configuration events on a copy, so that a refused one stops us before any
    //    decision is printed — unless it is an ipvsadm/iptables command the kernel refuses: the
    //    kernel keeps its state, so the event becomes a no-op with a warning.
    {
        let mut dry = director.clone();
        for (ev, step) in events.iter().zip(steps.iter_mut()) {
            if let Err(m) = apply_step(&mut dry, ev.time, step) {
                match step {
                    Step::Ipvs(_) | Step::Mark(_) => {
                        *step = Step::Refused(format!(
                            "{source_name}:{}: {}; the kernel changes nothing, the trace goes on",
                            ev.line + 1,
                            refused(ev, &m)
                        ))
                    }
                    _ => return Err(err(ev.line, refused(ev, &m)).into()),
                }
            }
        }
    }
    Ok(steps)
}

/// Run parsed trace events on a configured director.
pub fn run_events(
    mut director: Director,
    events: &[trace::Event],
    source_name: &str,
    out: &mut dyn Write,
) -> Result<Summary, ReplayError> {
    run_events_on(&mut director, events, source_name, out)
}

/// [`run_events`] on a director the caller keeps (to inspect its state afterwards).
pub fn run_events_on(
    director: &mut Director,
    events: &[trace::Event],
    source_name: &str,
    out: &mut dyn Write,
) -> Result<Summary, ReplayError> {
    let err = |line: usize, msg: String| TraceError {
        source_name: source_name.to_string(),
        line: line + 1,
        msg,
    };
    let steps = prepare(director, events, source_name)?;
    // 3. Run.
    let mut summary = Summary::default();
    for (ev, step) in events.iter().zip(&steps) {
        match step {
            Step::Packet(p) => {
                let d = director.process(ev.time, p);
                summary.count(&d);
                output::write_line(out, ev.line as u64, ev.t, &d, None)
                    .map_err(ReplayError::Output)?;
            }
            Step::Nothing => {}
            Step::Refused(w) => summary.warnings.push(w.clone()),
            other => {
                apply_step(director, ev.time, other).map_err(|m| err(ev.line, refused(ev, &m)))?;
                match other {
                    Step::Ipvs(_) => summary.ipvsadm_events += 1,
                    Step::Mark(_) => summary.iptables_events += 1,
                    _ => summary.sysctl_events += 1,
                }
            }
        }
    }
    out.flush().map_err(ReplayError::Output)?;
    Ok(summary)
}

pub(crate) fn refused(ev: &trace::Event, msg: &str) -> String {
    match &ev.kind {
        EventKind::Ipvsadm(c) => format!("ipvsadm `{c}` refused: {msg}"),
        EventKind::Iptables { cmd, .. } => format!("iptables `{cmd}` refused: {msg}"),
        EventKind::Sysctl(s) => format!("sysctl `{s}` refused: {msg}"),
        EventKind::Packet(_) => msg.to_string(),
    }
}

/// Run a capture (pcap or pcapng bytes) on a configured director.
pub fn run_pcap(
    director: Director,
    data: &[u8],
    source_name: &str,
    out: &mut dyn Write,
) -> Result<Summary, ReplayError> {
    let cap = pcap::parse_capture(data).map_err(|e| ReplayError::Pcap {
        path: source_name.to_string(),
        msg: e.to_string(),
    })?;
    run_capture(director, &cap, source_name, out)
}

/// Run a parsed capture on a configured director.
pub fn run_capture(
    mut director: Director,
    cap: &pcap::Capture,
    source_name: &str,
    out: &mut dyn Write,
) -> Result<Summary, ReplayError> {
    let mut summary = Summary::default();
    if cap.truncated_tail {
        summary.warnings.push(format!(
            "{source_name}: the capture ends inside packet {}; that partial record was ignored",
            cap.packets.len()
        ));
    }
    for (n, cp) in cap.packets.iter().enumerate() {
        match cp.packet {
            Ok(p) => {
                let d = director.process(Time(cp.t_ns), &captured(p));
                summary.count(&d);
                output::write_line(out, n as u64, cp.t(), &d, None).map_err(ReplayError::Output)?;
            }
            Err(skip) => {
                let (d, reason) = summary.skip(skip);
                output::write_line(out, n as u64, cp.t(), &d, Some(&reason))
                    .map_err(ReplayError::Output)?;
            }
        }
    }
    out.flush().map_err(ReplayError::Output)?;
    Ok(summary)
}

/// A captured frame's packet: its direction is not known (`Dir::Any`): the model tries the
/// reply lookup first, as the kernel's hook order does (`ip_vs_out_hook()` before
/// `ip_vs_in_hook()` at LOCAL_IN, alone at FORWARD).
pub(crate) fn captured(mut p: Packet) -> Packet {
    p.dir = crate::model::Dir::Any;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    // These run only the parts that do not reach the model (its core is developed elsewhere).

    #[test]
    fn trace_errors_come_before_any_output() {
        let text = "{\"t\":0,\"proto\":\"tcp\",\"src\":\"1.2.3.4:5\",\"dst\":\"5.6.7.8:80\",\"flags\":\"S\"}\n{\"t\":1,\"proto\":\"tcp\"}\n";
        let mut out = Vec::new();
        let e = run_trace(Director::new(), text, "t.jsonl", &mut out).unwrap_err();
        assert!(out.is_empty());
        assert!(matches!(e, ReplayError::Trace(_)));
        assert!(
            e.to_string()
                .starts_with("t.jsonl:2: packet without \"src\""),
            "{e}"
        );
    }

    #[test]
    fn sysctl_event_refused_in_dry_run_is_impossible_but_bad_sysctl_option_is_an_error() {
        // Bad --sysctl values are refused before anything else is read.
        let e =
            load_config(Path::new("/nonexistent.ipvs"), &[], &["nope=1".to_string()]).unwrap_err();
        assert!(e.to_string().starts_with("--sysctl nope=1:"), "{e}");
        let e = load_config(Path::new("/nonexistent.ipvs"), &[], &[]).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent.ipvs:"), "{e}");
    }

    #[test]
    fn empty_trace_and_sysctl_only_trace() {
        let mut out = Vec::new();
        let s = run_trace(
            Director::new(),
            "\n{\"t\":0,\"sysctl\":\"expire_nodest_conn=1\"}\n",
            "t",
            &mut out,
        )
        .unwrap();
        assert!(out.is_empty());
        assert_eq!(s.sysctl_events, 1);
        assert_eq!(s.packets, 0);
    }

    /// A command the kernel refuses (EEXIST, ENOENT, ESRCH; `iptables -D` of a missing rule)
    /// changes nothing and the trace goes on, as ipvsadm/iptables exiting with an error would
    /// leave it: `ip_vs_add_dest()` returns -EEXIST before touching the service, so rr still
    /// walks `.2, .1` (list newest first).
    #[test]
    fn kernel_refused_commands_are_skipped_with_a_warning() {
        let mut d = Director::new();
        let rules = "-A -u 192.0.2.10:53 -s rr\n-a -u 192.0.2.10:53 -r 10.0.0.1:53 -m\n-a -u 192.0.2.10:53 -r 10.0.0.2:53 -m\n";
        for (_, c) in config::ipvsadm::parse_rules(rules).unwrap() {
            d.apply(Time::ZERO, &c).unwrap();
        }
        let pkt = |t: u32, port: u32| {
            format!("{{\"t\":{t},\"proto\":\"udp\",\"src\":\"198.51.100.1:{port}\",\"dst\":\"192.0.2.10:53\"}}\n")
        };
        let text = [
            pkt(0, 1000),
            "{\"t\":1,\"ipvsadm\":\"-a -u 192.0.2.10:53 -r 10.0.0.1:53 -m -w 5\"}\n".into(),
            "{\"t\":1,\"ipvsadm\":\"-d -u 192.0.2.10:53 -r 10.0.0.3:53\"}\n".into(),
            "{\"t\":1,\"ipvsadm\":\"-e -u 192.0.2.10:53 -r 10.0.0.9:53 -m -w 0\"}\n".into(),
            "{\"t\":1,\"ipvsadm\":\"-D -u 192.0.2.99:53\"}\n".into(),
            "{\"t\":1,\"ipvsadm\":\"-E -u 192.0.2.99:53 -s wrr\"}\n".into(),
            "{\"t\":1,\"iptables\":\"-t mangle -D PREROUTING -p udp -j MARK --set-mark 1\"}\n"
                .into(),
            pkt(2, 1001),
            pkt(3, 1002),
        ]
        .concat();
        let mut out = Vec::new();
        let s = run_trace(d, &text, "t.jsonl", &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let dests: Vec<&str> = out
            .lines()
            .map(|l| {
                l.split("\"dest\":\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            dests,
            ["10.0.0.2:53", "10.0.0.1:53", "10.0.0.2:53"],
            "{out}"
        );
        assert_eq!(s.ipvsadm_events, 0);
        assert_eq!(s.iptables_events, 0);
        assert_eq!(s.warnings.len(), 6, "{:?}", s.warnings);
        assert!(s.warnings[0].starts_with("t.jsonl:2: ipvsadm `-a -u 192.0.2.10:53 -r 10.0.0.1:53 -m -w 5` refused: Destination already exists"), "{:?}", s.warnings);
        assert!(
            s.warnings[5].starts_with("t.jsonl:7: iptables"),
            "{:?}",
            s.warnings
        );
    }

    #[test]
    fn pcap_container_error_names_file() {
        let mut out = Vec::new();
        let e = run_pcap(Director::new(), b"garbage!", "x.pcap", &mut out).unwrap_err();
        assert!(e.to_string().starts_with("x.pcap: "), "{e}");
        assert!(out.is_empty());
    }
}
