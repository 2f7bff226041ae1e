# Sourced by the benchmarks: a private PostgreSQL 15 server for one run, in "$WORK/pg" on 127.0.0.1:$1 (root:
# it runs as the postgres user). Sets PGPID (the caller's cleanup stops it) and exports the DECNET_DB_* settings
# that point decnet at it.
start_private_postgres() {
    local port=$1
    PG=/usr/lib/postgresql/15/bin
    mkdir -p "$WORK/pg" && chown postgres:postgres "$WORK/pg" && chmod 755 "$WORK"
    runuser -u postgres -- "$PG/initdb" -D "$WORK/pg/data" -U decnet --auth=trust -E UTF8 >/dev/null
    runuser -u postgres -- "$PG/postgres" -D "$WORK/pg/data" -h 127.0.0.1 -p "$port" -k "$WORK/pg" >"$WORK/pg.log" 2>&1 &
    PGPID=$!
    for _ in $(seq 100); do "$PG/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
    "$PG/createdb" -h 127.0.0.1 -p "$port" -U decnet decnet
    export DECNET_DB_HOST=127.0.0.1 DECNET_DB_PORT="$port" DECNET_DB_USER=decnet DECNET_DB_NAME=decnet
}
