//! The device-backend trait, and an in-memory backend for tests.

use super::DriverError;

/// What the driver needs from "a card": 32-bit register access by BAR0 offset, memory the card
/// can DMA into (addressed by bus address / IOVA), and interrupts. Implemented by the VFIO
/// backend (silicon), the vfio-user client and the in-process co-simulated card.
pub trait Device {
    /// Size of BAR0 in bytes.
    fn bar_size(&self) -> u32;
    /// Read the 32-bit register at `offset` (4-byte aligned, inside BAR0).
    fn read32(&mut self, offset: u32) -> Result<u32, DriverError>;
    /// Write the 32-bit register at `offset`.
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), DriverError>;
    /// Allocate `len` bytes of zeroed DMA memory aligned to `align`; returns its bus address.
    fn dma_alloc(&mut self, len: usize, align: usize) -> Result<u64, DriverError>;
    /// Read host DMA memory at bus address `iova`.
    fn dma_read(&mut self, iova: u64, buf: &mut [u8]) -> Result<(), DriverError>;
    /// Write host DMA memory at bus address `iova`.
    fn dma_write(&mut self, iova: u64, data: &[u8]) -> Result<(), DriverError>;
    /// True once per interrupt delivered since the last call (an eventfd read).
    fn take_irq(&mut self) -> bool;
}

/// A device whose registers are plain memory and whose DMA region is a `Vec<u8>`: for unit
/// tests of the driver layers (a test plays the card by writing registers and DMA memory).
#[derive(Clone, Debug)]
pub struct MemDevice {
    pub regs: Vec<u32>,
    pub dma: Vec<u8>,
    /// Bus address of `dma[0]`.
    pub dma_base: u64,
    pub irq: bool,
    /// Every register write, in order (offset, value).
    pub writes: Vec<(u32, u32)>,
}

impl MemDevice {
    pub fn new(bar_size: u32) -> Self {
        MemDevice {
            regs: vec![0; bar_size as usize / 4],
            dma: Vec::new(),
            dma_base: 0x1_0000_0000,
            irq: false,
            writes: Vec::new(),
        }
    }
    fn dma_range(&self, iova: u64, len: usize) -> Result<std::ops::Range<usize>, DriverError> {
        let start = iova
            .checked_sub(self.dma_base)
            .ok_or(DriverError::DmaOutOfRange { iova, len })? as usize;
        let end = start
            .checked_add(len)
            .filter(|e| *e <= self.dma.len())
            .ok_or(DriverError::DmaOutOfRange { iova, len })?;
        Ok(start..end)
    }
}

impl Device for MemDevice {
    fn bar_size(&self) -> u32 {
        (self.regs.len() * 4) as u32
    }
    fn read32(&mut self, offset: u32) -> Result<u32, DriverError> {
        self.regs
            .get(offset as usize / 4)
            .copied()
            .ok_or(DriverError::OutOfBar {
                offset,
                size: self.bar_size(),
            })
    }
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), DriverError> {
        let size = self.bar_size();
        let r = self
            .regs
            .get_mut(offset as usize / 4)
            .ok_or(DriverError::OutOfBar { offset, size })?;
        *r = value;
        self.writes.push((offset, value));
        Ok(())
    }
    fn dma_alloc(&mut self, len: usize, align: usize) -> Result<u64, DriverError> {
        let start = self.dma.len().next_multiple_of(align.max(1));
        self.dma.resize(start + len, 0);
        Ok(self.dma_base + start as u64)
    }
    fn dma_read(&mut self, iova: u64, buf: &mut [u8]) -> Result<(), DriverError> {
        let r = self.dma_range(iova, buf.len())?;
        buf.copy_from_slice(&self.dma[r]);
        Ok(())
    }
    fn dma_write(&mut self, iova: u64, data: &[u8]) -> Result<(), DriverError> {
        let r = self.dma_range(iova, data.len())?;
        self.dma[r].copy_from_slice(data);
        Ok(())
    }
    fn take_irq(&mut self) -> bool {
        std::mem::take(&mut self.irq)
    }
}
