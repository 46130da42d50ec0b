//! `lvsnic save`: the configuration in `ipvsadm -S -n` form.

use crate::model::{DestConf, ServiceConf};

/// Print services and real servers exactly as `ipvsadm -S -n` does (sorted as it sorts).
pub fn save(config: &[(ServiceConf, Vec<DestConf>)]) -> String {
    let _ = config;
    todo!("save")
}
