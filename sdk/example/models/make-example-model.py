#!/usr/bin/env python3
"""Writes the example models that use the org.example.glia operators, their
inputs, and reference outputs computed here with numpy in float64:

  example.onnx      x float32[N,64] -> MatMul(W) -> Add(x) -> RMSNorm(scale)
                    -> Swish(beta=1.5) -> Mul(gain) -> y; ONNX operators around
                    the custom ones, so execution providers can share the graph
  example-f64.onnx  x64 float64[2,3,50] -> RMSNorm(axis=1, scale [3,50])
                    -> Swish -> y64

  x.npy, y_ref.npy, x64.npy, y64_ref.npy

Usage: make-example-model.py OUTDIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DOMAIN = "org.example.glia"


def rms_norm(x, scale, axis=-1, epsilon=1e-5):
    axes = tuple(range(axis % x.ndim, x.ndim))
    x = x.astype(np.float64)
    return x / np.sqrt(np.mean(x * x, axis=axes, keepdims=True) + epsilon) * scale


def swish(x, beta=1.0):
    return x / (1.0 + np.exp(-beta * x))


def save_model(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid(DOMAIN, 1)],
                              producer_name="glia-example-ops")
    model.ir_version = 8
    onnx.save(model, path)


def float32_model(out, rng):
    d = 64
    w = (rng.standard_normal((d, d)) / np.sqrt(d)).astype(np.float32)
    scale = (1.0 + 0.1 * rng.standard_normal(d)).astype(np.float32)
    gain = np.array([0.75], dtype=np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["h"], name="matmul"),
        helper.make_node("Add", ["h", "x"], ["r"], name="residual"),
        helper.make_node("RMSNorm", ["r", "scale"], ["n"], name="rms_norm", domain=DOMAIN,
                         epsilon=1e-5),
        helper.make_node("Swish", ["n"], ["s"], name="swish", domain=DOMAIN, beta=1.5),
        helper.make_node("Mul", ["s", "gain"], ["y"], name="gain"),
    ]
    graph = helper.make_graph(
        nodes, "example",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", d])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", d])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(scale, "scale"),
                     numpy_helper.from_array(gain, "gain")])
    save_model(graph, os.path.join(out, "example.onnx"))
    # 512 rows: enough work for the kernels to split it over threads
    x = rng.uniform(-2, 2, (512, d)).astype(np.float32)
    h = x.astype(np.float64) @ w.astype(np.float64) + x
    y = swish(rms_norm(h, scale.astype(np.float64), epsilon=1e-5), 1.5) * 0.75
    np.save(os.path.join(out, "x.npy"), x)
    np.save(os.path.join(out, "y_ref.npy"), y.astype(np.float32))


def float64_model(out, rng):
    scale = rng.uniform(0.5, 1.5, (3, 50))
    nodes = [
        helper.make_node("RMSNorm", ["x64", "scale64"], ["n64"], name="rms_norm", domain=DOMAIN,
                         axis=1, epsilon=1e-6),
        helper.make_node("Swish", ["n64"], ["y64"], name="silu", domain=DOMAIN),
    ]
    graph = helper.make_graph(
        nodes, "example_f64",
        [helper.make_tensor_value_info("x64", TensorProto.DOUBLE, [2, 3, 50])],
        [helper.make_tensor_value_info("y64", TensorProto.DOUBLE, [2, 3, 50])],
        initializer=[numpy_helper.from_array(scale, "scale64")])
    save_model(graph, os.path.join(out, "example-f64.onnx"))
    x = rng.uniform(-3, 3, (2, 3, 50))
    np.save(os.path.join(out, "x64.npy"), x)
    np.save(os.path.join(out, "y64_ref.npy"), swish(rms_norm(x, scale, axis=1, epsilon=1e-6)))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20240607)
    float32_model(out, rng)
    float64_model(out, rng)


if __name__ == "__main__":
    main()
