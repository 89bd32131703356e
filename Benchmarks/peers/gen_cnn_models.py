#!/usr/bin/python3
"""Writes the full-size 224x224 CNNs that `cnn_ort.py` benchmarks, into DIR (not committed: tens of MB).

torchvision 0.14's resnet18 and mobilenet_v2, and an EfficientNet-Lite0 (EfficientNet-B0's blocks
without squeeze-excite, ReLU6 for SiLU, as TensorFlow's Lite variants), random weights (pretrained
weights cannot be downloaded here; speed does not depend on the values), batchnorm statistics
randomised so folding is exercised; exported by torch.onnx.export (opset 13) with a dynamic batch.
Each model also gets DIR/NAME-inputs.npz (8 normal samples under key "x").

usage: /usr/bin/python3 Benchmarks/peers/gen_cnn_models.py DIR [NAME ...]   (resnet18 mobilenet_v2 efficientnet_lite0)
"""
import os
import sys
from functools import partial

import numpy as np
import torch
from torch import nn
from torchvision.models import efficientnet, mobilenet_v2, resnet18


def efficientnet_lite0():
    c = partial(efficientnet.MBConvConfig, width_mult=1.0, depth_mult=1.0)
    setting = [c(1, 3, 1, 32, 16, 1), c(6, 3, 2, 16, 24, 2), c(6, 5, 2, 24, 40, 2), c(6, 3, 2, 40, 80, 3),
               c(6, 5, 1, 80, 112, 3), c(6, 5, 2, 112, 192, 4), c(6, 3, 1, 192, 320, 1)]
    model = efficientnet.EfficientNet(setting, dropout=0.2, num_classes=1000, last_channel=1280)
    for module in model.modules():  # Lite: no squeeze-excite, ReLU6 everywhere
        if isinstance(module, efficientnet.MBConv):
            module.block = nn.Sequential(*[m for m in module.block if not isinstance(m, efficientnet.SqueezeExcitation)])
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.SiLU):
                setattr(parent, name, nn.ReLU6(inplace=True))
    return model


MODELS = {"resnet18": resnet18, "mobilenet_v2": mobilenet_v2, "efficientnet_lite0": efficientnet_lite0}


def main(directory, names):
    os.makedirs(directory, exist_ok=True)
    torch.manual_seed(0)
    for name in names:
        model = MODELS[name]().eval()
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.1, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
        x = torch.randn(8, 3, 224, 224)
        path = os.path.join(directory, f"{name}.onnx")
        torch.onnx.export(model, x[:1], path, input_names=["x"], output_names=["logits"], opset_version=13,
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
        np.savez(os.path.join(directory, f"{name}-inputs.npz"), x=np.array(x.tolist(), dtype=np.float32))  # torch 1.13 predates NumPy 2
        print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:] or list(MODELS))
