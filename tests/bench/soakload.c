/* tests/bench/soakload: mixed client load on jobsd for a soak: reads
 * (runs/get, jobs/get, jobs/list, runs/list, status, metrics), waits
 * (/jobsd/v1/runs/{id}/wait), event streams, and writes (run-now with and
 * without an idempotency token, runs/cancel), from CLIENTS connections in
 * a closed loop, each request on a new connection. It learns job and run
 * ids from the answers. Every answer must come within its deadline, with a
 * status of the documented set (200, 400, 404, 429, 500, 502, 503, 504),
 * a JSON body that parses for a 200 of the API, and an error_code in
 * every error body (but a gateway's HTML page, which jobsd passes through
 * as the workspace sent it). Prints one line per kind of request and a total;
 * exits 1 when any answer was missing, late or not as documented.
 *   soakload SOCKET SECONDS [CLIENTS] [THINK-MS] */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
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

#define CLIENTS_MAX 512
#define IDS_MAX 512
#define ANSWER_MAX (4 * 1024 * 1024)
#define DEADLINE_MS 60000 /* beyond a wait's own timeout */
#define EVENTS_MAX 4      /* event streams open at once */

enum op {
    OP_RUNS_GET,
    OP_JOBS_GET,
    OP_JOBS_LIST,
    OP_RUNS_LIST,
    OP_STATUS,
    OP_METRICS,
    OP_WAIT,
    OP_EVENTS,
    OP_RUN_NOW,
    OP_RUN_NOW_TOKEN,
    OP_CANCEL,
    _OP_MAX,
};

static const struct {
    const char *name;
    int weight;
} ops[_OP_MAX] = {
    [OP_RUNS_GET] = { "runs/get", 30 },  [OP_JOBS_GET] = { "jobs/get", 10 },
    [OP_JOBS_LIST] = { "jobs/list", 8 }, [OP_RUNS_LIST] = { "runs/list", 8 },
    [OP_STATUS] = { "status", 4 },       [OP_METRICS] = { "metrics", 2 },
    [OP_WAIT] = { "wait", 12 },          [OP_EVENTS] = { "events", 2 },
    [OP_RUN_NOW] = { "run-now", 4 },     [OP_RUN_NOW_TOKEN] = { "run-now+token", 4 },
    [OP_CANCEL] = { "runs/cancel", 3 },
};

struct stats {
    uint64_t sent, by_status[600], bad_status, no_answer, late, bad_body, connect_failed, html;
    int64_t max_ms;
};

struct client {
    int fd;
    enum op op;
    struct buf in;
    int64_t start_ms, deadline_ms, close_at_ms, next_ms;
};

static struct stats stats[_OP_MAX];
static int64_t job_ids[IDS_MAX], run_ids[IDS_MAX];
static size_t n_jobs, n_runs;
static unsigned events_open;
static uint64_t token_seq;
static const char *sock_path;

/* Every "key":<digits> in text goes into ids (a bounded pool, random
 * replacement when full). */
static void learn(const char *text, const char *key, int64_t *ids, size_t *n)
{
    size_t klen = strlen(key);
    for (const char *p = text; (p = strstr(p, key)); p += klen) {
        int64_t v = 0;
        const char *d = p + klen;
        int digits = 0;
        while (*d >= '0' && *d <= '9' && digits < 18) {
            v = v * 10 + (*d++ - '0');
            digits++;
        }
        if (v <= 0)
            continue;
        if (*n < IDS_MAX)
            ids[(*n)++] = v;
        else
            ids[(size_t)random() % IDS_MAX] = v;
    }
}

static int64_t pick(const int64_t *ids, size_t n)
{
    return n ? ids[(size_t)random() % n] : 0;
}

static enum op choose(void)
{
    int total = 0;
    for (int i = 0; i < _OP_MAX; i++)
        total += ops[i].weight;
    for (;;) {
        int r = (int)(random() % total);
        enum op o = 0;
        while (r >= ops[o].weight)
            r -= ops[o++].weight;
        bool need_job = o == OP_JOBS_GET || o == OP_RUN_NOW || o == OP_RUN_NOW_TOKEN;
        bool need_run = o == OP_RUNS_GET || o == OP_WAIT || o == OP_CANCEL;
        if ((need_job && !n_jobs) || (need_run && !n_runs))
            continue;
        if (o == OP_EVENTS && events_open >= EVENTS_MAX)
            continue;
        return o;
    }
}

static int start(struct client *c)
{
    char req[1024], body[256] = "", path[256];
    const char *method = "GET";
    int timeout_s = 0;
    c->op = choose();
    switch (c->op) {
    case OP_RUNS_GET:
        snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get?run_id=%" PRId64,
                 pick(run_ids, n_runs));
        break;
    case OP_JOBS_GET:
        snprintf(path, sizeof(path), "/api/2.2/jobs/get?job_id=%" PRId64, pick(job_ids, n_jobs));
        break;
    case OP_JOBS_LIST:
        snprintf(path, sizeof(path), "/api/2.2/jobs/list?limit=25");
        break;
    case OP_RUNS_LIST:
        snprintf(path, sizeof(path), "/api/2.2/jobs/runs/list?limit=25%s",
                 random() % 2 ? "&active_only=true" : "");
        break;
    case OP_STATUS:
        snprintf(path, sizeof(path), "/jobsd/v1/status");
        break;
    case OP_METRICS:
        snprintf(path, sizeof(path), "/metrics");
        break;
    case OP_WAIT:
        timeout_s = 1 + (int)(random() % 5);
        snprintf(path, sizeof(path), "/jobsd/v1/runs/%" PRId64 "/wait?timeout=%d",
                 pick(run_ids, n_runs), timeout_s);
        break;
    case OP_EVENTS:
        snprintf(path, sizeof(path), "/jobsd/v1/events");
        break;
    case OP_RUN_NOW:
    case OP_RUN_NOW_TOKEN:
        method = "POST";
        snprintf(path, sizeof(path), "/api/2.2/jobs/run-now");
        if (c->op == OP_RUN_NOW_TOKEN)
            snprintf(body, sizeof(body),
                     "{\"job_id\":%" PRId64 ",\"idempotency_token\":\"soak-%d-%" PRIu64 "\"}",
                     pick(job_ids, n_jobs), (int)getpid(), ++token_seq);
        else
            snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 "}", pick(job_ids, n_jobs));
        break;
    case OP_CANCEL:
        method = "POST";
        snprintf(path, sizeof(path), "/api/2.2/jobs/runs/cancel");
        snprintf(body, sizeof(body), "{\"run_id\":%" PRId64 "}", pick(run_ids, n_runs));
        break;
    default:
        return -EINVAL;
    }
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, strlen(body), body);
    stats[c->op].sent++;
    c->fd = connect_unix(sock_path);
    if (c->fd < 0) {
        stats[c->op].connect_failed++;
        return c->fd;
    }
    if (write(c->fd, req, (size_t)n) != n) {
        stats[c->op].no_answer++;
        close(c->fd);
        c->fd = -1;
        return -EIO;
    }
    c->in = BUF_INIT(ANSWER_MAX);
    c->start_ms = now_ms();
    c->deadline_ms = c->start_ms + DEADLINE_MS + timeout_s * 1000;
    c->close_at_ms = 0;
    if (c->op == OP_EVENTS) {
        events_open++;
        c->close_at_ms = c->start_ms + 2000 + random() % 6000;
        c->deadline_ms = c->close_at_ms + DEADLINE_MS;
    }
    return 0;
}

static bool known_status(int s)
{
    return s == 200 || s == 400 || s == 404 || s == 429 || s == 500 || s == 502 || s == 503 ||
           s == 504;
}

/* The answer is complete (EOF, or an event stream closed by us). */
static void finish(struct client *c, bool timed_out)
{
    struct stats *st = &stats[c->op];
    const char *text = c->in.data ? c->in.data : "";
    int status = 0;
    int64_t took = now_ms() - c->start_ms;
    if (startswith(text, "HTTP/1.1 ") && strlen(text) >= 12) {
        char digits[4] = { text[9], text[10], text[11], 0 };
        if (parse_int(digits, &status) < 0)
            status = 0;
    }
    if (c->op == OP_EVENTS)
        events_open--;
    if (status == 0) {
        if (timed_out)
            st->late++;
        else
            st->no_answer++;
        if (st->late + st->no_answer <= 5)
            fprintf(stderr, "soakload: %s: %s after %" PRId64 " ms\n", ops[c->op].name,
                    timed_out ? "no answer by the deadline" : "closed without an answer", took);
    } else {
        st->by_status[status < 600 ? status : 0]++;
        if (took > st->max_ms)
            st->max_ms = took;
        const char *body = strstr(text, "\r\n\r\n");
        body = body ? body + 4 : "";
        bool chunked = strcasestr(text, "Transfer-Encoding: chunked") != NULL;
        if (!known_status(status)) {
            st->bad_status++;
            if (st->bad_status <= 5)
                fprintf(stderr, "soakload: %s: unexpected status %d: %.200s\n", ops[c->op].name,
                        status, body);
        } else if (timed_out && c->op != OP_EVENTS) {
            st->late++;
        } else if (status >= 500 && strcasestr(text, "Content-Type: text/html")) {
            /* A gateway's HTML page, passed through as the workspace sent
             * it (documented; tests/integration/test-proxy-faults). */
            st->html++;
        } else if (c->op != OP_EVENTS && c->op != OP_METRICS && !chunked) {
            struct json_tokener *tok = json_tokener_new();
            struct json_object *o =
                tok ? json_tokener_parse_ex(tok, body, (int)strlen(body)) : NULL;
            bool good = o && json_tokener_get_error(tok) == json_tokener_success;
            if (good && status != 200)
                good = json_object_object_get_ex(o, "error_code", NULL);
            if (!good) {
                st->bad_body++;
                if (st->bad_body <= 5)
                    fprintf(stderr, "soakload: %s: %d with a bad body: %.200s\n", ops[c->op].name,
                            status, body);
            }
            if (good && status == 200) {
                learn(body, "\"job_id\":", job_ids, &n_jobs);
                learn(body, "\"run_id\":", run_ids, &n_runs);
            }
            json_object_put(o);
            json_tokener_free(tok);
        }
    }
    close(c->fd);
    c->fd = -1;
    buf_done(&c->in);
}

int main(int argc, char **argv)
{
    int seconds = 0, n = 16, think = 20;
    if (argc < 3 || parse_int(argv[2], &seconds) < 0 || seconds < 1 ||
        (argc > 3 && (parse_int(argv[3], &n) < 0 || n < 1 || n > CLIENTS_MAX)) ||
        (argc > 4 && (parse_int(argv[4], &think) < 0 || think < 0))) {
        fprintf(stderr, "usage: soakload SOCKET SECONDS [CLIENTS] [THINK-MS]\n");
        return 2;
    }
    sock_path = argv[1];
    srandom((unsigned)getpid());
    struct client *cl = calloc((size_t)n, sizeof(*cl));
    struct pollfd *p = calloc((size_t)n, sizeof(*p));
    if (!cl || !p)
        return 1;
    int64_t t0 = now_ms(), end = t0 + (int64_t)seconds * 1000;
    for (int i = 0; i < n; i++)
        cl[i] = (struct client){ .fd = -1, .next_ms = t0 + i * 10 };
    for (;;) {
        int64_t now = now_ms();
        int active = 0;
        int64_t wake = now + 1000;
        for (int i = 0; i < n; i++) {
            struct client *c = &cl[i];
            if (c->fd < 0 && now < end && now >= c->next_ms) {
                if (start(c) < 0)
                    c->next_ms = now + 100;
            }
            if (c->fd >= 0) {
                if (c->close_at_ms && now >= c->close_at_ms && c->in.len > 0) {
                    finish(c, false);
                    c->next_ms = now + think;
                } else if (now >= c->deadline_ms) {
                    finish(c, true);
                    c->next_ms = now + think;
                }
            }
            p[i] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
            if (c->fd >= 0) {
                active++;
                wake = MIN(wake, c->close_at_ms ? c->close_at_ms : c->deadline_ms);
            } else if (now < end)
                wake = MIN(wake, c->next_ms);
        }
        if (active == 0 && now >= end)
            break;
        int ms = (int)MAX(0, MIN(wake - now, 1000));
        if (poll(p, (nfds_t)n, ms) < 0 && errno != EINTR)
            return 1;
        for (int i = 0; i < n; i++) {
            struct client *c = &cl[i];
            if (c->fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char chunk[16384];
            ssize_t k = read(c->fd, chunk, sizeof(chunk));
            if (k > 0) {
                if (c->in.len + (size_t)k < ANSWER_MAX)
                    (void)buf_append(&c->in, chunk, (size_t)k);
                continue;
            }
            finish(c, false);
            c->next_ms = now_ms() + think;
        }
    }

    uint64_t total = 0, failed = 0, html = 0;
    printf("%-14s %8s %7s %6s %6s %6s %6s %6s %6s %6s %5s %6s\n", "request", "sent", "200", "4xx",
           "429", "5xx", "bad", "noans", "late", "badbody", "conn", "max_ms");
    for (int o = 0; o < _OP_MAX; o++) {
        const struct stats *s = &stats[o];
        uint64_t c4 = 0, c5 = 0;
        for (int k = 400; k < 500; k++)
            c4 += k == 429 ? 0 : s->by_status[k];
        for (int k = 500; k < 600; k++)
            c5 += s->by_status[k];
        printf("%-14s %8" PRIu64 " %7" PRIu64 " %6" PRIu64 " %6" PRIu64 " %6" PRIu64 " %6" PRIu64
               " %6" PRIu64 " %6" PRIu64 " %6" PRIu64 " %5" PRIu64 " %6" PRId64 "\n",
               ops[o].name, s->sent, s->by_status[200], c4, s->by_status[429], c5, s->bad_status,
               s->no_answer, s->late, s->bad_body, s->connect_failed, s->max_ms);
        total += s->sent;
        html += s->html;
        failed += s->bad_status + s->no_answer + s->late + s->bad_body + s->connect_failed;
    }
    printf("total %" PRIu64 " requests in %d s, %" PRIu64 " not answered as documented; "
           "%" PRIu64 " gateway HTML pages passed through; learned %zu jobs, %zu runs\n",
           total, seconds, failed, html, n_jobs, n_runs);
    free(cl);
    free(p);
    return failed ? 1 : 0;
}
