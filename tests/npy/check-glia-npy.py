#!/usr/bin/env python3
"""Checks with NumPy the .npy files test-npy wrote with Glia.

Usage: check-glia-npy.py DIR

DIR/manifest.txt has one line per file: "<stem> <dtype.str NumPy must report>
<dims joined by ',' or '-' for a scalar>". DIR/<stem>.bin holds the data Glia
had: raw little-endian bytes in C order, or for strings the UTF-8 strings each
followed by a NUL. Prints "all files match" and exits 0 when every file loads
(without pickle) with that dtype, shape and data.
"""

import os
import sys

import numpy as np


def check(directory, stem, dtype_str, dims):
    path = os.path.join(directory, stem + ".npy")
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version != (1, 0):
            return "%s: format version %s, expected 1.0" % (stem, version)
        header_end = f.read(2)
        header_len = int.from_bytes(header_end, "little")
        if (10 + header_len) % 64 != 0:
            return "%s: data is not 64-byte aligned" % stem
    array = np.load(path, allow_pickle=False)
    shape = () if dims == "-" else tuple(int(d) for d in dims.split(","))
    if array.dtype.str != dtype_str:
        return "%s: dtype %s, expected %s" % (stem, array.dtype.str, dtype_str)
    if array.shape != shape:
        return "%s: shape %s, expected %s" % (stem, array.shape, shape)
    with open(os.path.join(directory, stem + ".bin"), "rb") as f:
        expected = f.read()
    if array.dtype.kind == "U":
        actual = b"".join(s.encode("utf-8") + b"\0" for s in array.ravel().tolist())
    else:
        actual = np.ascontiguousarray(array).tobytes()
    if actual != expected:
        return "%s: data differs" % stem
    return None


def main():
    directory = sys.argv[1]
    failures = []
    count = 0
    with open(os.path.join(directory, "manifest.txt")) as f:
        for line in f:
            if not line.strip():
                continue
            stem, dtype_str, dims = line.split()
            problem = check(directory, stem, dtype_str, dims)
            count += 1
            if problem:
                failures.append(problem)
    for problem in failures:
        print(problem)
    if failures or count == 0:
        sys.exit("%d of %d files do not match" % (len(failures), count))
    print("%d files checked, all files match" % count)


main()
