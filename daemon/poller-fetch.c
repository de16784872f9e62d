/* The poller's fetches: runs/get of a queued run (every page, with its
 * repair history); for a finished run then get-output (and runs/export
 * when configured) of each task run, all archived in one transaction and
 * marked final, so nothing archived is fetched twice. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/poller-private.h"
#include "db/runs.h"
#include "proto/apierror.h"
#include "proto/json.h"
#include "proto/log.h"
#include "proto/strutil.h"

#define FETCH_BACKOFF_MAX_USEC (10 * 60 * USEC_PER_SEC)
/* Bytes of one run's outputs held for its transaction; beyond, the rest of
 * its outputs are left out (and logged). */
#define FINAL_HELD_MAX (256 * MIB)
#define FINAL_TASKS_MAX 10000
#define PATH_MAX_LEN 512

static void final_clear(struct final *f)
{
    json_object_put(f->pages);
    json_object_put(f->outputs);
    json_object_put(f->exports);
    free(f->page_token);
    free(f->tasks);
    *f = (struct final){};
}

struct final *poller_final_free(struct final *f)
{
    if (f) {
        final_clear(f);
        free(f);
    }
    return NULL;
}

void poller_fetch_abort(struct poller *p)
{
    final_clear(&p->fin);
    p->cur = NULL;
}

int poller_fetch_begin(struct poller *p, struct run *r)
{
    /* Out of the queue; it is p->cur until archived or sent back. */
    enum fetch_reason why = r->fetch;
    struct final *held = TAKE_PTR(r->held);
    poller_dequeue(p, r);
    r->refetch = false;
    final_clear(&p->fin);
    p->cur = r;
    if (held) {
        /* Its runs/get is in: on to the outputs. */
        p->fin = *held;
        free(held);
        return poller_fetch_next(p);
    }
    p->fin.terminal = why == FETCH_FINAL;
    if (!(p->fin.pages = json_object_new_array())) {
        poller_fetch_retry(p, true);
        return -ENOMEM;
    }
    return poller_fetch_next(p);
}

static int run_get_path(char *buf, size_t n, int64_t run_id, const char *token)
{
    int k =
        snprintf(buf, n, "/api/2.2/jobs/runs/get?run_id=%" PRId64 "&include_history=true", run_id);
    if (k < 0 || (size_t)k >= n)
        return -E2BIG;
    if (!token)
        return 0;
    struct buf b = BUF_INIT(n);
    int r = buf_append(&b, buf, (size_t)k);
    if (r >= 0)
        r = poller_append_token(&b, token);
    if (r >= 0)
        r = strscpy(buf, n, b.data);
    buf_done(&b);
    return r < 0 ? -E2BIG : 0;
}

int poller_fetch_next(struct poller *p)
{
    struct final *f = &p->fin;
    char path[PATH_MAX_LEN];
    int r;
    if (!f->tasks && (json_object_array_length(f->pages) == 0 || f->page_token)) {
        r = run_get_path(path, sizeof(path), p->cur->run_id, f->page_token);
        return r < 0 ? r : poller_submit(p, STEP_RUN_GET, path);
    }
    if (!f->exporting && f->i_task < f->n_tasks) {
        snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get-output?run_id=%" PRId64,
                 f->tasks[f->i_task]);
        return poller_submit(p, STEP_OUTPUT, path);
    }
    if (f->exporting && f->i_task < f->n_tasks) {
        snprintf(path, sizeof(path),
                 "/api/2.2/jobs/runs/export?run_id=%" PRId64 "&views_to_export=%s",
                 f->tasks[f->i_task], p->s.export_views);
        return poller_submit(p, STEP_EXPORT, path);
    }
    return -EINVAL; /* nothing left: poller_fetch_answer() finishes first */
}

void poller_fetch_retry(struct poller *p, bool failed)
{
    struct run *r = p->cur;
    bool terminal = p->fin.terminal;
    poller_fetch_abort(p);
    if (!r)
        return;
    if (failed) {
        r->failures = MIN(r->failures + 1, 20u);
        uint64_t d = MIN(USEC_PER_SEC << MIN(r->failures, 10u), FETCH_BACKOFF_MAX_USEC);
        r->not_before_usec = poller_now_usec() + d;
    }
    poller_enqueue(p, r, terminal ? FETCH_FINAL : FETCH_PROBE, r->bulk);
}

/* The task run ids of the run (every page), for their outputs. */
static int collect_tasks(struct final *f)
{
    size_t n_pages = json_object_array_length(f->pages), n = 0;
    for (size_t i = 0; i < n_pages; i++) {
        struct json_object *tasks = NULL;
        if (json_get_array(json_object_array_get_idx(f->pages, i), "tasks", JSON_NULLABLE, &tasks,
                           NULL) > 0)
            n += json_object_array_length(tasks);
    }
    n = MIN(n, (size_t)FINAL_TASKS_MAX);
    f->tasks = calloc(MAX(n, 1u), sizeof(*f->tasks));
    if (!f->tasks)
        return -ENOMEM;
    for (size_t i = 0; i < n_pages && f->n_tasks < n; i++) {
        struct json_object *tasks = NULL;
        if (json_get_array(json_object_array_get_idx(f->pages, i), "tasks", JSON_NULLABLE, &tasks,
                           NULL) <= 0)
            continue;
        for (size_t k = 0; k < json_object_array_length(tasks) && f->n_tasks < n; k++) {
            int64_t id = 0;
            if (json_get_id(json_object_array_get_idx(tasks, k), "run_id", JSON_NULLABLE, &id,
                            NULL) > 0)
                f->tasks[f->n_tasks++] = id;
        }
    }
    return 0;
}

/* Writes the run, its outputs and exports, marks it final and no longer
 * tracked: one transaction. */
static int archive_final(struct poller *p)
{
    struct final *f = &p->fin;
    struct run *r = p->cur;
    int e = store_begin(p->store);
    if (e < 0)
        return e;
    for (size_t i = 0; i < json_object_array_length(f->pages); i++)
        (void)store_put_run(p->store, json_object_array_get_idx(f->pages, i),
                            i ? STORE_PUT_PAGE : 0);
    size_t n = f->outputs ? json_object_array_length(f->outputs) : 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *pair = json_object_array_get_idx(f->outputs, i);
        (void)store_put_output(p->store, json_object_get_int64(json_object_array_get_idx(pair, 0)),
                               json_object_array_get_idx(pair, 1));
    }
    n = f->exports ? json_object_array_length(f->exports) : 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *pair = json_object_array_get_idx(f->exports, i);
        (void)store_put_export(p->store, json_object_get_int64(json_object_array_get_idx(pair, 0)),
                               p->s.export_views, json_object_array_get_idx(pair, 1));
    }
    (void)store_mark_final(p->store, r->run_id);
    if (r->active)
        (void)store_untrack_run(p->store, r->run_id);
    e = store_commit(p->store);
    if (e < 0)
        return e;
    p->stats.archived++;
    p->stats.outputs += f->outputs ? json_object_array_length(f->outputs) : 0;
    return 0;
}

static void fetch_finish(struct poller *p)
{
    struct run *r = p->cur;
    int e = archive_final(p);
    if (e < 0) {
        log_warning_errno(e, "Failed to archive run %" PRId64 ", trying again later: %m",
                          r->run_id);
        poller_fetch_retry(p, true);
        return;
    }
    /* Waiters not answered yet (multi-page runs, or late ones) get the
     * archive's view, every page merged. */
    if (r->waiters) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        if (store_get_run_text(p->store, r->run_id, &text, &len, NULL) >= 0)
            poller_wake(p, r, text, len);
    }
    if (r->active) { /* untracked in the transaction */
        r->active = false;
        p->n_active--;
    }
    r->failures = 0;
    poller_fetch_abort(p);
    if (r->refetch)
        poller_enqueue(p, r, FETCH_PROBE, false);
    poller_release(p, r);
}

static void fetch_gone(struct poller *p)
{
    struct run *r = p->cur;
    log_info("Poller: run %" PRId64 " no longer exists in the workspace", r->run_id);
    int e = store_forget_run(p->store, r->run_id, store_now_ms(p->store));
    if (e < 0 && e != -ENOENT)
        log_warning_errno(e, "Failed to mark run %" PRId64 " as forgotten, ignoring: %m",
                          r->run_id);
    poller_untrack(p, r);
    poller_wake(p, r, NULL, 0);
    poller_fetch_abort(p);
    poller_release(p, r);
}

/* The last page of runs/get is in: a finished run goes on to its outputs,
 * an active one is tracked. */
static void run_complete(struct poller *p, const struct upstream_response *u)
{
    struct final *f = &p->fin;
    struct run *r = p->cur;
    struct json_object *first = json_object_array_get_idx(f->pages, 0);
    enum life_cycle_state lc = poller_life_cycle(first);
    bool single = json_object_array_length(f->pages) == 1;

    if (!life_cycle_is_terminal(lc)) {
        /* Still active (a probe, or a run missed by a list page). */
        poller_seen_active(p, r, first);
        r->failures = 0;
        poller_fetch_abort(p);
        if (r->refetch)
            poller_enqueue(p, r, FETCH_PROBE, false);
        return;
    }
    (void)poller_observe(p, r, first, false);
    /* The final view goes to the archive now, so that the history agrees
     * with what waiters and watchers are told; the outputs and the final
     * mark follow in one transaction (with the view again, unchanged). */
    if (store_begin(p->store) >= 0) {
        for (size_t i = 0; i < json_object_array_length(f->pages); i++)
            (void)store_put_run(p->store, json_object_array_get_idx(f->pages, i),
                                i ? STORE_PUT_PAGE : 0);
        int e = store_commit(p->store);
        if (e < 0)
            log_warning_errno(e, "Failed to archive run %" PRId64 ", ignoring: %m", r->run_id);
    }
    if (single && r->waiters)
        poller_wake(p, r, u->body, u->body_len);
    if (single && p->cache) {
        /* The poller's view, for proxied reads of the same request. */
        _cleanup_(cache_body_unrefp) struct cache_body *b = NULL;
        _cleanup_free_ char *key = NULL;
        char id[24];
        snprintf(id, sizeof(id), "%" PRId64, r->run_id);
        const char *const names[] = { "run_id", "include_history" };
        const char *const values[] = { id, "true" };
        if (cache_key_build(HTTP_GET, "/api/2.2/jobs/runs/get", names, values, 2, &key) >= 0 &&
            cache_body_new(u->content_type, u->body, u->body_len, &b) >= 0) {
            struct cache_tags tags = {
                .class = CACHE_RUN,
                .job_id = r->job_id,
                .run_id = r->run_id,
                .terminal = true,
            };
            (void)cache_store(p->cache, key, 200, b, 0, &tags, poller_now_usec());
        }
    }
    if (collect_tasks(f) < 0) {
        poller_fetch_retry(p, true);
        return;
    }
    if (!p->s.outputs)
        f->n_tasks = 0;
    if (f->n_tasks == 0) {
        fetch_finish(p);
        return;
    }
    /* Other runs' states first: this one's outputs wait their turn, its
     * runs/get held for the one transaction. */
    struct final *held;
    if (!r->bulk && p->queues[QUEUE_STATE].n > 0 &&
        p->queues[QUEUE_OUTPUTS].n < OUTPUTS_DEFERRED_MAX && (held = malloc(sizeof(*held)))) {
        *held = *f;
        *f = (struct final){};
        p->cur = NULL;
        r->refetch = false;
        poller_enqueue(p, r, FETCH_OUTPUTS, false);
        r->held = held;
    }
}

static int keep_pair(struct json_object **arr, int64_t id, struct json_object *o)
{
    if (!*arr && !(*arr = json_object_new_array()))
        return -ENOMEM;
    struct json_object *pair = json_object_new_array();
    if (!pair)
        return -ENOMEM;
    if (json_append(pair, json_object_new_int64(id)) < 0 ||
        json_append(pair, json_object_get(o)) < 0 || json_append(*arr, pair) < 0)
        return -ENOMEM;
    return 0;
}

static bool not_found(const struct upstream_response *u)
{
    struct api_error err;
    return u->status >= 400 && u->status < 500 &&
           api_error_parse(u->status, u->body, u->body_len, &err) == 0 &&
           api_error_is_not_found(&err);
}

void poller_fetch_answer(struct poller *p, enum step_kind kind, const struct upstream_response *u)
{
    struct final *f = &p->fin;
    _cleanup_json_ struct json_object *o = NULL;
    if (!p->cur)
        return;
    if (poller_failed(u)) {
        poller_fetch_retry(p, true);
        return;
    }
    if (kind == STEP_RUN_GET && not_found(u)) {
        fetch_gone(p);
        return;
    }
    if (u->status == 200 &&
        json_parse_object(u->body, u->body_len, JSON_SIZE_MAX, JSON_DEPTH_MAX, &o, NULL) < 0)
        o = NULL;

    if (kind == STEP_RUN_GET) {
        const char *token = NULL;
        if (!o) {
            log_warning("Poller: runs/get of run %" PRId64 " answered %d, trying again later",
                        p->cur->run_id, u->status);
            poller_fetch_retry(p, true);
            return;
        }
        (void)json_get_string(o, "next_page_token", JSON_NULLABLE, &token, NULL);
        free(f->page_token);
        f->page_token = token && *token ? strdup(token) : NULL;
        if (json_append(f->pages, json_object_get(o)) < 0) {
            poller_fetch_retry(p, true);
            return;
        }
        if (!f->page_token)
            run_complete(p, u);
        return;
    }

    /* An output or export of one task run; one that cannot be had (a 4xx)
     * is left out. */
    if (o && f->held + u->body_len <= FINAL_HELD_MAX) {
        f->held += u->body_len;
        if (keep_pair(kind == STEP_OUTPUT ? &f->outputs : &f->exports, f->tasks[f->i_task], o) <
            0) {
            poller_fetch_retry(p, true);
            return;
        }
    } else if (o)
        log_warning("Poller: outputs of run %" PRId64 " exceed %zu MiB, the rest left out",
                    p->cur->run_id, FINAL_HELD_MAX / MIB);
    f->i_task++;
    if (f->i_task < f->n_tasks)
        return;
    if (!f->exporting && p->s.export_views && *p->s.export_views) {
        f->exporting = true;
        f->i_task = 0;
        return;
    }
    fetch_finish(p);
}
