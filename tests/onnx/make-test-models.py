#!/usr/bin/env python3
"""Writes the ONNX files that test-onnx-loader.c loads.

Usage: make-test-models.py OUTDIR

The models go to OUTDIR/models (external data under OUTDIR/models/ext); a
stamp file OUTDIR/onnx-test-models.stamp marks completion for meson.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def write(path, model, check=True):
    if check:
        onnx.checker.check_model(model)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def model_of(graph, opsets, ir_version=8, **kwargs):
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets], **kwargs
    )
    model.ir_version = ir_version
    return model


def small_model():
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 3])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 2])
    xw = helper.make_tensor_value_info("XW", TensorProto.FLOAT, ["batch", 2])
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(3, 2) * 0.5, "W")
    b = numpy_helper.from_array(np.array([1.0, -1.0], dtype=np.float32), "B")
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["XW"], name="matmul"),
        helper.make_node("Add", ["XW", "B"], ["Y"], name="add"),
    ]
    graph = helper.make_graph(nodes, "small", [x], [y], [w, b], value_info=[xw])
    model = model_of(
        graph,
        [("", 13), ("ai.onnx.ml", 3)],
        producer_name="glia-tests",
        producer_version="1.2.3",
        doc_string="small test model",
        model_version=7,
    )
    helper.set_model_props(model, {"author": "glia", "license": "MIT"})
    # Pad a node's doc_string (serialized before the initializers) until W's
    # raw_data is 4-byte aligned in the file, so that the loader can hand out
    # a view of the mapped file.
    raw = w.raw_data
    for pad in range(8):
        model.graph.node[0].doc_string = "x" * pad
        data = model.SerializeToString()
        offset = data.find(raw)
        if offset % 4 == 0 and data.count(raw) == 1:
            return model
    raise RuntimeError("cannot align W")


def typed_tensor(name, dtype, dims, field, values):
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    getattr(t, field).extend(values)
    return t


def typed_model():
    f16 = np.array([1.0, -2.0, 0.5], dtype=np.float16).view(np.uint16).astype(int).tolist()
    inits = [
        typed_tensor("i64", TensorProto.INT64, [3], "int64_data", [-1, 2, 1 << 40]),
        typed_tensor("f32", TensorProto.FLOAT, [2, 2], "float_data", [1.5, -2.0, 0.25, 8.0]),
        typed_tensor("f16", TensorProto.FLOAT16, [3], "int32_data", f16),
        typed_tensor("bf16", TensorProto.BFLOAT16, [2], "int32_data", [0x3F80, 0xC000]),
        typed_tensor("str", TensorProto.STRING, [3], "string_data", [b"ab", b"", b"xyz"]),
        typed_tensor("u8", TensorProto.UINT8, [3], "int32_data", [0, 128, 255]),
        typed_tensor("i8", TensorProto.INT8, [2], "int32_data", [-128, 127]),
        typed_tensor("i16", TensorProto.INT16, [2], "int32_data", [-300, 300]),
        typed_tensor("bool", TensorProto.BOOL, [3], "int32_data", [1, 0, 1]),
        typed_tensor("f64", TensorProto.DOUBLE, [2], "double_data", [3.25, -1e300]),
        typed_tensor("u64", TensorProto.UINT64, [2], "uint64_data", [1, 2**64 - 1]),
        typed_tensor("u32", TensorProto.UINT32, [2], "uint64_data", [7, 2**32 - 1]),
        typed_tensor("scalar", TensorProto.INT32, [], "int32_data", [42]),
        typed_tensor("empty", TensorProto.FLOAT, [0, 3], "float_data", []),
    ]
    nodes, outputs = [], []
    for t in inits:
        nodes.append(helper.make_node("Identity", [t.name], [t.name + "_out"]))
        outputs.append(helper.make_tensor_value_info(t.name + "_out", t.data_type, list(t.dims)))
    return model_of(helper.make_graph(nodes, "typed", [], outputs, inits), [("", 13)])


def attrs_model():
    custom = helper.make_node(
        "Custom",
        ["X"],
        ["Z"],
        name="custom",
        domain="com.example",
        f=0.5,
        i=-7,
        s="hello",
        floats=[1.0, 2.5],
        ints=[1, -2, 3],
        strings=["a", "bc"],
        t=numpy_helper.from_array(np.array([5, 6], dtype=np.int64)),
    )
    const = helper.make_node(
        "Constant",
        [],
        ["C"],
        name="const",
        domain="ai.onnx",
        value=numpy_helper.from_array(np.array([[1, 2], [3, 4]], dtype=np.int32)),
    )
    sparse = helper.make_sparse_tensor(
        helper.make_tensor("sv", TensorProto.FLOAT, [2], [5.0, 7.0]),
        helper.make_tensor("si", TensorProto.INT64, [2], [1, 5]),
        [2, 3],
    )
    sconst = helper.make_node("Constant", [], ["SC"], name="sconst", sparse_value=sparse)
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [2])
    outs = [
        helper.make_tensor_value_info("Z", TensorProto.FLOAT, [2]),
        helper.make_tensor_value_info("C", TensorProto.INT32, [2, 2]),
        helper.make_tensor_value_info("SC", TensorProto.FLOAT, [2, 3]),
    ]
    graph = helper.make_graph([custom, const, sconst], "attrs", [x], outs)
    return model_of(graph, [("ai.onnx", 17), ("com.example", 1)])


def sparse_model():
    lin = helper.make_sparse_tensor(
        helper.make_tensor("S_lin", TensorProto.FLOAT, [2], [5.0, 7.0]),
        helper.make_tensor("S_lin_i", TensorProto.INT64, [2], [1, 5]),
        [2, 3],
    )
    coo = helper.make_sparse_tensor(
        helper.make_tensor("S_coo", TensorProto.INT32, [2], [9, -9]),
        helper.make_tensor("S_coo_i", TensorProto.INT64, [2, 2], [0, 1, 1, 2]),
        [2, 3],
    )
    nodes = [
        helper.make_node("Identity", ["S_lin"], ["lin_out"]),
        helper.make_node("Identity", ["S_coo"], ["coo_out"]),
    ]
    outs = [
        helper.make_tensor_value_info("lin_out", TensorProto.FLOAT, [2, 3]),
        helper.make_tensor_value_info("coo_out", TensorProto.INT32, [2, 3]),
    ]
    graph = helper.make_graph(nodes, "sparse", [], outs, sparse_initializer=[lin, coo])
    return model_of(graph, [("", 13)])


def external_model(entries_by_name):
    """A model whose initializers 'EW' (float [2,3]), 'EI' (int64 [2]) and 'ED'
    (float [2]) are external, with the given external_data entries."""
    inits = []
    for name, dtype, dims in (
        ("EW", TensorProto.FLOAT, [2, 3]),
        ("EI", TensorProto.INT64, [2]),
        ("ED", TensorProto.FLOAT, [2]),
    ):
        t = TensorProto()
        t.name = name
        t.data_type = dtype
        t.dims.extend(dims)
        t.data_location = TensorProto.EXTERNAL
        for key, value in entries_by_name[name].items():
            e = t.external_data.add()
            e.key = key
            e.value = value
        inits.append(t)
    nodes = [helper.make_node("Identity", [t.name], [t.name + "_out"]) for t in inits]
    outs = [
        helper.make_tensor_value_info(t.name + "_out", t.data_type, list(t.dims)) for t in inits
    ]
    return model_of(helper.make_graph(nodes, "external", [], outs, inits), [("", 13)])


def write_external_models(models, ext):
    os.makedirs(os.path.join(ext, "data"), exist_ok=True)
    ew = np.arange(6, dtype=np.float32) + 0.5
    ei = np.array([5, -6], dtype=np.int64)
    ed = np.array([-1.5, 2.5], dtype=np.float32)
    with open(os.path.join(ext, "weights.bin"), "wb") as f:
        f.write(b"\0" * 4096)
        f.write(ew.tobytes())  # offset 4096, 24 bytes
        f.write(ei.tobytes())  # offset 4120, to the end of the file
    with open(os.path.join(ext, "data", "more.bin"), "wb") as f:
        f.write(ed.tobytes())
    # A file that escaping locations point at, so that only the path check
    # can refuse them.
    with open(os.path.join(models, "outside.bin"), "wb") as f:
        f.write(ed.tobytes())

    good = {
        "EW": {"location": "weights.bin", "offset": "4096", "length": "24"},
        "EI": {"location": "weights.bin", "offset": "4120"},
        "ED": {"location": "data/more.bin"},
    }
    write(os.path.join(ext, "external.onnx"), external_model(good), check=False)

    def variant(file_name, ed_entries):
        entries = dict(good)
        entries["ED"] = ed_entries
        write(os.path.join(ext, file_name), external_model(entries), check=False)

    variant("escape.onnx", {"location": "../outside.bin"})
    variant("escape-middle.onnx", {"location": "data/../../outside.bin"})
    variant("absolute.onnx", {"location": os.path.abspath(os.path.join(models, "outside.bin"))})
    variant("missing.onnx", {"location": "nope.bin"})
    variant("past-end.onnx", {"location": "data/more.bin", "offset": "4", "length": "8"})


def if_model():
    # then: Add(X, C1) with C1 a subgraph initializer.
    then_graph = helper.make_graph(
        [helper.make_node("Add", ["X", "C1"], ["t_out"], name="then_add")],
        "then",
        [],
        [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, [2])],
        [numpy_helper.from_array(np.array([1.0, 1.0], dtype=np.float32), "C1")],
    )
    # else: a nested If, whose branches use X and K from the main graph.
    inner_then = helper.make_graph(
        [helper.make_node("Neg", ["X"], ["it_out"])],
        "inner_then",
        [],
        [helper.make_tensor_value_info("it_out", TensorProto.FLOAT, [2])],
    )
    inner_else = helper.make_graph(
        [helper.make_node("Mul", ["X", "K"], ["ie_out"])],
        "inner_else",
        [],
        [helper.make_tensor_value_info("ie_out", TensorProto.FLOAT, [2])],
    )
    else_graph = helper.make_graph(
        [
            helper.make_node(
                "If",
                ["cond"],
                ["e_out"],
                name="inner_if",
                then_branch=inner_then,
                else_branch=inner_else,
            )
        ],
        "else",
        [],
        [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, [2])],
    )
    node = helper.make_node(
        "If", ["cond"], ["Y"], name="if", then_branch=then_graph, else_branch=else_graph
    )
    graph = helper.make_graph(
        [node],
        "if",
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("X", TensorProto.FLOAT, [2]),
        ],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2])],
        [numpy_helper.from_array(np.array([10.0, 20.0], dtype=np.float32), "K")],
    )
    return model_of(graph, [("", 13)])


def sequence_model():
    s = helper.make_tensor_sequence_value_info("S", TensorProto.FLOAT, None)
    graph = helper.make_graph(
        [helper.make_node("SequenceLength", ["S"], ["L"])],
        "sequence",
        [s],
        [helper.make_tensor_value_info("L", TensorProto.INT64, [])],
    )
    return model_of(graph, [("", 13)])


def undefined_input_model():
    graph = helper.make_graph(
        [helper.make_node("Relu", ["nope"], ["Y"])],
        "undefined",
        [],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2])],
    )
    return model_of(graph, [("", 13)])


def tensors_attribute_model():
    node = helper.make_node("Custom", [], ["Y"], domain="com.example")
    attr = node.attribute.add()
    attr.name = "many"
    attr.type = onnx.AttributeProto.TENSORS
    attr.tensors.append(numpy_helper.from_array(np.array([1], dtype=np.int64)))
    graph = helper.make_graph(
        [node], "tensors", [], [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])]
    )
    return model_of(graph, [("", 13), ("com.example", 1)])


def main():
    outdir = sys.argv[1]
    models = os.path.join(outdir, "models")
    ext = os.path.join(models, "ext")
    os.makedirs(ext, exist_ok=True)

    small = small_model()
    write(os.path.join(models, "small.onnx"), small)
    # The same bytes without the extension: found by content.
    write(os.path.join(models, "small.model"), small)
    write(os.path.join(models, "typed.onnx"), typed_model())
    write(os.path.join(models, "attrs.onnx"), attrs_model(), check=False)
    write(os.path.join(models, "sparse.onnx"), sparse_model())
    write(os.path.join(models, "if.onnx"), if_model())
    write(os.path.join(models, "sequence.onnx"), sequence_model())
    write(os.path.join(models, "undefined-input.onnx"), undefined_input_model(), check=False)
    write(os.path.join(models, "tensors-attribute.onnx"), tensors_attribute_model(), check=False)
    # two initializers named W: the second must not silently replace the first
    m = small_model()
    m.graph.initializer.append(numpy_helper.from_array(np.zeros((3, 2), np.float32), "W"))
    write(os.path.join(models, "duplicate-initializer.onnx"), m, check=False)
    # W and B listed as graph inputs too: before IR 4 that makes them weights,
    # from IR 4 on inputs with a default.
    for version in (3, 4):
        m = small_model()
        m.ir_version = version
        for name, dims in (("W", [3, 2]), ("B", [2])):
            m.graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))
        write(os.path.join(models, "initializer-inputs-ir%d.onnx" % version), m, check=False)
    for version in (2, 99):
        m = small_model()
        m.ir_version = version
        write(os.path.join(models, "ir%d.onnx" % version), m, check=False)
    write_external_models(models, ext)

    with open(os.path.join(outdir, "onnx-test-models.stamp"), "w") as f:
        f.write("ok\n")


if __name__ == "__main__":
    main()
