#!/usr/bin/python3
"""Runs the exported real models through `glia run` and compares with PyTorch.

Usage:
    /usr/bin/python3 tests/models/compare.py EXPORT_DIR GLIA [--ep LIST]
        [--threads N] [--tolerance T] [--only NAME[,NAME...]] [--timeout S]
        [--keep DIR]

EXPORT_DIR is what export-models.py wrote (manifest.json and the files it
names); GLIA is the path of the glia executable. For every model and every
case in the manifest (batch 2, then batch 1 on the same model file, which
exercises the symbolic batch dimension "N"), this runs

    GLIA run MODEL --input NAME=FILE ... --output-dir TMP --ep cpu

and compares each output with PyTorch's. The error of one output is

    err = max|glia - torch| / max(max|torch|, 1e-6)

(absolute error relative to the largest reference magnitude, over all
elements); an output passes when err <= 1e-4 (--tolerance), its shape and
dtype are the reference's and it has no NaN or Inf the reference lacks. A
model passes when every output of every case passes.

Prints one line per model: PASS or FAIL, the largest error over its cases
and outputs, and for a failure why (glia's error message, e.g. missing
operators, or which output differs). Exit status 0 when all models pass,
1 when any fails, 2 on a usage or manifest problem.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

TOLERANCE = 1e-4
FLOOR = 1e-6


def relative_error(got, ref):
    """max|got - ref| / max(max|ref|, 1e-6), in float64."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if ref.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(ref))), FLOOR)
    return float(np.max(np.abs(got - ref))) / scale


def tail_lines(text, n):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-n:]


def run_case(glia, export_dir, entry, case, ep, threads, timeout, tolerance, workdir):
    """Runs one case. Returns (max error or None when glia produced nothing
    to compare, list of problems, seconds glia ran or None)."""
    outdir = tempfile.mkdtemp(prefix="b%d-" % case["batch"], dir=workdir)
    cmd = [glia, "run", os.path.join(export_dir, entry["model"])]
    for inp in case["inputs"]:
        cmd += ["--input", "%s=%s" % (inp["name"], os.path.join(export_dir, inp["file"]))]
    cmd += ["--output-dir", outdir, "--ep", ep]
    if threads:
        cmd += ["--threads", str(threads)]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, ["batch %d: glia run timed out after %d s" % (case["batch"], timeout)], None
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        why = tail_lines(proc.stderr, 20) or tail_lines(proc.stdout, 5) or ["(no output)"]
        status = ("killed by signal %d" % -proc.returncode if proc.returncode < 0
                  else "exit status %d" % proc.returncode)
        return None, (["batch %d: glia run failed (%s):" % (case["batch"], status)]
                      + ["    " + l for l in why]), elapsed

    # `glia run` prints "wrote PATH" for each output, in the model's output
    # order (the order of the manifest, which is the exported graph's).
    written = [l[len("wrote "):] for l in proc.stdout.splitlines() if l.startswith("wrote ")]
    outputs = case["outputs"]
    if len(written) != len(outputs):
        return None, ["batch %d: glia wrote %d output files, expected %d (%s)"
                      % (case["batch"], len(written), len(outputs),
                         ", ".join(o["name"] for o in outputs))], elapsed

    worst = 0.0
    problems = []
    for out, path in zip(outputs, written):
        ref = np.load(os.path.join(export_dir, out["file"]), allow_pickle=False)
        got = np.load(path, allow_pickle=False)
        label = "batch %d output '%s'" % (case["batch"], out["name"])
        if got.shape != ref.shape:
            problems.append("%s: shape %s, expected %s" % (label, got.shape, ref.shape))
            continue
        if got.dtype != ref.dtype:
            problems.append("%s: dtype %s, expected %s" % (label, got.dtype, ref.dtype))
            continue
        bad = ~np.isfinite(got) & np.isfinite(ref)
        if np.any(bad):
            problems.append("%s: %d non-finite values (first at %s)"
                            % (label, int(bad.sum()), tuple(int(i) for i in np.argwhere(bad)[0])))
            worst = float("inf")
            continue
        err = relative_error(got, ref)
        worst = max(worst, err)
        if not err <= tolerance:
            diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
            at = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape))
            problems.append("%s: error %.3g > %.0e (worst at %s: glia %.6g, torch %.6g, "
                            "max|torch| %.4g)" % (label, err, tolerance, at,
                                                 float(got[at]), float(ref[at]),
                                                 float(np.max(np.abs(ref)))))
    return worst, problems, elapsed


def main():
    parser = argparse.ArgumentParser(
        description="Compare glia run outputs of exported real models with PyTorch's.")
    parser.add_argument("export_dir")
    parser.add_argument("glia")
    parser.add_argument("--ep", default="cpu", help="providers for --ep (default: cpu)")
    parser.add_argument("--threads", type=int, help="pass --threads N to glia run")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    parser.add_argument("--only", help="comma-separated model names")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per glia run")
    parser.add_argument("--keep", help="write glia's outputs under this folder and keep them")
    args = parser.parse_args()
    tolerance = args.tolerance

    manifest_path = os.path.join(args.export_dir, "manifest.json")
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
        entries = manifest["models"]
    except (OSError, ValueError, KeyError) as e:
        sys.stderr.write("compare: cannot read %s: %s\n" % (manifest_path, e))
        return 2
    if not os.access(args.glia, os.X_OK):
        sys.stderr.write("compare: %s is not an executable\n" % args.glia)
        return 2
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {e["name"] for e in entries}
        if unknown:
            sys.stderr.write("compare: not in the manifest: %s\n" % ", ".join(sorted(unknown)))
            return 2
        entries = [e for e in entries if e["name"] in wanted]

    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        workdir = args.keep
    else:
        workdir = tempfile.mkdtemp(prefix="glia-models-")

    failed = []
    width = max(len(e["name"]) for e in entries) if entries else 0
    try:
        for entry in entries:
            model_dir = os.path.join(workdir, entry["name"])
            os.makedirs(model_dir, exist_ok=True)
            worst, problems, times = 0.0, [], []
            for case in entry["cases"]:
                err, case_problems, elapsed = run_case(
                    args.glia, args.export_dir, entry, case, args.ep, args.threads, args.timeout,
                    args.tolerance, model_dir)
                problems += case_problems
                if err is not None:
                    worst = max(worst, err)
                if elapsed is not None:
                    times.append("b%d %.1fs" % (case["batch"], elapsed))
                if case_problems and err is None:
                    break  # glia could not run it; the other batch would say the same
            verdict = "FAIL" if problems else "PASS"
            err_text = "max rel err %.3g" % worst if not (problems and worst == 0.0) else "no result"
            print("%-4s %-*s  %s%s" % (verdict, width, entry["name"], err_text,
                                       "  (" + ", ".join(times) + ")" if times else ""),
                  flush=True)
            for p in problems:
                print("       " + p, flush=True)
            if problems:
                failed.append(entry["name"])
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print("%d of %d models pass (tolerance %.0e)%s"
          % (len(entries) - len(failed), len(entries), args.tolerance,
             "; failing: " + ", ".join(failed) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
