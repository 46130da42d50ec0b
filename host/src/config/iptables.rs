//! iptables-save / ip6tables-save text of the mangle table, and single iptables commands.

use super::ConfigError;
use crate::model::fwmark::{MarkCmd, MarkRules};
use crate::model::Af;

/// Parse iptables-save / ip6tables-save text (only `*mangle` matters) or bare `-A CHAIN ...`
/// lines. The family is IPv6 when the text says so (ip6tables-save header or IPv6 addresses).
pub fn parse_ruleset(text: &str) -> Result<MarkRules, ConfigError> {
    let _ = text;
    todo!("iptables parser")
}

/// Parse one command (`-t mangle -A PREROUTING ...`, `-I`, `-D`, `-F`) for family `af`.
pub fn parse_command(line: &str, af: Af) -> Result<MarkCmd, String> {
    let _ = (line, af);
    todo!("iptables parser")
}
