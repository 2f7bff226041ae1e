#!/usr/bin/env bash
# Side-by-side benchmark (issue 8): the same login workloads against DECNET-Swift and the honeypots people run
# today, one after another on this machine, each on loopback, driven by a compiled load client
# (bench/compare/authload.c) whose own CPU is reported beside every figure. Then memory (each peer with all its
# services, DECNET-Swift with the same services in one decky and in 100 deckies), a slow-loris flood, and
# bench/detect (nmap against a fleet). Needs root (network namespaces, and Cowrie is run as nobody).
#
#   sudo bench/compare.sh                          # everything, about half an hour; the tables on stdout
#   sudo WORKLOADS="redis ssh" CONCURRENCY="1 50" FLOOD_WORKLOADS= MEMORY=0 DETECT=0 bench/compare.sh
#
# Settings (environment): N logins per run (default 3000; ssh 1000), MAX_SECONDS per run (default 30: a slow
# peer makes fewer attempts, and "captured / attempts" counts what it was given), CONCURRENCY ("1 50 500"),
# WORKLOADS ("redis ssh http ftp mysql"; vnc, rdp, mssql, smb and the UDP ones, snmp, sip and tftp, run only when
# named, e.g. WORKLOADS="vnc rdp mssql smb snmp sip tftp"),
# FLOOD (10000 connections held, spread over FLOOD_SOURCES=50 source addresses so that no per-source cap refuses
# them simply), FLOOD_N (200 logins at concurrency 1 during the flood), FLOOD_WORKLOADS (default: WORKLOADS),
# MEMORY (1), DECKIES (100), DETECT (1), LOOPS (DECNET-Swift's event loop threads, NIO_SINGLETON_GROUP_LOOP_COUNT;
# default 1, as each peer serves from one reactor thread: on this 2-core machine the load client's threads take
# the cores too, and a second loop adds context switches, not capacity; `LOOPS=` leaves NIO's default, a loop
# per core, which docs/benchmarks.md also measures).
#
# The peers are installed into their own virtual environments under .bench-peers/ (built with
# /usr/bin/python3, pinned versions): OpenCanary 0.9.10, qeeqbox honeypots 0.66 and Cowrie 3.1.4 (ssh only).
# qeeqbox's servers kill whatever holds their port on the machine, so it runs inside a fresh network namespace
# of its own (`unshare -n`, loopback only), with its load client; Cowrie refuses to run as root and runs as
# nobody. "captured" is how many of the distinct credentials sent (bench-0 … bench-K) the peer's log holds.
# vnc (RFB 3.8, VNC Authentication), rdp (X.224 Connection Request with an mstshash cookie, up to the Connection
# Confirm) and mssql (TDS PRELOGIN, then a SQL login) run against DECNET-Swift, OpenCanary and qeeqbox; VNC sends
# no password in the clear (its response is DES of a challenge), so its "captured" is 0 everywhere, and rdp's is the
# cookie's user name.
# smb (SMB2 NEGOTIATE, then an NTLMSSP login for WORKGROUP\bench-<i>, up to the server's answer to the
# AUTHENTICATE) runs against DECNET-Swift and qeeqbox (OpenCanary's smb reads a real Samba's audit log: it serves
# nothing itself). qeeqbox (impacket's server) logs the user name of every AUTHENTICATE, and the hash only of a
# login that succeeded; DECNET-Swift logs both for every login.
# snmp (a GetRequest with community bench-<i>), sip (a REGISTER from bench-<i>) and tftp (a read request for the
# file bench-<i>) are UDP: each request is one datagram from a fresh source port, sent as fast as the client can,
# so the run is a flood; what counts is what the peer kept of it (captured / sent) and how fast it got through
# it (captured per second, up to the last capture; the log is read until it has stopped growing for 3 s). There is
# no connection to hold, so they take no part in the slow-loris flood. tftp runs against DECNET-Swift and
# OpenCanary (qeeqbox has no TFTP server).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

PORT=${PORT:-27300}
# The HTTP path each peer records a POST login on.
http_path() {
    case $1 in
    opencanary) echo /index.html ;;
    qeeqbox) echo /login.html ;;
    *) echo /login ;;
    esac
}
peers_for() { # the peers that serve the workload
    case $1 in
    ssh) echo "decnet opencanary qeeqbox cowrie" ;;
    redis | http | ftp | mysql | vnc | rdp | mssql | snmp | sip) echo "decnet opencanary qeeqbox" ;;
    tftp) echo "decnet opencanary" ;;
    smb) echo "decnet qeeqbox" ;;
    *) echo "bench/compare.sh: no peer serves the workload $1" >&2 ;;
    esac
}

# --- Each peer started with the services listed (SERVICES, space-separated), the first on $PORT and the next on
# the ports after it; sets PID (the process whose tree is measured and stopped) and LOG (where captures land).
start_decnet() { # services, dir
    local extra=()
    # ssh and ftp answer a wrong password after PAM's delay, as the real servers do; the benchmark turns it off.
    # vnc, rdp and mssql need nothing more (rdp's and mssql's TLS certificate is made at start, in memory).
    case $1 in
    ssh | ftp) extra=(--persona password_delay_ms=0 --artifact-dir "$2/artifacts") ;;
    sip) extra=(--udp) ;; # sip serves TCP too; the workload is its UDP side
    esac
    LOG="$2/decnet.log"
    NIO_SINGLETON_GROUP_LOOP_COUNT=${LOOPS-1} "$BIN" service run "$1" --bind "127.0.0.1:$PORT" --quiet \
        --log-file "$LOG" --max-per-source 1024 "${extra[@]}" 2>"$2/stderr" &
    PID=$!
}

start_opencanary() { # services, dir
    local dir=$2 port=$PORT settings="" service
    mkdir -p "$dir/keys"
    for service in $1; do
        case $service in
        ssh) settings+="\"ssh.enabled\": true, \"ssh.port\": $port, \"ssh.key_path\": \"$dir/keys\"," ;;
        http) settings+="\"http.enabled\": true, \"http.port\": $port, \"http.skin\": \"basicLogin\"," ;;
        ftp) settings+="\"ftp.enabled\": true, \"ftp.port\": $port," ;;
        redis) settings+="\"redis.enabled\": true, \"redis.port\": $port, \"redis.max_connections\": 1024," ;;
        mysql) settings+="\"mysql.enabled\": true, \"mysql.port\": $port," ;;
        vnc) settings+="\"vnc.enabled\": true, \"vnc.port\": $port," ;;
        rdp) settings+="\"rdp.enabled\": true, \"rdp.port\": $port," ;;
        mssql) settings+="\"mssql.enabled\": true, \"mssql.port\": $port, \"mssql.version\": \"2012\"," ;;
        snmp) settings+="\"snmp.enabled\": true, \"snmp.port\": $port," ;;
        sip) settings+="\"sip.enabled\": true, \"sip.port\": $port," ;;
        tftp) settings+="\"tftp.enabled\": true, \"tftp.port\": $port," ;;
        esac
        port=$((port + 1))
    done
    # OpenCanary reads ./opencanary.conf when neither /etc/opencanaryd nor ~ has one.
    cat >"$dir/opencanary.conf" <<JSON
{
    "device.node_id": "bench", "device.listen_addr": "127.0.0.1", "ip.ignorelist": [], "logtype.ignorelist": [],
    "https.enabled": false, $settings
    "logger": {"class": "PyLogger", "kwargs": {
        "formatters": {"plain": {"format": "%(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": "$dir/opencanary.log"}}}}
}
JSON
    LOG="$dir/opencanary.log"
    (cd "$dir" && exec "$PEERS/opencanary/bin/twistd" -noy "$PEERS/opencanary/bin/opencanary.tac" \
        --pidfile "$dir/twistd.pid" >"$dir/stdout" 2>&1) &
    PID=$!
}

start_qeeqbox() { # services, dir (inside its own network namespace); its --setup names are the workloads' own
    local setup="" port=$PORT service
    for service in $1; do
        setup+="${setup:+,}$service:$port"
        port=$((port + 1))
    done
    # JSON lines on standard output; its own log file rotates at 10 kB and would lose captures.
    LOG="$2/honeypots.log"
    (cd "$2" && exec "$PEERS/qeeqbox/bin/python" -m honeypots --setup "$setup" --ip 127.0.0.1 \
        --termination-strategy signal >"$LOG" 2>&1) &
    PID=$!
}

start_cowrie() { # services (ssh), dir: run as nobody, which Cowrie requires
    local dir=$2
    mkdir -p "$dir/etc" "$dir/var/log/cowrie" "$dir/var/lib/cowrie/downloads" "$dir/var/lib/cowrie/tty" "$dir/var/run"
    cat >"$dir/etc/cowrie.cfg" <<CFG
[honeypot]
hostname = bench
[ssh]
listen_endpoints = tcp:$PORT:interface=127.0.0.1:backlog=1024
[telnet]
enabled = false
CFG
    chown -R 65534:65534 "$dir"
    LOG="$dir/var/log/cowrie/cowrie.json"
    (cd "$dir" && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$PEERS/cowrie/bin/twistd" --umask=0022 \
        -n --pidfile "$dir/var/run/cowrie.pid" --logger cowrie.python.logfile.stdoutLogger cowrie \
        >"$dir/stdout" 2>&1) &
    PID=$!
}

stop_peer() {
    if [ -n "${PID:-}" ]; then
        pkill -TERM -P "$PID" 2>/dev/null || true
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
        PID=
    fi
}

# Memory of a process and its children: "rss_mib pss_mib".
tree_memory() {
    local pids
    pids="$1 $(pgrep -P "$1" | tr '\n' ' ')"
    for pid in $pids; do cat "/proc/$pid/smaps_rollup" 2>/dev/null; done |
        awk '/^Rss:/ { r += $2 } /^Pss:/ { p += $2 } END { printf "%.1f %.1f", r / 1024, p / 1024 }'
}
# CPU time (user + system, in clock ticks) of a process and its children so far.
tree_cpu() {
    local pids
    pids="$1 $(pgrep -P "$1" | tr '\n' ' ')"
    for pid in $pids; do cat "/proc/$pid/stat" 2>/dev/null; done |
        awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}
is_udp() { case $1 in snmp | sip | tftp) return 0 ;; *) return 1 ;; esac }
wait_port() { # port [udp]
    for _ in $(seq 150); do
        if [ "${2:-}" = udp ]; then
            [ -n "$(ss -Hlun "sport = :$1")" ] && return 0
        else
            (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        fi
        sleep 0.1
    done
    return 1
}
# For a UDP workload: reads the log until its captures stop growing for 3 s (at most 60 s); prints the seconds
# from `start` (epoch seconds, fractional) to the last increase.
settle() { # log file, start
    local last count=-1 now changed=$2
    for _ in $(seq 600); do
        last=$count
        count=$(captured "$1")
        now=$(date +%s.%N)
        [ "$count" != "$last" ] && changed=$now
        awk -v n="$now" -v c="$changed" 'BEGIN { exit !(n - c >= 3) }' && break
        sleep 0.1
    done
    awk -v c="$changed" -v s="$2" 'BEGIN { printf "%.2f", c - s }'
}
captured() { # log file
    grep -ao 'bench-[0-9]\+' "$1" 2>/dev/null | sort -u | wc -l
}

# One run: the peer started fresh with one service, the load (or the flood, then the load), its memory, its
# capture; one line appended to $RESULTS.
measure() { # kind (load|flood), workload, peer, concurrency
    local kind=$1 workload=$2 peer=$3 c=$4 n line memory
    local dir="$WORK/$kind-$workload-$peer-$c"
    mkdir -p "$dir"
    n=$([ "$workload" = ssh ] && echo "${N_SSH:-1000}" || echo "${N:-3000}")
    "start_$peer" "$workload" "$dir"
    if ! wait_port "$PORT" "$(is_udp "$workload" && echo udp)"; then
        stop_peer
        echo "$kind $workload $peer $c did-not-start" >>"$RESULTS"
        return
    fi
    local idle cpu ticks
    sleep 0.5
    idle=$(tree_memory "$PID")
    cpu=$(tree_cpu "$PID")
    if [ "$kind" = flood ]; then
        # The server's memory is read while the flood's connections are still held (HOLD_MEASURE).
        line=$(HOLD=$FLOOD HOLD_SOURCES=$FLOOD_SOURCES MAX_SECONDS=$MAX_SECONDS \
            HOLD_MEASURE="$REPO/bench/compare.sh --tree-memory $PID >$dir/held-memory" \
            "$AUTHLOAD" 127.0.0.1 "$PORT" "$FLOOD_N" 1 "$workload" "$(http_path "$peer")")
        memory=$(cat "$dir/held-memory")
    elif is_udp "$workload"; then
        local start
        start=$(date +%s.%N)
        line=$(MAX_SECONDS=$MAX_SECONDS "$AUTHLOAD" 127.0.0.1 "$PORT" "$n" "$c" "$workload")
        line+=" settle_s=$(settle "$LOG" "$start")"
        memory=$(tree_memory "$PID")
    else
        line=$(MAX_SECONDS=$MAX_SECONDS "$AUTHLOAD" 127.0.0.1 "$PORT" "$n" "$c" "$workload" "$(http_path "$peer")")
        memory=$(tree_memory "$PID")
    fi
    # The server's CPU for the run: every connection's work (the events' writing included, which may lag).
    sleep 1 # the last events reach the log
    ticks=$(($(tree_cpu "$PID") - cpu))
    stop_peer
    echo "$kind $workload $peer $c $line captured=$(captured "$LOG") mem=${memory/ /,} idle_mem=${idle/ /,}" \
        "server_cpu_s=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')" >>"$RESULTS"
}

# Memory of a peer serving every service it has, after a few logins to each.
measure_memory() { # peer
    local peer=$1 dir="$WORK/memory-$1" services="" port=$PORT workload memory
    mkdir -p "$dir"
    for workload in redis ssh http ftp mysql; do
        [[ " $(peers_for "$workload") " == *" $peer "* ]] && services+="${services:+ }$workload"
    done
    "start_$peer" "$services" "$dir"
    for workload in $services; do
        wait_port "$port" && "$AUTHLOAD" 127.0.0.1 "$port" 5 1 "$workload" "$(http_path "$peer")" >/dev/null
        port=$((port + 1))
    done
    memory=$(tree_memory "$PID")
    stop_peer
    echo "memory - $peer ${services// /,} mem=${memory/ /,}" >>"$RESULTS"
}

# The memory of a process tree, for authload's HOLD_MEASURE (run by system(3), which knows no shell functions).
if [ "${1:-}" = --tree-memory ]; then
    set +e +o pipefail
    tree_memory "$2"
    exit 0
fi

# In qeeqbox's namespace: this script again, with the loopback up, for one step.
if [ "${1:-}" = --inside ]; then
    shift
    ip link set lo up
    "$@"
    exit 0
fi
in_place() { # peer, step…: qeeqbox's steps run in a network namespace of their own
    if [ "$1" = qeeqbox ]; then unshare -n "$0" --inside "${@:2}"; else "${@:2}"; fi
}

export N N_SSH PORT
MAX_SECONDS=${MAX_SECONDS:-30}
CONCURRENCY=${CONCURRENCY:-"1 50 500"}
WORKLOADS=${WORKLOADS:-"redis ssh http ftp mysql"}
FLOOD=${FLOOD:-10000}
FLOOD_SOURCES=${FLOOD_SOURCES:-50}
FLOOD_N=${FLOOD_N:-200}
FLOOD_WORKLOADS=${FLOOD_WORKLOADS-$WORKLOADS}
MEMORY=${MEMORY:-1}
DECKIES=${DECKIES:-100}
DETECT=${DETECT:-1}
PEERS=${PEERS_DIR:-$PWD/.bench-peers}
export MAX_SECONDS FLOOD FLOOD_SOURCES FLOOD_N PEERS

[ "$(id -u)" = 0 ] || { echo "bench/compare.sh needs root (network namespaces; Cowrie runs as nobody)" >&2; exit 1; }
if [ ! -f /usr/include/libssh/libssh.h ] || [ ! -f /usr/include/openssl/evp.h ]; then
    apt-get install -y -q libssh-dev libssl-dev >/dev/null
fi
swift build -c release --product decnet --scratch-path .build-release >/dev/null
BIN=$PWD/.build-release/release/decnet
WORK=$(mktemp -d /tmp/decnet-compare.XXXXXX)
chmod 755 "$WORK" # Cowrie, as nobody, works in a folder under it
RESULTS="$WORK/results"
AUTHLOAD="$WORK/authload"
export BIN WORK RESULTS AUTHLOAD
LAB="cmp$$"
PID=
cleanup() {
    stop_peer
    if [ -f "$WORK/fleet/decnet-engine.pid" ]; then kill -9 "$(cat "$WORK/fleet/decnet-engine.pid")" 2>/dev/null || true; fi
    if [ -d "$WORK/fleet" ]; then
        (cd "$WORK/fleet" && DECNET_STATE_DIR=. "$BIN" teardown --all >/dev/null 2>&1) || true
        (cd "$WORK/fleet" && DECNET_STATE_DIR=. "$BIN" lab down >/dev/null 2>&1) || true
    fi
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
cc -O2 -pthread -o "$AUTHLOAD" bench/compare/authload.c -lssh -lcrypto
: >"$RESULTS"

install_peer() { # name, pip requirement
    if [ ! -x "$PEERS/$1/bin/python" ]; then
        /usr/bin/python3 -m venv "$PEERS/$1"
    fi
    "$PEERS/$1/bin/pip" install -q --disable-pip-version-check "$2"
}
install_peer opencanary "opencanary==0.9.10"
install_peer opencanary "scapy==2.6.1" # its snmp module needs Scapy, which it does not depend on
install_peer qeeqbox "honeypots==0.66"
install_peer cowrie "cowrie==3.1.4"
# Twisted's plugin cache, written once as root: Cowrie (as nobody) cannot write it and would warn on every start.
(cd "$WORK" && "$PEERS/cowrie/bin/python" -c 'from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))')
chmod -R a+rX "$PEERS"

for workload in $WORKLOADS; do
    for c in $CONCURRENCY; do
        for peer in $(peers_for "$workload"); do
            echo "$workload, C=$c: $peer" >&2
            in_place "$peer" measure load "$workload" "$peer" "$c"
        done
    done
done
for workload in $FLOOD_WORKLOADS; do
    is_udp "$workload" && continue
    for peer in $(peers_for "$workload"); do
        echo "$workload under a flood of $FLOOD connections: $peer" >&2
        in_place "$peer" measure flood "$workload" "$peer" 1
    done
done

# DECNET-Swift's memory for the same services: one engine serving them in one decky, then in $DECKIES deckies,
# on a lab LAN of namespaces, after a few logins to each service of the first decky from the lab's attacker.
measure_fleet() { # deckies
    local state="$WORK/fleet" pid first memory port workload
    mkdir -p "$state"
    (
        cd "$state"
        export DECNET_STATE_DIR=. DECNET_DB_PATH="$state/decnet.db" DECNET_INGEST_LOG_FILE="$state/events.log"
        "$BIN" lab up --name "$LAB" --subnet 10.96.0.0/22 >/dev/null
        "$BIN" deploy --lab --lab-name "$LAB" --deckies "$1" --services ssh,http,ftp,redis,mysql \
            --ip-start 10.96.0.10 --seed 1 >deploy.out 2>&1 || { tail -5 deploy.out >&2; exit 1; }
        for port in 6379:redis 22:ssh 80:http 21:ftp 3306:mysql; do
            "$BIN" lab exec -- "$AUTHLOAD" 10.96.0.10 "${port%%:*}" 5 1 "${port##*:}" /login >/dev/null
        done
        pid=$(cat decnet-engine.pid)
        memory=$(tree_memory "$pid")
        echo "memory - decnet-$1 ssh,http,ftp,redis,mysql mem=${memory/ /,}" >>"$RESULTS"
        "$BIN" teardown --all >/dev/null
        "$BIN" lab down >/dev/null
    )
    rm -rf "$state"
}
if [ "$MEMORY" = 1 ]; then
    for peer in opencanary qeeqbox cowrie; do
        echo "memory: $peer" >&2
        in_place "$peer" measure_memory "$peer"
    done
    for deckies in 1 "$DECKIES"; do
        echo "memory: DECNET-Swift, $deckies decky(s)" >&2
        measure_fleet "$deckies"
    done
fi

# --- The tables: every figure from this run.
echo
echo "Run of $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(uname -r)), client and servers on the same cores;"
echo "at most N=${N:-3000} logins per run (ssh ${N_SSH:-1000}), or $MAX_SECONDS s of them; a new connection per login."
python3 "$REPO/bench/lib/compare_tables.py" "$RESULTS"
if [ "$DETECT" = 1 ]; then
    echo
    echo "### Detectability: bench/detect"
    echo
    bench/detect
fi
