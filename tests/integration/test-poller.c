/* The poller against fakews on a manual clock: runs started outside jobsd
 * are discovered, finishes seen, every task's output archived; local waits
 * return on the finish and on their deadline and cost the workspace
 * nothing; faults, a SIGKILL in the middle of runs and the workspace's
 * 60-day expiry lose nothing; the backfill archives what the workspace
 * still has, and a second one fetches nothing twice. */
#include <inttypes.h>
#include <poll.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/fakews/fwtest.h"
#include "tests/integration/jdtest.h"
#include "tests/tap.h"

#define DAY_MS (24LL * 3600 * 1000)
#define JOB_SETTINGS                                                                               \
    "{\"name\":\"poll\",\"max_concurrent_runs\":100,\"tasks\":["                                   \
    "{\"task_key\":\"a\",\"notebook_task\":{\"notebook_path\":\"/ok\"}},"                          \
    "{\"task_key\":\"b\",\"depends_on\":[{\"task_key\":\"a\"}],"                                   \
    "\"notebook_task\":{\"notebook_path\":\"/will/fail\"}}]}"

static struct fwt *ws;
static struct jd *jd;

static const char *const env[] = { "DATABRICKS_TOKEN=" FWT_TOKEN, NULL };
static const char *const poll_args[] = {
    "--set", "poller.enabled=yes",        "--set", "poller.interval_min=100ms",
    "--set", "poller.interval_max=200ms", "--set", "poller.idle_interval=100ms",
    "--set", "poller.backfill=no",        "--set", "upstream.rate=200",
    "--set", "upstream.max_attempts=1",   NULL
};

#define like(text, re, ...) like_at(text, re, __FILE__, __LINE__, __VA_ARGS__)
static bool like_at(const char *text, const char *re, const char *file, int line, const char *what)
{
    regex_t rx;
    bool m = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) == 0 && text &&
             regexec(&rx, text, 0, NULL, 0) == 0;
    regfree(&rx);
    if (!tap_ok_at(m, file, line, "%s", what)) {
        char head[300];
        strscpy(head, sizeof(head), text ? text : "(null)");
        for (char *c = head; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
        tap_diag("got: %s", head);
        tap_diag("expected to match: %s", re);
    }
    return m;
}

/* Requests the workspace served on its API, all endpoints together. */
static int64_t ws_requests(struct fwt *f)
{
    struct fwt_resp r;
    int64_t n = 0;
    fwt_get(f, &r, "/__fake/counters");
    struct json_object *eps = fwt_path(r.json, "endpoints");
    if (eps) {
        struct json_object_iterator it = json_object_iter_begin(eps);
        struct json_object_iterator end = json_object_iter_end(eps);
        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
            n += json_object_get_int64(json_object_iter_peek_value(&it));
    }
    fwt_resp_done(&r);
    return n;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* An open /jobsd/v1/events stream and what it said so far. */
struct sse {
    int fd;
    struct buf text;
};

static void sse_open(struct sse *s, const char *query)
{
    char path[256];
    snprintf(path, sizeof(path), "/jobsd/v1/events%s", query);
    s->fd = jd_send_raw(jd->socket, "GET", path, NULL);
    s->text = BUF_INIT(4 * MIB);
}

/* Reads until needle shows up (true) or timeout_ms pass (false). */
static bool sse_wait(struct sse *s, const char *needle, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    char chunk[4096];
    while (!(s->text.data && strstr(s->text.data, needle))) {
        uint64_t now = now_ms();
        struct pollfd p = { .fd = s->fd, .events = POLLIN };
        if (now >= end || poll(&p, 1, (int)(end - now)) <= 0)
            return false;
        ssize_t n = read(s->fd, chunk, sizeof(chunk));
        if (n <= 0 || buf_append(&s->text, chunk, (size_t)n) < 0)
            return false;
    }
    return true;
}

static void sse_close(struct sse *s)
{
    close(s->fd);
    buf_done(&s->text);
}

static long status_int(const char *path)
{
    struct fwt_resp r;
    fwt_call(jd->unix_client, "GET", "/jobsd/v1/status", NULL, "", &r);
    long v = (long)fwt_int(r.json, path);
    fwt_resp_done(&r);
    return v;
}

/* Waits (bounded) until a status number reaches at least want. */
static bool status_reaches(const char *path, long want, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    while (status_int(path) < want) {
        if (now_ms() >= end)
            return false;
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return true;
}

/* GET /jobsd/v1/runs/R/wait: status; the answer (headers and body) in ret. */
static int wait_run(int64_t run, const char *query, char **ret)
{
    char path[128];
    snprintf(path, sizeof(path), "/jobsd/v1/runs/%" PRId64 "/wait%s", run, query);
    int fd = jd_send_raw(jd->socket, "GET", path, NULL);
    return jd_read_raw(fd, ret);
}

static size_t outputs_of(int64_t run)
{
    struct fwt_resp r;
    fwt_get(jd->unix_client, &r, "/jobsd/v1/runs/%" PRId64 "/output", run);
    size_t n = r.status == 200 ? fwt_len(r.json, "outputs") : 0;
    fwt_resp_done(&r);
    return n;
}

static void test_discovery_and_wait(int64_t job)
{
    struct sse s;
    char q[64];
    snprintf(q, sizeof(q), "?job_id=%" PRId64, job);
    sse_open(&s, q);
    ok(sse_wait(&s, "jobsd events from", 5000), "the event stream opens");

    /* Started in the workspace, not through jobsd. */
    int64_t run = fwt_run_now(ws, job);
    char needle[64];
    snprintf(needle, sizeof(needle), "\"run_id\":%" PRId64, run);
    ok(sse_wait(&s, needle, 5000), "a run started outside jobsd is discovered");
    ok(status_reaches("poller.tracked_runs", 1, 5000), "... and tracked");

    int fd = jd_send_raw(jd->socket, "GET", "/jobsd/v1/runs/0/wait", NULL);
    _cleanup_free_ char *bad = NULL;
    is_int(jd_read_raw(fd, &bad), 404, "a wait on run 0 is no route");
    _cleanup_free_ char *bad2 = NULL;
    is_int(wait_run(run, "?timeout=x", &bad2), 400, "a bad timeout is refused");
    _cleanup_free_ char *gone = NULL;
    is_int(wait_run(123456789, "?timeout=5", &gone), 404, "a wait on an unknown run is 404");
    like(gone, "RESOURCE_DOES_NOT_EXIST", "... RESOURCE_DOES_NOT_EXIST");

    /* A deadline: the run as it is now. */
    uint64_t t0 = now_ms();
    _cleanup_free_ char *early = NULL;
    is_int(wait_run(run, "?timeout=1", &early), 200, "a wait past its deadline answers 200");
    ok(now_ms() - t0 >= 900, "... after the deadline (%" PRIu64 " ms)", now_ms() - t0);
    like(early, "X-Jobsd-Wait: timeout", "... marked timeout");
    like(early, "\"life_cycle_state\":\"(PENDING|RUNNING)\"", "... with the run as it is");
    _cleanup_free_ char *now = NULL;
    is_int(wait_run(run, "?timeout=0", &now), 200, "timeout=0 answers at once");
    like(now, "X-Jobsd-Wait: timeout", "... marked timeout");

    /* Many waits held while the run goes on: none costs a request. */
    int fds[50];
    int64_t before_ws = ws_requests(ws);
    long before_poller = status_int("poller.requests");
    char path[128];
    snprintf(path, sizeof(path), "/jobsd/v1/runs/%" PRId64 "/wait?timeout=30", run);
    for (size_t i = 0; i < ELEMENTSOF(fds); i++)
        fds[i] = jd_send_raw(jd->socket, "GET", path, NULL);
    ok(status_reaches("poller.waiters", 50, 5000), "50 waits are held");
    fwt_advance(ws, 60 * 1000);
    unsigned terminal = 0;
    for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
        _cleanup_free_ char *a = NULL;
        if (jd_read_raw(fds[i], &a) == 200 && a && strstr(a, "X-Jobsd-Wait: terminal") &&
            strstr(a, "\"result_state\":\"FAILED\""))
            terminal++;
    }
    is_int(terminal, 50, "every wait returns when the run ends, with its final state");
    long poller_delta = status_int("poller.requests") - before_poller;
    int64_t ws_delta = ws_requests(ws) - before_ws;
    is_int(ws_delta, poller_delta, "the workspace saw only the poller's requests");

    ok(sse_wait(&s, "\"terminal\":true", 5000), "the finish is an event");
    ok(strstr(s.text.data, "\"result_state\":\"FAILED\"") != NULL, "... with its result");
    ok(strstr(s.text.data, "\"tasks_total\":2") != NULL, "... and its tasks");
    sse_close(&s);

    ok(status_reaches("poller.archived_runs", 1, 5000), "the run is archived");
    is_int(outputs_of(run), 2, "... with the output of each of its 2 tasks");
    _cleanup_free_ char *after = NULL;
    is_int(wait_run(run, "?timeout=30", &after), 200, "a wait on an archived run");
    like(after, "X-Jobsd-Wait: terminal", "... answers at once from the archive");
}

static void test_local_run(int64_t job)
{
    struct fwt_resp r;
    long archived = status_int("poller.archived_runs");
    int64_t gets = fwt_counter(ws, "get_run");
    fwt_post(jd->unix_client, "/api/2.2/jobs/run-now", &r, "{\"job_id\":%" PRId64 "}", job);
    int64_t run = fwt_int(r.json, "run_id");
    fwt_resp_done(&r);
    ok(run > 0, "run-now through jobsd");
    ok(status_reaches("poller.tracked_runs", 1, 5000), "... is tracked at once");
    fwt_advance(ws, 60 * 1000);
    _cleanup_free_ char *a = NULL;
    is_int(wait_run(run, "?timeout=30", &a), 200, "its wait returns");
    like(a, "X-Jobsd-Wait: terminal", "... on the finish");
    ok(status_reaches("poller.archived_runs", archived + 1, 5000), "... and it is archived");
    is_int(fwt_counter(ws, "get_run") - gets, 1, "one runs/get for the whole life of the run");

    /* Proxied runs/get of the finished run: the archive's final view is in
     * the cache, terminal, so the workspace is not asked again. */
    char path[128];
    snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get?run_id=%" PRId64, run);
    is_int(fwt_call(jd->unix_client, "GET", path, NULL, "", &r), 200, "proxied runs/get");
    fwt_resp_done(&r);
    is_int(fwt_call(jd->unix_client, "GET", path, NULL, "", &r), 200, "... again");
    is_str(r.source, "cache", "... from the cache");
    fwt_resp_done(&r);
}

static void test_faults(int64_t job)
{
    long failures = status_int("poller.failures");
    long archived = status_int("poller.archived_runs");
    int64_t run = fwt_run_now(ws, job);
    struct fwt_resp r;
    /* The poller's lists and gets fail for a while: 500s, resets, bodies
     * cut short. */
    fwt_call(ws, "POST", "/__fake/faults",
             "{\"kind\":\"status\",\"status\":500,\"path_prefix\":\"/api/2.2/jobs/runs/list\","
             "\"count\":3}",
             "", &r);
    fwt_resp_done(&r);
    fwt_call(ws, "POST", "/__fake/faults",
             "{\"kind\":\"reset\",\"path_prefix\":\"/api/2.2/jobs/runs/get\",\"count\":2}", "", &r);
    fwt_resp_done(&r);
    fwt_call(ws, "POST", "/__fake/faults",
             "{\"kind\":\"truncate\",\"path_prefix\":\"/api/2.2/jobs/runs/get-output\","
             "\"count\":1}",
             "", &r);
    fwt_resp_done(&r);
    fwt_advance(ws, 60 * 1000);
    _cleanup_free_ char *a = NULL;
    is_int(wait_run(run, "?timeout=60", &a), 200, "through faults, the wait returns");
    like(a, "X-Jobsd-Wait: terminal", "... on the finish");
    /* The wait may have been answered by a probe before a sweep met the
     * list's faults: they come soon after. */
    ok(status_reaches("poller.failures", failures + 1, 10000), "the poller met the faults");
    ok(status_reaches("poller.archived_runs", archived + 1, 30000), "the run is archived");
    is_int(outputs_of(run), 2, "... with both outputs");
}

static void test_restart(int64_t job)
{
    struct sse s;
    sse_open(&s, "");
    int64_t run = fwt_run_now(ws, job);
    char needle[64];
    snprintf(needle, sizeof(needle), "\"run_id\":%" PRId64, run);
    ok(sse_wait(&s, needle, 5000), "a run is tracked");
    sse_close(&s);

    jd = jd_restart(jd, fwt_port(ws), env, poll_args, true);
    ok(status_int("poller.tracked_runs") >= 1, "after a SIGKILL, the tracked run is still tracked");
    fwt_advance(ws, 60 * 1000);
    _cleanup_free_ char *a = NULL;
    is_int(wait_run(run, "?timeout=30", &a), 200, "its wait returns after the restart");
    like(a, "X-Jobsd-Wait: terminal", "... on the finish");
    ok(status_reaches("poller.archived_runs", 1, 5000), "it is archived");
    is_int(outputs_of(run), 2, "... with both outputs");
}

static void test_expiry(int64_t run)
{
    struct fwt_resp r;
    fwt_advance(ws, 61 * DAY_MS);
    char path[128];
    snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get?run_id=%" PRId64 "&include_history=false",
             run);
    is_int(fwt_call(jd->unix_client, "GET", path, NULL, "", &r), 200,
           "an expired run: proxied runs/get still answers");
    is_str(r.source, "archive", "... from the archive");
    is_str(fwt_str(r.json, "state.result_state"), "FAILED", "... with its final state");
    fwt_resp_done(&r);
    is_int(outputs_of(run), 2, "its outputs are still in the history");
}

static int64_t count_history(void)
{
    struct fwt_resp r;
    fwt_call(jd->unix_client, "GET", "/jobsd/v1/runs?limit=1000", NULL, "", &r);
    int64_t n = (int64_t)fwt_len(r.json, "runs");
    fwt_resp_done(&r);
    return n;
}

static void test_backfill(void)
{
    const char *const fw_args[] = { "--clock", "manual", NULL };
    struct fwt *ws2 = fwt_start(fw_args);
    struct fwt_resp r;
    fwt_call(ws2, "POST", "/__fake/seed", "{\"jobs\":3,\"runs\":40,\"active\":2,\"days\":20}", "",
             &r);
    fwt_resp_done(&r);
    const char *const args[] = { "--set", "poller.enabled=yes",
                                 "--set", "poller.backfill=yes",
                                 "--set", "poller.interval_min=100ms",
                                 "--set", "upstream.rate=500",
                                 NULL };
    struct jd *saved = jd;
    jd = jd_start(fwt_port(ws2), env, args);
    ok(status_reaches("poller.archived_runs", 40, 30000), "the backfill archives 40 finished runs");
    fwt_call(jd->unix_client, "GET", "/jobsd/v1/status", NULL, "", &r);
    is_str(fwt_str(r.json, "poller.backfill.state"), "done", "... and is done");
    is_int(fwt_int(r.json, "poller.tracked_runs"), 2, "... tracking the 2 active ones");
    is_int(fwt_int(r.json, "poller.archived_outputs"), 40, "... with an output for each task run");
    fwt_resp_done(&r);
    is_int(count_history(), 42, "the history has all 42 runs");
    _cleanup_free_ char *notify = NULL;
    {
        char path[400];
        snprintf(path, sizeof(path), "%s", jd->notify);
        FILE *f = fopen(path, "re");
        char line[512];
        struct buf b = BUF_INIT(1 * MIB);
        while (f && fgets(line, sizeof(line), f))
            (void)buf_append(&b, line, strlen(line));
        if (f)
            fclose(f);
        notify = buf_steal(&b, NULL);
    }
    like(notify ? notify : "", "STATUS=Serving; backfill", "progress went to STATUS=");

    int64_t gets = fwt_counter(ws2, "get_run"), outputs = fwt_counter(ws2, "get_run_output");
    is_int(fwt_call(jd->unix_client, "POST", "/jobsd/v1/backfill", "{}", "", &r), 202,
           "a backfill on demand starts");
    fwt_resp_done(&r);
    is_int(fwt_call(jd->unix_client, "POST", "/jobsd/v1/backfill", "{}", "", &r), 409,
           "... once at a time");
    fwt_resp_done(&r);
    uint64_t end = now_ms() + 30000;
    bool done = false;
    while (!done && now_ms() < end) {
        fwt_call(jd->unix_client, "GET", "/jobsd/v1/status", NULL, "", &r);
        done = streq_ptr(fwt_str(r.json, "poller.backfill.state"), "done");
        fwt_resp_done(&r);
    }
    ok(done, "... and ends");
    is_int(fwt_counter(ws2, "get_run") - gets, 0, "... without fetching an archived run again");
    is_int(fwt_counter(ws2, "get_run_output") - outputs, 0, "... nor its outputs");
    jd_stop(jd);
    fwt_stop(ws2);
    jd = saved;
}

int main(void)
{
    const char *const fw_args[] = { "--clock", "manual", NULL };
    ws = fwt_start(fw_args);
    jd = jd_start(fwt_port(ws), env, poll_args);

    int64_t job = fwt_create_job(ws, JOB_SETTINGS);
    ok(job > 0, "a job with two tasks, the second failing");

    test_discovery_and_wait(job);
    test_local_run(job);
    test_faults(job);
    test_restart(job);

    struct fwt_resp r;
    fwt_call(jd->unix_client, "GET", "/jobsd/v1/runs?limit=1", NULL, "", &r);
    int64_t last = fwt_int(r.json, "runs.0.run_id");
    fwt_resp_done(&r);
    test_expiry(last);
    test_backfill();

    is_int(jd_stop(jd), 0, "jobsd stops cleanly");
    fwt_stop(ws);
    return tap_done();
}
