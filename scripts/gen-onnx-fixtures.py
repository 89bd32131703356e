#!/usr/bin/python3
"""Generates the model-family fixtures of Tests/ONNXTests (docs/onnx.md, "Model families").

Each family is a reduced-width, reduced-depth model built from torchvision's (or plain PyTorch)
modules with random weights, exported by torch.onnx.export; the reference outputs come from ONNX
Runtime running the same file. Writes, per family NAME, into Tests/ONNXTests/Fixtures:
  NAME.onnx            the model
  NAME-inputs.npz      one array per graph input, keyed by the input's name
  NAME-expected.npz    ONNX Runtime's outputs, keyed by the output's name

Run once with Debian's python (python3-torch 1.13, python3-torchvision) plus onnxruntime from PyPI:
  /usr/bin/python3 -m pip install --break-system-packages onnxruntime
  /usr/bin/python3 scripts/gen-onnx-fixtures.py [NAME ...]
"""
import math
import os
import sys
from functools import partial

import numpy as np
import onnxruntime
import torch
from torch import nn
from torchvision.models import mobilenetv3, efficientnet, resnet, vision_transformer, mobilenet_v2

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "ONNXTests", "Fixtures")


class SmallResNet(nn.Module):
    """ResNet-18's layout (stem, four stages of two BasicBlocks, global pool, fc) at 1/16 width."""

    def __init__(self, width=4, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        stages, inplanes = [], width
        for i, planes in enumerate([width, 2 * width, 4 * width, 8 * width]):
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or inplanes != planes:
                down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
            stages += [resnet.BasicBlock(inplanes, planes, stride, down), resnet.BasicBlock(planes, planes)]
            inplanes = planes
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, classes)

    def forward(self, x):
        x = self.pool(self.stages(self.stem(x)))
        # x.view(x.size(0), -1) exports the Shape → Gather → Unsqueeze → Concat → Reshape subgraph.
        return self.fc(x.view(x.size(0), -1))


def mobilenet_v2_small():
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 64, 2, 2], [6, 96, 1, 1]]
    model = mobilenet_v2(width_mult=0.25, num_classes=10, inverted_residual_setting=setting)
    model.last_channel = 128
    model.features[-1] = nn.Sequential(nn.Conv2d(24, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU6(inplace=True))
    model.classifier[-1] = nn.Linear(128, 10)
    return model


def mobilenet_v3_small():
    c = partial(mobilenetv3.InvertedResidualConfig, width_mult=0.5)
    setting = [c(16, 3, 16, 16, True, "RE", 2, 1), c(16, 3, 72, 24, False, "RE", 2, 1),
               c(24, 5, 96, 40, True, "HS", 2, 1), c(40, 5, 120, 48, True, "HS", 1, 1)]
    return mobilenetv3.MobileNetV3(setting, last_channel=128, num_classes=10)


def efficientnet_small():
    c = partial(efficientnet.MBConvConfig, width_mult=0.5, depth_mult=1.0)
    setting = [c(1, 3, 1, 32, 16, 1), c(6, 3, 2, 16, 24, 2), c(6, 5, 2, 24, 40, 1), c(6, 3, 2, 40, 80, 1)]
    return efficientnet.EfficientNet(setting, dropout=0.2, stochastic_depth_prob=0.2, num_classes=10, last_channel=128)


def vit_small():
    return vision_transformer.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                                hidden_dim=32, mlp_dim=64, num_classes=10)


class BertLike(nn.Module):
    """BERT's encoder: word + position + token-type embeddings, post-norm attention blocks with an
    additive padding mask, GELU (erf) feed-forward, and the tanh pooler over the first token."""

    def __init__(self, vocab=100, hidden=32, heads=2, layers=2, ffn=64, max_len=16):
        super().__init__()
        self.heads = heads
        self.word = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(max_len, hidden)
        self.token_type = nn.Embedding(2, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList()
        for _ in range(layers):
            self.layers.append(nn.ModuleDict(dict(
                q=nn.Linear(hidden, hidden), k=nn.Linear(hidden, hidden), v=nn.Linear(hidden, hidden),
                o=nn.Linear(hidden, hidden), norm1=nn.LayerNorm(hidden, eps=1e-12),
                up=nn.Linear(hidden, ffn), down=nn.Linear(ffn, hidden), norm2=nn.LayerNorm(hidden, eps=1e-12))))
        self.pooler = nn.Linear(hidden, hidden)

    def split(self, x):
        b, s, h = x.shape
        return x.view(b, s, self.heads, h // self.heads).transpose(1, 2)

    def forward(self, input_ids, token_type_ids, attention_mask):
        b, s = input_ids.shape
        positions = torch.arange(s, dtype=torch.long).unsqueeze(0)
        x = self.norm(self.word(input_ids) + self.position(positions) + self.token_type(token_type_ids))
        additive = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0
        for layer in self.layers:
            q, k, v = self.split(layer["q"](x)), self.split(layer["k"](x)), self.split(layer["v"](x))
            scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + additive
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, -1)
            x = layer["norm1"](x + layer["o"](context))
            x = layer["norm2"](x + layer["down"](nn.functional.gelu(layer["up"](x))))
        return x, torch.tanh(self.pooler(x[:, 0]))


class GPT2Block(nn.Module):
    """GPT-2's decoder: token + position embeddings, one pre-norm block with a causal mask and
    tanh-GELU, the final norm, and logits from the (tied) token embedding."""

    def __init__(self, vocab=100, hidden=32, heads=2, max_len=16):
        super().__init__()
        self.heads = heads
        self.wte = nn.Embedding(vocab, hidden)
        self.wpe = nn.Embedding(max_len, hidden)
        self.ln1 = nn.LayerNorm(hidden)
        self.attn = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.ln2 = nn.LayerNorm(hidden)
        self.fc = nn.Linear(hidden, 4 * hidden)
        self.fc_out = nn.Linear(4 * hidden, hidden)
        self.ln_f = nn.LayerNorm(hidden)
        self.register_buffer("causal", torch.tril(torch.ones(max_len, max_len, dtype=torch.bool)))

    def forward(self, input_ids):
        b, s = input_ids.shape
        x = self.wte(input_ids) + self.wpe(torch.arange(s, dtype=torch.long))
        h = x.shape[-1]
        q, k, v = self.attn(self.ln1(x)).split(h, dim=2)
        q, k, v = (t.view(b, s, self.heads, h // self.heads).transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(h // self.heads))
        scores = scores.masked_fill(~self.causal[:s, :s], float("-inf"))
        x = x + self.proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, h))
        x = x + self.fc_out(nn.functional.gelu(self.fc(self.ln2(x)), approximate="tanh"))
        return self.ln_f(x) @ self.wte.weight.t()


def images(rng, batch=2, size=32):
    return {"input": rng.standard_normal((batch, 3, size, size)).astype(np.float32)}


def tokens(rng, batch=2, seq=8, vocab=100):
    ids = rng.integers(0, vocab, (batch, seq)).astype(np.int64)
    types = np.zeros((batch, seq), np.int64)
    types[:, seq // 2:] = 1
    mask = np.ones((batch, seq), np.int64)
    mask[1, seq - 3:] = 0
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}


def randomize_batchnorm(model, rng):
    """Fresh BatchNorm statistics are 0/1; random ones make the folded arithmetic matter."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.from_numpy(rng.standard_normal(m.num_features).astype(np.float32) * 0.1))
            m.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, m.num_features).astype(np.float32)))


# name: (model factory, inputs, output names, opset, dynamic axes)
FAMILIES = {
    "resnet18": (SmallResNet, images, ["logits"], 13, {"input": {0: "batch"}, "logits": {0: "batch"}}),
    "mobilenet_v2": (mobilenet_v2_small, images, ["logits"], 11, {"input": {0: "batch"}, "logits": {0: "batch"}}),
    "mobilenet_v3": (mobilenet_v3_small, images, ["logits"], 14, {"input": {0: "batch"}, "logits": {0: "batch"}}),
    "efficientnet": (efficientnet_small, images, ["logits"], 17, {"input": {0: "batch"}, "logits": {0: "batch"}}),
    "vit": (vit_small, images, ["logits"], 17, None),
    "bert": (BertLike, tokens, ["last_hidden_state", "pooler_output"], 14,
             {k: {0: "batch", 1: "sequence"} for k in ["input_ids", "token_type_ids", "attention_mask", "last_hidden_state"]}),
    "gpt2": (lambda: GPT2Block(), lambda rng: {"input_ids": tokens(rng)["input_ids"]}, ["logits"], 13,
             {"input_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}}),
}


def generate(name):
    factory, make_inputs, output_names, opset, dynamic_axes = FAMILIES[name]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = factory().eval()
    randomize_batchnorm(model, rng)
    inputs = make_inputs(rng)
    path = os.path.join(OUT, name + ".onnx")
    # Exported with gradients enabled: under no_grad, nn.MultiheadAttention takes a fused fast
    # path that torch.onnx cannot export.
    torch.onnx.export(model, tuple(torch.from_numpy(v) for v in inputs.values()), path,
                      input_names=list(inputs), output_names=output_names, opset_version=opset,
                      dynamic_axes=dynamic_axes, do_constant_folding=True)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    outputs = session.run(output_names, inputs)
    np.savez(os.path.join(OUT, name + "-inputs.npz"), **inputs)
    np.savez(os.path.join(OUT, name + "-expected.npz"), **dict(zip(output_names, outputs)))
    print(f"{name}: {os.path.getsize(path)} bytes, opset {opset}, outputs {[o.shape for o in outputs]}")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name in sys.argv[1:] or FAMILIES:
        generate(name)
