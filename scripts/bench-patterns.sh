#!/usr/bin/env bash
# Builds `causeloop` (its `patterns assign` is what is scored) and the state example, installs Drain3 into .venv-bench (once) and runs the
# pattern-engine benchmark against Drain3 (default settings). Extra arguments go to the .py:
# --loso (leave-one-system-out tuning and its held-out scores), --incidents (the incident-title
# set), --speed 80000 (whole-process wall clock against Drain3), --synthetic 100000 (state size),
# or --cmd '<another command that reads records and prints ids>'.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# --bin as well as --example: with only --example, cargo builds no binary of the selected packages,
# and a stale (or missing) `causeloop` would be scored.
cargo build --release -p causeloop -p causeloop-patterns --bin causeloop --example state
if [ ! -x .venv-bench/bin/python ]; then
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install --quiet 'drain3==0.9.11'
fi
exec .venv-bench/bin/python scripts/bench-patterns.py "$@"
