/* Fuzz target for every JSON decoder of proto/ and db/: the strict parser
 * (json_parse, json_parse_object) and its limits, the error model
 * (api_error_parse), the run-state model (run_state_from_json), db's run
 * views and merges (run_view_read, run_view_fresher, merge_run, merge_job,
 * strip_paging) and the archive's upserts (store_put_run, store_put_job,
 * store_put_output, in a transaction rolled back each time).
 *
 * The input is one document, or two separated by a NUL byte (which no JSON
 * text may hold): the second is merged with the first. Properties checked
 * beyond "no crash, no leak": what parses prints as text that parses again
 * to the same text, limits are kept, a run state survives its own encoder,
 * and a run the archive took is read back. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/merge.h"
#include "db/runs.h"
#include "db/store.h"
#include "proto/apierror.h"
#include "proto/json.h"
#include "proto/runstate.h"
#include "tests/fuzz/fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX (64 * KIB)

static struct store *store;

_noreturn_ static void fail(const char *what, const char *text, size_t len)
{
    fprintf(stderr, "fuzz-json: %s:\n%.*s\n", what, (int)MIN(len, (size_t)4096), text);
    abort();
}

static void close_store(void)
{
    store = store_free(store);
}

static void setup(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/archive.db", fuzz_scratch("json"));
    if (store_open(path, STORE_OPEN_CREATE | STORE_OPEN_NO_AUTODICT, &store) < 0)
        abort();
    atexit(close_store);
}

static void check_error_text(const struct json_error *err, const char *text, size_t len)
{
    if (memchr(err->message, 0, sizeof(err->message)) == NULL)
        fail("an error message without its NUL", text, len);
}

/* Whatever parses dumps to text that parses again to the same text. */
static void round_trip(struct json_object *v, const char *text, size_t len)
{
    size_t n1 = 0, n2 = 0;
    const char *t1 = json_dump(v, &n1);
    if (!t1)
        abort();
    _cleanup_json_ struct json_object *again = NULL;
    struct json_error err = { { 0 } };
    if (json_parse(t1, n1, JSON_SIZE_MAX, JSON_DEPTH_MAX + 1, &again, &err) < 0) {
        fprintf(stderr, "fuzz-json: dump does not parse (%s): %.*s\n", err.message, (int)n1, t1);
        fail("input", text, len);
    }
    const char *t2 = json_dump(again, &n2);
    if (!t2 || n1 != n2 || memcmp(t1, t2, n1) != 0) {
        fprintf(stderr, "fuzz-json: dump changed: %.*s\n  then: %.*s\n", (int)n1, t1,
                (int)(t2 ? n2 : 0), t2 ? t2 : "");
        fail("input", text, len);
    }
}

static void run_state(struct json_object *o, const char *text, size_t len)
{
    struct run_state st = { 0 }, st2 = { 0 };
    struct json_error err = { { 0 } };
    if (run_state_from_json(o, &st, &err) < 0) {
        check_error_text(&err, text, len);
        run_state_done(&st);
        return;
    }
    (void)run_state_is_terminal(&st);
    (void)run_state_wait_outcome(&st);
    free(run_state_wait_error(&st));

    /* The encoder's output reads back to the same states. */
    _cleanup_json_ struct json_object *copy = json_object_new_object();
    if (!copy || run_state_to_json(&st, copy) < 0)
        abort();
    if (run_state_from_json(copy, &st2, &err) < 0 || st2.life_cycle != st.life_cycle ||
        st2.result != st.result || st2.status != st.status) {
        fprintf(stderr, "fuzz-json: run state %d/%d/%d read back as %d/%d/%d (%s)\n", st.life_cycle,
                st.result, st.status, st2.life_cycle, st2.result, st2.status, err.message);
        fail("input", text, len);
    }
    run_state_done(&st);
    run_state_done(&st2);
}

static void fields(struct json_object *o)
{
    static const char *const names[] = { "run_id",   "job_id", "start_time", "end_time",
                                         "run_name", "state",  "tasks",      "has_more" };
    struct json_error err;
    int64_t i;
    bool b;
    const char *s;
    struct json_object *x;
    for (size_t k = 0; k < ELEMENTSOF(names); k++) {
        (void)json_get_int64(o, names[k], JSON_OPTIONAL, &i, &err);
        (void)json_get_id(o, names[k], JSON_REQUIRED, &i, &err);
        (void)json_get_bool(o, names[k], JSON_NULLABLE, &b, &err);
        (void)json_get_string(o, names[k], JSON_OPTIONAL, &s, &err);
        (void)json_get_object(o, names[k], JSON_NULLABLE, &x, &err);
        (void)json_get_array(o, names[k], JSON_OPTIONAL, &x, &err);
    }
}

static void archive(struct json_object *o, const char *text, size_t len)
{
    struct run_view v;
    struct json_error err = { { 0 } };
    if (store_begin(store) < 0)
        abort();
    if (run_view_read(o, &v, &err) == 0 && store_put_run_text(store, o, text, len, 0) >= 0) {
        _cleanup_json_ struct json_object *back = NULL;
        int r = store_get_run(store, v.run_id, &back, NULL);
        if (r < 0 && r != -ENOENT) /* a task run's view is kept, not listed */
            fail("a run stored does not read back", text, len);
        _cleanup_json_ struct json_object *out = NULL;
        (void)store_get_run_outputs(store, v.run_id, &out);
    } else
        check_error_text(&err, text, len);
    (void)store_put_job(store, o, 0);
    store_rollback(store);
}

/* Returns the object, or NULL if the text is not one. */
static struct json_object *decode(const char *text, size_t len, unsigned salt)
{
    struct json_object *v = NULL;
    struct json_error err = { { 0 } };

    int r = json_parse(text, len, JSON_SIZE_MAX, JSON_DEPTH_MAX, &v, &err);
    if (r < 0) {
        check_error_text(&err, text, len);
        if (r != -EBADMSG && r != -ELOOP)
            fail("json_parse failed with an unexpected error", text, len);
    } else
        round_trip(v, text, len);

    /* The limits. */
    struct json_object *w = NULL;
    if (len > 0 && json_parse(text, len, len - 1, JSON_DEPTH_MAX, &w, &err) != -EMSGSIZE)
        fail("json_parse took more bytes than allowed", text, len);
    json_object_put(w);
    w = NULL;
    if (json_parse(text, len, JSON_SIZE_MAX, 2, &w, &err) == 0 && r < 0)
        fail("json_parse took with a depth of 2 what it refused with 64", text, len);
    json_object_put(w);

    /* Errors as the workspace (or a gateway) sends them. */
    static const int statuses[] = { 400, 401, 403, 404, 409, 429, 500, 502, 503, 504 };
    struct api_error e;
    if (api_error_parse(statuses[salt % ELEMENTSOF(statuses)], text, len, &e) < 0 ||
        !memchr(e.code, 0, sizeof(e.code)) || !memchr(e.message, 0, sizeof(e.message)))
        fail("api_error_parse", text, len);
    (void)api_error_is_retryable(&e);
    (void)api_error_is_not_found(&e);
    if (api_error_parse(200, text, len, &e) != -EINVAL)
        fail("api_error_parse took a 200", text, len);

    if (!v || !json_object_is_type(v, json_type_object)) {
        json_object_put(v);
        return NULL;
    }
    struct json_object *o2 = NULL;
    if (json_parse_object(text, len, JSON_SIZE_MAX, JSON_DEPTH_MAX, &o2, &err) < 0)
        fail("json_parse_object refused an object", text, len);
    json_object_put(o2);

    run_state(v, text, len);
    fields(v);
    struct run_view view;
    if (run_view_read(v, &view, &err) < 0)
        check_error_text(&err, text, len);
    _cleanup_json_ struct json_object *stripped = NULL;
    if (strip_paging(v, &stripped) < 0)
        abort();
    archive(v, text, len);
    return v;
}

/* Two views of one run or job. */
static void pair(struct json_object *a, struct json_object *b)
{
    struct run_view va, vb;
    struct json_error err;
    bool views = run_view_read(a, &va, &err) == 0 && run_view_read(b, &vb, &err) == 0;
    if (views) {
        (void)run_view_fresher(&va, &vb, vb.detail);
        (void)run_view_fresher(&vb, &va, va.detail | RUN_DETAIL_TASKS);
    }
    for (int stale = 0; stale < 2; stale++) {
        _cleanup_json_ struct json_object *m = NULL, *j = NULL;
        if (merge_run(a, b, stale, &m) == 0 && views) {
            /* A merge of two views of a run is a view of it. */
            struct run_view vm;
            if (run_view_read(m, &vm, &err) < 0) {
                fprintf(stderr, "fuzz-json: a merged run is no run: %s\n%s\n", err.message,
                        json_dump(m, NULL));
                abort();
            }
        }
        (void)merge_job(a, b, stale, &j);
    }
    if (store_begin(store) < 0)
        abort();
    (void)store_put_run(store, a, 0);
    (void)store_put_run(store, b, 0);
    (void)store_put_job(store, a, 0);
    (void)store_put_job(store, b, STORE_PUT_PAGE);
    if (views) {
        (void)store_put_output(store, va.run_id, b);
        _cleanup_json_ struct json_object *back = NULL, *out = NULL;
        (void)store_get_run(store, va.run_id, &back, NULL);
        (void)store_get_output(store, va.run_id, &out);
    }
    store_rollback(store);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!store)
        setup();
    if (size > INPUT_MAX)
        return 0;
    const char *text = (const char *)data;
    const char *nul = memchr(text, 0, size);
    size_t la = nul ? (size_t)(nul - text) : size;
    unsigned salt = size ? data[size - 1] : 0;

    _cleanup_json_ struct json_object *a = decode(text, la, salt);
    if (!nul)
        return 0;
    _cleanup_json_ struct json_object *b = decode(nul + 1, size - la - 1, salt + 1);
    if (a && b)
        pair(a, b);
    return 0;
}
