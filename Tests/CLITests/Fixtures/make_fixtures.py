#!/usr/bin/env python3
"""CLI test fixtures, computed independently of ModelSmith with NumPy:
- student.npz: the golden student state_dict, plus an unused int64 `num_batches_tracked`,
  with fc1.weight L1-pruned to 50% zeros (smallest magnitudes) so sparsity is non-trivial;
- student.json: its graph; broken.json: the same graph naming an absent tensor;
- prefixed.npz: the same tensors with a `module.` prefix (DataParallel style);
- expected_inspect.json: totals and per-node numbers inspect must report;
- garbage.npz: bytes that are not a zip."""
import json, pathlib, shutil
import numpy as np

here = pathlib.Path(__file__).parent
golden = pathlib.Path("../shared/golden/models")
w = dict(np.load(golden / "student.weights.npz"))
fc1 = w["fc1.weight"].copy()
order = np.argsort(np.abs(fc1).ravel(), kind="stable")
fc1.ravel()[order[: fc1.size // 2]] = 0
w["fc1.weight"] = fc1
w["num_batches_tracked"] = np.array(7, dtype=np.int64)
np.savez(here / "student.npz", **w)
np.savez(here / "prefixed.npz", **{"module." + k: v for k, v in w.items()})
shutil.copy(golden / "student.model.json", here / "student.json")
graph = json.loads((golden / "student.model.json").read_text())
graph["nodes"][2]["params"]["weight"] = "fc2.kernel"
(here / "broken.json").write_text(json.dumps(graph, indent=1))
(here / "garbage.npz").write_bytes(b"this is not a zip archive\n" * 4)

def node(name, keys):
    return {"parameters": int(sum(w[k].size for k in keys)), "bytes": int(sum(w[k].nbytes for k in keys)),
            "sparsity": float(np.mean(w[keys[0]] == 0))}

expected = {
    "totals": {
        "parameters": int(sum(v.size for v in w.values())),
        "bytes_in_memory": int(sum(v.nbytes for v in w.values())),
        "bytes_on_disk": (here / "student.npz").stat().st_size,
    },
    "nodes": {"fc1": node("fc1", ["fc1.weight", "fc1.bias"]), "fc2": node("fc2", ["fc2.weight", "fc2.bias"])},
    "unused_tensors": ["num_batches_tracked"],
}
expected["totals"]["compression_ratio"] = expected["totals"]["bytes_in_memory"] / expected["totals"]["bytes_on_disk"]
weights = np.concatenate([w["fc1.weight"].ravel(), w["fc2.weight"].ravel()])
expected["totals"]["weight_sparsity"] = float(np.mean(weights == 0))
(here / "expected_inspect.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
