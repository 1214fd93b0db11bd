#!/usr/bin/python3
"""Checks what `glia run` computed for the digits model on the held-out images.

Usage:
    /usr/bin/python3 models/digits/check-predictions.py OUTDIR [--show N] [--tolerance T]

OUTDIR holds probabilities.npy (float32 [M, 10]) and label.npy (int64 [M]) as
`glia run models/digits/digits.onnx --input pixels=models/digits/heldout_pixels.npy`
writes them. The script prints the first N predictions and every mistake,
the accuracy against heldout_labels.npy, and the largest absolute difference
from ref_probabilities.npy (numpy's result for the same graph).

Exit status: 0 if the probabilities are within the tolerance (default 1e-5)
of the reference and every label equals the reference label; 1 otherwise;
2 if a file is missing or has the wrong type or shape.
"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def load(path, dtype, shape):
    """Loads an .npy file (never with pickle) and checks its dtype and shape."""
    if not os.path.exists(path):
        sys.stderr.write("%s: missing\n" % path)
        sys.exit(2)
    array = np.load(path, allow_pickle=False)
    if array.dtype != np.dtype(dtype):
        sys.stderr.write("%s: dtype %s, expected %s\n" % (path, array.dtype, np.dtype(dtype)))
        sys.exit(2)
    if len(array.shape) != len(shape) or any(
            want is not None and got != want for got, want in zip(array.shape, shape)):
        want_text = "(%s)" % ", ".join("M" if w is None else str(w) for w in shape)
        sys.stderr.write("%s: shape %s, expected %s\n" % (path, array.shape, want_text))
        sys.exit(2)
    return array


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", help="folder with probabilities.npy and label.npy")
    parser.add_argument("--show", type=int, default=10, help="predictions to print (default 10)")
    parser.add_argument("--tolerance", type=float, default=1e-5,
                        help="largest allowed absolute difference in probabilities")
    args = parser.parse_args()

    true_labels = load(os.path.join(HERE, "heldout_labels.npy"), np.int64, (None,))
    m = len(true_labels)
    ref_probabilities = load(os.path.join(HERE, "ref_probabilities.npy"), np.float32, (m, 10))
    ref_label = load(os.path.join(HERE, "ref_label.npy"), np.int64, (m,))
    probabilities = load(os.path.join(args.outdir, "probabilities.npy"), np.float32, (m, 10))
    label = load(os.path.join(args.outdir, "label.npy"), np.int64, (m,))

    def show(i):
        confidence = probabilities[i, label[i]] if 0 <= label[i] < 10 else float("nan")
        mark = "" if label[i] == true_labels[i] else "  wrong"
        print("%6d  %5d  %10.4f  %4d%s" % (i, label[i], confidence, true_labels[i], mark))

    print("sample  label  confidence  true")
    wrong = np.flatnonzero(label != true_labels)
    for i in range(min(args.show, m)):
        show(i)
    if len(wrong[wrong >= args.show]):
        print("   ...  and every other mistake:")
    for i in wrong[wrong >= args.show]:
        show(i)

    accuracy = 1.0 - len(wrong) / m
    diff = np.abs(probabilities.astype(np.float64) - ref_probabilities.astype(np.float64))
    if np.isnan(diff).any():
        max_diff, worst = float("inf"), np.unravel_index(np.argmax(np.isnan(diff)), diff.shape)
    else:
        max_diff, worst = float(diff.max()), np.unravel_index(np.argmax(diff), diff.shape)
    mismatched = np.flatnonzero(label != ref_label)
    row_sums = probabilities.astype(np.float64).sum(axis=1)

    print()
    print("accuracy vs heldout_labels.npy: %.4f (%d of %d correct)" % (accuracy, m - len(wrong), m))
    print("max abs diff vs ref_probabilities.npy: %.3g (sample %d, class %d)"
          % ((max_diff,) + tuple(int(w) for w in worst)))
    print("largest |sum of probabilities - 1|: %.3g" % float(np.abs(row_sums - 1.0).max()))
    print("labels differing from ref_label.npy: %d%s"
          % (len(mismatched), "" if not len(mismatched) else " (samples %s)"
             % ", ".join(str(i) for i in mismatched[:20])))

    ok = max_diff <= args.tolerance and len(mismatched) == 0
    print("PASS" if ok else "FAIL (tolerance %g)" % args.tolerance)
    return 0 if ok else 1


sys.exit(main())
