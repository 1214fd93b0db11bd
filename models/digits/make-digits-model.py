#!/usr/bin/python3
"""Builds Glia's default example model: a small MLP for 8x8 handwritten digits.

Run with Debian's Python (it has numpy, scikit-learn and onnx):

    /usr/bin/python3 models/digits/make-digits-model.py [OUTDIR]

OUTDIR defaults to the folder of this script. No network: the data is the
digits set bundled with scikit-learn (1797 images, 8x8 pixels valued 0..16).

Writes:
  digits.onnx            input "pixels" float32 [N, 64], raw 0..16 values;
                         outputs "probabilities" float32 [N, 10] and
                         "label" int64 [N]. The graph scales the pixels itself:
                         Mul(1/16) -> Gemm -> Relu -> Gemm -> Softmax, and
                         ArgMax(axis=1, keepdims=0) on the logits.
  heldout_pixels.npy     float32 [M, 64], the held-out images (raw 0..16)
  heldout_labels.npy     int64 [M], their true digits
  ref_probabilities.npy  float32 [M, 10], the graph's math done by numpy
  ref_label.npy          int64 [M], argmax of the logits done by numpy

Everything is seeded, so a rerun with the same library versions gives the
same files.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

SEED = 0
HIDDEN = 32
MIN_ACCURACY = 0.95
SCALE = np.float32(1.0 / 16.0)  # exact in binary, so the in-graph scaling is exact


def train():
    images, labels = load_digits(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(
        images, labels, test_size=0.2, stratify=labels, random_state=SEED)
    mlp = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", solver="adam",
                        alpha=1e-4, max_iter=500, random_state=SEED)
    mlp.fit(train_x.astype(np.float32) * SCALE, train_y)
    return mlp, test_x.astype(np.float32), test_y.astype(np.int64)


def build_model(mlp, accuracy, n_heldout):
    w1 = mlp.coefs_[0].astype(np.float32)       # [64, HIDDEN]
    b1 = mlp.intercepts_[0].astype(np.float32)  # [HIDDEN]
    w2 = mlp.coefs_[1].astype(np.float32)       # [HIDDEN, 10]
    b2 = mlp.intercepts_[1].astype(np.float32)  # [10]

    initializers = [
        numpy_helper.from_array(np.array(SCALE, dtype=np.float32), "pixel_scale"),
        numpy_helper.from_array(w1, "fc1.weight"),
        numpy_helper.from_array(b1, "fc1.bias"),
        numpy_helper.from_array(w2, "fc2.weight"),
        numpy_helper.from_array(b2, "fc2.bias"),
    ]
    nodes = [
        helper.make_node("Mul", ["pixels", "pixel_scale"], ["scaled"], name="scale"),
        helper.make_node("Gemm", ["scaled", "fc1.weight", "fc1.bias"], ["fc1"], name="fc1"),
        helper.make_node("Relu", ["fc1"], ["hidden"], name="relu"),
        helper.make_node("Gemm", ["hidden", "fc2.weight", "fc2.bias"], ["logits"], name="fc2"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=1),
        helper.make_node("ArgMax", ["logits"], ["label"], name="argmax", axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes, "digits",
        inputs=[helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 64])],
        outputs=[
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10]),
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
        ],
        initializer=initializers,
        doc_string="8x8 digit classifier: raw pixels 0..16 in, class probabilities and label out")
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8,
        producer_name="glia models/digits/make-digits-model.py", producer_version="1",
        doc_string="MLP 64-%d-10 (ReLU) trained by scikit-learn on its bundled digits data set; "
                   "held-out accuracy %.4f on %d images" % (HIDDEN, accuracy, n_heldout))
    helper.set_model_props(model, {
        "dataset": "sklearn.datasets.load_digits (80/20 stratified split, seed %d)" % SEED,
        "heldout_accuracy": "%.4f" % accuracy,
        "input_range": "raw pixel values 0..16; the graph multiplies by 1/16",
    })
    onnx.checker.check_model(model, full_check=True)
    return model, (w1, b1, w2, b2)


def reference(pixels, weights):
    """The graph's math in float64, rounded to the outputs' float32."""
    w1, b1, w2, b2 = (w.astype(np.float64) for w in weights)
    x = pixels.astype(np.float64) * float(SCALE)
    hidden = np.maximum(x @ w1 + b1, 0.0)
    logits = hidden @ w2 + b2
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    return probabilities.astype(np.float32), logits.argmax(axis=1).astype(np.int64), logits


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    mlp, heldout_x, heldout_y = train()

    sklearn_accuracy = mlp.score(heldout_x * SCALE, heldout_y)
    model, weights = build_model(mlp, sklearn_accuracy, len(heldout_y))
    probabilities, label, logits = reference(heldout_x, weights)

    accuracy = float((label == heldout_y).mean())
    if accuracy < MIN_ACCURACY:
        sys.exit("held-out accuracy %.4f is below %.2f" % (accuracy, MIN_ACCURACY))
    if not np.array_equal(label, mlp.predict(heldout_x * SCALE)):
        sys.exit("the graph's math disagrees with scikit-learn's predictions")
    # A runtime computing in float32 must pick the same label: no near ties.
    top2 = np.sort(logits, axis=1)[:, -2:]
    margin = float((top2[:, 1] - top2[:, 0]).min())
    if margin < 1e-3:
        sys.exit("a held-out sample has two logits within %.2g: labels would be fragile" % margin)

    onnx.save(model, os.path.join(outdir, "digits.onnx"))
    np.save(os.path.join(outdir, "heldout_pixels.npy"), heldout_x)
    np.save(os.path.join(outdir, "heldout_labels.npy"), heldout_y)
    np.save(os.path.join(outdir, "ref_probabilities.npy"), probabilities)
    np.save(os.path.join(outdir, "ref_label.npy"), label)

    print("train images %d, held-out images %d" % (1797 - len(heldout_y), len(heldout_y)))
    print("held-out accuracy %.4f (%d of %d wrong)"
          % (accuracy, int((label != heldout_y).sum()), len(heldout_y)))
    print("smallest gap between the two largest logits: %.4f" % margin)
    print("digits.onnx: %d bytes" % os.path.getsize(os.path.join(outdir, "digits.onnx")))


main()
