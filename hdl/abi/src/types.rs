//! Small value types shared by entries and records: address family, protocols, forwarding
//! method, and the address <-> word convention.
//!
//! **Address convention.** A 128-bit address field is four 32-bit words; word `k` holds address
//! bytes `4k..4k+4` as a big-endian number (network order). IPv4 uses word 0 only
//! (`u32::from(Ipv4Addr)`), words 1..3 are zero. So an IPv6 prefix mask covers word 0 first, and
//! a fwmark used as a template "address" (`htonl(mark)` in the first 32 bits) is word 0 = mark.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::AbiError;

pub const IPPROTO_IP: u8 = 0;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_SCTP: u8 = 132;

/// Whether the card handles this L4 protocol (TCP, UDP, SCTP).
pub const fn is_l4(proto: u8) -> bool {
    matches!(proto, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP)
}

/// Address family: one bit in every key (0 = IPv4, 1 = IPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Af {
    V4 = 0,
    V6 = 1,
}

impl Af {
    pub const fn bit(self) -> u32 {
        self as u32
    }
    pub const fn from_bit(b: u32) -> Af {
        if b & 1 == 0 {
            Af::V4
        } else {
            Af::V6
        }
    }
    pub fn of(addr: &IpAddr) -> Af {
        match addr {
            IpAddr::V4(_) => Af::V4,
            IpAddr::V6(_) => Af::V6,
        }
    }
    /// Address width in bits.
    pub const fn bits(self) -> u8 {
        match self {
            Af::V4 => 32,
            Af::V6 => 128,
        }
    }
    /// The all-zero address of this family.
    pub fn unspecified(self) -> IpAddr {
        match self {
            Af::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Af::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }
}

/// Forwarding method, numbered as IPVS `IP_VS_CONN_F_FWD_MASK` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FwdMethod {
    Masq = 0,
    Local = 1,
    Tunnel = 2,
    Route = 3,
    Bypass = 4,
}

impl FwdMethod {
    pub const ALL: [FwdMethod; 5] = [
        FwdMethod::Masq,
        FwdMethod::Local,
        FwdMethod::Tunnel,
        FwdMethod::Route,
        FwdMethod::Bypass,
    ];
    pub fn from_bits(v: u32) -> Result<Self, AbiError> {
        Self::ALL.get(v as usize).copied().ok_or(AbiError::BadEnum {
            field: "fwd",
            value: v,
        })
    }
}

/// An address as the 128-bit field value (word 0 in bits 31..0).
#[inline]
pub fn addr_bits(addr: &IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u32::from(*a) as u128,
        IpAddr::V6(a) => words_to_bits(&v6_words(a)),
    }
}

/// The address words of an IPv6 address (word k = bytes 4k..4k+4, big-endian).
#[inline]
pub fn v6_words(a: &Ipv6Addr) -> [u32; 4] {
    let o = a.octets();
    core::array::from_fn(|k| {
        u32::from_be_bytes([o[4 * k], o[4 * k + 1], o[4 * k + 2], o[4 * k + 3]])
    })
}

#[inline]
pub fn words_to_bits(w: &[u32; 4]) -> u128 {
    w.iter()
        .enumerate()
        .fold(0u128, |acc, (k, &x)| acc | (x as u128) << (32 * k))
}

#[inline]
pub fn bits_to_words(b: u128) -> [u32; 4] {
    core::array::from_fn(|k| (b >> (32 * k)) as u32)
}

/// The address of family `af` stored in a 128-bit field; IPv4 needs words 1..3 zero.
#[inline]
pub fn bits_addr(af: Af, b: u128, what: &'static str) -> Result<IpAddr, AbiError> {
    let w = bits_to_words(b);
    match af {
        Af::V4 => {
            if w[1] | w[2] | w[3] != 0 {
                return Err(AbiError::Invalid {
                    what,
                    why: "IPv4 address with upper words set",
                });
            }
            Ok(IpAddr::V4(Ipv4Addr::from(w[0])))
        }
        Af::V6 => {
            let mut o = [0u8; 16];
            for (k, x) in w.iter().enumerate() {
                o[4 * k..4 * k + 4].copy_from_slice(&x.to_be_bytes());
            }
            Ok(IpAddr::V6(Ipv6Addr::from(o)))
        }
    }
}

/// The mask bits of a prefix of `plen` bits of family `af` (in the field convention).
pub fn prefix_mask(af: Af, plen: u8) -> u128 {
    match af {
        Af::V4 => {
            let m = if plen == 0 {
                0
            } else {
                u32::MAX << (32 - plen.min(32) as u32)
            };
            m as u128
        }
        Af::V6 => {
            let m = if plen == 0 {
                0
            } else {
                u128::MAX << (128 - plen.min(128) as u32)
            };
            addr_bits(&IpAddr::V6(Ipv6Addr::from(m)))
        }
    }
}

/// The prefix length of a mask, if the mask is a contiguous prefix of family `af`.
pub fn mask_prefix(af: Af, mask: u128) -> Option<u8> {
    (0..=af.bits()).find(|&p| prefix_mask(af, p) == mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_convention() {
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(bits_to_words(addr_bits(&a)), [0x2001_0db8, 0, 0, 1]);
        let b: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(bits_to_words(addr_bits(&b)), [0xc000_0201, 0, 0, 0]);
        assert_eq!(bits_addr(Af::V6, addr_bits(&a), "x").unwrap(), a);
        assert!(bits_addr(Af::V4, addr_bits(&a), "x").is_err());
        assert_eq!(
            bits_to_words(prefix_mask(Af::V6, 40)),
            [u32::MAX, 0xff00_0000, 0, 0]
        );
        assert_eq!(prefix_mask(Af::V4, 24), 0xffff_ff00);
        assert_eq!(mask_prefix(Af::V6, prefix_mask(Af::V6, 77)), Some(77));
        assert_eq!(mask_prefix(Af::V4, 0xff00_ff00), None);
    }
}
