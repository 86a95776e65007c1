#!/usr/bin/env bash
# Runs the published Toxiproxy Node and Python clients against brownout's
# Toxiproxy-compatible API (tests/toxiproxy-client/check.js and check.py).
# Usage: tests/toxiproxy-client.sh [BROWNOUT_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/brownout}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then echo "toxiproxy client check: node and npm are missing" >&2; exit 1; fi
  echo "skipped: the Toxiproxy client check needs node and npm"
  exit 0
fi
work=$(mktemp -d)
cp tests/toxiproxy-client/package.json tests/toxiproxy-client/check.js "$work/"
(cd "$work" && npm install --silent --no-audit --no-fund >/dev/null)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '[admin]\nlisten = "127.0.0.1:%s"\n' "$port" > "$work/brownout.toml"
"$bin" proxy --config "$work/brownout.toml" --no-record 2> "$work/brownout.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
node "$work/check.js" "http://127.0.0.1:$port"
# The Python client, in a virtual environment of its own.
if ! python3 -m venv "$work/venv" >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then echo "toxiproxy client check: python3 -m venv is missing" >&2; exit 1; fi
  echo "skipped: the Python Toxiproxy client check needs python3 with venv"
  exit 0
fi
"$work/venv/bin/pip" install --quiet --disable-pip-version-check toxiproxy-python==0.1.1 requests
"$work/venv/bin/python" tests/toxiproxy-client/check.py "$port"
