#!/usr/bin/env bash
# Starts moto_server on 127.0.0.1 on a free port; prints its endpoint and writes its pid file.
# Usage: scripts/moto.sh <venv> <pidfile>
set -euo pipefail
venv=$1
pidfile=$2
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"${pidfile%.pid}.log" 2>&1 &
echo $! >"$pidfile"
for _ in $(seq 1 100); do
  if "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/reset', data=b'')" 2>/dev/null; then
    echo "http://127.0.0.1:$port"
    exit 0
  fi
  sleep 0.2
done
echo "moto_server did not start; see ${pidfile%.pid}.log" >&2
exit 1
