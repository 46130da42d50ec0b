//! The host driver core: one driver for every device backend (VFIO silicon, vfio-user and the
//! in-process co-simulated card), talking to the card only through [`Device`].
//!
//! * [`device`] — the backend trait: 32-bit register access by BAR0 offset, DMA memory,
//!   interrupts;
//! * [`bar`] — register access through bounds-checked helpers named by the ABI, and the ID
//!   block check (the driver refuses a card whose ABI hash differs);
//! * [`ring`] — the card → host record ring (phase bit, consumer doorbell, re-arm);
//! * [`cmd`] — the MMIO command interface (table writes, inserts, deletes, reads);
//! * [`tables`] — the table manager (shadow, delta programming, the journal mirror);
//! * [`shadow`] — the shadow's conn and template stores;
//! * [`verify`] — read-back verification of the registers and hash tables.

pub mod bar;
pub mod card;
pub mod cmd;
pub mod device;
pub mod ring;
pub mod shadow;
#[cfg(feature = "sim")]
pub mod sim;
pub mod tables;
pub mod verify;

pub use bar::{Bar, CardInfo};
pub use device::{Device, MemDevice};

use lvsnic_abi::AbiError;

/// Everything the driver can report, with the context an operator needs.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("register access at BAR0 offset {offset:#x} is outside the {size:#x}-byte BAR")]
    OutOfBar { offset: u32, size: u32 },
    #[error("no register {block}.{reg}[{index}] in the ABI")]
    NoSuchRegister {
        block: &'static str,
        reg: &'static str,
        index: u32,
    },
    #[error("DMA access at {iova:#x}+{len} is outside the mapped memory")]
    DmaOutOfRange { iova: u64, len: usize },
    #[error("not an lvsnic card: ID.MAGIC is {found:#010x}, expected {expected:#010x}")]
    BadMagic { found: u32, expected: u32 },
    #[error(
        "card ABI {found_version:#x}/{found_hash:#018x} differs from the driver's {expected_version:#x}/{expected_hash:#018x}: \
         rebuild the bitstream or the driver from the same source"
    )]
    AbiMismatch {
        found_version: u32,
        found_hash: u64,
        expected_version: u32,
        expected_hash: u64,
    },
    #[error("card reports an invalid geometry: {0}")]
    BadGeometry(String),
    #[error("command {op} on table {table} failed: {status}")]
    Command {
        op: String,
        table: String,
        status: String,
    },
    #[error("card did not finish a command within {0} polls")]
    CommandTimeout(u32),
    #[error("card wrote a malformed record at ring slot {slot}: {source}")]
    BadRecord { slot: u32, source: AbiError },
    #[error("ABI: {0}")]
    Abi(#[from] AbiError),
    #[error("device backend: {0}")]
    Backend(String),
}
