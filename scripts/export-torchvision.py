#!/usr/bin/python3
"""Exports full-size torchvision ImageNet models (random weights: the pretrained ones cannot be
downloaded here) to ONNX with ONNX Runtime's outputs, for comparing ModelSmith on real exports
(docs/onnx.md, "Real models"). Writes OUT/NAME.onnx, OUT/images.npz (key "input") and
OUT/NAME-ort.npz (key "logits").
  /usr/bin/python3 scripts/export-torchvision.py /tmp/tv [resnet18 mobilenet_v2 ...]
"""
import os
import sys

import numpy as np
import onnxruntime
import torch
import torchvision

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
images = np.random.default_rng(0).standard_normal((4, 3, 224, 224)).astype(np.float32)
np.savez(os.path.join(out, "images.npz"), input=images)
for name in sys.argv[2:] or ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0"]:
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().eval()
    path = os.path.join(out, name + ".onnx")
    torch.onnx.export(model, torch.from_numpy(images), path, input_names=["input"], output_names=["logits"],
                      opset_version=17, dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    logits = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"]).run(["logits"], {"input": images})[0]
    np.savez(os.path.join(out, name + "-ort.npz"), logits=logits)
    print(name, os.path.getsize(path))
