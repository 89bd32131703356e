#!/usr/bin/env python3
"""Runs an exported .onnx in ONNX Runtime and compares its first output with ModelSmith's
(`modelsmith run X.msa --input data.npz -o ms.npz`): max |diff|, worst per-sample cosine, top-1
agreement (docs/onnx.md, "Export").
  PYTHONPATH=/usr/lib/python3/dist-packages /usr/bin/python3 scripts/compare-onnx-export.py X.onnx data.npz KEY ms.npz
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort

model, data, key, ours = sys.argv[1:5]
onnx.checker.check_model(onnx.load(model), full_check=True)
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
x = np.load(data)[key]
theirs = session.run(None, {session.get_inputs()[0].name: x})[0].reshape(len(x), -1).astype(np.float64)
mine = next(iter(np.load(ours).values())).reshape(len(x), -1).astype(np.float64)
cosine = (mine * theirs).sum(1) / np.linalg.norm(mine, axis=1) / np.linalg.norm(theirs, axis=1)
print(f"{model}: {len(x)} samples, max |ours - ORT| {np.abs(mine - theirs).max():.3g}, "
      f"worst cosine {cosine.min():.6f}, top-1 agreement {(mine.argmax(1) == theirs.argmax(1)).mean():.4f}")
