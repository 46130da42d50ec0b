//! The `lvsnic` binary end to end: the golden scenarios of `tests/scenarios/` (see its README)
//! and the CLI's error behaviour. This lives in the `lvsnic` package because only its own
//! integration tests get `CARGO_BIN_EXE_lvsnic` (cargo builds the binary for them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use etherparse::PacketBuilder;
use pcap_file::pcap::{PcapPacket, PcapWriter};

fn lvsnic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lvsnic"))
        .args(args)
        .output()
        .expect("run lvsnic")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
}

/// A scratch file for this test binary.
fn scratch(name: &str, contents: &[u8]) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lvsnic-cli");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p.display().to_string()
}

const ONE_SERVICE: &str = "-A -t 192.0.2.10:80 -s rr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1\n";

// ---- needs only the CLI and the trace parser (passes without the model) ----

#[test]
fn help_names_the_schedulers() {
    for args in [&["--help"][..], &["replay", "--help"][..]] {
        let o = lvsnic(args);
        assert!(o.status.success());
        let h = stdout(&o);
        assert!(h.contains("rr wrr lc wlc sed nq fo ovf sh dh mh"), "{h}");
        assert!(h.contains("Not supported: twos"), "{h}");
        assert!(h.contains("lblc, lblcr"), "{h}");
    }
    let h = stdout(&lvsnic(&["replay", "--help"]));
    for opt in [
        "--ipvs",
        "--marks",
        "--sysctl",
        "--trace",
        "--pcap",
        "--backend",
    ] {
        assert!(h.contains(opt), "{opt} missing from replay --help");
    }
}

#[test]
fn backend_other_than_model_is_refused_with_the_choices() {
    let ipvs = scratch("backend.ipvs", ONE_SERVICE.as_bytes());
    let trace = scratch("backend.jsonl", b"");
    let o = lvsnic(&[
        "replay",
        "--ipvs",
        &ipvs,
        "--trace",
        &trace,
        "--backend",
        "rtl",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("possible values: model"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn exactly_one_input() {
    let ipvs = scratch("input.ipvs", ONE_SERVICE.as_bytes());
    let trace = scratch("input.jsonl", b"");
    let o = lvsnic(&["replay", "--ipvs", &ipvs]);
    assert!(!o.status.success());
    let o = lvsnic(&[
        "replay", "--ipvs", &ipvs, "--trace", &trace, "--pcap", &trace,
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
}

#[test]
fn malformed_trace_line_names_file_and_line_and_prints_nothing() {
    let ipvs = scratch("bad.ipvs", ONE_SERVICE.as_bytes());
    let cases: &[(&str, &str, &str)] = &[
        ("bad-json.jsonl", "{\"t\":0,\"proto\":\"tcp\",\"src\":\"1.2.3.4:5\",\"dst\":\"192.0.2.10:80\",\"flags\":\"S\"}\n\n{\"t\":1,", ":3: not valid JSON"),
        ("bad-key.jsonl", "{\"t\":0,\"proto\":\"tcp\",\"src\":\"1.2.3.4:5\",\"dst\":\"192.0.2.10:80\",\"colour\":1}\n", ":1: unknown key \"colour\""),
        ("bad-time.jsonl", "{\"t\":5,\"sysctl\":\"conntrack=0\"}\n{\"t\":4.5,\"proto\":\"udp\",\"src\":\"1.2.3.4:5\",\"dst\":\"192.0.2.10:80\"}\n", ":2: time goes backwards"),
        ("bad-addr.jsonl", "{\"t\":0,\"proto\":\"tcp\",\"src\":\"1.2.3.4\",\"dst\":\"192.0.2.10:80\"}\n", ":1: \"src\""),
        ("bad-flags.jsonl", "{\"t\":0,\"proto\":\"tcp\",\"src\":\"1.2.3.4:5\",\"dst\":\"192.0.2.10:80\",\"flags\":\"SYN\"}\n", ":1: bad \"flags\""),
        ("two-kinds.jsonl", "{\"t\":0,\"ipvsadm\":\"-C\",\"sysctl\":\"conntrack=1\"}\n", ":1: event has more than one kind"),
    ];
    for (file, text, want) in cases {
        let trace = scratch(file, text.as_bytes());
        let o = lvsnic(&["replay", "--ipvs", &ipvs, "--trace", &trace]);
        assert_eq!(o.status.code(), Some(1), "{file}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{file}: printed {}", stdout(&o));
        let e = stderr(&o);
        assert!(
            e.contains(&format!("{trace}{want}")),
            "{file}: stderr {e:?} should contain {trace}{want}"
        );
    }
}

#[test]
fn unreadable_files_are_errors() {
    let o = lvsnic(&[
        "replay",
        "--ipvs",
        "/nonexistent/x.ipvs",
        "--trace",
        "/nonexistent/x.jsonl",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("/nonexistent/x.jsonl"),
        "{}",
        stderr(&o)
    );
    let pcap = scratch("not-a.pcap", b"this is not a capture");
    let ipvs = scratch("np.ipvs", ONE_SERVICE.as_bytes());
    let o = lvsnic(&["replay", "--ipvs", &ipvs, "--pcap", &pcap]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&pcap), "{}", stderr(&o));
}

// ---- need the model, the ipvsadm/iptables parsers and save (fail until they are merged) ----

#[test]
fn golden_scenarios_through_the_binary() {
    let mut names: Vec<String> = std::fs::read_dir(scenario_dir())
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "jsonl").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    assert!(names.len() >= 9, "scenarios found: {names:?}");
    let mut failures = Vec::new();
    for name in &names {
        let dir = scenario_dir();
        let f = |ext: &str| dir.join(format!("{name}.{ext}")).display().to_string();
        let mut args = vec!["replay".to_string(), "--ipvs".to_string(), f("ipvs")];
        if Path::new(&f("marks")).exists() {
            args.extend(["--marks".to_string(), f("marks")]);
        }
        args.extend(["--trace".to_string(), f("jsonl")]);
        let o = Command::new(env!("CARGO_BIN_EXE_lvsnic"))
            .args(&args)
            .output()
            .unwrap();
        let expected = std::fs::read_to_string(f("expected")).unwrap();
        if !o.status.success() {
            failures.push(format!(
                "{name}: exit {:?}: {}",
                o.status.code(),
                stderr(&o)
            ));
        } else if stdout(&o) != expected {
            let diff: Vec<String> = stdout(&o)
                .lines()
                .zip(expected.lines())
                .filter(|(a, e)| a != e)
                .map(|(a, e)| format!("    expected {e}\n    actual   {a}"))
                .collect();
            failures.push(format!("{name}: output differs\n{}", diff.join("\n")));
        } else {
            let e = stderr(&o);
            let packets = expected.lines().count();
            assert!(
                e.contains(&format!("replay: {packets} packets")),
                "{name}: summary {e}"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn kernel_refused_trace_event_is_skipped_with_a_warning_naming_the_line() {
    // `-D` of a missing service: the kernel returns ESRCH and changes nothing; the packets
    // around it are decided as usual.
    let ipvs = scratch("refuse.ipvs", ONE_SERVICE.as_bytes());
    let trace = scratch(
        "refuse.jsonl",
        b"{\"t\":0,\"proto\":\"tcp\",\"src\":\"198.51.100.7:1000\",\"dst\":\"192.0.2.10:80\",\"flags\":\"S\"}\n{\"t\":1,\"ipvsadm\":\"-D -t 192.0.2.99:80\"}\n{\"t\":2,\"proto\":\"tcp\",\"src\":\"198.51.100.7:1000\",\"dst\":\"192.0.2.10:80\"}\n",
    );
    let o = lvsnic(&["replay", "--ipvs", &ipvs, "--trace", &trace]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 2, "printed {}", stdout(&o));
    assert!(
        stderr(&o).contains(&format!("{trace}:2: ipvsadm `-D -t 192.0.2.99:80` refused")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ipvsadm_refused_trace_line_is_skipped_but_an_unreplayable_one_stops_the_trace() {
    // `-w 70000`: ipvsadm prints "illegal weight specified" and exits before calling the
    // kernel; the session goes on. `-s lblc`: lvsnic cannot decide for that scheduler.
    let ipvs = scratch("ipvsadm-refuse.ipvs", ONE_SERVICE.as_bytes());
    let syn = |t: u32| {
        format!("{{\"t\":{t},\"proto\":\"tcp\",\"src\":\"198.51.100.7:1000\",\"dst\":\"192.0.2.10:80\",\"flags\":\"S\"}}")
    };
    let trace = scratch(
        "ipvsadm-refuse.jsonl",
        format!(
            "{}\n{{\"t\":1,\"ipvsadm\":\"-a -t 192.0.2.10:80 -r 10.0.0.9 -w 70000\"}}\n{}\n",
            syn(0),
            syn(2)
        )
        .as_bytes(),
    );
    let o = lvsnic(&["replay", "--ipvs", &ipvs, "--trace", &trace]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 2, "printed {}", stdout(&o));
    assert!(
        stderr(&o).contains(&format!(
            "{trace}:2: ipvsadm `-a -t 192.0.2.10:80 -r 10.0.0.9 -w 70000` refused by ipvsadm: illegal weight specified"
        )),
        "{}",
        stderr(&o)
    );
    let trace = scratch(
        "ipvsadm-unsupported.jsonl",
        format!(
            "{}\n{{\"t\":1,\"ipvsadm\":\"-E -t 192.0.2.10:80 -s lblc\"}}\n",
            syn(0)
        )
        .as_bytes(),
    );
    let o = lvsnic(&["replay", "--ipvs", &ipvs, "--trace", &trace]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "printed {}", stdout(&o));
    assert!(
        stderr(&o).contains(&format!("{trace}:2: ipvsadm `-E -t 192.0.2.10:80 -s lblc`")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ipvs_file_errors_name_file_and_line() {
    let ipvs = scratch(
        "badline.ipvs",
        b"-A -t 192.0.2.10:80 -s rr\n\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -w lots\n",
    );
    let trace = scratch("badline.jsonl", b"");
    let o = lvsnic(&["replay", "--ipvs", &ipvs, "--trace", &trace]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&format!("{ipvs}:3:")), "{}", stderr(&o));
    // A command the model refuses (a real server for a missing service) names its line too.
    let ipvs = scratch(
        "refused.ipvs",
        b"-A -t 192.0.2.10:80 -s rr\n-a -t 192.0.2.11:80 -r 10.0.0.1:80 -g -w 1\n",
    );
    let o = lvsnic(&["check", "--ipvs", &ipvs]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&format!("{ipvs}:2:")), "{}", stderr(&o));
}

#[test]
fn non_persistent_port_zero_service_is_refused_like_ipvsadm() {
    // §12.1: ipvsadm refuses `-A` of a non-fwmark port-0 service without -p.
    let ipvs = scratch("zero.ipvs", b"-A -t 192.0.2.10:0 -s rr\n");
    let o = lvsnic(&["check", "--ipvs", &ipvs]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).to_lowercase().contains("zero port"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn check_and_save() {
    let dir = scenario_dir();
    let ipvs = dir.join("fwmark_basic.ipvs").display().to_string();
    let marks = dir.join("fwmark_basic.marks").display().to_string();
    let o = lvsnic(&["check", "--ipvs", &ipvs, "--marks", &marks]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("OK"), "{}", stdout(&o));

    // §12.3 `ipvsadm -S -n`: services by (fwmark, af, protocol, address, port), dests by address.
    let ipvs = dir.join("persist_mask.ipvs").display().to_string();
    let o = lvsnic(&["save", "--ipvs", &ipvs]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = "\
-A -t 192.0.2.10:80 -s rr -p 300 -M 255.255.255.0
-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1
-a -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 1
-A -t [2001:db8::10]:80 -s rr -p 300 -M 64
-a -t [2001:db8::10]:80 -r [2001:db8:1::1]:80 -g -w 1
-a -t [2001:db8::10]:80 -r [2001:db8:1::2]:80 -g -w 1
";
    assert_eq!(stdout(&o).trim_end(), want.trim_end());
}

fn frame_tcp(src: [u8; 4], sport: u16, syn: bool) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, [192, 0, 2, 10], 64)
        .tcp(sport, 80, 1, 65535);
    b = if syn { b.syn() } else { b.ack(1) };
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v
}

/// A small capture: SYN, ACK, ARP, ACK of an unknown flow, a truncated SYN.
fn small_capture() -> String {
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&[
        2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1,
    ]);
    arp.extend_from_slice(&[192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 10]);
    let frames: Vec<(Duration, Vec<u8>)> = vec![
        (
            Duration::new(1_700_000_000, 0),
            frame_tcp([198, 51, 100, 7], 1000, true),
        ),
        (
            Duration::new(1_700_000_000, 500_000_000),
            frame_tcp([198, 51, 100, 7], 1000, false),
        ),
        (Duration::new(1_700_000_001, 0), arp),
        (
            Duration::new(1_700_000_002, 250_000_000),
            frame_tcp([198, 51, 100, 8], 1000, false),
        ),
        (
            Duration::new(1_700_000_003, 0),
            frame_tcp([198, 51, 100, 9], 1000, true)[..40].to_vec(),
        ),
    ];
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for (ts, f) in &frames {
        w.write_packet(&PcapPacket::new(*ts, f.len() as u32, f))
            .unwrap();
    }
    scratch("replay.pcap", &w.into_writer())
}

#[test]
fn pcap_replay() {
    let pcap = small_capture();
    let ipvs = scratch("pcap.ipvs", ONE_SERVICE.as_bytes());
    let o = lvsnic(&["replay", "--ipvs", &ipvs, "--pcap", &pcap]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = "\
{\"i\":0,\"t\":0.0,\"verdict\":\"forward\",\"dest\":\"10.0.0.1:80\",\"mark\":0,\"by\":\"scheduler\"}
{\"i\":1,\"t\":0.5,\"verdict\":\"forward\",\"dest\":\"10.0.0.1:80\",\"mark\":0,\"by\":\"conn\"}
{\"i\":2,\"t\":1.0,\"verdict\":\"local\",\"dest\":null,\"mark\":0,\"by\":null,\"reason\":\"ARP\"}
{\"i\":3,\"t\":2.25,\"verdict\":\"local\",\"dest\":null,\"mark\":0,\"by\":null}
{\"i\":4,\"t\":3.0,\"verdict\":\"local\",\"dest\":null,\"mark\":0,\"by\":null,\"reason\":\"truncated\"}
";
    assert_eq!(stdout(&o), want);
    assert!(
        stderr(&o).contains("replay: 5 packets: forward 2, local 3, drop 0, icmp 0"),
        "{}",
        stderr(&o)
    );
}

/// The same capture on the co-simulated card: the same decisions, each with who made it.
#[cfg(feature = "sim")]
#[test]
fn pcap_replay_on_the_sim_backend() {
    let pcap = small_capture();
    let ipvs = scratch("pcap-sim.ipvs", ONE_SERVICE.as_bytes());
    let o = lvsnic(&[
        "replay",
        "--ipvs",
        &ipvs,
        "--pcap",
        &pcap,
        "--backend",
        "sim",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = "\
{\"i\":0,\"t\":0.0,\"verdict\":\"forward\",\"dest\":\"10.0.0.1:80\",\"mark\":0,\"by\":\"scheduler\",\"backend\":\"host\"}
{\"i\":1,\"t\":0.5,\"verdict\":\"forward\",\"dest\":\"10.0.0.1:80\",\"mark\":0,\"by\":\"conn\",\"backend\":\"card\"}
{\"i\":2,\"t\":1.0,\"verdict\":\"local\",\"dest\":null,\"mark\":0,\"by\":null,\"reason\":\"ARP\",\"backend\":\"host\"}
{\"i\":3,\"t\":2.25,\"verdict\":\"local\",\"dest\":null,\"mark\":0,\"by\":null,\"backend\":\"host\"}
{\"i\":4,\"t\":3.0,\"verdict\":\"local\",\"dest\":null,\"mark\":0,\"by\":null,\"reason\":\"truncated\",\"backend\":\"host\"}
";
    assert_eq!(stdout(&o), want);
}

/// `--verify` reads the card back; the model has no card to read.
#[cfg(feature = "sim")]
#[test]
fn verify_reads_the_card_back_and_needs_the_sim_backend() {
    let pcap = small_capture();
    let ipvs = scratch("verify.ipvs", ONE_SERVICE.as_bytes());
    let o = lvsnic(&["replay", "--ipvs", &ipvs, "--pcap", &pcap, "--verify"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--verify"), "{}", stderr(&o));
    let trace = scratch(
        "verify.jsonl",
        b"{\"t\":0.0,\"proto\":\"tcp\",\"src\":\"198.51.100.7:1000\",\"dst\":\"192.0.2.10:80\",\"flags\":\"S\"}\n\
{\"t\":1.0,\"ipvsadm\":\"-e -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 0\"}\n\
{\"t\":2.0,\"proto\":\"tcp\",\"src\":\"198.51.100.7:1000\",\"dst\":\"192.0.2.10:80\",\"flags\":\"A\"}\n",
    );
    let o = lvsnic(&[
        "replay",
        "--ipvs",
        &ipvs,
        "--trace",
        &trace,
        "--backend",
        "sim",
        "--verify",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("verify: 2 read-back passes"),
        "{}",
        stderr(&o)
    );
}
