//! The lvsnic card's dataplane, written in rust-hdl 0.46 (one block per file). Every block
//! accepts a new input every clock (initiation interval 1) and has a fixed, documented latency.
//! Layouts, sizes and the hash come from `lvsnic-abi`; nothing is redefined here.
//!
//! See `hdl/README.md` for the pipeline, latencies and resources.

pub mod common;
pub mod dest;
pub mod fwmark;
pub mod gen;
pub mod hash;
pub mod parser;
pub mod queue;
pub mod regfile;
pub mod service;
pub mod table;
pub mod tables_common;
pub mod top;
pub mod verdict;
