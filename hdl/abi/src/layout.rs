//! A tiny bit-field helper: named fields as `(lsb, width)` inside an image of N 32-bit words.
//!
//! Bit `b` of an image is bit `b % 32` of word `b / 32` (little-endian word order, LSB-first bits).
//! This is exactly how the RTL sees a wide `Bits<32*N>` built from the words (word 0 = bits 31..0),
//! so every field is a plain bit range `[lsb + width - 1 : lsb]` of the wide word — no
//! concatenation is needed in the HDL. Rule (checked by tests): a field of width <= 32 never
//! crosses a word boundary; a wider field starts on a word boundary and is a multiple of 32 wide.

use crate::error::AbiError;

/// One named bit field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub lsb: u16,
    pub width: u16,
    pub doc: &'static str,
}

impl Field {
    pub const fn new(name: &'static str, lsb: u16, width: u16, doc: &'static str) -> Self {
        Field {
            name,
            lsb,
            width,
            doc,
        }
    }

    /// Field at bit `bit` of word `word`.
    pub const fn at(
        name: &'static str,
        word: u16,
        bit: u16,
        width: u16,
        doc: &'static str,
    ) -> Self {
        Field::new(name, word * 32 + bit, width, doc)
    }

    /// One past the highest bit.
    pub const fn end(&self) -> u32 {
        self.lsb as u32 + self.width as u32
    }

    /// The largest value the field holds.
    pub const fn max(&self) -> u128 {
        if self.width >= 128 {
            u128::MAX
        } else {
            (1u128 << self.width) - 1
        }
    }

    fn check(&self, words: usize) -> Result<(), AbiError> {
        if self.width == 0 || self.width > 128 || self.end() > words as u32 * 32 {
            return Err(AbiError::OutOfRange {
                field: self.name,
                lsb: self.lsb,
                end: self.end(),
                words,
            });
        }
        Ok(())
    }

    /// Read the field (up to 128 bits).
    pub fn get(&self, w: &[u32]) -> Result<u128, AbiError> {
        self.check(w.len())?;
        let mut v = 0u128;
        let mut done = 0u32;
        while done < self.width as u32 {
            let bit = self.lsb as u32 + done;
            let (wi, off) = ((bit / 32) as usize, bit % 32);
            let n = (32 - off).min(self.width as u32 - done);
            let chunk = (w[wi] >> off) as u64 & ((1u64 << n) - 1);
            v |= (chunk as u128) << done;
            done += n;
        }
        Ok(v)
    }

    /// Read a field of width <= 32.
    pub fn get32(&self, w: &[u32]) -> Result<u32, AbiError> {
        debug_assert!(self.width <= 32);
        Ok(self.get(w)? as u32)
    }

    /// Write the field; fails if the value does not fit.
    pub fn set(&self, w: &mut [u32], value: u128) -> Result<(), AbiError> {
        self.check(w.len())?;
        if value > self.max() {
            return Err(AbiError::Overflow {
                field: self.name,
                value,
                width: self.width,
            });
        }
        let mut done = 0u32;
        while done < self.width as u32 {
            let bit = self.lsb as u32 + done;
            let (wi, off) = ((bit / 32) as usize, bit % 32);
            let n = (32 - off).min(self.width as u32 - done);
            let m = (((1u64 << n) - 1) as u32) << off;
            let chunk = ((value >> done) as u32) << off;
            w[wi] = (w[wi] & !m) | (chunk & m);
            done += n;
        }
        Ok(())
    }
}

/// A word image made of named fields; bits covered by no field are reserved (must be zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub name: &'static str,
    pub words: usize,
    pub fields: &'static [Field],
    pub doc: &'static str,
}

impl Layout {
    /// Mask of the bits some field covers, per word.
    pub fn used_mask(&self) -> Vec<u32> {
        let mut m = vec![0u32; self.words];
        for f in self.fields {
            // A layout whose fields do not fit is caught by the overlap test; ignore here.
            let _ = f.set(&mut m, f.max());
        }
        m
    }

    /// Number of bits covered by fields (what the RTL must actually store).
    pub fn used_bits(&self) -> u32 {
        self.fields.iter().map(|f| f.width as u32).sum()
    }

    /// Fails if any reserved bit is set.
    pub fn check_reserved(&self, w: &[u32]) -> Result<(), AbiError> {
        for (i, (&word, &m)) in w.iter().zip(self.used_mask().iter()).enumerate() {
            if word & !m != 0 {
                return Err(AbiError::Reserved {
                    layout: self.name,
                    word: i,
                    bits: word & !m,
                });
            }
        }
        Ok(())
    }

    /// Look a field up by name.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks the structural rules: every field fits, no two overlap, word-boundary rule.
    pub fn check_structure(&self) -> Result<(), String> {
        let mut seen = vec![0u32; self.words];
        for f in self.fields {
            if f.width == 0 || f.width > 128 || f.end() > self.words as u32 * 32 {
                return Err(format!("{}.{} does not fit", self.name, f.name));
            }
            if f.width <= 32 {
                if f.lsb / 32 != ((f.end() - 1) / 32) as u16 {
                    return Err(format!("{}.{} crosses a word", self.name, f.name));
                }
            } else if f.lsb % 32 != 0 || f.width % 32 != 0 {
                return Err(format!(
                    "{}.{} wide but not word aligned",
                    self.name, f.name
                ));
            }
            let mut m = vec![0u32; self.words];
            f.set(&mut m, f.max()).map_err(|e| e.to_string())?;
            for (s, b) in seen.iter_mut().zip(m.iter()) {
                if *s & *b != 0 {
                    return Err(format!("{}.{} overlaps another field", self.name, f.name));
                }
                *s |= *b;
            }
        }
        let mut names: Vec<_> = self.fields.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        if names.len() != self.fields.len() {
            return Err(format!("{}: duplicate field name", self.name));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_set_across_words() {
        let f = Field::new("x", 32, 64, "");
        let mut w = [0u32; 4];
        f.set(&mut w, 0x1122_3344_5566_7788).unwrap();
        assert_eq!(w, [0, 0x5566_7788, 0x1122_3344, 0]);
        assert_eq!(f.get(&w).unwrap(), 0x1122_3344_5566_7788);
        let g = Field::new("y", 4, 8, "");
        g.set(&mut w, 0xab).unwrap();
        assert_eq!(w[0], 0xab0);
        assert!(g.set(&mut w, 0x100).is_err());
        assert!(Field::new("z", 120, 16, "").get(&w).is_err());
    }
}
