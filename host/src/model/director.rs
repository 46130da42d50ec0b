//! The director: services, real servers, connection entries, templates and their timers.
//! [`Director::process`] is `ip_vs_in_hook()` (client → VIP) or `ip_vs_out_hook()` (NAT reply)
//! for one packet; [`Director::apply`] is `ipvsadm` talking to `ip_vs_ctl.c`.
//!
//! Section numbers (§) refer to `shared/ipvs-semantics.md`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::conn::FastMap;

use super::conn::{fwmark_vaddr, ConnKey, Entry, EntryHandle, EntryId, OutKey, Table, TemplateKey};
use super::error::ModelError;
use super::fwmark::MarkRules;
use super::proto::{self, StateDir, Timeouts};
use super::sched::{new_scheduler, DestChange, DestId, DestView};
pub use super::service::Dest;
use super::service::Service;
use super::sysctl::Sysctls;
use super::types::*;

const FTPPORT: u16 = 21;
const FTPDATA: u16 = 20;
/// `ip_unprivileged_port_start` default: ports below need bind privileges (§3 step 3).
const UNPRIVILEGED_PORT_START: u16 = 1024;
/// Deferred expiry re-check period and sticky template timeout (§6.2).
const EXPIRE_LATER: Duration = Duration::from_secs(60);

/// The whole IPVS state of one network namespace.
#[derive(Clone, Debug, Default)]
pub struct Director {
    marks: MarkRules,
    sysctl: Sysctls,
    timeouts: Timeouts,
    services: FastMap<ServiceKey, Service>,
    /// Service keys in creation order (for `config()`).
    svc_order: Vec<ServiceKey>,
    dests: Vec<Dest>,
    /// Real servers removed from their service (`ipvs->dest_trash`).
    trash: Vec<DestId>,
    table: Table,
    /// Services on port 21 / port 0 (`ftpsvc_counter`, `nullsvc_counter`).
    ftp_svcs: u32,
    null_svcs: u32,
    /// Services per family: IPVS hooks are registered only while one exists (§2).
    svcs_v4: u32,
    svcs_v6: u32,
    /// Virtual time of the last event (timers have fired up to here).
    now: Time,
    /// Scratch buffer for scheduler views (no allocation per scheduling decision).
    scratch: Vec<DestView>,
    /// Changes to cacheable entries since the last `take_changes()` (when enabled): one per
    /// key (see [`Director::take_changes`]).
    journal: Option<Vec<EntryChange>>,
    /// Journal batch number (an entry's `journal_mark` names the batch and its position).
    journal_epoch: u32,
    /// Keys removed in this batch, by journal position: a new entry with the same key takes
    /// the position over.
    journal_removed: FastMap<EntryKey, u32>,
}

/// Outcome of trying to schedule a packet without an entry.
enum Sched {
    Entry(EntryId, Option<DecidedBy>),
    Verdict(Verdict, &'static str),
}

fn decision(verdict: Verdict, mark: u32, reason: &'static str) -> Decision {
    Decision {
        verdict,
        dest: None,
        mark,
        by: None,
        reason,
    }
}

impl Director {
    pub fn new() -> Self {
        Self::default()
    }

    // ---------------------------------------------------------------- control plane

    /// Apply one ipvsadm command at virtual time `now` (timers up to `now` fire first).
    pub fn apply(&mut self, now: Time, cmd: &IpvsCmd) -> Result<(), ModelError> {
        self.advance(now);
        match cmd {
            IpvsCmd::AddService(c) => self.add_service(c),
            IpvsCmd::EditService(c) => self.edit_service(c),
            IpvsCmd::DelService(k) => self.del_service(k),
            IpvsCmd::Clear => {
                // ip_vs_flush() walks the <proto,addr,port> table, then the fwmark table, bucket
                // by bucket; each bucket lists its services newest first (hlist_add_head_rcu()
                // in ip_vs_svc_hash()). The order decides which trashed real server a later
                // `-a` revives (ip_vs_trash_get_dest() takes the one deleted last) only for
                // fwmark services of the same mark (one bucket: the fwmark hash has no family),
                // so: address services, then fwmark services newest first.
                let (fwm, addr): (Vec<ServiceKey>, Vec<ServiceKey>) = self
                    .svc_order
                    .iter()
                    .partition(|k| matches!(k, ServiceKey::Fwmark { .. }));
                for k in addr.iter().chain(fwm.iter().rev()) {
                    self.del_service(k)?;
                }
                Ok(())
            }
            IpvsCmd::AddDest { svc, dest } => self.add_dest(svc, dest),
            IpvsCmd::EditDest { svc, dest } => self.edit_dest(svc, dest),
            IpvsCmd::DelDest { svc, addr, port } => self.del_dest(svc, *addr, *port),
            IpvsCmd::SetTimeouts { tcp, tcpfin, udp } => {
                // ip_vs_set_timeout(): 0..INT_MAX/HZ (HZ=1000 here).
                let max = (i32::MAX / 1000) as u32;
                for v in [tcp, tcpfin, udp] {
                    if *v > max {
                        return Err(ModelError::Invalid(format!(
                            "timeout {v} s is above {max} s"
                        )));
                    }
                }
                self.timeouts.set(*tcp, *tcpfin, *udp);
                Ok(())
            }
            IpvsCmd::Zero(k) => match k {
                Some(k) if !self.services.contains_key(k) => Err(ModelError::NoSuchService(*k)),
                _ => Ok(()),
            },
        }
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

    fn add_service(&mut self, c: &ServiceConf) -> Result<(), ModelError> {
        if self.services.contains_key(&c.key) {
            return Err(ModelError::ServiceExists(c.key));
        }
        validate_service(c)?;
        let mut sched = new_scheduler(&c.scheduler)
            .ok_or_else(|| ModelError::SchedulerNotFound(c.scheduler.clone()))?;
        sched.set_svc_af(c.key.af());
        sched.init(&[], c.sched_flags);
        match c.key.port() {
            FTPPORT => self.ftp_svcs += 1,
            0 if matches!(c.key, ServiceKey::Addr { .. }) => self.null_svcs += 1,
            _ => {}
        }
        match c.key.af() {
            Af::Inet => self.svcs_v4 += 1,
            Af::Inet6 => self.svcs_v6 += 1,
        }
        self.services.insert(
            c.key,
            Service {
                conf: c.clone(),
                dests: Vec::new(),
                sched,
            },
        );
        self.svc_order.push(c.key);
        Ok(())
    }

    /// `ip_vs_edit_service()` (§6.4): replaces flags, timeout, netmask, scheduler and pe;
    /// templates are not touched; the same scheduler keeps its state.
    fn edit_service(&mut self, c: &ServiceConf) -> Result<(), ModelError> {
        validate_service(c)?;
        let new_sched = new_scheduler(&c.scheduler)
            .ok_or_else(|| ModelError::SchedulerNotFound(c.scheduler.clone()))?;
        let views = self
            .views_of(&c.key)
            .ok_or(ModelError::NoSuchService(c.key))?;
        let svc = self.services.get_mut(&c.key).expect("checked");
        if svc.sched.name() != c.scheduler {
            svc.sched = new_sched;
            svc.sched.set_svc_af(c.key.af());
            svc.sched.init(&views, c.sched_flags);
        } else if svc.conf.sched_flags != c.sched_flags {
            svc.sched.flags_changed(c.sched_flags);
        }
        svc.conf = c.clone();
        Ok(())
    }

    fn del_service(&mut self, k: &ServiceKey) -> Result<(), ModelError> {
        let svc = self
            .services
            .remove(k)
            .ok_or(ModelError::NoSuchService(*k))?;
        self.svc_order.retain(|x| x != k);
        for id in svc.dests {
            // __ip_vs_unlink_dest(svc, dest, 0): no scheduler hook; then into the trash.
            self.dests[id.0 as usize].available = false;
            self.trash.push(id);
        }
        match k.port() {
            FTPPORT => self.ftp_svcs -= 1,
            0 if matches!(k, ServiceKey::Addr { .. }) => self.null_svcs -= 1,
            _ => {}
        }
        match k.af() {
            Af::Inet => self.svcs_v4 -= 1,
            Af::Inet6 => self.svcs_v6 -= 1,
        }
        self.nodest_flush();
        Ok(())
    }

    /// Checks shared by `ip_vs_add_dest()` / `ip_vs_edit_dest()` and the netlink parser.
    fn validate_dest(svc: &ServiceKey, d: &DestConf) -> Result<(), ModelError> {
        if d.weight < 0 {
            return Err(ModelError::Range(format!(
                "server weight {} less than zero",
                d.weight
            )));
        }
        if d.l_threshold > d.u_threshold {
            return Err(ModelError::Range(format!(
                "lower threshold {} is higher than upper threshold {}",
                d.l_threshold, d.u_threshold
            )));
        }
        if d.fwd == FwdMethod::Tunnel && d.tunnel.kind == TunType::Gue && d.tunnel.port == 0 {
            return Err(ModelError::Invalid("GUE tunnel port is zero".into()));
        }
        if Af::of(&d.addr) != svc.af() && d.fwd != FwdMethod::Tunnel {
            return Err(ModelError::Invalid(format!(
                "real server {} has another address family than the service; only tunneling allows that",
                d.addr
            )));
        }
        Ok(())
    }

    fn add_dest(&mut self, k: &ServiceKey, d: &DestConf) -> Result<(), ModelError> {
        Self::validate_dest(k, d)?;
        let svc = self.services.get(k).ok_or(ModelError::NoSuchService(*k))?;
        if self.find_dest(svc, d.addr, d.port).is_some() {
            return Err(ModelError::DestExists(d.sockaddr()));
        }
        let af = Af::of(&d.addr);
        // ip_vs_trash_get_dest() walks the trash from its head, where __ip_vs_del_dest() puts
        // each deleted server (list_add): the server deleted last matches first.
        let revived = self
            .trash
            .iter()
            .rposition(|id| self.dests[id.0 as usize].trash_matches(k, af, d))
            .map(|pos| self.trash.remove(pos));
        let id = match revived {
            Some(id) => id,
            None => {
                if !unicast(&d.addr) {
                    return Err(ModelError::Invalid(format!(
                        "real server address {} is not unicast",
                        d.addr
                    )));
                }
                self.dests.push(Dest {
                    svc: *k,
                    conf: *d,
                    last_weight: 0,
                    available: false,
                    overloaded: false,
                    activeconns: 0,
                    inactconns: 0,
                    persistconns: 0,
                });
                DestId((self.dests.len() - 1) as u32)
            }
        };
        self.update_dest(k, id, d, true);
        Ok(())
    }

    fn edit_dest(&mut self, k: &ServiceKey, d: &DestConf) -> Result<(), ModelError> {
        Self::validate_dest(k, d)?;
        let svc = self.services.get(k).ok_or(ModelError::NoSuchService(*k))?;
        let id = self
            .find_dest(svc, d.addr, d.port)
            .ok_or(ModelError::NoSuchDest(d.sockaddr()))?;
        self.update_dest(k, id, d, false);
        Ok(())
    }

    /// `__ip_vs_update_dest()`.
    fn update_dest(&mut self, k: &ServiceKey, id: DestId, d: &DestConf, add: bool) {
        let dest = &mut self.dests[id.0 as usize];
        if add || d.weight != 0 {
            dest.last_weight = d.weight;
        }
        if d.u_threshold == 0 || d.u_threshold > dest.conf.u_threshold {
            dest.overloaded = false;
        }
        dest.conf = *d;
        dest.svc = *k;
        dest.available = true;
        let svc = self.services.get_mut(k).expect("service exists");
        let change = if add {
            svc.dests.insert(0, id);
            DestChange::Added(id)
        } else {
            DestChange::Updated(id)
        };
        let views = self.views_of(k).expect("service exists");
        self.services
            .get_mut(k)
            .expect("service exists")
            .sched
            .dest_changed(&views, change);
    }

    fn del_dest(&mut self, k: &ServiceKey, addr: IpAddr, port: u16) -> Result<(), ModelError> {
        let svc = self.services.get(k).ok_or(ModelError::NoSuchService(*k))?;
        let id = self
            .find_dest(svc, addr, port)
            .ok_or(ModelError::NoSuchDest(SocketAddr::new(addr, port)))?;
        let svc = self.services.get_mut(k).expect("checked");
        let index = svc.dests.iter().position(|x| *x == id).expect("listed");
        svc.dests.remove(index);
        self.dests[id.0 as usize].available = false;
        self.trash.push(id);
        let views = self.views_of(k).expect("service exists");
        self.services
            .get_mut(k)
            .expect("checked")
            .sched
            .dest_changed(&views, DestChange::Deleted { id, index });
        self.nodest_flush();
        Ok(())
    }

    /// `ip_vs_lookup_dest()`: a real server of the service by address family, address, port.
    fn find_dest(&self, svc: &Service, addr: IpAddr, port: u16) -> Option<DestId> {
        svc.dests.iter().copied().find(|id| {
            let c = &self.dests[id.0 as usize].conf;
            c.addr == addr && c.port == port
        })
    }

    fn views_of(&self, k: &ServiceKey) -> Option<Vec<DestView>> {
        let svc = self.services.get(k)?;
        Some(
            svc.dests
                .iter()
                .map(|id| self.dests[id.0 as usize].view(*id))
                .collect(),
        )
    }

    /// `ip_vs_expire_nodest_conn_flush()` (§5.3), run when a real server or service is deleted
    /// with `expire_nodest_conn=1`: every entry whose real server is unavailable goes —
    /// connections first, then the templates they leave without controlled entries.
    fn nodest_flush(&mut self) {
        if !self.sysctl.expire_nodest_conn {
            return;
        }
        let doomed = |t: &Table, id: EntryId, dests: &[Dest]| {
            t.get(id)
                .dest
                .is_some_and(|d| !dests[d.0 as usize].available)
        };
        let conns: Vec<EntryId> = self
            .table
            .ids()
            .filter(|id| !self.table.get(*id).template && doomed(&self.table, *id, &self.dests))
            .collect();
        for id in conns {
            if self.table.try_get(id).is_some() {
                self.conn_del(id);
            }
        }
        let tpls: Vec<EntryId> = self
            .table
            .ids()
            .filter(|id| doomed(&self.table, *id, &self.dests))
            .collect();
        for id in tpls {
            if self.table.try_get(id).is_some_and(|e| e.n_control == 0) {
                self.conn_del(id);
            }
        }
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
    /// `(tcp, tcpfin, udp)` timeouts in seconds, as `ipvsadm --timeout` lists them.
    pub fn timeouts(&self) -> (u64, u64, u64) {
        self.timeouts.listed()
    }
    /// The per-state timeout tables (`pd->timeout_table`) as `--set` left them: what the next
    /// packet of a connection gives it (§7.3).
    pub fn state_timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// Services and their real servers in kernel list order (services in creation order).
    pub fn config(&self) -> Vec<(ServiceConf, Vec<DestConf>)> {
        self.svc_order
            .iter()
            .map(|k| {
                let s = &self.services[k];
                (
                    s.conf.clone(),
                    s.dests
                        .iter()
                        .map(|id| self.dests[id.0 as usize].conf)
                        .collect(),
                )
            })
            .collect()
    }

    /// Counters of a real server: `(activeconns, inactconns, persistconns, overloaded)`.
    pub fn dest_counters(
        &self,
        svc: &ServiceKey,
        addr: SocketAddr,
    ) -> Option<(u32, u32, u32, bool)> {
        let s = self.services.get(svc)?;
        let id = self.find_dest(s, addr.ip(), addr.port())?;
        let d = &self.dests[id.0 as usize];
        Some((d.activeconns, d.inactconns, d.persistconns, d.overloaded))
    }
    /// Live connection entries (templates excluded).
    pub fn conn_count(&self) -> usize {
        self.table.conn_count()
    }
    /// Live templates (including invalidated ones that wait for their timer).
    pub fn template_count(&self) -> usize {
        self.table.template_count()
    }
    /// Entries as `ipvsadm -Lnc` would list them, at the model's current time.
    pub fn entries(&self) -> Vec<EntryInfo> {
        let mut v: Vec<EntryInfo> = self
            .table
            .ids()
            .map(|id| {
                let e = self.table.get(id);
                let proto = Proto::from_number(e.proto);
                EntryInfo {
                    template: e.template,
                    proto,
                    client: SocketAddr::new(e.caddr, e.cport),
                    virt: SocketAddr::new(e.vaddr, e.vport),
                    dest: SocketAddr::new(e.daddr, e.dport),
                    state: match (e.template, proto) {
                        (true, _) => {
                            if e.assured {
                                "ASSURED"
                            } else {
                                "NONE"
                            }
                        }
                        (false, Some(p)) => proto::state_name(p, e.state),
                        (false, None) => "?",
                    },
                    expires_in: e.deadline.map(|d| self.now.until(d)),
                    n_control: e.n_control,
                }
            })
            .collect();
        v.sort_by_key(|e| (e.template, e.client, e.virt));
        v
    }

    // ---------------------------------------------------------------- timers

    /// Fire every timer due at or before `now` and move the model's clock there.
    /// Time never goes backwards: an earlier `now` is treated as the current time.
    pub fn advance(&mut self, now: Time) {
        self.advance_with(now, &mut |_| None);
    }

    /// [`Director::advance`] for a model whose offloaded connections are refreshed elsewhere
    /// (the card refreshes an entry on every hit without telling the host): when such an
    /// entry's timer fires, `last_refresh` is asked when it was last refreshed, and the entry
    /// lives on until `last_refresh + timeout` if that is later.
    pub fn advance_with(
        &mut self,
        now: Time,
        last_refresh: &mut dyn FnMut(&EntryView) -> Option<Time>,
    ) {
        if now < self.now {
            return;
        }
        while let Some((id, at)) = self.table.pop_due(now) {
            self.now = at;
            let e = self.table.get(id);
            // Only a connection still in its lookup map is the one the cache holds: an entry
            // replaced or expired early (`expire_now`) shares its key with a newer one.
            if e.offloaded && !e.template && e.hashed {
                if let Some(lr) = last_refresh(&self.view(id)) {
                    let d = lr.plus(self.table.get(id).timeout);
                    if d > at {
                        self.table.arm(id, d);
                        continue;
                    }
                }
            }
            self.expire(id, at);
        }
        self.now = now;
    }

    /// `ip_vs_conn_expire()` for an entry whose timer fired at `at` (§6.2).
    fn expire(&mut self, id: EntryId, at: Time) {
        if self.table.get(id).n_control > 0 {
            // Expire later: timeout becomes (and stays) 60 s.
            let e = self.table.get_mut(id);
            e.timeout = EXPIRE_LATER;
            self.table.arm(id, at.plus(EXPIRE_LATER));
            self.note_upsert(id);
            return;
        }
        self.unhash(id);
        let e = self.table.get(id);
        let (control, forced) = (e.control, e.timeout.is_zero());
        if let Some(ct) = control {
            let c = self.table.get_mut(ct);
            c.n_control -= 1;
            // Forced deletion drops a controller left with nothing to control, unless it is
            // an ASSURED template.
            if forced && c.n_control == 0 && !(c.template && c.assured) {
                self.conn_del(ct);
            }
        }
        let e = self.table.free(id);
        self.unbind_dest(&e);
    }

    /// `ip_vs_conn_del()`: forced deletion now (timeout 0 marks "drop the control chain").
    fn conn_del(&mut self, id: EntryId) {
        let e = self.table.get_mut(id);
        if e.control.is_some() {
            e.timeout = Duration::ZERO;
        }
        let now = self.now;
        self.expire(id, now);
    }

    /// `ip_vs_conn_expire_now()`: the entry's timer fires at the next timer run, after the
    /// current packet. Its lookup key is released at once so a new entry can take it.
    fn expire_now(&mut self, id: EntryId) {
        self.unhash(id);
        let now = self.now;
        self.table.arm(id, now);
    }

    /// `ip_vs_conn_put()`: re-arm to now + timeout; OPS entries are freed at once.
    fn conn_put(&mut self, id: EntryId) {
        let e = self.table.get(id);
        if e.one_packet {
            let now = self.now;
            self.expire(id, now);
        } else {
            let at = self.now.plus(e.timeout);
            self.table.arm(id, at);
            self.note_upsert(id);
        }
    }

    /// Remove an entry from its lookup map, telling the journal.
    fn unhash(&mut self, id: EntryId) {
        if self.journal.is_some() && self.table.get(id).hashed && self.visible(id) {
            self.journal_removal(id);
        }
        self.table.unhash(id);
    }

    /// Journal that entry `id`'s key is gone from a cache's point of view.
    fn journal_removal(&mut self, id: EntryId) {
        let key = self.key_of(id);
        if let Some(pos) = self.journal_put(id, EntryChange::Removed(key)) {
            // The entry leaves its lookup map for good (nothing journals it again); a new
            // entry with its key takes its position.
            self.journal_removed.insert(key, pos);
            self.table.get_mut(id).journal_mark = 0;
        }
    }

    fn note_upsert(&mut self, id: EntryId) {
        if self.journal.is_none() || !self.table.get(id).hashed || !self.visible(id) {
            return;
        }
        let pos = self.journal_pos_with(id, || entry_key(self.table.get(id)));
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        // The view is built where it goes (no copies of it through calls).
        let pos = match pos {
            Some(p) => {
                j[p as usize] = EntryChange::Upsert(entry_view(&self.table, id));
                p
            }
            None => {
                j.push(EntryChange::Upsert(entry_view(&self.table, id)));
                (j.len() - 1) as u32
            }
        };
        self.table.get_mut(id).journal_mark = (self.journal_epoch as u64) << 32 | pos as u64;
    }

    /// Whether a cache should see entry `id` (hashed): a connection always; a template when it
    /// heads its key's chain. Only an invalidated template (re-keyed with vport 0xffff) can
    /// shadow another with the same key; a cache holds the head, so changes of a shadowed
    /// template are not journaled.
    fn visible(&self, id: EntryId) -> bool {
        let e = self.table.get(id);
        if !e.template {
            return true;
        }
        // Only templates with port 0xffff can share a key (an invalidated one is re-keyed so);
        // with fewer than two such, every hashed template heads its own chain.
        if self.table.templates_may_share_keys()
            && self.table.lookup_template(&e.template_key()) != Some(id)
        {
            return false;
        }
        // A re-keyed (invalidated) template is found only by the lookups of a persistent
        // service on port 65535 (§5.2 (a)); without one, a cache need not hold it.
        e.vport != 0xffff
            || Proto::from_number(e.proto).is_some_and(|proto| {
                self.services.contains_key(&ServiceKey::Addr {
                    proto,
                    addr: e.vaddr,
                    port: 0xffff,
                })
            })
    }

    /// A template just hashed at the head of its key's chain shadows the one it was put in
    /// front of (only an invalidated template shares a key): this batch's change for that
    /// key becomes the new head's, so the journal keeps one change per key.
    fn take_journal_place(&mut self, ct: EntryId) {
        if let Some(prev) = self.table.get(ct).next {
            let mark = std::mem::take(&mut self.table.get_mut(prev).journal_mark);
            self.table.get_mut(ct).journal_mark = mark;
        }
    }

    /// Journal a change of entry `id`: over this batch's change for its key, if any, else at
    /// the end. Its position (`None`: no journal).
    fn journal_put(&mut self, id: EntryId, change: EntryChange) -> Option<u32> {
        let pos = self.journal_pos(id, change.key());
        let j = self.journal.as_mut()?;
        Some(match pos {
            Some(p) => {
                j[p as usize] = change;
                p
            }
            None => {
                j.push(change);
                (j.len() - 1) as u32
            }
        })
    }

    /// The journal position of this batch's change for the entry's key, if there is one: the
    /// entry's own, or that of a removed entry with the same key.
    #[inline]
    fn journal_pos(&self, id: EntryId, key: &EntryKey) -> Option<u32> {
        self.journal_pos_with(id, || *key)
    }

    /// [`Director::journal_pos`] with the key made only when it is needed (rarely: a removal
    /// in this batch).
    #[inline]
    fn journal_pos_with(&self, id: EntryId, key: impl FnOnce() -> EntryKey) -> Option<u32> {
        let mark = self.table.get(id).journal_mark;
        if mark >> 32 == self.journal_epoch as u64 {
            return Some(mark as u32);
        }
        if self.journal_removed.is_empty() {
            return None;
        }
        self.journal_removed.get(&key()).copied()
    }

    /// Start a new journal batch: every entry's journal mark goes stale.
    fn next_journal_epoch(&mut self) {
        self.journal_removed.clear();
        self.journal_epoch = self.journal_epoch.wrapping_add(1);
        if self.journal_epoch == 0 {
            // Wrapped: forget every mark (epoch 0 is never current, so 0 means "nowhere").
            self.table.for_each_mut(|e| e.journal_mark = 0);
            self.journal_epoch = 1;
        }
    }

    fn key_of(&self, id: EntryId) -> EntryKey {
        entry_key(self.table.get(id))
    }

    fn view(&self, id: EntryId) -> EntryView {
        entry_view(&self.table, id)
    }

    // ---------------------------------------------------------------- cache support

    /// Start recording changes to connection entries and templates (for a cache to mirror).
    pub fn enable_journal(&mut self) {
        if self.journal.is_none() {
            self.journal = Some(Vec::new());
            self.next_journal_epoch();
        }
    }

    /// The changes recorded since the last call: **one per key**, its last change (`Upsert`
    /// with the entry as of that change, or `Removed`) at the position of its first change
    /// since the last call. A cache that mirrors the batch needs only that (no packet
    /// crosses it meanwhile); the model coalesces as it records, so that mirroring needs no
    /// search for repeated keys. An entry replaced by a new one with its key (`expire_now`,
    /// an invalidated template) is one key: the new entry's change takes the old one's place.
    pub fn take_changes(&mut self) -> Vec<EntryChange> {
        let mut buf = Vec::new();
        self.swap_changes(&mut buf);
        buf
    }

    /// [`Director::take_changes`] into `buf` (cleared first), swapping buffers so that neither
    /// the journal nor the caller allocates when this is called in a loop.
    pub fn swap_changes(&mut self, buf: &mut Vec<EntryChange>) {
        buf.clear();
        if let Some(j) = self.journal.as_mut() {
            std::mem::swap(j, buf);
            self.next_journal_epoch();
        }
    }

    /// The entry with this key, if it is in its lookup map.
    fn find(&self, key: &EntryKey) -> Option<EntryId> {
        if key.template {
            self.table.lookup_template(&TemplateKey {
                af: key.af,
                proto: key.proto,
                caddr: key.client.ip(),
                vaddr: key.virt.ip(),
                vport: key.virt.port(),
            })
        } else {
            self.table.lookup_in(&ConnKey {
                proto: key.proto,
                caddr: key.client.ip(),
                cport: key.client.port(),
                vaddr: key.virt.ip(),
                vport: key.virt.port(),
            })
        }
    }

    /// What the model holds for `key`.
    pub fn entry(&self, key: &EntryKey) -> Option<EntryView> {
        self.find(key).map(|id| self.view(id))
    }

    /// Mark a connection as held (and refreshed) by a cache, or not. False if there is none.
    pub fn set_offloaded(&mut self, key: &EntryKey, on: bool) -> bool {
        match self.find(key) {
            Some(id) => {
                self.table.get_mut(id).offloaded = on;
                true
            }
            None => false,
        }
    }

    /// [`Director::set_offloaded`] of the connection a journal view was taken of: without a
    /// key lookup when that entry is still the one in its lookup map (a hashed connection is
    /// the only one with its key), else by key.
    pub fn set_offloaded_entry(&mut self, v: &EntryView, on: bool) -> bool {
        if !v.key.template {
            if let Some(id) = self.table.resolve(v.handle) {
                let e = self.table.get_mut(id);
                if e.hashed
                    && !e.template
                    && e.proto == v.key.proto
                    && e.caddr == v.key.client.ip()
                    && e.cport == v.key.client.port()
                    && e.vaddr == v.key.virt.ip()
                    && e.vport == v.key.virt.port()
                {
                    e.offloaded = on;
                    return true;
                }
            }
        }
        self.set_offloaded(&v.key, on)
    }

    /// A real server by id (including ones in the trash).
    pub fn dest(&self, id: DestId) -> Option<&Dest> {
        self.dests.get(id.0 as usize)
    }

    /// Every real server the model knows, with its id.
    pub fn dests(&self) -> impl Iterator<Item = (DestId, &Dest)> {
        self.dests
            .iter()
            .enumerate()
            .map(|(i, d)| (DestId(i as u32), d))
    }

    /// A service's real servers in kernel list order.
    pub fn service_dests(&self, key: &ServiceKey) -> Option<&[DestId]> {
        self.services.get(key).map(|s| s.dests.as_slice())
    }

    /// `ip_vs_bind_dest()`.
    fn bind_dest(&mut self, dest: DestId, template: bool) {
        let d = &mut self.dests[dest.0 as usize];
        if template {
            d.persistconns += 1;
        } else {
            // New entries start INACTIVE (dest conn_flags carry IP_VS_CONN_F_INACTIVE).
            d.inactconns += 1;
        }
        if d.conf.u_threshold != 0 && d.activeconns + d.inactconns >= d.conf.u_threshold {
            d.overloaded = true;
        }
    }

    /// `ip_vs_unbind_dest()` (§7.4 overload clearing).
    fn unbind_dest(&mut self, e: &Entry) {
        let Some(id) = e.dest else { return };
        let d = &mut self.dests[id.0 as usize];
        if e.template {
            d.persistconns -= 1;
        } else if e.inactive {
            d.inactconns -= 1;
        } else {
            d.activeconns -= 1;
        }
        let total = d.activeconns + d.inactconns;
        if d.conf.l_threshold != 0 {
            if total < d.conf.l_threshold {
                d.overloaded = false;
            }
        } else if d.conf.u_threshold != 0 {
            if (total as u64) * 4 < (d.conf.u_threshold as u64) * 3 {
                d.overloaded = false;
            }
        } else {
            d.overloaded = false;
        }
    }

    // ---------------------------------------------------------------- data plane

    /// Decide one packet at virtual time `now` (timers up to `now` fire first).
    pub fn process(&mut self, now: Time, pkt: &Packet) -> Decision {
        self.advance(now);
        let mark = match pkt.mark {
            Some(m) => m,
            None => self.marks.mark(pkt),
        };
        let af = pkt.af();
        if Af::of(&pkt.dst.ip()) != af {
            return decision(
                Verdict::Local,
                mark,
                "source and destination address families differ",
            );
        }
        // §2: hooks for a family exist only while a service of that family does.
        let hooked = match af {
            Af::Inet => self.svcs_v4 > 0,
            Af::Inet6 => self.svcs_v6 > 0,
        };
        if !hooked {
            return decision(
                Verdict::Local,
                mark,
                "no virtual service of this address family",
            );
        }
        match pkt.dir {
            Dir::In => self.process_in(pkt, mark),
            Dir::Out => self.process_out(pkt, mark),
            Dir::Any => {
                if self.table.lookup_out(&out_key(pkt)).is_some() {
                    self.process_out(pkt, mark)
                } else {
                    self.process_in(pkt, mark)
                }
            }
        }
    }

    /// `ip_vs_out_hook()` → `handle_response()` for a real server → client packet.
    fn process_out(&mut self, pkt: &Packet, mark: u32) -> Decision {
        let Some(id) = self.table.lookup_out(&out_key(pkt)) else {
            return decision(
                Verdict::Local,
                mark,
                "reply without a connection entry continues as normal traffic",
            );
        };
        self.state_transition(id, StateDir::Output, pkt);
        let e = self.table.get(id);
        let dest = SocketAddr::new(e.daddr, e.dport);
        self.conn_put(id);
        Decision {
            verdict: Verdict::Forward,
            dest: Some(dest),
            mark,
            by: Some(DecidedBy::Conn),
            reason: "reply",
        }
    }

    /// `ip_vs_in_hook()` for a client → VIP packet (§2).
    fn process_in(&mut self, pkt: &Packet, mark: u32) -> Decision {
        let key = ConnKey {
            proto: pkt.proto.number(),
            caddr: pkt.src.ip(),
            cport: pkt.src.port(),
            vaddr: pkt.dst.ip(),
            vport: pkt.dst.port(),
        };
        // `__ip_vs_conn_in_get()` requires `(!p->cport) ^ (!(cp->flags & NO_CPORT))`: a packet
        // from client port 0 never finds an entry (only NO_CPORT entries, which the model does
        // not create, match a zero port), so each such packet is scheduled anew.
        let mut cp = if key.cport == 0 {
            None
        } else {
            self.table.lookup_in(&key)
        };

        // §2 step 5: a new connection on an existing entry may be rescheduled.
        if let Some(id) = cp {
            if is_new_conn(pkt) {
                let e = self.table.get(id);
                let mut resched = false;
                let mut old_ct = false;
                let quiesced = e
                    .dest
                    .is_some_and(|d| self.dests[d.0 as usize].conf.weight == 0);
                // ip_vs_conn_uses_old_conntrack(): only an entry made while `conntrack` was on
                // (IP_VS_CONN_F_NFCT) has a conntrack to reuse (taken as confirmed).
                if self.sysctl.expire_nodest_conn && quiesced {
                    resched = true;
                    old_ct = e.nfct;
                } else if self.sysctl.conn_reuse_mode != 0
                    && is_new_conn_expected(e, self.sysctl.conn_reuse_mode)
                {
                    old_ct = e.nfct;
                    resched = e.n_control == 0 || !old_ct;
                }
                if resched {
                    if self.table.get(id).n_control == 0 {
                        self.expire_now(id);
                    }
                    if old_ct {
                        return decision(Verdict::Drop, mark, "new connection on an entry with a confirmed conntrack: dropped, client retransmits");
                    }
                    cp = None;
                }
            }
        }

        // §2 step 6: the entry's real server was deleted.
        if let Some(id) = cp {
            let dest = self.table.get(id).dest;
            if dest.is_some_and(|d| !self.dests[d.0 as usize].available) {
                if self.sysctl.expire_nodest_conn {
                    let old_ct = self.table.get(id).nfct;
                    self.expire_now(id);
                    if old_ct {
                        return decision(
                            Verdict::Drop,
                            mark,
                            "entry of a deleted real server expired; conntrack kept: dropped",
                        );
                    }
                    cp = None;
                } else {
                    return decision(
                        Verdict::Drop,
                        mark,
                        "real server of this connection was deleted",
                    );
                }
            }
        }

        let (id, by) = match cp {
            Some(id) => (id, Some(DecidedBy::Conn)),
            None => match self.try_to_schedule(pkt, mark) {
                Sched::Entry(id, by) => (id, by),
                Sched::Verdict(v, reason) => return decision(v, mark, reason),
            },
        };

        let dir = if self.table.get(id).no_output {
            StateDir::InputOnly
        } else {
            StateDir::Input
        };
        self.state_transition(id, dir, pkt);
        let e = self.table.get(id);
        let dest = if e.bypass {
            pkt.dst
        } else {
            SocketAddr::new(e.daddr, e.dport)
        };
        let reason = match by {
            Some(DecidedBy::Conn) => "existing connection",
            Some(DecidedBy::Template) => "new connection through a persistence template",
            Some(DecidedBy::Scheduler) => "new connection from the scheduler",
            None => "cache bypass to the original destination",
        };
        self.conn_put(id);
        Decision {
            verdict: Verdict::Forward,
            dest: Some(dest),
            mark,
            by,
            reason,
        }
    }

    /// Protocol state transition and timeout (`ip_vs_set_state()`); NOOUTPUT entries use the
    /// INPUT_ONLY table until a reply is seen.
    fn state_transition(&mut self, id: EntryId, dir: StateDir, pkt: &Packet) {
        let e = self.table.get_mut(id);
        let dir = if e.no_output {
            if dir == StateDir::Output {
                e.no_output = false;
                StateDir::Output
            } else {
                StateDir::InputOnly
            }
        } else {
            dir
        };
        let Some(p) = Proto::from_number(e.proto) else {
            return;
        };
        let old = e.state;
        let (new, active, assure) = match p {
            Proto::Tcp => {
                let n = proto::tcp_next_state_in(self.sysctl.secure_tcp_on(), dir, old, pkt.tcp);
                (n, proto::tcp_state_active(n), n == proto::TCP_ESTABLISHED)
            }
            Proto::Sctp => {
                let n = proto::sctp_next_state(dir, old, pkt.sctp);
                (
                    n,
                    n == proto::SCTP_ESTABLISHED,
                    n == proto::SCTP_ESTABLISHED,
                )
            }
            Proto::Udp => {
                // udp_state_transition(): one state; a reply assures the template.
                e.timeout = self.timeouts.of(Proto::Udp, 0);
                let control = e.control;
                if dir == StateDir::Output {
                    self.assure(control);
                }
                return;
            }
        };
        if new != old {
            if let Some(d) = e.dest {
                let dest = &mut self.dests[d.0 as usize];
                if !e.inactive && !active {
                    dest.activeconns -= 1;
                    dest.inactconns += 1;
                    e.inactive = true;
                } else if e.inactive && active {
                    dest.activeconns += 1;
                    dest.inactconns -= 1;
                    e.inactive = false;
                }
            }
            if assure {
                let control = e.control;
                self.assure(control);
            }
        }
        let e = self.table.get_mut(id);
        e.state = new;
        e.timeout = self.timeouts.of(p, new);
    }

    /// `ip_vs_control_assure_ct()`.
    fn assure(&mut self, control: Option<EntryId>) {
        if let Some(ct) = control {
            let c = self.table.get_mut(ct);
            if c.template {
                c.assured = true;
            }
        }
    }

    /// `ip_vs_try_to_schedule()` → protocol `conn_schedule()` (§2 step 7).
    fn try_to_schedule(&mut self, pkt: &Packet, mark: u32) -> Sched {
        match pkt.proto {
            Proto::Tcp => {
                if pkt.tcp.rst || !(self.sysctl.sloppy_tcp || pkt.tcp.syn) {
                    return Sched::Verdict(
                        Verdict::Local,
                        "TCP packet that cannot start a connection, no entry",
                    );
                }
            }
            Proto::Sctp => {
                if pkt.sctp == SctpChunk::Abort
                    || !(self.sysctl.sloppy_sctp || pkt.sctp == SctpChunk::Init)
                {
                    return Sched::Verdict(
                        Verdict::Local,
                        "SCTP chunk that cannot start an association, no entry",
                    );
                }
            }
            Proto::Udp => {}
        }
        let Some(svc_key) =
            self.service_find(pkt.af(), mark, pkt.proto, pkt.dst.ip(), pkt.dst.port())
        else {
            return Sched::Verdict(Verdict::Local, "no virtual service");
        };
        match self.schedule(svc_key, pkt, mark) {
            Ok(s) => s,
            Err(Ignored::Accept(r)) => Sched::Verdict(Verdict::Local, r),
            Err(Ignored::Leave) => self.leave(svc_key, pkt, mark),
            Err(Ignored::Drop(r)) => Sched::Verdict(Verdict::Drop, r),
        }
    }

    /// `ip_vs_service_find()` (§3): fwmark, exact, FTP data fallback, port zero.
    fn service_find(
        &self,
        af: Af,
        mark: u32,
        proto: Proto,
        vaddr: IpAddr,
        vport: u16,
    ) -> Option<ServiceKey> {
        if mark != 0 {
            let k = ServiceKey::Fwmark { af, mark };
            if self.services.contains_key(&k) {
                return Some(k);
            }
        }
        let k = ServiceKey::Addr {
            proto,
            addr: vaddr,
            port: vport,
        };
        if self.services.contains_key(&k) {
            return Some(k);
        }
        if proto == Proto::Tcp
            && self.ftp_svcs > 0
            && (vport == FTPDATA || vport >= UNPRIVILEGED_PORT_START)
        {
            let k = ServiceKey::Addr {
                proto,
                addr: vaddr,
                port: FTPPORT,
            };
            if self.services.contains_key(&k) {
                return Some(k);
            }
        }
        if self.null_svcs > 0 {
            let k = ServiceKey::Addr {
                proto,
                addr: vaddr,
                port: 0,
            };
            if self.services.contains_key(&k) {
                return Some(k);
            }
        }
        None
    }

    /// Run the service's scheduler over its list (newest first).
    fn run_scheduler(&mut self, k: &ServiceKey, pkt: &Packet) -> Option<DestId> {
        let svc = self.services.get_mut(k)?;
        self.scratch.clear();
        self.scratch.extend(
            svc.dests
                .iter()
                .map(|id| self.dests[id.0 as usize].view(*id)),
        );
        svc.sched.schedule(&self.scratch, pkt)
    }

    /// `ip_vs_schedule()` (§4).
    fn schedule(&mut self, k: ServiceKey, pkt: &Packet, mark: u32) -> Result<Sched, Ignored> {
        let (cport, vport) = (pkt.src.port(), pkt.dst.port());
        if cport == FTPDATA {
            return Err(Ignored::Accept(
                "client source port 20 (FTP data) is never scheduled",
            ));
        }
        // One lookup for what this packet needs of the service's configuration (copied: no
        // allocation on this path).
        let c = &self.services[&k].conf;
        let conf = SvcParams {
            has_pe: c.pe.is_some(),
            port: c.key.port(),
            af: c.key.af(),
            netmask: c.netmask,
            persistence: c.persistence,
            ops: c.ops,
        };
        let (svc_port, ops) = (conf.port, conf.ops);
        if conf.persistence.is_some() {
            return self.sched_persist(k, &conf, pkt, mark);
        }
        if matches!(k, ServiceKey::Addr { .. }) && vport != svc_port {
            return Err(Ignored::Leave);
        }
        let one_packet = ops && pkt.proto == Proto::Udp;
        let dest = self.run_scheduler(&k, pkt).ok_or(Ignored::Leave)?;
        let dport = match self.dests[dest.0 as usize].conf.port {
            0 => vport,
            p => p,
        };
        let id = self.conn_new(pkt, dest, dport, one_packet, mark);
        Ok(Sched::Entry(id, Some(DecidedBy::Scheduler)))
    }

    /// `ip_vs_sched_persist()` (§5).
    fn sched_persist(
        &mut self,
        k: ServiceKey,
        conf: &SvcParams,
        pkt: &Packet,
        mark: u32,
    ) -> Result<Sched, Ignored> {
        let SvcParams {
            has_pe,
            port: svc_port,
            af: svc_af,
            netmask,
            persistence,
            ops,
        } = *conf;
        if has_pe {
            // ip_vs_sip_fill_param(): needs a UDP datagram with a Call-ID header. The model
            // sees no payload, which the kernel treats like a missing Call-ID.
            return Err(Ignored::Drop(
                "persistence engine could not parse the packet (no SIP Call-ID)",
            ));
        }
        let dst_port = pkt.dst.port();
        let snet = netmask.apply(pkt.src.ip());
        let mut proto = pkt.proto.number();
        let mut vaddr = pkt.dst.ip();
        let mut vport = 0;
        if dst_port == svc_port {
            if svc_port != FTPPORT {
                vport = dst_port;
            }
        } else if let ServiceKey::Fwmark { mark: fwm, .. } = k {
            proto = 0;
            vaddr = fwmark_vaddr(svc_af, fwm);
        }
        let key = TemplateKey {
            af: svc_af,
            proto,
            caddr: snet,
            vaddr,
            vport,
        };
        let timeout = Duration::from_secs(persistence.unwrap_or(0) as u64);
        let one_packet = ops && pkt.proto == Proto::Udp;

        let mut found = self.table.lookup_template(&key);
        if let Some(ct) = found {
            if !self.check_template(ct) {
                // Invalidated in place: re-keyed with vport 0xffff at the head of its chain
                // (unless it has that vport already: then it stays where it is).
                if self.table.get(ct).vport != 0xffff {
                    self.unhash(ct);
                    self.table.invalidate_template(ct);
                    self.take_journal_place(ct);
                    if self.visible(ct) {
                        self.note_upsert(ct);
                    } else if self.table.get(ct).next.is_some() {
                        // It shadows a template a cache may hold under that key: drop that.
                        self.journal_removal(ct);
                    }
                }
                found = None;
            }
        }
        let (ct, dest, by) = match found {
            Some(ct) => (
                ct,
                self.table.get(ct).dest.expect("template has a dest"),
                DecidedBy::Template,
            ),
            None => {
                let dest = self.run_scheduler(&k, pkt).ok_or(Ignored::Leave)?;
                let d = &self.dests[dest.0 as usize];
                let tdport = if dst_port == svc_port && svc_port != FTPPORT {
                    d.conf.port
                } else {
                    0
                };
                let e = Entry {
                    template: true,
                    inactive: false,
                    nfct: self.sysctl.conntrack,
                    dest: Some(dest),
                    fwd: d.conf.fwd,
                    timeout,
                    fwmark: mark,
                    ..Entry::new(
                        proto,
                        svc_af,
                        (snet, 0),
                        (vaddr, vport),
                        (d.conf.addr, tdport),
                    )
                };
                let ct = self.table.insert(e);
                self.take_journal_place(ct);
                self.bind_dest(dest, true);
                (ct, dest, DecidedBy::Scheduler)
            }
        };
        let dest_port = self.dests[dest.0 as usize].conf.port;
        let dport = if dst_port == svc_port && dest_port != 0 {
            dest_port
        } else {
            dst_port
        };
        let cp = self.conn_new(pkt, dest, dport, one_packet, mark);
        // ip_vs_control_add() + ip_vs_conn_put(ct): the template's timer restarts.
        self.table.get_mut(cp).control = Some(ct);
        self.table.get_mut(ct).n_control += 1;
        self.conn_put(ct);
        Ok(Sched::Entry(cp, Some(by)))
    }

    /// `ip_vs_check_template()` (§5.3); invalidation is the caller's job.
    fn check_template(&self, ct: EntryId) -> bool {
        let Some(d) = self.table.get(ct).dest else {
            return false;
        };
        let d = &self.dests[d.0 as usize];
        d.available && !(self.sysctl.expire_quiescent_template && d.conf.weight == 0)
    }

    /// `ip_vs_conn_new()` for a connection entry bound to `dest`.
    fn conn_new(
        &mut self,
        pkt: &Packet,
        dest: DestId,
        dport: u16,
        one_packet: bool,
        mark: u32,
    ) -> EntryId {
        let d = &self.dests[dest.0 as usize];
        let e = Entry {
            dest: Some(dest),
            fwd: d.conf.fwd,
            no_output: d.conf.fwd.no_output(),
            one_packet,
            nfct: self.sysctl.conntrack,
            fwmark: mark,
            ..Entry::for_packet(pkt, (d.conf.addr, dport))
        };
        let id = self.table.insert(e);
        self.bind_dest(dest, false);
        id
    }

    /// `ip_vs_leave()`: no real server for a new connection (§4, §8).
    fn leave(&mut self, k: ServiceKey, pkt: &Packet, mark: u32) -> Sched {
        let svc = &self.services[&k].conf;
        if self.sysctl.cache_bypass && matches!(k, ServiceKey::Fwmark { .. }) {
            // A BYPASS entry forwards this and later packets to the original destination.
            // (The kernel requires a non-local unicast destination; the model cannot know which
            // addresses are local and assumes a transparent setup.) It has no dest, so
            // `ip_vs_bind_dest()` gives it no conn_flags: no NOOUTPUT, the INPUT state table.
            let e = Entry {
                no_output: false,
                one_packet: svc.ops && pkt.proto == Proto::Udp,
                bypass: true,
                nfct: self.sysctl.conntrack,
                fwmark: mark,
                ..Entry::for_packet(pkt, (pkt.dst.ip(), pkt.dst.port()))
            };
            return Sched::Entry(self.table.insert(e), None);
        }
        if svc.key.port() == FTPPORT
            && pkt.dst.port() != FTPPORT
            && matches!(k, ServiceKey::Addr { .. })
        {
            return Sched::Verdict(
                Verdict::Local,
                "FTP service reached for another port: passed to the host",
            );
        }
        Sched::Verdict(
            Verdict::Icmp,
            "no real server available: ICMP port unreachable",
        )
    }
}

/// What scheduling a packet needs of its service's configuration.
#[derive(Clone, Copy)]
struct SvcParams {
    has_pe: bool,
    port: u16,
    af: Af,
    netmask: Netmask,
    persistence: Option<u32>,
    ops: bool,
}

fn entry_key(e: &Entry) -> EntryKey {
    EntryKey {
        template: e.template,
        af: e.af,
        proto: e.proto,
        client: SocketAddr::new(e.caddr, e.cport),
        virt: SocketAddr::new(e.vaddr, e.vport),
    }
}

#[inline]
fn entry_view(t: &Table, id: EntryId) -> EntryView {
    let e = t.get(id);
    EntryView {
        handle: t.handle(id),
        key: entry_key(e),
        dest: e.dest,
        daddr: SocketAddr::new(e.daddr, e.dport),
        fwd: e.fwd,
        no_output: e.no_output,
        state: e.state,
        timeout: e.timeout,
        deadline: e.deadline,
        controlled: e.control.is_some(),
        n_control: e.n_control,
        assured: e.assured,
        offloaded: e.offloaded,
    }
}

/// The ways `ip_vs_schedule()` declines (`*ignored` = 1, 0, −1).
enum Ignored {
    /// ignored=1: accept to the local stack.
    Accept(&'static str),
    /// ignored=0: `ip_vs_leave()`.
    Leave,
    /// ignored=−1: drop without ICMP.
    Drop(&'static str),
}

/// What `ipvsadm -Lnc` shows of one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInfo {
    pub template: bool,
    /// `None` for fwmark templates (protocol 0, shown as `IP`).
    pub proto: Option<Proto>,
    pub client: SocketAddr,
    pub virt: SocketAddr,
    pub dest: SocketAddr,
    pub state: &'static str,
    pub expires_in: Option<Duration>,
    pub n_control: u32,
}

/// The `ip_vs_conn_out_get()` key of a packet taken as a reply (real server → client).
fn out_key(pkt: &Packet) -> OutKey {
    OutKey {
        proto: pkt.proto.number(),
        daddr: pkt.src.ip(),
        dport: pkt.src.port(),
        caddr: pkt.dst.ip(),
        cport: pkt.dst.port(),
    }
}

/// `is_new_conn()`: TCP SYN or SCTP INIT.
fn is_new_conn(pkt: &Packet) -> bool {
    match pkt.proto {
        Proto::Tcp => pkt.tcp.syn,
        Proto::Sctp => pkt.sctp == SctpChunk::Init,
        Proto::Udp => false,
    }
}

/// `is_new_conn_expected()` (§2 step 5 (b)): never for controlled entries.
fn is_new_conn_expected(e: &Entry, conn_reuse_mode: u32) -> bool {
    if e.control.is_some() {
        return false;
    }
    match Proto::from_number(e.proto) {
        Some(Proto::Tcp) => {
            e.state == proto::TCP_TIME_WAIT
                || e.state == proto::TCP_CLOSE
                || (conn_reuse_mode & 2 != 0 && e.state == proto::TCP_FIN_WAIT && e.no_output)
        }
        Some(Proto::Sctp) => e.state == proto::SCTP_CLOSED,
        _ => false,
    }
}

/// Kernel-side service checks (§12.2) that ipvsadm does not already make.
fn validate_service(c: &ServiceConf) -> Result<(), ModelError> {
    match (c.key.af(), c.netmask) {
        (Af::Inet6, Netmask::V6(p)) if !(1..=128).contains(&p) => Err(ModelError::Invalid(
            format!("IPv6 persistence prefix length {p} is not 1..128"),
        )),
        (Af::Inet6, Netmask::V4(_)) | (Af::Inet, Netmask::V6(_)) => Err(ModelError::Invalid(
            "persistence netmask of the wrong address family".into(),
        )),
        _ => Ok(()),
    }
}

/// Real-server addresses the kernel accepts (`inet_addr_type()` local or unicast: not the zero
/// network 0.0.0.0/8 (`ipv4_is_zeronet()`), 255.255.255.255 or multicast; a local subnet's
/// broadcast address depends on the host and is taken as unicast; IPv6 unicast, not
/// link-local). An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is `IPV6_ADDR_MAPPED`
/// without `IPV6_ADDR_UNICAST` in `__ipv6_addr_type()`, so `ip_vs_new_dest()` refuses it too.
fn unicast(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => !(v.octets()[0] == 0 || v.is_broadcast() || v.is_multicast()),
        IpAddr::V6(v) => {
            !(v.is_unspecified()
                || v.is_multicast()
                || (v.segments()[0] & 0xffc0) == 0xfe80
                || v.to_ipv4_mapped().is_some())
                || v.is_loopback()
        }
    }
}

/// How an entry is found: a connection by its client and virtual endpoints, a template by its
/// §5.2 key (client = masked address with port 0; virtual = VIP or fwmark-as-address, and port).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryKey {
    pub template: bool,
    pub af: Af,
    /// IP protocol number (0 for fwmark templates).
    pub proto: u8,
    pub client: SocketAddr,
    pub virt: SocketAddr,
}

/// The fields as a few words (a cache hashes keys on its hot path; the derived `Hash` feeds the
/// hasher a dozen small pieces). Equal keys hash equally: every field `Eq` compares is hashed,
/// except an IPv6 socket address's flow info and scope id.
impl std::hash::Hash for EntryKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let v6 = |a: &SocketAddr| a.is_ipv6() as u64;
        h.write_u64(
            self.template as u64
                | ((self.af == Af::Inet6) as u64) << 1
                | v6(&self.client) << 2
                | v6(&self.virt) << 3
                | (self.proto as u64) << 8
                | (self.client.port() as u64) << 16
                | (self.virt.port() as u64) << 32,
        );
        for a in [self.client.ip(), self.virt.ip()] {
            match a {
                IpAddr::V4(a) => h.write_u32(a.to_bits()),
                IpAddr::V6(a) => h.write_u128(a.to_bits()),
            }
        }
    }
}

/// A connection entry or template as a cache needs to see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryView {
    /// The model's entry the view was taken of (see [`Director::set_offloaded_entry`]).
    pub handle: EntryHandle,
    pub key: EntryKey,
    /// The real server (`None` for cache-bypass entries).
    pub dest: Option<DestId>,
    /// Where the connection forwards to (templates: the real server, port per §5.4).
    pub daddr: SocketAddr,
    pub fwd: FwdMethod,
    /// `IP_VS_CONN_F_NOOUTPUT`: a DR/TUN entry that has seen no reply yet (its TCP state
    /// moves by the INPUT_ONLY table; once a reply is seen, by the INPUT table).
    pub no_output: bool,
    /// Protocol state (kernel numbering, see `model::proto`); 0 for templates.
    pub state: u8,
    pub timeout: Duration,
    /// When the entry's timer fires; `deadline - timeout` is its last refresh.
    pub deadline: Option<Time>,
    /// Controlled by a template.
    pub controlled: bool,
    /// Entries it controls (templates).
    pub n_control: u32,
    pub assured: bool,
    pub offloaded: bool,
}

/// A change to a cacheable entry (the journal keeps the last one of each key, see
/// [`Director::take_changes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryChange {
    /// Created, or its state, timeout or timer changed through the model.
    Upsert(EntryView),
    /// No longer found by lookups (freed, replaced, or a template invalidated).
    Removed(EntryKey),
}

impl EntryChange {
    /// The entry the change is about.
    pub fn key(&self) -> &EntryKey {
        match self {
            EntryChange::Upsert(v) => &v.key,
            EntryChange::Removed(k) => k,
        }
    }
}
