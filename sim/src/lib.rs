//! The lvsnic card in co-simulation: the generated Verilog, Verilated by `build.rs` with Debian's
//! `verilator`, linked into the process through a thin C ABI shim generated from the `top` port
//! list (`ports.rs`).
//!
//! * [`Model`] — one Verilated card: set inputs, run clock cycles, read outputs; optional VCD.
//! * `unsafe` lives only in [`ffi`], each block with a `// SAFETY:` line.

pub mod card;
pub mod ffi;
pub mod ports;

/// The generated `#[repr(C)]` mirror of the shim's port structs (`SimIn`, `SimOut`, `PORTS`).
pub mod io {
    include!(concat!(env!("OUT_DIR"), "/mirror.rs"));
}

pub use card::{HostMemory, SimCard, Verdict, DMA_BEAT_BYTES};
pub use ffi::Model;
pub use io::{SimIn, SimOut, PORTS};
