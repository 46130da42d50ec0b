//! lvsnic host library: the golden IPVS model, config import, replay.

pub mod config;
pub mod driver;
pub mod model;
pub mod replay;
