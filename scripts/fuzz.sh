#!/usr/bin/env bash
# Fuzzes every decoder target with libFuzzer and AddressSanitizer (issue 25).
#
#   scripts/fuzz.sh [seconds per target, default 60] [target…]
#
# Builds the decnet-fuzz product with `--sanitize fuzzer --sanitize address` into .build-fuzz (a debug build of
# the services' dependency graph, about 10 minutes the first time on 2 cores), then runs each target for the given
# time from its seed corpus (Fuzz/corpus/<target>, read only) into a working corpus (.fuzz/<target>). A crash,
# a sanitizer report or a timeout is written to Fuzz/crashes/<target>/ — commit it: `swift test` replays every file
# there (FuzzReplayTests), so a fixed crash stays fixed. Prints executions and findings per target.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
deps_find_swift

SECONDS_PER_TARGET=${1:-60}
shift || true
FLAGS=(--product decnet-fuzz --scratch-path .build-fuzz --sanitize fuzzer --sanitize address -Xswiftc -DDECNET_FUZZ)
swift build "${FLAGS[@]}" || exit 1
BIN="$(swift build "${FLAGS[@]}" --show-bin-path)/decnet-fuzz"

if [ $# -gt 0 ]; then TARGETS=("$@"); else mapfile -t TARGETS < <(ls Fuzz/corpus); fi
status=0
printf '%-12s %12s %10s %8s %s\n' target executions exec/s corpus findings
for target in "${TARGETS[@]}"; do
    mkdir -p ".fuzz/$target" "Fuzz/crashes/$target"
    before=$(ls "Fuzz/crashes/$target" | wc -l)
    # Swift's own backtracer would hold the process after a trap; libFuzzer reports and writes the input itself.
    # LeakSanitizer with Fuzz/lsan.supp (each suppression there says why: none is DECNET-Swift's own code).
    LSAN_OPTIONS="suppressions=$PWD/Fuzz/lsan.supp:print_suppressions=0" \
    SWIFT_BACKTRACE=enable=no DECNET_FUZZ_TARGET="$target" "$BIN" ".fuzz/$target" "Fuzz/corpus/$target" \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="Fuzz/crashes/$target/" > ".fuzz/$target.log" 2>&1 || status=1
    # (A finding prints the statistics twice: the last are the run's.)
    runs=$(awk '/stat::number_of_executed_units/ {v = $2} END {print v}' ".fuzz/$target.log")
    rate=$(awk '/stat::average_exec_per_sec/ {v = $2} END {print v}' ".fuzz/$target.log")
    corpus=$(ls ".fuzz/$target" | wc -l)
    found=$(( $(ls "Fuzz/crashes/$target" | wc -l) - before ))
    printf '%-12s %12s %10s %8s %s\n' "$target" "${runs:-?}" "${rate:-?}" "$corpus" "$found"
    [ "$found" -gt 0 ] && status=1
done
exit $status
