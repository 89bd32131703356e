#!/usr/bin/env bash
# modelsmith serve against FastAPI + uvicorn + ONNX Runtime on the digits teacher, and dynamic
# batching on vs off (docs/benchmarks.md, "Serving"). Both servers run at once on 127.0.0.1, each
# with one inference thread; the same client (modelsmith bench --server) drives them in turn at
# each concurrency, alternating ours and the peer's ROUNDS times, with batch-1 requests.
# MODEL: teacher (FP32), or teacher-int8 (ours: `modelsmith quantize`; the peer: ONNX Runtime's
# quantize_static; both calibrated on the same 256 rows of Examples/digits/train.npz).
#   pip install fastapi uvicorn onnxruntime onnx
#   Benchmarks/serve_compare.sh [SECONDS=5] [ROUNDS=2] [MODEL=teacher]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
rounds=${2:-2}
variant=${3:-teacher}
bin=${MODELSMITH_BIN:-.build/release/modelsmith}   # another build: MODELSMITH_BIN=path
[ -x "$bin" ] || swift build -c release --product modelsmith >&2
model=Tests/ModelRuntimeTests/Fixtures/models
data=Examples/digits/test.npz
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

wait_ready() {
    for _ in $(seq 1 300); do curl -sf "127.0.0.1:$1/v2/health/ready" >/dev/null && return 0; sleep 0.1; done
    echo "server on port $1 did not become ready" >&2; exit 1
}
# The digits teacher as an artifact, as a user would serve it.
dir=$(mktemp -d)
"$bin" convert "$model/teacher.weights.npz" --graph "$model/teacher.model.json" -o "$dir/teacher.msa" -q
peer_args=()
case $variant in
    teacher) ;;
    teacher-int8)
        "$bin" quantize "$dir/teacher.msa" --calib Examples/digits/train.npz --samples 256 -o "$dir/teacher-int8.msa" -q
        peer_args=(--int8 Examples/digits/train.npz) ;;
    *) echo "MODEL: teacher or teacher-int8, got '$variant'" >&2; exit 2 ;;
esac
serve() {  # PORT EXTRA-ARGS…
    local port=$1; shift
    "$bin" serve --model digits="$dir/$variant.msa" --port "$port" --threads 1 "$@" 2>/dev/null &
    pids+=($!)
}
serve 8081                                   # batching on (defaults: --max-batch 32, --max-queue-delay 2ms)
serve 8082 --max-batch 1                     # batching off
python3 Benchmarks/peers/fastapi_ort_serve.py --port 8090 --threads 1 "${peer_args[@]}" &
pids+=($!)
for port in 8081 8082 8090; do wait_ready $port; done
grep -m1 "model name" /proc/cpuinfo
grep -m1 -o avx512_vnni /proc/cpuinfo || echo "no avx512_vnni"
echo "model $variant; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$rounds"); do
    for c in 1 16 64; do
        for target in "modelsmith:8081" "fastapi-ort:8090" "modelsmith-nobatch:8082"; do
            echo "## round $round, $target, concurrency $c, load $(cut -d' ' -f1 /proc/loadavg)"
            "$bin" bench --server "http://127.0.0.1:${target#*:}" digits --data "$data" --batch 1 \
                --concurrency "$c" --duration "$seconds" --json
        done
    done
done
