# Sourced by the lab benchmarks (scan-flood.sh, personality-cost.sh): a release `decnet` built in
# .build-release/, a state directory of the run's own, and a teardown of its fleet and lab at exit.
#
#   source bench/lib/lab-bench.sh && lab_bench_setup NAME    # sets BIN and WORK, exports the state variables

lab_bench_setup() {
    local name=$1
    [ "$(id -u)" -eq 0 ] || { echo "$name: needs root (network namespaces)" >&2; exit 1; }
    source scripts/deps.sh
    deps_find_swift
    swift build -c release --product decnet --scratch-path .build-release >/dev/null
    BIN=$PWD/.build-release/release/decnet
    WORK=$(mktemp -d "/tmp/decnet-bench-$name.XXXXXX")
    export DECNET_STATE_DIR=$WORK DECNET_INGEST_LOG_FILE=$WORK/events.log
    trap lab_bench_cleanup EXIT
}

lab_bench_cleanup() {
    # The workers too, when a run started them and ended early (its own end stops them).
    "$BIN" workers stop >/dev/null 2>&1 || true
    "$BIN" teardown --all >/dev/null 2>&1 || true
    "$BIN" lab down >/dev/null 2>&1 || true
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
