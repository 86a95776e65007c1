#!/usr/bin/env bash
# Instructions per request through brownout, counted by callgrind: the
# same for the same binary and traffic however busy the machine is, so it
# proves a hot-path saving (or a regression) where wall-clock figures swim.
#
#   benches/callgrind.sh [BROWNOUT_BINARY] [REQUESTS]
#   LOAD=h2load benches/callgrind.sh                  # h2c from h2load, 10 connections x 10 streams
#   PROTOCOL=tcp benches/callgrind.sh                 # a TCP target in front of the same upstream
#   FAULTS='[[target.fault]]
#   kind = "error"
#   status = 503
#   opt_in = "x-brownout: on"' benches/callgrind.sh   # a fault the requests do not select
#   TRACES=off|on|export|export-down benches/callgrind.sh
#
# With TRACES, the listener is an observer (which starts a trace per
# request and forwards its traceparent), recording, with trace_context =
# false (off) or on, and with the OTLP exporter sending to a collector
# (nginx answering 200 on /v1/traces) or to a closed port (export-down):
# the instructions of every thread, the exporter's included, per request.
#
# An nginx upstream serves 16 bytes; brownout runs under callgrind with one
# HTTP target (no fault unless FAULTS gives the target some, recorder off);
# h2load sends a fixed count of keep-alive HTTP/1.1 requests (--h1); the counters are zeroed after a warm-up and
# dumped after the measured load. Prints total instructions / requests
# (user space, brownout's threads).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/brownout}
requests=${2:-20000}
for tool in valgrind callgrind_control h2load nginx; do
  command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install valgrind nghttp2-client nginx" >&2; exit 2; }
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
http { access_log off; keepalive_requests 1000000; server { listen 127.0.0.1:18180; root $work; location / { } }
  server { listen 127.0.0.1:18185; location /v1/traces { return 200; } } }
CONF
nginx -c "$work/nginx.conf" -p "$work" & pids+=($!)
protocol=${PROTOCOL:-http}
upstream=$([ "$protocol" = tcp ] && echo 127.0.0.1:18180 || echo http://127.0.0.1:18180)
cat > "$work/brownout.toml" <<CONF
[admin]
listen = "127.0.0.1:18184"
[[target]]
name = "t"
protocol = "$protocol"
listen = "127.0.0.1:18181"
upstream = "$upstream"
${FAULTS:-}
CONF
record=(--no-record)
traces=${TRACES:-}
if [ -n "$traces" ]; then
  record=(--run-dir "$work/run")
  ctx=""; tel=""
  case "$traces" in
    off) ctx="trace_context = false" ;;
    on) ;;
    export) tel=$'[telemetry]\notlp_endpoint = "http://127.0.0.1:18185"' ;;
    export-down) tel=$'[telemetry]\notlp_endpoint = "http://127.0.0.1:18189"' ;;
    *) echo "TRACES must be off, on, export or export-down" >&2; exit 2 ;;
  esac
  cat > "$work/brownout.toml" <<CONF
[admin]
listen = "127.0.0.1:18184"
$tel
[observer]
listen = "127.0.0.1:18181"
upstream = "http://127.0.0.1:18180"
$ctx
CONF
fi
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$bin" proxy --config "$work/brownout.toml" "${record[@]}" \
  2> "$work/valgrind.log" & pids+=($!)
vg=$!
for _ in $(seq 600); do (exec 3<>/dev/tcp/127.0.0.1/18181) 2>/dev/null && break; sleep 0.1; done
if [ "${LOAD:-wrk}" = h2load ]; then
  # h2c from clients (prior knowledge), 10 connections x 10 streams.
  h2load -n 2000 -c4 -m10 http://127.0.0.1:18181/small > /dev/null
  callgrind_control --zero "$vg" > /dev/null
  sent=$(h2load -n "$requests" -c10 -m10 http://127.0.0.1:18181/small | awk '/^requests:/ {print $8}')
else
  # HTTP/1.1 keep-alive, 4 connections, a fixed count of requests.
  h2load --h1 -n 2000 -c4 http://127.0.0.1:18181/small > /dev/null
  callgrind_control --zero "$vg" > /dev/null
  sent=$(h2load --h1 -n "$requests" -c4 http://127.0.0.1:18181/small | awk '/^requests:/ {print $8}')
fi
# The recorder and the exporter finish what the requests queued (a batch
# waits up to a second) before the count is taken.
[ -n "$traces" ] && sleep 3
callgrind_control --dump "$vg" > /dev/null
sleep 1
total=$(cat "$work"/cg.out.* 2>/dev/null | awk '/^summary:/ {s += $2} END {print s}')
echo "${traces:+traces $traces: }requests $sent, instructions $total, per request $((total / sent))"
# CG_KEEP=dir keeps the profile for callgrind_annotate.
if [ -n "${CG_KEEP:-}" ]; then mkdir -p "$CG_KEEP" && cp "$work"/cg.out.* "$CG_KEEP"/; fi
