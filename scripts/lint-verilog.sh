#!/usr/bin/env bash
# verilator --lint-only -Wall on the generated card, with this waiver list (and nothing else):
#   DECLFILENAME  rust-hdl always names the top module `top`, whatever the file is called.
#   WIDTH         rust-hdl emits every integer literal as 32 bits (`32'h1`) and its FIFO/RAM
#                 widgets mix pointer widths; the values are always in range (see
#                 notes/rust-hdl-verilator.md). Our own blocks use Constant<Bits<W>> where it matters.
#   UNUSEDSIGNAL  entry/record images are sliced field by field: reserved bits, the placeholders'
#                 inputs (TODO(integration)) and library-internal signals are legitimately unused.
#   UNOPTFLAT     rust-hdl emits one `always @(*)` per module, so Verilator sees false
#                 combinational loops through the library FIFO (read -> empty, write -> full);
#                 the real logic has no loop (rust-hdl's simulate() converges every cycle).
# Any other warning (e.g. MULTIDRIVEN, LATCH, CASEINCOMPLETE, BLKSEQ) fails the lint.
set -euo pipefail
cd "$(dirname "$0")/.."
v=build/verilog/lvsnic_card.v
[ -f "$v" ] || scripts/verilog.sh
verilator --lint-only -Wall \
  -Wno-DECLFILENAME -Wno-WIDTH -Wno-UNUSEDSIGNAL -Wno-UNOPTFLAT \
  --top-module top "$v"
echo "lint: $v clean (waivers: DECLFILENAME WIDTH UNUSEDSIGNAL UNOPTFLAT)"
