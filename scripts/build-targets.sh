#!/usr/bin/env bash
# Builds the Go test target (TestTargets/gospytarget) with every installed Go
# toolchain in every build mode, with a per-binary cache.
#
#   scripts/build-targets.sh [--versions 1.19,1.21,...] [--modes plain,cgo,...] [--jobs N]
#
# Defaults: all releases (scripts/go-releases.txt), all modes:
#   plain     CGO_ENABLED=0
#   stripped  CGO_ENABLED=0  -ldflags='-s -w'
#   trimpath  CGO_ENABLED=0  -trimpath
#   pie       CGO_ENABLED=0  -buildmode=pie -ldflags=-linkmode=internal
#   cgo       CGO_ENABLED=1  -ldflags=-linkmode=external        (includes cgo.go)
#   distro    CGO_ENABLED=1  -trimpath -buildmode=pie -ldflags='-s -w -linkmode=external'
#   distro-unstripped  the same as distro without -s -w: an oracle for tests (its symbols
#             name what gospy must derive in distro, and go tool addr2line can read it)
#   modern, modern-stripped, modern-distro  plain, stripped and distro built with a go.mod
#             whose go directive is the toolchain's own version (-modfile; the target's
#             go.mod says go 1.19), so GODEBUG defaults are the release's own (Go 1.27 prints
#             pprof labels in traceback headers). Go 1.26 and newer only: skipped for older
#             releases.
#   synctest-go124  stripped, built with GOEXPERIMENT=synctest (testing/synctest's
#             synctest.Run, for -scenario synctest): Go 1.24 only, skipped for the others.
#   leakprofile-go126  stripped, built with GOEXPERIMENT=goroutineleakprofile (the
#             goroutineleak profile that marks leaked goroutines, built in from 1.27):
#             Go 1.26 only, skipped for the others.
# Every mode also gets -buildvcs=false, so binaries do not depend on git state.
#
# Output, under CACHE=${GOSPY_CACHE:-$HOME/.cache/gospy}:
#   $CACHE/targets/go<release>/<mode>/gospytarget        the binary
#   $CACHE/targets/go<release>/<mode>/gospytarget.stamp  cache key it was built with
#   $CACHE/targets/manifest.tsv   header + "release mode goversion path" per binary
# The manifest lists every binary under $CACHE/targets that is up to date with
# the current sources and toolchains (not only the ones selected by this run),
# and is replaced atomically.
#
# Toolchains come from ${GOSPY_TOOLCHAINS:-$HOME/.cache/gospy/toolchains}/go<release>
# (installed by scripts/install-deps.sh, which this script runs first). Go never
# touches the network: GOTOOLCHAIN=local, GOPROXY=off, and the target has no
# module dependencies. Builds of different releases run in parallel, --jobs
# (default ${GOSPY_BUILD_JOBS:-2}) at a time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
SRC="$ROOT/TestTargets/gospytarget"
CACHE=${GOSPY_CACHE:-$HOME/.cache/gospy}
source "$ROOT/scripts/go-releases.sh" # GO_RELEASES, GOSPY_TOOLCHAINS
TARGETS="$CACHE/targets"
MANIFEST="$TARGETS/manifest.tsv"
ALL_VERSIONS=("${GO_RELEASES[@]}")
ALL_MODES=(plain stripped trimpath pie cgo distro distro-unstripped modern modern-stripped modern-distro synctest-go124 leakprofile-go126)
JOBS=${GOSPY_BUILD_JOBS:-2}
KEY_FORMAT=1 # bump to invalidate every cached binary

die() { echo "build-targets: $*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

versions=("${ALL_VERSIONS[@]}")
modes=("${ALL_MODES[@]}")
split_list() { local IFS=', '; read -r -a _list <<<"$1"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --versions|--modes|--jobs)
      [ $# -ge 2 ] || die "$1 needs a value"
      set -- "$1=$2" "${@:3}"
      continue ;;
    --versions=*)
      split_list "${1#*=}"; versions=()
      for v in "${_list[@]}"; do versions+=("${v#go}"); done ;;
    --modes=*)
      split_list "${1#*=}"; modes=("${_list[@]}") ;;
    --jobs=*)
      JOBS=${1#*=} ;;
    -h|--help)
      usage; exit 0 ;;
    *)
      die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
[ ${#versions[@]} -gt 0 ] || die "--versions is empty"
[ ${#modes[@]} -gt 0 ] || die "--modes is empty"
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive integer"
for m in "${modes[@]}"; do
  case " ${ALL_MODES[*]} " in *" $m "*) ;; *) die "unknown mode '$m' (known: ${ALL_MODES[*]})" ;; esac
done
for v in "${versions[@]}"; do
  [[ "$v" =~ ^1\.[0-9]+$ ]] || die "bad release '$v' (want e.g. 1.21)"
done
[ -f "$SRC/go.mod" ] || die "no $SRC/go.mod"

"$ROOT/scripts/install-deps.sh"

# mode_config MODE: sets cgo (0/1) and flags (array of go build arguments).
mode_config() {
  flags=(-buildvcs=false)
  case "$1" in
    plain)    cgo=0 ;;
    stripped) cgo=0; flags+=("-ldflags=-s -w") ;;
    trimpath) cgo=0; flags+=(-trimpath) ;;
    pie)      cgo=0; flags+=(-buildmode=pie -ldflags=-linkmode=internal) ;;
    cgo)      cgo=1; flags+=(-ldflags=-linkmode=external) ;;
    distro)   cgo=1; flags+=(-trimpath -buildmode=pie "-ldflags=-s -w -linkmode=external") ;;
    distro-unstripped) cgo=1; flags+=(-trimpath -buildmode=pie "-ldflags=-linkmode=external") ;;
    modern)   cgo=0 ;;
    modern-stripped) cgo=0; flags+=("-ldflags=-s -w") ;;
    modern-distro) cgo=1; flags+=(-trimpath -buildmode=pie "-ldflags=-s -w -linkmode=external") ;;
    synctest-go124) cgo=0; flags+=("-ldflags=-s -w") ;;
    leakprofile-go126) cgo=0; flags+=("-ldflags=-s -w") ;;
    *) die "unknown mode '$1'" ;;
  esac
}

now() { if [ -n "${EPOCHREALTIME:-}" ]; then echo "${EPOCHREALTIME/,/.}"; else date +%s.%N; fi; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# Hash of every file of the target (names and contents), computed once.
SRC_HASH=$(cd "$SRC" && find . -type f ! -name '.*' -print0 | LC_ALL=C sort -z |
  xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
CC_ID=$( (${CC:-gcc} --version 2>/dev/null || echo "no C compiler") | head -n1)

# goversion RELEASE: what `go version` prints for the toolchain, e.g. go1.21.13.
goversion() {
  local out
  out=$(GOTOOLCHAIN=local GOENV=off "$GOSPY_TOOLCHAINS/go$1/bin/go" version 2>/dev/null) || return 1
  set -- $out # "go version go1.21.13 linux/amd64"
  [ "${3:-}" ] && echo "$3"
}

# is_modern_release RELEASE: whether the modern* modes apply (Go 1.26 and newer).
is_modern_release() { local minor=${1#1.}; [ "$minor" -ge 26 ]; }

# cache_key RELEASE MODE GOVERSION
cache_key() {
  local cgo flags
  mode_config "$2"
  {
    echo "format=$KEY_FORMAT src=$SRC_HASH go=$3 release=$1 mode=$2 cgo=$cgo"
    printf 'flag=%s\n' "${flags[@]}"
    [ "$cgo" = 1 ] && echo "cc=$CC_ID"
    true
  } | sha256sum | cut -d' ' -f1
}

# build_release RELEASE: builds every selected mode of one release, one at a
# time; prints one line per binary built and one result line per mode to
# $WORK/result.RELEASE ("built", "cached" or "failed").
build_release() {
  local release=$1 tc="$GOSPY_TOOLCHAINS/go$1" gov goroot mode key dir bin stamp t0 log cgo flags
  local results="$WORK/result.$release"
  : >"$results"
  if [ ! -x "$tc/bin/go" ] || ! gov=$(goversion "$release"); then
    echo "build-targets: FAILED go$release: no working toolchain at $tc" >&2
    for mode in "${modes[@]}"; do echo "failed go$release/$mode" >>"$results"; done
    return 0
  fi
  goroot=$(cd "$tc" && pwd -P)
  local gc="$CACHE/gocache/go$release"
  mkdir -p "$gc/build" "$gc/mod" "$gc/path"
  for mode in "${modes[@]}"; do
    if [[ "$mode" == modern* ]] && ! is_modern_release "$release"; then
      continue # nothing to build, nothing listed
    fi
    if [ "$mode" = synctest-go124 ] && [ "$release" != 1.24 ]; then
      continue
    fi
    if [ "$mode" = leakprofile-go126 ] && [ "$release" != 1.26 ]; then
      continue
    fi
    key=$(cache_key "$release" "$mode" "$gov")
    dir="$TARGETS/go$release/$mode"
    bin="$dir/gospytarget"
    stamp="$bin.stamp"
    if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(head -n1 "$stamp")" = "$key" ]; then
      echo "cached go$release/$mode" >>"$results"
      continue
    fi
    mode_config "$mode"
    if [[ "$mode" == modern* ]]; then
      # The same module with the toolchain's own version as its go directive.
      printf 'module example.com/gospytarget\n\ngo %s\n' "${gov#go}" >"$WORK/go.$release.$mode.mod"
      flags+=("-modfile=$WORK/go.$release.$mode.mod")
    fi
    mkdir -p "$dir"
    log="$WORK/log.$release.$mode"
    t0=$(now)
    if (
      cd "$SRC"
      unset GOOS GOARCH GOAMD64 GOEXPERIMENT GOFIPS140
      export GOROOT="$goroot" GOTOOLCHAIN=local GOENV=off GOFLAGS= GO111MODULE=on \
        GOWORK=off GOPROXY=off GOSUMDB=off \
        GOCACHE="$gc/build" GOMODCACHE="$gc/mod" GOPATH="$gc/path" \
        CGO_ENABLED="$cgo"
      if [ "$mode" = synctest-go124 ]; then export GOEXPERIMENT=synctest; fi
      if [ "$mode" = leakprofile-go126 ]; then export GOEXPERIMENT=goroutineleakprofile; fi
      "$goroot/bin/go" build "${flags[@]}" -o "$bin.tmp.$$" .
    ) >"$log" 2>&1; then
      mv -f "$bin.tmp.$$" "$bin"
      printf '%s\n%s\n%s\n' "$key" "$gov" "CGO_ENABLED=$cgo ${flags[*]}" >"$stamp.tmp.$$"
      mv -f "$stamp.tmp.$$" "$stamp"
      printf 'built go%s/%-8s %-10s %6s  %s\n' "$release" "$mode" "$gov" "$(elapsed "$t0")" "$bin"
      echo "built go$release/$mode" >>"$results"
    else
      rm -f "$bin.tmp.$$"
      {
        echo "build-targets: FAILED go$release/$mode ($gov): CGO_ENABLED=$cgo go build ${flags[*]}"
        sed 's/^/    /' "$log" | tail -n 30
      } >&2
      echo "failed go$release/$mode" >>"$results"
    fi
  done
}

mkdir -p "$TARGETS"
# One run at a time per cache directory.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$TARGETS/.lock"
  flock 9
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gospy-build-targets.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

for release in "${versions[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  build_release "$release" &
done
wait

built=() cached=() failed=()
for release in "${versions[@]}"; do
  [ -f "$WORK/result.$release" ] || { failed+=("go$release"); continue; }
  while read -r status what; do
    case "$status" in
      built) built+=("$what") ;;
      cached) cached+=("$what") ;;
      *) failed+=("$what") ;;
    esac
  done <"$WORK/result.$release"
done

# Manifest: every up-to-date binary, in release then mode order.
all_releases=("${ALL_VERSIONS[@]}")
for release in "${versions[@]}"; do
  case " ${all_releases[*]} " in *" $release "*) ;; *) all_releases+=("$release") ;; esac
done
{
  printf 'release\tmode\tgoversion\tpath\n'
  for release in "${all_releases[@]}"; do
    [ -d "$TARGETS/go$release" ] || continue
    gov=$(goversion "$release") || continue
    for mode in "${ALL_MODES[@]}"; do
      bin="$TARGETS/go$release/$mode/gospytarget"
      [ -x "$bin" ] && [ -f "$bin.stamp" ] || continue
      [ "$(head -n1 "$bin.stamp")" = "$(cache_key "$release" "$mode" "$gov")" ] || continue
      printf '%s\t%s\t%s\t%s\n' "$release" "$mode" "$gov" "$bin"
    done
  done
} >"$MANIFEST.tmp.$$"
mv -f "$MANIFEST.tmp.$$" "$MANIFEST"

listed=$(($(wc -l <"$MANIFEST") - 1))
echo "build-targets: ${#built[@]} built, ${#cached[@]} up to date, ${#failed[@]} failed; $MANIFEST lists $listed binaries"
if [ ${#failed[@]} -gt 0 ]; then
  die "${#failed[@]} build(s) failed: ${failed[*]}"
fi
