"""ModelSmith next to ONNX Runtime on the full-size CNNs of gen_cnn_models.py (docs/benchmarks.md, "CNNs from ONNX").

For each model: outputs of `modelsmith run` against ORT's on the same 8 inputs (cosine per sample, max abs);
then ROUNDS rounds, each running `modelsmith bench --json` (batch 1,8; threads 1,2) and then ORT on the same
configurations for the same time, so both see the same machine load; the ratio ours/ORT of median latency
per round, and the median over rounds. Load-to-first-result: `bench`'s load_ms (read, plan, primitives)
against ORT's InferenceSession creation plus its first run.

usage: /usr/bin/python3 Benchmarks/peers/cnn_ort.py DIR [--models a,b] [--rounds N] [--duration S] [--modelsmith PATH]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = [(1, 1), (8, 1), (1, 2), (8, 2)]  # (batch, threads)


def session(path, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ort_latency(sess, x, duration):
    for _ in range(3):
        sess.run(None, {"x": x})
    times, end = [], time.perf_counter() + duration
    while time.perf_counter() < end or len(times) < 5:
        t0 = time.perf_counter()
        sess.run(None, {"x": x})
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3


def agreement(modelsmith, path, inputs, threads=1):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.npz")
        subprocess.run([modelsmith, "run", path, "--input", inputs, "-o", out, "--batch", "8", "--threads", str(threads)],
                       check=True, capture_output=True)
        ours = next(iter(np.load(out).values())).astype(np.float64)
    x = np.load(inputs)["x"]
    theirs = session(path, 1).run(None, {"x": x})[0].astype(np.float64)
    cos = (ours * theirs).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    return float(cos.min()), float(np.abs(ours - theirs).max()), float(np.abs(theirs).max())


def main(directory, models, rounds, duration, modelsmith):
    print(f"onnxruntime {ort.__version__}; {os.cpu_count()} CPUs; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    summary = {}
    for name in models:
        path, inputs = os.path.join(directory, f"{name}.onnx"), os.path.join(directory, f"{name}-inputs.npz")
        cos, max_abs, scale = agreement(modelsmith, path, inputs)
        print(f"{name}: min cosine {cos:.8f}, max abs {max_abs:.2e} (max |logit| {scale:.2f})", flush=True)
        x8 = np.load(inputs)["x"]
        t0 = time.perf_counter()
        first = session(path, 1)
        first.run(None, {"x": x8[:1]})
        ort_load = (time.perf_counter() - t0) * 1e3
        sessions = {t: session(path, t) for t in (1, 2)}
        ratios = {c: [] for c in CONFIGS}
        ours_ms, theirs_ms, load_ms = {c: [] for c in CONFIGS}, {c: [] for c in CONFIGS}, []
        for _ in range(rounds):
            p = subprocess.run([modelsmith, "bench", path, "--data", inputs, "--batch", "1,8", "--threads", "1,2",
                                "--duration", str(duration), "--warmup", "3", "--json"], check=True, capture_output=True, text=True)
            report = json.loads(p.stdout)
            load_ms.append(report["model"]["load_ms"])
            for r in report["results"]:
                c = (r["batch"], r["threads"])
                theirs = ort_latency(sessions[c[1]], np.ascontiguousarray(x8[:c[0]]), duration)
                ours_ms[c].append(r["latency_ms"]["p50"])
                theirs_ms[c].append(theirs)
                ratios[c].append(r["latency_ms"]["p50"] / theirs)
        for c in CONFIGS:
            print(f"  batch {c[0]} threads {c[1]}: ours {np.median(ours_ms[c]):7.2f} ms  ORT {np.median(theirs_ms[c]):7.2f} ms  "
                  f"ratio {np.median(ratios[c]):.2f}x (rounds: {' '.join(f'{v:.2f}' for v in ratios[c])})", flush=True)
        print(f"  load-to-first-result: ours {np.median(load_ms):.0f} ms (load + plan)  ORT {ort_load:.0f} ms (session + first run)  "
              f"ratio {np.median(load_ms) / ort_load:.2f}x", flush=True)
        summary[name] = {"cosine_min": cos, "max_abs": max_abs, "load_ratio": np.median(load_ms) / ort_load,
                         "ratios": {f"b{c[0]}t{c[1]}": float(np.median(ratios[c])) for c in CONFIGS}}
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(json.dumps(summary))


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    opt = lambda name, default: args[args.index(name) + 1] if name in args else default
    main(args[0], opt("--models", "resnet18,mobilenet_v2,efficientnet_lite0").split(","), int(opt("--rounds", "3")),
         float(opt("--duration", "1.0")), opt("--modelsmith", os.path.join(HERE, "..", "..", ".build", "release", "modelsmith")))
