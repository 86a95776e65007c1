#!/usr/bin/env bash
# Takes a screenshot of a rendered brownout HTML report with headless Chromium, the way the HTML test does.
#
# Usage: report-screenshot.sh REPORT_HTML OUT_PNG
#   WIDTH, HEIGHT  window size in pixels (default 1280 x 2400); headless Chromium shoots the window, not the whole
#                  page, so raise HEIGHT to see a long report to its end.
# Chromium is /usr/bin/chromium or `chromium` on PATH (Debian: apt-get install chromium).
set -euo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: $0 REPORT_HTML OUT_PNG" >&2
  exit 2
fi
html=$(realpath -- "$1")
out=$(realpath -m -- "$2")
if [ ! -f "$html" ]; then
  echo "$0: no such file: $1" >&2
  exit 2
fi
chromium=/usr/bin/chromium
if [ ! -x "$chromium" ]; then
  chromium=$(command -v chromium || true)
fi
if [ -z "$chromium" ]; then
  echo "$0: chromium not installed (apt-get install chromium)" >&2
  exit 3
fi

# A fresh profile per run: a shared one is locked by any other Chromium and keeps state between runs.
profile=$(mktemp -d "${TMPDIR:-/tmp}/brownout-shot.XXXXXX")
trap 'rm -rf -- "$profile"' EXIT
rm -f -- "$out"

# --no-sandbox: root cannot use Chromium's sandbox. The rest keeps it off the network and quiet. `timeout`
# bounds a hung browser; its own child processes go with it when the main process is killed.
status=0
timeout --kill-after=5 60 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile/profile" --hide-scrollbars \
  --window-size="${WIDTH:-1280},${HEIGHT:-2400}" --screenshot="$out" "file://$html" \
  >"$profile/stdout" 2>"$profile/stderr" || status=$?
if [ "$status" -ne 0 ] || [ ! -s "$out" ]; then
  echo "$0: chromium failed (exit $status); its stderr:" >&2
  cat "$profile/stderr" >&2
  exit 1
fi
echo "$out"
