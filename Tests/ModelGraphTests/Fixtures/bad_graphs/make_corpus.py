#!/usr/bin/env python3
"""Broken graphs, one invariant each, validated against tensors fc.weight [3, 4] and fc.bias [3];
expected.json maps each file to the exact one-line message ModelSmith must give."""
import copy, json, pathlib

here = pathlib.Path(__file__).parent
base = {"modelsmith": 1, "name": "m", "inputs": [{"name": "x", "shape": [-1, 4]}], "outputs": ["y"],
        "nodes": [{"name": "fc", "op": "linear", "inputs": ["x"], "output": "h", "params": {"weight": "fc.weight", "bias": "fc.bias"}},
                  {"name": "act", "op": "relu", "inputs": ["h"], "output": "y"}]}
cases = {}
def case(name, message, edit=None, text=None):
    g = copy.deepcopy(base)
    if edit: edit(g)
    (here / f"{name}.json").write_text(text if text is not None else json.dumps(g, indent=1))
    cases[f"{name}.json"] = message

case("valid", None)
case("unknown_op", "node 'act': unknown op 'relu6'", lambda g: g["nodes"][1].update(op="relu6"))
case("missing_param", "node 'fc': missing param 'weight'", lambda g: g["nodes"][0]["params"].pop("weight"))
case("unknown_param", "node 'fc': unknown param 'scale'", lambda g: g["nodes"][0]["params"].update(scale="fc.bias"))
case("missing_tensor", "node 'fc': param 'bias' refers to tensor 'fc.b', which is absent", lambda g: g["nodes"][0]["params"].update(bias="fc.b"))
case("wrong_param_shape", "node 'fc': param 'weight' (fc.weight) has shape [3, 4], expected [out_features, 5]",
     lambda g: g["inputs"][0].update(shape=[-1, 5]))
case("cycle", "node 'fc' is part of a cycle", lambda g: g["nodes"][0].update(inputs=["y"]))
case("dangling_input", "node 'act': input 'hidden' is neither a graph input nor any node's output", lambda g: g["nodes"][1].update(inputs=["hidden"]))
case("bad_attribute", "node 'act': attribute 'axis' must be an integer, got \"last\"",
     lambda g: g["nodes"][1].update(op="softmax", attrs={"axis": "last"}))
case("unknown_output", "graph output 'z' is not produced by any node", lambda g: g.update(outputs=["z"]))
case("duplicate_node", "node 'fc' is defined twice", lambda g: g["nodes"][1].update(name="fc"))
case("bad_input_shape", "graph input 'x' has shape [-1, 0]: sizes must be positive; -1 (the batch) is allowed only first",
     lambda g: g["inputs"][0].update(shape=[-1, 0]))
case("unsupported_version", "model.json declares \"modelsmith\": 2; this version reads 1", lambda g: g.update(modelsmith=2))
case("missing_key", "model.json is malformed: missing key 'output' at .nodes[1]", lambda g: g["nodes"][1].pop("output"))
(here / "expected.json").write_text(json.dumps(cases, indent=1, sort_keys=True) + "\n")
