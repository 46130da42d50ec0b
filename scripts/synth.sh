#!/usr/bin/env bash
# Optional (not in CI): yosys synth_xilinx of the generated card; prints the cell statistics.
#   scripts/synth.sh [VERILOG]   (default build/verilog/lvsnic_card.v; log in build/synth/)
set -euo pipefail
cd "$(dirname "$0")/.."
v=${1:-build/verilog/lvsnic_card.v}
[ -f "$v" ] || scripts/verilog.sh
mkdir -p build/synth
log=build/synth/$(basename "$v" .v).log
yosys -q -l "$log" -p "read_verilog $v; synth_xilinx -top top -flatten; stat" >/dev/null
sed -n '/Printing statistics/,$p' "$log" | grep -E "Number of cells|LUT|FD|RAM|CARRY|MUX|DSP|SRL" || true
echo "synth: full log in $log"
