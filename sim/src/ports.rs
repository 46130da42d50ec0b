//! The port list of a rust-hdl `top` module, and the C++ shim / Rust mirror generated from it.
//!
//! Used by `build.rs` (through `#[path]`) and unit-tested here. rust-hdl 0.46 writes non-ANSI
//! modules whose port declarations look like `input wire  [69:0] a;` / `output reg  v;`.
//! Every port travels across the C ABI as an array of 32-bit words (word 0 = bits 31..0), so
//! one generic scheme handles 1-bit strobes and 512-bit records alike.

/// Direction of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    In,
    Out,
}

/// One port of `top`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub dir: Dir,
    pub name: String,
    pub width: u32,
}

impl Port {
    /// 32-bit words needed to carry the port.
    pub fn words(&self) -> u32 {
        self.width.div_ceil(32)
    }
    /// The identifier used in C++ and Rust (rust-hdl names are plain identifiers at top level).
    pub fn ident(&self) -> String {
        self.name.replace('$', "__")
    }
}

/// Parse the ports of `module top(...)` from rust-hdl's Verilog. Errors name the line.
pub fn parse_top_ports(verilog: &str) -> Result<Vec<Port>, String> {
    let mut in_top = false;
    let mut ports = Vec::new();
    for (n, line) in verilog.lines().enumerate() {
        let l = line.trim();
        if l.starts_with("module top(") {
            in_top = true;
            continue;
        }
        if !in_top {
            continue;
        }
        if l.starts_with("endmodule")
            || l.starts_with("// Stub signals")
            || l.starts_with("// Sub module")
        {
            break;
        }
        let (dir, rest) = if let Some(r) = l.strip_prefix("input ") {
            (Dir::In, r)
        } else if let Some(r) = l.strip_prefix("output ") {
            (Dir::Out, r)
        } else {
            continue;
        };
        let rest = rest.trim_start();
        let rest = rest
            .strip_prefix("wire")
            .or_else(|| rest.strip_prefix("reg"))
            .ok_or_else(|| format!("line {}: expected wire/reg in `{l}`", n + 1))?
            .trim_start();
        let rest = rest
            .strip_prefix("signed")
            .map(str::trim_start)
            .unwrap_or(rest);
        let (width, name) = if let Some(r) = rest.strip_prefix('[') {
            let (range, name) = r
                .split_once(']')
                .ok_or_else(|| format!("line {}: unclosed range in `{l}`", n + 1))?;
            let (hi, lo) = range
                .split_once(':')
                .ok_or_else(|| format!("line {}: bad range in `{l}`", n + 1))?;
            let hi: u32 = hi
                .trim()
                .parse()
                .map_err(|_| format!("line {}: bad range in `{l}`", n + 1))?;
            let lo: u32 = lo
                .trim()
                .parse()
                .map_err(|_| format!("line {}: bad range in `{l}`", n + 1))?;
            if lo != 0 || hi < lo {
                return Err(format!(
                    "line {}: only [N:0] ranges are supported: `{l}`",
                    n + 1
                ));
            }
            (hi + 1, name)
        } else {
            (1, rest)
        };
        let name = name.trim().trim_end_matches(';').trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        {
            return Err(format!("line {}: bad port name in `{l}`", n + 1));
        }
        ports.push(Port {
            dir,
            name: name.to_string(),
            width,
        });
    }
    if !in_top {
        return Err("no `module top(` in the Verilog".into());
    }
    if ports.is_empty() {
        return Err("module top has no ports".into());
    }
    Ok(ports)
}

/// How Verilator 5 types a port: CData/SData/IData/QData hold ≤ 64 bits, wider ones are
/// `VlWide<words>` arrays of 32-bit words.
fn cpp_copy_in(p: &Port) -> String {
    let id = p.ident();
    if p.width > 64 {
        (0..p.words())
            .map(|w| format!("    m->{n}[{w}] = in->{id}[{w}];\n", n = p.name))
            .collect()
    } else if p.width > 32 {
        format!(
            "    m->{n} = ((uint64_t)in->{id}[1] << 32) | in->{id}[0];\n",
            n = p.name
        )
    } else {
        format!("    m->{n} = in->{id}[0];\n", n = p.name)
    }
}

fn cpp_copy_out(p: &Port) -> String {
    let id = p.ident();
    if p.width > 64 {
        (0..p.words())
            .map(|w| format!("    out->{id}[{w}] = m->{n}[{w}];\n", n = p.name))
            .collect()
    } else if p.width > 32 {
        format!(
            "    out->{id}[0] = (uint32_t)m->{n};\n    out->{id}[1] = (uint32_t)((uint64_t)m->{n} >> 32);\n",
            n = p.name
        )
    } else {
        format!("    out->{id}[0] = (uint32_t)m->{n};\n", n = p.name)
    }
}

/// The C++ shim: `extern "C"` functions over the Verilated model `V{prefix}`.
/// The clock port (`clock`) is driven by the shim, not by the caller.
pub fn cpp_shim(prefix: &str, ports: &[Port]) -> String {
    let mut s = String::new();
    s.push_str(
        "// Generated by lvsnic-sim build.rs from the rust-hdl top port list. Do not edit.\n",
    );
    s.push_str(&format!("#include \"V{prefix}.h\"\n#include \"verilated.h\"\n#include \"verilated_vcd_c.h\"\n#include <cstdint>\n\n"));
    s.push_str("struct SimIn {\n");
    for p in ports
        .iter()
        .filter(|p| p.dir == Dir::In && p.name != "clock")
    {
        s.push_str(&format!("    uint32_t {}[{}];\n", p.ident(), p.words()));
    }
    s.push_str("    uint32_t _pad;\n};\nstruct SimOut {\n");
    for p in ports.iter().filter(|p| p.dir == Dir::Out) {
        s.push_str(&format!("    uint32_t {}[{}];\n", p.ident(), p.words()));
    }
    s.push_str("    uint32_t _pad;\n};\n\n");
    s.push_str(&format!(
        "struct Sim {{\n    VerilatedContext* ctx;\n    V{prefix}* m;\n    VerilatedVcdC* tfp;\n    uint64_t t;\n}};\n\n"
    ));
    s.push_str("static void apply_in(Sim* h, const SimIn* in) {\n    auto m = h->m;\n");
    for p in ports
        .iter()
        .filter(|p| p.dir == Dir::In && p.name != "clock")
    {
        s.push_str(&cpp_copy_in(p));
    }
    s.push_str("}\n\nstatic void read_out(Sim* h, SimOut* out) {\n    auto m = h->m;\n");
    for p in ports.iter().filter(|p| p.dir == Dir::Out) {
        s.push_str(&cpp_copy_out(p));
    }
    s.push_str("}\n\nstatic void half(Sim* h, int clk) {\n    h->m->clock = clk;\n    h->m->eval();\n    if (h->tfp) h->tfp->dump(h->t);\n    h->t += 1;\n}\n\n");
    s.push_str(&format!(
        r#"extern "C" {{
void* sim_new(void) {{
    Sim* h = new Sim();
    h->ctx = new VerilatedContext();
    h->ctx->traceEverOn(true);
    h->m = new V{prefix}(h->ctx);
    h->tfp = nullptr;
    h->t = 0;
    h->m->clock = 0;
    h->m->eval();
    return h;
}}
void sim_free(void* p) {{
    Sim* h = (Sim*)p;
    if (h->tfp) {{ h->tfp->close(); delete h->tfp; }}
    h->m->final();
    delete h->m;
    delete h->ctx;
    delete h;
}}
int sim_trace_open(void* p, const char* path) {{
    Sim* h = (Sim*)p;
    if (h->tfp) return 0;
    h->tfp = new VerilatedVcdC();
    h->m->trace(h->tfp, 99);
    h->tfp->open(path);
    return h->tfp->isOpen() ? 0 : -1;
}}
void sim_trace_close(void* p) {{
    Sim* h = (Sim*)p;
    if (h->tfp) {{ h->tfp->close(); delete h->tfp; h->tfp = nullptr; }}
}}
/* Set the inputs, run `cycles` clock cycles (falling then rising edge), read the outputs. */
void sim_step(void* p, const SimIn* in, SimOut* out, uint32_t cycles) {{
    Sim* h = (Sim*)p;
    apply_in(h, in);
    for (uint32_t i = 0; i < cycles; i++) {{ half(h, 0); half(h, 1); }}
    read_out(h, out);
}}
/* Settle combinational logic for the current inputs without a clock edge. */
void sim_eval(void* p, const SimIn* in, SimOut* out) {{
    Sim* h = (Sim*)p;
    apply_in(h, in);
    h->m->eval();
    read_out(h, out);
}}
uint32_t sim_in_size(void) {{ return sizeof(SimIn); }}
uint32_t sim_out_size(void) {{ return sizeof(SimOut); }}
}}
"#
    ));
    s
}

/// The Rust mirror of the shim's structs, plus port metadata.
pub fn rust_mirror(ports: &[Port]) -> String {
    let mut s = String::new();
    s.push_str(
        "// Generated by lvsnic-sim build.rs from the rust-hdl top port list. Do not edit.\n\n",
    );
    s.push_str("/// Inputs of `top` (the clock is driven by the simulator), as 32-bit words.\n");
    s.push_str(
        "#[repr(C)]\n#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]\npub struct SimIn {\n",
    );
    for p in ports
        .iter()
        .filter(|p| p.dir == Dir::In && p.name != "clock")
    {
        s.push_str(&format!(
            "    /// `{}`, {} bits\n    pub {}: [u32; {}],\n",
            p.name,
            p.width,
            p.ident(),
            p.words()
        ));
    }
    s.push_str("    _pad: u32,\n}\n\n");
    s.push_str("/// Outputs of `top`, as 32-bit words.\n");
    s.push_str(
        "#[repr(C)]\n#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]\npub struct SimOut {\n",
    );
    for p in ports.iter().filter(|p| p.dir == Dir::Out) {
        s.push_str(&format!(
            "    /// `{}`, {} bits\n    pub {}: [u32; {}],\n",
            p.name,
            p.width,
            p.ident(),
            p.words()
        ));
    }
    s.push_str("    _pad: u32,\n}\n\n");
    s.push_str("/// `(name, direction is input, width)` of every port of `top`.\npub const PORTS: &[(&str, bool, u32)] = &[\n");
    for p in ports {
        s.push_str(&format!(
            "    ({:?}, {}, {}),\n",
            p.name,
            p.dir == Dir::In,
            p.width
        ));
    }
    s.push_str("];\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\n\nmodule top(clock,a,en,q,v);\n    \n    // Module arguments\n    input wire  clock;\n    input wire  [69:0] a;\n    input wire  en;\n    output reg  [69:0] q;\n    output reg  v;\n    output wire  [40:0] w;\n    \n    // Stub signals\n    reg  [69:0] r$d;\n    wire  [69:0] r$q;\n";

    #[test]
    fn parses_rust_hdl_port_declarations() {
        let p = parse_top_ports(SAMPLE).unwrap();
        let got: Vec<(Dir, &str, u32)> = p
            .iter()
            .map(|p| (p.dir, p.name.as_str(), p.width))
            .collect();
        assert_eq!(
            got,
            vec![
                (Dir::In, "clock", 1),
                (Dir::In, "a", 70),
                (Dir::In, "en", 1),
                (Dir::Out, "q", 70),
                (Dir::Out, "v", 1),
                (Dir::Out, "w", 41),
            ]
        );
        assert_eq!(p[1].words(), 3);
        assert_eq!(p[5].words(), 2);
    }

    #[test]
    fn rejects_what_it_cannot_carry() {
        assert!(parse_top_ports("module foo(a);\n input wire a;\n").is_err());
        assert!(parse_top_ports("module top(a);\n input wire [7:1] a;\n")
            .unwrap_err()
            .contains("[N:0]"));
        assert!(parse_top_ports("module top(a);\nendmodule\n")
            .unwrap_err()
            .contains("no ports"));
    }

    #[test]
    fn shim_and_mirror_agree_on_field_order() {
        let p = parse_top_ports(SAMPLE).unwrap();
        let c = cpp_shim("card", &p);
        let r = rust_mirror(&p);
        // Same fields in the same order on both sides; the clock is not an input field.
        let c_in: Vec<&str> = c
            .lines()
            .skip_while(|l| !l.starts_with("struct SimIn"))
            .skip(1)
            .take(3)
            .collect();
        assert_eq!(
            c_in,
            vec![
                "    uint32_t a[3];",
                "    uint32_t en[1];",
                "    uint32_t _pad;"
            ]
        );
        assert!(r.contains(
            "pub a: [u32; 3],\n    /// `en`, 1 bits\n    pub en: [u32; 1],\n    _pad: u32,"
        ));
        assert!(c.contains("m->a[2] = in->a[2];"));
        assert!(c.contains("out->w[1] = (uint32_t)((uint64_t)m->w >> 32);"));
        assert!(!r.contains("pub clock"));
    }
}
