#!/usr/bin/env bash
# The packet layer under a SYN flood (issue 18): a lab of five deckies, each serving redis; hping3 floods one
# decky with SYNs for DURATION seconds while redis-benchmark logs in (connect + AUTH + PING + close, a new
# connection each time) on another. Prints the flood's rate at the decky, how long the flood took to be
# reported, the redis login latency unloaded and under the flood, the engine's memory, the capture thread's
# CPU per 1,000 packets and the ring's drops; then the same flood with the packet layer stopped, for the cost.
#
#   sudo bench/scan-flood.sh              # DURATION=30 N=3000
#
# Needs root, hping3, redis-benchmark (scripts/deps.sh groups demo and test). Builds a release binary in
# .build-release/. Everything it makes carries the tag "bfl" and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-30}
N=${N:-3000}
source bench/lib/lab-bench.sh
lab_bench_setup flood
NET=10.74.9
{
    echo "[general]"
    echo "net = $NET.0/24"
    for i in 0 1 2 3 4; do
        printf '\n[bfl-d%s]\nip = %s.%s\nservices = redis, ssh\nnmap_os = linux\n\n[bfl-d%s.redis]\nredis_password = bench-secret\n' \
            "$i" "$NET" "$((10 + i))" "$i"
    done
} >"$WORK/fleet.ini"
"$BIN" deploy --config "$WORK/fleet.ini" --lab --lab-name bfl >/dev/null
ENGINE=$(cat "$WORK/decnet-engine.pid")
ATTACKER="ip netns exec decnet-bfl-attacker"
TARGET=$NET.10
OTHER=$NET.12

rss() { awk '/VmRSS/ { print $2 }' "/proc/$ENGINE/status"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$ENGINE/stat"; }
rx() { ip netns exec decnet-bfl-d0 cat /sys/class/net/eth0/statistics/rx_packets; }
field() { "$BIN" sniffer status --json | awk -F'[:,]' -v k="\"$1\"" '$1 ~ k { gsub(/ /, "", $2); print $2 }'; }
logins() {
    $ATTACKER redis-benchmark -h "$OTHER" -a bench-secret -n "$N" -c 4 -k 0 --precision 3 PING 2>&1 \
        | tr '\r' '\n' | grep -A1 "avg" | tail -1
}

# One flood run: prints its figures (label: "on" or "off").
run() {
    local label=$1
    echo "== packet layer $label =="
    echo "redis login latency (ms) unloaded:  avg min p50 p95 p99 max = $(logins)"
    local rss0 rx0 cpu0 frames0 drops0 start detected ticks0
    rss0=$(rss); rx0=$(rx); ticks0=$(ticks)
    if [ "$label" = on ]; then cpu0=$(field cpuMicroseconds); frames0=$(field frames); drops0=$(field kernelDrops); fi
    local peak=$rss0
    : >"$WORK/latency"
    start=$(date +%s.%N)
    # 10.74.9.200 is held by nobody: the decky's SYN-ACKs go nowhere, as with a spoofed flood.
    $ATTACKER timeout -s KILL "$DURATION" hping3 -S -p 6379 --flood -a "$NET.200" "$TARGET" >/dev/null 2>&1 &
    local flood=$!
    detected=""
    ( sleep 3; logins >"$WORK/latency" ) &
    local client=$!
    while kill -0 "$flood" 2>/dev/null; do
        local now; now=$(rss); [ "$now" -gt "$peak" ] && peak=$now
        if [ -z "$detected" ] && grep -q 'scan_type="syn_flood"' "$DECNET_INGEST_LOG_FILE" 2>/dev/null; then
            detected=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
        fi
        sleep 0.2
    done
    wait "$client" || true
    local end; end=$(date +%s.%N)
    local rx1; rx1=$(rx)
    local packets=$((rx1 - rx0))
    echo "redis login latency (ms) under flood: avg min p50 p95 p99 max = $(cat "$WORK/latency")"
    awk -v p="$packets" -v s="$start" -v e="$end" \
        'BEGIN { printf "flood at the decky: %d packets in %.1f s = %.0f packets/s\n", p, e - s, p / (e - s) }'
    echo "engine RSS: before $((rss0 / 1024)) MiB, peak $((peak / 1024)) MiB, after $(( $(rss) / 1024 )) MiB"
    if [ "$label" = on ]; then
        local cpu1 frames1 drops1
        sleep 1
        cpu1=$(field cpuMicroseconds); frames1=$(field frames); drops1=$(field kernelDrops)
        echo "syn_flood reported ${detected:-never} s after the flood began"
        awk -v c=$((cpu1 - cpu0)) -v f=$((frames1 - frames0)) -v d=$((drops1 - drops0)) -v p="$packets" 'BEGIN {
            printf "capture thread: %.0f ms CPU for %d frames read = %.1f us per 1,000 packets read; ring drops %d (%.1f%% of %d)\n",
                c / 1000, f, (f > 0 ? c / f * 1000 : 0), d, (p > 0 ? d * 100 / p : 0), p }'
    fi
    echo "engine CPU during the flood (user+sys): $(awk -v a="$ticks0" -v b="$(ticks)" 'BEGIN { printf "%.2f", (b - a) / 100 }') s"
}

run on
sleep 11  # the flood's scan ends (10 s of quiet) before the next run
"$BIN" sniffer stop >/dev/null
run off
