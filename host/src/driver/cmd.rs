//! The MMIO command interface (ABI "MMIO command"): wait `CMD.STATUS.busy == 0`, write the
//! 16-word record to `CMD.DATA`, ring `CMD.DOORBELL`, poll `STATUS.done`, read the result.

use lvsnic_abi::entries::PAYLOAD_WORDS;
use lvsnic_abi::records::{CmdStatus, Command};

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

/// Execute one command through the MMIO registers and wait for it.
pub fn execute<D: Device>(bar: &mut Bar<D>, cmd: &Command) -> Result<CmdResult, DriverError> {
    let words = cmd.encode()?;
    let mut polls = 0;
    while bar.read("CMD", "STATUS", 0)? & 1 != 0 {
        polls += 1;
        if polls > MAX_POLLS {
            return Err(DriverError::CommandTimeout(MAX_POLLS));
        }
    }
    for (i, w) in words.iter().enumerate() {
        bar.write("CMD", "DATA", i as u32, *w)?;
    }
    bar.write("CMD", "DOORBELL", 0, 1)?;
    let status = loop {
        let s = bar.read("CMD", "STATUS", 0)?;
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
            op: format!("{:?}", cmd.opcode),
            table: format!("{:?}", cmd.table),
            status: format!("{st:?}"),
        });
    }
    let index = bar.read("CMD", "RESULT_INDEX", 0)?;
    let mut entry = [0u32; PAYLOAD_WORDS];
    if matches!(
        cmd.opcode,
        lvsnic_abi::records::Opcode::Read | lvsnic_abi::records::Opcode::Lookup
    ) {
        for (i, e) in entry.iter_mut().enumerate() {
            *e = bar.read("CMD", "RESULT", i as u32)?;
        }
    }
    Ok(CmdResult { index, entry })
}
