// The example models through Glia's GObject-introspection binding from
// JavaScript (GJS): inputs and references are read with Glia's own .npy
// reader, the outputs must match the references.
//
// Usage: gjs test_model.js DIR   (DIR as written by make-example-model.py)
const {GLib, Glia} = imports.gi;
const System = imports.system;

const dir = ARGV[0];
const path = name => GLib.build_filenamev([dir, name]);

function check(cond, what) {
    if (!cond) {
        printerr(`FAIL: ${what}`);
        System.exit(1);
    }
    print(`ok - ${what}`);
}

function values(tensor) {
    const u8 = tensor.get_data().toArray();
    const Type = tensor.get_dtype() === Glia.DataType.DOUBLE ? Float64Array : Float32Array;
    return new Type(u8.buffer, u8.byteOffset, u8.byteLength / Type.BYTES_PER_ELEMENT);
}

function runModel(model, input, output, tolerance) {
    const options = Glia.SessionOptions.new();
    options.threads = 2;
    const session = Glia.Session.new(Glia.Model.new_from_file(path(model)), options);
    const x = Glia.Tensor.new_from_npy_file(path(`${input}.npy`));
    const y = session.run({[input]: x})[output];
    const ref = Glia.Tensor.new_from_npy_file(path(`${output}_ref.npy`));
    check(y.get_dtype() === ref.get_dtype(), `${model}: ${output} is ${Glia.data_type_get_name(y.get_dtype())}`);
    check(y.get_shape().join() === ref.get_shape().join(), `${model}: shape [${y.get_shape()}]`);
    const got = values(y), want = values(ref);
    let worst = 0;
    for (let i = 0; i < got.length; i++)
        worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
    check(worst <= tolerance, `${model}: max relative error ${worst.toExponential(2)} <= ${tolerance}`);
}

runModel('example.onnx', 'x', 'y', 1e-4);
runModel('example-f64.onnx', 'x64', 'y64', 1e-12);
