#!/usr/bin/env python3
"""Generates ops/*.json: one single-op (or small) graph per case, with inputs, parameters and the
expected outputs computed independently here in float64 numpy with PyTorch semantics.

Run from this directory: python3 generate_op_fixtures.py   (numpy only; tests never run this)."""
import json
import math
import os

import numpy as np

rng = np.random.default_rng(20240601)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops")


def rand(*shape, low=-1.0, high=1.0):
    return rng.uniform(low, high, size=shape).astype(np.float32)


def t(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def save(name, nodes, inputs, outputs, tensors=None, atol=1e-5, graph_outputs=None):
    graph = {
        "modelsmith": 1,
        "name": name,
        "inputs": [{"name": k, "shape": [-1] + list(v.shape[1:]), "dtype": "f32"} for k, v in inputs.items()],
        "outputs": graph_outputs or list(outputs.keys()),
        "nodes": nodes,
    }
    doc = {
        "graph": graph,
        "tensors": {k: t(v) for k, v in (tensors or {}).items()},
        "inputs": {k: t(v) for k, v in inputs.items()},
        "outputs": {k: t(v) for k, v in outputs.items()},
        "atol": atol,
    }
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(doc, f)


def node(name, op, inputs, output, params=None, attrs=None):
    n = {"name": name, "op": op, "inputs": inputs, "output": output}
    if params:
        n["params"] = params
    if attrs:
        n["attrs"] = attrs
    return n


def conv2d(x, w, b, stride, padding, dilation, groups):
    x = x.astype(np.float64); w = w.astype(np.float64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    sh, sw = stride; ph, pw = padding; dh, dw = dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o, oh, ow))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
                y[:, oc, i, j] = (patch * w[oc]).sum(axis=(1, 2, 3))
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    return y


def pool(x, k, s, p, kind, include_pad=True):
    n, c, h, w = x.shape
    x = x.astype(np.float64)
    oh = (h + 2 * p[0] - k[0]) // s[0] + 1
    ow = (w + 2 * p[1] - k[1]) // s[1] + 1
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * s[0] - p[0], j * s[1] - p[1]
            h1, w1 = h0 + k[0], w0 + k[1]
            win = x[:, :, max(h0, 0):min(h1, h), max(w0, 0):min(w1, w)]
            if kind == "max":
                y[:, :, i, j] = win.max(axis=(2, 3))
            else:  # count_include_pad=True: divisor clipped to the padded extent
                div = (min(h1, h + p[0]) - h0) * (min(w1, w + p[1]) - w0) if include_pad else win.shape[2] * win.shape[3]
                y[:, :, i, j] = win.sum(axis=(2, 3)) / div
    return y


def main():
    os.makedirs(OUT, exist_ok=True)
    erf = np.vectorize(math.erf)

    # linear, with and without bias, and on a 3-D input (last dim)
    x = rand(3, 5); w = rand(4, 5); b = rand(4)
    save("linear", [node("fc", "linear", ["x"], "y", {"weight": "w", "bias": "b"})], {"x": x},
         {"y": x.astype(np.float64) @ w.T.astype(np.float64) + b}, {"w": w, "b": b})
    save("linear_nobias", [node("fc", "linear", ["x"], "y", {"weight": "w"})], {"x": x},
         {"y": x.astype(np.float64) @ w.T.astype(np.float64)}, {"w": w})
    x3 = rand(2, 3, 5)
    save("linear_3d", [node("fc", "linear", ["x"], "y", {"weight": "w", "bias": "b"})], {"x": x3},
         {"y": x3.astype(np.float64) @ w.T.astype(np.float64) + b}, {"w": w, "b": b})
    # linear + relu (fused at plan time)
    save("linear_relu", [node("fc", "linear", ["x"], "h", {"weight": "w", "bias": "b"}), node("act", "relu", ["h"], "y")],
         {"x": x}, {"y": np.maximum(x.astype(np.float64) @ w.T.astype(np.float64) + b, 0)}, {"w": w, "b": b})

    # conv2d: stride, padding, dilation, groups
    xc = rand(2, 4, 7, 6); wc = rand(6, 2, 3, 2); bc = rand(6)
    attrs = {"stride": [2, 1], "padding": [1, 2], "dilation": [1, 2], "groups": 2}
    save("conv2d", [node("conv", "conv2d", ["x"], "y", {"weight": "w", "bias": "b"}, attrs)], {"x": xc},
         {"y": conv2d(xc, wc, bc, (2, 1), (1, 2), (1, 2), 2)}, {"w": wc, "b": bc})
    # conv2d → batchnorm2d → relu (folded and fused at plan time)
    w2 = rand(5, 4, 3, 3); b2 = rand(5)
    gamma = rand(5, low=0.5, high=1.5); beta = rand(5); mean = rand(5); var = rand(5, low=0.2, high=2.0)
    c = conv2d(xc, w2, b2, (1, 1), (1, 1), (1, 1), 1)
    bn = (c - mean[None, :, None, None]) / np.sqrt(var.astype(np.float64) + 1e-5)[None, :, None, None] * gamma[None, :, None, None] + beta[None, :, None, None]
    bn_params = {"weight": "bn.w", "bias": "bn.b", "running_mean": "bn.m", "running_var": "bn.v"}
    bn_tensors = {"bn.w": gamma, "bn.b": beta, "bn.m": mean, "bn.v": var}
    save("conv_bn_relu", [node("conv", "conv2d", ["x"], "c", {"weight": "w", "bias": "b"}, {"padding": 1}),
                          node("bn", "batchnorm2d", ["c"], "n", bn_params, {"eps": 1e-5}),
                          node("act", "relu", ["n"], "y")],
         {"x": xc}, {"y": np.maximum(bn, 0)}, {"w": w2, "b": b2, **bn_tensors}, atol=2e-5)
    # batchnorm2d alone (nothing to fold into)
    xb = rand(2, 5, 3, 4)
    yb = (xb - mean[None, :, None, None]) / np.sqrt(var.astype(np.float64) + 1e-3)[None, :, None, None] * gamma[None, :, None, None] + beta[None, :, None, None]
    save("batchnorm2d", [node("bn", "batchnorm2d", ["x"], "y", bn_params, {"eps": 1e-3})], {"x": xb}, {"y": yb}, bn_tensors)

    # layernorm over the last dim, and without affine parameters
    xl = rand(3, 2, 6, low=-3, high=3); gl = rand(6); bl = rand(6)
    xd = xl.astype(np.float64)
    norm = (xd - xd.mean(-1, keepdims=True)) / np.sqrt(xd.var(-1, keepdims=True) + 1e-5)
    save("layernorm", [node("ln", "layernorm", ["x"], "y", {"weight": "g", "bias": "b"}, {"eps": 1e-5})], {"x": xl},
         {"y": norm * gl + bl}, {"g": gl, "b": bl})
    save("layernorm_plain", [node("ln", "layernorm", ["x"], "y", None, {"eps": 1e-5, "normalized_shape": [6]})], {"x": xl}, {"y": norm})

    # element-wise activations
    xe = rand(4, 37, low=-6, high=6); xd = xe.astype(np.float64)
    acts = {
        "relu": (np.maximum(xd, 0), None),
        "sigmoid": (1 / (1 + np.exp(-xd)), None),
        "tanh": (np.tanh(xd), None),
        "silu": (xd / (1 + np.exp(-xd)), None),
        "gelu": (0.5 * xd * (1 + erf(xd / math.sqrt(2))), {"approximate": "none"}),
        "gelu_tanh": (0.5 * xd * (1 + np.tanh(math.sqrt(2 / math.pi) * (xd + 0.044715 * xd ** 3))), {"approximate": "tanh"}),
    }
    for name, (y, attrs) in acts.items():
        op = "gelu" if name.startswith("gelu") else name
        save(name, [node("act", op, ["x"], "y", None, attrs)], {"x": xe}, {"y": y})

    # softmax / log_softmax
    xs = rand(3, 4, 5, low=-4, high=4); xd = xs.astype(np.float64)
    e = np.exp(xd - xd.max(-1, keepdims=True))
    save("softmax", [node("sm", "softmax", ["x"], "y", None, {"axis": -1})], {"x": xs}, {"y": e / e.sum(-1, keepdims=True)})
    m1 = xd.max(1, keepdims=True)
    lse = np.log(np.exp(xd - m1).sum(1, keepdims=True)) + m1
    save("log_softmax", [node("sm", "log_softmax", ["x"], "y", None, {"axis": 1})], {"x": xs}, {"y": xd - lse})

    # pooling
    xp = rand(2, 3, 7, 6)
    save("maxpool2d", [node("p", "maxpool2d", ["x"], "y", None, {"kernel": [3, 2], "stride": [2, 2], "padding": [1, 1]})],
         {"x": xp}, {"y": pool(xp, (3, 2), (2, 2), (1, 1), "max")})
    save("avgpool2d", [node("p", "avgpool2d", ["x"], "y", None, {"kernel": 3, "stride": 2, "padding": 1})],
         {"x": xp}, {"y": pool(xp, (3, 3), (2, 2), (1, 1), "avg")})
    save("avgpool2d_exclude_pad", [node("p", "avgpool2d", ["x"], "y", None, {"kernel": 3, "stride": 2, "padding": 1, "count_include_pad": False})],
         {"x": xp}, {"y": pool(xp, (3, 3), (2, 2), (1, 1), "avg", include_pad=False)})
    save("global_avgpool", [node("p", "global_avgpool", ["x"], "y")], {"x": xp},
         {"y": xp.astype(np.float64).mean(axis=(2, 3), keepdims=True)})

    # plumbing: flatten, reshape, add, mul, concat, dropout, identity
    xf = rand(2, 3, 2, 2)
    save("flatten", [node("f", "flatten", ["x"], "y", None, {"start_dim": 1})], {"x": xf}, {"y": xf.reshape(2, -1)})
    save("reshape", [node("r", "reshape", ["x"], "y", None, {"shape": [-1, 4, -1]})], {"x": xf}, {"y": xf.reshape(2, 4, 3)})
    a = rand(3, 4, 5); bb = rand(3, 4, 5)
    save("add", [node("s", "add", ["a", "b"], "y")], {"a": a, "b": bb}, {"y": a.astype(np.float64) + bb})
    save("mul", [node("s", "mul", ["a", "b"], "y")], {"a": a, "b": bb}, {"y": a.astype(np.float64) * bb})
    c1 = rand(2, 3, 4); c2 = rand(2, 2, 4)
    save("concat", [node("c", "concat", ["a", "b"], "y", None, {"axis": 1})], {"a": c1, "b": c2}, {"y": np.concatenate([c1, c2], 1)})
    c3 = rand(2, 3, 1)
    save("concat_last", [node("c", "concat", ["a", "b"], "y", None, {"axis": -1})], {"a": c1, "b": c3}, {"y": np.concatenate([c1, c3], 2)})
    save("dropout_identity", [node("d", "dropout", ["x"], "h"), node("i", "identity", ["h"], "y")], {"x": xf}, {"y": xf})

    # a small DAG: residual add over a fused linear, with two outputs and buffer reuse
    xr = rand(4, 6); w1 = rand(6, 6); w2 = rand(6, 6); b1 = rand(6)
    h = np.maximum(xr.astype(np.float64) @ w1.T.astype(np.float64) + b1, 0)
    h2 = np.float32(h) .astype(np.float64) @ w2.T.astype(np.float64)
    save("residual_dag", [node("fc1", "linear", ["x"], "h", {"weight": "w1", "bias": "b1"}), node("act", "relu", ["h"], "a"),
                          node("fc2", "linear", ["a"], "h2", {"weight": "w2"}), node("res", "add", ["h2", "x"], "y"),
                          node("sig", "sigmoid", ["y"], "z")],
         {"x": xr}, {"y": h2 + xr, "z": 1 / (1 + np.exp(-(h2 + xr)))}, {"w1": w1, "b1": b1, "w2": w2})


if __name__ == "__main__":
    main()
