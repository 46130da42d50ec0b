//! Profiling driver for the template-hit path (same workload as the `model` bench).
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use lvsnic::model::*;

fn main() {
    let key = ServiceKey::Addr {
        proto: Proto::Tcp,
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        port: 80,
    };
    let mut svc = ServiceConf::new(key);
    svc.scheduler = "rr".into();
    svc.persistence = Some(300);
    svc.netmask = Netmask::V4(Ipv4Addr::new(255, 255, 255, 0));
    let mut cmds = vec![IpvsCmd::AddService(svc)];
    for i in 1..=8u8 {
        cmds.push(IpvsCmd::AddDest {
            svc: key,
            dest: DestConf {
                addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)),
                port: 80,
                fwd: FwdMethod::Route,
                weight: 1,
                u_threshold: 0,
                l_threshold: 0,
                tunnel: TunnelConf::default(),
            },
        });
    }
    let mut d = Director::new();
    d.apply_all(Time::ZERO, &cmds).unwrap();
    let vip = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), 80);
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000_000);
    let mut now = Time::ZERO;
    let start = Instant::now();
    for k in 0..n {
        let i = (k as u32).wrapping_mul(2_654_435_761) % (1 << 20);
        let port = 1024 + (k >> 20) as u16 % 60000;
        let src = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x6440_0000 | i)), port);
        d.process(now, &Packet::tcp(src, vip, TcpFlags::SYN));
        now = now.plus(Duration::from_micros(60));
    }
    let el = start.elapsed();
    println!(
        "{n} decisions in {el:?}: {:.2} M/s",
        n as f64 / el.as_secs_f64() / 1e6
    );
}
