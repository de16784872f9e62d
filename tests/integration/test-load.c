/* Load (issue 10): 1,000 connections at once on the Unix socket, each with
 * a request, are all answered; slow clients (partial headers, headers or a
 * body trickled a byte a second) are closed after server.request_timeout
 * while a normal client keeps getting quick answers; a flood of idle TCP
 * connections (LOAD_IDLE, 2,000 here, 10,000 in tests/bench/load.sh) beyond
 * server.max_connections is served or closed by jobsd, never left hanging,
 * and neither door stops answering meanwhile.
 *   LOAD_UNIX=N LOAD_IDLE=N LOAD_MAX_CONN=N override the sizes. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/cleanup.h"
#include "proto/strutil.h"
#include "tests/bench/benchnet.h"
#include "tests/fakews/fwtest.h"
#include "tests/integration/jdtest.h"
#include "tests/tap.h"

static const char *const env[] = { "DATABRICKS_TOKEN=" FWT_TOKEN, NULL };

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    int n;
    return v && parse_int(v, &n) == 0 && n > 0 ? n : def;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* One request on a new Unix connection, answered within timeout_ms? Its
 * status (0: none), and how long it took. */
static int quick_request(const char *sock, const char *path, int64_t *ret_ms)
{
    int64_t t0 = now_ms();
    int fd = jd_send_raw(sock, "GET", path, NULL);
    _cleanup_free_ char *a = NULL;
    int st = fd >= 0 ? jd_read_raw(fd, &a) : 0;
    *ret_ms = now_ms() - t0;
    return st;
}

static void test_unix_concurrent(struct jd *jd, int64_t job, int n)
{
    int *fds = calloc((size_t)n, sizeof(int));
    struct pollfd *p = calloc((size_t)n, sizeof(*p));
    char **got = calloc((size_t)n, sizeof(char *));
    size_t *len = calloc((size_t)n, sizeof(size_t));
    if (!fds || !p || !got || !len)
        tap_skip_all("out of memory");
    /* Every connection first, then every request: all in flight at once. */
    int connected = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = connect_unix(jd->socket);
        connected += fds[i] >= 0;
    }
    is_int(connected, n, "%d connections at once on the Unix socket", n);
    for (int i = 0; i < n; i++) {
        char req[256];
        int k = i % 2 ? snprintf(req, sizeof(req),
                                 "GET /api/2.2/jobs/get?job_id=%" PRId64 " HTTP/1.1\r\nHost: x\r\n"
                                 "Connection: close\r\n\r\n",
                                 job)
                      : snprintf(req, sizeof(req),
                                 "GET /jobsd/v1/health HTTP/1.1\r\nHost: x\r\n"
                                 "Connection: close\r\n\r\n");
        if (fds[i] >= 0 && write(fds[i], req, (size_t)k) != k) {
            close(fds[i]);
            fds[i] = -1;
        }
    }
    int64_t t0 = now_ms();
    int open = 0;
    for (int i = 0; i < n; i++)
        open += fds[i] >= 0;
    while (open > 0 && now_ms() - t0 < 60000) {
        for (int i = 0; i < n; i++)
            p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
        if (poll(p, (nfds_t)n, 1000) <= 0)
            continue;
        for (int i = 0; i < n; i++) {
            if (fds[i] < 0 || !p[i].revents)
                continue;
            char chunk[4096];
            ssize_t k = read(fds[i], chunk, sizeof(chunk));
            if (k > 0) {
                if (len[i] < 64) {
                    char *b = realloc(got[i], len[i] + (size_t)k + 1);
                    if (b) {
                        memcpy(b + len[i], chunk, (size_t)k);
                        len[i] += (size_t)k;
                        b[len[i]] = 0;
                        got[i] = b;
                    }
                }
                continue;
            }
            close(fds[i]);
            fds[i] = -1;
            open--;
        }
    }
    int ok200 = 0;
    for (int i = 0; i < n; i++) {
        ok200 += got[i] && startswith(got[i], "HTTP/1.1 200 ");
        if (fds[i] >= 0)
            close(fds[i]);
        free(got[i]);
    }
    is_int(ok200, n, "... every one answered 200 (in %" PRId64 " ms)", now_ms() - t0);
    free(fds);
    free(p);
    free(got);
    free(len);
}

/* Slow clients: each must be closed by jobsd within its request_timeout
 * (plus slack), while a normal client is answered at once meanwhile. */
static void test_slow_clients(struct jd *jd, int timeout_s)
{
    enum { STALLED, HEADER_TRICKLE, BODY_TRICKLE, KINDS };
    static const char *const kind_names[KINDS] = { "partial headers, then nothing",
                                                   "headers a byte a second",
                                                   "a body a byte a second" };
    enum { PER_KIND = 10 };
    int fds[KINDS][PER_KIND];
    int64_t closed_ms[KINDS][PER_KIND];
    static const char trickle[] =
        "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int64_t t0 = now_ms();
    for (int k = 0; k < KINDS; k++)
        for (int i = 0; i < PER_KIND; i++) {
            fds[k][i] = connect_unix(jd->socket);
            closed_ms[k][i] = -1;
            const char *head =
                k == BODY_TRICKLE ? "POST /api/2.2/jobs/run-now HTTP/1.1\r\nHost: x\r\n"
                                    "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"
                                  : "GET /jobsd/v1/health HTTP/1.1\r\nHost: x\r\n";
            if (fds[k][i] >= 0) {
                (void)fcntl(fds[k][i], F_SETFL, O_NONBLOCK);
                if (write(fds[k][i], head, strlen(head)) < 0)
                    closed_ms[k][i] = 0;
            }
        }
    int64_t worst = 0;
    int normal = 0, normal_ok = 0;
    size_t pos = 0;
    int64_t limit = (int64_t)(timeout_s + 10) * 1000;
    for (int64_t last_tick = 0; now_ms() - t0 < limit;) {
        int64_t now = now_ms();
        if (now - last_tick >= 1000) { /* one byte each, every second */
            last_tick = now;
            for (int k = HEADER_TRICKLE; k < KINDS; k++)
                for (int i = 0; i < PER_KIND; i++)
                    if (fds[k][i] >= 0 && closed_ms[k][i] < 0)
                        (void)!write(fds[k][i], k == BODY_TRICKLE ? " " : trickle + pos % 60, 1);
            pos++;
        }
        int64_t ms;
        normal++;
        normal_ok += quick_request(jd->socket, "/jobsd/v1/health", &ms) == 200;
        worst = MAX(worst, ms);
        bool all = true;
        for (int k = 0; k < KINDS; k++)
            for (int i = 0; i < PER_KIND; i++) {
                if (closed_ms[k][i] >= 0 || fds[k][i] < 0)
                    continue;
                char b[256];
                ssize_t n = read(fds[k][i], b, sizeof(b));
                if (n == 0 || (n < 0 && errno != EAGAIN))
                    closed_ms[k][i] = now_ms() - t0;
                else
                    all = false;
            }
        if (all)
            break;
        sleep_ms(100);
    }
    for (int k = 0; k < KINDS; k++) {
        int closed = 0;
        int64_t latest = 0;
        for (int i = 0; i < PER_KIND; i++) {
            closed += closed_ms[k][i] >= 0;
            latest = MAX(latest, closed_ms[k][i]);
            if (fds[k][i] >= 0)
                close(fds[k][i]);
        }
        is_int(closed, PER_KIND, "%s: all %d closed by jobsd", kind_names[k], PER_KIND);
        ok(latest >= (timeout_s - 1) * 1000 && latest <= (timeout_s + 5) * 1000,
           "... after the request timeout of %d s (the last at %" PRId64 " ms)", timeout_s, latest);
    }
    is_int(normal_ok, normal, "a normal client meanwhile: %d requests answered", normal);
    ok(worst < 2000, "... each within 2 s (the slowest %" PRId64 " ms)", worst);
}

static void test_idle_tcp(struct jd *jd, int n, int max_conn, int timeout_s)
{
    int *fds = calloc((size_t)n, sizeof(int));
    struct pollfd *p = calloc((size_t)n, sizeof(*p));
    bool *closed = calloc((size_t)n, sizeof(bool));
    if (!fds || !p || !closed)
        tap_skip_all("out of memory");
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons(jd->tcp_port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int made = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fds[i] >= 0 && connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
            errno != EINPROGRESS) {
            close(fds[i]);
            fds[i] = -1;
        }
        made += fds[i] >= 0;
    }
    is_int(made, n, "%d idle TCP connections opened (max_connections %d)", n, max_conn);

    /* While they are held, both doors answer. */
    int64_t ms = 0;
    is_int(quick_request(jd->socket, "/jobsd/v1/health", &ms), 200,
           "the Unix socket answers during the flood");
    ok(ms < 2000, "... at once (%" PRId64 " ms)", ms);

    /* jobsd closes them: the ones it accepted after request_timeout, the
     * others as slots free (or they are refused); none hangs. */
    int64_t t0 = now_ms();
    int64_t bound = ((int64_t)(n / max_conn) + 3) * (timeout_s + 1) * 1000 + 15000;
    int n_closed = 0;
    bool tcp_ok_during = false;
    while (n_closed < made && now_ms() - t0 < bound) {
        for (int i = 0; i < n; i++)
            p[i] = (struct pollfd){ .fd = closed[i] ? -1 : fds[i], .events = POLLIN };
        if (poll(p, (nfds_t)n, 500) > 0)
            for (int i = 0; i < n; i++) {
                if (fds[i] < 0 || closed[i] || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                char b[64];
                ssize_t k = read(fds[i], b, sizeof(b));
                if (k == 0 || (k < 0 && errno != EAGAIN)) {
                    closed[i] = true;
                    n_closed++;
                }
            }
        if (!tcp_ok_during && n_closed > made / 2) {
            struct fwt_resp r;
            tcp_ok_during =
                fwt_call(jd->tcp_client, "GET", "/jobsd/v1/health", NULL, NULL, &r) == 200;
            fwt_resp_done(&r);
        }
    }
    int idle_closed = n_closed;
    int64_t idle_ms = now_ms() - t0;
    /* Connections the kernel took but jobsd never accepted (the listen
     * backlog overflowed; the client cannot tell while it says nothing): a
     * request on each now is served or refused, none hangs. */
    int poked = 0, answered = 0;
    static const char req[] =
        "GET /jobsd/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0 && !closed[i]) {
            poked++;
            if (write(fds[i], req, sizeof(req) - 1) < 0) {
                closed[i] = true;
                n_closed++;
            }
        }
    int64_t t1 = now_ms();
    int64_t bound2 = ((int64_t)(poked / max_conn) + 3) * (timeout_s + 1) * 1000 + 30000;
    while (n_closed < made && now_ms() - t1 < bound2) {
        for (int i = 0; i < n; i++)
            p[i] = (struct pollfd){ .fd = closed[i] ? -1 : fds[i], .events = POLLIN };
        if (poll(p, (nfds_t)n, 500) <= 0)
            continue;
        for (int i = 0; i < n; i++) {
            if (fds[i] < 0 || closed[i] || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char b[64] = "";
            ssize_t k = read(fds[i], b, sizeof(b) - 1);
            if (k > 0 && startswith(b, "HTTP/1.1 "))
                answered++;
            closed[i] = true;
            n_closed++;
        }
    }
    tap_diag("idle: %d closed by jobsd in %" PRId64 " ms; %d left, then sent a request: %d "
             "answered, %d refused, in %" PRId64 " ms",
             idle_closed, idle_ms, poked, answered, poked - answered, now_ms() - t1);
    is_int(n_closed, made,
           "every idle connection was closed by jobsd (%d) or, sent a request, answered (%d) or "
           "refused (%d): none left hanging",
           idle_closed, answered, poked - answered);
    ok(tcp_ok_during, "the TCP door answered while the flood drained");
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    struct fwt_resp r;
    is_int(fwt_call(jd->tcp_client, "GET", "/jobsd/v1/health", NULL, NULL, &r), 200,
           "the TCP door answers after the flood");
    fwt_resp_done(&r);
    is_int(quick_request(jd->socket, "/jobsd/v1/status", &ms), 200, "jobsd is alive");
    free(fds);
    free(p);
    free(closed);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    int n_unix = env_int("LOAD_UNIX", 1000), n_idle = env_int("LOAD_IDLE", 2000);
    int max_conn = env_int("LOAD_MAX_CONN", 500);
    int timeout_s = 2;
    struct rlimit rl;
    int need = MAX(n_unix, n_idle) + 200;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        tap_skip_all("getrlimit failed");
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)need + 1100)
        tap_skip_all("the hard limit on open files is below what the test needs; raise ulimit -Hn");
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? (rlim_t)need + 1100 : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        tap_skip_all("cannot raise the limit on open files");

    const char *const fw_args[] = { "--clock", "manual", NULL };
    struct fwt *ws = fwt_start(fw_args);
    int64_t job = fwt_create_job(ws, "{\"name\":\"load\",\"tasks\":[{\"task_key\":\"a\","
                                     "\"notebook_task\":{\"notebook_path\":\"/n\"}}]}");
    char timeout_arg[64], max_arg[64];
    snprintf(timeout_arg, sizeof(timeout_arg), "server.request_timeout=%ds", timeout_s);
    snprintf(max_arg, sizeof(max_arg), "server.max_connections=%d", MAX(n_unix + 24, 1024));
    const char *const args1[] = { "--set", timeout_arg, "--set", max_arg, NULL };
    struct jd *jd = jd_start(fwt_port(ws), env, args1);
    test_unix_concurrent(jd, job, n_unix);
    test_slow_clients(jd, timeout_s);

    snprintf(max_arg, sizeof(max_arg), "server.max_connections=%d", max_conn);
    const char *const args2[] = { "--set", timeout_arg, "--set", max_arg, NULL };
    jd = jd_restart(jd, fwt_port(ws), env, args2, false);
    test_idle_tcp(jd, n_idle, max_conn, timeout_s);

    is_int(jd_stop(jd), 0, "jobsd stops cleanly");
    fwt_stop(ws);
    return tap_done();
}
