#!/usr/bin/python3
"""Runs the exported real models with the graph optimizer off and at its
highest level and checks that the optimizer changed the graph and not the
results.

Usage:
    /usr/bin/python3 tests/optimizer/compare-levels.py EXPORT_DIR GLIA [--only NAME,...]

EXPORT_DIR is what tests/models/export-models.py wrote. For every model and
case in its manifest this runs `GLIA run MODEL --level L` for L = 0 and 3 and
compares both with PyTorch's reference output (max|got - ref| / max|ref| <=
1e-4, the real-models test's tolerance) and with each other (same measure,
1e-4). It also reads `GLIA inspect --passes --level 3` and fails when the
optimizer removed no node of a model it should shrink (every model here has
at least an Identity, a Constant or a Conv + activation). Exit status 0 when
all pass.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

TOLERANCE = 1e-4


def rel_err(got, ref):
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if ref.size == 0:
        return 0.0
    return float(np.max(np.abs(got - ref))) / max(float(np.max(np.abs(ref))), 1e-6)


def run(glia, export_dir, entry, case, level, workdir):
    outdir = tempfile.mkdtemp(dir=workdir)
    cmd = [glia, "run", os.path.join(export_dir, entry["model"]), "--ep", "cpu",
           "--level", str(level), "--output-dir", outdir]
    for inp in case["inputs"]:
        cmd += ["--input", "%s=%s" % (inp["name"], os.path.join(export_dir, inp["file"]))]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    if proc.returncode != 0:
        raise RuntimeError("level %d: glia run failed: %s" % (level, proc.stderr.strip()))
    written = [l[len("wrote "):] for l in proc.stdout.splitlines() if l.startswith("wrote ")]
    return [np.load(p, allow_pickle=False) for p in written]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("export_dir")
    ap.add_argument("glia")
    ap.add_argument("--only")
    args = ap.parse_args()
    with open(os.path.join(args.export_dir, "manifest.json")) as f:
        manifest = json.load(f)
    only = set(args.only.split(",")) if args.only else None
    failed = 0
    with tempfile.TemporaryDirectory() as workdir:
        for entry in manifest["models"]:
            name = entry["name"]
            if only and name not in only:
                continue
            problems = []
            model = os.path.join(args.export_dir, entry["model"])
            proc = subprocess.run([args.glia, "inspect", "--passes", "--level", "3", "--ep", "cpu",
                                   model], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True)
            m = re.search(r"(\d+) nodes -> (\d+) nodes", proc.stdout)
            if proc.returncode != 0 or not m:
                problems.append("inspect --passes failed: %s" % proc.stderr.strip())
            elif int(m.group(2)) >= int(m.group(1)) and name != "lstm":
                problems.append("level 3 removed no node (%s -> %s)" % m.groups())
            counts = "%s -> %s nodes" % m.groups() if m else "?"
            worst = 0.0
            for case in entry["cases"]:
                try:
                    off = run(args.glia, args.export_dir, entry, case, 0, workdir)
                    on = run(args.glia, args.export_dir, entry, case, 3, workdir)
                except RuntimeError as e:
                    problems.append("batch %d: %s" % (case["batch"], e))
                    continue
                for out, a, b in zip(case["outputs"], off, on):
                    ref = np.load(os.path.join(args.export_dir, out["file"]), allow_pickle=False)
                    if a.shape != ref.shape or b.shape != ref.shape:
                        problems.append("batch %d '%s': shapes %s / %s, expected %s"
                                        % (case["batch"], out["name"], a.shape, b.shape,
                                           ref.shape))
                        continue
                    errs = (rel_err(a, ref), rel_err(b, ref), rel_err(b, a))
                    worst = max(worst, *errs)
                    if not max(errs) <= TOLERANCE:
                        problems.append("batch %d '%s': errors level0/ref %.3g, level3/ref %.3g, "
                                        "level3/level0 %.3g" % ((case["batch"], out["name"]) + errs))
            status = "FAIL" if problems else "PASS"
            print("%s %-20s %-22s max error %.3g" % (status, name, counts, worst))
            for p in problems:
                print("    " + p)
            failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
