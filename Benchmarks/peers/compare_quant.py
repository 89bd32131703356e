"""Alternates `modelsmith-bench quant` and `quant_ort.py` for several rounds (so machine noise hits both
alike) and prints the median over rounds of each figure, with the load average.

usage (from the repository root, after `swift build -c release --package-path Benchmarks`):
  python3 Benchmarks/peers/compare_quant.py [--rounds 5] [--iterations 20] [--dir /tmp/msq-export]
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

LINE = re.compile(r"^(mlp|teacher) batch\s+(\d+): (ORT )?fp32 ([\d.]+) ms.*?int8 ([\d.]+) ms")
SHARE = re.compile(r"^mlp batch\s+(\d+): int8 session ([\d.]+) ms, the raw int8 products alone ([\d.]+) ms")
figures, loads, shares = {}, [], {}
for r in range(rounds):
    loads.append(open("/proc/loadavg").read().split()[0])
    for who, cmd in (("ours", ours_cmd), ("ort", ort_cmd)):
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            m = LINE.match(line)
            share = SHARE.match(line)
            if share:
                shares.setdefault(int(share.group(1)), []).append(float(share.group(3)) / float(share.group(2)))
            elif m:
                model, batch = m.group(1), int(m.group(2))
                figures.setdefault((model, batch, who, "fp32"), []).append(float(m.group(4)))
                figures.setdefault((model, batch, who, "int8"), []).append(float(m.group(5)))
            elif "quantize" in line:
                print(f"round {r + 1} {who}: {line}")
print(f"{rounds} rounds, {iterations} timed calls each; 1-min load average at each round start: {', '.join(loads)}")
print("| model | batch | ours fp32 ms | ours int8 ms | ours int8 speed-up | ORT fp32 ms | ORT int8 ms | ORT int8 speed-up | ours int8 / ORT int8 time | ours fp32 / ORT fp32 time |")
print("|---|---|---|---|---|---|---|---|---|---|")
for model, batch in (("mlp", 64), ("mlp", 1), ("teacher", 1), ("teacher", 64)):
    med = {k: statistics.median(figures[(model, batch) + k]) for k in [("ours", "fp32"), ("ours", "int8"), ("ort", "fp32"), ("ort", "int8")]}
    # Speed-ups: median over rounds of the per-round ratio (both sides of a ratio come from one process).
    ours_ratio = statistics.median(a / b for a, b in zip(figures[(model, batch, "ours", "fp32")], figures[(model, batch, "ours", "int8")]))
    ort_ratio = statistics.median(a / b for a, b in zip(figures[(model, batch, "ort", "fp32")], figures[(model, batch, "ort", "int8")]))
    fmt = (lambda v: f"{v:.3f}") if model == "mlp" else (lambda v: f"{v:.4f}")
    print(f"| {model} | {batch} | {fmt(med[('ours', 'fp32')])} | {fmt(med[('ours', 'int8')])} | {ours_ratio:.2f}x | "
          f"{fmt(med[('ort', 'fp32')])} | {fmt(med[('ort', 'int8')])} | {ort_ratio:.2f}x | "
          f"{med[('ours', 'int8')] / med[('ort', 'int8')]:.2f} | {med[('ours', 'fp32')] / med[('ort', 'fp32')]:.2f} |")
for batch, values in sorted(shares.items()):
    print(f"mlp batch {batch}: the raw oneDNN int8 products take {100 * statistics.median(values):.0f}% of the INT8 session's time "
          f"(median over rounds; rounds {', '.join(f'{100 * v:.0f}%' for v in values)})")
