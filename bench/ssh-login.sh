#!/usr/bin/env bash
# SSH login-capture benchmark: hydra (C, libssh) tries N passwords for root at concurrency C against
# `decnet service run ssh` on loopback; none is right. hydra tries passwords on a connection until the server
# ends it: sshd (and a decky) disconnects at the sixth failure (MaxAuthTries), so about one connection (full key
# exchange, libssh's curve25519) per five passwords, and hydra tries the password that met the disconnect again
# on its next connection: captured attempts are N plus those retries. Without a failure delay, `-w 1` stops
# hydra from waiting its default 32 s on each such disconnect (with PAM's 2 s delay hydra needs its default). Prints attempts/s and connections/s, both sides' CPU time, and checks
# that every password in the list was captured.
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
WAIT=${WAIT:-$([ "$DELAY" -eq 0 ] && echo 1 || echo 32)}

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
{ time hydra -q -I -w "$WAIT" -t "$C" -l root -P "$WORK/passwords" "ssh://127.0.0.1:$PORT" >"$WORK/hydra.out" 2>&1; } \
    2>"$WORK/client.cpu" || true
END=$(date +%s.%N)

sleep 0.5
TICKS=$(getconf CLK_TCK)
SERVER_CPU=$(awk -v t="$TICKS" '{printf "user %.2fs sys %.2fs", $14 / t, $15 / t}' "/proc/$PID/stat")
RSS=$(awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$PID/status")
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
CAPTURED=$(grep -c ' ssh - login.failed ' "$LOG" || true)
CONNECTIONS=$(grep -c ' ssh - connection.open ' "$LOG" || true)
DISTINCT=$(grep ' ssh - login.failed ' "$LOG" | grep -o 'password="bench-password-[0-9]*"' | sort -u | wc -l)
read -r USER_CPU SYS_CPU <"$WORK/client.cpu"

echo "ssh password logins (hydra -t $C -w $WAIT), N=$N, failure delay ${DELAY} ms"
grep -E "valid password|ERROR|completed" "$WORK/hydra.out" | head -3 || true
awk -v n="$CAPTURED" -v c="$CONNECTIONS" -v s="$START" -v e="$END" \
    'BEGIN { printf "wall %.2f s, %.0f captured attempts/s, %.0f connections/s\n", e - s, n / (e - s), c / (e - s) }'
echo "client (hydra) CPU: user ${USER_CPU}s sys ${SYS_CPU}s; server (decnet) CPU: $SERVER_CPU, peak RSS $RSS"
echo "captured login.failed events: $CAPTURED ($DISTINCT distinct passwords of the $N in the list; $CONNECTIONS connections)"
[ "$DISTINCT" -eq "$N" ]
