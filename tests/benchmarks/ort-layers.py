#!/usr/bin/env python3
"""Glia's oneDNN provider and ONNX Runtime layer by layer on one model: where
each spends its time.

    tests/benchmarks/ort-layers.py MODEL --input NAME=FILE [--threads T]
        [--runs N] [--option ep.onednn.KEY=VALUE ...] [--glia build/host/cli/glia]
        [--top K] [--json]

Runs ONNX Runtime (tests/benchmarks/ort-bench.mjs --profile: its profiler
times every node of every run) and Glia (kernel-gflops.py: GLIA_ONEDNN_VERBOSE
times every step of its regions), groups the convolutions and matrix products
of both by shape (input channels, output channels, input and output maps,
kernel; for products the output dims and K) and prints, per shape, how many
layers have it and each runtime's median time per run summed over them, with
the ratio. ONNX Runtime's profiler adds some overhead to every node; the
totals at the end say how much each runtime's lines cover.

Needs the peer installed (`npm ci --ignore-scripts` in tests/benchmarks) and
Glia built with the oneDNN provider.
"""
import argparse
import collections
import glob
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# kernel-gflops.py's parser of the verbose lines' convolution descriptors
_spec = importlib.util.spec_from_file_location("kernel_gflops",
                                               os.path.join(HERE, "kernel-gflops.py"))
kernel_gflops = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kernel_gflops)


def glia_key(kind, desc):
    """The shape key of one of kernel-gflops.py's layers, or None."""
    if kind == "convolution":
        m = kernel_gflops.CONV.search(desc)
        if not m:
            return None
        g, _mb, ic, oc, ih, oh, kh, iw, ow, kw = (int(v) if v else 1 for v in m.groups())
        return "conv g%d %d->%d %dx%d->%dx%d k%dx%d" % (g, ic, oc, ih, iw, oh, ow, kh, kw)
    if kind == "matmul":
        dims = kernel_gflops.matmul_dims(desc)
        if dims is None:
            return None
        a, c = dims
        return "product %s k%d" % ("x".join(str(v) for v in c), a[-1])
    return None


def dims(entry):
    """[1, 64, 56, 56] from ORT's {"float": [1, 64, 56, 56]}."""
    return list(entry.values())[0] if isinstance(entry, dict) and entry else None


def ort_key(op, inputs, outputs):
    """The shape key of an ORT node, or None (not a conv or product)."""
    try:
        x, w = dims(inputs[0]), dims(inputs[1])
        y = dims(outputs[0])
    except (IndexError, TypeError):
        return None
    if x is None or w is None or y is None:
        return None
    if op in ("Conv", "FusedConv", "NchwcConv") and len(x) == 4 and len(w) == 4:
        g = max(1, x[1] // w[1]) if w[1] else 1
        return "conv g%d %d->%d %dx%d->%dx%d k%dx%d" % (g, x[1], y[1], x[2], x[3], y[2], y[3],
                                                        w[2], w[3])
    if op in ("Gemm", "MatMul", "FusedGemm", "FusedMatMul"):
        k = x[-1]
        return "product %s k%d" % ("x".join(str(v) for v in y), k)
    return None


def run_ort(args, tmp):
    prefix = os.path.join(tmp, "ort")
    cmd = ["node", os.path.join(HERE, "ort-bench.mjs"), args.model, "--threads", str(args.threads),
           "--runs", str(args.runs), "--warmup", "3", "--profile", prefix]
    for spec in args.input:
        cmd += ["--input", spec]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    files = glob.glob(prefix + "*.json")
    if not files:
        raise RuntimeError("ONNX Runtime wrote no profile")
    with open(files[0]) as f:
        events = json.load(f)
    times = collections.defaultdict(list)
    keys = {}
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        a = e.get("args", {})
        node = e["name"][: -len("_kernel_time")]
        times[node].append(e["dur"] / 1000.0)
        keys[node] = ort_key(a.get("op_name"), a.get("input_type_shape", []),
                             a.get("output_type_shape", []))
    per_key = collections.defaultdict(lambda: [0, 0.0])
    total = 0.0
    for node, t in times.items():
        ms = statistics.median(t)
        total += ms
        if keys[node]:
            per_key[keys[node]][0] += 1
            per_key[keys[node]][1] += ms
    return per_key, total


def run_glia(args):
    cmd = [sys.executable, os.path.join(HERE, "kernel-gflops.py"), args.model, "--threads",
           str(args.threads), "--runs", str(args.runs), "--json", "--glia", args.glia]
    for spec in args.input:
        cmd += ["--input", spec]
    for opt in args.option:
        cmd += ["--option", opt]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    per_key = collections.defaultdict(lambda: [0, 0.0])
    total = 0.0
    for layer in json.loads(out):
        total += layer["ms"] * layer["per_run"]
        k = glia_key(layer["kind"], layer["layer"])
        if k:
            per_key[k][0] += layer["per_run"]
            per_key[k][1] += layer["ms"] * layer["per_run"]
    return per_key, total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--input", action="append", default=[], metavar="NAME=FILE")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=25)
    ap.add_argument("--option", action="append", default=[], metavar="ep.onednn.KEY=VALUE")
    ap.add_argument("--glia", default=os.path.join(HERE, "..", "..", "build", "host", "cli", "glia"))
    ap.add_argument("--top", type=int, default=0, help="only the K shapes that take longest")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if shutil.which("node") is None:
        sys.exit("ort-layers: node is not installed")
    tmp = tempfile.mkdtemp(prefix="glia-ort-layers-")
    try:
        ort, ort_total = run_ort(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    glia, glia_total = run_glia(args)
    rows = []
    for k in set(ort) | set(glia):
        n = max(ort[k][0] if k in ort else 0, glia[k][0] if k in glia else 0)
        o = ort[k][1] if k in ort else None
        g = glia[k][1] if k in glia else None
        rows.append({"shape": k, "count": n, "ort_ms": o, "glia_ms": g,
                     "ratio": g / o if g is not None and o else None})
    rows.sort(key=lambda r: -max(r["ort_ms"] or 0, r["glia_ms"] or 0))
    if args.top:
        rows = rows[: args.top]
    if args.json:
        print(json.dumps({"model": args.model, "threads": args.threads, "layers": rows,
                          "ort_total_ms": ort_total, "glia_total_ms": glia_total}, indent=1))
        return
    print("%s at %d thread%s: ms per run summed over the layers of a shape (medians of %d runs)"
          % (os.path.basename(args.model), args.threads, "" if args.threads == 1 else "s", args.runs))
    print("%9s %9s %6s %3s  %s" % ("glia", "ORT", "ratio", "n", "shape"))
    fmt = lambda v, f: (f % v) if v is not None else "-"
    for r in rows:
        print("%9s %9s %6s %3d  %s" % (fmt(r["glia_ms"], "%.3f"), fmt(r["ort_ms"], "%.3f"),
                                       fmt(r["ratio"], "%.2f"), r["count"], r["shape"]))
    print("every step: glia %.3f ms, ORT %.3f ms (every node, profiler included)"
          % (glia_total, ort_total))


if __name__ == "__main__":
    main()
