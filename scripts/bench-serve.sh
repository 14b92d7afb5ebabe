#!/usr/bin/env bash
# Throughput of `causeloop serve` on loopback: wrk posts single events (each with a new
# external_id, so every request creates an Issue) for DURATION seconds over CONNECTIONS
# connections, and reports events/s and latency percentiles.
# Usage: scripts/bench-serve.sh [duration_seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20}
connections=${2:-16}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
cargo build --release -p causeloop >/dev/null
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
RUST_LOG=warn target/release/causeloop serve --addr "127.0.0.1:$port" --data-dir "$work/data" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do grep -q "listening" "$work/serve.log" && break; sleep 0.1; done
key=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['key'])" "$work/data/credentials.json")
cat >"$work/post.lua" <<LUA
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
request = function()
  counter = counter + 1
  local body = string.format('{"source":"bench","external_id":"%d-%d","title":"Deploy failed: payment-service build %d","severity":"p2","metadata":{"service":"payment-service"}}', math.random(1, 1000000000), counter, counter)
  return wrk.format(nil, "/v1/ingest/events", nil, body)
end
LUA
wrk --latency -t 2 -c "$connections" -d "${duration}s" -s "$work/post.lua" "http://127.0.0.1:$port" | tee "$work/wrk.txt"
echo "issues stored: $(curl -s "http://127.0.0.1:$port/v1/issues?limit=1" -H "Authorization: Bearer $key" >/dev/null && echo ok)"
