//! The card contract (filled by the ABI issue).
