#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/archiver.h"
#include "db/runs.h"
#include "proto/apierror.h"
#include "proto/json.h"
#include "proto/log.h"

/* Upstream bodies parsed for the archive; a bigger one is not archived. */
#define ARCHIVE_BODY_MAX (64 * MIB)

struct archiver {
    struct store *store;
    struct archiver_stats stats;
};

int archiver_new(struct store *s, struct archiver **ret)
{
    struct archiver *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->store = s;
    *ret = a;
    return 0;
}

struct archiver *archiver_free(struct archiver *a)
{
    free(a);
    return NULL;
}

const struct archiver_stats *archiver_get_stats(const struct archiver *a)
{
    return &a->stats;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count(struct archiver *a, int r, const struct request *req)
{
    if (r == STORE_UNCHANGED)
        a->stats.unchanged++;
    else if (r > 0)
        a->stats.stored++;
    else if (r < 0) {
        a->stats.failed++;
        log_warning_errno(r, "Failed to archive the answer to %s %s, ignoring: %m", req->method_raw,
                          req->path);
    }
}

/* Each element of a list page (runs or jobs), in one transaction. */
static int put_list(struct archiver *a, struct json_object *o, const char *field, bool runs)
{
    struct json_object *list = NULL;
    int r = 0, changed = 0;
    if (json_get_array(o, field, JSON_NULLABLE, &list, NULL) <= 0)
        return STORE_UNCHANGED;
    bool own = !store_in_batch(a->store) && store_begin(a->store) >= 0;
    for (size_t i = 0; i < json_object_array_length(list) && r >= 0; i++) {
        struct json_object *e = json_object_array_get_idx(list, i);
        r = runs ? store_put_run(a->store, e, 0) : store_put_job(a->store, e, 0);
        if (r == -EINVAL)
            r = 0; /* one odd entry does not lose the page */
        if (r > 0)
            changed = r;
    }
    if (own)
        r = r < 0 ? (store_rollback(a->store), r) : store_commit(a->store);
    return r < 0 ? r : changed;
}

void archiver_record(struct archiver *a, const struct request *req,
                     const struct upstream_response *u)
{
    const struct endpoint *e = req->match.endpoint;
    int r = STORE_UNCHANGED;

    if (u->status != 200)
        return;
    switch (e->id) {
    case ENDPOINT_RUNS_DELETE:
        if (req->run_id > 0)
            r = store_forget_run(a->store, req->run_id, wall_ms());
        count(a, r == -ENOENT ? STORE_UNCHANGED : r, req);
        return;
    case ENDPOINT_JOBS_DELETE:
        if (req->job_id > 0)
            r = store_forget_job(a->store, req->job_id, wall_ms());
        count(a, r == -ENOENT ? STORE_UNCHANGED : r, req);
        return;
    case ENDPOINT_RUNS_REPAIR:
    case ENDPOINT_RUNS_GET:
    case ENDPOINT_RUNS_LIST:
    case ENDPOINT_RUNS_GET_OUTPUT:
    case ENDPOINT_RUNS_EXPORT:
    case ENDPOINT_JOBS_GET:
    case ENDPOINT_JOBS_LIST:
        break;
    default:
        return;
    }

    _cleanup_json_ struct json_object *o = NULL;
    if (json_parse_object(u->body, u->body_len, ARCHIVE_BODY_MAX, JSON_DEPTH_MAX, &o, NULL) < 0)
        return; /* not JSON: nothing to keep */
    unsigned page = request_query(req, "page_token") ? STORE_PUT_PAGE : 0;
    int64_t repair_id = 0;

    switch (e->id) {
    case ENDPOINT_RUNS_REPAIR:
        if (req->run_id > 0 && json_get_id(o, "repair_id", JSON_OPTIONAL, &repair_id, NULL) > 0)
            r = store_note_repair(a->store, req->run_id, repair_id);
        if (r == -ENOENT)
            r = STORE_UNCHANGED; /* a run the archive has not seen yet */
        break;
    case ENDPOINT_RUNS_GET:
        r = store_put_run_text(a->store, o, u->body, u->body_len, page);
        break;
    case ENDPOINT_RUNS_LIST:
        r = put_list(a, o, "runs", true);
        break;
    case ENDPOINT_RUNS_GET_OUTPUT:
        if (req->run_id > 0)
            r = store_put_output(a->store, req->run_id, o);
        break;
    case ENDPOINT_RUNS_EXPORT:
        if (req->run_id > 0) {
            const char *views = request_query(req, "views_to_export");
            r = store_put_export(a->store, req->run_id, views ? views : "CODE", o);
        }
        break;
    case ENDPOINT_JOBS_GET:
        r = store_put_job(a->store, o, page);
        break;
    case ENDPOINT_JOBS_LIST:
        r = put_list(a, o, "jobs", false);
        break;
    default:
        break;
    }
    count(a, r == -EINVAL ? STORE_UNCHANGED : r, req);
}

bool archiver_answer(struct archiver *a, struct request *req, const struct upstream_response *u)
{
    const struct endpoint *e = req->match.endpoint;
    struct api_error err;
    bool forgotten = false;

    if (req->run_id <= 0 || (e->id != ENDPOINT_RUNS_GET && e->id != ENDPOINT_RUNS_GET_OUTPUT))
        return false;
    if (u->status >= 400 && u->status < 500 && u->status != 429) {
        /* Only "does not exist" is the workspace forgetting. */
        if (api_error_parse(u->status, u->body, u->body_len, &err) < 0 ||
            !api_error_is_not_found(&err))
            return false;
        forgotten = true;
    } else if (u->status > 0 && u->status < 500 && u->status != 429)
        return false;

    if (e->id == ENDPOINT_RUNS_GET) {
        char *text = NULL;
        size_t len = 0;
        if (store_get_run_text(a->store, req->run_id, &text, &len, NULL) < 0)
            return false;
        response_take_body(&req->response, 200, "application/json", text, len, NULL);
    } else {
        _cleanup_json_ struct json_object *o = NULL;
        if (store_get_output(a->store, req->run_id, &o) < 0)
            return false;
        if (response_set_json(&req->response, 200, o) < 0)
            return false;
    }
    if (forgotten)
        (void)store_forget_run(a->store, req->run_id, wall_ms());
    req->response.source = JOBSD_SOURCE_ARCHIVE;
    a->stats.answered++;
    return true;
}
