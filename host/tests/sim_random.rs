//! Seeded random traffic (`tests/traffic.rs`) through the model and through the co-simulated
//! card + driver: every packet must get the same verdict and dest. On a mismatch the seed, the
//! trace line, both decisions and the VCD hint are printed.
//!
//! `LVSNIC_SEED=… LVSNIC_PACKETS=… cargo test -p lvsnic --test sim_random -- --nocapture`
//! reproduces a run (the seed is printed on every run and in every failure).

#![cfg(feature = "sim")]

mod common;

#[path = "../../tests/traffic.rs"]
#[allow(dead_code)]
mod traffic;

use lvsnic::replay::sim::DecidedOn;

/// Packets per CI run (the issue asks for at least 100 000).
const CI_PACKETS: usize = 100_000;

#[test]
fn random_traffic_card_matches_model() {
    let (seed, n) = traffic::seed_and_count(CI_PACKETS);
    eprintln!("sim_random: LVSNIC_SEED={seed} LVSNIC_PACKETS={n}");
    let g = traffic::generate(seed, n);
    let d = common::director("random", &g.ipvs, Some(&g.marks), &[]);
    let ctx = format!("LVSNIC_SEED={seed} LVSNIC_PACKETS={n}");
    let r = common::run_both(d, &g.trace, &ctx);
    let on = common::same(&r, &ctx);
    let card = on.iter().filter(|o| **o == DecidedOn::Card).count();
    eprintln!(
        "sim_random: {n} packets, {card} decided on the card, {:.1} s through the card ({:.0} packets/s)",
        r.card_secs,
        n as f64 / r.card_secs
    );
    // The traffic must exercise the card, not only the host.
    assert!(
        n < 1000 || card * 20 > n,
        "{ctx}: only {card} of {n} packets decided on the card"
    );
}
