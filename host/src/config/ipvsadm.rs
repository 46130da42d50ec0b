//! ipvsadm rules text (`ipvsadm -S -n` output, `ipvsadm -R` input).

use super::ConfigError;
use crate::model::IpvsCmd;

/// Parse a whole rules text. Blank lines and `#` comments are skipped; a leading `ipvsadm` word is
/// allowed. Returns each command with its 1-based line number, or the first error.
pub fn parse_rules(text: &str) -> Result<Vec<(usize, IpvsCmd)>, ConfigError> {
    let _ = text;
    todo!("ipvsadm parser")
}

/// Parse one command line (as in a trace's `"ipvsadm"` field). `Ok(None)` for blank/comment.
pub fn parse_command(line: &str) -> Result<Option<IpvsCmd>, String> {
    let _ = line;
    todo!("ipvsadm parser")
}
