//! The shadow's entry store: the conns or templates the card holds, by key.
//!
//! A map on the host's miss path, where every miss writes a new entry into tables larger than
//! the CPU's cache: the entries sit in a slab of cache-line cells (one line each, written
//! once), and the hash index holds only slab positions (4 bytes a bucket), so it stays in the
//! cache and a lookup that finds nothing touches no entry. `std`'s map kept key and entry
//! inline (100-byte buckets across two lines) and measured ~30 % slower on the miss path
//! (`make bench-card`, host/miss_records_per_s).

use std::fmt;
use std::hash::BuildHasher;
use std::net::IpAddr;

use hashbrown::hash_table::HashTable;
use lvsnic_abi::entries::{ConnEntry, TemplateEntry};
use lvsnic_abi::key::FlowKey;

/// An entry the store can hold: it carries its own key.
pub trait Keyed: Copy + PartialEq + fmt::Debug {
    fn key(&self) -> &FlowKey;
}

impl Keyed for ConnEntry {
    fn key(&self) -> &FlowKey {
        &self.key
    }
}

/// A template the card holds, and the card index it sits at (`None`: another template took
/// the index since).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldTemplate {
    pub entry: TemplateEntry,
    pub index: Option<u32>,
}

impl Keyed for HeldTemplate {
    fn key(&self) -> &FlowKey {
        &self.entry.key
    }
}

/// One entry in a cache line of its own (a write touches one line, never two).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Cell<V>(V);

/// The key's hash: its fields as three or five words (the derived `Hash` feeds the hasher a
/// dozen pieces, among them each address as a length-prefixed byte slice; this is the hot
/// path's one hash per entry). Equal keys hash equally.
pub fn hash(k: &FlowKey) -> u64 {
    use std::hash::Hasher;
    let mut h = foldhash::fast::FixedState::default().build_hasher();
    h.write_u64(k.proto as u64 | (k.cport as u64) << 8 | (k.vport as u64) << 24);
    for a in [k.caddr, k.vaddr] {
        match a {
            IpAddr::V4(a) => h.write_u32(a.to_bits()),
            IpAddr::V6(a) => h.write_u128(a.to_bits()),
        }
    }
    h.finish()
}

/// Entries by key (see the module doc).
#[derive(Clone)]
pub struct Shadow<V: Keyed> {
    index: HashTable<u32>,
    slab: Vec<Cell<V>>,
    /// Slab positions no entry uses.
    free: Vec<u32>,
}

impl<V: Keyed> Default for Shadow<V> {
    fn default() -> Self {
        Shadow {
            index: HashTable::new(),
            slab: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<V: Keyed> Shadow<V> {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Room for `n` more entries without growing.
    pub fn reserve(&mut self, n: usize) {
        let slab = &self.slab;
        self.index.reserve(n, |&i| hash(slab[i as usize].0.key()));
        self.slab.reserve(n.saturating_sub(self.free.len()));
    }

    fn find(&self, h: u64, k: &FlowKey) -> Option<u32> {
        let slab = &self.slab;
        self.index
            .find(h, |&i| slab[i as usize].0.key() == k)
            .copied()
    }

    pub fn get(&self, k: &FlowKey) -> Option<&V> {
        self.find(hash(k), k).map(|i| &self.slab[i as usize].0)
    }

    pub fn get_mut(&mut self, k: &FlowKey) -> Option<&mut V> {
        self.get_mut_hashed(hash(k), k)
    }

    /// [`Shadow::get_mut`] with the key's [`hash`] known already.
    pub fn get_mut_hashed(&mut self, h: u64, k: &FlowKey) -> Option<&mut V> {
        self.find(h, k).map(|i| &mut self.slab[i as usize].0)
    }

    pub fn contains_key(&self, k: &FlowKey) -> bool {
        self.find(hash(k), k).is_some()
    }

    /// Put `v`, whose key has hash `h` and is not in the store (a lookup just missed): no
    /// second search.
    pub fn insert_absent(&mut self, h: u64, v: V) {
        debug_assert!(self.find(h, v.key()).is_none(), "{:?} is held", v.key());
        let i = self.put(v);
        let slab = &self.slab;
        self.index
            .insert_unique(h, i, |&i| hash(slab[i as usize].0.key()));
    }

    /// A slab cell for `v`.
    fn put(&mut self, v: V) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Cell(v);
                i
            }
            None => {
                self.slab.push(Cell(v));
                (self.slab.len() - 1) as u32
            }
        }
    }

    /// Put `v` under its key; the entry it replaces, if any.
    pub fn insert(&mut self, v: V) -> Option<V> {
        let h = hash(v.key());
        match self.find(h, v.key()) {
            Some(i) => Some(std::mem::replace(&mut self.slab[i as usize].0, v)),
            None => {
                self.insert_absent(h, v);
                None
            }
        }
    }

    pub fn remove(&mut self, k: &FlowKey) -> Option<V> {
        let slab = &self.slab;
        let (i, _) = self
            .index
            .find_entry(hash(k), |&i| slab[i as usize].0.key() == k)
            .ok()?
            .remove();
        self.free.push(i);
        Some(self.slab[i as usize].0)
    }

    /// Every entry (any order).
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.index.iter().map(|&i| &self.slab[i as usize].0)
    }

    /// Every key (any order).
    pub fn keys(&self) -> impl Iterator<Item = &FlowKey> + '_ {
        self.values().map(|v| v.key())
    }
}

impl<V: Keyed> std::ops::Index<&FlowKey> for Shadow<V> {
    type Output = V;
    fn index(&self, k: &FlowKey) -> &V {
        self.get(k).expect("no shadow entry with this key")
    }
}

/// Equal when both hold the same entries (wherever they sit in the slab).
impl<V: Keyed> PartialEq for Shadow<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.values().all(|v| other.get(v.key()) == Some(v))
    }
}

impl<V: Keyed> fmt::Debug for Shadow<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.values().map(|v| (v.key(), v)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvsnic_abi::types::FwdMethod;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use std::net::{IpAddr, Ipv4Addr};

    fn key(n: u16) -> FlowKey {
        FlowKey {
            proto: 6,
            caddr: IpAddr::V4(Ipv4Addr::new(10, 0, (n >> 8) as u8, n as u8)),
            cport: 1000 + n % 7,
            vaddr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            vport: 80,
        }
    }

    fn conn(n: u16, refresh: u32) -> ConnEntry {
        ConnEntry {
            key: key(n),
            fwd: FwdMethod::Masq,
            controlled: false,
            ops: false,
            syn_miss: false,
            ev_next: false,
            state: 1,
            dest: 0,
            dest_gen: 0,
            last_refresh: refresh,
            timeout_ms: 1000,
            dport: 80,
        }
    }

    proptest! {
        /// Any sequence of inserts and removes leaves the store holding exactly what a
        /// `HashMap` would, and lookups agree.
        #[test]
        fn agrees_with_a_map(ops in proptest::collection::vec((0u8..3, 0u16..64, any::<u32>()), 0..400)) {
            let mut s: Shadow<ConnEntry> = Shadow::default();
            let mut m: HashMap<FlowKey, ConnEntry> = HashMap::new();
            for (op, n, r) in ops {
                match op {
                    0 | 1 => prop_assert_eq!(s.insert(conn(n, r)), m.insert(key(n), conn(n, r))),
                    _ => prop_assert_eq!(s.remove(&key(n)), m.remove(&key(n))),
                }
                prop_assert_eq!(s.len(), m.len());
            }
            for n in 0..64 {
                prop_assert_eq!(s.get(&key(n)), m.get(&key(n)));
            }
            let mut got: Vec<_> = s.values().map(|v| (v.key, v.last_refresh)).collect();
            let mut want: Vec<_> = m.values().map(|v| (v.key, v.last_refresh)).collect();
            got.sort_by_key(|x| format!("{x:?}"));
            want.sort_by_key(|x| format!("{x:?}"));
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn equality_ignores_slab_positions() {
        let (mut a, mut b) = (Shadow::default(), Shadow::default());
        a.insert(conn(1, 1));
        a.insert(conn(2, 2));
        b.insert(conn(2, 2));
        b.insert(conn(1, 1));
        assert_eq!(a, b);
        b.insert(conn(1, 9));
        assert_ne!(a, b);
        a.remove(&key(1));
        assert_ne!(a, b);
        assert_eq!(
            std::mem::size_of::<Cell<ConnEntry>>(),
            64,
            "one line per entry"
        );
        assert_eq!(
            std::mem::size_of::<Cell<HeldTemplate>>(),
            64,
            "one line per entry"
        );
    }
}
