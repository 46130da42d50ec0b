//! Schedulers (§9): pick a real server for a new connection (non-persistent service) or a new
//! template (persistent service). Every scheduler walks the service's real servers in kernel list
//! order — **newest-added first** — and resolves ties towards the front of that list.
//!
//! Scheduler state (rr cursor, wrr phase, sh/dh/mh tables) lives in the scheduler object and is
//! updated through the config-time hooks, exactly where the kernel's `add_dest` / `del_dest` /
//! `upd_dest` hooks run.

use std::net::IpAddr;

use super::types::{Af, Packet};

pub mod dh;
pub mod fo;
pub mod hash;
pub mod lc;
pub mod mh;
pub mod nq;
pub mod ovf;
pub mod rr;
pub mod sed;
pub mod sh;
pub mod wlc;
pub mod wrr;

/// Opaque identity of a real server inside the model (stable across edits; a deleted and
/// re-added server revived from the kernel's trash keeps its id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DestId(pub u32);

/// What a scheduler may look at of one real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DestView {
    pub id: DestId,
    pub addr: IpAddr,
    pub port: u16,
    /// Current weight (0 = quiesced).
    pub weight: i32,
    /// Latest non-zero weight (mh uses it so that quiescing does not reshuffle the table).
    pub last_weight: i32,
    /// `IP_VS_DEST_F_OVERLOAD`.
    pub overloaded: bool,
    /// `IP_VS_DEST_F_AVAILABLE` (linked to a service). Always true for servers in a service's
    /// list; kept for symmetry with the kernel's checks.
    pub available: bool,
    pub activeconns: u32,
    pub inactconns: u32,
}

impl DestView {
    /// `ip_vs_dest_conn_overhead()`: `(activeconns << 8) + inactconns`.
    pub fn overhead(&self) -> u64 {
        ((self.activeconns as u64) << 8) + self.inactconns as u64
    }

    /// `ip_vs_dest_conn_overhead()` exactly as the kernel computes it: in `int` arithmetic
    /// (`atomic_read()` values, wrapping), which is what lc / wlc compare.
    #[inline]
    pub fn kernel_overhead(&self) -> i32 {
        ((self.activeconns as i32) << 8).wrapping_add(self.inactconns as i32)
    }
}

/// A change to a service's real-server list, reported after it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestChange {
    /// Added (now at the list head, index 0).
    Added(DestId),
    /// Removed; it was at `index` in the list before removal.
    Deleted { id: DestId, index: usize },
    /// Weight / thresholds / forwarding edited (`ipvsadm -e`).
    Updated(DestId),
}

/// The kernel's `struct ip_vs_scheduler`, minus module plumbing.
pub trait Scheduler: std::fmt::Debug + Send {
    /// Scheduler name as ipvsadm spells it.
    fn name(&self) -> &'static str;
    /// `init_service`: the service is created or switched to this scheduler.
    /// `dests` is the list in kernel order; `sched_flags` are the service's SCHED1..3 bits.
    fn init(&mut self, dests: &[DestView], sched_flags: u32);
    /// `add_dest` / `del_dest` / `upd_dest`; `dests` is the list after the change.
    fn dest_changed(&mut self, dests: &[DestView], change: DestChange);
    /// The service's address family (`svc->af`), told before `init`. Only mh needs it: it
    /// folds real-server addresses by the service's family, not the server's.
    fn set_svc_af(&mut self, af: Af) {
        let _ = af;
    }
    /// The service's flags were edited with the same scheduler (kept state, new flags).
    fn flags_changed(&mut self, sched_flags: u32) {
        let _ = sched_flags;
    }
    /// `schedule()`: the chosen real server, or `None` (no destination → `ip_vs_leave`).
    fn schedule(&mut self, dests: &[DestView], pkt: &Packet) -> Option<DestId>;
    /// Clone into a box (the model is cloned for atomic config application).
    fn box_clone(&self) -> Box<dyn Scheduler>;
}

impl Clone for Box<dyn Scheduler> {
    fn clone(&self) -> Self {
        self.box_clone()
    }
}

/// The common eligibility rule: `weight > 0` and not overloaded.
pub fn eligible(d: &DestView) -> bool {
    d.weight > 0 && !d.overloaded
}

/// Make a scheduler by name; `None` for names the model does not implement.
pub fn new_scheduler(name: &str) -> Option<Box<dyn Scheduler>> {
    Some(match name {
        "rr" => Box::new(rr::Rr::default()),
        "wrr" => Box::new(wrr::Wrr::default()),
        "lc" => Box::new(lc::Lc),
        "wlc" => Box::new(wlc::Wlc),
        "sed" => Box::new(sed::Sed),
        "nq" => Box::new(nq::Nq),
        "fo" => Box::new(fo::Fo),
        "ovf" => Box::new(ovf::Ovf),
        "sh" => Box::new(sh::Sh::default()),
        "dh" => Box::new(dh::Dh::default()),
        "mh" => Box::new(mh::Mh::default()),
        "none" => Box::new(NoScheduler),
        _ => return None,
    })
}

/// `-s none`: a service bound to no scheduler (`ip_vs_add_service()` / `ip_vs_edit_service()`
/// look the name "none" up as no scheduler at all). `ip_vs_schedule()` then finds no
/// destination for any new connection (→ `ip_vs_leave()`), and the dest hooks do nothing;
/// templates that exist still direct new connections (`ip_vs_sched_persist()` only needs the
/// scheduler without one).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoScheduler;

impl Scheduler for NoScheduler {
    fn name(&self) -> &'static str {
        "none"
    }
    fn init(&mut self, _: &[DestView], _: u32) {}
    fn dest_changed(&mut self, _: &[DestView], _: DestChange) {}
    fn schedule(&mut self, _: &[DestView], _: &Packet) -> Option<DestId> {
        None
    }
    fn box_clone(&self) -> Box<dyn Scheduler> {
        Box::new(*self)
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers for the scheduler unit tests.
    use super::*;
    use crate::model::types::{Packet, TcpFlags};
    use std::net::SocketAddr;

    /// A dest with weight `w` (also its last_weight), no connections, not overloaded.
    pub fn dv(id: u32, addr: &str, port: u16, w: i32) -> DestView {
        DestView {
            id: DestId(id),
            addr: addr.parse().unwrap(),
            port,
            weight: w,
            last_weight: w,
            overloaded: false,
            available: true,
            activeconns: 0,
            inactconns: 0,
        }
    }

    /// A dest for the load-based schedulers: weight, active and inactive counts.
    pub fn dl(id: u32, w: i32, active: u32, inact: u32) -> DestView {
        DestView {
            activeconns: active,
            inactconns: inact,
            ..dv(id, "10.0.0.1", 80, w)
        }
    }

    /// A TCP SYN from `src` to `dst`.
    pub fn pkt(src: &str, dst: &str) -> Packet {
        let s: SocketAddr = src.parse().unwrap();
        let d: SocketAddr = dst.parse().unwrap();
        Packet::tcp(s, d, TcpFlags::default())
    }

    /// Client `src` to the VIP 192.0.2.10:80.
    pub fn from(src: &str) -> Packet {
        pkt(src, "192.0.2.10:80")
    }

    /// Run `n` decisions and return the chosen ids (`None` → u32::MAX).
    pub fn run(s: &mut dyn Scheduler, dests: &[DestView], n: usize) -> Vec<u32> {
        let p = from("198.51.100.1:1234");
        (0..n)
            .map(|_| s.schedule(dests, &p).map_or(u32::MAX, |d| d.0))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use crate::model::types::SCHEDULERS;

    /// §9.1: every scheduler the model lists is constructible by its ipvsadm name; others are
    /// not (`lblc`, `twos`, ...).
    #[test]
    fn s9_1_new_scheduler_names() {
        for &n in SCHEDULERS {
            let s = new_scheduler(n).unwrap_or_else(|| panic!("{n}"));
            assert_eq!(s.name(), n);
        }
        for n in ["lblc", "lblcr", "twos", "", "RR", "None"] {
            assert!(new_scheduler(n).is_none(), "{n}");
        }
    }

    /// §9.1: with an empty service every scheduler returns no destination.
    #[test]
    fn s9_1_empty_service_none() {
        for &n in SCHEDULERS {
            let mut s = new_scheduler(n).unwrap();
            s.init(&[], 0);
            assert_eq!(s.schedule(&[], &from("203.0.113.1:1000")), None, "{n}");
        }
    }

    /// §9.1: box_clone copies the state (the model is cloned for atomic config application).
    #[test]
    fn s9_1_box_clone_keeps_state() {
        let d: Vec<DestView> = (1..=3).rev().map(|i| dv(i, "10.0.0.1", 80, 1)).collect();
        let mut s = new_scheduler("rr").unwrap();
        s.init(&d, 0);
        assert_eq!(run(s.as_mut(), &d, 1), vec![3]);
        let mut c = s.clone();
        assert_eq!(run(c.as_mut(), &d, 2), vec![2, 1]);
        assert_eq!(run(s.as_mut(), &d, 2), vec![2, 1]);
    }

    /// §9.1: the kernel's int overhead equals the u64 one for realistic counts.
    #[test]
    fn s9_1_kernel_overhead() {
        let d = dl(1, 1, 3, 7);
        assert_eq!(d.kernel_overhead(), 3 * 256 + 7);
        assert_eq!(d.overhead(), 3 * 256 + 7);
    }
}
