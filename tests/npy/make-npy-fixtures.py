#!/usr/bin/env python3
"""Writes .npy files with NumPy for test-npy's reader tests.

Usage: make-npy-fixtures.py OUTDIR OUTPUT...

For each fixture <stem> it writes <stem>.npy (by NumPy) and <stem>.bin (the
data Glia must read: C order, little-endian; for strings the UTF-8 strings
each followed by a NUL), and it writes manifest.txt with one line per fixture:
"<stem> <glia dtype name> <dims joined by ',' or '-' for a scalar>".
The OUTPUT arguments are the files meson expects; the script fails if they
differ from what it writes, so the two lists cannot drift apart.
"""

import io
import os
import sys

import numpy as np

# NumPy dtype -> Glia data type name. Kept here, apart from the C reader, so the
# test checks the reader's mapping against an independent one.
GLIA_NAMES = {
    "f4": "float32", "f8": "float64", "f2": "float16",
    "u1": "uint8", "i1": "int8", "u2": "uint16", "i2": "int16",
    "u4": "uint32", "i4": "int32", "u8": "uint64", "i8": "int64",
    "b1": "bool", "c8": "complex64", "c16": "complex128",
}

rng = np.random.default_rng(20240611)


def sample(code, shape):
    """Values spread over the dtype's range, negative ones included."""
    dt = np.dtype("<" + code)
    if dt.kind == "b":
        return rng.integers(0, 2, size=shape).astype(dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    if dt.kind == "f":
        return (rng.standard_normal(shape) * 1000).astype(dt)
    real = rng.standard_normal(shape) * 1000
    imag = rng.standard_normal(shape) * 1000
    return (real + 1j * imag).astype(dt)


fixtures = {}  # stem -> (array as written, glia name, raw expected bytes)


def add(stem, array, glia_name, expected=None, version=None):
    if expected is None:
        if array.dtype.kind == "U":
            expected = b"".join(s.encode("utf-8") + b"\0" for s in np.ravel(array, order="C").tolist())
        else:
            le = array.dtype.newbyteorder("<")
            expected = np.ascontiguousarray(array).astype(le).tobytes()
    fixtures[stem] = (array, glia_name, expected, version)


for code in GLIA_NAMES:
    add("le-" + code, sample(code, (2, 3)), GLIA_NAMES[code])
    if np.dtype(code).itemsize > 1:
        array = sample(code, (3, 2))
        add("be-" + code, array.astype(array.dtype.newbyteorder(">")), GLIA_NAMES[code])

add("fortran-i4", np.asfortranarray(np.arange(24, dtype="<i4").reshape(2, 3, 4)), "int32")
add("fortran-be-c16", np.asfortranarray(sample("c16", (3, 2, 2)).astype(">c16")), "complex128")
add("fortran-f2", np.asfortranarray(sample("f2", (5, 7))), "float16")
add("scalar-f8", np.array(-3.75, dtype="<f8"), "float64")
add("scalar-b1", np.array(True), "bool")
add("empty-f4", np.zeros((0, 3), dtype="<f4"), "float32")
add("empty-3d-i8", np.zeros((2, 0, 5), dtype="<i8"), "int64")
add("v2-f4", sample("f4", (4, 4)), "float32", version=(2, 0))
add("v3-u2", sample("u2", (3,)), "uint16", version=(3, 0))

# bfloat16 has no NumPy dtype; Glia reads any 2-byte void array as bfloat16.
bf16_bits = np.array([0x3F80, 0xC000, 0x7F80, 0x0001, 0x4049, 0xFFFF], dtype="<u2")
add("bf16-void", bf16_bits.view("V2").reshape(2, 3), "bfloat16", expected=bf16_bits.tobytes())

words = np.array([["a", "h\u00e9llo", ""], ["\u65e5\u672c\u8a9e\U0001F600", "tab\there", "z"]])
add("strings", words, "string")
add("strings-be", words.astype(words.dtype.newbyteorder(">")), "string")
add("strings-fortran", np.asfortranarray(words), "string")
add("strings-scalar", np.array("\u00fcber"), "string")
add("strings-empty", np.zeros((0,), dtype="<U3"), "string")


def write(path, array, version):
    with open(path, "wb") as f:
        if version is None:
            np.save(f, array, allow_pickle=False)
        else:
            np.lib.format.write_array(f, array, version=version, allow_pickle=False)


def check_header(path, array):
    """Makes sure NumPy wrote the layout the fixture is meant to exercise."""
    with open(path, "rb") as f:
        np.lib.format.read_magic(f)
        f.seek(0)
        data = f.read()
    fortran = b"'fortran_order': True" in data[:200]
    assert fortran == (array.ndim > 1 and not array.flags.c_contiguous), path


def main():
    outdir = sys.argv[1]
    wanted = {os.path.basename(p) for p in sys.argv[2:]}
    produced = {"manifest.txt"}
    for stem in fixtures:
        produced |= {stem + ".npy", stem + ".bin"}
    if wanted != produced:
        sys.exit("make-npy-fixtures.py: meson outputs and fixtures differ: missing in meson %s, "
                 "unknown to the script %s" % (sorted(produced - wanted), sorted(wanted - produced)))

    lines = []
    for stem, (array, glia_name, expected, version) in fixtures.items():
        npy_path = os.path.join(outdir, stem + ".npy")
        write(npy_path, array, version)
        check_header(npy_path, array)
        with open(os.path.join(outdir, stem + ".bin"), "wb") as f:
            f.write(expected)
        dims = ",".join(str(d) for d in array.shape) or "-"
        lines.append("%s %s %s\n" % (stem, glia_name, dims))
    with open(os.path.join(outdir, "manifest.txt"), "w") as f:
        f.writelines(lines)


main()
