"""The server a user would write instead of `modelsmith serve`: FastAPI + uvicorn with the model
preloaded in ONNX Runtime (PyPI), answering the same KServe v2 JSON infer requests, so the same
client (`modelsmith bench --server`) drives both. The digits teacher is exported to ONNX from the
runtime's test fixture weights as quant_ort.py does (Gemm + Relu); with --int8 it is quantized by
ONNX Runtime's quantize_static as quant_ort.py does (QDQ, per channel, MinMax), calibrated on the
first 256 rows of the given .npz's "x" (the samples `modelsmith quantize` gets in serve_compare.sh).

usage: python3 Benchmarks/peers/fastapi_ort_serve.py [--port 8090] [--threads 1] [--int8 train.npz]
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import onnxruntime as ort
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quant_ort import mlp_onnx  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = os.path.join(HERE, "..", "..", "Tests", "ModelRuntimeTests", "Fixtures", "models", "teacher.weights.npz")

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=8090)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--int8", metavar="CALIB_NPZ")
args = parser.parse_args()

weights = dict(np.load(WEIGHTS))
path = mlp_onnx(weights, os.path.join(tempfile.mkdtemp(), "teacher.onnx"),
                [("fc1.weight", "fc1.bias"), ("fc2.weight", "fc2.bias"), ("fc3.weight", "fc3.bias")], 64)
if args.int8:
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
    calibration = np.load(args.int8)["x"][:256].astype(np.float32)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([calibration[i:i + 32] for i in range(0, len(calibration), 32)])

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {"input": batch}

    quantized = path.replace(".onnx", "-int8.onnx")
    quantize_static(path, quantized, Reader(), quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=False,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
    path = quantized
options = ort.SessionOptions()
options.intra_op_num_threads = args.threads
options.inter_op_num_threads = 1
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
session.run(None, {"input": np.zeros((1, 64), np.float32)})  # warm-up before the port opens

app = FastAPI()


@app.get("/v2/health/ready")
def ready():
    return {"ready": True}


@app.get("/v2/models/{name}")
def metadata(name: str):
    return {"name": name, "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 64]}],
            "outputs": [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}]}


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request):
    body = await request.json()
    tensor = body["inputs"][0]
    x = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
    logits = session.run(None, {"input": x})[0]
    return JSONResponse({"model_name": name, "outputs": [
        {"name": "logits", "datatype": "FP32", "shape": list(logits.shape), "data": logits.ravel().tolist()}]})


uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
