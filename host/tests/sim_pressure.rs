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

const UDP_SVC: &str = "\
-A -u 192.0.2.10:53 -s rr
-a -u 192.0.2.10:53 -r 10.0.0.1:53 -m -w 1
";

/// A stream of conn hits with no gap between packets (one beat every clock the card takes),
/// for `ticks` ticks of `clocks` clocks each, after flow A's conn has expired: the aged expire
/// records of A, the conn sweep's slots visited (`AGING.LAPS` x capacity + `AGING.POS`, from
/// where it stood), and the clocks the card refused a beat.
fn gapless_hits(rate: u32, ticks: u64, clocks: u32) -> (usize, u64, u64) {
    let mut r = Rig::new(UDP_SVC, &[]);
    r.card.bar.write("AGING", "RATE", 0, rate).unwrap();
    let vip = SocketAddr::new(VIP.into(), 53);
    let a = Packet::udp("198.51.100.7:1000".parse().unwrap(), vip);
    let b = Packet::udp("198.51.100.8:1000".parse().unwrap(), vip);
    // A: scheduled by the host at ~1 s (UDP timeout 300 s); B at 250 s, then a card hit.
    assert_eq!(r.packet("A", &a).kind, KIND_MISS);
    r.now_ms = 250_000;
    assert_eq!(r.packet("B", &b).kind, KIND_MISS);
    assert_eq!(r.packet("B again", &b).kind, KIND_FORWARD);
    let ka = FlowKey {
        proto: 17,
        caddr: a.src.ip(),
        cport: 1000,
        vaddr: VIP.into(),
        vport: 53,
    };
    let frame = lvsnic::driver::card::frame(&b);
    let capacity = r.card.info.conn.capacity() as u64;
    let visited = |r: &mut Rig| {
        let laps = r.card.bar.read("AGING", "LAPS", 0).unwrap() as u64;
        laps * capacity + r.card.bar.read("AGING", "POS", 0).unwrap() as u64
    };
    // The stream runs from here on (register accesses take clocks too); the sweep's position
    // is read once lookups fill the pipeline (the idle clocks before that are free visits).
    for _ in 0..100 {
        let dev = r.card.bar.dev();
        while dev.pending_beats() < 64 {
            dev.send(&frame);
        }
        dev.tick();
        while dev.take_verdict().is_some() {}
    }
    let v0 = visited(&mut r);
    let stalls0 = r.card.bar.dev().stats.stream_stalls;
    let mut aged = 0;
    for t in 0..ticks {
        // A expired at 301,001 ms
        let now = lvsnic::model::Time::from_millis(301_100 + t);
        r.card.set_tick(now).unwrap();
        let dev = r.card.bar.dev();
        for _ in 0..clocks {
            while dev.pending_beats() < 64 {
                dev.send(&frame);
            }
            dev.tick();
            while let Some(v) = dev.take_verdict() {
                assert_eq!(v.kind, KIND_FORWARD, "B's datagrams are conn hits: {v:?}");
            }
        }
        while let Some(rec) = r.card.ring.poll(&mut r.card.bar).unwrap() {
            match rec {
                lvsnic_abi::Record::Expire(e) if e.key == ka => {
                    assert_eq!(e.cause, lvsnic_abi::ExpireCause::Aged);
                    aged += 1;
                }
                other => panic!("unexpected record {other:?}"),
            }
        }
        r.card.ring.doorbell(&mut r.card.bar, false).unwrap();
    }
    let stalls = r.card.bar.dev().stats.stream_stalls - stalls0;
    (aged, visited(&mut r) - v0, stalls)
}

/// `AGING.RATE`: a stream that never pauses must not starve the aging sweep (it visits a slot
/// in a clock without a lookup). With rate 0 it does: no visit, the expired conn stays. With the
/// reset rate (64 slots per tick per table) the card skips one input clock per visit it owes
/// when more than a tick's visits behind (a visit takes a few ten clocks, so 3,000 clocks per
/// tick leave room for 64), the conn sweep moves 64 slots per tick (one tick of slack), laps the
/// 16,392 slots within 258 ticks and reports the expired conn once.
#[test]
fn aging_rate_keeps_the_sweep_going_under_a_gapless_stream() {
    let (aged, visits, stalls) = gapless_hits(0, 40, 3000);
    assert_eq!((aged, visits, stalls), (0, 0, 0), "starved sweep");
    let ticks = 260;
    let (aged, visits, stalls) = gapless_hits(64, ticks, 3000);
    eprintln!("rate 64: aged {aged}, conn slots visited {visits}, input clocks skipped {stalls}");
    assert_eq!(aged, 1);
    // At least the rate but for one tick's slack (the sweep asks for free clocks only when
    // more than a tick behind) and the last tick's visits under way; a free clock the template
    // sweep asked for serves the conn sweep too, so at most twice the rate.
    assert!(
        (64 * (ticks - 2)..=2 * 64 * ticks).contains(&visits),
        "visits {visits}"
    );
    // one skipped clock per visit, both tables
    assert!(stalls <= 2 * 64 * ticks, "skipped {stalls}");
}
