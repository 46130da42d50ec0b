# The two commands of the README:
#   make demo   — the main job: replay the bundled example on the co-simulated card (RTL + driver)
#   make test   — everything CI checks (.ci/run calls it)
# Card RTL (hdl/README.md):
#   make verilog — generate build/verilog/lvsnic_card.v (deterministic; checked)
#   make lint    — verilator --lint-only -Wall on it (waivers documented in scripts/lint-verilog.sh)
#   make synth   — optional yosys synth_xilinx estimate (slow; not in CI)
# Benchmarks: make bench (model decisions/s), make bench-card (co-simulated card, host miss path)
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: demo test deps fmt-check clippy unit bench bench-card verilog lint synth

deps:
	@scripts/deps.sh

demo: deps
	$(CARGO) run --release -q -p lvsnic -- replay --backend sim --verify \
		--ipvs examples/demo.ipvs --marks examples/demo.marks --trace examples/demo.jsonl

test: deps fmt-check clippy unit lint

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace

bench:
	$(CARGO) bench -p lvsnic --bench model

# Co-simulated card + host miss path figures (release build of the Verilated card; ~1-2 min).
bench-card: deps
	$(CARGO) bench -p lvsnic --bench card

verilog: deps
	CARGO=$(CARGO) scripts/verilog.sh

lint: verilog
	scripts/lint-verilog.sh

synth: verilog
	scripts/synth.sh
