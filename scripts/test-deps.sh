#!/usr/bin/env bash
# Installs everything the test command needs that is not Rust: moto (DynamoDB/SQS/SNS-compatible
# server), cfn-lint, the SAM CLI, openapi-spec-validator, Schemathesis (scripts/schemathesis.sh)
# and Playwright for Python (tests/console), in a virtualenv owned by the project; and Prometheus
# Alertmanager, Chromium and (if missing) Node.js from apt.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv="${CAUSELOOP_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
stamp="$venv/.deps-$(sha256sum "$here/scripts/requirements-test.txt" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet -r "$here/scripts/requirements-test.txt"
  touch "$stamp"
fi
# A real Prometheus Alertmanager (Debian's package) for tests/tests/alertmanager_real.rs.
# Idempotent; its output goes to stderr because stdout carries the venv path.
if ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  "$here/scripts/apt-install.sh" prometheus-alertmanager
fi
# Debian's Chromium for the console's browser test (scripts/console-test.sh). Playwright drives
# it by path: its own browser download is never used (`playwright install` is never run).
if ! command -v chromium >/dev/null 2>&1; then
  "$here/scripts/apt-install.sh" chromium
fi
# Node.js runs the walkthrough's Node inbound sender as written (tests/tests/walkthrough.rs).
if ! command -v node >/dev/null 2>&1; then
  "$here/scripts/apt-install.sh" nodejs
fi
echo "$venv"
