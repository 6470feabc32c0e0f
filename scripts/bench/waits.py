#!/usr/bin/env python3
"""gospy waits beside gospy summary on one target (BENCHMARKS.md, "gospy waits").

Usage: scripts/bench/waits.py GOSPY TARGET N RUNS
Starts TARGET -scenario=many -n N, then runs summary, waits, summary --non-blocking and
waits --non-blocking RUNS times, interleaved, and prints one Markdown row per command: wall
median, wall minimum, CPU (user+system of the gospy process) median and the target's stop.
"""
import subprocess, sys, time, statistics, re, os
gospy, target, n, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
p = subprocess.Popen([target, "-scenario=many", "-n", str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
print(p.stdout.readline().strip())
pid = str(p.pid)
def run(args):
    t = time.monotonic()
    c = subprocess.Popen([gospy] + args + ["--pid", pid, "--verbose"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = c.communicate()
    wall = time.monotonic() - t
    m = re.search(r"Snapshot: stopped ([0-9.]+) ms", out + err)
    assert c.returncode == 0, err
    return wall, (float(m.group(1)) if m else None)
res = {}
cases = [("summary", ["summary"]), ("waits", ["waits"]), ("summary --non-blocking", ["summary", "--non-blocking"]), ("waits --non-blocking", ["waits", "--non-blocking"])]
for i in range(runs):
    for name, args in cases:
        before = os.times()
        w, s = run(args)
        after = os.times()
        cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
        res.setdefault(name, []).append((w, s, cpu))
for name, _ in cases:
    walls = [w for w, _, _ in res[name]]
    stops = [s for _, s, _ in res[name] if s is not None]
    cpus = [c for _, _, c in res[name]]
    print(f"| {name} | {statistics.median(walls)*1000:.0f} ms | {min(walls)*1000:.0f} ms | {statistics.median(cpus)*1000:.0f} ms | {('%.1f ms' % statistics.median(stops)) if stops else '-'} |")
p.stdin.close(); p.wait()
