#!/usr/bin/env python3
"""Writes the glia(1) man page from the built `glia` tool's own help: its
commands and every command's options come from `glia --help` and
`glia help COMMAND`, so the page cannot drift from the program. The prose
around them (description, files, examples) is here.

Usage: make-man.py GLIA OUTPUT PLUGINDIR
"""
import re
import subprocess
import sys


def esc(text):
    """Roff-escapes running text."""
    text = text.replace("\\", "\\e").replace("-", "\\-").replace("\u2026", "...")
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.M)


def help_text(glia, *args):
    return subprocess.run([glia, *args], check=True, capture_output=True, text=True,
                          env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"}).stdout


def sections(text):
    """Splits help output into {heading: [lines]} at lines ending in ':'."""
    out, current = {"": []}, ""
    for line in text.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            current = line[:-1]
            out[current] = []
        else:
            out[current].append(line)
    return out


def paragraphs(lines):
    """Roff for free text: paragraphs, with indented lines kept as examples."""
    roff, para = [], []

    def flush():
        if para:
            roff.append(".PP\n" + esc(" ".join(para)))
            para.clear()

    for line in lines:
        if not line.strip():
            flush()
        elif line.startswith("  "):
            flush()
            roff.append(".PP\n.RS\n.nf\n" + esc(line.strip()) + "\n.fi\n.RE")
        else:
            para.append(line.strip())
    flush()
    return roff


OPTION = re.compile(r"^\s+((?:-\w, )?--[\w-]+(?:=\S+)?)\s{2,}(.*)$")


def options(lines):
    roff = []
    for line in lines:
        m = OPTION.match(line)
        if m:
            roff.append(".TP\n.B " + esc(m.group(1)) + "\n" + esc(m.group(2)))
    return roff


def command_section(glia, name, summary):
    s = sections(help_text(glia, "help", name))
    # "Usage:" holds the usage line, then the description up to the first heading
    lines = s.get("Usage", [])
    first = next(i for i, l in enumerate(lines) if l.strip())
    roff = [f'.SS "{esc(lines[first].strip())}"', esc(summary) + "."]
    roff += paragraphs(lines[first + 1:])
    opts = options(s.get("Application Options", []))
    if opts:
        roff.append(".PP\nOptions:")
        roff += opts
    return roff


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    glia, output, plugindir = sys.argv[1:]
    version = help_text(glia, "--version").split()[-1]
    top = sections(help_text(glia, "--help"))
    commands = []
    for line in top["Commands"]:
        m = re.match(r"^\s+(\S+)\s+(.*)$", line)
        if m and m.group(1) != "help":
            commands.append((m.group(1), m.group(2)))

    page = [
        f'.TH GLIA 1 "" "Glia {version}" "User Commands"',
        ".SH NAME",
        "glia \\- run and inspect ML models with the Glia runtime",
        ".SH SYNOPSIS",
        ".B glia\n.I COMMAND\n[\\fIOPTION\\fR...] [\\fIARGUMENT\\fR...]",
        ".br\n.B glia help\n[\\fICOMMAND\\fR]",
        ".br\n.B glia \\-\\-version",
        ".SH DESCRIPTION",
        esc("glia loads a model (ONNX, through the model-format plugins), makes a session with "
            "the execution providers it is given (CPU, oneDNN, CUDA, third-party plugins) and "
            "runs, inspects or benchmarks it. Everything that can be swapped is a plugin, found "
            "on the plugin search path at run time: the same binary runs a model on another "
            "provider, or with a custom-operator plugin, without being rebuilt."),
        ".PP",
        esc("Inputs and outputs are NumPy .npy files. Providers are chosen with --ep, most "
            "preferred first; nodes no chosen provider claims run on the CPU provider unless "
            "--no-fallback is given. Provider options are set with --option "
            "ep.PROVIDER.KEY=VALUE; a key no provider declares is an error."),
        ".SH COMMANDS",
    ]
    for name, summary in commands:
        page += command_section(glia, name, summary)
    page += [".SH OPTIONS", ".TP\n.B \\-h, \\-\\-help", "Show the help, or a command's help.",
             ".TP\n.B \\-\\-version", "Print the version of Glia."]
    page.append(".SH ENVIRONMENT")
    for line in top.get("Environment", []):
        m = re.match(r"^\s+(\S+)\s{2,}(.*)$", line)
        if m:
            page.append(".TP\n.B " + esc(m.group(1)) + "\n" + esc(m.group(2)))
    if not any("GLIA_FEATURE_RANK" in l for l in top.get("Environment", [])):
        page.append(".TP\n.B GLIA_FEATURE_RANK\n"
                    + esc("overrides provider ranks, e.g. cpu:10,onednn:300 (ranks order "
                          "providers when --ep is not given)"))
    page += [
        ".SH FILES",
        ".TP\n.I " + esc(plugindir),
        esc("The installed plugins (execution providers, model loaders, custom operators), "
            "searched after the directories in GLIA_PLUGIN_PATH."),
        ".TP\n.I " + esc("$XDG_CACHE_HOME/glia-1.0/registry.json"),
        esc("Plugin metadata cache; a plugin whose file is unchanged is described from it "
            "without being loaded."),
        ".SH EXIT STATUS",
        esc("0 on success, 1 when the operation failed (the reason is printed as "
            "\"glia: MESSAGE\"), 2 when the command line is wrong."),
        ".SH EXAMPLES",
        esc("List the plugins and what they provide:"),
        ".PP\n.RS\n.nf\nglia plugins\n.fi\n.RE",
        ".PP\n" + esc("Run a model on the CPU and write its outputs:"),
        ".PP\n.RS\n.nf\n" + esc("glia run model.onnx --ep cpu -i x=x.npy -o out/") + "\n.fi\n.RE",
        ".PP\n" + esc("Run the same model with a custom-operator plugin built out of tree and "
                      "another provider, without rebuilding anything:"),
        ".PP\n.RS\n.nf\n"
        + esc("GLIA_PLUGIN_PATH=$HOME/my-ops/build glia run model.onnx --ep onednn,cpu "
              "-i x=x.npy") + "\n.fi\n.RE",
        ".PP\n" + esc("See which provider runs each node:"),
        ".PP\n.RS\n.nf\n" + esc("glia inspect model.onnx --ep onednn,cpu") + "\n.fi\n.RE",
        ".SH SEE ALSO",
        esc("The Glia documentation: docs/plugin-abi.md (plugin ABI), docs/custom-ops.md "
            "(writing a custom-operator plugin, swapping providers), and the SDK in sdk/."),
    ]
    with open(output, "w", encoding="utf-8") as f:
        f.write("\n".join(page) + "\n")


if __name__ == "__main__":
    main()
