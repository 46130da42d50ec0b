//! Verilog generation for `lvsnic-gen` (and the determinism test).
use rust_hdl::prelude::*;

fn verilog_of<B: Block>(mut b: B) -> String {
    b.connect_all();
    generate_verilog(&b)
}

/// One block alone (small test geometry where the block is generic), for lint.
pub fn block_verilog(name: &str) -> Option<String> {
    Some(match name {
        "dest" => verilog_of(crate::dest::DestTable::<8>::default()),
        "verdict" => verilog_of(crate::verdict::Verdict::default()),
        "queue" => verilog_of(crate::queue::EventQueue::default()),
        "regfile" => verilog_of(crate::regfile::RegFile::default()),
        "keyform" => verilog_of(crate::top::KeyForm::default()),
        "records" => verilog_of(crate::top::Records::default()),
        _ => return None,
    })
}

/// Run `f` on a thread with a large stack: rust-hdl keeps `Bits<N>` (N > 32) as `[bool; N]`
/// inline, so the whole card is a very large value (and debug builds copy it around).
pub fn with_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(f)
        .expect("spawn")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// The whole card at the default (simulation) build.
pub fn card_verilog() -> String {
    with_big_stack(|| verilog_of(crate::top::Card::default()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn card_verilog_is_deterministic() {
        let a = super::card_verilog();
        let b = super::card_verilog();
        assert_eq!(a, b);
        assert!(a.contains("module top("));
        // the ABI hash is in the ID block's read mux
        let h = lvsnic_abi::abi_hash();
        assert!(a.contains(&format!("32'h{:08x}", h as u32)));
    }
}
