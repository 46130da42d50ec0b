//! The golden IPVS model: pure, deterministic, virtual time, no I/O.

pub mod director;
pub mod error;
pub mod fwmark;
pub mod sched;
pub mod sysctl;
pub mod types;

pub use director::Director;
pub use error::ModelError;
pub use sysctl::Sysctls;
pub use types::*;
