#!/usr/bin/env python3
"""GFLOP/s of the convolutions and matrix products in one model on the
oneDNN provider, layer by layer.

    tests/benchmarks/kernel-gflops.py MODEL --input NAME=FILE [--threads T]
        [--runs N] [--warmup W] [--option ep.onednn.KEY=VALUE ...]
        [--glia build/host/cli/glia] [--top K] [--json]

Runs `glia bench MODEL --ep onednn,cpu` with GLIA_ONEDNN_VERBOSE=1 (the
region times every step of a run, oneDNN's primitives and its own kernels,
and prints a line per step after the run, in DNNL_VERBOSE's form), then
prints, per distinct layer, how many run in one inference, the median
time of one, and its GFLOP/s counted as the direct algorithm's work
(2 x outputs x weights per output channel; a Winograd kernel does fewer
multiplications, so its figure is an "effective" rate). The totals at the
end cover every line, and the convolutions and products alone.

The times are those of each layer inside the network (its weights coming
from memory, its input from the layer before); they add up to about
`glia bench`'s latency. (DNNL_VERBOSE prints between the steps, which at two
threads let the OpenMP workers fall asleep and added 20-30% to the steps.)
"""
import argparse
import collections
import json
import os
import re
import statistics
import subprocess
import sys

CONV = re.compile(r"(?:g(\d+))?mb(\d+)_ic(\d+)oc(\d+)_ih(\d+)oh(\d+)kh(\d+)sh\d+dh\d+ph\d+"
                  r"_iw(\d+)ow(\d+)kw(\d+)")


def matmul_dims(desc):
    """A's and the output's dims from a product's "AxB:KxN:MxN", or None."""
    parts = desc.split(":")
    if len(parts) != 3:
        return None
    try:
        a, _b, c = ([int(v) for v in p.split("x")] for p in parts)
    except ValueError:
        return None
    return a, c


def flops(kind, desc):
    """Direct-algorithm flops of one run, or None."""
    if kind == "convolution":
        m = CONV.search(desc)
        if not m:
            return None
        g, mb, ic, oc, _ih, oh, kh, _iw, ow, kw = (int(v) if v else 1 for v in m.groups())
        return 2 * mb * oc * oh * ow * (ic // g) * kh * kw
    if kind == "matmul":
        dims = matmul_dims(desc)
        if dims is None:
            return None
        a, c = dims
        n = 1
        for v in c:
            n *= v
        return 2 * n * a[-1]
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--input", action="append", default=[], help="NAME=FILE, as glia bench")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--option", action="append", default=[], help="KEY=VALUE, as glia bench")
    ap.add_argument("--top", type=int, default=0, help="print only the K layers taking longest")
    ap.add_argument("--json", action="store_true", help="the layers as JSON instead of a table")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--glia", default=os.path.join(root, "build", "host", "cli", "glia"))
    args = ap.parse_args()

    cmd = [args.glia, "bench", args.model, "--ep", "onednn,cpu", "--threads", str(args.threads),
           "--runs", str(args.runs), "--warmup", str(args.warmup)]
    for i in args.input:
        cmd += ["--input", i]
    for o in args.option:
        cmd += ["--option", o]
    env = dict(os.environ, GLIA_ONEDNN_VERBOSE="1")
    env.pop("DNNL_VERBOSE", None)
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    if proc.returncode != 0:
        sys.exit("glia bench failed (%d): %s" % (proc.returncode, proc.stderr.strip()[-2000:]))

    times = collections.defaultdict(list)
    for line in proc.stdout.splitlines():
        if not line.startswith("glia_verbose,exec,"):
            continue
        f = line.split(",")
        try:
            ms = float(f[-1])
        except ValueError:
            continue
        times[(f[3], f[4], f[-2])].append(ms)
    total_runs = args.runs + args.warmup
    rows = []
    for (kind, impl, desc), v in times.items():
        per_run = round(len(v) / total_runs)
        if per_run == 0:  # a weights reorder at session creation
            continue
        med = statistics.median(v)
        fl = flops(kind, desc)
        rows.append((med * per_run, kind, impl, desc, per_run, med, fl))
    rows.sort(reverse=True)
    if args.json:
        json.dump([{"kind": kind, "impl": impl, "layer": desc, "per_run": n, "ms": med,
                    "gflops": fl / (med * 1e-3) / 1e9 if fl else None}
                   for _tot, kind, impl, desc, n, med, fl in rows], sys.stdout, indent=1)
        print()
        return

    print("%s at %d thread%s: medians of %d runs per layer" % (
        os.path.basename(args.model), args.threads, "" if args.threads == 1 else "s",
        total_runs))
    print("%9s %4s %9s %8s  %-24s %s" % ("ms/run", "n", "us each", "GFLOP/s", "kernel", "layer"))
    shown = rows[:args.top] if args.top else rows
    for tot, kind, impl, desc, n, med, fl in shown:
        rate = "%8.0f" % (fl / (med * 1e-3) / 1e9) if fl else "%8s" % "-"
        print("%9.3f %4d %9.1f %s  %-24s %s %s" % (tot, n, med * 1e3, rate, impl[:24], kind, desc))
    all_ms = sum(r[0] for r in rows)
    mm = [r for r in rows if r[6]]
    mm_ms = sum(r[0] for r in mm)
    mm_fl = sum(r[6] * r[4] for r in mm)
    print("all steps: %.3f ms per run" % all_ms)
    if mm_ms > 0:
        print("convolutions and products: %.3f ms per run, %.2f GFLOP (direct algorithm), "
              "%.0f GFLOP/s" % (mm_ms, mm_fl / 1e9, mm_fl / (mm_ms * 1e-3) / 1e9))


if __name__ == "__main__":
    main()
