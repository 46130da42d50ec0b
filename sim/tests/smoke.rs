use lvsnic_sim::SimCard;

#[test]
fn id_block_reads_magic_over_the_register_bus() {
    let mut c = SimCard::new();
    let magic = c.reg_read(0x0c).expect("register read completes");
    assert_eq!(magic, lvsnic_abi::limits::MAGIC);
}

fn off(b: &str, r: &str) -> u32 {
    lvsnic_abi::regs::offset_of(b, r, 0).unwrap()
}

#[test]
fn a_packet_gets_a_verdict_and_its_miss_record_lands_in_the_ring() {
    let mut c = SimCard::new();
    let ring = c.mem.alloc(16 * 64, 4096);
    c.reg_write(off("EVQ", "BASE_LO"), ring as u32);
    c.reg_write(off("EVQ", "BASE_HI"), (ring >> 32) as u32);
    c.reg_write(off("EVQ", "LOG_SIZE"), 4);
    c.reg_write(off("EVQ", "CTRL"), 0b11);
    // Ethernet + IPv4 + TCP SYN 198.51.100.7:1000 -> 192.0.2.10:80
    let mut f = vec![0u8; 14 + 20 + 20];
    f[12] = 0x08;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&40u16.to_be_bytes());
    f[22] = 64;
    f[23] = 6;
    f[26..30].copy_from_slice(&[198, 51, 100, 7]);
    f[30..34].copy_from_slice(&[192, 0, 2, 10]);
    f[34..36].copy_from_slice(&1000u16.to_be_bytes());
    f[36..38].copy_from_slice(&80u16.to_be_bytes());
    f[46] = 0x50;
    f[47] = 0x02;
    c.send(&f);
    let mut v = None;
    for _ in 0..200 {
        c.tick();
        if let Some(x) = c.take_verdict() {
            v = Some(x);
            break;
        }
    }
    let v = v.expect("a verdict within 200 cycles");
    assert_eq!(v.kind, lvsnic_sim::card::KIND_MISS);
    c.run(40);
    let mut rec = [0u8; 64];
    assert!(c.mem.read(ring, &mut rec));
    let w15 = u32::from_le_bytes(rec[60..64].try_into().unwrap());
    assert_eq!(w15 >> 31, 1, "phase bit of the first lap");
    assert_eq!(rec[0] & 0xf, 1, "record type Miss");
    assert!(c.take_irq(), "interrupt armed and raised");
}

/// The 512-bit DMA port: a record is one beat at its slot address; records queued behind a
/// stalled port leave one per clock once it is ready again.
#[test]
fn records_leave_one_per_dma_beat_back_to_back() {
    assert_eq!(
        lvsnic_sim::DMA_BEAT_BYTES,
        64,
        "one 64-byte record per beat"
    );
    let mut c = SimCard::new();
    let ring = c.mem.alloc(16 * 64, 4096);
    c.reg_write(off("EVQ", "BASE_LO"), ring as u32);
    c.reg_write(off("EVQ", "BASE_HI"), (ring >> 32) as u32);
    c.reg_write(off("EVQ", "LOG_SIZE"), 4);
    c.reg_write(off("EVQ", "CTRL"), 0b01);
    c.set_dma_stall(Some(|cycle| cycle < 400));
    c.dma_log = Some(Vec::new());
    let n = 10u64;
    for k in 0..n {
        // not IP: every packet misses Unparsed
        let mut f = vec![0u8; 60];
        f[12] = 0x88;
        f[13] = k as u8;
        c.send(&f);
    }
    c.run(500 - c.cycle());
    assert_eq!(c.stats.verdicts, n);
    assert_eq!(c.stats.dma_beats, n, "one beat per record");
    assert_eq!(c.stats.dma_errors, 0);
    let log = c.dma_log.take().unwrap();
    for (k, (cycle, addr)) in log.iter().enumerate() {
        assert_eq!(*addr, ring + 64 * k as u64, "slot address of record {k}");
        assert_eq!(
            *cycle,
            400 + k as u64,
            "record {k}: one per clock after the stall"
        );
    }
    for k in 0..n {
        let mut rec = [0u8; 64];
        assert!(c.mem.read(ring + 64 * k, &mut rec));
        let w15 = u32::from_le_bytes(rec[60..64].try_into().unwrap());
        assert_eq!(w15 >> 31, 1, "phase bit of the first lap");
        assert_eq!(rec[0] & 0xf, 1, "record type Miss");
        let w13 = u32::from_le_bytes(rec[52..56].try_into().unwrap());
        assert_eq!(w13 as u64, k, "pkt_id in word 13, in order");
    }
}
