use lvsnic::model::*;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
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
    let c = |i: u32| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x6440_0000 | i)), 40000);
    let now = Time::ZERO;
    for i in 0..(1u32 << 20) {
        d.process(now, &Packet::tcp(c(i), vip, TcpFlags::SYN));
        d.process(now, &Packet::tcp(c(i), vip, TcpFlags::ACK));
    }
    let n = 5_000_000u32;
    let mut now = now;
    let start = Instant::now();
    for k in 0..n {
        let i = k.wrapping_mul(2_654_435_761) % (1 << 20);
        d.process(now, &Packet::tcp(c(i), vip, TcpFlags::ACK));
        now = now.plus(Duration::from_nanos(100));
    }
    let el = start.elapsed();
    println!("conn hit: {:.2} M/s", n as f64 / el.as_secs_f64() / 1e6);
}
