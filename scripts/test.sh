#!/usr/bin/env bash
# The one command that runs every test: installs what the tests need (a virtualenv with moto,
# cfn-lint, the SAM CLI, httpx, openapi-spec-validator and Schemathesis), starts moto_server on
# 127.0.0.1 on a free port, runs formatting, lint, the unused-dependency check and every test
# against it, fuzzes the parsers briefly (scripts/fuzz.sh), validates the template, checks the
# running service against openapi.yaml
# (scripts/schemathesis.sh), drives the web console in a real browser (scripts/console-test.sh),
# and stops moto.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=$(scripts/test-deps.sh)
run_dir=$(mktemp -d)
moto_endpoint=$(scripts/moto.sh "$venv" "$run_dir/moto.pid")
trap 'kill "$(cat "$run_dir/moto.pid")" 2>/dev/null || true; rm -rf "$run_dir"' EXIT
echo "moto_server at $moto_endpoint"

export MOTO_ENDPOINT="$moto_endpoint"
export CAUSELOOP_REQUIRE_MOTO=1
export CAUSELOOP_VENV="$venv"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
scripts/unused-deps.sh
cargo test --workspace --locked
# libFuzzer on every parser that reads outside input (shared/fuzz/README.md), 20 s each from the
# committed seed corpus: any panic, hang or oversized allocation fails the run.
scripts/fuzz.sh
scripts/schemathesis.sh "$venv"
# The web console in Debian's Chromium (Playwright) against a real `causeloop serve`.
scripts/console-test.sh "$venv"

"$venv/bin/cfn-lint" template.yaml
# sam validate reads samconfig and writes telemetry config; run it from a scratch directory.
(cd "$run_dir" && SAM_CLI_TELEMETRY=0 "$venv/bin/sam" validate --lint --region us-east-1 -t "$OLDPWD/template.yaml")
echo "all tests passed"
