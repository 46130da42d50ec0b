//! The MMIO command interface (ABI "MMIO command"): wait `CMD.STATUS.busy == 0`, write the
//! 16-word record to `CMD.DATA`, ring `CMD.DOORBELL`, poll `STATUS.done`, read the result.

use std::sync::OnceLock;

use lvsnic_abi::entries::PAYLOAD_WORDS;
use lvsnic_abi::limits::RECORD_WORDS;
use lvsnic_abi::records::{CmdStatus, Command};
use lvsnic_abi::regs;

use super::{Bar, Device, DriverError};

/// What a finished command returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmdResult {
    /// Entry index the command used or found (`CMD.RESULT_INDEX`).
    pub index: u32,
    /// The entry image for Read / Lookup (`CMD.RESULT`), else zeros.
    pub entry: [u32; PAYLOAD_WORDS],
}

/// Polls of `STATUS` before a command counts as hung.
pub const MAX_POLLS: u32 = 10_000;

/// BAR0 offsets of the CMD block's registers, looked up by name once (a command makes ~20
/// register accesses).
struct CmdRegs {
    status: u32,
    data: [u32; RECORD_WORDS],
    doorbell: u32,
    result_index: u32,
    result: [u32; PAYLOAD_WORDS],
}

fn cmd_regs() -> Result<&'static CmdRegs, DriverError> {
    static REGS: OnceLock<Option<CmdRegs>> = OnceLock::new();
    let of = |reg, i| regs::offset_of("CMD", reg, i);
    REGS.get_or_init(|| {
        let mut data = [0; RECORD_WORDS];
        for (i, d) in data.iter_mut().enumerate() {
            *d = of("DATA", i as u32)?;
        }
        let mut result = [0; PAYLOAD_WORDS];
        for (i, r) in result.iter_mut().enumerate() {
            *r = of("RESULT", i as u32)?;
        }
        Some(CmdRegs {
            status: of("STATUS", 0)?,
            data,
            doorbell: of("DOORBELL", 0)?,
            result_index: of("RESULT_INDEX", 0)?,
            result,
        })
    })
    .as_ref()
    .ok_or(DriverError::NoSuchRegister {
        block: "CMD",
        reg: "DATA/STATUS/DOORBELL/RESULT",
        index: 0,
    })
}

/// Execute one command through the MMIO registers and wait for it.
pub fn execute<D: Device>(bar: &mut Bar<D>, cmd: &Command) -> Result<CmdResult, DriverError> {
    let words = cmd.encode();
    let r = cmd_regs()?;
    let mut polls = 0;
    while bar.read_at(r.status)? & 1 != 0 {
        polls += 1;
        if polls > MAX_POLLS {
            return Err(DriverError::CommandTimeout(MAX_POLLS));
        }
    }
    for (off, w) in r.data.iter().zip(words) {
        bar.write_at(*off, w)?;
    }
    bar.write_at(r.doorbell, 1)?;
    let status = loop {
        let s = bar.read_at(r.status)?;
        if s & 1 == 0 && s & 2 != 0 {
            break s;
        }
        polls += 1;
        if polls > MAX_POLLS {
            return Err(DriverError::CommandTimeout(MAX_POLLS));
        }
    };
    let code = (status >> 8) & 0xff;
    let st = CmdStatus::from_bits(code)?;
    if st != CmdStatus::Ok {
        return Err(DriverError::Command {
            op: format!("{:?}", cmd.opcode()),
            table: format!("{:?}", cmd.table()),
            status: format!("{st:?}"),
        });
    }
    let index = bar.read_at(r.result_index)?;
    let mut entry = [0u32; PAYLOAD_WORDS];
    if matches!(
        cmd.opcode(),
        lvsnic_abi::records::Opcode::Read | lvsnic_abi::records::Opcode::Lookup
    ) {
        for (e, off) in entry.iter_mut().zip(&r.result) {
            *e = bar.read_at(*off)?;
        }
    }
    Ok(CmdResult { index, entry })
}
