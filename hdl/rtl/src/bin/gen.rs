//! `lvsnic-gen OUT_DIR`: write the card's Verilog (filled by the top-level work item).
fn main() {}
