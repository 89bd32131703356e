#!/usr/bin/env bash
# modelsmith serve held above its capacity (docs/benchmarks.md, "Serving: overload"): the digits
# teacher with one inference thread, driven open loop at RATE requests/s for SECONDS by
# `modelsmith bench --server --rate` over 512 connections (more than the server's batch + queue, so
# the excess reaches the server and is refused there, not queued in the client); the server's RSS (VmRSS) is sampled every 30 s, the excess
# must be answered 429 (bounded queue) and the RSS stay flat.
# LOAD=ab drives it with ApacheBench instead (apt: apache2-utils; closed loop, 512 at once, a connection each
# sending the same request): a client that keeps up where a debug build of ours does not.
#   Benchmarks/serve_soak.sh [SECONDS=600] [RATE=20000]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
rate=${2:-20000}
bin=${MODELSMITH_BIN:-.build/release/modelsmith}
[ -x "$bin" ] || swift build -c release --product modelsmith >&2
dir=$(mktemp -d)
model=Tests/ModelRuntimeTests/Fixtures/models
"$bin" convert "$model/teacher.weights.npz" --graph "$model/teacher.model.json" -o "$dir/teacher.msa" -q
"$bin" serve --model digits="$dir/teacher.msa" --port 8083 --threads 1 --max-queue 256 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do curl -sf 127.0.0.1:8083/v2/health/ready >/dev/null && break; sleep 0.1; done
rss() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
grep -m1 "model name" /proc/cpuinfo
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rss_kib t=0 $(rss)"
( for t in $(seq 30 30 "$seconds"); do sleep 30; echo "rss_kib t=$t $(rss)"; done ) &
sampler=$!
if [ "${LOAD:-bench}" = ab ]; then
    python3 -c 'import json,numpy as np; x=np.load("Examples/digits/test.npz")["x"][0]; print(json.dumps({"inputs":[{"name":"x","shape":[1,64],"datatype":"FP32","data":x.tolist()}]}))' > "$dir/request.json"
    ab -q -c 512 -t "$seconds" -n 100000000 -s 30 -p "$dir/request.json" -T application/json \
        http://127.0.0.1:8083/v2/models/digits/infer | grep -E "Complete requests|Failed requests|Non-2xx|Requests per second|Time per request"
else
    "$bin" bench --server http://127.0.0.1:8083 digits --data Examples/digits/test.npz --batch 1 \
        --rate "$rate" --concurrency 512 --duration "$seconds" --json
fi
wait $sampler || true
echo "rss_kib end $(rss)"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
curl -s 127.0.0.1:8083/metrics | grep -E '^modelsmith_requests_total|^modelsmith_process_resident'
