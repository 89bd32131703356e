#!/usr/bin/env bash
# The local equivalent of deploy/kubernetes/calibrate-job.yaml + calibrate-merge-job.yaml
# (docs/scale-out.md): N `calibrate --shard K/N` processes side by side, then `quantize` from their
# merged caches, for every method, checked byte for byte against one pass over all the data.
#
# Usage: scripts/sharded-calibration.sh N [model] [data.npz]
#   defaults: the digits teacher and its 1437 training samples; MODELSMITH picks the binary
#   (default .build/release/modelsmith, else .build/debug/modelsmith).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:?usage: scripts/sharded-calibration.sh N [model] [data.npz]}
MODEL=${2:-Examples/digits/teacher.tar.zst}
DATA=${3:-Examples/digits/train.npz}
MODELSMITH=${MODELSMITH:-$( [ -x .build/release/modelsmith ] && echo .build/release/modelsmith || echo .build/debug/modelsmith )}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

pids=()
for ((k = 0; k < N; k++)); do
    "$MODELSMITH" calibrate "$MODEL" --calib "$DATA" --shard "$k/$N" -o "$WORK/part-$k.calib.json" >/dev/null &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
echo "calibrated $N shards in parallel → $WORK/part-*.calib.json"

for method in minmax percentile entropy mse; do
    "$MODELSMITH" quantize "$MODEL" --calib-cache "$WORK/part-*.calib.json" --method "$method" -o "$WORK/merged-$method.msa" >/dev/null
    "$MODELSMITH" quantize "$MODEL" --calib "$DATA" --method "$method" -o "$WORK/single-$method.msa" >/dev/null
    if cmp -s "$WORK/merged-$method.msa" "$WORK/single-$method.msa"; then
        echo "$method: merged $N shards = one pass (artifacts identical, $(sha256sum < "$WORK/single-$method.msa" | cut -c1-16)…)"
    else
        echo "$method: merged $N shards differ from one pass" >&2
        exit 1
    fi
done
