#!/usr/bin/env bash
# gospy's main job on a bundled demo target: builds gospy and a Go program the way
# distributions ship them (stripped, -trimpath, PIE, cgo with external linking), then shows
# what gospy reads from it without DWARF or symbols.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build-targets.sh --versions 1.27 --modes distro >/dev/null
swift build -c release --product gospy >&2
cache=${GOSPY_CACHE:-$HOME/.cache/gospy}
demo=$cache/targets/go1.27/distro/gospytarget

echo "== gospy info --bin $demo"
.build/release/gospy info --bin "$demo"
