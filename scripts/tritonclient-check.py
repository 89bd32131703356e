#!/usr/bin/env python3
"""Calls a running `modelsmith serve` with NVIDIA's own KServe v2 client, `tritonclient[http]`
(PyPI), to show that a client this project did not write works unchanged (docs/serving.md,
"A client we did not write"). Not a test: the Swift tests stay Python-free.

usage: pip install 'tritonclient[http]' numpy
       modelsmith serve --model digits=Examples/digits/teacher.tar.zst --graph-free... (see docs/serving.md)
       python3 scripts/tritonclient-check.py [--url 127.0.0.1:8080] [--model digits] [--data Examples/digits/test.npz]

It checks liveness/readiness, reads the model's metadata, sends the test samples as JSON tensors
and as binary tensors (answers must be bit-identical), and computes the accuracy from the labels.
Exit 0 when every check passes.
"""
import argparse
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

parser = argparse.ArgumentParser()
parser.add_argument("--url", default="127.0.0.1:8080")
parser.add_argument("--model", default="digits")
parser.add_argument("--data", default="Examples/digits/test.npz")
parser.add_argument("--batch", type=int, default=8)
args = parser.parse_args()

client = httpclient.InferenceServerClient(url=args.url)
print("server live:", client.is_server_live())
print("server ready:", client.is_server_ready())
print("model ready:", client.is_model_ready(args.model))
metadata = client.get_model_metadata(args.model)
print("metadata:", metadata)
name = metadata["inputs"][0]["name"]
output = metadata["outputs"][0]["name"]

data = np.load(args.data)
x, y = data["x"].astype(np.float32), data["y"]
predictions = []
for start in range(0, len(x) - len(x) % args.batch, args.batch):
    batch = x[start:start + args.batch]
    answers = []
    for binary in (False, True):
        tensor = httpclient.InferInput(name, list(batch.shape), "FP32")
        tensor.set_data_from_numpy(batch, binary_data=binary)
        result = client.infer(args.model, [tensor], outputs=[httpclient.InferRequestedOutput(output, binary_data=binary)],
                              request_id=f"check-{start}-{int(binary)}")
        answers.append(result.as_numpy(output))
    if not np.array_equal(answers[0].view(np.uint32), answers[1].view(np.uint32)):
        sys.exit(f"samples {start}…: JSON and binary answers differ")
    predictions.append(answers[0].argmax(axis=1))
predictions = np.concatenate(predictions)
print(f"{len(predictions)} samples in batches of {args.batch}, JSON and binary answers bit-identical")
print(f"accuracy {np.mean(predictions == y[:len(predictions)]):.4f}")

try:
    client.infer("no-such-model", [tensor])
    sys.exit("an unknown model was answered")
except InferenceServerException as error:
    print("unknown model:", error)
bad = httpclient.InferInput(name, [1, 63], "FP32")
bad.set_data_from_numpy(np.zeros((1, 63), np.float32))
try:
    client.infer(args.model, [bad])
    sys.exit("a wrong shape was answered")
except InferenceServerException as error:
    print("wrong shape:", error)
print("all checks passed")
