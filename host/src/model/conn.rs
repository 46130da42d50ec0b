//! Connection entries and templates (§1, §7.1), their lookup tables and their timers (§6, §7.3).
//!
//! The kernel keeps both kinds in one hash table hashed on the client side only
//! (`ip_vs_conn_hashkey()`: protocol, client address, client port) with newest-first chains.
//! We do the same for connections: one map from the client side to the head of an intrusive
//! chain, walked by both `ip_vs_conn_in_get()` (virtual side must match) and
//! `ip_vs_conn_out_get()` (real-server side must match), so the first match is the newest, as
//! in the kernel. Templates have their own exact map (`ip_vs_ct_in_get()`).
//!
//! Timers are a calendar queue (see [`Timers`]) with at most one queued item per entry:
//! re-arming later only moves the entry's deadline, and the queued item re-queues itself
//! when it comes due. Firing order is exact: by deadline, ties in arming order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Exact-match maps of the model: foldhash (fast, good mixing of IP addresses and ports),
/// with a fixed seed so runs are deterministic.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
/// The set of [`FastMap`].
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::FixedState>;

use super::sched::DestId;
use super::types::{Af, FwdMethod, Packet, Time};

/// Index of an entry in the arena. Reused after the entry is freed; timer items carry the
/// entry's generation so that a reused slot does not inherit an old timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(pub u32);

/// An entry as of one moment: its arena slot and the slot's generation (a freed slot's
/// generation changes, so a stale handle finds nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EntryHandle {
    id: EntryId,
    gen: u32,
}

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
    /// `IP_VS_CONN_F_NFCT`: the `conntrack` sysctl was on when `ip_vs_conn_new()` made the
    /// entry (netfilter conntrack kept for it).
    pub nfct: bool,
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
    /// Next (older) entry in the same client-side chain.
    pub(crate) next: Option<EntryId>,
    /// A cache (the card) holds this connection and refreshes it on hits without telling the
    /// model: when its timer fires, the model first asks when it was last refreshed.
    pub offloaded: bool,
    /// Where the entry's change sits in the director's journal: `epoch << 32 | position`,
    /// valid while the journal's epoch is `epoch` (0: nowhere).
    pub(crate) journal_mark: u64,
}

/// Cache-line aligned: writing a new entry touches its three lines and no neighbour's.
#[derive(Clone, Debug)]
#[repr(align(64))]
struct Slot {
    gen: u32,
    /// Deadline of the earliest queued timer item for this slot's current generation.
    queued_at: Option<Time>,
    entry: Option<Entry>,
}

/// log2 of the slots per arena chunk.
const CHUNK_SHIFT: u32 = 12;
const CHUNK: usize = 1 << CHUNK_SHIFT;

/// The entry arena: fixed-size chunks, so that growing it never moves (copies) the entries
/// already there, whatever its size.
#[derive(Clone, Debug, Default)]
struct Slots {
    chunks: Vec<Vec<Slot>>,
    len: u32,
}

impl Slots {
    fn len(&self) -> u32 {
        self.len
    }
    fn get(&self, i: u32) -> Option<&Slot> {
        (i < self.len).then(|| &self[i])
    }
    /// Append a slot; its index.
    fn push(&mut self, s: Slot) -> u32 {
        let i = self.len;
        if (i as usize).is_multiple_of(CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut().expect("a chunk").push(s);
        self.len += 1;
        i
    }
}

impl std::ops::Index<u32> for Slots {
    type Output = Slot;
    fn index(&self, i: u32) -> &Slot {
        &self.chunks[(i >> CHUNK_SHIFT) as usize][i as usize & (CHUNK - 1)]
    }
}

impl std::ops::IndexMut<u32> for Slots {
    fn index_mut(&mut self, i: u32) -> &mut Slot {
        &mut self.chunks[(i >> CHUNK_SHIFT) as usize][i as usize & (CHUNK - 1)]
    }
}

/// The client side of a connection: what the kernel hashes (§7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ClientKey {
    proto: u8,
    caddr: IpAddr,
    cport: u16,
}

/// A lookup map whose key is the entry's own: it stores entry ids only (4 bytes a bucket) and
/// compares and re-hashes through the arena, so the maps of a large table stay in the CPU's
/// cache (the host's miss path is bound by memory latency). An id in it is always live.
#[derive(Clone, Debug, Default)]
struct IdIndex(hashbrown::HashTable<EntryId>);

/// The key a map hashes an entry under: the client side (connections) or the template key.
trait IndexKey: Eq + Sized {
    fn of(e: &Entry) -> Self;
    /// Equal keys hash equally.
    fn hash(&self) -> u64;
}
impl IndexKey for ClientKey {
    fn of(e: &Entry) -> Self {
        e.client_key()
    }
    fn hash(&self) -> u64 {
        words_hash(
            self.proto as u64 | (self.cport as u64) << 8,
            [Some(self.caddr), None],
        )
    }
}
impl IndexKey for TemplateKey {
    fn of(e: &Entry) -> Self {
        e.template_key()
    }
    fn hash(&self) -> u64 {
        let af = matches!(self.af, Af::Inet6) as u64;
        words_hash(
            self.proto as u64 | (self.vport as u64) << 8 | af << 24,
            [Some(self.caddr), Some(self.vaddr)],
        )
    }
}

/// A key's hash from its small fields packed in a word and its addresses (the derived `Hash`
/// feeds the hasher a dozen pieces, among them each address as a length-prefixed byte slice;
/// this is the miss path's hash).
fn words_hash(small: u64, addrs: [Option<IpAddr>; 2]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::fast::FixedState::default().build_hasher();
    h.write_u64(small);
    for a in addrs {
        match a {
            Some(IpAddr::V4(a)) => h.write_u32(a.to_bits()),
            Some(IpAddr::V6(a)) => h.write_u128(a.to_bits()),
            None => {}
        }
    }
    h.finish()
}

fn key_hash<K: IndexKey>(k: &K) -> u64 {
    k.hash()
}

fn key_at<K: IndexKey>(slots: &Slots, id: EntryId) -> K {
    K::of(
        slots[id.0]
            .entry
            .as_ref()
            .expect("an indexed entry is live"),
    )
}

impl IdIndex {
    fn get<K: IndexKey>(&self, slots: &Slots, k: &K) -> Option<EntryId> {
        self.0
            .find(key_hash(k), |&id| key_at::<K>(slots, id) == *k)
            .copied()
    }
    /// Make `id` the head for `k`; the previous head, if any.
    fn set<K: IndexKey>(&mut self, slots: &Slots, k: K, id: EntryId) -> Option<EntryId> {
        match self.0.entry(
            key_hash(&k),
            |&h| key_at::<K>(slots, h) == k,
            |&h| key_hash(&key_at::<K>(slots, h)),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut o) => {
                Some(std::mem::replace(o.get_mut(), id))
            }
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(id);
                None
            }
        }
    }
    fn remove<K: IndexKey>(&mut self, slots: &Slots, k: &K) {
        if let Ok(o) = self
            .0
            .find_entry(key_hash(k), |&id| key_at::<K>(slots, id) == *k)
        {
            o.remove();
        }
    }
}

/// The arena plus lookup maps plus timers.
#[derive(Clone, Debug, Default)]
pub struct Table {
    slots: Slots,
    free: Vec<u32>,
    /// Client side → newest entry of the chain.
    conns: IdIndex,
    /// Template key → newest template with that key.
    templates: IdIndex,
    timers: Timers,
    n_conns: usize,
    n_templates: usize,
    /// Hashed templates with virtual port 0xffff: the only ones that can share a key (see
    /// [`Table::invalidate_template`]).
    n_ffff_templates: usize,
}

impl Entry {
    /// A fresh entry as `ip_vs_conn_new()` makes it: not a template, no dest, state 0,
    /// INACTIVE, timeout 3 s, timer not armed, not hashed.
    pub fn new(
        proto: u8,
        af: Af,
        client: (IpAddr, u16),
        virt: (IpAddr, u16),
        dest: (IpAddr, u16),
    ) -> Entry {
        Entry {
            template: false,
            proto,
            af,
            caddr: client.0,
            cport: client.1,
            vaddr: virt.0,
            vport: virt.1,
            daddr: dest.0,
            dport: dest.1,
            dest: None,
            fwd: FwdMethod::Route,
            inactive: true,
            no_output: false,
            one_packet: false,
            bypass: false,
            nfct: false,
            state: 0,
            assured: false,
            timeout: Duration::from_secs(3),
            deadline: None,
            control: None,
            n_control: 0,
            fwmark: 0,
            hashed: false,
            next: None,
            offloaded: false,
            journal_mark: 0,
        }
    }
    /// A fresh connection entry for a client → VIP packet, forwarding to `dest`.
    pub fn for_packet(pkt: &Packet, dest: (IpAddr, u16)) -> Entry {
        let (src, dst) = (pkt.src, pkt.dst);
        Entry::new(
            pkt.proto.number(),
            pkt.af(),
            (src.ip(), src.port()),
            (dst.ip(), dst.port()),
            dest,
        )
    }
    fn client_key(&self) -> ClientKey {
        ClientKey {
            proto: self.proto,
            caddr: self.caddr,
            cport: self.cport,
        }
    }
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
        self.slots[id.0].entry.as_ref().expect("live entry")
    }
    pub fn get_mut(&mut self, id: EntryId) -> &mut Entry {
        self.slots[id.0].entry.as_mut().expect("live entry")
    }
    /// The handle of a live entry.
    pub fn handle(&self, id: EntryId) -> EntryHandle {
        EntryHandle {
            id,
            gen: self.slots[id.0].gen,
        }
    }
    /// The entry a handle names, if it still lives.
    pub fn resolve(&self, h: EntryHandle) -> Option<EntryId> {
        self.slots
            .get(h.id.0)
            .filter(|s| s.gen == h.gen && s.entry.is_some())
            .map(|_| h.id)
    }
    pub fn try_get(&self, id: EntryId) -> Option<&Entry> {
        self.slots.get(id.0).and_then(|s| s.entry.as_ref())
    }
    pub fn conn_count(&self) -> usize {
        self.n_conns
    }
    pub fn template_count(&self) -> usize {
        self.n_templates
    }
    /// Whether two hashed templates may have the same key (else the map's entry for a hashed
    /// template's key is that template).
    pub fn templates_may_share_keys(&self) -> bool {
        // The count kept by insert/unhash/invalidate, recounted in test builds of small tables.
        debug_assert!(
            self.slots.len() > 1024
                || self.n_ffff_templates
                    == self
                        .ids()
                        .map(|id| self.get(id))
                        .filter(|e| e.template && e.hashed && e.vport == 0xffff)
                        .count(),
            "hashed templates with port 0xffff miscounted"
        );
        self.n_ffff_templates > 1
    }
    fn count_ffff(&mut self, e_template: bool, vport: u16, add: bool) {
        if e_template && vport == 0xffff {
            if add {
                self.n_ffff_templates += 1;
            } else {
                self.n_ffff_templates -= 1;
            }
        }
    }
    /// Walk the client-side chain, newest first, for the first entry `pred` accepts.
    fn chain_find(&self, ck: &ClientKey, pred: impl Fn(&Entry) -> bool) -> Option<EntryId> {
        let mut cur = self.conns.get(&self.slots, ck);
        while let Some(id) = cur {
            let e = self.get(id);
            if pred(e) {
                return Some(id);
            }
            cur = e.next;
        }
        None
    }
    pub fn lookup_in(&self, k: &ConnKey) -> Option<EntryId> {
        let ck = ClientKey {
            proto: k.proto,
            caddr: k.caddr,
            cport: k.cport,
        };
        self.chain_find(&ck, |e| e.vaddr == k.vaddr && e.vport == k.vport)
    }
    pub fn lookup_out(&self, k: &OutKey) -> Option<EntryId> {
        let ck = ClientKey {
            proto: k.proto,
            caddr: k.caddr,
            cport: k.cport,
        };
        // `ip_vs_conn_out_get()`: a NAT entry's replies come from the real server; any other
        // entry's (DR, TUN, bypass) from the virtual address and port.
        self.chain_find(&ck, |e| {
            if e.fwd == FwdMethod::Masq {
                e.daddr == k.daddr && e.dport == k.dport
            } else {
                e.vaddr == k.daddr && e.vport == k.dport
            }
        })
    }
    pub fn lookup_template(&self, k: &TemplateKey) -> Option<EntryId> {
        self.templates.get(&self.slots, k)
    }
    /// Every live entry, mutably (any order).
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&mut Entry)) {
        for chunk in &mut self.slots.chunks {
            for s in chunk.iter_mut() {
                if let Some(e) = s.entry.as_mut() {
                    f(e);
                }
            }
        }
    }
    /// All live entries (any order).
    pub fn ids(&self) -> impl Iterator<Item = EntryId> + '_ {
        (0..self.slots.len())
            .filter(|&i| self.slots[i].entry.is_some())
            .map(EntryId)
    }

    /// Insert and hash a new entry (`ip_vs_conn_new()` + `ip_vs_conn_hash()`): at the head of
    /// its chain, so a newer entry with the same key shadows an older one as in the kernel.
    pub fn insert(&mut self, mut e: Entry) -> EntryId {
        e.hashed = !e.one_packet;
        e.next = None;
        let idx = match self.free.pop() {
            Some(i) => i,
            None => self.slots.push(Slot {
                gen: 0,
                queued_at: None,
                entry: None,
            }),
        };
        let id = EntryId(idx);
        // At most one hashed connection per `ConnKey` (a new one is only created when the
        // lookup found none, or after unhashing the one it found); `Director::set_offloaded_entry`
        // relies on it. Exception: client port 0, which the packet path never looks up.
        debug_assert!(
            !e.hashed || e.template || e.cport == 0 || self.lookup_in(&e.conn_key()).is_none(),
            "a second hashed connection entry for {:?}",
            e.conn_key()
        );
        if e.hashed {
            // The map compares through the arena: the entry goes there first.
            let template = e.template;
            self.count_ffff(template, e.vport, true);
            let head = if template {
                let tk = e.template_key();
                self.slots[idx].entry = Some(e);
                self.templates.set(&self.slots, tk, id)
            } else {
                let ck = e.client_key();
                self.slots[idx].entry = Some(e);
                self.conns.set(&self.slots, ck, id)
            };
            self.slots[idx].entry.as_mut().expect("just put").next = head;
        } else {
            self.slots[idx].entry = Some(e);
        }
        let e = self.slots[idx].entry.as_ref().expect("just put");
        if e.template {
            self.n_templates += 1;
        } else {
            self.n_conns += 1;
        }
        self.slots[idx].queued_at = None;
        id
    }

    /// Remove from the lookup maps (only where the map still points at this entry).
    pub fn unhash(&mut self, id: EntryId) {
        let e = self.get(id);
        if !e.hashed {
            return;
        }
        let next = e.next;
        let (template, vport) = (e.template, e.vport);
        self.count_ffff(template, vport, false);
        let e = self.get(id);
        if e.template {
            let tk = e.template_key();
            let head = self.templates.get(&self.slots, &tk);
            if head == Some(id) {
                match next {
                    Some(n) => {
                        self.templates.set(&self.slots, tk, n);
                    }
                    None => {
                        self.templates.remove(&self.slots, &tk);
                    }
                }
            } else {
                self.unlink_after(head, id, next);
            }
        } else {
            let ck = e.client_key();
            let head = self.conns.get(&self.slots, &ck);
            if head == Some(id) {
                match next {
                    Some(n) => {
                        self.conns.set(&self.slots, ck, n);
                    }
                    None => {
                        self.conns.remove(&self.slots, &ck);
                    }
                }
            } else {
                self.unlink_after(head, id, next);
            }
        }
        let e = self.get_mut(id);
        e.hashed = false;
        e.next = None;
    }

    /// Unlink `id` from the middle of the chain starting at `head` (chains are short: one
    /// client port, or one template key).
    fn unlink_after(&mut self, head: Option<EntryId>, id: EntryId, next: Option<EntryId>) {
        let mut cur = head;
        while let Some(c) = cur {
            let ce = self.get(c).next;
            if ce == Some(id) {
                self.get_mut(c).next = next;
                break;
            }
            cur = ce;
        }
    }

    /// Free an entry (already unhashed and unlinked from its controller and dest).
    pub fn free(&mut self, id: EntryId) -> Entry {
        self.unhash(id);
        let slot = &mut self.slots[id.0];
        let e = slot.entry.take().expect("live entry");
        slot.gen = slot.gen.wrapping_add(1);
        slot.queued_at = None;
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
        let slot = &mut self.slots[id.0];
        slot.entry.as_mut().expect("live entry").deadline = Some(at);
        // Only an earlier deadline needs a new queue item; a later one is found when the
        // queued item comes due (see `pop_due`).
        if slot.queued_at.is_none_or(|q| at < q) {
            slot.queued_at = Some(at);
            let template = slot.entry.as_ref().is_some_and(|e| e.template);
            self.timers.push(at, template, id.0, slot.gen);
        }
    }

    /// The next entry whose timer is due at or before `now`, in deadline order; at equal
    /// deadlines connections fire before templates (see [`Timers`]). Returns the entry and its
    /// deadline.
    pub fn pop_due(&mut self, now: Time) -> Option<(EntryId, Time)> {
        while let Some((at, idx, gen)) = self.timers.pop_due(now) {
            let slot = &mut self.slots[idx];
            if slot.gen != gen || slot.queued_at != Some(at) {
                continue; // stale item: entry freed, or an earlier item superseded this one
            }
            let Some(e) = slot.entry.as_ref() else {
                continue;
            };
            match e.deadline {
                Some(d) if d == at => {
                    slot.queued_at = None;
                    return Some((EntryId(idx), at));
                }
                Some(d) if d > at => {
                    // Re-armed later since this item was queued: queue it again.
                    slot.queued_at = Some(d);
                    let template = e.template;
                    self.timers.push(d, template, idx, gen);
                }
                _ => slot.queued_at = None, // disarmed
            }
        }
        None
    }

    /// `ip_vs_check_template()` found the template invalid: unless its vport is already 0xffff,
    /// it is unhashed, given vport = dport = 0xffff and cport = 0, and hashed again — at the
    /// head of its chain (`ip_vs_conn_hash()`: `hlist_add_head_rcu()`). It stays until its own
    /// timer frees it, and lookups with its new key find it first: those of a persistent
    /// service on port 65535 for the same client network, virtual address and protocol. True
    /// if it was re-keyed (the caller has unhashed it already).
    pub fn invalidate_template(&mut self, id: EntryId) -> bool {
        let e = self.get_mut(id);
        if e.vport == 0xffff {
            return false;
        }
        debug_assert!(!e.hashed, "unhash the template first");
        e.vport = 0xffff;
        e.dport = 0xffff;
        e.cport = 0;
        let key = e.template_key();
        self.n_ffff_templates += 1;
        let head = self.templates.set(&self.slots, key, id);
        let e = self.get_mut(id);
        e.next = head;
        e.hashed = true;
        true
    }
}

/// log2 of a calendar slot's width in nanoseconds: 2^24 ns ≈ 16.8 ms.
const SLOT_SHIFT: u32 = 24;
/// Slots in the calendar ring: 2^16 × 16.8 ms ≈ 1100 s, longer than every default timeout.
const RING_SLOTS: u64 = 1 << 16;

type TimerItem = (Time, u64, u32, u32);

/// A calendar queue of timer items `(deadline, order, slot index, generation)`.
///
/// Items within the ring's span sit unsorted in the slot of their deadline; longer ones wait
/// in a heap (`far`) until the ring reaches them. When time advances, every slot up to `now`
/// is drained into a small heap (`ready`), which hands items out in exact `(deadline, order)`
/// order. Pushing and popping are O(1) apart from that small heap.
///
/// **Ties.** At equal deadlines every connection fires before every template; among each kind,
/// in queueing order. Only a connection and the template controlling it can observe the order
/// (the template re-checks `n_control`), and the rule is the kernel's for the common case: a
/// packet that creates a connection through a template arms the template first
/// (`ip_vs_conn_put(ct)` in `ip_vs_sched_persist()`) and the connection second, both with the
/// same delay, and the timer wheel runs a bucket last-in first-out. Making the order depend on
/// the kind rather than on the queue's history also keeps two models in step that saw the same
/// packets but re-armed differently (the card's cache refreshes connections on its own).
#[derive(Clone, Debug, Default)]
pub struct Timers {
    ring: Vec<Vec<TimerItem>>,
    in_ring: usize,
    /// First slot (absolute index) not drained yet.
    cursor: u64,
    ready: BinaryHeap<Reverse<TimerItem>>,
    far: BinaryHeap<Reverse<TimerItem>>,
    seq: u64,
}

fn slot_of(t: Time) -> u64 {
    t.0 >> SLOT_SHIFT
}

impl Timers {
    /// Queue slot `idx` (generation `gen`) to fire at `at`; `template` orders it after the
    /// connections of the same deadline.
    pub fn push(&mut self, at: Time, template: bool, idx: u32, gen: u32) {
        self.seq += 1;
        let order = (template as u64) << 63 | self.seq;
        self.place((at, order, idx, gen));
    }

    fn place(&mut self, item: TimerItem) {
        let s = slot_of(item.0);
        if s < self.cursor {
            self.ready.push(Reverse(item));
        } else if s < self.cursor + RING_SLOTS {
            if self.ring.is_empty() {
                self.ring = vec![Vec::new(); RING_SLOTS as usize];
            }
            self.ring[(s % RING_SLOTS) as usize].push(item);
            self.in_ring += 1;
        } else {
            self.far.push(Reverse(item));
        }
    }

    /// Drain every slot up to `now`'s into `ready`.
    fn fill(&mut self, now: Time) {
        let now_slot = slot_of(now);
        while self.cursor <= now_slot {
            while let Some(Reverse(it)) = self.far.peek().copied() {
                if slot_of(it.0) >= self.cursor + RING_SLOTS {
                    break;
                }
                self.far.pop();
                self.place(it);
            }
            if self.in_ring == 0 {
                // Nothing in the ring: jump to the earlier of `now` and the first far item.
                let next_far = self
                    .far
                    .peek()
                    .map(|Reverse(it)| slot_of(it.0))
                    .unwrap_or(u64::MAX);
                let target = now_slot.min(next_far);
                if target > self.cursor {
                    self.cursor = target;
                    continue;
                }
            }
            if !self.ring.is_empty() {
                let bucket = &mut self.ring[(self.cursor % RING_SLOTS) as usize];
                self.in_ring -= bucket.len();
                for it in bucket.drain(..) {
                    self.ready.push(Reverse(it));
                }
            }
            self.cursor += 1;
        }
    }

    /// The next item due at or before `now`, if any.
    pub fn pop_due(&mut self, now: Time) -> Option<(Time, u32, u32)> {
        if self.ready.peek().is_none_or(|Reverse(it)| it.0 > now) {
            self.fill(now);
        }
        match self.ready.peek() {
            Some(Reverse(it)) if it.0 <= now => {
                let (at, _, idx, gen) = self.ready.pop().expect("peeked").0;
                Some((at, idx, gen))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod timer_tests {
    use super::*;

    /// Equal deadlines: connections before templates, whatever the queueing order.
    #[test]
    fn connections_fire_before_templates_at_equal_deadlines() {
        let mut t = Timers::default();
        let at = Time::from_secs(60);
        t.push(at, true, 1, 0);
        t.push(at, false, 2, 0);
        t.push(at, true, 3, 0);
        t.push(at, false, 4, 0);
        let order: Vec<u32> = std::iter::from_fn(|| t.pop_due(at).map(|(_, i, _)| i)).collect();
        assert_eq!(order, vec![2, 4, 1, 3]);
    }

    /// Items come out in (deadline, arming order) whatever their distance: same slot, other
    /// slots, beyond the ring, and after a long idle gap.
    #[test]
    fn calendar_queue_pops_in_exact_order() {
        let mut t = Timers::default();
        let secs = |s: f64| Time::from_secs_f64(s).unwrap();
        let items = [
            (secs(5.0), 1),
            (secs(0.001), 2),
            (secs(0.0012), 3),
            (secs(5.0), 4),
            (secs(3000.0), 5),
            (secs(2_000_000.0), 6),
            (secs(0.0012), 7),
            (secs(1100.5), 8),
        ];
        for (at, id) in items {
            t.push(at, false, id, 0);
        }
        let mut out = vec![];
        while let Some((at, id, _)) = t.pop_due(secs(10.0)) {
            out.push((at, id));
        }
        assert_eq!(
            out,
            vec![
                (secs(0.001), 2),
                (secs(0.0012), 3),
                (secs(0.0012), 7),
                (secs(5.0), 1),
                (secs(5.0), 4)
            ]
        );
        // Pushed after time moved on, due immediately.
        t.push(secs(9.0), false, 9, 0);
        assert_eq!(t.pop_due(secs(10.0)), Some((secs(9.0), 9, 0)));
        assert_eq!(t.pop_due(secs(1100.4999)), None);
        assert_eq!(t.pop_due(secs(1100.5)), Some((secs(1100.5), 8, 0)));
        assert_eq!(t.pop_due(secs(2999.0)), None);
        assert_eq!(t.pop_due(secs(1e7)), Some((secs(3000.0), 5, 0)));
        assert_eq!(t.pop_due(secs(1e7)), Some((secs(2_000_000.0), 6, 0)));
        assert_eq!(t.pop_due(secs(1e9)), None);
    }
}
