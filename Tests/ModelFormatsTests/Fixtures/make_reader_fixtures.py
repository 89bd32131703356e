#!/usr/bin/env python3
"""Generates the reader fixtures (readers/) and the malformed corpus (malformed/) with NumPy and the
Python standard library, independently of ModelSmith. Tests read only the committed outputs.

    python3 Tests/ModelFormatsTests/Fixtures/make_reader_fixtures.py [path/to/digits.npz]

expected.json records, for every well-formed fixture, what NumPy says each tensor is
(dtype, shape and the C-order values), so the Swift tests compare against NumPy, not against us.
"""
import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
READERS = os.path.join(HERE, "readers")
MALFORMED = os.path.join(HERE, "malformed")
DIGITS = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/digits.npz"

expected = {}  # fixture file -> {tensor name -> {"dtype", "shape", "values"}}

OUR_DTYPE = {"float32": "f32", "float16": "f16", "int8": "i8", "uint8": "u8", "int32": "i32",
             "int64": "i64", "bool": "bool"}


def describe(arrays):
    out = {}
    for name, a in arrays.items():
        values = np.ascontiguousarray(a).reshape(-1)
        if a.dtype == np.bool_:
            values = values.astype(np.uint8)
        elif a.dtype.kind == "f":
            values = values.astype(np.float64)  # f16/f32 values are exact in a double
        out[name] = {"dtype": OUR_DTYPE[a.dtype.newbyteorder("=").name], "shape": list(a.shape),
                     "values": values.tolist()}
    return out


def sample(dtype, shape, seed):
    """Deterministic values that exercise sign, fractions and extremes of each dtype."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype == np.bool_:
        return (rng.integers(0, 2, n) == 1).reshape(shape)
    if np.dtype(dtype).kind == "f":
        return (rng.standard_normal(n) * 3).astype(dtype).reshape(shape)
    info = np.iinfo(dtype)
    v = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
    v[0], v[-1] = info.min, info.max
    return v.reshape(shape)


def save_npy(path, array, version=None):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, array, version=version, allow_pickle=False)


def npy_bytes(array, version=None):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=version, allow_pickle=False)
    return buf.getvalue()


def raw_npy(header_dict_text, payload, version=(1, 0), pad=True):
    """An .npy file with a hand-written header (for the malformed corpus)."""
    header = header_dict_text.encode("latin1")
    prefix_len = 10 if version == (1, 0) else 12
    if pad:
        total = prefix_len + len(header) + 1
        header += b" " * ((64 - total % 64) % 64)
    header += b"\n"
    length = struct.pack("<H", len(header)) if version == (1, 0) else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes(version) + length + header + payload


def safetensors_bytes(tensors, metadata=None, header_override=None):
    """safetensors written by hand from the spec: u64 LE header length, JSON header, packed data."""
    names = {"float32": "F32", "float16": "F16", "int8": "I8", "uint8": "U8", "int32": "I32",
             "int64": "I64", "bool": "BOOL"}
    header, blobs, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, a in tensors.items():
        if isinstance(a, tuple):  # (dtype tag, shape, raw bytes) for bf16
            tag, shape, data = a
        else:
            tag, shape, data = names[a.dtype.name], list(a.shape), np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": tag, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = header_override if header_override is not None else json.dumps(header, separators=(",", ":"))
    text = text.encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def tar_with(path, members, mode="w"):
    """members: list of (name, bytes). Gzip gets mtime 0 so the fixtures are reproducible."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w" if mode == "w:gz" else mode, format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    write(path, gzip.compress(data, mtime=0) if mode == "w:gz" else data)


def zip_with(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, compress_type=compression)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- well-formed fixtures (readers/)

def make_readers():
    shutil.rmtree(READERS, ignore_errors=True)
    os.makedirs(READERS)
    dtypes = [np.float32, np.float16, np.int8, np.uint8, np.int32, np.int64, np.bool_]

    # One .npy per dtype (little endian, v1), and each npy format version.
    for i, dt in enumerate(dtypes):
        a = sample(dt, (3, 5), seed=i)
        name = f"dtype_{OUR_DTYPE[np.dtype(dt).name]}.npy"
        save_npy(os.path.join(READERS, name), a)
        expected[name] = describe({name[:-4]: a})
    base = sample(np.float32, (2, 3, 4), seed=10)
    for version in [(1, 0), (2, 0), (3, 0)]:
        name = f"version{version[0]}.npy"
        save_npy(os.path.join(READERS, name), base, version=version)
        expected[name] = describe({name[:-4]: base})

    # Big endian (converted to little on read) and Fortran order (transposed on read).
    for dt, tag in [(">f4", "f32"), (">f2", "f16"), (">i4", "i32"), (">i8", "i64")]:
        a = sample(np.dtype(dt).newbyteorder("="), (4, 3), seed=20).astype(dt)
        name = f"bigendian_{tag}.npy"
        save_npy(os.path.join(READERS, name), a)
        expected[name] = describe({name[:-4]: a})
    for shape, dt, tag in [((3, 4), np.float32, "2d"), ((2, 3, 4), np.int32, "3d")]:
        a = np.asfortranarray(sample(dt, shape, seed=30))
        name = f"fortran_{tag}.npy"
        save_npy(os.path.join(READERS, name), a)
        assert np.lib.format.read_magic(open(os.path.join(READERS, name), "rb")) is not None
        expected[name] = describe({name[:-4]: a})
    scalar = np.float32(2.5).reshape(())
    save_npy(os.path.join(READERS, "scalar.npy"), scalar)
    expected["scalar.npy"] = describe({"scalar": scalar})
    empty = np.zeros((0, 4), np.float32)
    save_npy(os.path.join(READERS, "empty.npy"), empty)
    expected["empty.npy"] = describe({"empty": empty})

    # npz, stored and deflated, with one tensor per dtype and a nested name.
    arrays = {f"t_{OUR_DTYPE[np.dtype(dt).name]}": sample(dt, (2, 7), seed=40 + i) for i, dt in enumerate(dtypes)}
    arrays["layer1/conv.weight"] = sample(np.float32, (2, 1, 3, 3), seed=50)
    for name, fn in [("stored.npz", np.savez), ("compressed.npz", np.savez_compressed)]:
        fn(os.path.join(READERS, name), **arrays)
        expected[name] = describe(arrays)

    # A slice of the digits data set.
    digits = np.load(DIGITS)
    part = {"x": digits["x_test"][:6], "y": digits["y_test"][:6]}
    np.savez_compressed(os.path.join(READERS, "digits_slice.npz"), **part)
    expected["digits_slice.npz"] = describe(part)

    # safetensors with every dtype plus bf16 and metadata.
    st = {f"w_{OUR_DTYPE[np.dtype(dt).name]}": sample(dt, (3, 2), seed=60 + i) for i, dt in enumerate(dtypes)}
    f32 = sample(np.float32, (2, 3), seed=70)
    bf16_bits = (f32.view(np.uint32) >> 16).astype("<u2")  # truncation: exact bf16 values
    st_all = dict(st)
    st_all["w_bf16"] = ("BF16", [2, 3], bf16_bits.tobytes())
    write(os.path.join(READERS, "all_dtypes.safetensors"), safetensors_bytes(st_all, metadata={"format": "pt", "source": "numpy"}))
    exp = describe(st)
    bf16_values = (bf16_bits.astype(np.uint32) << 16).view(np.float32)
    exp["w_bf16"] = {"dtype": "bf16", "shape": [2, 3], "values": bf16_values.astype(np.float64).reshape(-1).tolist()}
    expected["all_dtypes.safetensors"] = exp

    # Model packages: model.json + tensors, at the root or under one top-level folder.
    graph = {
        "modelsmith": 1, "name": "tiny-mlp",
        "inputs": [{"name": "x", "shape": [-1, 4], "dtype": "f32"}], "outputs": ["logits"],
        "nodes": [
            {"name": "fc1", "op": "linear", "inputs": ["x"], "output": "h1", "params": {"weight": "fc1.weight", "bias": "fc1.bias"}},
            {"name": "act1", "op": "relu", "inputs": ["h1"], "output": "a1"},
            {"name": "fc2", "op": "linear", "inputs": ["a1"], "output": "logits", "params": {"weight": "fc2.weight", "bias": "fc2.bias"}},
        ],
    }
    graph_bytes = json.dumps(graph, indent=1).encode()
    write(os.path.join(READERS, "tiny_model.json"), graph_bytes)
    params = {"fc1.weight": sample(np.float32, (5, 4), 80), "fc1.bias": sample(np.float32, (5,), 81),
              "fc2.weight": sample(np.float32, (3, 5), 82), "fc2.bias": sample(np.float32, (3,), 83)}
    npy_members = [("model.json", graph_bytes)] + [(f"{k}.npy", npy_bytes(v)) for k, v in params.items()]
    pkg_exp = describe(params)

    tar_with(os.path.join(READERS, "pkg.tar"), npy_members)
    tar_with(os.path.join(READERS, "pkg.tar.gz"), [(f"tiny/{n}", d) for n, d in npy_members], "w:gz")
    tar_with(os.path.join(READERS, "pkg.tar.xz"), npy_members, "w:xz")
    tar_with(os.path.join(READERS, "pkg_plain_for_zst.tar"), [(f"./{n}", d) for n, d in npy_members])
    subprocess.run(["zstd", "-q", "-f", "-19", "--rm", os.path.join(READERS, "pkg_plain_for_zst.tar"),
                    "-o", os.path.join(READERS, "pkg.tar.zst")], check=True)
    zip_with(os.path.join(READERS, "pkg.zip"), [(f"tiny/{n}", d) for n, d in npy_members])
    tgz_st = [("tiny/model.json", graph_bytes), ("tiny/model.safetensors", safetensors_bytes(params))]
    tar_with(os.path.join(READERS, "pkg_safetensors.tgz"), tgz_st, "w:gz")
    directory = os.path.join(READERS, "pkg_dir")
    os.makedirs(os.path.join(directory, "tiny"))
    for n, d in npy_members:
        write(os.path.join(directory, "tiny", n), d)
    for name in ["pkg.tar", "pkg.tar.gz", "pkg.tar.xz", "pkg.tar.zst", "pkg.zip", "pkg_safetensors.tgz", "pkg_dir"]:
        expected[name] = pkg_exp

    # A zip whose entry name is not ASCII (the locale pitfall).
    zip_with(os.path.join(READERS, "unicode_names.zip"), [("wëight.npy", npy_bytes(params["fc1.bias"]))])
    expected["unicode_names.zip"] = describe({"wëight": params["fc1.bias"]})

    with open(os.path.join(READERS, "expected.json"), "w") as f:
        json.dump(expected, f, indent=0, sort_keys=True)


# ---------------------------------------------------------------- the malformed corpus (malformed/)

def make_malformed():
    shutil.rmtree(MALFORMED, ignore_errors=True)
    os.makedirs(MALFORMED)
    good = npy_bytes(np.arange(6, dtype=np.float32).reshape(2, 3))
    payload6 = np.arange(6, dtype=np.float32).tobytes()

    write(os.path.join(MALFORMED, "truncated_header.npy"), good[:30])
    write(os.path.join(MALFORMED, "bad_magic.npy"), b"\x93NUMPX" + good[6:])
    write(os.path.join(MALFORMED, "lying_shape.npy"),
          raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", payload6))
    write(os.path.join(MALFORMED, "negative_dim.npy"),
          raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", payload6))
    write(os.path.join(MALFORMED, "overflowing_dims.npy"),
          raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 8), }", payload6))
    write(os.path.join(MALFORMED, "unknown_dtype.npy"),
          raw_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", payload6))
    write(os.path.join(MALFORMED, "bad_dict.npy"),
          raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3) ", payload6))
    write(os.path.join(MALFORMED, "missing_key.npy"),
          raw_npy("{'descr': '<f4', 'shape': (2, 3), }", payload6))
    write(os.path.join(MALFORMED, "too_many_dims.npy"),
          raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % ", ".join(["1"] * 17), payload6[:4]))
    write(os.path.join(MALFORMED, "header_past_eof.npy"), good[:8] + struct.pack("<H", 60000) + good[10:])

    t = {"a": np.arange(4, dtype=np.float32), "b": np.arange(2, dtype=np.int32)}
    st = safetensors_bytes(t)
    write(os.path.join(MALFORMED, "st_header_past_eof.safetensors"), struct.pack("<Q", 1 << 20) + st[8:])
    write(os.path.join(MALFORMED, "st_overlapping.safetensors"), safetensors_bytes(t, header_override=json.dumps({
        "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
        "b": {"dtype": "I32", "shape": [2], "data_offsets": [8, 16]}})))
    write(os.path.join(MALFORMED, "st_out_of_range.safetensors"), safetensors_bytes(t, header_override=json.dumps({
        "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
        "b": {"dtype": "I32", "shape": [2], "data_offsets": [24, 32]}})))
    write(os.path.join(MALFORMED, "st_hole.safetensors"), safetensors_bytes(t, header_override=json.dumps({
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "I32", "shape": [2], "data_offsets": [16, 24]}})))
    write(os.path.join(MALFORMED, "st_shape_mismatch.safetensors"), safetensors_bytes(t, header_override=json.dumps({
        "a": {"dtype": "F32", "shape": [5], "data_offsets": [0, 16]},
        "b": {"dtype": "I32", "shape": [2], "data_offsets": [16, 24]}})))
    write(os.path.join(MALFORMED, "st_duplicate_names.safetensors"), safetensors_bytes(t, header_override=(
        '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
        '"a":{"dtype":"I32","shape":[2],"data_offsets":[16,24]}}')))
    write(os.path.join(MALFORMED, "st_unknown_dtype.safetensors"), safetensors_bytes(t, header_override=json.dumps({
        "a": {"dtype": "C64", "shape": [2], "data_offsets": [0, 16]},
        "b": {"dtype": "I32", "shape": [2], "data_offsets": [16, 24]}})))
    write(os.path.join(MALFORMED, "st_negative_dim.safetensors"), safetensors_bytes(t, header_override=json.dumps({
        "a": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]},
        "b": {"dtype": "I32", "shape": [2], "data_offsets": [16, 24]}})))
    write(os.path.join(MALFORMED, "st_overflowing_dims.safetensors"), safetensors_bytes(t, header_override=json.dumps({
        "a": {"dtype": "F32", "shape": [4294967296, 4294967296, 4], "data_offsets": [0, 16]},
        "b": {"dtype": "I32", "shape": [2], "data_offsets": [16, 24]}})))
    write(os.path.join(MALFORMED, "st_not_json.safetensors"), safetensors_bytes(t, header_override='{"a": [1, 2'))

    # A zip whose stored entry's CRC-32 is wrong (flip one payload byte after writing).
    zpath = os.path.join(MALFORMED, "bad_crc.zip")
    zip_with(zpath, [("w.npy", good)], compression=zipfile.ZIP_STORED)
    data = bytearray(open(zpath, "rb").read())
    at = data.find(good[-8:])
    data[at] ^= 0xFF
    write(zpath, bytes(data))

    tar_with(os.path.join(MALFORMED, "dotdot.tar"), [("model.json", b"{}"), ("../evil.npy", good)])
    tar_with(os.path.join(MALFORMED, "absolute.tar"), [("/abs.npy", good)])
    tar_with(os.path.join(MALFORMED, "duplicate_tensor.tar"),
             [("w.npy", good), ("weights.safetensors", safetensors_bytes({"w": np.zeros(3, np.float32)}))])
    zip_with(os.path.join(MALFORMED, "duplicate_tensor.npz"), [("w.npy", good), ("./w.npy", good)])

    # Decompression bomb: 32 MiB of zeros deflated to ~32 KiB inside an npz.
    zip_with(os.path.join(MALFORMED, "bomb.npz"), [("zeros.npy", npy_bytes(np.zeros(8 << 20, np.float32)))])
    tar_with(os.path.join(MALFORMED, "lying_entry.tar.gz"), [("tiny/model.json", b"{}"), ("tiny/fc1.weight.npy",
             raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", payload6))], "w:gz")
    tar_with(os.path.join(MALFORMED, "truncated.tar"), [("model.json", b"{}"), ("w.npy", npy_bytes(np.zeros(4096, np.float32)))])
    full = open(os.path.join(MALFORMED, "truncated.tar"), "rb").read()
    write(os.path.join(MALFORMED, "truncated.tar"), full[:6000])
    write(os.path.join(MALFORMED, "not_an_archive.tar.gz"), b"this is not gzip data at all\n" * 4)


if __name__ == "__main__":
    make_readers()
    make_malformed()
    print("fixtures written to", READERS, "and", MALFORMED)
