//! `lvsnic-gen OUT_DIR [BLOCK...]`: write the card's Verilog for the default build.
//!
//! * no BLOCK: `OUT_DIR/lvsnic_card.v` (the whole card, top module `top`);
//! * BLOCK in `dest verdict queue regfile`: `OUT_DIR/lvsnic_<block>.v` (that block alone, for lint).
//!
//! The output is deterministic: no timestamps or paths; generated ID constants come from
//! `lvsnic_hdl::regfile::BuildConfig::default_sim()`.
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: lvsnic-gen OUT_DIR [dest|verdict|queue|regfile ...]");
        std::process::exit(2);
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out).expect("create OUT_DIR");
    let blocks: Vec<String> = args.collect();
    if blocks.is_empty() {
        let path = out.join("lvsnic_card.v");
        std::fs::write(&path, lvsnic_hdl::gen::card_verilog()).expect("write lvsnic_card.v");
        println!("wrote {}", path.display());
        return;
    }
    for b in blocks {
        let Some(v) = lvsnic_hdl::gen::block_verilog(&b) else {
            eprintln!("unknown block {b}");
            std::process::exit(2);
        };
        let path = out.join(format!("lvsnic_{b}.v"));
        std::fs::write(&path, v).expect("write");
        println!("wrote {}", path.display());
    }
}
