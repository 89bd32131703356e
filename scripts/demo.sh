#!/usr/bin/env bash
# The end-to-end demo on the bundled digits example (grows with each capability).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/modelsmith
"$bin" --version
