#!/usr/bin/env python3
"""Packs the golden teacher (model.json + one .npy per state_dict tensor, PyTorch names) into
teacher.tar.zst: a tar made with Python's tarfile, compressed with the zstd CLI."""
import io, pathlib, subprocess, tarfile
import numpy as np

here = pathlib.Path(__file__).parent
golden = pathlib.Path("../shared/golden/models")
weights = np.load(golden / "teacher.weights.npz")

def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # reproducible archives
    tar.addfile(info, io.BytesIO(data))

buffer = io.BytesIO()
with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
    add(tar, "teacher/model.json", (golden / "teacher.model.json").read_bytes())
    for key in weights.files:
        npy = io.BytesIO()
        np.save(npy, weights[key])
        add(tar, f"teacher/{key}.npy", npy.getvalue())
subprocess.run(["zstd", "-19", "-q", "-f", "-o", str(here / "teacher.tar.zst")], input=buffer.getvalue(), check=True)
