#!/usr/bin/env bash
# The test command (README and .ci/run): formatting check, one debug build of everything with warnings as
# errors, then every test. Tests that drive real tools (docker-compose, ieee-data …) skip on a machine without
# them, but under CI=true a missing tool fails; `.ci/run` installs them first.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/validate.sh
swift build --build-tests -Xswiftc -warnings-as-errors
swift test --skip-build "$@"
