/* tests/fakews/test-fakews-robust.c: bad input never crashes, never hangs
 * and always gets a JSON 4xx: odd bodies to every write endpoint, odd
 * queries to every read endpoint, extreme numbers on the clock. Run under
 * the sanitizers this also catches overflow and leaks. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto/endpoint.h"
#include "proto/strutil.h"
#include "tests/fakews/fwtest.h"
#include "tests/tap.h"

static const char *const bodies[] = {
    "{\"job_id\":null}",
    "{\"job_id\":-1}",
    "{\"job_id\":1e300}",
    "{\"job_id\":9223372036854775807}",
    "{\"job_id\":99999999999999999999}",
    "{\"job_id\":\"%J\"}",
    "{\"run_id\":%R,\"rerun_tasks\":5}",
    "{\"run_id\":%R,\"rerun_tasks\":[5,null]}",
    "{\"run_id\":%R,\"rerun_all_failed_tasks\":\"yes\"}",
    "{\"run_id\":%R,\"latest_repair_id\":-5,\"rerun_tasks\":[\"t\"]}",
    "{\"tasks\":null}",
    "{\"tasks\":5}",
    "{\"tasks\":[5]}",
    "{\"tasks\":[{\"task_key\":5}]}",
    "{\"tasks\":[{\"task_key\":\"\"}]}",
    "{\"tasks\":[{\"task_key\":\"a\",\"depends_on\":5}]}",
    "{\"tasks\":[{\"task_key\":\"a\",\"depends_on\":[5]}]}",
    "{\"tasks\":[{\"task_key\":\"a\",\"depends_on\":[{\"task_key\":\"a\"}]}]}",
    ("{\"tasks\":[{\"task_key\":\"a\",\"timeout_seconds\":9223372036854775807,\"notebook_task\":"
     "{\"notebook_path\":5,\"base_parameters\":{\"fake_duration_ms\":\"9223372036854775807\"}}}]}"),
    "{\"tasks\":[{\"task_key\":\"a\",\"notebook_task\":\"x\",\"run_if\":7,\"disabled\":\"no\"}]}",
    "{\"timeout_seconds\":9223372036854775807}",
    "{\"timeout_seconds\":-1}",
    "{\"name\":null,\"parameters\":5}",
    "{\"name\":5}",
    "{\"max_concurrent_runs\":-9223372036854775808}",
    "{\"job_id\":%J,\"new_settings\":5}",
    "{\"job_id\":%J,\"new_settings\":{\"tasks\":null,\"name\":null}}",
    "{\"job_id\":%J,\"new_settings\":{\"tasks\":[{\"task_key\":\"z\"},5]}}",
    "{\"job_id\":%J,\"fields_to_remove\":[1,null]}",
    "{\"job_id\":%J,\"fields_to_remove\":\"name\"}",
    "{\"job_id\":%J,\"only\":5}",
    "{\"job_id\":%J,\"only\":[5]}",
    "{\"job_id\":%J,\"job_parameters\":[1]}",
    "{\"job_id\":%J,\"notebook_params\":\"x\",\"jar_params\":{}}",
    "{\"job_id\":%J,\"idempotency_token\":5}",
    "{\"job_id\":%J,\"all_queued_runs\":\"true\"}",
    "{\"access_control_list\":5}",
    "{\"access_control_list\":[5]}",
    "{\"access_control_list\":[{\"user_name\":5,\"permission_level\":\"IS_OWNER\"}]}",
    "{\"access_control_list\":[{\"permission_level\":null}]}",
    "{\"run_name\":\"\\u0000x\",\"tasks\":[{\"task_key\":\"\\u0000\"}]}",
    "{\"a\":\"\xff\xfe\"}",
    ("{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]"
     "]"
     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"),
    "{}",
    "",
    "null",
    "\"str\"",
};

static const char *const queries[] = {
    "",
    "?run_id=",
    "?run_id=-1",
    "?run_id=99999999999999999999",
    "?run_id=%R&page_token=ffff",
    "?run_id=%R&page_token=673a39393939393939393a393939393939393939393939",
    "?job_id=%J&page_token=6a3a313a2d33",
    "?job_id=%J&limit=9223372036854775807",
    "?limit=-9223372036854775808&offset=9223372036854775807",
    "?start_time_from=-9223372036854775808&start_time_to=9223372036854775807",
    "?run_type=WHATEVER&expand_tasks=true&active_only=1",
    "?views_to_export=ALL&run_id=%R",
    ("?a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11&l=12&m=13&n=14&o=15&p=16&q=17&r=18&s=19&"
     "t=20&u=21&v=22&w=23&x=24&y=25&z=26&aa=27&bb=28&cc=29&dd=30&ee=31&ff=32&gg=33&hh=34"),
};

/* Replaces %J and %R with the ids. */
static void expand(const char *in, int64_t job, int64_t run, char *out, size_t n)
{
    struct buf b = BUF_INIT(8192);
    for (const char *p = in; *p; p++) {
        if (p[0] == '%' && p[1] == 'J') {
            buf_appendf(&b, "%" PRId64, job);
            p++;
        } else if (p[0] == '%' && p[1] == 'R') {
            buf_appendf(&b, "%" PRId64, run);
            p++;
        } else
            buf_append(&b, p, 1);
    }
    strscpy(out, n, b.data ? b.data : "");
    buf_done(&b);
}

int main(void)
{
    static const char *const args[] = { "--clock", "manual", NULL };
    struct fwt *f = fwt_start(args);
    struct fwt_resp r;
    int64_t job = fwt_create_job(f, "{\"name\":\"r\",\"tasks\":[{\"task_key\":\"t\","
                                    "\"notebook_task\":{\"notebook_path\":\"/n\"}}]}");
    int64_t run = fwt_run_now(f, job);
    fwt_advance(f, 60000);

    size_t bad = 0, total = 0;
    for (size_t i = 0; i < _ENDPOINT_MAX; i++) {
        const struct endpoint *e = &endpoint_table[i];
        if (e->scope == SCOPE_LOCAL)
            continue;
        char path[ENDPOINT_PATH_MAX];
        enum api_version v = e->versions & API_V22 ? API_V22 : e->versions ? API_V20 : 0;
        if (endpoint_format_path(e, v, job, path, sizeof(path)) < 0)
            continue;
        const char *method = http_method_to_string(e->method);
        if (e->method == HTTP_GET) {
            for (size_t q = 0; q < ELEMENTSOF(queries); q++) {
                char full[2048], qs[1024];
                expand(queries[q], job, run, qs, sizeof(qs));
                snprintf(full, sizeof(full), "%s%s", path, qs);
                fwt_call(f, "GET", full, NULL, NULL, &r);
                total++;
                if (r.status < 200 || r.status >= 500 || !r.json) {
                    bad++;
                    tap_diag("GET %s -> %ld %s", full, r.status, r.body ? r.body : "");
                }
                fwt_resp_done(&r);
            }
            continue;
        }
        for (size_t b = 0; b < ELEMENTSOF(bodies); b++) {
            char body[4096];
            expand(bodies[b], job, run, body, sizeof(body));
            fwt_call(f, method, path, body, NULL, &r);
            total++;
            bool json_expected = e->id != ENDPOINT_OIDC_TOKEN;
            if (r.status < 200 || r.status >= 500 || (json_expected && !r.json)) {
                bad++;
                tap_diag("%s %s %s -> %ld %s", method, path, body, r.status, r.body ? r.body : "");
            }
            fwt_resp_done(&r);
        }
    }
    is_int((int64_t)bad, 0, "%zu odd requests: every answer a JSON 2xx/4xx", total);

    /* odd task settings that pass the checks still run their course */
    static const char *const odd_jobs[] = {
        "{\"tasks\":[{\"task_key\":\"a\",\"for_each_task\":{\"inputs\":\"[[[[\",\"task\":5}}]}",
        "{\"tasks\":[{\"task_key\":\"a\",\"for_each_task\":{\"inputs\":5,\"concurrency\":-5,"
        "\"task\":{\"task_key\":\"i\"}}}]}",
        "{\"tasks\":[{\"task_key\":\"a\",\"for_each_task\":{\"inputs\":\"[]\",\"concurrency\":"
        "9223372036854775807,\"task\":{\"task_key\":\"i\"}}}]}",
        "{\"tasks\":[{\"task_key\":\"a\",\"run_job_task\":{\"job_id\":\"x\"}}]}",
        "{\"tasks\":[{\"task_key\":\"a\",\"run_job_task\":5}]}",
        "{\"tasks\":[{\"task_key\":\"a\",\"condition_task\":{\"op\":5,\"left\":null}}]}",
        "{\"tasks\":[{\"task_key\":\"a\",\"max_retries\":-1,\"min_retry_interval_millis\":"
        "-9223372036854775807,\"spark_python_task\":{\"python_file\":\"/fail\"}}]}",
        "{\"trigger\":{\"periodic\":{\"interval\":1,\"unit\":\"DAYS\"}},\"tasks\":[{"
        "\"task_key\":\"a\",\"max_retries\":3,\"spark_python_task\":{\"python_file\":\"/fail\"}}]}",
    };
    for (size_t i = 0; i < ELEMENTSOF(odd_jobs); i++) {
        int64_t j = fwt_create_job(f, odd_jobs[i]);
        int64_t rid = j ? fwt_run_now(f, j) : 0;
        ok(rid > 0, "odd job %zu runs", i);
        fwt_advance(f, 10 * 60 * 1000);
        fwt_get(f, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64 "&include_history=true", rid);
        ok(r.status == 200 && r.json, "and reads back");
        fwt_resp_done(&r);
    }

    /* anything that did start runs their course far into the future */
    fwt_advance(f, (int64_t)400 * 24 * 3600 * 1000);
    fwt_call(f, "POST", "/__fake/clock", "{\"advance_ms\":9223372036854775807}", "", &r);
    is_int(r.status, 400, "an absurd advance: 400");
    fwt_resp_done(&r);
    fwt_call(f, "POST", "/__fake/clock", "{\"now_ms\":-1}", "", &r);
    is_int(r.status, 400, "a negative now_ms: 400");
    fwt_resp_done(&r);
    fwt_call(f, "POST", "/__fake/runs/set", "{\"run_id\":1,\"duration_ms\":9223372036854775807}",
             "", &r);
    is_int(r.status, 400, "runs/set of an unknown run: 400");
    fwt_resp_done(&r);
    fwt_call(f, "POST", "/__fake/seed", "{\"jobs\":1,\"runs\":-5}", "", &r);
    is_int(r.status, 400, "seed with negative runs: 400");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/list");
    is_int(r.status, 200, "still serving");
    fwt_resp_done(&r);
    is_int(fwt_stop(f), 0, "clean exit");
    return tap_done();
}
