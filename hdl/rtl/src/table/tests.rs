#![allow(clippy::type_complexity)]

use super::*;
use crate::tables_common::{lint_verilog, Rng};
use lvsnic_abi::hash::table_hashes;
use std::collections::VecDeque;

const LB: usize = 3;
const H: usize = 1;
const W: usize = 2 * H;
const S: usize = 2;
const E: usize = TEMPLATE_BITS;
const CAP: usize = (1 << LB) * W + S;
const SEED: u32 = 0x5eed_1234;
/// Longest delay (clocks) the test's "decision stage" takes from a result to its write-back.
const WB_MAX: u64 = 3;
type T = HashTable<LB, H, S, E>;

fn key_bus(k: &[u32; 10]) -> Bits<320> {
    crate::hash::key_bits(k)
}

fn hashes(k: &[u32; 10]) -> (u32, u32) {
    table_hashes(k, SEED)
}

fn img(k: &[u32; 10], lr: u32, to: u32, val: u32) -> Bits<E> {
    let mut b = stored_base::<E>(k, lr, to, true);
    b.set_bits::<18>(VALUE_LO, bits((val & 0x3ffff) as u64));
    b
}

fn valid(b: Bits<E>) -> bool {
    b.get_bit(VALID_BIT)
}
fn lr(b: Bits<E>) -> u32 {
    b.get_bits::<32>(LR_LO).to_u32()
}
fn to(b: Bits<E>) -> u32 {
    b.get_bits::<32>(TO_LO).to_u32()
}

struct Model {
    slots: Vec<Bits<E>>,
}

impl Model {
    fn cands(k: &[u32; 10]) -> Vec<usize> {
        let (h0, h1) = hashes(k);
        let m = (1u32 << LB) - 1;
        let (b0, b1) = ((h0 & m) as usize, (h1 & m) as usize);
        let mut v: Vec<usize> = (0..H).map(|w| b0 * W + w).collect();
        v.extend((0..H).map(|w| b1 * W + H + w));
        v.extend((0..S).map(|s| (1 << LB) * W + s));
        v
    }
    fn find(&self, k: &[u32; 10]) -> Option<usize> {
        Self::cands(k)
            .into_iter()
            .find(|&i| valid(self.slots[i]) && stored_key(self.slots[i]) == *k)
    }
    fn free(&self, k: &[u32; 10]) -> Option<usize> {
        Self::cands(k).into_iter().find(|&i| !valid(self.slots[i]))
    }
}

#[derive(Clone, Copy, Debug)]
struct Op {
    op: u64,
    slot: u32,
    key: [u32; 10],
    entry: Bits<E>,
}

fn rand_key(rng: &mut Rng) -> [u32; 10] {
    let mut k = [0u32; 10];
    k.iter_mut().for_each(|w| *w = rng.next() as u32);
    k[9] &= 0x1ff;
    k
}

fn half(uut: &mut T, clk: bool) {
    uut.clock.next = clk.into();
    assert!(simulate(uut, 5000), "no convergence");
}

/// Drive the table with a random mix of lookups, write-backs, commands, learns, time steps and
/// event back-pressure; mirror every write in a software model and check each lookup at exactly
/// LATENCY, every command/learn result, every sweep reclaim and expire event.
fn run(seed: u64, cycles: usize, script: Vec<(Op, u64, Option<u32>)>) -> [usize; 8] {
    let mut rng = Rng(seed);
    let mut uut = T::default();
    uut.connect_all();
    let mut model = Model {
        slots: vec![Bits::default(); CAP],
    };
    let pool: Vec<[u32; 10]> = (0..24).map(|_| rand_key(&mut rng)).collect();
    let mut now: u32 = 0xffff_ffc0; // wraps during the run
    let mut lk_q: VecDeque<(usize, [u32; 10])> = VecDeque::new();
    let mut wb_q: Vec<(usize, u32, Bits<E>)> = Vec::new();
    let mut script: VecDeque<(Op, u64, Option<u32>)> = script.into();
    let mut cmd: Option<(Op, Option<(u64, Option<u32>)>)> = None;
    let mut ln: Option<Op> = None;
    let mut in_eng: Option<(bool, Op, Option<(u64, Option<u32>)>)> = None;
    let mut expect_done: Option<(bool, u64, Option<u32>, Option<Bits<E>>)> = None;
    let mut evq: VecDeque<(u32, Bits<E>)> = VecDeque::new();
    // counters: lookups checked, hits, expired, cmds, ok inserts, full, events, write-backs
    let mut n = [0usize; 8];
    // keys of recent hits: looked up again to collide with their own write-backs
    let mut hot: Vec<[u32; 10]> = Vec::new();
    let total = cycles + 400;
    for cyc in 0..total {
        let draining = cyc >= cycles;
        // ---- inputs
        if draining {
            if cyc == cycles + 20 {
                now = now.wrapping_add(1000);
            }
        } else if rng.below(12) == 0 {
            now = now.wrapping_add(1);
        } else if rng.below(500) == 0 && wb_q.is_empty() {
            now = now.wrapping_add(rng.below(40) as u32);
        }
        uut.now.next = bits(now as u64);
        uut.drain.next = bits(LATENCY as u64 + WB_MAX + 2);
        uut.sweep_en.next = true;
        uut.sweep_interval.next = bits(if draining { 0 } else { 3 });
        uut.ev_ready.next = draining || rng.below(2) == 0;
        let lk = !draining && rng.below(10) < 8;
        let lk_key = if !hot.is_empty() && rng.below(2) == 0 {
            hot[rng.below(hot.len() as u64) as usize]
        } else if rng.below(5) == 0 {
            rand_key(&mut rng)
        } else {
            pool[rng.below(pool.len() as u64) as usize]
        };
        let (h0, h1) = hashes(&lk_key);
        uut.lk_valid.next = lk;
        uut.lk_key.next = key_bus(&lk_key);
        uut.lk_h0.next = bits(h0 as u64);
        uut.lk_h1.next = bits(h1 as u64);
        // write-back due this cycle (at most one)
        let wb = wb_q.iter().position(|w| w.0 == cyc).map(|i| wb_q.remove(i));
        wb_q.iter_mut().for_each(|w| w.0 = w.0.max(cyc + 1));
        uut.wb_en.next = wb.is_some();
        if let Some((_, s, d)) = wb {
            uut.wb_slot.next = bits(s as u64);
            uut.wb_entry.next = d;
        }
        // host command
        if cmd.is_none() && in_eng.is_none() && !draining {
            if let Some((o, st, sl)) = script.pop_front() {
                cmd = Some((o, Some((st, sl))));
            } else if rng.below(25) == 0 {
                let k = pool[rng.below(pool.len() as u64) as usize];
                let op = [
                    OP_INSERT, OP_INSERT, OP_DELETE, OP_MODIFY, OP_READ, OP_LOOKUP,
                ][rng.below(6) as usize];
                let e = img(&k, now, 3 + rng.below(40) as u32, rng.next() as u32);
                let slot = rng.below(CAP as u64 + 2) as u32;
                cmd = Some((
                    Op {
                        op,
                        slot,
                        key: k,
                        entry: e,
                    },
                    None,
                ));
            }
        }
        if ln.is_none() && in_eng.is_none() && !draining && script.is_empty() && rng.below(40) == 0
        {
            let k = pool[rng.below(pool.len() as u64) as usize];
            ln = Some(Op {
                op: OP_INSERT,
                slot: 0,
                key: k,
                entry: img(&k, now, 3 + rng.below(40) as u32, rng.next() as u32),
            });
        }
        uut.cmd_valid.next = cmd.is_some();
        if let Some((o, _)) = &cmd {
            let (a, b) = hashes(&o.key);
            uut.cmd_op.next = bits(o.op);
            uut.cmd_slot.next = bits(o.slot as u64);
            uut.cmd_entry.next = o.entry;
            uut.cmd_h0.next = bits(a as u64);
            uut.cmd_h1.next = bits(b as u64);
        }
        uut.ln_valid.next = ln.is_some();
        if let Some(o) = &ln {
            let (a, b) = hashes(&o.key);
            uut.ln_entry.next = o.entry;
            uut.ln_h0.next = bits(a as u64);
            uut.ln_h1.next = bits(b as u64);
        }
        // ---- settle with the clock low, look at the handshakes and the write bus
        half(&mut uut, false);
        if lk && uut.lk_ready.val() {
            lk_q.push_back((cyc + LATENCY - 1, lk_key));
        }
        if ln.is_some() && uut.ln_ready.val() {
            in_eng = Some((true, ln.take().unwrap(), None));
        } else if cmd.is_some() && uut.cmd_ready.val() {
            let (o, exp) = cmd.take().unwrap();
            in_eng = Some((false, o, exp));
        }
        let state = uut.state.q.val().index();
        if let Some((_, s, d)) = wb {
            assert!(uut.wr_en.val() && uut.wr_slot.val().to_u32() == s && uut.wr_data.val() == d);
            model.slots[s as usize] = d;
            n[7] += 1;
        } else if state == 4 && uut.act_go.val() {
            let (learn, o, exp) = in_eng.take().expect("engine op");
            let found = model.find(&o.key);
            let (st, slot, wr, ent): (u64, Option<u32>, Option<(usize, Bits<E>)>, Option<Bits<E>>) =
                match o.op {
                    OP_INSERT => match (found, model.free(&o.key)) {
                        (Some(f), _) => (ST_EXISTS, Some(f as u32), None, None),
                        (None, Some(f)) => (ST_OK, Some(f as u32), Some((f, o.entry)), None),
                        (None, None) => (ST_FULL, None, None, None),
                    },
                    OP_DELETE => match found {
                        Some(f) => (ST_OK, Some(f as u32), Some((f, Bits::default())), None),
                        None => (ST_NOT_FOUND, None, None, None),
                    },
                    OP_MODIFY => match found {
                        Some(f) => (ST_OK, Some(f as u32), Some((f, o.entry)), None),
                        None => (ST_NOT_FOUND, None, None, None),
                    },
                    OP_LOOKUP => match found {
                        Some(f) => (ST_OK, Some(f as u32), None, Some(model.slots[f])),
                        None => (ST_NOT_FOUND, None, None, None),
                    },
                    OP_READ => {
                        if (o.slot as usize) < CAP {
                            (
                                ST_OK,
                                Some(o.slot),
                                None,
                                Some(model.slots[o.slot as usize]),
                            )
                        } else {
                            (ST_BAD_INDEX, None, None, None)
                        }
                    }
                    _ => unreachable!(),
                };
            if let Some((est, esl)) = exp {
                assert_eq!((st, slot), (est, esl), "scripted op {} at {cyc}", o.op);
            }
            match wr {
                Some((s, d)) => {
                    assert!(uut.wr_en.val(), "engine write missing at {cyc}");
                    assert_eq!(
                        uut.wr_slot.val().to_u32() as usize,
                        s,
                        "engine slot at {cyc}"
                    );
                    assert!(uut.wr_data.val() == d, "engine data at {cyc}");
                    model.slots[s] = d;
                }
                None => assert!(!uut.wr_en.val(), "unexpected engine write at {cyc}"),
            }
            n[3] += 1;
            n[4] += (o.op == OP_INSERT && st == ST_OK) as usize;
            n[5] += (st == ST_FULL) as usize;
            expect_done = Some((learn, st, slot, ent));
        } else if state == 8 && uut.wr_en.val() {
            let s = uut.wr_slot.val().to_u32() as usize;
            let m = model.slots[s];
            assert!(uut.wr_data.val() == Bits::<E>::default());
            assert!(valid(m), "sweep cleared an empty slot {s} at {cyc}");
            assert!(
                now.wrapping_sub(lr(m)) > to(m),
                "sweep cleared a live slot {s}"
            );
            evq.push_back((s as u32, m));
            model.slots[s] = Bits::default();
        } else {
            assert!(
                !uut.wr_en.val(),
                "unexpected write at {cyc} (state {state})"
            );
        }
        if uut.ev_valid.val() && uut.ev_ready.val() {
            let (s, m) = evq.pop_front().expect("event without reclaim");
            assert_eq!(uut.ev_slot.val().to_u32(), s);
            assert!(uut.ev_entry.val() == m, "event entry at {cyc}");
            n[6] += 1;
        }
        // ---- rising edge, check registered results
        half(&mut uut, true);
        let due = lk_q.front().map(|x| x.0) == Some(cyc);
        assert_eq!(uut.res_valid.val(), due, "res_valid at {cyc}");
        if due {
            let (_, k) = lk_q.pop_front().unwrap();
            n[0] += 1;
            match model.find(&k) {
                Some(f) => {
                    let m = model.slots[f];
                    let live = now.wrapping_sub(lr(m)) < to(m);
                    assert!(uut.res_found.val(), "miss on present key at {cyc}");
                    assert_eq!(uut.res_slot.val().to_u32() as usize, f, "slot at {cyc}");
                    assert!(uut.res_entry.val() == m, "entry at {cyc}");
                    assert_eq!(uut.res_live.val(), live, "live at {cyc}");
                    assert_eq!(uut.res_hit.val(), live);
                    if live {
                        n[1] += 1;
                        hot.push(k);
                        if hot.len() > 3 {
                            hot.remove(0);
                        }
                        if rng.below(4) != 0 && !draining {
                            // the decision stage refreshes (or, OPS-like, invalidates) later
                            let d = if rng.below(6) == 0 {
                                Bits::default()
                            } else {
                                let mut d = m;
                                d.set_bits::<32>(LR_LO, bits(now as u64));
                                d.set_bits::<8>(VALUE_LO, bits(rng.below(256)));
                                d
                            };
                            wb_q.push((cyc + 1 + rng.below(WB_MAX + 1) as usize, f as u32, d));
                        }
                    } else {
                        n[2] += 1;
                    }
                }
                None => assert!(
                    !uut.res_found.val() && !uut.res_hit.val(),
                    "false hit at {cyc}"
                ),
            }
        }
        if let Some((learn, st, slot, ent)) = expect_done {
            if uut.cmd_done.val() || uut.ln_done.val() {
                assert_eq!(uut.ln_done.val(), learn);
                assert_eq!(uut.cmd_done.val(), !learn);
                assert_eq!(uut.eng_status.val().index() as u64, st, "status at {cyc}");
                if let Some(s) = slot {
                    assert_eq!(uut.eng_slot.val().to_u32(), s, "eng slot at {cyc}");
                }
                if let Some(e) = ent {
                    assert!(uut.eng_entry.val() == e, "eng entry at {cyc}");
                }
                expect_done = None;
            }
        } else {
            assert!(!uut.cmd_done.val() && !uut.ln_done.val());
        }
    }
    assert!(evq.is_empty(), "reclaimed but not reported: {evq:?}");
    assert!(
        model
            .slots
            .iter()
            .all(|&m| !valid(m) || now.wrapping_sub(lr(m)) <= to(m)),
        "the final sweep left expired entries"
    );
    n
}

#[test]
fn random_against_model() {
    let n = run(0x0123_4567_89ab_cdef, 5000, vec![]);
    eprintln!(
        "lookups {} hits {} expired {} cmds {} inserts {} full {} events {} wbs {}",
        n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]
    );
    assert!(n[0] > 600 && n[1] > 50 && n[2] > 5 && n[3] > 40 && n[6] > 5 && n[7] > 30);
}

#[test]
fn overflow_to_stash_then_full() {
    // keys sharing both buckets: set-0 way of b0, set-1 way of b1, the 2 stash slots, then Full
    let mut rng = Rng(77);
    let first = rand_key(&mut rng);
    let (f0, f1) = hashes(&first);
    let m = (1u32 << LB) - 1;
    let mut keys = vec![first];
    while keys.len() < 6 {
        let k = rand_key(&mut rng);
        let (a, b) = hashes(&k);
        if a & m == f0 & m && b & m == f1 & m {
            keys.push(k);
        }
    }
    let (b0, b1) = (f0 & m, f1 & m);
    let base = ((1 << LB) * W) as u32;
    let exp = [
        (ST_OK, Some(b0 * W as u32)),
        (ST_OK, Some(b1 * W as u32 + H as u32)),
        (ST_OK, Some(base)),
        (ST_OK, Some(base + 1)),
        (ST_FULL, None),
    ];
    let mut script: Vec<(Op, u64, Option<u32>)> = keys[..5]
        .iter()
        .zip(exp)
        .map(|(k, (st, sl))| {
            (
                Op {
                    op: OP_INSERT,
                    slot: 0,
                    key: *k,
                    entry: img(k, 0xffff_ffc0, 2_000_000_000, 1),
                },
                st,
                sl,
            )
        })
        .collect();
    // re-insert -> Exists; delete the stash one, insert the 6th -> it takes stash slot 0
    script.push((script[0].0, ST_EXISTS, Some(b0 * W as u32)));
    let mut del = script[2].0;
    del.op = OP_DELETE;
    script.push((del, ST_OK, Some(base)));
    script.push((
        Op {
            op: OP_INSERT,
            slot: 0,
            key: keys[5],
            entry: img(&keys[5], 0xffff_ffc0, 2_000_000_000, 2),
        },
        ST_OK,
        Some(base),
    ));
    let n = run(99, 400, script);
    eprintln!("{n:?}");
    assert!(n[5] >= 1 && n[4] >= 5);
}

/// A lookup in every clock (only the clocks the table asks for with `sweep_due` are left free):
/// without `sweep_rate` the sweep never gets a clock and expired entries stay; with it, each tick
/// buys `sweep_rate` visits, and the entries are reclaimed and reported.
fn gapless_stream(rate: u16) -> (usize, u32, u32, usize) {
    let mut rng = Rng(0x5ca1_ab1e);
    let mut uut = T::default();
    uut.connect_all();
    let probe = rand_key(&mut rng);
    let (ph0, ph1) = hashes(&probe);
    let keys: Vec<[u32; 10]> = (0..5).map(|_| rand_key(&mut rng)).collect();
    let mut now = 100u32;
    let mut pending: VecDeque<[u32; 10]> = keys.iter().copied().collect();
    let mut busy = false;
    let (mut events, mut dues) = (0usize, 0usize);
    let mut gap = false;
    for cyc in 0..4000usize {
        // installing: no lookups; then the stream, ticks every 100 clocks
        let installing = !pending.is_empty() || busy;
        if !installing && cyc % 100 == 0 {
            now += 1;
        }
        uut.now.next = bits(now as u64);
        uut.drain.next = bits(LATENCY as u64 + WB_MAX + 2);
        uut.sweep_en.next = !installing;
        uut.sweep_interval.next = bits(0);
        uut.sweep_rate.next = bits(rate as u64);
        uut.ev_ready.next = true;
        uut.wb_en.next = false;
        uut.ln_valid.next = false;
        uut.lk_valid.next = !installing && !gap;
        uut.lk_key.next = key_bus(&probe);
        uut.lk_h0.next = bits(ph0 as u64);
        uut.lk_h1.next = bits(ph1 as u64);
        uut.cmd_valid.next = !pending.is_empty() && !busy;
        if let Some(k) = pending.front() {
            let (a, b) = hashes(k);
            uut.cmd_op.next = bits(OP_INSERT);
            // expired 10 ticks into the stream (timeout 10, refreshed at 100)
            uut.cmd_entry.next = img(k, 100, 10, 1);
            uut.cmd_h0.next = bits(a as u64);
            uut.cmd_h1.next = bits(b as u64);
        }
        half(&mut uut, false);
        if !pending.is_empty() && !busy && uut.cmd_ready.val() {
            pending.pop_front();
            busy = true;
        }
        if uut.ev_valid.val() {
            events += 1;
        }
        // the table's request is honoured in the next clock (a gap one pipeline later)
        gap = uut.sweep_due.val();
        dues += gap as usize;
        half(&mut uut, true);
        if uut.cmd_done.val() {
            assert_eq!(
                uut.eng_status.val().index() as u64,
                ST_OK,
                "insert at {cyc}"
            );
            busy = false;
        }
    }
    (
        events,
        uut.sweep_pos.val().to_u32(),
        uut.sweep_laps.val().to_u32(),
        dues,
    )
}

#[test]
fn sweep_rate_keeps_the_sweep_going_under_a_gapless_stream() {
    // Starved: no free clock, no visit, no reclaim.
    let (events, pos, laps, dues) = gapless_stream(0);
    assert_eq!((events, pos, laps, dues), (0, 0, 0, 0));
    // 4 visits per tick, one tick of slack: 39 ticks of stream = 152..156 visits >= 7 laps
    // of 18 slots; every expired entry reported once, and one requested gap per visit.
    let (events, pos, laps, dues) = gapless_stream(4);
    eprintln!("events {events} pos {pos} laps {laps} gaps {dues}");
    assert_eq!(events, 5);
    assert!(laps >= 7, "laps {laps}");
    assert!((pos as usize) < CAP);
    assert!((7 * CAP..=4 * 40).contains(&dues), "gaps {dues}");
}

#[test]
fn verilog_lints_small() {
    let mut uut = HashTable::<3, 1, 2, TEMPLATE_BITS>::default();
    uut.connect_all();
    let v = generate_verilog(&uut);
    lint_verilog("lvsnic_table_small", &v);
}

#[test]
fn verilog_lints_build_geometry() {
    // SIM_GEOMETRY: 4096 buckets x 4 ways + 8 stash, conn entries
    let mut uut = HashTable::<12, 2, 8, CONN_BITS>::default();
    uut.connect_all();
    let v = generate_verilog(&uut);
    lint_verilog("lvsnic_table_build", &v);
}
