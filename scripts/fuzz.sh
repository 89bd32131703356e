#!/usr/bin/env bash
# Runs one libFuzzer target for SECONDS seconds (issue 8; docs/robustness.md).
#   scripts/fuzz.sh TARGET SECONDS [extra libFuzzer flags…]
# TARGET: npy npz tar safetensors graph msa msa-manifest pytorch recipe onnx infer-request (or "all": each for SECONDS).
# The seed corpus Fuzz/Corpus/TARGET is read, never written: new inputs go to
# .build-fuzz/corpus/TARGET, crashes to .build-fuzz/crashes/TARGET/ (a crash is a failure: exit 1).
# The first run builds the fuzz package (release, -sanitize=fuzzer,address, lld): a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
targets="npy npz tar safetensors graph msa msa-manifest pytorch recipe onnx infer-request"
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS (TARGET: $targets | all)}
seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS}
shift 2
if [ "$target" = all ]; then
    for t in $targets; do "$0" "$t" "$seconds" "$@"; done
    exit 0
fi
case " $targets " in *" $target "*) ;; *) echo "unknown target '$target' (expected: $targets)" >&2; exit 2 ;; esac

scratch=.build-fuzz
# FUZZ_SKIP_BUILD=1 runs what is built (say, while sources are being edited).
if [ "${FUZZ_SKIP_BUILD:-0}" != 1 ]; then
    # SwiftPM keeps the build plan of the path dependency ".." across source files being added or
    # removed there ("missing inputs", "cannot find X in scope"); dropping the plan re-plans
    # without recompiling what is up to date.
    rm -f "$scratch/release.yaml" "$scratch"/*/release/description.json
    swift build -c release --package-path Fuzz --scratch-path "$scratch" --product "fuzz-$target" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -enable-testing >&2
fi
binary="$scratch/release/fuzz-$target"
mkdir -p "$scratch/corpus/$target" "$scratch/crashes/$target"

# -rss_limit_mb / -malloc_limit_mb: an input that makes a parser allocate more than 2 GB is a
# finding (fuzz targets run with small ReadLimits, see Fuzz/Sources/FuzzSupport).
# -timeout: one input taking over 10 s is a hang. detect_leaks: leaks are findings too.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$binary" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$scratch/crashes/$target/" \
    "$@" "$scratch/corpus/$target" "Fuzz/Corpus/$target"
