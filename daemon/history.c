#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/history.h"
#include "db/export.h"
#include "db/runs.h"
#include "proto/json.h"
#include "proto/log.h"

/* The largest page answer built (1000 runs of a few KB each fit). */
#define PAGE_MAX (64 * MIB)

struct page {
    struct buf out;
    size_t n;
    int error;
};

static int bad(struct request *req, const char *param, const char *why)
{
    response_set_error(&req->response, 400, "INVALID_PARAMETER_VALUE", "Invalid %s: %s", param,
                       why);
    return 0;
}

static int on_run_text(const struct store_run_meta *m, struct json_object *run, void *userdata)
{
    struct page *p = userdata;
    int r = buf_append(&p->out, p->n ? "," : "", p->n ? 1 : 0);
    if (r >= 0)
        r = buf_append(&p->out, m->text, m->text_len);
    if (r < 0)
        return p->error = r;
    p->n++;
    return 0;
}

/* GET /jobsd/v1/runs: {"runs": [...upstream shape...], "has_more": bool,
 * "next_page_token": "..."}, newest first. The runs' stored text is copied
 * as is, never parsed. */
static int on_runs(struct request *req, void *userdata)
{
    struct store *s = userdata;
    struct store_run_filter f = { 0 };
    const char *v;
    int64_t n;
    size_t limit = JOBSD_RUNS_LIMIT_DEFAULT;

    if ((v = request_query(req, JOBSD_Q_JOB_ID)) && parse_id(v, &f.job_id) < 0)
        return bad(req, JOBSD_Q_JOB_ID, "not a job id");
    if ((v = request_query(req, JOBSD_Q_LIFE_CYCLE))) {
        f.life_cycle = life_cycle_state_from_string(v);
        if (f.life_cycle == LIFE_CYCLE_UNKNOWN)
            return bad(req, JOBSD_Q_LIFE_CYCLE, "not a life-cycle state");
    }
    if ((v = request_query(req, JOBSD_Q_RESULT))) {
        f.result = result_state_from_string(v);
        if (f.result == RESULT_UNKNOWN)
            return bad(req, JOBSD_Q_RESULT, "not a result state");
    }
    if ((v = request_query(req, JOBSD_Q_SINCE)) &&
        (parse_int64(v, &f.start_from) < 0 || f.start_from < 0))
        return bad(req, JOBSD_Q_SINCE, "not a time in ms");
    if ((v = request_query(req, JOBSD_Q_UNTIL)) &&
        (parse_int64(v, &f.start_to) < 0 || f.start_to < 0))
        return bad(req, JOBSD_Q_UNTIL, "not a time in ms");
    f.name_contains = request_query(req, JOBSD_Q_NAME);
    f.trigger = request_query(req, JOBSD_Q_TRIGGER);
    f.run_type = request_query(req, JOBSD_Q_RUN_TYPE);
    if ((v = request_query(req, JOBSD_Q_LIMIT))) {
        if (parse_int64(v, &n) < 0 || n < 1 || n > JOBSD_RUNS_LIMIT_MAX)
            return bad(req, JOBSD_Q_LIMIT, "must be 1.." STRINGIFY(JOBSD_RUNS_LIMIT_MAX));
        limit = (size_t)n;
    }

    struct page p = { .out = BUF_INIT(PAGE_MAX) };
    _cleanup_free_ char *next = NULL;
    int r = buf_append(&p.out, "{\"runs\":[", 9);
    if (r >= 0)
        r = store_list_runs(s, &f, request_query(req, JOBSD_Q_PAGE_TOKEN), limit, STORE_LIST_TEXT,
                            on_run_text, &p, &next);
    if (r == -EINVAL) {
        buf_done(&p.out);
        return bad(req, JOBSD_Q_PAGE_TOKEN, "not a page token of this archive");
    }
    if (r >= 0)
        r = buf_appendf(&p.out, "],\"has_more\":%s", next ? "true" : "false");
    if (r >= 0 && next)
        r = buf_appendf(&p.out, ",\"next_page_token\":\"%s\"", next); /* k.digits.digits */
    if (r >= 0)
        r = buf_append(&p.out, "}", 1);
    if (r < 0) {
        buf_done(&p.out);
        response_set_error(&req->response, r == -EMSGSIZE ? 413 : 500,
                           r == -EMSGSIZE ? "REQUEST_TOO_LARGE" : "INTERNAL_ERROR",
                           "The archive could not answer: %s", strerror(-r));
        return 0;
    }
    size_t len = 0;
    char *text = buf_steal(&p.out, &len);
    response_take_body(&req->response, 200, "application/json", text, len, NULL);
    req->response.source = JOBSD_SOURCE_ARCHIVE;
    return 0;
}

static int on_run(struct request *req, void *userdata)
{
    struct store *s = userdata;
    char *text = NULL;
    size_t len = 0;
    int r = store_get_run_text(s, req->match.path_id, &text, &len, NULL);
    if (r == -ENOENT)
        return response_set_error(&req->response, 404, "RESOURCE_DOES_NOT_EXIST",
                                  "Run %lld is not in the archive", (long long)req->match.path_id),
               0;
    if (r < 0)
        return response_set_error(&req->response, 500, "INTERNAL_ERROR",
                                  "The archive could not answer: %s", strerror(-r)),
               0;
    response_take_body(&req->response, 200, "application/json", text, len, NULL);
    req->response.source = JOBSD_SOURCE_ARCHIVE;
    return 0;
}

/* A job run: {"outputs": [every task run's get-output]}; a task run: its
 * own get-output answer. */
static int on_output(struct request *req, void *userdata)
{
    struct store *s = userdata;
    int64_t id = req->match.path_id;
    _cleanup_json_ struct json_object *o = NULL, *wrap = NULL;
    int r = store_get_output(s, id, &o);
    if (r == -ENOENT) {
        _cleanup_free_ char *run = NULL;
        size_t len;
        if (store_get_run_text(s, id, &run, &len, NULL) < 0)
            return response_set_error(&req->response, 404, "RESOURCE_DOES_NOT_EXIST",
                                      "Run %lld is not in the archive", (long long)id),
                   0;
        struct json_object *outputs = NULL;
        r = store_get_run_outputs(s, id, &outputs);
        if (r >= 0 &&
            (!(wrap = json_object_new_object()) || json_add(wrap, "outputs", outputs) < 0))
            r = -ENOMEM;
        else if (r < 0)
            json_object_put(outputs);
    }
    if (r < 0)
        return response_set_error(&req->response, 500, "INTERNAL_ERROR",
                                  "The archive could not answer: %s", strerror(-r)),
               0;
    response_set_json(&req->response, 200, wrap ? wrap : o);
    req->response.source = JOBSD_SOURCE_ARCHIVE;
    return 0;
}

/* GET /jobsd/v1/export: the archive as JSON Lines (db/export.h), made while
 * it is sent, a slice at a time: no transaction is held between slices,
 * and a slow reader costs memory for one slice only. */
struct export_stream {
    struct store_export *it;
    struct buf pending;
    size_t off;
};

#define EXPORT_SLICE (64 * KIB)

static ssize_t export_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct export_stream *x = cls;
    if (x->off >= x->pending.len) {
        buf_reset(&x->pending);
        x->off = 0;
        int r = store_export_next(x->it, &x->pending, EXPORT_SLICE);
        if (r < 0) {
            log_warning_errno(r, "Export cut short: %m");
            return RESPONSE_STREAM_ERROR;
        }
        if (r == 0)
            return RESPONSE_STREAM_END;
    }
    size_t n = MIN(max, x->pending.len - x->off);
    memcpy(out, x->pending.data + x->off, n);
    x->off += n;
    return (ssize_t)n;
}

static void export_free(void *cls)
{
    struct export_stream *x = cls;
    store_export_free(x->it);
    buf_done(&x->pending);
    free(x);
}

static int on_export(struct request *req, void *userdata)
{
    struct store *s = userdata;
    int64_t from = 0, to = 0;
    bool runs_only = false;
    const char *v;
    if ((v = request_query(req, JOBSD_Q_SINCE)) && (parse_int64(v, &from) < 0 || from < 0))
        return bad(req, JOBSD_Q_SINCE, "not a time in ms");
    if ((v = request_query(req, JOBSD_Q_UNTIL)) && (parse_int64(v, &to) < 0 || to < 0))
        return bad(req, JOBSD_Q_UNTIL, "not a time in ms");
    if ((v = request_query(req, JOBSD_Q_RUNS_ONLY)) && parse_bool(v, &runs_only) < 0)
        return bad(req, JOBSD_Q_RUNS_ONLY, "not a boolean");

    struct export_stream *x = calloc(1, sizeof(*x));
    if (!x)
        return response_set_error(&req->response, 500, "INTERNAL_ERROR", "Out of memory"), 0;
    x->pending = BUF_INIT(STORE_IMPORT_LINE_MAX + EXPORT_SLICE);
    int r = store_export_new(s, from, to, runs_only ? STORE_EXPORT_NO_JOBS : 0, &x->it);
    if (r < 0) {
        export_free(x);
        return response_set_error(&req->response, 500, "INTERNAL_ERROR",
                                  "The archive could not export: %s", strerror(-r)),
               0;
    }
    response_set_stream(&req->response, 200, "application/x-ndjson", export_read, export_free, x);
    req->response.source = JOBSD_SOURCE_ARCHIVE;
    return 0;
}

void history_register(struct router *r, struct store *s)
{
    router_set(r, ENDPOINT_LOCAL_EXPORT, on_export, s);
    router_set(r, ENDPOINT_LOCAL_RUNS, on_runs, s);
    router_set(r, ENDPOINT_LOCAL_RUN, on_run, s);
    router_set(r, ENDPOINT_LOCAL_RUN_OUTPUT, on_output, s);
}
