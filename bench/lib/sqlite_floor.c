/* The SQLite floor for the ingest benchmark: the store's logs and bounty inserts (its tables and indexes as of
 * migration v4, one bounty row per event, version 7 uuids, lines not kept) through prepared statements in C,
 * with nothing else in the process. What this reaches on a machine bounds what the ingester can reach there.
 *
 *   cc -O2 bench/lib/sqlite_floor.c -lsqlite3 -o floor && ./floor N BATCH INDEXES DB
 *   INDEXES: all (the store's three on logs), none, or no-timestamp (the attacker and type ones only)
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void run(sqlite3 *db, const char *sql) {
    char *error = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, error);
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s N BATCH all|none|no-timestamp DB\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[1]), batch = atoi(argv[2]);
    const char *indexes = argv[3], *path = argv[4];
    char name[4096];
    unlink(path);
    snprintf(name, sizeof name, "%s-wal", path);
    unlink(name);
    snprintf(name, sizeof name, "%s-shm", path);
    unlink(name);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) return 1;
    /* The ingester's settings (SQLiteEventStore). */
    run(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;"
            "PRAGMA mmap_size = 1073741824");
    run(db, "CREATE TABLE logs (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, timestamp TEXT NOT NULL,"
            " decky TEXT NOT NULL, hostname TEXT NOT NULL, service TEXT NOT NULL, event_type TEXT NOT NULL,"
            " session TEXT NOT NULL, attacker_ip TEXT NOT NULL, attacker_port INTEGER NOT NULL,"
            " decky_ip TEXT NOT NULL, decky_port INTEGER NOT NULL, fields TEXT NOT NULL, raw TEXT);"
            "CREATE TABLE bounty (id INTEGER PRIMARY KEY, log_uuid TEXT NOT NULL, timestamp TEXT NOT NULL,"
            " bounty_type TEXT NOT NULL, attacker_ip TEXT NOT NULL, decky TEXT NOT NULL, service TEXT NOT NULL,"
            " payload TEXT NOT NULL);"
            "CREATE INDEX bounty_attacker ON bounty (attacker_ip);"
            /* v4: the intelligence stack's per-type bounty reads. */
            "CREATE INDEX bounty_type ON bounty (bounty_type, timestamp)");
    if (strcmp(indexes, "none") != 0) {
        run(db, "CREATE INDEX logs_attacker ON logs (attacker_ip, timestamp);"
                "CREATE INDEX logs_event_type ON logs (event_type, timestamp)");
        if (strcmp(indexes, "all") == 0) run(db, "CREATE INDEX logs_timestamp ON logs (timestamp)");
    }
    sqlite3_stmt *logs, *bounty;
    sqlite3_prepare_v2(db,
        "INSERT OR IGNORE INTO logs (uuid, timestamp, decky, hostname, service, event_type, session, attacker_ip,"
        " attacker_port, decky_ip, decky_port, fields, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        -1, &logs, NULL);
    sqlite3_prepare_v2(db,
        "INSERT INTO bounty (log_uuid, timestamp, bounty_type, attacker_ip, decky, service, payload)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)", -1, &bounty, NULL);
    /* The values are made before the clock starts: only SQLite is timed. */
    char (*uuids)[37] = malloc((size_t)n * 37), (*stamps)[28] = malloc((size_t)n * 28);
    char (*fields)[96] = malloc((size_t)n * 96), (*ips)[16] = malloc((size_t)n * 16);
    srandom(1);
    for (int i = 0; i < n; i++) {
        unsigned long long ms = 1795284000000ULL + (unsigned long long)i / 10;
        snprintf(uuids[i], 37, "%08llx-%04llx-7%03lx-%04lx-%04lx%08lx", ms >> 16, ms & 0xffff,
            random() & 0xfff, 0x8000 | (random() & 0x3fff), random() & 0xffff, random() & 0xffffffffUL);
        snprintf(stamps[i], 28, "2026-11-21T18:%02d:%02d.%06dZ", (i / 600000) % 60, (i / 10000) % 60,
            (i % 10000) * 100);
        snprintf(ips[i], 16, "198.51.100.%d", i % 200);
        snprintf(fields[i], 96, "{\"username\":\"root\",\"password\":\"pw-%d\",\"password_b64\":\"x\","
            "\"method\":\"password\"}", i);
    }
    const char *deckies[] = {"decky-0", "decky-1", "decky-2", "decky-3", "decky-4"};
    double start = now();
    for (int i = 0; i < n; i++) {
        if (i % batch == 0) run(db, "BEGIN");
        const char *decky = deckies[i % 5];
        sqlite3_bind_text(logs, 1, uuids[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(logs, 2, stamps[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(logs, 3, decky, -1, SQLITE_STATIC);
        sqlite3_bind_text(logs, 4, decky, -1, SQLITE_STATIC);
        sqlite3_bind_text(logs, 5, "ssh", -1, SQLITE_STATIC);
        sqlite3_bind_text(logs, 6, "login.failed", -1, SQLITE_STATIC);
        sqlite3_bind_text(logs, 7, "s0", -1, SQLITE_STATIC);
        sqlite3_bind_text(logs, 8, ips[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(logs, 9, 40000 + i % 1000);
        sqlite3_bind_text(logs, 10, "10.77.0.10", -1, SQLITE_STATIC);
        sqlite3_bind_int64(logs, 11, 22);
        sqlite3_bind_text(logs, 12, fields[i], -1, SQLITE_STATIC);
        if (sqlite3_step(logs) != SQLITE_DONE) { fprintf(stderr, "%s\n", sqlite3_errmsg(db)); return 1; }
        sqlite3_reset(logs);
        sqlite3_bind_text(bounty, 1, uuids[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(bounty, 2, stamps[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(bounty, 3, "credential", -1, SQLITE_STATIC);
        sqlite3_bind_text(bounty, 4, ips[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(bounty, 5, decky, -1, SQLITE_STATIC);
        sqlite3_bind_text(bounty, 6, "ssh", -1, SQLITE_STATIC);
        sqlite3_bind_text(bounty, 7, fields[i], -1, SQLITE_STATIC);
        if (sqlite3_step(bounty) != SQLITE_DONE) { fprintf(stderr, "%s\n", sqlite3_errmsg(db)); return 1; }
        sqlite3_reset(bounty);
        if (i % batch == batch - 1 || i == n - 1) run(db, "COMMIT");
    }
    double seconds = now() - start;
    printf("sqlite floor: %d events (logs + bounty rows), batches of %d, indexes %s: %.2f s, %.0f events/s\n", n,
        batch, indexes, seconds, n / seconds);
    sqlite3_finalize(logs);
    sqlite3_finalize(bounty);
    sqlite3_close(db);
    return 0;
}
