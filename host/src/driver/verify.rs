//! Read-back verification: compare what the card holds with what the driver believes it
//! wrote (the table manager's shadow and the registers it programmed).
//!
//! The card changes a few fields on its own, so equality is not the test everywhere:
//! * `last_refresh` of a conn or template moves forward on hits and learns (never back);
//! * a conn's `ev_next` is cleared by the card once it has reported the packet;
//! * an entry whose lifetime has ended (by the shadow's own `last_refresh`) may be gone.
//!
//! Anything else that differs is drift — a lost or misapplied command — and is reported by
//! entry. The service, dest and rule tables are write-only in the ABI (no Read), so only the
//! registers and the two hash tables are read back; a scan for entries the card holds but the
//! shadow does not would need a Read of every slot and is not done here.

use lvsnic_abi::entries::{is_live, TableEntry};
use lvsnic_abi::records::{CmdStatus, Command};
use lvsnic_abi::{ConnEntry, FlowKey, TableId, TemplateEntry};

use super::card::{BarExec, Card};
use super::tables::{Exec, Tables};
use super::{Device, DriverError};

/// What a verification pass found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Registers and entries read back.
    pub checked: usize,
    /// One line per difference, naming the register or the entry.
    pub diffs: Vec<String>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.diffs.is_empty()
    }
}

/// Tick `a` is `b` or later (wrap-safe).
fn not_before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

fn key_str(k: &FlowKey) -> String {
    format!(
        "{}:{} -> {}:{} proto {}",
        k.caddr, k.cport, k.vaddr, k.vport, k.proto
    )
}

/// Look `key` up in `table`: `None` if the card does not hold it.
fn lookup(
    x: &mut dyn Exec,
    table: TableId,
    key: &FlowKey,
) -> Result<Option<[u32; lvsnic_abi::entries::PAYLOAD_WORDS]>, DriverError> {
    let cmd = Command::lookup(table, key)?;
    match x.exec(&cmd)? {
        Ok(r) => Ok(Some(r.entry)),
        Err(CmdStatus::NotFound) => Ok(None),
        Err(st) => Err(DriverError::Command {
            op: "Lookup".into(),
            table: format!("{table:?}"),
            status: format!("{st:?}"),
        }),
    }
}

/// What the verification of one entry kind needs: its key, its lifetime fields, and the
/// comparison of the fields the card does not change itself.
trait Checked: TableEntry + std::fmt::Debug {
    const KIND: &'static str;
    fn key(&self) -> &FlowKey;
    fn last_refresh(&self) -> u32;
    fn timeout(&self) -> u32;
    /// Equal but for `last_refresh` (and what else the card may change).
    fn same_rest(&self, card: &Self) -> bool;
}

impl Checked for ConnEntry {
    const KIND: &'static str = "conn";
    fn key(&self) -> &FlowKey {
        &self.key
    }
    fn last_refresh(&self) -> u32 {
        self.last_refresh
    }
    fn timeout(&self) -> u32 {
        self.timeout_ms
    }
    fn same_rest(&self, card: &ConnEntry) -> bool {
        // `ev_next` is cleared by the card after its one report
        let ev_next = self.ev_next && card.ev_next;
        ConnEntry {
            last_refresh: self.last_refresh,
            ev_next,
            ..*card
        } == ConnEntry { ev_next, ..*self }
    }
}

impl Checked for TemplateEntry {
    const KIND: &'static str = "template";
    fn key(&self) -> &FlowKey {
        &self.key
    }
    fn last_refresh(&self) -> u32 {
        self.last_refresh
    }
    fn timeout(&self) -> u32 {
        self.timeout_ms
    }
    fn same_rest(&self, card: &TemplateEntry) -> bool {
        TemplateEntry {
            last_refresh: self.last_refresh,
            ..*card
        } == *self
    }
}

/// Read the shadow's entries of one table back (in key order) and report every difference.
fn check_all<'a, E: Checked + 'a>(
    wants: impl Iterator<Item = &'a E>,
    now: u32,
    x: &mut dyn Exec,
    report: &mut VerifyReport,
) -> Result<(), DriverError> {
    let mut wants: Vec<&E> = wants.collect();
    wants.sort_by_key(|e| {
        let k = e.key();
        (k.caddr, k.cport, k.vaddr, k.vport)
    });
    for want in wants {
        report.checked += 1;
        let what = || format!("{} {}", E::KIND, key_str(want.key()));
        let Some(p) = lookup(x, E::TABLE, want.key())? else {
            if is_live(want.last_refresh(), want.timeout(), now) {
                report
                    .diffs
                    .push(format!("{}: live in the shadow, not on the card", what()));
            }
            continue;
        };
        let got = E::from_payload(&p)?;
        if !not_before(got.last_refresh(), want.last_refresh()) {
            report.diffs.push(format!(
                "{}: last_refresh {} on the card, older than the {} written",
                what(),
                got.last_refresh(),
                want.last_refresh()
            ));
        }
        if !want.same_rest(&got) {
            report
                .diffs
                .push(format!("{}: card {got:?}, written {want:?}", what()));
        }
    }
    Ok(())
}

impl Tables {
    /// Read every shadow conn and template back from the card at tick `now`.
    pub fn verify_entries(
        &self,
        now: u32,
        x: &mut dyn Exec,
        report: &mut VerifyReport,
    ) -> Result<(), DriverError> {
        check_all(self.conns.values(), now, x, report)?;
        check_all(self.tpls.values().map(|t| &t.entry), now, x, report)
    }
}

impl<D: Device> Card<D> {
    /// Read back the registers the driver programs and every conn and template it believes
    /// the card holds.
    pub fn verify(&mut self) -> Result<VerifyReport, DriverError> {
        let mut report = VerifyReport::default();
        let mut regs: Vec<(&'static str, &'static str, u32)> = vec![
            ("CTRL", "HASH_SEED", super::card::HASH_SEED),
            ("CTRL", "UNPRIV_PORT", super::tables::UNPRIV_PORT),
        ];
        if let Some(c) = self.tables.control {
            regs.push(("CTRL", "CONTROL", c));
        }
        if let Some(l) = self.tables.learn {
            for (to, fl, p) in [
                ("TCP_TIMEOUT", "TCP_FLAGS", 6u8),
                ("UDP_TIMEOUT", "UDP_FLAGS", 17),
                ("SCTP_TIMEOUT", "SCTP_FLAGS", 132),
            ] {
                let (t, s, ev) = l.get(p);
                regs.push(("LEARN", to, t));
                regs.push(("LEARN", fl, super::tables::flags_word(s, ev)));
            }
        }
        for (block, reg, want) in regs {
            report.checked += 1;
            let got = self.bar.read(block, reg, 0)?;
            if got != want {
                report.diffs.push(format!(
                    "register {block}.{reg}: {got:#x} on the card, {want:#x} written"
                ));
            }
        }
        let now = self.bar.read("TIME", "TICK", 0)?;
        self.tables
            .verify_entries(now, &mut BarExec(&mut self.bar), &mut report)?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::tables::tests::{director, FakeExec};
    use crate::model::{Packet, TcpFlags, Time};

    /// The fake card's copy of one conn, edited in place.
    fn edit(x: &mut FakeExec, k: &FlowKey, f: impl FnOnce(&mut ConnEntry)) {
        let p = x.conns.get_mut(k).unwrap();
        let mut e = ConnEntry::from_payload(p).unwrap();
        f(&mut e);
        *p = e.payload().unwrap();
    }

    #[test]
    fn verify_accepts_what_the_card_may_change_and_names_drift() {
        let mut d = director(Some(300));
        let mut t = Tables::new(64, 256, 32);
        let mut x = FakeExec::new();
        t.sync_config(&d, &mut x).unwrap();
        let now = Time::from_secs(1);
        let c = "198.51.100.7:1000".parse().unwrap();
        let v = "192.0.2.10:80".parse().unwrap();
        d.process(now, &Packet::tcp(c, v, TcpFlags::SYN));
        let ch = d.take_changes();
        t.mirror(ch, &mut d, now, &mut x).unwrap();
        let key = *t.conns.keys().next().unwrap();
        let mut r = VerifyReport::default();
        t.verify_entries(1000, &mut x, &mut r).unwrap();
        assert_eq!((r.checked, r.diffs.len()), (2, 0), "{r:?}");
        // A hit refreshed it and the card reported the SYN_RECV → ACK: fine.
        edit(&mut x, &key, |e| {
            e.last_refresh = 1500;
            e.ev_next = false;
        });
        let mut r = VerifyReport::default();
        t.verify_entries(1500, &mut x, &mut r).unwrap();
        assert!(r.is_clean(), "{r:?}");
        // Drift: a different dest, then a refresh older than written, then gone while live.
        edit(&mut x, &key, |e| e.dest ^= 1);
        let mut r = VerifyReport::default();
        t.verify_entries(1500, &mut x, &mut r).unwrap();
        assert_eq!(r.diffs.len(), 1, "{r:?}");
        assert!(r.diffs[0].starts_with("conn 198.51.100.7:1000 -> 192.0.2.10:80"));
        edit(&mut x, &key, |e| {
            e.dest ^= 1;
            e.last_refresh = 900;
        });
        let mut r = VerifyReport::default();
        t.verify_entries(1500, &mut x, &mut r).unwrap();
        assert!(r.diffs[0].contains("older than the 1000 written"), "{r:?}");
        x.conns.remove(&key);
        let mut r = VerifyReport::default();
        t.verify_entries(1500, &mut x, &mut r).unwrap();
        assert!(r.diffs[0].contains("not on the card"), "{r:?}");
        // Gone after its lifetime (60 s SYN_RECV from tick 1000): the card aged it.
        let mut r = VerifyReport::default();
        t.verify_entries(61_000, &mut x, &mut r).unwrap();
        assert!(r.is_clean(), "{r:?}");
    }
}
