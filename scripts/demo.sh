#!/usr/bin/env bash
# The end-to-end demo on the bundled digits example (`make demo`):
# train the 64-512-512-10 teacher with ModelSmith if it is not there yet, then run the recipe
# Examples/digits/recipe.yaml — prune 90% → distill from the teacher → INT8 quantize → verify →
# bench A/B — and print the summary. Everything is written under out/digits/.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/modelsmith
data=Examples/digits
out=out/digits
mkdir -p "$out"

if [ ! -f "$out/teacher.msa" ]; then
    echo "== training the teacher (64-512-512-10, 30 epochs) =="
    "$bin" train "$data/teacher.json" --data "$data/train.npz" --eval "$data/test.npz" \
        --epochs 30 --optimizer adam --lr 1e-3 --batch 64 --seed 0 -o "$out/teacher.msa"
fi

echo
echo "== the teacher =="
"$bin" inspect "$out/teacher.msa"

echo "== optimize: $data/recipe.yaml =="
"$bin" optimize --recipe "$data/recipe.yaml" --force

echo
echo "A/B report with charts: $out/recipe/ab.html"
