#!/usr/bin/env bash
# What SQLite alone reaches on this machine for the ingester's inserts (bench/lib/sqlite_floor.c: the store's
# schema, prepared statements in C, nothing else running): the ceiling for bench/ingest.sh. Three runs each of
# the store's indexes, of no timestamp index, and of no index on logs.
#
#   bench/sqlite-floor.sh           # N=200000, batches of 20000
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
BATCH=${BATCH:-20000}
WORK=$(mktemp -d /tmp/decnet-floor.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cc -O2 -o "$WORK/floor" bench/lib/sqlite_floor.c -lsqlite3
for indexes in all no-timestamp none; do
    for _ in 1 2 3; do "$WORK/floor" "$N" "$BATCH" "$indexes" "$WORK/floor.db"; done
done
