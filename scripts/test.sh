#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs (idempotently), builds the
# Go test targets for every supported version x build mode (cached), then runs `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build-targets.sh
swift build --build-tests
swift test "$@"
