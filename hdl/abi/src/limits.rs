//! Sizes, defaults and maxima of the card.

/// ABI version: major changes are incompatible; minor changes only add (new blocks, new caps).
pub const ABI_VERSION_MAJOR: u16 = 1;
pub const ABI_VERSION_MINOR: u16 = 0;
/// The value of the ID block's `ABI_VERSION` register.
pub const ABI_VERSION: u32 = ((ABI_VERSION_MAJOR as u32) << 16) | ABI_VERSION_MINOR as u32;
/// `"LVSN"` read as a little-endian 32-bit register (bytes 'L','V','S','N' at BAR0+0x0C..0x0F).
pub const MAGIC: u32 = u32::from_le_bytes(*b"LVSN");

/// Real-server (dest) table entries; a dest index is 8 bits.
pub const DESTS: usize = 256;
/// Firewall-mark rules, all evaluated in order on every packet.
pub const RULES: usize = 32;
/// Virtual services; a service index is 8 bits (values >= SERVICES mean "none").
pub const SERVICES: usize = 64;
/// Service index carried in a record when no service was found.
pub const NO_SERVICE: u8 = 0xff;

/// Card time unit: one tick is 1 ms (IPVS timers are jiffies; 1 ms covers HZ <= 1000).
pub const TICK_HZ: u32 = 1000;
/// Largest timeout in ticks: ipvsadm's limit of 2 678 400 s. Liveness is
/// `now.wrapping_sub(last_refresh) < timeout` on 32-bit ticks, exact for ages < 2^32 ms (49.7 d);
/// the aging sweep must visit every entry within 2^32 - MAX_TIMEOUT_MS ticks (18.9 days).
pub const MAX_TIMEOUT_MS: u32 = 2_678_400_000;

/// Card -> host records and host -> card commands are 64 bytes (16 words): one cache line,
/// one PCIe write TLP; a 32-byte record cannot carry the 297-bit flow key.
pub const RECORD_BYTES: usize = 64;
pub const RECORD_WORDS: usize = RECORD_BYTES / 4;
/// Ring sizes are powers of two, 2^EVQ_LOG_SIZE_MIN ..= 2^EVQ_LOG_SIZE_MAX records.
pub const RING_LOG_SIZE_MIN: u32 = 4;
pub const RING_LOG_SIZE_MAX: u32 = 16;

/// BAR0 register space size (all blocks, 4 KiB each).
pub const BAR0_SIZE: u32 = 0x1_0000;
/// Stride of register blocks (each block is 4 KiB-page separable).
pub const BLOCK_STRIDE: u32 = 0x1000;

/// Geometry of one hash table: `2^log2_buckets` buckets of `ways` entries, plus a stash.
/// Entry index: `bucket * ways + way` for bucket slots, `buckets * ways + s` for stash slot `s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableGeometry {
    pub log2_buckets: u8,
    pub ways: u8,
    pub stash: u8,
}

impl TableGeometry {
    pub const fn buckets(&self) -> u32 {
        1 << self.log2_buckets
    }
    /// Total entries (bucket slots + stash).
    pub const fn capacity(&self) -> u32 {
        self.buckets() * self.ways as u32 + self.stash as u32
    }
    /// Entry index of `way` in `bucket`.
    pub const fn slot(&self, bucket: u32, way: u8) -> u32 {
        bucket * self.ways as u32 + way as u32
    }
    /// Entry index of stash slot `s`.
    pub const fn stash_slot(&self, s: u8) -> u32 {
        self.buckets() * self.ways as u32 + s as u32
    }
    /// Whether this geometry is one the ABI allows.
    pub const fn is_valid(&self) -> bool {
        self.log2_buckets >= 4
            && self.log2_buckets <= MAX_LOG2_BUCKETS
            && self.ways >= 1
            && self.ways <= MAX_WAYS
            && self.stash <= MAX_STASH
    }
}

pub const MAX_LOG2_BUCKETS: u8 = 18;
pub const MAX_WAYS: u8 = 8;
pub const MAX_STASH: u8 = 16;

/// Whole-card geometry, reported by the ID block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub conns: TableGeometry,
    pub templates: TableGeometry,
    pub rules: u16,
    pub services: u16,
    pub dests: u16,
}

/// Default simulation build: 4096 buckets x 4 ways + 8 stash = 16 392 conns and templates.
pub const SIM_GEOMETRY: Geometry = Geometry {
    conns: TableGeometry {
        log2_buckets: 12,
        ways: 4,
        stash: 8,
    },
    templates: TableGeometry {
        log2_buckets: 12,
        ways: 4,
        stash: 8,
    },
    rules: RULES as u16,
    services: SERVICES as u16,
    dests: DESTS as u16,
};

/// Largest board build: 2^18 buckets x 4 ways = 1 Mi conns (+ stash), same for templates.
pub const BOARD_MAX_GEOMETRY: Geometry = Geometry {
    conns: TableGeometry {
        log2_buckets: 18,
        ways: 4,
        stash: 16,
    },
    templates: TableGeometry {
        log2_buckets: 18,
        ways: 4,
        stash: 16,
    },
    rules: RULES as u16,
    services: SERVICES as u16,
    dests: DESTS as u16,
};

/// Reset values of the learn block (IPVS defaults, `ipvs-semantics.md` 7.2): a conn learned from a
/// TCP SYN is in SYN_RECV (60 s), UDP 300 s, SCTP after INIT is INIT1 (4 s).
pub const DEFAULT_LEARN_TCP_TIMEOUT_MS: u32 = 60_000;
pub const DEFAULT_LEARN_UDP_TIMEOUT_MS: u32 = 300_000;
pub const DEFAULT_LEARN_SCTP_TIMEOUT_MS: u32 = 4_000;
/// IPVS state numbers for learned conns (`IP_VS_TCP_S_SYN_RECV`, UDP has one state, `IP_VS_SCTP_S_INIT1`).
pub const TCP_S_SYN_RECV: u8 = 3;
pub const SCTP_S_INIT1: u8 = 1;
/// Default `net.ipv4.ip_unprivileged_port_start` (FTP-data fallback, `ipvs-semantics.md` 3).
pub const DEFAULT_UNPRIV_PORT: u16 = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometries() {
        assert!(SIM_GEOMETRY.conns.is_valid() && BOARD_MAX_GEOMETRY.conns.is_valid());
        assert!(SIM_GEOMETRY.conns.capacity() >= 16 * 1024);
        assert!(SIM_GEOMETRY.templates.capacity() >= 16 * 1024);
        assert!(BOARD_MAX_GEOMETRY.conns.capacity() >= 1 << 20);
        assert_eq!(MAGIC, 0x4e53_564c);
        const { assert!(MAX_TIMEOUT_MS as u64 <= u32::MAX as u64) };
    }
}
