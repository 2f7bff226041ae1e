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
 *   authload HOST PORT N C vnc              RFB: the server's version, ours (3.8, or 3.7 / 3.3 if the server says so),
 *                                           security type 2 (VNC Authentication), the 16-byte challenge, the DES
 *                                           response keyed with bench-<i> (its first 8 bytes, as VNC keys are),
 *                                           then the SecurityResult (and its reason in 3.8); a server that closes
 *                                           cleanly instead of sending a SecurityResult has answered too (qeeqbox)
 *   authload HOST PORT N C rdp              X.224 Connection Request (TPKT) with `Cookie: mstshash=bench-<i>` and
 *                                           an RDP Negotiation Request for TLS|CredSSP, read the Connection Confirm
 *   authload HOST PORT N C mssql            TDS PRELOGIN (ENCRYPT_NOT_SUP), its response, then LOGIN7 for user
 *                                           bench-<i> with password bench-<i>, read the reply (an ERROR or LOGINACK)
 *   authload HOST PORT N C smb              SMB2 NEGOTIATE (2.0.2, 2.1), then SESSION_SETUP: NTLMSSP NEGOTIATE, its
 *                                           CHALLENGE, an AUTHENTICATE for WORKGROUP\bench-<i> (an NTLMv2-shaped
 *                                           response derived from i), read the reply (a logon failure or a session)
 *   authload HOST PORT N C snmp             UDP, one datagram from a fresh socket each: an SNMPv2c GetRequest
 *                                           (sysDescr.0) with community bench-<i>
 *   authload HOST PORT N C sip              UDP: a REGISTER from and to sip:bench-<i>@HOST
 *   authload HOST PORT N C tftp             UDP: a read request (RRQ, octet) for the file bench-<i>
 *
 * The UDP workloads count a request done when it is sent, unless UDP_WAIT_MS=T asks to wait T ms for a reply
 * (OpenCanary's sip, snmp and tftp only log; real servers stay silent to a wrong SNMP community). Sent as fast as
 * the client can, they are a flood: what counts is `captured / attempts`, what the server kept of it.
 *
 * vnc and rdp carry no password in the clear (rdp's cookie is the user name; VNC's response is a DES hash): what
 * `captured` counts there is the cookie (rdp), or nothing (vnc). DES comes from OpenSSL 3's legacy provider; if it
 * cannot be loaded, a warning is printed and the response is 16 bytes derived from i instead.
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
#include <openssl/provider.h>

static struct sockaddr_in target;
enum { REDIS, FTP, HTTP, SSH, MYSQL, VNC, RDP, MSSQL, SNMP, SIP, TFTP, SMB };
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

/* Reads exactly `length` bytes; 0 when they all arrived, 1 when the stream ended cleanly before the first of them,
 * -1 otherwise (an error, a timeout, or an end in the middle). */
static int read_exact(int fd, void *buffer, size_t length) {
    size_t have = 0;
    while (have < length) {
        ssize_t n = recv(fd, (char *)buffer + have, length - have, 0);
        if (n == 0 && have == 0) return 1;
        if (n <= 0) return -1;
        have += (size_t)n;
    }
    return 0;
}

/* Reads and drops a 32-bit big-endian length and that many bytes (an RFB reason string); 0 when all arrived. */
static int skip_reason(int fd) {
    unsigned char length[4], rest[4096];
    if (read_exact(fd, length, 4)) return -1;
    size_t left = (size_t)length[0] << 24 | (size_t)length[1] << 16 | (size_t)length[2] << 8 | length[3];
    while (left > 0) {
        size_t part = left < sizeof rest ? left : sizeof rest;
        if (read_exact(fd, rest, part)) return -1;
        left -= part;
    }
    return 0;
}

/* DES-ECB for VNC Authentication: OpenSSL 3 keeps single DES in its legacy provider. NULL when it is missing. */
static EVP_CIPHER *des_ecb;

static void load_des(void) {
    OSSL_PROVIDER_load(NULL, "legacy");
    OSSL_PROVIDER_load(NULL, "default");
    des_ecb = EVP_CIPHER_fetch(NULL, "DES-ECB", NULL);
    if (!des_ecb)
        fprintf(stderr, "authload: no DES-ECB in OpenSSL (legacy provider missing); VNC responses are 16 bytes "
                        "derived from i, not DES of the challenge\n");
}

/* VNC Authentication's response (RFC 6143 7.2.2): the challenge encrypted with DES-ECB, keyed with the password's
 * first 8 bytes (zero-padded), the bits of each byte reversed. Without DES, 16 bytes derived from index. */
static void vnc_response(const unsigned char challenge[16], const char *password, int index, unsigned char out[16]) {
    unsigned char key[8] = {0};
    for (int i = 0; i < 8 && password[i]; i++) {
        unsigned char byte = (unsigned char)password[i], reversed = 0;
        for (int bit = 0; bit < 8; bit++) reversed |= (unsigned char)(((byte >> bit) & 1) << (7 - bit));
        key[i] = reversed;
    }
    EVP_CIPHER_CTX *context = des_ecb ? EVP_CIPHER_CTX_new() : NULL;
    int length = 0;
    if (context && EVP_EncryptInit_ex(context, des_ecb, NULL, key, NULL) && EVP_CIPHER_CTX_set_padding(context, 0) &&
        EVP_EncryptUpdate(context, out, &length, challenge, 16) && length == 16) {
        EVP_CIPHER_CTX_free(context);
        return;
    }
    EVP_CIPHER_CTX_free(context);
    for (int i = 0; i < 16; i++) out[i] = (unsigned char)(index >> (8 * (i % 4))) ^ challenge[i];
}

/* An RFB login with VNC Authentication and password bench-<i>; done when the server answers the response with its
 * SecurityResult (and, in 3.8, the reason of a failure), or refuses earlier with a reason. */
static int vnc_login(int fd, int index, const char *password) {
    char version[13] = {0};
    if (read_exact(fd, version, 12) || memcmp(version, "RFB 00", 6) != 0) return -1;
    /* The client never asks for more than the server offers: 3.3 and 3.7 servers get their own version. */
    int minor = memcmp(version + 4, "003.003", 7) == 0 ? 3 : memcmp(version + 4, "003.007", 7) == 0 ? 7 : 8;
    char reply[13];
    snprintf(reply, sizeof reply, "RFB 003.00%d\n", minor);
    if (send_all(fd, reply, 12)) return -1;
    unsigned char bytes[256];
    if (minor == 3) {
        /* 3.3: the server names the one security type, a 32-bit value; 0 is a refusal with a reason. */
        if (read_exact(fd, bytes, 4)) return -1;
        unsigned int type = (unsigned int)bytes[0] << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3];
        if (type == 0) return skip_reason(fd);
        if (type != 2) return -1;
    } else {
        /* 3.7 and 3.8: a count of types, then the types; a count of 0 is a refusal with a reason. */
        if (read_exact(fd, bytes, 1)) return -1;
        int count = bytes[0], offered = 0;
        if (count == 0) return skip_reason(fd);
        if (read_exact(fd, bytes, (size_t)count)) return -1;
        for (int i = 0; i < count; i++) offered |= bytes[i] == 2;
        if (!offered || send_all(fd, "\x02", 1)) return -1;
    }
    unsigned char challenge[16], response[16];
    if (read_exact(fd, challenge, 16)) return -1;
    vnc_response(challenge, password, index, response);
    if (send_all(fd, (const char *)response, 16)) return -1;
    int got = read_exact(fd, bytes, 4);
    if (got == 1) return 0; /* closed without a SecurityResult: qeeqbox's answer to every response */
    if (got) return -1;
    /* SecurityResult: 0 is OK; a failure carries its reason from 3.8 on. */
    if ((bytes[0] | bytes[1] | bytes[2] | bytes[3]) != 0 && minor == 8) return skip_reason(fd);
    return 0;
}

/* An RDP connection's first exchange: the X.224 Connection Request with the mstshash cookie bench-<i> and an RDP
 * Negotiation Request for TLS|CredSSP (MS-RDPBCGR 2.2.1.1); done when the whole Connection Confirm has arrived. */
static int rdp_login(int fd, const char *user) {
    unsigned char request[128];
    int cookie = snprintf((char *)request + 11, 64, "Cookie: mstshash=%s\r\n", user);
    int n = 11 + cookie;
    static const unsigned char negotiation[8] = {0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00};
    memcpy(request + n, negotiation, 8), n += 8;
    /* TPKT (version 3, length), then the TPDU: length indicator, CR, DST-REF, SRC-REF, class 0. */
    const unsigned char header[11] = {0x03, 0x00, (unsigned char)(n >> 8), (unsigned char)n, (unsigned char)(n - 5),
        0xE0, 0x00, 0x00, 0x00, 0x00, 0x00};
    memcpy(request, header, 11);
    if (send_all(fd, (const char *)request, (size_t)n)) return -1;
    unsigned char confirm[1024];
    if (read_exact(fd, confirm, 4) || confirm[0] != 3) return -1;
    size_t length = (size_t)confirm[2] << 8 | confirm[3];
    if (length < 7 || length > sizeof confirm || read_exact(fd, confirm + 4, length - 4)) return -1;
    return (confirm[5] & 0xF0) == 0xD0 ? 0 : -1; /* CC: the Connection Confirm */
}

/* Reads one TDS message (its packets up to the one marked end-of-message) into buffer; its payload length, or -1.
 * A payload longer than capacity is read and dropped past capacity. */
static int read_tds(int fd, unsigned char *buffer, int capacity, unsigned char *type) {
    int have = 0;
    for (;;) {
        unsigned char header[8], rest[4096];
        if (read_exact(fd, header, 8)) return -1;
        int length = header[2] << 8 | header[3];
        if (length < 8) return -1;
        *type = header[0];
        for (int left = length - 8; left > 0;) {
            int part = left < (int)sizeof rest ? left : (int)sizeof rest;
            if (read_exact(fd, rest, (size_t)part)) return -1;
            int keep = part < capacity - have ? part : capacity - have;
            memcpy(buffer + have, rest, (size_t)keep), have += keep;
            left -= part;
        }
        if (header[1] & 0x01) return have;
    }
}

/* Appends text to a LOGIN7's variable part as UTF-16LE, its offset and length in characters at slot; with
 * `password`, each byte nibble-swapped then XORed with 0xA5, as TDS encodes passwords (MS-TDS 2.2.6.4). */
static void tds_field(unsigned char *login, int *n, int slot, const char *text, int password) {
    int count = (int)strlen(text);
    login[slot] = (unsigned char)(*n - 8), login[slot + 1] = (unsigned char)((*n - 8) >> 8);
    login[slot + 2] = (unsigned char)count, login[slot + 3] = (unsigned char)(count >> 8);
    for (int i = 0; i < count; i++) {
        unsigned char pair[2] = {(unsigned char)text[i], 0};
        for (int j = 0; j < 2; j++) {
            if (password) pair[j] = (unsigned char)((pair[j] << 4 | pair[j] >> 4) ^ 0xA5);
            login[(*n)++] = pair[j];
        }
    }
}

/* A SQL Server login (MS-TDS): PRELOGIN without encryption, its response, then LOGIN7 for user bench-<i> with
 * password bench-<i> (SQL authentication); done when the server's reply (an ERROR or a LOGINACK) has arrived. */
static int mssql_login(int fd, const char *name) {
    /* PRELOGIN: VERSION, ENCRYPTION (ENCRYPT_NOT_SUP), INSTOPT (""), THREADID, MARS (off), terminator. */
    static const unsigned char prelogin[] = {0x12, 0x01, 0x00, 0x2F, 0x00, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x1A, 0x00, 0x06, 0x01, 0x00, 0x20, 0x00, 0x01, 0x02, 0x00, 0x21, 0x00, 0x01,
        0x03, 0x00, 0x22, 0x00, 0x04, 0x04, 0x00, 0x26, 0x00, 0x01, 0xFF,
        0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    unsigned char reply[8192], type;
    if (send_all(fd, (const char *)prelogin, sizeof prelogin)) return -1;
    int length = read_tds(fd, reply, sizeof reply, &type);
    if (length < 1 || type != 0x04) return -1;
    /* The server's ENCRYPTION answer: anything but NOT_SUP (2) would need TLS inside TDS, which this client lacks. */
    for (int at = 0; at + 5 <= length && reply[at] != 0xFF; at += 5) {
        int offset = reply[at + 1] << 8 | reply[at + 2];
        if (reply[at] == 0x01 && (offset >= length || reply[offset] != 0x02)) return -1;
    }
    /* LOGIN7: the 94-byte fixed part (TDS 7.4), then host, user, password, app, server, library as UTF-16LE. */
    unsigned char login[512] = {0};
    int n = 8 + 94;
    static const unsigned char fixed[36] = {0, 0, 0, 0, 0x04, 0x00, 0x00, 0x74, 0x00, 0x10, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xE0, 0x03, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x09, 0x04, 0x00, 0x00};
    memcpy(login + 8, fixed, sizeof fixed);
    tds_field(login, &n, 8 + 36, "authload", 0);
    tds_field(login, &n, 8 + 40, name, 0);
    tds_field(login, &n, 8 + 44, name, 1);
    tds_field(login, &n, 8 + 48, "authload", 0);
    tds_field(login, &n, 8 + 52, inet_ntoa(target.sin_addr), 0);
    tds_field(login, &n, 8 + 60, "authload", 0);
    /* Extension, language, database, SSPI, attach file, change password: empty, at the end of the data. */
    static const int empty[] = {56, 64, 68, 78, 82, 86};
    for (int i = 0; i < 6; i++)
        login[8 + empty[i]] = (unsigned char)(n - 8), login[8 + empty[i] + 1] = (unsigned char)((n - 8) >> 8);
    int payload = n - 8;
    login[8] = (unsigned char)payload, login[9] = (unsigned char)(payload >> 8);
    const unsigned char header[8] = {0x10, 0x01, (unsigned char)(n >> 8), (unsigned char)n, 0, 0, 1, 0};
    memcpy(login, header, 8);
    if (send_all(fd, (const char *)login, (size_t)n)) return -1;
    length = read_tds(fd, reply, sizeof reply, &type);
    /* A tabular result opening with ERROR (0xAA), LOGINACK (0xAD), ENVCHANGE (0xE3) or INFO (0xAB). */
    if (length < 1 || type != 0x04) return -1;
    return reply[0] == 0xAA || reply[0] == 0xAD || reply[0] == 0xE3 || reply[0] == 0xAB ? 0 : -1;
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

/* One UDP request from a fresh socket (a new source port, as a scanner's probe has): an SNMPv2c GetRequest for
 * sysDescr.0 with community bench-<i>, a SIP REGISTER for bench-<i>, or a TFTP read request for the file
 * bench-<i>. Sent is done, unless UDP_WAIT_MS asks to wait that long for a reply (then no reply is a failure). */
static int udp_wait_ms;
static int udp_request(int index, const char *password) {
    unsigned char datagram[1024];
    int n = 0, length = (int)strlen(password);
    switch (protocol) {
    case SNMP: {
        /* SEQUENCE { version 1 (v2c), community, GetRequest-PDU { request-id, 0, 0, { { 1.3.6.1.2.1.1.1.0, NULL } } } } */
        static const unsigned char pdu[] = {0xA0, 0x1C, 0x02, 0x04, 0, 0, 0, 0, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
            0x30, 0x0E, 0x30, 0x0C, 0x06, 0x08, 0x2B, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00};
        datagram[n++] = 0x30;
        datagram[n++] = (unsigned char)(3 + 2 + length + (int)sizeof pdu);
        datagram[n++] = 0x02, datagram[n++] = 0x01, datagram[n++] = 0x01;
        datagram[n++] = 0x04, datagram[n++] = (unsigned char)length;
        memcpy(datagram + n, password, (size_t)length), n += length;
        memcpy(datagram + n, pdu, sizeof pdu);
        datagram[n + 4] = (unsigned char)(index >> 24), datagram[n + 5] = (unsigned char)(index >> 16);
        datagram[n + 6] = (unsigned char)(index >> 8), datagram[n + 7] = (unsigned char)index;
        n += (int)sizeof pdu;
        break;
    }
    case SIP: {
        const char *host = inet_ntoa(target.sin_addr);
        n = snprintf((char *)datagram, sizeof datagram,
            "REGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-%d\r\nMax-Forwards: 70\r\n"
            "From: <sip:%s@%s>;tag=%d\r\nTo: <sip:%s@%s>\r\nCall-ID: %d@authload\r\nCSeq: 1 REGISTER\r\n"
            "Contact: <sip:%s@127.0.0.1>\r\nUser-Agent: authload\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n",
            host, index, password, host, index, password, host, index, password);
        break;
    }
    default: /* TFTP: RRQ, the file name, NUL, the mode, NUL */
        datagram[n++] = 0x00, datagram[n++] = 0x01;
        memcpy(datagram + n, password, (size_t)length + 1), n += length + 1;
        memcpy(datagram + n, "octet", 6), n += 6;
        break;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return -1;
    int result = -1;
    if (connect(fd, (struct sockaddr *)&target, sizeof target) != 0 || send(fd, datagram, (size_t)n, 0) != n) goto done;
    if (udp_wait_ms > 0) {
        struct timeval timeout = {udp_wait_ms / 1000, (udp_wait_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        if (recv(fd, datagram, sizeof datagram, 0) <= 0) goto done;
    }
    result = 0;
done:
    close(fd);
    return result;
}

/* Reads one NetBIOS session message (a 4-byte header: type 0, 24-bit big-endian length) into buffer; its length,
 * or -1. Bytes past capacity are read and dropped. */
static int read_nbss(int fd, unsigned char *buffer, int capacity) {
    unsigned char header[4], rest[4096];
    if (read_exact(fd, header, 4) || header[0] != 0) return -1;
    int length = header[1] << 16 | header[2] << 8 | header[3], have = 0;
    for (int left = length; left > 0;) {
        int part = left < (int)sizeof rest ? left : (int)sizeof rest;
        if (read_exact(fd, rest, (size_t)part)) return -1;
        int keep = part < capacity - have ? part : capacity - have;
        memcpy(buffer + have, rest, (size_t)keep), have += keep;
        left -= part;
    }
    return have;
}

static void put16(unsigned char *at, unsigned value) { at[0] = (unsigned char)value, at[1] = (unsigned char)(value >> 8); }
static void put32(unsigned char *at, unsigned value) { put16(at, value & 0xFFFF), put16(at + 2, value >> 16); }

/* An SMB2 message: the NBSS header, the 64-byte SMB2 header (command, message id, session id) and body; sent. */
static int smb2_send(int fd, unsigned command, unsigned message_id, const unsigned char session[8],
    const unsigned char *body, int length) {
    unsigned char message[1024] = {0};
    int n = 4 + 64 + length;
    message[1] = (unsigned char)((n - 4) >> 16), message[2] = (unsigned char)((n - 4) >> 8);
    message[3] = (unsigned char)(n - 4);
    unsigned char *header = message + 4;
    memcpy(header, "\xFESMB", 4);
    put16(header + 4, 64);
    put16(header + 12, command);
    put16(header + 14, 31); /* credits requested */
    put32(header + 24, message_id);
    memcpy(header + 40, session, 8);
    memcpy(message + 4 + 64, body, (size_t)length);
    return send_all(fd, (const char *)message, (size_t)n);
}

/* Appends text to an NTLM message as UTF-16LE at *n, its length, maximum and offset in the fields at slot. */
static void ntlm_field(unsigned char *message, int *n, int slot, const unsigned char *bytes, int count, int utf16) {
    int size = utf16 ? 2 * count : count;
    put16(message + slot, (unsigned)size), put16(message + slot + 2, (unsigned)size);
    put32(message + slot + 4, (unsigned)*n);
    for (int i = 0; i < count; i++) {
        message[(*n)++] = bytes[i];
        if (utf16) message[(*n)++] = 0;
    }
}

/* An SMB login (MS-SMB2, MS-NLMP): NEGOTIATE (SMB 2.0.2 and 2.1), then SESSION_SETUP with a bare NTLMSSP NEGOTIATE
 * and, in the same session, an NTLMSSP AUTHENTICATE for WORKGROUP\bench-<i> whose NTLMv2-shaped response is derived
 * from i (what a honeypot keeps of it is the user and a crackable hash line); done when the server's answer to the
 * AUTHENTICATE (a logon failure, or a session) has arrived. */
static int smb_login(int fd, int index, const char *user) {
    static const unsigned char none[8] = {0};
    unsigned char body[512] = {0}, reply[4096];
    /* NEGOTIATE: structure size 36, two dialects, signing enabled, a client GUID from i. */
    put16(body, 36), put16(body + 2, 2), put16(body + 4, 1);
    put32(body + 12, (unsigned)index), memcpy(body + 16, "authload", 8);
    put16(body + 36, 0x0202), put16(body + 38, 0x0210);
    if (smb2_send(fd, 0, 0, none, body, 40)) return -1;
    int length = read_nbss(fd, reply, sizeof reply);
    if (length < 64 + 8 || memcmp(reply, "\xFESMB", 4) || (reply[8] | reply[9] | reply[10] | reply[11])) return -1;
    /* SESSION_SETUP with an NTLMSSP NEGOTIATE (unicode, NTLM, always sign, extended session security, 128, 56). */
    static const unsigned char negotiate[32] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0, 1, 0, 0, 0,
        0x05, 0x82, 0x08, 0xA0};
    memset(body, 0, sizeof body);
    put16(body, 25), body[3] = 1, put16(body + 12, 64 + 24), put16(body + 14, sizeof negotiate);
    memcpy(body + 24, negotiate, sizeof negotiate);
    if (smb2_send(fd, 1, 1, none, body, 24 + (int)sizeof negotiate)) return -1;
    length = read_nbss(fd, reply, sizeof reply);
    /* STATUS_MORE_PROCESSING_REQUIRED (0xC0000016) with the CHALLENGE, in the session the server chose. */
    if (length < 64 + 8 || reply[8] != 0x16 || reply[11] != 0xC0) return -1;
    unsigned char session[8];
    memcpy(session, reply + 40, 8);
    /* AUTHENTICATE: LM (24 zero bytes), NT (an NTProofStr and a blob, both from i), domain, user, workstation. */
    unsigned char message[256] = {0}, nt[16 + 28 + 4] = {0};
    memcpy(message, "NTLMSSP\0", 8), put32(message + 8, 3), put32(message + 60, 0xA0088205);
    for (int i = 0; i < 16; i++) nt[i] = (unsigned char)(index >> (8 * (i % 4))) ^ (unsigned char)(0x5A + i);
    nt[16] = 1, nt[17] = 1;                           /* blob: version 1, 1 */
    put32(nt + 24, (unsigned)index), put32(nt + 32, (unsigned)index); /* time and client challenge from i */
    int n = 64;
    static const unsigned char lm[24] = {0};
    ntlm_field(message, &n, 12, lm, sizeof lm, 0);
    ntlm_field(message, &n, 20, nt, sizeof nt, 0);
    ntlm_field(message, &n, 28, (const unsigned char *)"WORKGROUP", 9, 1);
    ntlm_field(message, &n, 36, (const unsigned char *)user, (int)strlen(user), 1);
    ntlm_field(message, &n, 44, (const unsigned char *)"AUTHLOAD", 8, 1);
    ntlm_field(message, &n, 52, none, 0, 0);
    memset(body, 0, sizeof body);
    put16(body, 25), body[3] = 1, put16(body + 12, 64 + 24), put16(body + 14, (unsigned)n);
    memcpy(body + 24, message, (size_t)n);
    if (smb2_send(fd, 1, 2, session, body, 24 + n)) return -1;
    length = read_nbss(fd, reply, sizeof reply);
    return length >= 64 && !memcmp(reply, "\xFESMB", 4) && reply[12] == 1 ? 0 : -1;
}

static int login(int index) {
    if (protocol == SNMP || protocol == SIP || protocol == TFTP) {
        char password[32];
        snprintf(password, sizeof password, "bench-%d", index);
        return udp_request(index, password);
    }
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
    case VNC:
        if (vnc_login(fd, index, password)) goto done;
        break;
    case RDP:
        if (rdp_login(fd, password)) goto done;
        break;
    case MSSQL:
        if (mssql_login(fd, password)) goto done;
        break;
    case SMB:
        if (smb_login(fd, index, password)) goto done;
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
 * finishes (slow-loris; for ftp, mysql and vnc, whose servers speak first, bytes the server must wait to complete). */
static int *held, hold_total, hold_sources;
static atomic_int hold_next, hold_opened;

static const char *partial_request(void) {
    switch (protocol) {
    case REDIS: return "*2\r\n$4\r\nAU";
    case FTP: return "USER be";
    case HTTP: return "POST / HTTP/1.1\r\nHost: bench\r\n";
    case SSH: return "SSH-2.0-Open";
    case VNC: return "RFB 003.0";
    case RDP: return "\x03"; /* and a NUL: the start of a TPKT header */
    case MSSQL: return "\x12\x01"; /* the start of a PRELOGIN packet's header */
    case SMB: return ""; /* and a NUL: the start of a NetBIOS session header (two NULs) */
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
        fprintf(stderr, "usage: %s HOST PORT N C redis|ftp|http|ssh|mysql|vnc|rdp|mssql|snmp|sip|tftp|smb [PATH]\n",
            argv[0]);
        return 2;
    }
    target.sin_family = AF_INET;
    target.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &target.sin_addr) != 1) return 2;
    total = atoi(argv[3]);
    int concurrency = atoi(argv[4]);
    const char *names[] = {"redis", "ftp", "http", "ssh", "mysql", "vnc", "rdp", "mssql", "snmp", "sip", "tftp", "smb"};
    protocol = -1;
    for (int i = 0; i < 12; i++)
        if (strcmp(argv[5], names[i]) == 0) protocol = i;
    if (protocol < 0) {
        fprintf(stderr, "unknown protocol %s\n", argv[5]);
        return 2;
    }
    if (argc > 6) path = argv[6];
    if (protocol == VNC) load_des();
    if (getenv("UDP_WAIT_MS")) udp_wait_ms = atoi(getenv("UDP_WAIT_MS"));
    if (getenv("HOLD") && (protocol == SNMP || protocol == SIP || protocol == TFTP)) {
        fprintf(stderr, "HOLD: %s is UDP; there is no connection to hold\n", argv[5]);
        return 2;
    }
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
