/* Everything that passes through jobsd is archived, and what the workspace
 * forgets (60-day expiry, deletion) or cannot answer (down) is answered from
 * the archive in the same JSON, marked archive. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/runs.h"
#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/fakews/fwtest.h"
#include "tests/integration/jdtest.h"
#include "tests/tap.h"

#define DAY_MS (24LL * 3600 * 1000)

static struct fwt *ws;
static struct jd *jd;

static bool same_json(const char *a, const char *b)
{
    _cleanup_json_ struct json_object *x = NULL, *y = NULL;
    if (!a || !b || json_parse(a, strlen(a), JSON_SIZE_MAX, JSON_DEPTH_MAX, &x, NULL) < 0 ||
        json_parse(b, strlen(b), JSON_SIZE_MAX, JSON_DEPTH_MAX, &y, NULL) < 0)
        return false;
    return json_object_equal(x, y);
}

static struct store *open_archive(void)
{
    char path[400];
    struct store *st = NULL;
    snprintf(path, sizeof(path), "%s/archive.db", jd->dir);
    if (store_open(path, 0, &st) < 0)
        return NULL;
    return st;
}

int main(void)
{
    const char *const fw_args[] = { "--clock", "manual", NULL };
    ws = fwt_start(fw_args);
    const char *const env[] = { "DATABRICKS_TOKEN=" FWT_TOKEN, NULL };
    /* Without the cache, so that every answer here is the workspace's or
     * the archive's (test-cache covers stale copies). */
    const char *const args[] = { "--set", "upstream.max_attempts=1", "--set", "cache.enabled=no",
                                 NULL };
    jd = jd_start(fwt_port(ws), env, args);
    struct fwt *u = jd->unix_client;
    struct fwt_resp r, d;

    int64_t job = fwt_create_job(ws, "{\"name\":\"arch\",\"tasks\":[{\"task_key\":\"a\","
                                     "\"notebook_task\":{\"notebook_path\":\"/x\"}}]}");
    int64_t run = fwt_run_now(ws, job);
    int64_t other = fwt_run_now(ws, job);
    fwt_advance(ws, 10 * 60 * 1000);

    /* Through jobsd: runs/get, get-output, a runs/list page, jobs/get. */
    char path[256];
    snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get?run_id=%" PRId64, run);
    is_int(fwt_call(u, "GET", path, NULL, "", &r), 200, "runs/get through jobsd");
    is_str(r.source, "upstream", "... from the workspace");
    _cleanup_free_ char *run_json = r.body ? strdup(r.body) : NULL;
    int64_t task_run = fwt_int(r.json, "tasks.0.run_id");
    fwt_resp_done(&r);
    snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get-output?run_id=%" PRId64, task_run);
    is_int(fwt_call(u, "GET", path, NULL, "", &r), 200, "get-output through jobsd");
    _cleanup_free_ char *output_json = r.body ? strdup(r.body) : NULL;
    fwt_resp_done(&r);
    snprintf(path, sizeof(path), "/api/2.2/jobs/runs/list?job_id=%" PRId64, job);
    is_int(fwt_call(u, "GET", path, NULL, "", &r), 200, "runs/list through jobsd");
    fwt_resp_done(&r);
    snprintf(path, sizeof(path), "/api/2.2/jobs/get?job_id=%" PRId64, job);
    is_int(fwt_call(u, "GET", path, NULL, "", &r), 200, "jobs/get through jobsd");
    fwt_resp_done(&r);

    /* The same bytes again: not parsed, not written. */
    snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get?run_id=%" PRId64, run);
    fwt_call(u, "GET", path, NULL, "", &r);
    fwt_resp_done(&r);
    fwt_call(u, "GET", "/metrics", NULL, "", &r);
    ok(r.body && strstr(r.body, "jobsd_archive_writes_total{result=\"skipped\"} 1\n"),
       "a run read again unchanged is not written again");
    ok(r.body && strstr(r.body, "jobsd_archive_writes_total{result=\"stored\"} "),
       "/metrics counts archive writes");
    fwt_resp_done(&r);

    struct store *st = open_archive();
    ok(st != NULL, "the archive opens beside the daemon");
    _cleanup_json_ struct json_object *stored = NULL, *out = NULL, *sjob = NULL;
    struct store_run_meta meta;
    is_int(store_get_run(st, run, &stored, &meta), 0, "the run read through jobsd is archived");
    is_int(meta.life_cycle, LIFE_CYCLE_TERMINATED, "... terminated");
    ok(json_object_array_length(json_object_object_get(stored, "tasks")) == 1, "... with its task");
    is_int(store_get_output(st, task_run, &out), 0, "its task output is archived");
    _cleanup_json_ struct json_object *listed = NULL;
    is_int(store_get_run(st, other, &listed, NULL), 0, "a run only listed is archived too");
    is_int(store_get_job(st, job, &sjob, NULL), 0, "the job is archived");
    store_free(st);

    /* The workspace is down: reads of archived runs still work. */
    fwt_call(ws, "POST", "/__fake/faults",
             "{\"kind\":\"status\",\"status\":503,\"count\":4,\"path_prefix\":\"/api/2.2/jobs/runs/"
             "get\"}",
             "", &d);
    fwt_resp_done(&d);
    snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get?run_id=%" PRId64, run);
    is_int(fwt_call(u, "GET", path, NULL, "", &r), 200, "the workspace answers 503: still 200");
    is_str(r.source, "archive", "... from the archive");
    ok(same_json(r.body, run_json), "... with the same JSON");
    fwt_resp_done(&r);
    fwt_call(ws, "DELETE", "/__fake/faults", NULL, "", &d);
    fwt_resp_done(&d);

    /* 61 days later the workspace has forgotten the runs. */
    fwt_advance(ws, 61 * DAY_MS);
    fwt_get(ws, &d, "/api/2.2/jobs/runs/get?run_id=%" PRId64, run);
    is_int(d.status, 400, "the workspace has expired the run");
    fwt_resp_done(&d);
    is_int(fwt_call(u, "GET", path, NULL, "", &r), 200, "jobsd still answers runs/get");
    is_str(r.source, "archive", "... marked archive");
    ok(same_json(r.body, run_json), "... with the JSON it had");
    fwt_resp_done(&r);
    snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get-output?run_id=%" PRId64, task_run);
    is_int(fwt_call(u, "GET", path, NULL, "", &r), 200, "and get-output of its task");
    is_str(r.source, "archive", "... marked archive");
    ok(same_json(r.body, output_json), "... with the output it had");
    fwt_resp_done(&r);

    st = open_archive();
    _cleanup_json_ struct json_object *kept = NULL;
    is_int(store_get_run(st, run, &kept, &meta), 0, "the run stays in the archive");
    ok(meta.forgotten_ms > 0, "... marked as forgotten by the workspace");
    store_free(st);

    /* A run jobsd never saw: the workspace's own error. */
    snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get?run_id=%" PRId64, (int64_t)424242);
    is_int(fwt_call(u, "GET", path, NULL, "", &r), 400, "an unknown run is the workspace's 400");
    is_str(r.source, "upstream", "... passed through");
    fwt_resp_done(&r);

    /* Deleted upstream through jobsd: kept, and answered. */
    int64_t late = fwt_run_now(ws, job);
    fwt_advance(ws, 10 * 60 * 1000);
    snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get?run_id=%" PRId64, late);
    fwt_call(u, "GET", path, NULL, "", &r);
    fwt_resp_done(&r);
    char body[128];
    snprintf(body, sizeof(body), "{\"run_id\":%" PRId64 "}", late);
    is_int(fwt_call(u, "POST", "/api/2.2/jobs/runs/delete", body, "", &r), 200, "runs/delete");
    fwt_resp_done(&r);
    is_int(fwt_call(u, "GET", path, NULL, "", &r), 200, "a deleted run is answered");
    is_str(r.source, "archive", "... from the archive");
    fwt_resp_done(&r);

    /* The history API answers from the archive alone. */
    snprintf(path, sizeof(path), "/jobsd/v1/runs?job_id=%" PRId64, job);
    is_int(fwt_call(u, "GET", path, NULL, "", &r), 200, "/jobsd/v1/runs of the job");
    is_str(r.source, "archive", "... from the archive");
    is_int(fwt_len(r.json, "runs"), 3, "... its three runs");
    int64_t newest = fwt_int(r.json, "runs.0.run_id");
    is_int(newest, late, "... newest first");
    ok(fwt_path(r.json, "has_more") && !fwt_path(r.json, "next_page_token"),
       "... one page, without a token");
    fwt_resp_done(&r);
    snprintf(path, sizeof(path), "/jobsd/v1/runs?job_id=%" PRId64 "&limit=2", job);
    fwt_call(u, "GET", path, NULL, "", &r);
    const char *tok = fwt_str(r.json, "next_page_token");
    ok(tok != NULL && fwt_len(r.json, "runs") == 2, "limit 2: two runs and a page token");
    char next[512];
    snprintf(next, sizeof(next), "%s&page_token=%s", path, tok ? tok : "");
    fwt_resp_done(&r);
    fwt_call(u, "GET", next, NULL, "", &r);
    is_int(fwt_len(r.json, "runs"), 1, "the next page has the third");
    ok(!fwt_path(r.json, "next_page_token"), "... and is the last");
    fwt_resp_done(&r);
    static const char *const bad_queries[] = { "limit=0",           "limit=1001",
                                               "limit=x",           "life_cycle_state=SLEEPING",
                                               "job_id=abc",        "page_token=garbage",
                                               "start_time_from=-5" };
    for (size_t i = 0; i < ELEMENTSOF(bad_queries); i++) {
        snprintf(path, sizeof(path), "/jobsd/v1/runs?%s", bad_queries[i]);
        is_int(fwt_call(u, "GET", path, NULL, "", &r), 400, "/jobsd/v1/runs?%s is 400",
               bad_queries[i]);
        ok(r.body && strstr(r.body, "\"error_code\":\"INVALID_PARAMETER_VALUE\""),
           "... with a Databricks-style body");
        fwt_resp_done(&r);
    }
    snprintf(path, sizeof(path), "/jobsd/v1/runs/%" PRId64, run);
    is_int(fwt_call(u, "GET", path, NULL, "", &r), 200, "/jobsd/v1/runs/{id}");
    ok(same_json(r.body, run_json), "... the run as the workspace gave it");
    fwt_resp_done(&r);
    snprintf(path, sizeof(path), "/jobsd/v1/runs/%" PRId64 "/output", run);
    is_int(fwt_call(u, "GET", path, NULL, "", &r), 200, "/jobsd/v1/runs/{id}/output");
    is_int(fwt_len(r.json, "outputs"), 1, "... one task output");
    fwt_resp_done(&r);
    is_int(fwt_call(u, "GET", "/jobsd/v1/runs/12345", NULL, "", &r), 404,
           "a run not in the archive is 404");
    ok(r.body && strstr(r.body, "RESOURCE_DOES_NOT_EXIST"), "... RESOURCE_DOES_NOT_EXIST");
    fwt_resp_done(&r);

    /* The archive as JSON Lines, streamed. */
    is_int(fwt_call(u, "GET", "/jobsd/v1/export", NULL, "", &r), 200, "/jobsd/v1/export");
    ok(startswith(r.content_type, "application/x-ndjson") != NULL, "... as JSON Lines (%s)",
       r.content_type);
    unsigned lines = 0, runs = 0, jobs = 0, bad_lines = 0;
    for (char *line = r.body, *nl; line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = 0;
        _cleanup_json_ struct json_object *o = NULL;
        const char *kind = NULL;
        if (json_parse_object(line, strlen(line), JSON_SIZE_MAX, JSON_DEPTH_MAX, &o, NULL) < 0 ||
            json_get_string(o, "kind", JSON_REQUIRED, &kind, NULL) <= 0)
            bad_lines++;
        else if (streq(kind, "run"))
            runs++;
        else if (streq(kind, "job"))
            jobs++;
        lines++;
    }
    is_int(bad_lines, 0, "every line is a JSON object with a kind");
    is_int(runs, 3, "the three runs are exported");
    ok(jobs >= 1, "and the job");
    fwt_resp_done(&r);
    is_int(fwt_call(u, "GET", "/jobsd/v1/export?runs_only=true", NULL, "", &r), 200,
           "runs_only export");
    ok(r.body && !strstr(r.body, "\"kind\":\"job\""), "... has no job lines");
    fwt_resp_done(&r);
    is_int(fwt_call(u, "GET", "/jobsd/v1/export?runs_only=perhaps", NULL, "", &r), 400,
           "a bad runs_only is 400");
    fwt_resp_done(&r);

    is_int(jd_stop(jd), 0, "jobsd stops cleanly");
    is_int(fwt_stop(ws), 0, "fakews stops cleanly");
    return tap_done();
}
