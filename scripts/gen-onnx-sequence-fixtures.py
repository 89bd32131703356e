#!/usr/bin/python3
"""References at a second sequence length for the BERT- and GPT-2-style fixtures (docs/onnx.md,
"Model families"): the committed bert.onnx / gpt2.onnx (symbolic `sequence`, made by
gen-onnx-fixtures.py) run by ONNX Runtime on new tokens of another length. Writes, per NAME,
NAME-seq5-inputs.npz and NAME-seq5-expected.npz into Tests/ONNXTests/Fixtures.

  PYTHONPATH=/usr/lib/python3/dist-packages /usr/bin/python3 scripts/gen-onnx-sequence-fixtures.py
"""
import importlib.util
import os

import numpy as np
import onnxruntime

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "ONNXTests", "Fixtures")
BATCH, SEQ = 3, 5

# The token arrays of the 8-token fixtures, made at another length.
_spec = importlib.util.spec_from_file_location("fixtures", os.path.join(os.path.dirname(__file__), "gen-onnx-fixtures.py"))
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)


def main():
    rng = np.random.default_rng(5)
    for name in ["bert", "gpt2"]:
        session = onnxruntime.InferenceSession(os.path.join(OUT, name + ".onnx"), providers=["CPUExecutionProvider"])
        wanted = [i.name for i in session.get_inputs()]
        inputs = {k: v for k, v in fixtures.tokens(rng, batch=BATCH, seq=SEQ).items() if k in wanted}
        outputs = session.run(None, inputs)
        np.savez(os.path.join(OUT, name + "-seq5-inputs.npz"), **inputs)
        np.savez(os.path.join(OUT, name + "-seq5-expected.npz"), **dict(zip([o.name for o in session.get_outputs()], outputs)))


if __name__ == "__main__":
    main()
