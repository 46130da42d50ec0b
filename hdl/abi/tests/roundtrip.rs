//! Round trips, rejection of impossible entries, and structural checks of every layout.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvsnic_abi::entries::*;
use lvsnic_abi::key::{template_key, FlowKey, PersistMask, TemplateKind};
use lvsnic_abi::layout::Layout;
use lvsnic_abi::limits::MAX_TIMEOUT_MS;
use lvsnic_abi::records::*;
use lvsnic_abi::types::*;
use lvsnic_abi::AbiError;
use proptest::prelude::*;

fn all_layouts() -> Vec<&'static Layout> {
    let mut v: Vec<&'static Layout> = ENTRY_LAYOUTS.to_vec();
    v.extend(RECORD_LAYOUTS);
    v.push(&COMMAND_LAYOUT);
    v
}

#[test]
fn layouts_have_no_overlaps_and_fit() {
    for l in all_layouts() {
        l.check_structure().unwrap();
        // The compile-time masks of the decoders are `used_mask`.
        let words = l.used_mask_words();
        assert_eq!(&words[..l.words], &l.used_mask()[..], "{}", l.name);
        assert!(words[l.words..].iter().all(|&m| m == 0), "{}", l.name);
    }
    // Hash-table entries fit a command payload; records are 16 words.
    for l in ENTRY_LAYOUTS {
        assert!(l.words <= PAYLOAD_WORDS, "{}", l.name);
    }
    for l in RECORD_LAYOUTS {
        assert_eq!(l.words, 16);
        assert_eq!(
            l.field("phase").unwrap().lsb,
            15 * 32 + 31,
            "phase is the last bit"
        );
    }
    // The key occupies the same bits in conn and template entries (one RTL key bus).
    for n in ["caddr", "vaddr", "cport", "vport", "proto", "af"] {
        assert_eq!(CONN_LAYOUT.field(n), TEMPLATE_LAYOUT.field(n));
    }
}

#[test]
fn overlap_checker_catches_overlaps() {
    use lvsnic_abi::layout::Field;
    let bad = Layout {
        name: "bad",
        words: 2,
        fields: &const { [Field::at("a", 0, 0, 8, ""), Field::at("b", 0, 4, 8, "")] },
        doc: "",
    };
    assert!(bad.check_structure().is_err());
    let cross = Layout {
        name: "cross",
        words: 2,
        fields: &const { [Field::at("a", 0, 24, 16, "")] },
        doc: "",
    };
    assert!(cross.check_structure().is_err());
    let outside = Layout {
        name: "outside",
        words: 1,
        fields: &const { [Field::at("a", 1, 0, 8, "")] },
        doc: "",
    };
    assert!(outside.check_structure().is_err());
}

// ---------------------------------------------------------------- strategies

fn af() -> impl Strategy<Value = Af> {
    prop_oneof![Just(Af::V4), Just(Af::V6)]
}

fn addr(af: Af) -> BoxedStrategy<IpAddr> {
    match af {
        Af::V4 => any::<u32>()
            .prop_map(|x| IpAddr::V4(Ipv4Addr::from(x)))
            .boxed(),
        Af::V6 => any::<u128>()
            .prop_map(|x| IpAddr::V6(Ipv6Addr::from(x)))
            .boxed(),
    }
}

fn l4() -> impl Strategy<Value = u8> {
    prop_oneof![Just(IPPROTO_TCP), Just(IPPROTO_UDP), Just(IPPROTO_SCTP)]
}

fn fwd() -> impl Strategy<Value = FwdMethod> {
    (0usize..5).prop_map(|i| FwdMethod::ALL[i])
}

fn timeout() -> impl Strategy<Value = u32> {
    1..=MAX_TIMEOUT_MS
}

fn conn_key() -> impl Strategy<Value = FlowKey> {
    af().prop_flat_map(|af| (l4(), addr(af), any::<u16>(), addr(af), any::<u16>()))
        .prop_map(|(proto, caddr, cport, vaddr, vport)| FlowKey {
            proto,
            caddr,
            cport,
            vaddr,
            vport,
        })
}

fn mask(af: Af) -> BoxedStrategy<PersistMask> {
    match af {
        Af::V4 => any::<u32>().prop_map(PersistMask::V4).boxed(),
        Af::V6 => (1u8..=128).prop_map(PersistMask::V6).boxed(),
    }
}

fn tpl_key() -> impl Strategy<Value = FlowKey> {
    af().prop_flat_map(|af| {
        let kind = prop_oneof![
            (l4(), addr(af), any::<u16>()).prop_map(|(proto, vaddr, vport)| TemplateKind::Port {
                proto,
                vaddr,
                vport
            }),
            (l4(), addr(af)).prop_map(|(proto, vaddr)| TemplateKind::AnyPort { proto, vaddr }),
            (1u32..).prop_map(|mark| TemplateKind::Fwmark { mark }),
        ];
        (kind, addr(af), mask(af))
    })
    .prop_map(|(k, c, m)| template_key(k, &c, m).unwrap())
}

prop_compose! {
    fn conn_entry()(key in conn_key(), fwd in fwd(), f in any::<[bool; 4]>(), state in 0u8..16,
                    dest in any::<u8>(), dest_gen in any::<u8>(), last_refresh in any::<u32>(),
                    timeout_ms in timeout(), dport in any::<u16>()) -> ConnEntry {
        ConnEntry { key, fwd, controlled: f[0], ops: f[1], syn_miss: f[2], ev_next: f[3], state,
                    dest, dest_gen, last_refresh, timeout_ms, dport }
    }
}

prop_compose! {
    fn template_entry()(key in tpl_key(), f in any::<[bool; 2]>(), dest in any::<u8>(),
                        dest_gen in any::<u8>(), last_refresh in any::<u32>(),
                        timeout_ms in timeout()) -> TemplateEntry {
        TemplateEntry { key, learn: f[0], dport_from_dest: f[1], dest, dest_gen, last_refresh, timeout_ms }
    }
}

fn service_entry() -> impl Strategy<Value = ServiceEntry> {
    af().prop_flat_map(|af| {
        let key = prop_oneof![
            (1u32..).prop_map(move |mark| ServiceKey::Fwmark { af, mark }),
            (l4(), addr(af), any::<u16>()).prop_map(|(proto, vaddr, vport)| ServiceKey::Addr {
                proto,
                vaddr,
                vport
            }),
        ];
        (key, any::<[bool; 3]>(), mask(af), timeout())
    })
    .prop_map(|(key, f, mask, t)| ServiceEntry {
        key,
        persistent: f[0],
        ops: f[1],
        host_only: f[2],
        mask,
        timeout_ms: if f[0] { t } else { 0 },
    })
}

fn dest_state() -> impl Strategy<Value = DestState> {
    (any::<[bool; 4]>(), any::<u8>()).prop_map(|(f, gen)| {
        if f[0] {
            DestState {
                conn_ok: true,
                conn_drop: false,
                syn_ok: f[2],
                tpl_ok: f[3],
                gen,
            }
        } else {
            DestState {
                conn_ok: false,
                conn_drop: f[1],
                syn_ok: false,
                tpl_ok: false,
                gen,
            }
        }
    })
}

fn dest_entry() -> impl Strategy<Value = DestEntry> {
    af().prop_flat_map(|af| {
        (
            addr(af),
            any::<u16>(),
            fwd(),
            any::<[u8; 6]>(),
            dest_state(),
        )
    })
    .prop_map(|(addr, port, fwd, mac, state)| DestEntry {
        addr,
        port,
        fwd,
        mac,
        state,
    })
}

fn prefix(af: Af) -> impl Strategy<Value = (IpAddr, u8)> {
    (addr(af), 0..=af.bits()).prop_map(move |(a, p)| {
        let m = prefix_mask(af, p);
        (bits_addr(af, addr_bits(&a) & m, "x").unwrap(), p)
    })
}

fn range() -> impl Strategy<Value = (u16, u16)> {
    (any::<u16>(), any::<u16>()).prop_map(|(a, b)| (a.min(b), a.max(b)))
}

fn rule_entry() -> impl Strategy<Value = MarkRuleEntry> {
    af().prop_flat_map(|af| {
        (
            prefix(af),
            prefix(af),
            any::<[bool; 3]>(),
            l4(),
            range(),
            range(),
            any::<(u32, u32)>(),
        )
    })
    .prop_map(|((src, sp), (dst, dp), f, proto, sr, dr, (mask, value))| {
        let (proto, sport, dport) = if f[2] {
            (Some(proto), sr, dr)
        } else {
            (None, (0, u16::MAX), (0, u16::MAX))
        };
        MarkRuleEntry {
            src,
            src_plen: sp,
            src_neg: f[0],
            dst,
            dst_plen: dp,
            dst_neg: f[1],
            proto,
            sport,
            dport,
            mask,
            value,
        }
    })
}

/// Flipping any reserved bit must make decode fail.
fn reserved_rejected<const N: usize, T>(
    l: &Layout,
    w: &[u32; N],
    bit: usize,
    decode: impl Fn(&[u32; N]) -> Result<T, AbiError>,
) {
    let used = l.used_mask();
    let (wi, b) = (bit / 32 % N, bit % 32);
    if used[wi] & (1 << b) == 0 {
        let mut x = *w;
        x[wi] ^= 1 << b;
        assert!(matches!(decode(&x), Err(AbiError::Reserved { .. })));
    }
}

proptest! {
    #[test]
    fn conn_roundtrip(e in conn_entry(), bit in 0usize..448) {
        let w = e.encode().unwrap();
        prop_assert_eq!(ConnEntry::decode(&w).unwrap(), e);
        prop_assert_eq!(ConnEntry::from_payload(&e.payload().unwrap()).unwrap(), e);
        reserved_rejected(&CONN_LAYOUT, &w, bit, ConnEntry::decode);
        let mut cleared = w;
        lvsnic_abi::entries::conn::VALID.set(&mut cleared, 0).unwrap();
        let not_valid = matches!(ConnEntry::decode(&cleared), Err(AbiError::NotValid { .. }));
        prop_assert!(not_valid);
    }

    #[test]
    fn template_roundtrip(e in template_entry(), bit in 0usize..448) {
        let w = e.encode().unwrap();
        prop_assert_eq!(TemplateEntry::decode(&w).unwrap(), e);
        reserved_rejected(&TEMPLATE_LAYOUT, &w, bit, TemplateEntry::decode);
    }

    #[test]
    fn service_roundtrip(e in service_entry(), bit in 0usize..384) {
        let w = e.encode().unwrap();
        prop_assert_eq!(ServiceEntry::decode(&w).unwrap(), e);
        reserved_rejected(&SERVICE_LAYOUT, &w, bit, ServiceEntry::decode);
    }

    #[test]
    fn dest_roundtrip(e in dest_entry(), bit in 0usize..256) {
        let w = e.encode().unwrap();
        prop_assert_eq!(DestEntry::decode(&w).unwrap(), e);
        prop_assert_eq!(w[lvsnic_abi::entries::dest::STATE_WORD], e.state.word().unwrap());
        reserved_rejected(&DEST_LAYOUT, &w, bit, DestEntry::decode);
    }

    #[test]
    fn rule_roundtrip(e in rule_entry(), bit in 0usize..416) {
        let w = e.encode().unwrap();
        prop_assert_eq!(MarkRuleEntry::decode(&w).unwrap(), e);
        reserved_rejected(&RULE_LAYOUT, &w, bit, MarkRuleEntry::decode);
    }

    /// Any word image that decodes re-encodes to itself (decode is injective, no aliasing).
    #[test]
    fn arbitrary_words_decode_canonically(w in any::<[u32; 14]>(), v in any::<[u32; 12]>(),
                                          d in any::<[u32; 8]>(), r in any::<[u32; 13]>()) {
        if let Ok(e) = ConnEntry::decode(&w) { prop_assert_eq!(e.encode().unwrap(), w); }
        if let Ok(e) = TemplateEntry::decode(&w) { prop_assert_eq!(e.encode().unwrap(), w); }
        if let Ok(e) = ServiceEntry::decode(&v) { prop_assert_eq!(e.encode().unwrap(), v); }
        if let Ok(e) = DestEntry::decode(&d) { prop_assert_eq!(e.encode().unwrap(), d); }
        if let Ok(e) = MarkRuleEntry::decode(&r) { prop_assert_eq!(e.encode().unwrap(), r); }
    }

    #[test]
    fn records_roundtrip(k in conn_key(), t in tpl_key(), n in any::<[u32; 4]>(), phase in any::<bool>(),
                         b in any::<[bool; 3]>(), small in any::<[u8; 4]>(), vlan in 0u16..4096,
                         reason in 0usize..10, cause in 0usize..3) {
        let recs = [
            Record::Miss(MissRecord { reason: MissReason::ALL[reason], key: k, l4_valid: b[0],
                l4_info: small[0], vlan: b[1].then_some(vlan), fwmark: n[0], svc: small[1],
                pkt_id: n[1], tick: n[2] }),
            Record::Learn(LearnEvent { key: k, ops: b[0], tpl_index: n[0], conn_index: n[1],
                dest: small[0], dest_gen: small[1], svc: small[2], tick: n[2] }),
            Record::Expire(ExpireEvent { table: TableId::Conn, cause: ExpireCause::ALL[cause], key: k,
                index: n[0], dest: small[0], dest_gen: small[1], controlled: b[2],
                state: small[2] & 15, last_refresh: n[3], tick: n[2] }),
            Record::Expire(ExpireEvent { table: TableId::Template, cause: ExpireCause::ALL[cause], key: t,
                index: n[0], dest: small[0], dest_gen: small[1], controlled: false,
                state: 0, last_refresh: n[3], tick: n[2] }),
            Record::Flag(FlagEvent { key: k, l4_info: small[0], index: n[0], dest: small[1],
                state: small[2] & 15, tick: n[2] }),
            Record::CmdDone(CmdDoneEvent { status: CmdStatus::ALL[small[0] as usize % 8],
                tag: n[0] as u16, index: n[1], opcode: Opcode::ALL[small[1] as usize % 8],
                table: TableId::ALL[small[2] as usize % 5], tick: n[2] }),
        ];
        for r in recs {
            let w = r.encode(phase).unwrap();
            prop_assert_eq!(w[15] >> 31 == 1, phase);
            prop_assert_eq!(Record::decode(&w).unwrap(), (r, phase));
        }
    }

    #[test]
    fn commands_roundtrip(c in conn_entry(), t in template_entry(), s in service_entry(),
                          d in dest_entry(), r in rule_entry(), idx in any::<u32>(), tag in any::<u16>()) {
        let cmds = [
            Command::insert(&c).unwrap(),
            Command::modify(&t).unwrap(),
            Command::write(idx, &s).unwrap(),
            Command::write(idx, &d).unwrap(),
            Command::write(idx, &r).unwrap(),
            Command::write(idx, &c).unwrap(),
            Command::delete_key(TableId::Conn, &c.key).unwrap(),
            Command::lookup(TableId::Template, &t.key).unwrap(),
            Command::delete_index(TableId::Dest, idx).unwrap(),
            Command::read(TableId::Service, idx),
            Command::flush(TableId::Conn),
        ];
        for cmd in cmds {
            let cmd = cmd.with_tag(tag);
            let w = cmd.encode();
            prop_assert_eq!(Command::decode(&w).unwrap(), cmd);
        }
    }
}

// ---------------------------------------------------------------- impossible entries

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn a_conn() -> ConnEntry {
    ConnEntry {
        key: FlowKey {
            proto: IPPROTO_TCP,
            caddr: v4("10.0.0.1"),
            cport: 1234,
            vaddr: v4("192.0.2.10"),
            vport: 80,
        },
        fwd: FwdMethod::Route,
        controlled: true,
        ops: false,
        syn_miss: false,
        ev_next: true,
        state: 3,
        dest: 7,
        dest_gen: 2,
        last_refresh: 100,
        timeout_ms: 60_000,
        dport: 80,
    }
}

#[test]
fn impossible_entries_are_rejected() {
    let c = a_conn();
    let mut bad = c;
    bad.key.vaddr = "2001:db8::1".parse().unwrap();
    assert!(bad.encode().is_err(), "mixed families");
    let mut bad = c;
    bad.key.proto = 1;
    assert!(bad.encode().is_err(), "ICMP conn");
    let mut bad = c;
    bad.timeout_ms = 0;
    assert!(bad.encode().is_err());
    bad.timeout_ms = MAX_TIMEOUT_MS + 1;
    assert!(bad.encode().is_err());
    let mut bad = c;
    bad.state = 16;
    assert!(bad.encode().is_err());

    // Bad enum value in a word image.
    let mut w = c.encode().unwrap();
    lvsnic_abi::entries::conn::FWD.set(&mut w, 7).unwrap();
    assert!(matches!(
        ConnEntry::decode(&w),
        Err(AbiError::BadEnum { .. })
    ));
    // IPv4 key with upper address words set.
    let mut w = c.encode().unwrap();
    w[2] = 1;
    assert!(ConnEntry::decode(&w).is_err());

    // Template: cport must be 0; fwmark template needs vport 0.
    let t = TemplateEntry {
        key: FlowKey { cport: 0, ..c.key },
        learn: true,
        dport_from_dest: true,
        dest: 1,
        dest_gen: 0,
        last_refresh: 0,
        timeout_ms: 360_000,
    };
    assert!(t.encode().is_ok());
    assert!(TemplateEntry { key: c.key, ..t }.encode().is_err());
    let fw = FlowKey {
        proto: 0,
        vaddr: v4("0.0.0.5"),
        vport: 80,
        ..t.key
    };
    assert!(TemplateEntry { key: fw, ..t }.encode().is_err());

    // Service: fwmark 0, non-L4 proto, mask family, IPv6 non-prefix mask, timeout rules.
    let s = ServiceEntry {
        key: ServiceKey::Fwmark {
            af: Af::V4,
            mark: 1,
        },
        persistent: true,
        ops: false,
        host_only: false,
        mask: PersistMask::V4(0xffff_ff00),
        timeout_ms: 360_000,
    };
    assert!(s.encode().is_ok());
    assert!(ServiceEntry {
        key: ServiceKey::Fwmark {
            af: Af::V4,
            mark: 0
        },
        ..s
    }
    .encode()
    .is_err());
    assert!(ServiceEntry {
        mask: PersistMask::V6(64),
        ..s
    }
    .encode()
    .is_err());
    assert!(ServiceEntry {
        persistent: false,
        ..s
    }
    .encode()
    .is_err());
    assert!(ServiceEntry { timeout_ms: 0, ..s }.encode().is_err());
    let s6 = ServiceEntry {
        key: ServiceKey::Addr {
            proto: IPPROTO_UDP,
            vaddr: "2001:db8::10".parse().unwrap(),
            vport: 0,
        },
        mask: PersistMask::V6(0),
        ..s
    };
    assert!(s6.encode().is_err(), "IPv6 prefix 0");
    let mut w = ServiceEntry {
        mask: PersistMask::V6(64),
        ..s6
    }
    .encode()
    .unwrap();
    w[5] = 0x00ff_0000; // non-contiguous IPv6 mask
    assert!(ServiceEntry::decode(&w).is_err());

    // Dest state: contradictory predicates.
    let bad = DestState {
        conn_ok: true,
        conn_drop: true,
        ..Default::default()
    };
    assert!(bad.word().is_err());
    let bad = DestState {
        conn_ok: false,
        tpl_ok: true,
        ..Default::default()
    };
    assert!(bad.word().is_err());

    // Rule: host bits, long prefix, port range without proto, empty range.
    let r = MarkRuleEntry {
        src: v4("10.0.0.0"),
        src_plen: 8,
        src_neg: false,
        dst: v4("192.0.2.10"),
        dst_plen: 32,
        dst_neg: false,
        proto: Some(IPPROTO_TCP),
        sport: (0, u16::MAX),
        dport: (80, 80),
        mask: u32::MAX,
        value: 1,
    };
    assert!(r.encode().is_ok());
    assert!(MarkRuleEntry {
        src: v4("10.0.0.1"),
        ..r
    }
    .encode()
    .is_err());
    assert!(MarkRuleEntry { src_plen: 33, ..r }.encode().is_err());
    assert!(MarkRuleEntry { proto: None, ..r }.encode().is_err());
    assert!(MarkRuleEntry {
        dport: (81, 80),
        ..r
    }
    .encode()
    .is_err());

    // Commands: Insert on an indexed table, Lookup on an indexed table, garbage payload.
    let svc = Command::write(0, &s).unwrap();
    assert!(svc.with_opcode(Opcode::Insert).is_err());
    assert!(Command::from_parts(Opcode::Lookup, TableId::Service, 0, *svc.payload()).is_err());
    assert!(Command::from_parts(Opcode::Insert, TableId::Conn, 0, *svc.payload()).is_err());
    let mut w = Command::insert(&c).unwrap().encode();
    w[2 + 13] = 0; // dport only: still fine
    assert!(Command::decode(&w).is_ok());
    w[2 + 10] = 0; // valid bit cleared
    assert!(Command::decode(&w).is_err());
}

#[test]
fn rules_apply_in_order() {
    let base = MarkRuleEntry {
        src: v4("0.0.0.0"),
        src_plen: 0,
        src_neg: false,
        dst: v4("192.0.2.0"),
        dst_plen: 24,
        dst_neg: false,
        proto: Some(IPPROTO_TCP),
        sport: (0, u16::MAX),
        dport: (80, 443),
        mask: u32::MAX,
        value: 1,
    };
    let or4 = MarkRuleEntry {
        proto: None,
        dport: (0, u16::MAX),
        mask: 0,
        value: 0x4000,
        ..base
    };
    let not_net = MarkRuleEntry {
        dst_neg: true,
        value: 9,
        ..or4
    };
    let p = RulePacket {
        proto: IPPROTO_TCP,
        saddr: v4("10.0.0.1"),
        sport: 5555,
        daddr: v4("192.0.2.10"),
        dport: 443,
    };
    assert_eq!(apply_rules([&base, &or4, &not_net], &p, 0), 0x4001);
    assert_eq!(
        apply_rules([&or4, &base], &p, 0),
        1,
        "set-mark after or overrides"
    );
    let udp = RulePacket {
        proto: IPPROTO_UDP,
        ..p
    };
    assert_eq!(apply_rules([&base], &udp, 0), 0);
    let far = RulePacket {
        daddr: v4("198.51.100.1"),
        ..p
    };
    assert_eq!(apply_rules([&base, &not_net], &far, 0), 9);
}

#[test]
fn liveness_is_wrap_safe() {
    assert!(is_live(u32::MAX - 10, 100, 50));
    assert!(!is_live(u32::MAX - 10, 100, 200));
    assert!(is_live(
        5,
        MAX_TIMEOUT_MS,
        5u32.wrapping_add(MAX_TIMEOUT_MS - 1)
    ));
    assert!(!is_live(
        5,
        MAX_TIMEOUT_MS,
        5u32.wrapping_add(MAX_TIMEOUT_MS)
    ));
}

#[test]
fn ring_phase_flips_per_lap() {
    assert!(ring_phase(0, 4));
    assert!(ring_phase(15, 4));
    assert!(!ring_phase(16, 4));
    assert!(ring_phase(32, 4));
    assert!(ring_phase(u32::MAX.wrapping_add(1), 4));
}
