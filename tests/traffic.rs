//! Seeded random traffic for differential tests: a configuration (several services incl.
//! fwmark, port zero, OPS and IPv6; persistence with short timeouts) and a trace with many
//! clients in few networks, TCP flag mixes, UDP and SCTP, config and sysctl changes mid-stream
//! (weight 0, deletes and re-adds), time gaps that let templates and connections expire.
//! Times are whole milliseconds (the card's tick), so model and card see the same clock.
//!
//! Deterministic for a seed: `LVSNIC_SEED=… LVSNIC_PACKETS=… cargo test -p lvsnic-tests`.

use std::fmt::Write as _;

/// SplitMix64: small, fast, and the same on every platform (no dependency).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// A generated scenario: file contents for `--ipvs`, `--marks` and `--trace`.
#[derive(Clone, Debug)]
pub struct Generated {
    pub seed: u64,
    pub ipvs: String,
    pub marks: String,
    pub trace: String,
    pub packets: usize,
}

const IPVS: &str = "\
-A -t 192.0.2.10:80 -s rr -p 7 -M 255.255.255.0
-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1
-a -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 1
-a -t 192.0.2.10:80 -r 10.0.0.3:80 -g -w 2
-A -u 192.0.2.10:53 -s wlc
-a -u 192.0.2.10:53 -r 10.0.1.1:53 -m -w 1
-a -u 192.0.2.10:53 -r 10.0.1.2:53 -m -w 3
-A -f 1 -s sh -p 5
-a -f 1 -r 10.0.2.1:0 -g -w 1
-a -f 1 -r 10.0.2.2:0 -g -w 1
-A -t 192.0.2.30:0 -s wrr -p 4
-a -t 192.0.2.30:0 -r 10.0.3.1:0 -g -w 2
-a -t 192.0.2.30:0 -r 10.0.3.2:0 -g -w 1
-A -u 192.0.2.40:5000 -s rr -p 3 -o
-a -u 192.0.2.40:5000 -r 10.0.4.1:5000 -m -w 1
-a -u 192.0.2.40:5000 -r 10.0.4.2:5000 -m -w 1
-A --sctp-service 192.0.2.50:3868 -s lc -p 6
-a --sctp-service 192.0.2.50:3868 -r 10.0.5.1:3868 -g -w 1
-a --sctp-service 192.0.2.50:3868 -r 10.0.5.2:3868 -g -w 1
-A -t [2001:db8::10]:443 -s mh -p 6 -M 64
-a -t [2001:db8::10]:443 -r [2001:db8:1::1]:443 -g -w 1
-a -t [2001:db8::10]:443 -r [2001:db8:1::2]:443 -g -w 1
-a -t [2001:db8::10]:443 -r [2001:db8:1::3]:443 -g -w 1
";

const MARKS: &str = "\
*mangle
:PREROUTING ACCEPT [0:0]
-A PREROUTING -d 192.0.2.20/32 -p tcp -m multiport --dports 80,443 -j MARK --set-xmark 0x1/0xffffffff
-A PREROUTING -d 192.0.2.20/32 -p udp --dport 443 -j MARK --set-xmark 0x1/0xffffffff
COMMIT
";

/// Service targets a packet may be sent to: (proto, destination, weight of the choice).
const TARGETS: &[(&str, &str)] = &[
    ("tcp", "192.0.2.10:80"),
    ("tcp", "192.0.2.10:80"),
    ("udp", "192.0.2.10:53"),
    ("tcp", "192.0.2.20:80"),
    ("tcp", "192.0.2.20:443"),
    ("udp", "192.0.2.20:443"),
    ("tcp", "192.0.2.30:8080"),
    ("udp", "192.0.2.30:9999"),
    ("udp", "192.0.2.40:5000"),
    ("sctp", "192.0.2.50:3868"),
    ("tcp", "[2001:db8::10]:443"),
    ("tcp", "192.0.2.10:81"),
    ("tcp", "192.0.2.99:80"),
];

/// Config events that quiesce, delete and re-add real servers, and sysctl flips.
const CHANGES: &[&str] = &[
    r#""ipvsadm":"-e -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 0""#,
    r#""ipvsadm":"-e -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 1""#,
    r#""ipvsadm":"-d -f 1 -r 10.0.2.1:0""#,
    r#""ipvsadm":"-a -f 1 -r 10.0.2.1:0 -g -w 1""#,
    r#""ipvsadm":"-e -t 192.0.2.30:0 -r 10.0.3.1:0 -g -w 0""#,
    r#""ipvsadm":"-e -t 192.0.2.30:0 -r 10.0.3.1:0 -g -w 2""#,
    r#""ipvsadm":"-e -u 192.0.2.10:53 -r 10.0.1.1:53 -m -w 0""#,
    r#""ipvsadm":"-e -u 192.0.2.10:53 -r 10.0.1.1:53 -m -w 1""#,
    r#""ipvsadm":"-e -u 192.0.2.10:53 -r 10.0.1.2:53 -m -w 0""#,
    r#""ipvsadm":"-e -u 192.0.2.10:53 -r 10.0.1.2:53 -m -w 3""#,
    r#""sysctl":"expire_quiescent_template=1""#,
    r#""sysctl":"expire_quiescent_template=0""#,
    r#""sysctl":"expire_nodest_conn=1""#,
    r#""sysctl":"expire_nodest_conn=0""#,
];

/// One generated scenario of `packets` packet events.
pub fn generate(seed: u64, packets: usize) -> Generated {
    let mut r = Rng::new(seed);
    let mut trace = String::new();
    let mut t_ms: u64 = 0;
    // Per-change state: applied changes come in pairs (toggle), keep them consistent.
    let mut toggled = [false; CHANGES.len() / 2];
    let mut flows: Vec<(String, String, String)> = Vec::new();
    let mut n = 0;
    while n < packets {
        // Time: mostly small steps, sometimes a gap past the short persistence timeouts.
        t_ms += match r.below(100) {
            0..=69 => r.below(50),
            70..=97 => 50 + r.below(1500),
            _ => 5_000 + r.below(20_000),
        };
        let t = format!("{}.{:03}", t_ms / 1000, t_ms % 1000);
        if r.chance(2) {
            let i = r.below(toggled.len() as u64) as usize;
            let ev = CHANGES[2 * i + toggled[i] as usize];
            toggled[i] = !toggled[i];
            writeln!(trace, "{{\"t\":{t},{ev}}}").unwrap();
            continue;
        }
        // Reuse a known flow half of the time (established traffic), else a new one.
        let (proto, src, dst) = if !flows.is_empty() && r.chance(50) {
            r.pick(&flows).clone()
        } else {
            let (proto, dst) = *r.pick(TARGETS);
            let src = if dst.starts_with('[') {
                format!(
                    "[2001:db8:{:x}:{:x}::{:x}]:{}",
                    0xa0 + r.below(3),
                    r.below(2),
                    1 + r.below(20),
                    1024 + r.below(60000)
                )
            } else {
                format!(
                    "198.51.{}.{}:{}",
                    100 + r.below(6),
                    1 + r.below(40),
                    1024 + r.below(60000)
                )
            };
            let f = (proto.to_string(), src, dst.to_string());
            if flows.len() < 4096 {
                flows.push(f.clone());
            } else {
                let i = r.below(flows.len() as u64) as usize;
                flows[i] = f.clone();
            }
            f
        };
        let extra = match proto.as_str() {
            "tcp" => {
                // mostly a handshake's flags; now and then a segment with none of S/A/F/R
                // (the kernel moves the conn to CLOSE) or a SYN+RST (is_new_conn() all the same)
                let flags = if r.chance(3) {
                    *r.pick(&["", "SR", "SRA"])
                } else {
                    *r.pick(&["S", "S", "A", "A", "A", "A", "FA", "R", "SA", "S"])
                };
                format!(",\"flags\":\"{flags}\"")
            }
            "sctp" => format!(
                ",\"chunk\":\"{}\"",
                r.pick(&["INIT", "DATA", "DATA", "COOKIE_ECHO", "SHUTDOWN", "ABORT"])
            ),
            _ => String::new(),
        };
        writeln!(
            trace,
            "{{\"t\":{t},\"proto\":\"{proto}\",\"src\":\"{src}\",\"dst\":\"{dst}\"{extra}}}"
        )
        .unwrap();
        n += 1;
    }
    Generated {
        seed,
        ipvs: IPVS.to_string(),
        marks: MARKS.to_string(),
        trace,
        packets,
    }
}

/// Seed and packet count from `LVSNIC_SEED` / `LVSNIC_PACKETS`, or the defaults.
pub fn seed_and_count(default_packets: usize) -> (u64, usize) {
    let seed = std::env::var("LVSNIC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let n = std::env::var("LVSNIC_PACKETS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_packets);
    (seed, n)
}
