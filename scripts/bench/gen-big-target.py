#!/usr/bin/env python3
"""Writes a Go program large enough (about 50 MB stripped) to measure `gospy info` on the kind of
binary big services ship. Usage: gen-big-target.py OUTDIR [PACKAGES] [FUNCS_PER_PACKAGE]"""
import os
import sys

out = sys.argv[1]
packages = int(sys.argv[2]) if len(sys.argv) > 2 else 120
funcs = int(sys.argv[3]) if len(sys.argv) > 3 else 300
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "go.mod"), "w") as f:
    f.write("module example.com/bigtarget\n\ngo 1.19\n")
imports = []
for p in range(packages):
    name = f"p{p:03d}"
    imports.append(name)
    os.makedirs(os.path.join(out, name), exist_ok=True)
    with open(os.path.join(out, name, "gen.go"), "w") as f:
        f.write(f"package {name}\n\nimport \"strconv\"\n\n")
        for i in range(funcs):
            f.write(f"//go:noinline\nfunc f{i}(n int, s string) (int, string) {{\n")
            f.write("\tacc := n\n\tswitch n % 8 {\n")
            for c in range(8):
                f.write(f"\tcase {c}:\n\t\tacc = acc*{i + c + 3} + {p * 7 + c}\n")
                f.write(f"\t\ts += strconv.Itoa(acc ^ {c * 977 + i})\n")
            f.write("\t}\n")
            f.write(f"\tfor k := 0; k < n%{(i % 5) + 2}; k++ {{\n\t\tacc += len(s) * {i + 1}\n\t}}\n")
            f.write("\treturn acc, s\n}\n\n")
        f.write("func Run(n int) int {\n\ts := \"\"\n\ttotal := 0\n")
        for i in range(funcs):
            f.write(f"\tif v, t := f{i}(n+{i}, s); v > 0 {{\n\t\ttotal += v\n\t\ts = t[:len(t)%7]\n\t}}\n")
        f.write("\treturn total\n}\n")
with open(os.path.join(out, "main.go"), "w") as f:
    f.write("package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n")
    for name in imports:
        f.write(f"\t\"example.com/bigtarget/{name}\"\n")
    f.write(")\n\nfunc main() {\n\ttotal := 0\n\tn := len(os.Args)\n")
    for name in imports:
        f.write(f"\ttotal += {name}.Run(n)\n")
    f.write("\tfmt.Println(total)\n}\n")
