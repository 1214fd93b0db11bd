// ort-bench.mjs: the peer side of Glia's side-by-side benchmark: one model in
// onnxruntime-node (CPU execution provider), timed the way `glia bench --json`
// times Glia, printing one JSON object on stdout.
//
// Usage:
//   node tests/benchmarks/ort-bench.mjs MODEL --input NAME=FILE.npy [...]
//       [--threads N] [--runs N] [--warmup N] [--output-dir DIR] [--profile PREFIX]
//
// The session runs with intraOpNumThreads N, interOpNumThreads 1, sequential
// execution and every graph optimization. session_create_ms covers
// InferenceSession.create(MODEL), which reads and parses the file too (the
// driver compares it with Glia's model load plus session creation). Each
// run's latency is the time of one `await session.run(feeds)`. With
// --output-dir the outputs of the last run are written there as
// <output>.npy, for the driver's check that both runtimes agree. With
// --profile, ONNX Runtime's profiler times every node of every run and
// writes its trace to PREFIX_<date>.json when the session is released (read
// by ort-layers.py); the profiler adds to the latencies.
//
// Run by tests/benchmarks/run-benchmark.py; install the peer first with
// `npm ci --ignore-scripts` in tests/benchmarks (the CPU binaries ship in the
// package, nothing is downloaded by a script).

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

function usage(message) {
  process.stderr.write(`ort-bench: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = {
    model: null, inputs: [], threads: 1, runs: 20, warmup: 2, outputDir: null, profile: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    const count = (min) => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) usage(`${a} ${v}: must be a whole number >= ${min}`);
      return n;
    };
    if (a === '--input') {
      const spec = value();
      const eq = spec.indexOf('=');
      if (eq <= 0) usage(`--input ${spec}: expected NAME=FILE.npy`);
      args.inputs.push([spec.slice(0, eq), spec.slice(eq + 1)]);
    } else if (a === '--threads') args.threads = count(1);
    else if (a === '--runs') args.runs = count(1);
    else if (a === '--warmup') args.warmup = count(0);
    else if (a === '--output-dir') args.outputDir = value();
    else if (a === '--profile') args.profile = value();
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else if (args.model === null) args.model = a;
    else usage(`unexpected argument ${a}`);
  }
  if (args.model === null) usage('no MODEL given');
  return args;
}

// .npy descr -> [ort type, TypedArray]
const NPY_TYPES = {
  '<f4': ['float32', Float32Array],
  '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array],
  '<i4': ['int32', Int32Array],
  '|u1': ['uint8', Uint8Array],
  '|i1': ['int8', Int8Array],
  '|b1': ['bool', Uint8Array],
};

function readNpy(path) {
  const buf = readFileSync(path);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path}: not an .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !(descr in NPY_TYPES) || fortran !== 'False' || shapeText === undefined)
    throw new Error(`${path}: unsupported .npy header ${header.trim()}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const [type, Ctor] = NPY_TYPES[descr];
  const offset = start + headerLen;
  const n = shape.reduce((a, b) => a * b, 1);
  // Copy into an aligned buffer of its own.
  const bytes = new Uint8Array(n * Ctor.BYTES_PER_ELEMENT);
  bytes.set(buf.subarray(offset, offset + bytes.length));
  const data = new Ctor(bytes.buffer);
  return new ort.Tensor(type, type === 'bool' ? Uint8Array.from(data) : data, shape);
}

const DESCR = {
  float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4', uint8: '|u1', int8: '|i1',
  bool: '|b1',
};

function writeNpy(path, tensor) {
  const descr = DESCR[tensor.type];
  if (!descr) throw new Error(`cannot write a ${tensor.type} tensor`);
  const dims = tensor.dims.map(String);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const data = tensor.data;
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  writeFileSync(path, Buffer.concat([prefix, Buffer.from(header, 'latin1'), body]));
}

function percentile(sorted, p) {
  const rank = Math.ceil((p * sorted.length) / 100);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1];
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const feeds = {};
  for (const [name, path] of args.inputs) feeds[name] = readNpy(path);

  const t0 = performance.now();
  const session = await ort.InferenceSession.create(args.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    ...(args.profile !== null ? { enableProfiling: true, profileFilePrefix: args.profile } : {}),
  });
  const createMs = performance.now() - t0;

  let outputs = null;
  for (let i = 0; i < args.warmup; i++) outputs = await session.run(feeds);
  const latencies = [];
  for (let i = 0; i < args.runs; i++) {
    const start = performance.now();
    outputs = await session.run(feeds);
    latencies.push(performance.now() - start);
  }
  if (args.outputDir !== null) {
    mkdirSync(args.outputDir, { recursive: true });
    for (const name of session.outputNames) writeNpy(join(args.outputDir, `${name}.npy`), outputs[name]);
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const result = {
    runtime: 'onnxruntime-node',
    version: ort.env.versions?.common ?? null,
    model: args.model,
    threads: args.threads,
    runs: args.runs,
    warmup: args.warmup,
    session_create_ms: createMs,
    p50_ms: percentile(sorted, 50),
    p90_ms: percentile(sorted, 90),
    min_ms: sorted[0],
    mean_ms: latencies.reduce((a, b) => a + b, 0) / latencies.length,
    latencies_ms: latencies,
  };
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  await session.release();
}

main().catch((e) => {
  process.stderr.write(`ort-bench: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
