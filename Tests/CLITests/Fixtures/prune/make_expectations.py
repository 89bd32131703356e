#!/usr/bin/env python3
"""Expected pruning outcomes for the student, computed with NumPy (independently of ModelSmith):
global L1 at 0.5 over fc1.weight + fc2.weight (PyTorch rounding: round(0.5 * 4736) = 2368), and
fc1 alone at 0.5 then 0.5 again (PyTorch's iterative rule: the second 0.5 applies to what is left)."""
import json
import numpy as np

w = np.load("student.weights.npz")
names = ["fc1.weight", "fc2.weight"]
flat = np.concatenate([np.abs(w[n]).ravel() for n in names])
k = round(0.5 * flat.size)
order = np.argsort(flat, kind="stable")
assert flat[order[k - 1]] != flat[order[k]], "tie at the cut"
pruned = np.zeros(flat.size, bool); pruned[order[:k]] = True
sizes = [w[n].size for n in names]
per_tensor = {n: int(p.sum()) for n, p in zip(names, np.split(pruned, np.cumsum(sizes)[:-1]))}

fc1 = np.abs(w["fc1.weight"]).ravel()
first = np.argsort(fc1, kind="stable")[: round(0.5 * fc1.size)]
left = np.setdiff1d(np.arange(fc1.size), first)
second = left[np.argsort(fc1[left], kind="stable")[: round(0.5 * left.size)]]
json.dump({"global_0.5": per_tensor, "fc1_twice_0.5_pruned": int(first.size + second.size)},
          open("expectations.json", "w"), indent=1)
