#!/usr/bin/env python3
"""Builds the bundled digits example from the golden PyTorch models and the digits data:
teacher.json / student.json / cnn.json (the graphs), and the datasets train.npz / test.npz
(x = [N, 64] pixels, y = labels) and train_img.npz / test_img.npz (x = [N, 1, 8, 8] images).
Run from anywhere; writes next to this file."""
import pathlib, shutil
import numpy as np

here = pathlib.Path(__file__).parent
golden = pathlib.Path("../shared/golden/models")
for model in ["teacher", "student", "cnn"]:
    shutil.copy(golden / f"{model}.model.json", here / f"{model}.json")

data = np.load(here / "digits.npz")
np.savez(here / "train.npz", x=data["x_train"], y=data["y_train"])
np.savez(here / "test.npz", x=data["x_test"], y=data["y_test"])
np.savez(here / "train_img.npz", x=data["x_train_img"], y=data["y_train"])
np.savez(here / "test_img.npz", x=data["x_test_img"], y=data["y_test"])
