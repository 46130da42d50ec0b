//! fwmark rules: the iptables mangle `MARK` rules that classify packets before IPVS sees them.
//! (Filled by the fwmark work item.)

use super::types::{Af, Packet};

/// One mangle rule (match + MARK target). Contents are defined by the fwmark work item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkRule {
    pub af: Af,
}

/// A change to the rule list, as an `iptables -t mangle ...` command says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarkCmd {
    /// `-A CHAIN rule`
    Append { chain: String, rule: MarkRule },
    /// `-I CHAIN [pos] rule` (pos is 1-based, default 1)
    Insert {
        chain: String,
        pos: usize,
        rule: MarkRule,
    },
    /// `-D CHAIN rule` (first rule equal to it)
    Delete { chain: String, rule: MarkRule },
    /// `-D CHAIN num` (1-based)
    DeleteNum { chain: String, num: usize },
    /// `-F [CHAIN]`
    Flush { chain: Option<String> },
}

/// The ordered mark rules of the mangle table (PREROUTING, then INPUT).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MarkRules {}

impl MarkRules {
    /// The mark a packet carries when it reaches IPVS (it arrives with mark 0).
    pub fn mark(&self, pkt: &Packet) -> u32 {
        let _ = pkt;
        0
    }
    /// Apply one rule-list change; nothing changes on error.
    pub fn apply(&mut self, cmd: MarkCmd) -> Result<(), String> {
        let _ = cmd;
        todo!("fwmark")
    }
    /// Append all rules of `other` (a second `--marks` file).
    pub fn extend(&mut self, other: MarkRules) {
        let _ = other;
        todo!("fwmark")
    }
}
