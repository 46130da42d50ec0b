//! The director: services, real servers, connection entries, templates and their timers.
//! `Director::process()` is `ip_vs_in_hook()` / `ip_vs_out_hook()` for one packet.

use super::error::ModelError;
use super::fwmark::MarkRules;
use super::sysctl::Sysctls;
use super::types::*;

/// The whole IPVS state of one network namespace.
#[derive(Clone, Debug, Default)]
pub struct Director {
    marks: MarkRules,
    sysctl: Sysctls,
}

impl Director {
    pub fn new() -> Self {
        Self::default()
    }
    /// Apply one ipvsadm command at virtual time `now`.
    pub fn apply(&mut self, now: Time, cmd: &IpvsCmd) -> Result<(), ModelError> {
        let _ = (now, cmd);
        todo!("director core")
    }
    /// Apply a batch atomically: all commands or none. On error, the index of the failing command.
    pub fn apply_all(&mut self, now: Time, cmds: &[IpvsCmd]) -> Result<(), (usize, ModelError)> {
        let mut next = self.clone();
        for (i, c) in cmds.iter().enumerate() {
            next.apply(now, c).map_err(|e| (i, e))?;
        }
        *self = next;
        Ok(())
    }
    pub fn marks(&self) -> &MarkRules {
        &self.marks
    }
    pub fn marks_mut(&mut self) -> &mut MarkRules {
        &mut self.marks
    }
    pub fn sysctl(&self) -> &Sysctls {
        &self.sysctl
    }
    pub fn sysctl_mut(&mut self) -> &mut Sysctls {
        &mut self.sysctl
    }
    /// Decide one packet at virtual time `now` (timers up to `now` fire first).
    pub fn process(&mut self, now: Time, pkt: &Packet) -> Decision {
        let _ = (now, pkt);
        todo!("director core")
    }
    /// Services and their real servers in kernel list order (services in creation order).
    pub fn config(&self) -> Vec<(ServiceConf, Vec<DestConf>)> {
        todo!("director core")
    }
}
