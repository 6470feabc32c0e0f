#!/usr/bin/env bash
# The endurance tests at the counts README's Reliability section reports: 1,000 blocking
# snapshots of a target churning goroutines, and gospy SIGKILLed 200 times during blocking
# snapshots (CI runs 200 and 40). Needs the test targets (scripts/build-targets.sh) and a
# build of the tests (swift build --build-tests).
set -euo pipefail
cd "$(dirname "$0")/.."
GOSPY_ENDURANCE=full swift test --skip-build --filter 'GospyIntegrationTests\.(EnduranceTests|MutatedImageTests)' 2>&1 | grep -E "endurance:|mutated images|passed|failed|error"
