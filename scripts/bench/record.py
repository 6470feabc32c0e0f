#!/usr/bin/env python3
"""`gospy record`'s overhead: the target's own work rate with and without a recording, and
what the recording achieved, at 1k / 10k / 100k goroutines.

The target is gospytarget -scenario=record -sleepers N: N goroutines asleep and one worker
that counts its loop iterations ("work" control command). For each size and mode, windows
of --seconds alternate unobserved and recorded (--pairs of them); the slowdown is the worker's
loop rate while recorded against the unobserved windows around it. gospy's CPU is its
user+sys time over the window. Prints a Markdown table.

Modes: perf (the default: non-blocking, running goroutines from perf event samples), no-perf
(non-blocking, running threads stopped briefly), blocking, and other-target: the default mode
recording a second, identical target while the first one's worker is measured. That control
shares the machine's cores the same way but touches nothing of the measured target, so its
slowdown is what gospy's CPU use alone costs the worker on this machine.

--gospy takes several builds, comma-separated (e.g. this branch's and main's): each size and
mode runs with each build in turn, in the same run.

Usage: scripts/bench/record.py [--sizes 1000,10000,100000] [--rates 100,100,10] [--seconds 5]
[--pairs 2] [--modes perf,no-perf,blocking,other-target] [--release 1.27] [--mode plain]
[--gospy PATH[,PATH...]]"""
import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("GOSPY_CACHE", os.path.expanduser("~/.cache/gospy"))


class Target:
    def __init__(self, path, sleepers):
        self.proc = subprocess.Popen([path, "-scenario=record", f"-sleepers={sleepers}"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        ready = self.proc.stdout.readline()
        if not ready.startswith("READY"):
            sys.exit(f"bench: target did not start: {ready!r}")
        self.pid = self.proc.pid

    def loops(self):
        self.proc.stdin.write("work\n")
        reply = self.proc.stdout.readline()
        return int(re.search(r"loops=(\d+)", reply).group(1))

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def window(target, seconds, command=None):
    """Loops per second over a window, with `command` (gospy) running through it if given;
    returns (rate, gospy cpu seconds, gospy stderr)."""
    before = target.loops()
    start = time.perf_counter()
    cpu = 0.0
    stderr = ""
    if command:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(command, capture_output=True, text=True)
        after_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after_usage.ru_utime - usage.ru_utime) + (after_usage.ru_stime - usage.ru_stime)
        stderr = proc.stderr
        if proc.returncode != 0:
            sys.exit(f"bench: {' '.join(command)} failed: {proc.stderr}")
    else:
        time.sleep(seconds)
    elapsed = time.perf_counter() - start
    return (target.loops() - before) / elapsed, cpu, stderr, elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--rates", default="100,100,10", help="samples per second asked for, per size")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--modes", default="perf,no-perf,blocking")
    parser.add_argument("--release", default="1.27")
    parser.add_argument("--mode", default="plain")
    parser.add_argument("--gospy", default=os.path.join(ROOT, ".build/release/gospy"))
    args = parser.parse_args()
    target_path = os.path.join(CACHE, "targets", f"go{args.release}", args.mode, "gospytarget")
    sizes = [int(s) for s in args.sizes.split(",")]
    rates = [float(r) for r in args.rates.split(",")]
    out = tempfile.mkdtemp(prefix="gospy-bench-record-")
    print(f"`gospy record --format collapsed --duration {args.seconds:g}` on gospytarget -scenario=record "
          f"(go{args.release}/{args.mode}), {args.pairs} recorded windows per row between unobserved ones.\n")
    print(f"Load average at the start: {'/'.join(f'{x:.1f}' for x in os.getloadavg())}.\n")
    print("| goroutines | build | mode | rate asked | achieved /s | behind | errors | gospy CPU (cores) | worker loops/s unobserved | recorded | slowdown | running: perf / stops | gs re-read / round | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    builds = args.gospy.split(",")
    for size, rate in zip(sizes, rates):
        for mode, gospy in [(m, g) for m in args.modes.split(",") for g in builds]:
            target = Target(target_path, size)
            # other-target: gospy records this one; the worker measured is `target`'s.
            other = Target(target_path, size) if mode == "other-target" else None
            try:
                time.sleep(1)
                bare, seen, cpus, achieved, behind, errors, sources = [], [], [], [], [], [], [0, 0]
                rounds, reread = 0, None
                bare.append(window(target, args.seconds)[0])
                for _ in range(args.pairs):
                    recorded_pid = (other or target).pid
                    command = [gospy, "record", "--pid", str(recorded_pid), "--format", "collapsed", "--rate", str(rate),
                               "--duration", str(args.seconds), "-o", os.path.join(out, "r.txt"), "--no-progress"]
                    command += {"perf": [], "other-target": [], "no-perf": ["--no-perf"], "blocking": ["--blocking"]}[mode]
                    rate_seen, cpu, stderr, elapsed = window(target, args.seconds, command)
                    seen.append(rate_seen)
                    cpus.append(cpu / args.seconds)
                    m = re.search(r"samples: (\d+) \(([\d.]+)/s.*behind: (\d+), errors: (\d+)", stderr)
                    achieved.append(float(m.group(2)))
                    behind.append(int(m.group(3)))
                    errors.append(int(m.group(4)))
                    rounds += int(m.group(1))
                    r = re.search(r"goroutines re-read: (\d+) of (\d+) compared", stderr)
                    if r:
                        reread = (reread or 0) + int(r.group(1))
                    p = re.search(r"from perf samples: (\d+), from thread stops: (\d+)", stderr)
                    q = re.search(r"from thread stops: (\d+) \(no perf events\)", stderr)
                    if p:
                        sources[0] += int(p.group(1))
                        sources[1] += int(p.group(2))
                    elif q:
                        sources[1] += int(q.group(1))
                    bare.append(window(target, args.seconds)[0])
            finally:
                target.stop()
                if other:
                    other.stop()
            base = sum(bare) / len(bare)
            recorded = sum(seen) / len(seen)
            name = os.path.basename(gospy) if len(builds) > 1 else "gospy"
            print(f"| {size:,} | {name} | {mode} | {rate:g} | "
                  f"{min(achieved):.1f}–{max(achieved):.1f} | {sum(behind)} | {sum(errors)} | "
                  f"{max(cpus):.2f} | {base / 1e6:.1f} M | {recorded / 1e6:.1f} M | {100 * (1 - recorded / base):.1f}% | "
                  f"{'–' if mode == 'blocking' else f'{sources[0]} / {sources[1]}'} | "
                  f"{'–' if reread is None else f'{reread / max(1, rounds):,.0f}'} | {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
