//! Model decisions per second (issue: "≥ 10 M decisions/s on one core for template hits").
//!
//! `cargo bench -p lvsnic --bench model` prints, per case, the time per decision and the
//! throughput in decisions/s (criterion's `thrpt`, elements = decisions).
//!
//! * `template_hit/persistent_24_1M_clients`: a persistent /24 rr service with 8 real servers;
//!   1 M distinct client addresses (4096 /24 networks) whose templates exist; every decision is
//!   a TCP SYN from a new (client, port) pair, so the template is found, validated and
//!   refreshed and a new connection entry is created — the `"by":"template"` path. Virtual time
//!   advances 60 µs per packet so entries expire at the rate they are created (steady state of
//!   about 1 M live connections).
//! * `conn_hit/established_1M`: ACKs on 1 M established connections (`"by":"conn"`).
//! * `scheduler/rr_new_networks`: SYNs from clients whose /24 has no template.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use lvsnic::model::*;

const CLIENTS: u32 = 1 << 20;

#[path = "support/mod.rs"]
mod support;
use support::VIP;

fn director() -> Director {
    support::persistent_director()
}

/// Client `i`: 1 M addresses in 4096 /24 networks under 100.64.0.0/10.
fn client(i: u32, port: u16) -> SocketAddr {
    let i = i % CLIENTS;
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x6440_0000 | i)), port)
}

fn syn(i: u32, port: u16) -> Packet {
    Packet::tcp(
        client(i, port),
        SocketAddr::new(IpAddr::V4(VIP), 80),
        TcpFlags::SYN,
    )
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("model");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(8));

    // Templates for all 4096 networks exist before measuring.
    let mut d = director();
    let mut now = Time::ZERO;
    let step = Duration::from_micros(60);
    for net in 0..4096u32 {
        d.process(now, &syn(net << 8, 1));
        now = now.plus(step);
    }
    let mut n: u64 = 0;
    g.bench_function("template_hit/persistent_24_1M_clients", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                n += 1;
                let i = (n as u32).wrapping_mul(2_654_435_761) % CLIENTS; // spread over networks
                let port = 1024 + (n / CLIENTS as u64) as u16 % 60000;
                let dec = d.process(now, &syn(i, port));
                debug_assert_eq!(dec.by, Some(DecidedBy::Template));
                now = now.plus(step);
            }
            start.elapsed()
        })
    });

    // 1 M established connections (SYN then ACK), then ACKs round-robin over them.
    let mut d = director();
    let mut now = Time::ZERO;
    for i in 0..CLIENTS {
        d.process(now, &syn(i, 40000));
        d.process(
            now,
            &Packet::tcp(
                client(i, 40000),
                SocketAddr::new(IpAddr::V4(VIP), 80),
                TcpFlags::ACK,
            ),
        );
    }
    let mut k: u32 = 0;
    g.bench_function("conn_hit/established_1M", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                k = k.wrapping_add(1);
                let i = k.wrapping_mul(2_654_435_761) % CLIENTS;
                let p = Packet::tcp(
                    client(i, 40000),
                    SocketAddr::new(IpAddr::V4(VIP), 80),
                    TcpFlags::ACK,
                );
                d.process(now, &p);
                now = now.plus(Duration::from_nanos(100));
            }
            start.elapsed()
        })
    });

    g.bench_function("scheduler/rr_new_networks", |b| {
        b.iter_batched_ref(
            director,
            |d| {
                for net in 0..4096u32 {
                    d.process(Time::ZERO, &syn(net << 8, 1));
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
