/* tests/fakews/test-fakews-scale.c: 100,000 historical and 10,000 active
 * runs in memory; lookups, lists and expiry stay right and quick. */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "proto/strutil.h"
#include "tests/fakews/fwtest.h"
#include "tests/tap.h"

#define DAY_MS ((int64_t)24 * 3600 * 1000)

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(void)
{
    static const char *const args[] = { "--clock", "manual", NULL };
    struct fwt *f = fwt_start(args);
    struct fwt_resp r;

    int64_t t = mono_ms();
    fwt_call(f, "POST", "/__fake/seed", "{\"jobs\":100,\"runs\":100000,\"active\":10000}", "", &r);
    is_int(r.status, 200, "seed 100,000 historical + 10,000 active runs");
    int64_t job = fwt_int(r.json, "job_ids.7");
    fwt_resp_done(&r);
    tap_diag("seeding took %" PRId64 " ms", mono_ms() - t);
    fwt_call(f, "GET", "/__fake/state", NULL, "", &r);
    is_int(fwt_int(r.json, "runs"), 110000, "110,000 job runs held");
    is_int(fwt_int(r.json, "scheduled"), 10000, "10,000 of them scheduled");
    fwt_resp_done(&r);

    fwt_get(f, &r, "/api/2.2/jobs/runs/list");
    is_int((int64_t)fwt_len(r.json, "runs"), 20, "runs/list without limit: 20");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?limit=0");
    is_int((int64_t)fwt_len(r.json, "runs"), 25, "limit=0: the maximum, 25");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?limit=26");
    is_str(fwt_str(r.json, "message"), "Invalid limit 26 - it has to be no more than 25.",
           "limit=26: the workspace's words");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?limit=25&active_only=true");
    is_int((int64_t)fwt_len(r.json, "runs"), 25, "active_only finds a page");
    int64_t active = fwt_int(r.json, "runs.0.run_id");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?limit=25&job_id=%" PRId64 "&completed_only=true", job);
    is_int((int64_t)fwt_len(r.json, "runs"), 25, "a job's history");
    ok(fwt_str(r.json, "next_page_token") != NULL, "with more pages");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/__fake/clock");
    int64_t now = fwt_int(r.json, "now_ms");
    fwt_resp_done(&r);
    /* one of the oldest: started 58 to 59 days ago */
    fwt_get(f, &r, "/api/2.2/jobs/runs/list?limit=25&start_time_to=%" PRId64, now - 58 * DAY_MS);
    int64_t old = fwt_int(r.json, "runs.0.run_id");
    ok(fwt_len(r.json, "runs") > 0, "runs from 58-59 days ago");
    fwt_resp_done(&r);

    t = mono_ms();
    int n = 2000, good = 0;
    for (int i = 0; i < n; i++) {
        fwt_get(f, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64, i % 2 ? active : old);
        good += r.status == 200;
        fwt_resp_done(&r);
    }
    int64_t took = mono_ms() - t;
    is_int(good, n, "2,000 runs/get all answered");
    tap_diag("sequential runs/get over one connection: %" PRId64 " req/s (wrk: tests/bench)",
             took > 0 ? (int64_t)n * 1000 / took : 0);

    /* a minute of simulated time moves 10,000 active runs along */
    t = mono_ms();
    fwt_advance(f, 60 * 1000);
    tap_diag("advancing 10,000 active runs by 60 s took %" PRId64 " ms", mono_ms() - t);
    is_str(fwt_life_cycle(f, active), "RUNNING", "the active runs are RUNNING");

    /* two days on, the history older than 60 days (one day of it) is gone */
    t = mono_ms();
    fwt_advance(f, 2 * DAY_MS);
    tap_diag("expiring took %" PRId64 " ms", mono_ms() - t);
    fwt_get(f, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64, old);
    is_int(r.status, 400, "an old run has expired");
    fwt_resp_done(&r);
    fwt_call(f, "GET", "/__fake/state", NULL, "", &r);
    ok(fwt_int(r.json, "runs") < 110000 - 1500, "a day of history dropped (%" PRId64 " left)",
       fwt_int(r.json, "runs"));
    fwt_resp_done(&r);
    is_int(fwt_stop(f), 0, "clean exit");
    return tap_done();
}
