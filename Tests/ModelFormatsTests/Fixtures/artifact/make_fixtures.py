#!/usr/bin/env python3
"""Builds independent.msa from docs/formats.md alone (numpy, hashlib, tarfile and the zstd CLI; no
ModelSmith code), plus expected/<name>.npy with the tensors it must decode to.
Run from this directory: python3 make_fixtures.py"""
import hashlib, io, json, os, subprocess, tarfile, tempfile
import numpy as np

B = 131072  # shuffle block (docs/formats.md §4.2)

def shuffle(raw: bytes, w: int) -> bytes:
    a = np.frombuffer(raw, dtype=np.uint8).reshape(-1, w)
    out = []
    for s in range(0, a.shape[0], B):
        out.append(a[s:s + B].T.copy().tobytes())  # plane j = byte j of each element of the block
    return b"".join(out)

def sparse(raw: bytes, w: int):
    a = np.frombuffer(raw, dtype=np.uint8).reshape(-1, w)
    nonzero = a.any(axis=1)
    bitmap = np.packbits(nonzero, bitorder="little").tobytes()
    return bitmap, a[nonzero].tobytes()

def zstd_frame(payload: bytes) -> bytes:
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(payload)
    try:  # from a file, the CLI records the content size; --check adds the content checksum
        return subprocess.run(["zstd", "-q", "-3", "--check", "-c", f.name], check=True, capture_output=True).stdout
    finally:
        os.unlink(f.name)

rng = np.random.default_rng(7)
w = rng.standard_normal((300, 5)).astype("<f4")
w[rng.random((300, 5)) < 0.9] = 0
w[0, 0] = -0.0  # not all-zero bytes: stored as a value
b = rng.standard_normal(5).astype("<f4")
q = rng.integers(-128, 128, size=(4, 3), dtype=np.int8)
h = rng.standard_normal(7).astype("<f2")
b_mask = np.array([1, 0, 1, 1, 0], dtype=np.bool_)
b[~b_mask] = 0  # a mask keeps every non-zero element: pruned elements are zero (docs/formats.md §4.1)
w_mask = (w != 0)  # by value: -0.0 counts as zero

graph = {"modelsmith": 1, "name": "independent", "inputs": [{"name": "x", "shape": [-1, 5]}], "outputs": ["y"],
         "nodes": [{"name": "fc", "op": "linear", "inputs": ["x"], "output": "y", "params": {"weight": "w", "bias": "b"}}]}

entries, members = [], []
def add(name, role, arr, dtype, encoding, transform, quant=None):
    raw = arr.tobytes()
    e = {"name": name, "role": role, "dtype": dtype, "shape": list(arr.shape), "encoding": encoding,
         "transform": transform, "sha256": hashlib.sha256(raw).hexdigest()}
    if quant: e["quant"] = quant
    if encoding == "param_nonzero":
        e.update(encoded_bytes=0, stored_bytes=0)
    else:
        wdt = arr.dtype.itemsize
        if encoding == "sparse":
            bitmap, values = sparse(raw, wdt)
            payload = bitmap + (shuffle(values, wdt) if transform == "shuffle" else values)
        else:
            payload = shuffle(raw, wdt) if transform == "shuffle" else raw
        frame = zstd_frame(payload)
        member = f"payload/{len(members)}.zst"
        e.update(member=member, encoded_bytes=len(payload), stored_bytes=len(frame))
        members.append((member, frame))
    entries.append(e)

add("w", "param", w, "f32", "sparse", "shuffle")
add("b", "param", b, "f32", "dense", "none")
add("q", "param", q, "i8", "int8", "none", {"scales": [0.5, 0.25, 0.125, 2.0], "zero_points": [0, 0, 0, 0], "axis": 0})
add("h", "param", h, "f16", "dense", "shuffle")
add("w", "mask", w_mask, "bool", "param_nonzero", "none")
add("b", "mask", b_mask, "bool", "sparse", "none")

manifest = dict(graph)
manifest["artifact"] = {"format": "modelsmith-msa", "version": 1}
manifest["tensors"] = entries
manifest["provenance"] = {"tool": "numpy", "version": np.__version__,
                          "steps": [{"step": "handmade", "options": {"seed": 7}, "results": {}}]}
manifest_bytes = json.dumps(manifest, indent=1).encode()
digest = f"{hashlib.sha256(manifest_bytes).hexdigest()}  model.json\n".encode()

with tarfile.open("independent.msa", "w", format=tarfile.USTAR_FORMAT) as tar:
    for name, data in [("model.json", manifest_bytes), ("model.json.sha256", digest)] + members:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        tar.addfile(info, io.BytesIO(data))

os.makedirs("expected", exist_ok=True)
for name, arr in [("w", w), ("b", b), ("q", q), ("h", h), ("w.mask", w_mask), ("b.mask", b_mask)]:
    np.save(f"expected/{name}.npy", arr)
