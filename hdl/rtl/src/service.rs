//! Virtual-service lookup (ABI `ServiceEntry`), IPVS order (`ipvs-semantics.md` §3):
//! 1. `in_mark != 0`: the fwmark service with equal (af, mark) (exact 32-bit compare);
//! 2. else the exact (af, proto, vaddr, vport) service;
//! 3. FTP-data fallback, NOT decided on the card: no service from 1-2, `ftp_fallback_en`, TCP,
//!    `vport == 20 || vport >= unpriv_port`, and a (af, TCP, vaddr, 21) service exists -> miss
//!    `HostOnly` (the kernel would pick the FTP service here, before the port-zero service);
//! 4. else the port-zero service (af, proto, vaddr, 0);
//! 5. none -> miss `NoService`. A hit on a `host_only` service -> miss `HostOnly`.
//!
//! The service table holds at most one entry per key (the host guarantees it), so each class
//! (fwmark / exact / port-zero) has at most one hit; the three match vectors are one-hot encoded
//! with OR reductions, never a priority chain.
//!
//! # Write port
//! `wr_en`, `wr_idx` (indices >= S ignored), `wr_data` = the 12-word `ServiceEntry` image (word k in
//! bits 32k+31..32k; `valid = 0` removes the service). A write in cycle W is seen, consistently,
//! by lookups presented in cycles > W (the key copy is written at once, the result copy one cycle
//! later, matching the pipeline).
//!
//! # Pipeline (LATENCY = 2)
//! * edge 0: S x 4 parallel compares (fwmark, exact, port-zero, FTP port 21) -> match vectors.
//! * edge 1: class priority, one-hot OR-mux of the hit entry, index encode, miss reason.

use crate::common::{default_array, front_index_consts};
use rust_hdl::prelude::*;

/// Cycles from `in_valid` to `out_valid`.
pub const LATENCY: usize = 2;
/// Bits of a `ServiceEntry` image (12 words).
pub const SERVICE_BITS: usize = 12 * 32;
/// `MissReason::NoService`.
pub const REASON_NO_SERVICE: u64 = 1;
/// `MissReason::HostOnly`.
pub const REASON_HOST_ONLY: u64 = 8;
/// `out_idx` when no service was found (`lvsnic_abi::limits::NO_SERVICE`).
pub const NO_SERVICE_IDX: u64 = 0xff;

/// Service lookup with `S` services (S <= 255). Ports (direction, width):
#[derive(LogicBlock)]
pub struct ServiceLookup<const S: usize> {
    /// in: clock
    pub clock: Signal<In, Clock>,
    /// in 1: write strobe
    pub wr_en: Signal<In, Bit>,
    /// in 8: service index
    pub wr_idx: Signal<In, Bits<8>>,
    /// in 384: ServiceEntry image
    pub wr_data: Signal<In, Bits<SERVICE_BITS>>,
    /// in 1: CTRL.ftp_fallback (an FTP port-21 service exists)
    pub ftp_fallback_en: Signal<In, Bit>,
    /// in 16: UNPRIV_PORT (ip_unprivileged_port_start)
    pub unpriv_port: Signal<In, Bits<16>>,
    /// in 1: lookup presented
    pub in_valid: Signal<In, Bit>,
    /// in 1: address family
    pub in_af: Signal<In, Bit>,
    /// in 8: IP protocol
    pub in_proto: Signal<In, Bits<8>>,
    /// in 128: virtual address (packet destination, ABI convention)
    pub in_vaddr: Signal<In, Bits<128>>,
    /// in 16: virtual port (packet destination port)
    pub in_vport: Signal<In, Bits<16>>,
    /// in 32: packet mark (after the fwmark rules)
    pub in_mark: Signal<In, Bits<32>>,
    /// out 1: result valid
    pub out_valid: Signal<Out, Bit>,
    /// out 1: a service was found (also when it is host_only)
    pub out_hit: Signal<Out, Bit>,
    /// out 8: service index, 0xff when none
    pub out_idx: Signal<Out, Bits<8>>,
    /// out 1: the packet must miss to the host with `out_reason`
    pub out_miss: Signal<Out, Bit>,
    /// out 4: MissReason (NoService 1 / HostOnly 8) when `out_miss`, else 0
    pub out_reason: Signal<Out, Bits<4>>,
    /// out 1: service flag IP_VS_SVC_F_PERSISTENT
    pub out_persistent: Signal<Out, Bit>,
    /// out 1: service flag one-packet
    pub out_ops: Signal<Out, Bit>,
    /// out 1: service flag host_only
    pub out_host_only: Signal<Out, Bit>,
    /// out 1: the service is a fwmark service
    pub out_is_fwmark: Signal<Out, Bit>,
    /// out 128: persistence client mask
    pub out_pmask: Signal<Out, Bits<128>>,
    /// out 32: persistence timeout (ticks)
    pub out_timeout: Signal<Out, Bits<32>>,
    /// out 32: the service's fwmark (0 for address services)
    pub out_fwmark: Signal<Out, Bits<32>>,
    /// out 16: the service's vport (0: port-zero service)
    pub out_vport: Signal<Out, Bits<16>>,

    kidx: [Constant<Bits<8>>; S],
    key: [DFF<Bits<SERVICE_BITS>>; S],
    data: [DFF<Bits<SERVICE_BITS>>; S],
    wd_en: DFF<Bit>,
    wd_idx: DFF<Bits<8>>,
    wd_data: DFF<Bits<SERVICE_BITS>>,
    addr: [Signal<Local, Bit>; S],
    // stage 1
    fw: [DFF<Bit>; S],
    ex: [DFF<Bit>; S],
    pz: [DFF<Bit>; S],
    f21: [DFF<Bit>; S],
    s1_valid: DFF<Bit>,
    s1_ftp: DFF<Bit>,
    // stage 2
    or_fw: [Signal<Local, Bit>; S],
    or_ex: [Signal<Local, Bit>; S],
    or_f21: [Signal<Local, Bit>; S],
    or_sel: [Signal<Local, Bit>; S],
    any_fw: Signal<Local, Bit>,
    any_ex: Signal<Local, Bit>,
    ftp_host: Signal<Local, Bit>,
    sel: [Signal<Local, Bit>; S],
    or_idx: [Signal<Local, Bits<8>>; S],
    or_data: [Signal<Local, Bits<SERVICE_BITS>>; S],
    hit: Signal<Local, Bit>,
    hd: Signal<Local, Bits<SERVICE_BITS>>,
    hidx: Signal<Local, Bits<8>>,
    o_valid: DFF<Bit>,
    o_hit: DFF<Bit>,
    o_idx: DFF<Bits<8>>,
    o_miss: DFF<Bit>,
    o_reason: DFF<Bits<4>>,
    o_data: DFF<Bits<SERVICE_BITS>>,
}

impl<const S: usize> Default for ServiceLookup<S> {
    fn default() -> Self {
        assert!((1..=255).contains(&S), "1 <= S <= 255");
        Self {
            clock: Default::default(),
            wr_en: Default::default(),
            wr_idx: Default::default(),
            wr_data: Default::default(),
            ftp_fallback_en: Default::default(),
            unpriv_port: Default::default(),
            in_valid: Default::default(),
            in_af: Default::default(),
            in_proto: Default::default(),
            in_vaddr: Default::default(),
            in_vport: Default::default(),
            in_mark: Default::default(),
            out_valid: Default::default(),
            out_hit: Default::default(),
            out_idx: Default::default(),
            out_miss: Default::default(),
            out_reason: Default::default(),
            out_persistent: Default::default(),
            out_ops: Default::default(),
            out_host_only: Default::default(),
            out_is_fwmark: Default::default(),
            out_pmask: Default::default(),
            out_timeout: Default::default(),
            out_fwmark: Default::default(),
            out_vport: Default::default(),
            kidx: front_index_consts(),
            key: default_array(),
            data: default_array(),
            wd_en: Default::default(),
            wd_idx: Default::default(),
            wd_data: Default::default(),
            addr: default_array(),
            fw: default_array(),
            ex: default_array(),
            pz: default_array(),
            f21: default_array(),
            s1_valid: Default::default(),
            s1_ftp: Default::default(),
            or_fw: default_array(),
            or_ex: default_array(),
            or_f21: default_array(),
            or_sel: default_array(),
            any_fw: Default::default(),
            any_ex: Default::default(),
            ftp_host: Default::default(),
            sel: default_array(),
            or_idx: default_array(),
            or_data: default_array(),
            hit: Default::default(),
            hd: Default::default(),
            hidx: Default::default(),
            o_valid: Default::default(),
            o_hit: Default::default(),
            o_idx: Default::default(),
            o_miss: Default::default(),
            o_reason: Default::default(),
            o_data: Default::default(),
        }
    }
}

impl<const S: usize> Logic for ServiceLookup<S> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, wd_en, wd_idx, wd_data, s1_valid, s1_ftp, o_valid, o_hit, o_idx, o_miss,
            o_reason, o_data
        );
        self.wd_en.d.next = self.wr_en.val();
        self.wd_idx.d.next = self.wr_idx.val();
        self.wd_data.d.next = self.wr_data.val();
        // ---------------- stage 1: compares ----------------
        for i in 0..S {
            self.key[i].clock.next = self.clock.val();
            self.data[i].clock.next = self.clock.val();
            self.fw[i].clock.next = self.clock.val();
            self.ex[i].clock.next = self.clock.val();
            self.pz[i].clock.next = self.clock.val();
            self.f21[i].clock.next = self.clock.val();
            self.key[i].d.next = self.key[i].q.val();
            self.data[i].d.next = self.data[i].q.val();
            if self.wr_en.val() & (self.wr_idx.val() == self.kidx[i].val()) {
                self.key[i].d.next = self.wr_data.val();
            }
            if self.wd_en.q.val() & (self.wd_idx.q.val() == self.kidx[i].val()) {
                self.data[i].d.next = self.wd_data.q.val();
            }
            // valid, same af, address service, same proto and vaddr
            self.addr[i].next = self.key[i].q.val().get_bit(320)
                & (self.key[i].q.val().get_bit(312) == self.in_af.val())
                & !self.key[i].q.val().get_bit(313)
                & (self.key[i].q.val().get_bits::<8>(304) == self.in_proto.val())
                & (self.key[i].q.val().get_bits::<128>(0) == self.in_vaddr.val());
            self.fw[i].d.next = self.key[i].q.val().get_bit(320)
                & (self.key[i].q.val().get_bit(312) == self.in_af.val())
                & self.key[i].q.val().get_bit(313)
                & self.in_mark.val().any()
                & (self.key[i].q.val().get_bits::<32>(256) == self.in_mark.val());
            self.ex[i].d.next = self.addr[i].val()
                & (self.key[i].q.val().get_bits::<16>(288) == self.in_vport.val());
            self.pz[i].d.next = self.addr[i].val() & (self.key[i].q.val().get_bits::<16>(288) == 0);
            self.f21[i].d.next =
                self.addr[i].val() & (self.key[i].q.val().get_bits::<16>(288) == 21);
        }
        self.s1_valid.d.next = self.in_valid.val();
        self.s1_ftp.d.next = self.ftp_fallback_en.val()
            & (self.in_proto.val() == 6)
            & ((self.in_vport.val() == 20) | (self.in_vport.val() >= self.unpriv_port.val()));
        // ---------------- stage 2: class priority, one-hot select ----------------
        self.or_fw[0].next = self.fw[0].q.val();
        self.or_ex[0].next = self.ex[0].q.val();
        self.or_f21[0].next = self.f21[0].q.val();
        for i in 1..S {
            self.or_fw[i].next = self.or_fw[i - 1].val() | self.fw[i].q.val();
            self.or_ex[i].next = self.or_ex[i - 1].val() | self.ex[i].q.val();
            self.or_f21[i].next = self.or_f21[i - 1].val() | self.f21[i].q.val();
        }
        // (index expressions may not use S: a one-iteration loop names the last element)
        for i in (S - 1)..S {
            self.any_fw.next = self.or_fw[i].val();
            self.any_ex.next = self.or_ex[i].val();
            self.ftp_host.next = !self.or_fw[i].val()
                & !self.or_ex[i].val()
                & self.s1_ftp.q.val()
                & self.or_f21[i].val();
        }
        for i in 0..S {
            self.sel[i].next = self.fw[i].q.val()
                | (self.ex[i].q.val() & !self.any_fw.val())
                | (self.pz[i].q.val()
                    & !self.any_fw.val()
                    & !self.any_ex.val()
                    & !self.ftp_host.val());
        }
        self.or_sel[0].next = self.sel[0].val();
        self.or_idx[0].next = 0.into();
        self.or_data[0].next = 0.into();
        if self.sel[0].val() {
            self.or_idx[0].next = self.kidx[0].val();
            self.or_data[0].next = self.data[0].q.val();
        }
        for i in 1..S {
            self.or_sel[i].next = self.or_sel[i - 1].val() | self.sel[i].val();
            self.or_idx[i].next = self.or_idx[i - 1].val();
            self.or_data[i].next = self.or_data[i - 1].val();
            if self.sel[i].val() {
                self.or_idx[i].next = self.or_idx[i - 1].val() | self.kidx[i].val();
                self.or_data[i].next = self.or_data[i - 1].val() | self.data[i].q.val();
            }
        }
        for i in (S - 1)..S {
            self.hit.next = self.or_sel[i].val();
            self.hd.next = self.or_data[i].val();
            self.hidx.next = self.or_idx[i].val();
        }
        self.o_valid.d.next = self.s1_valid.q.val();
        self.o_hit.d.next = self.hit.val();
        self.o_data.d.next = self.hd.val();
        if self.hit.val() {
            self.o_idx.d.next = self.hidx.val();
            self.o_miss.d.next = self.hd.val().get_bit(323);
            if self.hd.val().get_bit(323) {
                self.o_reason.d.next = 8.into(); // HostOnly
            } else {
                self.o_reason.d.next = 0.into();
            }
        } else {
            self.o_idx.d.next = 0xff.into();
            self.o_miss.d.next = true;
            if self.ftp_host.val() {
                self.o_reason.d.next = 8.into(); // HostOnly
            } else {
                self.o_reason.d.next = 1.into(); // NoService
            }
        }
        self.out_valid.next = self.o_valid.q.val();
        self.out_hit.next = self.o_hit.q.val();
        self.out_idx.next = self.o_idx.q.val();
        self.out_miss.next = self.o_miss.q.val();
        self.out_reason.next = self.o_reason.q.val();
        self.out_persistent.next = self.o_data.q.val().get_bit(321);
        self.out_ops.next = self.o_data.q.val().get_bit(322);
        self.out_host_only.next = self.o_data.q.val().get_bit(323);
        self.out_is_fwmark.next = self.o_data.q.val().get_bit(313);
        self.out_pmask.next = self.o_data.q.val().get_bits::<128>(128);
        self.out_timeout.next = self.o_data.q.val().get_bits::<32>(352);
        self.out_fwmark.next = self.o_data.q.val().get_bits::<32>(256);
        self.out_vport.next = self.o_data.q.val().get_bits::<16>(288);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::{
        front_bits128, front_check_verilog, front_tick, front_words_to_bits, FrontRng,
    };
    use lvsnic_abi::types::{addr_bits, Af};
    use lvsnic_abi::{PersistMask, ServiceEntry, ServiceKey};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Out {
        hit: bool,
        idx: u8,
        miss: bool,
        reason: u8,
        entry: Option<ServiceEntry>,
    }

    struct Pkt {
        af: Af,
        proto: u8,
        vaddr: IpAddr,
        vport: u16,
        mark: u32,
    }

    const PORTS: [u16; 5] = [0, 20, 21, 80, 2000];

    fn vaddr(rng: &mut FrontRng, af: Af) -> IpAddr {
        let k = rng.below(2) as u8;
        match af {
            Af::V4 => IpAddr::V4(Ipv4Addr::new(10, 0, 0, k)),
            Af::V6 => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, k as u16)),
        }
    }

    fn af(rng: &mut FrontRng) -> Af {
        if rng.chance(50) {
            Af::V4
        } else {
            Af::V6
        }
    }

    fn gen_service(rng: &mut FrontRng) -> ServiceEntry {
        let a = af(rng);
        let key = if rng.chance(25) {
            ServiceKey::Fwmark {
                af: a,
                mark: 1 + rng.below(4) as u32,
            }
        } else {
            ServiceKey::Addr {
                proto: [6u8, 6, 17, 132][rng.below(4) as usize],
                vaddr: vaddr(rng, a),
                vport: PORTS[rng.below(5) as usize],
            }
        };
        let persistent = rng.chance(50);
        ServiceEntry {
            key,
            persistent,
            ops: rng.chance(20),
            host_only: rng.chance(20),
            mask: match a {
                Af::V4 => PersistMask::V4(rng.next_u64() as u32),
                Af::V6 => PersistMask::V6(1 + rng.below(128) as u8),
            },
            timeout_ms: if persistent {
                1 + rng.below(1_000_000) as u32
            } else {
                0
            },
        }
    }

    /// IPVS §3 lookup order, with the FTP-data fallback left to the host.
    fn reference(t: &[Option<ServiceEntry>], p: &Pkt, ftp_en: bool, unpriv: u16) -> Out {
        let find = |f: &dyn Fn(&ServiceEntry) -> bool| {
            t.iter()
                .enumerate()
                .find(|(_, e)| e.as_ref().is_some_and(f))
                .map(|(i, e)| (i, e.unwrap()))
        };
        let addr = |e: &ServiceEntry, port: u16| match e.key {
            ServiceKey::Addr {
                proto,
                vaddr,
                vport,
            } => proto == p.proto && vaddr == p.vaddr && vport == port,
            _ => false,
        };
        let mut r = None;
        if p.mark != 0 {
            r = find(&|e| {
                e.key
                    == ServiceKey::Fwmark {
                        af: p.af,
                        mark: p.mark,
                    }
            });
        }
        if r.is_none() {
            r = find(&|e| addr(e, p.vport));
        }
        if r.is_none()
            && ftp_en
            && p.proto == 6
            && (p.vport == 20 || p.vport >= unpriv)
            && find(&|e| addr(e, 21)).is_some()
        {
            return Out {
                hit: false,
                idx: 0xff,
                miss: true,
                reason: REASON_HOST_ONLY as u8,
                entry: None,
            };
        }
        if r.is_none() {
            r = find(&|e| addr(e, 0));
        }
        match r {
            None => Out {
                hit: false,
                idx: 0xff,
                miss: true,
                reason: REASON_NO_SERVICE as u8,
                entry: None,
            },
            Some((i, e)) => Out {
                hit: true,
                idx: i as u8,
                miss: e.host_only,
                reason: if e.host_only {
                    REASON_HOST_ONLY as u8
                } else {
                    0
                },
                entry: Some(e),
            },
        }
    }

    fn read<const S: usize>(u: &ServiceLookup<S>, want: &Out) -> Out {
        let entry = want.entry.inspect(|e| {
            // compare the data fields the block outputs against the expected entry's image
            let w = e.encode().unwrap();
            let img: Bits<SERVICE_BITS> = front_words_to_bits(&w);
            assert_eq!(u.out_pmask.val(), img.get_bits::<128>(128), "pmask");
            assert_eq!(u.out_timeout.val().to_u64() as u32, e.timeout_ms, "timeout");
            assert_eq!(u.out_fwmark.val(), img.get_bits::<32>(256), "fwmark");
            assert_eq!(u.out_vport.val(), img.get_bits::<16>(288), "vport");
            assert_eq!(u.out_persistent.val(), e.persistent, "persistent");
            assert_eq!(u.out_ops.val(), e.ops, "ops");
            assert_eq!(u.out_host_only.val(), e.host_only, "host_only");
            assert_eq!(
                u.out_is_fwmark.val(),
                matches!(e.key, ServiceKey::Fwmark { .. }),
                "is_fwmark"
            );
        });
        Out {
            hit: u.out_hit.val(),
            idx: u.out_idx.val().to_u64() as u8,
            miss: u.out_miss.val(),
            reason: u.out_reason.val().to_u64() as u8,
            entry,
        }
    }

    fn same_key(a: &ServiceEntry, b: &ServiceEntry) -> bool {
        a.key == b.key
    }

    fn run<const S: usize>(seed: u64, cycles: usize) {
        let mut rng = FrontRng(seed);
        let mut uut = ServiceLookup::<S>::default();
        uut.connect_all();
        let mut table: Vec<Option<ServiceEntry>> = vec![None; S];
        let mut expect: std::collections::VecDeque<(usize, Out)> = Default::default();
        let mut ftp_en = false;
        let mut unpriv = 1024u16;
        let mut hist = [0usize; 4]; // hit, host-only hit, ftp host-only, no service
        for c in 0..cycles {
            if rng.chance(3) {
                ftp_en = !ftp_en;
                unpriv = [1024, 600, 2001][rng.below(3) as usize];
            }
            uut.ftp_fallback_en.next = ftp_en;
            uut.unpriv_port.next = (unpriv as u64).into();
            let valid = rng.chance(70);
            uut.in_valid.next = valid;
            if valid {
                let a = af(&mut rng);
                let p = Pkt {
                    af: a,
                    proto: [6u8, 6, 6, 17][rng.below(4) as usize],
                    vaddr: vaddr(&mut rng, a),
                    vport: PORTS[rng.below(5) as usize] + rng.chance(20) as u16,
                    mark: if rng.chance(50) {
                        0
                    } else {
                        rng.below(5) as u32
                    },
                };
                let want = reference(&table, &p, ftp_en, unpriv);
                hist[match (want.hit, want.miss) {
                    (true, false) => 0,
                    (true, true) => 1,
                    (false, _) if want.reason == REASON_HOST_ONLY as u8 => 2,
                    _ => 3,
                }] += 1;
                expect.push_back((c + LATENCY, want));
                uut.in_af.next = a == Af::V6;
                uut.in_proto.next = (p.proto as u64).into();
                uut.in_vaddr.next = front_bits128(addr_bits(&p.vaddr));
                uut.in_vport.next = (p.vport as u64).into();
                uut.in_mark.next = (p.mark as u64).into();
            } else {
                uut.in_mark.next = rng.below(6).into();
                uut.in_vaddr.next = front_bits128(rng.u128());
            }
            uut.wr_en.next = false;
            if rng.chance(if c < 3 * S { 70 } else { 6 }) {
                let idx = rng.below(S as u64 + 1) as usize;
                let e = (!rng.chance(10)).then(|| gen_service(&mut rng));
                // the host keeps one entry per key: skip a write that would duplicate one
                let dup = e.is_some_and(|e| {
                    table
                        .iter()
                        .enumerate()
                        .any(|(j, o)| j != idx && o.is_some_and(|o| same_key(&o, &e)))
                });
                if !dup {
                    let img = e.map(|e| e.encode().unwrap()).unwrap_or([0; 12]);
                    uut.wr_en.next = true;
                    uut.wr_idx.next = (idx as u64).into();
                    uut.wr_data.next = front_words_to_bits(&img);
                    if idx < S {
                        table[idx] = e;
                    }
                }
            }
            front_tick(&mut uut, |u| &mut u.clock);
            let now = c + 1;
            match expect.front() {
                Some(&(due, want)) if due == now => {
                    assert!(uut.out_valid.val(), "cycle {now}: missing result");
                    assert_eq!(read(&uut, &want), want, "cycle {now}");
                    expect.pop_front();
                }
                _ => assert!(!uut.out_valid.val(), "cycle {now}: unexpected result"),
            }
        }
        eprintln!("service S={S}: (hit, host-only hit, ftp host-only, none) = {hist:?}");
        assert!(hist.iter().all(|&h| h > 0));
    }

    #[test]
    fn service_s4_random_vs_reference() {
        run::<4>(0xabc0_0001, 1500);
    }

    #[test]
    fn service_s8_random_vs_reference() {
        run::<8>(0xabc0_0002, 1500);
    }

    #[test]
    fn service_verilog() {
        front_check_verilog("service", &mut ServiceLookup::<4>::default());
    }
}
