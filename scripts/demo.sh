#!/usr/bin/env bash
# gospy's main job on a bundled demo target: builds gospy and a Go program the way
# distributions ship them (stripped, -trimpath, PIE, cgo with external linking), starts it,
# and takes a live snapshot of its goroutines from outside.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/go-releases.sh
newest=${GO_RELEASES[-1]}
scripts/install-deps.sh
scripts/build-targets.sh --versions "$newest" --modes distro >/dev/null
swift build -c release --product gospy >&2
cache=${GOSPY_CACHE:-$HOME/.cache/gospy}
demo=$cache/targets/go$newest/distro/gospytarget

# The demo target parks goroutines in many states; it exits when its stdin closes.
coproc TARGET { exec "$demo" -scenario=growing; }
trap 'exec {TARGET[1]}>&-; wait "$TARGET_PID" 2>/dev/null || true' EXIT
read -r ready <&"${TARGET[0]}"
echo "demo target: $ready" >&2
sleep 1

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "== gospy summary --pid $TARGET_PID --verbose"
$SUDO .build/release/gospy summary --pid "$TARGET_PID" --verbose
