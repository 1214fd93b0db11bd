#!/usr/bin/python3
"""Exports the real-model conformance set to ONNX, with PyTorch's outputs.

Usage:
    /usr/bin/python3 tests/models/export-models.py OUTDIR [--only NAME[,NAME...]]

Needs Debian's python3-torch and python3-torchvision (torch 1.13 and
torchvision 0.14 on Debian 12), numpy and onnx. Nothing is downloaded: every
model is randomly initialised after torch.manual_seed(0) and put in eval mode
(BatchNorm statistics are first taken from a seeded random batch, see
calibrate_batch_norm()).

Models (all exported with torch.onnx.export at opset 17, batch axis dynamic
and named "N"):

  resnet18, mobilenet_v2, squeezenet1_1, efficientnet_b0
      torchvision classifiers, input "images" float32 [N, 3, 224, 224],
      output "logits" [N, 1000]
  transformer_encoder
      nn.Embedding(1000, 256) then a 4-layer nn.TransformerEncoder
      (d_model 256, 4 heads, feed-forward 1024, batch_first), input "tokens"
      int64 [N, 128], output "hidden" float32 [N, 128, 256]
  lstm
      nn.LSTM(64, 128, 2 layers, batch_first) and a Linear(128, 10) head on
      every step, input "sequence" float32 [N, 16, 64], outputs "logits"
      [N, 16, 10] and "h_n" (final hidden state) [2, N, 128]

Exported only when named with --only (the benchmark in tests/benchmarks uses
them; the real-models test does not, to stay quick):

  resnet50
      torchvision classifier like resnet18

For each model OUTDIR gets:
  <name>.onnx
  <name>.input.npy             batch 2, from numpy's seeded generator
  <name>.<output>.npy          PyTorch's output for it, one per ONNX output
  <name>.input1.npy            batch 1: the first item of <name>.input.npy
  <name>.<output>.batch1.npy   PyTorch's output for the batch-1 input
and manifest.json describes all of it (see write_manifest()). Output names
are those of the exported graph, in graph order.
"""

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torchvision

OPSET = 17
SEED = 0
BATCH = 2


def torchvision_model(name):
    """A torchvision classifier with random weights, across the 0.13+ API
    (weights=None) and the older one (pretrained=False)."""
    builder = getattr(torchvision.models, name)
    try:
        return builder(weights=None)
    except TypeError:
        return builder(pretrained=False)


class TransformerEncoderModel(nn.Module):
    """Token ids -> embedding -> 4-layer transformer encoder."""

    def __init__(self, vocab=1000, d_model=256, nhead=4, dim_feedforward=1024, layers=4):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d_model)
        layer = nn.TransformerEncoderLayer(d_model=d_model, nhead=nhead,
                                           dim_feedforward=dim_feedforward,
                                           batch_first=True)
        kwargs = {}
        # Nested tensors only matter with a padding mask; avoid the warning.
        if "enable_nested_tensor" in nn.TransformerEncoder.__init__.__code__.co_varnames:
            kwargs["enable_nested_tensor"] = False
        self.encoder = nn.TransformerEncoder(layer, num_layers=layers, **kwargs)

    def forward(self, tokens):
        return self.encoder(self.embedding(tokens))


class LSTMModel(nn.Module):
    """2-layer LSTM with a linear head on every time step; also returns the
    final hidden state of both layers."""

    def __init__(self, features=64, hidden=128, layers=2, classes=10):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, sequence):
        out, (h_n, _c_n) = self.lstm(sequence)
        return self.head(out), h_n


def image_input(rng):
    return rng.standard_normal((BATCH, 3, 224, 224), dtype=np.float32)


# name -> (builder, input name, output names, dynamic axes per output, input maker)
MODELS = {
    "resnet18": (lambda: torchvision_model("resnet18"), "images", ["logits"],
                 {"logits": {0: "N"}}, image_input),
    "mobilenet_v2": (lambda: torchvision_model("mobilenet_v2"), "images", ["logits"],
                     {"logits": {0: "N"}}, image_input),
    "squeezenet1_1": (lambda: torchvision_model("squeezenet1_1"), "images", ["logits"],
                      {"logits": {0: "N"}}, image_input),
    "efficientnet_b0": (lambda: torchvision_model("efficientnet_b0"), "images", ["logits"],
                        {"logits": {0: "N"}}, image_input),
    "transformer_encoder": (TransformerEncoderModel, "tokens", ["hidden"],
                            {"hidden": {0: "N"}},
                            lambda rng: rng.integers(0, 1000, size=(BATCH, 128), dtype=np.int64)),
    "lstm": (LSTMModel, "sequence", ["logits", "h_n"],
             {"logits": {0: "N"}, "h_n": {1: "N"}},
             lambda rng: rng.standard_normal((BATCH, 16, 64), dtype=np.float32)),
}


# Models exported only when --only names them; same tuple layout as MODELS.
EXTRA_MODELS = {
    "resnet50": (lambda: torchvision_model("resnet50"), "images", ["logits"],
                 {"logits": {0: "N"}}, image_input),
}

# Every model, MODELS first: a model's position here seeds its generator.
ALL_MODELS = dict(MODELS, **EXTRA_MODELS)


def calibrate_batch_norm(model, make_input, rng):
    """Sets every BatchNorm's running statistics from one forward pass over a
    seeded random batch (BatchNorm layers in training mode, all else in eval
    mode), then puts the model back in eval mode.

    With fresh statistics (mean 0, variance 1) activations shrink layer after
    layer in eval mode: efficientnet_b0's logits come out near 1e-14 and
    mobilenet_v2's near 1e-9, which makes a relative comparison meaningless.
    Calibrated statistics keep activations of order one, and also give the
    Conv+BatchNormalization folding done at export non-trivial scales."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one batch gives its statistics
        m.train()
    with torch.no_grad():
        model(torch.from_numpy(np.concatenate([make_input(rng), make_input(rng)])))
    model.eval()


def run_torch(model, array):
    # Grad stays enabled (see export_one()), so PyTorch computes the same
    # decomposed graph that was exported.
    out = model(torch.from_numpy(array))
    if not isinstance(out, (tuple, list)):
        out = (out,)
    return [o.detach().cpu().numpy() for o in out]


def save(path, array):
    np.save(path, np.ascontiguousarray(array), allow_pickle=False)


def export_one(name, outdir, index):
    build, input_name, output_names, output_axes, make_input = ALL_MODELS[name]
    torch.manual_seed(SEED)
    model = build().eval()

    # One generator per model (seeded by its position in ALL_MODELS) so that
    # exporting a subset gives the same files.
    rng = np.random.default_rng(SEED + index)
    calibrate_batch_norm(model, make_input, rng)
    x2 = make_input(rng)
    x1 = np.ascontiguousarray(x2[:1])

    onnx_path = os.path.join(outdir, name + ".onnx")
    dynamic_axes = {input_name: {0: "N"}}
    dynamic_axes.update(output_axes)
    # Not under torch.no_grad(): in eval mode with grad disabled, torch 1.13
    # runs nn.TransformerEncoderLayer through its fused fast path
    # (aten::_transformer_encoder_layer_fwd), which has no ONNX export. With
    # grad enabled it takes the decomposed path, which exports.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.from_numpy(x2),), onnx_path,
                          opset_version=OPSET,
                          input_names=[input_name],
                          output_names=output_names,
                          dynamic_axes=dynamic_axes,
                          do_constant_folding=True)

    # Names and order as the exported graph has them.
    graph = onnx.load(onnx_path).graph
    exported_inputs = [v.name for v in graph.input
                       if v.name not in {t.name for t in graph.initializer}]
    exported_outputs = [v.name for v in graph.output]
    if exported_inputs != [input_name]:
        raise RuntimeError("%s: exported inputs %s, expected [%s]"
                           % (name, exported_inputs, input_name))
    if sorted(exported_outputs) != sorted(output_names):
        raise RuntimeError("%s: exported outputs %s, expected %s"
                           % (name, exported_outputs, output_names))
    ops = sorted({n.op_type for n in graph.node})

    cases = []
    for suffix, out_suffix, x in (("input", "", x2), ("input1", ".batch1", x1)):
        input_file = "%s.%s.npy" % (name, suffix)
        save(os.path.join(outdir, input_file), x)
        results = dict(zip(output_names, run_torch(model, x)))
        outputs = []
        for out_name in exported_outputs:
            out_file = "%s.%s%s.npy" % (name, out_name, out_suffix)
            save(os.path.join(outdir, out_file), results[out_name])
            outputs.append({"name": out_name, "file": out_file,
                            "shape": list(results[out_name].shape),
                            "dtype": str(results[out_name].dtype)})
        cases.append({"batch": int(x.shape[0]),
                      "inputs": [{"name": input_name, "file": input_file,
                                  "shape": list(x.shape), "dtype": str(x.dtype)}],
                      "outputs": outputs})

    return {"name": name, "model": name + ".onnx", "opset": OPSET,
            "input_names": exported_inputs, "output_names": exported_outputs,
            "ops": ops, "cases": cases}


def write_manifest(outdir, entries):
    """manifest.json: {"opset", "torch", "torchvision", "models": [entry]},
    each entry {"name", "model" (file), "opset", "input_names",
    "output_names", "ops" (op types in the graph), "cases": [{"batch",
    "inputs": [{"name", "file", "shape", "dtype"}], "outputs": [same]}]}.
    File names are relative to the manifest's folder."""
    manifest = {"opset": OPSET, "torch": torch.__version__,
                "torchvision": torchvision.__version__, "models": entries}
    tmp = os.path.join(outdir, "manifest.json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.replace(tmp, os.path.join(outdir, "manifest.json"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("outdir")
    parser.add_argument("--only", help="comma-separated model names (default: all but %s)"
                        % ", ".join(EXTRA_MODELS))
    args = parser.parse_args()

    names = list(MODELS)
    if args.only:
        names = [n for n in args.only.split(",") if n]
        unknown = [n for n in names if n not in ALL_MODELS]
        if unknown:
            parser.error("unknown model(s): %s (known: %s)"
                         % (", ".join(unknown), ", ".join(ALL_MODELS)))

    os.makedirs(args.outdir, exist_ok=True)
    entries = []
    for name in names:
        start = time.monotonic()
        entries.append(export_one(name, args.outdir, list(ALL_MODELS).index(name)))
        print("exported %s (%.1f s)" % (name, time.monotonic() - start), flush=True)
    write_manifest(args.outdir, entries)
    # The folder is a build output: make its time stamp say it is fresh even
    # when every file in it was only overwritten.
    os.utime(args.outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
