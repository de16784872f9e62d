/* tests/unit/test-db-merge.c: the rules of db/merge.h on JSON objects. */
#include <errno.h>
#include <string.h>

#include "db/merge.h"
#include "tests/unit/db-testutil.h"

#define RUN(lc, extra)                                                                             \
    "{\"run_id\":7,\"job_id\":3,\"start_time\":1000,\"state\":{\"life_cycle_state\":\"" lc         \
    "\"}" extra "}"

static struct run_view view(const char *text)
{
    struct run_view v;
    struct json_error err;
    _cleanup_json_ struct json_object *o = J(text);
    int r = run_view_read(o, &v, &err);
    if (r < 0) {
        fprintf(stderr, "run_view_read: %s\n", err.message);
        abort();
    }
    v.run_name = v.trigger = v.run_type = NULL; /* borrowed from o */
    return v;
}

int main(void)
{
    struct run_view v;
    struct json_error err;
    _cleanup_json_ struct json_object *o =
        J("{\"run_id\":9007199254740993,\"job_id\":5,\"run_name\":\"n\",\"trigger\":\"PERIODIC\","
          "\"state\":{\"life_cycle_state\":\"TERMINATED\",\"result_state\":\"FAILED\"},"
          "\"tasks\":[{\"run_id\":20},{\"run_id\":30}],\"next_page_token\":\"x\","
          "\"repair_history\":[{\"type\":\"ORIGINAL\",\"id\":1},{\"type\":\"REPAIR\",\"id\":44}]}");
    is_int(run_view_read(o, &v, &err), 0, "run_view_read");
    is_int(v.run_id, 9007199254740993LL, "run_id exact beyond 2^53");
    is_int(v.life_cycle, LIFE_CYCLE_TERMINATED, "life cycle");
    is_int(v.result, RESULT_FAILED, "result");
    is_int(v.max_task_run_id, 30, "max task run id");
    is_int(v.repair_count, 1, "one repair");
    is_int(v.latest_repair_id, 44, "latest repair id");
    is_int(v.detail, RUN_DETAIL_TASKS | RUN_DETAIL_HISTORY | RUN_DETAIL_PARTIAL, "detail");
    is_str(v.trigger, "PERIODIC", "trigger");

    static const char *const bad[] = {
        "{}",
        "{\"run_id\":\"7\"}",
        "{\"run_id\":7.0}",
        "{\"run_id\":-1}",
        "{\"run_id\":7,\"start_time\":\"x\"}",
        "{\"run_id\":7,\"tasks\":{}}",
        "{\"run_id\":7,\"state\":1700000200000}",
        "{\"run_id\":7,\"state\":\"TERMINATED\",\"tasks\":[]}",
    };
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        _cleanup_json_ struct json_object *b = J(bad[i]);
        ok(run_view_read(b, &v, &err) < 0, "rejected: %s", bad[i]);
    }
    _cleanup_json_ struct json_object *st_only =
        J("{\"run_id\":7,\"status\":{\"state\":\"TERMINATED\",\"termination_details\":"
          "{\"code\":\"SKIPPED\",\"type\":\"SUCCESS\"}}}");
    is_int(run_view_read(st_only, &v, &err), 0, "status only");
    is_int(v.life_cycle, LIFE_CYCLE_SKIPPED, "status only: life cycle derived");

    /* fresher: table of (incoming, stored, stored detail) -> expected */
    static const struct {
        const char *name;
        const char *in, *stored;
        unsigned detail;
        bool want;
    } fresh[] = {
        { "running after pending", RUN("RUNNING", ""), RUN("PENDING", ""), 0, true },
        { "terminated after running", RUN("TERMINATED", ""), RUN("RUNNING", ""), 0, true },
        { "same state: newer read wins", RUN("RUNNING", ""), RUN("RUNNING", ""), 0, true },
        { "stale running after terminated", RUN("RUNNING", ""), RUN("TERMINATED", ""), 0, false },
        { "stale queued after running", RUN("QUEUED", ""), RUN("RUNNING", ""), 0, false },
        { "unknown state never beats a known one", RUN("FUTURE_STATE", ""), RUN("QUEUED", ""), 0,
          false },
        { "repair in history: running wins over terminated",
          RUN("RUNNING", ",\"repair_history\":[{\"type\":\"ORIGINAL\",\"id\":1},"
                         "{\"type\":\"REPAIR\",\"id\":5}]"),
          RUN("TERMINATED", ",\"repair_history\":[{\"type\":\"ORIGINAL\",\"id\":1}]"), 0, true },
        { "older generation loses even if terminal",
          RUN("TERMINATED", ",\"repair_history\":[{\"type\":\"ORIGINAL\",\"id\":1}]"),
          RUN("RUNNING", ",\"repair_history\":[{\"type\":\"ORIGINAL\",\"id\":1},"
                         "{\"type\":\"REPAIR\",\"id\":5}]"),
          0, false },
        { "repair noted through jobsd: active view wins", RUN("RUNNING", ""), RUN("TERMINATED", ""),
          RUN_DETAIL_REPAIR_PENDING, true },
        { "newer task runs prove a repair",
          RUN("RUNNING", ",\"tasks\":[{\"run_id\":8},{\"run_id\":12}]"),
          RUN("TERMINATED", ",\"tasks\":[{\"run_id\":8}]"), 0, true },
        { "a terminal view from before the latest repair is stale",
          RUN("TERMINATED", ",\"end_time\":50"),
          RUN("RUNNING", ",\"repair_history\":[{\"type\":\"ORIGINAL\",\"id\":1},"
                         "{\"type\":\"REPAIR\",\"id\":5,\"start_time\":100}]"),
          0, false },
        { "a terminal view that ended after the repair started wins",
          RUN("TERMINATED", ",\"end_time\":150"),
          RUN("RUNNING", ",\"repair_history\":[{\"type\":\"ORIGINAL\",\"id\":1},"
                         "{\"type\":\"REPAIR\",\"id\":5,\"start_time\":100}]"),
          0, true },
        { "same task runs, lower rank: stale", RUN("RUNNING", ",\"tasks\":[{\"run_id\":8}]"),
          RUN("TERMINATED", ",\"tasks\":[{\"run_id\":8}]"), 0, false },
    };
    for (size_t i = 0; i < ELEMENTSOF(fresh); i++) {
        struct run_view in = view(fresh[i].in), st = view(fresh[i].stored);
        is_int(run_view_fresher(&in, &st, fresh[i].detail), fresh[i].want, "fresher: %s",
               fresh[i].name);
    }

    /* merges */
    static const struct {
        const char *name;
        const char *fresh, *other, *want;
        bool stale;
    } merges[] = {
        { "a list entry keeps the stored tasks and history",
          "{\"run_id\":7,\"state\":{\"life_cycle_state\":\"TERMINATED\"},\"end_time\":9}",
          "{\"run_id\":7,\"state\":{\"life_cycle_state\":\"RUNNING\"},\"end_time\":0,"
          "\"tasks\":[{\"run_id\":8}],\"repair_history\":[{\"id\":1}]}",
          "{\"run_id\":7,\"state\":{\"life_cycle_state\":\"TERMINATED\"},\"end_time\":9,"
          "\"tasks\":[{\"run_id\":8}],\"repair_history\":[{\"id\":1}]}" },
        { "pages of tasks append, paging fields go",
          "{\"run_id\":7,\"tasks\":[{\"run_id\":9}],\"job_clusters\":[]}",
          "{\"run_id\":7,\"tasks\":[{\"run_id\":8}],\"job_clusters\":[{\"job_cluster_key\":\"a\"}],"
          "\"next_page_token\":\"p2\"}",
          "{\"run_id\":7,\"tasks\":[{\"run_id\":8},{\"run_id\":9}],"
          "\"job_clusters\":[{\"job_cluster_key\":\"a\"}]}" },
        { "a task run keeps its most advanced state",
          "{\"run_id\":7,\"tasks\":[{\"run_id\":8,\"state\":{\"life_cycle_state\":\"RUNNING\"}}]}",
          "{\"run_id\":7,\"tasks\":[{\"run_id\":8,\"state\":{\"life_cycle_state\":"
          "\"TERMINATED\"}}]}",
          "{\"run_id\":7,\"tasks\":[{\"run_id\":8,\"state\":{\"life_cycle_state\":"
          "\"TERMINATED\"}}]}" },
        { "a fresher task element replaces the old one",
          "{\"run_id\":7,\"tasks\":[{\"run_id\":8,\"end_time\":5}]}",
          "{\"run_id\":7,\"tasks\":[{\"run_id\":8,\"end_time\":0}]}",
          "{\"run_id\":7,\"tasks\":[{\"run_id\":8,\"end_time\":5}]}" },
        { "a stale view adds its objects and arrays, not its scalars",
          "{\"run_id\":7,\"state\":{\"life_cycle_state\":\"RUNNING\"}}",
          "{\"run_id\":7,\"state\":{\"life_cycle_state\":\"TERMINATED\"},\"end_time\":9,"
          "\"tasks\":[{\"run_id\":8}],\"cluster_instance\":{\"cluster_id\":\"c\"}}",
          "{\"run_id\":7,\"state\":{\"life_cycle_state\":\"RUNNING\"},\"tasks\":[{\"run_id\":8}],"
          "\"cluster_instance\":{\"cluster_id\":\"c\"}}",
          true },
        { "repair history merges by id",
          "{\"run_id\":7,\"repair_history\":[{\"id\":1},{\"id\":2}]}",
          "{\"run_id\":7,\"repair_history\":[{\"id\":1,\"x\":0}]}",
          "{\"run_id\":7,\"repair_history\":[{\"id\":1},{\"id\":2}]}" },
    };
    for (size_t i = 0; i < ELEMENTSOF(merges); i++) {
        _cleanup_json_ struct json_object *f = J(merges[i].fresh), *t = J(merges[i].other),
                                          *m = NULL, *want = J(merges[i].want);
        is_int(merge_run(f, t, merges[i].stale, &m), 0, "merge_run: %s", merges[i].name);
        is_str(m ? dump(m) : NULL, dump(want), "merge_run result: %s", merges[i].name);
    }

    static const struct {
        const char *name;
        const char *in, *stored;
        bool page;
        const char *want;
    } jobs[] = {
        { "a list entry keeps the stored tasks", "{\"job_id\":3,\"settings\":{\"name\":\"new\"}}",
          "{\"job_id\":3,\"settings\":{\"name\":\"old\",\"tasks\":[{\"task_key\":\"a\"}]},"
          "\"run_as_user_name\":\"u\"}",
          false,
          "{\"job_id\":3,\"settings\":{\"name\":\"new\",\"tasks\":[{\"task_key\":\"a\"}]},"
          "\"run_as_user_name\":\"u\"}" },
        { "a full read replaces the tasks",
          "{\"job_id\":3,\"settings\":{\"name\":\"n\",\"tasks\":[{\"task_key\":\"b\"}]}}",
          "{\"job_id\":3,\"settings\":{\"name\":\"n\",\"tasks\":[{\"task_key\":\"a\"}],"
          "\"schedule\":{}}}",
          false, "{\"job_id\":3,\"settings\":{\"name\":\"n\",\"tasks\":[{\"task_key\":\"b\"}]}}" },
        { "a later page appends tasks",
          "{\"job_id\":3,\"settings\":{\"tasks\":[{\"task_key\":\"b\"}]}}",
          "{\"job_id\":3,\"settings\":{\"name\":\"n\",\"tasks\":[{\"task_key\":\"a\"}]},"
          "\"next_page_token\":\"t\"}",
          true,
          "{\"job_id\":3,\"settings\":{\"tasks\":[{\"task_key\":\"a\"},{\"task_key\":\"b\"}],"
          "\"name\":\"n\"}}" },
    };
    for (size_t i = 0; i < ELEMENTSOF(jobs); i++) {
        _cleanup_json_ struct json_object *in = J(jobs[i].in), *st = J(jobs[i].stored), *m = NULL,
                                          *want = J(jobs[i].want);
        is_int(merge_job(in, st, jobs[i].page, &m), 0, "merge_job: %s", jobs[i].name);
        is_str(m ? dump(m) : NULL, dump(want), "merge_job result: %s", jobs[i].name);
    }
    return tap_done();
}
