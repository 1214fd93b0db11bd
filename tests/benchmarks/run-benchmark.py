#!/usr/bin/python3
"""Side-by-side benchmark of Glia and ONNX Runtime (onnxruntime-node, CPU).

Usage:
    /usr/bin/python3 tests/benchmarks/run-benchmark.py [--build-dir DIR]
        [--models-dir DIR] [--models NAME,...] [--threads 1,2] [--rounds N]
        [--runs-scale X] [--glia-ep LIST] [--glia-level N]
        [--output docs/performance.md] [--chart docs/performance-ratios.png]
        [--no-write]

(scripts/bench builds Glia, installs the peer and runs this with the
defaults.)

For every model (randomly initialised torchvision classifiers, the
transformer encoder and the LSTM of tests/models/export-models.py, exported
once into --models-dir) and every thread count, both runtimes run the same
batch-1 input file (<name>.input1.npy, written by the export):

    glia bench MODEL --input NAME=FILE --threads T --level L --json ...
    node tests/benchmarks/ort-bench.mjs MODEL --input NAME=FILE --threads T ...

ONNX Runtime runs with intraOpNumThreads T, interOpNumThreads 1 and every
graph optimization. Each is a separate process; they alternate, model by
model, for --rounds rounds (Glia first in even rounds, ONNX Runtime first in
odd ones), so that a slow phase of the machine hits both. Per model and
thread count the report gives:

  latency    the median of every timed run of every round
  creation   the median over rounds of the time to make a session from the
             file: Glia's model load plus session creation, ONNX Runtime's
             InferenceSession.create (which also reads the file)
  peak RSS   the median over rounds of the process's peak resident memory
             (ru_maxrss, as GNU time reports it; see driver_peak_rss_kb())

and the ratios glia/ORT. Before timing, the outputs are checked: ONNX
Runtime's outputs on the input are saved, and `glia compare` runs Glia with
the benchmark's providers and level against them (max abs and rel diff are
printed and written); a benchmark of wrong answers is flagged.

Writes docs/performance.md (machine, versions, date, the command, the
tables) and docs/performance-ratios.png (matplotlib, Agg), unless --no-write.
Exit status 0, or 1 when a run failed or outputs disagree beyond tolerance.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

MODELS = ["resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1", "efficientnet_b0",
          "transformer_encoder", "lstm"]

# Timed runs and warmup runs per process, chosen so that a process takes a
# few seconds on a 2-core machine; --runs-scale multiplies the runs.
RUNS = {"resnet18": (12, 2), "resnet50": (6, 2), "mobilenet_v2": (15, 3),
        "squeezenet1_1": (25, 3), "efficientnet_b0": (12, 3),
        "transformer_encoder": (12, 2), "lstm": (100, 10)}

# Glia's outputs must agree with ONNX Runtime's within these (numpy.allclose).
ATOL = 1e-4
RTOL = 1e-3

TARGET_LATENCY = 0.9


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# GNU time, which reports the peak RSS of the command it runs as its own
# child: see driver_peak_rss_kb() for why the driver does not rely on its own
# os.wait4 alone.
GNU_TIME = "/usr/bin/time"


def have_gnu_time():
    try:
        return subprocess.run([GNU_TIME, "-f", "%M", "-o", os.devnull, "true"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    except OSError:
        return False


USE_GNU_TIME = have_gnu_time()


def run_measured(cmd, env=None, timeout=600):
    """Runs @cmd; returns (exit status, stdout, stderr, peak RSS in kB, wall
    seconds). The peak RSS is the command's ru_maxrss, as GNU time reports it
    when it is installed, else from os.wait4 (then never below the driver's
    own peak)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(mode="r") as rss_file:
        start = time.monotonic()
        if USE_GNU_TIME:
            cmd = [GNU_TIME, "-f", "%M", "-o", rss_file.name] + list(cmd)
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        # a blocking wait, the timeout on a timer thread: polling the child
        # (every 5 ms) woke the driver 200 times a second, on a 2-core
        # machine preempting one of the measured process's threads
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped
        rss_kb = usage.ru_maxrss
        if USE_GNU_TIME:
            # "Command exited with non-zero status N" may come first.
            lines = rss_file.read().split()
            rss_kb = int(lines[-1]) if lines and lines[-1].isdigit() else -1
        out.seek(0)
        err.seek(0)
        return (proc.returncode, out.read().decode("utf-8", "replace"),
                err.read().decode("utf-8", "replace"), rss_kb, wall)


def model_input_name(glia, path):
    """The model's one input, as `glia inspect --json` lists it. (Not read
    with the onnx module: see driver_peak_rss_kb().)"""
    status, out, err, _rss, _wall = run_measured([glia, "inspect", path, "--json"])
    if status != 0:
        raise RuntimeError("glia inspect %s failed: %s" % (path, err.strip()[-1000:]))
    names = [i["name"] for i in json.loads(out)["inputs"]]
    if len(names) != 1:
        raise RuntimeError("%s: expected one input, found %s" % (path, names))
    return names[0]


def driver_peak_rss_kb():
    """This process's peak RSS. On Linux a child's ru_maxrss starts from the
    peak of the process it was forked from (the high-water mark of the old
    image is kept across exec), so an RSS from this process's os.wait4 is
    never below this. GNU time forks the command from its own small image,
    which avoids that; without it the driver must stay small (no onnx, torch
    or matplotlib before the runs, models exported in a subprocess)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def export_models(models_dir, names):
    missing = [n for n in names
               if not (os.path.exists(os.path.join(models_dir, n + ".onnx"))
                       and os.path.exists(os.path.join(models_dir, n + ".input1.npy")))]
    if not missing:
        return
    log("exporting %s into %s" % (", ".join(missing), models_dir))
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "models", "export-models.py"),
                    models_dir, "--only", ",".join(missing)], check=True)


def glia_bench_cmd(args, model, input_arg, threads, runs, warmup):
    cmd = [args.glia, "bench", model, "--input", input_arg, "--threads", str(threads),
           "--runs", str(runs), "--warmup", str(warmup), "--json"]
    if args.glia_level is not None:
        cmd += ["--level", str(args.glia_level)]
    if args.glia_ep:
        cmd += ["--ep", args.glia_ep]
    return cmd


def ort_bench_cmd(args, model, input_arg, threads, runs, warmup, output_dir=None):
    cmd = [args.node, os.path.join(HERE, "ort-bench.mjs"), model, "--input", input_arg,
           "--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup)]
    if output_dir:
        cmd += ["--output-dir", output_dir]
    return cmd


def run_json(cmd, what):
    status, out, err, rss, _wall = run_measured(cmd)
    if status != 0:
        raise RuntimeError("%s failed (status %d): %s\n  command: %s"
                           % (what, status, err.strip()[-2000:], shlex.join(cmd)))
    try:
        return json.loads(out), rss
    except ValueError:
        raise RuntimeError("%s printed no JSON: %s" % (what, out[:500]))


def check_outputs(args, name, model, input_arg, workdir):
    """ORT's outputs on the input, then `glia compare` against them. Returns
    (max abs diff, max rel diff, pass, note)."""
    outdir = os.path.join(workdir, name + "-ort")
    run_json(ort_bench_cmd(args, model, input_arg, 1, 1, 0, outdir), "onnxruntime (check)")
    refs = []
    for f in sorted(os.listdir(outdir)):
        if f.endswith(".npy"):
            refs += ["--reference", "%s=%s" % (f[:-4], os.path.join(outdir, f))]
    cmd = [args.glia, "compare", model, "--input", input_arg, "--threads", str(max(args.threads)),
           "--atol", str(ATOL), "--rtol", str(RTOL), "--json"] + refs
    if args.glia_ep:
        cmd += ["--ep", args.glia_ep]
    if args.glia_level is not None:
        cmd += ["--level", str(args.glia_level)]
    status, out, err, _rss, _wall = run_measured(cmd)
    if status not in (0, 1) or not out.strip().startswith("{"):
        return None, None, False, "glia compare failed: %s" % err.strip()[-500:]
    report = json.loads(out)
    abs_diffs = [o["max_abs_diff"] for o in report["outputs"]]
    rel_diffs = [o["max_rel_diff"] for o in report["outputs"]]
    inf = float("inf")
    max_abs = max((inf if d is None else d) for d in abs_diffs)
    max_rel = max((inf if d is None else d) for d in rel_diffs)
    problems = [o["problem"] for o in report["outputs"] if o["problem"]]
    return max_abs, max_rel, report["pass"], "; ".join(problems)


def median(values):
    return statistics.median(values) if values else float("nan")


def ratio(a, b):
    return a / b if b else float("nan")


def benchmark(args):
    names = args.models
    export_models(args.models_dir, names)
    workdir = tempfile.mkdtemp(prefix="glia-bench-")
    inputs = {}
    for name in names:
        model = os.path.join(args.models_dir, name + ".onnx")
        inputs[name] = (model, "%s=%s" % (model_input_name(args.glia, model),
                                          os.path.join(args.models_dir, name + ".input1.npy")))

    checks = {}
    for name in names:
        model, input_arg = inputs[name]
        checks[name] = check_outputs(args, name, model, input_arg, workdir)
        max_abs, max_rel, ok, note = checks[name]
        log("check %-20s max abs diff %s  max rel diff %s  %s%s"
            % (name, "-" if max_abs is None else "%.3g" % max_abs,
               "-" if max_rel is None else "%.3g" % max_rel, "ok" if ok else "MISMATCH",
               " (%s)" % note if note else ""))

    args.driver_rss_kb = driver_peak_rss_kb()
    if not USE_GNU_TIME:
        log("%s not found: peak RSS from os.wait4, never below the driver's own %.0f MB"
            % (GNU_TIME, args.driver_rss_kb / 1024.0))
    if not USE_GNU_TIME and args.driver_rss_kb > 40 * 1024:
        raise RuntimeError("the driver's own peak RSS (%d kB) would hide the runtimes'"
                           % args.driver_rss_kb)

    # results[(name, threads)] = {"glia": {...}, "ort": {...}}
    results = {}
    for threads in args.threads:
        for rnd in range(args.rounds):
            for name in names:
                model, input_arg = inputs[name]
                runs, warmup = RUNS.get(name, (10, 2))
                runs = max(1, int(round(runs * args.runs_scale)))
                order = ["glia", "ort"] if rnd % 2 == 0 else ["ort", "glia"]
                entry = results.setdefault((name, threads), {
                    "glia": {"lat": [], "create": [], "rss": [], "providers": None},
                    "ort": {"lat": [], "create": [], "rss": []}})
                for runtime in order:
                    if runtime == "glia":
                        data, rss = run_json(glia_bench_cmd(args, model, input_arg, threads, runs,
                                                            warmup), "glia bench " + name)
                        create = data["model_load_ms"] + data["session_create_ms"]
                        entry["glia"]["providers"] = ",".join(data["providers"])
                        entry["glia"]["level"] = data.get("optimization_level")
                    else:
                        data, rss = run_json(ort_bench_cmd(args, model, input_arg, threads, runs,
                                                           warmup), "onnxruntime " + name)
                        create = data["session_create_ms"]
                        entry["ort"]["version"] = data.get("version")
                    e = entry[runtime]
                    e["lat"] += data["latencies_ms"]
                    e["create"].append(create)
                    e["rss"].append(rss)
                g, o = entry["glia"], entry["ort"]
                log("threads %d round %d/%d %-20s glia %8.3f ms  ort %8.3f ms"
                    % (threads, rnd + 1, args.rounds, name, median(g["lat"][-runs:]),
                       median(o["lat"][-runs:])))

    rows = []
    for threads in args.threads:
        for name in names:
            e = results[(name, threads)]
            g, o = e["glia"], e["ort"]
            row = {
                "model": name, "threads": threads,
                "glia_ms": median(g["lat"]), "ort_ms": median(o["lat"]),
                "glia_create_ms": median(g["create"]), "ort_create_ms": median(o["create"]),
                "glia_rss_mb": median(g["rss"]) / 1024.0, "ort_rss_mb": median(o["rss"]) / 1024.0,
                "glia_providers": g["providers"], "glia_level": g.get("level"),
                "ort_version": o.get("version"),
                "max_abs_diff": checks[name][0], "max_rel_diff": checks[name][1],
                "outputs_agree": checks[name][2],
            }
            row["latency_ratio"] = ratio(row["glia_ms"], row["ort_ms"])
            row["create_ratio"] = ratio(row["glia_create_ms"], row["ort_create_ms"])
            row["rss_ratio"] = ratio(row["glia_rss_mb"], row["ort_rss_mb"])
            rows.append(row)
    return rows, checks


def fmt_diff(v):
    return "-" if v is None else "%.2g" % v


def table(rows, threads):
    lines = [
        "| model | glia ms | ORT ms | latency glia/ORT | glia create ms | ORT create ms "
        "| create glia/ORT | glia RSS MB | ORT RSS MB | RSS glia/ORT | max abs diff |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r["threads"] != threads:
            continue
        flag = "" if r["outputs_agree"] else " (MISMATCH)"
        lines.append(
            "| %s | %.3f | %.3f | **%.2f** | %.1f | %.1f | %.2f | %.0f | %.0f | %.2f | %s%s |"
            % (r["model"], r["glia_ms"], r["ort_ms"], r["latency_ratio"], r["glia_create_ms"],
               r["ort_create_ms"], r["create_ratio"], r["glia_rss_mb"], r["ort_rss_mb"],
               r["rss_ratio"], fmt_diff(r["max_abs_diff"]), flag))
    return "\n".join(lines)


def print_table(rows, threads_list):
    for threads in threads_list:
        print("\nthreads = %d" % threads)
        print("%-20s %10s %10s %7s %9s %9s %7s %8s %8s %6s %9s" % (
            "model", "glia ms", "ORT ms", "ratio", "glia mk", "ORT mk", "ratio", "glia MB",
            "ORT MB", "ratio", "max diff"))
        for r in rows:
            if r["threads"] != threads:
                continue
            print("%-20s %10.3f %10.3f %7.2f %9.1f %9.1f %7.2f %8.0f %8.0f %6.2f %9s%s" % (
                r["model"], r["glia_ms"], r["ort_ms"], r["latency_ratio"], r["glia_create_ms"],
                r["ort_create_ms"], r["create_ratio"], r["glia_rss_mb"], r["ort_rss_mb"],
                r["rss_ratio"], fmt_diff(r["max_abs_diff"]),
                "" if r["outputs_agree"] else "  MISMATCH"))
    print("\n(mk: session creation from the file, ms; MB: peak RSS; ratios glia/ORT)")


def machine_description():
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = ", %.0f GiB memory" % (kb / 1024.0 / 1024.0)
    except (OSError, ValueError, IndexError):
        pass
    osname = platform.platform()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "%s, %d cores%s, %s (Linux %s)" % (cpu, os.cpu_count() or 0, mem, osname,
                                               platform.release())


def tool_version(cmd):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              universal_newlines=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_chart(rows, threads_list, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    for r in rows:
        if r["model"] not in names:
            names.append(r["model"])
    metrics = [("latency_ratio", "median latency glia/ORT", TARGET_LATENCY),
               ("create_ratio", "session creation glia/ORT", 1.0),
               ("rss_ratio", "peak RSS glia/ORT", 1.0)]
    fig, axes = plt.subplots(1, len(metrics), figsize=(15, 4.8), sharey=False)
    width = 0.8 / max(1, len(threads_list))
    for ax, (key, title, target) in zip(axes, metrics):
        for k, threads in enumerate(threads_list):
            values = [next(r[key] for r in rows if r["model"] == n and r["threads"] == threads)
                      for n in names]
            xs = [i + (k - (len(threads_list) - 1) / 2.0) * width for i in range(len(names))]
            ax.bar(xs, values, width, label="%d thread%s" % (threads, "" if threads == 1 else "s"))
        ax.axhline(target, color="red", linestyle="--", linewidth=1,
                   label="target %.1f" % target)
        ax.axhline(1.0, color="gray", linewidth=0.8)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=35, ha="right")
        ax.set_title(title)
        ax.set_ylabel("ratio (lower is better for glia)")
        ax.legend(fontsize=8)
    fig.suptitle("Glia vs ONNX Runtime (onnxruntime-node, CPU), batch 1")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_markdown(rows, threads_list, args, path, chart_path, command, elapsed):
    glia_version = tool_version([args.glia, "--version"])
    node_version = tool_version([args.node, "--version"])
    ort_version = next((r["ort_version"] for r in rows if r["ort_version"]), "unknown")
    providers = sorted({r["glia_providers"] for r in rows if r["glia_providers"]})
    levels = sorted({str(r["glia_level"]) for r in rows if r["glia_level"] is not None})
    try:
        with open(os.path.join(args.models_dir, "manifest.json")) as f:
            manifest = json.load(f)
        torch_version = "torch %s, torchvision %s" % (manifest["torch"], manifest["torchvision"])
    except (OSError, ValueError, KeyError):
        torch_version = "torch version unknown"

    def verdict(key, limit):
        bad = [r for r in rows if not (r[key] <= limit)]
        if not bad:
            return "met on every model and thread count"
        return "not met on " + ", ".join("%s@%d (%.2f)" % (r["model"], r["threads"], r[key])
                                         for r in bad)

    out = []
    out.append("# Performance: Glia and ONNX Runtime side by side\n")
    out.append("This file is written by `tests/benchmarks/run-benchmark.py`; do not edit it by "
               "hand. Rerun the benchmark to update it.\n")
    out.append("## Reproduce\n")
    bench_args = command.split("run-benchmark.py", 1)[-1].replace(" --build-dir build", "")
    out.append("```sh\nscripts/bench%s\n```\n" % bench_args)
    out.append("which builds Glia in `build/`, exports the models, installs the peer with "
               "`npm ci --ignore-scripts` in `tests/benchmarks/` when it is missing, and runs:\n")
    out.append("```sh\n%s\n```\n" % command)
    out.append("## Setup\n")
    out.append("- Date: %s (whole benchmark: %.0f s)" % (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), elapsed))
    out.append("- Machine: %s" % machine_description())
    out.append("- Glia: `%s`, providers `%s`, optimization level %s" % (
        glia_version, "`, `".join(providers) or "default", ", ".join(levels) or "default"))
    out.append("- ONNX Runtime: onnxruntime-node %s (CPU execution provider), Node.js %s; "
               "intraOpNumThreads = threads, interOpNumThreads 1, sequential execution, "
               "graph optimization level all" % (ort_version, node_version))
    out.append("- Models: exported by `tests/models/export-models.py` (%s; random weights, "
               "opset 17), batch 1, the same `.npy` input file for both runtimes" % torch_version)
    out.append("- %d rounds per thread count; in each, every model runs once in a fresh "
               "process per runtime, the two alternating (Glia first in even rounds)" % args.rounds)
    out.append("")
    out.append("## Method\n")
    out.append("- **latency**: median of every timed run of every round (`glia bench --json` "
               "`latencies_ms`; ORT: one `await session.run()` each, after warmup runs)")
    out.append("- **create**: median over rounds of the time from the model file to a ready "
               "session (Glia: model load + session creation; ORT: "
               "`InferenceSession.create(path)`)")
    if USE_GNU_TIME:
        out.append("- **RSS**: median over rounds of the process's peak resident set "
                   "(`ru_maxrss`, from GNU time `%M`); ORT's includes the Node.js runtime")
    else:
        out.append("- **RSS**: median over rounds of the process's peak resident set "
                   "(`ru_maxrss` from `os.wait4`; GNU time was missing, so no value is below "
                   "the driver's own peak, %.0f MB here); ORT's includes the Node.js runtime"
                   % (args.driver_rss_kb / 1024.0))
    out.append("- **max abs diff**: before timing, `glia compare --reference` runs Glia against "
               "ONNX Runtime's outputs on the same input (tolerance atol %g, rtol %g); "
               "MISMATCH marks a model whose outputs disagree" % (ATOL, RTOL))
    out.append("")
    out.append("Targets: latency ratio <= %.1f, creation ratio <= 1, RSS ratio <= 1 on every "
               "model at 1 and 2 threads.\n" % TARGET_LATENCY)
    out.append("- latency: %s" % verdict("latency_ratio", TARGET_LATENCY))
    out.append("- creation: %s" % verdict("create_ratio", 1.0))
    out.append("- RSS: %s" % verdict("rss_ratio", 1.0))
    out.append("")
    for threads in threads_list:
        out.append("## %d thread%s\n" % (threads, "" if threads == 1 else "s"))
        out.append(table(rows, threads))
        out.append("")
    out.append("![glia/ORT ratios](%s)\n" % os.path.relpath(chart_path, os.path.dirname(path)))
    out.append("The machine may have been busy while this ran; compare ratios measured in one "
               "run, not times across files.")
    text = "\n".join(out) + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--models-dir", help="default: BUILD_DIR/tests/benchmarks/models")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs-scale", type=float, default=1.0,
                        help="multiply every model's timed runs")
    parser.add_argument("--glia-ep", help="glia --ep list (default: glia's default providers)")
    parser.add_argument("--glia-level", type=int, default=3,
                        help="glia optimization level (default 3, as ORT's 'all')")
    parser.add_argument("--node", default="node")
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "performance.md"))
    parser.add_argument("--chart", default=os.path.join(ROOT, "docs", "performance-ratios.png"))
    parser.add_argument("--no-write", action="store_true",
                        help="print the table only; write neither file")
    args = parser.parse_args()

    args.models = [m for m in args.models.split(",") if m]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        parser.error("unknown model(s) %s (known: %s)" % (", ".join(unknown), ", ".join(MODELS)))
    try:
        args.threads = [int(t) for t in args.threads.split(",") if t]
    except ValueError:
        parser.error("--threads: expected comma-separated whole numbers")
    if not args.threads or min(args.threads) < 1 or args.rounds < 1 or args.runs_scale <= 0:
        parser.error("--threads, --rounds and --runs-scale must be positive")
    args.build_dir = os.path.abspath(args.build_dir)
    args.glia = os.path.join(args.build_dir, "host", "cli", "glia")
    if not os.access(args.glia, os.X_OK):
        parser.error("%s not found: build Glia first (scripts/build)" % args.glia)
    if not os.path.isdir(os.path.join(HERE, "node_modules", "onnxruntime-node")):
        parser.error("onnxruntime-node is not installed: run `npm ci --ignore-scripts` in %s"
                     % HERE)
    if args.models_dir is None:
        args.models_dir = os.path.join(args.build_dir, "tests", "benchmarks", "models")
    os.makedirs(args.models_dir, exist_ok=True)

    command = shlex.join([sys.executable,
                          os.path.relpath(os.path.abspath(__file__), ROOT)] + sys.argv[1:])
    start = time.monotonic()
    try:
        rows, checks = benchmark(args)
    except (RuntimeError, subprocess.CalledProcessError) as e:
        log("run-benchmark: %s" % e)
        return 1
    elapsed = time.monotonic() - start
    print_table(rows, args.threads)
    if not args.no_write:
        write_chart(rows, args.threads, args.chart)
        write_markdown(rows, args.threads, args, args.output, args.chart, command, elapsed)
        log("wrote %s and %s" % (args.output, args.chart))
    log("benchmark took %.0f s" % elapsed)
    return 0 if all(c[2] for c in checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
