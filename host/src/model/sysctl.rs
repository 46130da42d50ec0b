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

    /// Whether `pd->tcp_state_table` is `tcp_states_dos[]`: `update_defense_level()` passes
    /// `sysctl_secure_tcp > 1` to `ip_vs_protocol_timeout_change()`; without memory pressure
    /// only mode 3 stays above 1.
    pub fn secure_tcp_on(&self) -> bool {
        self.secure_tcp == 3
    }

    /// Set one value from `NAME=VALUE` text. Unknown names and out-of-range values are errors
    /// (the kernel's `proc_dointvec` would accept any int for the booleans; we refuse what would
    /// silently mean something else).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ModelError> {
        let name = name.trim();
        let short = name
            .strip_prefix("net.ipv4.vs.")
            .or_else(|| name.strip_prefix("/proc/sys/net/ipv4/vs/"))
            .unwrap_or(name);
        let v: i64 = value.trim().parse().map_err(|_| {
            ModelError::Invalid(format!("sysctl {short}: value {value:?} is not an integer"))
        })?;
        let boolean = |v: i64| -> Result<bool, ModelError> {
            match v {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(ModelError::Invalid(format!(
                    "sysctl {short}: value {v} is not 0 or 1"
                ))),
            }
        };
        match short {
            "expire_nodest_conn" => self.expire_nodest_conn = boolean(v)?,
            "expire_quiescent_template" => self.expire_quiescent_template = boolean(v)?,
            "conn_reuse_mode" => {
                if !(0..=3).contains(&v) {
                    return Err(ModelError::Invalid(format!(
                        "sysctl conn_reuse_mode: value {v} is not 0..3"
                    )));
                }
                self.conn_reuse_mode = v as u32;
            }
            "sloppy_tcp" => self.sloppy_tcp = boolean(v)?,
            "sloppy_sctp" => self.sloppy_sctp = boolean(v)?,
            "cache_bypass" => self.cache_bypass = boolean(v)?,
            "conntrack" => self.conntrack = boolean(v)?,
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
            _ => {
                return Err(ModelError::Invalid(format!(
                    "unknown sysctl {name:?} (known: {})",
                    Self::NAMES.join(", ")
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
