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

/// A capture (`lvsnic replay --pcap`) through the card: the card's parser sees the captured
/// Ethernet bytes — plain frames, 802.1Q-tagged ones, ARP and truncated frames among them — and
/// every packet gets the model backend's verdict and dest.
#[test]
fn capture_through_the_card_matches_the_model() {
    use lvsnic::model::Dir;
    use lvsnic::replay::pcap::{parse_frame, Capture, CapturedPacket, Link};
    use lvsnic::replay::run_capture;
    use lvsnic::replay::sim::run_capture_card;
    use lvsnic::replay::trace::{parse_trace, EventKind};

    let (seed, n) = (CI_SEED + 1, 3_000);
    eprintln!("sim_random capture: LVSNIC_SEED={seed} LVSNIC_PACKETS={n}");
    let g = traffic::generate(seed, n);
    let mut rng = traffic::Rng::new(seed);
    let mut cap = Capture::default();
    for ev in parse_trace(&g.trace, "trace").unwrap() {
        let EventKind::Packet(p) = ev.kind else {
            continue;
        };
        if p.dir != Dir::In || p.mark.is_some() {
            continue;
        }
        let mut f = lvsnic::driver::card::frame(&p);
        match rng.below(20) {
            // 802.1Q tag, VLAN 42: the host parses it; the card may or may not
            0 => {
                f.splice(12..12, [0x81, 0x00, 0x00, 42]);
            }
            // a snap-length cut inside the L4 header
            1 => f.truncate(14 + 20 + 10),
            // an ARP request between the packets
            2 => {
                let mut arp = vec![0xff; 6];
                arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
                arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0]);
                arp.extend_from_slice(&[192, 0, 2, 10]);
                cap.packets.push(CapturedPacket {
                    t_ns: ev.time.0,
                    packet: parse_frame(Link::Ethernet, &arp),
                    ether: Some(arp),
                });
            }
            _ => {}
        }
        cap.packets.push(CapturedPacket {
            t_ns: ev.time.0,
            packet: parse_frame(Link::Ethernet, &f),
            ether: Some(f),
        });
    }
    let d = common::director("capture", &g.ipvs, Some(&g.marks), &[]);
    let mut out = Vec::new();
    run_capture(d.clone(), &cap, "capture", &mut out).unwrap();
    let model: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut dec = Vec::new();
    let mut out = Vec::new();
    run_capture_card(
        lvsnic_sim::SimCard::new(),
        d,
        &cap,
        "capture",
        &mut out,
        Some(&mut dec),
        true,
    )
    .unwrap_or_else(|e| panic!("LVSNIC_SEED={seed}: card replay failed: {e}"));
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), model.len());
    let mut on_card = 0;
    for (i, (m, c)) in model.iter().zip(&lines).enumerate() {
        for k in ["i", "t", "verdict", "dest", "mark", "reason"] {
            assert_eq!(
                m.get(k),
                c.get(k),
                "LVSNIC_SEED={seed}: capture packet {i}: model {m} card {c}"
            );
        }
        on_card += (c["backend"] == "card") as usize;
    }
    let skipped = model.iter().filter(|m| m.get("reason").is_some()).count();
    eprintln!(
        "sim_random capture: {} frames, {skipped} not parsed by the host, {on_card} decided on the card",
        lines.len()
    );
    assert!(skipped > 0 && on_card * 20 > lines.len());
}
