//! Profiling driver for the host's miss path (a `perf record` / `valgrind --tool=callgrind`
//! target; the figures of record are `cargo bench -p lvsnic --bench card`,
//! "host/miss_records_per_s").
//!
//! `cargo run --release -p lvsnic --example prof_host -- [batch] [rounds]`
//!
//! Captures miss records from the co-simulated card (SYNs of new /24 networks of a persistent
//! service: each creates a template and a conn), then runs the host handler over them `rounds`
//! times with a fresh model and shadow: decode → `Director::process` → journal mirror → command
//! planning and encoding, one mirror per `batch` records (1 = per record, as `Card::handle`;
//! more = as `Card::drain`).
//!
//! * `LVSNIC_RECORDS=file`: save the captured records there, or load them from there when it
//!   exists (no simulator in the run: for valgrind);
//! * `LVSNIC_WARM=1`: first run the records once and let every entry expire, then time them
//!   again (a model and shadow that have grown already: no allocation growth in the figure).
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use lvsnic::driver::card::{self, Card};
use lvsnic::driver::tables::Tables;
use lvsnic::model::*;
use lvsnic_abi::limits::RECORD_WORDS;
use lvsnic_abi::records::Record;
use lvsnic_sim::SimCard;

#[path = "../benches/support/mod.rs"]
mod support;
use support::host::Plan;
use support::VIP;

fn director() -> Director {
    let mut d = support::persistent_director();
    d.enable_journal();
    d
}

/// SYNs of `n` new /24 networks through the card; its records as the ring holds them.
fn capture(d0: &Director, n: u32) -> ([usize; 5], Vec<[u32; RECORD_WORDS]>) {
    let mut c = Card::init(SimCard::new(), d0).expect("card init");
    let geo = [
        c.info.services,
        c.info.dests,
        c.info.rules,
        c.info.conn.capacity(),
        c.info.tpl.capacity(),
    ]
    .map(|x| x as usize);
    c.set_tick(Time::from_millis(1000)).unwrap();
    let mut recs: Vec<[u32; RECORD_WORDS]> = Vec::with_capacity(n as usize);
    let mut sent = 0u32;
    let mut idle = 0;
    while recs.len() < n as usize && idle < 1000 {
        while sent < n && c.bar.dev().pending_beats() < 256 {
            let src = SocketAddr::new(
                IpAddr::V4(Ipv4Addr::from(0x2000_0000 | ((sent & 0xffff) << 8) | 7)),
                50000,
            );
            let p = Packet::tcp(src, SocketAddr::new(IpAddr::V4(VIP), 80), TcpFlags::SYN);
            c.bar.dev().send(&card::frame(&p));
            sent += 1;
        }
        c.bar.dev().tick();
        while c.bar.dev().take_verdict().is_some() {}
        let mut got = false;
        while let Some(r) = c.ring.poll(&mut c.bar).unwrap() {
            recs.push(r.encode(false).unwrap());
            got = true;
        }
        c.ring.doorbell(&mut c.bar, false).unwrap();
        idle = if got || sent < n { 0 } else { idle + 1 };
    }
    (geo, recs)
}

/// CPU time of this thread (ns), from the scheduler's accounting (time other processes take
/// on the shared cores does not count; on some kernels it advances in whole ticks).
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The timed pass, out of line so that a profiler can isolate it from the warm-up
/// (`valgrind --tool=callgrind --toggle-collect=prof_host::timed_pass`).
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn timed_pass(
    d: &mut Director,
    tables: &mut Tables,
    plan: &mut Plan,
    recs: &[[u32; RECORD_WORDS]],
    batch: usize,
    shift: u64,
    dec: &mut Vec<lvsnic_abi::records::MissRecord>,
    phases: &mut [Duration; 3],
) {
    for chunk in recs.chunks(batch) {
        let mut now = Time::ZERO;
        if batch == 1 {
            if let Record::Miss(m) = Record::decode(&chunk[0]).unwrap().0 {
                now = Time::from_millis(m.tick as u64 + shift);
                let p = card::packet_of(&m.key, m.l4_info);
                std::hint::black_box(d.process(now, &p));
                tables.mirror_journal(d, now, plan).unwrap();
            }
        } else {
            let t0 = Instant::now();
            dec.clear();
            for w in chunk {
                if let Record::Miss(m) = Record::decode(w).unwrap().0 {
                    dec.push(m);
                }
            }
            let t1 = Instant::now();
            for m in dec.iter() {
                now = Time::from_millis(m.tick as u64 + shift);
                let p = card::packet_of(&m.key, m.l4_info);
                std::hint::black_box(d.process(now, &p));
            }
            let t2 = Instant::now();
            tables.mirror_journal(d, now, plan).unwrap();
            let t3 = Instant::now();
            phases[0] += t1 - t0;
            phases[1] += t2 - t1;
            phases[2] += t3 - t2;
        }
        plan.clear();
    }
}

fn main() {
    let batch: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let rounds: u32 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let n = 20_000u32;
    let d0 = director();
    // `LVSNIC_RECORDS=file`: captured records are saved there, and loaded from there when it
    // exists (for runs without the simulator, e.g. under `valgrind --tool=cachegrind`).
    let file = std::env::var_os("LVSNIC_RECORDS").map(std::path::PathBuf::from);
    let (geo, recs) = match file.as_ref().and_then(|f| std::fs::read_to_string(f).ok()) {
        Some(text) => {
            let mut nums = text.split_whitespace().map(|x| x.parse::<u32>().unwrap());
            let geo: [usize; 5] = std::array::from_fn(|_| nums.next().unwrap() as usize);
            let words: Vec<u32> = nums.collect();
            let recs = words
                .chunks_exact(RECORD_WORDS)
                .map(|c| c.try_into().unwrap())
                .collect();
            (geo, recs)
        }
        None => {
            let (geo, recs) = capture(&d0, n);
            if let Some(f) = &file {
                let mut text: String = geo.iter().map(|g| format!("{g} ")).collect();
                for r in &recs {
                    text.extend(r.iter().map(|w| format!("{w} ")));
                }
                std::fs::write(f, text).unwrap();
            }
            (geo, recs)
        }
    };
    let mut best = Duration::MAX;
    let mut total = Duration::ZERO;
    // decode, process, mirror (batched mode only: per-record mode interleaves them)
    let mut phases = [Duration::ZERO; 3];
    let mut best_phases = [Duration::MAX; 3];
    let mut cpu = 0u64;
    let mut dec = Vec::with_capacity(batch);
    let warm = std::env::var_os("LVSNIC_WARM").is_some();
    for _ in 0..rounds {
        let mut d = d0.clone();
        // As `Card::init` sets them up.
        let mut tables = Tables::new(geo[0], geo[1], geo[2]);
        tables.reserve(geo[3], geo[4]);
        let mut plan = Plan::default();
        tables.sync_config(&d, &mut plan).unwrap();
        d.take_changes();
        let shift = if warm {
            support::host::warm_up(&mut d, &mut tables, &recs, &mut plan)
        } else {
            0
        };
        let cpu0 = cpu_ns();
        let t = Instant::now();
        let ph0 = phases;
        timed_pass(
            &mut d,
            &mut tables,
            &mut plan,
            &recs,
            batch,
            shift,
            &mut dec,
            &mut phases,
        );
        let el = t.elapsed();
        cpu += cpu_ns() - cpu0;
        for i in 0..3 {
            best_phases[i] = best_phases[i].min(phases[i] - ph0[i]);
        }
        best = best.min(el);
        total += el;
    }
    if batch > 1 {
        let ns = |x: Duration| x.as_secs_f64() * 1e9 / (rounds as f64 * recs.len() as f64);
        let best_ns = |x: Duration| x.as_secs_f64() * 1e9 / recs.len() as f64;
        println!(
            "per record: decode {:.0} ns, process {:.0} ns, mirror {:.0} ns (best round; mean {:.0}, {:.0}, {:.0})",
            best_ns(best_phases[0]),
            best_ns(best_phases[1]),
            best_ns(best_phases[2]),
            ns(phases[0]),
            ns(phases[1]),
            ns(phases[2])
        );
    }
    // All rounds together: the scheduler accounts CPU time in whole ticks on some kernels,
    // too coarse for one short round.
    let n = recs.len() as f64 * rounds as f64;
    println!(
        "all rounds: {:.0} ns/record of thread CPU time ({:.0} records/s)",
        cpu as f64 / n,
        n * 1e9 / cpu as f64
    );
    println!(
        "{} records, batch {batch}: best {:.0} records/s ({:.0} ns/record), mean {:.0} ns/record over {rounds} rounds",
        recs.len(),
        recs.len() as f64 / best.as_secs_f64(),
        best.as_secs_f64() * 1e9 / recs.len() as f64,
        total.as_secs_f64() * 1e9 / (rounds as f64 * recs.len() as f64)
    );
}
