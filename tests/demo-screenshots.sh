#!/usr/bin/env bash
# Runs `brownout demo --quick` and takes the report's screenshots committed
# beside tests/report-screenshot.png: tests/report-screenshot-1400.png (a
# desktop) and tests/report-screenshot-390.png (a phone), with headless
# Chromium through tests/report-screenshot.sh.
#
# Usage: tests/demo-screenshots.sh [BROWNOUT_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/brownout}
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
"$bin" demo --quick --run-dir "$work/run" 2> "$work/demo.log" || {
  status=$?
  tail -n 30 "$work/demo.log" >&2
  echo "$0: the demo exited $status" >&2
  exit 1
}
WIDTH=1400 HEIGHT=2600 bash tests/report-screenshot.sh "$work/run/report.html" tests/report-screenshot-1400.png
WIDTH=390 HEIGHT=3200 bash tests/report-screenshot.sh "$work/run/report.html" tests/report-screenshot-390.png
