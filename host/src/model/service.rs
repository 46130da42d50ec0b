//! Virtual services and real servers as the director holds them (§1).

use super::sched::{DestId, DestView, Scheduler};
use super::types::{Af, DestConf, ServiceConf, ServiceKey};

/// A real server (`struct ip_vs_dest`). Never freed while the model lives: a deleted real server
/// moves to the trash and can be revived by re-adding it to the same service (§9.1), with its
/// connections and templates — as `ip_vs_trash_get_dest()` does.
#[derive(Clone, Debug)]
pub struct Dest {
    /// The service it belongs to (or belonged to, while in the trash).
    pub svc: ServiceKey,
    pub conf: DestConf,
    /// Latest non-zero weight (`last_weight`, used by mh).
    pub last_weight: i32,
    /// `IP_VS_DEST_F_AVAILABLE`: linked to a service.
    pub available: bool,
    /// `IP_VS_DEST_F_OVERLOAD`.
    pub overloaded: bool,
    pub activeconns: u32,
    pub inactconns: u32,
    pub persistconns: u32,
}

impl Dest {
    pub fn af(&self) -> Af {
        Af::of(&self.conf.addr)
    }
    pub fn view(&self, id: DestId) -> DestView {
        DestView {
            id,
            addr: self.conf.addr,
            port: self.conf.port,
            weight: self.conf.weight,
            last_weight: self.last_weight,
            overloaded: self.overloaded,
            available: self.available,
            activeconns: self.activeconns,
            inactconns: self.inactconns,
        }
    }
    /// `ip_vs_trash_get_dest()` match: same real server and the same service identity
    /// (fwmark, or protocol + VIP + port).
    pub fn trash_matches(&self, svc: &ServiceKey, af: Af, conf: &DestConf) -> bool {
        let same_svc = match (self.svc, svc) {
            (ServiceKey::Fwmark { mark: a, .. }, ServiceKey::Fwmark { mark: b, .. }) => a == *b,
            (a @ ServiceKey::Addr { .. }, b) => a == *b,
            _ => false,
        };
        same_svc && self.af() == af && self.conf.addr == conf.addr && self.conf.port == conf.port
    }
}

/// A virtual service (`struct ip_vs_service`).
#[derive(Clone, Debug)]
pub struct Service {
    pub conf: ServiceConf,
    /// Real servers in kernel list order: newest first.
    pub dests: Vec<DestId>,
    pub sched: Box<dyn Scheduler>,
}
