#!/usr/bin/env python3
"""Generates the ONNX backend node test suite (model.onnx plus
test_data_set_*/input_*.pb and output_*.pb per case) with the generators
that ship inside Debian's python3-onnx.

Usage: generate.py OUTDIR

numpy 1.24 removed aliases (np.float, np.int, ...) that the onnx 1.12
generators still use; they are restored before importing them.
"""
import os
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")
for _name, _value in [("float", float), ("int", int), ("bool", bool), ("object", object),
                      ("str", str), ("complex", complex)]:
    if _name not in np.__dict__:
        setattr(np, _name, _value)

import onnx.backend.test.cmd_tools as cmd_tools  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    sys.argv = [sys.argv[0], "generate-data", "-o", out]
    cmd_tools.main()
    node = os.path.join(out, "node")
    n = len([d for d in os.listdir(node) if d.startswith("test_")])
    # a stamp so that meson knows the suite is there
    with open(os.path.join(out, "stamp"), "w") as f:
        f.write("%d cases\n" % n)


if __name__ == "__main__":
    main()
