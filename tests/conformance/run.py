#!/usr/bin/env python3
"""ONNX backend node conformance runner for Glia.

Runs every case of a generated node suite (see generate.py) through a Glia
session and compares the outputs as ONNX's backend test does: rtol 1e-3,
atol 1e-7, NaN equal to NaN, exact for integers, bools and strings.

Each case runs in a forked child (a crash or hang fails that case only);
two run at a time. Prints the failing cases with their reasons and ends with
"N passed, N failed, N skipped".

The expected-failures file lists cases known to fail, one per line with a
reason after '#'. The run fails if a case not on the list fails, or if a case
on the list passes (remove it: the list only shrinks). Cases whose reason
starts with "random" (outputs drawn at random) may pass by chance.

Usage: run.py SUITE_DIR [--expected FILE] [--ep LIST] [--filter SUBSTR]
              [--update-expected] [--jobs N] [--timeout S] [--level N] [-v]
"""
import argparse
import json
import os
import select
import signal
import sys
import time
import traceback

import numpy as np

RTOL, ATOL = 1e-3, 1e-7
# --level: the sessions' graph optimization level (None: the default); set
# in main() before the children fork
OPT_LEVEL = None


def case_is_tensor_only(model):
    values = list(model.graph.input) + list(model.graph.output)
    return all(v.type.HasField("tensor_type") for v in values)


# ---- the child side ---------------------------------------------------------

def glia_dtype(Glia, np_dtype):
    table = {
        "float32": Glia.DataType.FLOAT, "float64": Glia.DataType.DOUBLE,
        "float16": Glia.DataType.FLOAT16, "int8": Glia.DataType.INT8,
        "int16": Glia.DataType.INT16, "int32": Glia.DataType.INT32,
        "int64": Glia.DataType.INT64, "uint8": Glia.DataType.UINT8,
        "uint16": Glia.DataType.UINT16, "uint32": Glia.DataType.UINT32,
        "uint64": Glia.DataType.UINT64, "bool": Glia.DataType.BOOL,
        "complex64": Glia.DataType.COMPLEX64, "complex128": Glia.DataType.COMPLEX128,
    }
    return table.get(np.dtype(np_dtype).name)


def glia_dtype_for_onnx(Glia, onnx_elem_type):
    # ONNX TensorProto.DataType and GliaDataType share their numbering
    return Glia.DataType(onnx_elem_type)


def to_glia(Glia, array, onnx_elem_type):
    from onnx import TensorProto
    shape = list(array.shape)
    if onnx_elem_type == TensorProto.STRING or array.dtype.kind in "OSU":
        strings = [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in array.flatten()]
        return Glia.Tensor.new_from_strings(shape, strings)
    if onnx_elem_type == TensorProto.BFLOAT16:
        return Glia.Tensor.new_from_data(Glia.DataType.BFLOAT16, shape,
                                         np.ascontiguousarray(array).astype(np.uint16).tobytes())
    dt = glia_dtype(Glia, array.dtype)
    if dt is None:
        raise RuntimeError("unsupported input dtype %s" % array.dtype)
    return Glia.Tensor.new_from_data(dt, shape, np.ascontiguousarray(array).tobytes())


def from_glia(Glia, tensor):
    shape = tuple(tensor.get_shape())
    dt = tensor.get_dtype()
    if dt == Glia.DataType.STRING:
        return np.array(tensor.get_strings(), dtype=object).reshape(shape)
    np_types = {
        Glia.DataType.FLOAT: np.float32, Glia.DataType.DOUBLE: np.float64,
        Glia.DataType.FLOAT16: np.float16, Glia.DataType.INT8: np.int8,
        Glia.DataType.INT16: np.int16, Glia.DataType.INT32: np.int32,
        Glia.DataType.INT64: np.int64, Glia.DataType.UINT8: np.uint8,
        Glia.DataType.UINT16: np.uint16, Glia.DataType.UINT32: np.uint32,
        Glia.DataType.UINT64: np.uint64, Glia.DataType.BOOL: np.bool_,
        Glia.DataType.COMPLEX64: np.complex64, Glia.DataType.COMPLEX128: np.complex128,
        Glia.DataType.BFLOAT16: np.uint16,
    }
    data = tensor.get_data().get_data()
    arr = np.frombuffer(data, dtype=np_types[dt]).reshape(shape)
    if dt == Glia.DataType.BFLOAT16:
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    return arr


def read_pb(path, value_info):
    """Reads input_N.pb/output_N.pb as the kind the graph declares."""
    import onnx
    from onnx import numpy_helper
    kind = value_info.type.WhichOneof("value")
    with open(path, "rb") as f:
        raw = f.read()
    if kind == "sequence_type":
        seq = onnx.SequenceProto()
        seq.ParseFromString(raw)
        elem = value_info.type.sequence_type.elem_type.tensor_type.elem_type
        return ("sequence", [numpy_helper.to_array(t) for t in seq.tensor_values], elem)
    if kind == "optional_type":
        opt = onnx.OptionalProto()
        opt.ParseFromString(raw)
        inner = value_info.type.optional_type.elem_type
        if opt.HasField("tensor_value"):
            return ("tensor", numpy_helper.to_array(opt.tensor_value), opt.tensor_value.data_type)
        if opt.HasField("sequence_value"):
            elem = inner.sequence_type.elem_type.tensor_type.elem_type
            return ("sequence", [numpy_helper.to_array(t) for t in opt.sequence_value.tensor_values],
                    elem)
        return ("none",)
    t = onnx.TensorProto()
    t.ParseFromString(raw)
    arr = numpy_helper.to_array(t)
    declared = value_info.type.tensor_type.elem_type
    if declared == onnx.TensorProto.BFLOAT16 or t.data_type == onnx.TensorProto.BFLOAT16:
        # onnx 1.12 writes bfloat16 test data as uint16 bit patterns
        arr = np.ascontiguousarray(arr).astype(np.uint16)
        return ("tensor", arr, onnx.TensorProto.BFLOAT16)
    return ("tensor", arr, t.data_type)


def compare(name, expected, got):
    if expected.dtype.kind in "OSU":
        exp = np.array([e.decode() if isinstance(e, bytes) else e for e in expected.flatten()], dtype=object)
        if got.dtype != object or got.shape != expected.shape:
            return "%s: expected strings of shape %s, got %s %s" % (name, expected.shape, got.dtype, got.shape)
        if list(exp) != list(got.flatten()):
            return "%s: strings differ" % name
        return None
    if got.shape != expected.shape:
        return "%s: shape %s, expected %s" % (name, got.shape, expected.shape)
    if expected.dtype != got.dtype:
        return "%s: dtype %s, expected %s" % (name, got.dtype, expected.dtype)
    if expected.dtype.kind in "fc":
        e = expected.astype(np.complex128 if expected.dtype.kind == "c" else np.float64)
        g = got.astype(e.dtype)
        both_nan = np.isnan(e) & np.isnan(g)
        close = np.isclose(g, e, rtol=RTOL, atol=ATOL, equal_nan=True) | both_nan
        if not close.all():
            i = np.argwhere(~close)[0]
            return "%s: %d of %d values differ; at %s got %r expected %r" % (
                name, int((~close).sum()), close.size, tuple(i), g[tuple(i)], e[tuple(i)])
        return None
    if not np.array_equal(expected, got):
        i = np.argwhere(expected != got)[0]
        return "%s: values differ; at %s got %r expected %r" % (name, tuple(i), got[tuple(i)], expected[tuple(i)])
    return None


def run_case(case_dir, providers):
    """Runs one case; returns (status, message) with status pass/fail/skip."""
    import onnx
    import gi
    gi.require_version("Glia", "1.0")
    from gi.repository import Glia, GLib

    model_proto = onnx.load(os.path.join(case_dir, "model.onnx"))
    initializers = {i.name for i in model_proto.graph.initializer}
    inputs = [v for v in model_proto.graph.input if v.name not in initializers]
    outputs = list(model_proto.graph.output)
    try:
        model = Glia.Model.new_from_file(os.path.join(case_dir, "model.onnx"))
        options = Glia.SessionOptions.new()
        options.set_providers(providers)
        options.props.threads = 1
        if OPT_LEVEL is not None:
            options.props.optimization_level = OPT_LEVEL
        session = Glia.Session.new(model, options)
    except GLib.Error as e:
        return "fail", "session: " + e.message
    sets = sorted(d for d in os.listdir(case_dir) if d.startswith("test_data_set_"))
    for ds in sets:
        ds_dir = os.path.join(case_dir, ds)
        feeds = {}
        n_in = len([f for f in os.listdir(ds_dir) if f.startswith("input_")])
        for k in range(n_in):
            vi = inputs[k]
            item = read_pb(os.path.join(ds_dir, "input_%d.pb" % k), vi)
            if item[0] == "none":
                continue
            if item[0] == "sequence":
                dtype = glia_dtype_for_onnx(Glia, item[2])
                feeds[vi.name] = Glia.Sequence.new(dtype, [to_glia(Glia, a, item[2]) for a in item[1]])
                continue
            feeds[vi.name] = to_glia(Glia, item[1], item[2])
        try:
            result = session.run(feeds)
        except GLib.Error as e:
            return "fail", "%s: run: %s" % (ds, e.message)
        n_out = len([f for f in os.listdir(ds_dir) if f.startswith("output_")])
        for k in range(n_out):
            vi = outputs[k]
            item = read_pb(os.path.join(ds_dir, "output_%d.pb" % k), vi)
            if vi.name not in result:
                return "fail", "%s: output %s missing" % (ds, vi.name)
            got = result[vi.name]
            if item[0] == "none":
                if got is not None:
                    return "fail", "%s: output %s should be empty" % (ds, vi.name)
                continue
            if item[0] == "sequence":
                if not isinstance(got, Glia.Sequence):
                    return "fail", "%s: output %s should be a sequence, got %r" % (ds, vi.name, got)
                if got.get_length() != len(item[1]):
                    return "fail", "%s: sequence %s has %d items, expected %d" % (
                        ds, vi.name, got.get_length(), len(item[1]))
                for j, exp in enumerate(item[1]):
                    problem = compare("%s[%d]" % (vi.name, j), exp, from_glia(Glia, got.get_item(j)))
                    if problem:
                        return "fail", "%s: %s" % (ds, problem)
                continue
            if not isinstance(got, Glia.Tensor):
                return "fail", "%s: output %s should be a tensor, got %r" % (ds, vi.name, got)
            expected = item[1]
            if item[2] == onnx.TensorProto.BFLOAT16:
                expected = (expected.astype(np.uint32) << 16).view(np.float32)
            problem = compare(vi.name, expected, from_glia(Glia, result[vi.name]))
            if problem:
                return "fail", "%s: %s" % (ds, problem)
    return "pass", ""


# ---- the parent side ----------------------------------------------------------

def start_child(case_dir, providers):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            status, message = run_case(case_dir, providers)
        except Exception as e:  # the runner's own failures are the case's
            status, message = "fail", "runner: %s: %s" % (type(e).__name__, e)
            if os.environ.get("GLIA_CONFORMANCE_TRACE"):
                traceback.print_exc()
        os.write(w, json.dumps([status, message[:2000]]).encode())
        os.close(w)
        os._exit(0)
    os.close(w)
    return pid, r


def draw_progress(done, total, results):
    """One line on stderr, rewritten in place (only called on a terminal)."""
    width = 30
    filled = width * done // max(total, 1)
    failed = sum(1 for r in results.values() if r[0] == "fail")
    sys.stderr.write("\rconformance [%s%s] %d/%d  %d failed\033[K"
                     % ("#" * filled, " " * (width - filled), done, total, failed))
    sys.stderr.flush()


def run_all(cases, suite, providers, jobs, timeout, progress):
    results = {}
    pending = list(cases)
    running = {}  # fd -> (case, pid, start, chunks)
    done = 0
    while pending or running:
        while pending and len(running) < jobs:
            case = pending.pop(0)
            pid, fd = start_child(os.path.join(suite, case), providers)
            running[fd] = (case, pid, time.monotonic(), [])
        ready, _, _ = select.select(list(running), [], [], 1.0)
        for fd in ready:
            case, pid, start, chunks = running[fd]
            data = os.read(fd, 65536)
            if data:
                chunks.append(data)
                continue
            os.close(fd)
            _, status = os.waitpid(pid, 0)
            del running[fd]
            done += 1
            if chunks:
                results[case] = tuple(json.loads(b"".join(chunks)))
            elif os.WIFSIGNALED(status):
                results[case] = ("fail", "crashed with signal %d" % os.WTERMSIG(status))
            else:
                results[case] = ("fail", "exited with status %d and no result" % os.WEXITSTATUS(status))
        now = time.monotonic()
        for fd, (case, pid, start, chunks) in list(running.items()):
            if now - start > timeout:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                os.close(fd)
                del running[fd]
                done += 1
                results[case] = ("fail", "timed out after %ds" % timeout)
        if progress:
            draw_progress(done, len(cases), results)
    if progress:
        sys.stderr.write("\r\033[K")
    return results


def read_expected(path):
    expected = {}
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                name, _, reason = line.partition("#")
                name = name.strip()
                if name:
                    expected[name] = reason.strip()
    return expected


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("suite", help="generated suite directory (containing node/)")
    ap.add_argument("--expected", help="expected-failures file")
    ap.add_argument("--ep", default="cpu", help="providers, comma-separated (default cpu)")
    ap.add_argument("--filter", default="", help="only cases whose name contains this")
    ap.add_argument("--update-expected", action="store_true",
                    help="rewrite the expected-failures file with today's failures")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--level", type=int, choices=range(4),
                    help="graph optimization level of the sessions (default: Glia's default)")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per case")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every case")
    args = ap.parse_args()
    global OPT_LEVEL
    OPT_LEVEL = args.level

    import onnx
    node_dir = os.path.join(args.suite, "node")
    cases = sorted(c for c in os.listdir(node_dir) if c.startswith("test_") and args.filter in c)
    tensor_only = {}
    for c in cases:
        tensor_only[c] = case_is_tensor_only(onnx.load(os.path.join(node_dir, c, "model.onnx")))

    # load the bindings and scan plugins once; forked children inherit them
    import gi
    gi.require_version("Glia", "1.0")
    from gi.repository import Glia
    Glia.Registry.get_default()

    results = run_all(cases, node_dir, args.ep.split(","), max(1, args.jobs), args.timeout,
                      sys.stderr.isatty())
    expected = read_expected(args.expected)

    passed = [c for c in cases if results[c][0] == "pass"]
    failed = [c for c in cases if results[c][0] == "fail"]
    unexpected_fail = [c for c in failed if c not in expected]
    # cases whose outputs are random may pass by chance: "random" reasons
    unexpected_pass = [c for c in passed if c in expected
                       and not expected[c].startswith("random")]

    if args.verbose:
        for c in cases:
            print("%-60s %s %s" % (c, results[c][0], results[c][1]))
    else:
        for c in failed:
            mark = "expected" if c in expected else "FAIL"
            print("%-8s %s: %s" % (mark, c, results[c][1]))
    for c in unexpected_pass:
        print("PASSES   %s: on the expected-failures list; remove it" % c)

    t_cases = [c for c in cases if tensor_only[c]]
    t_passed = [c for c in t_cases if results[c][0] == "pass"]
    print("tensor-only cases: %d of %d pass" % (len(t_passed), len(t_cases)))
    print("other cases (sequence, optional): %d of %d pass" % (
        len(passed) - len(t_passed), len(cases) - len(t_cases)))

    if args.update_expected and args.expected:
        with open(args.expected, "w") as f:
            f.write("# ONNX backend node cases Glia fails today, with the reason. This list\n"
                    "# only shrinks: a case here that passes fails the conformance test.\n")
            keep = failed + [c for c in passed if expected.get(c, "").startswith("random")]
            for c in sorted(keep):
                reason = expected.get(c) or results[c][1].replace("\n", " ")[:150]
                f.write("%s  # %s\n" % (c, reason))
        print("wrote %s" % args.expected)
        unexpected_fail, unexpected_pass = [], []

    print("conformance: %d passed, %d failed, 0 skipped" % (len(passed), len(failed)))
    if unexpected_fail or unexpected_pass:
        print("%d unexpected failures, %d unexpected passes" % (len(unexpected_fail), len(unexpected_pass)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
