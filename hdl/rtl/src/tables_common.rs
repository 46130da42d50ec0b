//! Small helpers shared by the hash and table blocks and their tests.

/// A tiny deterministic PRNG (xorshift64*) for tests.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Validate generated Verilog with yosys (`yosys_validate`) and `verilator --lint-only`; each
/// tool is skipped with a message when it is not on `PATH`. Panics on errors.
pub fn lint_verilog(prefix: &str, verilog: &str) {
    use std::process::Command;
    let have = |tool: &str| {
        Command::new(tool)
            .arg("-V")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if have("yosys") {
        if let Err(e) = rust_hdl::prelude::yosys_validate(prefix, verilog) {
            panic!("yosys_validate({prefix}) failed: {e:?}");
        }
    } else {
        eprintln!("yosys not found: skipping yosys_validate for {prefix}");
    }
    if Command::new("verilator").arg("--version").output().is_ok() {
        let dir = std::env::temp_dir().join(format!("{prefix}_lint_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("top.v");
        std::fs::write(&f, verilog).unwrap();
        let out = Command::new("verilator")
            .args([
                "--lint-only",
                "-Wall",
                "-Wno-DECLFILENAME",
                "-Wno-WIDTH",
                "-Wno-UNUSEDSIGNAL",
                "--top-module",
                "top",
            ])
            .arg(&f)
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "verilator lint of {prefix} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("verilator not found: skipping lint for {prefix}");
    }
}
