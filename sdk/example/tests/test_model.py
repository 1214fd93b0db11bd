#!/usr/bin/env python3
"""The example models (models/make-example-model.py) through Glia's Python
binding (PyGObject): the custom operators run, next to ONNX operators, and
the outputs match the numpy references.

Usage: test_model.py DIR [PROVIDERS]
DIR holds the generated models, inputs and references; PROVIDERS is a
comma-separated provider list for the float32 model (default: Glia's choice).
"""
import os
import sys

import gi

gi.require_version("Glia", "1.0")
from gi.repository import Glia  # noqa: E402
import numpy as np  # noqa: E402

DTYPES = {np.dtype("float32"): Glia.DataType.FLOAT, np.dtype("float64"): Glia.DataType.DOUBLE}


def to_tensor(array):
    array = np.ascontiguousarray(array)
    return Glia.Tensor.new_from_data(DTYPES[array.dtype], list(array.shape), array.tobytes())


def to_numpy(tensor):
    dtype = {v: k for k, v in DTYPES.items()}[tensor.get_dtype()]
    return np.frombuffer(tensor.get_data().get_data(), dtype=dtype).reshape(tensor.get_shape())


def run(path, inputs, providers=None):
    model = Glia.Model.new_from_file(path)
    options = Glia.SessionOptions.new()
    if providers:
        options.set_providers(providers.split(","))
    options.props.threads = 2
    session = Glia.Session.new(model, options)
    assigned = {session.get_node_name(i): session.get_node_provider(i)
                for i in range(session.get_n_nodes())}
    out = session.run({name: to_tensor(a) for name, a in inputs.items()})
    return {name: to_numpy(t) for name, t in out.items()}, assigned


def check(what, got, ref, tolerance):
    if got.shape != ref.shape or got.dtype != ref.dtype:
        sys.exit(f"FAIL {what}: got {got.dtype}{list(got.shape)}, want {ref.dtype}{list(ref.shape)}")
    err = float(np.max(np.abs(got.astype(np.float64) - ref) / np.maximum(1.0, np.abs(ref))))
    if not err <= tolerance:
        sys.exit(f"FAIL {what}: max relative error {err:.3g} > {tolerance:g}")
    print(f"ok - {what}: max relative error {err:.3g}")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    d = sys.argv[1]
    providers = sys.argv[2] if len(sys.argv) == 3 else None

    out, assigned = run(os.path.join(d, "example.onnx"), {"x": np.load(os.path.join(d, "x.npy"))},
                        providers)
    for node in ("rms_norm", "swish"):
        if assigned[node] != "custom":
            sys.exit(f"FAIL: node {node} ran on {assigned[node]}, not the custom-op plugin")
    print("ok - nodes ran on", ", ".join(f"{n}:{p}" for n, p in sorted(assigned.items())))
    check("example.onnx (float32)", out["y"], np.load(os.path.join(d, "y_ref.npy")), 1e-4)

    out, _ = run(os.path.join(d, "example-f64.onnx"), {"x64": np.load(os.path.join(d, "x64.npy"))})
    check("example-f64.onnx (float64)", out["y64"], np.load(os.path.join(d, "y64_ref.npy")), 1e-12)


if __name__ == "__main__":
    main()
