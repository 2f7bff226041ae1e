#!/usr/bin/env bash
# Ingest benchmark: N RFC 5424 event lines (the engine's format; 200 attackers over 5 deckies, every tenth a
# command, the rest logins with a password, so every line also touches the bounty and attackers tables) are
# written to a log, then `decnet workers start --once` stores them in a fresh SQLite file. Prints events/s and
# checks that every line was stored and none rejected.
#
#   bench/ingest.sh                 # N=200000, batches of 20000 (the default), into SQLite
#   N=1000000 BATCH=50000 bench/ingest.sh
#   BACKEND=postgres bench/ingest.sh   # into a private PostgreSQL 15 server (root: it runs as `postgres`)
#
# Builds a release binary in .build-release/.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
BATCH=${BATCH:-20000}
BACKEND=${BACKEND:-sqlite}

swift build -c release --product decnet --scratch-path .build-release >/dev/null
BIN=.build-release/release/decnet
WORK=$(mktemp -d /tmp/decnet-bench.XXXXXX)
PGPID=
cleanup() {
    if [ -n "$PGPID" ]; then kill -TERM "$PGPID" 2>/dev/null || true; wait "$PGPID" 2>/dev/null || true; fi
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
python3 bench/lib/make_events.py "$N" "$WORK/decnet.log"
SIZE=$(du -m "$WORK/decnet.log" | cut -f1)
export DECNET_STATE_DIR="$WORK" DECNET_DB_PATH="$WORK/decnet.db" DECNET_DB_BACKEND="$BACKEND"
if [ "$BACKEND" = postgres ]; then
    . bench/lib/postgres.sh
    start_private_postgres "${PGPORT:-25432}"
fi
TIMEFORMAT='%R %U %S'
{ time "$BIN" workers start --once --log-file "$WORK/decnet.log" --batch-size "$BATCH" >"$WORK/out" 2>"$WORK/err"; } 2>"$WORK/time"
read -r WALL USER SYS <"$WORK/time"
cat "$WORK/out"
if [ "$BACKEND" = postgres ]; then
    echo "log: $N lines, ${SIZE} MiB; database: $(du -sm "$WORK/pg/data" | cut -f1) MiB (PostgreSQL data directory)"
else
    echo "log: $N lines, ${SIZE} MiB; database: $(du -m "$WORK/decnet.db" | cut -f1) MiB"
fi
awk -v n="$N" -v w="$WALL" -v u="$USER" -v s="$SYS" \
    'BEGIN { printf "wall %.2f s, %.0f events/s (CPU user %.2f s, sys %.2f s)\n", w, n / w, u, s }'
grep -q "^ingested $N event(s).* 0 rejected line(s)" "$WORK/out"
