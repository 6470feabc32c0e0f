#!/usr/bin/env python3
"""Prints one release's runtime funcID numbering (internal/abi.FuncID, runtime.funcID before
1.21), read from that toolchain's own source, as the Swift dictionary literal scripts/gen-layouts.sh
puts into the generated file. The numbering shifts between releases, so it is data, not code.
Usage: gen-funcids.py RELEASE   (a release of scripts/go-releases.txt, e.g. 1.27)
Environment: GOSPY_TOOLCHAINS, the directory holding go1.19, go1.21, ... (default ~/.cache/gospy/toolchains)"""
import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))
toolchains = os.environ.get("GOSPY_TOOLCHAINS", os.path.expanduser("~/.cache/gospy/toolchains"))


def supported_releases():
    """Release -> exact toolchain version, from scripts/go-releases.txt."""
    versions = {}
    with open(os.path.join(here, "go-releases.txt")) as f:
        for line in f:
            fields = line.split()
            if fields and not fields[0].startswith("#"):
                versions[fields[0]] = fields[1]
    return versions


def funcids(release):
    goroot = os.path.join(toolchains, "go" + release)
    for rel in ("src/internal/abi/symtab.go", "src/runtime/symtab.go"):
        path = os.path.join(goroot, rel)
        if not os.path.exists(path):
            continue
        src = open(path).read()
        m = re.search(r"(FuncIDNormal|funcID_normal)\s+(FuncID|funcID)\s*=\s*iota(.*?)\n\)", src, re.S)
        if not m:
            continue
        names = [m.group(1)]
        for line in m.group(3).split("\n"):
            line = line.strip()
            if line and not line.startswith("//"):
                names.append(line.split()[0])
        version = open(os.path.join(goroot, "VERSION")).read().split()[0]
        def normalise(name):
            name = re.sub(r"^(FuncID_?|funcID_)", "", name)  # FuncIDWrapper, FuncID_goexit, funcID_wrapper
            return name[0].lower() + name[1:]
        return version, {normalise(n): i for i, n in enumerate(names)}
    sys.exit(f"gen-funcids: no funcID table in the go{release} toolchain at {goroot}")


if len(sys.argv) != 2:
    sys.exit(__doc__)
release = sys.argv[1]
wanted = supported_releases().get(release)
if wanted is None:
    sys.exit(f"gen-funcids: {release} is not in scripts/go-releases.txt")
version, table = funcids(release)
if version != "go" + wanted:
    sys.exit(f"gen-funcids: scripts/go-releases.txt wants go{wanted} for {release}, the toolchain is {version}")
# One line: gen-layouts.sh writes each distinct numbering once, with the releases that have it.
entries = ", ".join(f"\"{name}\": {value}" for name, value in sorted(table.items(), key=lambda kv: kv[1]))
sys.stdout.write(f"[{entries}]\n")
