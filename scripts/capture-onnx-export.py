#!/usr/bin/env python3
"""Captures ONNX Runtime's outputs on ModelSmith's ONNX exports, once (docs/onnx.md, "Export").

Builds the digits artifacts of Tests/ONNXTests/Fixtures/export/ with the modelsmith CLI (MLP and
CNN, FP32 and INT8, the MLP pruned 50%), converts each to .onnx, checks it with onnx.checker, runs
it in ONNX Runtime on 32 test samples and writes:
  reference.npz   x, x_img (the inputs) and one array of ORT outputs per model
  reference.json  per model: the SHA-256 of the .onnx it ran (ONNXExportTests exports the same
                  artifact again and requires the same bytes, so the reference is for this exporter)
The .onnx files themselves are not kept. Run after changing the exporter:
  PYTHONPATH=/usr/lib/python3/dist-packages /usr/bin/python3 scripts/capture-onnx-export.py [.build/debug/modelsmith]
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
modelsmith = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, ".build/debug/modelsmith")
out = os.path.join(root, "Tests/ONNXTests/Fixtures/export")
quant = os.path.join(root, "Tests/QuantizationTests/Fixtures")
cli = os.path.join(root, "Tests/CLITests/Fixtures")
digits = os.path.join(quant, "digits.npz")


def run(*args):
    subprocess.run([modelsmith, *args, "--force"], check=True, stdout=subprocess.DEVNULL)


os.makedirs(out, exist_ok=True)
msa = lambda name: os.path.join(out, name + ".msa")
run("convert", os.path.join(cli, "student.npz"), "--graph", os.path.join(cli, "student.json"), "-o", msa("student"))
run("quantize", msa("student"), "--calib", digits, "--x-key", "x_train", "--samples", "256", "-o", msa("student-int8"))
run("prune", msa("student"), "--amount", "0.5", "-o", msa("student-p50"))
run("convert", os.path.join(quant, "cnn.weights.npz"), "--graph", os.path.join(quant, "cnn.model.json"), "-o", msa("cnn"))
run("quantize", msa("cnn"), "--calib", digits, "--x-key", "x_train_img", "--samples", "256", "-o", msa("cnn-int8"))

data = np.load(digits)
arrays = {"x": data["x_test"][:32], "x_img": data["x_test_img"][:32]}
record = {"onnxruntime": ort.__version__, "models": {}}
with tempfile.TemporaryDirectory() as scratch:
    for name in ["student", "student-int8", "student-p50", "cnn", "cnn-int8"]:
        path = os.path.join(scratch, name + ".onnx")
        run("convert", msa(name), "-o", path)
        onnx.checker.check_model(onnx.load(path), full_check=True)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        feed = arrays["x_img" if name.startswith("cnn") else "x"]
        arrays[name] = session.run(None, {session.get_inputs()[0].name: feed})[0]
        with open(path, "rb") as f:
            record["models"][name] = {"sha256": hashlib.sha256(f.read()).hexdigest(), "bytes": os.path.getsize(path)}
np.savez(os.path.join(out, "reference.npz"), **arrays)
with open(os.path.join(out, "reference.json"), "w") as f:
    json.dump(record, f, indent=1, sort_keys=True)
    f.write("\n")
print(json.dumps(record, indent=1, sort_keys=True))
