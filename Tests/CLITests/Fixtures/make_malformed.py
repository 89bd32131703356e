#!/usr/bin/env python3
"""Makes nan_weights.tar, calib4.npz and the CLI-only files of Fixtures/malformed (the rest are copies of
Tests/ModelFormatsTests/Fixtures/malformed). Run from this folder:  python3 make_malformed.py
sources/valid.msa is `modelsmith convert` of Tests/ModelFormatsTests/Fixtures/readers/pkg.tar."""
import io, json, struct, tarfile, zipfile
import numpy as np

OUT = "malformed/"
valid = open("sources/valid.msa", "rb").read()
members = {m.name: m for m in tarfile.open("sources/valid.msa").getmembers()}

def flip(data, offset, mask=0x01):
    b = bytearray(data); b[offset] ^= mask; return bytes(b)

# Artifacts: a flipped byte in a tensor's zstd frame, a flipped byte in the manifest, truncation.
fc2 = members["tensors/00002-fc2.weight.zst"]
open(OUT + "flipped_payload.msa", "wb").write(flip(valid, fc2.offset_data + fc2.size // 2))
manifest = members["model.json"]
open(OUT + "flipped_manifest.msa", "wb").write(flip(valid, manifest.offset_data + 40))
open(OUT + "truncated.msa", "wb").write(valid[: fc2.offset_data + 10])
open(OUT + "empty.msa", "wb").write(b"")

# Manifests rewritten the way an attacker would: the lie plus a recomputed model.json.sha256, so
# only the checks at decode stand in the way.
import hashlib
def crafted(name, edit):
    document = json.loads(tarfile.open("sources/valid.msa").extractfile("model.json").read())
    edit(document)
    manifest = json.dumps(document, sort_keys=True).encode()
    source = tarfile.open("sources/valid.msa")
    with tarfile.open(OUT + name, "w", format=tarfile.USTAR_FORMAT) as t:
        def add(path, data):
            info = tarfile.TarInfo(path); info.size = len(data); t.addfile(info, io.BytesIO(data))
        add("model.json", manifest)
        add("model.json.sha256", (hashlib.sha256(manifest).hexdigest() + "  model.json\n").encode())
        for m in source.getmembers()[2:]:
            add(m.name, source.extractfile(m).read())
crafted("crafted_provenance.msa", lambda d: d.__setitem__("provenance", 42))
crafted("crafted_no_outputs.msa", lambda d: d.__setitem__("outputs", []))
def quant_on_float(d):
    d["tensors"][0]["quant"] = {"scales": [0.0], "zero_points": [0], "axis": None}
crafted("crafted_quant.msa", quant_on_float)

# A graph that does not fit its tensors, and one that names a tensor that is absent.
graph = json.loads(tarfile.open("sources/valid.msa").extractfile("model.json").read())
tiny = {k: graph[k] for k in ("modelsmith", "name", "inputs", "outputs", "nodes")}
w = {"fc1.weight": np.ones((5, 4), np.float32), "fc1.bias": np.zeros(5, np.float32),
     "fc2.weight": np.ones((3, 5), np.float32), "fc2.bias": np.zeros(3, np.float32)}
def package(name, graph, tensors):
    with tarfile.open(OUT + name, "w") as t:
        def add(path, data):
            info = tarfile.TarInfo(path); info.size = len(data); t.addfile(info, io.BytesIO(data))
        add("model.json", json.dumps(graph).encode())
        for k, v in tensors.items():
            buf = io.BytesIO(); np.save(buf, v); add(k + ".npy", buf.getvalue())
package("wrong_param_shape.tar", tiny, {**w, "fc2.weight": np.ones((3, 4), np.float32)})
package("missing_param.tar", tiny, {k: v for k, v in w.items() if k != "fc2.bias"})
unknown = json.loads(json.dumps(tiny)); unknown["nodes"][1]["op"] = "swish2"
package("unknown_op.tar", unknown, w)
# Hand-written graphs: a conv whose dilation × kernel overflows (the weight [1, 1, 2^61, 0] holds
# no elements, so only the shape rule sees the kernel), a batchnorm with a negative variance.
conv = {"modelsmith": 1, "name": "conv", "inputs": [{"name": "x", "shape": [-1, 1, 8, 8]}], "outputs": ["y"],
        "nodes": [{"name": "c", "op": "conv2d", "inputs": ["x"], "output": "y", "params": {"weight": "w"},
                   "attrs": {"dilation": 999999999999999}}]}
def empty_npy(shape):  # numpy refuses to build an array this large even with no elements
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (tuple(shape),)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
with tarfile.open(OUT + "dilation_overflow.tar", "w") as t:
    for path, data in [("model.json", json.dumps(conv).encode()), ("w.npy", empty_npy([1, 1, 2**61, 0]))]:
        info = tarfile.TarInfo(path); info.size = len(data); t.addfile(info, io.BytesIO(data))
bn = {"modelsmith": 1, "name": "bn", "inputs": [{"name": "x", "shape": [-1, 2, 4, 4]}], "outputs": ["y"],
      "nodes": [{"name": "bn", "op": "batchnorm2d", "inputs": ["x"], "output": "y",
                 "params": {"weight": "g", "bias": "b", "running_mean": "m", "running_var": "v"}}]}
package("negative_variance.tar", bn, {"g": np.ones(2, np.float32), "b": np.zeros(2, np.float32),
                                      "m": np.zeros(2, np.float32), "v": np.array([1, -0.5], np.float32)})
with tarfile.open(OUT + "not_json_graph.tar", "w") as t:
    data = b'{"modelsmith": 1, "nodes": ['
    info = tarfile.TarInfo("model.json"); info.size = len(data); t.addfile(info, io.BytesIO(data))

# NaN / Inf weights (convert refuses them unless --allow-nonfinite; inspect warns).
nan = dict(w); nan["fc1.weight"] = w["fc1.weight"].copy(); nan["fc1.weight"][1, 2] = np.nan
nan["fc1.weight"][3, 0] = np.inf; nan["fc1.weight"][4, 3] = np.nan
package("../nan_weights.tar", tiny, nan)
np.savez("calib4.npz", x=np.random.default_rng(4).random((16, 4), dtype=np.float32))  # calibration data for it

# A zip whose central directory says 16 bytes but whose deflate stream holds 64 MiB of zeros.
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr(zipfile.ZipInfo("w.npy", date_time=(2020, 1, 1, 0, 0, 0)), bytes(64 << 20), zipfile.ZIP_DEFLATED)
data = bytearray(buf.getvalue())
cd = data.rfind(b"PK\x01\x02")
struct.pack_into("<I", data, cd + 24, 16)           # central directory: uncompressed size
struct.pack_into("<I", data, 22, 16)                 # local header: uncompressed size
open(OUT + "lying_size.npz", "wb").write(bytes(data))

# A zstd tar bomb: 1 GiB of zeros in a few KiB (the tar header declares the real size).
import subprocess
hdr = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.uint8)); hdr["shape"] = (1 << 30,)
npy = io.BytesIO(); np.lib.format.write_array_header_1_0(npy, hdr)
head = npy.getvalue()
with open("/tmp/bomb.tar", "wb") as f:
    info = tarfile.TarInfo("zeros.npy"); info.size = len(head) + (1 << 30)
    f.write(info.tobuf(format=tarfile.USTAR_FORMAT)); f.write(head)
    zero = bytes(1 << 20)
    for _ in range(1 << 10): f.write(zero)
    pad = (-(len(head) + (1 << 30))) % 512
    f.write(bytes(pad + 1024))
subprocess.run(["zstd", "-19", "-q", "-f", "--rm", "/tmp/bomb.tar", "-o", OUT + "bomb.tar.zst"], check=True)

# A 1.2 KB pickle (found by Fuzz/fuzz-pytorch) whose persistent id is a tuple shared many times
# over: its full text ran to 26 MB in the error message.
with zipfile.ZipFile(OUT + "pickle_dag.pt", "w") as z:
    z.writestr(zipfile.ZipInfo("archive/data.pkl", date_time=(2020, 1, 1, 0, 0, 0)), open("sources/pickle_dag.pkl", "rb").read())
