/* Unit tests for client/runview and the progress lines of client/wait:
 * what a run or an event shows, and which exit status a result means. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/runview.h"
#include "client/wait.h"
#include "proto/json.h"
#include "tests/tap.h"

static struct json_object *parse(const char *s)
{
    struct json_object *o = NULL;
    json_parse(s, strlen(s), JSON_SIZE_MAX, JSON_DEPTH_MAX, &o, NULL);
    return o;
}

static void test_from_run(void)
{
    _cleanup_json_ struct json_object *o =
        parse("{\"run_id\":9007199255740993,\"run_name\":\"etl\",\"start_time\":1000,"
              "\"end_time\":0,\"state\":{\"life_cycle_state\":\"RUNNING\"},\"tasks\":["
              "{\"run_id\":2,\"state\":{\"life_cycle_state\":\"TERMINATED\",\"result_state\":"
              "\"SUCCESS\"}},{\"run_id\":3,\"state\":{\"life_cycle_state\":\"RUNNING\"}},"
              "{\"run_id\":4,\"status\":{\"state\":\"TERMINATED\",\"termination_details\":"
              "{\"code\":\"SKIPPED\"}}}]}");
    struct run_view v;
    char buf[96];
    is_int(run_view_from_run(o, &v), 0, "a run is read");
    is_int(v.run_id, 9007199255740993, "its 64-bit id is exact");
    is_str(v.name, "etl", "its name");
    is_str(run_view_state(&v, buf, sizeof(buf)), "RUNNING", "its state");
    is_int(v.tasks_total, 3, "three tasks");
    is_int(v.tasks_done, 2, "two are done (a status-only task counts)");
    ok(!v.terminal, "not terminal");
    is_int(run_view_elapsed(&v, 61000, 0), 60000, "elapsed from start_time");
    is_int(run_view_elapsed(&v, 61000, 500), 60500, "or from first seen when larger");
    is_int(run_view_elapsed(&v, 500, 0), 0, "never negative");

    _cleanup_json_ struct json_object *bad = parse("{\"run_name\":\"x\"}");
    is_int(run_view_from_run(bad, &v), -EBADMSG, "a run needs a run_id");
    _cleanup_json_ struct json_object *nostate = parse("{\"run_id\":5}");
    ok(run_view_from_run(nostate, &v) < 0, "a run needs a state");
}

static void test_from_event(void)
{
    _cleanup_json_ struct json_object *o =
        parse("{\"run_id\":7,\"job_id\":3,\"run_name\":\"n\",\"life_cycle_state\":\"TERMINATED\","
              "\"result_state\":\"FAILED\",\"tasks_total\":4,\"tasks_done\":4,\"start_time\":1000,"
              "\"end_time\":15000,\"time\":15001,\"terminal\":true}");
    struct run_view v;
    char buf[96];
    is_int(run_view_from_event(o, &v), 0, "an event is read");
    is_str(run_view_state(&v, buf, sizeof(buf)), "TERMINATED FAILED", "state and result");
    is_int(v.tasks_done * 10 + v.tasks_total, 44, "tasks");
    ok(v.terminal, "terminal");
    is_int(run_view_elapsed(&v, 99999, 0), 14000, "a finished run's time is end - start");
    is_int(run_view_exit_status(&v), EXIT_RUN_FAILED, "FAILED is exit 1");

    _cleanup_json_ struct json_object *p = parse("{\"run_id\":8,\"life_cycle_state\":\"SKIPPED\"}");
    is_int(run_view_from_event(p, &v), 0, "an event without terminal");
    ok(v.terminal, "takes it from the life cycle");
    _cleanup_json_ struct json_object *q = parse("{\"job_id\":8}");
    is_int(run_view_from_event(q, &v), -EBADMSG, "an event needs a run_id");
}

static void test_exit_status(void)
{
    static const struct {
        const char *result;
        enum exit_status e;
    } cases[] = {
        { "SUCCESS", EXIT_OK },
        { "FAILED", EXIT_RUN_FAILED },
        { "TIMEDOUT", EXIT_RUN_FAILED },
        { "SUCCESS_WITH_FAILURES", EXIT_RUN_FAILED },
        { "MAXIMUM_CONCURRENT_RUNS_REACHED", EXIT_RUN_FAILED },
        { "CANCELED", EXIT_RUN_CANCELED },
        { "UPSTREAM_CANCELED", EXIT_RUN_CANCELED },
        { "", EXIT_RUN_FAILED },
        { "SOMETHING_NEW", EXIT_RUN_FAILED },
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        struct run_view v = { .terminal = true };
        snprintf(v.result, sizeof(v.result), "%s", cases[i].result);
        is_int(run_view_exit_status(&v), cases[i].e, "result '%s'", cases[i].result);
    }
}

static void test_progress_lines(void)
{
    struct run_view v = { .run_id = 42, .tasks_total = 3, .tasks_done = 1, .start_ms = 1000 };
    struct buf b = BUF_INIT(4096);
    snprintf(v.name, sizeof(v.name), "nightly etl");
    snprintf(v.life_cycle, sizeof(v.life_cycle), "RUNNING");
    setenv("TZ", "UTC", 1);
    tzset();
    is_int(progress_line(&v, 1767225612000, 12000, &b), 0, "progress_line");
    is_str(b.data, "2026-01-01 00:00:12 run 42 \"nightly etl\" RUNNING 1/3 tasks 12s",
           "a timestamped line");
    buf_reset(&b);
    is_int(progress_live_line(&v, 72000, &b), 0, "progress_live_line");
    is_str(b.data, "run 42  RUNNING             1/3 tasks  1m12s   nightly etl", "a live line");
    buf_reset(&b);
    v.name[0] = 0;
    v.tasks_total = 0;
    snprintf(v.result, sizeof(v.result), "SUCCESS");
    snprintf(v.life_cycle, sizeof(v.life_cycle), "TERMINATED");
    progress_line(&v, 1767225612000, 14000, &b);
    is_str(b.data, "2026-01-01 00:00:12 run 42 TERMINATED SUCCESS 14s", "without a name or tasks");
    buf_done(&b);
}

int main(void)
{
    test_from_run();
    test_from_event();
    test_exit_status();
    test_progress_lines();
    return tap_done();
}
