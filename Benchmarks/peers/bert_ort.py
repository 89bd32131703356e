"""ModelSmith next to ONNX Runtime on a BERT-style encoder, FP32 (docs/benchmarks.md, "BERT-style encoder from ONNX").

MODEL is an encoder exported like scripts/gen-onnx-fixtures.py's BERT (inputs input_ids, token_type_ids,
attention_mask of shape [batch, sequence]), e.g. all-MiniLM-L6-v2 from scripts/export-minilm.py. Writes 8
token rows of SEQ tokens (seeded random ids, the last quarter of rows padded by the mask), compares
`modelsmith run` with ORT on them, then ROUNDS rounds of `modelsmith bench --json` (batch 1,8; threads 1,2)
each followed by ORT on the same configurations; ratio = ours p50 / ORT median, median over rounds.

usage: /usr/bin/python3 Benchmarks/peers/bert_ort.py MODEL [--seq 128] [--rounds N] [--duration S] [--modelsmith PATH]
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx

from cnn_ort import HERE, alternate, print_rows, session


def tokens(model, seq, rows=8):
    vocab = next(i for i in onnx.load(model, load_external_data=True).graph.initializer if "word" in i.name).dims[0]
    rng = np.random.default_rng(0)
    ids = rng.integers(1, vocab, size=(rows, seq), dtype=np.int64)
    mask = np.ones((rows, seq), dtype=np.int64)
    mask[rows - rows // 4:, seq * 3 // 4:] = 0
    return {"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": mask}


def main(model, seq, rounds, duration, modelsmith):
    print(f"{model}, sequence {seq}; {os.cpu_count()} CPUs; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        data, out = os.path.join(tmp, "tokens.npz"), os.path.join(tmp, "out.npz")
        feeds = tokens(model, seq)
        np.savez(data, **feeds)
        subprocess.run([modelsmith, "run", model, "--dim", f"sequence={seq}", "--input", data, "-o", out, "--batch", "8"],
                       check=True, capture_output=True)
        ours = np.load(out)
        t0 = time.perf_counter()
        first = session(model, 1)
        theirs = dict(zip([o.name for o in first.get_outputs()], first.run(None, {k: v[:1] for k, v in feeds.items()})))
        ort_load = (time.perf_counter() - t0) * 1e3
        theirs = dict(zip([o.name for o in first.get_outputs()], first.run(None, feeds)))
        for name, value in theirs.items():
            print(f"  {name}: max abs {np.abs(ours[name] - value).max():.2e} (max |value| {np.abs(value).max():.2f})", flush=True)
        sessions = {t: session(model, t) for t in (1, 2)}
        ours_ms, theirs_ms, ratios, load_ms = alternate(
            [modelsmith, "bench", model, "--dim", f"sequence={seq}", "--data", data], sessions,
            lambda b: {k: np.ascontiguousarray(v[:b]) for k, v in feeds.items()}, rounds, duration)
    print_rows(ours_ms, theirs_ms, ratios, load_ms, ort_load)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    opt = lambda name, default: args[args.index(name) + 1] if name in args else default
    main(args[0], int(opt("--seq", "128")), int(opt("--rounds", "3")), float(opt("--duration", "1.0")),
         opt("--modelsmith", os.path.join(HERE, "..", "..", ".build", "release", "modelsmith")))
