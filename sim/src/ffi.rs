//! The only `unsafe` in the crate: calls into the generated C++ shim around the Verilated model.

use std::ffi::{c_char, c_void, CString};
use std::path::Path;
use std::ptr::NonNull;

use crate::io::{SimIn, SimOut};

extern "C" {
    fn sim_new() -> *mut c_void;
    fn sim_free(h: *mut c_void);
    fn sim_trace_open(h: *mut c_void, path: *const c_char) -> i32;
    fn sim_trace_close(h: *mut c_void);
    fn sim_step(h: *mut c_void, inp: *const SimIn, out: *mut SimOut, cycles: u32);
    fn sim_eval(h: *mut c_void, inp: *const SimIn, out: *mut SimOut);
    fn sim_in_size() -> u32;
    fn sim_out_size() -> u32;
}

/// One Verilated instance of the card's `top`. Not `Sync`: the model is single-threaded.
pub struct Model {
    h: NonNull<c_void>,
}

// SAFETY: the Verilated model has no thread affinity; `Model` owns its instance exclusively,
// so moving it to another thread is fine (it is not `Sync`: no shared access).
unsafe impl Send for Model {}

impl Model {
    /// Create a model with all registers at their initial values.
    pub fn new() -> Model {
        // SAFETY: the sizes are plain functions of the generated structs; comparing them catches
        // a Rust mirror out of step with the C++ shim before any pointer is passed.
        let (i, o) = unsafe { (sim_in_size(), sim_out_size()) };
        assert_eq!(
            i as usize,
            std::mem::size_of::<SimIn>(),
            "SimIn mirror differs from the shim"
        );
        assert_eq!(
            o as usize,
            std::mem::size_of::<SimOut>(),
            "SimOut mirror differs from the shim"
        );
        // SAFETY: sim_new allocates a fresh instance and never returns null (C++ new throws).
        let h = unsafe { sim_new() };
        Model {
            h: NonNull::new(h).expect("sim_new returned null"),
        }
    }

    /// Apply `inp`, run `cycles` clock cycles, return the outputs after the last rising edge.
    pub fn step(&mut self, inp: &SimIn, cycles: u32) -> SimOut {
        let mut out = SimOut::default();
        // SAFETY: `h` is a live instance owned by self; `inp`/`out` are valid, correctly sized
        // (checked in `new`) #[repr(C)] structs that outlive the call.
        unsafe { sim_step(self.h.as_ptr(), inp, &mut out, cycles) };
        out
    }

    /// Settle combinational logic for `inp` without a clock edge.
    pub fn eval(&mut self, inp: &SimIn) -> SimOut {
        let mut out = SimOut::default();
        // SAFETY: as in `step`.
        unsafe { sim_eval(self.h.as_ptr(), inp, &mut out) };
        out
    }

    /// Start dumping a VCD waveform to `path` (from the next half cycle on).
    pub fn trace_open(&mut self, path: &Path) -> Result<(), String> {
        let c = CString::new(path.as_os_str().to_string_lossy().as_bytes())
            .map_err(|_| format!("waveform path {} contains a NUL byte", path.display()))?;
        // SAFETY: `h` is live; `c` is a NUL-terminated string that outlives the call (the shim
        // copies the path into the VCD writer).
        let r = unsafe { sim_trace_open(self.h.as_ptr(), c.as_ptr()) };
        if r == 0 {
            Ok(())
        } else {
            Err(format!("cannot open waveform file {}", path.display()))
        }
    }

    /// Flush and close the waveform, if one is open.
    pub fn trace_close(&mut self) {
        // SAFETY: `h` is live; closing without an open trace is a no-op in the shim.
        unsafe { sim_trace_close(self.h.as_ptr()) }
    }
}

impl Default for Model {
    fn default() -> Self {
        Model::new()
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: `h` came from sim_new and is freed exactly once, here.
        unsafe { sim_free(self.h.as_ptr()) }
    }
}
