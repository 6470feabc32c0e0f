#!/usr/bin/env python3
"""gospy's benchmarks, each beside the runtime's own answer in the same run.

  info:    `gospy info` on a ~50 MB stripped binary (built once by gen-big-target.py).
  summary: `gospy summary` on a target holding 10k / 100k / 1M goroutines, beside the target's
           own debug=1 goroutine profile of the same process; pause time and gospy's peak RSS.

Prints a Markdown report on stdout. Usage: scripts/bench/run.py [--sizes 10000,100000,1000000]
[--runs 5] [--skip-info] [--release 1.27] [--mode distro] [--gospy PATH: measure that build instead]
[--baseline PATH: also measure an older build on the same targets, row by row]"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("GOSPY_CACHE", os.path.expanduser("~/.cache/gospy"))
# The file users install (scripts/package.sh, the Swift runtime linked in: it starts in about 3 ms
# of CPU where the dynamically linked `swift build -c release` product takes 9).
GOSPY = os.path.join(ROOT, "dist/gospy")


def run_timed(args):
    """Runs a command, returning (wall seconds, peak RSS KiB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(args)} failed: {proc.stderr}")
    rss = int(proc.stderr.strip().splitlines()[-1])
    return wall, rss, proc.stdout


class Target:
    def __init__(self, path, args):
        self.proc = subprocess.Popen([path, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self.proc.stdout.readline()
        if not ready.startswith("READY"):
            sys.exit(f"bench: target said {ready!r}")
        self.pid = self.proc.pid

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def stopped_seconds(line):
    """The pause from a --verbose line: "Snapshot: stopped X ms, ..." (summary, and dump's
    stderr), or dump's "...; stopped X ms, took ..." before 2026-12-02; else None."""
    if line.startswith("Snapshot: stopped ") or "; stopped " in line:
        return float(line.split("stopped ")[1].split(" ms")[0]) / 1000
    return None


def phase_ms(seconds):
    """A phase's time, or a dash for builds that do not report phases."""
    return "–" if seconds is None else f"{seconds * 1000:.0f} ms"


def median(values):
    return statistics.median(values)


def bench_info(runs, release):
    out = os.path.join(CACHE, "bench", "bigtarget")
    binary = os.path.join(out, "big")
    if not os.path.exists(binary):
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts/bench/gen-big-target.py"), out, "115", "300"], check=True)
        env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="", CGO_ENABLED="0",
                   GOCACHE=os.path.join(CACHE, "gocache", f"go{release}"))
        go = os.path.join(CACHE, "toolchains", f"go{release}", "bin", "go")
        subprocess.run([go, "build", "-ldflags=-s -w", "-o", binary, "."], cwd=out, env=env, check=True)
    size = os.path.getsize(binary)
    results = [run_timed([GOSPY, "info", "--bin", binary]) for _ in range(runs)]
    functions = json.loads(subprocess.run([GOSPY, "info", "--bin", binary, "--json"], capture_output=True, text=True).stdout)["functions"]
    return size, functions, median([r[0] for r in results]), max(r[1] for r in results)


def bench_summary(n, runs, target_path, gospys):
    target = Target(target_path, ["-scenario=many", f"-n={n}"])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            own = []
            for _ in range(runs):
                path = os.path.join(tmp, "debug1.txt")
                t0 = time.perf_counter()
                target.send(f"debug1 {path}")
                own.append(time.perf_counter() - t0)
            own_size = os.path.getsize(path)
        return [dict(gospy=label, own=median(own), own_size=own_size, **measure_summary(gospy, target, runs))
                for label, gospy in gospys]
    finally:
        target.close()


def measure_summary(gospy, target, runs):
    walls, rss, stopped, running, after, reread = [], [], [], [], [], []
    total = 0
    for _ in range(runs):
        # Text output, as a person runs it; --verbose adds the pause ("stopped X ms") and
        # the phases: read while running, stopped (validation), after resuming.
        wall, peak, out = run_timed([gospy, "summary", "--pid", str(target.pid), "--verbose", "--no-color"])
        walls.append(wall)
        rss.append(peak)
        for line in out.splitlines():
            if stopped_seconds(line) is not None:
                stopped.append(stopped_seconds(line))
            if line.startswith("  read while running: "):
                running.append(float(line.split()[3]) / 1000)
            if line.startswith("  after resuming: "):
                after.append(float(line.split()[2]) / 1000)
            if line.startswith("  stopped: ") and " re-read" in line:
                reread.append(int(line.split(" re-read")[0].split()[-1]))
            if line.startswith("Goroutines: "):
                total = int(line.split()[1])
    nb_walls = [run_timed([gospy, "summary", "--pid", str(target.pid), "--non-blocking"])[0] for _ in range(runs)]
    return dict(total=total, wall=median(walls),
                stopped=median(stopped), rss=max(rss), nonblocking=median(nb_walls),
                running=median(running) if running else None, after=median(after) if after else None,
                reread=median(reread) if reread else None)


def bench_dump(n, runs, target_path, gospys):
    target = Target(target_path, ["-scenario=many", f"-n={n}"])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "debug2.txt")
            own = []
            for _ in range(1 if n >= 1_000_000 else runs):
                t0 = time.perf_counter()
                target.send(f"debug2 {path}")
                own.append(time.perf_counter() - t0)
            own_size = os.path.getsize(path)
            return [dict(gospy=label, n=n, own=median(own), own_size=own_size, **measure_dump(gospy, target, runs, tmp))
                    for label, gospy in gospys]
    finally:
        target.close()


def measure_dump(gospy, target, runs, tmp):
    walls, rss, stopped = [], [], []
    out = os.path.join(tmp, "gospy.txt")
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", gospy, "dump", "--pid", str(target.pid), "--verbose", "-o", out],
                              capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            sys.exit(f"bench: gospy dump failed: {proc.stderr}")
        lines = proc.stderr.strip().splitlines()
        rss.append(int(lines[-1]))
        stopped += [seconds for seconds in map(stopped_seconds, lines) if seconds is not None]
    size = os.path.getsize(out)
    return dict(wall=median(walls), stopped=median(stopped), rss=max(rss), size=size)


def bench_top(n, target_path, gospys, iterations=20, interval=0.1):
    target = Target(target_path, ["-scenario=many", f"-n={n}"])
    try:
        return [dict(gospy=label, n=n, **measure_top(gospy, target, iterations, interval)) for label, gospy in gospys]
    finally:
        target.close()


def measure_top(gospy, target, iterations, interval):
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", gospy, "top", "--pid", str(target.pid), "--plain",
                           "--iterations", str(iterations), "--interval", str(interval)], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench: gospy top failed: {proc.stderr}")
    user, system, rss = proc.stderr.strip().splitlines()[-1].split()
    stopped = [float(line.split("target stopped ")[1].split(" ms")[0]) for line in proc.stdout.splitlines()
               if "target stopped" in line]
    return dict(rate=iterations / wall, cpu=(float(user) + float(system)) / wall,
                stopped=median(stopped) if stopped else 0, rss=int(rss))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-info", action="store_true")
    parser.add_argument("--skip-summary", action="store_true")
    parser.add_argument("--dump-sizes", default="100000,1000000")
    parser.add_argument("--top-sizes", default="100000")
    parser.add_argument("--release", default="1.27")
    parser.add_argument("--mode", default="distro")
    parser.add_argument("--gospy", help="measure this gospy binary instead of building this checkout's")
    parser.add_argument("--baseline", help="also measure this gospy binary (an older build) on the same targets, row by row")
    args = parser.parse_args()
    global GOSPY
    if args.gospy:
        GOSPY = os.path.abspath(args.gospy)
    else:
        subprocess.run([os.path.join(ROOT, "scripts/package.sh"), "--binary-only"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run([os.path.join(ROOT, "scripts/build-targets.sh"), "--versions", args.release, "--modes", args.mode],
                   check=True, stdout=subprocess.DEVNULL)
    target = os.path.join(CACHE, "targets", f"go{args.release}", args.mode, "gospytarget")
    gospys = [("this build", GOSPY)] + ([("baseline", os.path.abspath(args.baseline))] if args.baseline else [])
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
    print(f"Machine: {os.cpu_count()} cores ({cpu}), {time.strftime('%Y-%m-%d')}; gospy {GOSPY}; "
          f"target go{args.release} {args.mode}; median of {args.runs} runs.\n")
    if not args.skip_info:
        size, functions, wall, rss = bench_info(args.runs, args.release)
        print("### gospy info on a large stripped binary\n")
        print("| binary | functions | gospy info (wall) | gospy peak RSS |")
        print("|---|---|---|---|")
        print(f"| {size / 1e6:.1f} MB, -s -w | {functions} | {wall * 1000:.0f} ms | {rss / 1024:.0f} MiB |\n")
    if not args.skip_summary:
        print("### gospy summary beside the runtime's own debug=1 profile (same process, same run)\n")
        print("| goroutines | gospy | runtime debug=1 (in-process) | gospy summary, blocking (wall) | target stopped | read while running | after resuming | gs re-read while stopped | gospy summary --non-blocking (wall) | gospy peak RSS |")
        print("|---|---|---|---|---|---|---|---|---|---|")
    # Generators: each row prints as soon as it is measured.
    summaries = () if args.skip_summary else (r for n in args.sizes.split(",") for r in bench_summary(int(n), args.runs, target, gospys))
    for r in summaries:
        print(f"| {r['total']:,} | {r['gospy']} | {r['own'] * 1000:.0f} ms ({r['own_size'] / 1e3:.0f} KB) | {r['wall'] * 1000:.0f} ms | "
              f"{r['stopped'] * 1000:.1f} ms | {phase_ms(r['running'])} | {phase_ms(r['after'])} | "
              f"{'–' if r['reread'] is None else r['reread']} | "
              f"{r['nonblocking'] * 1000:.0f} ms | {r['rss'] / 1024:.0f} MiB |", flush=True)
    if args.dump_sizes:
        print("\n### gospy dump (traceback format) beside the runtime's own debug=2 dump (same process, same run)\n")
        print("| goroutines | gospy | runtime debug=2 (in-process) | gospy dump (wall) | target stopped | output | gospy peak RSS |")
        print("|---|---|---|---|---|---|---|")
        for r in (r for n in args.dump_sizes.split(",") for r in bench_dump(int(n), args.runs, target, gospys)):
            print(f"| {r['n']:,} | {r['gospy']} | {r['own'] * 1000:.0f} ms ({r['own_size'] / 1e6:.1f} MB) | {r['wall'] * 1000:.0f} ms | "
                  f"{r['stopped'] * 1000:.1f} ms | {r['size'] / 1e6:.1f} MB | {r['rss'] / 1024:.0f} MiB |", flush=True)
    if args.top_sizes:
        print("\n### gospy top --plain, 20 refreshes at --interval 0.1 (as fast as it refreshes, up to 10 a second)\n")
        print("| goroutines | gospy | refreshes per second | gospy CPU (cores) | target stopped per refresh | gospy peak RSS |")
        print("|---|---|---|---|---|---|")
        for r in (r for n in args.top_sizes.split(",") for r in bench_top(int(n), target, gospys)):
            print(f"| {r['n']:,} | {r['gospy']} | {r['rate']:.2f} | {r['cpu']:.2f} | {r['stopped']:.1f} ms | {r['rss'] / 1024:.0f} MiB |", flush=True)


if __name__ == "__main__":
    main()
