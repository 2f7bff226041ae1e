#!/usr/bin/env bash
# Side-by-side benchmark (issue 8): the same login workload against DECNET-Swift and the honeypots people run
# today, one after another on this machine, each on loopback, with a compiled load client
# (bench/compare/authload.c) whose own CPU is reported beside every figure.
#
#   bench/compare.sh                 # redis AUTH, N=3000 per run, concurrency 1, 50 and 500
#   N=10000 CONCURRENCY="50 500" bench/compare.sh
#
# The peers are installed into their own virtual environments under .bench-peers/ (built with
# /usr/bin/python3, pinned versions): OpenCanary 0.9.10 and qeeqbox honeypots 0.66 (Cowrie 3.1.4 has no redis;
# it joins with the ssh workload). qeeqbox's servers kill whatever holds their port on the machine, so it runs
# inside a fresh network namespace of its own (`unshare -n`, loopback only), with its load client.
# "captured" is how many of the N distinct passwords (bench-0 … bench-N-1) the peer's log holds.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-3000}
CONCURRENCY=${CONCURRENCY:-"1 50 500"}
PEERS=${PEERS_DIR:-$PWD/.bench-peers}
PORT=${PORT:-26379}

swift build -c release --product decnet --scratch-path .build-release >/dev/null
BIN=$PWD/.build-release/release/decnet
WORK=$(mktemp -d /tmp/decnet-compare.XXXXXX)
PID=
stop_peer() {
    if [ -n "$PID" ]; then
        pkill -TERM -P "$PID" 2>/dev/null || true
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
        PID=
    fi
}
cleanup() { stop_peer; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
cc -O2 -pthread -o "$WORK/authload" bench/compare/authload.c

install_peer() { # name, pip requirement
    if [ ! -x "$PEERS/$1/bin/python" ]; then
        /usr/bin/python3 -m venv "$PEERS/$1"
    fi
    "$PEERS/$1/bin/pip" install -q --disable-pip-version-check "$2"
}
install_peer opencanary "opencanary==0.9.10"
install_peer qeeqbox "honeypots==0.66"

# Memory of a process and its children: "rss_mib pss_mib".
tree_memory() {
    local pids
    pids="$1 $(pgrep -P "$1" | tr '\n' ' ')"
    for pid in $pids; do cat "/proc/$pid/smaps_rollup" 2>/dev/null; done |
        awk '/^Rss:/ { r += $2 } /^Pss:/ { p += $2 } END { printf "%.1f %.1f", r / 1024, p / 1024 }'
}
wait_port() { # port
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
captured() { # log file
    grep -ao 'bench-[0-9]\+' "$1" 2>/dev/null | sort -u | wc -l
}

RESULTS="$WORK/results"
: >"$RESULTS"
record() { # peer, concurrency, authload line, captured, memory
    echo "$1 $2 $3 captured=$4 mem=$5" >>"$RESULTS"
}

# The load on the peer started as $PID (on this machine's loopback), its memory after it, then its capture.
load_and_stop() { # peer, concurrency, log
    wait_port "$PORT"
    local line memory
    line=$("$WORK/authload" 127.0.0.1 "$PORT" "$N" "$2" redis)
    memory=$(tree_memory "$PID")
    sleep 0.5  # the last events reach the log
    stop_peer
    record "$1" "$2" "$line" "$(captured "$3")" "$memory"
}

run_decnet() { # concurrency
    local log="$WORK/decnet-$1.log"
    "$BIN" service run redis --bind "127.0.0.1:$PORT" --quiet --log-file "$log" \
        --persona redis_password=bench-secret --max-per-source 1024 2>"$WORK/decnet.err" &
    PID=$!
    load_and_stop decnet "$1" "$log"
}

run_opencanary() { # concurrency
    local dir="$WORK/opencanary-$1"
    mkdir -p "$dir"
    # OpenCanary reads ./opencanary.conf when neither /etc/opencanaryd nor ~ has one.
    cat >"$dir/opencanary.conf" <<JSON
{
    "device.node_id": "bench", "device.listen_addr": "127.0.0.1",
    "ip.ignorelist": [], "logtype.ignorelist": [],
    "ftp.enabled": false, "http.enabled": false, "https.enabled": false, "ssh.enabled": false,
    "redis.enabled": true, "redis.port": $PORT, "redis.max_connections": 1024,
    "logger": {"class": "PyLogger", "kwargs": {
        "formatters": {"plain": {"format": "%(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": "$dir/opencanary.log"}}}}
}
JSON
    (cd "$dir" && exec "$PEERS/opencanary/bin/twistd" -noy "$PEERS/opencanary/bin/opencanary.tac" \
        --pidfile "$dir/twistd.pid" >"$dir/stdout" 2>&1) &
    PID=$!
    load_and_stop opencanary "$1" "$dir/opencanary.log"
}

run_qeeqbox() { # concurrency
    local dir="$WORK/qeeqbox-$1"
    mkdir -p "$dir"
    # In a network namespace of its own: the server, the client and the measurements all inside it.
    unshare -n bash -c "
        ip link set lo up
        cd '$dir'
        '$PEERS/qeeqbox/bin/python' -m honeypots --setup redis --ip 127.0.0.1 --port $PORT \
            --termination-strategy signal >'$dir/honeypots.log' 2>&1 &
        pid=\$!
        for _ in \$(seq 150); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
        '$WORK/authload' 127.0.0.1 $PORT $N $1 redis >'$dir/load'
        pids=\"\$pid \$(pgrep -P \$pid | tr '\n' ' ')\"
        for p in \$pids; do cat /proc/\$p/smaps_rollup 2>/dev/null; done |
            awk '/^Rss:/ { r += \$2 } /^Pss:/ { p += \$2 } END { printf \"%.1f %.1f\", r / 1024, p / 1024 }' >'$dir/memory'
        sleep 0.5
        pkill -TERM -P \$pid 2>/dev/null; kill -TERM \$pid 2>/dev/null; wait \$pid 2>/dev/null
        true
    "
    record qeeqbox "$1" "$(cat "$dir/load")" "$(captured "$dir/honeypots.log")" "$(cat "$dir/memory")"
}

for c in $CONCURRENCY; do
    for peer in decnet opencanary qeeqbox; do
        echo "redis AUTH, N=$N, C=$c: $peer" >&2
        "run_$peer" "$c"
    done
done

# The table: every figure from this run; ratios are DECNET-Swift's connections/s over the peer's.
echo
echo "redis AUTH, a new connection per login, N=$N per run ($(date -u +%Y-%m-%d), $(nproc) cores, client and server on the same cores)"
echo
echo "| peer | C | conn/s | p50 ms | p99 ms | max ms | failures | captured / attempts | client CPU s | RSS MiB | PSS MiB | DECNET-Swift ÷ peer (conn/s) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
awk -v n="$N" '
    function field(line, name,    parts, i) {
        split(line, parts, " ")
        for (i in parts) if (index(parts[i], name "=") == 1) return substr(parts[i], length(name) + 2)
        return ""
    }
    {
        peer = $1; c = $2
        rate = field($0, "conn_per_s")
        if (peer == "decnet") base[c] = rate
        split(substr($0, index($0, "mem=") + 4), memory, " ")
        ratio = (peer == "decnet" || rate == 0) ? (peer == "decnet" ? "1" : "—") : sprintf("%.1f×", base[c] / rate)
        printf "| %s | %s | %s | %s | %s | %s | %s | %s / %d | %s | %s | %s | %s |\n", \
            (peer == "decnet" ? "DECNET-Swift" : peer == "opencanary" ? "OpenCanary 0.9.10" : "qeeqbox honeypots 0.66"), \
            c, rate, field($0, "p50_ms"), field($0, "p99_ms"), field($0, "max_ms"), field($0, "failed"), \
            field($0, "captured"), n, field($0, "client_cpu_s"), memory[1], memory[2], ratio
    }' "$RESULTS"
