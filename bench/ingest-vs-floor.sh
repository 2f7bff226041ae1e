#!/usr/bin/env bash
# The ingester against SQLite's floor, in one run (issue 25): ROUNDS times, bench/lib/sqlite_floor.c (SQLite
# alone doing the store's inserts with its indexes, prepared statements in C) and then `decnet workers start
# --once` on the same number of the engine's event lines, each into a fresh database file, alternating so that
# whatever else the machine is doing falls on both. Prints each pair, then the medians and their ratio: the
# ingester's rate as a fraction of the floor. Each side is timed as it times itself, from an open store with its
# schema to the last commit: the floor's clock starts after its tables are made and its values prepared, the
# ingester's (the seconds it prints) after the store is opened and migrated, and runs through reading and parsing
# every line and closing its bus publisher. The process's whole wall time is printed beside it.
#
#   bench/ingest-vs-floor.sh                  # N=200000, batches of 20000, 5 rounds
#   N=500000 ROUNDS=3 bench/ingest-vs-floor.sh
#
# Builds a release binary in .build-release/.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
BATCH=${BATCH:-20000}
ROUNDS=${ROUNDS:-5}

swift build -c release --product decnet --scratch-path .build-release >/dev/null
BIN=$PWD/.build-release/release/decnet
WORK=$(mktemp -d /tmp/decnet-vs-floor.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
cc -O2 -o "$WORK/floor" bench/lib/sqlite_floor.c -lsqlite3
python3 bench/lib/make_events.py "$N" "$WORK/decnet.log"

: >"$WORK/pairs"
for round in $(seq "$ROUNDS"); do
    rm -f "$WORK"/floor.db*
    floor=$("$WORK/floor" "$N" "$BATCH" all "$WORK/floor.db" | awk '{ print $(NF - 1) }')
    rm -rf "$WORK/state" && mkdir "$WORK/state"
    start=$(date +%s.%N)
    DECNET_STATE_DIR="$WORK/state" DECNET_DB_PATH="$WORK/state/decnet.db" DECNET_DB_BACKEND=sqlite \
        "$BIN" workers start --once --log-file "$WORK/decnet.log" --batch-size "$BATCH" >"$WORK/out" 2>"$WORK/err"
    end=$(date +%s.%N)
    grep -q "^ingested $N event(s).* 0 rejected line(s)" "$WORK/out" || {
        echo "round $round: the ingester did not store every line:" >&2
        cat "$WORK/out" "$WORK/err" >&2
        exit 1
    }
    seconds=$(sed -n 's/^ingested .*, \([0-9.]*\) s$/\1/p' "$WORK/out")
    ingest=$(awk -v n="$N" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }')
    echo "$floor $ingest" >>"$WORK/pairs"
    awk -v r="$round" -v f="$floor" -v i="$ingest" -v w="$(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }')" \
        'BEGIN { printf "round %d: floor %d events/s, ingester %d events/s (process wall %.2f s), %.2f of the floor\n", r, f, i, w, i / f }'
done
awk '
    { floor[NR] = $1; ingest[NR] = $2 }
    function median(a, n,    i, j, t) {
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
        f = median(floor, NR); i = median(ingest, NR)
        printf "medians over %d rounds: floor %.0f events/s, ingester %.0f events/s: %.2f of the floor\n", NR, f, i, i / f
    }' "$WORK/pairs"
