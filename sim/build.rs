//! Build the co-simulated card:
//! 1. the card's Verilog — from `lvsnic_hdl::gen::card_verilog()` (the default simulation
//!    build), or from the file named by `LVSNIC_SIM_VERILOG` (any rust-hdl `top`);
//! 2. the C++ shim and the Rust mirror, generated from `top`'s port list;
//! 3. `verilator --cc --trace` (Debian's package; `make` installs it);
//! 4. the Verilated C++, the shim and Verilator's runtime compiled with `cc` into one static lib.

#[path = "src/ports.rs"]
mod ports;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/ports.rs");
    println!("cargo:rerun-if-env-changed=LVSNIC_SIM_VERILOG");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));

    let verilog = match env::var("LVSNIC_SIM_VERILOG") {
        Ok(path) => {
            println!("cargo:rerun-if-changed={path}");
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("LVSNIC_SIM_VERILOG={path}: {e}"))
        }
        Err(_) => lvsnic_hdl::gen::card_verilog(),
    };
    let vdir = out.join("verilog");
    fs::create_dir_all(&vdir).expect("create verilog dir");
    let vfile = vdir.join("lvsnic_card.v");
    write_if_changed(&vfile, &verilog);

    let ports = ports::parse_top_ports(&verilog).unwrap_or_else(|e| panic!("top port list: {e}"));
    write_if_changed(&out.join("mirror.rs"), &ports::rust_mirror(&ports));
    let shim = out.join("shim.cpp");
    write_if_changed(&shim, &ports::cpp_shim("card", &ports));

    let root = verilator_root();
    let obj = out.join("obj");
    let _ = fs::remove_dir_all(&obj);
    let status = Command::new("verilator")
        .args(["--cc", "--top-module", "top", "--prefix", "Vcard", "-O3", "--x-assign", "fast"])
        .args(["--x-initial", "0", "--noassert", "--trace", "-Wno-fatal", "-Wno-WIDTH"])
        .args(["-Wno-DECLFILENAME", "-Wno-UNUSEDSIGNAL", "-Wno-lint", "-Wno-style", "-Mdir"])
        .arg(&obj)
        .arg(&vfile)
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run verilator ({e}): install it with `make deps` (Debian package `verilator`)")
        });
    assert!(status.success(), "verilator failed on {}", vfile.display());

    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .opt_level(2)
        // No debug info for the generated C++: it doubles compile time and memory for ~1 MB of
        // machine-written code nobody steps through (waveforms are the debugging tool).
        .debug(false)
        .warnings(false)
        .flag_if_supported("-faligned-new")
        .flag_if_supported("-fno-var-tracking")
        .define("VM_TRACE", "1")
        .define("VM_TRACE_VCD", "1")
        .define("VM_COVERAGE", "0")
        .define("VM_SC", "0")
        .include(&obj)
        .include(root.join("include"))
        .include(root.join("include/vltstd"));
    let mut srcs: Vec<PathBuf> = fs::read_dir(&obj)
        .expect("verilator output dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cpp"))
        .collect();
    srcs.sort();
    for s in &srcs {
        build.file(s);
    }
    for rt in [
        "verilated.cpp",
        "verilated_vcd_c.cpp",
        "verilated_threads.cpp",
    ] {
        build.file(root.join("include").join(rt));
    }
    build.file(&shim);
    build.compile("lvsnic_card_sim");
    println!("cargo:rustc-link-lib=pthread");
    println!(
        "cargo:rustc-env=LVSNIC_SIM_VERILOG_FILE={}",
        vfile.display()
    );
}

fn verilator_root() -> PathBuf {
    if let Ok(r) = env::var("VERILATOR_ROOT") {
        return PathBuf::from(r);
    }
    let out = Command::new("verilator")
        .arg("--getenv")
        .arg("VERILATOR_ROOT")
        .output();
    match out {
        Ok(o) if o.status.success() => PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()),
        _ => PathBuf::from("/usr/share/verilator"),
    }
}

/// Keep mtimes stable so unchanged designs do not rebuild downstream.
fn write_if_changed(path: &Path, text: &str) {
    if fs::read_to_string(path).ok().as_deref() != Some(text) {
        fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}
