//! Config import and export: `ipvsadm -S -n` / `ipvsadm -R` rules text, iptables-save text of
//! the mangle table, and `lvsnic save`.

pub mod iptables;
pub mod ipvsadm;
mod libc;
pub mod save;
#[cfg(test)]
mod tests_ipvsadm;

use std::fmt;

/// A config input that could not be used. Names the input line (1-based) and says why;
/// nothing of the input is applied when one is returned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Where the input came from (file name, `trace line 7`, `command line`).
    pub source_name: String,
    /// 1-based line number in that input (0 = not line-based).
    pub line: usize,
    /// The offending line as given.
    pub text: String,
    pub msg: String,
}

impl ConfigError {
    pub fn new(line: usize, text: &str, msg: impl Into<String>) -> Self {
        ConfigError {
            source_name: String::new(),
            line,
            text: text.trim_end().to_string(),
            msg: msg.into(),
        }
    }
    /// Attach the input's name (a path, usually).
    pub fn in_source(mut self, name: &str) -> Self {
        self.source_name = name.to_string();
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let src = if self.source_name.is_empty() {
            "input"
        } else {
            &self.source_name
        };
        if self.line > 0 {
            write!(f, "{src}:{}: {}: `{}`", self.line, self.msg, self.text)
        } else {
            write!(f, "{src}: {}: `{}`", self.msg, self.text)
        }
    }
}
