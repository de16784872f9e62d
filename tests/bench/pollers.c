/* tests/bench/pollers: N clients, each polling runs/get of one active run
 * once a second over jobsd's Unix socket for D seconds, as orchestrators'
 * waiters do. Prints how many polls were answered, by source, and their
 * latency; tests/bench/pollers.sh sets up fakews and jobsd and counts the
 * upstream requests it cost.
 *   pollers SOCKET PATH CLIENTS SECONDS */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto/cleanup.h"
#include "proto/strutil.h"
#include "tests/bench/benchnet.h"

#define CLIENTS_MAX 1000

struct client {
    int fd;
    int64_t next_ms; /* when to send the next poll */
    int64_t sent_ms; /* 0: nothing in flight */
    char buf[8192];
    size_t len;
};

static int cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int n, secs;
    if (argc != 5 || parse_int(argv[3], &n) < 0 || n < 1 || n > CLIENTS_MAX ||
        parse_int(argv[4], &secs) < 0 || secs < 1) {
        fprintf(stderr, "usage: pollers SOCKET PATH CLIENTS(1..%d) SECONDS\n", CLIENTS_MAX);
        return 2;
    }
    static struct client c[CLIENTS_MAX];
    static int64_t lat[CLIENTS_MAX * 64];
    size_t n_lat = 0;
    unsigned by_source[4] = { 0 }; /* upstream, cache, stale, other */
    unsigned errors = 0;
    char req[1024];
    int req_len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", argv[2]);
    int64_t start = now_ms(), end = start + (int64_t)secs * 1000;

    for (int i = 0; i < n; i++) {
        c[i].fd = connect_unix(argv[1]);
        if (c[i].fd < 0) {
            fprintf(stderr, "pollers: cannot connect to %s: %s\n", argv[1], strerror(errno));
            return 1;
        }
        c[i].next_ms = start + (int64_t)i * 1000 / n; /* spread over the second */
    }
    for (;;) {
        int64_t now = now_ms();
        bool busy = false;
        struct pollfd p[CLIENTS_MAX];
        int64_t wake = end;
        for (int i = 0; i < n; i++) {
            if (!c[i].sent_ms && c[i].next_ms <= now && now < end) {
                if (write(c[i].fd, req, (size_t)req_len) != req_len)
                    errors++;
                c[i].sent_ms = now;
                c[i].next_ms += 1000;
            }
            busy |= c[i].sent_ms != 0;
            if (!c[i].sent_ms && c[i].next_ms < wake)
                wake = c[i].next_ms;
            p[i] = (struct pollfd){ .fd = c[i].fd, .events = c[i].sent_ms ? POLLIN : 0 };
        }
        if (now >= end && !busy)
            break;
        int timeout = (int)MAX(0, MIN(wake - now, 100));
        if (poll(p, (nfds_t)n, timeout) <= 0)
            continue;
        for (int i = 0; i < n; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP)))
                continue;
            ssize_t k = read(c[i].fd, c[i].buf + c[i].len, sizeof(c[i].buf) - 1 - c[i].len);
            if (k <= 0) {
                errors++;
                c[i].sent_ms = 0;
                continue;
            }
            c[i].len += (size_t)k;
            c[i].buf[c[i].len] = 0;
            /* One whole answer: headers, then Content-Length bytes. */
            char *hdr_end = strstr(c[i].buf, "\r\n\r\n");
            const char *cl = strcasestr(c[i].buf, "\r\nContent-Length: ");
            int64_t body = -1;
            if (!hdr_end || !cl)
                continue;
            char digits[24];
            snprintf(digits, sizeof(digits), "%.*s", (int)strcspn(cl + 18, "\r"), cl + 18);
            if (parse_int64(digits, &body) < 0 ||
                (size_t)(hdr_end + 4 - c[i].buf) + (size_t)body > c[i].len)
                continue;
            if (strncmp(c[i].buf, "HTTP/1.1 200", 12) != 0)
                errors++;
            const char *src = strcasestr(c[i].buf, "\r\nX-Jobsd-Source: ");
            src = src ? src + 18 : "";
            by_source[startswith(src, "upstream") ? 0
                      : startswith(src, "cache")  ? 1
                      : startswith(src, "stale")  ? 2
                                                  : 3]++;
            if (n_lat < sizeof(lat) / sizeof(lat[0]))
                lat[n_lat++] = now_ms() - c[i].sent_ms;
            c[i].len = 0;
            c[i].sent_ms = 0;
        }
    }
    qsort(lat, n_lat, sizeof(lat[0]), cmp_int64);
    printf("polls %zu (upstream %u, cache %u, stale %u, other %u), errors %u, latency p50 %lld ms, "
           "p99 %lld ms\n",
           n_lat, by_source[0], by_source[1], by_source[2], by_source[3], errors,
           (long long)(n_lat ? lat[n_lat / 2] : 0), (long long)(n_lat ? lat[n_lat * 99 / 100] : 0));
    for (int i = 0; i < n; i++)
        close(c[i].fd);
    return errors ? 1 : 0;
}
