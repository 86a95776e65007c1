#!/usr/bin/env bash
# The end-to-end benchmark: requests per second, latency and each proxy's
# CPU time per request (user + system, /proc/<pid>/stat) through brownout
# against the upstream directly and against nginx and haproxy in the same
# run, alternating so that machine drift cancels out. Every row of a round
# runs once before the next round starts.
#
#   HTTP/1.1 (wrk -t1, 64 and 1 connections, 16 B and 64 KiB): direct,
#     brownout with the recorder off and on, nginx, haproxy.
#   TCP (the same): brownout's TCP target, haproxy in TCP mode, and
#     fault-cli's TCP proxy when installed (FAULT=path, or `fault` on PATH).
#   Faults that select nothing (wrk -t1, 64 connections, both bodies):
#     brownout with an opt-in error fault active (requests carry no header),
#     with a latency fault on /slow/* (requests go to /small and /big), with
#     a latency fault selecting 1% of requests, and the TCP target with a
#     latency fault matching another client range.
#   Threads (wrk -t2, 64 connections, 16 B): direct, brownout, nginx and
#     haproxy (each running two workers or threads).
#   HTTP/2 from clients (h2load, 10 connections x 10 streams, 16 B), to
#     the same HTTP/1.1 upstream: brownout, nginx (`listen ... http2`) and
#     haproxy (`proto h2`) as h2c fronts.
#
#   benches/e2e.sh                      # 5 s per measurement, 2 rounds
#   SECONDS_PER_RUN=10 ROUNDS=3 benches/e2e.sh
#   PORT_BASE=24080 benches/e2e.sh      # ports 24080-24124 instead of 18080-18124
#   ROWS="brownout-http brownout-optin" ROUNDS=6 benches/e2e.sh   # only these rows
#   ROWS=traces benches/e2e.sh          # only the cost of trace context and span export
#
# Needs wrk and nginx (the upstream is an nginx serving static files);
# haproxy, h2load and fault-cli are compared when installed. Two more
# tables follow: an HTTPS listener (TLS terminated, HTTP/1.1 upstream)
# against nginx and haproxy terminating TLS with the same certificate
# (needs openssl), and HTTP/2 pass-through (h2load through brownout to an
# h2c upstream) against the direct path and nginx as an HTTP/2 front
# (needs h2load). On Debian:
#   apt-get install wrk nginx haproxy openssl nghttp2-client
#   cargo install --root /some/dir fault-cli --version 1.2.1; FAULT=/some/dir/bin/fault
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_PER_RUN:-5}
rounds=${ROUNDS:-2}
# Forty-five ports from PORT_BASE (below 32768): $P80 is PORT_BASE, $P124 the last.
base=${PORT_BASE:-18080}
for i in $(seq 80 124); do eval "P$i=$((base + i - 80))"; done
for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { echo "e2e bench needs $tool: apt-get install wrk nginx haproxy" >&2; exit 2; }
done
have() { command -v "$1" >/dev/null && echo yes || echo no; }
have_haproxy=$(have haproxy)
have_h2load=$(have h2load)
fault_bin=${FAULT:-$(command -v fault || true)}
[ -n "$fault_bin" ] && [ ! -x "$fault_bin" ] && fault_bin=
cargo build --release --quiet
bin=target/release/brownout
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# nginx's workers run as another user: the files must be readable by them
# (mktemp makes a private directory), or every request is a 403.
chmod 755 "$work"
head -c 16 /dev/zero | tr '\0' 'x' > "$work/small"
head -c 65536 /dev/urandom > "$work/big"
chmod 644 "$work/small" "$work/big"
declare -A master
nginx_conf() { # port, body of the server block
  cat > "$work/nginx-$1.conf" <<CONF
worker_processes 2;
pid $work/nginx-$1.pid;
error_log $work/nginx-$1.err warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream up { server 127.0.0.1:$P80; keepalive 128; }
  server { listen 127.0.0.1:$1; $2 }
}
CONF
  nginx -c "$work/nginx-$1.conf" -p "$work" & pids+=($!); master[$1]=$!
}
nginx_conf $P80 "root $work; location / { }"
# The reverse proxy also listens for h2c (HTTP/2 with prior knowledge).
nginx_conf $P83 "listen 127.0.0.1:$P95 http2; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
if [ "$have_haproxy" = yes ]; then
  cat > "$work/haproxy.cfg" <<CONF
global
  nbthread 2
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend f
  bind 127.0.0.1:$P84
  bind 127.0.0.1:$P97 proto h2
  default_backend b
backend b
  server s 127.0.0.1:$P80
frontend ft
  mode tcp
  bind 127.0.0.1:$P85
  default_backend bt
backend bt
  mode tcp
  server s 127.0.0.1:$P80
CONF
  haproxy -f "$work/haproxy.cfg" -db & pids+=($!); hpid=$!
fi
target() { # name, protocol, port, upstream, faults
  printf '[[target]]\nname = "%s"\nprotocol = "%s"\nlisten = "127.0.0.1:%s"\nupstream = "%s"\n%s\n' "$@"
}
{
  printf '[admin]\nlisten = "127.0.0.1:%s"\n' "$P90"
  target http http $P81 http://127.0.0.1:$P80 'host = "keep"'
  target tcp tcp $P82 127.0.0.1:$P80 ''
  # Faults active that the measured requests do not select.
  target http-optin http $P86 http://127.0.0.1:$P80 'host = "keep"
[[target.fault]]
kind = "error"
status = 503
opt_in = "x-brownout: on"'
  target http-path http $P87 http://127.0.0.1:$P80 'host = "keep"
[[target.fault]]
kind = "latency"
delay = "50ms"
match = { path = "/slow/*" }'
  # One request in a hundred is delayed by 1 ms (and so goes through the injector).
  target http-1pct http $P88 http://127.0.0.1:$P80 'host = "keep"
[[target.fault]]
kind = "latency"
delay = "1ms"
probability = 0.01'
  target tcp-client tcp $P89 127.0.0.1:$P80 '[[target.fault]]
kind = "latency"
delay = "50ms"
direction = "both"
match = { client = "10.0.0.0/8" }'
} > "$work/brownout.toml"
{
  printf '[admin]\nlisten = "127.0.0.1:%s"\n' "$P99"
  target http http $P91 http://127.0.0.1:$P80 'host = "keep"'
} > "$work/brownout-rec.toml"
"$bin" proxy --config "$work/brownout.toml" --no-record 2>"$work/brownout.log" & pids+=($!); bpid=$!
"$bin" proxy --config "$work/brownout-rec.toml" --run-dir "$work/run" 2>"$work/brownout-rec.log" & pids+=($!); rpid=$!
if [ -n "$fault_bin" ]; then
  cat > "$work/fault.yaml" <<CONF
schema_version: 1
name: pass-through
proxies:
  - name: up
    protocol: tcp
    listen: 127.0.0.1:$P96
    upstream: 127.0.0.1:$P80
phases:
  - name: pass
    proxies:
      - proxy: up
        faults: []
CONF
  "$fault_bin" --output json --color never run "$work/fault.yaml" >"$work/fault.log" 2>&1 & pids+=($!); fpid=$!
fi
sleep 1.5

# Every row: "name tool port" (tool: wrk1, wrk2 for two threads, h2load),
# which bodies and connection counts it runs with, and the row it is
# compared to ("vs" column): the same protocol with no fault, or nginx.
declare -A port=([direct]=$P80 [brownout-http]=$P81 [brownout-recorded]=$P91 [brownout-tcp]=$P82 [nginx]=$P83
  [brownout-optin]=$P86 [brownout-path]=$P87 [brownout-1pct]=$P88 [brownout-tcp-client]=$P89
  [brownout-h2]=$P81 [nginx-h2]=$P95)
declare -A procs=([brownout-http]=$bpid [brownout-recorded]=$rpid [brownout-tcp]=$bpid [brownout-optin]=$bpid
  [brownout-path]=$bpid [brownout-1pct]=$bpid [brownout-tcp-client]=$bpid [brownout-h2]=$bpid
  [nginx]="$(pgrep -P "${master[$P83]}" | tr '\n' ' ')" [nginx-h2]="$(pgrep -P "${master[$P83]}" | tr '\n' ' ')")
plain=(direct brownout-http brownout-recorded brownout-tcp nginx)
unselected=(brownout-optin brownout-path brownout-1pct brownout-tcp-client)
threads=(direct brownout-http nginx)
h2=(brownout-h2 nginx-h2)
if [ "$have_haproxy" = yes ]; then
  port[haproxy]=$P84; port[haproxy-tcp]=$P85; port[haproxy-h2]=$P97
  procs[haproxy]=$hpid; procs[haproxy-tcp]=$hpid; procs[haproxy-h2]=$hpid
  plain+=(haproxy haproxy-tcp); threads+=(haproxy); h2+=(haproxy-h2)
fi
if [ -n "$fault_bin" ]; then port[fault-tcp]=$P96; procs[fault-tcp]=$fpid; plain+=(fault-tcp); fi
declare -A vs=([brownout-optin]=brownout-http [brownout-path]=brownout-http [brownout-1pct]=brownout-http
  [brownout-tcp-client]=brownout-tcp [fault-tcp]=brownout-tcp [brownout-h2]=nginx-h2 [haproxy-h2]=nginx-h2)

# Every path must answer 200 with the file's exact size before anything is measured.
if command -v curl >/dev/null; then
  for name in "${plain[@]}" "${unselected[@]}"; do
    for body in small big; do
      got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:${port[$name]}/$body" || true)
      want="200 $(stat -c %s "$work/$body")"
      [ "$got" = "$want" ] || { echo "$name /$body answered \"$got\", not \"$want\"" >&2; exit 1; }
    done
  done
  if [ "$have_h2load" = yes ]; then
    for name in "${h2[@]}"; do
      got=$(curl -s --http2-prior-knowledge -o /dev/null -w '%{http_code} %{size_download} %{http_version}' \
        "http://127.0.0.1:${port[$name]}/small" || true)
      [ "$got" = "200 16 2" ] || { echo "$name /small over h2c answered \"$got\"" >&2; exit 1; }
    done
  fi
fi
ticks() { # user + system clock ticks of the given processes, all threads
  local t=0 p
  for p in $1; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
  echo "$t"
}
hz=$(getconf CLK_TCK)
declare -A rps p50 p99 cpu
keys=()
to_us() { # wrk latency such as 85.00us, 1.20ms, 2.01s
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else print n * 1000000 }'
}
add() { # key, array name, value: the mean over the rounds
  local -n a=$2
  a[$1]=$(awk -v x="${a[$1]:-0}" -v y="$3" -v n="$rounds" 'BEGIN { print x + y / n }')
}
# ROWS="brownout-http brownout-optin ..." measures only the rows named
# (more rounds of fewer rows); the HTTPS and HTTP/2-upstream tables then
# run only when it names "https" or "h2-upstream", the trace table "traces".
wanted() { [ -z "${ROWS:-}" ] || [[ " $ROWS " == *" $1 "* ]]; }
measure() { # tool, name, body, connections
  local tool=$1 name=$2 body=$3 conns=$4 out r a=0 b=0 n before after
  local key="$tool,$name,$body,$conns"
  wanted "$name" || return 0
  [ "$round" = 1 ] && keys+=("$key")
  before=$(ticks "${procs[$name]:-}")
  case $tool in
    wrk1|wrk2)
      out=$(wrk -t"${tool#wrk}" -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:${port[$name]}/$body" 2>&1)
      if grep -q "Non-2xx\|Socket errors" <<< "$out"; then
        echo "$name /$body answered errors, so its figures would mean nothing:" >&2; echo "$out" >&2; exit 1
      fi
      r=$(awk '/Requests\/sec/ { print $2 }' <<< "$out")
      a=$(to_us "$(awk '$1 == "50%" { print $2 }' <<< "$out")")
      b=$(to_us "$(awk '$1 == "99%" { print $2 }' <<< "$out")")
      n=$(awk '/requests in/ { print $1 }' <<< "$out") ;;
    h2load)
      out=$(h2load -c10 -m10 -D"$secs" "http://127.0.0.1:${port[$name]}/$body" 2>&1)
      n=$(awk '/^requests:/ { print $8 }' <<< "$out")
      if ! grep -q " 0 failed, 0 errored, 0 timeout" <<< "$out" || ! grep -q " 0 3xx, 0 4xx, 0 5xx" <<< "$out" \
        || [ "${n:-0}" = 0 ]; then
        echo "$name /$body over h2c answered errors:" >&2; echo "$out" >&2; exit 1
      fi
      r=$(awk '/^finished in/ { print $4 }' <<< "$out") ;;
  esac
  after=$(ticks "${procs[$name]:-}")
  add "$key" rps "$r"; add "$key" p50 "$a"; add "$key" p99 "$b"
  add "$key" cpu "$(awk -v t=$((after - before)) -v hz="$hz" -v n="$n" 'BEGIN { print t * 1000000 / hz / n }')"
}
for round in $(seq "$rounds"); do
  for body in small big; do
    for conns in 64 1; do
      for name in "${plain[@]}"; do measure wrk1 "$name" "$body" "$conns"; done
    done
    for name in "${unselected[@]}"; do measure wrk1 "$name" "$body" 64; done
  done
  for name in "${threads[@]}"; do measure wrk2 "$name" small 64; done
  if [ "$have_h2load" = yes ]; then
    for name in "${h2[@]}"; do measure h2load "$name" small 10x10; done
  fi
done

hwm() { awk '/VmHWM/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo "?"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
echo "end-to-end: ${secs} s x ${rounds} rounds, $(nproc) cores, $(uname -r)"
echo
echo "| through | load | body | conns | req/s | vs direct | vs nginx | vs | p50 | p99 | proxy CPU per request |"
echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for key in "${keys[@]}"; do
  IFS=, read -r tool name body conns <<< "$key"
  case $tool in wrk1) load="wrk -t1" ;; wrk2) load="wrk -t2" ;; h2load) load="h2load 10x10" ;; esac
  direct=${rps[$tool,direct,$body,$conns]:-0}
  nginx=${rps[$tool,nginx,$body,$conns]:-${rps[$tool,nginx-h2,$body,$conns]:-0}}
  ref=${vs[$name]:-}
  versus=$([ -n "$ref" ] && echo "$(ratio "${rps[$key]}" "${rps[$tool,$ref,$body,$conns]:-0}") $ref" || echo "-")
  lat=$([ "$tool" = h2load ] && echo "- | -" || printf "%.0f us | %.0f us" "${p50[$key]}" "${p99[$key]}")
  c=$([ -n "${procs[$name]:-}" ] && printf "%.1f us" "${cpu[$key]}" || echo "-")
  printf "| %s | %s | %s | %s | %.0f | %s | %s | %s | %s | %s |\n" "$name" "$load" \
    "$([ "$body" = small ] && echo 16 B || echo 64 KiB)" "$conns" "${rps[$key]}" "$(ratio "${rps[$key]}" "$direct")" \
    "$(ratio "${rps[$key]}" "$nginx")" "$versus" "$lat" "$c"
done
echo
echo "peak memory (VmHWM): brownout $(hwm $bpid) KiB, brownout recording $(hwm $rpid) KiB"

# === HTTPS listener: TLS terminated, HTTP/1.1 to the upstream ===

nginx_listen() { # port, listen options, body of the server block
  cat > "$work/nginx-$1.conf" <<CONF
worker_processes 2;
pid $work/nginx-$1.pid;
error_log $work/nginx-$1.err warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream up { server 127.0.0.1:$P80; keepalive 128; }
  server { listen 127.0.0.1:$1 $2; $3 }
}
CONF
  nginx -c "$work/nginx-$1.conf" -p "$work" & pids+=($!); master[$1]=$!
}

# wrk over HTTPS, 64 connections, 16 B bodies: brownout with cert_file and
# key_file against nginx and haproxy terminating TLS with the same
# certificate in front of the same upstream.
https_rows() {
  command -v openssl >/dev/null || { echo "(no openssl: HTTPS rows skipped)"; return; }
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
  cat "$work/tls.crt" "$work/tls.key" > "$work/tls.pem"
  cat > "$work/brownout-tls.toml" <<CONF
[admin]
listen = "127.0.0.1:$P100"
[[target]]
name = "https"
protocol = "http"
listen = "127.0.0.1:$P101"
upstream = "http://127.0.0.1:$P80"
host = "keep"
tls = { cert_file = "$work/tls.crt", key_file = "$work/tls.key" }
CONF
  "$bin" proxy --config "$work/brownout-tls.toml" --no-record 2>"$work/brownout-tls.log" & pids+=($!); local tpid=$!
  nginx_listen $P102 ssl "ssl_certificate $work/tls.crt; ssl_certificate_key $work/tls.key; \
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
  local names=(brownout-https nginx-https) hapid=""
  declare -A tport=([brownout-https]=$P101 [nginx-https]=$P102)
  if [ "$have_haproxy" = yes ]; then
    cat > "$work/haproxy-tls.cfg" <<CONF
global
  nbthread 2
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend f
  bind 127.0.0.1:$P103 ssl crt $work/tls.pem alpn http/1.1
  default_backend b
backend b
  server s 127.0.0.1:$P80
CONF
    haproxy -f "$work/haproxy-tls.cfg" -db & pids+=($!); hapid=$!
    names+=(haproxy-https); tport[haproxy-https]=$P103
  fi
  sleep 1.5
  declare -A tprocs=([brownout-https]=$tpid [nginx-https]="$(pgrep -P "${master[$P102]}" | tr '\n' ' ')" [haproxy-https]=$hapid)
  for name in "${names[@]}"; do
    got=$(curl -s --cacert "$work/tls.crt" -o /dev/null -w '%{http_code} %{size_download}' "https://localhost:${tport[$name]}/small" || true)
    [ "$got" = "200 16" ] || { echo "$name over https answered \"$got\", not \"200 16\"" >&2; exit 1; }
  done
  declare -A trps tp50 tp99 tcpu
  for round in $(seq "$rounds"); do
    for name in "${names[@]}"; do
      local before after out
      before=$(ticks "${tprocs[$name]}")
      out=$(wrk -t1 -c64 -d"${secs}s" --latency "https://127.0.0.1:${tport[$name]}/small" 2>&1)
      after=$(ticks "${tprocs[$name]}")
      grep -q "Non-2xx" <<< "$out" && { echo "$name answered errors:" >&2; echo "$out" >&2; exit 1; }
      trps[$name]=$(awk -v x="${trps[$name]:-0}" -v y="$(awk '/Requests\/sec/ { print $2 }' <<< "$out")" -v n="$rounds" 'BEGIN { print x + y / n }')
      tp50[$name]=$(awk -v x="${tp50[$name]:-0}" -v y="$(to_us "$(awk '$1 == "50%" { print $2 }' <<< "$out")")" -v n="$rounds" 'BEGIN { print x + y / n }')
      tp99[$name]=$(awk -v x="${tp99[$name]:-0}" -v y="$(to_us "$(awk '$1 == "99%" { print $2 }' <<< "$out")")" -v n="$rounds" 'BEGIN { print x + y / n }')
      local n_done c
      n_done=$(awk '/requests in/ { print $1 }' <<< "$out")
      c=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$n_done" 'BEGIN { print t * 1000000 / hz / n }')
      tcpu[$name]=$(awk -v x="${tcpu[$name]:-0}" -v y="$c" -v r="$rounds" 'BEGIN { print x + y / r }')
    done
  done
  echo
  echo "HTTPS listener: wrk over TLS, 1 thread, 64 connections, 16 B bodies, ${secs} s x ${rounds} rounds"
  echo
  echo "| through | req/s | vs nginx | p50 | p99 | proxy CPU per request |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  for name in "${names[@]}"; do
    printf "| %s | %.0f | %.2fx | %.0f us | %.0f us | %.1f us |\n" "$name" "${trps[$name]}" \
      "$(awk -v a="${trps[$name]}" -v b="${trps[nginx-https]}" 'BEGIN { print a / b }')" "${tp50[$name]}" "${tp99[$name]}" "${tcpu[$name]}"
  done
}

# === HTTP/2 to the upstream ===

# h2load (64 connections, 10 streams each, 16 B bodies) straight to an h2c
# upstream (nginx with http2, prior knowledge), through brownout with
# upstream_version = "http2", and through nginx as an HTTP/2 front
# (grpc_pass: nginx's one HTTP/2 upstream module; and proxy_pass, HTTP/1.1
# upstream).
h2_rows() {
  command -v h2load >/dev/null || { echo "(no h2load: HTTP/2 rows skipped; apt-get install nghttp2-client)"; return; }
  nginx_listen $P104 http2 "root $work; location / { }"
  nginx_listen $P107 http2 "location / { grpc_pass grpc://127.0.0.1:$P104; }"
  nginx_listen $P108 http2 "location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
  cat > "$work/brownout-h2.toml" <<CONF
[admin]
listen = "127.0.0.1:$P106"
[[target]]
name = "h2"
protocol = "http"
listen = "127.0.0.1:$P105"
upstream = "http://127.0.0.1:$P104"
upstream_version = "http2"
host = "keep"
CONF
  "$bin" proxy --config "$work/brownout-h2.toml" --no-record 2>"$work/brownout-h2.log" & pids+=($!); local hpid2=$!
  sleep 1.5
  local names=(direct-h2c brownout-h2-upstream nginx-h2-grpc_pass nginx-h2-proxy_pass)
  declare -A hport=([direct-h2c]=$P104 [brownout-h2-upstream]=$P105 [nginx-h2-grpc_pass]=$P107 [nginx-h2-proxy_pass]=$P108)
  declare -A hprocs=([brownout-h2-upstream]=$hpid2 [nginx-h2-grpc_pass]="$(pgrep -P "${master[$P107]}" | tr '\n' ' ')"
    [nginx-h2-proxy_pass]="$(pgrep -P "${master[$P108]}" | tr '\n' ' ')")
  declare -A hrps hcpu
  for round in $(seq "$rounds"); do
    for name in "${names[@]}"; do
      local before after out r done_n
      before=$(ticks "${hprocs[$name]:-}")
      out=$(h2load -c64 -m10 -t1 -D "$secs" --warm-up-time=1 "http://127.0.0.1:${hport[$name]}/small" 2>&1)
      after=$(ticks "${hprocs[$name]:-}")
      grep -q "status codes: [0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx" <<< "$out" || { echo "$name: not all 2xx:" >&2; echo "$out" >&2; exit 1; }
      r=$(awk '/^finished in/ { print $4 }' <<< "$out")
      done_n=$(awk '/^requests:/ { print $8 }' <<< "$out")
      hrps[$name]=$(awk -v x="${hrps[$name]:-0}" -v y="$r" -v n="$rounds" 'BEGIN { print x + y / n }')
      hcpu[$name]=$(awk -v x="${hcpu[$name]:-0}" -v t=$((after - before)) -v hz="$hz" -v n="$done_n" -v r="$rounds" \
        'BEGIN { print x + (n > 0 ? t * 1000000 / hz / n : 0) / r }')
    done
  done
  echo
  echo "HTTP/2 pass-through: h2load, 1 thread, 64 connections x 10 streams, 16 B bodies, ${secs} s x ${rounds} rounds"
  echo
  echo "| through | req/s | vs direct | vs nginx (grpc_pass) | proxy CPU per request |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  for name in "${names[@]}"; do
    printf "| %s | %.0f | %.2fx | %.2fx | %s |\n" "$name" "${hrps[$name]}" \
      "$(awk -v a="${hrps[$name]}" -v b="${hrps[direct-h2c]}" 'BEGIN { print a / b }')" \
      "$(awk -v a="${hrps[$name]}" -v b="${hrps[nginx-h2-grpc_pass]}" 'BEGIN { print a / b }')" \
      "$([ -n "${hprocs[$name]:-}" ] && printf "%.1f us" "${hcpu[$name]}" || echo "-")"
  done
}

# === The cost of trace context and span export ===

# wrk, 64 connections, 16 B bodies, through four recording brownouts, each
# with an observer and an HTTP target in front of the same upstream:
# trace_context = false on both (off), trace context on (the default: the
# observer starts a trace per request and forwards its traceparent; the
# target reads the one wrk sends), and on with the OTLP exporter sending to
# a collector (nginx answering 200 on /v1/traces) or to one that is down
# (a closed port: every span dropped and counted).
trace_rows() {
  nginx_conf $P110 "location /v1/traces { return 200; } location / { return 404; }"
  local variants=(off on export export-down)
  declare -A base=([off]=$P111 [on]=$P113 [export]=$P115 [export-down]=$P117)
  declare -A admin=([off]=$P120 [on]=$P121 [export]=$P122 [export-down]=$P123)
  declare -A tpids
  local v
  for v in "${variants[@]}"; do
    local ctx="" tel=""
    [ "$v" = off ] && ctx="trace_context = false"
    [ "$v" = export ] && tel=$(printf '[telemetry]\notlp_endpoint = "http://127.0.0.1:%s"' "$P110")
    [ "$v" = export-down ] && tel=$(printf '[telemetry]\notlp_endpoint = "http://127.0.0.1:%s"' "$P119")
    cat > "$work/brownout-trace-$v.toml" <<CONF
[admin]
listen = "127.0.0.1:${admin[$v]}"
$tel
[observer]
listen = "127.0.0.1:${base[$v]}"
upstream = "http://127.0.0.1:$P80"
$ctx
[[target]]
name = "http"
protocol = "http"
listen = "127.0.0.1:$((base[$v] + 1))"
upstream = "http://127.0.0.1:$P80"
host = "keep"
$ctx
CONF
    "$bin" proxy --config "$work/brownout-trace-$v.toml" --run-dir "$work/run-trace-$v" 2>"$work/brownout-trace-$v.log" &
    pids+=($!); tpids[$v]=$!
  done
  sleep 1.5
  local tp="traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
  declare -A trps tp50 tp99 tcpu
  local round listener key out before after port hdr
  for round in $(seq "$rounds"); do
    for listener in observer target; do
      for v in "${variants[@]}"; do
        key="$v,$listener"
        port=${base[$v]}; hdr=()
        [ "$listener" = target ] && { port=$((port + 1)); hdr=(-H "$tp"); }
        before=$(ticks "${tpids[$v]}")
        out=$(wrk -t1 -c64 -d"${secs}s" --latency "${hdr[@]}" "http://127.0.0.1:$port/small" 2>&1)
        after=$(ticks "${tpids[$v]}")
        grep -q "Non-2xx" <<< "$out" && { echo "$key answered errors:" >&2; echo "$out" >&2; exit 1; }
        trps[$key]=$(awk -v x="${trps[$key]:-0}" -v y="$(awk '/Requests\/sec/ { print $2 }' <<< "$out")" -v n="$rounds" 'BEGIN { print x + y / n }')
        tp50[$key]=$(awk -v x="${tp50[$key]:-0}" -v y="$(to_us "$(awk '$1 == "50%" { print $2 }' <<< "$out")")" -v n="$rounds" 'BEGIN { print x + y / n }')
        tp99[$key]=$(awk -v x="${tp99[$key]:-0}" -v y="$(to_us "$(awk '$1 == "99%" { print $2 }' <<< "$out")")" -v n="$rounds" 'BEGIN { print x + y / n }')
        local n_done c
        n_done=$(awk '/requests in/ { print $1 }' <<< "$out")
        c=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$n_done" 'BEGIN { print t * 1000000 / hz / n }')
        tcpu[$key]=$(awk -v x="${tcpu[$key]:-0}" -v y="$c" -v r="$rounds" 'BEGIN { print x + y / r }')
      done
    done
  done
  echo
  echo "Trace context and span export: wrk, 1 thread, 64 connections, 16 B bodies, recording, ${secs} s x ${rounds} rounds"
  echo
  echo "| listener | trace context | req/s | vs off | p50 | p99 | proxy CPU per request |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
  for listener in observer target; do
    for v in "${variants[@]}"; do
      key="$v,$listener"
      printf "| %s | %s | %.0f | %.3fx | %.0f us | %.0f us | %.1f us |\n" "$listener" "$v" "${trps[$key]}" \
        "$(awk -v a="${trps[$key]}" -v b="${trps[off,$listener]}" 'BEGIN { print a / b }')" \
        "${tp50[$key]}" "${tp99[$key]}" "${tcpu[$key]}"
    done
  done
  echo
  declare -A metrics
  for v in export export-down; do
    metrics[$v]=$(curl -s "http://127.0.0.1:${admin[$v]}/metrics")
    echo "spans ($v): $(awk '/^brownout_spans_(exported|dropped)_total/ { printf "%s %s  ", $1, $2 }' <<< "${metrics[$v]}")"
  done
  # The export row measures nothing unless the collector took the spans.
  awk '/^brownout_spans_exported_total/ { sent = $2 } END { exit !(sent > 0) }' <<< "${metrics[export]}" \
    || { echo "export: the collector took no spans" >&2; exit 1; }
}

if wanted https; then https_rows; fi
if wanted h2-upstream; then h2_rows; fi
if wanted traces; then trace_rows; fi
