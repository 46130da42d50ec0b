#!/usr/bin/env bash
# Generate the card's Verilog into build/verilog/ (not committed) and check that generation is
# deterministic (a second run into a scratch directory must give identical bytes).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
out=build/verilog
$CARGO run --release -q -p lvsnic-hdl --bin lvsnic-gen -- "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$CARGO run --release -q -p lvsnic-hdl --bin lvsnic-gen -- "$tmp" >/dev/null
cmp "$out/lvsnic_card.v" "$tmp/lvsnic_card.v" || { echo "verilog: generation is not deterministic" >&2; exit 1; }
echo "verilog: $out/lvsnic_card.v ($(wc -l <"$out/lvsnic_card.v") lines, deterministic)"
