#!/usr/bin/env python3
"""Generates the PyTorch checkpoint fixtures for PyTorchCheckpointTests / PyTorchUnpicklerTests.

Valid checkpoints are written by the real `torch.save` (made with torch 2.13.0+cpu from PyPI);
each has an `.npz` of the same state_dict (contiguous values; bf16 stored as its 2-byte bit
pattern, dtype 'V2', which ModelSmith's npy reader reads as bf16) so the Swift reader can be
compared bit for bit. Malicious checkpoints are real
`torch.save` files whose dict holds an object with a hostile `__reduce__`, plus a few
hand-assembled pickles for cases Python's pickler will not emit. Run from this directory:

    python make_pytorch_fixtures.py      # needs torch and numpy; tests never do
"""
import io
import os
import pickle
import struct
import subprocess
import zipfile

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
# The file every payload would create; the tests check that it never appears.
PWNED = "/tmp/modelsmith_pytorch_pwned"


def out(name):
    return os.path.join(HERE, name)


def npz_of(state, name):
    arrays = {}
    for key, t in state.items():
        t = t.contiguous()
        if t.dtype == torch.bfloat16:
            arrays[key] = t.view(torch.int16).numpy().view("V2")
        else:
            arrays[key] = t.numpy()
    np.savez(out(name), **arrays)


def save(obj, name, **kwargs):
    torch.save(obj, out(name), **kwargs)


# --- valid checkpoints -------------------------------------------------------------------------

def dtypes():
    g = torch.Generator().manual_seed(9)
    sd = {
        "f32": torch.randn(3, 4, generator=g),
        "f16": torch.randn(2, 5, generator=g).half(),
        "bf16": torch.randn(4, 2, generator=g).bfloat16(),
        "i8": torch.randint(-128, 128, (6,), generator=g, dtype=torch.int8),
        "u8": torch.randint(0, 256, (2, 3), generator=g, dtype=torch.uint8),
        "i32": torch.randint(-2**31, 2**31 - 1, (5,), generator=g, dtype=torch.int32),
        "i64": torch.tensor([-2**63, -1, 0, 1, 2**63 - 1, 123456789012345], dtype=torch.int64),
        "bool": torch.tensor([[True, False, True], [False, False, True]]),
        "scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 3),
        "special": torch.tensor([float("inf"), float("-inf"), -0.0, 1e-45, 3.4e38]),
    }
    save(sd, "dtypes.pt")
    save(sd, "dtypes_proto4.pt", pickle_protocol=4)
    save(sd, "dtypes_proto5.pt", pickle_protocol=5)
    npz_of(sd, "dtypes.npz")
    # Same state_dict under the .bin name Hugging Face uses.
    save(sd, "pytorch_model.bin")
    # float64 and int16 have no ModelSmith dtype.
    save({"w": torch.ones(2, dtype=torch.float64)}, "float64.pt")
    return sd


def views():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    shared = torch.arange(10, dtype=torch.int64)
    sd = {
        "transposed": base.t(),                      # stride (1, 6)
        "sliced": base[1:, ::2],                     # offset 6, stride (6, 2)
        "shared_a": shared[:6],                      # both view one storage
        "shared_b": shared[4:].reshape(2, 3),        # offset 4
        "expanded": torch.tensor([1.5, -2.0, 7.0]).expand(2, 3),  # stride (0, 1)
        "permuted": torch.arange(24, dtype=torch.int32).reshape(2, 3, 4).permute(2, 0, 1),
    }
    assert sd["shared_a"].untyped_storage().data_ptr() == sd["shared_b"].untyped_storage().data_ptr()
    save(sd, "views.pt")
    npz_of(sd, "views.npz")


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.fc2 = nn.Linear(3, 2)


def checkpoints():
    torch.manual_seed(1)
    model = MLP()
    sd = model.state_dict()  # an OrderedDict with _metadata (BUILD), incl. bn.num_batches_tracked (i64)
    npz_of(sd, "mlp.npz")
    save(sd, "mlp_state_dict.pth")

    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss = model.fc2(model.fc1(torch.randn(5, 4))).sum()
    loss.backward()
    opt.step()
    # Optimizer state and training metadata next to the weights: the reader must pick model_state_dict.
    save({"epoch": 7, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
          "config": {"lr": 0.01, "name": "mlp", "layers": [4, 3, 2], "flag": True, "none": None,
                     "ratio": 0.5, "big": 2**70, "neg": -5, "tags": ("a", "b"), "blob": b"\x00\x01"}},
         "training_checkpoint.pt")
    npz_of(model.state_dict(), "training_checkpoint.npz")

    # DataParallel adds the "module." prefix; nested under "state_dict" as Lightning-style scripts do.
    dp = nn.DataParallel(model)
    save({"state_dict": dp.state_dict(), "epoch": 3}, "dataparallel.pt")

    # Nested dicts inside a bare state_dict.
    g = torch.Generator().manual_seed(3)
    nested = {"encoder": {"fc": {"weight": torch.randn(2, 2, generator=g), "bias": torch.randn(2, generator=g)}},
              "head.weight": torch.randn(1, 2, generator=g)}
    save(nested, "nested.pt")
    np.savez(out("nested.npz"), **{"encoder.fc.weight": nested["encoder"]["fc"]["weight"].numpy(),
                                   "encoder.fc.bias": nested["encoder"]["fc"]["bias"].numpy(),
                                   "head.weight": nested["head.weight"].numpy()})

    # Two candidate state_dicts: the reader must ask for --key.
    save({"model": model.state_dict(), "state_dict": model.state_dict()}, "ambiguous.pt")

    # A whole nn.Parameter (not detached) goes through torch._utils._rebuild_parameter.
    save({"p": nn.Parameter(torch.tensor([1.0, 2.0]))}, "parameter.pt")

    # Pre-1.6 format: consecutive raw pickles, no zip.
    save(sd, "legacy.pt", _use_new_zipfile_serialization=False)


def big_endian():
    """What torch.save writes on a big-endian machine: byteorder 'big' and swapped storages."""
    src = out("dtypes.pt")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out("dtypes_bigendian.pt"), "w") as zout:
        pkl = zin.read("dtypes/data.pkl")
        # Storage keys → item size, from the pickle's persistent ids.
        sizes = {}
        for key, t in dtypes_state_by_key(pkl).items():
            sizes[key] = t
        for info in zin.infolist():
            data = zin.read(info.filename)
            name = info.filename.replace("dtypes/", "dtypes_bigendian/", 1)
            if name.endswith("/byteorder"):
                data = b"big"
            elif "/data/" in name:
                item = sizes[name.rsplit("/", 1)[1]]
                data = b"".join(data[i:i + item][::-1] for i in range(0, len(data), item))
            zout.writestr(name, data)


def dtypes_state_by_key(pkl):
    """Storage key → element size, read with a non-executing persistent_load."""
    itemsize = {"FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "CharStorage": 1, "ByteStorage": 1,
                "IntStorage": 4, "LongStorage": 8, "BoolStorage": 1}
    found = {}

    class Reader(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                return lambda *a: None
            if module == "collections" and name == "OrderedDict":
                return dict
            if module == "torch":
                return name
            raise pickle.UnpicklingError(name)

        def persistent_load(self, pid):
            found[pid[2]] = itemsize[pid[1]]
            return None

    Reader(io.BytesIO(pkl)).load()
    return found


# --- plain pickles (Python's own pickler, every protocol the reader accepts) -------------------

def plain_values():
    from collections import OrderedDict
    shared = [1]
    for protocol in (2, 3, 4, 5):
        obj = {"int1": 7, "int2": 300, "int4": -70000, "long": 2**40, "neg_long": -(2**40), "big": 2**70,
               "float": 0.1, "true": True, "false": False, "none": None, "str": "h\u00e9llo \u2713",
               "bytes": b"\x00\xff", "list": [1, "a", [2.5]], "tuple0": (), "tuple1": (1,), "tuple2": (1, 2),
               "tuple3": (1, 2, 3), "tuple5": (1, 2, 3, 4, 5), "shared1": shared, "shared2": shared,
               "ordered": OrderedDict(a=1), "nested": {"x": {"y": [None]}}, 5: "int key"}
        if protocol >= 4:  # below 4, sets pickle as a call to builtins.set, which is not allowed
            obj["set"] = {3}
            obj["frozen"] = frozenset({4})
        with open(out(f"plain_p{protocol}.pkl"), "wb") as f:
            pickle.dump(obj, f, protocol=protocol)


# --- malicious checkpoints ---------------------------------------------------------------------

class OsSystem:
    def __reduce__(self):
        return (os.system, (f"touch {PWNED}",))


class BuiltinsEval:
    def __reduce__(self):
        return (eval, (f"__import__('os').system('touch {PWNED}')",))


class SubprocessPopen:
    def __reduce__(self):
        return (subprocess.Popen, (["touch", PWNED],))


def create_pwned_file(path=PWNED):
    open(path, "w").close()


class ArbitraryCallable:
    def __reduce__(self):
        return (create_pwned_file, ())


class PlainObject:
    """No __reduce__: protocol 2 pickles it as NEWOBJ on its class, then BUILD with its __dict__."""
    def __init__(self):
        self.command = f"touch {PWNED}"


def malicious():
    weight = torch.ones(2, 2)
    # Protocol 2 (torch.save's default) spells builtins/subprocess with their Python 2 names
    # (__builtin__, commands); protocol 3 keeps the Python 3 names. Both are covered.
    for name, payload, protocol in [("os_system", OsSystem(), 2), ("builtins_eval", BuiltinsEval(), 3),
                                    ("builtin_eval_p2", BuiltinsEval(), 2), ("subprocess_popen", SubprocessPopen(), 3),
                                    ("arbitrary_reduce", ArbitraryCallable(), 2), ("plain_object", PlainObject(), 2)]:
        save({"fc.weight": weight, "payload": payload}, f"evil_{name}.pt", pickle_protocol=protocol)
    # A GLOBAL that looks like torch: torch.storage._load_from_bytes calls torch.load (unsafe) on its argument.
    write_pickle_checkpoint("evil_torch_lookalike.pt",
                            b"\x80\x02}q\x00X\x01\x00\x00\x00xctorch.storage\n_load_from_bytes\nC\x04abcd\x85Rs.")
    # os.system as the module os spells it (os.system pickles as posix.system on Linux).
    write_pickle_checkpoint("evil_os_global.pt",
                            b"\x80\x02cos\nsystem\nq\x00" + b"X" + struct.pack("<I", len(f"touch {PWNED}")) + f"touch {PWNED}".encode() + b"\x85R.")
    # The same os.system call spelled with STACK_GLOBAL (protocol 4) and with INST (protocol 0).
    write_pickle_checkpoint("evil_stack_global.pt",
                            b"\x80\x04\x8c\x02os\x8c\x06system\x93" + short_unicode(f"touch {PWNED}") + b"\x85R.")
    write_pickle_checkpoint("evil_inst.pt", b"(ios\nsystem\n.")
    # REDUCE on an allow-listed non-function (a storage type).
    write_pickle_checkpoint("evil_reduce_storage.pt", b"\x80\x02ctorch\nFloatStorage\n)R.")


def short_unicode(text):
    data = text.encode()
    return b"\x8c" + struct.pack("<B", len(data)) + data


def write_pickle_checkpoint(name, pkl):
    """A torch-style zip (archive/data.pkl, byteorder, version) around a hand-assembled pickle."""
    stem = "archive"
    with zipfile.ZipFile(out(name), "w") as z:
        z.writestr(f"{stem}/data.pkl", pkl)
        z.writestr(f"{stem}/byteorder", "little")
        z.writestr(f"{stem}/version", "3\n")


if __name__ == "__main__":
    if os.path.exists(PWNED):
        os.remove(PWNED)
    dtypes()
    views()
    checkpoints()
    big_endian()
    plain_values()
    malicious()
    assert not os.path.exists(PWNED), "generating fixtures must not run a payload"
    print("wrote fixtures to", HERE)
