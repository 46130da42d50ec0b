//! The co-simulated card + driver against the model: every scenario must give the same verdict
//! and dest for every packet; targeted cases exercise what only the card decides (template
//! learning, conn-hit refresh, deleted real server drop, quiescent template miss).
//! On a mismatch the packet, both decisions, the state behind it and a waveform path are printed.

#![cfg(feature = "sim")]

use std::path::{Path, PathBuf};

use common::{run_both, Run};
use lvsnic::replay::sim::DecidedOn;

mod common;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
}

fn run(ipvs: &str, marks: Option<&str>, sysctls: &[&str], trace_text: &str) -> Run {
    let d = common::director("sim", ipvs, marks, sysctls);
    run_both(d, trace_text, "sim_backend")
}

/// Same verdict and dest for every packet; returns who decided each.
fn same(r: &Run) -> Vec<DecidedOn> {
    common::same(r, "sim_backend")
}

fn scenario(name: &str) -> Vec<DecidedOn> {
    let dir = scenarios_dir();
    let read = |ext: &str| std::fs::read_to_string(dir.join(format!("{name}.{ext}"))).ok();
    let r = run(
        &read("ipvs").unwrap(),
        read("marks").as_deref(),
        &[],
        &read("jsonl").unwrap(),
    );
    same(&r)
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                scenario(stringify!($name));
            }
        )*
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

const PERSIST: &str = "-A -t 192.0.2.10:80 -s rr -p 300 -M 255.255.255.0\n\
-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1\n\
-a -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 1\n";

#[test]
fn card_learns_a_conn_for_a_second_client_of_the_24() {
    let t = "{\"t\":0,\"proto\":\"tcp\",\"src\":\"198.51.100.7:1000\",\"dst\":\"192.0.2.10:80\",\"flags\":\"S\"}\n\
{\"t\":1,\"proto\":\"tcp\",\"src\":\"198.51.100.99:2000\",\"dst\":\"192.0.2.10:80\",\"flags\":\"S\"}\n\
{\"t\":2,\"proto\":\"tcp\",\"src\":\"198.51.100.99:2000\",\"dst\":\"192.0.2.10:80\",\"flags\":\"A\"}\n\
{\"t\":3,\"proto\":\"tcp\",\"src\":\"198.51.100.99:2000\",\"dst\":\"192.0.2.10:80\",\"flags\":\"A\"}\n";
    let r = run(PERSIST, None, &[], t);
    let on = same(&r);
    assert_eq!(on[0], DecidedOn::Host, "first SYN: scheduler on the host");
    assert_eq!(
        on[1],
        DecidedOn::Card,
        "second client of the /24: learned on the card"
    );
    assert_eq!(
        r.card[1].1.by,
        Some(lvsnic::model::DecidedBy::Template),
        "{:?}",
        r.card[1]
    );
    assert_eq!(on[3], DecidedOn::Card, "established conn hit on the card");
}

#[test]
fn conn_hits_on_the_card_keep_an_entry_alive_past_its_model_deadline() {
    // Non-persistent rr: ESTABLISHED 900 s. ACKs every 600 s refresh the card only; at
    // t = 1900 the model's own deadline (1 + 900) is long past, the card's is not.
    let ipvs = "-A -t 192.0.2.10:80 -s rr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1\n\
-a -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 1\n";
    let c = "\"src\":\"198.51.100.7:1000\",\"dst\":\"192.0.2.10:80\"";
    let t = format!(
        "{{\"t\":0,\"proto\":\"tcp\",{c},\"flags\":\"S\"}}\n\
{{\"t\":1,\"proto\":\"tcp\",{c},\"flags\":\"A\"}}\n\
{{\"t\":601,\"proto\":\"tcp\",{c},\"flags\":\"A\"}}\n\
{{\"t\":1201,\"proto\":\"tcp\",{c},\"flags\":\"A\"}}\n\
{{\"t\":1801,\"proto\":\"tcp\",{c},\"flags\":\"A\"}}\n\
{{\"t\":1900,\"proto\":\"tcp\",\"src\":\"203.0.113.1:5\",\"dst\":\"192.0.2.10:80\",\"flags\":\"S\"}}\n\
{{\"t\":2000,\"proto\":\"tcp\",{c},\"flags\":\"A\"}}\n"
    );
    let r = run(ipvs, None, &[], &t);
    let on = same(&r);
    assert_eq!(&on[2..5], &[DecidedOn::Card; 3]);
    assert_eq!(on[6], DecidedOn::Card, "still on the card at t=2000");
}

#[test]
fn deleted_real_server_conn_is_dropped_by_the_card() {
    let ipvs = "-A -t 192.0.2.10:80 -s rr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1\n";
    let c = "\"src\":\"198.51.100.7:1000\",\"dst\":\"192.0.2.10:80\"";
    let t = format!(
        "{{\"t\":0,\"proto\":\"tcp\",{c},\"flags\":\"S\"}}\n\
{{\"t\":1,\"proto\":\"tcp\",{c},\"flags\":\"A\"}}\n\
{{\"t\":2,\"ipvsadm\":\"-d -t 192.0.2.10:80 -r 10.0.0.1:80\"}}\n\
{{\"t\":3,\"proto\":\"tcp\",{c},\"flags\":\"A\"}}\n"
    );
    let r = run(ipvs, None, &[], &t);
    let on = same(&r);
    assert_eq!(r.card[2].1.verdict, lvsnic::model::Verdict::Drop);
    assert_eq!(on[2], DecidedOn::Card);
}

#[test]
fn weight_zero_with_expire_quiescent_template_misses_to_the_host() {
    let t = "{\"t\":0,\"proto\":\"tcp\",\"src\":\"198.51.100.7:1000\",\"dst\":\"192.0.2.10:80\",\"flags\":\"S\"}\n\
{\"t\":1,\"ipvsadm\":\"-e -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 0\"}\n\
{\"t\":2,\"proto\":\"tcp\",\"src\":\"198.51.100.99:2000\",\"dst\":\"192.0.2.10:80\",\"flags\":\"S\"}\n";
    let r = run(PERSIST, None, &["expire_quiescent_template=1"], t);
    let on = same(&r);
    assert_eq!(on[1], DecidedOn::Host, "template not usable: miss");
    assert_eq!(r.card[1].1.dest.unwrap().to_string(), "10.0.0.1:80");
}
