#!/usr/bin/env python3
"""Converts the PyTorch golden pruning data (../shared/golden, torch 1.13 CPU) into fixtures the
Swift tests read without an npz reader:

- teacher.weights.f32   every tensor of teacher.weights.npz, raw little-endian f32, in index order
- teacher.model.json    the teacher graph (copied)
- masks/<case>.bits     each golden mask, np.packbits(mask.ravel(), bitorder="little")
- golden.json           index: tensor shapes/offsets, mask cases (tensors, amount, scope), ties cases

Run: python3 make_golden_fixtures.py ../shared/golden
"""
import json, os, shutil, sys
import numpy as np

src = sys.argv[1] if len(sys.argv) > 1 else "../shared/golden"
here = os.path.dirname(os.path.abspath(__file__))
os.makedirs(os.path.join(here, "masks"), exist_ok=True)

weights = np.load(os.path.join(src, "models/teacher.weights.npz"))
index = {"tensors": [], "cases": [], "ties": []}
offset = 0
with open(os.path.join(here, "teacher.weights.f32"), "wb") as f:
    for name in weights.files:
        a = np.ascontiguousarray(weights[name], dtype="<f4")
        f.write(a.tobytes())
        index["tensors"].append({"name": name, "shape": list(a.shape), "offset": offset})
        offset += a.size
shutil.copy(os.path.join(src, "models/teacher.model.json"), os.path.join(here, "teacher.model.json"))

def write_mask(case, mask):
    with open(os.path.join(here, "masks", case + ".bits"), "wb") as f:
        f.write(np.packbits(mask.astype(np.uint8).ravel(), bitorder="little").tobytes())

for amount in ["0.5", "0.9"]:
    d = np.load(os.path.join(src, f"prune_l1_unstructured_teacher_fc2_{amount}.npz"))
    assert np.array_equal(d["weight"], weights["fc2.weight"])
    case = f"l1_fc2_{amount}"
    write_mask(case, d["mask"])
    index["cases"].append({"case": case, "scope": "layer", "amount": float(d["amount"]), "tensors": ["fc2.weight"]})

    d = np.load(os.path.join(src, f"prune_global_unstructured_teacher_{amount}.npz"))
    names = ["fc1.weight", "fc2.weight", "fc3.weight"]
    for n in names:
        assert np.array_equal(d[n], weights[n])
    case = f"global_{amount}"
    write_mask(case, np.concatenate([d[n + "_mask"].ravel() for n in names]))
    index["cases"].append({"case": case, "scope": "global", "amount": float(d["amount"]), "tensors": names})

d = np.load(os.path.join(src, "prune_l1_ties.npz"))
for case in sorted({k.rsplit(".", 1)[0] for k in d.files}):
    amount = float(d[case + ".amount"])
    index["ties"].append({
        "case": case,
        "shape": list(d[case + ".weight"].shape),
        "weight": [float(v) for v in d[case + ".weight"].ravel()],
        "mask": [int(v) for v in d[case + ".mask"].ravel()],
        # The npz stores every amount as float64; the int case is named so (torch got an int).
        "amount": int(amount) if case.startswith("int_amount") else amount,
        "amount_is_count": case.startswith("int_amount"),
    })

with open(os.path.join(here, "golden.json"), "w") as f:
    json.dump(index, f, indent=1)
