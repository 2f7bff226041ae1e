#!/usr/bin/env bash
# Ingest benchmark: N RFC 5424 event lines (the engine's format; 200 attackers over 5 deckies, every tenth a
# command, the rest logins with a password, so every line also touches the bounty and attackers tables) are
# written to a log, then `decnet workers start --once` stores them in a fresh SQLite file. Prints events/s and
# checks that every line was stored and none rejected.
#
#   bench/ingest.sh                 # N=200000, batches of 5000
#   N=1000000 BATCH=20000 bench/ingest.sh
#
# Builds a release binary in .build-release/.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
BATCH=${BATCH:-5000}

swift build -c release --product decnet --scratch-path .build-release >/dev/null
BIN=.build-release/release/decnet
WORK=$(mktemp -d /tmp/decnet-bench.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
python3 - "$N" "$WORK/decnet.log" <<'PY'
import sys, uuid, datetime
n, path = int(sys.argv[1]), sys.argv[2]
start = datetime.datetime(2026, 11, 21, 18, 0, 0, tzinfo=datetime.timezone.utc)
with open(path, "w") as out:
    for i in range(n):
        t = (start + datetime.timedelta(microseconds=i * 100)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        decky = f"decky-{i % 5}"
        kind, extra = ("command.input", f'command="uname" args="-a"') if i % 10 == 0 else \
            ("login.failed", f'username="root" password="pw-{i}" password_b64="x" method="password"')
        out.write(f'<133>1 {t} {decky} ssh - {kind} [decnet@32473 uuid="{uuid.uuid4()}" decky="{decky}" '
                  f'service="ssh" session="s{i // 10}" src_ip="198.51.100.{i % 200}" src_port="{40000 + i % 1000}" '
                  f'dst_ip="10.77.0.10" dst_port="22" {extra}] {kind} from 198.51.100.{i % 200}\n')
PY
SIZE=$(du -m "$WORK/decnet.log" | cut -f1)
export DECNET_STATE_DIR="$WORK" DECNET_DB_PATH="$WORK/decnet.db"
TIMEFORMAT='%R %U %S'
{ time "$BIN" workers start --once --log-file "$WORK/decnet.log" --batch-size "$BATCH" >"$WORK/out" 2>"$WORK/err"; } 2>"$WORK/time"
read -r WALL USER SYS <"$WORK/time"
cat "$WORK/out"
echo "log: $N lines, ${SIZE} MiB; database: $(du -m "$WORK/decnet.db" | cut -f1) MiB"
awk -v n="$N" -v w="$WALL" -v u="$USER" -v s="$SYS" \
    'BEGIN { printf "wall %.2f s, %.0f events/s (CPU user %.2f s, sys %.2f s)\n", w, n / w, u, s }'
grep -q "^ingested $N event(s).* 0 rejected line(s)" "$WORK/out"
