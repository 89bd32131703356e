#!/usr/bin/env python3
"""Writes ladder.tar: a graph whose values all live long (docs/benchmarks.md, "Graph scale").

a_0 … a_{n-1} is a chain of ReLUs on x[-1, 16]; b_i = b_{i-1} + a_{n-1-i} reads them back in
reverse, so every a_i is alive while every other is: n²/2 overlapping lifetimes for the arena
placement. Usage: make-ladder-graph.py [N] (default 20000, so 40,000 nodes).
"""
import io, json, sys, tarfile

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
nodes = [{"name": "a0", "op": "relu", "inputs": ["x"], "output": "a0"}]
nodes += [{"name": f"a{i}", "op": "relu", "inputs": [f"a{i-1}"], "output": f"a{i}"} for i in range(1, n)]
nodes.append({"name": "b0", "op": "relu", "inputs": [f"a{n-1}"], "output": "b0"})
nodes += [{"name": f"b{i}", "op": "add", "inputs": [f"b{i-1}", f"a{n-1-i}"], "output": f"b{i}"} for i in range(1, n)]
graph = {"modelsmith": 1, "name": "ladder", "inputs": [{"name": "x", "shape": [-1, 16]}],
         "outputs": [f"b{n-1}"], "nodes": nodes}
data = json.dumps(graph).encode()
with tarfile.open("ladder.tar", "w") as tar:
    info = tarfile.TarInfo("model.json")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
