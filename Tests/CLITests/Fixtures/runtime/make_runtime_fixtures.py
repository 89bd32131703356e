#!/usr/bin/env python3
"""CLI fixtures for run/verify/bench: the golden student (copied from ../shared/golden/models) plus
a perturbed copy of its weights (seeded noise on fc1.weight) that verify must reject, and bad inputs."""
import os
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
w = dict(np.load(os.path.join(here, "student.weights.npz")))
rng = np.random.default_rng(7)
w["fc1.weight"] = (w["fc1.weight"] + rng.normal(0, 0.3, w["fc1.weight"].shape)).astype(np.float32)
np.savez(os.path.join(here, "student_perturbed.npz"), **w)
f = np.load(os.path.join(here, "student.forward.npz"))
x = f["x"].copy()
x[5, 3] = np.nan
np.savez(os.path.join(here, "nan_inputs.npz"), x=x)
np.savez(os.path.join(here, "wrong_width.npz"), x=f["x"][:, :60])
