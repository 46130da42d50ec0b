//! Tests of the ipvsadm rules parser and of `save` (spec §12.1, §12.3, §6.4, §10, §11).
//! Expected values are written by hand from ipvsadm.c / the spec, never computed by the code.

use super::ipvsadm::{parse_command, parse_rules, parse_trace_command, TraceCmdError};
use super::libc::{inet_aton, inet_ntop6, string_to_number};
use super::save::save;
use crate::model::{
    svc_flags, Af, DestConf, FwdMethod, IpvsCmd, Netmask, Proto, ServiceConf, ServiceKey, TunCsum,
    TunType, TunnelConf, SCHEDULERS,
};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn cmd(line: &str) -> IpvsCmd {
    match parse_command(line) {
        Ok(Some(c)) => c,
        other => panic!("{line:?} -> {other:?}"),
    }
}

fn err(line: &str) -> String {
    match parse_command(line) {
        Err(e) => e,
        other => panic!("{line:?} should fail, got {other:?}"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(a: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Proto::Tcp,
        addr: ip(a),
        port,
    }
}

fn udp(a: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Proto::Udp,
        addr: ip(a),
        port,
    }
}

fn fwm(mark: u32) -> ServiceKey {
    ServiceKey::Fwmark { af: Af::Inet, mark }
}

fn fwm6(mark: u32) -> ServiceKey {
    ServiceKey::Fwmark {
        af: Af::Inet6,
        mark,
    }
}

fn mask4(s: &str) -> Netmask {
    Netmask::V4(s.parse().unwrap())
}

fn dest(a: &str, port: u16, fwd: FwdMethod, weight: i32) -> DestConf {
    DestConf {
        addr: ip(a),
        port,
        fwd,
        weight,
        u_threshold: 0,
        l_threshold: 0,
        tunnel: TunnelConf::default(),
    }
}

fn add_svc(line: &str) -> ServiceConf {
    match cmd(line) {
        IpvsCmd::AddService(c) => c,
        other => panic!("{line:?} -> {other:?}"),
    }
}

fn add_dest(line: &str) -> DestConf {
    match cmd(line) {
        IpvsCmd::AddDest { dest, .. } => dest,
        other => panic!("{line:?} -> {other:?}"),
    }
}

// ---------------------------------------------------------------- §12.3 save output parses

/// §12.3: every line of the spec's `ipvsadm -S -n` example parses to what it says.
#[test]
fn s12_3_save_example_lines_parse() {
    let mut s = ServiceConf::new(tcp("192.0.2.10", 80));
    s.scheduler = "rr".into();
    s.persistence = Some(300);
    s.netmask = mask4("255.255.255.0");
    assert_eq!(
        cmd("-A -t 192.0.2.10:80 -s rr -p 300 -M 255.255.255.0"),
        IpvsCmd::AddService(s)
    );

    assert_eq!(
        cmd("-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1"),
        IpvsCmd::AddDest {
            svc: tcp("192.0.2.10", 80),
            dest: dest("10.0.0.1", 80, FwdMethod::Route, 1)
        }
    );

    let mut s = ServiceConf::new(fwm(1));
    s.persistence = Some(360);
    assert_eq!(cmd("-A -f 1 -s wlc -p 360"), IpvsCmd::AddService(s));
    assert_eq!(
        cmd("-a -f 1 -r 10.0.0.1:0 -m -w 1"),
        IpvsCmd::AddDest {
            svc: fwm(1),
            dest: dest("10.0.0.1", 0, FwdMethod::Masq, 1)
        }
    );

    let mut s = ServiceConf::new(fwm6(2));
    s.scheduler = "mh".into();
    s.persistence = Some(600);
    s.netmask = Netmask::V6(64);
    s.sched_flags = svc_flags::SCHED1;
    assert_eq!(
        cmd("-A -f 2 -6 -s mh -p 600 -M 64 -b mh-fallback"),
        IpvsCmd::AddService(s)
    );
    assert_eq!(
        cmd("-a -f 2 -6 -r [2001:db8:f::1]:0 -g -w 1"),
        IpvsCmd::AddDest {
            svc: fwm6(2),
            dest: dest("2001:db8:f::1", 0, FwdMethod::Route, 1)
        }
    );

    let mut s = ServiceConf::new(udp("192.0.2.10", 5060));
    s.scheduler = "rr".into();
    s.persistence = Some(60);
    s.pe = Some("sip".into());
    s.ops = true;
    assert_eq!(
        cmd("-A -u 192.0.2.10:5060 -s rr -p 60 --pe sip -o"),
        IpvsCmd::AddService(s)
    );

    let mut d = dest("10.0.0.3", 443, FwdMethod::Tunnel, 1);
    d.tunnel = TunnelConf {
        kind: TunType::Gue,
        port: 6080,
        csum: TunCsum::NoCsum,
    };
    assert_eq!(
        cmd("-a -t 192.0.2.10:443 -r 10.0.0.3:443 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum"),
        IpvsCmd::AddDest { svc: tcp("192.0.2.10", 443), dest: d }
    );
}

/// §12.1: defaults — wlc, not persistent, /32 mask, no ops/pe; weight 1, `-g`, ipip.
#[test]
fn s12_1_defaults() {
    let s = add_svc("-A -t 192.0.2.1:80");
    assert_eq!(s.scheduler, "wlc");
    assert_eq!(s.persistence, None);
    assert_eq!(s.netmask, mask4("255.255.255.255"));
    assert_eq!((s.ops, s.pe.clone(), s.sched_flags), (false, None, 0));
    assert_eq!(add_svc("-A -t [2001:db8::1]:80").netmask, Netmask::V6(128));
    assert_eq!(
        add_dest("-a -t 192.0.2.1:80 -r 10.0.0.1"),
        dest("10.0.0.1", 80, FwdMethod::Route, 1)
    );
}

// ---------------------------------------------------------------- §12.1 -p

/// §12.1: `-p` alone is IPVS_SVC_PERSISTENT_TIMEOUT = 360 s (not the man page's 300).
#[test]
fn s12_1_p_alone_is_360() {
    assert_eq!(add_svc("-A -t 1.2.3.4:80 -p").persistence, Some(360));
    assert_eq!(add_svc("-A -t 1.2.3.4:80 -p -s rr").persistence, Some(360));
    assert_eq!(
        add_svc("-A -t 1.2.3.4:80 --persistent").persistence,
        Some(360)
    );
}

/// §12.1 / popt POPT_ARGFLAG_OPTIONAL: the next word is the value unless it starts with `-`.
#[test]
fn s12_1_p_value_forms() {
    assert_eq!(add_svc("-A -t 1.2.3.4:80 -p 300").persistence, Some(300));
    assert_eq!(add_svc("-A -t 1.2.3.4:80 -p300").persistence, Some(300));
    assert_eq!(
        add_svc("-A -t 1.2.3.4:80 --persistent=300").persistence,
        Some(300)
    );
    assert_eq!(
        add_svc("-A -t 1.2.3.4:80 --persistent 300").persistence,
        Some(300)
    );
    assert_eq!(add_svc("-A -t 1.2.3.4:80 -p 1").persistence, Some(1));
    assert_eq!(
        add_svc("-A -t 1.2.3.4:80 -p 2678400").persistence,
        Some(2_678_400)
    );
    assert!(err("-A -t 1.2.3.4:80 -p 2678401").contains("invalid timeout value `2678401'"));
    assert!(err("-A -t 1.2.3.4:80 -p 0").contains("invalid timeout value `0'"));
    // A non-dash word after -p is taken as its value.
    assert!(err("-A -t 1.2.3.4:80 -p rr").contains("invalid timeout value `rr'"));
    // "-p -1": -1 starts with '-', so -p has no value and "-1" is an (unknown) option.
    assert!(err("-A -t 1.2.3.4:80 -p -1").contains("unknown option `-1'"));
}

// ---------------------------------------------------------------- §12.1 -M

/// §12.1: IPv4 -M goes through inet_aton: a bare number is the whole 32-bit value.
#[test]
fn s12_1_netmask_inet_aton_forms() {
    let m = |a: &str| add_svc(&format!("-A -t 1.2.3.4:80 -p -M {a}")).netmask;
    assert_eq!(m("24"), mask4("0.0.0.24"));
    assert_eq!(m("255.255.255.0"), mask4("255.255.255.0"));
    assert_eq!(m("255.255"), mask4("255.0.0.255"));
    assert_eq!(m("255.255.65280"), mask4("255.255.255.0"));
    assert_eq!(m("0xffffff00"), mask4("255.255.255.0"));
    assert_eq!(m("0377.0377.0377.0"), mask4("255.255.255.0"));
    // Non-contiguous masks are accepted.
    assert_eq!(m("255.0.255.0"), mask4("255.0.255.0"));
    assert!(err("-A -t 1.2.3.4:80 -p -M 08").contains("persistent mask"));
    assert!(err("-A -t 1.2.3.4:80 -p -M 255.255.255.256").contains("persistent mask"));
    assert!(err("-A -t 1.2.3.4:80 -p -M /24").contains("persistent mask"));
    assert!(err("-A -t 1.2.3.4:80 -p -M 0x").contains("persistent mask"));
}

/// §12.1: an IPv6 prefix only once the service is known to be IPv6; `-6`/IPv6 `-t` after `-M`
/// reset it to 128; atoi semantics; 1..128.
#[test]
fn s12_1_netmask_ipv6_order() {
    assert_eq!(
        add_svc("-A -t [2001:db8::1]:80 -p -M 64").netmask,
        Netmask::V6(64)
    );
    assert_eq!(
        add_svc("-A -M 64 -t [2001:db8::1]:80 -p").netmask,
        Netmask::V6(128)
    );
    assert_eq!(add_svc("-A -f 1 -6 -M 48").netmask, Netmask::V6(48));
    assert_eq!(add_svc("-A -f 1 -M 48 -6").netmask, Netmask::V6(128));
    assert_eq!(add_svc("-A -f 1 -6 -M 64abc").netmask, Netmask::V6(64));
    // Before -6 it was parsed as IPv4, so a v4 fwmark keeps the literal value.
    assert_eq!(add_svc("-A -f 1 -M 48").netmask, mask4("0.0.0.48"));
    assert!(err("-A -f 1 -6 -M 0").contains("illegal ipv6 netmask"));
    assert!(err("-A -f 1 -6 -M 129").contains("illegal ipv6 netmask"));
    assert!(err("-A -f 1 -6 -M 255.255.255.0").contains("illegal ipv6 netmask"));
}

// ---------------------------------------------------------------- §12.1 service checks

/// §12.1: port 0 needs -p unless fwmark; `-t host` without port is port 0.
#[test]
fn s12_1_zero_port() {
    assert_eq!(
        err("-A -t 1.2.3.4:0"),
        "Zero port specified for non-persistent service"
    );
    assert_eq!(
        err("-A -t 1.2.3.4"),
        "Zero port specified for non-persistent service"
    );
    assert_eq!(
        err("-E -u 1.2.3.4"),
        "Zero port specified for non-persistent service"
    );
    assert_eq!(add_svc("-A -t 1.2.3.4 -p").key, tcp("1.2.3.4", 0));
    assert_eq!(add_svc("-A -f 7").key, fwm(7));
}

/// §10.1 / §12.1: -o only for UDP or fwmark services.
#[test]
fn s10_1_ops_only_udp_or_fwmark() {
    assert_eq!(
        err("-A -t 1.2.3.4:80 -o"),
        "One-Packet Scheduling is only for UDP virtual services"
    );
    assert_eq!(
        err("-A --sctp-service 1.2.3.4:80 -o"),
        "One-Packet Scheduling is only for UDP virtual services"
    );
    assert!(add_svc("-A -u 1.2.3.4:53 -o").ops);
    assert!(add_svc("-A -f 3 --ops").ops);
}

/// §12.1: fwmark 1..=UINT_MAX, decimal; -6 only after -f.
#[test]
fn s12_1_fwmark_range_and_ipv6_flag() {
    assert_eq!(add_svc("-A -f 4294967295").key, fwm(u32::MAX));
    assert!(err("-A -f 0").contains("invalid fwmark value `0'"));
    assert!(err("-A -f 4294967296").contains("invalid fwmark value"));
    assert!(err("-A -f 0x10").contains("invalid fwmark value"));
    assert!(err("-A -f -3").contains("invalid fwmark value"));
    assert!(err("-A -6 -f 1").contains("-6 used before -f"));
    assert!(err("-A -t [2001:db8::1]:80 -6").contains("-6 used before -f"));
    assert_eq!(add_svc("-A --fwmark-service 9 --ipv6").key, fwm6(9));
}

/// §12.1: -b flags per scheduler, parsed after all options (so `-b` may precede `-s`).
#[test]
fn s12_1_sched_flags() {
    let s = add_svc("-A -t 1.2.3.4:80 -s sh -b sh-fallback,sh-port");
    assert_eq!(s.sched_flags, svc_flags::SCHED1 | svc_flags::SCHED2);
    assert_eq!(
        add_svc("-A -t 1.2.3.4:80 -b mh-port -s mh").sched_flags,
        svc_flags::SCHED2
    );
    assert_eq!(
        add_svc("-A -t 1.2.3.4:80 -s rr --sched-flags flag-3").sched_flags,
        svc_flags::SCHED3
    );
    assert_eq!(
        add_svc("-A -t 1.2.3.4:80 -s sh -b flag-1,,flag-2").sched_flags,
        0x18
    );
    assert!(err("-A -t 1.2.3.4:80 -b sh-port").contains("incompatible scheduler flag `sh-port'"));
    assert!(err("-A -t 1.2.3.4:80 -s mh -b sh-fallback").contains("incompatible scheduler flag"));
    assert!(err("-A -t 1.2.3.4:80 -s sh -b sh-bogus").contains("invalid scheduler flag `sh-bogus'"));
    assert!(err("-A -t 1.2.3.4:80 -s sh -b ,").contains("invalid scheduler flag"));
    // An empty -b argument is ignored by ipvsadm (sched_flags_arg[0] == 0).
    assert_eq!(add_svc("-A -t 1.2.3.4:80 -b ''").sched_flags, 0);
}

/// §12.1/§9: scheduler names; unmodelled kernel schedulers get a clear error; `-s ''` = wlc.
#[test]
fn s12_1_scheduler_names() {
    for s in [
        "rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "sh", "dh", "mh", "none",
    ] {
        assert_eq!(add_svc(&format!("-A -t 1.2.3.4:80 -s {s}")).scheduler, s);
    }
    for s in ["lblc", "lblcr", "twos"] {
        assert!(
            err(&format!("-A -t 1.2.3.4:80 -s {s}")).contains("not supported by lvsnic"),
            "{s}"
        );
    }
    // An unknown name is the kernel's ENOENT: ipvsadm sends it, the model refuses it (so a
    // trace goes on with the state unchanged).
    let bogus = cmd("-A -t 1.2.3.4:80 -s bogus");
    let e = crate::model::Director::new()
        .apply(crate::model::Time::ZERO, &bogus)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Scheduler or persistence engine not found"),
        "{e}"
    );
    assert_eq!(add_svc("-A -t 1.2.3.4:80 -s ''").scheduler, "wlc");
}

/// §10.3: --pe sip only; accepted without -p (neither ipvsadm nor the kernel checks).
#[test]
fn s10_3_pe() {
    assert_eq!(
        add_svc("-A -u 1.2.3.4:5060 -p --pe sip").pe.as_deref(),
        Some("sip")
    );
    assert_eq!(
        add_svc("-A -u 1.2.3.4:5060 --pe sip").pe.as_deref(),
        Some("sip")
    );
    assert!(err("-A -u 1.2.3.4:5060 -p --pe ftp").contains("persistence engine"));
}

/// §6.4 / §12.1: -E carries a full service: omitted options are defaults, not "unchanged".
#[test]
fn s6_4_edit_service_is_full_description() {
    assert_eq!(
        cmd("-E -t 1.2.3.4:80"),
        IpvsCmd::EditService(ServiceConf::new(tcp("1.2.3.4", 80)))
    );
    let mut s = ServiceConf::new(fwm(5));
    s.scheduler = "rr".into();
    assert_eq!(
        cmd("--edit-service --fwmark-service 5 --scheduler rr"),
        IpvsCmd::EditService(s)
    );
}

// ---------------------------------------------------------------- §12.1 / §11 dests

/// §11 / §12.1: -g and -i on a non-fwmark service force the RS port to the service port.
#[test]
fn s11_dr_tun_port_forced() {
    assert_eq!(add_dest("-a -t 1.2.3.4:80 -r 10.0.0.1:8080 -g").port, 80);
    assert_eq!(add_dest("-a -t 1.2.3.4:80 -r 10.0.0.1:8080").port, 80);
    assert_eq!(add_dest("-a -t 1.2.3.4:80 -r 10.0.0.1:8080 -i").port, 80);
    assert_eq!(add_dest("-a -t 1.2.3.4:80 -r 10.0.0.1:8080 -m").port, 8080);
    assert_eq!(add_dest("-a -f 1 -r 10.0.0.1:8080").port, 8080);
    assert_eq!(add_dest("-a -f 1 -r 10.0.0.1").port, 0);
}

/// §12.1: `-r host` copies the service port known when -r is parsed (so -r before -t gets 0).
#[test]
fn s12_1_rs_port_copied_from_service() {
    assert_eq!(add_dest("-a -t 1.2.3.4:80 -r 10.0.0.1 -m").port, 80);
    assert_eq!(add_dest("-a -r 10.0.0.1 -t 1.2.3.4:80 -m").port, 0);
    assert_eq!(
        cmd("-d -t 1.2.3.4:80 -r 10.0.0.1"),
        IpvsCmd::DelDest {
            svc: tcp("1.2.3.4", 80),
            addr: ip("10.0.0.1"),
            port: 80
        }
    );
    assert_eq!(
        cmd("-d -t 1.2.3.4:80 -r 10.0.0.1:81"),
        IpvsCmd::DelDest {
            svc: tcp("1.2.3.4", 80),
            addr: ip("10.0.0.1"),
            port: 81
        }
    );
}

/// §11 / §12.1: a different RS family only with -i.
#[test]
fn s11_mixed_family_only_tunnel() {
    let e = "Different address family is allowed only for tunneling servers";
    assert_eq!(err("-a -t 1.2.3.4:80 -r [2001:db8::1]:80"), e);
    assert_eq!(err("-a -t [2001:db8::1]:80 -r 10.0.0.1 -m"), e);
    assert_eq!(err("-a -f 1 -6 -r 10.0.0.1"), e);
    let d = add_dest("-a -t 1.2.3.4:80 -r [2001:db8::1]:80 -i");
    assert_eq!(
        (d.addr, d.port, d.fwd),
        (ip("2001:db8::1"), 80, FwdMethod::Tunnel)
    );
}

/// §12.1: -w 0..65535, -x/-y 0..INT_MAX, and the kernel's l_threshold <= u_threshold (ERANGE).
#[test]
fn s12_1_weight_and_thresholds() {
    assert_eq!(add_dest("-a -t 1.2.3.4:80 -r 10.0.0.1 -w 0").weight, 0);
    assert_eq!(
        add_dest("-a -t 1.2.3.4:80 -r 10.0.0.1 --weight 65535").weight,
        65535
    );
    assert!(err("-a -t 1.2.3.4:80 -r 10.0.0.1 -w 65536").contains("illegal weight"));
    // A mandatory argument takes the next word even if it starts with '-'.
    assert!(err("-a -t 1.2.3.4:80 -r 10.0.0.1 -w -1").contains("illegal weight specified: `-1'"));
    let d = add_dest("-a -t 1.2.3.4:80 -r 10.0.0.1 -x 10 -y 5");
    assert_eq!((d.u_threshold, d.l_threshold), (10, 5));
    let d = add_dest("-a -t 1.2.3.4:80 -r 10.0.0.1 --u-threshold 2147483647");
    assert_eq!(d.u_threshold, 2_147_483_647);
    assert!(err("-a -t 1.2.3.4:80 -r 10.0.0.1 -x 2147483648").contains("illegal u_threshold"));
    // l > u is the kernel's ERANGE (ipvsadm does not check): parsed, refused by the model.
    let mut d = crate::model::Director::new();
    d.apply(crate::model::Time::ZERO, &cmd("-A -t 1.2.3.4:80"))
        .unwrap();
    for line in [
        "-a -t 1.2.3.4:80 -r 10.0.0.1 -y 5",
        "-a -t 1.2.3.4:80 -r 10.0.0.1 -x 4 --l-threshold 5",
    ] {
        let e = d.apply(crate::model::Time::ZERO, &cmd(line)).unwrap_err();
        assert!(
            e.to_string().contains("Numerical result out of range")
                && e.to_string().contains("higher than upper"),
            "{line}: {e}"
        );
    }
    assert_eq!(d.config()[0].1.len(), 0);
}

/// §12.1: -e is a full dest description: an omitted -w means weight 1, omitted method -g.
#[test]
fn s12_1_edit_dest_defaults() {
    assert_eq!(
        cmd("-e -t 1.2.3.4:80 -r 10.0.0.1:80"),
        IpvsCmd::EditDest {
            svc: tcp("1.2.3.4", 80),
            dest: dest("10.0.0.1", 80, FwdMethod::Route, 1)
        }
    );
}

/// §11 / §12.1: tunnel options only with -i; gue needs --tun-port; exclusivity tables.
#[test]
fn s11_tunnel_options() {
    let c = "Tunnel options conflict with forward method";
    assert_eq!(
        err("-a -t 1.2.3.4:80 -r 10.0.0.1 --tun-type gue --tun-port 6080"),
        c
    );
    assert_eq!(err("-a -t 1.2.3.4:80 -r 10.0.0.1 -m --tun-type ipip"), c);
    assert_eq!(
        err("-a -t 1.2.3.4:80 -r 10.0.0.1 -i --tun-type gue"),
        "You need to supply the 'tun-port' option for the 'gue' tunnel type"
    );
    assert_eq!(
        err("-a -t 1.2.3.4:80 -r 10.0.0.1 -i --tun-csum"),
        "Illegal 'tun-csum' option with the 'ipip' tunnel type"
    );
    assert_eq!(
        err("-a -t 1.2.3.4:80 -r 10.0.0.1 -i --tun-type gre --tun-port 5"),
        "Illegal 'tun-port' option with the 'gre' tunnel type"
    );
    assert_eq!(
        err("-a -t 1.2.3.4:80 -r 10.0.0.1 -i --tun-type gue --tun-port 1 --tun-nocsum --tun-remcsum"),
        "The option 'tun-remcsum' conflicts with the 'tun-nocsum' option in the 'gue' tunnel type"
    );
    assert!(err("-a -t 1.2.3.4:80 -r 10.0.0.1 -i --tun-type vxlan").contains("illegal tunnel type"));
    assert!(
        err("-a -t 1.2.3.4:80 -r 10.0.0.1 -i --tun-type gue --tun-port 0")
            .contains("illegal tunnel port")
    );
    let t = |l: &str| add_dest(l).tunnel;
    assert_eq!(t("-a -t 1.2.3.4:80 -r 10.0.0.1 -i"), TunnelConf::default());
    assert_eq!(
        t("-a -t 1.2.3.4:80 -r 10.0.0.1 -i --tun-type ipip"),
        TunnelConf::default()
    );
    assert_eq!(
        t("-a -t 1.2.3.4:80 -r 10.0.0.1 -i --tun-type gue --tun-port 6080 --tun-remcsum"),
        TunnelConf {
            kind: TunType::Gue,
            port: 6080,
            csum: TunCsum::RemCsum
        }
    );
    assert_eq!(
        t("-a -t 1.2.3.4:80 -r 10.0.0.1 -i --tun-type gre --tun-csum"),
        TunnelConf {
            kind: TunType::Gre,
            port: 0,
            csum: TunCsum::Csum
        }
    );
}

// ---------------------------------------------------------------- §12.1 addresses

/// §12.1 parse_service(): address forms and ipvsadm's quirks.
#[test]
fn s12_1_service_address_forms() {
    assert_eq!(add_svc("-A -t 10.1:80").key, tcp("10.0.0.1", 80));
    assert_eq!(add_svc("-A -t 1.2.3.4:+80").key, tcp("1.2.3.4", 80));
    assert_eq!(
        add_svc("-A -t [2001:db8::1]:443").key,
        tcp("2001:db8::1", 443)
    );
    // An unbracketed IPv6 address has no port.
    assert_eq!(add_svc("-A -t 2001:db8::1 -p").key, tcp("2001:db8::1", 0));
    // `[v4]:port` loses its port (ipvsadm cuts ":port" before the IPv4 branch looks for it).
    assert_eq!(add_svc("-A -t [1.2.3.4]:80 -p").key, tcp("1.2.3.4", 0));
    assert!(err("-A -t [2001:db8::1] -p").contains("illegal virtual server address"));
    assert!(err("-A -t 80").contains("illegal virtual server address"));
    assert!(err("-A -t 1.2.3.4:65536").contains("illegal virtual server address"));
    assert!(err("-A -t 1.2.3.4:http").contains("service names are not resolved"));
    assert!(err("-A -t www.example.com:80").contains("host names are not resolved"));
    assert!(err("-A -t 1.2.3.4:").contains("illegal virtual server address"));
    assert!(err("-a -t 1.2.3.4:80 -r 10.0.0.256").contains("illegal real server address"));
}

// ---------------------------------------------------------------- §12.1 option scanning

/// §12.1: ipvsadm option table checks (generic_opt_check) with its messages.
#[test]
fn s12_1_command_option_table() {
    assert_eq!(
        err("-A -t 1.2.3.4:80 -w 5"),
        "Illegal 'weight' option with the 'add-service' command"
    );
    assert_eq!(
        err("-a -t 1.2.3.4:80"),
        "You need to supply the 'real-server' option for the 'add-server' command"
    );
    assert_eq!(
        err("-A -s rr"),
        "You need to supply the 'service-address' option for the 'add-service' command"
    );
    assert_eq!(
        err("-D -t 1.2.3.4:80 -s rr"),
        "Illegal 'scheduler' option with the 'delete-service' command"
    );
    assert_eq!(
        err("-a -t 1.2.3.4:80 -r 10.0.0.1 -p"),
        "Illegal 'persistent' option with the 'add-server' command"
    );
    assert_eq!(
        err("-d -t 1.2.3.4:80 -r 10.0.0.1 -m"),
        "Illegal 'forwarding-method' option with the 'delete-server' command"
    );
    assert_eq!(
        err("-C -t 1.2.3.4:80"),
        "Illegal 'service-address' option with the 'flush' command"
    );
    assert_eq!(
        err("-A -t 1.2.3.4:80 -s rr -s wlc"),
        "multiple 'scheduler' options specified"
    );
    assert_eq!(
        err("-A -t 1.2.3.4:80 -f 1"),
        "multiple 'service-address' options specified"
    );
    assert_eq!(
        err("-a -t 1.2.3.4:80 -r 10.0.0.1 -g -m"),
        "multiple 'forwarding-method' options specified"
    );
    assert_eq!(err("-A -E -t 1.2.3.4:80"), "multiple commands specified");
    assert!(err("-t 1.2.3.4:80 -A").contains("first option must be a command"));
    assert!(err("foo bar").contains("no command"));
}

/// Unknown/irrelevant options, missing arguments, trailing garbage.
#[test]
fn s12_1_bad_options() {
    assert_eq!(err("-A -t 1.2.3.4:80 --bogus"), "unknown option `--bogus'");
    assert_eq!(err("-A -t 1.2.3.4:80 -Q"), "unknown option `-Q'");
    assert!(err("-A -t").contains("requires an argument"));
    assert!(err("-A -t 1.2.3.4:80 -s").contains("requires an argument"));
    assert_eq!(err("-A -t 1.2.3.4:80 extra"), "unexpected argument extra");
    assert_eq!(err("-A -t 1.2.3.4:80 -- -s"), "unexpected argument -s");
    assert!(err("-A -t 1.2.3.4:80 --ops=1").contains("does not take an argument"));
    for l in [
        "-L",
        "-l -n",
        "-S -n",
        "-R",
        "--start-daemon master",
        "--stop-daemon backup",
        "-h",
        "-v",
    ] {
        assert!(err(l).contains("not supported in a rules file"), "{l}");
    }
    assert!(err("-A -t 1.2.3.4:80 -n").contains("not supported in a rules file"));
    assert!(err("-A -t 1.2.3.4:80 --stats").contains("not supported in a rules file"));
    assert!(err("-A -t \"1.2.3.4:80").contains("unterminated"));
}

/// popt short-option bundling and attached values.
#[test]
fn s12_1_bundling_and_long_options() {
    assert_eq!(add_svc("-At 1.2.3.4:80 -srr").scheduler, "rr");
    assert_eq!(add_dest("-a -t 1.2.3.4:80 -r 10.0.0.1 -mw5").weight, 5);
    assert_eq!(add_dest("-a -t 1.2.3.4:80 -r 10.0.0.1 -w=7").weight, 7);
    let mut s = ServiceConf::new(tcp("1.2.3.4", 80));
    s.scheduler = "sh".into();
    s.persistence = Some(100);
    s.netmask = mask4("255.255.0.0");
    s.sched_flags = svc_flags::SCHED2;
    assert_eq!(
        cmd("--add-service --tcp-service=1.2.3.4:80 --scheduler sh --persistent 100 --netmask 255.255.0.0 --sched-flags sh-port"),
        IpvsCmd::AddService(s)
    );
    assert_eq!(
        cmd("--add-server --udp-service 1.2.3.4:53 --real-server 10.0.0.9:5353 --masquerading --weight 3"),
        IpvsCmd::AddDest { svc: udp("1.2.3.4", 53), dest: dest("10.0.0.9", 5353, FwdMethod::Masq, 3) }
    );
    assert_eq!(
        add_dest("-a -t 1.2.3.4:80 --real-server 10.0.0.1 --gatewaying").fwd,
        FwdMethod::Route
    );
    assert_eq!(
        add_dest("-a -t 1.2.3.4:80 --real-server 10.0.0.1 --ipip").fwd,
        FwdMethod::Tunnel
    );
    assert_eq!(
        add_svc("-A --sctp-service 1.2.3.4:9").key,
        ServiceKey::Addr {
            proto: Proto::Sctp,
            addr: ip("1.2.3.4"),
            port: 9
        }
    );
}

/// The other commands: -C, -D, -Z, --set.
#[test]
fn s12_1_other_commands() {
    assert_eq!(cmd("-C"), IpvsCmd::Clear);
    assert_eq!(cmd("--clear"), IpvsCmd::Clear);
    assert_eq!(
        cmd("-D -u 1.2.3.4:53"),
        IpvsCmd::DelService(udp("1.2.3.4", 53))
    );
    assert_eq!(cmd("-Z"), IpvsCmd::Zero(None));
    assert_eq!(cmd("-Z -f 3 -6"), IpvsCmd::Zero(Some(fwm6(3))));
    assert_eq!(
        cmd("--set 900 120 300"),
        IpvsCmd::SetTimeouts {
            tcp: 900,
            tcpfin: 120,
            udp: 300
        }
    );
    assert_eq!(
        cmd("--set 0 0 0"),
        IpvsCmd::SetTimeouts {
            tcp: 0,
            tcpfin: 0,
            udp: 0
        }
    );
    assert_eq!(err("--set 1 2"), "--set option requires 3 timeout values");
    assert_eq!(err("--set 1 2 3 4"), "unexpected argument 4");
    assert!(err("--set 2678401 0 0").contains("invalid timeout value"));
}

/// Blank lines, comments, a leading `ipvsadm` word, 1-based line numbers, first error only.
#[test]
fn rules_text_lines_comments_and_errors() {
    let text = "# saved\n\nipvsadm -A -t 1.2.3.4:80 -s rr   # web\n  \t\n-a -t 1.2.3.4:80 -r 10.0.0.1:80 -m\r\n";
    let got = parse_rules(text).unwrap();
    let mut s = ServiceConf::new(tcp("1.2.3.4", 80));
    s.scheduler = "rr".into();
    assert_eq!(
        got,
        vec![
            (3, IpvsCmd::AddService(s)),
            (
                5,
                IpvsCmd::AddDest {
                    svc: tcp("1.2.3.4", 80),
                    dest: dest("10.0.0.1", 80, FwdMethod::Masq, 1)
                }
            ),
        ]
    );
    let bad = "-A -t 1.2.3.4:80\n# ok\n-a -t 1.2.3.4:80 -r 10.0.0.1 -w 70000\n-A -t bogus\n";
    let e = parse_rules(bad).unwrap_err();
    assert_eq!(e.line, 3);
    assert_eq!(e.text, "-a -t 1.2.3.4:80 -r 10.0.0.1 -w 70000");
    assert!(e.msg.contains("illegal weight"));
    assert!(parse_rules("ipvsadm\n")
        .unwrap_err()
        .msg
        .contains("lists the table"));
    assert_eq!(parse_command("   # nothing").unwrap(), None);
    assert_eq!(parse_command("").unwrap(), None);
    assert_eq!(parse_rules("").unwrap(), vec![]);
}

// ---------------------------------------------------------------- libc helpers

#[test]
fn libc_inet_aton_and_numbers() {
    let a = |s: &str| inet_aton(s).map(|x| x.to_string());
    assert_eq!(a("1").as_deref(), Some("0.0.0.1"));
    assert_eq!(a("1.2").as_deref(), Some("1.0.0.2"));
    assert_eq!(a("1.2.3").as_deref(), Some("1.2.0.3"));
    assert_eq!(a("1.65536").as_deref(), Some("1.1.0.0"));
    assert_eq!(a("0x7f.1").as_deref(), Some("127.0.0.1"));
    assert_eq!(a("010.0.0.1").as_deref(), Some("8.0.0.1"));
    assert_eq!(a("4294967295").as_deref(), Some("255.255.255.255"));
    assert_eq!(a("1.2.3.4 junk").as_deref(), Some("1.2.3.4"));
    for bad in [
        "",
        "4294967296",
        "256.1.1.1",
        "1.2.3.4.5",
        "1.2.3.256",
        "0x",
        "1..2",
        "1.2.3.",
        "a.b.c.d",
        "09",
        "-1",
    ] {
        assert_eq!(a(bad), None, "{bad}");
    }
    assert_eq!(string_to_number(" +5", 0, 9), Some(5));
    assert_eq!(string_to_number("-0", 0, 9), Some(0));
    assert_eq!(string_to_number("5x", 0, 9), None);
    assert_eq!(string_to_number("", 0, 9), None);
    assert_eq!(string_to_number("99999999999999999999", 0, i64::MAX), None);
}

#[test]
fn libc_inet_ntop6_glibc_forms() {
    let f = |s: &str| inet_ntop6(&s.parse::<Ipv6Addr>().unwrap());
    assert_eq!(f("2001:db8::1"), "2001:db8::1");
    assert_eq!(f("::"), "::");
    assert_eq!(f("::1"), "::1");
    assert_eq!(f("::102:304"), "::1.2.3.4");
    assert_eq!(f("::ffff:102:304"), "::ffff:1.2.3.4");
    assert_eq!(f("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1");
    assert_eq!(f("2001:0:0:1:0:0:0:0"), "2001:0:0:1::");
    assert_eq!(f("1:0:2:0:3:0:4:0"), "1:0:2:0:3:0:4:0");
    assert_eq!(f("1:0:0:2:0:0:3:4"), "1::2:0:0:3:4");
}

// ---------------------------------------------------------------- §12.3 save

fn svc(key: ServiceKey, sched: &str) -> ServiceConf {
    let mut s = ServiceConf::new(key);
    s.scheduler = sched.into();
    s
}

/// §12.3: the spec's example configuration, given in a scrambled (kernel) order.
#[test]
fn s12_3_save_example() {
    let mut web = svc(tcp("192.0.2.10", 80), "rr");
    web.persistence = Some(300);
    web.netmask = mask4("255.255.255.0");
    let mut f1 = svc(fwm(1), "wlc");
    f1.persistence = Some(360);
    let mut f2 = svc(fwm6(2), "mh");
    f2.persistence = Some(600);
    f2.netmask = Netmask::V6(64);
    f2.sched_flags = svc_flags::SCHED1;
    let mut sip = svc(udp("192.0.2.10", 5060), "rr");
    sip.persistence = Some(60);
    sip.pe = Some("sip".into());
    sip.ops = true;
    let tls = svc(tcp("192.0.2.10", 443), "wlc");
    let mut gue = dest("10.0.0.3", 443, FwdMethod::Tunnel, 1);
    gue.tunnel = TunnelConf {
        kind: TunType::Gue,
        port: 6080,
        csum: TunCsum::NoCsum,
    };
    let config = vec![
        (f2, vec![dest("2001:db8:f::1", 0, FwdMethod::Route, 1)]),
        (sip, vec![]),
        (
            web,
            vec![
                dest("10.0.0.2", 80, FwdMethod::Route, 1),
                dest("10.0.0.1", 80, FwdMethod::Route, 1),
            ],
        ),
        (f1, vec![dest("10.0.0.1", 0, FwdMethod::Masq, 1)]),
        (tls, vec![gue]),
    ];
    let expected = "\
-A -t 192.0.2.10:80 -s rr -p 300 -M 255.255.255.0
-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1
-a -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 1
-A -t 192.0.2.10:443 -s wlc
-a -t 192.0.2.10:443 -r 10.0.0.3:443 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum
-A -u 192.0.2.10:5060 -s rr -p 60 --pe sip -o
-A -f 1 -s wlc -p 360
-a -f 1 -r 10.0.0.1:0 -m -w 1
-A -f 2 -6 -s mh -p 600 -M 64 -b mh-fallback
-a -f 2 -6 -r [2001:db8:f::1]:0 -g -w 1
";
    assert_eq!(save(&config), expected);
}

/// §12.3 / print_service_entry(): -M only with -p; --pe even without -p; flag names per
/// scheduler; SCHED3 on sh prints a bare `-b `; thresholds are not saved; tunnel forms.
#[test]
fn s12_3_save_details() {
    let mut a = svc(tcp("1.1.1.1", 1), "rr");
    a.netmask = mask4("255.255.255.0");
    a.pe = Some("sip".into());
    a.sched_flags = svc_flags::SCHED1 | svc_flags::SCHED3;
    let mut b = svc(tcp("1.1.1.1", 2), "sh");
    b.sched_flags = svc_flags::SCHED3;
    let mut c = svc(tcp("1.1.1.1", 3), "sh");
    c.sched_flags = svc_flags::SCHED1 | svc_flags::SCHED2;
    let mut d6 = svc(tcp("2001:db8::5", 8080), "wlc");
    d6.persistence = Some(10);
    d6.netmask = Netmask::V6(128);
    let mut th = dest("10.0.0.1", 1, FwdMethod::Masq, 0);
    th.u_threshold = 100;
    th.l_threshold = 10;
    let mut ipip = dest("10.0.0.2", 1, FwdMethod::Tunnel, 65535);
    ipip.tunnel = TunnelConf::default();
    let mut gre = dest("2001:db8::9", 1, FwdMethod::Tunnel, 2);
    gre.tunnel = TunnelConf {
        kind: TunType::Gre,
        port: 0,
        csum: TunCsum::Csum,
    };
    let config = vec![
        (a, vec![gre, ipip, th]),
        (b, vec![]),
        (c, vec![]),
        (d6, vec![]),
    ];
    let expected = "\
-A -t 1.1.1.1:1 -s rr --pe sip -b flag-1,flag-3
-a -t 1.1.1.1:1 -r 10.0.0.1:1 -m -w 0
-a -t 1.1.1.1:1 -r 10.0.0.2:1 -i -w 65535 --tun-type ipip
-a -t 1.1.1.1:1 -r [2001:db8::9]:1 -i -w 2 --tun-type gre --tun-csum
-A -t 1.1.1.1:2 -s sh -b 
-A -t 1.1.1.1:3 -s sh -b sh-fallback,sh-port
-A -t [2001:db8::5]:8080 -s wlc -p 10
";
    assert_eq!(save(&config), expected);
    assert_eq!(save(&[]), "");
}

/// §12.3 sort order with libipvs' int-subtraction comparators: 192.0.2.10 sorts before 10.0.0.1
/// ((int)(0x0a000001 - 0xc000020a) > 0), and fwmark 0x90000000 before fwmark 1 and before the
/// address services ((int)(0 - 0x90000000) > 0).
#[test]
fn s12_3_save_sort_quirks() {
    let config = vec![
        (svc(tcp("10.0.0.1", 80), "rr"), vec![]),
        (svc(fwm(1), "rr"), vec![]),
        (svc(fwm(0x9000_0000), "rr"), vec![]),
        (svc(tcp("192.0.2.10", 80), "rr"), vec![]),
        (svc(tcp("10.0.0.1", 22), "rr"), vec![]),
        (svc(udp("10.0.0.1", 22), "rr"), vec![]),
    ];
    let expected = "\
-A -f 2415919104 -s rr
-A -t 192.0.2.10:80 -s rr
-A -t 10.0.0.1:22 -s rr
-A -t 10.0.0.1:80 -s rr
-A -u 10.0.0.1:22 -s rr
-A -f 1 -s rr
";
    assert_eq!(save(&config), expected);
    // Dests: by address then port (small differences behave normally).
    let s = svc(tcp("1.2.3.4", 0), "rr");
    let ds = vec![
        dest("10.0.0.2", 5, FwdMethod::Masq, 1),
        dest("10.0.0.1", 9, FwdMethod::Masq, 1),
        dest("10.0.0.1", 7, FwdMethod::Masq, 1),
    ];
    let out = save(&[(s, ds)]);
    let rs: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split(' ').nth(4).unwrap())
        .collect();
    assert_eq!(rs, ["10.0.0.1:7", "10.0.0.1:9", "10.0.0.2:5"]);
}

// ---------------------------------------------------------------- property tests

const VOCAB: &[&str] = &[
    "-A",
    "-E",
    "-D",
    "-a",
    "-e",
    "-d",
    "-C",
    "-Z",
    "--set",
    "-t",
    "-u",
    "-f",
    "-s",
    "-p",
    "-M",
    "-r",
    "-g",
    "-m",
    "-i",
    "-w",
    "-x",
    "-y",
    "-6",
    "-o",
    "-b",
    "--pe",
    "--tun-type",
    "--tun-port",
    "--tun-csum",
    "--tun-nocsum",
    "--tun-remcsum",
    "--sctp-service",
    "--persistent=",
    "-p300",
    "--",
    "-",
    "ipvsadm",
    "#",
    "'",
    "\"",
    "\\",
    "1.2.3.4:80",
    "[2001:db8::1]:80",
    "[::1]",
    "10.0.0.1",
    "0",
    "1",
    "24",
    "64",
    "128",
    "65535",
    "65536",
    "-1",
    "rr",
    "sh",
    "mh",
    "sh-port,mh-port",
    "flag-1",
    "sip",
    "gue",
    "gre",
    "ipip",
    "4294967296",
    "255.255.255.0",
    "-L",
    "--bogus",
    "-At",
    "-pw",
    "=",
    "[",
    "]:",
    ":",
    "",
];

fn arb_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(n))),
        any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from(n))),
        // Small and special IPv6 values exercise glibc's `::a.b.c.d` printing.
        (any::<u32>(), prop::bool::ANY).prop_map(|(n, mapped)| {
            let base: u128 = if mapped { 0xffff_0000_0000 } else { 0 };
            IpAddr::V6(Ipv6Addr::from(base | n as u128))
        }),
    ]
}

fn arb_key() -> impl Strategy<Value = ServiceKey> {
    prop_oneof![
        (
            prop::sample::select(vec![Proto::Tcp, Proto::Udp, Proto::Sctp]),
            arb_ip(),
            any::<u16>()
        )
            .prop_map(|(proto, addr, port)| ServiceKey::Addr { proto, addr, port }),
        (prop::bool::ANY, 1..=u32::MAX).prop_map(|(v6, mark)| ServiceKey::Fwmark {
            af: if v6 { Af::Inet6 } else { Af::Inet },
            mark
        }),
    ]
}

fn arb_service() -> impl Strategy<Value = ServiceConf> {
    (
        arb_key(),
        prop::sample::select(SCHEDULERS.to_vec()),
        0u32..8,
        prop::option::of(1u32..=2_678_400),
        any::<u32>(),
        1u8..=128,
        prop::bool::ANY,
        prop::bool::ANY,
    )
        .prop_map(|(key, sched, fl, mut persistence, m4, m6, ops, pe)| {
            // Zero port needs persistence (§12.1).
            if key.fwmark() == 0 && key.port() == 0 && persistence.is_none() {
                persistence = Some(360);
            }
            let mut flags = fl << 3;
            if sched == "sh" || sched == "mh" {
                flags &= svc_flags::SCHED1 | svc_flags::SCHED2;
            }
            let netmask = match (persistence, key.af()) {
                (None, af) => Netmask::full(af),
                (Some(_), Af::Inet) => Netmask::V4(Ipv4Addr::from(m4)),
                (Some(_), Af::Inet6) => Netmask::V6(m6),
            };
            let ops_ok = matches!(
                key,
                ServiceKey::Fwmark { .. }
                    | ServiceKey::Addr {
                        proto: Proto::Udp,
                        ..
                    }
            );
            ServiceConf {
                key,
                scheduler: sched.to_string(),
                sched_flags: flags,
                persistence,
                netmask,
                ops: ops && ops_ok,
                pe: pe.then(|| "sip".to_string()),
            }
        })
}

fn arb_dest(svc: ServiceKey) -> impl Strategy<Value = DestConf> {
    (
        arb_ip(),
        any::<u16>(),
        0u8..3,
        0i32..=65535,
        0u8..3,
        1u16..=65535,
        0u8..3,
    )
        .prop_map(move |(addr, port, f, weight, kind, tport, csum)| {
            let mut fwd = [FwdMethod::Route, FwdMethod::Masq, FwdMethod::Tunnel][f as usize];
            if Af::of(&addr) != svc.af() {
                fwd = FwdMethod::Tunnel;
            }
            let port = if svc.fwmark() == 0 && fwd != FwdMethod::Masq {
                svc.port()
            } else {
                port
            };
            let csum = [TunCsum::NoCsum, TunCsum::Csum, TunCsum::RemCsum][csum as usize];
            let tunnel = match (fwd, kind) {
                (FwdMethod::Tunnel, 1) => TunnelConf {
                    kind: TunType::Gue,
                    port: tport,
                    csum,
                },
                (FwdMethod::Tunnel, 2) => TunnelConf {
                    kind: TunType::Gre,
                    port: 0,
                    csum: if csum == TunCsum::RemCsum {
                        TunCsum::Csum
                    } else {
                        csum
                    },
                },
                _ => TunnelConf::default(),
            };
            DestConf {
                addr,
                port,
                fwd,
                weight,
                u_threshold: 0,
                l_threshold: 0,
                tunnel,
            }
        })
}

fn arb_config() -> impl Strategy<Value = Vec<(ServiceConf, Vec<DestConf>)>> {
    prop::collection::vec(
        arb_service().prop_flat_map(|s| {
            let k = s.key;
            (Just(s), prop::collection::vec(arb_dest(k), 0..5))
        }),
        0..6,
    )
    .prop_map(|v| {
        let mut out: Vec<(ServiceConf, Vec<DestConf>)> = Vec::new();
        for (s, ds) in v {
            if out.iter().any(|(o, _)| o.key == s.key) {
                continue;
            }
            let mut uniq: Vec<DestConf> = Vec::new();
            for d in ds {
                if !uniq.iter().any(|u| u.addr == d.addr && u.port == d.port) {
                    uniq.push(d);
                }
            }
            out.push((s, uniq));
        }
        out
    })
}

/// A minimal stand-in for the director: apply add commands to a list.
fn apply(cmds: Vec<(usize, IpvsCmd)>) -> Vec<(ServiceConf, Vec<DestConf>)> {
    let mut state: Vec<(ServiceConf, Vec<DestConf>)> = Vec::new();
    for (_, c) in cmds {
        match c {
            IpvsCmd::AddService(s) => {
                assert!(
                    !state.iter().any(|(o, _)| o.key == s.key),
                    "duplicate service"
                );
                state.push((s, Vec::new()));
            }
            IpvsCmd::AddDest { svc, dest } => {
                let entry = state
                    .iter_mut()
                    .find(|(o, _)| o.key == svc)
                    .expect("dest before its service");
                entry.1.push(dest);
            }
            other => panic!("save produced {other:?}"),
        }
    }
    state
}

fn canonical(mut v: Vec<(ServiceConf, Vec<DestConf>)>) -> Vec<(ServiceConf, Vec<DestConf>)> {
    v.sort_by_key(|(s, _)| s.key);
    for (_, ds) in &mut v {
        ds.sort_by_key(|d| (d.addr, d.port));
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// parse_command / parse_rules never panic on arbitrary text.
    #[test]
    fn prop_never_panics_on_arbitrary_text(s in any::<String>()) {
        let _ = parse_command(&s);
        let _ = parse_rules(&s);
    }

    /// ... nor on token soup made of real option names and typical values.
    #[test]
    fn prop_never_panics_on_token_soup(toks in prop::collection::vec(prop::sample::select(VOCAB.to_vec()), 0..14),
                                       glue in prop::collection::vec(prop::sample::select(vec![" ", "", "\n", "="]), 14)) {
        let mut line = String::new();
        for (i, t) in toks.iter().enumerate() {
            line.push_str(t);
            line.push_str(glue[i]);
        }
        let _ = parse_command(&line);
        let _ = parse_rules(&line);
    }

    /// §12.3 round trip: a valid config -> save -> parse_rules -> the same services and dests.
    #[test]
    fn prop_save_parse_round_trip(config in arb_config()) {
        let text = save(&config);
        let cmds = parse_rules(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(canonical(apply(cmds)), canonical(config), "text:\n{}", text);
    }
}

/// §12.3: with a cycle in libipvs' comparator (A<B, B<C, but C<A as ints), the printed order
/// depends on the input (kernel) order exactly as glibc's merge sort makes it. Hand-traced:
/// [A,B,C] -> A,B,C; [C,B,A] -> right half [B,A] becomes [A,B], then C<A puts C first.
#[test]
fn s12_3_save_sort_is_glibc_msort() {
    let a = (svc(tcp("0.0.0.0", 80), "rr"), vec![]);
    let b = (svc(tcp("96.0.0.0", 80), "rr"), vec![]);
    let c = (svc(tcp("192.0.0.0", 80), "rr"), vec![]);
    let order = |cfg: &[(ServiceConf, Vec<DestConf>)]| -> Vec<String> {
        save(cfg)
            .lines()
            .map(|l| l.split(' ').nth(2).unwrap().to_string())
            .collect()
    };
    assert_eq!(
        order(&[a.clone(), b.clone(), c.clone()]),
        ["0.0.0.0:80", "96.0.0.0:80", "192.0.0.0:80"]
    );
    assert_eq!(
        order(&[c, b, a]),
        ["192.0.0.0:80", "0.0.0.0:80", "96.0.0.0:80"]
    );
}

/// A trace may list the table or start the sync daemon between events (as a shell script
/// around the kernel would): those change nothing; table commands parse as in a rules file,
/// and anything else is still an error naming the option.
#[test]
fn trace_accepts_invocations_that_change_nothing() {
    for l in [
        "ipvsadm",
        "-L",
        "-Ln",
        "ipvsadm -l -n -c",
        "-L -n --stats -t 192.0.2.10:80",
        "-L -n --rate --exact --sort",
        "-S -n",
        "-h",
        "--version",
        "--start-daemon master --mcast-interface eth0 --syncid 5",
        "--stop-daemon backup",
    ] {
        assert_eq!(parse_trace_command(l), Ok(None), "{l}");
        // ... which a rules file still refuses.
        if l != "ipvsadm" {
            assert!(parse_command(l).is_err(), "{l}");
        }
    }
    assert_eq!(
        parse_trace_command("-A -t 192.0.2.10:80 -s rr"),
        parse_command("-A -t 192.0.2.10:80 -s rr").map_err(TraceCmdError::Refused)
    );
    assert!(parse_trace_command("-A -t 192.0.2.10:80 -s rr")
        .unwrap()
        .is_some());
    // ipvsadm's own refusals (it exits before calling the kernel: nothing changes) ...
    for (l, msg) in [
        ("-L -n -s rr", "illegal option `-s' with `-L'"),
        ("-L -A", "illegal option `-A' with `-L'"),
        ("-L -n extra", "unexpected argument extra"),
        (
            "--start-daemon master -n",
            "illegal option `-n' with `--start-daemon'",
        ),
        ("-L --bogus", "unknown option `--bogus'"),
        (
            "-A -t 1.2.3.4:80 -n",
            "option `-n' is not supported in a rules file",
        ),
        (
            "-a -t 1.2.3.4:80 -r 10.0.0.1 -w 70000",
            "illegal weight specified: `70000' (0..65535)",
        ),
    ] {
        assert_eq!(
            parse_trace_command(l),
            Err(TraceCmdError::Refused(msg.to_string())),
            "{l}"
        );
    }
    // ... and what lvsnic cannot replay: the trace stops.
    for (l, msg) in [
        ("-R", "option `-R' is not supported in a trace"),
        (
            "-A -t 1.2.3.4:http",
            "illegal virtual server address[:port] specified: `http' is not a port number 0..65535 (service names are not resolved)",
        ),
        (
            "-A -t www.example.com:80",
            "illegal virtual server address[:port] specified: `www.example.com' is not a numeric IPv4 or IPv6 address (host names are not resolved)",
        ),
        (
            "-A -t 1.2.3.4:80 -s lblc",
            "scheduler `lblc' is not supported by lvsnic (supported: rr, wrr, lc, wlc, sed, nq, fo, ovf, sh, dh, mh, none)",
        ),
        ("-A -t '1.2.3.4:80", "unterminated ' quote"),
    ] {
        assert_eq!(
            parse_trace_command(l),
            Err(TraceCmdError::Unsupported(msg.to_string())),
            "{l}"
        );
    }
}

/// ipvsadm falls back to `gethostbyname()` / `getservbyname()` when an address, mask or port is
/// not numeric. glibc answers HOST_NOT_FOUND without any lookup for a name of digits and dots
/// that does not end with a dot (`__nss_hostname_digits_dots()`), no host name holds `:` or
/// `/`, and no service is named by a number: ipvsadm refuses such a line itself (the trace goes
/// on). Only what a resolver could really answer stops the trace.
#[test]
fn trace_numeric_looking_bad_values_are_refused_not_unsupported() {
    for l in [
        "-A -t 10.0.0.256:80",
        "-A -t 1.2.3.4:65536",
        "-A -t 1.2.3.4:-1",
        "-A -t 1.2.3.4:",
        "-A -t 10.0.0.1/24:80",
        "-A -t 2001:db8::g:80",
        "-a -t 1.2.3.4:80 -r 10.0.0.256",
        "-a -t 1.2.3.4:80 -r 10.0.0.1:99999 -m",
        "-A -t 1.2.3.4:80 -p -M 255.255.255.256",
        "-A -t 1.2.3.4:80 -p -M 4294967296",
        "-A -t 1.2.3.4:80 -p -M 255.255.255.0/24",
    ] {
        assert!(
            matches!(parse_trace_command(l), Err(TraceCmdError::Refused(_))),
            "{l}: {:?}",
            parse_trace_command(l)
        );
    }
    for l in [
        "-A -t 10.0.0.1.:80",
        "-A -t www.example.com:80",
        "-A -t 1.2.3.4:http",
        "-A -t 1.2.3.4:80 -p -M localhost",
        "-A -t 1.2.3.4:80 -p -M mask.example.",
    ] {
        assert!(
            matches!(parse_trace_command(l), Err(TraceCmdError::Unsupported(_))),
            "{l}: {:?}",
            parse_trace_command(l)
        );
    }
}
