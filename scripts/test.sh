#!/usr/bin/env bash
# The test command (README and .ci/run): installs what the tests need when it is missing (scripts/deps.sh:
# the C libraries decnet links, every real tool the tests drive, Docker, the packaging tools and the pinned PyPI
# clients; it prints what it installs), checks formatting, builds everything once (debug, warnings as errors),
# then runs every test.
#
#   sudo ./scripts/test.sh                 # as root: installs what is missing, runs everything
#   ./scripts/test.sh --filter HelpTests   # arguments go to `swift test`
#
# Without root nothing is installed: tests needing a missing tool, or root, are skipped (and named); under
# CI=true (.ci/run) a missing tool or missing root fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
deps_find_swift
if [ "$(id -u)" -eq 0 ]; then
    deps_install toolchain build demo test docker package pip-test
else
    missing=$(for package in $(deps_group build); do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || echo "$package"
    done)
    if [ -n "$missing" ]; then
        echo "test.sh: building needs $(echo $missing); run: sudo $0 (it installs them)" >&2
        exit 1
    fi
fi

./scripts/validate.sh
swift build --build-tests -Xswiftc -warnings-as-errors
# At most ten tests at a time. Swift Testing otherwise starts all 668 at once: on two cores the lab fleets,
# PostgreSQL clusters, nmap scans and hashcat runs then pile up to a load of 16, and tests that wait for an answer
# (a store, a snmpwalk, a close) fail for want of CPU, a different few each run. Measured on this 2-core machine:
# unbounded, 427 s and 4 tests failed; at ten, 315 s and none.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-10}"
swift test --skip-build "$@"
