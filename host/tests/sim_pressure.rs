//! Table and event-ring pressure, model vs co-simulated card + driver (`common::Rig`: every
//! packet's verdict and dest must equal the reference model's).
//!
//! * **Conn table overflow.** Clients of one /24 of a persistent service: the first SYN makes
//!   the template (host), every further SYN is learned by the card. In CI the clients are
//!   chosen (by the ABI hash with the driver's seed) so that both hash choices of every key
//!   fall in the first 32 buckets: 32 x 4 ways + 8 stash = 136 slots for more keys than that,
//!   so the card's learns run into `Full` and the host takes the overflow. The whole table
//!   (16,392 conns + more) is opt-in: `LVSNIC_FULL_TABLE=1`.
//! * **Event ring full.** DMA back-pressure (`SimCard::set_dma_stall`), a 16-slot ring and a
//!   slow host: the card must miss (`TableFull`, counted in `STATS.EVQ_FULL`) instead of
//!   learning; every learn the card counted is handled by the host.

#![cfg(feature = "sim")]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use common::Rig;
use lvsnic::driver::card::{HASH_SEED, KIND_FORWARD, KIND_MISS};
use lvsnic::driver::ring::EventRing;
use lvsnic::model::{Packet, TcpFlags};
use lvsnic_abi::FlowKey;

const PERSIST: &str = "\
-A -t 192.0.2.10:80 -s rr -p 300 -M 255.255.255.0
-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1
-a -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 1
-a -t 192.0.2.10:80 -r 10.0.0.3:80 -g -w 1
";

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

const ACK: TcpFlags = TcpFlags {
    syn: false,
    ack: true,
    fin: false,
    rst: false,
};

fn key(c: IpAddr, port: u16) -> FlowKey {
    FlowKey {
        proto: 6,
        caddr: c,
        cport: port,
        vaddr: VIP.into(),
        vport: 80,
    }
}

/// Clients of 198.51.100.0/24 whose conn keys have both hash choices below `buckets`.
fn colliding_clients(buckets: u32, want: usize) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    'outer: for port in 1024..=u16::MAX {
        for host in 1..=254u8 {
            let c = IpAddr::V4(Ipv4Addr::new(198, 51, 100, host));
            let w = key(c, port).words().unwrap();
            if lvsnic_abi::hash::jhash2(&w, HASH_SEED) & 4095 >= buckets {
                continue;
            }
            let (b0, b1) = lvsnic_abi::hash::buckets(&w, HASH_SEED, 12);
            if b0 < buckets && b1 < buckets {
                out.push(SocketAddr::new(c, port));
                if out.len() == want {
                    break 'outer;
                }
            }
        }
    }
    out
}

fn vip() -> SocketAddr {
    SocketAddr::new(VIP.into(), 80)
}

/// SYN of every client, then an ACK of every client, then a second ACK round; returns
/// (SYNs decided on the card, ACKs on the card, ACKs on the host).
fn open_all(r: &mut Rig, clients: &[SocketAddr], step_ms: u64) -> (usize, usize, usize) {
    let first = Packet::tcp("198.51.100.255:9".parse().unwrap(), vip(), TcpFlags::SYN);
    r.packet("template", &first);
    let mut syn_card = 0;
    for (i, c) in clients.iter().enumerate() {
        r.now_ms += step_ms;
        let o = r.packet(
            &format!("SYN {i} {c}"),
            &Packet::tcp(*c, vip(), TcpFlags::SYN),
        );
        syn_card += (o.kind == KIND_FORWARD) as usize;
    }
    let (mut ack_card, mut ack_host) = (0, 0);
    for round in 0..2 {
        for (i, c) in clients.iter().enumerate() {
            r.now_ms += step_ms;
            let o = r.packet(
                &format!("ACK {round} {i} {c}"),
                &Packet::tcp(*c, vip(), ACK),
            );
            if o.kind == KIND_MISS {
                ack_host += 1;
            } else {
                ack_card += 1;
            }
        }
    }
    (syn_card, ack_card, ack_host)
}

#[test]
fn conn_table_buckets_and_stash_overflow_to_the_host() {
    // 32 buckets x 4 ways + 8 stash = 136 slots for 200 keys.
    let clients = colliding_clients(32, 200);
    assert_eq!(clients.len(), 200);
    let t0 = std::time::Instant::now();
    let mut r = Rig::new(PERSIST, &[]);
    let (syn_card, ack_card, ack_host) = open_all(&mut r, &clients, 1);
    let full = r.card.tables.stats.full;
    eprintln!(
        "overflow: {} clients: SYNs on the card {syn_card}, ACKs card {ack_card} host {ack_host}, \
         host inserts refused Full {full}, not installed {}, {:.1} s",
        clients.len(),
        r.card.tables.not_installed.len(),
        t0.elapsed().as_secs_f64()
    );
    assert!(syn_card > 0, "the card learned");
    assert!(
        ack_card <= 2 * 136,
        "at most 136 of these conns fit on the card: {ack_card} ACK hits"
    );
    assert!(ack_host >= 2 * (200 - 136), "the overflow went to the host");
    let learns = r.stat("LEARNS");
    assert!(learns as usize >= syn_card, "LEARNS {learns}");
}

#[test]
#[ignore = "opt-in (minutes): LVSNIC_FULL_TABLE=1 cargo test -p lvsnic --test sim_pressure -- --ignored"]
fn whole_conn_table_overflows_to_the_host() {
    let n: usize = std::env::var("LVSNIC_FULL_TABLE_CONNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(17_000);
    let clients: Vec<SocketAddr> = (0..n)
        .map(|i| {
            SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1 + (i % 250) as u8)),
                1024 + (i / 250) as u16,
            )
        })
        .collect();
    let t0 = std::time::Instant::now();
    let mut r = Rig::new(PERSIST, &[]);
    let (syn_card, ack_card, ack_host) = open_all(&mut r, &clients, 1);
    eprintln!(
        "whole table: {n} clients: SYNs on the card {syn_card}, ACKs card {ack_card} host {ack_host}, \
         Full {}, {:.1} s",
        r.card.tables.stats.full,
        t0.elapsed().as_secs_f64()
    );
    assert!(ack_card <= 2 * 16_392);
    assert!(ack_host > 0, "the overflow went to the host");
}

/// DMA stalled in long windows: records wait in the card's FIFOs.
fn stall_windows(cycle: u64) -> bool {
    !(cycle / 3_000).is_multiple_of(3)
}

#[test]
fn event_ring_full_makes_the_card_miss_instead_of_learning() {
    let mut r = Rig::new(PERSIST, &[]);
    // A 16-slot ring (the card has produced no record yet).
    r.card.ring = EventRing::setup(&mut r.card.bar, 4).unwrap();
    r.card.bar.dev().set_dma_stall(Some(stall_windows));
    r.drain_every = 97;
    r.max_cycles = 40_000;
    let clients: Vec<SocketAddr> = (0..400u16)
        .map(|i| {
            SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1 + (i % 200) as u8)),
                2000 + i,
            )
        })
        .collect();
    let (syn_card, ack_card, ack_host) = open_all(&mut r, &clients, 1);
    // Let everything land, then compare the card's counters with what the host handled.
    r.card.bar.dev().set_dma_stall(None);
    r.drain_every = 1;
    r.packet("final", &Packet::tcp(clients[0], vip(), ACK));
    let evq_full = r.stat("EVQ_FULL");
    let learns = r.stat("LEARNS");
    let misses = r.stat("MISSES");
    eprintln!(
        "ring full: SYNs on the card {syn_card}, ACKs card {ack_card} host {ack_host}; \
         STATS LEARNS {learns} EVQ_FULL {evq_full} MISSES {misses}; verdicts {:?}; learn events handled {}",
        r.kinds, r.learns
    );
    assert!(evq_full > 0, "the ring filled: the card had to miss");
    assert_eq!(
        learns as u64, r.learns,
        "every learn the card made was handled"
    );
    assert_eq!(
        misses, r.kinds[KIND_MISS as usize],
        "every miss verdict counted"
    );
    let err = r.card.bar.read("CTRL", "ERROR", 0).unwrap();
    assert_eq!(err & 1, 0, "no record dropped (CTRL.ERROR.evq_overflow)");
    let st = r.card.bar.read("EVQ", "STATUS", 0).unwrap();
    assert_eq!(st & 1, 0, "no record dropped (EVQ.STATUS.overflow)");
}
