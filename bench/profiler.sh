#!/usr/bin/env bash
# Profiler benchmark: can `decnet profiler` keep up with the ingester? N RFC 5424 event lines from A attackers
# (bench/lib/make_events.py: ssh logins with a password, every tenth a command) are stored by
# `decnet workers start --once`, then `decnet profiler start --once` profiles every attacker, clusters identities
# and campaigns and stores the results; then M more lines from the same attackers are stored and profiled again
# (what a running profiler does after a burst). Prints both rates.
#
#   bench/profiler.sh                       # N=200000 events from A=200 attackers, then M=20000 more
#   A=20000 bench/profiler.sh               # many attackers with few events each: clustering dominates
#
# Builds a release binary in .build-release/.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
A=${A:-200}
M=${M:-20000}

swift build -c release --product decnet --scratch-path .build-release >/dev/null
BIN=.build-release/release/decnet
WORK=$(mktemp -d /tmp/decnet-bench.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
python3 bench/lib/make_events.py "$N" "$WORK/first.log" "$A"
python3 bench/lib/make_events.py "$M" "$WORK/second.log" "$A" recent
export DECNET_STATE_DIR="$WORK" DECNET_DB_PATH="$WORK/decnet.db"
TIMEFORMAT='%R %U %S'
timed() { # label, command…
    local label=$1
    shift
    { time "$@" >"$WORK/out" 2>"$WORK/err"; } 2>"$WORK/time" || { cat "$WORK/err"; exit 1; }
    read -r WALL USER SYS <"$WORK/time"
    printf '%-34s %8.2f s wall (CPU user %.2f s, sys %.2f s)  %s\n' "$label" "$WALL" "$USER" "$SYS" "$(tail -1 "$WORK/out")"
}
timed "ingest $N events" "$BIN" workers start --once --log-file "$WORK/first.log"
INGEST=$WALL
timed "profile $A attackers" "$BIN" profiler start --once
PROFILE=$WALL
timed "ingest $M more" "$BIN" workers start --once --log-file "$WORK/second.log"
INGEST2=$WALL
timed "profile again" "$BIN" profiler start --once
PROFILE2=$WALL
awk -v n="$N" -v m="$M" -v i="$INGEST" -v p="$PROFILE" -v i2="$INGEST2" -v p2="$PROFILE2" 'BEGIN {
    printf "first:  ingested %.0f events/s, profiled %.0f events/s\n", n / i, n / p
    printf "second: ingested %.0f events/s, profiled %.0f events/s\n", m / i2, m / p2
}'
