//! Seeded random traffic through the model backend: the trace is accepted, every packet gets
//! one decision, the run is deterministic, and the traffic exercises every decision path.
//! (The same generator drives the model-vs-card differential test.)

use lvsnic::replay::{self, Input, Options};
use lvsnic_tests::traffic;

fn replay(dir: &std::path::Path, g: &traffic::Generated) -> String {
    std::fs::write(dir.join("t.ipvs"), &g.ipvs).unwrap();
    std::fs::write(dir.join("t.marks"), &g.marks).unwrap();
    std::fs::write(dir.join("t.jsonl"), &g.trace).unwrap();
    let opts = Options {
        ipvs: dir.join("t.ipvs"),
        marks: vec![dir.join("t.marks")],
        sysctls: vec![],
        iface: None,
        input: Input::Trace(dir.join("t.jsonl")),
    };
    let mut out = Vec::new();
    replay::run(&opts, &mut out).unwrap_or_else(|e| panic!("seed {}: {e}", g.seed));
    String::from_utf8(out).unwrap()
}

#[test]
fn random_traffic_is_decided_deterministically_on_every_path() {
    let (seed, n) = traffic::seed_and_count(20_000);
    eprintln!("random traffic: LVSNIC_SEED={seed} LVSNIC_PACKETS={n}");
    let g = traffic::generate(seed, n);
    let dir = std::env::temp_dir().join(format!("lvsnic-random-{seed}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = replay(&dir, &g);
    let b = replay(&dir, &g);
    assert_eq!(a, b, "seed {seed}: two runs differ");
    assert_eq!(a.lines().count(), n, "seed {seed}: one decision per packet");
    for needle in [
        r#""by":"template""#,
        r#""by":"scheduler""#,
        r#""by":"conn""#,
        r#""verdict":"local""#,
        r#""verdict":"icmp""#,
    ] {
        assert!(a.contains(needle), "seed {seed}: no decision with {needle}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
