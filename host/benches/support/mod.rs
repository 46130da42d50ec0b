//! The configuration every benchmark and profiling example measures (included with `#[path]`
//! by `benches/*.rs` and `examples/prof_*.rs`, so the figures are comparable).

use std::net::{IpAddr, Ipv4Addr};

#[cfg(feature = "sim")]
#[allow(dead_code)] // not every includer times the host's miss path
pub mod host;

use lvsnic::model::*;

/// The virtual service address.
pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

/// TCP VIP:80, rr, persistent 300 s with a /24 client mask, 8 real servers (DR, weight 1).
pub fn persistent_director() -> Director {
    director_with(Some(300))
}

/// The same service without persistence (a new connection is one conn entry, no template).
#[allow(dead_code)] // not every includer measures it
pub fn plain_director() -> Director {
    director_with(None)
}

fn director_with(persistence: Option<u32>) -> Director {
    let key = ServiceKey::Addr {
        proto: Proto::Tcp,
        addr: IpAddr::V4(VIP),
        port: 80,
    };
    let mut svc = ServiceConf::new(key);
    svc.scheduler = "rr".into();
    svc.persistence = persistence;
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
    d.apply_all(Time::ZERO, &cmds).expect("benchmark config");
    d
}
