#!/usr/bin/python3
"""Generates the fixtures of InputsTests: files as users have them (float64 NumPy arrays, legacy
and real-world PyTorch checkpoints, sharded Hugging Face folders, archives with symlink entries).

Every file is written by NumPy or the real `torch.save` / `torch.jit.save` (Debian's python3-torch
1.13) except where no writer exists any more (the pre-0.4 tar checkpoint, safetensors without the
safetensors package), which are assembled here byte by byte and then loaded back with `torch.load`
/ NumPy to prove they are what those libraries read. Expected values are written next to each
input by NumPy (`*.expected.npz`; converted dtypes as NumPy converts them) and `expected.json`.
Run from anywhere, once, with the NumPy 1.x that python3-torch 1.13 is built against (Debian's
python3-numpy; put it first if a NumPy 2 is installed elsewhere); the tests never need Python:

    PYTHONPATH=/usr/lib/python3/dist-packages /usr/bin/python3 make_input_fixtures.py

Storage keys of legacy_raw.pt are memory addresses, so a rerun changes its bytes, not its values.
"""
import argparse
import collections
import io
import json
import os
import pickle
import shutil
import struct
import tarfile

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = {}


def out(name):
    path = os.path.join(HERE, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def max_rounding_error(array):
    """Largest |f32(x) − x| over the array, as the reader reports it (0 for exact conversions)."""
    a = np.asarray(array, dtype=np.float64)
    return float(np.max(np.abs(a.astype(np.float32).astype(np.float64) - a))) if a.size else 0.0


def safetensors_bytes(arrays):
    """The safetensors layout (8-byte LE header length, JSON header, packed little-endian data)."""
    tags = {"float64": "F64", "float32": "F32", "int16": "I16", "uint16": "U16", "float16": "F16", "uint8": "U8",
            "int64": "I64"}
    header, data, offset = {}, b"", 0
    for name, a in arrays.items():
        raw = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": tags[a.dtype.name], "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


# --- 2. float64 and other numeric dtypes ------------------------------------------------------

def numeric_dtypes():
    rng = np.random.default_rng(15)
    # What scikit-learn's MLPClassifier holds in coefs_/intercepts_: float64.
    coefs = {"fc.weight": rng.standard_normal((3, 4)), "fc.bias": rng.standard_normal(3) * 1e-3}
    np.savez(out("float64.npz"), **coefs)
    np.savez(out("float64.expected.npz"), **{k: v.astype(np.float32) for k, v in coefs.items()})
    EXPECTED["float64.npz"] = {"max_error": max(max_rounding_error(v) for v in coefs.values()), "converted": 2}

    # Big-endian, Fortran-order float64; 16-bit integers; float16 (already a ModelSmith dtype).
    others = {"be_fortran": np.asfortranarray(rng.standard_normal((2, 3))).astype(">f8"),
              "i16": np.array([-32768, -1, 0, 7, 32767], dtype=np.int16),
              "u16": np.array([[0, 1], [40000, 65535]], dtype=np.uint16),
              "f16": np.array([0.5, -2.25, 65504.0], dtype=np.float16)}
    assert others["be_fortran"].flags.f_contiguous
    np.savez(out("dtypes_mixed.npz"), **others)
    np.savez(out("dtypes_mixed.expected.npz"), be_fortran=others["be_fortran"].astype("<f4"),
             i16=others["i16"].astype(np.int32), u16=others["u16"].astype(np.int32), f16=others["f16"])
    EXPECTED["dtypes_mixed.npz"] = {"max_error": max_rounding_error(others["be_fortran"]), "converted": 3}

    st = {"w64": rng.standard_normal((2, 2)), "i16": np.array([-5, 300], dtype=np.int16),
          "u16": np.array([65535], dtype=np.uint16), "w32": np.array([1.5], dtype=np.float32)}
    with open(out("float64.safetensors"), "wb") as f:
        f.write(safetensors_bytes(st))
    np.savez(out("float64_safetensors.expected.npz"), w64=st["w64"].astype(np.float32), i16=st["i16"].astype(np.int32),
             u16=st["u16"].astype(np.int32), w32=st["w32"])
    EXPECTED["float64.safetensors"] = {"max_error": max_rounding_error(st["w64"]), "converted": 3}

    # A float64 value no f32 can hold.
    np.save(out("float64_overflow.npy"), np.array([1.0, 1e300]))

    # torch: DoubleStorage and ShortStorage, one a transposed view.
    g = torch.Generator().manual_seed(15)
    sd = {"w64": torch.randn(3, 2, generator=g, dtype=torch.float64).t(), "i16": torch.tensor([-300, 2, 32767], dtype=torch.int16),
          "f32": torch.tensor([0.25])}
    torch.save(sd, out("float64.pt"))
    np.savez(out("float64_pt.expected.npz"), w64=sd["w64"].numpy().astype(np.float32), i16=sd["i16"].numpy().astype(np.int32),
             f32=sd["f32"].numpy())
    EXPECTED["float64.pt"] = {"max_error": max_rounding_error(sd["w64"].numpy()), "converted": 2}

    # Calibration/eval data as users have it: uint8 images, float64 arrays (64 features, the CLI's student).
    images = rng.integers(0, 256, (6, 64), dtype=np.uint8)
    labels = rng.integers(0, 10, 6).astype(np.int64)
    np.savez(out("data_u8.npz"), x=images, y=labels)
    np.savez(out("data_f64.npz"), x=images.astype(np.float64) / 255.0, y=labels)
    np.savez(out("data_f32.npz"), x=images.astype(np.float32), y=labels)
    np.savez(out("data_f64_as_f32.npz"), x=(images.astype(np.float64) / 255.0).astype(np.float32), y=labels)
    EXPECTED["data_f64.npz"] = {"max_error": max_rounding_error(images.astype(np.float64) / 255.0)}


# --- 3. legacy PyTorch checkpoints --------------------------------------------------------------

def legacy_state():
    g = torch.Generator().manual_seed(3)
    shared = torch.arange(10, dtype=torch.int64)
    return {"fc.weight": torch.randn(3, 4, generator=g), "fc.bias": torch.randn(3, generator=g).half(),
            "transposed": torch.arange(6, dtype=torch.float32).reshape(2, 3).t(),
            "shared_a": shared[:4], "shared_b": shared[5:], "flag": torch.tensor([True, False])}


def npz_of(state, name):
    np.savez(out(name), **{k: v.contiguous().numpy() for k, v in state.items()})


def legacy():
    sd = legacy_state()
    torch.save(sd, out("legacy_raw.pt"), _use_new_zipfile_serialization=False)
    npz_of(sd, "legacy.expected.npz")
    write_legacy_tar(sd, out("legacy_tar.pt"))
    for name in ("legacy_raw.pt", "legacy_tar.pt"):
        back = torch.load(out(name))
        assert list(back) == list(sd) and all(torch.equal(back[k], sd[k]) for k in sd), name


def write_legacy_tar(state, path):
    """The tar format of PyTorch < 0.4 (entries sys_info, pickle, storages, tensors), as torch.load's
    `legacy_load` reads it; torch no longer writes it."""
    storages, tensors, keys = [], [], {}
    for name, t in state.items():
        base = t.storage()
        skey = keys.setdefault(base.data_ptr(), 1000 + len(keys))
        if skey == 1000 + len(storages):
            storages.append((skey, base))
        tensors.append((len(tensors), skey, t))

    def pick(obj):
        return pickle.dumps(obj, protocol=2)

    sfile = io.BytesIO()
    sfile.write(pick(len(storages)))
    for key, base in storages:
        sfile.write(pick((key, "cpu", getattr(torch, base.pickle_storage_type()))))
        raw = bytes(base._storage.tolist())
        sfile.write(struct.pack("<q", base.size()) + raw)
    sfile.write(pick([]))
    tfile = io.BytesIO()
    tfile.write(pick(len(tensors)))
    for key, skey, t in tensors:
        tfile.write(pick((key, skey, torch.FloatTensor)))  # the tensor type is not used when loading
        tfile.write(struct.pack("<ii", t.dim(), 0) + struct.pack(f"<{t.dim()}q", *t.shape)
                    + struct.pack(f"<{t.dim()}q", *t.stride()) + struct.pack("<q", t.storage_offset()))

    class TensorIds(pickle.Pickler):
        def persistent_id(self, obj):
            return str(ids[id(obj)]) if id(obj) in ids else None

    ids = {id(t): key for key, _, t in tensors}
    pfile = io.BytesIO()
    TensorIds(pfile, protocol=2).dump(dict(state))
    sys_info = pick({"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}})
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in [("sys_info", sys_info), ("pickle", pfile.getvalue()), ("storages", sfile.getvalue()),
                           ("tensors", tfile.getvalue())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


# --- 4. checkpoints with non-tensor objects -----------------------------------------------------

class Unknown:
    """A class of the training script: not on any allow-list."""
    def __init__(self):
        self.note = "never constructed"


def objects():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    sd = model.state_dict()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 4)).sum().backward()
    opt.step()
    args = argparse.Namespace(lr=0.1, model="mlp", layers=[4, 3, 2], amp=True, dtype=torch.float16)
    history = collections.defaultdict(list)
    history["loss"].append(0.5)
    checkpoint = {"model": sd, "optimizer": opt.state_dict(), "args": args, "epoch": 5,
                  "metric": np.float64(0.8125), "best_epoch": np.int64(4), "np_dtype": np.dtype("float32"),
                  "torch_dtype": torch.bfloat16, "size": torch.Size([2, 3]), "history": history,
                  "counter": collections.Counter(a=2), "version": "1.0"}
    torch.save(checkpoint, out("timm_style.pt"))
    npz_of(sd, "timm_style.expected.npz")
    torch.save({"model": sd, "extra": Unknown()}, out("unknown_outside.pt"))
    torch.save({"model": {**sd, "hook": Unknown()}, "epoch": 1}, out("unknown_inside.pt"))


def allow_listed_values():
    """Every allow-listed global as Python's pickler writes it (protocol 2, as torch.save)."""
    obj = {"f64": np.float64(-2.5), "f32": np.float32(1.5), "f16": np.float16(0.5), "i8": np.int8(-3),
           "i64": np.int64(-2**40), "u16": np.uint16(65535), "bool": np.bool_(True), "dtype_be": np.dtype(">f8"),
           "set": {3}, "frozen": frozenset({4}), "device": torch.device("cuda", 1), "cpu": torch.device("cpu"),
           "size": torch.Size([]), "namespace": argparse.Namespace(), "deque_free": collections.OrderedDict(a=1)}
    with open(out("allow_listed.pkl"), "wb") as f:
        pickle.dump(obj, f, protocol=2)


# --- 5. files that are not state_dicts ----------------------------------------------------------

def not_state_dicts():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(4, 3))
    torch.save(model, out("whole_module.pt"))
    torch.jit.save(torch.jit.script(model), out("torchscript.pt"))


# --- 6. sharded Hugging Face checkpoints ---------------------------------------------------------

def sharded():
    rng = np.random.default_rng(6)
    tensors = {"embed.weight": rng.standard_normal((5, 4)).astype(np.float32),
               "layer.0.weight": rng.standard_normal((4, 4)).astype(np.float32),
               "layer.0.bias": rng.standard_normal(4).astype(np.float16),
               "head.weight": rng.standard_normal((2, 4)).astype(np.float32)}
    shards = [["embed.weight", "layer.0.weight"], ["layer.0.bias", "head.weight"]]
    np.savez(out("sharded.expected.npz"), **tensors)
    weight_map, total = {}, 0
    for i, names in enumerate(shards):
        shard = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        with open(out(f"sharded_safetensors/{shard}"), "wb") as f:
            f.write(safetensors_bytes({n: tensors[n] for n in names}))
        for n in names:
            weight_map[n] = shard
            total += tensors[n].nbytes
    with open(out("sharded_safetensors/model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    with open(out("sharded_safetensors/config.json"), "w") as f:
        json.dump({"model_type": "toy"}, f)

    weight_map = {}
    for i, names in enumerate(shards):
        shard = f"pytorch_model-{i + 1:05d}-of-{len(shards):05d}.bin"
        torch.save({n: torch.from_numpy(tensors[n]) for n in names}, out(f"sharded_bin/{shard}"))
        for n in names:
            weight_map[n] = shard
    with open(out("sharded_bin/pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


# --- 1. archives with symbolic-link entries -------------------------------------------------------

def symlink_entries():
    weight = np.arange(6, dtype=np.float32).reshape(2, 3)
    with tarfile.open(out("symlink_entry.tar"), "w", format=tarfile.PAX_FORMAT) as tar:
        data = io.BytesIO()
        np.save(data, weight)
        info = tarfile.TarInfo("fc.weight.npy")
        info.size = len(data.getvalue())
        tar.addfile(info, io.BytesIO(data.getvalue()))
        link = tarfile.TarInfo("fc.bias.npy")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
    np.savez(out("symlink_entry.expected.npz"), **{"fc.weight": weight})
    # A small stored npz for the tests' own symlinks (created at test time: git and SwiftPM
    # resources do not keep links reliably).
    np.savez(out("linked.npz"), **{"fc.weight": np.linspace(-1, 1, 256, dtype=np.float32).reshape(16, 16)})


if __name__ == "__main__":
    numeric_dtypes()
    legacy()
    objects()
    allow_listed_values()
    not_state_dicts()
    sharded()
    symlink_entries()
    with open(out("expected.json"), "w") as f:
        json.dump(EXPECTED, f, indent=2, sort_keys=True)
    # The CLI tests run the student model (64 inputs) on the data files.
    cli = os.path.join(HERE, "..", "..", "..", "CLITests", "Fixtures", "inputs")
    os.makedirs(cli, exist_ok=True)
    for name in ("data_u8.npz", "data_f32.npz", "data_f64.npz", "data_f64_as_f32.npz"):
        shutil.copy(out(name), os.path.join(cli, name))
    print("wrote fixtures to", HERE)
