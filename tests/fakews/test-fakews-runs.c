/* tests/fakews/test-fakews-runs.c: run-now and runs/submit, the state
 * machine on the manual clock (state and status, depends_on, run_if,
 * outcomes and durations), runs/get, runs/list, get-output, export,
 * idempotency, cancel, cancel-all, delete, repair, queueing, expiry. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/strutil.h"
#include "tests/fakews/fwtest.h"
#include "tests/tap.h"

#define DAY_MS ((int64_t)24 * 3600 * 1000)

static struct fwt *f;

static bool sim_active_state(const char *s)
{
    return s && (streq(s, "PENDING") || streq(s, "RUNNING") || streq(s, "QUEUED"));
}

static struct json_object *get_run(int64_t run_id, struct fwt_resp *r)
{
    fwt_get(f, r, "/api/2.2/jobs/runs/get?run_id=%" PRId64 "&include_history=true", run_id);
    return r->json;
}

static void expect_400(const char *method, const char *path, const char *body, const char *code,
                       const char *what)
{
    struct fwt_resp r;
    fwt_call(f, method, path, body, NULL, &r);
    is_int(r.status, 400, "%s: 400", what);
    is_str(fwt_str(r.json, "error_code"), code, "%s: %s", what, code);
    fwt_resp_done(&r);
}

static int64_t clock_now(void)
{
    struct fwt_resp r;
    fwt_get(f, &r, "/__fake/clock");
    int64_t now = fwt_int(r.json, "now_ms");
    fwt_resp_done(&r);
    return now;
}

static void test_lifecycle(void)
{
    struct fwt_resp r;
    int64_t job = fwt_create_job(
        f, "{\"name\":\"life\",\"tasks\":["
           "{\"task_key\":\"a\",\"notebook_task\":{\"notebook_path\":\"/Users/x/a\"}},"
           "{\"task_key\":\"b\",\"depends_on\":[{\"task_key\":\"a\"}],"
           "\"spark_python_task\":{\"python_file\":\"/b.py\"}}]}");
    int64_t t0 = clock_now();
    int64_t run = fwt_run_now(f, job);
    ok(run > ((int64_t)1 << 53), "run ids above 2^53");
    get_run(run, &r);
    is_str(fwt_str(r.json, "state.life_cycle_state"), "PENDING", "new run: PENDING");
    is_str(fwt_str(r.json, "status.state"), "PENDING", "status.state PENDING");
    is_int(fwt_int(r.json, "number_in_job"), run, "number_in_job = run_id");
    is_int(fwt_int(r.json, "job_id"), job, "job_id");
    is_int(fwt_int(r.json, "start_time"), t0, "start_time on the simulated clock");
    is_int(fwt_int(r.json, "end_time"), 0, "end_time 0 while running");
    is_str(fwt_str(r.json, "run_type"), "JOB_RUN", "run_type JOB_RUN");
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/?o=", (unsigned)fwt_port(f));
    ok(fwt_str(r.json, "run_page_url") && startswith(fwt_str(r.json, "run_page_url"), url),
       "run_page_url on the fake's own address");
    is_int((int64_t)fwt_len(r.json, "tasks"), 2, "two task runs");
    int64_t ta = fwt_int(r.json, "tasks.0.run_id"), tb = fwt_int(r.json, "tasks.1.run_id");
    ok(ta != run && tb != run && ta != tb, "task runs have their own ids");
    ok(!fwt_path(r.json, "state.result_state"), "no result_state while active");
    fwt_resp_done(&r);

    fwt_advance(f, 1000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "state.life_cycle_state"), "RUNNING", "+1 s: RUNNING");
    is_str(fwt_str(r.json, "tasks.0.state.life_cycle_state"), "PENDING", "a: PENDING (setup)");
    is_int(fwt_int(r.json, "tasks.0.start_time"), t0 + 1000, "a started at t0+1s exactly");
    is_str(fwt_str(r.json, "tasks.1.state.life_cycle_state"), "BLOCKED", "b: BLOCKED on a");
    is_str(fwt_str(r.json, "tasks.1.status.state"), "BLOCKED", "b: status BLOCKED");
    fwt_resp_done(&r);
    fwt_advance(f, 2000);
    is_str(fwt_life_cycle(f, run), "RUNNING", "+3 s: still RUNNING");
    get_run(run, &r);
    is_str(fwt_str(r.json, "tasks.0.state.life_cycle_state"), "RUNNING", "a: RUNNING");
    fwt_resp_done(&r);
    fwt_advance(f, 10000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "tasks.0.state.result_state"), "SUCCESS", "a: SUCCESS after 10 s");
    is_int(fwt_int(r.json, "tasks.0.execution_duration"), 10000, "a ran 10 s");
    is_int(fwt_int(r.json, "tasks.0.setup_duration"), 2000, "a set up 2 s");
    is_str(fwt_str(r.json, "tasks.1.state.life_cycle_state"), "PENDING", "b: started");
    fwt_resp_done(&r);
    fwt_advance(f, 12000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "state.life_cycle_state"), "TERMINATING", "all done: TERMINATING");
    is_str(fwt_str(r.json, "status.state"), "TERMINATING", "status TERMINATING");
    fwt_resp_done(&r);
    fwt_advance(f, 1000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "state.life_cycle_state"), "TERMINATED", "TERMINATED");
    is_str(fwt_str(r.json, "state.result_state"), "SUCCESS", "result SUCCESS");
    is_str(fwt_str(r.json, "status.state"), "TERMINATED", "status TERMINATED");
    is_str(fwt_str(r.json, "status.termination_details.code"), "SUCCESS", "termination SUCCESS");
    is_int(fwt_int(r.json, "end_time"), t0 + 26000, "end_time exact");
    is_int(fwt_int(r.json, "run_duration"), 26000, "run_duration");
    fwt_resp_done(&r);

    /* runs/get of a task run */
    fwt_get(f, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64, ta);
    is_int(r.status, 200, "runs/get accepts a task run id");
    is_int(fwt_int(r.json, "job_run_id"), run, "job_run_id points at the parent");
    is_str(fwt_str(r.json, "task_key"), "a", "task_key");
    fwt_resp_done(&r);

    /* get-output */
    fwt_get(f, &r, "/api/2.2/jobs/runs/get-output?run_id=%" PRId64, run);
    is_int(r.status, 400, "get-output of a job run: 400");
    is_str(fwt_str(r.json, "error_code"), "INVALID_PARAMETER_VALUE", "INVALID_PARAMETER_VALUE");
    is_str(fwt_str(r.json, "message"),
           "Retrieving the output of runs with multiple tasks is not supported. Please retrieve "
           "the output of each individual task run instead.",
           "the exact multi-task message");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get-output?run_id=%" PRId64, ta);
    is_int(r.status, 200, "get-output of a task run");
    is_int(fwt_int(r.json, "metadata.run_id"), ta, "metadata is the task run");
    ok(fwt_path(r.json, "notebook_output") && fwt_str(r.json, "notebook_output.result"),
       "notebook_output present with a result");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get-output?run_id=%" PRId64, tb);
    ok(fwt_str(r.json, "logs") != NULL, "python task: logs");
    ok(fwt_path(r.json, "logs_truncated") != NULL, "logs_truncated");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get-output?run_id=%" PRId64, run + 100000);
    is_int(r.status, 400, "get-output of an unknown run: 400");
    fwt_resp_done(&r);

    /* export */
    fwt_get(f, &r, "/api/2.2/jobs/runs/export?run_id=%" PRId64, ta);
    is_int(r.status, 200, "export of a notebook task run");
    is_str(fwt_str(r.json, "views.0.type"), "NOTEBOOK", "a NOTEBOOK view");
    is_str(fwt_str(r.json, "views.0.name"), "a", "named after the notebook");
    ok(fwt_str(r.json, "views.0.content") != NULL, "with content");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/export?run_id=%" PRId64 "&views_to_export=DASHBOARDS", ta);
    ok(r.status == 200 && !fwt_path(r.json, "views"), "DASHBOARDS: no views");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/export?run_id=%" PRId64, tb);
    is_int(r.status, 400, "export of a python task run: 400");
    fwt_resp_done(&r);
}

static void test_outcomes(void)
{
    struct fwt_resp r;
    int64_t job = fwt_create_job(
        f, "{\"name\":\"fail\",\"tasks\":["
           "{\"task_key\":\"bad\",\"spark_python_task\":{\"python_file\":\"/x/will_fail.py\"}},"
           "{\"task_key\":\"after\",\"depends_on\":[{\"task_key\":\"bad\"}],"
           "\"notebook_task\":{\"notebook_path\":\"/n\"}},"
           "{\"task_key\":\"always\",\"depends_on\":[{\"task_key\":\"bad\"}],\"run_if\":"
           "\"ALL_DONE\",\"notebook_task\":{\"notebook_path\":\"/n\",\"base_parameters\":"
           "{\"fake_duration_ms\":\"500\"}}},"
           "{\"task_key\":\"onfail\",\"depends_on\":[{\"task_key\":\"bad\"}],\"run_if\":"
           "\"AT_LEAST_ONE_FAILED\",\"notebook_task\":{\"notebook_path\":\"/n\"}},"
           "{\"task_key\":\"skip\",\"depends_on\":[{\"task_key\":\"bad\"}],\"run_if\":"
           "\"ALL_FAILED\",\"disabled\":true,\"notebook_task\":{\"notebook_path\":\"/n\"}}]}");
    int64_t run = fwt_run_now(f, job);
    fwt_advance(f, 1000 + 12000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "tasks.0.state.result_state"), "FAILED", "a path with 'fail' fails");
    is_str(fwt_str(r.json, "tasks.1.state.result_state"), "UPSTREAM_FAILED",
           "ALL_SUCCESS after a failure: UPSTREAM_FAILED");
    is_str(fwt_str(r.json, "tasks.2.state.life_cycle_state"), "PENDING", "ALL_DONE: runs");
    is_str(fwt_str(r.json, "tasks.3.state.life_cycle_state"), "PENDING",
           "AT_LEAST_ONE_FAILED: runs");
    is_str(fwt_str(r.json, "tasks.4.state.result_state"), "DISABLED", "disabled: DISABLED");
    int64_t bad = fwt_int(r.json, "tasks.0.run_id");
    fwt_resp_done(&r);
    fwt_advance(f, 2500);
    get_run(run, &r);
    is_str(fwt_str(r.json, "tasks.2.state.result_state"), "SUCCESS",
           "fake_duration_ms=500 ends it after 500 ms");
    is_int(fwt_int(r.json, "tasks.2.execution_duration"), 500, "execution_duration 500");
    is_str(fwt_str(r.json, "tasks.3.state.life_cycle_state"), "RUNNING", "the other still runs");
    fwt_resp_done(&r);
    fwt_advance(f, 20000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "state.result_state"), "FAILED", "the run FAILED");
    is_str(fwt_str(r.json, "state.state_message"),
           "Task bad failed with message: Workload failed, see run output for details.",
           "the run's message names the failed task");
    is_str(fwt_str(r.json, "status.termination_details.code"), "RUN_EXECUTION_ERROR",
           "termination RUN_EXECUTION_ERROR");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get-output?run_id=%" PRId64, bad);
    ok(fwt_str(r.json, "error") && fwt_str(r.json, "error_trace"),
       "a failed task has error and error_trace");
    fwt_resp_done(&r);

    /* outcome, duration and output set through the control endpoint */
    job = fwt_create_job(f, "{\"name\":\"set\",\"tasks\":[{\"task_key\":\"t\",\"notebook_task\":"
                            "{\"notebook_path\":\"/n\"}}]}");
    run = fwt_run_now(f, job);
    fwt_post(f, "/__fake/runs/set", &r,
             "{\"run_id\":%" PRId64 ",\"task_key\":\"t\",\"result_state\":\"FAILED\","
             "\"duration_ms\":100000,\"output\":{\"result\":\"hello\",\"truncated\":true,"
             "\"error\":\"boom\",\"error_trace\":\"trace\"}}",
             run);
    is_int(r.status, 200, "/__fake/runs/set");
    fwt_resp_done(&r);
    fwt_advance(f, 1000 + 2000 + 99000);
    is_str(fwt_life_cycle(f, run), "RUNNING", "a longer duration keeps it running");
    fwt_advance(f, 2000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "state.result_state"), "FAILED", "the set outcome");
    int64_t task = fwt_int(r.json, "tasks.0.run_id");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get-output?run_id=%" PRId64, task);
    is_str(fwt_str(r.json, "notebook_output.result"), "hello", "the set result");
    ok(json_object_get_boolean(fwt_path(r.json, "notebook_output.truncated")), "truncated");
    is_str(fwt_str(r.json, "error"), "boom", "the set error");
    is_str(fwt_str(r.json, "error_trace"), "trace", "the set error_trace");
    fwt_resp_done(&r);
}

static void test_idempotency_submit(void)
{
    struct fwt_resp r;
    int64_t job = fwt_create_job(f, "{\"name\":\"idem\",\"max_concurrent_runs\":10,\"tasks\":[{"
                                    "\"task_key\":\"t\",\"notebook_task\":"
                                    "{\"notebook_path\":\"/n\"}}]}");
    char body[200];
    snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 ",\"idempotency_token\":\"tok-1\"}", job);
    fwt_call(f, "POST", "/api/2.2/jobs/run-now", body, NULL, &r);
    int64_t a = fwt_int(r.json, "run_id");
    fwt_resp_done(&r);
    fwt_call(f, "POST", "/api/2.2/jobs/run-now", body, NULL, &r);
    is_int(r.status, 200, "a repeated token: 200");
    is_int(fwt_int(r.json, "run_id"), a, "the same run_id");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?job_id=%" PRId64, job);
    is_int((int64_t)fwt_len(r.json, "runs"), 1, "one run exists");
    fwt_resp_done(&r);
    snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 ",\"idempotency_token\":\"%065d\"}", job,
             0);
    expect_400("POST", "/api/2.2/jobs/run-now", body, "INVALID_PARAMETER_VALUE",
               "a 65-character token");
    expect_400("POST", "/api/2.2/jobs/run-now", "{\"job_id\":12345}", "INVALID_PARAMETER_VALUE",
               "run-now of an unknown job");
    expect_400("POST", "/api/2.2/jobs/run-now", "{}", "INVALID_PARAMETER_VALUE",
               "run-now without job_id");

    static const char submit[] =
        "{\"run_name\":\"once\",\"idempotency_token\":\"sub-1\",\"tasks\":[{\"task_key\":\"t\","
        "\"notebook_task\":{\"notebook_path\":\"/n\"}}]}";
    fwt_call(f, "POST", "/api/2.2/jobs/runs/submit", submit, NULL, &r);
    is_int(r.status, 200, "runs/submit");
    int64_t s = fwt_int(r.json, "run_id");
    ok(!fwt_path(r.json, "number_in_job"), "submit answers only run_id");
    fwt_resp_done(&r);
    fwt_call(f, "POST", "/api/2.2/jobs/runs/submit", submit, NULL, &r);
    is_int(fwt_int(r.json, "run_id"), s, "a repeated submit token: the same run");
    fwt_resp_done(&r);
    get_run(s, &r);
    is_str(fwt_str(r.json, "run_type"), "SUBMIT_RUN", "run_type SUBMIT_RUN");
    ok(!fwt_path(r.json, "job_id"), "no job_id");
    is_str(fwt_str(r.json, "run_name"), "once", "run_name");
    fwt_resp_done(&r);
    expect_400("POST", "/api/2.2/jobs/runs/submit",
               "{\"job_clusters\":[{\"job_cluster_key\":\"c\"}],\"tasks\":[{\"task_key\":\"t\"}]}",
               "INVALID_PARAMETER_VALUE", "submit with job_clusters");
    expect_400("POST", "/api/2.2/jobs/runs/submit", "{}", "INVALID_PARAMETER_VALUE",
               "submit without tasks");
    fwt_advance(f, 60000);
}

static void test_list(void)
{
    struct fwt_resp r;
    int64_t job = fwt_create_job(f, "{\"name\":\"lst\",\"max_concurrent_runs\":100,\"tasks\":[{"
                                    "\"task_key\":\"t\",\"notebook_task\":"
                                    "{\"notebook_path\":\"/n\"}}]}");
    int64_t runs[5], times[5];
    for (int i = 0; i < 5; i++) {
        times[i] = clock_now();
        runs[i] = fwt_run_now(f, job);
        fwt_advance(f, 4000);
    }
    /* runs[0..1] done by now? 4 s apart, each lasts 14 s: finish them all */
    fwt_advance(f, 20000);
    int64_t active = fwt_run_now(f, job);

    expect_400("GET", "/api/2.2/jobs/runs/list?limit=26", NULL, "INVALID_PARAMETER_VALUE",
               "runs/list limit=26");
    expect_400("GET", "/api/2.2/jobs/runs/list?limit=-3", NULL, "INVALID_PARAMETER_VALUE",
               "runs/list limit=-3");
    expect_400("GET", "/api/2.2/jobs/runs/list?active_only=true&completed_only=true", NULL,
               "INVALID_PARAMETER_VALUE", "active_only and completed_only");
    expect_400("GET", "/api/2.2/jobs/runs/list?active_only=maybe", NULL, "INVALID_PARAMETER_VALUE",
               "active_only=maybe");
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?limit=25");
    is_int(r.status, 200, "limit=25 is fine");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?limit=0&job_id=%" PRId64, job);
    is_int(r.status, 200, "limit=0 means the maximum");
    is_int((int64_t)fwt_len(r.json, "runs"), 6, "all six");
    is_int(fwt_int(r.json, "runs.0.run_id"), active, "most recently started first");
    ok(!fwt_path(r.json, "runs.0.tasks"), "no tasks without expand_tasks");
    ok(!json_object_get_boolean(fwt_path(r.json, "has_more")), "has_more false");
    ok(!fwt_path(r.json, "next_page_token"), "no next_page_token");
    fwt_resp_done(&r);

    fwt_get(f, &r, "/api/2.2/jobs/runs/list?active_only=true&job_id=%" PRId64, job);
    is_int((int64_t)fwt_len(r.json, "runs"), 1, "active_only");
    is_int(fwt_int(r.json, "runs.0.run_id"), active, "the active one");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?completed_only=true&job_id=%" PRId64, job);
    is_int((int64_t)fwt_len(r.json, "runs"), 5, "completed_only");
    fwt_resp_done(&r);
    fwt_get(f, &r,
            "/api/2.2/jobs/runs/list?job_id=%" PRId64 "&start_time_from=%" PRId64
            "&start_time_to=%" PRId64,
            job, times[1], times[3]);
    is_int((int64_t)fwt_len(r.json, "runs"), 3, "start_time_from/to, inclusive");
    is_int(fwt_int(r.json, "runs.0.run_id"), runs[3], "from runs[3]");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?run_type=SUBMIT_RUN&limit=25");
    ok(fwt_len(r.json, "runs") >= 1 && streq_ptr(fwt_str(r.json, "runs.0.run_type"), "SUBMIT_RUN"),
       "run_type=SUBMIT_RUN");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?expand_tasks=true&job_id=%" PRId64, job);
    is_int((int64_t)fwt_len(r.json, "runs.0.tasks"), 1, "expand_tasks adds tasks");
    fwt_resp_done(&r);

    /* pages of 2 */
    char token[256] = "";
    size_t total = 0, pages = 0;
    bool last_clean = false;
    for (; pages < 10; pages++) {
        fwt_get(f, &r, "/api/2.2/jobs/runs/list?limit=2&job_id=%" PRId64 "%s%s", job,
                *token ? "&page_token=" : "", token);
        total += fwt_len(r.json, "runs");
        const char *next = fwt_str(r.json, "next_page_token");
        if (!next) {
            last_clean = !json_object_get_boolean(fwt_path(r.json, "has_more")) &&
                         fwt_str(r.json, "prev_page_token");
            fwt_resp_done(&r);
            pages++;
            break;
        }
        strscpy(token, sizeof(token), next);
        fwt_resp_done(&r);
    }
    is_int((int64_t)total, 6, "6 runs over pages of 2");
    is_int((int64_t)pages, 3, "3 pages");
    ok(last_clean, "the last page: has_more false, no next token, a prev token");
    expect_400("GET", "/api/2.2/jobs/runs/list?page_token=nothex", NULL, "INVALID_PARAMETER_VALUE",
               "a bad page token");

    /* runs/get errors */
    expect_400("GET", "/api/2.2/jobs/runs/get", NULL, "INVALID_PARAMETER_VALUE",
               "runs/get without run_id");
    char path[128], msg[64];
    snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get?run_id=%" PRId64, active + 77777);
    fwt_get(f, &r, "%s", path);
    snprintf(msg, sizeof(msg), "Run %" PRId64 " does not exist.", active + 77777);
    is_int(r.status, 400, "unknown run: 400");
    is_str(fwt_str(r.json, "message"), msg, "the exact does-not-exist text");
    fwt_resp_done(&r);
    fwt_advance(f, 30000);
}

static void test_cancel_delete(void)
{
    struct fwt_resp r;
    int64_t job = fwt_create_job(f, "{\"name\":\"cx\",\"max_concurrent_runs\":3,\"tasks\":[{"
                                    "\"task_key\":\"t\",\"notebook_task\":"
                                    "{\"notebook_path\":\"/n\"}}]}");
    int64_t a = fwt_run_now(f, job);
    fwt_advance(f, 5000);
    fwt_post(f, "/api/2.2/jobs/runs/delete", &r, "{\"run_id\":%" PRId64 "}", a);
    is_int(r.status, 400, "deleting an active run: 400");
    is_str(fwt_str(r.json, "error_code"), "INVALID_STATE", "INVALID_STATE");
    fwt_resp_done(&r);
    fwt_post(f, "/api/2.2/jobs/runs/cancel", &r, "{\"run_id\":%" PRId64 "}", a);
    is_int(r.status, 200, "runs/cancel");
    is_str(r.body, "{}", "answers {}");
    fwt_resp_done(&r);
    get_run(a, &r);
    is_str(fwt_str(r.json, "state.life_cycle_state"), "TERMINATING", "cancel: TERMINATING");
    fwt_resp_done(&r);
    fwt_advance(f, 1000);
    get_run(a, &r);
    is_str(fwt_str(r.json, "state.result_state"), "CANCELED", "then CANCELED");
    ok(json_object_get_boolean(fwt_path(r.json, "state.user_cancelled_or_timedout")),
       "user_cancelled_or_timedout");
    is_str(fwt_str(r.json, "status.termination_details.code"), "USER_CANCELED", "USER_CANCELED");
    is_str(fwt_str(r.json, "tasks.0.state.result_state"), "CANCELED", "its task CANCELED");
    fwt_resp_done(&r);
    fwt_post(f, "/api/2.2/jobs/runs/cancel", &r, "{\"run_id\":%" PRId64 "}", a);
    is_int(r.status, 200, "cancel of a finished run: a no-op 200");
    fwt_resp_done(&r);
    is_str(fwt_life_cycle(f, a), "TERMINATED", "still TERMINATED");
    expect_400("POST", "/api/2.2/jobs/runs/cancel", "{\"run_id\":42}", "INVALID_PARAMETER_VALUE",
               "cancel of an unknown run");

    /* cancelling one task run */
    int64_t j2 = fwt_create_job(
        f, "{\"name\":\"cx2\",\"tasks\":[{\"task_key\":\"a\",\"notebook_task\":"
           "{\"notebook_path\":\"/n\"}},{\"task_key\":\"b\",\"depends_on\":[{\"task_key\":\"a\"}],"
           "\"notebook_task\":{\"notebook_path\":\"/n\"}}]}");
    int64_t tr = fwt_run_now(f, j2);
    fwt_advance(f, 4000);
    get_run(tr, &r);
    int64_t ta = fwt_int(r.json, "tasks.0.run_id");
    fwt_resp_done(&r);
    fwt_post(f, "/api/2.2/jobs/runs/cancel", &r, "{\"run_id\":%" PRId64 "}", ta);
    is_int(r.status, 200, "cancel of a task run");
    fwt_resp_done(&r);
    fwt_advance(f, 1000);
    get_run(tr, &r);
    is_str(fwt_str(r.json, "tasks.0.state.result_state"), "CANCELED", "that task CANCELED");
    is_str(fwt_str(r.json, "tasks.1.state.result_state"), "UPSTREAM_CANCELED",
           "its dependent UPSTREAM_CANCELED");
    is_str(fwt_str(r.json, "state.result_state"), "CANCELED", "the run CANCELED");
    fwt_resp_done(&r);

    int64_t b = fwt_run_now(f, job), c = fwt_run_now(f, job);
    fwt_post(f, "/api/2.2/jobs/runs/cancel-all", &r, "{\"job_id\":%" PRId64 "}", job);
    is_int(r.status, 200, "cancel-all");
    fwt_resp_done(&r);
    fwt_advance(f, 1000);
    get_run(b, &r);
    is_str(fwt_str(r.json, "state.result_state"), "CANCELED", "cancel-all: b cancelled");
    fwt_resp_done(&r);
    get_run(c, &r);
    is_str(fwt_str(r.json, "state.result_state"), "CANCELED", "cancel-all: c cancelled");
    fwt_resp_done(&r);
    expect_400("POST", "/api/2.2/jobs/runs/cancel-all", "{}", "INVALID_PARAMETER_VALUE",
               "cancel-all with neither job_id nor all_queued_runs");

    fwt_post(f, "/api/2.2/jobs/runs/delete", &r, "{\"run_id\":%" PRId64 "}", a);
    is_int(r.status, 200, "delete of a finished run");
    fwt_resp_done(&r);
    /* a deleted run's idempotency token stays reserved */
    int64_t d = 0;
    fwt_post(f, "/api/2.2/jobs/run-now", &r,
             "{\"job_id\":%" PRId64 ",\"idempotency_token\":\"del-tok\"}", job);
    d = fwt_int(r.json, "run_id");
    fwt_resp_done(&r);
    fwt_advance(f, 20000);
    fwt_post(f, "/api/2.2/jobs/runs/delete", &r, "{\"run_id\":%" PRId64 "}", d);
    fwt_resp_done(&r);
    fwt_post(f, "/api/2.2/jobs/run-now", &r,
             "{\"job_id\":%" PRId64 ",\"idempotency_token\":\"del-tok\"}", job);
    is_int(r.status, 400, "the token of a deleted run: 400");
    is_str(fwt_str(r.json, "error_code"), "INVALID_STATE", "INVALID_STATE");
    fwt_resp_done(&r);
    get_run(a, &r);
    is_int(r.status, 400, "deleted: runs/get says it does not exist");
    fwt_resp_done(&r);
}

static void test_queue(void)
{
    struct fwt_resp r;
    int64_t job = fwt_create_job(f, "{\"name\":\"q\",\"tasks\":[{\"task_key\":\"t\","
                                    "\"notebook_task\":{\"notebook_path\":\"/n\"}}]}");
    int64_t a = fwt_run_now(f, job), b = fwt_run_now(f, job), c = fwt_run_now(f, job);
    get_run(b, &r);
    is_str(fwt_str(r.json, "state.life_cycle_state"), "QUEUED", "over max_concurrent_runs: QUEUED");
    is_str(fwt_str(r.json, "status.state"), "QUEUED", "status QUEUED");
    is_str(fwt_str(r.json, "status.queue_details.code"), "MAX_CONCURRENT_RUNS_REACHED",
           "queue_details.code");
    fwt_resp_done(&r);
    fwt_post(f, "/api/2.2/jobs/runs/cancel-all", &r,
             "{\"job_id\":%" PRId64 ",\"all_queued_runs\":true}", job);
    is_int(r.status, 200, "cancel-all of queued runs");
    fwt_resp_done(&r);
    is_str(fwt_life_cycle(f, c), "TERMINATED", "a queued run is cancelled at once");
    is_str(fwt_life_cycle(f, a), "PENDING", "the active one is left alone");
    int64_t d = fwt_run_now(f, job);
    is_str(fwt_life_cycle(f, d), "QUEUED", "a new one queues");
    fwt_advance(f, 14000);
    is_str(fwt_life_cycle(f, a), "TERMINATED", "the first finishes");
    get_run(d, &r);
    is_str(fwt_str(r.json, "state.life_cycle_state"), "PENDING", "and the queued one starts");
    ok(fwt_int(r.json, "queue_duration") > 0, "with a queue_duration");
    fwt_resp_done(&r);
    (void)b;

    fwt_call(f, "POST", "/api/2.1/jobs/create",
             "{\"name\":\"noq\",\"tasks\":[{\"task_key\":\"t\",\"notebook_task\":"
             "{\"notebook_path\":\"/n\"}}]}",
             NULL, &r);
    int64_t noq = fwt_int(r.json, "job_id");
    fwt_resp_done(&r);
    fwt_run_now(f, noq);
    int64_t skipped = fwt_run_now(f, noq);
    get_run(skipped, &r);
    is_str(fwt_str(r.json, "state.life_cycle_state"), "SKIPPED", "without queueing: SKIPPED");
    is_str(fwt_str(r.json, "state.result_state"), "MAXIMUM_CONCURRENT_RUNS_REACHED",
           "MAXIMUM_CONCURRENT_RUNS_REACHED");
    is_str(fwt_str(r.json, "status.state"), "TERMINATED", "status TERMINATED");
    fwt_resp_done(&r);
    fwt_post(f, "/api/2.2/jobs/run-now", &r,
             "{\"job_id\":%" PRId64 ",\"queue\":{\"enabled\":true}}", noq);
    int64_t queued = fwt_int(r.json, "run_id");
    fwt_resp_done(&r);
    is_str(fwt_life_cycle(f, queued), "QUEUED", "run-now's queue.enabled overrides the job's");
    fwt_advance(f, 60000);
}

static void test_repair(void)
{
    struct fwt_resp r;
    int64_t job =
        fwt_create_job(f, "{\"name\":\"rep\",\"tasks\":["
                          "{\"task_key\":\"ok\",\"notebook_task\":{\"notebook_path\":\"/n\"}},"
                          "{\"task_key\":\"bad\",\"notebook_task\":{\"notebook_path\":\"/fail\"}},"
                          "{\"task_key\":\"down\",\"depends_on\":[{\"task_key\":\"bad\"}],"
                          "\"notebook_task\":{\"notebook_path\":\"/n\"}}]}");
    int64_t run = fwt_run_now(f, job);
    fwt_post(f, "/api/2.2/jobs/runs/repair", &r,
             "{\"run_id\":%" PRId64 ",\"rerun_all_failed_tasks\":true}", run);
    is_int(r.status, 400, "repair of an active run: 400");
    fwt_resp_done(&r);
    fwt_advance(f, 20000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "state.result_state"), "FAILED", "the run failed");
    int64_t old_bad = fwt_int(r.json, "tasks.1.run_id");
    fwt_resp_done(&r);

    fwt_post(f, "/api/2.2/jobs/runs/repair", &r,
             "{\"run_id\":%" PRId64 ",\"rerun_all_failed_tasks\":true,\"rerun_tasks\":[\"ok\"]}",
             run);
    is_int(r.status, 400, "rerun_tasks and rerun_all_failed_tasks together: 400");
    fwt_resp_done(&r);
    /* make the task pass this time: the job's current settings are used */
    fwt_post(f, "/api/2.2/jobs/update", &r,
             "{\"job_id\":%" PRId64 ",\"new_settings\":{\"tasks\":[{\"task_key\":\"bad\","
             "\"notebook_task\":{\"notebook_path\":\"/fixed\"}}]}}",
             job);
    fwt_resp_done(&r);
    fwt_post(f, "/api/2.2/jobs/runs/repair", &r,
             "{\"run_id\":%" PRId64 ",\"rerun_all_failed_tasks\":true}", run);
    is_int(r.status, 200, "repair");
    int64_t rep = fwt_int(r.json, "repair_id");
    ok(rep > 0, "a repair_id");
    fwt_resp_done(&r);
    get_run(run, &r);
    ok(sim_active_state(fwt_str(r.json, "state.life_cycle_state")), "the run is active again");
    ok(fwt_int(r.json, "tasks.1.run_id") != old_bad, "the failed task has a new task run");
    is_str(fwt_str(r.json, "tasks.0.state.result_state"), "SUCCESS", "the good task is kept");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64, old_bad);
    is_int(r.status, 200, "the old task run is still readable");
    fwt_resp_done(&r);
    fwt_advance(f, 30000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "state.result_state"), "SUCCESS", "repaired: SUCCESS");
    is_int((int64_t)fwt_len(r.json, "repair_history"), 2, "repair_history: ORIGINAL + REPAIR");
    is_str(fwt_str(r.json, "repair_history.0.type"), "ORIGINAL", "ORIGINAL first");
    is_str(fwt_str(r.json, "repair_history.0.state.result_state"), "FAILED",
           "the original's outcome");
    is_str(fwt_str(r.json, "repair_history.1.type"), "REPAIR", "then REPAIR");
    is_int(fwt_int(r.json, "repair_history.1.id"), rep, "with its id");
    is_int((int64_t)fwt_len(r.json, "repair_history.1.task_run_ids"), 2, "rerunning bad and down");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64, run);
    ok(!fwt_path(r.json, "repair_history"), "no repair_history without include_history");
    fwt_resp_done(&r);

    fwt_post(f, "/api/2.2/jobs/runs/repair", &r,
             "{\"run_id\":%" PRId64 ",\"rerun_tasks\":[\"ok\"]}", run);
    is_int(r.status, 400, "a second repair without latest_repair_id: 400");
    fwt_resp_done(&r);
    fwt_post(f, "/api/2.2/jobs/runs/repair", &r,
             "{\"run_id\":%" PRId64 ",\"rerun_tasks\":[\"nope\"],\"latest_repair_id\":%" PRId64 "}",
             run, rep);
    is_int(r.status, 400, "an unknown task key: 400");
    fwt_resp_done(&r);
    fwt_post(f, "/api/2.2/jobs/runs/repair", &r,
             "{\"run_id\":%" PRId64 ",\"rerun_tasks\":[\"ok\"],\"latest_repair_id\":%" PRId64 "}",
             run, rep);
    is_int(r.status, 200, "with latest_repair_id: 200");
    fwt_resp_done(&r);
    fwt_advance(f, 30000);
}

static void test_timeout_and_paging(void)
{
    struct fwt_resp r;
    int64_t job = fwt_create_job(f, "{\"name\":\"to\",\"timeout_seconds\":5,\"tasks\":[{"
                                    "\"task_key\":\"t\",\"notebook_task\":"
                                    "{\"notebook_path\":\"/n\"}}]}");
    int64_t run = fwt_run_now(f, job);
    fwt_advance(f, 7000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "state.result_state"), "TIMEDOUT", "the job's timeout: TIMEDOUT");
    is_str(fwt_str(r.json, "tasks.0.state.result_state"), "TIMEDOUT", "its task TIMEDOUT");
    fwt_resp_done(&r);

    struct buf b = BUF_INIT(1 * MIB);
    buf_appendf(&b, "{\"name\":\"wide\",\"tasks\":[");
    for (int i = 0; i < 130; i++)
        buf_appendf(&b, "%s{\"task_key\":\"t%d\",\"notebook_task\":{\"notebook_path\":\"/n\"}}",
                    i ? "," : "", i);
    buf_appendf(&b, "]}");
    job = fwt_create_job(f, b.data);
    buf_done(&b);
    run = fwt_run_now(f, job);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64, run);
    is_int((int64_t)fwt_len(r.json, "tasks"), 100, "runs/get: 100 tasks on page 1");
    char token[256];
    strscpy(token, sizeof(token), fwt_str(r.json, "next_page_token") ?: "");
    ok(*token, "and a next_page_token");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64 "&page_token=%s", run, token);
    is_int((int64_t)fwt_len(r.json, "tasks"), 30, "30 on page 2");
    ok(!fwt_path(r.json, "next_page_token"), "no token on the last page");
    ok(fwt_path(r.json, "state.life_cycle_state") != NULL, "state on every page");
    fwt_resp_done(&r);
    fwt_advance(f, 60000);
}

static void test_retries_conditions(void)
{
    struct fwt_resp r;
    int64_t job = fwt_create_job(
        f, "{\"name\":\"retry\",\"tasks\":[{\"task_key\":\"flaky\",\"max_retries\":2,"
           "\"min_retry_interval_millis\":5000,\"spark_python_task\":{\"python_file\":"
           "\"/fail.py\"}}]}");
    int64_t run = fwt_run_now(f, job);
    fwt_advance(f, 1000 + 2000 + 10000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "tasks.0.state.life_cycle_state"), "WAITING_FOR_RETRY",
           "a failed attempt with retries left: WAITING_FOR_RETRY");
    is_str(fwt_str(r.json, "tasks.0.status.state"), "WAITING", "status WAITING");
    is_int(fwt_int(r.json, "tasks.0.attempt_number"), 1, "attempt_number 1");
    is_str(fwt_str(r.json, "state.life_cycle_state"), "RUNNING", "the run goes on");
    int64_t second = fwt_int(r.json, "tasks.0.run_id");
    fwt_resp_done(&r);
    fwt_advance(f, 5000);
    is_str(fwt_life_cycle(f, second), "PENDING", "after min_retry_interval_millis: PENDING");
    fwt_get(f, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64, second);
    int64_t first = fwt_int(r.json, "original_attempt_run_id");
    ok(first != second, "original_attempt_run_id names the first attempt");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64, first);
    is_str(fwt_str(r.json, "state.result_state"), "FAILED", "the first attempt stays FAILED");
    is_int(fwt_int(r.json, "attempt_number"), 0, "attempt 0");
    fwt_resp_done(&r);
    fwt_post(f, "/__fake/runs/set", &r,
             "{\"run_id\":%" PRId64 ",\"task_key\":\"flaky\",\"result_state\":\"SUCCESS\"}", run);
    fwt_resp_done(&r);
    fwt_advance(f, 13000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "state.result_state"), "SUCCESS", "the retry succeeded: SUCCESS");
    fwt_resp_done(&r);

    job = fwt_create_job(
        f, "{\"name\":\"cond\",\"tasks\":["
           "{\"task_key\":\"c\",\"condition_task\":{\"op\":\"GREATER_THAN\",\"left\":\"10\","
           "\"right\":\"9\"}},"
           "{\"task_key\":\"yes\",\"depends_on\":[{\"task_key\":\"c\",\"outcome\":\"true\"}],"
           "\"notebook_task\":{\"notebook_path\":\"/n\"}},"
           "{\"task_key\":\"no\",\"depends_on\":[{\"task_key\":\"c\",\"outcome\":\"false\"}],"
           "\"notebook_task\":{\"notebook_path\":\"/n\"}}]}");
    run = fwt_run_now(f, job);
    fwt_advance(f, 1000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "tasks.0.state.result_state"), "SUCCESS",
           "a condition task ends at once");
    is_str(fwt_str(r.json, "tasks.0.condition_task.outcome"), "true",
           "10 > 9 compared as numbers: outcome true");
    is_str(fwt_str(r.json, "tasks.1.state.life_cycle_state"), "PENDING", "the true branch runs");
    is_str(fwt_str(r.json, "tasks.2.state.result_state"), "EXCLUDED", "the false branch: EXCLUDED");
    fwt_resp_done(&r);
    fwt_advance(f, 14000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "state.result_state"), "SUCCESS", "the run: SUCCESS");
    fwt_resp_done(&r);
}

static void test_only(void)
{
    static const struct {
        const char *only;
        const char *keys;
    } cases[] = {
        { "[\"b\"]", "b" },       { "[\"+b\"]", "a,b" },      { "[\"b+\"]", "b,c" },
        { "[\"+b+\"]", "a,b,c" }, { "[\"d\",\"a\"]", "a,d" }, { "[]", "a,b,c,d" },
    };
    struct fwt_resp r;
    int64_t only_b = 0;
    int64_t job = fwt_create_job(
        f, "{\"name\":\"only\",\"max_concurrent_runs\":50,\"tasks\":["
           "{\"task_key\":\"a\",\"notebook_task\":{\"notebook_path\":\"/n\"}},"
           "{\"task_key\":\"b\",\"depends_on\":[{\"task_key\":\"a\"}],\"notebook_task\":"
           "{\"notebook_path\":\"/n\"}},"
           "{\"task_key\":\"c\",\"depends_on\":[{\"task_key\":\"b\"}],\"notebook_task\":"
           "{\"notebook_path\":\"/n\"}},"
           "{\"task_key\":\"d\",\"notebook_task\":{\"notebook_path\":\"/n\"}}]}");
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        fwt_post(f, "/api/2.2/jobs/run-now", &r, "{\"job_id\":%" PRId64 ",\"only\":%s}", job,
                 cases[i].only);
        int64_t run = fwt_int(r.json, "run_id");
        if (i == 0)
            only_b = run;
        fwt_resp_done(&r);
        get_run(run, &r);
        char keys[64] = "";
        for (size_t t = 0; t < fwt_len(r.json, "tasks"); t++) {
            char p[48];
            snprintf(p, sizeof(p), "tasks.%zu.task_key", t);
            if (*keys)
                strncat(keys, ",", sizeof(keys) - strlen(keys) - 1);
            strncat(keys, fwt_str(r.json, p) ?: "?", sizeof(keys) - strlen(keys) - 1);
        }
        is_str(keys, cases[i].keys, "only %s runs %s", cases[i].only, cases[i].keys);
        fwt_resp_done(&r);
    }
    char body[128];
    snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 ",\"only\":[\"zz\"]}", job);
    expect_400("POST", "/api/2.2/jobs/run-now", body, "INVALID_PARAMETER_VALUE",
               "only with an unknown task");
    fwt_advance(f, 60000);
    get_run(only_b, &r);
    is_str(fwt_str(r.json, "tasks.0.state.result_state"), "SUCCESS",
           "only b: b ran (its missing upstream task is no condition)");
    is_int(fwt_int(r.json, "tasks.0.execution_duration"), 10000, "for its full duration");
    fwt_resp_done(&r);
}

static void test_periodic(void)
{
    struct fwt_resp r;
    int64_t job = fwt_create_job(
        f, "{\"name\":\"every-minute\",\"trigger\":{\"periodic\":{\"interval\":1,\"unit\":"
           "\"MINUTES\"}},\"tasks\":[{\"task_key\":\"t\",\"notebook_task\":"
           "{\"notebook_path\":\"/n\"}}]}");
    fwt_advance(f, 59999);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?job_id=%" PRId64, job);
    ok(!fwt_path(r.json, "runs"), "no run before the first period");
    fwt_resp_done(&r);
    fwt_advance(f, 1);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?job_id=%" PRId64, job);
    is_int((int64_t)fwt_len(r.json, "runs"), 1, "a run after one minute");
    is_str(fwt_str(r.json, "runs.0.trigger"), "PERIODIC", "trigger PERIODIC");
    fwt_resp_done(&r);
    fwt_advance(f, 2 * 60000);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?job_id=%" PRId64, job);
    is_int((int64_t)fwt_len(r.json, "runs"), 3, "one more per minute");
    fwt_resp_done(&r);
    fwt_post(f, "/api/2.2/jobs/update", &r,
             "{\"job_id\":%" PRId64 ",\"new_settings\":{\"trigger\":{\"pause_status\":"
             "\"PAUSED\",\"periodic\":{\"interval\":1,\"unit\":\"MINUTES\"}}}}",
             job);
    fwt_resp_done(&r);
    fwt_advance(f, 5 * 60000);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?job_id=%" PRId64, job);
    is_int((int64_t)fwt_len(r.json, "runs"), 3, "paused: no more runs");
    fwt_resp_done(&r);
    expect_400("POST", "/api/2.2/jobs/create",
               "{\"trigger\":{\"periodic\":{\"interval\":1,\"unit\":\"YEARS\"}}}",
               "INVALID_PARAMETER_VALUE", "a periodic trigger in YEARS");
    fwt_post(f, "/api/2.2/jobs/delete", &r, "{\"job_id\":%" PRId64 "}", job);
    fwt_resp_done(&r);
}

static void test_run_job_task(void)
{
    struct fwt_resp r;
    int64_t child_job = fwt_create_job(
        f, "{\"name\":\"child\",\"parameters\":[{\"name\":\"fake_duration_ms\",\"default\":"
           "\"10000\"}],\"tasks\":[{\"task_key\":\"c\",\"notebook_task\":{\"notebook_path\":"
           "\"/n\"}}]}");
    char body[512];
    snprintf(body, sizeof(body),
             "{\"name\":\"parent\",\"tasks\":[{\"task_key\":\"call\",\"run_job_task\":{"
             "\"job_id\":%" PRId64 ",\"job_parameters\":{\"fake_duration_ms\":\"30000\"}}}]}",
             child_job);
    int64_t parent = fwt_run_now(f, fwt_create_job(f, body));
    fwt_advance(f, 3000);
    get_run(parent, &r);
    is_str(fwt_str(r.json, "tasks.0.state.life_cycle_state"), "RUNNING", "run_job_task: RUNNING");
    int64_t task = fwt_int(r.json, "tasks.0.run_id");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?job_id=%" PRId64, child_job);
    is_int((int64_t)fwt_len(r.json, "runs"), 1, "it started a run of its job");
    is_str(fwt_str(r.json, "runs.0.trigger"), "RUN_JOB_TASK", "trigger RUN_JOB_TASK");
    int64_t child = fwt_int(r.json, "runs.0.run_id");
    fwt_resp_done(&r);
    fwt_advance(f, 1000 + 2000 + 20000);
    is_str(fwt_life_cycle(f, parent), "RUNNING",
           "the task waits for its child (job_parameters passed: 30 s)");
    fwt_advance(f, 12000);
    is_str(fwt_life_cycle(f, child), "TERMINATED", "the child ended");
    get_run(parent, &r);
    is_str(fwt_str(r.json, "tasks.0.state.result_state"), "SUCCESS", "and so did the task");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get-output?run_id=%" PRId64, task);
    is_int(fwt_int(r.json, "run_job_output.run_id"), child, "get-output: run_job_output.run_id");
    fwt_resp_done(&r);
    fwt_advance(f, 2000);
    is_str(fwt_life_cycle(f, parent), "TERMINATED", "the parent run ends");

    /* cancelling the parent cancels the child */
    parent = fwt_run_now(f, fwt_create_job(f, body));
    fwt_advance(f, 3000);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?limit=1&job_id=%" PRId64, child_job);
    child = fwt_int(r.json, "runs.0.run_id");
    fwt_resp_done(&r);
    fwt_post(f, "/api/2.2/jobs/runs/cancel", &r, "{\"run_id\":%" PRId64 "}", parent);
    fwt_resp_done(&r);
    fwt_advance(f, 2000);
    get_run(child, &r);
    is_str(fwt_str(r.json, "state.result_state"), "CANCELED",
           "cancelling the parent cancels the child");
    fwt_resp_done(&r);
}

static void test_for_each(void)
{
    struct fwt_resp r;
    int64_t job = fwt_create_job(
        f, "{\"name\":\"fe\",\"tasks\":[{\"task_key\":\"loop\",\"for_each_task\":{\"inputs\":"
           "\"[1,2,3,4,5]\",\"concurrency\":2,\"task\":{\"task_key\":\"inner\",\"notebook_task\":{"
           "\"notebook_path\":\"/n\",\"base_parameters\":{\"fake_duration_ms\":\"1000\"}}}}}]}");
    int64_t run = fwt_run_now(f, job);
    fwt_advance(f, 3000);
    get_run(run, &r);
    is_int(fwt_int(r.json, "tasks.0.for_each_task.stats.task_run_stats.total_iterations"), 5,
           "for_each_task: 5 iterations");
    is_int(fwt_int(r.json, "tasks.0.for_each_task.stats.task_run_stats.active_iterations"), 2,
           "concurrency 2: 2 active");
    int64_t loop = fwt_int(r.json, "tasks.0.run_id");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64, loop);
    is_int((int64_t)fwt_len(r.json, "iterations"), 5,
           "runs/get of the for-each task run: iterations");
    is_int((int64_t)fwt_len(r.json, "tasks"), 1, "and tasks holds only the for-each task");
    is_str(fwt_str(r.json, "iterations.0.task_key"), "inner", "an iteration runs the inner task");
    is_str(fwt_str(r.json, "iterations.2.state.life_cycle_state"), "BLOCKED",
           "the third waits its turn");
    fwt_resp_done(&r);
    fwt_advance(f, 9000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "tasks.0.state.result_state"), "SUCCESS",
           "all iterations done: SUCCESS");
    is_int(fwt_int(r.json, "tasks.0.for_each_task.stats.task_run_stats.succeeded_iterations"), 5,
           "5 succeeded");
    is_int(fwt_int(r.json, "tasks.0.execution_duration"), 9000,
           "three rounds of 3 s (2 s setup + 1 s)");
    fwt_resp_done(&r);

    job = fwt_create_job(
        f, "{\"name\":\"fe-fail\",\"max_concurrent_runs\":5,\"tasks\":[{\"task_key\":\"loop\","
           "\"for_each_task\":{\"inputs\":\"[1,2]\",\"task\":{\"task_key\":\"inner\","
           "\"notebook_task\":{\"notebook_path\":\"/fail\"}}}},{\"task_key\":\"refs\","
           "\"for_each_task\":{\"inputs\":\"{{tasks.x.values}}\",\"task\":{\"task_key\":\"i2\","
           "\"notebook_task\":{\"notebook_path\":\"/n\"}}}}]}");
    run = fwt_run_now(f, job);
    fwt_advance(f, 60000);
    get_run(run, &r);
    is_str(fwt_str(r.json, "tasks.0.state.result_state"), "FAILED", "a failed iteration fails it");
    is_int(fwt_int(r.json, "tasks.0.for_each_task.stats.task_run_stats.failed_iterations"), 2,
           "failed_iterations");
    is_str(fwt_str(r.json, "tasks.1.state.result_state"), "FAILED",
           "inputs that are not a JSON array: FAILED");
    fwt_resp_done(&r);

    struct buf b = BUF_INIT(4096);
    buf_appendf(&b, "[");
    for (int i = 0; i < 150; i++)
        buf_appendf(&b, "%s%d", i ? "," : "", i);
    buf_appendf(&b, "]");
    char body[4096];
    snprintf(body, sizeof(body),
             "{\"name\":\"fe-wide\",\"tasks\":[{\"task_key\":\"loop\",\"for_each_task\":{"
             "\"inputs\":\"%s\",\"concurrency\":200,\"task\":{\"task_key\":\"inner\","
             "\"notebook_task\":{\"notebook_path\":\"/n\"}}}}]}",
             b.data);
    buf_done(&b);
    run = fwt_run_now(f, fwt_create_job(f, body));
    fwt_advance(f, 3000);
    get_run(run, &r);
    loop = fwt_int(r.json, "tasks.0.run_id");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64, loop);
    is_int((int64_t)fwt_len(r.json, "iterations"), 100, "150 iterations: 100 on page 1");
    char token[256];
    strscpy(token, sizeof(token), fwt_str(r.json, "next_page_token") ?: "");
    ok(*token, "and a next_page_token");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64 "&page_token=%s", loop, token);
    is_int((int64_t)fwt_len(r.json, "iterations"), 50, "50 on page 2");
    ok(!fwt_path(r.json, "next_page_token"), "no token after them");
    fwt_resp_done(&r);
    fwt_advance(f, 60000);
}

static void test_expiry(void)
{
    struct fwt_resp r;
    int64_t job = fwt_create_job(f, "{\"name\":\"old\",\"tasks\":[{\"task_key\":\"t\","
                                    "\"notebook_task\":{\"notebook_path\":\"/n\"}}]}");
    char body[128];
    snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 ",\"idempotency_token\":\"old-tok\"}", job);
    fwt_call(f, "POST", "/api/2.2/jobs/run-now", body, NULL, &r);
    int64_t run = fwt_int(r.json, "run_id");
    fwt_resp_done(&r);
    fwt_advance(f, 59 * DAY_MS);
    is_str(fwt_life_cycle(f, run), "TERMINATED", "59 days later it is still there");
    fwt_advance(f, 1 * DAY_MS);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64, run);
    is_int(r.status, 400, "60 days later: gone");
    char msg[64];
    snprintf(msg, sizeof(msg), "Run %" PRId64 " does not exist.", run);
    is_str(fwt_str(r.json, "message"), msg, "with the real does-not-exist error");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?job_id=%" PRId64, job);
    ok(!fwt_path(r.json, "runs"), "and not listed");
    fwt_resp_done(&r);
    fwt_call(f, "POST", "/api/2.2/jobs/run-now", body, NULL, &r);
    ok(r.status == 200 && fwt_int(r.json, "run_id") != run,
       "an expired run's idempotency token is free again");
    fwt_resp_done(&r);
}

int main(void)
{
    static const char *const args[] = { "--clock", "manual", NULL };
    f = fwt_start(args);
    test_lifecycle();
    test_outcomes();
    test_idempotency_submit();
    test_list();
    test_cancel_delete();
    test_queue();
    test_repair();
    test_timeout_and_paging();
    test_retries_conditions();
    test_only();
    test_periodic();
    test_run_job_task();
    test_for_each();
    test_expiry();
    is_int(fwt_stop(f), 0, "clean exit");
    return tap_done();
}
