#!/usr/bin/python3
"""Reference cases for the ONNX vocabulary (docs/ops.md): writes
Tests/ModelRuntimeTests/Fixtures/ops/onnx_*.json in the format of generate_op_fixtures.py (graph,
tensors, inputs, expected outputs, atol), each expected output computed independently here by
PyTorch 1.13 in float64 (ONNX semantics spelled out where PyTorch's differ).

Run once from the repository root with Debian's Python (python3-torch):
    /usr/bin/python3 scripts/generate_onnx_op_fixtures.py
Tests never run this."""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20261203)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "ModelRuntimeTests", "Fixtures", "ops")


def rand(*shape, low=-1.0, high=1.0):
    return (torch.rand(*shape, dtype=torch.float64) * (high - low) + low).float().double()


def t(a):
    a = a.detach().to(torch.float32)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1).tolist()]}


def node(name, op, inputs, output, params=None, attrs=None):
    n = {"name": name, "op": op, "inputs": inputs, "output": output}
    if params:
        n["params"] = params
    if attrs:
        n["attrs"] = attrs
    return n


def save(name, nodes, inputs, outputs, tensors=None, atol=1e-5, fixed_batch=False):
    graph = {
        "modelsmith": 1,
        "name": name,
        "inputs": [{"name": k, "shape": ([v.shape[0]] if fixed_batch else [-1]) + list(v.shape[1:]), "dtype": "f32"}
                   for k, v in inputs.items()],
        "outputs": list(outputs.keys()),
        "nodes": nodes,
    }
    doc = {
        "graph": graph,
        "tensors": {k: t(v) for k, v in (tensors or {}).items()},
        "inputs": {k: t(v) for k, v in inputs.items()},
        "outputs": {k: t(v) for k, v in outputs.items()},
        "atol": atol,
    }
    with open(os.path.join(OUT, "onnx_" + name + ".json"), "w") as f:
        json.dump(doc, f)


def unary(name, op, fn, x, attrs=None, atol=1e-5):
    save(name, [node("n", op, ["x"], "y", attrs=attrs)], {"x": x}, {"y": fn(x)}, atol=atol)


# ---- element-wise, one input
x = rand(3, 4, 5, low=-8, high=8)
unary("clip_relu6", "clip", lambda v: torch.clamp(v, 0, 6), x, {"min": 0, "max": 6})
unary("clip_max_only", "clip", lambda v: torch.clamp(v, max=1.5), x, {"max": 1.5})
unary("hardswish", "hardswish", F.hardswish, x)
unary("hardsigmoid", "hardsigmoid", lambda v: torch.clamp(0.2 * v + 0.5, 0, 1), x)
unary("hardsigmoid_torch", "hardsigmoid", F.hardsigmoid, x, {"alpha": 1 / 6, "beta": 0.5})
unary("leaky_relu", "leaky_relu", lambda v: F.leaky_relu(v, 0.1), x, {"alpha": 0.1})
unary("leaky_relu_default", "leaky_relu", F.leaky_relu, x)
small = rand(2, 3, 4, low=-2, high=2)
positive = rand(2, 3, 4, low=0.1, high=4)
unary("erf", "erf", torch.erf, small)
unary("sqrt", "sqrt", torch.sqrt, positive)
unary("reciprocal", "reciprocal", torch.reciprocal, positive)
unary("exp", "exp", torch.exp, small)
unary("log", "log", torch.log, positive)
unary("neg", "neg", torch.neg, small)
unary("abs", "abs", torch.abs, small)

# ---- broadcasting binary ops (batched operands and constants)
a = rand(2, 4, 5, 5)
s = rand(2, 4, 1, 1)
save("mul_squeeze_excite", [node("n", "mul", ["s", "x"], "y")], {"x": a, "s": s}, {"y": s * a})
b3 = rand(2, 3, 4)
row = rand(2, 1, 4, low=0.5, high=2)
save("div_broadcast", [node("n", "div", ["x", "r"], "y")], {"x": b3, "r": row}, {"y": b3 / row})
save("sub_broadcast", [node("n", "sub", ["r", "x"], "y")], {"x": b3, "r": row}, {"y": row - b3})
c4 = rand(4)
save("add_constant", [node("c", "constant", [], "c4", params={"value": "c4"}), node("n", "add", ["x", "c4"], "y")],
     {"x": b3}, {"y": b3 + c4}, tensors={"c4": c4})
c31 = rand(3, 1)
save("sub_constant_left", [node("c", "constant", [], "k", params={"value": "k"}), node("n", "sub", ["k", "x"], "y")],
     {"x": b3}, {"y": c31 - b3}, tensors={"k": c31})
c131 = rand(1, 3, 1, low=0.5, high=2)
save("div_constant", [node("c", "constant", [], "k", params={"value": "k"}), node("n", "div", ["x", "k"], "y")],
     {"x": b3}, {"y": b3 / c131}, tensors={"k": c131})
scale = rand(1, 4, 1, 1)
save("mul_constant_channel", [node("c", "constant", [], "k", params={"value": "k"}), node("n", "mul", ["x", "k"], "y")],
     {"x": a}, {"y": a * scale}, tensors={"k": scale})

# ---- convolution with ONNX pads, depthwise, dilation
x = rand(2, 3, 9, 9)
w = rand(6, 3, 3, 3)
bias = rand(6)
ref = F.conv2d(F.pad(x, (0, 1, 0, 1)), w, bias, stride=2)  # TF "SAME": pad right/bottom only
save("conv2d_pads_asymmetric", [node("n", "conv2d", ["x"], "y", params={"weight": "w", "bias": "b"},
                                     attrs={"stride": 2, "pads": [0, 0, 1, 1]})],
     {"x": x}, {"y": ref}, tensors={"w": w, "b": bias}, atol=1e-5)
wd = rand(3, 1, 3, 3)
ref = F.conv2d(F.pad(x, (1, 2, 2, 1)), wd, None, groups=3, dilation=2)
save("conv2d_depthwise_dilated_pads", [node("n", "conv2d", ["x"], "y", params={"weight": "w"},
                                            attrs={"groups": 3, "dilation": 2, "pads": [2, 1, 1, 2]})],
     {"x": x}, {"y": ref}, tensors={"w": wd})

# ---- pooling: ceil_mode, asymmetric pads, count_include_pad, global max
x = rand(2, 3, 8, 8)
save("maxpool2d_ceil", [node("n", "maxpool2d", ["x"], "y", attrs={"kernel": 3, "stride": 2, "ceil_mode": True})],
     {"x": x}, {"y": F.max_pool2d(x, 3, 2, ceil_mode=True)})
save("avgpool2d_ceil_exclude_pad", [node("n", "avgpool2d", ["x"], "y",
                                         attrs={"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False})],
     {"x": x}, {"y": F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)})
save("avgpool2d_ceil_include_pad", [node("n", "avgpool2d", ["x"], "y",
                                         attrs={"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": True})],
     {"x": x}, {"y": F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True)})
save("maxpool2d_pads_asymmetric", [node("n", "maxpool2d", ["x"], "y", attrs={"kernel": 3, "stride": 2, "pads": [0, 0, 1, 1]})],
     {"x": x}, {"y": F.max_pool2d(F.pad(x, (0, 1, 0, 1), value=-float("inf")), 3, 2)})
save("avgpool2d_pads_asymmetric", [node("n", "avgpool2d", ["x"], "y",
                                        attrs={"kernel": 2, "stride": 2, "pads": [1, 0, 1, 0], "count_include_pad": True})],
     {"x": x}, {"y": F.avg_pool2d(F.pad(x, (0, 0, 1, 1)), 2, 2)})
save("global_maxpool", [node("n", "global_maxpool", ["x"], "y")], {"x": x}, {"y": torch.amax(x, dim=(2, 3), keepdim=True)})

# ---- reductions
x = rand(2, 3, 4, 5)
save("reduce_mean_spatial", [node("n", "reduce_mean", ["x"], "y", attrs={"axes": [2, 3], "keepdims": 1})],
     {"x": x}, {"y": x.mean(dim=(2, 3), keepdim=True)})
save("reduce_sum_last", [node("n", "reduce_sum", ["x"], "y", attrs={"axes": [-1], "keepdims": 0})],
     {"x": x}, {"y": x.sum(dim=-1)})
save("reduce_max_channels", [node("n", "reduce_max", ["x"], "y", attrs={"axes": [1]})],
     {"x": x}, {"y": torch.amax(x, dim=1, keepdim=True)})
save("reduce_min_all", [node("n", "reduce_min", ["x"], "y", attrs={"keepdims": 0})],
     {"x": x}, {"y": torch.amin(x, dim=(1, 2, 3))})

# ---- shape ops
x = rand(2, 3, 1, 4)
save("squeeze_unsqueeze", [node("s", "squeeze", ["x"], "h", attrs={"axes": [2]}), node("u", "unsqueeze", ["h"], "y", attrs={"axes": [-1]})],
     {"x": x}, {"y": x.squeeze(2).unsqueeze(-1)}, atol=0)
x = rand(2, 3, 4, 5)
save("transpose_nhwc", [node("n", "transpose", ["x"], "y", attrs={"perm": [0, 2, 3, 1]})], {"x": x}, {"y": x.permute(0, 2, 3, 1)}, atol=0)
save("transpose_inner", [node("n", "transpose", ["x"], "y", attrs={"perm": [0, 1, 3, 2]})], {"x": x}, {"y": x.transpose(2, 3)}, atol=0)
save("pad_constant", [node("n", "pad", ["x"], "y", attrs={"pads": [0, 0, 1, 2, 0, 1, 0, 3], "value": 0.5})],
     {"x": x}, {"y": F.pad(x, (2, 3, 1, 0, 0, 1), value=0.5)}, atol=0)
x = rand(2, 3, 4)
save("softmax_axis1", [node("n", "softmax", ["x"], "y", attrs={"axis": 1})], {"x": x}, {"y": torch.softmax(x, 1)})

# ---- transformer vocabulary (masks as f32 0/1, integer ids as f32 values)
x = rand(2, 3, 4, low=-3, high=3)
unary("softplus", "softplus", F.softplus, x)
unary("mish", "mish", F.mish, x)
mask = (rand(2, 3, 4) > 0).double()
unary("not", "not", lambda v: (v == 0).double(), mask, atol=0)
unary("cast_int", "cast", torch.trunc, x, {"to": "i64"}, atol=0)
unary("cast_bool", "cast", lambda v: (v != 0).double(), torch.round(x), {"to": "bool"}, atol=0)
y = rand(2, 1, 4, low=-3, high=3)
pos = rand(2, 3, 4, low=0.5, high=2)
save("pow", [node("n", "pow", ["x", "p"], "y")], {"x": pos, "p": y}, {"y": torch.pow(pos, y)})
save("min", [node("n", "min", ["x", "p"], "y")], {"x": x, "p": y}, {"y": torch.minimum(x, y)}, atol=0)
save("max", [node("n", "max", ["x", "p"], "y")], {"x": x, "p": y}, {"y": torch.maximum(x, y)}, atol=0)
xr, yr = torch.round(x), torch.round(y)
save("equal", [node("n", "equal", ["x", "p"], "y")], {"x": xr, "p": yr}, {"y": (xr == yr).double()}, atol=0)
save("less", [node("n", "less", ["x", "p"], "y")], {"x": x, "p": y}, {"y": (x < y).double()}, atol=0)
save("greater", [node("n", "greater", ["x", "p"], "y")], {"x": x, "p": y}, {"y": (x > y).double()}, atol=0)
causal = torch.tril(torch.ones(3, 3, dtype=torch.float64))
scores = rand(2, 3, 3)
save("where_causal_mask", [node("m", "constant", [], "mask", params={"value": "mask"}),
                           node("f", "constant", [], "fill", params={"value": "fill"}),
                           node("n", "where", ["mask", "x", "fill"], "y")],
     {"x": scores}, {"y": torch.where(causal != 0, scores, torch.tensor(-1e4, dtype=torch.float64))},
     tensors={"mask": causal, "fill": torch.tensor([-1e4], dtype=torch.float64)}, atol=0)
q, k = rand(2, 2, 5, 4), rand(2, 2, 4, 5)
save("matmul_batched", [node("n", "matmul", ["q", "k"], "y")], {"q": q, "k": k}, {"y": q @ k})
k1 = rand(2, 1, 4, 3)
save("matmul_broadcast_heads", [node("n", "matmul", ["q", "k"], "y")], {"q": q, "k": k1}, {"y": q @ k1})
table = rand(10, 6)
ids = torch.tensor([[1, 0, 9, 3], [4, 4, -1, 2]], dtype=torch.float64)
save("gather_embedding", [node("t", "constant", [], "table", params={"value": "table"}), node("n", "gather", ["table", "ids"], "y")],
     {"ids": ids}, {"y": table[ids.long() % 10]}, tensors={"table": table}, atol=0)
h = rand(2, 5, 6)
save("gather_first_token", [node("i", "constant", [], "index", params={"value": "index"}),
                            node("n", "gather", ["h", "index"], "y", attrs={"axis": 1})],
     {"h": h}, {"y": h[:, 0]}, tensors={"index": torch.tensor(0.0, dtype=torch.float64)}, atol=0)
h = rand(2, 6, 8)
save("slice_steps", [node("n", "slice", ["x"], "y", attrs={"starts": [1, -1], "ends": [5, 0], "axes": [1, 2], "steps": [2, -3]})],
     {"x": h}, {"y": h[:, 1:5:2, :].flip(2)[:, :, 0::3]}, atol=0)
save("slice_clamped", [node("n", "slice", ["x"], "y", attrs={"starts": [2], "ends": [100], "axes": [-1]})],
     {"x": h}, {"y": h[:, :, 2:]}, atol=0)
e = rand(2, 1, 4)
save("expand", [node("n", "expand", ["x"], "y", attrs={"shape": [1, 3, 4]})], {"x": e}, {"y": e.expand(2, 3, 4)}, atol=0)

# ---- graphs that move the batch axis (planned per concrete batch size)
# Self-attention as nn.MultiheadAttention (batch_first=False) exports it: [N, S, E] → [S, N, E] →
# heads folded into the second axis → [N·heads, S, d] for the products, and back.
x = rand(2, 3, 4)
wq, wk, wv = rand(4, 4), rand(4, 4), rand(4, 4)
nodes = [
    node("to_seq_first", "transpose", ["x"], "s", attrs={"perm": [1, 0, 2]}),
    node("q", "linear", ["s"], "q", params={"weight": "wq"}),
    node("k", "linear", ["s"], "k", params={"weight": "wk"}),
    node("v", "linear", ["s"], "v", params={"weight": "wv"}),
    node("q_heads", "reshape", ["q"], "qh", attrs={"shape": [0, -1, 2]}),
    node("k_heads", "reshape", ["k"], "kh", attrs={"shape": [0, -1, 2]}),
    node("v_heads", "reshape", ["v"], "vh", attrs={"shape": [0, -1, 2]}),
    node("q_t", "transpose", ["qh"], "qt", attrs={"perm": [1, 0, 2]}),
    node("k_t", "transpose", ["kh"], "kt", attrs={"perm": [1, 2, 0]}),
    node("v_t", "transpose", ["vh"], "vt", attrs={"perm": [1, 0, 2]}),
    node("scores", "matmul", ["qt", "kt"], "sc"),
    node("probs", "softmax", ["sc"], "p"),
    node("mix", "matmul", ["p", "vt"], "o"),
    node("o_t", "transpose", ["o"], "ot", attrs={"perm": [1, 0, 2]}),
    node("merge", "reshape", ["ot"], "om", attrs={"shape": [0, -1, 4]}),
    node("to_batch_first", "transpose", ["om"], "y", attrs={"perm": [1, 0, 2]}),
]
s_ = x.transpose(0, 1)
def heads(t):  # [S, N, E] → [N·2, S, 2]
    return t.reshape(3, 4, 2).transpose(0, 1)
qh, kh, vh = heads(s_ @ wq.T), heads(s_ @ wk.T), heads(s_ @ wv.T)
o = torch.softmax(qh @ kh.transpose(1, 2), -1) @ vh
ref = o.transpose(0, 1).reshape(3, 2, 4).transpose(0, 1)
save("attention_seq_first", nodes, {"x": x}, {"y": ref}, tensors={"wq": wq, "wk": wk, "wv": wv})
# A reshape of the whole tensor (the batch merged into rows) needs the graph's batch fixed.
save("reshape_whole_fixed_batch", [node("n", "reshape", ["x"], "h", attrs={"shape": [6, -1]}), node("r", "relu", ["h"], "y")],
     {"x": x}, {"y": F.relu(x.reshape(6, -1))}, fixed_batch=True)

# ViT's class token: a constant already expanded to the graph's fixed batch, concatenated in front
# of the patch tokens (the graph also moves the batch, so it is planned for that batch).
cls = rand(2, 1, 4)
save("concat_class_token_fixed_batch", [
    node("to_seq_first", "transpose", ["x"], "s", attrs={"perm": [1, 0, 2]}),
    node("back", "transpose", ["s"], "b", attrs={"perm": [1, 0, 2]}),
    node("cls", "constant", [], "cls", params={"value": "cls"}),
    node("cat", "concat", ["cls", "b"], "y", attrs={"axis": 1}),
], {"x": x}, {"y": torch.cat([cls, x], 1)}, tensors={"cls": cls}, atol=0, fixed_batch=True)

# ---- blocks of the CNN families
# MobileNetV2 inverted residual: 1x1 conv → BN → ReLU6 → depthwise 3x3 → BN → ReLU6 → 1x1 conv → BN, + input.
x = rand(2, 4, 6, 6)
p = {}
def bn(name, c):
    p[name + ".weight"] = rand(c, low=0.5, high=1.5); p[name + ".bias"] = rand(c)
    p[name + ".running_mean"] = rand(c); p[name + ".running_var"] = rand(c, low=0.5, high=2)
    return {"weight": name + ".weight", "bias": name + ".bias", "running_mean": name + ".running_mean", "running_var": name + ".running_var"}
def bn_ref(v, name):
    return F.batch_norm(v, p[name + ".running_mean"], p[name + ".running_var"], p[name + ".weight"], p[name + ".bias"], False, 0.0, 1e-5)
p["expand.weight"] = rand(12, 4, 1, 1)
p["dw.weight"] = rand(12, 1, 3, 3)
p["project.weight"] = rand(4, 12, 1, 1)
nodes = [
    node("expand", "conv2d", ["x"], "e", params={"weight": "expand.weight"}),
    node("expand_bn", "batchnorm2d", ["e"], "eb", params=bn("expand_bn", 12)),
    node("expand_relu6", "clip", ["eb"], "ea", attrs={"min": 0, "max": 6}),
    node("dw", "conv2d", ["ea"], "d", params={"weight": "dw.weight"}, attrs={"groups": 12, "pads": [1, 1, 1, 1]}),
    node("dw_bn", "batchnorm2d", ["d"], "db", params=bn("dw_bn", 12)),
    node("dw_relu6", "clip", ["db"], "da", attrs={"min": 0, "max": 6}),
    node("project", "conv2d", ["da"], "pr", params={"weight": "project.weight"}),
    node("project_bn", "batchnorm2d", ["pr"], "pb", params=bn("project_bn", 4)),
    node("residual", "add", ["x", "pb"], "y"),
]
e = torch.clamp(bn_ref(F.conv2d(x, p["expand.weight"]), "expand_bn"), 0, 6)
d = torch.clamp(bn_ref(F.conv2d(e, p["dw.weight"], padding=1, groups=12), "dw_bn"), 0, 6)
ref = x + bn_ref(F.conv2d(d, p["project.weight"]), "project_bn")
save("block_mobilenet_v2", nodes, {"x": x}, {"y": ref}, tensors=p, atol=1e-4)

# MobileNetV3's stem: conv (stride 2, pads) → BN → hardswish (fused into the conv at plan time).
x = rand(2, 3, 8, 8, low=-3, high=3)
p["stem.weight"] = rand(4, 3, 3, 3)
nodes = [
    node("stem", "conv2d", ["x"], "c", params={"weight": "stem.weight"}, attrs={"stride": 2, "pads": [1, 1, 1, 1]}),
    node("stem_bn", "batchnorm2d", ["c"], "cb", params=bn("stem_bn", 4)),
    node("stem_act", "hardswish", ["cb"], "y"),
]
ref = F.hardswish(bn_ref(F.conv2d(x, p["stem.weight"], stride=2, padding=1), "stem_bn"))
save("block_mobilenet_v3_stem", nodes, {"x": x}, {"y": ref},
     tensors={k: v for k, v in p.items() if k.startswith("stem")}, atol=1e-4)

# MobileNetV3 / EfficientNet squeeze-excite with hardswish and SiLU: x → hardswish → SE(global avg →
# 1x1 conv → relu → 1x1 conv → hardsigmoid) → mul → reduce_mean → flatten → linear.
x = rand(2, 8, 5, 5, low=-4, high=4)
q = {"fc1.weight": rand(4, 8, 1, 1), "fc1.bias": rand(4), "fc2.weight": rand(8, 4, 1, 1), "fc2.bias": rand(8),
     "head.weight": rand(3, 8), "head.bias": rand(3)}
nodes = [
    node("act", "hardswish", ["x"], "h"),
    node("pool", "global_avgpool", ["h"], "s0"),
    node("fc1", "conv2d", ["s0"], "s1", params={"weight": "fc1.weight", "bias": "fc1.bias"}),
    node("relu", "relu", ["s1"], "s2"),
    node("fc2", "conv2d", ["s2"], "s3", params={"weight": "fc2.weight", "bias": "fc2.bias"}),
    node("gate", "hardsigmoid", ["s3"], "s4", attrs={"alpha": 1 / 6, "beta": 0.5}),
    node("excite", "mul", ["h", "s4"], "m"),
    node("silu", "silu", ["m"], "m2"),
    node("mean", "reduce_mean", ["m2"], "r", attrs={"axes": [2, 3], "keepdims": 0}),
    node("head", "linear", ["r"], "y", params={"weight": "head.weight", "bias": "head.bias"}),
]
h = F.hardswish(x)
s4 = F.hardsigmoid(F.conv2d(F.relu(F.conv2d(h.mean(dim=(2, 3), keepdim=True), q["fc1.weight"], q["fc1.bias"])), q["fc2.weight"], q["fc2.bias"]))
ref = F.linear(F.silu(h * s4).mean(dim=(2, 3)), q["head.weight"], q["head.bias"])
save("block_squeeze_excite", nodes, {"x": x}, {"y": ref}, tensors=q, atol=1e-4)
print("wrote", len([f for f in os.listdir(OUT) if f.startswith("onnx_")]), "fixtures to", OUT)
