"""Writes outlier_teacher.weights.npz: the digits teacher with hidden unit 0 of fc1 made a rare detector,
exactly as GoldenAccuracyTests.outlierTeacher() builds it (that test checks the two agree bit for bit),
so that ONNX Runtime can be measured on the same model (Benchmarks/peers/quant_ort.py --outlier).

  python3 make_outlier_teacher.py      (in this folder; needs numpy)
"""
import numpy as np

CALIBRATION_SAMPLES = 256
w = dict(np.load("teacher.weights.npz"))
x = np.load("digits.npz")["x_train"].astype(np.float32)
threshold = np.float32(x.max() / np.float32(2))
# The pixel above half the data's maximum in the fewest (but >= 1) calibration samples; first on ties.
firing = (x[:CALIBRATION_SAMPLES] > threshold).sum(axis=0)
candidates = [p for p in range(64) if firing[p] > 0]
pixel = min(candidates, key=lambda p: (firing[p], p))
w["fc1.weight"][0, :] = 0
w["fc1.weight"][0, pixel] = 1000
w["fc1.bias"][0] = np.float32(-1000) * threshold
w["fc2.weight"][:, 0] = 0
np.savez("outlier_teacher.weights.npz", **w)
print("pixel", pixel, "fires on", int(firing[pixel]), "of", CALIBRATION_SAMPLES, "calibration samples; threshold", threshold)
