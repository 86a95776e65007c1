#!/usr/bin/env bash
# Runs experiments/redis-latency.toml for real against Debian's redis-server,
# with redis-benchmark as the client: it must see the injected latency in the
# "slow cache" phase and refused connections in the "cache down" phase.
#
# Usage: tests/redis-game-day.sh [BROWNOUT_BINARY]
# Needs redis-server and redis-benchmark (Debian: apt-get install redis-server redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/brownout}

for tool in redis-server redis-benchmark redis-cli; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then
      echo "redis game day: $tool is missing (apt-get install redis-server redis-tools)" >&2
      exit 1
    fi
    echo "skipped: redis game day needs $tool (apt-get install redis-server redis-tools)"
    exit 0
  fi
done

work=$(mktemp -d)
redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$work/redis.pid" --logfile "$work/redis.log"
cleanup() {
  [ -n "${run_pid:-}" ] && kill "$run_pid" 2>/dev/null || true
  redis-cli -p 6379 shutdown nosave >/dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 50); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done

"$bin" run experiments/redis-latency.toml --run-dir "$work/run" --quiet 2> "$work/run.log" &
run_pid=$!
for _ in $(seq 100); do redis-cli -p 16379 ping >/dev/null 2>&1 && break; sleep 0.1; done

# Phases: baseline 0-5 s, slow cache 5-15 s, cache down 15-25 s, recovery 25-30 s.
bench() { timeout 20 redis-benchmark -p 16379 -c 1 -n "$1" -t ping -q --csv 2>&1 || true; }
base=$(bench 200)
sleep 5.5
slow=$(redis-benchmark -p 16379 -c 1 -n 40 -t ping_inline --csv 2>/dev/null | tail -n 1 || true)
sleep 10
down=$(timeout 10 redis-cli -p 16379 ping 2>&1 || true)

wait "$run_pid"
status=$?
run_pid=
echo "baseline:   $base"
echo "slow cache: $slow"
echo "cache down: $down"
tail -n 12 "$work/run.log"

# redis-benchmark's CSV: "test","rps","avg_latency_ms",... ; 20 ms injected per reply.
avg=$(echo "$slow" | awk -F'","' '{ gsub(/"/, "", $3); print $3 }')
if ! awk -v a="$avg" 'BEGIN { exit !(a >= 19.0) }'; then
  echo "redis game day: the client did not see the injected 20 ms latency (avg ${avg} ms)" >&2
  exit 1
fi
case "$down" in
  *"refused"*|*"Connection refused"*) ;;
  *) echo "redis game day: the client was not refused during the outage: $down" >&2; exit 1 ;;
esac
if [ "$status" -ne 0 ]; then
  echo "redis game day: brownout run exited $status" >&2
  exit 1
fi
for r in report.json report.md report.html; do
  test -s "$work/run/$r" || { echo "redis game day: $r missing" >&2; exit 1; }
done
echo "redis game day: latency seen (avg ${avg} ms), outage refused, reports written"
