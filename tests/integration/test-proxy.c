/* Every Jobs and job-permissions endpoint through jobsd, over the Unix
 * socket and over TCP, against fakews: reads answer byte for byte what the
 * workspace answers directly, writes have the same effect, errors come back
 * as the workspace sent them, and run-now/submit gain an idempotency token.
 * Iterates over proto's endpoint table so a row without a case fails. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include "db/store.h"
#include "proto/endpoint.h"
#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/fakews/fwtest.h"
#include "tests/integration/jdtest.h"
#include "tests/tap.h"

static struct fwt *ws;
static struct jd *jd;
static bool covered[_ENDPOINT_MAX];
static int64_t job, job2, run, task_run, submit_run;

static const char job_settings[] =
    "{\"name\":\"nightly\",\"max_concurrent_runs\":5,\"tasks\":["
    "{\"task_key\":\"extract\",\"notebook_task\":{\"notebook_path\":\"/Repos/etl/extract\","
    "\"base_parameters\":{\"fake_duration_ms\":\"5000\"}}},"
    "{\"task_key\":\"load\",\"depends_on\":[{\"task_key\":\"extract\"}],\"notebook_task\":"
    "{\"notebook_path\":\"/Repos/etl/load\"}}]}";

static void cover(enum endpoint_id id)
{
    covered[id] = true;
}

/* The same request straight to the workspace and through jobsd: the same
 * status and the same bytes. */
static void same_read(enum endpoint_id id, struct fwt *via, const char *path, const char *what)
{
    struct fwt_resp direct, proxied;
    fwt_call(ws, "GET", path, NULL, NULL, &direct);
    fwt_call(via, "GET", path, NULL, NULL, &proxied);
    is_int(proxied.status, direct.status, "%s: same status (%ld)", what, direct.status);
    is_str(proxied.body ? proxied.body : "", direct.body ? direct.body : "", "%s: same body", what);
    /* The first door asks the workspace, the second gets the cached copy;
     * errors are never cached. */
    const char *expect = proxied.status < 400 && via == jd->tcp_client ? "cache" : "upstream";
    is_str(proxied.source, expect, "%s: marked %s", what, expect);
    fwt_resp_done(&direct);
    fwt_resp_done(&proxied);
    cover(id);
}

static long call(struct fwt *via, const char *method, const char *path, const char *body,
                 struct fwt_resp *r)
{
    return fwt_call(via, method, path, body, NULL, r);
}

static void test_reads(struct fwt *via, const char *door)
{
    char path[256], what[128];
    static const char *const versions[] = { "2.1", "2.2" };
    for (size_t v = 0; v < ELEMENTSOF(versions); v++) {
        const char *ver = versions[v];
        snprintf(path, sizeof(path), "/api/%s/jobs/list?limit=2&expand_tasks=true", ver);
        snprintf(what, sizeof(what), "%s %s jobs/list", door, ver);
        same_read(ENDPOINT_JOBS_LIST, via, path, what);
        snprintf(path, sizeof(path), "/api/%s/jobs/get?job_id=%" PRId64, ver, job);
        snprintf(what, sizeof(what), "%s %s jobs/get", door, ver);
        same_read(ENDPOINT_JOBS_GET, via, path, what);
        snprintf(path, sizeof(path), "/api/%s/jobs/runs/list?job_id=%" PRId64 "&limit=1", ver, job);
        snprintf(what, sizeof(what), "%s %s runs/list", door, ver);
        same_read(ENDPOINT_RUNS_LIST, via, path, what);
        snprintf(path, sizeof(path),
                 "/api/%s/jobs/runs/get?run_id=%" PRId64 "&include_history=true", ver, run);
        snprintf(what, sizeof(what), "%s %s runs/get", door, ver);
        same_read(ENDPOINT_RUNS_GET, via, path, what);
        snprintf(path, sizeof(path), "/api/%s/jobs/runs/get-output?run_id=%" PRId64, ver, task_run);
        snprintf(what, sizeof(what), "%s %s runs/get-output", door, ver);
        same_read(ENDPOINT_RUNS_GET_OUTPUT, via, path, what);
        snprintf(path, sizeof(path), "/api/%s/jobs/runs/export?run_id=%" PRId64, ver, task_run);
        snprintf(what, sizeof(what), "%s %s runs/export", door, ver);
        same_read(ENDPOINT_RUNS_EXPORT, via, path, what);
    }
    snprintf(path, sizeof(path), "/api/2.0/permissions/jobs/%" PRId64, job);
    snprintf(what, sizeof(what), "%s permissions get", door);
    same_read(ENDPOINT_PERMISSIONS_GET, via, path, what);
    snprintf(path, sizeof(path), "/api/2.0/permissions/jobs/%" PRId64 "/permissionLevels", job);
    snprintf(what, sizeof(what), "%s permission levels", door);
    same_read(ENDPOINT_PERMISSION_LEVELS, via, path, what);

    /* The workspace's errors, as it sent them. */
    snprintf(what, sizeof(what), "%s runs/get of an unknown run", door);
    same_read(ENDPOINT_RUNS_GET, via, "/api/2.2/jobs/runs/get?run_id=9999999", what);
    snprintf(what, sizeof(what), "%s jobs/get without job_id", door);
    same_read(ENDPOINT_JOBS_GET, via, "/api/2.2/jobs/get", what);
    snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get-output?run_id=%" PRId64, run);
    snprintf(what, sizeof(what), "%s get-output of a job run", door);
    same_read(ENDPOINT_RUNS_GET_OUTPUT, via, path, what);
    snprintf(what, sizeof(what), "%s runs/list limit 26", door);
    same_read(ENDPOINT_RUNS_LIST, via, "/api/2.2/jobs/runs/list?limit=26", what);
    snprintf(what, sizeof(what), "%s a page token with '=' and '/'", door);
    same_read(ENDPOINT_JOBS_LIST, via, "/api/2.2/jobs/list?page_token=YWJj%2Fde%3D%3D", what);
}

/* The last request fakews saw for an endpoint, from its request log. */
static struct json_object *last_request(const char *endpoint, struct fwt_resp *r)
{
    fwt_get(ws, r, "/__fake/requests?endpoint=%s", endpoint);
    struct json_object *list = fwt_path(r->json, "requests");
    size_t n = list ? json_object_array_length(list) : 0;
    return n ? json_object_array_get_idx(list, n - 1) : NULL;
}

static void test_writes(void)
{
    struct fwt *u = jd->unix_client;
    struct fwt_resp r, log;
    char body[512];

    /* create, update, reset, delete */
    is_int(call(u, "POST", "/api/2.2/jobs/create", "{\"name\":\"second\"}", &r), 200,
           "jobs/create through jobsd");
    job2 = fwt_int(r.json, "job_id");
    ok(job2 > (1LL << 53), "the new job id is exact above 2^53 (%" PRId64 ")", job2);
    fwt_resp_done(&r);
    cover(ENDPOINT_JOBS_CREATE);
    snprintf(body, sizeof(body),
             "{\"job_id\":%" PRId64 ",\"new_settings\":{\"description\":\"d1\"}}", job2);
    is_int(call(u, "POST", "/api/2.2/jobs/update", body, &r), 200, "jobs/update");
    is_str(r.body, "{}", "jobs/update answers {}");
    fwt_resp_done(&r);
    fwt_get(ws, &r, "/api/2.2/jobs/get?job_id=%" PRId64, job2);
    is_str(fwt_str(r.json, "settings.description"), "d1", "the update reached the workspace");
    fwt_resp_done(&r);
    cover(ENDPOINT_JOBS_UPDATE);
    snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 ",\"new_settings\":{\"name\":\"reset\"}}",
             job2);
    is_int(call(jd->tcp_client, "POST", "/api/2.1/jobs/reset", body, &r), 200,
           "jobs/reset over TCP on 2.1");
    fwt_resp_done(&r);
    fwt_get(ws, &r, "/api/2.2/jobs/get?job_id=%" PRId64, job2);
    is_str(fwt_str(r.json, "settings.name"), "reset", "the reset reached the workspace");
    ok(fwt_str(r.json, "settings.description") == NULL, "reset replaced every setting");
    fwt_resp_done(&r);
    cover(ENDPOINT_JOBS_RESET);

    /* run-now without a token: jobsd adds one; with one: passed unchanged. */
    snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 "}", job);
    is_int(call(u, "POST", "/api/2.2/jobs/run-now", body, &r), 200, "run-now through jobsd");
    int64_t r1 = fwt_int(r.json, "run_id");
    ok(r1 > 0 && fwt_path(r.json, "number_in_job") != NULL,
       "run-now answers run_id and number_in_job");
    fwt_resp_done(&r);
    struct json_object *seen = last_request("run_now", &log);
    const char *tok = fwt_str(seen, "idempotency_token");
    ok(tok && startswith(tok, "jobsd-") && strlen(tok) <= 64,
       "run-now reached the workspace with a jobsd idempotency token (%s)", tok ? tok : "none");
    fwt_resp_done(&log);
    snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 ",\"idempotency_token\":\"caller-1\"}",
             job);
    call(u, "POST", "/api/2.2/jobs/run-now", body, &r);
    int64_t r2 = fwt_int(r.json, "run_id");
    fwt_resp_done(&r);
    call(jd->tcp_client, "POST", "/api/2.2/jobs/run-now", body, &r);
    is_int(fwt_int(r.json, "run_id"), r2, "the caller's token repeated gives the same run");
    fwt_resp_done(&r);
    seen = last_request("run_now", &log);
    is_str(fwt_str(seen, "idempotency_token"), "caller-1",
           "the caller's token is passed unchanged");
    fwt_resp_done(&log);
    cover(ENDPOINT_RUN_NOW);

    is_int(call(u, "POST", "/api/2.2/jobs/runs/submit",
                "{\"run_name\":\"adhoc\",\"tasks\":[{\"task_key\":\"t\",\"notebook_task\":"
                "{\"notebook_path\":\"/x\"}}]}",
                &r),
           200, "runs/submit through jobsd");
    submit_run = fwt_int(r.json, "run_id");
    fwt_resp_done(&r);
    seen = last_request("submit", &log);
    tok = fwt_str(seen, "idempotency_token");
    ok(tok && startswith(tok, "jobsd-"), "runs/submit gained an idempotency token");
    fwt_resp_done(&log);
    cover(ENDPOINT_RUNS_SUBMIT);

    /* cancel, cancel-all on active runs */
    snprintf(body, sizeof(body), "{\"run_id\":%" PRId64 "}", r1);
    is_int(call(u, "POST", "/api/2.2/jobs/runs/cancel", body, &r), 200, "runs/cancel");
    fwt_resp_done(&r);
    fwt_advance(ws, 60 * 1000);
    is_str(fwt_life_cycle(ws, r1), "TERMINATED", "the cancelled run ended");
    cover(ENDPOINT_RUNS_CANCEL);
    snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 "}", job);
    is_int(call(u, "POST", "/api/2.2/jobs/runs/cancel-all", body, &r), 200, "runs/cancel-all");
    fwt_resp_done(&r);
    cover(ENDPOINT_RUNS_CANCEL_ALL);
    fwt_advance(ws, 10 * 60 * 1000);

    /* repair of the finished (cancelled) run, then delete it */
    snprintf(body, sizeof(body), "{\"run_id\":%" PRId64 ",\"rerun_all_failed_tasks\":true}", r1);
    long st = call(u, "POST", "/api/2.2/jobs/runs/repair", body, &r);
    struct fwt_resp direct;
    is_int(st, 200, "runs/repair through jobsd (%s)", r.body ? r.body : "");
    ok(fwt_int(r.json, "repair_id") > 0, "repair answers a repair_id");
    fwt_resp_done(&r);
    cover(ENDPOINT_RUNS_REPAIR);
    fwt_advance(ws, 10 * 60 * 1000);
    snprintf(body, sizeof(body), "{\"run_id\":%" PRId64 "}", r2);
    is_int(call(u, "POST", "/api/2.2/jobs/runs/delete", body, &r), 200, "runs/delete");
    fwt_resp_done(&r);
    fwt_get(ws, &direct, "/api/2.2/jobs/runs/get?run_id=%" PRId64, r2);
    is_int(direct.status, 400, "the deleted run is gone from the workspace");
    fwt_resp_done(&direct);
    cover(ENDPOINT_RUNS_DELETE);

    /* permissions PUT and PATCH */
    char path[128];
    snprintf(path, sizeof(path), "/api/2.0/permissions/jobs/%" PRId64, job2);
    is_int(call(u, "PATCH", path,
                "{\"access_control_list\":[{\"group_name\":\"data\",\"permission_level\":"
                "\"CAN_VIEW\"}]}",
                &r),
           200, "permissions PATCH");
    ok(r.body && strstr(r.body, "\"group_name\":\"data\""), "PATCH answers the new ACL");
    fwt_resp_done(&r);
    cover(ENDPOINT_PERMISSIONS_UPDATE);
    st = call(u, "PUT", path,
              "{\"access_control_list\":[{\"user_name\":\"a@b.c\",\"permission_level\":"
              "\"IS_OWNER\"}]}",
              &r);
    fwt_call(ws, "GET", path, NULL, NULL, &direct);
    is_int(st, 200, "permissions PUT");
    is_str(r.body, direct.body, "PUT answers what the workspace now holds");
    fwt_resp_done(&r);
    fwt_resp_done(&direct);
    cover(ENDPOINT_PERMISSIONS_SET);
    st = call(u, "PUT", path, "{\"access_control_list\":[]}", &r);
    is_int(st, 400, "a PUT leaving no owner is the workspace's 400");
    ok(r.body && strstr(r.body, "exactly one owner"), "with the workspace's message");
    fwt_resp_done(&r);

    /* delete last */
    snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 "}", job2);
    is_int(call(u, "POST", "/api/2.2/jobs/delete", body, &r), 200, "jobs/delete");
    fwt_resp_done(&r);
    fwt_get(ws, &direct, "/api/2.2/jobs/get?job_id=%" PRId64, job2);
    is_int(direct.status, 400, "the deleted job is gone");
    fwt_resp_done(&direct);
    cover(ENDPOINT_JOBS_DELETE);
}

static void test_headers(void)
{
    struct fwt_resp r, log;
    fwt_set_header(jd->unix_client, "X-Databricks-Workspace-Id: 424242");
    call(jd->unix_client, "GET", "/api/2.2/jobs/list", NULL, &r);
    fwt_resp_done(&r);
    fwt_set_header(jd->unix_client, NULL);
    struct json_object *seen = last_request("list", &log);
    is_str(fwt_str(seen, "workspace_id"), "424242", "X-Databricks-Workspace-Id is forwarded");
    const char *ua = fwt_str(seen, "user_agent");
    ok(ua && startswith(ua, "fwtest/1.0") && strstr(ua, "jobsd/"),
       "the caller's User-Agent is forwarded with jobsd's added (%s)", ua ? ua : "none");
    is_str(fwt_str(seen, "auth"), "pat", "the workspace saw the workspace token");
    fwt_resp_done(&log);

    /* The local token is never sent upstream, the workspace token never to
     * clients. */
    fwt_get(ws, &log, "/__fake/requests");
    ok(log.body && !strstr(log.body, jd->local_token),
       "the local token never reached the workspace");
    fwt_resp_done(&log);
    _cleanup_free_ char *jlog = jd_read_log(jd);
    ok(jlog && !strstr(jlog, FWT_TOKEN), "the workspace token is not in jobsd's log");
}

struct audit_seen {
    unsigned rows;
    bool run_now_ok, put_refused, tcp_reset, create_ok;
    int64_t run_now_run_id;
};

static int on_audit_row(const struct store_audit *a, void *userdata)
{
    struct audit_seen *seen = userdata;
    seen->rows++;
    if (streq(a->endpoint, "run_now") && a->http_status == 200 && streq_ptr(a->outcome, "ok") &&
        a->uid == getuid() && a->pid > 0 && a->job_id == job) {
        seen->run_now_ok = true;
        seen->run_now_run_id = a->run_id;
    }
    if (streq(a->endpoint, "set_permissions") && a->http_status == 400 &&
        streq_ptr(a->outcome, "INVALID_PARAMETER_VALUE") && a->job_id == job2)
        seen->put_refused = true;
    if (streq(a->endpoint, "reset") && a->uid == (uid_t)-1 && a->pid == 0 && a->job_id == job2)
        seen->tcp_reset = true;
    if (streq(a->endpoint, "create") && a->job_id == job2 && streq_ptr(a->outcome, "ok"))
        seen->create_ok = true;
    return 0;
}

/* Whether a file holds a string, as raw bytes. */
static bool file_has(const char *path, const char *needle)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct buf b = BUF_INIT(256 * MIB);
    char chunk[65536];
    ssize_t n;
    while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0)
        if (buf_append(&b, chunk, (size_t)n) < 0)
            break;
    bool found = b.len && memmem(b.data, b.len, needle, strlen(needle)) != NULL;
    buf_done(&b);
    return found;
}

static void test_audit(void)
{
    char path[400];
    struct store *st = NULL;
    struct audit_seen seen = { 0 };
    snprintf(path, sizeof(path), "%s/archive.db", jd->dir);
    is_int(store_open(path, 0, &st), 0, "the archive opens beside the running daemon");
    ok(store_audit_list(st, 0, 1000, on_audit_row, &seen) >= 0, "audit rows can be listed");
    ok(seen.rows >= 15, "every write left an audit row (%u)", seen.rows);
    ok(seen.run_now_ok, "run-now: uid, pid, job and ok are recorded");
    ok(seen.run_now_run_id > 0, "run-now: the run it started is recorded");
    ok(seen.create_ok, "jobs/create: the job it made is recorded");
    ok(seen.put_refused, "a refused permissions PUT records the workspace's error code");
    ok(seen.tcp_reset, "a write over TCP records an unidentified peer");
    store_free(st);
    static const char *const files[] = { "archive.db", "archive.db-wal" };
    for (size_t i = 0; i < ELEMENTSOF(files); i++) {
        snprintf(path, sizeof(path), "%s/%s", jd->dir, files[i]);
        ok(!file_has(path, FWT_TOKEN), "the workspace token is not in %s", files[i]);
        ok(!file_has(path, jd->local_token), "the local token is not in %s", files[i]);
    }
}

/* Every line of the exposition is a comment or "name{labels} value". */
static bool prometheus_lines_ok(const char *text, char *bad, size_t n)
{
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof(line), "%.*s", (int)MIN(len, sizeof(line) - 1), p);
        bool good = startswith(line, "# HELP ") || startswith(line, "# TYPE ");
        if (!good) {
            size_t i = strspn(line, "abcdefghijklmnopqrstuvwxyz_");
            if (i > 0 && line[i] == '{') {
                const char *close = strchr(line + i, '}');
                i = close ? (size_t)(close - line) + 1 : 0;
            }
            good = i > 0 && line[i] == ' ' && line[i + 1] &&
                   strspn(line + i + 1, "0123456789") == strlen(line + i + 1);
        }
        if (!good) {
            strscpy(bad, n, line);
            return false;
        }
        p = e ? e + 1 : p + len;
    }
    return true;
}

static void test_metrics(void)
{
    struct fwt_resp r;
    char bad[512] = "";
    is_int(fwt_call(jd->unix_client, "GET", "/metrics", NULL, "", &r), 200, "/metrics answers");
    ok(startswith(r.content_type, "text/plain; version=0.0.4") != NULL,
       "in the Prometheus text format (%s)", r.content_type);
    ok(r.body && prometheus_lines_ok(r.body, bad, sizeof(bad)), "every line parses ('%s')", bad);
    ok(r.body && strstr(r.body, "jobsd_requests_total{endpoint=\"get_run\",code=\"2xx\","
                                "source=\"upstream\"} "),
       "requests by endpoint, status and source");
    ok(r.body && strstr(r.body, "jobsd_requests_total{endpoint=\"get_run\",code=\"4xx\","
                                "source=\"upstream\"} "),
       "the workspace's errors are counted apart");
    ok(r.body && strstr(r.body, "jobsd_upstream_answers_total{endpoint=\"run_now\",code=\"2xx\"} "),
       "upstream answers by endpoint");
    ok(r.body && strstr(r.body, "jobsd_idempotency_tokens_added_total 2\n"),
       "two idempotency tokens added (run-now and submit without one)");
    ok(r.body && strstr(r.body, "jobsd_upstream_retries_total "), "retries");
    ok(r.body && strstr(r.body, "jobsd_upstream_limiter_tokens "), "the limiter");
    ok(r.body && strstr(r.body, "jobsd_archive_runs"), "archive rows");
    ok(r.body && !strstr(r.body, FWT_TOKEN), "no token in the metrics");
    fwt_resp_done(&r);
    is_int(fwt_call(jd->tcp_client, "GET", "/metrics", NULL, "nope", &r), 401,
           "/metrics on TCP needs the local token");
    fwt_resp_done(&r);
}

int main(void)
{
    const char *const fw_args[] = { "--clock", "manual", NULL };
    ws = fwt_start(fw_args);
    const char *const env[] = { "DATABRICKS_TOKEN=" FWT_TOKEN, NULL };
    const char *const args[] = { "--set", "upstream.max_attempts=2", "-l", "debug", NULL };
    jd = jd_start(fwt_port(ws), env, args);
    ok(jd->tcp_port > 0 && strlen(jd->local_token) == 64, "jobsd serves on TCP with a local token");

    job = fwt_create_job(ws, job_settings);
    run = fwt_run_now(ws, job);
    fwt_advance(ws, 3000);
    struct fwt_resp r;
    fwt_get(ws, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64, run);
    task_run = fwt_int(r.json, "tasks.0.run_id");
    fwt_resp_done(&r);
    fwt_advance(ws, 60 * 1000);
    ok(job && run && task_run, "a job with a finished run exists");

    test_reads(jd->unix_client, "unix");
    test_reads(jd->tcp_client, "tcp");
    test_writes();
    test_headers();
    test_audit();
    test_metrics();

    for (size_t i = 0; i < _ENDPOINT_MAX; i++) {
        const struct endpoint *e = &endpoint_table[i];
        if (e->scope == SCOPE_JOBS || e->scope == SCOPE_PERMISSIONS)
            ok(covered[i], "%s %s was tested through jobsd", http_method_to_string(e->method),
               e->pattern);
    }
    struct fwt_resp counters;
    fwt_get(ws, &counters, "/__fake/counters");
    for (size_t i = 0; i < _ENDPOINT_MAX; i++) {
        const struct endpoint *e = &endpoint_table[i];
        char key[96];
        snprintf(key, sizeof(key), "endpoints.%s", e->name);
        if (e->scope == SCOPE_JOBS || e->scope == SCOPE_PERMISSIONS)
            ok(fwt_int(counters.json, key) > 0, "fakews counted %s", e->name);
    }
    fwt_resp_done(&counters);

    is_int(jd_stop(jd), 0, "jobsd stops cleanly");
    is_int(fwt_stop(ws), 0, "fakews stops cleanly");
    return tap_done();
}
