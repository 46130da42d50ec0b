//! The golden IPVS model: pure, deterministic, virtual time, no I/O.

pub mod conn;
pub mod director;
pub mod error;
pub mod fwmark;
pub mod proto;
pub mod sched;
pub mod service;
pub mod sysctl;
pub mod types;

pub use director::{Director, EntryChange, EntryInfo, EntryKey, EntryView};
pub use error::ModelError;
pub use sysctl::Sysctls;
pub use types::*;

#[cfg(test)]
mod tests;
