#!/usr/bin/env bash
# Runs experiments/grpc-pricing-unavailable.toml for real: a grpcio server
# (tests/grpc/server.py) is the pricing dependency, a small Python shop
# (tests/grpc/shop.py) calls it through brownout's HTTP/2 target, and the
# load driver plays users at the observer. The run must hold its hypothesis
# and its reports must show the gRPC statuses the calls ended with.
#
# Usage: tests/grpc-game-day.sh [BROWNOUT_BINARY]
# Needs target/grpc-venv with grpcio and grpcio-tools (.ci/run makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/brownout}
python=${BROWNOUT_GRPC_PYTHON:-target/grpc-venv/bin/python}

if ! "$python" -c 'import grpc, grpc_tools' >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "grpc game day: $python with grpcio and grpcio-tools is missing" >&2
    exit 1
  fi
  echo "skipped: grpc game day needs $python with grpcio and grpcio-tools"
  exit 0
fi

work=$(mktemp -d)
"$python" -m grpc_tools.protoc -Itests/grpc --python_out="$work" --grpc_python_out="$work" tests/grpc/echo.proto
"$python" tests/grpc/server.py "$work" --port 25051 --forever > "$work/server.log" 2>&1 &
server_pid=$!
"$python" tests/grpc/shop.py "$work" 18081 127.0.0.1:15051 > "$work/shop.log" 2>&1 &
shop_pid=$!
cleanup() {
  kill "$server_pid" "$shop_pid" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do grep -q "port 25051" "$work/server.log" 2>/dev/null && break; sleep 0.1; done
# The shop must answer before the run's baseline starts: a user request
# refused by a shop still importing grpc fails the baseline.
shop_up=no
for _ in $(seq 200); do
  if (exec 3<>/dev/tcp/127.0.0.1/18081) 2>/dev/null; then shop_up=yes; break; fi
  sleep 0.1
done
if [ "$shop_up" != yes ]; then
  echo "grpc game day: the shop did not listen on 127.0.0.1:18081 within 20 s" >&2
  cat "$work/shop.log" >&2
  exit 1
fi

set +e
"$bin" run experiments/grpc-pricing-unavailable.toml --run-dir "$work/run" --quiet 2> "$work/run.log"
status=$?
set -e
tail -n 15 "$work/run.log"
if [ "$status" -ne 0 ]; then
  echo "grpc game day: brownout run exited $status, expected 0 (hypothesis held)" >&2
  exit 1
fi
for r in report.json report.md report.html; do
  for word in "gRPC statuses" UNAVAILABLE DEADLINE_EXCEEDED "POST /brownout.test.Echo/Unary"; do
    [ "$r" = report.json ] && [ "$word" = "gRPC statuses" ] && word=grpc_status
    if ! grep -q "$word" "$work/run/$r"; then
      echo "grpc game day: $r does not show $word" >&2
      exit 1
    fi
  done
done
grep -A4 "## gRPC statuses" "$work/run/report.md"
echo "grpc game day: held; the reports show the pricing calls' gRPC statuses"
