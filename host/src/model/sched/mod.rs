//! Schedulers (§9): pick a real server for a new connection (non-persistent service) or a new
//! template (persistent service). Every scheduler walks the service's real servers in kernel list
//! order — **newest-added first** — and resolves ties towards the front of that list.
//!
//! Scheduler state (rr cursor, wrr phase, sh/dh/mh tables) lives in the scheduler object and is
//! updated through the config-time hooks, exactly where the kernel's `add_dest` / `del_dest` /
//! `upd_dest` hooks run.

use std::net::IpAddr;

use super::types::Packet;

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
    let _ = name;
    None
}
