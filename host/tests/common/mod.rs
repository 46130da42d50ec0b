//! Helpers shared by the differential tests (model vs co-simulated card): load a configuration
//! from texts, replay a trace through both backends, compare every packet's verdict and dest.

#![allow(dead_code)]

use std::net::IpAddr;
use std::path::PathBuf;

use lvsnic::driver::card::{
    self, BarExec, Card, Handled, PacketPort, KIND_DROP, KIND_FORWARD, KIND_MISS,
};
use lvsnic::driver::tables::Exec;
use lvsnic::model::{Decision, Director, Packet, Time, Verdict};
use lvsnic::replay::pcap::{parse_frame, Link};
use lvsnic::replay::sim::{run_events_card_with, CardRun, CardRunOpts, DecidedOn, Verify};
use lvsnic::replay::{load_config, run_events, run_events_on, trace};
use lvsnic_abi::entries::TableEntry;
use lvsnic_abi::records::Command;
use lvsnic_abi::{ConnEntry, FlowKey, TableId, TemplateEntry};
use lvsnic_sim::SimCard;

/// A scratch directory unique to this process and test thread.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lvsnic-{tag}-{}-{}",
        std::process::id(),
        std::thread::current()
            .name()
            .unwrap_or("t")
            .replace("::", "_")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The director of an `ipvsadm-save` text, optional `iptables-save` marks and sysctls.
pub fn director(tag: &str, ipvs: &str, marks: Option<&str>, sysctls: &[&str]) -> Director {
    let dir = scratch(tag);
    let ipvs_p = dir.join("r.ipvs");
    std::fs::write(&ipvs_p, ipvs).unwrap();
    let marks_v: Vec<PathBuf> = marks
        .map(|m| {
            let p = dir.join("r.marks");
            std::fs::write(&p, m).unwrap();
            vec![p]
        })
        .unwrap_or_default();
    let sys: Vec<String> = sysctls.iter().map(|s| s.to_string()).collect();
    let d = load_config(&ipvs_p, &marks_v, &sys).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    d
}

/// Lines of trace before the first mismatch that the automatic waveform covers.
pub const VCD_LINES_BEFORE: usize = 50;

/// Where the automatic waveform of a failing test goes.
fn vcd_path() -> PathBuf {
    std::env::temp_dir().join(format!(
        "lvsnic-mismatch-{}-{}.vcd",
        std::process::id(),
        std::thread::current()
            .name()
            .unwrap_or("t")
            .replace("::", "_")
    ))
}

/// Both backends' decisions for one trace.
pub struct Run {
    pub model: Vec<serde_json::Value>,
    pub card: Vec<(usize, Decision, DecidedOn)>,
    pub text: String,
    pub card_secs: f64,
    /// The configuration both started from (a failure re-runs the trace from it).
    pub director: Director,
}

/// Replay `trace_text` through the model and through a fresh sim card. `ctx` (e.g. the seed)
/// is printed with any failure.
pub fn run_both(d: Director, trace_text: &str, ctx: &str) -> Run {
    run_both_on(lvsnic_sim::SimCard::new(), d, trace_text, ctx)
}

/// [`run_both`] on a prepared sim card (DMA stall, VCD).
pub fn run_both_on(card: lvsnic_sim::SimCard, d: Director, trace_text: &str, ctx: &str) -> Run {
    let events = trace::parse_trace(trace_text, "trace").unwrap();
    let mut out = Vec::new();
    run_events(d.clone(), &events, "trace", &mut out).unwrap();
    let model = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut dec = Vec::new();
    let mut out = std::io::sink();
    let t0 = std::time::Instant::now();
    // Read the card back after every configuration change of a short trace, and at the end
    // of a long one (each pass looks every cached entry up).
    let config_events = events
        .iter()
        .filter(|e| !matches!(e.kind, trace::EventKind::Packet(_)))
        .count();
    let opts = CardRunOpts {
        verify: if config_events <= 50 {
            Verify::AfterConfigChanges
        } else {
            Verify::AtEnd
        },
        ..CardRunOpts::from_env()
    };
    if let Err(e) = run_events_card_with(
        card,
        d.clone(),
        &events,
        "trace",
        &mut out,
        Some(&mut dec),
        &opts,
    ) {
        let last = dec.last().map(|x| format!("{x:?}")).unwrap_or_default();
        let lines: Vec<&str> = trace_text.split('\n').collect();
        let next_line = dec
            .last()
            .map(|x| x.0 + 1)
            .and_then(|l| lines.get(l..(l + 3).min(lines.len())))
            .map(|l| l.join("\n"))
            .unwrap_or_default();
        // A waveform of the run up to the failure (a fresh card, same configuration).
        let from = dec.last().map(|x| x.0).unwrap_or(0);
        let (path, _) = rerun_card(&d, &events, from.saturating_sub(VCD_LINES_BEFORE), None);
        panic!(
            "{ctx}: card backend failed after {} packets: {e}\nlast decision: {last}\nnext trace lines:\n{next_line}\nVCD (from trace line {}): {}",
            dec.len(),
            from.saturating_sub(VCD_LINES_BEFORE) + 1,
            path.display()
        );
    }
    Run {
        model,
        card: dec,
        text: trace_text.to_string(),
        card_secs: t0.elapsed().as_secs_f64(),
        director: d,
    }
}

/// Run the trace through a fresh sim card again, dumping a waveform from trace line `from`
/// (0-based), stopping after line `stop` if given.
fn rerun_card(
    d: &Director,
    events: &[trace::Event],
    from: usize,
    stop: Option<usize>,
) -> (PathBuf, Result<CardRun<SimCard>, String>) {
    let path = std::env::var("LVSNIC_VCD")
        .map(PathBuf::from)
        .unwrap_or_else(|_| vcd_path());
    let opts = CardRunOpts {
        vcd: Some((path.clone(), from)),
        stop_after: stop,
        verify: Verify::Off,
    };
    let r = run_events_card_with(
        SimCard::new(),
        d.clone(),
        events,
        "trace",
        &mut std::io::sink(),
        None,
        &opts,
    )
    .map_err(|e| e.to_string());
    (path, r)
}

/// Same prefix (IPv4 /24, IPv6 /64): the entries worth showing next to a packet.
fn near(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
        (IpAddr::V6(a), IpAddr::V6(b)) => a.octets()[..8] == b.octets()[..8],
        _ => false,
    }
}

fn entries_near(d: &Director, c: IpAddr) -> String {
    let v: Vec<String> = d
        .entries()
        .into_iter()
        .filter(|e| near(e.client.ip(), c))
        .take(24)
        .map(|e| {
            format!(
                "    {} {:?} {} -> {} -> {} {} expires_in {:?} n_control {}",
                if e.template { "template" } else { "conn" },
                e.proto,
                e.client,
                e.virt,
                e.dest,
                e.state,
                e.expires_in,
                e.n_control
            )
        })
        .collect();
    if v.is_empty() {
        "    (none)".into()
    } else {
        v.join("\n")
    }
}

/// The state behind the first mismatch at trace line `line` (0-based): both models' entries
/// of the packet's client network, what the card holds for them, and a waveform of the last
/// [`VCD_LINES_BEFORE`] lines.
pub fn diagnose(r: &Run, line: usize) -> String {
    let events = trace::parse_trace(&r.text, "trace").unwrap();
    let Some(idx) = events.iter().position(|e| e.line == line) else {
        return format!("(no event at line {})", line + 1);
    };
    let trace::EventKind::Packet(p) = events[idx].kind else {
        return format!("(line {} is not a packet)", line + 1);
    };
    let mut reference = r.director.clone();
    run_events_on(
        &mut reference,
        &events[..=idx],
        "trace",
        &mut std::io::sink(),
    )
    .unwrap();
    let from = line.saturating_sub(VCD_LINES_BEFORE);
    let (path, cr) = rerun_card(&r.director, &events, from, Some(line));
    let mut s = format!(
        "state after line {} (packet {p:?}):\n  reference model, entries of {}'s network:\n{}\n",
        line + 1,
        p.src.ip(),
        entries_near(&reference, p.src.ip())
    );
    match cr {
        Ok(mut cr) => {
            s.push_str(&format!(
                "  the card's model (host side):\n{}\n  the card's tables (read back):\n",
                entries_near(&cr.director, p.src.ip())
            ));
            let mut keys: Vec<(TableId, FlowKey)> = cr
                .card
                .tables
                .conns
                .keys()
                .map(|k| (TableId::Conn, *k))
                .chain(cr.card.tables.tpls.keys().map(|k| (TableId::Template, *k)))
                .filter(|(_, k)| near(k.caddr, p.src.ip()))
                .collect();
            keys.sort_by_key(|(t, k)| (*t as u8, k.caddr, k.cport));
            keys.truncate(24);
            for (t, k) in keys {
                let got = Command::lookup(t, &k)
                    .map_err(|e| e.to_string())
                    .and_then(|c| {
                        BarExec(&mut cr.card.bar)
                            .exec(&c)
                            .map_err(|e| e.to_string())
                    });
                let shown = match (t, got) {
                    (TableId::Conn, Ok(Ok(r))) => {
                        format!("{:?}", ConnEntry::from_payload(&r.entry))
                    }
                    (_, Ok(Ok(r))) => format!("{:?}", TemplateEntry::from_payload(&r.entry)),
                    (_, Ok(Err(st))) => format!("{st:?}"),
                    (_, Err(e)) => e,
                };
                s.push_str(&format!("    {t:?} {k:?}: {shown}\n"));
            }
        }
        Err(e) => s.push_str(&format!("  (the re-run failed: {e})\n")),
    }
    s.push_str(&format!(
        "VCD (trace lines {}..={}): {}",
        from + 1,
        line + 1,
        path.display()
    ));
    s
}

/// Same verdict and dest for every packet; returns who decided each. Prints at most 20
/// mismatches (all are counted), the state behind the first and a waveform of the run up to it.
pub fn same(r: &Run, ctx: &str) -> Vec<DecidedOn> {
    assert_eq!(r.model.len(), r.card.len(), "{ctx}: packet count");
    let lines: Vec<&str> = r.text.split('\n').collect();
    let mut errs = Vec::new();
    let mut first = None;
    let mut n = 0;
    for (m, (line, d, on)) in r.model.iter().zip(&r.card) {
        let dest = d.dest.map(|a| a.to_string());
        if m["verdict"] != d.verdict.name() || m["dest"].as_str().map(String::from) != dest {
            n += 1;
            first.get_or_insert(*line);
            if errs.len() < 20 {
                errs.push(format!(
                    "line {}: {}\n  model: {m}\n  card ({}): {d:?}",
                    line + 1,
                    lines.get(*line).unwrap_or(&"?"),
                    on.name()
                ));
            }
        }
    }
    if let Some(line) = first {
        panic!(
            "{ctx}: {n} mismatch(es) (first {}):\n{}\n{}",
            errs.len(),
            errs.join("\n"),
            diagnose(r, line)
        );
    }
    r.card.iter().map(|c| c.2).collect()
}

/// Clocks a frame may take to get its verdict (a learn or command stops the stream ~45).
pub const VERDICT_CYCLES: u32 = 5_000;
/// Quiet clocks after the verdict; then a further watch for a second verdict.
pub const SETTLE_CYCLES: u32 = 48;
pub const WATCH_CYCLES: u32 = 100;

#[derive(Debug)]
pub struct Outcome {
    pub kind: u8,
    pub reason: u8,
    pub decision: Decision,
    pub cycles: u32,
}

/// The card + driver + their director, and the reference model.
pub struct Rig {
    pub card: Card<SimCard>,
    pub d: Director,
    pub reference: Director,
    pub now_ms: u64,
    /// Packets sent (the card's packet id of the next frame, mod 2^16).
    pub sent: u32,
    /// Outcomes by verdict kind.
    pub kinds: [u32; 3],
    /// The host looks at the event ring only every this many clocks (a slow host).
    pub drain_every: u32,
    /// Clocks a frame may take to get its verdict and miss record.
    pub max_cycles: u32,
    /// Learn events the host handled.
    pub learns: u64,
}

impl Rig {
    pub fn new(ipvs: &str, sysctls: &[&str]) -> Rig {
        let d0 = director("rig", ipvs, None, sysctls);
        let reference = d0.clone();
        let mut d = d0;
        d.enable_journal();
        let mut card = Card::init(SimCard::new(), &d).expect("card init");
        if let Ok(p) = std::env::var("LVSNIC_VCD") {
            card.bar.dev().trace_open(std::path::Path::new(&p)).unwrap();
        }
        Rig {
            card,
            d,
            reference,
            now_ms: 1_000,
            sent: 0,
            kinds: [0; 3],
            drain_every: 1,
            max_cycles: VERDICT_CYCLES,
            learns: 0,
        }
    }

    /// Send one frame to the card; the host decides its miss with `parsed` (the host's parse
    /// of the frame) when it has one. Panics on a second verdict, a wrong packet id, or a
    /// verdict that does not come.
    pub fn exchange(&mut self, what: &str, frame: &[u8], parsed: Option<&Packet>) -> Outcome {
        self.now_ms += 1;
        let t = Time::from_millis(self.now_ms);
        self.card.set_tick(t).unwrap();
        self.card.advance(&mut self.d, t).unwrap();
        let hs = self.card.drain(&mut self.d, None).unwrap();
        self.count(&hs);
        let id = self.sent;
        self.sent = self.sent.wrapping_add(1);
        self.card.bar.dev().send_frame(frame);
        let mut verdict = None;
        let (mut cycles, mut quiet, mut after) = (0u32, 0u32, 0u32);
        let cur = parsed.map(|p| (id, p, t));
        loop {
            if let Some(v) = self.card.bar.dev().clock() {
                assert!(
                    verdict.is_none(),
                    "{what}: a second verdict {v:?} after {verdict:?} for frame {frame:02x?}"
                );
                assert!(
                    card::same_pkt_id(id, v.pkt_id),
                    "{what}: verdict {v:?} for packet id {id}"
                );
                verdict = Some((v, cycles));
                quiet = 0;
            }
            let handled = if cycles.is_multiple_of(self.drain_every) {
                let hs = self
                    .card
                    .drain(&mut self.d, cur)
                    .unwrap_or_else(|e| panic!("{what}: driver: {e}; frame {frame:02x?}"));
                self.count(&hs)
            } else {
                false
            };
            quiet = if handled { 0 } else { quiet + 1 };
            cycles += 1;
            if let Some((v, _)) = verdict {
                let have = v.kind != KIND_MISS || self.card.decided.contains_key(&v.pkt_id);
                if have && quiet >= SETTLE_CYCLES {
                    after += 1;
                    if after > WATCH_CYCLES {
                        break;
                    }
                }
            }
            assert!(
                cycles <= self.max_cycles + WATCH_CYCLES,
                "{what}: no verdict (or no miss record) within {} clocks: {verdict:?}; frame {frame:02x?}",
                self.max_cycles
            );
        }
        let (v, at) = verdict.unwrap();
        self.kinds[v.kind.min(2) as usize] += 1;
        let decision = match v.kind {
            KIND_MISS => self.card.decided.remove(&v.pkt_id).unwrap(),
            KIND_FORWARD => {
                let p = parsed.unwrap_or_else(|| {
                    panic!("{what}: the card forwarded a frame the host cannot parse: {v:?}; frame {frame:02x?}")
                });
                Decision {
                    verdict: Verdict::Forward,
                    dest: self.card.forward_dest(&self.d, v.dest, p).unwrap(),
                    mark: v.mark,
                    by: None,
                    reason: "card",
                }
            }
            KIND_DROP => {
                assert!(
                    parsed.is_some(),
                    "{what}: the card dropped a frame the host cannot parse: {v:?}; frame {frame:02x?}"
                );
                Decision {
                    verdict: Verdict::Drop,
                    dest: None,
                    mark: v.mark,
                    by: None,
                    reason: "card",
                }
            }
            k => panic!("{what}: verdict kind {k}"),
        };
        Outcome {
            kind: v.kind,
            reason: v.reason,
            decision,
            cycles: at,
        }
    }

    /// A frame, checked against the reference model.
    pub fn check(&mut self, what: &str, frame: &[u8]) -> Outcome {
        let parsed = parse_frame(Link::Ethernet, frame).ok();
        let t = Time::from_millis(self.now_ms + 1);
        let want = parsed.as_ref().map(|p| self.reference.process(t, p));
        let o = self.exchange(what, frame, parsed.as_ref());
        match want {
            None => assert_eq!(
                o.kind, KIND_MISS,
                "{what}: the host cannot parse this frame, the card must miss: {o:?}; frame {frame:02x?}"
            ),
            Some(w) => assert!(
                w.verdict == o.decision.verdict && w.dest == o.decision.dest,
                "{what}: model {w:?}, card {o:?}; packet {:?}; frame {frame:02x?}",
                parsed
            ),
        }
        o
    }

    pub fn packet(&mut self, what: &str, p: &Packet) -> Outcome {
        self.check(what, &card::frame(p))
    }

    /// Count learn events; whether anything was handled.
    fn count(&mut self, hs: &[Handled]) -> bool {
        self.learns += hs
            .iter()
            .filter(|h| matches!(h, Handled::Learn { .. }))
            .count() as u64;
        !hs.is_empty()
    }

    pub fn stat(&mut self, reg: &'static str) -> u32 {
        self.card.bar.read("STATS", reg, 0).unwrap()
    }
}
