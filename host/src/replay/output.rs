//! Decision output (one JSON line per packet) and the run summary.
//!
//! Line format, keys always in this order:
//! `{"i":LINE,"t":T,"verdict":"forward"|"local"|"drop"|"icmp","dest":"10.0.0.2:80"|null,"mark":M,"by":"conn"|"template"|"scheduler"|null}`
//! plus, for pcap packets that could not be handed to the model, a final `"reason":"..."` key.
//!
//! `t` format: the time as an f64, printed the way serde_json prints an f64 (the shortest text
//! that reads back as the same f64, via `ryu`): always with a fraction or an exponent, never as
//! an integer. So `0` and `0.0` in a trace both print `0.0`, `5` prints `5.0`, `300.25` prints
//! `300.25`, `0.000123` prints `0.000123`, `1e-7` prints `1e-7`. IPv6 destinations print as
//! `"[2001:db8::1]:80"`.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;

use crate::model::{Decision, Verdict};

/// `t` as printed in the output (see the module doc).
pub fn format_t(t: f64) -> String {
    if t.is_finite() {
        serde_json::to_string(&t).unwrap_or_else(|_| "null".to_string())
    } else {
        "null".to_string()
    }
}

/// One output line, without the trailing newline.
pub fn format_line(i: u64, t: f64, d: &Decision, reason: Option<&str>) -> String {
    let dest = match d.dest {
        Some(a) => format!("\"{a}\""),
        None => "null".to_string(),
    };
    let by = match d.by {
        Some(b) => format!("\"{}\"", b.name()),
        None => "null".to_string(),
    };
    let mut s = format!(
        "{{\"i\":{i},\"t\":{},\"verdict\":\"{}\",\"dest\":{dest},\"mark\":{},\"by\":{by}",
        format_t(t),
        d.verdict.name(),
        d.mark
    );
    if let Some(r) = reason {
        s.push_str(",\"reason\":");
        s.push_str(&serde_json::to_string(r).unwrap_or_else(|_| "\"?\"".to_string()));
    }
    s.push('}');
    s
}

/// Write one line (with newline).
pub fn write_line(
    out: &mut dyn Write,
    i: u64,
    t: f64,
    d: &Decision,
    reason: Option<&str>,
) -> io::Result<()> {
    let mut s = format_line(i, t, d, reason);
    s.push('\n');
    out.write_all(s.as_bytes())
}

/// Counts over one run; printed on stderr at the end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub packets: u64,
    pub forward: u64,
    pub local: u64,
    pub drop: u64,
    pub icmp: u64,
    /// Forwarded packets per real server.
    pub per_dest: BTreeMap<SocketAddr, u64>,
    /// pcap packets not handed to the model (counted in `local` too), by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Configuration events of the trace applied.
    pub ipvsadm_events: u64,
    pub iptables_events: u64,
    pub sysctl_events: u64,
    /// Things the user should know (e.g. a capture cut short).
    pub warnings: Vec<String>,
    /// Card read-back passes (`--verify`) and the registers and entries they compared.
    pub verify_passes: u64,
    pub verified: u64,
}

impl Summary {
    /// A capture frame not handed to the model: its decision (`local`, counted like any other)
    /// and the reason shown on its line, counted by reason too.
    pub fn skip(&mut self, why: impl std::fmt::Display) -> (Decision, String) {
        let d = Decision {
            verdict: Verdict::Local,
            dest: None,
            mark: 0,
            by: None,
            reason: "not parsed",
        };
        let reason = why.to_string();
        *self.skipped.entry(reason.clone()).or_default() += 1;
        self.count(&d);
        (d, reason)
    }

    pub fn count(&mut self, d: &Decision) {
        self.packets += 1;
        match d.verdict {
            Verdict::Forward => self.forward += 1,
            Verdict::Local => self.local += 1,
            Verdict::Drop => self.drop += 1,
            Verdict::Icmp => self.icmp += 1,
        }
        if let (Verdict::Forward, Some(a)) = (d.verdict, d.dest) {
            *self.per_dest.entry(a).or_default() += 1;
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "replay: {} packets: forward {}, local {}, drop {}, icmp {}",
            self.packets, self.forward, self.local, self.drop, self.icmp
        )?;
        for (a, n) in &self.per_dest {
            writeln!(f, "  -> {a:<28} {n}")?;
        }
        if !self.skipped.is_empty() {
            let parts: Vec<String> = self
                .skipped
                .iter()
                .map(|(r, n)| format!("{r} {n}"))
                .collect();
            writeln!(f, "not parsed (sent local): {}", parts.join(", "))?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        write!(
            f,
            "events applied: ipvsadm {}, iptables {}, sysctl {}",
            self.ipvsadm_events, self.iptables_events, self.sysctl_events
        )?;
        if self.verify_passes > 0 {
            write!(
                f,
                "\nverify: {} read-back passes, {} registers and entries compared, no difference",
                self.verify_passes, self.verified
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DecidedBy;

    fn dec(verdict: Verdict, dest: Option<&str>, mark: u32, by: Option<DecidedBy>) -> Decision {
        Decision {
            verdict,
            dest: dest.map(|s| s.parse().unwrap()),
            mark,
            by,
            reason: "test",
        }
    }

    #[test]
    fn t_format() {
        assert_eq!(format_t(0.0), "0.0");
        assert_eq!(format_t(5.0), "5.0");
        assert_eq!(format_t(0.1), "0.1");
        assert_eq!(format_t(300.25), "300.25");
        assert_eq!(format_t(359.999), "359.999");
        assert_eq!(format_t(0.000123), "0.000123");
        assert_eq!(format_t(1e-7), "1e-7");
        assert_eq!(format_t(1e9), "1000000000.0");
        assert_eq!(format_t(f64::NAN), "null");
    }

    #[test]
    fn lines() {
        let d = dec(
            Verdict::Forward,
            Some("10.0.0.2:80"),
            0,
            Some(DecidedBy::Scheduler),
        );
        assert_eq!(
            format_line(0, 0.0, &d, None),
            r#"{"i":0,"t":0.0,"verdict":"forward","dest":"10.0.0.2:80","mark":0,"by":"scheduler"}"#
        );
        let d = dec(
            Verdict::Forward,
            Some("[2001:db8::1]:80"),
            4294967295,
            Some(DecidedBy::Template),
        );
        assert_eq!(
            format_line(12, 1.5, &d, None),
            r#"{"i":12,"t":1.5,"verdict":"forward","dest":"[2001:db8::1]:80","mark":4294967295,"by":"template"}"#
        );
        let d = dec(Verdict::Drop, Some("10.0.0.1:80"), 1, Some(DecidedBy::Conn));
        assert_eq!(
            format_line(3, 10.0, &d, None),
            r#"{"i":3,"t":10.0,"verdict":"drop","dest":"10.0.0.1:80","mark":1,"by":"conn"}"#
        );
        let d = dec(Verdict::Local, None, 0, None);
        assert_eq!(
            format_line(1, 2.0, &d, None),
            r#"{"i":1,"t":2.0,"verdict":"local","dest":null,"mark":0,"by":null}"#
        );
        let d = dec(Verdict::Icmp, None, 0, None);
        assert_eq!(
            format_line(1, 2.0, &d, None),
            r#"{"i":1,"t":2.0,"verdict":"icmp","dest":null,"mark":0,"by":null}"#
        );
        let d = dec(Verdict::Local, None, 0, None);
        assert_eq!(
            format_line(4, 0.25, &d, Some("not IP: ARP \"x\"")),
            r#"{"i":4,"t":0.25,"verdict":"local","dest":null,"mark":0,"by":null,"reason":"not IP: ARP \"x\""}"#
        );
        // Every line is valid JSON.
        let v: serde_json::Value =
            serde_json::from_str(&format_line(4, 1e-7, &d, Some("a\nb"))).unwrap();
        assert_eq!(v["reason"], "a\nb");
        let mut buf = Vec::new();
        write_line(&mut buf, 0, 0.0, &d, None).unwrap();
        assert!(buf.ends_with(b"}\n"));
    }

    #[test]
    fn summary() {
        let mut s = Summary::default();
        s.count(&dec(
            Verdict::Forward,
            Some("10.0.0.2:80"),
            0,
            Some(DecidedBy::Scheduler),
        ));
        s.count(&dec(
            Verdict::Forward,
            Some("10.0.0.2:80"),
            0,
            Some(DecidedBy::Conn),
        ));
        s.count(&dec(
            Verdict::Forward,
            Some("10.0.0.1:80"),
            0,
            Some(DecidedBy::Conn),
        ));
        s.count(&dec(
            Verdict::Drop,
            Some("10.0.0.1:80"),
            0,
            Some(DecidedBy::Conn),
        ));
        s.count(&dec(Verdict::Local, None, 0, None));
        s.ipvsadm_events = 2;
        assert_eq!(
            (s.packets, s.forward, s.drop, s.local, s.icmp),
            (5, 3, 1, 1, 0)
        );
        assert_eq!(s.per_dest.len(), 2);
        let text = s.to_string();
        assert!(
            text.starts_with("replay: 5 packets: forward 3, local 1, drop 1, icmp 0\n"),
            "{text}"
        );
        assert!(text.contains("10.0.0.2:80"));
        assert!(
            text.ends_with("events applied: ipvsadm 2, iptables 0, sysctl 0"),
            "{text}"
        );
    }
}
