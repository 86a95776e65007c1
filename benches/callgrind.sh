#!/usr/bin/env bash
# Instructions per request through brownout, counted by callgrind: the
# same for the same binary and traffic however busy the machine is, so it
# proves a hot-path saving (or a regression) where wall-clock figures swim.
#
#   benches/callgrind.sh [BROWNOUT_BINARY] [REQUESTS]
#
# An nginx upstream serves 16 bytes; brownout runs under callgrind with one
# HTTP target (no fault, recorder off); wrk sends keep-alive requests; the
# counters are zeroed after a warm-up and dumped after the measured load.
# Prints total instructions / requests (user space, brownout's threads).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/brownout}
requests=${2:-20000}
for tool in valgrind callgrind_control wrk nginx; do
  command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install valgrind wrk nginx" >&2; exit 2; }
done
work=$(mktemp -d)
chmod 755 "$work"
head -c 16 /dev/zero | tr '\0' 'x' > "$work/small"
chmod 644 "$work/small"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
daemon off;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000; server { listen 127.0.0.1:18180; root $work; location / { } } }
CONF
nginx -c "$work/nginx.conf" -p "$work" & pids+=($!)
cat > "$work/brownout.toml" <<CONF
[admin]
listen = "127.0.0.1:18184"
[[target]]
name = "t"
protocol = "http"
listen = "127.0.0.1:18181"
upstream = "http://127.0.0.1:18180"
CONF
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$bin" proxy --config "$work/brownout.toml" --no-record \
  2> "$work/valgrind.log" & pids+=($!)
vg=$!
for _ in $(seq 600); do (exec 3<>/dev/tcp/127.0.0.1/18181) 2>/dev/null && break; sleep 0.1; done
wrk -t1 -c4 -d2s http://127.0.0.1:18181/small > /dev/null
callgrind_control --zero "$vg" > /dev/null
# A fixed count: wrk's Lua counts requests and stops the run when done.
cat > "$work/count.lua" <<LUA
local n = 0
response = function() n = n + 1; if n >= $requests then wrk.thread:stop() end end
done = function(summary) io.write(string.format("requests %d\n", summary.requests)) end
LUA
sent=$(wrk -t1 -c4 -d600s -s "$work/count.lua" http://127.0.0.1:18181/small | awk '/^requests/ {print $2}')
callgrind_control --dump "$vg" > /dev/null
sleep 1
total=$(cat "$work"/cg.out.* 2>/dev/null | awk '/^summary:/ {s += $2} END {print s}')
echo "requests $sent, instructions $total, per request $((total / sent))"
