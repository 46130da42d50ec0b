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

    #[inline(always)]
    fn check(&self, words: usize) -> Result<(), AbiError> {
        if self.width == 0 || self.width > 128 || self.end() > words as u32 * 32 {
            return Err(self.out_of_range(words));
        }
        Ok(())
    }

    #[cold]
    fn out_of_range(&self, words: usize) -> AbiError {
        AbiError::OutOfRange {
            field: self.name,
            lsb: self.lsb,
            end: self.end(),
            words,
        }
    }

    // `get` and `set` are small enough to inline, so that the fields (constants) fold into a
    // shift and a mask; the two layout shapes of the ABI (a field inside one word, a wide field
    // of whole words) have their own paths, anything else takes the general bit loop.

    /// Read the field (up to 128 bits).
    #[inline(always)]
    pub fn get(&self, w: &[u32]) -> Result<u128, AbiError> {
        self.check(w.len())?;
        let (wi, off, width) = (
            self.lsb as usize / 32,
            self.lsb as u32 % 32,
            self.width as u32,
        );
        if off + width <= 32 {
            // Inside one word (every field of width <= 32 is, by the layout rules).
            return Ok(((w[wi] >> off) & word_mask(width)) as u128);
        }
        if off == 0 && width % 32 == 0 {
            let mut v = 0u128;
            for k in 0..(width / 32) as usize {
                v |= (w[wi + k] as u128) << (32 * k);
            }
            return Ok(v);
        }
        Ok(self.get_bits(w))
    }

    #[inline(never)]
    fn get_bits(&self, w: &[u32]) -> u128 {
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
        v
    }

    /// Read a field of width <= 32.
    #[inline(always)]
    pub fn get32(&self, w: &[u32]) -> Result<u32, AbiError> {
        debug_assert!(self.width <= 32);
        Ok(self.get(w)? as u32)
    }

    /// Write the field; fails if the value does not fit.
    #[inline(always)]
    pub fn set(&self, w: &mut [u32], value: u128) -> Result<(), AbiError> {
        self.check(w.len())?;
        if value > self.max() {
            return Err(self.overflow(value));
        }
        let (wi, off, width) = (
            self.lsb as usize / 32,
            self.lsb as u32 % 32,
            self.width as u32,
        );
        if off + width <= 32 {
            let m = word_mask(width) << off;
            w[wi] = (w[wi] & !m) | ((value as u32) << off & m);
            return Ok(());
        }
        if off == 0 && width % 32 == 0 {
            for k in 0..(width / 32) as usize {
                w[wi + k] = (value >> (32 * k)) as u32;
            }
            return Ok(());
        }
        self.set_bits(w, value);
        Ok(())
    }

    #[cold]
    fn overflow(&self, value: u128) -> AbiError {
        AbiError::Overflow {
            field: self.name,
            value,
            width: self.width,
        }
    }

    #[inline(never)]
    fn set_bits(&self, w: &mut [u32], value: u128) {
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
    }
}

/// `n` low bits set (`n` <= 32).
#[inline]
const fn word_mask(n: u32) -> u32 {
    if n >= 32 {
        u32::MAX
    } else {
        (1u32 << n) - 1
    }
}

/// Words of the largest image (a record or command: 16 words).
pub const MAX_WORDS: usize = 16;

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

    /// [`Layout::used_mask`] as a fixed array (words beyond `self.words` are zero), for
    /// constants: the hot decoders check reserved bits against a mask computed at compile
    /// time ([`Layout::check_reserved_words`]). Panics (at compile time, in a constant) for a
    /// layout of more than 16 words.
    pub const fn used_mask_words(&self) -> [u32; MAX_WORDS] {
        assert!(self.words <= MAX_WORDS, "layout wider than 16 words");
        let mut mask = [0u32; MAX_WORDS];
        let mut i = 0;
        while i < self.fields.len() {
            let f = self.fields[i];
            i += 1;
            // As in `used_mask()`: a field that does not fit covers nothing.
            if f.width == 0 || f.width > 128 || f.end() > self.words as u32 * 32 {
                continue;
            }
            let mut bit = f.lsb as u32;
            while bit < f.end() {
                let (wi, off) = ((bit / 32) as usize, bit % 32);
                let left = f.end() - bit;
                let n = if 32 - off < left { 32 - off } else { left };
                mask[wi] |= word_mask(n) << off;
                bit += n;
            }
        }
        mask
    }

    /// Fails if any reserved bit is set.
    pub fn check_reserved(&self, w: &[u32]) -> Result<(), AbiError> {
        if self.words > MAX_WORDS {
            // Not an ABI layout: the general path.
            return self.check_reserved_mask(w, &self.used_mask());
        }
        self.check_reserved_mask(w, &self.used_mask_words()[..self.words])
    }

    /// [`Layout::check_reserved`] against a precomputed mask (`used_mask` or
    /// `used_mask_words` of this layout).
    #[inline]
    pub fn check_reserved_mask(&self, w: &[u32], mask: &[u32]) -> Result<(), AbiError> {
        if w.iter().zip(mask).all(|(&word, &m)| word & !m == 0) {
            return Ok(());
        }
        self.check_reserved_with(w, mask)
    }

    /// [`Layout::check_reserved_mask`] of a fixed-size image against a
    /// [`Layout::used_mask_words`] constant (unrolled: the decoders' hot path).
    #[inline(always)]
    pub fn check_reserved_words<const N: usize>(
        &self,
        w: &[u32; N],
        mask: &[u32; MAX_WORDS],
    ) -> Result<(), AbiError> {
        const { assert!(N <= MAX_WORDS, "image wider than 16 words") };
        let mut reserved = 0;
        for i in 0..N {
            reserved |= w[i] & !mask[i];
        }
        if reserved == 0 {
            return Ok(());
        }
        self.check_reserved_with(w, &mask[..N])
    }

    #[cold]
    fn check_reserved_with(&self, w: &[u32], mask: &[u32]) -> Result<(), AbiError> {
        for (i, (&word, &m)) in w.iter().zip(mask.iter()).enumerate() {
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

    /// The one-word fast paths of `get`/`set` agree with a bit-by-bit reference, for every
    /// placement inside three words.
    #[test]
    fn get_set_match_a_bitwise_reference() {
        let bit = |w: &[u32], b: u32| (w[(b / 32) as usize] >> (b % 32)) & 1;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for lsb in 0..96u16 {
            for width in 1..=(96 - lsb).min(64) {
                let f = Field::new("f", lsb, width, "");
                let base = [rnd() as u32, rnd() as u32, rnd() as u32];
                let v = (rnd() as u128) & f.max();
                let mut w = base;
                f.set(&mut w, v).unwrap();
                for b in 0..96u32 {
                    let inside = b >= lsb as u32 && b < f.end();
                    let want = if inside {
                        (v >> (b - lsb as u32)) as u32 & 1
                    } else {
                        bit(&base, b)
                    };
                    assert_eq!(bit(&w, b), want, "lsb {lsb} width {width} bit {b}");
                }
                assert_eq!(f.get(&w).unwrap(), v, "lsb {lsb} width {width}");
                assert!(f.set(&mut w, f.max() + 1).is_err() || width >= 128);
            }
        }
    }

    /// `check_reserved` (allocation-free) accepts exactly the bits `used_mask` covers.
    #[test]
    fn check_reserved_matches_used_mask() {
        let l = Layout {
            name: "t",
            words: 3,
            fields: &const {
                [
                    Field::at("a", 0, 3, 5, ""),
                    Field::at("b", 1, 0, 32, ""),
                    Field::at("c", 2, 16, 16, ""),
                    Field::at("outside", 3, 0, 8, ""),
                ]
            },
            doc: "",
        };
        let used = l.used_mask();
        for b in 0..96usize {
            let mut w = [0u32; 3];
            w[b / 32] = 1 << (b % 32);
            let ok = used[b / 32] & (1 << (b % 32)) != 0;
            assert_eq!(l.check_reserved(&w).is_ok(), ok, "bit {b}");
        }
    }
}
