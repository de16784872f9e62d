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

/* The last bytes stored per object, by a hash of (endpoint, id, page): a
 * direct-mapped table, so a collision only costs a needless write. */
#define SEEN_SLOTS 4096

struct seen {
    uint64_t object;
    uint64_t body;
};

struct archiver {
    struct store *store;
    struct archiver_stats stats;
    struct seen seen[SEEN_SLOTS];
};

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

#define FNV_BASIS 14695981039346656037ULL

static uint64_t object_hash(const struct archive_subject *s)
{
    int64_t parts[4] = { s->endpoint->id, s->job_id, s->run_id, s->page };
    uint64_t h = fnv1a(FNV_BASIS, parts, sizeof(parts));
    return fnv1a(h, s->views ? s->views : "", s->views ? strlen(s->views) : 0) | 1;
}

static bool kept_kind(enum endpoint_id id)
{
    switch (id) {
    case ENDPOINT_RUNS_GET:
    case ENDPOINT_RUNS_LIST:
    case ENDPOINT_RUNS_GET_OUTPUT:
    case ENDPOINT_RUNS_EXPORT:
    case ENDPOINT_JOBS_GET:
    case ENDPOINT_JOBS_LIST:
        return true;
    default:
        return false;
    }
}

bool archiver_wants(struct archiver *a, const struct archive_subject *s,
                    const struct upstream_response *u)
{
    enum endpoint_id id = s->endpoint->id;
    if (u->status != 200)
        return false;
    if (!kept_kind(id))
        return id == ENDPOINT_RUNS_REPAIR || id == ENDPOINT_RUNS_DELETE ||
               id == ENDPOINT_JOBS_DELETE;
    uint64_t object = object_hash(s);
    const struct seen *slot = &a->seen[object % SEEN_SLOTS];
    if (slot->object == object && slot->body == fnv1a(FNV_BASIS, u->body, u->body_len)) {
        a->stats.skipped++;
        return false;
    }
    return true;
}

static void remember(struct archiver *a, const struct archive_subject *s,
                     const struct upstream_response *u)
{
    uint64_t object = object_hash(s);
    a->seen[object % SEEN_SLOTS] = (struct seen){ object, fnv1a(FNV_BASIS, u->body, u->body_len) };
}

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

void archive_subject_from_request(const struct request *req, struct archive_subject *ret)
{
    *ret = (struct archive_subject){
        .endpoint = req->match.endpoint,
        .job_id = req->job_id,
        .run_id = req->run_id,
        .page = request_query(req, "page_token") != NULL,
        .views = request_query(req, "views_to_export"),
    };
}

static void count(struct archiver *a, int r, const struct archive_subject *s)
{
    if (r == STORE_UNCHANGED)
        a->stats.unchanged++;
    else if (r > 0)
        a->stats.stored++;
    else if (r < 0) {
        a->stats.failed++;
        log_warning_errno(r, "Failed to archive an answer of %s, ignoring: %m", s->endpoint->name);
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

void archiver_record(struct archiver *a, const struct archive_subject *sub,
                     const struct upstream_response *u, struct json_object *parsed)
{
    const struct endpoint *e = sub->endpoint;
    int r = STORE_UNCHANGED;

    if (u->status != 200)
        return;
    switch (e->id) {
    case ENDPOINT_RUNS_DELETE:
        if (sub->run_id > 0)
            r = store_forget_run(a->store, sub->run_id, wall_ms());
        count(a, r == -ENOENT ? STORE_UNCHANGED : r, sub);
        return;
    case ENDPOINT_JOBS_DELETE:
        if (sub->job_id > 0)
            r = store_forget_job(a->store, sub->job_id, wall_ms());
        count(a, r == -ENOENT ? STORE_UNCHANGED : r, sub);
        return;
    default:
        if (e->id != ENDPOINT_RUNS_REPAIR && !kept_kind(e->id))
            return;
        break;
    }

    _cleanup_json_ struct json_object *own = NULL;
    struct json_object *o = parsed;
    if (!o) {
        if (json_parse_object(u->body, u->body_len, ARCHIVE_BODY_MAX, JSON_DEPTH_MAX, &own, NULL) <
            0)
            return; /* not JSON: nothing to keep */
        o = own;
    }
    unsigned page = sub->page ? STORE_PUT_PAGE : 0;
    int64_t repair_id = 0;

    switch (e->id) {
    case ENDPOINT_RUNS_REPAIR:
        if (sub->run_id > 0 && json_get_id(o, "repair_id", JSON_OPTIONAL, &repair_id, NULL) > 0)
            r = store_note_repair(a->store, sub->run_id, repair_id);
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
        if (sub->run_id > 0)
            r = store_put_output(a->store, sub->run_id, o);
        break;
    case ENDPOINT_RUNS_EXPORT:
        if (sub->run_id > 0)
            r = store_put_export(a->store, sub->run_id, sub->views ? sub->views : "CODE", o);
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
    count(a, r == -EINVAL ? STORE_UNCHANGED : r, sub);
    if (r >= 0 && kept_kind(e->id))
        remember(a, sub, u);
}

int archiver_lookup(struct archiver *a, const struct archive_subject *sub,
                    const struct upstream_response *u, char **ret_text, size_t *ret_len)
{
    const struct endpoint *e = sub->endpoint;
    struct api_error err;
    bool forgotten = false;
    int r;

    if (sub->run_id <= 0 || (e->id != ENDPOINT_RUNS_GET && e->id != ENDPOINT_RUNS_GET_OUTPUT))
        return 0;
    if (u->status >= 400 && u->status < 500 && u->status != 429) {
        /* Only "does not exist" is the workspace forgetting. */
        if (api_error_parse(u->status, u->body, u->body_len, &err) < 0 ||
            !api_error_is_not_found(&err))
            return 0;
        forgotten = true;
    } else if (u->status > 0 && u->status < 500 && u->status != 429)
        return 0;

    if (e->id == ENDPOINT_RUNS_GET)
        r = store_get_run_text(a->store, sub->run_id, ret_text, ret_len, NULL);
    else {
        _cleanup_json_ struct json_object *o = NULL;
        r = store_get_output(a->store, sub->run_id, &o);
        if (r >= 0) {
            size_t len = 0;
            const char *text = json_dump(o, &len);
            char *copy = text ? strdup(text) : NULL;
            if (!copy)
                return -ENOMEM;
            *ret_text = copy;
            *ret_len = len;
        }
    }
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    if (forgotten)
        (void)store_forget_run(a->store, sub->run_id, wall_ms());
    a->stats.answered++;
    return 1;
}
