//! Behaviour tests of the director, each written from a rule of `shared/ipvs-semantics.md`
//! (the § is in the test name). Expected values are worked out from the spec by hand.

use std::net::{IpAddr, SocketAddr};

use super::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}
fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
fn t(s: f64) -> Time {
    Time::from_secs_f64(s).unwrap()
}
fn tcp_key(s: &str) -> ServiceKey {
    let a = sa(s);
    ServiceKey::Addr {
        proto: Proto::Tcp,
        addr: a.ip(),
        port: a.port(),
    }
}
fn udp_key(s: &str) -> ServiceKey {
    let a = sa(s);
    ServiceKey::Addr {
        proto: Proto::Udp,
        addr: a.ip(),
        port: a.port(),
    }
}
fn svc(key: ServiceKey, sched: &str, persist: Option<u32>, mask: Option<&str>) -> IpvsCmd {
    let mut c = ServiceConf::new(key);
    c.scheduler = sched.into();
    c.persistence = persist;
    if let Some(m) = mask {
        c.netmask = Netmask::V4(m.parse().unwrap());
    }
    IpvsCmd::AddService(c)
}
fn dest_conf(addr: &str, weight: i32, fwd: FwdMethod) -> DestConf {
    let a = sa(addr);
    DestConf {
        addr: a.ip(),
        port: a.port(),
        fwd,
        weight,
        u_threshold: 0,
        l_threshold: 0,
        tunnel: TunnelConf::default(),
    }
}
fn add_dest(key: ServiceKey, addr: &str, weight: i32) -> IpvsCmd {
    IpvsCmd::AddDest {
        svc: key,
        dest: dest_conf(addr, weight, FwdMethod::Route),
    }
}
fn edit_dest(key: ServiceKey, addr: &str, weight: i32) -> IpvsCmd {
    IpvsCmd::EditDest {
        svc: key,
        dest: dest_conf(addr, weight, FwdMethod::Route),
    }
}
fn syn(src: &str, dst: &str) -> Packet {
    Packet::tcp(sa(src), sa(dst), TcpFlags::SYN)
}
fn ack(src: &str, dst: &str) -> Packet {
    Packet::tcp(sa(src), sa(dst), TcpFlags::ACK)
}
fn udp(src: &str, dst: &str) -> Packet {
    Packet::udp(sa(src), sa(dst))
}

fn director(cmds: &[IpvsCmd]) -> Director {
    let mut d = Director::new();
    d.apply_all(Time::ZERO, cmds).expect("config applies");
    d
}

#[track_caller]
fn expect(d: Decision, verdict: Verdict, dest: Option<&str>, by: Option<DecidedBy>) {
    assert_eq!(d.verdict, verdict, "{d:?}");
    assert_eq!(d.dest, dest.map(sa), "{d:?}");
    assert_eq!(d.by, by, "{d:?}");
}

use DecidedBy::{Conn, Scheduler, Template};
use Verdict::{Drop, Forward, Icmp, Local};

const VIP: &str = "192.0.2.10:80";

/// A persistent /24 rr service with A then B added: list B, A.
fn persistent_24() -> (Director, ServiceKey) {
    let k = tcp_key(VIP);
    let d = director(&[
        svc(k, "rr", Some(300), Some("255.255.255.0")),
        add_dest(k, "10.0.0.1:80", 1),
        add_dest(k, "10.0.0.2:80", 1),
    ]);
    (d, k)
}

#[test]
fn s5_template_groups_client_network_and_bypasses_scheduler() {
    let (mut d, _) = persistent_24();
    // rr starts at the list head: B (newest).
    expect(
        d.process(t(0.0), &syn("198.51.100.7:1000", VIP)),
        Forward,
        Some("10.0.0.2:80"),
        Some(Scheduler),
    );
    // Same /24, other host: the template, scheduler not called.
    expect(
        d.process(t(1.0), &syn("198.51.100.8:2000", VIP)),
        Forward,
        Some("10.0.0.2:80"),
        Some(Template),
    );
    // Another /24: scheduler; rr did not advance for the template hit, so the next is A.
    expect(
        d.process(t(2.0), &syn("203.0.113.1:3000", VIP)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Scheduler),
    );
    // The existing connection is found by its 5-tuple.
    expect(
        d.process(t(3.0), &ack("198.51.100.7:1000", VIP)),
        Forward,
        Some("10.0.0.2:80"),
        Some(Conn),
    );
    assert_eq!(d.template_count(), 2);
    assert_eq!(d.conn_count(), 3);
}

#[test]
fn s2_step7_tcp_non_syn_without_entry_goes_to_host() {
    let (mut d, _) = persistent_24();
    expect(
        d.process(t(0.0), &ack("198.51.100.7:1000", VIP)),
        Local,
        None,
        None,
    );
    // RST never creates an entry, even with SYN.
    let p = Packet::tcp(
        sa("198.51.100.7:1000"),
        sa(VIP),
        TcpFlags::from_letters("SR").unwrap(),
    );
    expect(d.process(t(0.0), &p), Local, None, None);
    assert_eq!(d.conn_count(), 0);
}

#[test]
fn s10_2_sloppy_tcp_schedules_mid_stream() {
    let (mut d, _) = persistent_24();
    d.sysctl_mut().set("sloppy_tcp", "1").unwrap();
    expect(
        d.process(t(0.0), &ack("198.51.100.7:1000", VIP)),
        Forward,
        Some("10.0.0.2:80"),
        Some(Scheduler),
    );
}

#[test]
fn s2_no_service_goes_to_host() {
    let (mut d, _) = persistent_24();
    expect(
        d.process(t(0.0), &syn("198.51.100.7:1000", "192.0.2.10:443")),
        Local,
        None,
        None,
    );
    // No IPv6 service at all: IPVS does not even see IPv6 packets.
    expect(
        d.process(t(0.0), &syn("[2001:db8::1]:1000", "[2001:db8::10]:80")),
        Local,
        None,
        None,
    );
}

#[test]
fn s4_source_port_20_is_never_scheduled() {
    let (mut d, _) = persistent_24();
    expect(
        d.process(t(0.0), &syn("198.51.100.7:20", VIP)),
        Local,
        None,
        None,
    );
}

#[test]
fn s4_port_zero_non_persistent_gives_icmp_and_persistent_keeps_dport() {
    let k0 = tcp_key("192.0.2.20:0");
    let mut d = director(&[svc(k0, "rr", None, None), add_dest(k0, "10.0.0.1:0", 1)]);
    expect(
        d.process(t(0.0), &syn("198.51.100.7:1000", "192.0.2.20:8080")),
        Icmp,
        None,
        None,
    );

    let mut d = director(&[svc(k0, "rr", Some(60), None), add_dest(k0, "10.0.0.1:0", 1)]);
    expect(
        d.process(t(0.0), &syn("198.51.100.7:1000", "192.0.2.20:8080")),
        Forward,
        Some("10.0.0.1:8080"),
        Some(Scheduler),
    );
    // §5.2 (b): every port shares the template.
    expect(
        d.process(t(1.0), &syn("198.51.100.7:1001", "192.0.2.20:443")),
        Forward,
        Some("10.0.0.1:443"),
        Some(Template),
    );
}

/// `-s none` (`ip_vs_add_service()`/`ip_vs_edit_service()` bind no scheduler for that name):
/// a new connection finds no destination (`ip_vs_leave()`: ICMP), a template made before the
/// switch still directs new connections, and switching back binds a fresh rr (list head).
#[test]
fn s9_no_scheduler_leaves_new_connections_but_keeps_templates() {
    let k = tcp_key(VIP);
    let mut d = director(&[
        svc(k, "none", None, None),
        add_dest(k, "10.0.0.1:80", 1),
        add_dest(k, "10.0.0.2:80", 1),
    ]);
    expect(
        d.process(t(0.0), &syn("198.51.100.7:1000", VIP)),
        Icmp,
        None,
        None,
    );
    let edit = |sched: &str, persist| {
        let IpvsCmd::AddService(c) = svc(k, sched, persist, Some("255.255.255.0")) else {
            unreachable!()
        };
        IpvsCmd::EditService(c)
    };
    d.apply(t(1.0), &edit("rr", Some(300))).unwrap();
    expect(
        d.process(t(2.0), &syn("198.51.100.7:1001", VIP)),
        Forward,
        Some("10.0.0.2:80"),
        Some(Scheduler),
    );
    d.apply(t(3.0), &edit("none", Some(300))).unwrap();
    expect(
        d.process(t(4.0), &syn("198.51.100.9:1000", VIP)),
        Forward,
        Some("10.0.0.2:80"),
        Some(Template),
    );
    expect(
        d.process(t(5.0), &syn("203.0.113.9:1000", VIP)),
        Icmp,
        None,
        None,
    );
    d.apply(t(6.0), &edit("rr", Some(300))).unwrap();
    expect(
        d.process(t(7.0), &syn("203.0.113.9:1001", VIP)),
        Forward,
        Some("10.0.0.2:80"),
        Some(Scheduler),
    );
}

#[test]
fn s4_no_dest_gives_icmp() {
    let k = tcp_key(VIP);
    let mut d = director(&[svc(k, "rr", None, None)]);
    expect(
        d.process(t(0.0), &syn("198.51.100.7:1000", VIP)),
        Icmp,
        None,
        None,
    );
    // All real servers quiesced: rr finds none.
    let mut d = director(&[svc(k, "rr", None, None), add_dest(k, "10.0.0.1:80", 0)]);
    expect(
        d.process(t(0.0), &syn("198.51.100.7:1000", VIP)),
        Icmp,
        None,
        None,
    );
}

#[test]
fn s6_1_established_packets_do_not_refresh_the_template() {
    // UDP service, persistence 10 s, OPS so no connection keeps the template alive.
    let k = udp_key("192.0.2.10:53");
    let mut c = ServiceConf::new(k);
    c.scheduler = "rr".into();
    c.persistence = Some(10);
    c.ops = true;
    let mut d = director(&[
        IpvsCmd::AddService(c),
        add_dest(k, "10.0.0.1:53", 1),
        add_dest(k, "10.0.0.2:53", 1),
    ]);
    expect(
        d.process(t(0.0), &udp("198.51.100.7:5000", "192.0.2.10:53")),
        Forward,
        Some("10.0.0.2:53"),
        Some(Scheduler),
    );
    // OPS: every datagram looks the template up and refreshes it (§10.1).
    expect(
        d.process(t(9.999), &udp("198.51.100.7:5000", "192.0.2.10:53")),
        Forward,
        Some("10.0.0.2:53"),
        Some(Template),
    );
    // Alive while now < last_refresh + timeout: at exactly 19.999 it is gone.
    expect(
        d.process(t(19.999), &udp("198.51.100.7:5000", "192.0.2.10:53")),
        Forward,
        Some("10.0.0.1:53"),
        Some(Scheduler),
    );
    assert_eq!(
        d.conn_count(),
        0,
        "OPS entries are freed after their packet"
    );
}

#[test]
fn s6_2_deferred_expiry_and_sticky_60s() {
    // Persistent UDP 10 s; the first datagram's connection lives 300 s and controls the template.
    let k = udp_key("192.0.2.10:53");
    let mut d = director(&[
        svc(k, "rr", Some(10), None),
        add_dest(k, "10.0.0.1:53", 1),
        add_dest(k, "10.0.0.2:53", 1),
    ]);
    let c1 = "198.51.100.7:5000";
    expect(
        d.process(t(0.0), &udp(c1, "192.0.2.10:53")),
        Forward,
        Some("10.0.0.2:53"),
        Some(Scheduler),
    );
    // t=10: template timer fires with n_control=1 → deferred to 70, timeout now 60 s.
    // A new connection (other source port) at t=65 still finds it and refreshes to 65+60=125.
    expect(
        d.process(t(65.0), &udp("198.51.100.7:5001", "192.0.2.10:53")),
        Forward,
        Some("10.0.0.2:53"),
        Some(Template),
    );
    let tpl = d.entries().into_iter().find(|e| e.template).unwrap();
    assert_eq!(
        tpl.expires_in,
        Some(std::time::Duration::from_secs(60)),
        "sticky 60 s after a deferral"
    );
    // Both connections end at 300 / 365 s; the template is re-checked every 60 s: at 125,
    // 185, 245, 305, 365 (n_control still 1 at 365? the 2nd conn expires at 365 exactly,
    // armed before the template's re-check → fires first), so the template goes at 365.
    expect(
        d.process(t(364.9), &udp("198.51.100.7:5002", "192.0.2.10:53")),
        Forward,
        Some("10.0.0.2:53"),
        Some(Template),
    );
}

#[test]
fn s6_2_template_freed_after_last_connection_and_recheck() {
    let k = udp_key("192.0.2.10:53");
    let mut d = director(&[
        svc(k, "rr", Some(10), None),
        add_dest(k, "10.0.0.1:53", 1),
        add_dest(k, "10.0.0.2:53", 1),
    ]);
    expect(
        d.process(t(0.0), &udp("198.51.100.7:5000", "192.0.2.10:53")),
        Forward,
        Some("10.0.0.2:53"),
        Some(Scheduler),
    );
    // Template deferred at 10, 70, 130, 190, 250; the connection expires at 300; the re-check
    // at 310 frees the template. At 305 it still exists.
    expect(
        d.process(t(305.0), &udp("198.51.100.7:6000", "192.0.2.10:53")),
        Forward,
        Some("10.0.0.2:53"),
        Some(Template),
    );
    // That refresh gave 305 + 60 (sticky) and a new controlled connection (until 605).
    let mut d2 = director(&[
        svc(k, "rr", Some(10), None),
        add_dest(k, "10.0.0.1:53", 1),
        add_dest(k, "10.0.0.2:53", 1),
    ]);
    d2.process(t(0.0), &udp("198.51.100.7:5000", "192.0.2.10:53"));
    expect(
        d2.process(t(310.0), &udp("198.51.100.7:6000", "192.0.2.10:53")),
        Forward,
        Some("10.0.0.1:53"),
        Some(Scheduler),
    );
}

#[test]
fn s2_step6_deleted_real_server_drops_existing_connection() {
    let (mut d, k) = persistent_24();
    let c = "198.51.100.7:1000";
    expect(
        d.process(t(0.0), &syn(c, VIP)),
        Forward,
        Some("10.0.0.2:80"),
        Some(Scheduler),
    );
    d.apply(
        t(1.0),
        &IpvsCmd::DelDest {
            svc: k,
            addr: ip("10.0.0.2"),
            port: 80,
        },
    )
    .unwrap();
    expect(d.process(t(2.0), &ack(c, VIP)), Drop, None, None);
    // §5.3: the template is invalid now; a new client of that /24 is scheduled to A.
    expect(
        d.process(t(3.0), &syn("198.51.100.9:1000", VIP)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Scheduler),
    );
    // Re-adding the real server revives it from the trash: the old connection works again.
    d.apply(t(4.0), &add_dest(k, "10.0.0.2:80", 1)).unwrap();
    expect(
        d.process(t(5.0), &ack(c, VIP)),
        Forward,
        Some("10.0.0.2:80"),
        Some(Conn),
    );
}

#[test]
fn s2_step6_expire_nodest_conn_expires_instead_of_dropping() {
    let (mut d, k) = persistent_24();
    d.sysctl_mut().set("expire_nodest_conn", "1").unwrap();
    let c = "198.51.100.7:1000";
    d.process(t(0.0), &syn(c, VIP));
    d.apply(
        t(1.0),
        &IpvsCmd::DelDest {
            svc: k,
            addr: ip("10.0.0.2"),
            port: 80,
        },
    )
    .unwrap();
    // The flush removed the entry and the template: an ACK goes to the host, a SYN is scheduled.
    assert_eq!(d.conn_count(), 0);
    assert_eq!(d.template_count(), 0);
    expect(d.process(t(2.0), &ack(c, VIP)), Local, None, None);
    expect(
        d.process(t(3.0), &syn(c, VIP)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Scheduler),
    );
}

#[test]
fn s5_3_weight_zero_keeps_persistent_clients_unless_expire_quiescent_template() {
    let (mut d, k) = persistent_24();
    d.process(t(0.0), &syn("198.51.100.7:1000", VIP));
    let quiesce = IpvsCmd::EditDest {
        svc: k,
        dest: dest_conf("10.0.0.2:80", 0, FwdMethod::Route),
    };
    d.apply(t(1.0), &quiesce).unwrap();
    expect(
        d.process(t(2.0), &syn("198.51.100.8:1000", VIP)),
        Forward,
        Some("10.0.0.2:80"),
        Some(Template),
    );
    d.sysctl_mut()
        .set("expire_quiescent_template", "1")
        .unwrap();
    expect(
        d.process(t(3.0), &syn("198.51.100.9:1000", VIP)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Scheduler),
    );
}

#[test]
fn s3_fwmark_beats_exact_service_and_extra_bits_fall_through() {
    let k = tcp_key(VIP);
    let f = ServiceKey::Fwmark {
        af: Af::Inet,
        mark: 1,
    };
    let mut d = director(&[
        svc(k, "rr", None, None),
        add_dest(k, "10.0.0.1:80", 1),
        svc(f, "rr", None, None),
        IpvsCmd::AddDest {
            svc: f,
            dest: dest_conf("10.0.0.9:0", 1, FwdMethod::Masq),
        },
    ]);
    let mut p = syn("198.51.100.7:1000", VIP);
    p.mark = Some(1);
    // §4 step 6: non-persistent fwmark, RS port 0 → keep the client's destination port.
    let r = d.process(t(0.0), &p);
    expect(r, Forward, Some("10.0.0.9:80"), Some(Scheduler));
    assert_eq!(r.mark, 1);
    let mut p = syn("198.51.100.7:1001", VIP);
    p.mark = Some(0x4001);
    expect(
        d.process(t(0.0), &p),
        Forward,
        Some("10.0.0.1:80"),
        Some(Scheduler),
    );
}

#[test]
fn s5_2_persistent_fwmark_groups_protocols_and_keeps_original_port() {
    let f = ServiceKey::Fwmark {
        af: Af::Inet,
        mark: 7,
    };
    let mut c = ServiceConf::new(f);
    c.scheduler = "rr".into();
    c.persistence = Some(300);
    let mut d = director(&[
        IpvsCmd::AddService(c),
        IpvsCmd::AddDest {
            svc: f,
            dest: dest_conf("10.0.0.1:8080", 1, FwdMethod::Masq),
        },
        IpvsCmd::AddDest {
            svc: f,
            dest: dest_conf("10.0.0.2:8080", 1, FwdMethod::Masq),
        },
    ]);
    let mut p = syn("198.51.100.7:1000", "192.0.2.10:80");
    p.mark = Some(7);
    expect(
        d.process(t(0.0), &p),
        Forward,
        Some("10.0.0.2:80"),
        Some(Scheduler),
    );
    let mut p = udp("198.51.100.7:1000", "192.0.2.11:443");
    p.mark = Some(7);
    expect(
        d.process(t(1.0), &p),
        Forward,
        Some("10.0.0.2:443"),
        Some(Template),
    );
}

#[test]
fn s2_step5_time_wait_entry_is_rescheduled_on_syn() {
    // Non-persistent rr: the second SYN on a TIME_WAIT entry creates a new connection.
    let k = tcp_key(VIP);
    let mut d = director(&[
        svc(k, "rr", None, None),
        add_dest(k, "10.0.0.1:80", 1),
        add_dest(k, "10.0.0.2:80", 1),
    ]);
    let c = "198.51.100.7:1000";
    expect(
        d.process(t(0.0), &syn(c, VIP)),
        Forward,
        Some("10.0.0.2:80"),
        Some(Scheduler),
    );
    // DR (INPUT_ONLY table): ACK → ES, FIN → FIN_WAIT, ACK stays FW... use RST → CLOSE.
    d.process(t(1.0), &ack(c, VIP));
    let rst = Packet::tcp(sa(c), sa(VIP), TcpFlags::from_letters("R").unwrap());
    expect(
        d.process(t(2.0), &rst),
        Forward,
        Some("10.0.0.2:80"),
        Some(Conn),
    );
    expect(
        d.process(t(3.0), &syn(c, VIP)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Scheduler),
    );
    // conn_reuse_mode=0: the CLOSE entry would be reused.
    let mut d = director(&[
        svc(k, "rr", None, None),
        add_dest(k, "10.0.0.1:80", 1),
        add_dest(k, "10.0.0.2:80", 1),
    ]);
    d.sysctl_mut().set("conn_reuse_mode", "0").unwrap();
    d.process(t(0.0), &syn(c, VIP));
    d.process(t(1.0), &rst);
    expect(
        d.process(t(2.0), &syn(c, VIP)),
        Forward,
        Some("10.0.0.2:80"),
        Some(Conn),
    );
}

#[test]
fn s7_3_connection_expires_after_state_timeout() {
    let k = tcp_key(VIP);
    let mut d = director(&[svc(k, "rr", None, None), add_dest(k, "10.0.0.1:80", 1)]);
    let c = "198.51.100.7:1000";
    d.process(t(0.0), &syn(c, VIP)); // SYN_RECV: 60 s
    expect(
        d.process(t(59.999), &ack(c, VIP)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Conn),
    ); // → ES 900 s
    expect(
        d.process(t(959.998), &ack(c, VIP)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Conn),
    );
    expect(d.process(t(1859.998), &ack(c, VIP)), Local, None, None);
}

#[test]
fn s7_4_counters_and_overload_threshold() {
    let k = tcp_key(VIP);
    let mut dc = dest_conf("10.0.0.1:80", 1, FwdMethod::Route);
    dc.u_threshold = 2;
    let mut d = director(&[
        svc(k, "wlc", None, None),
        IpvsCmd::AddDest {
            svc: k,
            dest: dest_conf("10.0.0.2:80", 1, FwdMethod::Route),
        },
        IpvsCmd::AddDest { svc: k, dest: dc },
    ]);
    // List: .1 (newest), .2. wlc picks the first of equals: .1, then .2, then .1 again
    // (reaching u_threshold=2 sets OVERLOAD), then .2 twice because .1 is overloaded.
    let picks: Vec<_> = (0..5)
        .map(|i| {
            d.process(t(0.0), &syn(&format!("198.51.100.7:{}", 1000 + i), VIP))
                .dest
                .unwrap()
        })
        .collect();
    assert_eq!(
        picks,
        vec![
            sa("10.0.0.1:80"),
            sa("10.0.0.2:80"),
            sa("10.0.0.1:80"),
            sa("10.0.0.2:80"),
            sa("10.0.0.2:80")
        ]
    );
    assert_eq!(
        d.dest_counters(&k, sa("10.0.0.1:80")),
        Some((2, 0, 0, true))
    );
    assert_eq!(
        d.dest_counters(&k, sa("10.0.0.2:80")),
        Some((3, 0, 0, false))
    );
}

#[test]
fn s2_nat_reply_is_matched_by_out_lookup() {
    let k = tcp_key(VIP);
    let mut d = director(&[
        svc(k, "rr", None, None),
        IpvsCmd::AddDest {
            svc: k,
            dest: dest_conf("10.0.0.1:8080", 1, FwdMethod::Masq),
        },
    ]);
    let c = "198.51.100.7:1000";
    expect(
        d.process(t(0.0), &syn(c, VIP)),
        Forward,
        Some("10.0.0.1:8080"),
        Some(Scheduler),
    );
    let mut reply = Packet::tcp(
        sa("10.0.0.1:8080"),
        sa(c),
        TcpFlags::from_letters("SA").unwrap(),
    );
    reply.dir = Dir::Out;
    expect(
        d.process(t(0.1), &reply),
        Forward,
        Some("10.0.0.1:8080"),
        Some(Conn),
    );
    let mut stray = reply;
    stray.src = sa("10.0.0.1:9999");
    expect(d.process(t(0.2), &stray), Local, None, None);
}

#[test]
fn s3_ftp_data_fallback_shares_the_control_template() {
    let k = tcp_key("192.0.2.10:21");
    let mut d = director(&[
        svc(k, "rr", Some(300), None),
        add_dest(k, "10.0.0.1:21", 1),
        add_dest(k, "10.0.0.2:21", 1),
    ]);
    expect(
        d.process(t(0.0), &syn("198.51.100.7:1000", "192.0.2.10:21")),
        Forward,
        Some("10.0.0.2:21"),
        Some(Scheduler),
    );
    // Passive data connection to an unprivileged port: found through the port-21 service.
    expect(
        d.process(t(1.0), &syn("198.51.100.7:1001", "192.0.2.10:40000")),
        Forward,
        Some("10.0.0.2:40000"),
        Some(Template),
    );
    // A privileged port other than 20 is not an FTP data port: no service.
    expect(
        d.process(t(1.0), &syn("198.51.100.7:1002", "192.0.2.10:443")),
        Local,
        None,
        None,
    );
}

#[test]
fn s12_control_plane_errors() {
    let (mut d, k) = persistent_24();
    assert!(matches!(
        d.apply(t(0.0), &svc(k, "rr", None, None)),
        Err(ModelError::ServiceExists(_))
    ));
    assert!(matches!(
        d.apply(t(0.0), &add_dest(k, "10.0.0.1:80", 1)),
        Err(ModelError::DestExists(_))
    ));
    let other = tcp_key("192.0.2.99:80");
    assert!(matches!(
        d.apply(t(0.0), &add_dest(other, "10.0.0.1:80", 1)),
        Err(ModelError::NoSuchService(_))
    ));
    assert!(matches!(
        d.apply(
            t(0.0),
            &IpvsCmd::DelDest {
                svc: k,
                addr: ip("10.0.0.3"),
                port: 80
            }
        ),
        Err(ModelError::NoSuchDest(_))
    ));
    let mut bad = dest_conf("10.0.0.5:80", 1, FwdMethod::Route);
    bad.u_threshold = 1;
    bad.l_threshold = 2;
    assert!(matches!(
        d.apply(t(0.0), &IpvsCmd::AddDest { svc: k, dest: bad }),
        Err(ModelError::Range(_))
    ));
    assert!(matches!(
        d.apply(t(0.0), &svc(other, "twos", None, None)),
        Err(ModelError::SchedulerNotFound(_))
    ));
    // Atomic batches: a failing command leaves nothing behind.
    let before = d.config();
    let err = d.apply_all(
        t(0.0),
        &[svc(other, "rr", None, None), add_dest(k, "10.0.0.1:80", 1)],
    );
    assert_eq!(err.unwrap_err().0, 1);
    assert_eq!(d.config(), before);
}

#[test]
fn s6_4_edit_with_same_scheduler_keeps_state_and_templates() {
    let (mut d, k) = persistent_24();
    d.process(t(0.0), &syn("198.51.100.7:1000", VIP)); // B, template
                                                       // -E with a new timeout and netmask: existing template keys use the old mask and stay.
    let mut c = ServiceConf::new(k);
    c.scheduler = "rr".into();
    c.persistence = Some(600);
    d.apply(t(1.0), &IpvsCmd::EditService(c)).unwrap();
    // New key is /32: the /24 template is not found; rr continues from B → A.
    expect(
        d.process(t(2.0), &syn("198.51.100.8:1000", VIP)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Scheduler),
    );
}

#[test]
fn cache_journal_records_creations_changes_and_removals() {
    let (mut d, _) = persistent_24();
    d.enable_journal();
    let c = "198.51.100.7:1000";
    d.process(t(0.0), &syn(c, VIP));
    let ch = d.take_changes();
    // The template's timer restarts (conn_put(ct)) before the connection's own put.
    assert_eq!(ch.len(), 2, "{ch:?}");
    let EntryChange::Upsert(tpl) = &ch[0] else {
        panic!("{ch:?}")
    };
    assert!(tpl.key.template);
    assert_eq!(tpl.key.client, sa("198.51.100.0:0"));
    assert_eq!(tpl.key.virt, sa(VIP));
    assert_eq!(tpl.deadline, Some(t(300.0)));
    let EntryChange::Upsert(conn) = &ch[1] else {
        panic!("{ch:?}")
    };
    assert!(!conn.key.template && conn.controlled);
    assert_eq!(conn.state, proto::TCP_SYN_RECV);
    assert_eq!(conn.deadline, Some(t(60.0)));
    // ACK: ESTABLISHED, 900 s.
    d.process(t(1.0), &ack(c, VIP));
    let ch = d.take_changes();
    assert!(
        matches!(&ch[..], [EntryChange::Upsert(v)] if v.state == proto::TCP_ESTABLISHED && v.deadline == Some(t(901.0)))
    );
    // At 300 the template is deferred (n_control 1): timeout 60, deadline 360.
    d.advance(t(300.0));
    let ch = d.take_changes();
    assert!(
        matches!(&ch[..], [EntryChange::Upsert(v)] if v.key.template && v.deadline == Some(t(360.0))),
        "{ch:?}"
    );
    // The connection expires at 901; the template's next re-check after that frees it.
    d.advance(t(1000.0));
    let ch = d.take_changes();
    assert!(
        ch.iter()
            .any(|c| matches!(c, EntryChange::Removed(k) if !k.template)),
        "{ch:?}"
    );
    assert!(
        ch.iter()
            .any(|c| matches!(c, EntryChange::Removed(k) if k.template)),
        "{ch:?}"
    );
    assert_eq!(d.conn_count() + d.template_count(), 0);
}

/// The journal holds one change per key: its latest state, at the position of its first
/// change since the last take — also across an entry replaced by a new one with its key.
#[test]
fn cache_journal_keeps_one_change_per_key() {
    let (mut d, _) = persistent_24();
    d.enable_journal();
    let (c1, c2) = ("198.51.100.7:1000", "198.51.100.8:1000");
    d.process(t(0.0), &syn(c1, VIP));
    d.process(t(1.0), &ack(c1, VIP));
    d.process(t(2.0), &syn(c2, VIP));
    let ch = d.take_changes();
    let views: Vec<&EntryView> = ch
        .iter()
        .map(|c| match c {
            EntryChange::Upsert(v) => v,
            EntryChange::Removed(_) => panic!("{ch:?}"),
        })
        .collect();
    assert_eq!(views.len(), 3, "{ch:?}");
    assert!(views[0].key.template && views[0].deadline == Some(t(302.0)));
    assert_eq!(views[1].key.client, sa(c1));
    assert_eq!(views[1].state, proto::TCP_ESTABLISHED);
    assert_eq!(views[2].key.client, sa(c2));
    assert!(d.take_changes().is_empty());

    // A SYN on a CLOSEd connection replaces it (conn_reuse_mode 1): the old entry's removal
    // and the new entry are one change, the new entry.
    let mut d = director(&[
        svc(tcp_key(VIP), "rr", None, None),
        add_dest(tcp_key(VIP), "10.0.0.1:80", 1),
    ]);
    d.enable_journal();
    let rst = Packet::tcp(
        sa(c1),
        sa(VIP),
        TcpFlags {
            rst: true,
            ..TcpFlags::default()
        },
    );
    d.process(t(0.0), &syn(c1, VIP));
    d.process(t(1.0), &ack(c1, VIP));
    d.process(t(2.0), &rst);
    let first = d.take_changes();
    assert!(
        matches!(&first[..], [EntryChange::Upsert(v)] if v.state == proto::TCP_CLOSE),
        "{first:?}"
    );
    d.process(t(3.0), &syn(c1, VIP));
    let ch = d.take_changes();
    assert!(
        matches!(&ch[..], [EntryChange::Upsert(v)] if v.state == proto::TCP_SYN_RECV && v.deadline == Some(t(63.0))),
        "{ch:?}"
    );
    let EntryChange::Upsert(old) = &first[0] else {
        unreachable!()
    };
    let EntryChange::Upsert(new) = &ch[0] else {
        unreachable!()
    };
    assert_ne!(old.handle, new.handle, "another entry");
}

#[test]
fn offloaded_connection_lives_until_the_cache_last_refresh_plus_timeout() {
    let k = tcp_key(VIP);
    let mut d = director(&[svc(k, "rr", None, None), add_dest(k, "10.0.0.1:80", 1)]);
    let c = "198.51.100.7:1000";
    d.process(t(0.0), &syn(c, VIP));
    d.process(t(1.0), &ack(c, VIP)); // ESTABLISHED until 901
    let key = d.entries()[0].clone();
    let ek = EntryKey {
        template: false,
        af: Af::Inet,
        proto: 6,
        client: key.client,
        virt: key.virt,
    };
    assert!(d.set_offloaded(&ek, true));
    // The cache saw a hit at 800: the entry lives until 1700.
    d.advance_with(t(1699.0), &mut |v| {
        assert_eq!(v.key, ek);
        Some(t(800.0))
    });
    assert_eq!(d.conn_count(), 1);
    d.advance_with(t(1700.0), &mut |_| Some(t(800.0)));
    assert_eq!(d.conn_count(), 0);
}

/// §6.2 with a tie: a SYN through a 60 s template arms the template and its SYN_RECV connection
/// (60 s) to the same instant. The kernel's timer bucket runs last-in first-out, so the
/// connection expires first and the template, left with n_control = 0, goes at that instant
/// instead of being deferred.
#[test]
fn s6_2_tie_connection_expires_before_its_template() {
    let k = tcp_key(VIP);
    let mut d = director(&[
        svc(k, "rr", Some(60), None),
        add_dest(k, "10.0.0.1:80", 1),
        add_dest(k, "10.0.0.2:80", 1),
    ]);
    expect(
        d.process(t(0.0), &syn("198.51.100.7:1000", VIP)),
        Forward,
        Some("10.0.0.2:80"),
        Some(Scheduler),
    );
    expect(
        d.process(t(60.5), &syn("198.51.100.7:1001", VIP)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Scheduler),
    );
}

/// A cached connection replaced by a new one with the same key (§2 step 5 reuse) is not the
/// cache's entry any more: its early expiry must not be extended by the cache's last refresh,
/// which belongs to the new connection.
#[test]
fn offloaded_connection_replaced_on_reuse_is_not_kept_alive_by_the_cache() {
    let k = tcp_key(VIP);
    let mut d = director(&[
        svc(k, "rr", None, None),
        add_dest(k, "10.0.0.1:80", 1),
        add_dest(k, "10.0.0.2:80", 1),
    ]);
    let c = "198.51.100.7:1000";
    d.process(t(0.0), &syn(c, VIP));
    d.process(t(1.0), &ack(c, VIP));
    let rst = Packet::tcp(sa(c), sa(VIP), TcpFlags::from_letters("R").unwrap());
    d.process(t(2.0), &rst); // CLOSE
    let e = &d.entries()[0];
    let ek = EntryKey {
        template: false,
        af: Af::Inet,
        proto: 6,
        client: e.client,
        virt: e.virt,
    };
    assert!(d.set_offloaded(&ek, true));
    // SYN on the CLOSE entry: rescheduled; the old entry expires at the next timer run.
    d.process(t(3.0), &syn(c, VIP));
    d.advance_with(t(3.5), &mut |_| Some(t(3.0)));
    assert_eq!(d.conn_count(), 1, "only the new connection is left");
}

/// `ip_vs_core.c: ip_vs_leave()` creates the cache-bypass entry with `ip_vs_conn_new(...,
/// IP_VS_CONN_F_BYPASS | flags, NULL, ...)`: with no dest, `ip_vs_bind_dest()` returns before
/// copying the dest's conn_flags, so the entry has no `IP_VS_CONN_F_NOOUTPUT` and
/// `set_tcp_state()` uses the INPUT table. A client FIN in ESTABLISHED therefore gives
/// CLOSE_WAIT (60 s), not the INPUT_ONLY FIN_WAIT (120 s).
#[test]
fn s8_cache_bypass_entry_uses_the_input_state_table() {
    let k = ServiceKey::Fwmark {
        af: Af::Inet,
        mark: 1,
    };
    let mut d = director(&[svc(k, "rr", None, None)]);
    d.sysctl_mut().set("cache_bypass", "1").unwrap();
    let c = "198.51.100.7:1000";
    let dst = "203.0.113.80:80";
    let marked = |mut p: Packet| {
        p.mark = Some(1);
        p
    };
    expect(
        d.process(t(0.0), &marked(syn(c, dst))),
        Forward,
        Some(dst),
        None,
    );
    expect(
        d.process(t(1.0), &marked(ack(c, dst))),
        Forward,
        Some(dst),
        Some(Conn),
    );
    let fin = Packet::tcp(sa(c), sa(dst), TcpFlags::from_letters("FA").unwrap());
    expect(
        d.process(t(2.0), &marked(fin)),
        Forward,
        Some(dst),
        Some(Conn),
    );
    // CLOSE_WAIT: 60 s after the FIN the entry is gone; an ACK without an entry goes to the host.
    expect(d.process(t(62.0), &marked(ack(c, dst))), Local, None, None);
}

/// `ip_vs_conn.c: ip_vs_conn_out_get()` matches a reply against the real server's address and
/// port only for NAT entries; for DR/TUN entries it compares the reply's source with the
/// virtual address and port. A packet from the DR real server's own address is not a reply of
/// the entry: it continues as normal traffic and does not clear `IP_VS_CONN_F_NOOUTPUT`
/// (so the client's FIN still gives FIN_WAIT, 120 s, from the INPUT_ONLY table).
#[test]
fn s2_dr_reply_is_matched_on_the_virtual_address() {
    let k = tcp_key(VIP);
    let mut d = director(&[svc(k, "rr", None, None), add_dest(k, "10.0.0.1:80", 1)]);
    let c = "198.51.100.7:1000";
    expect(
        d.process(t(0.0), &syn(c, VIP)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Scheduler),
    );
    let synack = TcpFlags::from_letters("SA").unwrap();
    let mut from_rs = Packet::tcp(sa("10.0.0.1:80"), sa(c), synack);
    from_rs.dir = Dir::Out;
    expect(d.process(t(0.1), &from_rs), Local, None, None);
    expect(
        d.process(t(1.0), &ack(c, VIP)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Conn),
    );
    let fin = Packet::tcp(sa(c), sa(VIP), TcpFlags::from_letters("FA").unwrap());
    expect(
        d.process(t(2.0), &fin),
        Forward,
        Some("10.0.0.1:80"),
        Some(Conn),
    );
    // FIN_WAIT (120 s), not CLOSE_WAIT (60 s): still there at 63 s.
    expect(
        d.process(t(63.0), &ack(c, VIP)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Conn),
    );
    // A reply sourced from the VIP (real server routed through the director) is the entry's.
    let mut from_vip = Packet::tcp(sa(VIP), sa(c), TcpFlags::ACK);
    from_vip.dir = Dir::Out;
    expect(
        d.process(t(64.0), &from_vip),
        Forward,
        Some("10.0.0.1:80"),
        Some(Conn),
    );
}

/// `ip_vs_mh.c: ip_vs_mh_permutate()` hashes each real server with
/// `ip_vs_mh_hashkey(svc->af, &dest->addr, ...)`: the address is folded by the *service's*
/// family. An IPv6 tunnel real server of an IPv4 service folds to `addr->ip` (its first 32
/// bits), so it lands in exactly the slots of the IPv4 server with that address.
#[test]
fn s9_2_mh_ipv6_server_of_ipv4_service_folds_to_first_word() {
    let tun = |addr: &str| dest_conf(addr, 1, FwdMethod::Tunnel);
    let k6 = tcp_key("192.0.2.10:80"); // IPv4 service with an IPv6 tunnel server
    let k4 = tcp_key("192.0.2.11:80"); // its twin with the IPv4 server 32.1.13.184
                                       // 32.1.13.184 = 0x20010db8, the first word of 2001:db8:1:2::1.
    let mut d = director(&[
        svc(k6, "mh", None, None),
        add_dest(k6, "10.0.0.2:80", 1),
        IpvsCmd::AddDest {
            svc: k6,
            dest: tun("[2001:db8:1:2::1]:80"),
        },
        svc(k4, "mh", None, None),
        add_dest(k4, "10.0.0.2:80", 1),
        IpvsCmd::AddDest {
            svc: k4,
            dest: tun("32.1.13.184:80"),
        },
    ]);
    let mut to_v6 = 0;
    for i in 1..=64 {
        let c = format!("203.0.113.{i}:1000");
        let a = d.process(t(0.0), &syn(&c, "192.0.2.10:80")).dest.unwrap();
        let b = d.process(t(0.0), &syn(&c, "192.0.2.11:80")).dest.unwrap();
        assert_eq!(
            a.is_ipv6(),
            b.ip() == ip("32.1.13.184"),
            "client {c}: {a} vs {b}"
        );
        to_v6 += a.is_ipv6() as u32;
    }
    assert!(to_v6 > 0 && to_v6 < 64);
}

/// `ip_vs_conn.c: __ip_vs_conn_in_get()` matches only if `(!p->cport) ^ (!(cp->flags &
/// IP_VS_CONN_F_NO_CPORT))`: a packet from client port 0 never finds its entry (entries made by
/// the packet path have no NO_CPORT flag). Every UDP datagram from port 0 is scheduled anew
/// (rr advances, a new entry each time); a TCP ACK from port 0 goes to the host.
#[test]
fn s7_1_client_port_zero_never_matches_an_entry() {
    let k = udp_key("192.0.2.10:53");
    let mut d = director(&[
        svc(k, "rr", None, None),
        add_dest(k, "10.0.0.1:53", 1),
        add_dest(k, "10.0.0.2:53", 1),
    ]);
    let c = "198.51.100.7:0";
    let vip = "192.0.2.10:53";
    expect(
        d.process(t(0.0), &udp(c, vip)),
        Forward,
        Some("10.0.0.2:53"),
        Some(Scheduler),
    );
    expect(
        d.process(t(1.0), &udp(c, vip)),
        Forward,
        Some("10.0.0.1:53"),
        Some(Scheduler),
    );
    assert_eq!(d.conn_count(), 2);
    assert_eq!(
        d.dest_counters(&k, sa("10.0.0.2:53")),
        Some((0, 1, 0, false))
    );

    let k = tcp_key(VIP);
    let mut d = director(&[svc(k, "rr", None, None), add_dest(k, "10.0.0.1:80", 1)]);
    let c = "198.51.100.7:0";
    expect(
        d.process(t(0.0), &syn(c, VIP)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Scheduler),
    );
    expect(d.process(t(1.0), &ack(c, VIP)), Local, None, None);
}

/// `ip_vs_new_dest()`: an IPv6 real server must be `IPV6_ADDR_UNICAST` (and not link-local)
/// unless it is local. `__ipv6_addr_type()` gives an IPv4-mapped address (`::ffff:a.b.c.d`)
/// `IPV6_ADDR_MAPPED` only, so the kernel refuses it with EINVAL; an IPv4-compatible one
/// (`::a.b.c.d`) is unicast and accepted.
#[test]
fn s12_2_ipv4_mapped_real_server_is_not_unicast() {
    let k = tcp_key("[2001:db8::10]:80");
    let mut d = director(&[svc(k, "rr", None, None)]);
    assert!(matches!(
        d.apply(t(0.0), &add_dest(k, "[::ffff:10.0.0.1]:80", 1)),
        Err(ModelError::Invalid(_))
    ));
    d.apply(t(0.0), &add_dest(k, "[::10.0.0.1]:80", 1)).unwrap();
    d.apply(t(0.0), &add_dest(k, "[2001:db8:1::1]:80", 1))
        .unwrap();
}

/// `ip_vs_new_dest()`: an IPv4 real server must be RTN_LOCAL or RTN_UNICAST by
/// `inet_addr_type()`, which answers RTN_BROADCAST for the whole zero network 0.0.0.0/8
/// (`ipv4_is_zeronet()`) and for 255.255.255.255, RTN_MULTICAST for 224.0.0.0/4: EINVAL.
#[test]
fn s12_2_ipv4_zeronet_real_server_is_not_unicast() {
    let k = tcp_key("192.0.2.10:80");
    let mut d = director(&[svc(k, "rr", None, None)]);
    for a in [
        "0.0.0.0:80",
        "0.1.2.3:80",
        "255.255.255.255:80",
        "224.0.0.1:80",
    ] {
        assert!(
            matches!(
                d.apply(t(0.0), &add_dest(k, a, 1)),
                Err(ModelError::Invalid(_))
            ),
            "{a}"
        );
    }
    d.apply(t(0.0), &add_dest(k, "1.0.0.1:80", 1)).unwrap();
    d.apply(t(0.0), &add_dest(k, "240.0.0.1:80", 1)).unwrap();
}

/// `ip_vs_trash_get_dest()` walks `ipvs->dest_trash` from its head and `__ip_vs_del_dest()`
/// puts a deleted real server at the head (`list_add`): when two trashed servers match the
/// service being added to, the one deleted last comes back. Two fwmark-1 services (IPv4 and
/// IPv6; the trash match compares the mark, not the service's family) share the tunnel real
/// server 10.0.0.1:0. Deleted from the IPv4 service first, then from the IPv6 one, and re-added
/// to the IPv4 service: the IPv6 service's server is revived, so the IPv6 client's connection
/// flows again and the IPv4 client's stays without a real server (dropped).
#[test]
fn s9_1_trash_revives_the_server_deleted_last() {
    let v4 = ServiceKey::Fwmark {
        af: Af::Inet,
        mark: 1,
    };
    let v6 = ServiceKey::Fwmark {
        af: Af::Inet6,
        mark: 1,
    };
    let tun = |k| IpvsCmd::AddDest {
        svc: k,
        dest: dest_conf("10.0.0.1:0", 1, FwdMethod::Tunnel),
    };
    let del = |k| IpvsCmd::DelDest {
        svc: k,
        addr: ip("10.0.0.1"),
        port: 0,
    };
    let mut d = director(&[
        svc(v4, "rr", None, None),
        svc(v6, "rr", None, None),
        tun(v4),
        tun(v6),
    ]);
    let marked = |mut p: Packet| {
        p.mark = Some(1);
        p
    };
    let (c4, vip4) = ("198.51.100.7:1000", "192.0.2.10:80");
    let (c6, vip6) = ("[2001:db8:c::7]:1000", "[2001:db8::10]:80");
    for (c, v) in [(c4, vip4), (c6, vip6)] {
        expect(
            d.process(t(0.0), &marked(syn(c, v))),
            Forward,
            Some("10.0.0.1:80"),
            Some(Scheduler),
        );
    }
    d.apply(t(1.0), &del(v4)).unwrap();
    d.apply(t(2.0), &del(v6)).unwrap();
    expect(d.process(t(3.0), &ack(c4, vip4)), Drop, None, None);
    expect(d.process(t(3.0), &ack(c6, vip6)), Drop, None, None);
    d.apply(t(4.0), &tun(v4)).unwrap();
    expect(
        d.process(t(5.0), &ack(c6, vip6)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Conn),
    );
    expect(d.process(t(5.0), &ack(c4, vip4)), Drop, None, None);
}

/// `secure_tcp=3`: `update_defense_level()` → `ip_vs_protocol_timeout_change(ipvs, 1)` →
/// `tcp_timeout_change()` installs `tcp_states_dos[]`. DR (INPUT_ONLY table): a SYN opens in
/// SYNACK (120 s) instead of SYN_RECV (60 s), so a SYN retransmitted at 90 s still finds its
/// entry. NAT (INPUT table): a client ACK without the server's SYN-ACK seen leaves SYN_RECV
/// (60 s) instead of reaching ESTABLISHED (900 s). Modes 1 and 2 switch only under memory
/// pressure: the normal table stays.
#[test]
fn s7_2_secure_tcp_uses_the_dos_state_table() {
    let k = tcp_key(VIP);
    let dr = |secure: &str| {
        let mut d = director(&[
            svc(k, "rr", None, None),
            add_dest(k, "10.0.0.1:80", 1),
            add_dest(k, "10.0.0.2:80", 1),
        ]);
        d.sysctl_mut().set("secure_tcp", secure).unwrap();
        d
    };
    let c = "198.51.100.7:1000";
    for (mode, second) in [
        ("3", ("10.0.0.2:80", Conn)),
        ("2", ("10.0.0.1:80", Scheduler)),
        ("0", ("10.0.0.1:80", Scheduler)),
    ] {
        let mut d = dr(mode);
        expect(
            d.process(t(0.0), &syn(c, VIP)),
            Forward,
            Some("10.0.0.2:80"),
            Some(Scheduler),
        );
        expect(
            d.process(t(90.0), &syn(c, VIP)),
            Forward,
            Some(second.0),
            Some(second.1),
        );
    }
    assert_eq!(dr("2").sysctl().secure_tcp, 1);
    assert!(dr("1").sysctl_mut().set("secure_tcp", "4").is_err());

    let nat = |secure: &str| {
        let mut d = director(&[
            svc(k, "rr", None, None),
            IpvsCmd::AddDest {
                svc: k,
                dest: dest_conf("10.0.0.1:8080", 1, FwdMethod::Masq),
            },
        ]);
        d.sysctl_mut().set("secure_tcp", secure).unwrap();
        d
    };
    for (mode, late) in [("3", None), ("0", Some("10.0.0.1:8080"))] {
        let mut d = nat(mode);
        d.process(t(0.0), &syn(c, VIP));
        expect(
            d.process(t(1.0), &ack(c, VIP)),
            Forward,
            Some("10.0.0.1:8080"),
            Some(Conn),
        );
        match late {
            None => expect(d.process(t(100.0), &ack(c, VIP)), Local, None, None),
            Some(dst) => expect(
                d.process(t(100.0), &ack(c, VIP)),
                Forward,
                Some(dst),
                Some(Conn),
            ),
        }
    }
}

/// A captured frame (`Dir::Any`, `--pcap`) meets the hooks in the kernel's order:
/// `ip_vs_out_hook()` (LOCAL_IN priority `NF_IP_PRI_NAT_SRC - 2`, and FORWARD) before
/// `ip_vs_in_hook()` (`NF_IP_PRI_NAT_SRC - 1`). A NAT real server's reply is found by
/// `ip_vs_conn_out_get()` and handled by `handle_response()`: OUTPUT state transition and
/// timer refresh (§2, §7.3). Here the client goes quiet after the handshake while the server
/// keeps sending: its data at 800 s re-arms the ESTABLISHED entry (900 s), so the client's ACK
/// at 1000 s still finds it; the server's FIN then moves it by the OUTPUT table (ES → FIN_WAIT,
/// 120 s). Taken as client → VIP packets, the replies would be local and the entry gone at
/// 900.2 s.
#[test]
fn s2_captured_reply_meets_the_out_hook_first() {
    let k = tcp_key(VIP);
    let mut d = director(&[
        svc(k, "rr", None, None),
        IpvsCmd::AddDest {
            svc: k,
            dest: dest_conf("10.0.0.1:8080", 1, FwdMethod::Masq),
        },
    ]);
    let (c, rs) = ("198.51.100.7:1000", "10.0.0.1:8080");
    let any = |src: &str, dst: &str, f: &str| {
        let mut p = Packet::tcp(sa(src), sa(dst), TcpFlags::from_letters(f).unwrap());
        p.dir = Dir::Any;
        p
    };
    let to_rs = (Forward, Some(rs));
    for (at, p, by) in [
        (0.0, any(c, VIP, "S"), Scheduler),
        (0.1, any(rs, c, "SA"), Conn),
        (0.2, any(c, VIP, "A"), Conn),
        (800.0, any(rs, c, "A"), Conn),
        (1000.0, any(c, VIP, "A"), Conn),
        (1000.1, any(rs, c, "FA"), Conn),
    ] {
        expect(d.process(t(at), &p), to_rs.0, to_rs.1, Some(by));
    }
    let e = d.entries();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].state, "FIN_WAIT");
    assert_eq!(e[0].expires_in, Some(std::time::Duration::from_secs(120)));
    // A frame no reply lookup finds is client → VIP: a stray server packet is not scheduled.
    expect(
        d.process(t(1000.2), &any("10.0.0.1:9999", c, "A")),
        Local,
        None,
        None,
    );
}

/// `ip_vs_check_template()` invalidates a template in place: unhashed, vport = dport = 0xffff,
/// cport = 0, hashed again — at the head of the client's chain (`ip_vs_conn_hash()` uses
/// `hlist_add_head_rcu()`), where `ip_vs_ct_in_get()` finds it before any older template with
/// the same key. That key is the one of a persistent service on port 65535 of the same VIP and
/// protocol for the same client network. C has templates for `:65535` (→ `.3`) and `:80`
/// (→ `.1`); `.1` is quiesced with `expire_quiescent_template=1`, and C's next `:80` SYN
/// invalidates T80 (re-keyed to port 65535). Then:
/// * C's `:65535` SYN finds T80 first: invalid again (not re-keyed, it has vport 0xffff) → the
///   scheduler → `.2`, and a new template in front of both;
/// * or, with `.1` back to weight 1 first, T80 is valid: the `:65535` connection goes to the
///   `:80` service's real server, port 80 (`dst_port == svc->port && dest->port`).
#[test]
fn s5_3_invalidated_template_is_rehashed_first_in_its_chain() {
    let (k80, k65535) = (tcp_key(VIP), tcp_key("192.0.2.10:65535"));
    let setup = || {
        let mut d = director(&[
            svc(k80, "rr", Some(300), None),
            add_dest(k80, "10.0.0.1:80", 1),
            svc(k65535, "rr", Some(300), None),
            add_dest(k65535, "10.0.0.2:65535", 1),
            add_dest(k65535, "10.0.0.3:65535", 1),
        ]);
        let v = "192.0.2.10:65535";
        expect(
            d.process(t(0.0), &syn("198.51.100.7:1000", v)),
            Forward,
            Some("10.0.0.3:65535"),
            Some(Scheduler),
        );
        expect(
            d.process(t(1.0), &syn("198.51.100.7:1001", VIP)),
            Forward,
            Some("10.0.0.1:80"),
            Some(Scheduler),
        );
        d.apply(t(2.0), &edit_dest(k80, "10.0.0.1:80", 0)).unwrap();
        d.sysctl_mut()
            .set("expire_quiescent_template", "1")
            .unwrap();
        expect(
            d.process(t(4.0), &syn("198.51.100.7:1002", VIP)),
            Icmp,
            None,
            None,
        );
        (d, v)
    };
    let (mut d, v) = setup();
    expect(
        d.process(t(5.0), &syn("198.51.100.7:1003", v)),
        Forward,
        Some("10.0.0.2:65535"),
        Some(Scheduler),
    );
    expect(
        d.process(t(6.0), &syn("198.51.100.7:1004", v)),
        Forward,
        Some("10.0.0.2:65535"),
        Some(Template),
    );
    let (mut d, v) = setup();
    d.apply(t(5.0), &edit_dest(k80, "10.0.0.1:80", 1)).unwrap();
    expect(
        d.process(t(6.0), &syn("198.51.100.7:1003", v)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Template),
    );
}

/// The journal of a cache follows the head of a template key's chain: an invalidated template
/// is `Removed` under its old key and `Upsert`ed under its new one (port 65535), where it
/// shadows an older template; that shadowed template's own changes (its deferral) are not
/// journaled; when the head goes, the key is `Removed` and the next lookup's refresh
/// publishes the template now found.
#[test]
fn cache_journal_follows_the_head_of_a_template_key() {
    let (k80, k65535) = (tcp_key(VIP), tcp_key("192.0.2.10:65535"));
    let mut d = director(&[
        svc(k80, "rr", Some(300), None),
        add_dest(k80, "10.0.0.1:80", 1),
        svc(k65535, "rr", Some(300), None),
        add_dest(k65535, "10.0.0.2:65535", 1),
        add_dest(k65535, "10.0.0.3:65535", 1),
    ]);
    d.enable_journal();
    let v = "192.0.2.10:65535";
    d.process(t(0.0), &syn("198.51.100.7:1000", v));
    d.process(t(0.5), &ack("198.51.100.7:1000", v)); // ESTABLISHED: T65535 deferred at 300
    d.process(t(1.0), &syn("198.51.100.7:1001", VIP)); // T80, expires 301
    d.apply(t(2.0), &edit_dest(k80, "10.0.0.1:80", 0)).unwrap();
    d.sysctl_mut()
        .set("expire_quiescent_template", "1")
        .unwrap();
    d.take_changes();
    d.process(t(4.0), &syn("198.51.100.7:1002", VIP));
    let ch = d.take_changes();
    let tpl = |port: u16| EntryKey {
        template: true,
        af: Af::Inet,
        proto: 6,
        client: sa("198.51.100.7:0"),
        virt: SocketAddr::new(ip("192.0.2.10"), port),
    };
    assert_eq!(ch.len(), 2, "{ch:?}");
    assert_eq!(ch[0], EntryChange::Removed(tpl(80)));
    let EntryChange::Upsert(t80) = &ch[1] else {
        panic!("{ch:?}")
    };
    assert_eq!(
        (t80.key, t80.daddr, t80.deadline),
        (tpl(65535), sa("10.0.0.1:65535"), Some(t(301.0)))
    );
    assert_eq!(d.entry(&tpl(65535)).unwrap().daddr, sa("10.0.0.1:65535"));
    // At 300 the shadowed T65535 is deferred: nothing journaled for its key.
    d.advance(t(300.0));
    let ch = d.take_changes();
    assert!(ch.iter().all(|c| c.key() != &tpl(65535)), "{ch:?}");
    // At 301 the re-keyed T80 goes: its key is removed; T65535 heads the chain again.
    d.advance(t(301.0));
    let ch = d.take_changes();
    assert_eq!(ch, vec![EntryChange::Removed(tpl(65535))]);
    assert_eq!(d.entry(&tpl(65535)).unwrap().daddr, sa("10.0.0.3:65535"));
    expect(
        d.process(t(302.0), &syn("198.51.100.7:1003", v)),
        Forward,
        Some("10.0.0.3:65535"),
        Some(Template),
    );
    let ch = d.take_changes();
    assert!(
        ch.iter().any(
            |c| matches!(c, EntryChange::Upsert(v) if v.key == tpl(65535) && v.deadline == Some(t(362.0)))
        ),
        "{ch:?}"
    );
}

/// `ip_vs_conn_uses_old_conntrack()` looks at the entry's `IP_VS_CONN_F_NFCT`, which
/// `ip_vs_conn_new()` sets when the `conntrack` sysctl is on at the entry's creation — not at
/// the sysctl's current value. A CLOSE entry made with `conntrack=0` is rescheduled by a SYN
/// even after `conntrack=1`; one made with `conntrack=1` drops that SYN (its conntrack taken
/// as confirmed) even after `conntrack=0`.
#[test]
fn s2_step5_conntrack_reuse_follows_the_entrys_nfct_flag() {
    let k = tcp_key(VIP);
    let c = "198.51.100.7:1000";
    let rst = Packet::tcp(sa(c), sa(VIP), TcpFlags::from_letters("R").unwrap());
    for (at_creation, later, second) in [
        ("0", "1", (Forward, Some("10.0.0.1:80"), Some(Scheduler))),
        ("1", "0", (Drop, None, None)),
    ] {
        let mut d = director(&[
            svc(k, "rr", None, None),
            add_dest(k, "10.0.0.1:80", 1),
            add_dest(k, "10.0.0.2:80", 1),
        ]);
        d.sysctl_mut().set("conntrack", at_creation).unwrap();
        d.process(t(0.0), &syn(c, VIP));
        d.process(t(0.5), &ack(c, VIP));
        d.process(t(1.0), &rst); // ESTABLISHED → CLOSE
        d.sysctl_mut().set("conntrack", later).unwrap();
        expect(
            d.process(t(2.0), &syn(c, VIP)),
            second.0,
            second.1,
            second.2,
        );
    }
}

/// Without a port-65535 service no lookup can find a re-keyed invalidated template: the
/// journal does not publish it under its new key (a cache need not hold it).
#[test]
fn cache_journal_skips_an_invalidated_template_nothing_can_find() {
    let (mut d, k) = persistent_24();
    d.enable_journal();
    d.process(t(0.0), &syn("198.51.100.7:1000", VIP)); // template → .2
    d.apply(t(1.0), &edit_dest(k, "10.0.0.2:80", 0)).unwrap();
    d.sysctl_mut()
        .set("expire_quiescent_template", "1")
        .unwrap();
    d.take_changes();
    expect(
        d.process(t(2.0), &syn("198.51.100.7:1001", VIP)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Scheduler),
    );
    let ch = d.take_changes();
    let old = EntryKey {
        template: true,
        af: Af::Inet,
        proto: 6,
        client: sa("198.51.100.0:0"),
        virt: sa(VIP),
    };
    assert!(ch.iter().all(|c| c.key().virt.port() != 0xffff), "{ch:?}");
    // The old key's change (its removal) is taken over by the new template (→ .1).
    assert!(
        ch.iter().any(
            |c| matches!(c, EntryChange::Upsert(v) if v.key == old && v.daddr == sa("10.0.0.1:80"))
        ),
        "{ch:?}"
    );
}

/// A re-keyed invalidated template nothing can look up still shadows an older template with
/// its new key (here that of a port-65535 service deleted since): the journal removes that key,
/// so a cache does not keep deciding with the shadowed template should the service return.
#[test]
fn cache_journal_removes_the_key_an_unpublished_template_shadows() {
    let (k80, k65535) = (tcp_key(VIP), tcp_key("192.0.2.10:65535"));
    let mut d = director(&[
        svc(k80, "rr", Some(300), None),
        add_dest(k80, "10.0.0.1:80", 1),
        svc(k65535, "rr", Some(300), None),
        add_dest(k65535, "10.0.0.3:65535", 1),
    ]);
    d.enable_journal();
    d.process(t(0.0), &syn("198.51.100.7:1000", "192.0.2.10:65535"));
    d.process(t(1.0), &syn("198.51.100.7:1001", VIP));
    d.apply(t(2.0), &IpvsCmd::DelService(k65535)).unwrap();
    d.apply(t(2.0), &edit_dest(k80, "10.0.0.1:80", 0)).unwrap();
    d.sysctl_mut()
        .set("expire_quiescent_template", "1")
        .unwrap();
    d.take_changes();
    d.process(t(4.0), &syn("198.51.100.7:1002", VIP));
    let ch = d.take_changes();
    let tpl = |port: u16| EntryKey {
        template: true,
        af: Af::Inet,
        proto: 6,
        client: sa("198.51.100.7:0"),
        virt: SocketAddr::new(ip("192.0.2.10"), port),
    };
    assert_eq!(
        ch,
        vec![
            EntryChange::Removed(tpl(80)),
            EntryChange::Removed(tpl(65535))
        ]
    );
}

/// §5.2 (c'): a persistent fwmark service keys a packet to destination port 0 like a port
/// service (`ip_vs_sched_persist()`: `dst_port == svc->port`, both 0): packet protocol, VIP,
/// port 0 — not the fwmark key — and the connection takes the real server's port
/// (`dport == svc->port && dest->port`). Packets to other ports share the fwmark template.
#[test]
fn s5_2_fwmark_packet_to_port_zero_uses_an_address_template() {
    let f = ServiceKey::Fwmark {
        af: Af::Inet,
        mark: 1,
    };
    let mut c = ServiceConf::new(f);
    c.scheduler = "rr".into();
    c.persistence = Some(300);
    let mut d = director(&[
        IpvsCmd::AddService(c),
        IpvsCmd::AddDest {
            svc: f,
            dest: dest_conf("10.0.0.1:8080", 1, FwdMethod::Masq),
        },
        IpvsCmd::AddDest {
            svc: f,
            dest: dest_conf("10.0.0.2:8080", 1, FwdMethod::Masq),
        },
    ]);
    let marked = |mut p: Packet| {
        p.mark = Some(1);
        p
    };
    // Template (0, C, mark 1, 0) → rr #1 (.2); the original port is kept.
    expect(
        d.process(t(0.0), &marked(syn("198.51.100.7:1000", "192.0.2.10:80"))),
        Forward,
        Some("10.0.0.2:80"),
        Some(Scheduler),
    );
    // Port 0: template (UDP, C, VIP, 0), none yet → rr #2 (.1); dport = the server's port.
    expect(
        d.process(t(1.0), &marked(udp("198.51.100.7:1001", "192.0.2.10:0"))),
        Forward,
        Some("10.0.0.1:8080"),
        Some(Scheduler),
    );
    expect(
        d.process(t(2.0), &marked(udp("198.51.100.7:1002", "192.0.2.10:0"))),
        Forward,
        Some("10.0.0.1:8080"),
        Some(Template),
    );
    // TCP to port 0 is another protocol: its own template → rr #3 (.2).
    expect(
        d.process(t(3.0), &marked(syn("198.51.100.7:1003", "192.0.2.10:0"))),
        Forward,
        Some("10.0.0.2:8080"),
        Some(Scheduler),
    );
    // Any other port still finds the fwmark template.
    expect(
        d.process(t(4.0), &marked(udp("198.51.100.7:1004", "192.0.2.10:53"))),
        Forward,
        Some("10.0.0.2:53"),
        Some(Template),
    );
}

/// §5.4: a port-zero service keeps the packet's port, except for a packet to port 0 itself
/// (`dst_port == svc->port`), which goes to the real server's port when it has one. Both use
/// the same template (vport 0).
#[test]
fn s5_4_port_zero_service_packet_to_port_zero_gets_the_server_port() {
    let k0 = tcp_key("192.0.2.30:0");
    let mut d = director(&[
        svc(k0, "rr", Some(300), None),
        IpvsCmd::AddDest {
            svc: k0,
            dest: dest_conf("10.0.0.4:8080", 1, FwdMethod::Masq),
        },
        IpvsCmd::AddDest {
            svc: k0,
            dest: dest_conf("10.0.0.5:8080", 1, FwdMethod::Masq),
        },
    ]);
    expect(
        d.process(t(0.0), &syn("198.51.100.9:1000", "192.0.2.30:443")),
        Forward,
        Some("10.0.0.5:443"),
        Some(Scheduler),
    );
    expect(
        d.process(t(1.0), &syn("198.51.100.9:1001", "192.0.2.30:0")),
        Forward,
        Some("10.0.0.5:8080"),
        Some(Template),
    );
    // Another client, first packet to port 0: rr #2, server port.
    expect(
        d.process(t(2.0), &syn("198.51.100.10:1000", "192.0.2.30:0")),
        Forward,
        Some("10.0.0.4:8080"),
        Some(Scheduler),
    );
}

/// §5.2 (b)/(d1): a persistent FTP service and a persistent port-zero service on the same VIP
/// build the same template key `(TCP, C, VIP, 0)`; `ip_vs_ct_in_get()` does not look at the
/// service and `ip_vs_check_template()` only at the real server, so each service's clients
/// follow templates the other one made (to the other service's real server).
#[test]
fn s5_2_ftp_and_port_zero_services_share_template_keys() {
    let ftp = tcp_key("192.0.2.10:21");
    let zero = tcp_key("192.0.2.10:0");
    let mut d = director(&[
        svc(ftp, "rr", Some(300), None),
        add_dest(ftp, "10.0.0.1:21", 1),
        svc(zero, "rr", Some(300), None),
        add_dest(zero, "10.0.0.2:0", 1),
    ]);
    expect(
        d.process(t(0.0), &syn("198.51.100.7:1000", "192.0.2.10:21")),
        Forward,
        Some("10.0.0.1:21"),
        Some(Scheduler),
    );
    // Port 443 (privileged, not 20): no FTP data fallback; the port-zero service finds the
    // FTP service's template.
    expect(
        d.process(t(1.0), &syn("198.51.100.7:1001", "192.0.2.10:443")),
        Forward,
        Some("10.0.0.1:443"),
        Some(Template),
    );
    // And the other way round: the port-zero service makes a template for another client ...
    expect(
        d.process(t(2.0), &syn("198.51.100.8:1001", "192.0.2.10:443")),
        Forward,
        Some("10.0.0.2:443"),
        Some(Scheduler),
    );
    // ... which the FTP service finds; that server's port is 0, so the packet's port 21 stays.
    expect(
        d.process(t(3.0), &syn("198.51.100.8:1002", "192.0.2.10:21")),
        Forward,
        Some("10.0.0.2:21"),
        Some(Template),
    );
    // Port 5000 goes to the FTP service (data fallback before port zero): same key.
    expect(
        d.process(t(4.0), &syn("198.51.100.8:1003", "192.0.2.10:5000")),
        Forward,
        Some("10.0.0.2:5000"),
        Some(Template),
    );
}

/// §4 step 4: a non-persistent FTP service reached through the FTP data fallback does not
/// schedule (`vport != svc->port`); `ip_vs_leave()` passes the packet to the host because
/// `svc->port == FTPPORT && dport != FTPPORT` (no ICMP).
#[test]
fn s4_non_persistent_ftp_data_fallback_goes_to_the_host() {
    let ftp = tcp_key("192.0.2.11:21");
    let mut d = director(&[svc(ftp, "rr", None, None), add_dest(ftp, "10.0.0.1:21", 1)]);
    expect(
        d.process(t(0.0), &syn("198.51.100.7:1000", "192.0.2.11:5000")),
        Local,
        None,
        None,
    );
    expect(
        d.process(t(0.0), &syn("198.51.100.7:1001", "192.0.2.11:20")),
        Local,
        None,
        None,
    );
    expect(
        d.process(t(1.0), &syn("198.51.100.7:1002", "192.0.2.11:21")),
        Forward,
        Some("10.0.0.1:21"),
        Some(Scheduler),
    );
}

/// §7.4 / §9.2 lc: the counters lc compares move with the TCP state (`set_tcp_state()`:
/// SYN_RECV and ESTABLISHED active, CLOSE inactive) and UDP entries always count inactive.
/// TCP: list B, A. C1 → B (tie); C2 → A (0 < 256); C3 → B (256 = 256: first); C1 ACK then RST
/// → B = 1·256 + 1 = 257; C4 → A (256 < 257); C5 → B (257 < 512).
#[test]
fn s9_2_lc_follows_active_and_inactive_counters() {
    let k = tcp_key(VIP);
    let u = udp_key("192.0.2.10:53");
    let mut d = director(&[
        svc(k, "lc", None, None),
        add_dest(k, "10.0.0.1:80", 1),
        add_dest(k, "10.0.0.2:80", 1),
        svc(u, "lc", None, None),
        add_dest(u, "10.0.0.1:53", 1),
        add_dest(u, "10.0.0.2:53", 1),
    ]);
    let (a, b) = ("10.0.0.1:80", "10.0.0.2:80");
    let rst = |s: &str| {
        let flags = TcpFlags {
            rst: true,
            ..TcpFlags::default()
        };
        Packet::tcp(sa(s), sa(VIP), flags)
    };
    let mut step = |at: f64, p: Packet, want: &str, by| {
        expect(d.process(t(at), &p), Forward, Some(want), Some(by));
    };
    step(0.0, syn("198.51.100.1:1000", VIP), b, Scheduler);
    step(1.0, syn("198.51.100.2:1000", VIP), a, Scheduler);
    step(2.0, syn("198.51.100.3:1000", VIP), b, Scheduler);
    step(3.0, ack("198.51.100.1:1000", VIP), b, Conn);
    step(3.5, rst("198.51.100.1:1000"), b, Conn);
    step(4.0, syn("198.51.100.4:1000", VIP), a, Scheduler);
    step(5.0, syn("198.51.100.5:1000", VIP), b, Scheduler);
    // UDP: B (tie), A, B (1 = 1), A.
    step(
        6.0,
        udp("198.51.100.1:1000", "192.0.2.10:53"),
        "10.0.0.2:53",
        Scheduler,
    );
    step(
        7.0,
        udp("198.51.100.2:1000", "192.0.2.10:53"),
        "10.0.0.1:53",
        Scheduler,
    );
    step(
        8.0,
        udp("198.51.100.3:1000", "192.0.2.10:53"),
        "10.0.0.2:53",
        Scheduler,
    );
    step(
        9.0,
        udp("198.51.100.4:1000", "192.0.2.10:53"),
        "10.0.0.1:53",
        Scheduler,
    );
    assert_eq!(d.dest_counters(&k, sa(b)), Some((2, 1, 0, false)));
    assert_eq!(d.dest_counters(&k, sa(a)), Some((2, 0, 0, false)));
    assert_eq!(
        d.dest_counters(&u, sa("10.0.0.2:53")),
        Some((0, 2, 0, false))
    );
}

/// §5.3 / §7.4: OVERLOAD is not checked for templates: a persistent client keeps landing on an
/// overloaded real server while new clients skip it; the flag clears once `total·4 < u·3`.
#[test]
fn s5_3_overloaded_server_keeps_its_persistent_clients() {
    let k = tcp_key(VIP);
    let mut dc = dest_conf("10.0.0.1:80", 1, FwdMethod::Route);
    dc.u_threshold = 2;
    let mut d = director(&[
        svc(k, "rr", Some(300), None),
        IpvsCmd::AddDest { svc: k, dest: dc },
        add_dest(k, "10.0.0.2:80", 1),
    ]);
    let (a, b) = ("10.0.0.1:80", "10.0.0.2:80");
    let mut step = |at: f64, src: &str, want: &str, by| {
        expect(
            d.process(t(at), &syn(src, VIP)),
            Forward,
            Some(want),
            Some(by),
        );
    };
    step(0.0, "198.51.100.1:1000", b, Scheduler);
    step(1.0, "198.51.100.2:1000", a, Scheduler);
    step(2.0, "198.51.100.3:1000", b, Scheduler);
    // A reaches u_threshold 2 with this one: OVERLOAD.
    step(3.0, "198.51.100.4:1000", a, Scheduler);
    // C2's template still sends it to A (now 3 entries).
    step(4.0, "198.51.100.2:1001", a, Template);
    // New clients skip A.
    step(5.0, "198.51.100.5:1000", b, Scheduler);
    step(6.0, "198.51.100.6:1000", b, Scheduler);
    // SYN_RECV entries expire at 61..64 s: A's total drops to 1 (1·4 < 2·3): cleared.
    step(100.0, "198.51.100.7:1000", a, Scheduler);
}

/// `ip_vs_flush()` (`ipvsadm -C`) deletes the fwmark services of one mark newest first (one
/// hash bucket, `hlist_add_head_rcu()`), each real server going to the trash head: the IPv4
/// service (created first) is deleted last, so its server is the one a later `-a` revives —
/// its client's connection flows again and the IPv6 client's stays dropped.
#[test]
fn s9_1_flush_trashes_same_mark_fwmark_services_newest_first() {
    let v4 = ServiceKey::Fwmark {
        af: Af::Inet,
        mark: 1,
    };
    let v6 = ServiceKey::Fwmark {
        af: Af::Inet6,
        mark: 1,
    };
    let tun = |k| IpvsCmd::AddDest {
        svc: k,
        dest: dest_conf("10.0.0.1:0", 1, FwdMethod::Tunnel),
    };
    let mut d = director(&[
        svc(v4, "rr", None, None),
        svc(v6, "rr", None, None),
        tun(v4),
        tun(v6),
    ]);
    let marked = |mut p: Packet| {
        p.mark = Some(1);
        p
    };
    let (c4, vip4) = ("198.51.100.7:1000", "192.0.2.10:80");
    let (c6, vip6) = ("[2001:db8:c::7]:1000", "[2001:db8::10]:80");
    for (c, v) in [(c4, vip4), (c6, vip6)] {
        expect(
            d.process(t(0.0), &marked(syn(c, v))),
            Forward,
            Some("10.0.0.1:80"),
            Some(Scheduler),
        );
    }
    d.apply(t(1.0), &IpvsCmd::Clear).unwrap();
    d.apply(t(2.0), &svc(v4, "rr", None, None)).unwrap();
    d.apply(t(2.0), &svc(v6, "rr", None, None)).unwrap();
    expect(d.process(t(3.0), &ack(c4, vip4)), Drop, None, None);
    expect(d.process(t(3.0), &ack(c6, vip6)), Drop, None, None);
    d.apply(t(4.0), &tun(v4)).unwrap();
    expect(
        d.process(t(5.0), &ack(c4, vip4)),
        Forward,
        Some("10.0.0.1:80"),
        Some(Conn),
    );
    expect(d.process(t(5.0), &ack(c6, vip6)), Drop, None, None);
}
