//! Packet parser: Ethernet II (+ one 802.1Q tag) / IPv4 (IHL 5..15) / IPv6 fixed header /
//! TCP, UDP, SCTP -> one parsed-header record per packet.
//!
//! # Input stream
//! One 512-bit beat (64 bytes) per clock when `in_valid` (the parser is always ready: `in_ready`
//! is constant 1). **Byte order:** the first byte of the packet (of each beat) is in the most
//! significant byte of `in_data` (`in_data[511:504]`), i.e. the beat is read as a big-endian
//! number. `in_nbytes` is the number of valid bytes of a `in_last` beat (0..=64; 0 is a
//! zero-length packet; values above 64 count as 64); on other beats it is ignored (64 bytes).
//! Bytes beyond `in_nbytes` are ignored. `in_valid` may drop in the middle of a packet (idle
//! beats are skipped). A frame of up to 64 bytes (every minimum-size frame) is one beat, so the
//! parser takes one such packet per clock, back to back.
//!
//! # Output
//! The header of a packet is its first [`HDR_BEATS`] beats (128 bytes). Everything the parser
//! reads fits in that window: VLAN 18 + IPv4 60 (IHL 15) + TCP 20 = 98 bytes. Later beats are
//! not kept, only counted: the parser knows the frame's byte count (saturating at 2^17, beyond
//! any IP length) when its last beat comes. The *trigger* beat of a packet is its `in_last`
//! beat, also for frames longer than the header window, so the verdict can compare the frame
//! with its IP length. `out_valid` is high for one cycle exactly [`LATENCY`] cycles after the
//! cycle in which the trigger beat was accepted, with the record of that packet; one-beat frames
//! on consecutive clocks give records on consecutive clocks.
//!
//! `out_verdict` is one of the `VERDICT_*` constants. Fields (`out_af` .. `out_sctp_chunk`) are
//! meaningful only when the verdict is [`VERDICT_OK`] (on other verdicts they are don't-care).
//! Addresses follow the ABI address convention (`lvsnic_abi::types`): word k (bits 32k+31..32k)
//! holds address bytes 4k..4k+3 big-endian, IPv4 lives in word 0 (bits 31..0) and words 1..3 are 0.
//! `out_tcp_flags` is the raw TCP flags byte (header byte 13: FIN 0x01, SYN 0x02, RST 0x04,
//! ACK 0x10; see the `TCP_*` constants); `out_sctp_chunk` the type of the first SCTP chunk
//! (byte 12 of the SCTP packet). Both are don't-care for other protocols. `out_id` counts packets
//! (one per record, wrapping at 2^16).
//!
//! # Verdict (first rule that applies)
//! 1. fewer bytes than the Ethernet (+VLAN) header -> MALFORMED
//! 2. ethertype (after one 0x8100 tag) neither 0x0800 nor 0x86DD -> NOT_IP
//! 3. L3 header truncated, version field not 4/6, IHL < 5, IPv4 total length < IHL*4, or the
//!    frame shorter than its IP length: L2 header + IPv4 total length, L2 header + 40 + IPv6
//!    payload length (the kernel drops these in `ip_rcv_core` / `ipv6_rcv`) -> MALFORMED. A frame
//!    longer than that (Ethernet padding) is fine: the kernel trims it.
//! 4. IPv4 MF set or fragment offset != 0 -> FRAGMENT
//! 5. protocol / IPv6 next header not TCP, UDP, SCTP -> UNSUPPORTED (IPv6 extension headers too)
//! 6. L4 header truncated (frame or IP length): UDP 8 bytes, TCP 20, SCTP 16 (common header and
//!    the first chunk header) -> MALFORMED. (Every L4 header ends inside the 128-byte window.)
//! 7. L4 length fields the host's packet parser refuses (it slices the IP payload strictly):
//!    TCP data offset < 5 or the TCP header (data offset * 4) longer than the IP payload; UDP
//!    length field not 0 and < 8 or longer than the IP payload -> MALFORMED. The IP payload is
//!    IPv4 total length - IHL*4, or the IPv6 payload length.
//! 8. else OK.
//!
//! Not checked (the host sees such packets only if it forwards them anyway): IPv4 header checksum,
//! IPv4 options content.
//!
//! # Pipeline (LATENCY = 3)
//! * edge 0 (trigger beat): the two header beats (the trigger beat in place of the one it is) ->
//!   Ethernet/VLAN decode -> L3-aligned 74-byte window, ethertype, header byte count (at most
//!   128), frame byte count.
//! * edge 1: L3 decode (addresses, protocol, IHL), IP end vs frame length, L4-aligned 14-byte
//!   window (16:1 mux on IHL), verdict.
//! * edge 2: ports, flags, chunk type, TCP data offset / UDP length checks -> output registers.

use rust_hdl::prelude::*;

/// Cycles from the trigger beat to `out_valid` (number of register stages).
pub const LATENCY: usize = 3;
/// Data width of the input stream in bits.
pub const DATA_BITS: usize = 512;
/// Bytes per beat.
pub const BEAT_BYTES: usize = DATA_BITS / 8;
/// Beats of a packet captured as its header (128 bytes).
pub const HDR_BEATS: usize = 2;
/// Bytes of the header window.
pub const HDR_BYTES: usize = BEAT_BYTES * HDR_BEATS;
/// Width of the frame byte counter; it stops at 2^(FLEN_BITS-1) bytes, more than the largest
/// IP end (VLAN 18 + IPv6 40 + 65,535).
const FLEN_BITS: usize = 18;
const _: () = assert!(FLEN_BITS == 18); // `get_bit(17)` in `update` is the saturation bit
const HDR_BITS: usize = DATA_BITS * HDR_BEATS;
/// Bytes of the L3-aligned window (IPv4 60-byte header + 14 L4 bytes).
const L3_BITS: usize = 74 * 8;
/// Bytes of the L4-aligned window.
const L4_BITS: usize = 14 * 8;

pub const VERDICT_OK: u64 = 0;
pub const VERDICT_NOT_IP: u64 = 1;
pub const VERDICT_UNSUPPORTED: u64 = 2;
pub const VERDICT_FRAGMENT: u64 = 3;
pub const VERDICT_MALFORMED: u64 = 4;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

/// The packet parser. Ports (direction, width):
#[derive(LogicBlock, Default)]
pub struct Parser {
    /// in: clock
    pub clock: Signal<In, Clock>,
    /// in 1: a beat is presented
    pub in_valid: Signal<In, Bit>,
    /// out 1: always 1 (the parser never back-pressures)
    pub in_ready: Signal<Out, Bit>,
    /// in 512: beat data, first byte in bits 511..504
    pub in_data: Signal<In, Bits<DATA_BITS>>,
    /// in 1: last beat of the packet
    pub in_last: Signal<In, Bit>,
    /// in 7: valid bytes of the last beat (0..=64)
    pub in_nbytes: Signal<In, Bits<7>>,
    /// out 1: record valid (one cycle)
    pub out_valid: Signal<Out, Bit>,
    /// out 16: packet counter
    pub out_id: Signal<Out, Bits<16>>,
    /// out 3: `VERDICT_*`
    pub out_verdict: Signal<Out, Bits<3>>,
    /// out 1: address family (0 IPv4, 1 IPv6)
    pub out_af: Signal<Out, Bit>,
    /// out 1: the frame had an 802.1Q tag
    pub out_vlan: Signal<Out, Bit>,
    /// out 8: IP protocol / IPv6 next header
    pub out_proto: Signal<Out, Bits<8>>,
    /// out 128: source address (ABI convention)
    pub out_src: Signal<Out, Bits<128>>,
    /// out 128: destination address (ABI convention)
    pub out_dst: Signal<Out, Bits<128>>,
    /// out 16: source port
    pub out_sport: Signal<Out, Bits<16>>,
    /// out 16: destination port
    pub out_dport: Signal<Out, Bits<16>>,
    /// out 8: raw TCP flags byte
    pub out_tcp_flags: Signal<Out, Bits<8>>,
    /// out 8: first SCTP chunk type
    pub out_sctp_chunk: Signal<Out, Bits<8>>,

    // ---- capture ----
    beat: DFF<Bits<2>>,
    len: DFF<Bits<8>>,
    flen: DFF<Bits<FLEN_BITS>>,
    id: DFF<Bits<16>>,
    hdr0: DFF<Bits<DATA_BITS>>,
    hdr1: DFF<Bits<DATA_BITS>>,
    hnext0: Signal<Local, Bits<DATA_BITS>>,
    hnext1: Signal<Local, Bits<DATA_BITS>>,
    nb: Signal<Local, Bits<7>>,
    len_now: Signal<Local, Bits<8>>,
    flen_now: Signal<Local, Bits<FLEN_BITS>>,
    capture: Signal<Local, Bit>,
    trigger: Signal<Local, Bit>,
    cur: Signal<Local, Bits<HDR_BITS>>,
    et0: Signal<Local, Bits<16>>,
    vlan: Signal<Local, Bit>,
    // ---- stage 1 ----
    s1_valid: DFF<Bit>,
    s1_id: DFF<Bits<16>>,
    s1_len: DFF<Bits<8>>,
    s1_flen: DFF<Bits<FLEN_BITS>>,
    s1_vlan: DFF<Bit>,
    s1_et: DFF<Bits<16>>,
    s1_l3: DFF<Bits<L3_BITS>>,
    // stage 2 combinational
    is4: Signal<Local, Bit>,
    is6: Signal<Local, Bit>,
    ver: Signal<Local, Bits<4>>,
    ihl: Signal<Local, Bits<4>>,
    hw: Signal<Local, Bits<4>>,
    proto: Signal<Local, Bits<8>>,
    is_l4: Signal<Local, Bit>,
    ver_ok: Signal<Local, Bit>,
    frag_bad: Signal<Local, Bit>,
    iplen: Signal<Local, Bits<16>>,
    hlen: Signal<Local, Bits<8>>,
    need: Signal<Local, Bits<8>>,
    l3off: Signal<Local, Bits<8>>,
    len8: Signal<Local, Bits<8>>,
    end_min: Signal<Local, Bits<8>>,
    end_hdr: Signal<Local, Bits<8>>,
    end_l4: Signal<Local, Bits<8>>,
    ip_need_hdr: Signal<Local, Bits<16>>,
    ip_need_l4: Signal<Local, Bits<16>>,
    ip_base: Signal<Local, Bits<8>>,
    ip_end: Signal<Local, Bits<FLEN_BITS>>,
    short: Signal<Local, Bit>,
    shamt: Signal<Local, Bits<10>>,
    verdict: Signal<Local, Bits<3>>,
    src4: Signal<Local, Bits<128>>,
    dst4: Signal<Local, Bits<128>>,
    src6: Signal<Local, Bits<128>>,
    dst6: Signal<Local, Bits<128>>,
    // ---- stage 2 ----
    s2_valid: DFF<Bit>,
    s2_id: DFF<Bits<16>>,
    s2_verdict: DFF<Bits<3>>,
    s2_af: DFF<Bit>,
    s2_vlan: DFF<Bit>,
    s2_proto: DFF<Bits<8>>,
    s2_src: DFF<Bits<128>>,
    s2_dst: DFF<Bits<128>>,
    s2_l4: DFF<Bits<L4_BITS>>,
    s2_l4len: DFF<Bits<16>>,
    // stage 3 combinational
    doff: Signal<Local, Bits<16>>,
    ulen: Signal<Local, Bits<16>>,
    l4_bad: Signal<Local, Bit>,
    // ---- stage 3 (outputs) ----
    o_valid: DFF<Bit>,
    o_id: DFF<Bits<16>>,
    o_verdict: DFF<Bits<3>>,
    o_af: DFF<Bit>,
    o_vlan: DFF<Bit>,
    o_proto: DFF<Bits<8>>,
    o_src: DFF<Bits<128>>,
    o_dst: DFF<Bits<128>>,
    o_sport: DFF<Bits<16>>,
    o_dport: DFF<Bits<16>>,
    o_flags: DFF<Bits<8>>,
    o_chunk: DFF<Bits<8>>,
}

impl Logic for Parser {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, beat, len, flen, id, hdr0, hdr1, s1_valid, s1_id, s1_len, s1_flen,
            s1_vlan, s1_et, s1_l3, s2_valid, s2_id, s2_verdict, s2_af, s2_vlan, s2_proto, s2_src,
            s2_dst, s2_l4, s2_l4len, o_valid, o_id, o_verdict, o_af, o_vlan, o_proto, o_src, o_dst,
            o_sport, o_dport, o_flags, o_chunk
        );
        self.in_ready.next = true;

        // ---------------- capture ----------------
        self.nb.next = 64.into();
        if self.in_last.val() {
            if self.in_nbytes.val() > 64 {
                self.nb.next = 64.into();
            } else {
                self.nb.next = self.in_nbytes.val();
            }
        }
        // beats 0 and 1 are the header window; later beats are only counted
        self.capture.next = self.in_valid.val() & (self.beat.q.val() < 2);
        // header bytes (at most 128)
        self.len_now.next = self.len.q.val();
        if self.capture.val() {
            self.len_now.next = self.len.q.val() + bit_cast::<8, 7>(self.nb.val());
        }
        // frame bytes, saturating
        self.flen_now.next = self.flen.q.val() + bit_cast::<FLEN_BITS, 7>(self.nb.val());
        if self.flen.q.val().get_bit(17) {
            self.flen_now.next = self.flen.q.val();
        }
        self.trigger.next = self.in_valid.val() & self.in_last.val();
        // the header window as of this beat: the beat itself in place of the one it is
        self.hnext0.next = self.hdr0.q.val();
        self.hnext1.next = self.hdr1.q.val();
        if self.capture.val() & (self.beat.q.val() == 0) {
            self.hnext0.next = self.in_data.val();
        }
        if self.capture.val() & (self.beat.q.val() == 1) {
            self.hnext1.next = self.in_data.val();
        }
        self.hdr0.d.next = self.hnext0.val();
        self.hdr1.d.next = self.hnext1.val();
        if self.in_valid.val() {
            if self.in_last.val() {
                self.flen.d.next = 0.into();
            } else {
                self.flen.d.next = self.flen_now.val();
            }
        }
        if self.in_valid.val() {
            if self.in_last.val() {
                self.beat.d.next = 0.into();
                self.len.d.next = 0.into();
            } else if self.capture.val() {
                self.beat.d.next = self.beat.q.val() + 1;
                self.len.d.next = self.len_now.val();
            }
        }
        if self.trigger.val() {
            self.id.d.next = self.id.q.val() + 1;
        }
        self.cur.next = (bit_cast::<HDR_BITS, DATA_BITS>(self.hnext0.val()) << 512)
            | bit_cast::<HDR_BITS, DATA_BITS>(self.hnext1.val());

        // ---------------- stage 1: Ethernet / VLAN ----------------
        self.et0.next = self.cur.val().get_bits::<16>(912);
        self.vlan.next = self.et0.val() == 0x8100;
        self.s1_valid.d.next = self.trigger.val();
        self.s1_id.d.next = self.id.q.val();
        self.s1_len.d.next = self.len_now.val();
        self.s1_flen.d.next = self.flen_now.val();
        self.s1_vlan.d.next = self.vlan.val();
        if self.vlan.val() {
            self.s1_et.d.next = self.cur.val().get_bits::<16>(880);
            self.s1_l3.d.next = self.cur.val().get_bits::<L3_BITS>(288);
        } else {
            self.s1_et.d.next = self.et0.val();
            self.s1_l3.d.next = self.cur.val().get_bits::<L3_BITS>(320);
        }

        // ---------------- stage 2: L3 ----------------
        self.is4.next = self.s1_et.q.val() == 0x0800;
        self.is6.next = self.s1_et.q.val() == 0x86DD;
        self.ver.next = self.s1_l3.q.val().get_bits::<4>(588);
        self.ihl.next = self.s1_l3.q.val().get_bits::<4>(584);
        if self.is6.val() {
            self.proto.next = self.s1_l3.q.val().get_bits::<8>(536);
            self.iplen.next = self.s1_l3.q.val().get_bits::<16>(544);
            self.hw.next = 10.into();
            self.ver_ok.next = self.ver.val() == 6;
            self.frag_bad.next = false;
        } else {
            self.proto.next = self.s1_l3.q.val().get_bits::<8>(512);
            self.iplen.next = self.s1_l3.q.val().get_bits::<16>(560);
            self.hw.next = self.ihl.val();
            self.ver_ok.next = (self.ver.val() == 4) & (self.ihl.val() >= 5);
            self.frag_bad.next = (self.s1_l3.q.val().get_bits::<16>(528) & 0x3FFF) != 0;
        }
        self.hlen.next = bit_cast::<8, 4>(self.hw.val()) << 2;
        if self.s1_vlan.q.val() {
            self.l3off.next = 18.into();
        } else {
            self.l3off.next = 14.into();
        }
        if self.is6.val() {
            self.end_min.next = self.l3off.val() + 40;
            self.ip_need_hdr.next = 0.into();
            self.ip_base.next = self.end_min.val();
        } else {
            self.end_min.next = self.l3off.val() + 20;
            self.ip_need_hdr.next = bit_cast::<16, 8>(self.hlen.val());
            self.ip_base.next = self.l3off.val();
        }
        // The frame must hold what the IP header claims (padding after it is fine).
        self.ip_end.next = bit_cast::<FLEN_BITS, 16>(self.iplen.val())
            + bit_cast::<FLEN_BITS, 8>(self.ip_base.val());
        self.short.next = self.s1_flen.q.val() < self.ip_end.val();
        self.is_l4.next =
            (self.proto.val() == 6) | (self.proto.val() == 17) | (self.proto.val() == 132);
        // The whole fixed L4 header must be there (the kernel drops shorter ones before IPVS):
        // UDP 8, TCP 20, SCTP common header 12 + chunk header 4.
        self.need.next = 8.into();
        if self.proto.val() == 6 {
            self.need.next = 20.into();
        }
        if self.proto.val() == 132 {
            self.need.next = 16.into();
        }
        self.len8.next = self.s1_len.q.val();
        self.end_hdr.next = self.l3off.val() + self.hlen.val();
        self.end_l4.next = self.end_hdr.val() + self.need.val();
        self.ip_need_l4.next = self.ip_need_hdr.val() + bit_cast::<16, 8>(self.need.val());
        // L4 window: 14 bytes at L3 byte hw*4 -> bit offset 592 - 8*(4*hw + 14) = 480 - 32*hw
        self.shamt.next = 480 - (bit_cast::<10, 4>(self.hw.val()) << 5);

        if self.len8.val() < self.l3off.val() {
            self.verdict.next = 4.into(); // VERDICT_MALFORMED
        } else if !(self.is4.val() | self.is6.val()) {
            self.verdict.next = 1.into(); // VERDICT_NOT_IP
        } else if (self.len8.val() < self.end_min.val())
            | !self.ver_ok.val()
            | (self.len8.val() < self.end_hdr.val())
            | (self.iplen.val() < self.ip_need_hdr.val())
            | self.short.val()
        {
            self.verdict.next = 4.into(); // VERDICT_MALFORMED
        } else if self.frag_bad.val() {
            self.verdict.next = 3.into(); // VERDICT_FRAGMENT
        } else if !self.is_l4.val() {
            self.verdict.next = 2.into(); // VERDICT_UNSUPPORTED
        } else if (self.len8.val() < self.end_l4.val()) | (self.iplen.val() < self.ip_need_l4.val())
        {
            self.verdict.next = 4.into(); // VERDICT_MALFORMED
        } else {
            self.verdict.next = 0.into(); // VERDICT_OK
        }

        self.src4.next = bit_cast::<128, 32>(self.s1_l3.q.val().get_bits::<32>(464));
        self.dst4.next = bit_cast::<128, 32>(self.s1_l3.q.val().get_bits::<32>(432));
        self.src6.next = bit_cast::<128, 32>(self.s1_l3.q.val().get_bits::<32>(496))
            | (bit_cast::<128, 32>(self.s1_l3.q.val().get_bits::<32>(464)) << 32)
            | (bit_cast::<128, 32>(self.s1_l3.q.val().get_bits::<32>(432)) << 64)
            | (bit_cast::<128, 32>(self.s1_l3.q.val().get_bits::<32>(400)) << 96);
        self.dst6.next = bit_cast::<128, 32>(self.s1_l3.q.val().get_bits::<32>(368))
            | (bit_cast::<128, 32>(self.s1_l3.q.val().get_bits::<32>(336)) << 32)
            | (bit_cast::<128, 32>(self.s1_l3.q.val().get_bits::<32>(304)) << 64)
            | (bit_cast::<128, 32>(self.s1_l3.q.val().get_bits::<32>(272)) << 96);

        self.s2_valid.d.next = self.s1_valid.q.val();
        self.s2_id.d.next = self.s1_id.q.val();
        self.s2_vlan.d.next = self.s1_vlan.q.val();
        self.s2_verdict.d.next = self.verdict.val();
        self.s2_af.d.next = self.is6.val();
        self.s2_proto.d.next = self.proto.val();
        if self.is6.val() {
            self.s2_src.d.next = self.src6.val();
            self.s2_dst.d.next = self.dst6.val();
        } else {
            self.s2_src.d.next = self.src4.val();
            self.s2_dst.d.next = self.dst4.val();
        }
        self.s2_l4.d.next = self
            .s1_l3
            .q
            .val()
            .get_bits::<L4_BITS>(self.shamt.val().index());
        // IP payload length (only used when the verdict is OK, so iplen >= ip_need_l4)
        self.s2_l4len.d.next = self.iplen.val() - self.ip_need_hdr.val();

        // ---------------- stage 3: L4 fields ----------------
        self.o_valid.d.next = self.s2_valid.q.val();
        self.o_id.d.next = self.s2_id.q.val();
        // TCP data offset (byte 12, high nibble) * 4 and the UDP length (bytes 4..5) must fit
        // the IP payload, as the host's parser requires.
        self.doff.next = bit_cast::<16, 4>(self.s2_l4.q.val().get_bits::<4>(12)) << 2;
        self.ulen.next = self.s2_l4.q.val().get_bits::<16>(64);
        self.l4_bad.next = false;
        if self.s2_proto.q.val() == 6 {
            self.l4_bad.next = (self.doff.val() < 20) | (self.doff.val() > self.s2_l4len.q.val());
        }
        if self.s2_proto.q.val() == 17 {
            self.l4_bad.next = (self.ulen.val() != 0)
                & ((self.ulen.val() < 8) | (self.ulen.val() > self.s2_l4len.q.val()));
        }
        self.o_verdict.d.next = self.s2_verdict.q.val();
        if (self.s2_verdict.q.val() == 0) & self.l4_bad.val() {
            self.o_verdict.d.next = 4.into(); // VERDICT_MALFORMED
        }
        self.o_af.d.next = self.s2_af.q.val();
        self.o_vlan.d.next = self.s2_vlan.q.val();
        self.o_proto.d.next = self.s2_proto.q.val();
        self.o_src.d.next = self.s2_src.q.val();
        self.o_dst.d.next = self.s2_dst.q.val();
        self.o_sport.d.next = self.s2_l4.q.val().get_bits::<16>(96);
        self.o_dport.d.next = self.s2_l4.q.val().get_bits::<16>(80);
        self.o_chunk.d.next = self.s2_l4.q.val().get_bits::<8>(8);
        self.o_flags.d.next = self.s2_l4.q.val().get_bits::<8>(0);

        self.out_valid.next = self.o_valid.q.val();
        self.out_id.next = self.o_id.q.val();
        self.out_verdict.next = self.o_verdict.q.val();
        self.out_af.next = self.o_af.q.val();
        self.out_vlan.next = self.o_vlan.q.val();
        self.out_proto.next = self.o_proto.q.val();
        self.out_src.next = self.o_src.q.val();
        self.out_dst.next = self.o_dst.q.val();
        self.out_sport.next = self.o_sport.q.val();
        self.out_dport.next = self.o_dport.q.val();
        self.out_tcp_flags.next = self.o_flags.q.val();
        self.out_sctp_chunk.next = self.o_chunk.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::{front_check_verilog, front_tick, FrontRng};

    /// A parsed record as the software reference computes it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Rec {
        id: u16,
        verdict: u64,
        af: bool,
        vlan: bool,
        proto: u8,
        src: u128,
        dst: u128,
        sport: u16,
        dport: u16,
        flags: u8,
        chunk: u8,
    }

    fn be(b: &[u8]) -> u128 {
        b.iter().fold(0u128, |a, &x| (a << 8) | x as u128)
    }

    /// ABI address convention from network-order bytes.
    fn addr(b: &[u8]) -> u128 {
        b.chunks(4)
            .enumerate()
            .fold(0u128, |a, (k, w)| a | be(w) << (32 * k))
    }

    /// Reference parser written from the verdict rules of the module documentation.
    fn reference(pkt: &[u8], id: u16) -> Rec {
        let len = pkt.len().min(HDR_BYTES);
        let p = &pkt[..len];
        let mut r = Rec {
            id,
            verdict: VERDICT_MALFORMED,
            af: false,
            vlan: false,
            proto: 0,
            src: 0,
            dst: 0,
            sport: 0,
            dport: 0,
            flags: 0,
            chunk: 0,
        };
        if len < 14 {
            return r;
        }
        let mut et = be(&p[12..14]) as u16;
        let mut l3 = 14;
        if et == 0x8100 {
            r.vlan = true;
            l3 = 18;
            if len < 18 {
                return r;
            }
            et = be(&p[16..18]) as u16;
        }
        let is6 = match et {
            0x0800 => false,
            0x86dd => true,
            _ => {
                r.verdict = VERDICT_NOT_IP;
                return r;
            }
        };
        r.af = is6;
        let min = if is6 { 40 } else { 20 };
        if len < l3 + min {
            return r;
        }
        let ver = p[l3] >> 4;
        let (hlen, iplen, proto, ip_hdr_need) = if is6 {
            if ver != 6 {
                return r;
            }
            (40, be(&p[l3 + 4..l3 + 6]) as usize, p[l3 + 6], 0)
        } else {
            let ihl = (p[l3] & 15) as usize;
            if ver != 4 || ihl < 5 {
                return r;
            }
            (ihl * 4, be(&p[l3 + 2..l3 + 4]) as usize, p[l3 + 9], ihl * 4)
        };
        // the frame must hold the whole IP packet (L2 + total length, L2 + 40 + payload length)
        let ip_end = l3 + if is6 { 40 } else { 0 } + iplen;
        if len < l3 + hlen || iplen < ip_hdr_need || pkt.len() < ip_end {
            return r;
        }
        if !is6 && be(&p[l3 + 6..l3 + 8]) & 0x3fff != 0 {
            r.verdict = VERDICT_FRAGMENT;
            return r;
        }
        if !matches!(proto, 6 | 17 | 132) {
            r.verdict = VERDICT_UNSUPPORTED;
            return r;
        }
        let need = match proto {
            6 => 20,
            132 => 16,
            _ => 8,
        };
        if len < l3 + hlen + need || iplen < ip_hdr_need + need {
            return r;
        }
        let l4 = l3 + hlen;
        let l4len = iplen - ip_hdr_need;
        if proto == 6 {
            let doff = (p[l4 + 12] >> 4) as usize * 4;
            if doff < 20 || doff > l4len {
                return r;
            }
        }
        if proto == 17 {
            let ulen = be(&p[l4 + 4..l4 + 6]) as usize;
            if ulen != 0 && (ulen < 8 || ulen > l4len) {
                return r;
            }
        }
        r.verdict = VERDICT_OK;
        r.proto = proto;
        if is6 {
            r.src = addr(&p[l3 + 8..l3 + 24]);
            r.dst = addr(&p[l3 + 24..l3 + 40]);
        } else {
            r.src = addr(&p[l3 + 12..l3 + 16]);
            r.dst = addr(&p[l3 + 16..l3 + 20]);
        }
        r.sport = be(&p[l4..l4 + 2]) as u16;
        r.dport = be(&p[l4 + 2..l4 + 4]) as u16;
        r.chunk = if proto == 132 { p[l4 + 12] } else { 0 };
        r.flags = if proto == 6 { p[l4 + 13] } else { 0 };
        r
    }

    fn rand_bytes(rng: &mut FrontRng, n: usize) -> Vec<u8> {
        (0..n).map(|_| rng.next_u64() as u8).collect()
    }

    /// A beat from its bytes (first byte in the top bits); the bytes past `chunk` are garbage.
    fn beat_bits(chunk: &[u8], rng: &mut FrontRng) -> Bits<DATA_BITS> {
        let mut b = rand_bytes(rng, BEAT_BYTES);
        b[..chunk.len()].copy_from_slice(chunk);
        b.iter().fold(Bits::<DATA_BITS>::default(), |a, &x| {
            (a << 8u64) | Bits::<DATA_BITS>::from(x as u64)
        })
    }

    fn rand_beat(rng: &mut FrontRng) -> Bits<DATA_BITS> {
        beat_bits(&[], rng)
    }

    /// A random packet: mostly well-formed, with every kind of defect sometimes.
    fn gen_packet(rng: &mut FrontRng) -> Vec<u8> {
        let mut p = rand_bytes(rng, 12);
        if rng.chance(30) {
            p.extend_from_slice(&[0x81, 0x00, rng.next_u64() as u8 & 0x0f, 1]);
        }
        let kind = rng.below(100);
        let proto = match rng.below(10) {
            0..=2 => 6u8,
            3..=5 => 17,
            6..=7 => 132,
            8 => 1,
            _ => [0u8, 43, 44, 58][rng.below(4) as usize],
        };
        let l4len = 20 + rng.below(8) as usize;
        let payload = if rng.chance(8) {
            rng.below(1500) as usize
        } else {
            rng.below(24) as usize
        };
        // where the IP length field is (to claim more than the frame holds)
        let mut len_at = None;
        if kind < 45 {
            p.extend_from_slice(&[0x08, 0x00]);
            let ihl = if rng.chance(5) {
                rng.below(5) as usize
            } else {
                5 + rng.below(11) as usize
            };
            let mut h = rand_bytes(rng, ihl.max(5) * 4);
            h[0] = if rng.chance(5) { 0x65 } else { 0x40 } | ihl as u8;
            let tot = if rng.chance(8) {
                rng.below(80) as usize
            } else {
                ihl * 4 + l4len + payload
            };
            h[2] = (tot >> 8) as u8;
            h[3] = tot as u8;
            len_at = Some(p.len() + 2);
            let frag: u16 = match rng.below(12) {
                0 => 0x2000,
                1 => rng.below(0x2000) as u16,
                2 => 0x4000,
                _ => 0,
            };
            h[6] = (frag >> 8) as u8;
            h[7] = frag as u8;
            h[9] = proto;
            p.extend_from_slice(&h);
        } else if kind < 88 {
            p.extend_from_slice(&[0x86, 0xdd]);
            let mut h = rand_bytes(rng, 40);
            h[0] = if rng.chance(5) { 0x40 } else { 0x60 } | (h[0] & 15);
            let pl = if rng.chance(8) {
                rng.below(20) as usize
            } else {
                l4len + payload
            };
            h[4] = (pl >> 8) as u8;
            h[5] = pl as u8;
            len_at = Some(p.len() + 4);
            h[6] = proto;
            p.extend_from_slice(&h);
        } else {
            let et = [0x0806u16, 0x8100, 0x88a8, 0x0000][rng.below(4) as usize];
            p.extend_from_slice(&et.to_be_bytes());
        }
        let l4_at = p.len();
        p.extend(rand_bytes(rng, l4len + payload));
        if rng.chance(85) {
            // mostly valid TCP data offset / UDP length (else random)
            let l4 = l4len + payload;
            if proto == 6 {
                let doff = 5 + rng.below((l4 / 4).min(15) as u64 - 4) as u8;
                p[l4_at + 12] = doff << 4 | (p[l4_at + 12] & 15);
            } else if proto == 17 {
                let ulen = if rng.chance(10) { 0 } else { l4 as u16 };
                p[l4_at + 4..l4_at + 6].copy_from_slice(&ulen.to_be_bytes());
            }
        }
        if rng.chance(12) {
            // Ethernet padding (or trailer) after the IP packet
            let n = 1 + rng.below(50) as usize;
            p.extend(rand_bytes(rng, n));
        }
        if let (Some(at), true) = (len_at, rng.chance(12)) {
            // the IP length claims a few bytes more (or less) than the frame holds
            let v = u16::from_be_bytes([p[at], p[at + 1]]);
            let d = 1 + rng.below(9) as u16;
            let v = if rng.chance(70) {
                v.wrapping_add(d)
            } else {
                v.wrapping_sub(d)
            };
            p[at..at + 2].copy_from_slice(&v.to_be_bytes());
        }
        if rng.chance(15) {
            let n = rng.below(p.len() as u64 + 1) as usize;
            p.truncate(n);
        }
        if rng.chance(2) {
            p.clear();
        }
        p
    }

    fn check(o: &Parser, e: &Rec) {
        assert_eq!(o.out_id.val().to_u64() as u16, e.id, "id");
        assert_eq!(o.out_verdict.val().to_u64(), e.verdict, "verdict {e:x?}");
        if e.verdict == VERDICT_OK {
            let got = Rec {
                id: e.id,
                verdict: e.verdict,
                af: o.out_af.val(),
                vlan: o.out_vlan.val(),
                proto: o.out_proto.val().to_u64() as u8,
                src: o.out_src.val().to_u128(),
                dst: o.out_dst.val().to_u128(),
                sport: o.out_sport.val().to_u64() as u16,
                dport: o.out_dport.val().to_u64() as u16,
                flags: if e.proto == 6 {
                    o.out_tcp_flags.val().to_u64() as u8
                } else {
                    0
                },
                chunk: if e.proto == 132 {
                    o.out_sctp_chunk.val().to_u64() as u8
                } else {
                    0
                },
            };
            assert_eq!(&got, e);
        }
    }

    fn run(seed: u64, packets: usize) {
        let mut rng = FrontRng(seed);
        let pkts: Vec<Vec<u8>> = (0..packets).map(|_| gen_packet(&mut rng)).collect();
        let hist = drive(&mut rng, 20, &pkts);
        eprintln!("verdict histogram (ok, not-ip, unsupported, fragment, malformed): {hist:?}");
        assert!(hist.iter().all(|&h| h > 0) && hist[0] > packets / 4);
    }

    /// Send `pkts` back to back (with idle cycles, `idle_pct` % before each beat, carrying
    /// garbage) and check every record against the reference, exactly [`LATENCY`] cycles after
    /// the packet's last beat. Returns the verdict histogram.
    fn drive(rng: &mut FrontRng, idle_pct: u64, pkts: &[Vec<u8>]) -> [usize; 5] {
        drive_log(rng, idle_pct, pkts).0
    }

    /// [`drive`], also returning the cycle of every record.
    fn drive_log(rng: &mut FrontRng, idle_pct: u64, pkts: &[Vec<u8>]) -> ([usize; 5], Vec<usize>) {
        let packets = pkts.len();
        let mut uut = Parser::default();
        uut.connect_all();
        // (cycle at which the record is due, record)
        let mut due: std::collections::VecDeque<(usize, Rec)> = Default::default();
        let mut cycle = 0usize;
        let mut hist = [0usize; 5];
        let mut seen: Vec<usize> = vec![];
        let step = |uut: &mut Parser,
                    due: &mut std::collections::VecDeque<(usize, Rec)>,
                    cycle: &mut usize,
                    seen: &mut Vec<usize>| {
            front_tick(uut, |u| &mut u.clock);
            *cycle += 1;
            assert!(uut.in_ready.val());
            // outputs now show cycle `cycle`
            if let Some(&(c, e)) = due.front() {
                if c == *cycle {
                    assert!(uut.out_valid.val(), "missing record at cycle {c}: {e:x?}");
                    check(uut, &e);
                    due.pop_front();
                    seen.push(*cycle);
                    return;
                }
                assert!(c > *cycle);
            }
            assert!(!uut.out_valid.val(), "unexpected record at cycle {cycle}");
        };
        for (n, pkt) in pkts.iter().enumerate() {
            let rec = reference(pkt, n as u16);
            hist[rec.verdict as usize] += 1;
            let beats = pkt.len().div_ceil(BEAT_BYTES).max(1);
            if std::env::var("PDEBUG").is_ok() {
                eprintln!("pkt {n} len {} at cycle {cycle}: {:02x?}", pkt.len(), pkt);
            }
            for b in 0..beats {
                while rng.chance(idle_pct) {
                    uut.in_valid.next = false;
                    uut.in_data.next = rand_beat(rng);
                    uut.in_last.next = rng.chance(50);
                    uut.in_nbytes.next = rng.below(128).into();
                    step(&mut uut, &mut due, &mut cycle, &mut seen);
                }
                let lo = (b * BEAT_BYTES).min(pkt.len());
                let chunk = &pkt[lo..((b + 1) * BEAT_BYTES).min(pkt.len())];
                let last = b + 1 == beats;
                uut.in_valid.next = true;
                uut.in_data.next = beat_bits(chunk, rng);
                uut.in_last.next = last;
                uut.in_nbytes.next = if last {
                    (chunk.len() as u64).into()
                } else {
                    rng.below(128).into()
                };
                if last {
                    due.push_back((cycle + LATENCY, rec));
                }
                step(&mut uut, &mut due, &mut cycle, &mut seen);
            }
        }
        uut.in_valid.next = false;
        for _ in 0..LATENCY + 2 {
            step(&mut uut, &mut due, &mut cycle, &mut seen);
        }
        assert!(due.is_empty());
        assert_eq!(seen.len(), packets);
        (hist, seen)
    }

    #[test]
    fn parser_random_vs_reference() {
        run(0x1234_5678_9abc_def1, 300);
    }

    /// A well-formed frame: Ethernet (+ VLAN), IPv4 (IHL `ihl`) or IPv6, the fixed L4 header of
    /// `proto` and `payload` bytes after it; the IP length fields say exactly that.
    fn frame(
        rng: &mut FrontRng,
        v6: bool,
        vlan: bool,
        ihl: usize,
        proto: u8,
        payload: usize,
    ) -> Vec<u8> {
        let mut p = rand_bytes(rng, 12);
        if vlan {
            p.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
        }
        let need = match proto {
            6 => 20,
            132 => 16,
            _ => 8,
        };
        let l4 = need + payload;
        if v6 {
            p.extend_from_slice(&[0x86, 0xdd]);
            let mut h = rand_bytes(rng, 40);
            h[0] = 0x60;
            h[4..6].copy_from_slice(&(l4 as u16).to_be_bytes());
            h[6] = proto;
            p.extend_from_slice(&h);
        } else {
            p.extend_from_slice(&[0x08, 0x00]);
            let mut h = rand_bytes(rng, ihl * 4);
            h[0] = 0x40 | ihl as u8;
            h[2..4].copy_from_slice(&((ihl * 4 + l4) as u16).to_be_bytes());
            h[6] = 0x40; // DF, offset 0
            h[7] = 0;
            h[9] = proto;
            p.extend_from_slice(&h);
        }
        let at = p.len();
        p.extend(rand_bytes(rng, l4));
        if proto == 6 {
            p[at + 12] = 0x50; // data offset 5
        } else if proto == 17 {
            p[at + 4..at + 6].copy_from_slice(&(l4 as u16).to_be_bytes());
        }
        p
    }

    /// The frame's byte count against the IP length: shorter than the IPv4 total length / IPv6
    /// payload length (+ L2 header, + 40) is MALFORMED even when the L4 header is complete; as
    /// long or longer (Ethernet padding) is OK. IP ends inside and beyond the first beat and the
    /// 128-byte header window, up to the largest IPv6 payload (a frame count past 16 bits), with idle cycles.
    #[test]
    fn parser_frame_shorter_than_ip_length() {
        let mut rng = FrontRng(0x0bad_f00d_1e57_0001);
        let mut pkts = vec![];
        let mut want = vec![];
        let mut add = |pkts: &mut Vec<Vec<u8>>, p: Vec<u8>, ok: bool| {
            let r = reference(&p, 0);
            let v = if ok { VERDICT_OK } else { VERDICT_MALFORMED };
            assert_eq!(r.verdict, v, "reference, frame of {}: {p:02x?}", p.len());
            want.push(v);
            pkts.push(p);
        };
        // (IPv6, VLAN, IHL, protocol); IHL 15 with a VLAN tag: the largest header (98 bytes)
        let configs = [
            (false, false, 5, 6u8),
            (false, true, 5, 17),
            (false, false, 10, 132),
            (false, false, 15, 6),
            (false, true, 15, 6),
            (true, false, 5, 6),
            (true, true, 5, 17),
            (true, true, 5, 132),
        ];
        for (k, &(v6, vlan, ihl, proto)) in configs.iter().enumerate() {
            // payloads: none, IP end inside the first beat, around 64 and 128 bytes, long frames
            let long = if k == 0 { 1500 } else { 200 };
            for payload in [0usize, 9, 31, 32, 33, 60, 70, 74, 75, 100, long] {
                let f = frame(&mut rng, v6, vlan, ihl, proto, payload);
                let n = f.len();
                let l4_end = n - payload;
                // every L4 header ends inside the window
                let fits = l4_end <= HDR_BYTES;
                assert!(fits, "{l4_end}");
                add(&mut pkts, f.clone(), fits);
                for pad in [1usize, 6, 8, 46] {
                    let mut g = f.clone();
                    g.extend(rand_bytes(&mut rng, pad));
                    add(&mut pkts, g, fits);
                }
                for cut in [1usize, 7, 8, 9] {
                    if n - cut >= l4_end {
                        add(&mut pkts, f[..n - cut].to_vec(), false);
                    }
                }
                // the IP length claims one byte more / one less than the frame
                let at = if vlan { 18 } else { 14 } + if v6 { 4 } else { 2 };
                let len = u16::from_be_bytes([f[at], f[at + 1]]);
                let mut g = f.clone();
                g[at..at + 2].copy_from_slice(&(len + 1).to_be_bytes());
                add(&mut pkts, g, false);
                if payload > 0 {
                    // (the UDP length then exceeds the IP payload: MALFORMED, rule 7)
                    let mut g = f.clone();
                    g[at..at + 2].copy_from_slice(&(len - 1).to_be_bytes());
                    add(&mut pkts, g, fits && proto != 17);
                }
            }
        }
        // the largest IP end (VLAN + IPv6 + 65,535): the frame count needs 17 bits
        let f = frame(&mut rng, true, true, 5, 17, 65535 - 8);
        assert_eq!(f.len(), 18 + 40 + 65535);
        add(&mut pkts, f, true);
        let hist = drive(&mut rng, 15, &pkts);
        assert_eq!(
            hist[VERDICT_OK as usize],
            want.iter().filter(|&&v| v == VERDICT_OK).count()
        );
        assert_eq!(
            hist[VERDICT_MALFORMED as usize] + hist[VERDICT_OK as usize],
            want.len()
        );
    }

    /// TCP data offset and UDP length against the IP payload (rule 7): every data offset with
    /// TCP payloads of 0, 4 and 40 bytes, and UDP lengths 0, 1..8, the IP payload and one more.
    #[test]
    fn parser_tcp_data_offset_and_udp_length() {
        let mut rng = FrontRng(0x0bad_f00d_1e57_0002);
        let mut pkts = vec![];
        let mut ok = 0;
        for v6 in [false, true] {
            for payload in [0usize, 4, 40] {
                for doff in 0..16usize {
                    let mut f = frame(&mut rng, v6, false, 5, 6, payload);
                    let at = f.len() - payload - 20;
                    f[at + 12] = (doff as u8) << 4;
                    let good = doff >= 5 && doff * 4 <= 20 + payload;
                    let want = if good { VERDICT_OK } else { VERDICT_MALFORMED };
                    assert_eq!(
                        reference(&f, 0).verdict,
                        want,
                        "TCP doff {doff} + {payload}"
                    );
                    ok += good as usize;
                    pkts.push(f);
                }
                let l4 = 8 + payload;
                for ulen in [0usize, 1, 4, 7, 8, 9, l4, l4 + 1, 0xffff] {
                    let mut f = frame(&mut rng, v6, true, 5, 17, payload);
                    let at = f.len() - l4;
                    f[at + 4..at + 6].copy_from_slice(&(ulen as u16).to_be_bytes());
                    let good = ulen == 0 || (8..=l4).contains(&ulen);
                    let want = if good { VERDICT_OK } else { VERDICT_MALFORMED };
                    assert_eq!(
                        reference(&f, 0).verdict,
                        want,
                        "UDP length {ulen} + {payload}"
                    );
                    ok += good as usize;
                    pkts.push(f);
                }
            }
        }
        let hist = drive(&mut rng, 15, &pkts);
        assert_eq!(hist[VERDICT_OK as usize], ok);
        assert_eq!(hist[VERDICT_MALFORMED as usize], pkts.len() - ok);
    }

    #[test]
    fn parser_back_to_back_runts() {
        // zero-length and one-beat packets every cycle must each give a MALFORMED record
        let mut rng = FrontRng(7);
        let mut uut = Parser::default();
        uut.connect_all();
        let mut outs = vec![];
        for c in 0..12 {
            uut.in_valid.next = c < 8;
            uut.in_last.next = true;
            uut.in_data.next = beat_bits(&[1, 2, 3, 4, 5, 6, 7, 8], &mut rng);
            uut.in_nbytes.next = ((c % 4) as u64 * 4).into();
            front_tick(&mut uut, |u| &mut u.clock);
            if uut.out_valid.val() {
                outs.push((c + 1, uut.out_verdict.val().to_u64()));
            }
        }
        let want: Vec<_> = (0..8).map(|c| (c + LATENCY, VERDICT_MALFORMED)).collect();
        assert_eq!(outs, want);
    }

    /// (IPv6, VLAN, IHL, protocol) of the length sweeps: header ends at 54, 98 (the largest),
    /// 62, 74 and 54 bytes.
    const SWEEP: [(bool, bool, usize, u8); 5] = [
        (false, false, 5, 6),
        (false, true, 15, 6),
        (true, false, 5, 17),
        (true, true, 5, 132),
        (false, false, 8, 17),
    ];

    /// Frames of exactly `len` bytes for every [`SWEEP`] configuration: a well-formed frame
    /// whose IP length ends at `len` (or the prefix of one, when `len` is shorter than its
    /// headers), one with half of the space after the headers as Ethernet padding, and one
    /// whose IP length claims a byte more than the frame holds.
    fn frames_of_len(rng: &mut FrontRng, len: usize) -> Vec<Vec<u8>> {
        let mut out = vec![];
        for &(v6, vlan, ihl, proto) in &SWEEP {
            let f0 = frame(rng, v6, vlan, ihl, proto, 0);
            let hdr = f0.len();
            if len < hdr {
                out.push(f0[..len].to_vec());
                continue;
            }
            out.push(frame(rng, v6, vlan, ihl, proto, len - hdr));
            let payload = (len - hdr) / 2;
            let mut g = frame(rng, v6, vlan, ihl, proto, payload);
            g.extend(rand_bytes(rng, len - hdr - payload));
            out.push(g);
            let mut g = frame(rng, v6, vlan, ihl, proto, len - hdr);
            let at = if vlan { 18 } else { 14 } + if v6 { 4 } else { 2 };
            let l = u16::from_be_bytes([g[at], g[at + 1]]);
            g[at..at + 2].copy_from_slice(&(l + 1).to_be_bytes());
            out.push(g);
        }
        for f in &out {
            assert_eq!(f.len(), len);
        }
        out
    }

    /// Every frame length from 0 to 200 bytes (1 to 4 beats, both sides of every beat boundary
    /// and of the 128-byte window), well-formed, padded and short of their IP length, each
    /// against the reference: back to back with no idle cycle, then again with random idle.
    #[test]
    fn parser_every_frame_length() {
        let mut rng = FrontRng(0x0bad_f00d_1e57_0003);
        let pkts: Vec<Vec<u8>> = (0..=200).flat_map(|n| frames_of_len(&mut rng, n)).collect();
        let hist = drive(&mut rng, 0, &pkts);
        eprintln!("histogram (ok, not-ip, unsupported, fragment, malformed): {hist:?}");
        assert!(hist[VERDICT_OK as usize] > pkts.len() / 3, "{hist:?}");
        assert_eq!(hist.iter().sum::<usize>(), pkts.len());
        let hist2 = drive(&mut rng, 30, &pkts);
        assert_eq!(hist, hist2);
    }

    /// One-beat frames (0..=64 bytes) on consecutive clocks, no idle: one record per clock,
    /// each exactly LATENCY clocks after its beat (`drive` checks the cycle of every record),
    /// and the records come out on consecutive clocks.
    #[test]
    fn parser_one_beat_frames_back_to_back() {
        let mut rng = FrontRng(0x0bad_f00d_1e57_0004);
        let mut pkts = vec![];
        for k in 0..400 {
            let len = match k % 4 {
                0 => 54 + rng.below(11) as usize,
                1 => 60 + rng.below(5) as usize,
                2 => rng.below(65) as usize,
                _ => 54,
            };
            let fs = frames_of_len(&mut rng, len);
            pkts.push(fs[rng.below(fs.len() as u64) as usize].clone());
        }
        assert!(pkts.iter().all(|p| p.len() <= BEAT_BYTES));
        let (hist, cycles) = drive_log(&mut rng, 0, &pkts);
        assert!(hist[VERDICT_OK as usize] > pkts.len() / 4, "{hist:?}");
        assert!(
            hist[VERDICT_MALFORMED as usize] > pkts.len() / 4,
            "{hist:?}"
        );
        assert_eq!(cycles.len(), pkts.len());
        assert!(
            cycles.windows(2).all(|w| w[1] == w[0] + 1),
            "one record per clock"
        );
        assert_eq!(cycles[0], LATENCY);
    }

    #[test]
    fn parser_verilog() {
        front_check_verilog("parser", &mut Parser::default());
    }
}
