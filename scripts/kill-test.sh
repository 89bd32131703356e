#!/usr/bin/env bash
# Crash-safe outputs (issue 8): runs writing commands and kill -9s them at random points, N times.
#   scripts/kill-test.sh [N=100] [MODELSMITH=.build/debug/modelsmith]
# Runs rotate between
#   convert  a 16.8 M-parameter model (64 MiB, made with NumPy if available; else the digits
#            teacher) to .msa,
#   quantize the digits teacher to .msa, and
#   train    the small digits student for 10 epochs (a checkpoint <out>.ckpt after each epoch),
# and between a fresh target and an existing one replaced with --force. After each kill the
# target must be absent (fresh) or byte-identical to the old file (existing), or byte-identical
# to the complete output (the commands are deterministic); a training checkpoint left by the kill
# must resume (`train --resume`) to exactly the uninterrupted run's output. A temporary file left
# beside the target by the kill is counted (it cannot be cleaned up after SIGKILL) and never has
# the target's (or the checkpoint's) name.
# Exit 0 when all N runs hold; prints a summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}
modelsmith=${2:-.build/debug/modelsmith}
[ -x "$modelsmith" ] || { echo "build first: swift build ($modelsmith missing)" >&2; exit 2; }
work=$(mktemp -d /tmp/modelsmith-kill.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Inputs and the complete outputs every interrupted run is compared against.
model=Examples/digits/teacher.tar.zst
if python3 -c "import numpy" 2>/dev/null; then
    python3 - "$work" <<'PY'
import json, sys, numpy as np
out = sys.argv[1]; rng = np.random.default_rng(7); sizes = [64, 2048, 2048, 2048, 10]
tensors, nodes, value = {}, [], "x"
for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
    tensors[f"fc{i}.weight"] = rng.standard_normal((n_out, n_in), dtype=np.float32) * 0.02
    tensors[f"fc{i}.bias"] = np.zeros(n_out, np.float32)
    nodes.append({"name": f"fc{i}", "op": "linear", "inputs": [value], "output": f"h{i}",
                  "params": {"weight": f"fc{i}.weight", "bias": f"fc{i}.bias"}}); value = f"h{i}"
np.savez(f"{out}/big.npz", **tensors)
json.dump({"modelsmith": 1, "name": "big", "inputs": [{"name": "x", "shape": [-1, 64]}], "outputs": [value], "nodes": nodes},
          open(f"{out}/big.json", "w"))
PY
    convert_args=("$work/big.npz" --graph "$work/big.json" --level 3)
else
    convert_args=("$model")
fi
quantize_args=("$model" --calib Examples/digits/test.npz --samples 64)
train_args=(Tests/CLITests/Fixtures/student.npz --graph Tests/CLITests/Fixtures/student.json
            --data Examples/digits/train.npz --epochs 10)

"$modelsmith" convert "${convert_args[@]}" -o "$work/convert.ref.msa" -q || exit 2
"$modelsmith" quantize "${quantize_args[@]}" -o "$work/quantize.ref.msa" -q >/dev/null || exit 2
"$modelsmith" train "${train_args[@]}" -o "$work/train.ref.msa" -q >/dev/null || exit 2
"$modelsmith" convert "$model" -o "$work/old.msa" -q || exit 2   # the "existing target"

# How long each command takes unkilled, to spread kill points over its whole run (+10%).
duration_ms() {
    local start end
    start=$(date +%s%N); "$modelsmith" "$@" >/dev/null 2>&1; end=$(date +%s%N)
    echo $(( (end - start) / 1000000 ))
}
convert_ms=$(duration_ms convert "${convert_args[@]}" -o "$work/t.msa" --force -q)
quantize_ms=$(duration_ms quantize "${quantize_args[@]}" -o "$work/t.msa" --force -q)
train_ms=$(duration_ms train "${train_args[@]}" -o "$work/t.msa" --force -q)
rm -f "$work/t.msa"

failures=0 killed=0 finished=0 leftovers=0 absent=0 old_kept=0 new_complete=0 mid_write=0 resumed=0
for ((i = 1; i <= runs; i++)); do
    case $(( i % 3 )) in
        1) command=convert; args=("${convert_args[@]}"); ms=$convert_ms ;;
        2) command=quantize; args=("${quantize_args[@]}"); ms=$quantize_ms ;;
        0) command=train; args=("${train_args[@]}"); ms=$train_ms ;;
    esac
    dir="$work/run"; rm -rf "$dir"; mkdir -p "$dir"; target="$dir/out.msa"
    existing=$(( (i / 3) % 2 ))
    force=()
    if (( existing )); then cp "$work/old.msa" "$target"; force=(--force); fi
    delay_ms=$(( RANDOM * 32768 + RANDOM ))
    delay_ms=$(( delay_ms % (ms * 11 / 10 + 1) ))

    # Half the runs are killed at a uniform point of the whole run; the other half once the
    # temporary output exists (the write phase is short next to reading and encoding), after a
    # random 0–40 ms more: mid-write, between fsync and rename, or just after it.
    triggered=$(( (i / 6) % 2 ))
    (( triggered )) && delay_ms=$(( RANDOM % 40 ))

    "$modelsmith" "$command" "${args[@]}" -o "$target" "${force[@]}" -q >/dev/null 2>&1 &
    pid=$!
    if (( triggered )); then
        while kill -0 "$pid" 2>/dev/null && ! compgen -G "$dir/.out.msa*.tmp-*" >/dev/null; do sleep 0.002; done
    fi
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); else finished=$((finished + 1)); fi
    wait "$pid" 2>/dev/null

    verdict=""
    if [ ! -e "$target" ]; then
        if (( existing )); then verdict="existing target disappeared"; else absent=$((absent + 1)); fi
    elif cmp -s "$target" "$work/$command.ref.msa"; then
        new_complete=$((new_complete + 1))
    elif (( existing )) && cmp -s "$target" "$work/old.msa"; then
        old_kept=$((old_kept + 1))
    else
        verdict="partial or damaged file at the target ($(stat -c %s "$target") bytes)"
    fi
    # A checkpoint the kill left behind must resume to the uninterrupted run's exact output.
    if [ -z "$verdict" ] && [ -e "$target.ckpt" ]; then
        if "$modelsmith" train "${args[@]}" -o "$target" --force --resume "$target.ckpt" -q >/dev/null 2>"$dir/resume.err" \
           && cmp -s "$target" "$work/train.ref.msa"; then
            resumed=$((resumed + 1))
        else
            verdict="checkpoint did not resume to the same model: $(head -c 200 "$dir/resume.err")"
        fi
    fi
    stray=$(find "$dir" -name '.out.msa*.tmp-*' | wc -l)
    leftovers=$((leftovers + stray))
    (( stray > 0 )) && mid_write=$((mid_write + 1))
    if [ -n "$verdict" ]; then
        failures=$((failures + 1))
        echo "run $i ($command, existing=$existing, kill after ${delay_ms} ms): FAIL: $verdict" >&2
    fi
done
echo "kill-test: $runs runs ($killed killed, $finished finished first; convert ~${convert_ms} ms, quantize ~${quantize_ms} ms, train ~${train_ms} ms):" \
     "$failures failures; target absent $absent, old target intact $old_kept, complete new output $new_complete;" \
     "checkpoints resumed to the exact model: $resumed;" \
     "killed while a temporary file existed: $mid_write (it stays beside the target: $leftovers files)"
(( failures == 0 ))
