//! The co-simulated card ([`lvsnic_sim::SimCard`]) as a driver [`Device`]: registers over its
//! register bus (each access runs clock cycles), DMA through its host memory, its irq line;
//! and as a [`PacketPort`] (frames in, verdicts out).

use lvsnic_abi::limits::BAR0_SIZE;
use lvsnic_sim::SimCard;

use super::card::{CardVerdict, PacketPort};
use super::{Device, DriverError};

impl Device for SimCard {
    fn bar_size(&self) -> u32 {
        BAR0_SIZE
    }
    fn read32(&mut self, offset: u32) -> Result<u32, DriverError> {
        self.reg_read(offset).ok_or_else(|| {
            DriverError::Backend(format!(
                "sim card: no response to a register read at {offset:#x}"
            ))
        })
    }
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), DriverError> {
        self.reg_write(offset, value);
        Ok(())
    }
    fn dma_alloc(&mut self, len: usize, align: usize) -> Result<u64, DriverError> {
        Ok(self.mem.alloc(len, align))
    }
    fn dma_read(&mut self, iova: u64, buf: &mut [u8]) -> Result<(), DriverError> {
        if self.mem.read(iova, buf) {
            Ok(())
        } else {
            Err(DriverError::DmaOutOfRange {
                iova,
                len: buf.len(),
            })
        }
    }
    fn dma_write(&mut self, iova: u64, data: &[u8]) -> Result<(), DriverError> {
        if self.mem.write(iova, data) {
            Ok(())
        } else {
            Err(DriverError::DmaOutOfRange {
                iova,
                len: data.len(),
            })
        }
    }
    fn take_irq(&mut self) -> bool {
        SimCard::take_irq(self)
    }
}

impl PacketPort for SimCard {
    fn send_frame(&mut self, frame: &[u8]) {
        self.send(frame);
    }
    fn clock(&mut self) -> Option<CardVerdict> {
        self.tick();
        self.take_verdict().map(|v| CardVerdict {
            pkt_id: v.pkt_id,
            kind: v.kind,
            dest: v.dest,
            reason: v.reason,
            mark: v.mark,
        })
    }
    fn open_vcd(&mut self, path: &std::path::Path) -> Result<(), String> {
        self.trace_open(path)
    }
}
