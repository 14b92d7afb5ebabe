#!/usr/bin/env bash
# Installs everything the test command needs that is not Rust: moto (DynamoDB/SQS/SNS-compatible
# server), cfn-lint and the SAM CLI, in a virtualenv owned by the project.
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
echo "$venv"
