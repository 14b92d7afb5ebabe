#!/usr/bin/env bash
# Checks the running service against openapi.yaml: validates the document (a YAML parser and
# openapi-spec-validator), then starts `causeloop serve` on a free loopback port with a fresh
# --data-dir and runs Schemathesis (`--checks all`, a bounded number of examples per operation,
# a fixed seed) against it with the bootstrap key as the Bearer header. Fails on any server
# error or conformance failure. Usage: scripts/schemathesis.sh [VENV [SCHEMATHESIS ARGS...]]; the
# venv (made by scripts/test-deps.sh when not given) must hold schemathesis and
# openapi-spec-validator; further arguments go to `schemathesis run` (e.g. --continue-on-failure).
#
# The server and Schemathesis run in a network namespace of their own that has only a loopback
# interface: generated webhook registrations name arbitrary hosts, and the delivery worker
# would otherwise try to post events to them. In the namespace every such attempt fails at once.
#
# Left out of the run (scripts/schemathesis.toml says the same next to it, with the other
# departures from Schemathesis's defaults and their reasons):
# - POST /v1/webhooks/inbound/{connector_id} (receiveInboundEvent): every request must carry
#   the hex HMAC-SHA256 of its exact body keyed by the connector's signing secret, which no
#   generated request can have; without it every answer is the one documented 401.
# The provider webhooks (POST /v1/webhooks/{id}/{provider}) are run with `{id}` = the key's
# workspace: `custom`, `sentry`, `pagerduty` and `cloudwatch` need signatures and answer the
# documented 401; the providers that authenticate with the key alone reach their body parsers.
set -euo pipefail
cd "$(dirname "$0")/.."

# Schemathesis: examples per operation and the seed, fixed so a run is reproducible.
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-100}
SEED=${SCHEMATHESIS_SEED:-20240611}

if [ -z "${CAUSELOOP_NETNS:-}" ]; then
  venv=${1:-$(scripts/test-deps.sh)}
  shift || true
  cargo build --locked --quiet -p causeloop
  if ! command -v ip >/dev/null 2>&1; then
    scripts/apt-install.sh iproute2 >&2
  fi
  # Root (as the test command runs) can make a network namespace; anyone else, a user one.
  if [ "$(id -u)" = 0 ]; then unshare_flags=(--net); else unshare_flags=(--net --map-root-user); fi
  exec env CAUSELOOP_NETNS=1 unshare "${unshare_flags[@]}" -- "$0" "$venv" "$@"
fi

venv=$1
shift
ip link set lo up

"$venv/bin/python" - openapi.yaml <<'PY'
import sys, yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

with open(sys.argv[1]) as f:
    yaml.safe_load(f)  # a YAML error names its line
spec, _ = read_from_filename(sys.argv[1])
assert spec["openapi"].startswith("3.1."), spec["openapi"]
validate(spec)
print(f"{sys.argv[1]}: valid OpenAPI {spec['openapi']}")
PY

run_dir=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$run_dir"
}
trap cleanup EXIT

"${CARGO_TARGET_DIR:-target}"/debug/causeloop serve --addr 127.0.0.1:0 --data-dir "$run_dir/data" --allow-private-targets \
  >"$run_dir/serve.out" 2>"$run_dir/serve.log" &
server_pid=$!
base_url=
for _ in $(seq 1 300); do
  base_url=$(sed -n 's/^causeloop listening on //p' "$run_dir/serve.out")
  [ -n "$base_url" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$run_dir/serve.log" >&2; echo "causeloop serve exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$base_url" ] || { echo "causeloop serve did not start" >&2; exit 1; }
CAUSELOOP_KEY=$("$venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' "$run_dir/data/credentials.json")
CAUSELOOP_WORKSPACE=$("$venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["workspace_id"])' "$run_dir/data/credentials.json")
export CAUSELOOP_KEY CAUSELOOP_WORKSPACE
echo "causeloop serve at $base_url (data in $run_dir/data)"

start=$(date +%s)
status=0
"$venv/bin/schemathesis" --config-file scripts/schemathesis.toml run openapi.yaml \
  --url "$base_url" \
  --checks all \
  --max-examples "$MAX_EXAMPLES" \
  --seed "$SEED" \
  --generation-database none \
  --workers 1 \
  --no-color \
  "$@" \
  || status=$?
echo "schemathesis: exit $status in $(($(date +%s) - start)) s"
if [ "$status" != 0 ]; then
  echo "--- last lines of the server's log ---" >&2
  tail -n 20 "$run_dir/serve.log" >&2
fi
exit "$status"
