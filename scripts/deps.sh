#!/usr/bin/env bash
# Install what the build needs, idempotently: a CI run starts on a clean Debian machine.
#   verilator  — lint and co-simulation of the generated Verilog (Debian's package)
#   yosys      — synthesis estimates and rust-hdl's yosys_validate (optional: skipped if absent)
# The Rust toolchain itself is pinned by rust-toolchain.toml and must come from rustup.
set -euo pipefail

need=()
command -v verilator >/dev/null 2>&1 || need+=(verilator)
if [ "${LVSNIC_WITH_YOSYS:-1}" = 1 ]; then
  command -v yosys >/dev/null 2>&1 || need+=(yosys)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]} from Debian's packages" >&2
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "deps: need root (or sudo) to apt-get install ${need[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "deps: cargo not found — install Rust with rustup (the toolchain is pinned in rust-toolchain.toml)" >&2
  exit 1
fi
