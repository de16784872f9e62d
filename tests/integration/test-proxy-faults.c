/* jobsd against a failing workspace (fakews' faults): each fault gives the
 * documented answer, jobsd keeps serving, a write whose reply was lost is
 * never doubled, a full queue is 429 with Retry-After, and an OAuth token
 * expiring under a burst of requests costs exactly one token request. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/cleanup.h"
#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/fakews/fwtest.h"
#include "tests/integration/jdtest.h"
#include "tests/tap.h"

#define BURST 50

static struct fwt *ws;

static void fault(const char *json)
{
    struct fwt_resp r;
    fwt_call(ws, "POST", "/__fake/faults", json, "", &r);
    if (r.status != 200)
        tap_diag("fault not set: %ld %s", r.status, r.body ? r.body : "");
    fwt_resp_done(&r);
}

static void reset_ws(void)
{
    struct fwt_resp r;
    fwt_call(ws, "POST", "/__fake/reset", "{}", "", &r);
    fwt_resp_done(&r);
}

static int64_t ws_runs(void)
{
    struct fwt_resp r;
    fwt_get(ws, &r, "/__fake/state");
    int64_t n = fwt_int(r.json, "runs");
    fwt_resp_done(&r);
    return n;
}

static void test_faults(void)
{
    const char *const env[] = { "DATABRICKS_TOKEN=" FWT_TOKEN, NULL };
    const char *const args[] = { "--set", "upstream.max_attempts=3", "--set", "upstream.timeout=1s",
                                 "--set", "cache.enabled=no",        NULL };
    struct jd *jd = jd_start(fwt_port(ws), env, args);
    struct fwt *u = jd->unix_client;
    struct fwt_resp r;
    int64_t job = fwt_create_job(ws, "{\"name\":\"f\",\"max_concurrent_runs\":10,\"tasks\":[{"
                                     "\"task_key\":\"a\",\"notebook_task\":{\"notebook_path\":"
                                     "\"/x\"}}]}");
    char get_path[128];
    snprintf(get_path, sizeof(get_path), "/api/2.2/jobs/get?job_id=%" PRId64, job);

    /* 429 with Retry-After, once: retried after the wait, answered 200. */
    reset_ws();
    fault("{\"kind\":\"status\",\"status\":429,\"retry_after\":1,\"path_prefix\":\"/api/2.2/jobs/"
          "get\"}");
    is_int(fwt_call(u, "GET", get_path, NULL, "", &r), 200, "a 429 with Retry-After is retried");
    fwt_resp_done(&r);
    is_int(fwt_counter(ws, "get"), 2, "... exactly once");

    /* 503 every time: the workspace's 503 after max_attempts. */
    reset_ws();
    fault(
        "{\"kind\":\"status\",\"status\":503,\"count\":10,\"path_prefix\":\"/api/2.2/jobs/list\"}");
    is_int(fwt_call(u, "GET", "/api/2.2/jobs/list", NULL, "", &r), 503,
           "503 on every attempt comes back as 503");
    is_str(r.source, "upstream", "... the workspace's own answer");
    ok(r.retry_after[0] != 0, "... with its Retry-After (%s)", r.retry_after);
    ok(r.body && strstr(r.body, "\"error_code\""), "... and its error body");
    fwt_resp_done(&r);
    is_int(fwt_counter(ws, "list"), 3, "... after upstream.max_attempts = 3 attempts");
    fwt_call(ws, "DELETE", "/__fake/faults", NULL, "", &r);
    fwt_resp_done(&r);

    /* A reset connection on a read: retried. */
    reset_ws();
    fault("{\"kind\":\"reset\",\"path_prefix\":\"/api/2.2/jobs/get\"}");
    is_int(fwt_call(u, "GET", get_path, NULL, "", &r), 200, "a reset connection is retried");
    fwt_resp_done(&r);

    /* A hang: the attempt times out (upstream.timeout = 1 s), 504. */
    reset_ws();
    fault(
        "{\"kind\":\"hang\",\"count\":3,\"delay_ms\":20000,\"path_prefix\":\"/api/2.2/jobs/get\"}");
    is_int(fwt_call(u, "GET", get_path, NULL, "", &r), 504, "a hanging workspace is 504");
    ok(r.body && strstr(r.body, "\"error_code\":\"DEADLINE_EXCEEDED\""), "... DEADLINE_EXCEEDED");
    is_str(r.source, "local", "... made by jobsd");
    fwt_resp_done(&r);
    fwt_call(ws, "DELETE", "/__fake/faults", NULL, "", &r);
    fwt_resp_done(&r);
    is_int(fwt_call(u, "GET", "/jobsd/v1/health", NULL, "", &r), 200, "jobsd still serves");
    fwt_resp_done(&r);

    /* Truncated bodies every time: 502, never a half answer. */
    reset_ws();
    fault("{\"kind\":\"truncate\",\"count\":10,\"path_prefix\":\"/api/2.2/jobs/get\"}");
    is_int(fwt_call(u, "GET", get_path, NULL, "", &r), 502, "truncated answers are 502");
    ok(r.body && strstr(r.body, "truncated or malformed"), "... saying so");
    fwt_resp_done(&r);
    fwt_call(ws, "DELETE", "/__fake/faults", NULL, "", &r);
    fwt_resp_done(&r);

    /* A gateway's HTML page: passed through as the workspace sent it. */
    reset_ws();
    fault("{\"kind\":\"non_json\",\"status\":502,\"path_prefix\":\"/api/2.2/jobs/get\"}");
    is_int(fwt_call(u, "GET", get_path, NULL, "", &r), 502, "a non-JSON 502 passes through");
    ok(r.body && strstr(r.body, "<html"), "... with its HTML body");
    ok(startswith(r.content_type, "text/html") != NULL, "... and its content type (%s)",
       r.content_type);
    fwt_resp_done(&r);

    /* run-now whose reply is lost: retried with the same token, one run. */
    reset_ws();
    int64_t before = ws_runs();
    fault("{\"kind\":\"drop_reply\",\"path_prefix\":\"/api/2.2/jobs/run-now\"}");
    char body[128];
    snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 "}", job);
    is_int(fwt_call(u, "POST", "/api/2.2/jobs/run-now", body, "", &r), 200,
           "run-now after a lost reply is answered");
    int64_t run = fwt_int(r.json, "run_id");
    fwt_resp_done(&r);
    ok(run > 0, "... with the run");
    is_int(fwt_counter(ws, "run_now"), 2, "the workspace saw run-now twice");
    is_int(ws_runs(), before + 1, "... and started exactly one run");
    fwt_get(ws, &r, "/__fake/requests?endpoint=run_now");
    struct json_object *a = fwt_path(r.json, "requests");
    const char *t0 = fwt_str(json_object_array_get_idx(a, 0), "idempotency_token");
    const char *t1 = fwt_str(json_object_array_get_idx(a, 1), "idempotency_token");
    ok(t0 && t1 && streq(t0, t1), "... both times with the same token");
    fwt_resp_done(&r);

    /* jobs/create (no token possible) whose reply is lost: not re-sent,
     * 502, never 503 or 429 (which an SDK would retry). */
    reset_ws();
    fault("{\"kind\":\"drop_reply\",\"path_prefix\":\"/api/2.2/jobs/create\"}");
    is_int(fwt_call(u, "POST", "/api/2.2/jobs/create", "{\"name\":\"once\"}", "", &r), 502,
           "jobs/create after a lost reply is 502");
    ok(r.body && strstr(r.body, "may have been carried out"), "... saying it may have happened");
    fwt_resp_done(&r);
    is_int(fwt_counter(ws, "create"), 1, "jobs/create reached the workspace exactly once");

    _cleanup_free_ char *log = jd_read_log(jd);
    ok(log && !strstr(log, FWT_TOKEN), "the workspace token is not in jobsd's log");
    is_int(jd_stop(jd), 0, "jobsd stops cleanly");
}

static void test_queue_full(void)
{
    const char *const env[] = { "DATABRICKS_TOKEN=" FWT_TOKEN, NULL };
    const char *const args[] = { "--set", "upstream.max_in_flight=1",
                                 "--set", "upstream.queue_max=1",
                                 "--set", "cache.enabled=no",
                                 NULL };
    struct jd *jd = jd_start(fwt_port(ws), env, args);
    reset_ws();
    fault("{\"kind\":\"delay\",\"delay_ms\":1500,\"count\":5,\"path_prefix\":\"/api/2.2/jobs/"
          "list\"}");
    int fds[3];
    fds[0] = jd_send_raw(jd->socket, "GET", "/api/2.2/jobs/list", NULL);
    /* Wait until the first is in flight (status says so), then two more. */
    for (int i = 0; i < 500; i++) {
        struct fwt_resp st;
        fwt_call(jd->unix_client, "GET", "/jobsd/v1/status", NULL, "", &st);
        int64_t in_flight = fwt_int(st.json, "upstream.in_flight");
        fwt_resp_done(&st);
        if (in_flight == 1)
            break;
        poll(NULL, 0, 10);
    }
    for (size_t i = 1; i < ELEMENTSOF(fds); i++)
        fds[i] = jd_send_raw(jd->socket, "GET", "/api/2.2/jobs/list", NULL);
    int ok200 = 0, got429 = 0;
    bool retry_after = false;
    for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
        _cleanup_free_ char *text = NULL;
        int st = jd_read_raw(fds[i], &text);
        if (st == 200)
            ok200++;
        if (st == 429) {
            got429++;
            retry_after = text && strstr(text, "Retry-After: ");
        }
    }
    is_int(got429, 1, "with one in flight and one queued, the third request is 429");
    ok(retry_after, "... with Retry-After");
    is_int(ok200, 2, "the other two are answered");
    struct fwt_resp r;
    fwt_call(ws, "DELETE", "/__fake/faults", NULL, "", &r);
    fwt_resp_done(&r);
    is_int(jd_stop(jd), 0, "jobsd stops cleanly");
}

static void test_oauth_burst(void)
{
    const char *const fw_args[] = {
        "--clock",     "manual", "--client-id", "sp-1", "--client-secret", "sp-secret-0123456789",
        "--oauth-ttl", "3600",   NULL
    };
    struct fwt *ows = fwt_start(fw_args);
    const char *const env[] = { "DATABRICKS_CLIENT_ID=sp-1",
                                "DATABRICKS_CLIENT_SECRET=sp-secret-0123456789", NULL };
    const char *const args[] = { "--set", "upstream.rate=1000", "--set", "upstream.burst=100",
                                 "--set", "cache.enabled=no",   NULL };
    struct jd *jd = jd_start(fwt_port(ows), env, args);
    struct fwt_resp r;

    is_int(fwt_call(jd->unix_client, "GET", "/api/2.2/jobs/list", NULL, "", &r), 200,
           "OAuth M2M: a first request works");
    fwt_resp_done(&r);
    fwt_get(ows, &r, "/__fake/counters");
    is_int(fwt_int(r.json, "endpoints.oidc_token"), 1, "... after one token request");
    fwt_resp_done(&r);

    /* The workspace's clock passes the token's expiry: every request of the
     * burst meets "Invalid access token." and waits for one new token. */
    fwt_advance(ows, 3601 * 1000LL);
    int fds[BURST];
    for (size_t i = 0; i < BURST; i++)
        fds[i] = jd_send_raw(jd->socket, "GET", "/api/2.2/jobs/list", NULL);
    int good = 0;
    for (size_t i = 0; i < BURST; i++) {
        _cleanup_free_ char *text = NULL;
        if (jd_read_raw(fds[i], &text) == 200)
            good++;
    }
    is_int(good, BURST, "all %d requests of the burst are answered 200", BURST);
    fwt_get(ows, &r, "/__fake/counters");
    is_int(fwt_int(r.json, "endpoints.oidc_token"), 2,
           "the expired token cost exactly one more token request");
    fwt_resp_done(&r);

    _cleanup_free_ char *log = jd_read_log(jd);
    ok(log && !strstr(log, "sp-secret-0123456789"), "the client secret is not in jobsd's log");
    is_int(jd_stop(jd), 0, "jobsd stops cleanly");
    fwt_stop(ows);
}

int main(void)
{
    const char *const fw_args[] = { "--clock", "manual", NULL };
    ws = fwt_start(fw_args);
    fwt_set_fresh(ws, true);
    test_faults();
    test_queue_full();
    test_oauth_burst();
    is_int(fwt_stop(ws), 0, "fakews stops cleanly");
    return tap_done();
}
