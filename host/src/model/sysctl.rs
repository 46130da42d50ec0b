//! The sysctl-like settings of `/proc/sys/net/ipv4/vs/` that change decisions (§14).

use super::error::ModelError;

/// Settings with kernel defaults (`ip_vs_control_net_init_sysctl()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sysctls {
    /// 1: entries whose real server was removed are expired instead of dropping packets (§2.6).
    pub expire_nodest_conn: bool,
    /// 1: templates pointing to weight-0 real servers are invalid (§5.3).
    pub expire_quiescent_template: bool,
    /// Bit 0: reschedule a SYN that hits a TIME_WAIT/CLOSE entry; bit 1 adds FIN_WAIT on DR/TUN (§2.5).
    pub conn_reuse_mode: u32,
    /// Any non-RST TCP packet may create an entry (§10.2).
    pub sloppy_tcp: bool,
    /// Any non-ABORT SCTP chunk may create an entry (§10.2).
    pub sloppy_sctp: bool,
    /// fwmark service with no real server forwards to the original destination (§8).
    pub cache_bypass: bool,
    /// Keep netfilter conntrack for IPVS flows: a reused entry's SYN is dropped instead (§2.5).
    pub conntrack: bool,
    /// `secure_tcp` defence mode 0..3 (`update_defense_level()`): 3 switches TCP to the
    /// stricter state table `tcp_states_dos[]` at once; 1 and 2 only do so while the host is
    /// short of memory (`availmem < amemthresh`), which the model takes as never (2 then reads
    /// back as 1).
    pub secure_tcp: u32,
}

impl Default for Sysctls {
    fn default() -> Self {
        Sysctls {
            expire_nodest_conn: false,
            expire_quiescent_template: false,
            conn_reuse_mode: 1,
            sloppy_tcp: false,
            sloppy_sctp: false,
            cache_bypass: false,
            conntrack: false,
            secure_tcp: 0,
        }
    }
}

impl Sysctls {
    /// Names accepted by [`Sysctls::set`], with a `net.ipv4.vs.` prefix allowed too.
    pub const NAMES: &'static [&'static str] = &[
        "expire_nodest_conn",
        "expire_quiescent_template",
        "conn_reuse_mode",
        "sloppy_tcp",
        "sloppy_sctp",
        "cache_bypass",
        "conntrack",
        "secure_tcp",
    ];

    /// Sysctls of `/proc/sys/net/ipv4/vs/` that change nothing the model decides (statistics,
    /// connection sync (§13, not modelled), ICMP/PMTU/tunnel handling of packets the model does
    /// not see, memory thresholds, schedulers lvsnic refuses): accepted, as an integer, and
    /// ignored, so that a trace written for a real director replays.
    pub const NO_EFFECT: &'static [&'static str] = &[
        "amemthresh",
        "am_droprate",
        "snat_reroute",
        "sync_version",
        "sync_ports",
        "sync_persist_mode",
        "sync_qlen_max",
        "sync_sock_size",
        "sync_refresh_period",
        "sync_retries",
        "nat_icmp_send",
        "pmtu_disc",
        "backup_only",
        "schedule_icmp",
        "ignore_tunneled",
        "run_estimation",
        "est_nice",
        "debug_level",
        "lblc_expiration",
        "lblcr_expiration",
    ];

    /// Whether `pd->tcp_state_table` is `tcp_states_dos[]`: `update_defense_level()` passes
    /// `sysctl_secure_tcp > 1` to `ip_vs_protocol_timeout_change()`; without memory pressure
    /// only mode 3 stays above 1.
    pub fn secure_tcp_on(&self) -> bool {
        self.secure_tcp == 3
    }

    /// Set one value from `NAME=VALUE` text. Unknown names, values the kernel refuses and
    /// modes the model does not have are errors; a knob `proc_dointvec()` reads takes any C int
    /// and means what the kernel's tests of it mean.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ModelError> {
        let name = name.trim();
        let short = name
            .strip_prefix("net.ipv4.vs.")
            .or_else(|| name.strip_prefix("/proc/sys/net/ipv4/vs/"))
            .unwrap_or(name);
        // Values that are not one integer: `sync_threshold` (two), `est_cpulist` (a CPU list).
        match short {
            "sync_threshold" => {
                let n: Vec<&str> = value.split_whitespace().collect();
                if n.len() != 2 || n.iter().any(|x| x.parse::<i64>().is_err()) {
                    return Err(ModelError::Invalid(format!(
                        "sysctl sync_threshold: value {value:?} is not two integers"
                    )));
                }
                return Ok(());
            }
            "est_cpulist" => {
                let ok = value.trim().split(',').all(|r| {
                    let ends: Vec<&str> = r.split('-').collect();
                    ends.len() <= 2 && ends.iter().all(|e| e.parse::<u32>().is_ok())
                });
                if !ok {
                    return Err(ModelError::Invalid(format!(
                        "sysctl est_cpulist: value {value:?} is not a CPU list"
                    )));
                }
                return Ok(());
            }
            _ => {}
        }
        // `proc_dointvec()`: one C int, any value. The kernel tests these knobs for non-zero
        // (`conn_reuse_mode` also bit by bit), so 2 means what 1 means.
        let v: i32 = value.trim().parse().map_err(|_| {
            ModelError::Invalid(format!(
                "sysctl {short}: value {value:?} is not an integer (a C int)"
            ))
        })?;
        match short {
            "expire_nodest_conn" => self.expire_nodest_conn = v != 0,
            "expire_quiescent_template" => self.expire_quiescent_template = v != 0,
            // The kernel tests `!= 0` and `& 2`: the int's bits as they are.
            "conn_reuse_mode" => self.conn_reuse_mode = v as u32,
            "sloppy_tcp" => self.sloppy_tcp = v != 0,
            "sloppy_sctp" => self.sloppy_sctp = v != 0,
            "cache_bypass" => self.cache_bypass = v != 0,
            "conntrack" => self.conntrack = v != 0,
            "drop_entry" | "drop_packet" => {
                // Defence modes (§14): 1 and 2 act only while free memory is below
                // `amemthresh` (`update_defense_level()`), which a director with memory to spare
                // never is; 3 is always on (random entry drops / a drop rate), not modelled.
                if !(0..=2).contains(&v) {
                    return Err(ModelError::Invalid(format!(
                        "sysctl {short}: value {v} is not modelled (0..2: on only under memory pressure, which the model never is in; 3 = always on is not supported)"
                    )));
                }
            }
            "secure_tcp" => {
                // proc_do_defense_mode(): EINVAL outside 0..3; without memory pressure
                // update_defense_level() turns 2 into 1 at once.
                if !(0..=3).contains(&v) {
                    return Err(ModelError::Invalid(format!(
                        "sysctl secure_tcp: value {v} is not 0..3"
                    )));
                }
                self.secure_tcp = if v == 2 { 1 } else { v as u32 };
            }
            _ if Self::NO_EFFECT.contains(&short) => {}
            _ => {
                return Err(ModelError::Invalid(format!(
                    "unknown sysctl {name:?} (known: {}; accepted without effect on decisions: drop_entry, drop_packet (0..2), {}, sync_threshold, est_cpulist)",
                    Self::NAMES.join(", "),
                    Self::NO_EFFECT.join(", ")
                )))
            }
        }
        Ok(())
    }

    /// Parse `NAME=VALUE`.
    pub fn set_assignment(&mut self, text: &str) -> Result<(), ModelError> {
        let (n, v) = text
            .split_once('=')
            .ok_or_else(|| ModelError::Invalid(format!("sysctl {text:?}: expected NAME=VALUE")))?;
        self.set(n, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> Result<Sysctls, String> {
        let mut s = Sysctls::default();
        s.set_assignment(text).map(|_| s).map_err(|e| e.to_string())
    }

    #[test]
    fn decision_sysctls_are_set_with_their_ranges() {
        assert!(set("expire_nodest_conn=1").unwrap().expire_nodest_conn);
        assert!(
            set("net.ipv4.vs.expire_quiescent_template=1")
                .unwrap()
                .expire_quiescent_template
        );
        assert_eq!(set("conn_reuse_mode=3").unwrap().conn_reuse_mode, 3);
        // proc_dointvec() takes any int; the kernel tests the knobs for non-zero (and
        // conn_reuse_mode bit by bit).
        assert_eq!(set("conn_reuse_mode=4").unwrap().conn_reuse_mode, 4);
        assert_eq!(set("conn_reuse_mode=-1").unwrap().conn_reuse_mode, u32::MAX);
        assert!(set("sloppy_tcp=2").unwrap().sloppy_tcp);
        assert!(!set("sloppy_tcp=0").unwrap().sloppy_tcp);
        assert!(set("cache_bypass=-5").unwrap().cache_bypass);
        assert!(set("sloppy_tcp=4294967296")
            .unwrap_err()
            .contains("not an integer"));
        assert!(set("sloppy_tcp=yes")
            .unwrap_err()
            .contains("not an integer"));
        assert!(set("sloppy_tcp")
            .unwrap_err()
            .contains("expected NAME=VALUE"));
    }

    /// Sysctls a trace for a real director may set that decide nothing here change nothing
    /// (and are still checked); an unknown name and an always-on defence mode are errors.
    #[test]
    fn sysctls_without_effect_are_accepted_and_change_nothing() {
        for a in [
            "run_estimation=0",
            "net.ipv4.vs.sync_version=1",
            "/proc/sys/net/ipv4/vs/amemthresh=2048",
            "schedule_icmp=1",
            "backup_only=0",
            "drop_entry=1",
            "drop_packet=2",
            "secure_tcp=0",
            "sync_threshold=3 50",
            "est_cpulist=0-1,3",
        ] {
            assert_eq!(set(a), Ok(Sysctls::default()), "{a}");
        }
        assert!(set("drop_packet=3").unwrap_err().contains("not modelled"));
        assert!(set("drop_entry=3").unwrap_err().contains("not modelled"));
        assert!(set("sync_threshold=3")
            .unwrap_err()
            .contains("two integers"));
        assert!(set("est_cpulist=a-b").unwrap_err().contains("CPU list"));
        assert!(set("run_estimation=x")
            .unwrap_err()
            .contains("not an integer"));
        assert!(set("no_such_knob=1")
            .unwrap_err()
            .contains("unknown sysctl"));
    }
}
