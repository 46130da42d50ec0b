//! Connection entries and templates (§1, §7.1), their lookup tables and their timers (§6, §7.3).
//!
//! The kernel keeps both kinds in one hash table; we keep one arena of entries and three exact
//! maps over it: connections by the client-side 5-tuple (`ip_vs_conn_in_get()`), connections
//! by the real-server side (`ip_vs_conn_out_get()`, for NAT replies), and templates by their
//! masked key (`ip_vs_ct_in_get()`). Timers are a min-heap with at most one live item per entry
//! (re-arming later only moves the entry's deadline; the stale heap item re-pushes on pop).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use rustc_hash::FxHashMap;

use super::sched::DestId;
use super::types::{Af, FwdMethod, Time};

/// Index of an entry in the arena. Reused after the entry is freed; timer items carry the
/// entry's generation so that a reused slot does not inherit an old timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(pub u32);

/// `ip_vs_conn_in_get()` key: exact on protocol, client and virtual endpoints (§7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnKey {
    pub proto: u8,
    pub caddr: IpAddr,
    pub cport: u16,
    pub vaddr: IpAddr,
    pub vport: u16,
}

/// `ip_vs_conn_out_get()` key: a reply from `daddr:dport` to `caddr:cport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OutKey {
    pub proto: u8,
    pub daddr: IpAddr,
    pub dport: u16,
    pub caddr: IpAddr,
    pub cport: u16,
}

/// Template key of §5.2: `(af, protocol-or-0, masked caddr, vaddr-or-fwmark, vport-or-0)`
/// (cport is always 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TemplateKey {
    pub af: Af,
    pub proto: u8,
    pub caddr: IpAddr,
    pub vaddr: IpAddr,
    pub vport: u16,
}

/// The fwmark as the template's virtual address: `htonl(mark)` in the first 32 bits (§5.2 (c)).
pub fn fwmark_vaddr(af: Af, mark: u32) -> IpAddr {
    match af {
        Af::Inet => IpAddr::V4(Ipv4Addr::from(mark)),
        Af::Inet6 => IpAddr::V6(Ipv6Addr::from((mark as u128) << 96)),
    }
}

/// One connection entry or template.
#[derive(Clone, Debug)]
pub struct Entry {
    pub template: bool,
    /// IP protocol number; 0 (IPPROTO_IP) for fwmark templates.
    pub proto: u8,
    pub af: Af,
    pub caddr: IpAddr,
    pub cport: u16,
    pub vaddr: IpAddr,
    pub vport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
    /// The real server; `None` for cache-bypass entries.
    pub dest: Option<DestId>,
    pub fwd: FwdMethod,
    /// `IP_VS_CONN_F_INACTIVE`: counted in the dest's inactconns.
    pub inactive: bool,
    /// `IP_VS_CONN_F_NOOUTPUT`: DR/TUN entry that has not seen a reply.
    pub no_output: bool,
    /// `IP_VS_CONN_F_ONE_PACKET`: OPS entry, never hashed, freed after its packet.
    pub one_packet: bool,
    /// `IP_VS_CONN_F_BYPASS`: forwards to the original destination.
    pub bypass: bool,
    /// Protocol state (TCP/SCTP state number); templates: 0.
    pub state: u8,
    /// Template state ASSURED (§6.3).
    pub assured: bool,
    /// Current timeout (`cp->timeout`).
    pub timeout: Duration,
    /// When the entry's timer fires (`cp->timer.expires`); `None` = timer not armed.
    pub deadline: Option<Time>,
    /// The controlling template, if any.
    pub control: Option<EntryId>,
    /// Entries this one controls.
    pub n_control: u32,
    /// skb->mark at creation.
    pub fwmark: u32,
    /// Whether the entry is reachable through its lookup map (templates invalidated by
    /// `ip_vs_check_template()` are not).
    pub hashed: bool,
}

#[derive(Clone, Debug)]
struct Slot {
    gen: u32,
    /// Earliest outstanding heap item for this slot's current generation.
    heap_at: Option<Time>,
    entry: Option<Entry>,
}

/// The arena plus lookup maps plus timer heap.
#[derive(Clone, Debug, Default)]
pub struct Table {
    slots: Vec<Slot>,
    free: Vec<u32>,
    conns_in: FxHashMap<ConnKey, EntryId>,
    conns_out: FxHashMap<OutKey, EntryId>,
    templates: FxHashMap<TemplateKey, EntryId>,
    heap: BinaryHeap<Reverse<(Time, u64, u32, u32)>>,
    seq: u64,
    n_conns: usize,
    n_templates: usize,
}

impl Entry {
    pub fn conn_key(&self) -> ConnKey {
        ConnKey {
            proto: self.proto,
            caddr: self.caddr,
            cport: self.cport,
            vaddr: self.vaddr,
            vport: self.vport,
        }
    }
    pub fn out_key(&self) -> OutKey {
        OutKey {
            proto: self.proto,
            daddr: self.daddr,
            dport: self.dport,
            caddr: self.caddr,
            cport: self.cport,
        }
    }
    pub fn template_key(&self) -> TemplateKey {
        TemplateKey {
            af: self.af,
            proto: self.proto,
            caddr: self.caddr,
            vaddr: self.vaddr,
            vport: self.vport,
        }
    }
}

impl Table {
    pub fn get(&self, id: EntryId) -> &Entry {
        self.slots[id.0 as usize]
            .entry
            .as_ref()
            .expect("live entry")
    }
    pub fn get_mut(&mut self, id: EntryId) -> &mut Entry {
        self.slots[id.0 as usize]
            .entry
            .as_mut()
            .expect("live entry")
    }
    pub fn try_get(&self, id: EntryId) -> Option<&Entry> {
        self.slots.get(id.0 as usize).and_then(|s| s.entry.as_ref())
    }
    pub fn conn_count(&self) -> usize {
        self.n_conns
    }
    pub fn template_count(&self) -> usize {
        self.n_templates
    }
    pub fn lookup_in(&self, k: &ConnKey) -> Option<EntryId> {
        self.conns_in.get(k).copied()
    }
    pub fn lookup_out(&self, k: &OutKey) -> Option<EntryId> {
        self.conns_out.get(k).copied()
    }
    pub fn lookup_template(&self, k: &TemplateKey) -> Option<EntryId> {
        self.templates.get(k).copied()
    }
    /// All live entries (any order).
    pub fn ids(&self) -> impl Iterator<Item = EntryId> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.entry.is_some())
            .map(|(i, _)| EntryId(i as u32))
    }

    /// Insert and hash a new entry (`ip_vs_conn_new()` + `ip_vs_conn_hash()`). A newer entry
    /// with the same key shadows an older one, as the kernel's head insertion does.
    pub fn insert(&mut self, mut e: Entry) -> EntryId {
        e.hashed = !e.one_packet;
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    gen: 0,
                    heap_at: None,
                    entry: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let id = EntryId(idx);
        if e.hashed {
            if e.template {
                self.templates.insert(e.template_key(), id);
            } else {
                self.conns_in.insert(e.conn_key(), id);
                self.conns_out.insert(e.out_key(), id);
            }
        }
        if e.template {
            self.n_templates += 1;
        } else {
            self.n_conns += 1;
        }
        let slot = &mut self.slots[idx as usize];
        slot.heap_at = None;
        slot.entry = Some(e);
        id
    }

    /// Remove from the lookup maps (only where the map still points at this entry).
    pub fn unhash(&mut self, id: EntryId) {
        let e = self.get(id);
        if !e.hashed {
            return;
        }
        let (template, ck, ok, tk) = (e.template, e.conn_key(), e.out_key(), e.template_key());
        if template {
            if self.templates.get(&tk) == Some(&id) {
                self.templates.remove(&tk);
            }
        } else {
            if self.conns_in.get(&ck) == Some(&id) {
                self.conns_in.remove(&ck);
            }
            if self.conns_out.get(&ok) == Some(&id) {
                self.conns_out.remove(&ok);
            }
        }
        self.get_mut(id).hashed = false;
    }

    /// Free an entry (already unhashed and unlinked from its controller and dest).
    pub fn free(&mut self, id: EntryId) -> Entry {
        self.unhash(id);
        let slot = &mut self.slots[id.0 as usize];
        let e = slot.entry.take().expect("live entry");
        slot.gen = slot.gen.wrapping_add(1);
        slot.heap_at = None;
        self.free.push(id.0);
        if e.template {
            self.n_templates -= 1;
        } else {
            self.n_conns -= 1;
        }
        e
    }

    /// Arm (or re-arm) the entry's timer to fire at `at` (`mod_timer`).
    pub fn arm(&mut self, id: EntryId, at: Time) {
        let slot = &mut self.slots[id.0 as usize];
        slot.entry.as_mut().expect("live entry").deadline = Some(at);
        // Only an earlier deadline needs a new heap item; a later one is found when the
        // outstanding item pops (see `pop_due`).
        if slot.heap_at.is_none_or(|h| at < h) {
            slot.heap_at = Some(at);
            self.seq += 1;
            self.heap.push(Reverse((at, self.seq, id.0, slot.gen)));
        }
    }

    /// The next entry whose timer is due at or before `now`, in deadline order (ties in arming
    /// order). Returns the entry and its deadline.
    pub fn pop_due(&mut self, now: Time) -> Option<(EntryId, Time)> {
        while let Some(Reverse((at, _, idx, gen))) = self.heap.peek().copied() {
            if at > now {
                return None;
            }
            self.heap.pop();
            let slot = &mut self.slots[idx as usize];
            if slot.gen != gen || slot.heap_at != Some(at) {
                continue; // stale item: entry freed, or an earlier item superseded this one
            }
            let Some(e) = slot.entry.as_ref() else {
                continue;
            };
            match e.deadline {
                Some(d) if d == at => {
                    slot.heap_at = None;
                    return Some((EntryId(idx), at));
                }
                Some(d) if d > at => {
                    // Re-armed later since this item was pushed: move the item.
                    slot.heap_at = Some(d);
                    self.seq += 1;
                    self.heap.push(Reverse((d, self.seq, idx, gen)));
                }
                _ => slot.heap_at = None, // disarmed
            }
        }
        None
    }

    /// Remove a template from its lookup map and give it the invalidated key of
    /// `ip_vs_check_template()` (vport = dport = 0xffff, cport = 0). It stays in the arena until
    /// its own timer frees it.
    pub fn invalidate_template(&mut self, id: EntryId) {
        self.unhash(id);
        let e = self.get_mut(id);
        e.vport = 0xffff;
        e.dport = 0xffff;
        e.cport = 0;
    }
}
