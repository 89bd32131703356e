#!/usr/bin/env python3
"""Copies the golden PyTorch graphs and records their state_dict tensor shapes/dtypes
(read from the golden weights with NumPy), so ModelGraphTests can validate the graphs
against real shapes without Python or ../shared at test time."""
import json, pathlib, shutil
import numpy as np

golden = pathlib.Path("../shared/golden/models")
here = pathlib.Path(__file__).parent
shapes = {}
for model in ["teacher", "student", "cnn"]:
    shutil.copy(golden / f"{model}.model.json", here / f"{model}.model.json")
    weights = np.load(golden / f"{model}.weights.npz")
    shapes[model] = {k: {"shape": list(weights[k].shape), "dtype": str(weights[k].dtype)} for k in weights.files}
(here / "golden_tensor_shapes.json").write_text(json.dumps(shapes, indent=1, sort_keys=True) + "\n")
