use super::*;
use crate::tables_common::lint_verilog;

#[test]
fn verilog_lints_small() {
    let mut uut = HashTable::<3, 1, 2, TEMPLATE_BITS>::default();
    uut.connect_all();
    let v = generate_verilog(&uut);
    lint_verilog("lvsnic_table_small", &v);
}
