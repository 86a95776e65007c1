#!/usr/bin/env bash
# The end-to-end benchmark: requests per second, latency and each proxy's
# CPU time per request (user + system, /proc/<pid>/stat) through brownout
# (HTTP target with the recorder off and on, TCP target) against the
# upstream directly and against nginx and haproxy as reverse proxies (and
# haproxy in TCP mode, the TCP target's peer), in the same run, alternating
# so that machine drift cancels out.
#
#   benches/e2e.sh                      # 5 s per measurement, 2 rounds
#   SECONDS_PER_RUN=10 ROUNDS=3 benches/e2e.sh
#   ONLY=traces benches/e2e.sh          # only the cost of trace context and span export
#
# Needs wrk and nginx (the upstream is an nginx serving static files);
# haproxy is compared when installed. Two more tables follow: an HTTPS
# listener (TLS terminated, HTTP/1.1 upstream) against nginx and haproxy
# terminating TLS with the same certificate (needs openssl), and HTTP/2
# pass-through (h2load through brownout to an h2c upstream) against the
# direct path and nginx as an HTTP/2 front (needs h2load). On Debian:
#   apt-get install wrk nginx haproxy openssl nghttp2-client
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_PER_RUN:-5}
rounds=${ROUNDS:-2}
only=${ONLY:-all}
for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { echo "e2e bench needs $tool: apt-get install wrk nginx haproxy" >&2; exit 2; }
done
have_haproxy=$(command -v haproxy >/dev/null && echo yes || echo no)
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
  upstream up { server 127.0.0.1:18080; keepalive 128; }
  server { listen 127.0.0.1:$1; $2 }
}
CONF
  nginx -c "$work/nginx-$1.conf" -p "$work" & pids+=($!); master[$1]=$!
}
nginx_conf 18080 "root $work; location / { }"
nginx_conf 18083 "location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
ticks() { # user + system clock ticks of the given processes, all threads
  local t=0 p
  for p in $1; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
  echo "$t"
}
hz=$(getconf CLK_TCK)
to_us() { # wrk latency such as 85.00us, 1.20ms, 2.01s
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else print n * 1000000 }'
}

# ONLY=traces measures the cost of trace context and span export alone.
if [ "$only" = all ]; then
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
  bind 127.0.0.1:18084
  default_backend b
backend b
  server s 127.0.0.1:18080
frontend ft
  mode tcp
  bind 127.0.0.1:18085
  default_backend bt
backend bt
  mode tcp
  server s 127.0.0.1:18080
CONF
  haproxy -f "$work/haproxy.cfg" -db & pids+=($!); hpid=$!
fi
cat > "$work/brownout.toml" <<CONF
[admin]
listen = "127.0.0.1:18090"
[[target]]
name = "http"
protocol = "http"
listen = "127.0.0.1:18081"
upstream = "http://127.0.0.1:18080"
host = "keep"
[[target]]
name = "tcp"
protocol = "tcp"
listen = "127.0.0.1:18082"
upstream = "127.0.0.1:18080"
CONF
sed 's/1808\([12]\)/1809\1/; s/18090/18099/' "$work/brownout.toml" > "$work/brownout-rec.toml"
sed -i 's/127.0.0.1:18092/127.0.0.1:18093/' "$work/brownout-rec.toml"
"$bin" proxy --config "$work/brownout.toml" --no-record 2>"$work/brownout.log" & pids+=($!); bpid=$!
"$bin" proxy --config "$work/brownout-rec.toml" --run-dir "$work/run" 2>"$work/brownout-rec.log" & pids+=($!); rpid=$!
sleep 1.5

declare -A port=([direct]=18080 [brownout-http]=18081 [brownout-recorded]=18091 [brownout-tcp]=18082 [nginx]=18083)
names=(direct brownout-http brownout-recorded brownout-tcp nginx)
# haproxy in TCP mode is the peer of brownout's TCP target.
if [ "$have_haproxy" = yes ]; then port[haproxy]=18084; port[haproxy-tcp]=18085; names+=(haproxy haproxy-tcp); fi
# Every path must answer 200 with the file's exact size before anything is measured.
if command -v curl >/dev/null; then
  for name in "${names[@]}"; do
    for body in small big; do
      got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:${port[$name]}/$body" || true)
      want="200 $(stat -c %s "$work/$body")"
      [ "$got" = "$want" ] || { echo "$name /$body answered \"$got\", not \"$want\"" >&2; exit 1; }
    done
  done
fi
# The processes doing each proxy's work, for its CPU time per request
# (nginx's workers are the master's children).
declare -A procs=([brownout-http]=$bpid [brownout-recorded]=$rpid [brownout-tcp]=$bpid
  [nginx]="$(pgrep -P "${master[18083]}" | tr '\n' ' ')")
if [ "$have_haproxy" = yes ]; then procs[haproxy]=$hpid; procs[haproxy-tcp]=$hpid; fi
declare -A rps p50 p99 cpu
for round in $(seq "$rounds"); do
  for body in small big; do
    for conns in 64 1; do
      for name in "${names[@]}"; do
        before=$(ticks "${procs[$name]:-}")
        out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:${port[$name]}/$body" 2>&1)
        after=$(ticks "${procs[$name]:-}")
        if grep -q "Non-2xx" <<< "$out"; then
          echo "$name /$body answered errors, so its figures would mean nothing:" >&2
          echo "$out" >&2
          exit 1
        fi
        key="$name,$body,$conns"
        r=$(awk '/Requests\/sec/ { print $2 }' <<< "$out")
        a=$(to_us "$(awk '$1 == "50%" { print $2 }' <<< "$out")")
        b=$(to_us "$(awk '$1 == "99%" { print $2 }' <<< "$out")")
        rps[$key]=$(awk -v x="${rps[$key]:-0}" -v y="$r" -v n="$rounds" 'BEGIN { print x + y / n }')
        p50[$key]=$(awk -v x="${p50[$key]:-0}" -v y="$a" -v n="$rounds" 'BEGIN { print x + y / n }')
        p99[$key]=$(awk -v x="${p99[$key]:-0}" -v y="$b" -v n="$rounds" 'BEGIN { print x + y / n }')
        done_n=$(awk '/requests in/ { print $1 }' <<< "$out")
        c=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$done_n" 'BEGIN { print t * 1000000 / hz / n }')
        cpu[$key]=$(awk -v x="${cpu[$key]:-0}" -v y="$c" -v r="$rounds" 'BEGIN { print x + y / r }')
      done
    done
  done
done

hwm() { awk '/VmHWM/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo "?"; }
echo "end-to-end: wrk, 1 thread, ${secs} s x ${rounds} rounds, $(nproc) cores, $(uname -r)"
echo
echo "| through | body | connections | req/s | vs direct | vs nginx | p50 | p99 | proxy CPU per request |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for body in small big; do
  for conns in 64 1; do
    for name in "${names[@]}"; do
      key="$name,$body,$conns"
      d=${rps[direct,$body,$conns]}
      n=${rps[nginx,$body,$conns]}
      c=$([ -n "${procs[$name]:-}" ] && printf "%.1f us" "${cpu[$key]}" || echo "-")
      printf "| %s | %s | %s | %.0f | %.2fx | %.2fx | %.0f us | %.0f us | %s |\n" "$name" \
        "$([ $body = small ] && echo 16 B || echo 64 KiB)" "$conns" "${rps[$key]}" \
        "$(awk -v a="${rps[$key]}" -v b="$d" 'BEGIN { print a / b }')" \
        "$(awk -v a="${rps[$key]}" -v b="$n" 'BEGIN { print a / b }')" "${p50[$key]}" "${p99[$key]}" "$c"
    done
  done
done
echo
echo "peak memory (VmHWM): brownout $(hwm $bpid) KiB, brownout recording $(hwm $rpid) KiB"
fi

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
  upstream up { server 127.0.0.1:18080; keepalive 128; }
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
listen = "127.0.0.1:18190"
[[target]]
name = "https"
protocol = "http"
listen = "127.0.0.1:18186"
upstream = "http://127.0.0.1:18080"
host = "keep"
tls = { cert_file = "$work/tls.crt", key_file = "$work/tls.key" }
CONF
  "$bin" proxy --config "$work/brownout-tls.toml" --no-record 2>"$work/brownout-tls.log" & pids+=($!); local tpid=$!
  nginx_listen 18187 ssl "ssl_certificate $work/tls.crt; ssl_certificate_key $work/tls.key; \
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
  local names=(brownout-https nginx-https) hapid=""
  declare -A tport=([brownout-https]=18186 [nginx-https]=18187)
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
  bind 127.0.0.1:18188 ssl crt $work/tls.pem alpn http/1.1
  default_backend b
backend b
  server s 127.0.0.1:18080
CONF
    haproxy -f "$work/haproxy-tls.cfg" -db & pids+=($!); hapid=$!
    names+=(haproxy-https); tport[haproxy-https]=18188
  fi
  sleep 1.5
  declare -A tprocs=([brownout-https]=$tpid [nginx-https]="$(pgrep -P "${master[18187]}" | tr '\n' ' ')" [haproxy-https]=$hapid)
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
  nginx_listen 18280 http2 "root $work; location / { }"
  nginx_listen 18283 http2 "location / { grpc_pass grpc://127.0.0.1:18280; }"
  nginx_listen 18284 http2 "location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
  cat > "$work/brownout-h2.toml" <<CONF
[admin]
listen = "127.0.0.1:18290"
[[target]]
name = "h2"
protocol = "http"
listen = "127.0.0.1:18281"
upstream = "http://127.0.0.1:18280"
upstream_version = "http2"
host = "keep"
CONF
  "$bin" proxy --config "$work/brownout-h2.toml" --no-record 2>"$work/brownout-h2.log" & pids+=($!); local hpid2=$!
  sleep 1.5
  local names=(direct-h2c brownout-h2 nginx-h2-grpc_pass nginx-h2-proxy_pass)
  declare -A hport=([direct-h2c]=18280 [brownout-h2]=18281 [nginx-h2-grpc_pass]=18283 [nginx-h2-proxy_pass]=18284)
  declare -A hprocs=([brownout-h2]=$hpid2 [nginx-h2-grpc_pass]="$(pgrep -P "${master[18283]}" | tr '\n' ' ')"
    [nginx-h2-proxy_pass]="$(pgrep -P "${master[18284]}" | tr '\n' ' ')")
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
  nginx_conf 18380 "location /v1/traces { return 200; } location / { return 404; }"
  local variants=(off on export export-down)
  declare -A base=([off]=18381 [on]=18383 [export]=18385 [export-down]=18387)
  declare -A admin=([off]=18390 [on]=18391 [export]=18392 [export-down]=18393)
  declare -A tpids
  local v
  for v in "${variants[@]}"; do
    local ctx="" tel=""
    [ "$v" = off ] && ctx="trace_context = false"
    [ "$v" = export ] && tel=$'[telemetry]\notlp_endpoint = "http://127.0.0.1:18380"'
    [ "$v" = export-down ] && tel=$'[telemetry]\notlp_endpoint = "http://127.0.0.1:18389"'
    cat > "$work/brownout-trace-$v.toml" <<CONF
[admin]
listen = "127.0.0.1:${admin[$v]}"
$tel
[observer]
listen = "127.0.0.1:${base[$v]}"
upstream = "http://127.0.0.1:18080"
$ctx
[[target]]
name = "http"
protocol = "http"
listen = "127.0.0.1:$((base[$v] + 1))"
upstream = "http://127.0.0.1:18080"
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
  for v in export export-down; do
    echo "spans ($v): $(curl -s "http://127.0.0.1:${admin[$v]}/metrics" | awk '/^brownout_spans_(exported|dropped)_total/ { printf "%s %s  ", $1, $2 }')"
  done
}

if [ "$only" = all ]; then
  https_rows
  h2_rows
fi
trace_rows
