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

/// The CI seed: fixed, so that CI is reproducible; any seed with `LVSNIC_SEED`.
const CI_SEED: u64 = 2;

#[test]
fn random_traffic_card_matches_model() {
    let seed = std::env::var("LVSNIC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CI_SEED);
    let n = std::env::var("LVSNIC_PACKETS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CI_PACKETS);
    run(seed, n);
}

/// Regression: with this seed the driver rewrote a card-held conn (a sysctl change flipped its
/// `syn_miss` flag) with the model's older `last_refresh`, undoing the card's refreshes; the
/// model then expired the conn early and released its /24 template before the kernel would
/// (trace line 3862, t = 2173.712). Fixed in `Tables::put_conn` (the card's newer refresh is
/// kept); unit test `rewrites_without_a_packet_keep_the_cards_newer_refresh`.
#[test]
fn seed_1795315921125566210_card_refresh_survives_rewrites() {
    run(1_795_315_921_125_566_210, 3_900);
}

fn run(seed: u64, n: usize) {
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
