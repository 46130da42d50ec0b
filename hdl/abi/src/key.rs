//! The flow key: `(af, proto, caddr, cport, vaddr, vport)`, 10 words / 297 used bits.
//!
//! The same 10-word image is the connection key, the template key (after masking), the hash
//! input and the key part of miss/learn/expire/flag records, so one RTL bus carries it.
//!
//! | word | bits | field |
//! |---|---|---|
//! | 0..3 | 128 | caddr |
//! | 4..7 | 128 | vaddr (template of a fwmark service: the mark in word 0) |
//! | 8 | 15..0 / 31..16 | cport / vport |
//! | 9 | 7..0 / 8 | proto / af |

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::AbiError;
use crate::layout::Field;
use crate::types::*;

/// Words of a flow key image.
pub const KEY_WORDS: usize = 10;
/// Bits of a flow key the RTL must store (1 + 8 + 128 + 16 + 128 + 16).
pub const KEY_BITS: u32 = 297;

/// The six key fields placed at word `base`.
pub const fn key_fields(base: u16) -> [Field; 6] {
    [
        Field::at(
            "caddr",
            base,
            0,
            128,
            "client address (address convention: word 0 first)",
        ),
        Field::at(
            "vaddr",
            base + 4,
            0,
            128,
            "virtual address; fwmark templates: the mark in word 0",
        ),
        Field::at("cport", base + 8, 0, 16, "client port (0 in template keys)"),
        Field::at(
            "vport",
            base + 8,
            16,
            16,
            "virtual port (0 for port-affinity templates)",
        ),
        Field::at(
            "proto",
            base + 9,
            0,
            8,
            "IP protocol (6/17/132; 0 in fwmark templates)",
        ),
        Field::at("af", base + 9, 8, 1, "address family: 0 IPv4, 1 IPv6"),
    ]
}

/// A flow key. Constructed keys are checked by [`FlowKey::validate_conn`] or
/// [`FlowKey::validate_template`] whenever they are encoded into an entry or record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub proto: u8,
    pub caddr: IpAddr,
    pub cport: u16,
    pub vaddr: IpAddr,
    pub vport: u16,
}

impl FlowKey {
    pub fn af(&self) -> Af {
        Af::of(&self.caddr)
    }

    fn check_af(&self) -> Result<(), AbiError> {
        if Af::of(&self.caddr) != Af::of(&self.vaddr) {
            return Err(AbiError::Invalid {
                what: "flow key",
                why: "caddr and vaddr of different families",
            });
        }
        Ok(())
    }

    /// A connection key: TCP, UDP or SCTP, one family.
    pub fn validate_conn(&self) -> Result<(), AbiError> {
        self.check_af()?;
        if !is_l4(self.proto) {
            return Err(AbiError::BadEnum {
                field: "proto",
                value: self.proto as u32,
            });
        }
        Ok(())
    }

    /// A template key (`ipvs-semantics.md` 5.2): cport 0; proto 0 only for fwmark templates,
    /// which have vport 0 and a non-zero mark in word 0 of vaddr (other words zero).
    pub fn validate_template(&self) -> Result<(), AbiError> {
        self.check_af()?;
        if self.cport != 0 {
            return Err(AbiError::Invalid {
                what: "template key",
                why: "cport must be 0",
            });
        }
        if self.proto == IPPROTO_IP {
            let w = bits_to_words(addr_bits(&self.vaddr));
            if self.vport != 0 || w[0] == 0 || w[1] | w[2] | w[3] != 0 {
                return Err(AbiError::Invalid {
                    what: "template key",
                    why: "fwmark template needs vport 0 and vaddr = non-zero mark",
                });
            }
        } else if !is_l4(self.proto) {
            return Err(AbiError::BadEnum {
                field: "proto",
                value: self.proto as u32,
            });
        }
        Ok(())
    }

    /// Write the key at word `base` of `w` (no semantic validation; callers validate).
    /// (Inlined: with a constant `base` the six fields fold into word stores.)
    #[inline(always)]
    pub fn write(&self, w: &mut [u32], base: u16) -> Result<(), AbiError> {
        self.check_af()?;
        let f = key_fields(base);
        f[0].set(w, addr_bits(&self.caddr))?;
        f[1].set(w, addr_bits(&self.vaddr))?;
        f[2].set(w, self.cport as u128)?;
        f[3].set(w, self.vport as u128)?;
        f[4].set(w, self.proto as u128)?;
        f[5].set(w, self.af().bit() as u128)?;
        Ok(())
    }

    /// Read the key at word `base` of `w` (checks the IPv4 upper words).
    #[inline(always)]
    pub fn read(w: &[u32], base: u16) -> Result<FlowKey, AbiError> {
        let f = key_fields(base);
        let af = Af::from_bit(f[5].get32(w)?);
        Ok(FlowKey {
            caddr: bits_addr(af, f[0].get(w)?, "caddr")?,
            vaddr: bits_addr(af, f[1].get(w)?, "vaddr")?,
            cport: f[2].get32(w)? as u16,
            vport: f[3].get32(w)? as u16,
            proto: f[4].get32(w)? as u8,
        })
    }

    /// The 10 words the hash consumes (exactly the key image at base 0).
    pub fn words(&self) -> Result<[u32; KEY_WORDS], AbiError> {
        let mut w = [0u32; KEY_WORDS];
        self.write(&mut w, 0)?;
        Ok(w)
    }
}

/// Client-address mask of a persistent service (`ipvs-semantics.md` 5.1): IPv4 masks are applied
/// literally (non-contiguous allowed), IPv6 is a prefix length 1..=128.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PersistMask {
    V4(u32),
    V6(u8),
}

impl PersistMask {
    pub fn af(&self) -> Af {
        match self {
            PersistMask::V4(_) => Af::V4,
            PersistMask::V6(_) => Af::V6,
        }
    }
    /// The mask as a 128-bit field value.
    pub fn bits(&self) -> u128 {
        match *self {
            PersistMask::V4(m) => m as u128,
            PersistMask::V6(p) => prefix_mask(Af::V6, p),
        }
    }
    pub fn validate(&self) -> Result<(), AbiError> {
        if let PersistMask::V6(p) = *self {
            if p == 0 || p > 128 {
                return Err(AbiError::Invalid {
                    what: "persistence mask",
                    why: "IPv6 prefix length must be 1..=128",
                });
            }
        }
        Ok(())
    }
    /// Decode a stored mask of family `af`.
    pub fn from_bits(af: Af, b: u128) -> Result<Self, AbiError> {
        let m = match af {
            Af::V4 => {
                if b >> 32 != 0 {
                    return Err(AbiError::Invalid {
                        what: "persistence mask",
                        why: "IPv4 mask with upper words set",
                    });
                }
                PersistMask::V4(b as u32)
            }
            Af::V6 => PersistMask::V6(mask_prefix(Af::V6, b).ok_or(AbiError::Invalid {
                what: "persistence mask",
                why: "IPv6 mask is not a prefix",
            })?),
        };
        m.validate()?;
        Ok(m)
    }
    /// `addr & mask` (the masked client address of a template key).
    pub fn apply(&self, addr: &IpAddr) -> Result<IpAddr, AbiError> {
        let af = Af::of(addr);
        if af != self.af() {
            return Err(AbiError::Invalid {
                what: "persistence mask",
                why: "mask and address of different families",
            });
        }
        bits_addr(af, addr_bits(addr) & self.bits(), "caddr")
    }
}

/// Which template key a persistent service uses (`ipvs-semantics.md` 5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TemplateKind {
    /// Case (a): `(proto, vaddr, vport)` of the packet.
    Port {
        proto: u8,
        vaddr: IpAddr,
        vport: u16,
    },
    /// Cases (b), (d1), (d2), (c'): `(proto, vaddr, 0)`.
    AnyPort { proto: u8, vaddr: IpAddr },
    /// Case (c): `(0, mark, 0)` — groups all protocols, ports and VIPs with the mark.
    Fwmark { mark: u32 },
}

/// The template key for client `caddr` — masked BEFORE hashing, as the kernel does.
pub fn template_key(
    kind: TemplateKind,
    caddr: &IpAddr,
    mask: PersistMask,
) -> Result<FlowKey, AbiError> {
    let snet = mask.apply(caddr)?;
    let af = Af::of(caddr);
    let (proto, vaddr, vport) = match kind {
        TemplateKind::Port {
            proto,
            vaddr,
            vport,
        } => (proto, vaddr, vport),
        TemplateKind::AnyPort { proto, vaddr } => (proto, vaddr, 0),
        TemplateKind::Fwmark { mark } => {
            let v = match af {
                Af::V4 => IpAddr::V4(Ipv4Addr::from(mark)),
                Af::V6 => IpAddr::V6(Ipv6Addr::from((mark as u128) << 96)),
            };
            (IPPROTO_IP, v, 0)
        }
    };
    let k = FlowKey {
        proto,
        caddr: snet,
        cport: 0,
        vaddr,
        vport,
    };
    k.validate_template()?;
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fwmark_template_key() {
        let c: IpAddr = "2001:db8:1:2::99".parse().unwrap();
        let k = template_key(TemplateKind::Fwmark { mark: 7 }, &c, PersistMask::V6(48)).unwrap();
        let w = k.words().unwrap();
        assert_eq!(&w[0..4], &[0x2001_0db8, 0x0001_0000, 0, 0]);
        assert_eq!(&w[4..8], &[7, 0, 0, 0]);
        assert_eq!(w[8], 0);
        assert_eq!(w[9], 1 << 8);
        let c4: IpAddr = "10.1.2.3".parse().unwrap();
        let k4 = template_key(
            TemplateKind::Port {
                proto: IPPROTO_TCP,
                vaddr: "192.0.2.10".parse().unwrap(),
                vport: 80,
            },
            &c4,
            PersistMask::V4(0xffff_ff00),
        )
        .unwrap();
        assert_eq!(k4.caddr, "10.1.2.0".parse::<IpAddr>().unwrap());
        assert_eq!(k4.words().unwrap()[8], 80 << 16);
        assert!(template_key(TemplateKind::Fwmark { mark: 0 }, &c4, PersistMask::V4(!0)).is_err());
    }
}
