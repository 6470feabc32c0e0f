#!/usr/bin/env bash
# Fuzzes gospy's parsers with libFuzzer (Swift's -sanitize=fuzzer).
#   scripts/fuzz.sh [--seconds N] [--targets a,b,...] [--timeout N] [--ci]
# Builds gospy-fuzz with the fuzzer in its own scratch path (.build/fuzz: the main build is
# untouched), writes seed corpora from a TestTargets build, captures a memory image of that
# build running (for the snapshot target), then runs each target for N seconds (default 600)
# with -timeout=1 (an input taking over 1 s is a hang, reported as a crash) and
# -malloc_limit_mb=256 (any one allocation of 256 MB or more is a crash). AddressSanitizer is
# built in because libFuzzer checks allocation sizes only through a sanitizer's allocator (it
# also checks the C libraries' memory use). The process as a whole, corpus held in memory and
# ASan's shadow included, is limited to 2 GB (4 GB for whole executables). Corpora grow in
# .build/fuzz-work/corpus/TARGET; crashing inputs land in .build/fuzz-work/crashes/TARGET.
# Prints one line per target (executions, seconds, crashes) and a total; exits 1 on any crash.
# A timeout that does not reproduce (the input runs within 1 s of CPU time three times) is
# reported as a stall of the machine, kept in .build/fuzz-work/stalls, and not counted as a hang.
# --timeout N: libFuzzer's wall-clock limit per input (default 1). On a loaded machine, or under
# `nice -n 19`, a process waits for the CPU for seconds and every large input times out: there,
# give e.g. --timeout 20; inputs over 1 s of wall-clock are then written as slow units and
# checked like timeouts (1 s of CPU time, three runs), so 1 s stays the limit for a hang.
# --ci: 10 seconds per target (CI's short fixed budget).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=600
targets=""
timeout=1
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --targets) targets="$2"; shift 2 ;;
        --timeout) timeout="$2"; shift 2 ;;
        --ci) seconds=10; shift ;;
        *) echo "usage: scripts/fuzz.sh [--seconds N] [--targets a,b] [--timeout N] [--ci]" >&2; exit 2 ;;
    esac
done

cache="${GOSPY_CACHE:-$HOME/.cache/gospy}"
manifest="$cache/targets/manifest.tsv"
[ -f "$manifest" ] || { echo "fuzz: no $manifest: run scripts/build-targets.sh first" >&2; exit 2; }
# The newest release's plain build: symbols, not position-independent (images are at link addresses).
binary="$(awk -F'\t' '$2 == "plain" { path = $4 } END { print path }' "$manifest")"
[ -x "$binary" ] || { echo "fuzz: no plain target build in $manifest" >&2; exit 2; }

work=.build/fuzz-work
mkdir -p "$work"
started=$(date +%s)
echo "fuzz: building gospy-fuzz with libFuzzer (.build/fuzz)"
swift build -c release --product gospy-fuzz --scratch-path .build/fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -Xfrontend -Xswiftc -entry-point-function-name \
    -Xswiftc -Xfrontend -Xswiftc gospy_fuzz_main >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }
fuzzer=.build/fuzz/release/gospy-fuzz
# The plain driver (seeds, capture), from the main build.
swift build --product gospy-fuzz >"$work/driver-build.log" 2>&1 || { tail -30 "$work/driver-build.log"; exit 1; }
driver="$(swift build --product gospy-fuzz --show-bin-path)/gospy-fuzz"
echo "fuzz: built in $(( $(date +%s) - started )) s"

"$driver" seeds "$binary" "$work/seeds"
# A memory image of the target running its parked scenario (goroutines in every state, labels).
# Its stdin is a fifo this script holds open: closing it ends the target.
target_out="$work/target.out"
rm -f "$work/target.in" && mkfifo "$work/target.in"
"$binary" <"$work/target.in" >"$target_out" 2>/dev/null &
target_pid=$!
trap 'kill $target_pid 2>/dev/null || true' EXIT
exec 3>"$work/target.in"
for _ in $(seq 100); do grep -q READY "$target_out" 2>/dev/null && break; sleep 0.1; done
"$driver" capture "$target_pid" "$work/image.bin" >/dev/null
exec 3>&-
kill "$target_pid" 2>/dev/null || true
wait "$target_pid" 2>/dev/null || true
export GOSPY_FUZZ_BINARY="$binary" GOSPY_FUZZ_IMAGE="$work/image.bin"

[ -n "$targets" ] || targets="$("$driver" list | paste -sd, -)"
total_runs=0
total_crashes=0
printf '%-12s %12s %8s %8s\n' target executions seconds crashes
for target in ${targets//,/ }; do
    corpus="$work/corpus/$target"
    crashes="$work/crashes/$target"
    mkdir -p "$corpus" "$crashes"
    log="$work/$target.log"
    begin=$(date +%s)
    status=0
    # Whole executables (4 MB inputs) make a corpus held in memory of GBs: their limit is higher.
    rss=2048
    [ "$target" != executable ] || rss=4096
    slow=()
    [ "$timeout" -le 1 ] || slow=(-report_slow_units=1)
    GOSPY_FUZZ_TARGET="$target" "$fuzzer" "$corpus" "$work/seeds/$target" \
        -max_total_time="$seconds" -timeout="$timeout" "${slow[@]}" -rss_limit_mb="$rss" -malloc_limit_mb=256 -detect_leaks=0 \
        -max_len=4194304 -print_final_stats=1 -artifact_prefix="$crashes/" >"$log" 2>&1 || status=$?
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    # libFuzzer's timeout is wall-clock: on a loaded machine a stalled process reads as a hang.
    # A timeout (or slow) input that runs within 1 s of CPU time 3 times out of 3 (process start
    # included) is a stall, not a hang.
    for input in "$crashes"/timeout-* "$crashes"/slow-unit-*; do
        [ -f "$input" ] || continue
        stalled=yes
        for _ in 1 2 3; do
            cpu="$( { TIMEFORMAT='%U %S'; time GOSPY_FUZZ_TARGET="$target" "$fuzzer" "$input" -timeout=60 -rss_limit_mb="$rss" \
                -malloc_limit_mb=256 -detect_leaks=0 >/dev/null 2>&1 || echo failed; } 2>&1 )"
            case "$cpu" in
                *failed*) stalled=no ;;
                *) awk -v t="$cpu" 'BEGIN { split(t, a, " "); exit !(a[1] + a[2] <= 1.0) }' || stalled=no ;;
            esac
        done
        if [ "$stalled" = yes ]; then
            mkdir -p "$work/stalls/$target" && mv "$input" "$work/stalls/$target/"
            echo "fuzz: $target: $(basename "$input" | cut -d- -f1) not reproduced (3 runs within 1 s of CPU): $work/stalls/$target/$(basename "$input")" >&2
            status=0
        fi
    done
    found=$(find "$crashes" -type f | wc -l)
    if [ "$status" -ne 0 ] && [ "$found" -eq 0 ]; then found=1; fi
    printf '%-12s %12s %8s %8s\n' "$target" "${runs:-0}" "$(( $(date +%s) - begin ))" "$found"
    total_runs=$(( total_runs + ${runs:-0} ))
    total_crashes=$(( total_crashes + found ))
    [ "$found" -eq 0 ] || grep -E "ERROR|Fatal error|==[0-9]+==" "$log" | head -5 >&2 || true
done
printf '%-12s %12s %8s %8s\n' total "$total_runs" "$(( $(date +%s) - started ))" "$total_crashes"
[ "$total_crashes" -eq 0 ] || { echo "fuzz: crashes in $work/crashes (replay: gospy-fuzz replay TARGET FILE)" >&2; exit 1; }
