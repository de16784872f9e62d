/* tests/bench/waiters: N local waits on jobsd's Unix socket, held at once
 * (GET /jobsd/v1/runs/{id}/wait?timeout=S over the given run ids in turn),
 * answered when the runs end. Prints how many came back terminal, timed out
 * or failed, and when the first and last came back; tests/bench/poller.sh
 * counts what they cost upstream.
 *   waiters SOCKET CLIENTS TIMEOUT-S RUN-ID... */
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

#define CLIENTS_MAX 10000
#define ANSWER_MAX (64 * 1024)

struct client {
    int fd;
    char *buf;
    size_t len;
    bool done;
};

int main(int argc, char **argv)
{
    int n = 0, timeout_s = 0;
    if (argc < 5 || parse_int(argv[2], &n) < 0 || n < 1 || n > CLIENTS_MAX ||
        parse_int(argv[3], &timeout_s) < 0) {
        fprintf(stderr, "usage: waiters SOCKET CLIENTS TIMEOUT-S RUN-ID...\n");
        return 2;
    }
    int n_ids = argc - 4;
    struct client *c = calloc((size_t)n, sizeof(*c));
    struct pollfd *p = calloc((size_t)n, sizeof(*p));
    int *who = calloc((size_t)n, sizeof(*who));
    if (!c || !p || !who)
        return 1;
    int64_t start = now_ms(), first = 0, last = 0;
    for (int i = 0; i < n; i++) {
        char req[256];
        c[i].fd = connect_unix(argv[1]);
        c[i].buf = malloc(ANSWER_MAX);
        if (c[i].fd < 0 || !c[i].buf) {
            fprintf(stderr, "waiters: connect %d failed: %s\n", i, strerror(-c[i].fd));
            return 1;
        }
        int k = snprintf(req, sizeof(req),
                         "GET /jobsd/v1/runs/%s/wait?timeout=%d HTTP/1.1\r\nHost: x\r\n"
                         "Connection: close\r\n\r\n",
                         argv[4 + i % n_ids], timeout_s);
        if (write(c[i].fd, req, (size_t)k) != k)
            return 1;
    }
    int open = n, terminal = 0, deadline = 0, failed = 0;
    while (open > 0) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (!c[i].done) {
                who[m] = i;
                p[m++] = (struct pollfd){ .fd = c[i].fd, .events = POLLIN };
            }
        if (poll(p, (nfds_t)m, (timeout_s + 30) * 1000) <= 0)
            break;
        for (int k = 0; k < m; k++) {
            if (!p[k].revents)
                continue;
            struct client *cl = &c[who[k]];
            ssize_t r = read(cl->fd, cl->buf + cl->len, ANSWER_MAX - 1 - cl->len);
            if (r > 0 && cl->len + (size_t)r < ANSWER_MAX - 1) {
                cl->len += (size_t)r;
                continue;
            }
            cl->buf[cl->len] = 0;
            cl->done = true;
            open--;
            close(cl->fd);
            last = now_ms();
            if (!first)
                first = last;
            if (strstr(cl->buf, "X-Jobsd-Wait: terminal"))
                terminal++;
            else if (strstr(cl->buf, "X-Jobsd-Wait: timeout"))
                deadline++;
            else
                failed++;
        }
    }
    printf("%d waits: %d terminal, %d timeout, %d failed, %d unanswered; "
           "first back after %lld ms, last after %lld ms\n",
           n, terminal, deadline, failed, open, (long long)(first - start),
           (long long)(last - start));
    return failed || open ? 1 : 0;
}
