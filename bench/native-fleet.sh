#!/usr/bin/env bash
# Native fleet benchmark: deploys N deckies with three services each (http on 80 and 443, redis, ftp: four
# listening sockets per decky) on a lab LAN of namespaces, and records how long `decnet deploy` takes to
# return with every decky served, the engine's resident memory, a spot check from the lab's attacker, and how
# long `decnet teardown --all` takes. Needs root (network namespaces).
#
#   sudo bench/native-fleet.sh            # N=100
#   sudo N=1000 bench/native-fleet.sh
#
# Builds a release binary in .build-release/. Everything it makes is named decnet-nb<pid>-* and removed at
# the end, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100}
SERVICES=${SERVICES:-http,redis,ftp}

swift build -c release --product decnet --scratch-path .build-release >/dev/null
BIN=$PWD/.build-release/release/decnet
WORK=$(mktemp -d /tmp/decnet-fleet-bench.XXXXXX)
LAB="nb$$"
export DECNET_STATE_DIR="$WORK" DECNET_INGEST_LOG_FILE="$WORK/events.log"
cleanup() {
    if [ -f "$WORK/decnet-engine.pid" ]; then kill -9 "$(cat "$WORK/decnet-engine.pid")" 2>/dev/null || true; fi
    "$BIN" teardown --all >/dev/null 2>&1 || true
    "$BIN" lab down >/dev/null 2>&1 || true
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# A /22 holds 1,000 deckies besides the gateway (.1) and the attacker (the last address).
"$BIN" lab up --name "$LAB" --subnet 10.99.0.0/22 >/dev/null
START=$(date +%s.%N)
"$BIN" deploy --lab --lab-name "$LAB" --deckies "$N" --services "$SERVICES" --ip-start 10.99.0.10 \
    --seed 1 >"$WORK/deploy.out" 2>&1 || { tail -20 "$WORK/deploy.out"; exit 1; }
END=$(date +%s.%N)
PID=$(cat "$WORK/decnet-engine.pid")
RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
THREADS=$(awk '/Threads/ {print $2}' "/proc/$PID/status")
RUNNING=$("$BIN" status | grep -c ' running ' || true)

# Spot check: the last decky answers from the attacker, and one login is captured.
LAST_IP=$("$BIN" inventory --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["ip"])')
"$BIN" lab exec -- redis-cli -h "$LAST_IP" -a spot-check --no-auth-warning PING >/dev/null 2>&1 || true
sleep 0.3
CAPTURED=$(grep -c 'password="spot-check"' "$WORK/events.log" || true)
RSS_AFTER_KB=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")

TSTART=$(date +%s.%N)
"$BIN" teardown --all >/dev/null
TEND=$(date +%s.%N)
LEFT=$(ip netns list | grep -c "decnet-decky-" || true)

printf 'deckies=%s services=%s running=%s\n' "$N" "$SERVICES" "$RUNNING"
printf 'deploy_s=%.2f teardown_s=%.2f\n' "$(echo "$END - $START" | bc)" "$(echo "$TEND - $TSTART" | bc)"
printf 'engine_rss_mib=%.1f (after a login: %.1f) threads=%s\n' "$(echo "$RSS_KB / 1024" | bc -l)" \
    "$(echo "$RSS_AFTER_KB / 1024" | bc -l)" "$THREADS"
printf 'spot_check_login_captured=%s decky_namespaces_left=%s\n' "$CAPTURED" "$LEFT"
