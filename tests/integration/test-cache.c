/* The response cache through jobsd against fakews: many identical reads
 * cost one upstream request, cached answers say so with Age, each write
 * invalidates what it changes and nothing else, no-cache and max-age are
 * honoured, a failing workspace leaves reads answered from stale copies,
 * and a stale entry refreshing under load keeps serving the old copy. */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/fakews/fwtest.h"
#include "tests/integration/jdtest.h"
#include "tests/tap.h"

#define CONCURRENT 200

static struct fwt *ws;
static struct jd *jd;

static void fault(const char *json)
{
    struct fwt_resp r;
    fwt_call(ws, "POST", "/__fake/faults", json, "", &r);
    fwt_resp_done(&r);
}

static void clear_faults(void)
{
    struct fwt_resp r;
    fwt_call(ws, "DELETE", "/__fake/faults", NULL, "", &r);
    fwt_resp_done(&r);
}

/* GET through jobsd; returns the source, status in *ret_status. */
static const char *get(const char *path, const char *header, long *ret_status)
{
    static char source[16];
    struct fwt_resp r;
    fwt_set_header(jd->unix_client, header);
    *ret_status = fwt_call(jd->unix_client, "GET", path, NULL, "", &r);
    fwt_set_header(jd->unix_client, NULL);
    strscpy(source, sizeof(source), r.source);
    fwt_resp_done(&r);
    return source;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_coalescing(int64_t run)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get?run_id=%" PRId64, run);
    int64_t before = fwt_counter(ws, "get_run");
    /* The workspace is slow, so all of them arrive while one is in flight. */
    fault("{\"kind\":\"delay\",\"delay_ms\":800,\"count\":1,\"path_prefix\":\"/api/2.2/jobs/runs/"
          "get\"}");
    int fds[CONCURRENT];
    for (size_t i = 0; i < CONCURRENT; i++)
        fds[i] = jd_send_raw(jd->socket, "GET", path, NULL);
    unsigned good = 0, same = 0;
    _cleanup_free_ char *first = NULL;
    for (size_t i = 0; i < CONCURRENT; i++) {
        _cleanup_free_ char *text = NULL;
        if (jd_read_raw(fds[i], &text) == 200)
            good++;
        const char *b = text ? strstr(text, "\r\n\r\n") : NULL;
        if (b && !first)
            first = strdup(b);
        if (b && first && streq(b, first))
            same++;
    }
    is_int(good, CONCURRENT, "%d concurrent identical runs/get are all answered 200", CONCURRENT);
    is_int(same, CONCURRENT, "... with the same bytes");
    is_int(fwt_counter(ws, "get_run") - before, 1, "... and cost the workspace one request");
    clear_faults();
}

int main(void)
{
    const char *const fw_args[] = { "--clock", "manual", NULL };
    ws = fwt_start(fw_args);
    const char *const env[] = { "DATABRICKS_TOKEN=" FWT_TOKEN, NULL };
    const char *const args[] = { "--set", "upstream.max_attempts=1", "--set",
                                 "server.max_connections=1024", NULL };
    jd = jd_start(fwt_port(ws), env, args);
    long st;
    char path[160], body[160];
    struct fwt_resp r;

    int64_t j1 = fwt_create_job(ws, "{\"name\":\"one\",\"tasks\":[{\"task_key\":\"a\","
                                    "\"notebook_task\":{\"notebook_path\":\"/x\"}}]}");
    int64_t j2 = fwt_create_job(ws, "{\"name\":\"two\",\"max_concurrent_runs\":5,\"tasks\":[{"
                                    "\"task_key\":\"a\",\"notebook_task\":{\"notebook_path\":\"/x\""
                                    ",\"base_parameters\":{\"fake_duration_ms\":\"3600000\"}}}]}");
    int64_t r1 = fwt_run_now(ws, j1);
    fwt_advance(ws, 10 * 60 * 1000); /* r1 is finished */
    int64_t r2 = fwt_run_now(ws, j2);
    fwt_advance(ws, 5000); /* r2 is running (for an hour) */

    test_coalescing(r1);

    /* A finished run stays cached; Age says how old the copy is. */
    snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get?run_id=%" PRId64, r1);
    is_str(get(path, NULL, &st), "cache", "a finished run is answered from the cache");
    fwt_call(jd->unix_client, "GET", path, NULL, "", &r);
    ok(r.age[0] != 0, "... with an Age header (%s)", r.age);
    fwt_resp_done(&r);
    is_str(get(path, "Cache-Control: no-cache", &st), "upstream", "no-cache asks the workspace");
    is_str(get(path, "Cache-Control: max-age=0", &st), "upstream",
           "max-age=0 asks the workspace too");

    /* Fill the cache with one entry of every kind. */
    char j1_get[96], j2_get[96], list[64], r1_get[96], r2_get[96], perms[96], runs_list[64];
    snprintf(j1_get, sizeof(j1_get), "/api/2.2/jobs/get?job_id=%" PRId64, j1);
    snprintf(j2_get, sizeof(j2_get), "/api/2.2/jobs/get?job_id=%" PRId64, j2);
    snprintf(list, sizeof(list), "/api/2.2/jobs/list");
    snprintf(runs_list, sizeof(runs_list), "/api/2.2/jobs/runs/list");
    snprintf(r1_get, sizeof(r1_get), "/api/2.2/jobs/runs/get?run_id=%" PRId64, r1);
    snprintf(r2_get, sizeof(r2_get), "/api/2.2/jobs/runs/get?run_id=%" PRId64, r2);
    snprintf(perms, sizeof(perms), "/api/2.0/permissions/jobs/%" PRId64, j1);
    const char *const all[] = { j1_get, j2_get, list, runs_list, r1_get, r2_get, perms };
    for (size_t i = 0; i < ELEMENTSOF(all); i++)
        get(all[i], NULL, &st);
    for (size_t i = 0; i < ELEMENTSOF(all); i++)
        is_str(get(all[i], NULL, &st), "cache", "%s is cached", all[i]);

    /* Each write drops what it changes, and nothing else. */
    static const struct {
        const char *what, *path;
        bool fresh[7]; /* j1_get, j2_get, list, runs_list, r1_get, r2_get, perms */
    } writes[] = {
        { "jobs/update of job one",
          "/api/2.2/jobs/update",
          { false, true, false, true, true, true, true } },
        { "runs/cancel-all of job two",
          "/api/2.2/jobs/runs/cancel-all",
          { true, true, true, false, true, false, true } },
        { "permissions PATCH of job one",
          "/api/2.0/permissions/jobs/",
          { true, true, true, true, true, true, false } },
    };
    for (size_t w = 0; w < ELEMENTSOF(writes); w++) {
        if (w == 0)
            snprintf(body, sizeof(body),
                     "{\"job_id\":%" PRId64 ",\"new_settings\":{\"description\":"
                     "\"x\"}}",
                     j1);
        if (w == 1)
            snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 "}", j2);
        if (w == 2)
            snprintf(body, sizeof(body),
                     "{\"access_control_list\":[{\"group_name\":\"g\","
                     "\"permission_level\":\"CAN_VIEW\"}]}");
        char wpath[128];
        if (w == 2)
            snprintf(wpath, sizeof(wpath), "%s%" PRId64, writes[w].path, j1);
        else
            strscpy(wpath, sizeof(wpath), writes[w].path);
        is_int(fwt_call(jd->unix_client, w == 2 ? "PATCH" : "POST", wpath, body, "", &r), 200,
               "%s through jobsd", writes[w].what);
        fwt_resp_done(&r);
        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
            const char *expect = writes[w].fresh[i] ? "cache" : "upstream";
            is_str(get(all[i], NULL, &st), expect, "after %s, %s comes from the %s", writes[w].what,
                   all[i], expect);
        }
    }

    /* The workspace fails: reads get the stale copy, with its Age. */
    fault("{\"kind\":\"status\",\"status\":503,\"count\":5,\"path_prefix\":\"/api/2.2/jobs/get\"}");
    fwt_set_header(jd->unix_client, "Cache-Control: max-age=0");
    is_int(fwt_call(jd->unix_client, "GET", j2_get, NULL, "", &r), 200,
           "a 503 from the workspace is answered from the cache");
    fwt_set_header(jd->unix_client, NULL);
    is_str(r.source, "stale", "... marked stale");
    ok(r.age[0] != 0, "... with its Age (%s)", r.age);
    fwt_resp_done(&r);
    clear_faults();

    /* A popular entry refreshing: readers get the old copy at once. */
    const char *const args2[] = { "--set", "cache.job_ttl=200ms", NULL };
    is_int(jd_stop(jd), 0, "jobsd stops cleanly");
    jd = jd_start(fwt_port(ws), env, args2);
    get(j2_get, NULL, &st);
    int64_t t0 = now_ms();
    while (now_ms() - t0 < 300) /* let the 200 ms TTL run out */
        poll(NULL, 0, 20);
    int64_t before = fwt_counter(ws, "get");
    fault(
        "{\"kind\":\"delay\",\"delay_ms\":1500,\"count\":5,\"path_prefix\":\"/api/2.2/jobs/get\"}");
    int64_t start = now_ms();
    unsigned stale = 0;
    for (int i = 0; i < 20; i++)
        if (streq(get(j2_get, NULL, &st), "stale") && st == 200)
            stale++;
    int64_t took = now_ms() - start;
    is_int(stale, 20, "20 readers during a refresh get the old copy, marked stale");
    ok(took < 1000, "... at once, not behind the 1.5 s refresh (%lld ms)", (long long)took);
    for (int i = 0; i < 200 && fwt_counter(ws, "get") == before; i++)
        poll(NULL, 0, 10);
    is_int(fwt_counter(ws, "get") - before, 1, "one refresh reached the workspace");
    clear_faults();

    struct fwt_resp m;
    fwt_call(jd->unix_client, "GET", "/metrics", NULL, "", &m);
    ok(m.body && strstr(m.body, "jobsd_cache_hits_total "), "/metrics counts cache hits");
    ok(m.body && strstr(m.body, "jobsd_cache_coalesced_total "), "... and coalesced readers");
    fwt_resp_done(&m);

    is_int(jd_stop(jd), 0, "jobsd stops cleanly");
    is_int(fwt_stop(ws), 0, "fakews stops cleanly");
    return tap_done();
}
