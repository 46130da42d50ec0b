//! The one error type of the ABI crate.

/// Everything that can be wrong with a word image or an entry value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbiError {
    /// A bit that no field of the layout covers is set.
    #[error("{layout}: reserved bits {bits:#010x} set in word {word}")]
    Reserved {
        layout: &'static str,
        word: usize,
        bits: u32,
    },
    /// A value is wider than its field.
    #[error("{field}: value {value:#x} does not fit in {width} bits")]
    Overflow {
        field: &'static str,
        value: u128,
        width: u16,
    },
    /// A field lies (partly) outside the word slice it is read from or written to.
    #[error("{field}: bits {lsb}..{end} outside a {words}-word image")]
    OutOfRange {
        field: &'static str,
        lsb: u16,
        end: u32,
        words: usize,
    },
    /// An enumerated field holds a value with no meaning.
    #[error("{field}: no such value {value:#x}")]
    BadEnum { field: &'static str, value: u32 },
    /// The entry's valid bit is clear (an empty slot).
    #[error("{layout}: valid bit clear")]
    NotValid { layout: &'static str },
    /// A combination of values that cannot exist (wrong family, non-canonical prefix, ...).
    #[error("{what}: {why}")]
    Invalid {
        what: &'static str,
        why: &'static str,
    },
}
