#!/usr/bin/env bash
# Fuzzes every decoder target with libFuzzer and AddressSanitizer (issue 25).
#
#   scripts/fuzz.sh [seconds per target, default 60] [target…]
#   FUZZ_RUNS=1000000 FUZZ_JOBS=2 scripts/fuzz.sh 3600     # each target to a million inputs or an hour, two at once
#   FUZZ_BIN=.build-fuzz-release/release/decnet-fuzz scripts/fuzz.sh …   # run the driver built before, as it is
#
# Builds the decnet-fuzz product, instrumented for coverage and with AddressSanitizer, into .build-fuzz-release
# (a release build of the services' and the API's dependency graph: about half an hour the first time on 2 cores;
# FUZZ_CONFIG=debug builds into .build-fuzz instead, in about 5 minutes, and runs about five times slower), then
# runs each target for the given time (or FUZZ_RUNS inputs, whichever comes first) from its seed corpus
# (Fuzz/corpus/<target>, read only) into a working corpus (.fuzz/<target>), FUZZ_JOBS targets at a time (default
# 1). A crash, a sanitizer report or a timeout is written to Fuzz/crashes/<target>/ — commit it: `swift test`
# replays every file there (FuzzReplayTests), so a fixed crash stays fixed. Prints executions, coverage and
# findings per target.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
deps_find_swift

SECONDS_PER_TARGET=${1:-60}
shift || true
CONFIG=${FUZZ_CONFIG:-release}
JOBS=${FUZZ_JOBS:-1}
SCRATCH=.build-fuzz-release
[ "$CONFIG" = debug ] && SCRATCH=.build-fuzz
# SwiftPM passes one `-sanitize=` per `--sanitize` to swiftc, and the Swift driver keeps only the last of them:
# `--sanitize fuzzer --sanitize address` alone gives the Swift code AddressSanitizer and no coverage counters
# (only the C targets, which clang builds with both, were instrumented). The combined `-sanitize=fuzzer,address`
# comes after SwiftPM's own and so is the one kept; SwiftPM's flags still choose the C flags and the link.
FLAGS=(-c "$CONFIG" --product decnet-fuzz --scratch-path "$SCRATCH" --sanitize fuzzer --sanitize address
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DDECNET_FUZZ)
if [ -n "${FUZZ_BIN:-}" ]; then
    # A driver built before (by this script) is run as it is: no build, and the objects beside it are checked.
    BIN=$(readlink -f "$FUZZ_BIN")
    BIN_DIR=$(dirname "$BIN")
else
    swift build "${FLAGS[@]}" || exit 1
    BIN_DIR="$(swift build "${FLAGS[@]}" --show-bin-path)"
    BIN="$BIN_DIR/decnet-fuzz"
fi
# A build without counters in the Swift code fuzzes blind: refuse it.
if ! readelf -SW "$BIN_DIR"/DecnetServices.build/*.o 2>/dev/null | grep -c __sancov_cntrs >/dev/null; then
    echo "fuzz.sh: the Swift code of $BIN has no coverage counters; rebuild $SCRATCH" >&2
    exit 1
fi
RUNS=()
[ -n "${FUZZ_RUNS:-}" ] && RUNS=(-runs="$FUZZ_RUNS")

# One target: runs it, then prints its line of the table.
fuzz_one() {
    local target=$1 before runs rate cov corpus found
    mkdir -p ".fuzz/$target" "Fuzz/crashes/$target"
    before=$(ls "Fuzz/crashes/$target" | wc -l)
    # Swift's own backtracer would hold the process after a trap; libFuzzer reports and writes the input itself.
    # LeakSanitizer with Fuzz/lsan.supp (each suppression there says why: none is DECNET-Swift's own code).
    # A temporary folder of its own (api-json keeps its SQLite stores there), removed after: libFuzzer ends the
    # process without running its exit handlers.
    local scratch
    scratch=$(mktemp -d "/tmp/decnet-fuzz-$target.XXXXXX")
    TMPDIR=$scratch LSAN_OPTIONS="suppressions=$PWD/Fuzz/lsan.supp:print_suppressions=0" \
    SWIFT_BACKTRACE=enable=no DECNET_FUZZ_TARGET="$target" "$BIN" ".fuzz/$target" "Fuzz/corpus/$target" \
        -max_total_time="$SECONDS_PER_TARGET" "${RUNS[@]}" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="Fuzz/crashes/$target/" > ".fuzz/$target.log" 2>&1
    rm -rf "$scratch"
    # A "slow unit" (one input over 10 s, -report_slow_units) is written beside the crashes, but is no finding
    # unless it replays slowly: a machine that stalls makes them too. They are moved to .fuzz/slow/<target>/ to
    # be replayed by hand (docs/fuzzing.md), and counted in a column of their own.
    local slow=0 unit
    for unit in "Fuzz/crashes/$target"/slow-unit-*; do
        [ -e "$unit" ] || continue
        mkdir -p ".fuzz/slow/$target" && mv "$unit" ".fuzz/slow/$target/" && slow=$((slow + 1))
    done
    # (A finding prints the statistics twice: the last are the run's.)
    runs=$(awk '/stat::number_of_executed_units/ {v = $2} END {print v}' ".fuzz/$target.log")
    rate=$(awk '/stat::average_exec_per_sec/ {v = $2} END {print v}' ".fuzz/$target.log")
    # The edges libFuzzer last reported ("cov: N"); none means the target never reached instrumented code.
    cov=$(grep -o 'cov: [0-9]*' ".fuzz/$target.log" | tail -1 | cut -d' ' -f2)
    corpus=$(ls ".fuzz/$target" | wc -l)
    found=$(( $(ls "Fuzz/crashes/$target" | wc -l) - before ))
    printf '%-13s %12s %10s %8s %8s %8s %s\n' "$target" "${runs:-?}" "${rate:-?}" "${cov:-none}" "$corpus" "$found" "$slow"
}

if [ $# -gt 0 ]; then TARGETS=("$@"); else mapfile -t TARGETS < <(ls Fuzz/corpus); fi
# The run's verdict is what it wrote to Fuzz/crashes (a crash, a sanitizer report, a timeout, an out-of-memory).
findings_before=$(find Fuzz/crashes -type f | wc -l)
printf '%-13s %12s %10s %8s %8s %8s %s\n' target executions exec/s cov corpus findings slow
for target in "${TARGETS[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    fuzz_one "$target" &
done
wait
[ "$(find Fuzz/crashes -type f | wc -l)" -eq "$findings_before" ]
