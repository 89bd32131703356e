#!/usr/bin/env bash
# Renders an HTML report in headless Chromium and saves a PNG, to check that the page and its
# SVG charts display with no network. Usage: scripts/screenshot-report.sh report.html [out.png]
# (Chromium: apt-get install chromium.)
set -euo pipefail
report=$(realpath "$1")
png=${2:-${report%.html}.png}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "no Chromium found: apt-get install chromium" >&2; exit 2; }
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,2400 \
    --screenshot="$png" "file://$report" >/dev/null 2>&1
[ -s "$png" ] || { echo "Chromium wrote no screenshot" >&2; exit 1; }
echo "$png"
