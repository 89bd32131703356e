"""Calibration memory against the number of samples (docs/benchmarks.md, "Calibration memory"):
the digits teacher (Tests/QuantizationTests/Fixtures) calibrated on 512, 8192 and 65536 samples (the 1437
training rows repeated), each run in a fresh process, ours and ONNX Runtime's alternating:

- ours: `modelsmith calibrate teacher --calib data.npz --method M -o cache.json` (histograms only:
  2048 bins per observed activation), peak RSS from /usr/bin/time (its maxrss is VmHWM);
- ONNX Runtime: `quantize_static` with the same samples in batches of 64 (quant_ort.py's child,
  VmHWM of that process), MinMax and Entropy calibrators.

usage: /usr/bin/python3 Benchmarks/peers/calib_memory.py MODELSMITH [--rounds N]
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quant_ort import FIXTURES, mlp_onnx, quantize, teacher_layers  # noqa: E402

SAMPLES = (512, 8192, 65536)
METHODS = (("minmax", "MinMax"), ("entropy", "Entropy"))


def ours(modelsmith, model, graph, data, method, work):
    out = os.path.join(work, "cache.json")
    p = subprocess.run(["/usr/bin/time", "-f", "%M", modelsmith, "calibrate", model, "--graph", graph, "--calib", data,
                        "--method", method, "-o", out, "--force"], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    return int(p.stderr.strip().splitlines()[-1]) / 1024


def main(modelsmith, rounds):
    digits = np.load(os.path.join(FIXTURES, "digits.npz"))
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory() as work:
        onnx_model = mlp_onnx(dict(np.load(os.path.join(FIXTURES, "teacher.weights.npz"))), os.path.join(work, "teacher.onnx"),
                              teacher_layers(), 64)
        rows = {}
        for n in SAMPLES:
            x = np.resize(digits["x_train"], (n, 64)).astype(np.float32)  # the training rows, repeated
            path = os.path.join(work, f"calib-{n}.npz")
            np.savez(path, x=x)
            rows[n] = (path, x)
        results = {}
        for _ in range(rounds):
            for n in SAMPLES:
                for ours_method, ort_method in METHODS:
                    a = ours(modelsmith, os.path.join(FIXTURES, "teacher.weights.npz"), os.path.join(FIXTURES, "teacher.model.json"),
                             rows[n][0], ours_method, work)
                    b = quantize(onnx_model, os.path.join(work, "q.onnx"), rows[n][1], ort_method, batch=64)["peak_rss_mib"]
                    results.setdefault((n, ours_method), []).append((a, b))
        print("| samples | method | ours peak RSS | ONNX Runtime peak RSS | ours / ORT |")
        print("| --- | --- | --- | --- | --- |")
        for (n, method), pairs in sorted(results.items()):
            a = float(np.median([p[0] for p in pairs]))
            b = float(np.median([p[1] for p in pairs]))
            print(f"| {n} | {method} | {a:.0f} MiB | {b:.0f} MiB | {a / b:.2f} |")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], int(args[args.index("--rounds") + 1]) if "--rounds" in args else 3)
