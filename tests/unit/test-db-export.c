/* tests/unit/test-db-export.c: JSON Lines export and import (backup and
 * restore, merging by the rules) and retention by age and by size. */
#include <errno.h>

#include "db/export.h"
#include "db/runs.h"
#include "db/store.h"
#include "proto/strutil.h"
#include "tests/bench/rungen.h"
#include "tests/unit/db-testutil.h"

#define ST(lc) "\"state\":{\"life_cycle_state\":\"" lc "\"}"
#define STR(lc, rs) "\"state\":{\"life_cycle_state\":\"" lc "\",\"result_state\":\"" rs "\"}"

static int64_t fake_now = 1800000000000;
static int64_t fake_clock(void *userdata)
{
    return fake_now;
}

static void put(struct store *s, const char *text)
{
    _cleanup_json_ struct json_object *o = J(text);
    if (store_put_run(s, o, 0) < 0)
        ok(false, "put %s", text);
}

static char *get(struct store *s, int64_t run_id)
{
    _cleanup_json_ struct json_object *o = NULL;
    if (store_get_run(s, run_id, &o, NULL) < 0)
        return strdup("(missing)");
    return strdup(dump(o));
}

static void fill(struct store *s)
{
    _cleanup_json_ struct json_object *job =
        J("{\"job_id\":5,\"settings\":{\"name\":\"etl\",\"tasks\":[{\"task_key\":\"a\"}]}}");
    store_put_job(s, job, 0);
    put(s, "{\"run_id\":1,\"job_id\":5,\"start_time\":1000," STR(
               "TERMINATED",
               "SUCCESS") ",\"tasks\":[{\"run_id\":2,\"task_key\":\"a\"," STR("TERMINATED",
                                                                              "SUCCESS") "}]}");
    put(s, "{\"run_id\":3,\"job_id\":5,\"start_time\":2000," ST(
               "RUNNING") ",\"tasks\":[{\"run_id\":4,\"task_key\":\"a\"," ST("RUNNING") "}]}");
    put(s, "{\"run_id\":5,\"job_id\":5,\"start_time\":3000," STR("TERMINATED", "FAILED") "}");
    _cleanup_json_ struct json_object *out = J("{\"metadata\":{\"run_id\":2,\"job_run_id\":1," STR(
        "TERMINATED", "SUCCESS") "},\"notebook_output\":{\"result\":\"42\"}}");
    store_put_output(s, 2, out);
    _cleanup_json_ struct json_object *ex = J("{\"views\":[{\"content\":\"c\",\"name\":\"n\","
                                              "\"type\":\"NOTEBOOK\"}]}");
    store_put_export(s, 2, "CODE", ex);
    store_forget_run(s, 5, 1700000000000);
}

static size_t count_lines(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char buf[4096];
    ssize_t k;
    size_t n = 0;
    while ((k = read(fd, buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < k; i++)
            n += buf[i] == '\n';
    close(fd);
    return n;
}

static void test_export_import(void)
{
    struct store *a = NULL, *b = NULL;
    is_int(store_open(test_path("a.db"), STORE_OPEN_CREATE, &a), 0, "open a");
    fill(a);
    const char *file = test_path("a.jsonl");
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t lines = 0;
    is_int(store_export_to_fd(a, 0, 0, 0, fd, &lines), 0, "export everything");
    close(fd);
    is_int(lines, 4, "one job and three runs");
    is_int(count_lines(file), 4, "four lines in the file");

    is_int(store_open(test_path("b.db"), STORE_OPEN_CREATE, &b), 0, "open b");
    fd = open(file, O_RDONLY | O_CLOEXEC);
    is_int(store_import_fd(b, fd, &lines), 0, "import into an empty archive");
    close(fd);
    is_int(lines, 4, "four lines imported");
    for (int64_t id = 1; id <= 5; id += 2) {
        _cleanup_free_ char *x = get(a, id), *y = get(b, id);
        is_str(y, x, "run %" PRIi64 " restored identical", id);
    }
    _cleanup_json_ struct json_object *o = NULL, *jb = NULL, *ex = NULL;
    is_int(store_get_output(b, 2, &o), 0, "output restored");
    is_int(store_get_export(b, 2, "CODE", &ex), 0, "export view restored");
    int64_t forgotten = 0;
    is_int(store_get_job(b, 5, &jb, &forgotten), 0, "job restored");
    struct store_run_meta m;
    json_object_put(o);
    o = NULL;
    store_get_run(b, 5, &o, &m);
    is_int(m.forgotten_ms, 1700000000000, "forgotten mark restored");

    /* importing an older backup merges: it never takes a run backwards */
    put(b, "{\"run_id\":3,\"job_id\":5,\"start_time\":2000," STR(
               "TERMINATED",
               "SUCCESS") ",\"tasks\":[{\"run_id\":4,\"task_key\":\"a\"," STR("TERMINATED",
                                                                              "SUCCESS") "}]}");
    _cleanup_free_ char *before = get(b, 3);
    fd = open(file, O_RDONLY | O_CLOEXEC);
    is_int(store_import_fd(b, fd, &lines), 0, "import the old backup again");
    close(fd);
    _cleanup_free_ char *after = get(b, 3);
    is_str(after, before, "the terminated run stays terminated");

    /* a window, and the iterator's chunks */
    fd = open(test_path("w.jsonl"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    is_int(store_export_to_fd(a, 1500, 2500, STORE_EXPORT_NO_JOBS, fd, &lines), 0,
           "export a window");
    close(fd);
    is_int(lines, 1, "one run in [1500, 2500]");
    _cleanup_(store_export_freep) struct store_export *e = NULL;
    is_int(store_export_new(a, 0, 0, 0, &e), 0, "iterator");
    struct buf out = BUF_INIT(MIB);
    int calls = 0, total = 0, r;
    while ((r = store_export_next(e, &out, 1)) > 0) {
        calls++;
        total += r;
    }
    is_int(r, 0, "iterator ends with 0");
    is_int(total, 4, "four lines through the iterator");
    is_int(calls, 4, "one line per call with a 1-byte budget");
    buf_done(&out);
    is_int(store_export_new(a, 10, 5, 0, &e), -EINVAL, "to before from");

    /* bad input */
    static const char *const bad[] = { "not json\n", "{\"kind\":\"run\"}\n",
                                       "{\"kind\":\"run\",\"run\":{\"run_id\":\"x\"}}\n" };
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        const char *p = test_path("bad.jsonl");
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ok(write(fd, bad[i], strlen(bad[i])) > 0, "bad file %zu written", i);
        close(fd);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        ok(store_import_fd(b, fd, &lines) < 0, "bad line %zu refused", i);
        close(fd);
    }
    fd = open(test_path("skip.jsonl"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const char *future = "{\"kind\":\"future\"}\n\n";
    ok(write(fd, future, strlen(future)) > 0, "future kind written");
    close(fd);
    fd = open(test_path("skip.jsonl"), O_RDONLY | O_CLOEXEC);
    is_int(store_import_fd(b, fd, &lines), 0, "unknown kinds and empty lines are skipped");
    close(fd);
    is_int(store_check_integrity(b), 0, "integrity of b");
    store_free(a);
    store_free(b);
}

static void test_retention(void)
{
    struct store *s = NULL;
    is_int(store_open(test_path("r.db"), STORE_OPEN_CREATE, &s), 0, "open r");
    store_set_clock(s, fake_clock, NULL);
    int64_t day = 86400000;
    char text[512];
    /* 10 old terminal runs, 1 old running, 1 old tracked, 5 new */
    for (int i = 0; i < 17; i++) {
        int64_t start = i < 12 ? fake_now - 100 * day + i : fake_now - day + i;
        const char *state = i == 10 ? ST("RUNNING") : STR("TERMINATED", "SUCCESS");
        (void)snprintf(text, sizeof(text),
                       "{\"run_id\":%d,\"start_time\":%" PRIi64 ",%s,\"tasks\":[{\"run_id\":%d}]}",
                       100 + i * 10, start, state, 101 + i * 10);
        put(s, text);
    }
    store_track_run(s, 210, 0);
    _cleanup_json_ struct json_object *out =
        J("{\"metadata\":{\"run_id\":101,\"job_run_id\":100},\"notebook_output\":{}}");
    store_put_output(s, 101, out);

    struct store_retention none = { 0 };
    size_t deleted = 99;
    is_int(store_retention(s, &none, &deleted), 0, "no limits");
    is_int(deleted, 0, "keep forever by default");

    struct store_retention age = { .max_age_ms = 30 * day, .max_delete = 4 };
    is_int(store_retention(s, &age, &deleted), 1, "age: stopped by the bound");
    is_int(deleted, 4, "four deleted");
    age.max_delete = 0;
    is_int(store_retention(s, &age, &deleted), 0, "age: done");
    is_int(deleted, 6, "the other six old terminal runs");
    _cleanup_json_ struct json_object *o = NULL;
    is_int(store_get_run(s, 100, &o, NULL), -ENOENT, "old run gone");
    is_int(store_get_output(s, 101, &o), -ENOENT, "its output gone");
    int64_t parent;
    is_int(store_task_parent(s, 101, &parent), -ENOENT, "its task runs gone");
    is_int(store_get_run(s, 200, &o, NULL), 0, "old active run kept");
    json_object_put(o);
    o = NULL;
    is_int(store_get_run(s, 210, &o, NULL), 0, "old tracked run kept");
    json_object_put(o);
    o = NULL;
    is_int(store_get_run(s, 220, &o, NULL), 0, "new run kept");
    json_object_put(o);
    o = NULL;

    /* size: fill, then shrink to a limit */
    struct rungen g;
    rungen_init(&g, 3, 2000);
    store_begin(s);
    for (int i = 0; i < 2000; i++) {
        _cleanup_json_ struct json_object *r = rungen_run(&g, i);
        store_put_run(s, r, 0);
    }
    store_commit(s);
    uint64_t used = 0;
    store_used_bytes(s, &used);
    struct store_retention size = { .max_bytes = used / 2, .max_delete = 100000 };
    is_int(store_retention(s, &size, &deleted), 0, "size: done");
    uint64_t after = 0;
    store_used_bytes(s, &after);
    ok(after <= used / 2, "used %" PRIu64 " <= limit %" PRIu64 " (deleted %zu)", after, used / 2,
       deleted);
    is_int(store_get_run(s, 200, &o, NULL), 0, "the active run survives any size limit");
    json_object_put(o);
    o = NULL;
    struct store_retention tiny = { .max_bytes = 1, .max_delete = 100000 };
    is_int(store_retention(s, &tiny, &deleted), 0, "size 1: as far as it can go");
    struct store_counts c;
    store_count_runs(s, 0, &c);
    int64_t active = 0;
    for (int lc = 0; lc < _LIFE_CYCLE_MAX; lc++)
        if (!life_cycle_is_terminal((enum life_cycle_state)lc))
            for (int rs = 0; rs < _RESULT_MAX; rs++)
                active += c.n[lc][rs];
    is_int(c.total, active + 1, "only active runs and the tracked one are left");
    is_int(store_get_run(s, 210, &o, NULL), 0, "tracked run kept");
    is_int(store_check_integrity(s), 0, "integrity after retention");
    store_free(s);
}

int main(void)
{
    test_dir_make();
    test_export_import();
    test_retention();
    return tap_done();
}
