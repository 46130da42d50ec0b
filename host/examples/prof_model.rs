//! Profiling driver for the model's hot paths (a `perf record` target; the figures of record are
//! the criterion bench `cargo bench -p lvsnic --bench model`).
//!
//! `cargo run --release -p lvsnic --example prof_model -- template|conn [N]`
//! * `template`: SYNs from new (client, port) pairs of 1 M clients in 4096 /24s, whose templates
//!   exist: the `"by":"template"` path, each creating a connection entry;
//! * `conn`: ACKs on 1 M established connections.
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use lvsnic::model::*;

const CLIENTS: u32 = 1 << 20;

#[path = "../benches/support/mod.rs"]
mod support;

fn director() -> Director {
    support::persistent_director()
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "template".into());
    let n: u32 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3_000_000);
    let vip = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), 80);
    let client = |i: u32, port: u16| {
        SocketAddr::new(
            IpAddr::V4(Ipv4Addr::from(0x6440_0000 | (i % CLIENTS))),
            port,
        )
    };
    let mut d = director();
    let mut now = Time::ZERO;
    if mode == "conn" {
        for i in 0..CLIENTS {
            d.process(now, &Packet::tcp(client(i, 40000), vip, TcpFlags::SYN));
            d.process(now, &Packet::tcp(client(i, 40000), vip, TcpFlags::ACK));
        }
    }
    let start = Instant::now();
    for k in 0..n {
        let i = k.wrapping_mul(2_654_435_761) % CLIENTS;
        let p = if mode == "conn" {
            Packet::tcp(client(i, 40000), vip, TcpFlags::ACK)
        } else {
            Packet::tcp(
                client(i, 1024 + (k >> 20) as u16 % 60000),
                vip,
                TcpFlags::SYN,
            )
        };
        d.process(now, &p);
        now = now.plus(Duration::from_micros(if mode == "conn" { 0 } else { 60 }));
    }
    let el = start.elapsed();
    println!(
        "{mode}: {n} decisions in {el:?}: {:.2} M/s",
        n as f64 / el.as_secs_f64() / 1e6
    );
}
