//! `lvsnic` command line. Thin: the work is in the library (`lvsnic::replay`, `lvsnic::config`).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use lvsnic::replay::{self, Input, Options, ReplayError};

const SCHEDULERS_HELP: &str = "\
Schedulers supported (ipvsadm -s): rr wrr lc wlc sed nq fo ovf sh dh mh, and none.
Not supported: twos (random), lblc, lblcr.";

#[derive(Parser, Debug)]
#[command(
    name = "lvsnic",
    version,
    about = "IPVS (Linux Virtual Server) director with an FPGA SmartNIC dataplane and a golden software model",
    after_help = SCHEDULERS_HELP
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a configuration against a trace or a capture; print one JSON decision per packet.
    ///
    /// Output (stdout), one line per packet, keys in this order:
    /// {"i":LINE,"t":T,"verdict":"forward|local|drop|icmp","dest":"ADDR:PORT"|null,"mark":M,"by":"conn|template|scheduler"|null}
    /// (pcap packets that cannot be parsed get verdict local and a final "reason" key).
    /// i is the 0-based trace line (blank lines count) or pcap packet number; t is printed as a
    /// JSON float in shortest round-trip form (0 -> 0.0, 5 -> 5.0, 0.25 -> 0.25, 1e-7 -> 1e-7).
    /// A summary goes to stderr. The whole trace (syntax, commands, and the configuration events
    /// dry-run in order) is checked before the first decision is printed; errors name file:line.
    /// An ipvsadm/iptables event the kernel refuses (EEXIST, ENOENT, ESRCH, ...) changes nothing
    /// and the trace goes on, with a warning in the summary.
    #[command(after_help = SCHEDULERS_HELP, verbatim_doc_comment)]
    Replay(ReplayArgs),
    /// Print the configuration in `ipvsadm -S -n` form.
    #[command(after_help = SCHEDULERS_HELP)]
    Save {
        /// ipvsadm rules (`ipvsadm -S -n` / `ipvsadm -R` form).
        #[arg(long, value_name = "RULES")]
        ipvs: PathBuf,
    },
    /// Check configuration files and say OK (or what is wrong, with file:line).
    #[command(after_help = SCHEDULERS_HELP)]
    Check {
        /// ipvsadm rules (`ipvsadm -S -n` / `ipvsadm -R` form).
        #[arg(long, value_name = "RULES")]
        ipvs: PathBuf,
        /// iptables-save / ip6tables-save text of the mangle table (repeatable).
        #[arg(long, value_name = "RULES")]
        marks: Vec<PathBuf>,
    },
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("input").required(true).args(["trace", "pcap"])))]
struct ReplayArgs {
    /// ipvsadm rules (`ipvsadm -S -n` / `ipvsadm -R` form), applied atomically at t = 0.
    #[arg(long, value_name = "RULES")]
    ipvs: PathBuf,
    /// iptables-save / ip6tables-save text of the mangle table (repeatable; appended in order).
    #[arg(long, value_name = "RULES")]
    marks: Vec<PathBuf>,
    /// A /proc/sys/net/ipv4/vs setting, e.g. expire_nodest_conn=1 (repeatable).
    #[arg(long, value_name = "NAME=VALUE")]
    sysctl: Vec<String>,
    /// The interface every packet comes in on, matched by iptables `-i` (default: the first
    /// interface a `-i` rule names, else eth0).
    #[arg(long, value_name = "NAME", value_parser = parse_iface)]
    iface: Option<String>,
    /// Events, one JSON object per line: packets, ipvsadm/iptables/ip6tables commands, sysctls.
    #[arg(long, value_name = "EVENTS.jsonl")]
    trace: Option<PathBuf>,
    /// A pcap or pcapng capture (Ethernet/VLAN/SLL/raw IP; IPv4/IPv6; TCP/UDP/SCTP).
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Which implementation decides.
    #[arg(long, value_enum, default_value_t = Backend::Model)]
    backend: Backend,
    /// With `--backend sim`: read the card's registers and connection/template tables back
    /// after every configuration event and at the end, and compare them with what the driver
    /// wrote; any difference is an error naming the entry.
    #[arg(long)]
    verify: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Backend {
    /// The golden software model.
    Model,
    /// The co-simulated card (Verilated RTL) and the host driver; each line ends with
    /// "backend":"card" (decided by the card) or "host" (a miss, or a packet the host decides).
    #[cfg(feature = "sim")]
    Sim,
}

/// An interface name as the kernel takes it: 1..15 bytes (IFNAMSIZ), no `/`, white space or
/// `:` (`dev_valid_name()`), not `.` or `..`.
fn parse_iface(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() >= lvsnic::model::fwmark::IFNAMSIZ {
        return Err(format!("`{s}` is not 1..15 bytes long"));
    }
    if s == "." || s == ".." || s.chars().any(|c| c == '/' || c == ':' || c.is_whitespace()) {
        return Err(format!("`{s}` is not a valid interface name"));
    }
    Ok(s.to_string())
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("lvsnic: error: {e}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Replay(a) => {
            let input = match (a.trace, a.pcap) {
                (Some(t), None) => Input::Trace(t),
                (None, Some(p)) => Input::Pcap(p),
                _ => unreachable!("clap enforces exactly one of --trace/--pcap"),
            };
            let opts = Options {
                ipvs: a.ipvs,
                marks: a.marks,
                sysctls: a.sysctl,
                iface: a.iface,
                input,
            };
            if a.verify && a.backend == Backend::Model {
                return fail(&"--verify reads a card back: it needs --backend sim");
            }
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            let result = match a.backend {
                Backend::Model => replay::run(&opts, &mut out),
                #[cfg(feature = "sim")]
                Backend::Sim => {
                    let run = replay::sim::CardRunOpts {
                        verify: if a.verify {
                            replay::sim::Verify::AfterConfigChanges
                        } else {
                            replay::sim::Verify::Off
                        },
                        ..replay::sim::CardRunOpts::from_env()
                    };
                    replay::sim::run_sim(&opts, &run, &mut out, None)
                }
            };
            match result {
                Ok(summary) => {
                    eprintln!("{summary}");
                    ExitCode::SUCCESS
                }
                // `lvsnic replay ... | head`: the reader went away; not an error of ours.
                Err(ReplayError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    let _ = out.flush();
                    fail(&e)
                }
            }
        }
        Cmd::Save { ipvs } => match replay::load_config(&ipvs, &[], &[]) {
            Ok(director) => {
                let text = lvsnic::config::save::save(&director.config());
                let mut out = io::stdout().lock();
                match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                    Err(e) => fail(&e),
                }
            }
            Err(e) => fail(&e),
        },
        Cmd::Check { ipvs, marks } => match replay::load_config(&ipvs, &marks, &[]) {
            Ok(director) => {
                let config = director.config();
                let dests: usize = config.iter().map(|(_, d)| d.len()).sum();
                println!(
                    "OK: {} virtual service(s), {} real server(s), {} mark file(s)",
                    config.len(),
                    dests,
                    marks.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
    }
}
