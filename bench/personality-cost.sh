#!/usr/bin/env bash
# What the OS personality layer costs (issue 20): two deckies on a lab LAN with the same Windows persona and
# redis, one shaped (the default) and one with `os_shaping = off`. redis-benchmark logs in on each in turn (a new
# connection per login: connect, AUTH, PING, close), ROUNDS times, and the login rates are compared. Prints the
# queue's own figures from the shaped decky's namespace (packets queued, dropped by the kernel, dropped for want
# of a reader) and the queue thread's CPU per packet.
#
#   sudo bench/personality-cost.sh          # N=20000 logins a run, C=4 connections at once, ROUNDS=3
#
# Needs root, redis-benchmark (scripts/deps.sh group test). Builds a release binary in .build-release/.
# Everything it makes carries the tag "bpc" and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20000}
C=${C:-4}
ROUNDS=${ROUNDS:-3}
source bench/lib/lab-bench.sh
lab_bench_setup personality
NET=10.74.11
cat >"$WORK/fleet.ini" <<INI
[general]
net = $NET.0/24

[bpc-on]
ip = $NET.10
services = redis
nmap_os = windows

[bpc-on.redis]
redis_password = bench-secret

[bpc-off]
ip = $NET.11
services = redis
nmap_os = windows
os_shaping = off

[bpc-off.redis]
redis_password = bench-secret
INI
"$BIN" deploy --config "$WORK/fleet.ini" --lab --lab-name bpc >/dev/null
ENGINE=$(cat "$WORK/decnet-engine.pid")
ATTACKER="ip netns exec decnet-bpc-attacker"
# Every login is a new connection from the attacker: reuse its TIME_WAIT ports, as a load client must.
$ATTACKER sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"

rate() {
    $ATTACKER redis-benchmark -h "$1" -a bench-secret -n "$N" -c "$C" -k 0 -q PING 2>&1 | tr '\r' '\n' \
        | awk '/requests per second/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { r = $i; break } } END { print r }'
}
thread_ticks() {
    for task in /proc/"$ENGINE"/task/*; do
        if [ "$(cat "$task/comm")" = "decnet-shaper" ]; then awk '{ print $14 + $15 }' "$task/stat"; return; fi
    done
    echo 0
}
shaped_packets() {
    "$BIN" status --json | python3 -c 'import json,sys
for d in json.load(sys.stdin)["deckies"]:
    if d["name"] == "bpc-on": print((d.get("shaping") or {}).get("packets", 0))'
}

rate "$NET.10" >/dev/null; rate "$NET.11" >/dev/null  # warm up both
ticks0=$(thread_ticks); packets0=$(shaped_packets)
echo "| round | logins/s, shaped (bpc-on) | logins/s, os_shaping = off (bpc-off) | on ÷ off |"
echo "|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
    on=$(rate "$NET.10"); off=$(rate "$NET.11")
    awk -v r="$round" -v c="$C" -v a="$on" -v b="$off" \
        'BEGIN { printf "| %d (%d at once) | %.0f | %.0f | %.3f |\n", r, c, a, b, a / b }'
done
sleep 1.5  # the status counters are refreshed every second
ticks1=$(thread_ticks); packets1=$(shaped_packets)
echo
echo "queue of bpc-on (/proc/net/netfilter/nfnetlink_queue: queue, reader, waiting, mode, range, kernel drops, reader drops, packet ids):"
ip netns exec decnet-bpc-on cat /proc/net/netfilter/nfnetlink_queue
awk -v t=$((ticks1 - ticks0)) -v p=$((packets1 - packets0)) 'BEGIN {
    printf "queue thread: %.2f s CPU for %d packets = %.1f us a packet\n", t / 100, p, (p > 0 ? t / 100 / p * 1e6 : 0) }'
