//! The ABI fingerprint: FNV-1a 64 over a canonical text of everything the card and the driver
//! must agree on — register blocks (offsets, fields, access, constant resets), every entry,
//! record and command layout, enum values, limits and the hash function (constants and its
//! reference vectors). Build-specific values (geometry, build id) are not part of it.
//! The RTL generator puts `abi_hash()` in `ID.ABI_HASH_LO/HI`; the driver compares.

use std::fmt::Write;

use crate::entries::{TableId, ENTRY_LAYOUTS};
use crate::hash;
use crate::layout::Layout;
use crate::limits::*;
use crate::records::*;
use crate::regs::{Reset, BLOCKS};
use crate::types::FwdMethod;

/// 64-bit FNV-1a.
pub const fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

fn layout_text(s: &mut String, l: &Layout) {
    let _ = writeln!(s, "layout {} {}", l.name, l.words);
    for f in l.fields {
        let _ = writeln!(s, " f {} {} {}", f.name, f.lsb, f.width);
    }
}

/// The canonical description the hash is computed over.
pub fn canonical_text() -> String {
    let mut s = String::new();
    let _ = writeln!(s, "lvsnic-abi major {}", ABI_VERSION_MAJOR);
    for b in &BLOCKS {
        let _ = writeln!(
            s,
            "block {} {:#x} {} {:#x} {:#x}",
            b.name,
            b.type_id,
            b.version,
            b.base,
            b.next()
        );
        for r in b.regs {
            let _ = writeln!(s, " reg {} {:#x} {}", r.name, r.offset, r.count);
            for f in r.fields {
                let reset = match f.reset {
                    Reset::Value(v) => format!("{v:#x}"),
                    Reset::Generated(_) => "gen".into(),
                };
                let _ = writeln!(
                    s,
                    "  f {} {} {} {} {}",
                    f.name,
                    f.lsb,
                    f.width,
                    f.access.as_str(),
                    reset
                );
            }
        }
    }
    for l in ENTRY_LAYOUTS.iter().chain(RECORD_LAYOUTS.iter()) {
        layout_text(&mut s, l);
    }
    layout_text(&mut s, &COMMAND_LAYOUT);
    for t in TableId::ALL {
        let _ = writeln!(s, "table {t:?} {}", t as u32);
    }
    for o in Opcode::ALL {
        let _ = writeln!(s, "op {o:?} {}", o as u32);
    }
    for c in CmdStatus::ALL {
        let _ = writeln!(s, "status {c:?} {}", c as u32);
    }
    for t in RecordType::ALL {
        let _ = writeln!(s, "rtype {t:?} {}", t as u32);
    }
    for r in MissReason::ALL {
        let _ = writeln!(s, "reason {r:?} {}", r as u32);
    }
    for c in ExpireCause::ALL {
        let _ = writeln!(s, "cause {c:?} {}", c as u32);
    }
    for f in FwdMethod::ALL {
        let _ = writeln!(s, "fwd {f:?} {}", f as u32);
    }
    let _ = writeln!(
        s,
        "limits {MAGIC:#x} {DESTS} {RULES} {SERVICES} {NO_SERVICE} {TICK_HZ} {MAX_TIMEOUT_MS} \
         {RECORD_BYTES} {RING_LOG_SIZE_MIN} {RING_LOG_SIZE_MAX} {BAR0_SIZE:#x} {BLOCK_STRIDE:#x} \
         {MAX_LOG2_BUCKETS} {MAX_WAYS} {MAX_STASH}"
    );
    let _ = writeln!(
        s,
        "hash {:#x} {:#x} {} {:?} {:?}",
        hash::JHASH_INITVAL,
        hash::H1_TWEAK,
        hash::HASH_STAGES,
        hash::MIX_ROT,
        hash::FINAL_ROT
    );
    for (k, seed, _, _) in hash::VECTORS {
        let (h0, h1) = hash::table_hashes(&k, seed);
        let _ = writeln!(s, "vec {seed:#x} {h0:#x} {h1:#x}");
    }
    s
}

/// The ABI hash (value of `ID.ABI_HASH_HI:ABI_HASH_LO`).
pub fn abi_hash() -> u64 {
    fnv1a64(canonical_text().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// If this fails you changed the card's contract. Bump `ABI_VERSION_MAJOR` (incompatible) or
    /// `ABI_VERSION_MINOR` (pure addition) in `limits.rs`, then update the pinned value here and
    /// regenerate the docs (`LVSNIC_BLESS=1 cargo test -p lvsnic-abi`).
    #[test]
    fn abi_hash_is_pinned() {
        let (major, minor, pinned) = (1, 0, 0x0b3e_363d_46d6_23d8u64);
        assert_eq!(
            (ABI_VERSION_MAJOR, ABI_VERSION_MINOR, abi_hash()),
            (major, minor, pinned),
            "ABI changed: bump ABI_VERSION in limits.rs and re-pin the hash ({:#018x})",
            abi_hash()
        );
    }

    #[test]
    fn fnv_reference() {
        // Published FNV-1a 64 test values.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
