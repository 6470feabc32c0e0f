#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs (idempotently), builds the
# Go test targets for every supported version x build mode (cached), then runs `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build-targets.sh
swift build --build-tests
# The portable binary PortableBinaryTests checks (a static release build: minutes when cold,
# nothing when dist/gospy was built from the same sources).
scripts/package.sh --binary-only
# A hung test must fail the run, not eat CI's whole 90 minutes: a warm run takes ~3 minutes.
timeout --kill-after=30s 40m swift test "$@"
# Every fuzz target for a short fixed budget (10 s each; README's Reliability section).
scripts/fuzz.sh --ci
