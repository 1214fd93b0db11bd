#!/bin/sh
# test-sdk.sh: Glia as a third party gets it. Installs this build into a
# staging directory, checks the layout (library, headers, pkg-config files,
# GIR/typelib, plugins, CLI, man page), builds sdk/example and sdk/template
# out of tree with nothing but pkg-config pointing into the stage, runs the
# example's own tests (C, Python, GJS), then runs the example model through
# the installed `glia` with the plugin found through GLIA_PLUGIN_PATH: once
# per execution provider (cpu, the test providers, oneDNN when installed),
# with the same binary and model, and checks every output against the numpy
# reference and against each other.
#
# Usage: test-sdk.sh SOURCE_ROOT BUILD_ROOT WORKDIR MESON PYTHON
set -eu
SRC=$1
BUILD=$2
WORK=$3
MESON=$4
PYTHON=$5

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() {
  echo "== $*"
}
# runs a command quietly, showing its output only when it fails
quiet() {
  log=$WORK/last.log
  "$@" >"$log" 2>&1 || {
    cat "$log" >&2
    fail "$*"
  }
}

rm -rf "$WORK"
mkdir -p "$WORK"
STAGE=$WORK/stage

step "install into $STAGE"
"$MESON" install -C "$BUILD" --no-rebuild --quiet --destdir "$STAGE" >"$WORK/install.log" 2>&1 || {
  cat "$WORK/install.log" >&2
  fail "meson install (every installed target must be built: ninja -C $BUILD)"
}

# The .pc files say prefix=/usr/local (or whatever -Dprefix was); point a
# copy of them into the stage.
PC=$(find "$STAGE" -path '*/pkgconfig/glia-plugin-1.0.pc' | head -n 1)
[ -n "$PC" ] || fail "glia-plugin-1.0.pc is not installed"
PREFIX=$(sed -n 's/^prefix=//p' "$PC")
ROOT=$STAGE$PREFIX
mkdir -p "$WORK/pkgconfig"
for f in "$(dirname "$PC")"/glia-*.pc; do
  sed "s|^prefix=.*|prefix=$ROOT|" "$f" >"$WORK/pkgconfig/$(basename "$f")"
done
PKG_CONFIG_PATH=$WORK/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH
LIBDIR=$(pkg-config --variable=libdir glia-1.0)
INCLUDEDIR=$(pkg-config --variable=includedir glia-1.0)/glia-1.0
PLUGINDIR=$(pkg-config --variable=plugindir glia-plugin-1.0)
GLIA=$ROOT/bin/glia

step "installed layout"
for f in "$LIBDIR/libglia-1.0.so" "$LIBDIR/libglia-1.0.so.0" "$GLIA" \
  "$PLUGINDIR/libglia-cpu.so" "$PLUGINDIR/libglia-onnx.so"; do
  [ -e "$f" ] || fail "$f is not installed"
done
for h in glia.h glia-version.h glia-tensor.h glia-session.h glia-plugin.h glia-kernel.h \
  glia-graph.h glia-types.h glia-provider.h glia-loader.h glia-module.h; do
  [ -f "$INCLUDEDIR/$h" ] || fail "header $h is not installed in $INCLUDEDIR"
done
if [ -f "$BUILD/host/Glia-1.0.typelib" ]; then
  TYPELIB=$(find "$ROOT" -name Glia-1.0.typelib | head -n 1)
  [ -n "$TYPELIB" ] || fail "Glia-1.0.typelib is not installed"
  [ -n "$(find "$ROOT" -path '*/gir-1.0/Glia-1.0.gir')" ] || fail "Glia-1.0.gir is not installed"
  GI_TYPELIB_PATH=$(dirname "$TYPELIB")${GI_TYPELIB_PATH:+:$GI_TYPELIB_PATH}
  export GI_TYPELIB_PATH
fi
if [ -f "$BUILD/docs/glia.1" ]; then
  MAN=$(find "$ROOT" -path '*/man1/glia.1' | head -n 1)
  [ -n "$MAN" ] || fail "the glia(1) man page is not installed"
  for word in plugins inspect run bench GLIA_PLUGIN_PATH '\\-\\-ep'; do
    grep -q -- "$word" "$MAN" || fail "glia.1 does not mention $word"
  done
fi
# what a plugin compiles and links with
CFLAGS=$(pkg-config --cflags glia-plugin-1.0)
LIBS=$(pkg-config --libs glia-plugin-1.0)
case " $CFLAGS " in *" -I$INCLUDEDIR "*) ;; *) fail "glia-plugin-1.0 cflags lack -I$INCLUDEDIR: $CFLAGS" ;; esac
case " $CFLAGS " in *glib-2.0*) ;; *) fail "glia-plugin-1.0 cflags lack GLib: $CFLAGS" ;; esac
for l in -lglia-1.0 -lgmodule-2.0 -lgobject-2.0 -lglib-2.0; do
  case " $LIBS " in *" $l "*) ;; *) fail "glia-plugin-1.0 libs lack $l: $LIBS" ;; esac
done
for v in MAJOR MINOR; do
  header=$(sed -n "s/^#define GLIA_PLUGIN_ABI_$v \([0-9]*\).*/\1/p" "$INCLUDEDIR/glia-plugin.h")
  lower=$(echo "$v" | tr A-Z a-z)
  pc=$(pkg-config --variable="abi_$lower" glia-plugin-1.0)
  [ "$header" = "$pc" ] || fail "glia-plugin-1.0.pc says abi_$lower=$pc, glia-plugin.h says $header"
done

LD_LIBRARY_PATH=$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
GLIA_REGISTRY_CACHE=
export GLIA_REGISTRY_CACHE

step "the installed glia finds its own plugins, not the build tree's"
(unset GLIA_PLUGIN_PATH; "$GLIA" plugins --json) >"$WORK/plugins.json" || fail "glia plugins"
"$PYTHON" - "$WORK/plugins.json" "$PLUGINDIR" "$BUILD" <<'PY'
import json, os, sys
plugins = json.load(open(sys.argv[1]))
plugindir, build = (os.path.realpath(p) for p in sys.argv[2:])
names = {p["name"]: p for p in plugins}
for name in ("cpu", "onnx"):
    if name not in names or names[name]["status"] == "rejected":
        sys.exit(f"FAIL: plugin {name} not found or rejected: {plugins}")
for p in plugins:
    path = os.path.realpath(p["path"])
    if not path.startswith(plugindir + os.sep):
        sys.exit(f"FAIL: {p['name']} comes from {path}, not {plugindir}")
print("ok -", ", ".join(sorted(names)), "from", plugindir)
PY

step "build sdk/example out of tree"
quiet "$MESON" setup "$WORK/example" "$SRC/sdk/example" -Dpython="$PYTHON"
quiet ninja -C "$WORK/example"
"$MESON" test -C "$WORK/example" --list >"$WORK/example-tests.txt" 2>/dev/null
WANT="example-ops example-model-python"
command -v gjs >/dev/null && WANT="$WANT example-model-gjs"
for t in $WANT; do
  grep -q "$t" "$WORK/example-tests.txt" || fail "the example project did not register test $t"
done
step "the example's tests: $WANT"
"$MESON" test -C "$WORK/example" --no-rebuild --print-errorlogs >"$WORK/example-test.log" 2>&1 || {
  cat "$WORK/example-test.log" "$WORK/example/meson-logs/testlog.txt" >&2
  fail "the example's tests"
}
grep -E '^ *[0-9]+/[0-9]+ ' "$WORK/example-test.log"

step "build sdk/template out of tree"
quiet "$MESON" setup --werror "$WORK/template" "$SRC/sdk/template"
quiet ninja -C "$WORK/template"
GLIA_PLUGIN_PATH=$WORK/template "$GLIA" plugins --json >"$WORK/template.json"
grep -q '"op-set:com.example.myops"' "$WORK/template.json" || fail "the template plugin is not found"

step "one installed glia, one model, several providers"
MODELS=$WORK/example/tests
mkdir -p "$WORK/providers" "$WORK/out"
cp "$BUILD/tests/plugins/libtest-providers.so" "$WORK/providers/"
GLIA_PLUGIN_PATH=$WORK/example:$WORK/providers
export GLIA_PLUGIN_PATH
EPS="cpu testa,cpu testb,cpu"
"$GLIA" plugins --json | grep -q '"provider:onednn"' && EPS="$EPS onednn,cpu"
for ep in $EPS; do
  quiet "$GLIA" run "$MODELS/example.onnx" --ep "$ep" --threads 2 -i x="$MODELS/x.npy" \
    -o "$WORK/out/$ep"
  "$GLIA" inspect --json "$MODELS/example.onnx" --ep "$ep" >"$WORK/out/$ep.json" ||
    fail "glia inspect --ep $ep"
done
"$PYTHON" - "$MODELS" "$WORK/out" $EPS <<'PY'
import json, os, sys
import numpy as np
models, out, eps = sys.argv[1], sys.argv[2], sys.argv[3:]
ref = np.load(os.path.join(models, "y_ref.npy"))
cpu = np.load(os.path.join(out, "cpu", "y.npy"))
for ep in eps:
    y = np.load(os.path.join(out, ep, "y.npy"))
    nodes = {n["name"]: n["provider"] for n in json.load(open(os.path.join(out, ep + ".json")))["session"]["nodes"]}
    if nodes["rms_norm"] != "custom" or nodes["swish"] != "custom":
        sys.exit(f"FAIL --ep {ep}: the custom ops ran on {nodes}")
    first = ep.split(",")[0]
    if first.startswith("test") and first not in nodes.values():
        sys.exit(f"FAIL --ep {ep}: {first} runs no node: {nodes}")
    if y.shape != ref.shape or y.dtype != ref.dtype:
        sys.exit(f"FAIL --ep {ep}: y is {y.dtype}{y.shape}")
    err_ref = float(np.max(np.abs(y - ref) / np.maximum(1, np.abs(ref))))
    err_cpu = float(np.max(np.abs(y - cpu) / np.maximum(1, np.abs(cpu))))
    if not (err_ref <= 1e-4 and err_cpu <= 1e-5):
        sys.exit(f"FAIL --ep {ep}: max relative error {err_ref:.3g} vs numpy, {err_cpu:.3g} vs cpu")
    print(f"ok - glia run --ep {ep}: {err_ref:.2g} from numpy, {err_cpu:.2g} from --ep cpu;",
          ", ".join(f"{k}:{v}" for k, v in sorted(nodes.items())))
PY

if [ -n "${GI_TYPELIB_PATH:-}" ]; then
  step "the same model and providers from Python, on the installed libglia"
  "$PYTHON" -c '
import sys, gi
gi.require_version("Glia", "1.0")
from gi.repository import Glia
Glia.get_version()
maps = [l.split()[-1] for l in open("/proc/self/maps") if "libglia-1.0.so" in l]
if not maps or not all(m.startswith(sys.argv[1]) for m in maps):
    sys.exit("FAIL: Python loaded libglia from %s" % sorted(set(maps)))
print("ok - Python uses", maps[0])' "$STAGE" || fail "Python does not use the installed libglia"
  for ep in testa,cpu testb,cpu; do
    "$PYTHON" "$SRC/sdk/example/tests/test_model.py" "$MODELS" "$ep" || fail "Python --ep $ep"
  done
fi
echo "ok - SDK"
