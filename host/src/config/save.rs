//! `lvsnic save`: the configuration in `ipvsadm -S -n` form.
//!
//! Mirrors ipvsadm.c `print_service_entry()`/`print_tunnel_rule()` with `FMT_RULE|FMT_NUMERIC`
//! and libipvs `ipvs_cmp_services()`/`ipvs_cmp_dests()` sorted by glibc `qsort()` (spec §12.3):
//!
//! * `-A <svc> -s <sched>`, then ` -p T` and — only when persistent and not /32 (/128) —
//!   ` -M mask` (dotted quad; IPv6: prefix length); ` --pe NAME` (even without `-p`); ` -o`;
//!   ` -b flags` named after the scheduler (sh-*/mh-* for sh/mh, flag-N otherwise; for sh/mh the
//!   SCHED3 bit has no name and ipvsadm prints a bare ` -b `);
//! * `-a <svc> -r <dest> -g|-m|-i -w W`, tunnels add ` --tun-type ipip`, ` --tun-type gue
//!   --tun-port P --tun-{no,,rem}csum` or ` --tun-type gre --tun-{no,}csum`;
//! * thresholds are not printed;
//! * the comparators subtract unsigned values into an `int`, so e.g. 192.0.2.10 sorts *before*
//!   10.0.0.1 (0x0a000001 - 0xc000020a is positive as an int); the merge sort reproduces that.

use super::libc::{c_diff_u32, glibc_msort, inet_ntop6};
use crate::model::{
    svc_flags, Af, DestConf, FwdMethod, Netmask, Proto, ServiceConf, ServiceKey, TunCsum, TunType,
};
use std::fmt::Write as _;
use std::net::IpAddr;

/// Print services and real servers exactly as `ipvsadm -S -n` does (sorted as it sorts).
pub fn save(config: &[(ServiceConf, Vec<DestConf>)]) -> String {
    let mut services: Vec<&(ServiceConf, Vec<DestConf>)> = config.iter().collect();
    glibc_msort(&mut services, &|a, b| cmp_services(&a.0.key, &b.0.key));
    let mut out = String::new();
    for (svc, dests) in services {
        let name = svc_name(&svc.key);
        let _ = write!(out, "-A {name} -s {}", svc.scheduler);
        if let Some(t) = svc.persistence {
            let _ = write!(out, " -p {t}");
            match svc.netmask {
                Netmask::V4(m) if svc.key.af() == Af::Inet && !svc.netmask.is_full() => {
                    let _ = write!(out, " -M {m}");
                }
                Netmask::V6(p) if svc.key.af() == Af::Inet6 && p != 128 => {
                    let _ = write!(out, " -M {p}");
                }
                _ => {}
            }
        }
        if let Some(pe) = svc.pe.as_deref().filter(|p| !p.is_empty()) {
            let _ = write!(out, " --pe {pe}");
        }
        if svc.ops {
            out.push_str(" -o");
        }
        if svc.sched_flags & svc_flags::SCHED_MASK != 0 {
            let _ = write!(
                out,
                " -b {}",
                sched_flag_names(&svc.scheduler, svc.sched_flags)
            );
        }
        out.push('\n');
        let mut dests: Vec<&DestConf> = dests.iter().collect();
        glibc_msort(&mut dests, &|a, b| cmp_dests(a, b));
        for d in dests {
            let sw = match d.fwd {
                FwdMethod::Masq => "-m",
                FwdMethod::Tunnel => "-i",
                FwdMethod::Route => "-g",
            };
            let _ = write!(
                out,
                "-a {name} -r {} {sw} -w {}",
                addrport(d.addr, d.port),
                d.weight
            );
            if d.fwd == FwdMethod::Tunnel {
                let csum = match d.tunnel.csum {
                    TunCsum::NoCsum => "--tun-nocsum",
                    TunCsum::Csum => "--tun-csum",
                    TunCsum::RemCsum => "--tun-remcsum",
                };
                match d.tunnel.kind {
                    TunType::Ipip => out.push_str(" --tun-type ipip"),
                    TunType::Gue => {
                        let _ = write!(out, " --tun-type gue --tun-port {} {csum}", d.tunnel.port);
                    }
                    TunType::Gre => {
                        let _ = write!(out, " --tun-type gre {csum}");
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}

/// `addrport_to_anyname()` with `FMT_NUMERIC`.
fn addrport(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{}]:{port}", inet_ntop6(&a)),
    }
}

/// The service part of a rule: `-t a:p`, `-u a:p`, `--sctp-service a:p`, `-f M`, `-f M -6`.
fn svc_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr { proto, addr, port } => {
            let opt = match proto {
                Proto::Tcp => "-t",
                Proto::Udp => "-u",
                Proto::Sctp => "--sctp-service",
            };
            format!("{opt} {}", addrport(*addr, *port))
        }
        ServiceKey::Fwmark { af: Af::Inet, mark } => format!("-f {mark}"),
        ServiceKey::Fwmark {
            af: Af::Inet6,
            mark,
        } => format!("-f {mark} -6"),
    }
}

/// ipvsadm `print_sched_flags()`.
fn sched_flag_names(sched: &str, flags: u32) -> String {
    let names: &[(u32, &str)] = match sched {
        "sh" => &[
            (svc_flags::SCHED1, "sh-fallback"),
            (svc_flags::SCHED2, "sh-port"),
        ],
        "mh" => &[
            (svc_flags::SCHED1, "mh-fallback"),
            (svc_flags::SCHED2, "mh-port"),
        ],
        _ => &[
            (svc_flags::SCHED1, "flag-1"),
            (svc_flags::SCHED2, "flag-2"),
            (svc_flags::SCHED3, "flag-3"),
        ],
    };
    names
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

fn af_number(af: Af) -> i32 {
    match af {
        Af::Inet => 2,
        Af::Inet6 => 10,
    }
}

/// The address as libipvs' `union nf_inet_addr` seen as four host-order 32-bit words.
fn words(addr: &IpAddr) -> [u32; 4] {
    match addr {
        IpAddr::V4(a) => [u32::from(*a), 0, 0, 0],
        IpAddr::V6(a) => {
            let o = a.octets();
            std::array::from_fn(|i| {
                u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]])
            })
        }
    }
}

/// libipvs `ipvs_cmp_services()`, C arithmetic included.
fn cmp_services(a: &ServiceKey, b: &ServiceKey) -> i32 {
    let r = c_diff_u32(a.fwmark(), b.fwmark());
    if r != 0 {
        return r;
    }
    let r = af_number(a.af()) - af_number(b.af());
    if r != 0 {
        return r;
    }
    let (pa, aa) = match a {
        ServiceKey::Addr { proto, addr, .. } => (proto.number() as i32, Some(*addr)),
        ServiceKey::Fwmark { .. } => (0, None),
    };
    let (pb, ab) = match b {
        ServiceKey::Addr { proto, addr, .. } => (proto.number() as i32, Some(*addr)),
        ServiceKey::Fwmark { .. } => (0, None),
    };
    let r = pa - pb;
    if r != 0 {
        return r;
    }
    let zero = [0u32; 4];
    let wa = aa.as_ref().map(words).unwrap_or(zero);
    let wb = ab.as_ref().map(words).unwrap_or(zero);
    let r = cmp_words(a.af(), &wa, &wb);
    if r != 0 {
        return r;
    }
    a.port() as i32 - b.port() as i32
}

fn cmp_words(af: Af, wa: &[u32; 4], wb: &[u32; 4]) -> i32 {
    let n = if af == Af::Inet6 { 4 } else { 1 };
    let mut r = 0;
    for i in 0..n {
        r = c_diff_u32(wa[i], wb[i]);
        if r != 0 {
            break;
        }
    }
    r
}

/// libipvs `ipvs_cmp_dests()`: the first dest's family decides how many words are compared.
fn cmp_dests(a: &DestConf, b: &DestConf) -> i32 {
    let r = cmp_words(Af::of(&a.addr), &words(&a.addr), &words(&b.addr));
    if r != 0 {
        return r;
    }
    a.port as i32 - b.port as i32
}
