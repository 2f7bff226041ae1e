#!/usr/bin/env bash
# Redis AUTH capture benchmark: N fresh connections, one AUTH each, at concurrency C, against
# `decnet service run redis` on loopback. Prints connections/s, latency percentiles (connect + AUTH + reply),
# the client's own CPU time, and how many logins were captured (must equal N).
#
#   bench/redis-auth.sh                # N=2000 C=50
#   N=20000 C=500 bench/redis-auth.sh
#
# Needs redis-benchmark (Debian's redis-tools). Builds a release binary in .build-release/.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
C=${C:-50}
PORT=${PORT:-16379}

swift build -c release --product decnet --scratch-path .build-release >/dev/null
BIN=.build-release/release/decnet
WORK=$(mktemp -d /tmp/decnet-bench.XXXXXX)
LOG="$WORK/events.log"
"$BIN" service run redis --bind "127.0.0.1:$PORT" --quiet --log-file "$LOG" \
    --persona redis_password=bench-secret --max-per-source "${MAX_PER_SOURCE:-1024}" 2>"$WORK/service.err" &
PID=$!
cleanup() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" PING >/dev/null 2>&1 && break; sleep 0.1; done
BEFORE=$(grep -c 'login.success' "$LOG" || true)

START=$(date +%s.%N)
TIMEFORMAT='%U %S'
# -a makes redis-benchmark AUTH on every connection it opens (and -k 0 opens one per request), so each
# request is: connect, AUTH, PING, close. It also opens one connection of its own first to read CONFIG.
{ time redis-benchmark -h 127.0.0.1 -p "$PORT" -a bench-secret -n "$N" -c "$C" -k 0 --precision 3 \
    PING >"$WORK/bench.out" 2>&1; } 2>"$WORK/client.cpu"
END=$(date +%s.%N)

# Give the dispatcher a moment to write the last events, then stop the service cleanly (it flushes on TERM).
sleep 0.5
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
CAPTURED=$(( $(grep -c 'login.success' "$LOG" || true) - BEFORE - 1 ))
read -r USER_CPU SYS_CPU <"$WORK/client.cpu"

echo "redis AUTH, N=$N C=$C, keepalive off (a new connection per AUTH)"
tr '\r' '\n' <"$WORK/bench.out" | grep -E "throughput|latency|avg|^ +[0-9]" | tail -4
awk -v n="$N" -v s="$START" -v e="$END" 'BEGIN { printf "wall %.2f s, %.0f connections/s\n", e - s, n / (e - s) }'
echo "client CPU: user ${USER_CPU}s sys ${SYS_CPU}s"
echo "captured login.success events: $CAPTURED of $N"
[ "$CAPTURED" -eq "$N" ]
