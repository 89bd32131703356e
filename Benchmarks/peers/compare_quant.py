"""Alternates `modelsmith-bench quant` and `quant_ort.py` for several rounds (so machine noise hits both
alike) and prints the median over rounds of each figure, with the load average.

usage (from the repository root, after `swift build -c release --package-path Benchmarks`):
  python3 Benchmarks/peers/compare_quant.py [--rounds 5] [--iterations 20] [--dir /tmp/msq-export]

Ours is measured with 8-bit and 7-bit weights (one row each). The environment is passed to both: with
MODELSMITH_CPU_FEATURES=avx2 ONEDNN_MAX_CPU_ISA=AVX2 ours runs as on an AVX2-only CPU; ONNX Runtime
has no such switch (its MLAS kernels dispatch on CPUID) and keeps the host's own ISA.
"""
import os
import re
import statistics
import subprocess
import sys

args = sys.argv[1:]
opt = lambda name, default: args[args.index(name) + 1] if name in args else default
rounds, iterations, directory = int(opt("--rounds", "5")), opt("--iterations", "20"), opt("--dir", "/tmp/msq-export")
here = os.path.dirname(os.path.abspath(__file__))
bench = os.path.join(here, "..", ".build", "release", "modelsmith-bench")
ours_cmd = [bench, "quant", "--iterations", iterations, "--export", directory]
ort_cmd = [sys.executable, os.path.join(here, "quant_ort.py"), directory, "--iterations", iterations]

LINE = re.compile(r"^(mlp|teacher) (?:(\d)-bit )?batch\s+(\d+): (ORT )?fp32 ([\d.]+) ms.*?int8 ([\d.]+) ms(?:.*\[int8 matmul (.*)\])?")
SHARE = re.compile(r"^mlp (?:(\d)-bit )?batch\s+(\d+): int8 session ([\d.]+) ms, the raw int8 products alone ([\d.]+) ms")
figures, loads, shares, kernels = {}, [], {}, {}
for r in range(rounds):
    loads.append(open("/proc/loadavg").read().split()[0])
    for who, cmd in (("ours", ours_cmd), ("ort", ort_cmd)):
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            m = LINE.match(line)
            share = SHARE.match(line)
            if share:
                shares.setdefault((share.group(1), int(share.group(2))), []).append(float(share.group(4)) / float(share.group(3)))
            elif m:
                model, bits, batch = m.group(1), m.group(2) or "8", int(m.group(3))
                side = who if who == "ort" else f"ours{bits}"
                figures.setdefault((model, batch, side, "fp32"), []).append(float(m.group(5)))
                figures.setdefault((model, batch, side, "int8"), []).append(float(m.group(6)))
                if m.group(7):
                    kernels[(model, batch, side)] = m.group(7)
            elif "quantize" in line:
                print(f"round {r + 1} {who}: {line}")
print(f"{rounds} rounds, {iterations} timed calls each; 1-min load average at each round start: {', '.join(loads)}")
print("| model | batch | weights | ours fp32 ms | ours int8 ms | ours int8 speed-up | our int8 kernel | ORT fp32 ms | ORT int8 ms | ORT int8 speed-up | ours int8 / ORT int8 time | ours fp32 / ORT fp32 time |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
ratio = lambda key: statistics.median(a / b for a, b in zip(figures[key + ("fp32",)], figures[key + ("int8",)]))
for model, batch in (("mlp", 64), ("mlp", 1), ("teacher", 1), ("teacher", 64)):
    for ours in sorted({k[2] for k in figures if k[2] != "ort"}, reverse=True):
        med = {k: statistics.median(figures[(model, batch) + k]) for k in [(ours, "fp32"), (ours, "int8"), ("ort", "fp32"), ("ort", "int8")]}
        # Speed-ups: median over rounds of the per-round ratio (both sides of a ratio come from one process).
        fmt = (lambda v: f"{v:.3f}") if model == "mlp" else (lambda v: f"{v:.4f}")
        print(f"| {model} | {batch} | {ours[4:]}-bit | {fmt(med[(ours, 'fp32')])} | {fmt(med[(ours, 'int8')])} | {ratio((model, batch, ours)):.2f}x | "
              f"{kernels.get((model, batch, ours), '?')} | {fmt(med[('ort', 'fp32')])} | {fmt(med[('ort', 'int8')])} | {ratio((model, batch, 'ort')):.2f}x | "
              f"{med[(ours, 'int8')] / med[('ort', 'int8')]:.2f} | {med[(ours, 'fp32')] / med[('ort', 'fp32')]:.2f} |")
for (bits, batch), values in sorted(shares.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
    print(f"mlp {bits or 8}-bit batch {batch}: the raw int8 products take {100 * statistics.median(values):.0f}% of the INT8 session's time "
          f"(median over rounds; rounds {', '.join(f'{100 * v:.0f}%' for v in values)})")
