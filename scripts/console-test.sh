#!/usr/bin/env bash
# The web console in a real browser: tests/console/test_console.py drives Debian's Chromium with
# Playwright for Python against a real `causeloop serve` on a loopback port (started by the
# test, with --allow-private-targets so that a loopback webhook receiver can be the endpoint).
#
#   scripts/console-test.sh [VENV] [PYTEST ARGS...]
#
# The venv (made by scripts/test-deps.sh when not given) holds playwright and pytest; Chromium
# is Debian's package, which scripts/test-deps.sh installs. Playwright's own browser download is
# never used. CONSOLE_SCREENSHOTS=docs/console refreshes the README's screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${1:-$(scripts/test-deps.sh)}
shift || true
cargo build --locked --quiet -p causeloop
CAUSELOOP_BIN="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug/causeloop" "$venv/bin/python" -m pytest -p no:cacheprovider -q tests/console "$@"
