#!/usr/bin/env bash
# Installs what building the Lambda functions needs besides Rust: cargo-lambda and zig (pip, in a
# virtualenv owned by the project) and the arm64 Rust target. Prints the virtualenv's bin
# directory, to be put first on PATH. Idempotent; a fresh machine needs python3 (with venv) and
# rustup.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv="${CAUSELOOP_LAMBDA_VENV:-$here/.venv-lambda}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
stamp="$venv/.deps-$(sha256sum "$here/scripts/requirements-lambda.txt" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  "$venv/bin/pip" install --quiet -r "$here/scripts/requirements-lambda.txt" >&2
  touch "$stamp"
fi
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu >&2
fi
echo "$venv/bin"
