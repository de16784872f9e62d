/* tests/fakews/test-fakews-control.c: the /__fake/ control endpoints: the
 * clock, the request log and counters, faults (status + Retry-After, delay,
 * reset, hang, truncated body, non-JSON body, process-then-drop), seeding,
 * and idempotency under concurrent identical requests. */
#include <curl/curl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/strutil.h"
#include "tests/fakews/fwtest.h"
#include "tests/tap.h"

static struct fwt *f;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fault(const char *json)
{
    struct fwt_resp r;
    fwt_call(f, "POST", "/__fake/faults", json, "", &r);
    is_int(r.status, 200, "fault set: %s", json);
    fwt_resp_done(&r);
}

static int64_t count_runs(int64_t job)
{
    struct fwt_resp r;
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?limit=25&job_id=%" PRId64, job);
    int64_t n = (int64_t)fwt_len(r.json, "runs");
    fwt_resp_done(&r);
    return n;
}

static int64_t counter(const char *name)
{
    struct fwt_resp r;
    char path[96];
    fwt_get(f, &r, "/__fake/counters");
    snprintf(path, sizeof(path), "endpoints.%s", name);
    int64_t n = fwt_path(r.json, path) ? fwt_int(r.json, path) : 0;
    fwt_resp_done(&r);
    return n;
}

static void test_clock(void)
{
    struct fwt_resp r;
    fwt_get(f, &r, "/__fake/clock");
    int64_t t = fwt_int(r.json, "now_ms");
    is_int(t, 1700000000000, "--epoch-ms sets the start");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/__fake/clock");
    is_int(fwt_int(r.json, "now_ms"), t, "the manual clock does not move by itself");
    fwt_resp_done(&r);
    fwt_advance(f, 1500);
    fwt_get(f, &r, "/__fake/clock");
    is_int(fwt_int(r.json, "now_ms"), t + 1500, "advance_ms");
    fwt_resp_done(&r);
    fwt_post(f, "/__fake/clock", &r, "{\"now_ms\": %" PRId64 "}", t + 5000);
    is_int(fwt_int(r.json, "now_ms"), t + 5000, "now_ms sets it");
    fwt_resp_done(&r);
    fwt_post(f, "/__fake/clock", &r, "{\"now_ms\": %" PRId64 "}", t);
    is_int(r.status, 400, "never backwards");
    fwt_resp_done(&r);
    fwt_call(f, "GET", "/__fake/nothing", NULL, "", &r);
    is_int(r.status, 404, "unknown control path: 404");
    fwt_resp_done(&r);
    fwt_call(f, "PUT", "/__fake/clock", "{}", "", &r);
    is_int(r.status, 405, "wrong method on a control path: 405");
    fwt_resp_done(&r);
}

static void test_log(int64_t job)
{
    struct fwt_resp r;
    fwt_call(f, "POST", "/__fake/reset", "{}", "", &r);
    fwt_resp_done(&r);
    fwt_set_header(f, "X-Databricks-Workspace-Id: 424242");
    is_int(counter("run_now"), 0, "counters reset");
    fwt_post(f, "/api/2.2/jobs/run-now", &r,
             "{\"job_id\":%" PRId64 ",\"idempotency_token\":\"log-tok\"}", job);
    fwt_resp_done(&r);
    fwt_set_header(f, NULL);
    fwt_get(f, &r, "/api/2.2/jobs/list");
    fwt_resp_done(&r);
    fwt_call(f, "GET", "/api/2.2/nothing", NULL, "bad-token", &r);
    fwt_resp_done(&r);
    is_int(counter("run_now"), 1, "exactly one run-now reached the workspace");
    is_int(counter("list"), 1, "one jobs/list");
    fwt_get(f, &r, "/__fake/counters");
    is_int(fwt_int(r.json, "total"), 3, "total 3 (control calls are not counted)");
    is_int(fwt_int(r.json, "unmatched"), 1, "one unmatched");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/__fake/requests?endpoint=run_now");
    is_int((int64_t)fwt_len(r.json, "requests"), 1, "the log has the run-now");
    is_str(fwt_str(r.json, "requests.0.idempotency_token"), "log-tok",
           "and it carried an idempotency token");
    is_str(fwt_str(r.json, "requests.0.method"), "POST", "method");
    is_str(fwt_str(r.json, "requests.0.path"), "/api/2.2/jobs/run-now", "path");
    is_int(fwt_int(r.json, "requests.0.status"), 200, "status");
    ok(json_object_get_boolean(fwt_path(r.json, "requests.0.processed")), "processed");
    is_str(fwt_str(r.json, "requests.0.user_agent"), "fwtest/1.0", "the User-Agent");
    is_str(fwt_str(r.json, "requests.0.workspace_id"), "424242",
           "the X-Databricks-Workspace-Id header");
    is_str(fwt_str(r.json, "requests.0.auth"), "pat", "auth: pat, never the token itself");
    ok(!strstr(r.body, FWT_TOKEN), "the token is not in the log");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/__fake/requests");
    is_str(fwt_str(r.json, "requests.2.auth"), "invalid", "auth: invalid for a wrong token");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/__fake/requests?since=2");
    is_int((int64_t)fwt_len(r.json, "requests"), 1, "since= skips what was read");
    fwt_resp_done(&r);
}

static void test_status_faults(int64_t job)
{
    struct fwt_resp r;
    int64_t before = count_runs(job);
    fault("{\"kind\":\"status\",\"status\":429,\"retry_after\":7,\"method\":\"POST\","
          "\"path_prefix\":\"/api/2.2/jobs/run-now\"}");
    fault("{\"kind\":\"status\",\"status\":429,\"retry_after\":-1,\"path_prefix\":"
          "\"/api/2.2/jobs/runs/list\"}");
    fwt_get(f, &r, "/api/2.2/jobs/runs/list");
    is_int(r.status, 429, "a 429 without Retry-After");
    is_str(r.retry_after, "", "retry_after -1: no header");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/list");
    is_int(r.status, 200, "a GET does not match a POST fault");
    fwt_resp_done(&r);
    fwt_post(f, "/api/2.2/jobs/run-now", &r, "{\"job_id\":%" PRId64 "}", job);
    is_int(r.status, 429, "429");
    is_str(r.retry_after, "7", "Retry-After: 7");
    is_str(fwt_str(r.json, "error_code"), "REQUEST_LIMIT_EXCEEDED", "REQUEST_LIMIT_EXCEEDED");
    fwt_resp_done(&r);
    is_int(count_runs(job), before, "the throttled run-now started nothing");
    fwt_get(f, &r, "/__fake/requests?endpoint=run_now");
    size_t last = fwt_len(r.json, "requests") - 1;
    char path[64];
    snprintf(path, sizeof(path), "requests.%zu.processed", last);
    ok(!json_object_get_boolean(fwt_path(r.json, path)), "the log: not processed");
    snprintf(path, sizeof(path), "requests.%zu.status", last);
    is_int(fwt_int(r.json, path), 429, "the log: status 429");
    fwt_resp_done(&r);
    fwt_post(f, "/api/2.2/jobs/run-now", &r, "{\"job_id\":%" PRId64 "}", job);
    is_int(r.status, 200, "count 1: the next one goes through");
    fwt_resp_done(&r);

    fault("{\"kind\":\"status\",\"status\":503,\"count\":2}");
    fwt_get(f, &r, "/api/2.2/jobs/list");
    is_int(r.status, 503, "503");
    is_str(r.retry_after, "1", "503 gets Retry-After 1 by default");
    is_str(fwt_str(r.json, "error_code"), "TEMPORARILY_UNAVAILABLE", "TEMPORARILY_UNAVAILABLE");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list");
    is_int(r.status, 503, "count 2: a second 503");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/list");
    is_int(r.status, 200, "then gone");
    fwt_resp_done(&r);
    fault("{\"kind\":\"status\",\"status\":500}");
    fwt_get(f, &r, "/api/2.2/jobs/list");
    is_int(r.status, 500, "500");
    is_str(r.retry_after, "", "no Retry-After on 500");
    fwt_resp_done(&r);

    fault("{\"kind\":\"non_json\",\"path_prefix\":\"/api/2.2/jobs/list\"}");
    fwt_get(f, &r, "/api/2.2/jobs/list");
    is_int(r.status, 502, "non_json: 502");
    ok(r.json == NULL && r.body && strstr(r.body, "<html>"), "an HTML body");
    is_str(r.content_type, "text/html", "text/html");
    fwt_resp_done(&r);

    fwt_call(f, "POST", "/__fake/faults", "{\"kind\":\"bogus\"}", "", &r);
    is_int(r.status, 400, "an unknown fault kind: 400");
    fwt_resp_done(&r);
    fwt_call(f, "POST", "/__fake/faults", "{\"kind\":\"status\",\"status\":200}", "", &r);
    is_int(r.status, 400, "a status fault needs an error status");
    fwt_resp_done(&r);
    fault("{\"kind\":\"status\",\"status\":500,\"path_prefix\":\"/never\",\"count\":3}");
    fwt_call(f, "GET", "/__fake/faults", NULL, "", &r);
    is_int((int64_t)fwt_len(r.json, "faults"), 1, "GET /__fake/faults lists it");
    is_int(fwt_int(r.json, "faults.0.remaining"), 3, "with its remaining count");
    fwt_resp_done(&r);
    fwt_call(f, "DELETE", "/__fake/faults", NULL, "", &r);
    fwt_resp_done(&r);
    fwt_call(f, "GET", "/__fake/faults", NULL, "", &r);
    is_int((int64_t)fwt_len(r.json, "faults"), 0, "DELETE clears them");
    fwt_resp_done(&r);
}

static void test_connection_faults(int64_t job)
{
    struct fwt_resp r;
    fwt_set_fresh(f, true);
    fault("{\"kind\":\"delay\",\"delay_ms\":300}");
    int64_t t = mono_ms();
    fwt_get(f, &r, "/api/2.2/jobs/list");
    int64_t took = mono_ms() - t;
    is_int(r.status, 200, "delay: then a normal answer");
    ok(took >= 290, "after the delay (%" PRId64 " ms)", took);
    fwt_resp_done(&r);

    fault("{\"kind\":\"reset\"}");
    fwt_get(f, &r, "/api/2.2/jobs/list");
    ok(r.status == 0 && r.curl_err != 0, "reset: no answer (curl error %d)", r.curl_err);
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/list");
    is_int(r.status, 200, "the next connection works");
    fwt_resp_done(&r);

    fault("{\"kind\":\"hang\",\"delay_ms\":400}");
    t = mono_ms();
    fwt_get(f, &r, "/api/2.2/jobs/list");
    took = mono_ms() - t;
    ok(r.status == 0 && took >= 390, "hang: no answer, closed after %" PRId64 " ms", took);
    fwt_resp_done(&r);

    fault("{\"kind\":\"truncate\",\"path_prefix\":\"/api/2.2/jobs/create\"}");
    fwt_call(f, "POST", "/api/2.2/jobs/create", "{\"name\":\"truncated-create\"}", NULL, &r);
    is_int(r.curl_err, CURLE_PARTIAL_FILE, "truncate: a short body (curl error 18)");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/list?name=truncated-create");
    is_int((int64_t)fwt_len(r.json, "jobs"), 1, "the write behind the truncated reply happened");
    fwt_resp_done(&r);

    /* process, then drop: the retry with the same token must not double */
    int64_t before = count_runs(job);
    fault("{\"kind\":\"drop_reply\",\"path_prefix\":\"/api/2.2/jobs/run-now\"}");
    char body[160];
    snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 ",\"idempotency_token\":\"drop-1\"}", job);
    fwt_call(f, "POST", "/api/2.2/jobs/run-now", body, NULL, &r);
    ok(r.status == 0 && r.curl_err != 0, "drop_reply: no answer (curl error %d)", r.curl_err);
    fwt_resp_done(&r);
    is_int(count_runs(job), before + 1, "but the run was started");
    fwt_call(f, "POST", "/api/2.2/jobs/run-now", body, NULL, &r);
    is_int(r.status, 200, "the retry with the same token: 200");
    fwt_resp_done(&r);
    is_int(count_runs(job), before + 1, "and still exactly one run");
    fwt_get(f, &r, "/__fake/requests?endpoint=run_now");
    size_t n = fwt_len(r.json, "requests");
    char p[64];
    snprintf(p, sizeof(p), "requests.%zu.fault", n - 2);
    is_str(fwt_str(r.json, p), "drop_reply", "the log marks the dropped one");
    fwt_resp_done(&r);
    fwt_set_fresh(f, false);
}

static size_t sink(char *p, size_t size, size_t n, void *userdata)
{
    struct buf *b = userdata;
    return buf_append(b, p, size * n) < 0 ? 0 : size * n;
}

static void test_concurrent_idempotency(int64_t job)
{
    enum { N = 8 };
    /* All eight wait suspended together, then run one after another. */
    fault("{\"kind\":\"delay\",\"delay_ms\":200,\"count\":8,\"path_prefix\":"
          "\"/api/2.2/jobs/run-now\"}");
    int64_t before = count_runs(job);
    CURLM *m = curl_multi_init();
    CURL *e[N];
    struct buf out[N];
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " FWT_TOKEN);
    char url[128], body[160];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/2.2/jobs/run-now", (unsigned)fwt_port(f));
    snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 ",\"idempotency_token\":\"same\"}", job);
    for (int i = 0; i < N; i++) {
        out[i] = BUF_INIT(4096);
        e[i] = curl_easy_init();
        curl_easy_setopt(e[i], CURLOPT_URL, url);
        curl_easy_setopt(e[i], CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e[i], CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(e[i], CURLOPT_WRITEDATA, &out[i]);
        curl_easy_setopt(e[i], CURLOPT_FORBID_REUSE, 1L);
        curl_multi_add_handle(m, e[i]);
    }
    int running = N;
    while (running > 0) {
        curl_multi_perform(m, &running);
        if (running > 0)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    bool same = true;
    for (int i = 0; i < N; i++) {
        same = same && out[i].data && out[0].data && streq(out[i].data, out[0].data) &&
               strstr(out[i].data, "\"run_id\"");
        curl_multi_remove_handle(m, e[i]);
        curl_easy_cleanup(e[i]);
    }
    ok(same, "8 concurrent identical run-now: one run_id for all (%s)",
       out[0].data ? out[0].data : "none");
    for (int i = 0; i < N; i++)
        buf_done(&out[i]);
    curl_slist_free_all(h);
    curl_multi_cleanup(m);
    is_int(count_runs(job), before + 1, "and exactly one run");
}

static void test_rate_limit(void)
{
    struct fwt_resp r;
    fwt_call(f, "POST", "/__fake/rate-limit", "{\"rps\":5,\"burst\":5}", "", &r);
    is_int(r.status, 200, "rate limit 5/s, burst 5");
    fwt_resp_done(&r);
    int ok200 = 0, n429 = 0;
    bool retry_after = true;
    for (int i = 0; i < 12; i++) {
        fwt_get(f, &r, "/api/2.2/jobs/list");
        if (r.status == 200)
            ok200++;
        if (r.status == 429) {
            n429++;
            retry_after = retry_after && streq(r.retry_after, "1") &&
                          streq_ptr(fwt_str(r.json, "error_code"), "REQUEST_LIMIT_EXCEEDED");
        }
        fwt_resp_done(&r);
    }
    ok(ok200 >= 5 && ok200 <= 7, "the burst goes through (%d of 12)", ok200);
    ok(n429 >= 5, "the rest get 429 (%d)", n429);
    ok(retry_after, "REQUEST_LIMIT_EXCEEDED with Retry-After: 1");
    fwt_call(f, "GET", "/__fake/clock", NULL, "", &r);
    is_int(r.status, 200, "control endpoints are not limited");
    fwt_resp_done(&r);
    fwt_call(f, "POST", "/__fake/rate-limit", "{\"rps\":0}", "", &r);
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/list");
    is_int(r.status, 200, "rps 0: off");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/__fake/requests?endpoint=list");
    bool logged = false;
    for (size_t i = 0; i < fwt_len(r.json, "requests"); i++) {
        char p[64];
        snprintf(p, sizeof(p), "requests.%zu.fault", i);
        logged = logged || streq_ptr(fwt_str(r.json, p), "rate_limit");
    }
    ok(logged, "the log marks the throttled requests");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/__fake/counters");
    is_int(fwt_int(r.json, "rate_limited"), n429, "counters: rate_limited");
    fwt_resp_done(&r);
}

static void test_seed(void)
{
    struct fwt_resp r;
    fwt_call(f, "POST", "/__fake/seed", "{\"jobs\":3,\"runs\":30,\"active\":4}", "", &r);
    is_int(r.status, 200, "seed");
    is_int((int64_t)fwt_len(r.json, "job_ids"), 3, "3 jobs");
    int64_t j0 = fwt_int(r.json, "job_ids.0");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?limit=25&completed_only=true&job_id=%" PRId64, j0);
    is_int((int64_t)fwt_len(r.json, "runs"), 10, "10 historical runs for the first job");
    ok(fwt_int(r.json, "runs.9.start_time") < fwt_int(r.json, "runs.0.start_time"),
       "spread over time, newest first");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?limit=25&active_only=true&job_id=%" PRId64, j0);
    is_int((int64_t)fwt_len(r.json, "runs"), 2, "2 of the 4 active runs");
    fwt_resp_done(&r);
    fwt_call(f, "POST", "/__fake/seed", "{\"jobs\":0}", "", &r);
    is_int(r.status, 400, "seed with 0 jobs: 400");
    fwt_resp_done(&r);
}

static void test_shutdown_with_hang(void)
{
    static const char *const args[] = { "--clock", "manual", NULL };
    struct fwt *g = fwt_start(args);
    struct fwt_resp r;
    fwt_call(g, "POST", "/__fake/faults", "{\"kind\":\"hang\"}", "", &r);
    fwt_resp_done(&r);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons(fwt_port(g)),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ok(connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connected");
    static const char req[] = "GET /api/2.2/jobs/list HTTP/1.1\r\nHost: x\r\n\r\n";
    ok(write(s, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1), "a request that hangs");
    /* The hang is in place once the fault is used up. */
    for (int i = 0; i < 200; i++) {
        fwt_call(g, "GET", "/__fake/faults", NULL, "", &r);
        size_t n = fwt_len(r.json, "faults");
        fwt_resp_done(&r);
        if (n == 0)
            break;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    int64_t t = mono_ms();
    is_int(fwt_stop(g), 0, "SIGTERM with a hanging connection: exit 0");
    ok(mono_ms() - t < 5000, "promptly");
    close(s);
}

/* A fault with a permille hits about that share of the matching requests,
 * and leaves the others alone. */
static void test_permille_fault(int64_t job)
{
    struct fwt_resp r;
    fwt_call(f, "POST", "/__fake/faults", "{\"kind\":\"status\",\"status\":500,\"permille\":1001}",
             "", &r);
    is_int(r.status, 400, "a permille over 1000 is refused");
    fwt_resp_done(&r);
    fault("{\"kind\":\"status\",\"status\":503,\"path_prefix\":\"/api/2.2/jobs/get\","
          "\"permille\":200,\"count\":1000000}");
    int hit = 0, fine = 0;
    for (int i = 0; i < 500; i++) {
        long st = fwt_get(f, &r, "/api/2.2/jobs/get?job_id=%" PRId64, job);
        hit += st == 503;
        fine += st == 200;
        fwt_resp_done(&r);
    }
    ok(hit >= 50 && hit <= 170, "a 200-permille fault hit %d of 500 requests", hit);
    is_int(hit + fine, 500, "the others were answered");
    fwt_get(f, &r, "/__fake/counters");
    ok(fwt_int(r.json, "faults") >= hit, "counters: faults %" PRId64, fwt_int(r.json, "faults"));
    fwt_resp_done(&r);
    fwt_call(f, "GET", "/__fake/faults", NULL, "", &r);
    is_int(fwt_int(r.json, "faults.0.permille"), 200, "GET /__fake/faults shows its permille");
    is_int(fwt_int(r.json, "faults.0.remaining"), 1000000 - hit, "... and counts only hits");
    fwt_resp_done(&r);
    fwt_call(f, "DELETE", "/__fake/faults", NULL, "", &r);
    fwt_resp_done(&r);
}

int main(void)
{
    static const char *const args[] = { "--clock", "manual", "--epoch-ms", "1700000000000", NULL };
    f = fwt_start(args);
    int64_t job = fwt_create_job(f, "{\"name\":\"ctl\",\"max_concurrent_runs\":1000,\"tasks\":[{"
                                    "\"task_key\":\"t\",\"notebook_task\":"
                                    "{\"notebook_path\":\"/n\"}}]}");
    test_clock();
    test_log(job);
    test_status_faults(job);
    test_connection_faults(job);
    test_permille_fault(job);
    test_concurrent_idempotency(job);
    test_rate_limit();
    test_seed();
    is_int(fwt_stop(f), 0, "clean exit");
    test_shutdown_with_hang();
    return tap_done();
}
