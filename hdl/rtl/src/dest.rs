//! Real-server (dest) table: `2^AW` `DestEntry` images (ABI `dest::*`, 8 words = 256 bits),
//! written through one write port, read through two independent read ports (A: the conn hit's
//! dest, B: the template hit's dest). Each read port is its own copy of the table (one RAM per
//! port, written together), so both ports run every clock (II = 1).
//!
//! Latency: **1 clock** (address in at edge t, data valid after edge t, i.e. in cycle t+1).
//! Resources: 2 x (2^AW x 256) bits of RAM (D = 256: 2 x 64 Kib, 4 BRAM36 on Xilinx) and no logic
//! beyond the field slices.
//!
//! Field positions are the ABI's (`lvsnic_abi::entries::dest`), checked by the unit test:
//! state word = image bits 191:160 (word 5), `mac_lo` = word 6, `mac_hi` = word 7 bits 15:0,
//! `addr` = words 0..3, `port` = word 4 bits 15:0, `fwd` = word 4 bits 18:16.
use rust_hdl::prelude::*;

/// Image width of a dest entry (8 words).
pub const DEST_BITS: usize = 256;

/// One read port's outputs, sliced from the stored image.
#[derive(LogicBlock, Default)]
pub struct DestTable<const AW: usize> {
    pub clock: Signal<In, Clock>,
    // write port (a `Write` command of table Dest)
    pub wr_en: Signal<In, Bit>,
    pub wr_idx: Signal<In, Bits<AW>>,
    pub wr_data: Signal<In, Bits<DEST_BITS>>,
    // read port A
    pub a_idx: Signal<In, Bits<AW>>,
    pub a_state: Signal<Out, Bits<32>>,
    pub a_mac: Signal<Out, Bits<48>>,
    pub a_addr: Signal<Out, Bits<128>>,
    pub a_port: Signal<Out, Bits<16>>,
    pub a_fwd: Signal<Out, Bits<3>>,
    // read port B
    pub b_idx: Signal<In, Bits<AW>>,
    pub b_state: Signal<Out, Bits<32>>,
    pub b_mac: Signal<Out, Bits<48>>,
    pub b_addr: Signal<Out, Bits<128>>,
    pub b_port: Signal<Out, Bits<16>>,
    pub b_fwd: Signal<Out, Bits<3>>,
    ram_a: RAM<Bits<DEST_BITS>, AW>,
    ram_b: RAM<Bits<DEST_BITS>, AW>,
}

impl<const AW: usize> Logic for DestTable<AW> {
    #[hdl_gen]
    fn update(&mut self) {
        self.ram_a.read_clock.next = self.clock.val();
        self.ram_a.write_clock.next = self.clock.val();
        self.ram_b.read_clock.next = self.clock.val();
        self.ram_b.write_clock.next = self.clock.val();
        self.ram_a.write_enable.next = self.wr_en.val();
        self.ram_b.write_enable.next = self.wr_en.val();
        self.ram_a.write_address.next = self.wr_idx.val();
        self.ram_b.write_address.next = self.wr_idx.val();
        self.ram_a.write_data.next = self.wr_data.val();
        self.ram_b.write_data.next = self.wr_data.val();
        self.ram_a.read_address.next = self.a_idx.val();
        self.ram_b.read_address.next = self.b_idx.val();
        self.a_state.next = self.ram_a.read_data.val().get_bits::<32>(160);
        self.a_mac.next = (bit_cast::<48, 16>(self.ram_a.read_data.val().get_bits::<16>(224))
            << 32)
            | bit_cast::<48, 32>(self.ram_a.read_data.val().get_bits::<32>(192));
        self.a_addr.next = self.ram_a.read_data.val().get_bits::<128>(0);
        self.a_port.next = self.ram_a.read_data.val().get_bits::<16>(128);
        self.a_fwd.next = self.ram_a.read_data.val().get_bits::<3>(144);
        self.b_state.next = self.ram_b.read_data.val().get_bits::<32>(160);
        self.b_mac.next = (bit_cast::<48, 16>(self.ram_b.read_data.val().get_bits::<16>(224))
            << 32)
            | bit_cast::<48, 32>(self.ram_b.read_data.val().get_bits::<32>(192));
        self.b_addr.next = self.ram_b.read_data.val().get_bits::<128>(0);
        self.b_port.next = self.ram_b.read_data.val().get_bits::<16>(128);
        self.b_fwd.next = self.ram_b.read_data.val().get_bits::<3>(144);
    }
}

/// Pack 32-bit words (word 0 = bits 31..0) into a wide `Bits` (test and generator helper).
pub fn words_to_bits<const N: usize>(w: &[u32]) -> Bits<N> {
    let mut b = Bits::<N>::default();
    for (i, x) in w.iter().enumerate() {
        for k in 0..32 {
            if i * 32 + k < N && (x >> k) & 1 == 1 {
                b = b.replace_bit(i * 32 + k, true);
            }
        }
    }
    b
}

/// Unpack a wide `Bits` into 32-bit words.
pub fn bits_to_words<const N: usize>(b: Bits<N>) -> Vec<u32> {
    (0..N.div_ceil(32))
        .map(|i| {
            let mut x = 0u32;
            for k in 0..32 {
                if i * 32 + k < N && b.get_bit(i * 32 + k) {
                    x |= 1 << k;
                }
            }
            x
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvsnic_abi::entries::dest;
    use lvsnic_abi::layout::Field;

    fn get(f: &Field, w: &[u32]) -> u128 {
        let mut v = 0u128;
        for k in 0..f.width as usize {
            let b = f.lsb as usize + k;
            if (w[b / 32] >> (b % 32)) & 1 == 1 {
                v |= 1 << k;
            }
        }
        v
    }

    fn clk(uut: &mut DestTable<3>) {
        uut.clock.next = Clock { clk: false };
        assert!(simulate(uut, 100));
        uut.clock.next = Clock { clk: true };
        assert!(simulate(uut, 100));
    }

    #[test]
    fn write_then_read_two_ports() {
        let mut uut = DestTable::<3>::default();
        uut.connect_all();
        let mut images = vec![[0u32; 8]; 8];
        let mut seed = 0x1234_5678u32;
        for (i, img) in images.iter_mut().enumerate() {
            for w in img.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                *w = seed;
            }
            uut.wr_en.next = true;
            uut.wr_idx.next = (i as u64).into();
            uut.wr_data.next = words_to_bits::<DEST_BITS>(img);
            clk(&mut uut);
        }
        uut.wr_en.next = false;
        // Read every pair (i, 7 - i): data appears one clock after the address.
        for i in 0..8usize {
            let j = 7 - i;
            uut.a_idx.next = (i as u64).into();
            uut.b_idx.next = (j as u64).into();
            clk(&mut uut);
            for (port, k) in [(0, i), (1, j)] {
                let w = &images[k];
                let (state, mac, addr, pt, fwd) = if port == 0 {
                    (
                        uut.a_state.val(),
                        uut.a_mac.val(),
                        uut.a_addr.val(),
                        uut.a_port.val(),
                        uut.a_fwd.val(),
                    )
                } else {
                    (
                        uut.b_state.val(),
                        uut.b_mac.val(),
                        uut.b_addr.val(),
                        uut.b_port.val(),
                        uut.b_fwd.val(),
                    )
                };
                assert_eq!(state.to_u64() as u32, w[dest::STATE_WORD]);
                let mac_expect = (get(&dest::MAC_HI, w) << 32) | get(&dest::MAC_LO, w);
                assert_eq!(mac.to_u64() as u128, mac_expect);
                assert_eq!(pt.to_u64() as u128, get(&dest::PORT, w));
                assert_eq!(fwd.to_u64() as u128, get(&dest::FWD, w));
                let aw = bits_to_words(addr);
                let a = aw
                    .iter()
                    .enumerate()
                    .fold(0u128, |acc, (n, x)| acc | ((*x as u128) << (32 * n)));
                assert_eq!(a, get(&dest::ADDR, w));
            }
        }
    }
}
