#!/usr/bin/env python3
"""Test of tests/benchmarks/kernel-gflops.py and GLIA_ONEDNN_VERBOSE on
SqueezeNet 1.1 (exported by tests/models), with the region's own Winograd
kernel forced: every Conv node of the model shows up once per run among the
layers (oneDNN's primitives and the region's own kernels alike: the 3x3 ones
on the own kernel, the rest on oneDNN's), each with a positive GFLOP/s.

    test-kernel-gflops.py SCRIPT MODELS_DIR GLIA
"""
import json
import os
import subprocess
import sys

import onnx


def main():
    script, models, glia = sys.argv[1:4]
    with open("/proc/cpuinfo") as f:
        if " avx512f" not in f.read():
            print("skip: no AVX-512F, the region's own kernels do not run")
            sys.exit(77)
    model = os.path.join(models, "squeezenet1_1.onnx")
    n_conv = sum(1 for n in onnx.load(model).graph.node if n.op_type == "Conv")
    out = subprocess.run(
        [sys.executable, script, model, "--input",
         "images=" + os.path.join(models, "squeezenet1_1.input1.npy"), "--threads", "1",
         "--runs", "3", "--warmup", "1", "--glia", glia, "--json",
         "--option", "ep.onednn.direct-conv=glia",
         "--option", "ep.onednn.conv-algorithm=glia-winograd"],
        check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    rows = json.loads(out)
    convs = [r for r in rows if r["kind"] == "convolution"]
    got = sum(r["per_run"] for r in convs)
    assert got == n_conv, "%d convolutions per run listed, the model has %d" % (got, n_conv)
    impls = {r["impl"] for r in convs}
    assert "glia:winograd" in impls and any(not i.startswith("glia:") for i in impls), impls
    assert all(r["gflops"] and r["gflops"] > 0 and r["ms"] > 0 for r in convs), convs
    print("ok: %d convolutions per run, kernels %s" % (got, ", ".join(sorted(impls))))


if __name__ == "__main__":
    main()
