// Glia from JavaScript (GJS): run the embedded digits model on the held-out
// samples and compare with the reference outputs, read with Glia's own .npy
// reader.
const {GLib, Glia} = imports.gi;
const System = imports.system;

const src = GLib.getenv('GLIA_SOURCE_ROOT');
const dir = GLib.build_filenamev([src, 'models', 'digits']);
const path = name => GLib.build_filenamev([dir, name]);

function check(cond, what) {
    if (!cond) {
        printerr(`FAIL: ${what}`);
        System.exit(1);
    }
    print(`ok - ${what}`);
}

function floats(tensor) {
    const u8 = tensor.get_data().toArray();
    return new Float32Array(u8.buffer, u8.byteOffset, u8.byteLength / 4);
}

function int64s(tensor) {
    const u8 = tensor.get_data().toArray();
    return new BigInt64Array(u8.buffer, u8.byteOffset, u8.byteLength / 8);
}

const model = Glia.Model.new_from_file(path('digits.onnx'));
check(model.get_input_names().join() === 'pixels', 'model input is pixels');

const options = Glia.SessionOptions.new();
options.set_providers(['cpu']);
const session = Glia.Session.new(model, options);
const pixels = Glia.Tensor.new_from_npy_file(path('heldout_pixels.npy'));
const out = session.run({pixels});

const probs = floats(out['probabilities']);
const ref = floats(Glia.Tensor.new_from_npy_file(path('ref_probabilities.npy')));
check(probs.length === ref.length && probs.length > 0, `${probs.length} probabilities`);
let maxDiff = 0;
for (let i = 0; i < probs.length; i++)
    maxDiff = Math.max(maxDiff, Math.abs(probs[i] - ref[i]));
check(maxDiff <= 1e-5, `max abs diff ${maxDiff} <= 1e-5`);

const labels = int64s(out['label']);
const refLabels = int64s(Glia.Tensor.new_from_npy_file(path('ref_label.npy')));
const truth = int64s(Glia.Tensor.new_from_npy_file(path('heldout_labels.npy')));
let same = 0, correct = 0;
for (let i = 0; i < labels.length; i++) {
    if (labels[i] === refLabels[i])
        same++;
    if (labels[i] === truth[i])
        correct++;
}
check(same === refLabels.length, 'labels equal the reference');
check(correct / truth.length >= 0.9, `accuracy ${(correct / truth.length).toFixed(4)}`);

let threw = false;
try {
    session.run({});
} catch (e) {
    threw = e.message.includes('pixels');
}
check(threw, 'a missing input throws a GLib.Error naming it');
