//! The host miss-path measurement shared by `benches/card.rs` and `examples/prof_host.rs`
//! (included with `#[path]`): command planning without a card, and the steady-state warm-up.

use lvsnic::driver::card;
use lvsnic::driver::cmd::CmdResult;
use lvsnic::driver::tables::{Exec, Tables};
use lvsnic::driver::DriverError;
use lvsnic::model::{Director, Time};
use lvsnic_abi::entries::PAYLOAD_WORDS;
use lvsnic_abi::limits::RECORD_WORDS;
use lvsnic_abi::records::{CmdStatus, Command, Record};

/// Command planning without a card: every command is encoded (the 16 words the driver would
/// write to CMD.DATA; `black_box`: consumed as the MMIO writes would, not kept) and succeeds.
#[derive(Default)]
pub struct Plan {
    /// Commands planned since the last `clear`.
    pub commands: usize,
    pub regs: u64,
    next: u32,
}

impl Plan {
    pub fn clear(&mut self) {
        self.commands = 0;
    }
}

impl Exec for Plan {
    fn exec(&mut self, cmd: &Command) -> Result<Result<CmdResult, CmdStatus>, DriverError> {
        std::hint::black_box(cmd.encode());
        self.commands += 1;
        self.next = self.next.wrapping_add(1);
        Ok(Ok(CmdResult {
            index: self.next,
            entry: [0; PAYLOAD_WORDS],
        }))
    }
    fn write_reg(&mut self, _: &'static str, _: &'static str, _: u32) -> Result<(), DriverError> {
        self.regs += 1;
        Ok(())
    }
}

/// Steady state for a timed pass over `recs`: handle every miss once, then let every entry
/// expire (mirrored), so the model and the shadow have held these entries before and no table
/// grows or touches a page for the first time. Returns the shift (ms) to add to the records'
/// ticks in the timed pass (over 2,000 s: every entry has expired by then).
pub fn warm_up(
    d: &mut Director,
    tables: &mut Tables,
    recs: &[[u32; RECORD_WORDS]],
    plan: &mut Plan,
) -> u64 {
    // Two turns of the model's timer calendar (2^40 ns each, to the millisecond below): the
    // timed pass arms its timers in the calendar slots the warm-up used (a slot keeps its
    // buffer), as a director that has run a while does.
    const SHIFT: u64 = 2 * (1 << 40) / 1_000_000;
    for w in recs {
        if let Record::Miss(m) = Record::decode(w).unwrap().0 {
            let now = Time::from_millis(m.tick as u64);
            d.process(now, &card::packet_of(&m.key, m.l4_info));
        }
    }
    let end = Time::from_millis(SHIFT);
    tables.mirror_journal(d, end, plan).unwrap();
    d.advance(end);
    tables.mirror_journal(d, end, plan).unwrap();
    assert_eq!(d.conn_count() + d.template_count(), 0);
    plan.clear();
    SHIFT
}
