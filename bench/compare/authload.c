/* A compiled login load client for the side-by-side benchmarks (issue 8): N fresh connections, C at a time
 * (one thread each), every one a login with its own password `bench-<i>`, so that what a honeypot captured can
 * be counted exactly. A Python client would be the bottleneck (OpenCanary's redis took 1,406 connections/s from
 * one, 5,546 from a C client); this one reports its own CPU beside the figures.
 *
 *   cc -O2 -pthread -o authload bench/compare/authload.c
 *   authload HOST PORT N C redis            AUTH bench-<i>, read the reply line
 *   authload HOST PORT N C ftp              banner, USER bench, PASS bench-<i>, read each reply line
 *   authload HOST PORT N C http PATH        POST PATH username=bench&password=bench-<i>, read the status line
 *   authload HOST PORT N C ssh              key exchange (curve25519, libssh), password bench-<i> for user bench
 *   authload HOST PORT N C mysql            greeting, HandshakeResponse41 for user bench-<i> (mysql_native_password
 *                                           scramble of bench-<i>), read the reply packet
 *
 * Flood (slow-loris): with HOLD=K in the environment, K connections are opened first and held, each having sent
 * the first bytes of a request it never finishes (HOLD_SOURCES=S spreads them over the source addresses
 * 127.0.1.1 … 127.0.1.S, so a per-source cap does not simply refuse them); then the N logins run and are timed
 * as usual, and at the end the held connections still open are counted.
 *
 * MAX_SECONDS=T (default: none) stops starting new logins after T seconds, and HOLD_SECONDS=T (default 30) stops
 * opening flood connections: a slow peer then gets fewer attempts, never an endless run; `ok + failed` is what
 * was attempted.
 *
 * Prints one line: ok, failed, wall s, connections/s, p50/p99/max ms (connect to reply), client CPU s (and with
 * HOLD: held = connections the flood opened, held_open = those still open after the logins). HOLD_MEASURE=CMD
 * runs CMD (with system(3)) after the logins, while the flood's connections are still held.
 *
 *   cc -O2 -pthread -o authload bench/compare/authload.c -lssh -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <openssl/evp.h>

static struct sockaddr_in target;
enum { REDIS, FTP, HTTP, SSH, MYSQL };
static int total, protocol;
static const char *path = "/";
static atomic_int next_index, failures;
static double login_deadline, hold_deadline; /* ms on the monotonic clock; 0 for none */
static double *latency; /* ms, -1 for a failure */

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Reads until a newline or end of stream; 0 when something arrived. */
static int read_line(int fd) {
    char buffer[4096];
    int got = 0;
    for (;;) {
        ssize_t n = recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) return got ? 0 : -1;
        got = 1;
        if (memchr(buffer, '\n', (size_t)n)) return 0;
    }
}

static int send_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t n = send(fd, data, length, MSG_NOSIGNAL);
        if (n <= 0) return -1;
        data += n;
        length -= (size_t)n;
    }
    return 0;
}

/* Reads one MySQL packet (4-byte header, then its payload) into buffer; its payload length, or -1. */
static int read_packet(int fd, unsigned char *buffer, int capacity) {
    int have = 0, need = 4;
    while (have < need) {
        ssize_t n = recv(fd, buffer + have, (size_t)(capacity - have), 0);
        if (n <= 0) return -1;
        have += (int)n;
        if (have >= 4) {
            need = 4 + (buffer[0] | buffer[1] << 8 | buffer[2] << 16);
            if (need > capacity) need = capacity;
        }
    }
    return need - 4;
}

static void sha1(const void *data, size_t length, unsigned char out[20]) {
    EVP_Digest(data, length, out, NULL, EVP_sha1(), NULL);
}

/* A mysql_native_password login for user bench-<i> with password bench-<i>. */
static int mysql_login(int fd, const char *name) {
    unsigned char packet[1024];
    int length = read_packet(fd, packet, sizeof packet);
    if (length < 1) return -1;
    if (packet[4] == 0xff) return 0; /* the server refused the connection with an error packet: an answer */
    /* Greeting v10: version, NUL, thread id (4), salt part 1 (8), filler, … , salt part 2 (12 + NUL). */
    unsigned char salt[20] = {0};
    unsigned char *p = packet + 5, *end = packet + 4 + length;
    while (p < end && *p) p++;
    p += 1 + 4;
    if (p + 8 <= end) memcpy(salt, p, 8);
    p += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
    if (p + 12 <= end) memcpy(salt + 8, p, 12);
    unsigned char stage1[20], stage2[20], mixed[40], scramble[20];
    sha1(name, strlen(name), stage1);
    sha1(stage1, 20, stage2);
    memcpy(mixed, salt, 20);
    memcpy(mixed + 20, stage2, 20);
    sha1(mixed, 40, scramble);
    for (int i = 0; i < 20; i++) scramble[i] ^= stage1[i];
    unsigned char reply[256];
    int n = 4;
    unsigned int capabilities = 0x1 | 0x200 | 0x2000 | 0x8000 | 0x80000; /* long password, 4.1, transactions,
                                                                           secure connection, plugin auth */
    memcpy(reply + n, &capabilities, 4), n += 4;
    unsigned int maximum = 16777216;
    memcpy(reply + n, &maximum, 4), n += 4;
    reply[n++] = 0x21;
    memset(reply + n, 0, 23), n += 23;
    size_t user = strlen(name) + 1;
    memcpy(reply + n, name, user), n += (int)user;
    reply[n++] = 20;
    memcpy(reply + n, scramble, 20), n += 20;
    memcpy(reply + n, "mysql_native_password", 22), n += 22;
    reply[0] = (unsigned char)(n - 4), reply[1] = 0, reply[2] = 0, reply[3] = 1;
    if (send_all(fd, (const char *)reply, (size_t)n)) return -1;
    return read_packet(fd, packet, sizeof packet) < 1 ? -1 : 0;
}

/* One ssh connection with libssh: key exchange, then password bench-<i> for user bench; done when the server
 * answers the password (denied or accepted). */
static int ssh_login(const char *password) {
    ssh_session session = ssh_new();
    if (!session) return -1;
    int port = ntohs(target.sin_port), off = 0, on = 1, result = -1;
    long timeout = 10;
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &target.sin_addr, host, sizeof host);
    ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &off);
    ssh_options_set(session, SSH_OPTIONS_HOST, host);
    ssh_options_set(session, SSH_OPTIONS_PORT, &port);
    ssh_options_set(session, SSH_OPTIONS_USER, "bench");
    ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &timeout);
    ssh_options_set(session, SSH_OPTIONS_NODELAY, &on); /* as OpenSSH does; without it, delayed ACKs add 80 ms */
    ssh_options_set(session, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
    ssh_options_set(session, SSH_OPTIONS_KEY_EXCHANGE, "curve25519-sha256,curve25519-sha256@libssh.org");
    if (ssh_connect(session) == SSH_OK) {
        int answer = ssh_userauth_password(session, NULL, password);
        if (answer == SSH_AUTH_DENIED || answer == SSH_AUTH_SUCCESS || answer == SSH_AUTH_PARTIAL) result = 0;
        ssh_disconnect(session);
    }
    ssh_free(session);
    return result;
}

static int login(int index) {
    if (protocol == SSH) {
        char password[32];
        snprintf(password, sizeof password, "bench-%d", index);
        return ssh_login(password);
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct timeval timeout = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int result = -1;
    char request[1024], password[32];
    int length = snprintf(password, sizeof password, "bench-%d", index);
    if (connect(fd, (struct sockaddr *)&target, sizeof target) != 0) goto done;
    switch (protocol) {
    case REDIS: {
        int n = snprintf(request, sizeof request, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", length, password);
        if (send_all(fd, request, (size_t)n) || read_line(fd)) goto done;
        break;
    }
    case MYSQL:
        if (mysql_login(fd, password)) goto done;
        break;
    case FTP: {
        if (read_line(fd)) goto done;
        if (send_all(fd, "USER bench\r\n", 12) || read_line(fd)) goto done;
        int n = snprintf(request, sizeof request, "PASS %s\r\n", password);
        if (send_all(fd, request, (size_t)n) || read_line(fd)) goto done;
        break;
    }
    default: {
        char body[128];
        int b = snprintf(body, sizeof body, "username=bench&password=%s", password);
        int n = snprintf(request, sizeof request,
            "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: authload\r\nContent-Type: "
            "application/x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
            path, inet_ntoa(target.sin_addr), b, body);
        if (send_all(fd, request, (size_t)n) || read_line(fd)) goto done;
        break;
    }
    }
    result = 0;
done:
    close(fd);
    return result;
}

static void *worker(void *unused) {
    (void)unused;
    for (;;) {
        if (login_deadline > 0 && now_ms() > login_deadline) return NULL;
        int index = atomic_fetch_add(&next_index, 1);
        if (index >= total) return NULL;
        double start = now_ms();
        if (login(index) == 0) {
            latency[index] = now_ms() - start;
        } else {
            latency[index] = -1;
            atomic_fetch_add(&failures, 1);
        }
    }
}

/* The flood: connections opened before the logins and held, each with the first bytes of a request it never
 * finishes (slow-loris; for ftp and mysql, whose servers speak first, bytes the server must wait to complete). */
static int *held, hold_total, hold_sources;
static atomic_int hold_next, hold_opened;

static const char *partial_request(void) {
    switch (protocol) {
    case REDIS: return "*2\r\n$4\r\nAU";
    case FTP: return "USER be";
    case HTTP: return "POST / HTTP/1.1\r\nHost: bench\r\n";
    case SSH: return "SSH-2.0-Open";
    default: return "\x55\x00";
    }
}

static void *hold_worker(void *unused) {
    (void)unused;
    const char *partial = partial_request();
    for (;;) {
        int index = atomic_fetch_add(&hold_next, 1);
        if (index >= hold_total) return NULL;
        held[index] = -1;
        if (now_ms() > hold_deadline) continue;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) continue;
        struct timeval timeout = {3, 0};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        if (hold_sources > 0) {
            struct sockaddr_in source = {.sin_family = AF_INET};
            source.sin_addr.s_addr = htonl((127u << 24) | (1u << 8) | (unsigned)(1 + index % hold_sources));
            if (bind(fd, (struct sockaddr *)&source, sizeof source) != 0) {
                close(fd);
                continue;
            }
        }
        if (connect(fd, (struct sockaddr *)&target, sizeof target) != 0 ||
            send_all(fd, partial, strlen(partial) < 2 ? 2 : strlen(partial))) {
            close(fd);
            continue;
        }
        held[index] = fd;
        atomic_fetch_add(&hold_opened, 1);
    }
}

/* Held connections the server has not closed: no end of stream and no reset when peeked. */
static int still_open(void) {
    int open = 0;
    char byte;
    for (int i = 0; i < hold_total; i++) {
        if (held[i] < 0) continue;
        ssize_t n = recv(held[i], &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) open++;
    }
    return open;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s HOST PORT N C redis|ftp|http [PATH]\n", argv[0]);
        return 2;
    }
    target.sin_family = AF_INET;
    target.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &target.sin_addr) != 1) return 2;
    total = atoi(argv[3]);
    int concurrency = atoi(argv[4]);
    const char *names[] = {"redis", "ftp", "http", "ssh", "mysql"};
    protocol = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(argv[5], names[i]) == 0) protocol = i;
    if (protocol < 0) {
        fprintf(stderr, "unknown protocol %s\n", argv[5]);
        return 2;
    }
    if (argc > 6) path = argv[6];
    latency = calloc((size_t)total, sizeof *latency);
    pthread_t *threads = calloc((size_t)(concurrency > 16 ? concurrency : 16), sizeof *threads);
    struct rlimit files;
    getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
    if (getenv("HOLD")) {
        hold_total = atoi(getenv("HOLD"));
        hold_sources = getenv("HOLD_SOURCES") ? atoi(getenv("HOLD_SOURCES")) : 0;
        held = calloc((size_t)hold_total, sizeof *held);
        hold_deadline = now_ms() + 1e3 * (getenv("HOLD_SECONDS") ? atof(getenv("HOLD_SECONDS")) : 30);
        for (int i = 0; i < 16; i++) pthread_create(&threads[i], NULL, hold_worker, NULL);
        for (int i = 0; i < 16; i++) pthread_join(threads[i], NULL);
        sleep(2); /* the server accepts what is still in its backlog */
    }
    double start = now_ms();
    if (getenv("MAX_SECONDS")) login_deadline = start + 1e3 * atof(getenv("MAX_SECONDS"));
    for (int i = 0; i < concurrency; i++) pthread_create(&threads[i], NULL, worker, NULL);
    for (int i = 0; i < concurrency; i++) pthread_join(threads[i], NULL);
    double wall = (now_ms() - start) / 1e3;
    int ok = 0, attempted = atomic_load(&next_index) < total ? atomic_load(&next_index) : total;
    for (int i = 0; i < attempted; i++)
        if (latency[i] >= 0) latency[ok++] = latency[i];
    qsort(latency, (size_t)ok, sizeof *latency, by_value);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
                 usage.ru_stime.tv_usec / 1e6;
    printf("ok=%d failed=%d wall=%.2f conn_per_s=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f client_cpu_s=%.2f", ok,
        atomic_load(&failures), wall, ok / wall, ok ? latency[ok / 2] : 0, ok ? latency[(int)(ok * 0.99)] : 0,
        ok ? latency[ok - 1] : 0, cpu);
    if (held) {
        int open_now = still_open();
        /* HOLD_MEASURE: a command run while the flood's connections are still held (the server's memory). */
        if (getenv("HOLD_MEASURE") && system(getenv("HOLD_MEASURE")) != 0) fprintf(stderr, "HOLD_MEASURE failed\n");
        printf(" held=%d held_open=%d", atomic_load(&hold_opened), open_now);
    }
    printf("\n");
    return 0;
}
