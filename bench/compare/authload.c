/* A compiled login load client for the side-by-side benchmarks (issue 8): N fresh connections, C at a time
 * (one thread each), every one a login with its own password `bench-<i>`, so that what a honeypot captured can
 * be counted exactly. A Python client would be the bottleneck (OpenCanary's redis took 1,406 connections/s from
 * one, 5,546 from a C client); this one reports its own CPU beside the figures.
 *
 *   cc -O2 -pthread -o authload bench/compare/authload.c
 *   authload HOST PORT N C redis            AUTH bench-<i>, read the reply line
 *   authload HOST PORT N C ftp              banner, USER bench, PASS bench-<i>, read each reply line
 *   authload HOST PORT N C http PATH        POST PATH username=bench&password=bench-<i>, read the status line
 *
 * Prints one line: ok, failed, wall s, connections/s, p50/p99/max ms (connect to reply), client CPU s.
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

static struct sockaddr_in target;
static int total, protocol; /* 0 redis, 1 ftp, 2 http */
static const char *path = "/";
static atomic_int next_index, failures;
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

static int login(int index) {
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
    case 0: {
        int n = snprintf(request, sizeof request, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", length, password);
        if (send_all(fd, request, (size_t)n) || read_line(fd)) goto done;
        break;
    }
    case 1: {
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
    protocol = strcmp(argv[5], "redis") == 0 ? 0 : strcmp(argv[5], "ftp") == 0 ? 1 : 2;
    if (argc > 6) path = argv[6];
    latency = calloc((size_t)total, sizeof *latency);
    pthread_t *threads = calloc((size_t)concurrency, sizeof *threads);
    double start = now_ms();
    for (int i = 0; i < concurrency; i++) pthread_create(&threads[i], NULL, worker, NULL);
    for (int i = 0; i < concurrency; i++) pthread_join(threads[i], NULL);
    double wall = (now_ms() - start) / 1e3;
    int ok = 0;
    for (int i = 0; i < total; i++)
        if (latency[i] >= 0) latency[ok++] = latency[i];
    qsort(latency, (size_t)ok, sizeof *latency, by_value);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
                 usage.ru_stime.tv_usec / 1e6;
    printf("ok=%d failed=%d wall=%.2f conn_per_s=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f client_cpu_s=%.2f\n", ok,
        atomic_load(&failures), wall, ok / wall, ok ? latency[ok / 2] : 0, ok ? latency[(int)(ok * 0.99)] : 0,
        ok ? latency[ok - 1] : 0, cpu);
    return 0;
}
