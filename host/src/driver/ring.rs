//! The card → host record ring (ABI "Event ring (EVQ)"): 64-byte slots written by the card
//! with the phase bit last; the host checks the phase, reads the record, then rings the
//! consumer doorbell and re-arms the interrupt.

use std::sync::atomic::{fence, Ordering};

use lvsnic_abi::limits::{RECORD_BYTES, RECORD_WORDS, RING_LOG_SIZE_MAX, RING_LOG_SIZE_MIN};
use lvsnic_abi::records::{ring_phase, Record};

use super::{Bar, Device, DriverError};

/// The host side of the EVQ ring.
#[derive(Clone, Debug)]
pub struct EventRing {
    iova: u64,
    log_size: u32,
    /// Free-running consumer index: the next slot to read.
    cons: u32,
    /// Consumer index last written to the card.
    cons_told: u32,
}

impl EventRing {
    /// Allocate a zeroed ring of `2^log_size` slots and hand it to the card (ABI order: disable,
    /// BASE, LOG_SIZE, then enable + arm).
    pub fn setup<D: Device>(bar: &mut Bar<D>, log_size: u32) -> Result<EventRing, DriverError> {
        if !(RING_LOG_SIZE_MIN..=RING_LOG_SIZE_MAX).contains(&log_size) {
            return Err(DriverError::Backend(format!(
                "event ring log size {log_size} is outside {RING_LOG_SIZE_MIN}..={RING_LOG_SIZE_MAX}"
            )));
        }
        let bytes = (1usize << log_size) * RECORD_BYTES;
        let iova = bar.dev().dma_alloc(bytes, 4096)?;
        bar.write("EVQ", "CTRL", 0, 0)?;
        bar.write("EVQ", "BASE_LO", 0, iova as u32)?;
        bar.write("EVQ", "BASE_HI", 0, (iova >> 32) as u32)?;
        bar.write("EVQ", "LOG_SIZE", 0, log_size)?;
        bar.write("EVQ", "CTRL", 0, 0b11)?;
        Ok(EventRing {
            iova,
            log_size,
            cons: 0,
            cons_told: 0,
        })
    }

    pub fn slots(&self) -> u32 {
        1 << self.log_size
    }

    /// Where the card writes record `idx` (free-running) and the phase it writes it with.
    #[cfg(test)]
    pub(crate) fn slot_of(&self, idx: u32) -> (u64, bool) {
        (
            self.iova + (idx & (self.slots() - 1)) as u64 * RECORD_BYTES as u64,
            ring_phase(idx, self.log_size),
        )
    }

    /// The next record, if the card has written it.
    pub fn poll<D: Device>(&mut self, bar: &mut Bar<D>) -> Result<Option<Record>, DriverError> {
        let slot = self.cons & (self.slots() - 1);
        let addr = self.iova + slot as u64 * RECORD_BYTES as u64;
        let mut last = [0u8; 4];
        bar.dev()
            .dma_read(addr + (RECORD_BYTES - 4) as u64, &mut last)?;
        if (u32::from_le_bytes(last) >> 31 != 0) != ring_phase(self.cons, self.log_size) {
            return Ok(None);
        }
        // The phase bit is written last: once it is seen, the rest of the slot is valid.
        fence(Ordering::Acquire);
        let mut bytes = [0u8; RECORD_BYTES];
        bar.dev().dma_read(addr, &mut bytes)?;
        let mut w = [0u32; RECORD_WORDS];
        for (i, c) in bytes.chunks_exact(4).enumerate() {
            w[i] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        let (rec, _) =
            Record::decode(&w).map_err(|source| DriverError::BadRecord { slot, source })?;
        self.cons = self.cons.wrapping_add(1);
        Ok(Some(rec))
    }

    /// Give consumed slots back to the card and, with `arm`, ask for the next interrupt.
    /// Writes nothing if nothing was consumed and no re-arm is wanted.
    pub fn doorbell<D: Device>(&mut self, bar: &mut Bar<D>, arm: bool) -> Result<(), DriverError> {
        if self.cons != self.cons_told {
            bar.write("EVQ", "CONS", 0, self.cons)?;
            self.cons_told = self.cons;
        }
        if arm {
            bar.write("EVQ", "CTRL", 0, 0b11)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::bar::tests::fake_card;
    use lvsnic_abi::records::{ExpireCause, ExpireEvent};
    use lvsnic_abi::FlowKey;

    fn put_record<D: Device>(bar: &mut Bar<D>, ring: &EventRing, idx: u32, rec: &Record) {
        let w = rec.encode(ring_phase(idx, ring.log_size)).unwrap();
        let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        let addr = ring.iova + (idx & (ring.slots() - 1)) as u64 * RECORD_BYTES as u64;
        bar.dev().dma_write(addr, &bytes).unwrap();
    }

    #[test]
    fn reads_records_in_order_across_laps_by_phase() {
        let mut bar = Bar::new(fake_card());
        let mut ring = EventRing::setup(&mut bar, 4).unwrap();
        assert_eq!(
            ring.poll(&mut bar).unwrap(),
            None,
            "zero-filled ring is empty"
        );
        let rec = |i: u32| {
            Record::Expire(ExpireEvent {
                table: lvsnic_abi::TableId::Conn,
                cause: ExpireCause::Aged,
                index: i,
                key: FlowKey {
                    proto: 6,
                    caddr: "198.51.100.7".parse().unwrap(),
                    cport: 1000 + i as u16,
                    vaddr: "192.0.2.10".parse().unwrap(),
                    vport: 80,
                },
                dest: 1,
                dest_gen: 0,
                controlled: false,
                state: 0,
                last_refresh: i,
                tick: i,
            })
        };
        // Three laps of a 16-slot ring.
        for lap in 0..3u32 {
            for i in 0..16 {
                let idx = lap * 16 + i;
                put_record(&mut bar, &ring, idx, &rec(idx));
                assert_eq!(ring.poll(&mut bar).unwrap(), Some(rec(idx)), "index {idx}");
                assert_eq!(
                    ring.poll(&mut bar).unwrap(),
                    None,
                    "slot {} not rewritten yet",
                    idx + 1
                );
            }
            ring.doorbell(&mut bar, true).unwrap();
        }
        let cons = regs_of(&mut bar, "CONS");
        assert_eq!(cons, 48);
    }

    fn regs_of<D: Device>(bar: &mut Bar<D>, r: &'static str) -> u32 {
        bar.read("EVQ", r, 0).unwrap()
    }

    #[test]
    fn bad_log_size_is_refused() {
        let mut bar = Bar::new(fake_card());
        assert!(EventRing::setup(&mut bar, 3).is_err());
        assert!(EventRing::setup(&mut bar, 17).is_err());
    }
}
