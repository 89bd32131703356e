"""ONNX Runtime next to `modelsmith-bench quant`: the same 1024-4096-4096-4096-1024 MLP (weights exported
by `modelsmith-bench quant --export DIR`) and the digits teacher (the quantization test fixtures), FP32
and INT8 (quantize_static: QDQ, per channel, MinMax, QUInt8 activations, QInt8 weights, reduce_range=False,
the same calibration samples), 1 thread. Timing as ../../../shared/peers/step3e_latency.py (warm-up, then
per-call perf_counter, median); quantize_static wall time and peak RSS (VmHWM) in a fresh process.

usage: python3 Benchmarks/peers/quant_ort.py DIR [--iterations N] [--teacher FIXTURES_DIR]
       python3 Benchmarks/peers/quant_ort.py --outlier FIXTURES_DIR   (accuracy of ORT's methods on the outlier teacher)
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "Tests", "QuantizationTests", "Fixtures")


def mlp_onnx(weights, path, layers, input_dim):
    """Gemm(transB=1) + Relu between layers, as torch.onnx exports nn.Linear; input "input" [N, input_dim]."""
    nodes, inits, prev = [], [], "input"
    for i, (w, b) in enumerate(layers):
        inits += [numpy_helper.from_array(weights[w].astype(np.float32), w), numpy_helper.from_array(weights[b].astype(np.float32), b)]
        out = "output" if i == len(layers) - 1 else f"h{i}"
        nodes.append(helper.make_node("Gemm", [prev, w, b], [out], transB=1))
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [out], [f"a{i}"]))
            prev = f"a{i}"
    out_dim = weights[layers[-1][0]].shape[0]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", input_dim])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", out_dim])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def session(path, threads=1):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def bench(fn, warm, iters):  # as step3e_latency.py
    for _ in range(warm):
        fn()
    ts = np.empty(iters)
    for i in range(iters):
        t0 = time.perf_counter()
        fn()
        ts[i] = time.perf_counter() - t0
    return ts


def quantize_child(src, dst, calib_path, method, batch):
    """Runs in a fresh process: quantize_static only; prints wall time and VmHWM."""
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
    cal = np.load(calib_path)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([cal[i:i + batch] for i in range(0, len(cal), batch)])

        def get_next(self):
            b = next(self.it, None)
            return None if b is None else {"input": b}

    t0 = time.perf_counter()
    quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=False,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=getattr(CalibrationMethod, method))
    wall = time.perf_counter() - t0
    hwm = int([l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1])
    print(json.dumps({"quantize_static_s": wall, "peak_rss_mib": hwm / 1024}))


def quantize(src, dst, calib, method="MinMax", batch=64):
    calib_path = dst + ".calib.npy"
    np.save(calib_path, np.ascontiguousarray(calib, dtype=np.float32))
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--quantize-child", src, dst, calib_path, method, str(batch)],
                       capture_output=True, text=True)
    os.remove(calib_path)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def accuracy(path, x, y):
    logits = session(path).run(None, {"input": np.ascontiguousarray(x, dtype=np.float32)})[0]
    return float((logits.argmax(1) == y).mean())


def teacher_layers():
    return [(f"fc{i}.weight", f"fc{i}.bias") for i in (1, 2, 3)]


def main(directory, iterations, fixtures):
    print(f"onnxruntime {ort.__version__}, 1 thread, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    work = os.path.join(directory, "ort")
    os.makedirs(work, exist_ok=True)
    res = {"onnxruntime": ort.__version__, "loadavg_start": os.getloadavg()}

    # 1. The MLP: quantize_static cost (fresh process), then FP32 vs INT8 latency.
    weights = {f[len("mlp."):-4]: np.load(os.path.join(directory, f)) for f in os.listdir(directory) if f.startswith("mlp.")}
    calib = weights.pop("x_calib")
    fp32 = mlp_onnx(weights, os.path.join(work, "mlp.onnx"), [(f"fc{i}.weight", f"fc{i}.bias") for i in range(4)], 1024)
    int8 = os.path.join(work, "mlp.int8.onnx")
    res["mlp_quantize"] = quantize(fp32, int8, calib)
    print(f"mlp quantize_static ({len(calib)} samples, MinMax, per channel, QDQ; fresh process): "
          f"{res['mlp_quantize']['quantize_static_s']:.2f} s, peak RSS {res['mlp_quantize']['peak_rss_mib']:.0f} MiB", flush=True)
    rng = np.random.default_rng(0)
    a, b = session(fp32), session(int8)
    for batch in (64, 1):
        x = rng.standard_normal((batch, 1024), dtype=np.float32)
        ta = np.median(bench(lambda: a.run(None, {"input": x}), 5, iterations))
        tb = np.median(bench(lambda: b.run(None, {"input": x}), 5, iterations))
        res[f"mlp_b{batch}"] = {"fp32_ms": ta * 1e3, "int8_ms": tb * 1e3}
        print(f"mlp batch {batch:2d}: ORT fp32 {ta * 1e3:.3f} ms  ORT int8 {tb * 1e3:.3f} ms  int8 speed-up {ta / tb:.2f}x", flush=True)

    # 2. The digits teacher, calibrated on the first 256 training samples.
    tw = dict(np.load(os.path.join(fixtures, "teacher.weights.npz")))
    digits = np.load(os.path.join(fixtures, "digits.npz"))
    tfp32 = mlp_onnx(tw, os.path.join(work, "teacher.onnx"), teacher_layers(), 64)
    tint8 = os.path.join(work, "teacher.int8.onnx")
    quantize(tfp32, tint8, digits["x_train"][:256], batch=32)
    a, b = session(tfp32), session(tint8)
    for batch in (1, 64):
        x = np.ascontiguousarray(digits["x_test"][:batch], dtype=np.float32)
        ta = np.median(bench(lambda: a.run(None, {"input": x}), 50, max(iterations, 500)))
        tb = np.median(bench(lambda: b.run(None, {"input": x}), 50, max(iterations, 500)))
        res[f"teacher_b{batch}"] = {"fp32_ms": ta * 1e3, "int8_ms": tb * 1e3}
        print(f"teacher batch {batch:2d}: ORT fp32 {ta * 1e3:.4f} ms  ORT int8 {tb * 1e3:.4f} ms  int8 speed-up {ta / tb:.2f}x", flush=True)
    print(f"teacher test accuracy: ORT fp32 {accuracy(tfp32, digits['x_test'], digits['y_test']):.4f}  "
          f"ORT int8 (MinMax) {accuracy(tint8, digits['x_test'], digits['y_test']):.4f}")
    res["loadavg_end"] = os.getloadavg()
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(res, f, indent=2)


def outlier(fixtures):
    """Test accuracy of ORT quantize_static (QDQ, per channel, QUInt8/QInt8) with each calibration method on the
    outlier teacher (Tests/QuantizationTests/Fixtures/make_outlier_teacher.py) and on the plain teacher."""
    import tempfile
    digits = np.load(os.path.join(fixtures, "digits.npz"))
    cal, xte, yte = digits["x_train"][:256], digits["x_test"], digits["y_test"]
    work = tempfile.mkdtemp()
    print(f"onnxruntime {ort.__version__}; calibration: first 256 x_train samples, batches of 32; test: {len(yte)} samples")
    for name in ("teacher", "outlier_teacher"):
        w = dict(np.load(os.path.join(fixtures, f"{name}.weights.npz")))
        fp32 = mlp_onnx(w, os.path.join(work, f"{name}.onnx"), teacher_layers(), 64)
        line = [f"{name}: fp32 {accuracy(fp32, xte, yte):.4f}"]
        for method in ("MinMax", "Entropy", "Percentile", "Distribution"):
            for act in ("QUInt8",):
                dst = os.path.join(work, f"{name}.{method}.onnx")
                try:
                    quantize(fp32, dst, cal, method=method, batch=32)
                    line.append(f"{method} {accuracy(dst, xte, yte):.4f}")
                except RuntimeError as e:
                    line.append(f"{method} failed ({str(e).strip().splitlines()[-1][:80]})")
        print("  ".join(line), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--quantize-child":
        quantize_child(args[1], args[2], args[3], args[4], int(args[5]))
    elif args and args[0] == "--outlier":
        outlier(args[1] if len(args) > 1 else FIXTURES)
    else:
        opt = lambda name, default: args[args.index(name) + 1] if name in args else default
        main(args[0], int(opt("--iterations", "20")), opt("--teacher", FIXTURES))
