//! Whole-card tests of the integrated tables on the Verilated card: the MMIO command path to the
//! conn / template tables (Insert, Lookup, Read, Modify, Delete), the aging sweeps' expire events
//! in the ring, and the packet stream at one beat per clock.

use lvsnic_abi::*;
use lvsnic_sim::SimCard;

fn off(b: &str, r: &str, i: u32) -> u32 {
    lvsnic_abi::regs::offset_of(b, r, i).unwrap()
}

fn command(c: &mut SimCard, cmd: &Command) -> (u32, u32, [u32; 14]) {
    for (i, w) in cmd.encode().iter().enumerate() {
        c.reg_write(off("CMD", "DATA", i as u32), *w);
    }
    c.reg_write(off("CMD", "DOORBELL", 0), 1);
    let mut n = 0;
    let st = loop {
        let s = c.reg_read(off("CMD", "STATUS", 0)).unwrap();
        if s & 3 == 2 {
            break s;
        }
        n += 1;
        assert!(n < 1000);
    };
    let idx = c.reg_read(off("CMD", "RESULT_INDEX", 0)).unwrap();
    let mut r = [0u32; 14];
    for (i, x) in r.iter_mut().enumerate() {
        *x = c.reg_read(off("CMD", "RESULT", i as u32)).unwrap();
    }
    (st >> 8, idx, r)
}

#[test]
fn aged_conn_and_template_expire_events() {
    let mut c = SimCard::new();
    let ring = c.mem.alloc(64 * 64, 4096);
    c.reg_write(off("EVQ", "BASE_LO", 0), ring as u32);
    c.reg_write(off("EVQ", "BASE_HI", 0), (ring >> 32) as u32);
    c.reg_write(off("EVQ", "LOG_SIZE", 0), 6);
    c.reg_write(off("EVQ", "CTRL", 0), 0b01);
    c.reg_write(off("TIME", "TICK_CTRL", 0), 0);
    c.reg_write(off("TIME", "TICK", 0), 100);
    let key = FlowKey {
        proto: 17,
        caddr: "2001:db8:5::7".parse().unwrap(),
        cport: 5353,
        vaddr: "2001:db8::1".parse().unwrap(),
        vport: 53,
    };
    let e = ConnEntry {
        key,
        fwd: FwdMethod::Masq,
        controlled: true,
        ops: false,
        syn_miss: true,
        ev_next: false,
        state: 3,
        dest: 7,
        dest_gen: 9,
        last_refresh: 90,
        timeout_ms: 20,
        dport: 8053,
    };
    let (st, slot, _) = command(&mut c, &Command::insert(&e).unwrap());
    assert_eq!(st, 0);
    let (st, i, r) = command(&mut c, &Command::lookup(TableId::Conn, &key).unwrap());
    assert_eq!((st, i), (0, slot));
    assert_eq!(ConnEntry::from_payload(&r).unwrap(), e);
    let (st, i, r) = command(&mut c, &Command::read(TableId::Conn, slot));
    assert_eq!((st, i), (0, slot));
    assert_eq!(ConnEntry::from_payload(&r).unwrap(), e);
    let tk = template_key(
        TemplateKind::Port {
            proto: 6,
            vaddr: "192.0.2.1".parse().unwrap(),
            vport: 443,
        },
        &"10.1.1.9".parse().unwrap(),
        PersistMask::V4(0xffffff00),
    )
    .unwrap();
    let t = TemplateEntry {
        key: tk,
        learn: true,
        dport_from_dest: false,
        dest: 3,
        dest_gen: 4,
        last_refresh: 50,
        timeout_ms: 30,
    };
    let (st, tslot, _) = command(&mut c, &Command::insert(&t).unwrap());
    assert_eq!(st, 0);
    let (st, i, r) = command(&mut c, &Command::lookup(TableId::Template, &tk).unwrap());
    assert_eq!((st, i), (0, tslot));
    assert_eq!(TemplateEntry::from_payload(&r).unwrap(), t);
    let (st, _, _) = command(
        &mut c,
        &Command::modify(&TemplateEntry { dest: 5, ..t }).unwrap(),
    );
    assert_eq!(st, 0);
    let (st, _, r) = command(&mut c, &Command::lookup(TableId::Template, &tk).unwrap());
    assert_eq!(st, 0);
    assert_eq!(TemplateEntry::from_payload(&r).unwrap().dest, 5);
    // both are live at tick 100; at tick 200 both are expired and a full lap of the sweeps
    // (16,392 slots, one every few clocks) reclaims them
    c.reg_write(off("TIME", "TICK", 0), 200);
    c.run(300_000);
    let mut recs = vec![];
    for s in 0..64u64 {
        let mut b = [0u8; 64];
        c.mem.read(ring + 64 * s, &mut b);
        let w: Vec<u32> = b
            .chunks(4)
            .map(|x| u32::from_le_bytes(x.try_into().unwrap()))
            .collect();
        if w[15] >> 31 == 0 {
            break;
        }
        let mut a = [0u32; 16];
        a.copy_from_slice(&w);
        recs.push(Record::decode(&a).unwrap().0);
    }
    let want_c = ExpireEvent {
        table: TableId::Conn,
        cause: ExpireCause::Aged,
        key,
        index: slot,
        dest: 7,
        dest_gen: 9,
        controlled: true,
        state: 3,
        last_refresh: 90,
        tick: 200,
    };
    let want_t = ExpireEvent {
        table: TableId::Template,
        cause: ExpireCause::Aged,
        key: tk,
        index: tslot,
        dest: 5,
        dest_gen: 4,
        controlled: false,
        state: 0,
        last_refresh: 50,
        tick: 200,
    };
    assert_eq!(recs.len(), 2, "{recs:#?}");
    assert!(recs.contains(&Record::Expire(want_c)), "{recs:#?}");
    assert!(recs.contains(&Record::Expire(want_t)), "{recs:#?}");
    let (st, _, _) = command(&mut c, &Command::lookup(TableId::Conn, &key).unwrap());
    assert_eq!(st, CmdStatus::NotFound as u32);
    let (st, _, _) = command(
        &mut c,
        &Command::delete_key(TableId::Template, &tk).unwrap(),
    );
    assert_eq!(st, CmdStatus::NotFound as u32);
}

/// Ethernet / IPv4 / UDP frame of 42 bytes (one 64-byte beat).
fn udp_frame(sport: u16) -> Vec<u8> {
    let mut f = vec![0u8; 42];
    f[12] = 0x08;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&28u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[198, 51, 100, 7]);
    f[30..34].copy_from_slice(&[192, 0, 2, 10]);
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&53u16.to_be_bytes());
    f[38..40].copy_from_slice(&8u16.to_be_bytes());
    f
}

#[test]
fn back_to_back_packets_one_beat_per_clock_one_verdict_each_in_order() {
    let mut c = SimCard::new();
    let ring = c.mem.alloc(64 * 64, 4096);
    c.reg_write(off("EVQ", "BASE_LO", 0), ring as u32);
    c.reg_write(off("EVQ", "BASE_HI", 0), (ring >> 32) as u32);
    c.reg_write(off("EVQ", "LOG_SIZE", 0), 6);
    c.reg_write(off("EVQ", "CTRL", 0), 0b01);
    c.reg_write(off("CTRL", "CONTROL", 0), 1);
    let n = 20u16;
    for k in 0..n {
        c.send(&udp_frame(1000 + k));
    }
    let start = c.cycle();
    let beats = c.stats.beats_in;
    let mut v = vec![];
    for _ in 0..400 {
        c.tick();
        while let Some(x) = c.take_verdict() {
            v.push(x);
        }
    }
    assert_eq!(c.stats.beats_in - beats, n as u64, "one beat per frame");
    assert_eq!(
        c.stats.stream_stalls, 0,
        "no back-pressure without commands or learns"
    );
    assert_eq!(v.len(), n as usize);
    for (k, x) in v.iter().enumerate() {
        assert_eq!(x.pkt_id, k as u32);
        assert_eq!(x.kind, lvsnic_sim::card::KIND_MISS);
        assert_eq!(x.reason, MissReason::NoService as u8);
        // the (only) beat of packet k enters in the tick that starts at start + k; the verdict
        // is seen TOTAL_LATENCY (27) ticks later: one verdict per clock
        assert_eq!(x.cycle - start, k as u64 + 27, "packet {k}");
    }
}

/// The UDP frame of [`udp_frame`] with `payload` more bytes (IP and UDP lengths saying so),
/// then `pad` bytes of Ethernet padding, and an IPv4 total length `short` bytes longer than the
/// frame holds.
fn udp_frame_len(sport: u16, payload: usize, pad: usize, short: u16) -> Vec<u8> {
    let mut f = udp_frame(sport);
    f.extend((0..payload).map(|i| i as u8));
    let tot = 28 + payload as u16;
    f[16..18].copy_from_slice(&(tot + short).to_be_bytes());
    f[38..40].copy_from_slice(&(8 + payload as u16).to_be_bytes());
    f.extend(std::iter::repeat_n(0u8, pad));
    f
}

/// Frames of many lengths back to back: one beat per clock, and every verdict 27 clocks
/// (`TOTAL_LATENCY`) after the frame's last beat, also for frames longer than the parser's
/// 128-byte header window (the parser decides at the last beat, where it knows the frame's
/// length). A frame shorter than its IPv4 total length misses `Unparsed`; a padded one is
/// parsed (`NoService`: no service is configured).
#[test]
fn verdicts_come_27_clocks_after_the_last_beat_for_every_frame_length() {
    let mut c = SimCard::new();
    c.reg_write(off("CTRL", "CONTROL", 0), 1);
    // (payload, padding, IP length beyond the frame)
    let shapes = [
        (0usize, 0usize, 0u16),
        (0, 18, 0),
        (0, 0, 1),
        (60, 0, 0),
        (60, 0, 1),
        (61, 3, 0),
        (200, 0, 0),
        (200, 0, 8),
        (1458, 0, 0),
        (1458, 0, 1),
        (1458, 7, 0),
        (3, 0, 0),
        (0, 0, 100),
    ];
    c.last_beat_log = Some(Vec::new());
    let beats0 = c.stats.beats_in;
    let mut beats = 0;
    for (k, &(payload, pad, short)) in shapes.iter().enumerate() {
        let f = udp_frame_len(3000 + k as u16, payload, pad, short);
        beats += lvsnic_sim::card::beats_of(f.len()) as u64;
        c.send(&f);
    }
    let mut v = vec![];
    for _ in 0..(beats + 100) {
        c.tick();
        while let Some(x) = c.take_verdict() {
            v.push(x);
        }
    }
    assert_eq!(c.stats.beats_in - beats0, beats);
    assert_eq!(c.stats.stream_stalls, 0, "one beat per clock");
    let last = c.last_beat_log.take().unwrap();
    assert_eq!(v.len(), shapes.len());
    for (k, (x, &(payload, pad, short))) in v.iter().zip(&shapes).enumerate() {
        assert_eq!(x.pkt_id, k as u32);
        assert_eq!(
            x.cycle - last[k],
            27,
            "frame {k}: {payload} + {pad} padding"
        );
        let want = if short > 0 {
            MissReason::Unparsed
        } else {
            MissReason::NoService
        };
        assert_eq!(x.reason, want as u8, "frame {k}: IP length + {short}");
    }
}

#[test]
fn a_table_command_stops_the_stream_drains_and_loses_no_packet() {
    let mut c = SimCard::new();
    c.reg_write(off("CTRL", "CONTROL", 0), 1);
    let n = 30u16;
    for k in 0..n {
        // 3-beat frames (Ethernet padding after the datagram), so the stream is still running
        // (90 beats) when the command comes
        let mut f = udp_frame(2000 + k);
        f.resize(180, 0);
        c.send(&f);
    }
    c.run(40);
    assert!(c.pending_beats() > 0, "the stream is still running");
    let key = FlowKey {
        proto: 17,
        caddr: "198.51.100.7".parse().unwrap(),
        cport: 2005,
        vaddr: "192.0.2.10".parse().unwrap(),
        vport: 53,
    };
    let e = ConnEntry {
        key,
        fwd: FwdMethod::Route,
        controlled: false,
        ops: false,
        syn_miss: false,
        ev_next: false,
        state: 0,
        dest: 1,
        dest_gen: 0,
        last_refresh: 0,
        timeout_ms: 1000,
        dport: 53,
    };
    let (st, _, _) = command(&mut c, &Command::insert(&e).unwrap());
    assert_eq!(st, 0);
    c.run(400);
    assert!(c.stats.stream_stalls > 0, "the command held the stream");
    let mut ids = vec![];
    while let Some(v) = c.take_verdict() {
        ids.push(v.pkt_id);
    }
    assert_eq!(ids, (0..n as u32).collect::<Vec<_>>());
}
