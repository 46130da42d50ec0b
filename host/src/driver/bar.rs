//! Register access by ABI name through two bounds-checked helpers, and the ID-block check
//! (ABI: "An ID block at BAR0 offset 0 … The driver refuses a card whose ABI hash differs").

use lvsnic_abi::limits::{TableGeometry, ABI_VERSION, MAGIC};
use lvsnic_abi::regs;

use super::{Device, DriverError};

/// BAR0 of one card.
pub struct Bar<D: Device> {
    dev: D,
}

/// What the ID block says about the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardInfo {
    pub abi_version: u32,
    pub abi_hash: u64,
    pub conn: TableGeometry,
    pub tpl: TableGeometry,
    pub rules: u32,
    pub services: u32,
    pub dests: u32,
    pub build_id: u32,
    /// `ID.CAPS` bits (cmdq, nat, tun, ipv6, learn).
    pub caps: u32,
    pub clk_khz: u32,
}

impl<D: Device> Bar<D> {
    pub fn new(dev: D) -> Self {
        Bar { dev }
    }
    pub fn dev(&mut self) -> &mut D {
        &mut self.dev
    }
    pub fn into_inner(self) -> D {
        self.dev
    }

    /// BAR0 offset of `block.reg[index]`, from the ABI, inside the BAR.
    pub fn offset(
        &self,
        block: &'static str,
        reg: &'static str,
        index: u32,
    ) -> Result<u32, DriverError> {
        let off = regs::offset_of(block, reg, index).ok_or(DriverError::NoSuchRegister {
            block,
            reg,
            index,
        })?;
        self.check_offset(off)
    }

    /// Check a BAR0 offset (from [`Bar::offset`] or [`regs::offset_of`]) against this BAR.
    fn check_offset(&self, off: u32) -> Result<u32, DriverError> {
        let size = self.dev.bar_size();
        if !off.is_multiple_of(4) || off.checked_add(4).is_none_or(|end| end > size) {
            return Err(DriverError::OutOfBar { offset: off, size });
        }
        Ok(off)
    }

    /// Read the register at a BAR0 offset the caller looked up once (hot paths: no name
    /// lookup per access).
    pub fn read_at(&mut self, off: u32) -> Result<u32, DriverError> {
        let off = self.check_offset(off)?;
        self.dev.read32(off)
    }

    /// Write the register at a BAR0 offset the caller looked up once.
    pub fn write_at(&mut self, off: u32, value: u32) -> Result<(), DriverError> {
        let off = self.check_offset(off)?;
        self.dev.write32(off, value)
    }

    /// Read `block.reg[index]`.
    pub fn read(
        &mut self,
        block: &'static str,
        reg: &'static str,
        index: u32,
    ) -> Result<u32, DriverError> {
        let off = self.offset(block, reg, index)?;
        self.dev.read32(off)
    }

    /// Write `block.reg[index]`.
    pub fn write(
        &mut self,
        block: &'static str,
        reg: &'static str,
        index: u32,
        value: u32,
    ) -> Result<(), DriverError> {
        let off = self.offset(block, reg, index)?;
        self.dev.write32(off, value)
    }

    /// Read one named field of a register.
    pub fn field(
        &mut self,
        block: &'static str,
        reg: &'static str,
        field: &'static str,
    ) -> Result<u32, DriverError> {
        let f = regs::block(block)
            .and_then(|b| b.reg(reg))
            .and_then(|r| r.field(field))
            .ok_or(DriverError::NoSuchRegister {
                block,
                reg,
                index: 0,
            })?;
        Ok(f.get(self.read(block, reg, 0)?))
    }

    /// Read and check the ID block; refuse a card of another ABI.
    pub fn probe(&mut self) -> Result<CardInfo, DriverError> {
        let magic = self.read("ID", "MAGIC", 0)?;
        if magic != MAGIC {
            return Err(DriverError::BadMagic {
                found: magic,
                expected: MAGIC,
            });
        }
        let abi_version = self.read("ID", "ABI_VERSION", 0)?;
        let abi_hash = (self.read("ID", "ABI_HASH_HI", 0)? as u64) << 32
            | self.read("ID", "ABI_HASH_LO", 0)? as u64;
        let expected_hash = lvsnic_abi::abi_hash();
        if abi_version != ABI_VERSION || abi_hash != expected_hash {
            return Err(DriverError::AbiMismatch {
                found_version: abi_version,
                found_hash: abi_hash,
                expected_version: ABI_VERSION,
                expected_hash,
            });
        }
        let geom = |v: u32| TableGeometry {
            log2_buckets: v as u8,
            ways: (v >> 8) as u8,
            stash: (v >> 16) as u8,
        };
        let conn = geom(self.read("ID", "CONN_GEOM", 0)?);
        let tpl = geom(self.read("ID", "TPL_GEOM", 0)?);
        for (name, g) in [("connection", conn), ("template", tpl)] {
            if !g.is_valid() {
                return Err(DriverError::BadGeometry(format!("{name} table {g:?}")));
            }
        }
        let small = self.read("ID", "SMALL_GEOM", 0)?;
        Ok(CardInfo {
            abi_version,
            abi_hash,
            conn,
            tpl,
            rules: small & 0xff,
            services: (small >> 8) & 0xff,
            dests: small >> 16,
            build_id: self.read("ID", "BUILD_ID", 0)?,
            caps: self.read("ID", "CAPS", 0)?,
            clk_khz: self.read("ID", "CLK_KHZ", 0)?,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::driver::MemDevice;
    use lvsnic_abi::limits::{BAR0_SIZE, SIM_GEOMETRY};

    /// A MemDevice whose ID block reads like a card of this ABI.
    pub(crate) fn fake_card() -> MemDevice {
        let mut d = MemDevice::new(BAR0_SIZE);
        let mut put = |reg: &'static str, v: u32| {
            let off = regs::offset_of("ID", reg, 0).unwrap();
            d.regs[off as usize / 4] = v;
        };
        let h = lvsnic_abi::abi_hash();
        put("MAGIC", MAGIC);
        put("ABI_VERSION", ABI_VERSION);
        put("ABI_HASH_LO", h as u32);
        put("ABI_HASH_HI", (h >> 32) as u32);
        let g = |g: TableGeometry| {
            g.log2_buckets as u32 | (g.ways as u32) << 8 | (g.stash as u32) << 16
        };
        put("CONN_GEOM", g(SIM_GEOMETRY.conns));
        put("TPL_GEOM", g(SIM_GEOMETRY.templates));
        put("SMALL_GEOM", 32 | 64 << 8 | 256 << 16);
        d.writes.clear();
        d
    }

    #[test]
    fn probe_accepts_this_abi_and_reads_geometry() {
        let mut bar = Bar::new(fake_card());
        let info = bar.probe().unwrap();
        assert_eq!(info.conn, SIM_GEOMETRY.conns);
        assert_eq!((info.rules, info.services, info.dests), (32, 64, 256));
    }

    #[test]
    fn probe_refuses_another_abi_hash_with_both_values() {
        let mut d = fake_card();
        let off = regs::offset_of("ID", "ABI_HASH_LO", 0).unwrap();
        d.regs[off as usize / 4] ^= 1;
        let err = Bar::new(d).probe().unwrap_err().to_string();
        assert!(
            err.contains("differs") && err.contains(&format!("{:#018x}", lvsnic_abi::abi_hash())),
            "{err}"
        );
        let mut d = fake_card();
        d.regs[regs::offset_of("ID", "MAGIC", 0).unwrap() as usize / 4] = 0xffff_ffff;
        assert!(matches!(
            Bar::new(d).probe(),
            Err(DriverError::BadMagic { .. })
        ));
    }

    #[test]
    fn register_helpers_are_bounds_checked() {
        let mut bar = Bar::new(MemDevice::new(0x2000));
        assert!(bar.read("CTRL", "SCRATCH", 0).is_ok());
        assert!(matches!(
            bar.read("TIME", "TICK", 0),
            Err(DriverError::OutOfBar { .. })
        ));
        assert!(matches!(
            bar.read("CMD", "DATA", 16),
            Err(DriverError::NoSuchRegister { .. })
        ));
        assert!(matches!(
            bar.read("NOPE", "X", 0),
            Err(DriverError::NoSuchRegister { .. })
        ));
    }
}
