# The two commands of the README:
#   make demo   — the main job: replay the bundled example on the embedded default backend
#   make test   — everything CI checks (.ci/run calls it)
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: demo test deps fmt-check clippy unit bench

deps:
	@scripts/deps.sh

demo: deps
	$(CARGO) run --release -q -p lvsnic -- replay \
		--ipvs examples/demo.ipvs --marks examples/demo.marks --trace examples/demo.jsonl

test: deps fmt-check clippy unit

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace

bench:
	$(CARGO) bench -p lvsnic --bench model
