#!/usr/bin/env bash
# API load benchmark: a store with N events from A attackers (the ingest benchmark's shape), the API in a release
# build, then wrk with C concurrent connections on the attackers list and on the stats endpoint, each for D
# seconds, with a valid bearer token. Prints wrk's requests/s and latency distribution for each, and the CPU the
# API and wrk used (both run on this machine's cores: the load client is not free).
#
#   bench/api-load.sh                       # N=200000 events, A=2000 attackers, C=500, D=20
#   C=100 D=10 bench/api-load.sh
#   BACKEND=postgres bench/api-load.sh      # the store in a private PostgreSQL 15 (root: it runs as postgres)
#   CACHE=0 bench/api-load.sh               # without the read routes' 1 s micro-cache: every request queries
#
# Needs wrk (apt-get install wrk). Builds a release binary in .build-release/.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
A=${A:-2000}
C=${C:-500}
D=${D:-20}
THREADS=${THREADS:-2}
BACKEND=${BACKEND:-sqlite}
CACHE=${CACHE:-1}
command -v wrk >/dev/null || { echo "api-load: needs wrk (apt-get install wrk)" >&2; exit 1; }

swift build -c release --product decnet --scratch-path .build-release >/dev/null
BIN=$PWD/.build-release/release/decnet
WORK=$(mktemp -d /tmp/decnet-apibench.XXXXXX)
PGPID=
export DECNET_STATE_DIR="$WORK" DECNET_DB_PATH="$WORK/decnet.db" DECNET_DB_BACKEND="$BACKEND"
export DECNET_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') DECNET_ADMIN_PASSWORD=bench-first-pw
cleanup() {
    "$BIN" api stop >/dev/null 2>&1 || true
    if [ -n "$PGPID" ]; then kill -TERM "$PGPID" 2>/dev/null || true; wait "$PGPID" 2>/dev/null || true; fi
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
python3 bench/lib/make_events.py "$N" "$WORK/decnet.log" "$A" recent
if [ "$BACKEND" = postgres ]; then
    . bench/lib/postgres.sh
    start_private_postgres "${PGPORT:-25433}"
fi
"$BIN" workers start --once --log-file "$WORK/decnet.log" --batch-size 5000 | head -1
PORT_API=${PORT_API:-18000}
"$BIN" api start --port "$PORT_API" --no-deploy --response-cache "$CACHE" >/dev/null
BASE=http://127.0.0.1:$PORT_API/api/v1
login() { curl -s -X POST "$BASE/auth/login" -H 'Content-Type: application/json' -d "{\"username\":\"admin\",\"password\":\"$1\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'; }
FIRST=$(login bench-first-pw)
curl -s -X POST "$BASE/auth/change-password" -H 'Content-Type: application/json' -H "Authorization: Bearer $FIRST" \
    -d '{"old_password":"bench-first-pw","new_password":"bench-second-pw"}' >/dev/null
TOKEN=$(login bench-second-pw)
API_PID=$(cat "$WORK/decnet-api.pid")
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime, in clock ticks
TICKS=$(getconf CLK_TCK)
echo "store: $BACKEND, $N events, $(curl -s -H "Authorization: Bearer $TOKEN" "$BASE/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["attackers"])') attackers; micro-cache ${CACHE}s; wrk: $THREADS threads, $C connections, ${D}s per endpoint"
for ENDPOINT in "attackers?limit=50" "stats"; do
    BEFORE=$(cpu "$API_PID")
    START=$(date +%s.%N)
    WRK_CPU_BEFORE=$(awk '/^cpu /{print $2+$3+$4}' /proc/stat)
    /usr/bin/time -f "%U %S" -o "$WORK/wrk.time" wrk -t"$THREADS" -c"$C" -d"${D}s" --timeout 10s --latency \
        -H "Authorization: Bearer $TOKEN" "$BASE/$ENDPOINT" >"$WORK/wrk.out"
    END=$(date +%s.%N)
    AFTER=$(cpu "$API_PID")
    read -r WU WS <"$WORK/wrk.time"
    echo
    echo "== GET /api/v1/$ENDPOINT =="
    grep -E "Requests/sec|Latency |  50%|  90%|  99%|Non-2xx|Socket errors|requests in" "$WORK/wrk.out"
    python3 - "$BEFORE" "$AFTER" "$TICKS" "$START" "$END" "$WU" "$WS" <<'PY'
import sys
before, after, ticks, start, end, wu, ws = map(float, sys.argv[1:])
wall = end - start
print(f"API CPU: {(after - before) / ticks:.1f} s over {wall:.1f} s ({(after - before) / ticks / wall * 100:.0f}% of one core); "
      f"wrk CPU: {wu + ws:.1f} s ({(wu + ws) / wall * 100:.0f}% of one core)")
PY
done
echo
# RSS counts the store's file once per mapping (each SQLite reader maps it); Anonymous is the process's own heap.
awk '/^(Rss|Pss|Anonymous):/{printf "API %s %d MiB  ", $1, $2 / 1024} END {print ""}' "/proc/$API_PID/smaps_rollup"
