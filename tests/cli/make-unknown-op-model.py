#!/usr/bin/env python3
"""Writes a model using an operator no Glia provider has (com.example.Frob,
opset 3) for the CLI's error-message test. Usage: make-unknown-op-model.py OUT"""
import sys

from onnx import TensorProto, helper

x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
node = helper.make_node("Frob", ["x"], ["y"], name="frob", domain="com.example")
graph = helper.make_graph([node], "unknown-op", [x], [y])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid("com.example", 3)])
model.ir_version = 8
with open(sys.argv[1], "wb") as f:
    f.write(model.SerializeToString())
