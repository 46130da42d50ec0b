//! Small helpers shared by the front-end blocks (parser, fwmark, service).
//!
//! Only generic helpers live here; every block keeps its own constants.

use rust_hdl::prelude::*;

/// An array of `N` default-constructed values (rust-hdl blocks and signals are not `Copy`).
pub fn default_array<T: Default, const N: usize>() -> [T; N] {
    core::array::from_fn(|_| T::default())
}

/// `[Constant(0), Constant(1), ..]`: per-index constants, so an unrolled `for i in 0..N` loop can
/// compare a signal with `i` (`self.front_idx[i].val()`) in both the simulator and the Verilog.
pub fn front_index_consts<const W: usize, const N: usize>() -> [Constant<Bits<W>>; N] {
    core::array::from_fn(|i| Constant::new((i as u64).into()))
}

/// Test helper: generate Verilog for `uut`, run rust-hdl's `yosys_validate` (when `yosys` is on
/// PATH) and `verilator --lint-only -Wall` (when `verilator` is on PATH). Panics on failure.
#[cfg(test)]
pub fn front_check_verilog<U: Block>(name: &str, uut: &mut U) {
    use std::process::Command;
    uut.connect_all();
    let vlog = generate_verilog(uut);
    let have = |tool: &str| {
        Command::new(tool)
            .arg("-V")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
            || Command::new(tool)
                .arg("--version")
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
    };
    if have("yosys") {
        yosys_validate(&format!("lvsnic_{name}"), &vlog)
            .unwrap_or_else(|e| panic!("{name}: yosys_validate failed: {e:?}"));
    } else {
        eprintln!("{name}: yosys not on PATH, skipping yosys_validate");
    }
    if have("verilator") {
        let dir = std::env::temp_dir().join(format!("lvsnic_lint_{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{name}.v"));
        std::fs::write(&file, &vlog).unwrap();
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
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: verilator lint failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("{name}: verilator not on PATH, skipping lint");
    }
}

/// Test helper: one clock cycle (inputs must already be set): falling then rising edge.
#[cfg(test)]
pub fn front_tick<U: Block>(uut: &mut U, clock: fn(&mut U) -> &mut Signal<In, Clock>) {
    clock(uut).next = Clock::from(false);
    assert!(simulate(uut, 200), "did not settle");
    clock(uut).next = Clock::from(true);
    assert!(simulate(uut, 200), "did not settle");
}

/// Tiny deterministic PRNG for the tests (xorshift64*), so no extra dependency is needed.
#[cfg(test)]
pub struct FrontRng(pub u64);

#[cfg(test)]
impl FrontRng {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    pub fn u128(&mut self) -> u128 {
        ((self.next_u64() as u128) << 64) | self.next_u64() as u128
    }
}

/// `u128` -> `Bits<N>` (N > 64 allowed).
pub fn front_bits128<const N: usize>(x: u128) -> Bits<N> {
    let hi: Bits<N> = ((x >> 64) as u64).into();
    let lo: Bits<N> = (x as u64).into();
    if N > 64 {
        (hi << 64u64) | lo
    } else {
        lo
    }
}

/// An ABI image (word k in bits 32k+31..32k) as `Bits<N>`.
pub fn front_words_to_bits<const N: usize>(w: &[u32]) -> Bits<N> {
    w.iter()
        .enumerate()
        .fold(Bits::<N>::default(), |acc, (k, &x)| {
            acc | (Bits::<N>::from(x as u64) << (32 * k as u64))
        })
}
