#!/usr/bin/env bash
# Bit-flip test (issue 8): N random single-byte corruptions (a random non-zero XOR) of a real
# artifact (the digits teacher converted to .msa, ~1 MB), half anywhere, half in the non-payload
# structure, each read back with `modelsmith convert damaged.msa -o out.npz`.
#   scripts/bitflip-test.sh [N=1000] [MODELSMITH=.build/debug/modelsmith] [SEED=1]
# Every flip must be either
#   detected: exit 2 with one "modelsmith: error: …" line (a flip inside a tensor's member names
#             that tensor), or
#   harmless: exit 0 and an export byte-identical to the undamaged artifact's export (so every
#             decoded tensor, the graph and the provenance are unchanged: e.g. tar padding);
# anything else (a crash, a signal, another exit code, a changed tensor) is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
flips=${1:-1000}
modelsmith=${2:-.build/debug/modelsmith}
RANDOM=${3:-1}
[ -x "$modelsmith" ] || { echo "build first: swift build ($modelsmith missing)" >&2; exit 2; }
work=$(mktemp -d /tmp/modelsmith-flip.XXXXXX)
trap 'rm -rf "$work"' EXIT

"$modelsmith" convert Examples/digits/teacher.tar.zst -o "$work/good.msa" -q || exit 2
"$modelsmith" convert "$work/good.msa" -o "$work/good.npz" -q || exit 2
size=$(stat -c %s "$work/good.msa")

# Member layout from `tar -tvR` ("block N: … size … name"): data of member k is at
# [512·(N+1), 512·(N+1)+size); the rest is headers, padding and the end-of-archive blocks.
mapfile -t layout < <(tar -tvR -f "$work/good.msa" | awk '$3 != "**" { sub(":", "", $2); print $2, $5, $NF }')
region_of() {  # offset → "tensor NAME" | "member NAME" | "tar header/padding"
    local offset=$1 block size name start
    for line in "${layout[@]}"; do
        read -r block size name <<<"$line"
        start=$(( (block + 1) * 512 ))
        if (( offset >= block * 512 && offset < start )); then echo "header of $name"; return; fi
        if (( offset >= start && offset < start + size )); then
            case $name in tensors/*) name=${name#tensors/?????-}; echo "tensor ${name%.zst}" ;; *) echo "member $name" ;; esac
            return
        fi
    done
    echo "tar padding"
}

detected=0 harmless=0 failures=0 named=0 in_tensors=0
declare -A by_region harmless_in
for ((i = 1; i <= flips; i++)); do
    # Odd flips land anywhere (so ~97% in zstd payloads); even flips are redrawn until they land in
    # the structure (tar headers, padding, model.json, its checksum), which a uniform draw rarely hits.
    for ((try = 0; try < 1000; try++)); do
        offset=$(( (RANDOM * 32768 + RANDOM) % size ))
        (( i % 2 )) && break
        case $(region_of "$offset") in tensor*) ;; *) break ;; esac
    done
    mask=$(( RANDOM % 255 + 1 ))
    cp "$work/good.msa" "$work/bad.msa"
    old=$(od -An -tu1 -j "$offset" -N1 "$work/good.msa" | tr -d ' ')
    printf "$(printf '\\%03o' $(( old ^ mask )))" | dd of="$work/bad.msa" bs=1 seek="$offset" conv=notrunc status=none
    rm -f "$work/out.npz"
    "$modelsmith" convert "$work/bad.msa" -o "$work/out.npz" -q 2>"$work/err"
    status=$?
    region=$(region_of "$offset")
    kind=${region%% *}
    by_region[$kind]=$(( ${by_region[$kind]:-0} + 1 ))
    if (( status == 2 )) && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q '^modelsmith: error: ' "$work/err"; then
        detected=$((detected + 1))
        if [ "$kind" = tensor ]; then
            in_tensors=$((in_tensors + 1))
            if grep -qF "'${region#tensor }'" "$work/err"; then named=$((named + 1))
            else failures=$((failures + 1)); echo "flip $i at $offset ($region): detected without naming the tensor: $(cat "$work/err")" >&2; fi
        fi
    elif (( status == 0 )) && cmp -s "$work/out.npz" "$work/good.npz"; then
        harmless=$((harmless + 1))
        harmless_in[$kind]=$(( ${harmless_in[$kind]:-0} + 1 ))
    else
        failures=$((failures + 1))
        echo "flip $i at $offset ($region, xor $mask): FAIL: exit $status: $(head -c 300 "$work/err")" >&2
    fi
done
regions=$(for k in "${!by_region[@]}"; do printf '%s %s (harmless %s), ' "$k" "${by_region[$k]}" "${harmless_in[$k]:-0}"; done)
echo "bitflip-test: $flips flips in a $size-byte artifact: $detected detected, $harmless harmless (identical export)," \
     "$failures failures; $named/$in_tensors tensor-payload flips named the tensor; flips by region (tensor = zstd payload, header = tar header, tar = padding/end blocks, member = model.json and its checksum): ${regions%, }"
(( failures == 0 ))
