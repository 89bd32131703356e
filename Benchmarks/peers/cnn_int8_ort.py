"""INT8 CNNs: ModelSmith's `quantize` next to ONNX Runtime's `quantize_static` (docs/benchmarks.md, "INT8 CNNs").

For each model of gen_cnn_models.py in DIR: CALIB random normalised 224x224 crops calibrate both quantizers
(ours: `modelsmith quantize --calib`, default method; ORT 1.32: QDQ, per channel, QUInt8 activations, QInt8
weights, MinMax); HELD held-out crops give each INT8 model's top-1 agreement with the FP32 model. Then ROUNDS
rounds alternate, per configuration (batch 1, 8; threads 1, 2): `modelsmith bench` of our FP32 and our INT8,
then ORT FP32 and ORT INT8 for the same duration. Reported: medians of our INT8/FP32 speed-up, ORT's, and
ours/ORT INT8 time.

usage: PYTHONPATH=/usr/lib/python3/dist-packages /usr/bin/python3 Benchmarks/peers/cnn_int8_ort.py DIR
       [--models a,b] [--rounds N] [--duration S] [--calib N] [--held N] [--modelsmith PATH]
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cnn_ort import CONFIGS, HERE, ort_latency, session  # noqa: E402


class Reader(CalibrationDataReader):
    def __init__(self, x):
        self.batches = iter([{"x": x[i:i + 8]} for i in range(0, len(x), 8)])

    def get_next(self):
        return next(self.batches, None)


def bench(modelsmith, path, data, duration):
    p = subprocess.run([modelsmith, "bench", path, "--data", data, "--batch", "1,8", "--threads", "1,2",
                        "--duration", str(duration), "--warmup", "3", "--json"], check=True, capture_output=True, text=True)
    return {(r["batch"], r["threads"]): r["latency_ms"]["p50"] for r in json.loads(p.stdout)["results"]}


def main(directory, models, rounds, duration, calib, held, modelsmith):
    print(f"onnxruntime {ort.__version__}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    rng = np.random.default_rng(0)
    for name in models:
        fp32 = os.path.join(directory, f"{name}.onnx")
        with tempfile.TemporaryDirectory() as tmp:
            x_calib = rng.standard_normal((calib, 3, 224, 224), dtype=np.float32)
            x_held = rng.standard_normal((held, 3, 224, 224), dtype=np.float32)
            calib_npz, held_npz = os.path.join(tmp, "calib.npz"), os.path.join(tmp, "held.npz")
            np.savez(calib_npz, x=x_calib)
            np.savez(held_npz, x=x_held)
            ours = os.path.join(tmp, "int8.msa")
            q = subprocess.run([modelsmith, "quantize", fp32, "--calib", calib_npz, "-o", ours], check=True,
                               capture_output=True, text=True)
            print(f"{name}: {q.stdout.splitlines()[0]}")
            theirs = os.path.join(tmp, "ort-int8.onnx")
            quantize_static(fp32, theirs, Reader(x_calib), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
            reference = session(fp32, 1).run(None, {"x": x_held})[0].argmax(1)
            out = os.path.join(tmp, "out.npz")
            subprocess.run([modelsmith, "run", ours, "--input", held_npz, "-o", out, "--batch", "8"], check=True, capture_output=True)
            ours_top1 = float((next(iter(np.load(out).values())).argmax(1) == reference).mean())
            ort_top1 = float((session(theirs, 1).run(None, {"x": x_held})[0].argmax(1) == reference).mean())
            print(f"  top-1 agreement with FP32 on {held} held-out crops: ours {ours_top1:.3f}  ORT {ort_top1:.3f}", flush=True)
            data = os.path.join(tmp, "bench.npz")
            np.savez(data, x=x_held[:8])
            sessions = {(kind, t): session(p, t) for kind, p in (("fp32", fp32), ("int8", theirs)) for t in (1, 2)}
            rows = {c: {"ours_fp32": [], "ours_int8": [], "ort_fp32": [], "ort_int8": []} for c in CONFIGS}
            for _ in range(rounds):
                ours_fp32, ours_int8 = bench(modelsmith, fp32, data, duration), bench(modelsmith, ours, data, duration)
                for c in CONFIGS:
                    x = np.ascontiguousarray(x_held[:c[0]])
                    rows[c]["ours_fp32"].append(ours_fp32[c])
                    rows[c]["ours_int8"].append(ours_int8[c])
                    rows[c]["ort_fp32"].append(ort_latency(sessions[("fp32", c[1])], x, duration))
                    rows[c]["ort_int8"].append(ort_latency(sessions[("int8", c[1])], x, duration))
            for c in CONFIGS:
                r = {k: np.array(v) for k, v in rows[c].items()}
                print(f"  batch {c[0]} threads {c[1]}: ours fp32 {np.median(r['ours_fp32']):7.2f} int8 {np.median(r['ours_int8']):7.2f} ms "
                      f"(x{np.median(r['ours_fp32'] / r['ours_int8']):.2f})  ORT fp32 {np.median(r['ort_fp32']):7.2f} "
                      f"int8 {np.median(r['ort_int8']):7.2f} ms (x{np.median(r['ort_fp32'] / r['ort_int8']):.2f})  "
                      f"ours/ORT int8 {np.median(r['ours_int8'] / r['ort_int8']):.2f}", flush=True)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    opt = lambda name, default: args[args.index(name) + 1] if name in args else default
    main(args[0], opt("--models", "resnet18,mobilenet_v2").split(","), int(opt("--rounds", "3")), float(opt("--duration", "1.0")),
         int(opt("--calib", "32")), int(opt("--held", "64")),
         opt("--modelsmith", os.path.join(HERE, "..", "..", ".build", "release", "modelsmith")))
