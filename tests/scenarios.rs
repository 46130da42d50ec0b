//! Golden scenarios (`scenarios/*.jsonl`) run in process through `lvsnic::replay::run`, the
//! same code path as `lvsnic replay` minus argument parsing. The built binary runs the same
//! scenarios in `host/tests/cli.rs` (only that package gets `CARGO_BIN_EXE_lvsnic`).
//! Expected outputs were derived by hand from the IPVS semantics; see `scenarios/README.md`.

use lvsnic::replay::{self, Input, Options};
use lvsnic_tests::{compare, scenario_names, Scenario};

fn run_in_process(name: &str) {
    let s = Scenario::load(name);
    let opts = Options {
        ipvs: s.ipvs.clone(),
        marks: s.marks.iter().cloned().collect(),
        sysctls: vec![],
        iface: None,
        input: Input::Trace(s.trace.clone()),
    };
    let mut out = Vec::new();
    let summary = replay::run(&opts, &mut out).unwrap_or_else(|e| panic!("scenario {name}: {e}"));
    let actual = String::from_utf8(out).expect("utf-8 output");
    let trace = std::fs::read_to_string(&s.trace).unwrap();
    if let Err(report) = compare(name, &actual, &s.expected_text(), &trace) {
        panic!("{report}");
    }
    let lines = s
        .expected_text()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count() as u64;
    assert_eq!(
        summary.packets, lines,
        "scenario {name}: summary packet count"
    );
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_in_process(stringify!($name));
            }
        )*
        const LISTED: &[&str] = &[$(stringify!($name)),*];
    };
}

scenarios!(
    persist_mask,
    persist_timeout,
    persist_deferred,
    fwmark_basic,
    fwmark_persistent,
    fwmark_ipv6,
    sched_sh,
    sched_mh,
    edge_cases,
    quiesce,
    client_port_zero,
    persist_dport_zero,
    fwmark_iface,
    ctl_midstream,
    ctl_refused,
    timeouts_set,
    secure_tcp,
);

#[test]
fn every_scenario_is_listed() {
    let mut listed: Vec<&str> = LISTED.to_vec();
    listed.sort();
    assert_eq!(
        scenario_names(),
        listed,
        "add new scenarios to the scenarios! list"
    );
}

#[test]
fn every_expected_line_is_well_formed() {
    // Independent of the model: the expected files follow the output contract.
    for name in scenario_names() {
        let s = Scenario::load(&name);
        let trace = std::fs::read_to_string(&s.trace).unwrap();
        let trace_lines: Vec<&str> = trace.split('\n').collect();
        lvsnic::replay::trace::parse_trace(&trace, &name).unwrap_or_else(|e| panic!("{e}"));
        let mut last_i = None;
        for line in s.expected_text().lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {line}: {e}"));
            let obj = v.as_object().unwrap();
            let keys: Vec<&str> = obj.keys().map(|k| k.as_str()).collect();
            let mut sorted_expect = vec!["by", "dest", "i", "mark", "t", "verdict"];
            sorted_expect.sort();
            assert_eq!(keys, sorted_expect, "{name}: {line}");
            let key_order: Vec<usize> = [
                "\"i\":",
                "\"t\":",
                "\"verdict\":",
                "\"dest\":",
                "\"mark\":",
                "\"by\":",
            ]
            .iter()
            .map(|k| line.find(k).unwrap())
            .collect();
            assert!(
                key_order.windows(2).all(|w| w[0] < w[1]),
                "{name}: key order in {line}"
            );
            let i = v["i"].as_u64().unwrap() as usize;
            assert!(
                last_i.is_none_or(|l| l < i),
                "{name}: i not increasing at {line}"
            );
            last_i = Some(i);
            let ev: serde_json::Value = serde_json::from_str(trace_lines[i]).unwrap();
            assert!(
                ev.get("proto").is_some(),
                "{name}: line {i} of the trace is not a packet"
            );
            assert_eq!(v["t"].as_f64(), ev["t"].as_f64(), "{name}: t of {line}");
            let verdict = v["verdict"].as_str().unwrap();
            if verdict == "forward" {
                assert!(
                    v["dest"].is_string() && v["by"].is_string(),
                    "{name}: {line}"
                );
            } else {
                assert!(v["dest"].is_null() && v["by"].is_null(), "{name}: {line}");
            }
        }
        let packets = trace_lines
            .iter()
            .filter(|l| l.contains("\"proto\""))
            .count();
        assert_eq!(
            packets,
            s.expected_text().lines().count(),
            "{name}: one expected line per packet"
        );
    }
}
