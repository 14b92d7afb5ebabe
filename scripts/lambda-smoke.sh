#!/usr/bin/env bash
# Runs the arm64 zips that scripts/lambda-build.sh produced, as Lambda would run them: each zip
# unpacked, its `bootstrap` started under qemu-aarch64 (Debian's qemu-user, with the arm64 glibc
# of libc6-arm64-cross, both installed here if missing) against scripts/coldstart.sh's Runtime API
# emulator, with a moto table and queues and a real key. Each function must answer its events/
# sample with the outcome listed below; anything else (no start, a crash, an error response, a
# different status) fails. This is what shows that the artifacts we deploy start and serve, on
# a machine that cannot run arm64 natively.
#
#   scripts/lambda-smoke.sh --causeloop PATH [--zips DIR]
#   scripts/lambda-smoke.sh --install-only
#
# --causeloop: a `causeloop` binary (for `keys create --table`); --zips: where the zips are
# (default ${CARGO_TARGET_DIR:-target}/lambda, as scripts/lambda-build.sh leaves them).
set -euo pipefail
cd "$(dirname "$0")/.."

causeloop=""
install_only=0
zips="${CARGO_TARGET_DIR:-target}/lambda"
while [ $# -gt 0 ]; do
  case "$1" in
    --causeloop) causeloop="$2"; shift ;;
    --zips) zips="$2"; shift ;;
    --install-only) install_only=1 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

if ! command -v qemu-aarch64 >/dev/null 2>&1 || [ ! -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; then
  scripts/apt-install.sh qemu-user libc6-arm64-cross
fi
[ "$install_only" -eq 0 ] || exit 0
[ -n "$causeloop" ] || { echo "--causeloop PATH is required" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Unpack what would be uploaded: every template binary's zip must be there.
for bin in $(python3 scripts/template_functions.py --binaries); do
  python3 - "$zips/$bin/bootstrap.zip" "$work/functions/$bin" <<'PY'
import os, sys, zipfile
archive, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(archive) as zipped:
    names = zipped.namelist()
    if "bootstrap" not in names:
        sys.exit("%s has no bootstrap (it holds %s)" % (archive, names))
    zipped.extract("bootstrap", target)
os.chmod(os.path.join(target, "bootstrap"), 0o755)
PY
done

CAUSELOOP_VENV="${CAUSELOOP_VENV:-$(scripts/test-deps.sh)}" scripts/coldstart.sh --runs 1 \
  --lambda-dir "$work/functions" --wrap "qemu-aarch64 -L /usr/aarch64-linux-gnu" \
  --causeloop "$causeloop" --out "$work/out"

# What each sample must get back (as scripts/coldstart.py summarizes a response). The deliver
# sample carries one unreadable message on purpose, which the batch must report as failed.
python3 - "$work/out/results.json" <<'PY'
import json, sys
expected = {
    "ingest": {"HTTP 202": 1},
    "issues": {"HTTP 200": 1},
    "alerts": {"HTTP 202": 1},
    "connectors": {"HTTP 200": 1},
    "webhooks": {"HTTP 201": 1},
    "cluster": {"batchItemFailures=0": 1},
    "deliver": {"batchItemFailures=1": 1},
    "sync": {"batchItemFailures=0": 1},
    "keys": {"HTTP 200": 1},
    "console": {"HTTP 200": 1},
}
results = {f["function"]: f["outcomes"] for f in json.load(open(sys.argv[1]))["functions"]}
wrong = []
for name in sorted(set(expected) | set(results)):
    if results.get(name) != expected.get(name):
        wrong.append("%s: expected %s, got %s" % (name, expected.get(name), results.get(name)))
if wrong:
    sys.exit("arm64 smoke test failed:\n  " + "\n  ".join(wrong))
print("arm64 smoke test: all %d functions answered their samples as expected" % len(results))
PY
