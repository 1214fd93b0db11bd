#!/usr/bin/env python3
"""Writes odd-names.onnx for test-cli.c: a model whose input and output names
are not safe file names, to test how `glia run --output-dir` names files.

Usage: make-odd-names-model.py OUTPUT

Input "in:0" float32 [3]; four outputs, each Neg(in:0), named "a/b", "A_B"
(the same file name as "a/b" once sanitized, ignoring case), ".." and "x:y".
"""
import sys

import onnx
from onnx import TensorProto, helper

OUTPUTS = ["a/b", "A_B", "..", "x:y"]

x = helper.make_tensor_value_info("in:0", TensorProto.FLOAT, [3])
outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [3]) for n in OUTPUTS]
nodes = [helper.make_node("Neg", ["in:0"], [n], name=f"neg{i}") for i, n in enumerate(OUTPUTS)]
graph = helper.make_graph(nodes, "odd_names", [x], outputs)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
with open(sys.argv[1], "wb") as f:
    f.write(model.SerializeToString())
