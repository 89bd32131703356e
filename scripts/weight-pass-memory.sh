#!/usr/bin/env bash
# Peak RSS of the weight-only passes on a generated large model (the goal: ≤ 2× the largest tensor
# + 300 MB; record results in docs/benchmarks.md with the CPU): LAYERS linear layers of WIDTH×WIDTH f32 in one .safetensors (default
# 12 × 8192² = 3 GiB, largest tensor 256 MiB), then `inspect`, `convert` to .msa, `prune --amount 0.5`
# and `quantize` from a calibration cache (the weight part), each in a fresh process under
# /usr/bin/time (maxrss). A benchmark, not a test: it needs ~4× the model on disk and minutes.
#
# Usage: scripts/weight-pass-memory.sh [LAYERS] [WIDTH]   (MODELSMITH picks the binary; release by default)
set -euo pipefail
cd "$(dirname "$0")/.."
LAYERS=${1:-12}
WIDTH=${2:-8192}
MODELSMITH=${MODELSMITH:-.build/release/modelsmith}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

/usr/bin/python3 - "$WORK" "$LAYERS" "$WIDTH" <<'PY'
import json, struct, sys
import numpy as np
work, layers, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
nodes, header, offset = [], {}, 0
for i in range(layers):
    for name, shape in ((f"fc{i}.weight", [width, width]), (f"fc{i}.bias", [width])):
        size = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    nodes.append({"name": f"fc{i}", "op": "linear", "inputs": ["x" if i == 0 else f"h{i - 1}"], "output": f"h{i}",
                  "params": {"weight": f"fc{i}.weight", "bias": f"fc{i}.bias"}, "attrs": {"out_features": width}})
graph = {"modelsmith": 1, "name": "large-mlp", "inputs": [{"name": "x", "shape": [-1, width], "dtype": "f32"}],
         "outputs": [f"h{layers - 1}"], "nodes": nodes}
json.dump(graph, open(f"{work}/model.json", "w"))
raw = json.dumps(header).encode()
raw += b" " * (-len(raw) % 8)
with open(f"{work}/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(raw)) + raw)
    for i in range(layers):  # one tensor at a time, so the generator itself stays small
        f.write((rng.standard_normal((width, width), dtype=np.float32) * 0.01).tobytes())
        f.write(np.zeros(width, dtype=np.float32).tobytes())
np.savez(f"{work}/calib.npz", x=rng.standard_normal((64, width), dtype=np.float32))
PY
size=$(stat -c %s "$WORK/model.safetensors")
largest=$((WIDTH * WIDTH * 4))
echo "model: $LAYERS × ${WIDTH}² f32, $((size / 1048576)) MiB; largest tensor $((largest / 1048576)) MiB; goal ≤ $((2 * largest / 1048576 + 300)) MiB"
"$MODELSMITH" calibrate "$WORK/model.safetensors" --graph "$WORK/model.json" --calib "$WORK/calib.npz" -o "$WORK/calib.json" >/dev/null
measure() {
    local label=$1; shift
    local start=$SECONDS rss
    rss=$(/usr/bin/time -f %M "$MODELSMITH" "$@" 2>&1 >/dev/null | tail -1)
    echo "$label: peak RSS $((rss / 1024)) MiB ($((SECONDS - start)) s)"
}
measure "inspect" inspect "$WORK/model.safetensors" --graph "$WORK/model.json"
measure "convert → .msa" convert "$WORK/model.safetensors" --graph "$WORK/model.json" -o "$WORK/c.msa"
measure "prune --amount 0.5" prune "$WORK/model.safetensors" --graph "$WORK/model.json" --amount 0.5 -o "$WORK/p.msa"
measure "quantize --calib-cache" quantize "$WORK/model.safetensors" --graph "$WORK/model.json" --calib-cache "$WORK/calib.json" -o "$WORK/q.msa"
