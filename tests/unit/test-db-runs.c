/* tests/unit/test-db-runs.c: the archive's rules on runs, jobs, outputs and
 * exports, listing with keyset paging, counts, and compact storage. */
#include <errno.h>

#include "db/runs.h"
#include "db/store.h"
#include "proto/strutil.h"
#include "tests/bench/rungen.h"
#include "tests/unit/db-testutil.h"

static struct store *s;

static const char *stored(int64_t run_id)
{
    static struct json_object *last;
    if (last)
        json_object_put(last);
    last = NULL;
    if (store_get_run(s, run_id, &last, NULL) < 0)
        return "(missing)";
    return dump(last);
}

static int put(const char *text)
{
    _cleanup_json_ struct json_object *o = J(text);
    return store_put_run(s, o, 0);
}

static enum life_cycle_state lc_of(int64_t run_id)
{
    struct store_run_meta m = { 0 };
    _cleanup_json_ struct json_object *o = NULL;
    if (store_get_run(s, run_id, &o, &m) < 0)
        return LIFE_CYCLE_NONE;
    return m.life_cycle;
}

#define ST(lc) "\"state\":{\"life_cycle_state\":\"" lc "\"}"
#define STR(lc, rs) "\"state\":{\"life_cycle_state\":\"" lc "\",\"result_state\":\"" rs "\"}"

struct collect {
    int64_t ids[512];
    size_t n;
    bool json_ok;
};

static int collect_cb(const struct store_run_meta *m, struct json_object *run, void *userdata)
{
    struct collect *c = userdata;
    if (c->n < ELEMENTSOF(c->ids))
        c->ids[c->n++] = m->run_id;
    if (run) {
        struct json_object *id;
        c->json_ok = c->json_ok && json_object_object_get_ex(run, "run_id", &id) &&
                     json_object_get_int64(id) == m->run_id;
    }
    return 0;
}

static int text_cb(const struct store_run_meta *m, struct json_object *run, void *userdata)
{
    struct collect *c = userdata;
    _cleanup_json_ struct json_object *o = NULL;
    struct json_error err;
    struct json_object *id;
    c->json_ok = c->json_ok && !run && m->text && strlen(m->text) == m->text_len &&
                 json_parse(m->text, m->text_len, JSON_SIZE_MAX, JSON_DEPTH_MAX, &o, &err) == 0 &&
                 json_object_object_get_ex(o, "run_id", &id) &&
                 json_object_get_int64(id) == m->run_id;
    return 0;
}

/* Every page of a filter, limit at a time; returns the count (ids in c). */
static size_t list_all(const struct store_run_filter *f, size_t limit, struct collect *c)
{
    _cleanup_free_ char *token = NULL;
    c->n = 0;
    c->json_ok = true;
    for (int pages = 0; pages < 1000; pages++) {
        char *next = NULL;
        if (store_list_runs(s, f, token, limit, STORE_LIST_JSON, collect_cb, c, &next) < 0)
            return (size_t)-1;
        free(token);
        token = next;
        if (!token)
            break;
    }
    return c->n;
}

static void test_rules(void)
{
    /* exact shape round trip, with a big id */
    const char *full =
        "{\"job_id\":3,\"run_id\":9007199254740993,\"run_name\":\"nightly\","
        "\"start_time\":1000," STR(
            "TERMINATED", "SUCCESS") ",\"tasks\":[{"
                                     "\"run_id\":9007199254740995,\"task_key\":\"a\"," ST(
                                         "TERMINATED") "}],"
                                                       "\"repair_history\":[{\"type\":\"ORIGINAL\","
                                                       "\"id\":9007199254740993}]}";
    is_int(put(full), STORE_INSERTED, "insert a full run");
    is_str(stored(9007199254740993LL), full, "read back in the exact upstream shape");
    is_int(put(full), STORE_UNCHANGED, "the same view again changes nothing");
    int64_t parent = 0;
    is_int(store_task_parent(s, 9007199254740995LL, &parent), 0, "task run indexed");
    is_int(parent, 9007199254740993LL, "task run's parent");

    /* a poorer view never erases a richer one */
    is_int(put("{\"job_id\":3,\"run_id\":9007199254740993,\"run_name\":\"nightly\","
               "\"start_time\":1000," STR("TERMINATED", "SUCCESS") "}"),
           STORE_UNCHANGED, "a list entry without tasks adds nothing");
    is_str(stored(9007199254740993LL), full, "tasks and history kept");

    /* forward only */
    is_int(put("{\"run_id\":100,\"start_time\":2000," ST("PENDING") "}"), STORE_INSERTED,
           "pending");
    is_int(put("{\"run_id\":100,\"start_time\":2000," ST("RUNNING") "}"), STORE_UPDATED, "running");
    is_int(
        put("{\"run_id\":100,\"start_time\":2000,\"end_time\":9," STR("TERMINATED", "FAILED") "}"),
        STORE_UPDATED, "terminated");
    is_int(put("{\"run_id\":100,\"start_time\":2000," ST("RUNNING") "}"), STORE_UNCHANGED,
           "a stale running read changes nothing");
    is_int(put("{\"run_id\":100,\"start_time\":2000," ST("QUEUED") "}"), STORE_UNCHANGED,
           "a stale queued read changes nothing");
    is_int(lc_of(100), LIFE_CYCLE_TERMINATED, "still terminated");

    /* repair: history grows, the run is active again, then stale reads lose */
    is_int(put("{\"run_id\":200,\"start_time\":3000," STR(
               "TERMINATED", "FAILED") ",\"repair_history\":[{\"type\":\"ORIGINAL\",\"id\":200}],"
                                       "\"tasks\":[{\"run_id\":201," STR("TERMINATED",
                                                                         "FAILED") "}]}"),
           STORE_INSERTED, "failed run");
    is_int(put("{\"run_id\":200,\"start_time\":3000," ST(
               "RUNNING") ",\"repair_history\":[{\"type\":\"ORIGINAL\",\"id\":200},{\"type\":"
                          "\"REPAIR\","
                          "\"id\":300}],\"tasks\":[{\"run_id\":202," ST("RUNNING") "}]}"),
           STORE_UPDATED, "a repair makes it active again");
    is_int(lc_of(200), LIFE_CYCLE_RUNNING, "running after repair");
    is_int(put("{\"run_id\":200,\"start_time\":3000," STR(
               "TERMINATED", "FAILED") ",\"repair_history\":[{\"type\":\"ORIGINAL\",\"id\":200}]}"),
           STORE_UNCHANGED, "the pre-repair read is stale");
    is_int(lc_of(200), LIFE_CYCLE_RUNNING, "still running");
    is_int(put("{\"run_id\":200,\"start_time\":3000," STR(
               "TERMINATED", "SUCCESS") ",\"repair_history\":[{\"type\":\"ORIGINAL\",\"id\":200},{"
                                        "\"type\":\"REPAIR\","
                                        "\"id\":300}],\"tasks\":[{\"run_id\":202," STR(
                                            "TERMINATED", "SUCCESS") "}]}"),
           STORE_UPDATED, "the repair ends");
    is_str(stored(200),
           "{\"run_id\":200,\"start_time\":3000," STR(
               "TERMINATED", "SUCCESS") ",\"repair_history\":[{\"type\":\"ORIGINAL\",\"id\":200},{"
                                        "\"type\":\"REPAIR\","
                                        "\"id\":300}],\"tasks\":[{\"run_id\":201," STR(
                                            "TERMINATED",
                                            "FAILED") "},{\"run_id\":202," STR("TERMINATED",
                                                                               "SUCCESS") "}]}",
           "both task runs kept, the repair's last state");

    /* a repair started through jobsd: the next active view, without history, wins */
    is_int(store_note_repair(s, 100, 555), 0, "note a repair of 100");
    is_int(store_note_repair(s, 12345, 555), -ENOENT, "note a repair of an unknown run");
    is_int(put("{\"run_id\":100,\"start_time\":2000," ST("RUNNING") "}"), STORE_UPDATED,
           "the noted repair's active view wins");
    is_int(lc_of(100), LIFE_CYCLE_RUNNING, "running again");
    is_int(put("{\"run_id\":100,\"start_time\":2000," ST("PENDING") "}"), STORE_UNCHANGED,
           "then forward only again");

    /* a noted repair that ends before jobsd sees it active */
    is_int(put("{\"run_id\":250,\"start_time\":3000,\"end_time\":3100," STR("TERMINATED",
                                                                            "FAILED") "}"),
           STORE_INSERTED, "another failed run");
    is_int(store_note_repair(s, 250, 260), 0, "note its repair");
    is_int(put("{\"run_id\":250,\"start_time\":3000,\"end_time\":3500," STR("TERMINATED",
                                                                            "SUCCESS") "}"),
           STORE_UPDATED, "the repair's end");
    is_int(put("{\"run_id\":250,\"start_time\":3000,\"end_time\":0," ST("RUNNING") "}"),
           STORE_UNCHANGED, "a stale active view after the repair's end changes nothing");

    /* a list entry from before a repair (no history, ended before it) */
    is_int(put("{\"run_id\":270,\"start_time\":3000," ST(
               "RUNNING") ",\"repair_history\":[{\"type\":\"ORIGINAL\",\"id\":270},{\"type\":"
                          "\"REPAIR\",\"id\":280,\"start_time\":4000}]}"),
           STORE_INSERTED, "a run being repaired");
    is_int(put("{\"run_id\":270,\"start_time\":3000,\"end_time\":3900," STR("TERMINATED",
                                                                            "FAILED") "}"),
           STORE_UNCHANGED, "its pre-repair terminal list entry is stale");
    is_int(lc_of(270), LIFE_CYCLE_RUNNING, "still running");

    /* paging of runs/get: page 1 with a token, page 2 without */
    is_int(put("{\"run_id\":400,\"start_time\":4000," ST(
               "RUNNING") ",\"tasks\":[{\"run_id\":401}],\"next_page_token\":\"p2\"}"),
           STORE_INSERTED, "page 1");
    struct store_run_meta m;
    _cleanup_json_ struct json_object *o = NULL;
    store_get_run(s, 400, &o, &m);
    ok(m.detail & RUN_DETAIL_PARTIAL, "page 1 alone is partial");
    is_str(stored(400),
           "{\"run_id\":400,\"start_time\":4000," ST("RUNNING") ",\"tasks\":[{\"run_id\":401}]}",
           "no paging fields stored");
    is_int(
        put("{\"run_id\":400,\"start_time\":4000," ST("RUNNING") ",\"tasks\":[{\"run_id\":402}]}"),
        STORE_UPDATED, "page 2");
    is_str(stored(400),
           "{\"run_id\":400,\"start_time\":4000," ST(
               "RUNNING") ",\"tasks\":[{\"run_id\":401},{\"run_id\":402}]}",
           "tasks of both pages");
    json_object_put(o);
    o = NULL;
    store_get_run(s, 400, &o, &m);
    ok(!(m.detail & RUN_DETAIL_PARTIAL), "complete after the last page");
    ok(m.detail & RUN_DETAIL_TASKS, "has tasks");

    /* a run of 250 task runs over three pages of runs/get */
    for (int page = 0; page < 3; page++) {
        _cleanup_json_ struct json_object *p = J("{\"run_id\":500,\"start_time\":5000}");
        struct json_object *tasks = json_object_new_array();
        for (int t = page * 100; t < MIN(page * 100 + 100, 250); t++) {
            struct json_object *task = json_object_new_object();
            json_add_int64(task, "run_id", 1000 + t);
            json_add_string(task, "task_key", "k");
            json_append(tasks, task);
        }
        json_add(p, "tasks", tasks);
        json_add(p, "state", J("{\"life_cycle_state\":\"TERMINATED\"}"));
        if (page < 2)
            json_add_string(p, "next_page_token", page ? "p3" : "p2");
        ok(store_put_run(s, p, 0) >= 0, "page %d of 3", page + 1);
    }
    json_object_put(o);
    o = NULL;
    store_get_run(s, 500, &o, &m);
    struct json_object *all_tasks = NULL;
    json_object_object_get_ex(o, "tasks", &all_tasks);
    is_int(all_tasks ? (int64_t)json_object_array_length(all_tasks) : -1, 250,
           "all 250 task runs, in page order");
    is_int(all_tasks ? json_object_get_int64(json_object_object_get(
                           json_object_array_get_idx(all_tasks, 249), "run_id"))
                     : -1,
           1249, "the last is the last page's last");
    ok(!(m.detail & RUN_DETAIL_PARTIAL), "complete after the last page");
    is_int(store_task_parent(s, 1249, &parent), 0, "every task run indexed");
    /* a runs/list entry of it with expand_tasks, cut at 100 (has_more) */
    _cleanup_json_ struct json_object *cut = J("{\"run_id\":500,\"start_time\":5000,"
                                               "\"state\":{\"life_cycle_state\":\"TERMINATED\"},"
                                               "\"has_more\":true}");
    struct json_object *cut_tasks = json_object_new_array();
    for (int t = 0; t < 100; t++)
        json_append(cut_tasks, json_object_get(json_object_array_get_idx(all_tasks, (size_t)t)));
    json_add(cut, "tasks", cut_tasks);
    is_int(store_put_run(s, cut, 0), STORE_UNCHANGED, "a cut list entry changes nothing");
    json_object_put(o);
    o = NULL;
    store_get_run(s, 500, &o, &m);
    ok(!(m.detail & RUN_DETAIL_PARTIAL), "and leaves the run complete");

    /* runs/get of a task run id: kept, answered, never listed or counted */
    struct store_counts before, after;
    store_count_runs(s, 0, &before);
    is_int(put("{\"run_id\":1001,\"job_run_id\":500,\"job_id\":77,\"start_time\":5000,"
               "\"task_key\":\"k\"," ST("TERMINATED") "}"),
           STORE_INSERTED, "a task run's own view");
    json_object_put(o);
    o = NULL;
    is_int(store_get_run(s, 1001, &o, &m), 0, "answered from the archive");
    ok(m.detail & RUN_DETAIL_TASK_RUN, "marked as a task run");
    store_count_runs(s, 0, &after);
    is_int(after.total, before.total, "not counted");
    struct store_run_filter of77 = { .job_id = 77 };
    struct collect c77 = { .json_ok = true };
    is_int(store_list_runs(s, &of77, NULL, 10, 0, collect_cb, &c77, NULL), 0, "not listed");
    store_count_runs(s, 77, &after);
    is_int(after.total, 0, "not counted for its job");

    /* forgotten runs stay and say so */
    is_int(store_forget_run(s, 100, 1750000000000), 1, "forget 100");
    is_int(store_forget_run(s, 100, 1750000000001), 0, "forget 100 again");
    is_int(store_forget_run(s, 777, 1750000000000), -ENOENT, "forget an unknown run");
    json_object_put(o);
    o = NULL;
    is_int(store_get_run(s, 100, &o, &m), 0, "a forgotten run is still there");
    is_int(m.forgotten_ms, 1750000000000, "and says when it was forgotten");
    is_int(put("{\"run_id\":100,\"start_time\":2000," STR("TERMINATED", "SUCCESS") "}"),
           STORE_UPDATED, "seen again");
    json_object_put(o);
    o = NULL;
    store_get_run(s, 100, &o, &m);
    is_int(m.forgotten_ms, 0, "seen again: not forgotten");

    /* bad input */
    is_int(put("{\"run_id\":\"100\"}"), -EINVAL, "string run_id");
    is_int(put("{\"job_id\":1}"), -EINVAL, "no run_id");
    is_int(put("[1]"), -EINVAL, "not an object");
    json_object_put(o);
    o = NULL;
    is_int(store_get_run(s, 999999, &o, NULL), -ENOENT, "unknown run");
}

static void test_outputs_jobs(void)
{
    _cleanup_json_ struct json_object *o1 =
        J("{\"metadata\":{\"run_id\":201,\"job_run_id\":200," ST(
            "RUNNING") "},\"notebook_output\":{}}");
    _cleanup_json_ struct json_object *o2 =
        J("{\"metadata\":{\"run_id\":201,\"job_run_id\":200," STR(
            "TERMINATED", "FAILED") "},\"error\":\"boom\",\"notebook_output\":{\"result\":\"x\","
                                    "\"truncated\":false}}");
    _cleanup_json_ struct json_object *o3 =
        J("{\"metadata\":{\"run_id\":202,\"job_run_id\":200," STR(
            "TERMINATED", "SUCCESS") "},\"notebook_output\":{\"result\":\"y\"}}");
    is_int(store_put_output(s, 201, o1), STORE_INSERTED, "output while running");
    is_int(store_put_output(s, 201, o2), STORE_UPDATED, "output when terminated");
    is_int(store_put_output(s, 201, o1), STORE_UNCHANGED, "a stale output changes nothing");
    is_int(store_put_output(s, 202, o3), STORE_INSERTED, "second task's output");
    _cleanup_json_ struct json_object *g = NULL, *all = NULL;
    is_int(store_get_output(s, 201, &g), 0, "get output");
    is_str(g ? dump(g) : NULL, dump(o2), "output in its upstream shape");
    is_int(store_get_run_outputs(s, 200, &all), 0, "outputs of run 200");
    is_int(all ? (int64_t)json_object_array_length(all) : -1, 2, "two outputs");
    is_int(store_put_output(s, 0, o1), -EINVAL, "output of run 0");

    _cleanup_json_ struct json_object *ex = J("{\"views\":[{\"content\":\"<html>\",\"name\":"
                                              "\"nb\",\"type\":\"NOTEBOOK\"}]}");
    is_int(store_put_export(s, 201, "CODE", ex), STORE_UPDATED, "export view");
    _cleanup_json_ struct json_object *exg = NULL;
    is_int(store_get_export(s, 201, "CODE", &exg), 0, "get export");
    is_str(exg ? dump(exg) : NULL, dump(ex), "export in its upstream shape");
    json_object_put(exg);
    exg = NULL;
    is_int(store_get_export(s, 201, "ALL", &exg), -ENOENT, "other views not archived");

    _cleanup_json_ struct json_object *job = J(
        "{\"job_id\":3,\"created_time\":5,\"settings\":{\"name\":\"etl\",\"tasks\":[{\"task_key\":"
        "\"a\"}]},\"run_as_user_name\":\"u@example.com\"}");
    _cleanup_json_ struct json_object *listed =
        J("{\"job_id\":3,\"created_time\":5,\"settings\":{\"name\":\"etl2\"}}");
    is_int(store_put_job(s, job, 0), STORE_INSERTED, "job");
    is_int(store_put_job(s, listed, 0), STORE_UPDATED, "a jobs/list entry");
    _cleanup_json_ struct json_object *jg = NULL;
    int64_t forgotten = -1;
    is_int(store_get_job(s, 3, &jg, &forgotten), 0, "get job");
    is_str(jg ? dump(jg) : NULL,
           "{\"job_id\":3,\"created_time\":5,\"settings\":{\"name\":\"etl2\",\"tasks\":[{"
           "\"task_key\":\"a\"}]},\"run_as_user_name\":\"u@example.com\"}",
           "renamed, tasks kept");
    is_int(store_forget_job(s, 3, 17), 1, "forget job");
    json_object_put(jg);
    jg = NULL;
    store_get_job(s, 3, &jg, &forgotten);
    is_int(forgotten, 17, "job says it was forgotten");
}

static void test_listing(void)
{
    /* 120 runs: job 1..3, start 100000 + i*1000, states by i */
    static const char *const lcs[] = { "TERMINATED", "TERMINATED", "RUNNING", "SKIPPED" };
    static const char *const trig[] = { "PERIODIC", "ONE_TIME", "RETRY" };
    for (int i = 0; i < 120; i++) {
        char text[512];
        (void)snprintf(text, sizeof(text),
                       "{\"run_id\":%d,\"job_id\":%d,\"start_time\":%d,\"run_name\":\"%s-%d\","
                       "\"trigger\":\"%s\",\"run_type\":\"%s\",\"state\":{\"life_cycle_state\":"
                       "\"%s\"%s}}",
                       10000 + i, 1 + i % 3, 100000 + (i / 2) * 1000, i % 4 ? "etl" : "report", i,
                       trig[i % 3], i % 5 ? "JOB_RUN" : "SUBMIT_RUN", lcs[i % 4],
                       i % 4 == 2 ? "" : ",\"result_state\":\"SUCCESS\"");
        _cleanup_json_ struct json_object *o = J(text);
        if (store_put_run(s, o, 0) != STORE_INSERTED)
            ok(false, "insert %d", i);
    }
    struct collect c;
    struct store_run_filter f = { .job_id = 2 };
    is_int(list_all(&f, 7, &c), 40, "by job: 40 runs over pages of 7");
    bool ordered = true, right_job = true;
    for (size_t i = 1; i < c.n; i++)
        ordered = ordered && c.ids[i] < c.ids[i - 1];
    for (size_t i = 0; i < c.n; i++)
        right_job = right_job && (c.ids[i] - 10000) % 3 == 1;
    ok(ordered, "newest first, no duplicates");
    ok(right_job, "only job 2");
    ok(c.json_ok, "JSON handed with each run");
    struct collect tc = { .json_ok = true };
    is_int(store_list_runs(s, &f, NULL, 5, STORE_LIST_TEXT, text_cb, &tc, NULL), 5,
           "a page with text");
    ok(tc.json_ok, "the text of each run is its JSON");

    static const struct {
        const char *name;
        struct store_run_filter f;
        size_t want;
    } filters[] = {
        { "all", { 0 }, 0 },
        { "life cycle RUNNING (and 400, 270)", { .life_cycle = LIFE_CYCLE_RUNNING }, 32 },
        { "life cycle SKIPPED", { .life_cycle = LIFE_CYCLE_SKIPPED }, 30 },
        { "result SUCCESS (and 4 earlier)", { .result = RESULT_SUCCESS }, 94 },
        { "window", { .start_from = 110000, .start_to = 119000 }, 20 },
        { "window from only", { .start_from = 150000 }, 20 },
        { "name substring", { .name_contains = "report" }, 30 },
        { "name substring, exact one", { .name_contains = "etl-101" }, 1 },
        { "trigger", { .trigger = "RETRY" }, 40 },
        { "run type", { .run_type = "SUBMIT_RUN" }, 24 },
        { "job and state", { .job_id = 1, .life_cycle = LIFE_CYCLE_TERMINATED }, 20 },
        { "nothing", { .job_id = 999 }, 0 },
    };
    size_t total = list_all(&filters[0].f, 1000, &c);
    ok(total >= 120, "all runs listed (%zu)", total);
    for (size_t i = 1; i < ELEMENTSOF(filters); i++)
        is_int(list_all(&filters[i].f, 9, &c), filters[i].want, "filter: %s", filters[i].name);

    /* stable under concurrent inserts: page, insert newer and older runs, go on */
    struct store_run_filter w = { .start_from = 100000, .start_to = 159000 };
    char *token = NULL;
    struct collect first = { .json_ok = true };
    is_int(store_list_runs(s, &w, NULL, 50, 0, collect_cb, &first, &token), 50, "first page");
    ok(token != NULL, "a next token");
    /* the inserts come through another connection, as from a second process */
    struct store *other = NULL;
    is_int(store_open(test_path("runs.db"), 0, &other), 0, "a second connection");
    _cleanup_json_ struct json_object *c1 =
        J("{\"run_id\":20000,\"start_time\":158500," ST("QUEUED") "}");
    _cleanup_json_ struct json_object *c2 =
        J("{\"run_id\":20001,\"start_time\":100500," ST("QUEUED") "}");
    is_int(store_put_run(other, c1, 0), STORE_INSERTED, "a newer run inserted meanwhile");
    is_int(store_put_run(other, c2, 0), STORE_INSERTED, "an older run inserted meanwhile");
    store_free(other);
    put("{\"run_id\":10119,\"start_time\":159000," ST("TERMINATED") "}"); /* an update */
    struct collect rest = { .json_ok = true };
    char *t = token;
    size_t before_ids = first.n;
    while (t) {
        char *next = NULL;
        store_list_runs(s, &w, t, 50, 0, collect_cb, &rest, &next);
        free(t);
        t = next;
    }
    bool dup = false, newer_seen = false, older_seen = false;
    for (size_t i = 0; i < rest.n; i++) {
        for (size_t k = 0; k < before_ids; k++)
            dup = dup || rest.ids[i] == first.ids[k];
        newer_seen = newer_seen || rest.ids[i] == 20000;
        older_seen = older_seen || rest.ids[i] == 20001;
    }
    ok(!dup, "no run twice across pages");
    ok(!newer_seen, "a run inserted before the cursor does not shift the pages");
    ok(older_seen, "a run inserted after the cursor shows up later");
    is_int(first.n + rest.n, 121, "every run of the window exactly once");

    struct collect x;
    is_int(store_list_runs(s, NULL, "garbage", 10, 0, collect_cb, &x, NULL), -EINVAL,
           "a bad token is -EINVAL");
    is_int(store_list_runs(s, NULL, "k.1.0", 10, 0, collect_cb, &x, NULL), -EINVAL,
           "a token with run id 0 is -EINVAL");
    is_int(store_list_runs(s, NULL, NULL, 0, 0, collect_cb, &x, NULL), -EINVAL, "limit 0");
    is_int(store_list_runs(s, NULL, NULL, STORE_LIST_LIMIT_MAX + 1, 0, collect_cb, &x, NULL),
           -EINVAL, "limit too big");

    /* counts follow inserts and state changes */
    struct store_counts cnt;
    is_int(store_count_runs(s, 0, &cnt), 0, "counts");
    int64_t running = cnt.n[LIFE_CYCLE_RUNNING][RESULT_NONE];
    int64_t total_before = cnt.total;
    put("{\"run_id\":10002,\"job_id\":3,\"start_time\":101000,\"run_name\":\"etl-2\","
        "\"trigger\":\"RETRY\",\"run_type\":\"JOB_RUN\"," STR("TERMINATED", "FAILED") "}");
    store_count_runs(s, 0, &cnt);
    is_int(cnt.n[LIFE_CYCLE_RUNNING][RESULT_NONE], running - 1, "one run less running");
    is_int(cnt.n[LIFE_CYCLE_TERMINATED][RESULT_FAILED] >= 1, 1, "one more failed");
    is_int(cnt.total, total_before, "total unchanged by an update");
    struct store_counts job3;
    is_int(store_count_runs(s, 3, &job3), 0, "counts of job 3");
    is_int(job3.total, 41, "job 3 has 40 runs of the listing set and one earlier");
    is_int(job3.n[LIFE_CYCLE_TERMINATED][RESULT_FAILED], 1, "one of them failed");
    is_int(store_count_runs(s, -1, &job3), -EINVAL, "a negative job id");
}

static void test_compact(void)
{
    /* a fresh archive: the dictionary is trained after STORE_DICT_SAMPLES
     * runs, and the archive is at most half the raw JSON */
    struct store *c = NULL;
    is_int(store_open(test_path("compact.db"), STORE_OPEN_CREATE, &c), 0, "open compact.db");
    struct rungen g;
    const int n = STORE_DICT_SAMPLES * 3;
    rungen_init(&g, 1, n);
    uint64_t raw = 0;
    int r = 0;
    for (int i = 0; i < n && r >= 0; i += 500) {
        r = store_begin(c);
        for (int k = i; r >= 0 && k < i + 500; k++) {
            _cleanup_json_ struct json_object *o = rungen_run(&g, k);
            size_t len = 0;
            json_dump(o, &len);
            raw += len;
            r = store_put_run(c, o, 0);
        }
        if (r >= 0)
            r = store_commit(c);
    }
    ok(r >= 0, "ingested %d runs", n);
    uint64_t used = 0;
    store_checkpoint(c);
    store_used_bytes(c, &used);
    ok(used * 2 <= raw, "archive %" PRIu64 " bytes <= half of raw %" PRIu64 " (%.3f)", used, raw,
       (double)used / (double)raw);
    bool same = true;
    for (int i = 0; i < n; i += 97) {
        _cleanup_json_ struct json_object *want = rungen_run(&g, i), *got = NULL;
        same = same && store_get_run(c, rungen_run_id(&g, i), &got, NULL) == 0 &&
               streq(dump(got), dump(want));
    }
    ok(same, "runs read back byte for byte, before and after the dictionary");
    store_free(c);
    /* reopening loads the dictionary */
    is_int(store_open(test_path("compact.db"), 0, &c), 0, "reopen");
    _cleanup_json_ struct json_object *want = rungen_run(&g, n - 1), *got = NULL;
    is_int(store_get_run(c, rungen_run_id(&g, n - 1), &got, NULL), 0, "read after reopening");
    is_str(got ? dump(got) : NULL, dump(want), "same JSON");
    store_free(c);
}

/* The poller's final mark: kept while the run stays finished, dropped by a
 * repair (noted through jobsd, or seen active again). */
static void test_final(void)
{
    struct store_run_meta m;
    _cleanup_free_ char *text = NULL;
    size_t len;
    is_int(put("{\"run_id\":900,\"start_time\":5000,\"end_time\":6000," STR("TERMINATED",
                                                                            "FAILED") "}"),
           STORE_INSERTED, "a finished run");
    is_int(store_mark_final(s, 900), 0, "marked final");
    is_int(store_mark_final(s, 901), -ENOENT, "an unknown run cannot be");
    is_int(store_get_run_text(s, 900, &text, &len, &m), 0, "read back");
    ok(m.detail & RUN_DETAIL_FINAL, "final");
    free(TAKE_PTR(text));
    is_int(put("{\"run_id\":900,\"start_time\":5000,\"end_time\":6000," STR("TERMINATED",
                                                                            "FAILED") "}"),
           STORE_UNCHANGED, "the same view again");
    is_int(store_get_run_text(s, 900, &text, &len, &m), 0, "read back");
    ok(m.detail & RUN_DETAIL_FINAL, "still final");
    free(TAKE_PTR(text));
    is_int(store_note_repair(s, 900, 950), 0, "a repair through jobsd");
    is_int(store_get_run_text(s, 900, &text, &len, &m), 0, "read back");
    ok(!(m.detail & RUN_DETAIL_FINAL), "no longer final: its outputs are due again");
    free(TAKE_PTR(text));
    is_int(store_mark_final(s, 900), 0, "marked final again");
    is_int(put("{\"run_id\":900,\"start_time\":5000,\"end_time\":0," ST("RUNNING") "}"),
           STORE_UPDATED, "a repair seen active in the workspace");
    is_int(store_get_run_text(s, 900, &text, &len, &m), 0, "read back");
    ok(!(m.detail & RUN_DETAIL_FINAL), "not final while active");
}

int main(void)
{
    test_dir_make();
    if (store_open(test_path("runs.db"), STORE_OPEN_CREATE, &s) < 0)
        tap_skip_all("cannot open the archive");
    test_rules();
    test_outputs_jobs();
    test_listing();
    test_final();
    is_int(store_check_integrity(s), 0, "integrity_check");
    store_free(s);
    test_compact();
    stored(0); /* frees the last copy */
    return tap_done();
}
