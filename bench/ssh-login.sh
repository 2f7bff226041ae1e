#!/usr/bin/env bash
# SSH login-capture benchmark: hydra (C, libssh) tries N passwords for root at concurrency C against
# `decnet service run ssh` on loopback; none is right. Each attempt is a full SSH connection: key exchange
# (the client's first choice, sntrup761x25519 or curve25519 per its libssh), password, failure. Prints attempts/s,
# the client's own CPU time, and how many attempts were captured (must equal N).
#
#   bench/ssh-login.sh                     # N=2000 C=50, no failure delay
#   DELAY=2000 N=500 bench/ssh-login.sh    # with PAM's 2 s delay, as a decky answers by default
#
# Needs hydra (Debian's hydra). Builds a release binary in .build-release/.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
C=${C:-50}
PORT=${PORT:-10022}
DELAY=${DELAY:-0}

swift build -c release --product decnet --scratch-path .build-release >/dev/null
BIN=.build-release/release/decnet
WORK=$(mktemp -d /tmp/decnet-bench.XXXXXX)
LOG="$WORK/events.log"
"$BIN" service run ssh --bind "127.0.0.1:$PORT" --quiet --log-file "$LOG" --artifact-dir "$WORK/artifacts" \
    --persona users=root:not-in-the-list --persona "password_delay_ms=$DELAY" \
    --max-per-source "${MAX_PER_SOURCE:-1024}" 2>"$WORK/service.err" &
PID=$!
cleanup() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
seq -f "bench-password-%06g" 1 "$N" >"$WORK/passwords"

START=$(date +%s.%N)
TIMEFORMAT='%U %S'
{ time hydra -q -I -t "$C" -l root -P "$WORK/passwords" "ssh://127.0.0.1:$PORT" >"$WORK/hydra.out" 2>&1; } \
    2>"$WORK/client.cpu" || true
END=$(date +%s.%N)

sleep 0.5
TICKS=$(getconf CLK_TCK)
SERVER_CPU=$(awk -v t="$TICKS" '{printf "user %.2fs sys %.2fs", $14 / t, $15 / t}' "/proc/$PID/stat")
RSS=$(awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$PID/status")
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
CAPTURED=$(grep -c ' ssh - login.failed ' "$LOG" || true)
read -r USER_CPU SYS_CPU <"$WORK/client.cpu"

echo "ssh password logins (hydra -t $C), N=$N, failure delay ${DELAY} ms"
grep -E "valid password|ERROR|completed" "$WORK/hydra.out" | head -3 || true
awk -v n="$N" -v s="$START" -v e="$END" 'BEGIN { printf "wall %.2f s, %.0f attempts/s\n", e - s, n / (e - s) }'
echo "client (hydra) CPU: user ${USER_CPU}s sys ${SYS_CPU}s; server (decnet) CPU: $SERVER_CPU, peak RSS $RSS"
echo "captured login.failed events: $CAPTURED of $N"
[ "$CAPTURED" -eq "$N" ]
