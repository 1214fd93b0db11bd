#!/usr/bin/env python3
"""Glia through GObject introspection (PyGObject): load the embedded digits
model, run it on the held-out samples and check the outputs against the
reference written by models/digits/make-digits-model.py."""
import os
import sys
import unittest

import gi

gi.require_version("Glia", "1.0")
from gi.repository import GLib, Glia  # noqa: E402
import numpy as np  # noqa: E402

SRC = os.environ["GLIA_SOURCE_ROOT"]
DIGITS = os.path.join(SRC, "models", "digits")


def to_tensor(array):
    array = np.ascontiguousarray(array)
    dtype = {np.dtype("float32"): Glia.DataType.FLOAT, np.dtype("int64"): Glia.DataType.INT64}[array.dtype]
    return Glia.Tensor.new_from_data(dtype, list(array.shape), array.tobytes())


def to_numpy(tensor):
    dtype = {Glia.DataType.FLOAT: np.float32, Glia.DataType.INT64: np.int64}[tensor.get_dtype()]
    return np.frombuffer(tensor.get_data().get_data(), dtype=dtype).reshape(tensor.get_shape())


class DigitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = Glia.Model.new_from_file(os.path.join(DIGITS, "digits.onnx"))
        cls.pixels = np.load(os.path.join(DIGITS, "heldout_pixels.npy"))
        cls.labels = np.load(os.path.join(DIGITS, "heldout_labels.npy"))
        cls.ref_probs = np.load(os.path.join(DIGITS, "ref_probabilities.npy"))
        cls.ref_label = np.load(os.path.join(DIGITS, "ref_label.npy"))

    def test_model_description(self):
        self.assertEqual(self.model.get_loader_name(), "onnx")
        self.assertEqual(self.model.get_input_names(), ["pixels"])
        self.assertEqual(sorted(self.model.get_output_names()), ["label", "probabilities"])
        self.assertEqual(self.model.describe_value("pixels"), "float32[N,64]")

    def test_run_matches_reference(self):
        options = Glia.SessionOptions.new()
        options.set_providers(["cpu"])
        options.props.threads = 2
        session = Glia.Session.new(self.model, options)
        out = session.run({"pixels": to_tensor(self.pixels)})
        probs = to_numpy(out["probabilities"])
        label = to_numpy(out["label"])
        self.assertEqual(probs.shape, self.ref_probs.shape)
        self.assertLessEqual(float(np.max(np.abs(probs - self.ref_probs))), 1e-5)
        np.testing.assert_array_equal(label, self.ref_label)
        self.assertGreaterEqual(float(np.mean(label == self.labels)), 0.9)
        self.assertEqual(session.get_node_provider(0), "cpu")

    def test_batch_of_one_and_async(self):
        session = Glia.Session.new(self.model, None)
        loop = GLib.MainLoop()
        result = {}

        def done(source, res):
            try:
                result["out"] = source.run_finish(res)
            except GLib.Error as e:
                result["error"] = e
            finally:
                loop.quit()

        session.run_async({"pixels": to_tensor(self.pixels[3:4])}, None, done)
        loop.run()
        self.assertNotIn("error", result)
        probs = to_numpy(result["out"]["probabilities"])
        self.assertEqual(probs.shape, (1, 10))
        self.assertLessEqual(float(np.max(np.abs(probs - self.ref_probs[3:4]))), 1e-5)

    def test_errors_are_gerrors(self):
        session = Glia.Session.new(self.model, None)
        with self.assertRaises(GLib.Error) as cm:
            session.run({"pixels": to_tensor(self.pixels[:2, :10])})
        self.assertIn("pixels", cm.exception.message)
        with self.assertRaises(GLib.Error):
            session.run({})
        with self.assertRaises(GLib.Error):
            Glia.Model.new_from_file(os.path.join(DIGITS, "does-not-exist.onnx"))

    def test_tensor_npy_roundtrip(self):
        t = to_tensor(self.pixels[:5])
        back = Glia.Tensor.new_from_npy(t.to_npy())
        self.assertTrue(t.equal(back))

    def test_registry_lists_plugins(self):
        reg = Glia.Registry.get_default()
        names = reg.get_provider_names()
        self.assertIn("cpu", names)
        self.assertIn("onnx", reg.get_loader_names())
        plugins = {p.get_name(): p for p in reg.get_plugins() if p.get_name()}
        self.assertIn("provider:cpu", plugins["cpu"].get_features())


if __name__ == "__main__":
    unittest.main(verbosity=2)
