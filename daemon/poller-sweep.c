/* The poller's sweeps (runs/list of the active runs, then of those
 * completed since the watermark) and the backfill (runs/list of the last
 * days, every run archived). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/poller-private.h"
#include "db/runs.h"
#include "proto/json.h"
#include "proto/log.h"
#include "proto/strutil.h"

#define RUNS_PAGE 25
#define SWEEP_BACKOFF_MAX_USEC (5 * 60 * USEC_PER_SEC)
#define LIST_PATH_MAX 512

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "/api/2.2/jobs/runs/list?<what>&limit=25[&job_id=J][&page_token=T]" */
static int list_path(char *buf, size_t n, const char *what, int64_t job_id, const char *token)
{
    struct buf b = BUF_INIT(n);
    int r = buf_appendf(&b, "/api/2.2/jobs/runs/list?%s&limit=%d", what, RUNS_PAGE);
    if (r >= 0 && job_id > 0)
        r = buf_appendf(&b, "&job_id=%" PRId64, job_id);
    if (r >= 0 && token)
        r = poller_append_token(&b, token);
    if (r >= 0)
        r = strscpy(buf, n, b.data ? b.data : "");
    buf_done(&b);
    return r < 0 ? -E2BIG : 0;
}

static bool per_job(const struct poller *p)
{
    return p->s.track == POLLER_TRACK_JOBS;
}

void poller_sweep_begin(struct poller *p)
{
    p->sweep_no++;
    p->sweep_started_usec = poller_now_usec();
    p->sweep_newest_start_ms = p->newest_start_ms;
    p->sweep_job = 0;
    free(p->page_token);
    p->page_token = NULL;
    if (p->s.track == POLLER_TRACK_LOCAL) {
        /* No listing: each tracked run is looked at by itself. */
        for (size_t i = 0; i < p->n_buckets; i++)
            for (struct run *r = p->buckets[i]; r; r = r->hnext)
                if (r->active && r->fetch == FETCH_NONE && p->cur != r)
                    poller_enqueue(p, r, FETCH_PROBE, false);
        p->stats.sweeps++;
        p->sweep_period_usec = p->s.interval_min_usec;
        p->next_sweep_usec = poller_now_usec() + poller_next_delay(p);
        p->sweep_phase = SWEEP_IDLE;
        return;
    }
    if (per_job(p) && p->s.n_jobs == 0) {
        p->next_sweep_usec = UINT64_MAX;
        p->sweep_phase = SWEEP_IDLE;
        return;
    }
    p->sweep_phase = SWEEP_ACTIVE;
}

int poller_sweep_next(struct poller *p)
{
    char path[LIST_PATH_MAX], what[64];
    int64_t job = per_job(p) ? p->s.jobs[p->sweep_job] : 0;
    if (p->sweep_phase == SWEEP_ACTIVE)
        snprintf(what, sizeof(what), "active_only=true&expand_tasks=true");
    else
        snprintf(what, sizeof(what), "completed_only=true&start_time_from=%" PRId64,
                 MAX(p->watermark_ms, 0));
    int r = list_path(path, sizeof(path), what, job, p->page_token);
    if (r < 0)
        return r;
    return poller_submit(p, p->sweep_phase == SWEEP_ACTIVE ? STEP_ACTIVE_PAGE : STEP_COMPLETED_PAGE,
                         path);
}

void poller_sweep_failed(struct poller *p)
{
    p->sweep_phase = SWEEP_IDLE;
    free(p->page_token);
    p->page_token = NULL;
    p->sweep_backoff_usec = p->sweep_backoff_usec
                                ? MIN(p->sweep_backoff_usec * 2, SWEEP_BACKOFF_MAX_USEC)
                                : p->s.interval_min_usec;
    p->next_sweep_usec = poller_now_usec() + p->sweep_backoff_usec;
}

/* Runs tracked as active that this sweep did not see have ended (or were
 * deleted): fetch them. */
static void sweep_vanished(struct poller *p)
{
    for (size_t i = 0; i < p->n_buckets; i++)
        for (struct run *r = p->buckets[i]; r; r = r->hnext)
            if (r->active && r->swept != p->sweep_no && r->fetch == FETCH_NONE && p->cur != r &&
                (!per_job(p) || r->job_id > 0))
                poller_enqueue(p, r, FETCH_FINAL, false);
}

static void sweep_done(struct poller *p)
{
    uint64_t now = poller_now_usec();
    p->sweep_phase = SWEEP_IDLE;
    p->sweep_backoff_usec = 0;
    p->stats.sweeps++;
    p->stats.last_sweep_duration_usec = now - p->sweep_started_usec;
    p->stats.last_sweep_usec = (uint64_t)wall_ms() * USEC_PER_MSEC;
    p->sweep_period_usec = MAX(now - p->sweep_started_usec, p->s.interval_min_usec);
    /* Runs that start from now on start after the newest start seen before
     * this sweep began, give or take the slack. */
    int64_t w = p->sweep_newest_start_ms - WATERMARK_SLACK_MS;
    if (w > p->watermark_ms) {
        p->watermark_ms = w;
        int e = store_state_set_int(p->store, STATE_WATERMARK, w);
        if (e < 0)
            log_warning_errno(e, "Failed to save the poller's watermark, ignoring: %m");
    }
    uint64_t delay = poller_next_delay(p);
    p->next_sweep_usec = MAX(p->sweep_started_usec + delay, now + USEC_PER_MSEC * 100);
    poller_notify_status(p);
}

/* A page of active runs. */
static void active_page(struct poller *p, struct json_object *runs)
{
    size_t n = runs ? json_object_array_length(runs) : 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *o = json_object_array_get_idx(runs, i);
        int64_t id = 0;
        if (!json_object_is_type(o, json_type_object) ||
            json_get_id(o, "run_id", JSON_REQUIRED, &id, NULL) <= 0)
            continue;
        struct run *r = poller_find_or_add(p, id);
        if (!r) {
            log_warning("Poller: more than %d runs held, run %" PRId64 " left out",
                        STORE_TRACKED_MAX, id);
            continue;
        }
        enum life_cycle_state lc = poller_life_cycle(o);
        if (life_cycle_is_terminal(lc)) {
            /* Ended between the list and now: archive it. */
            (void)poller_observe(p, r, o, true);
            poller_enqueue(p, r, FETCH_FINAL, false);
            continue;
        }
        poller_seen_active(p, r, o);
    }
}

static bool archived_final(struct poller *p, int64_t run_id)
{
    struct store_run_meta meta;
    _cleanup_free_ char *text = NULL;
    size_t len;
    return store_get_run_text(p->store, run_id, &text, &len, &meta) >= 0 &&
           (meta.detail & RUN_DETAIL_FINAL);
}

/* A page of finished runs (completed pass or backfill): each not archived
 * final yet is queued; active ones (backfill) are tracked. */
static void finished_page(struct poller *p, struct json_object *runs, bool bulk)
{
    size_t n = runs ? json_object_array_length(runs) : 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *o = json_object_array_get_idx(runs, i);
        int64_t id = 0, start = 0;
        if (!json_object_is_type(o, json_type_object) ||
            json_get_id(o, "run_id", JSON_REQUIRED, &id, NULL) <= 0)
            continue;
        if (json_get_int64(o, "start_time", JSON_NULLABLE, &start, NULL) > 0 && start > 0) {
            p->newest_start_ms = MAX(p->newest_start_ms, start);
            if (bulk && (p->stats.backfill_oldest_ms == 0 || start < p->stats.backfill_oldest_ms))
                p->stats.backfill_oldest_ms = start;
        }
        if (bulk)
            p->stats.backfill_runs++;
        enum life_cycle_state lc = poller_life_cycle(o);
        struct run *r = poller_find(p, id);
        if (!life_cycle_is_terminal(lc)) {
            if (bulk && (r || (r = poller_find_or_add(p, id))))
                poller_seen_active(p, r, o);
            continue;
        }
        if ((r && r->fetch != FETCH_NONE) || archived_final(p, id))
            continue;
        int e = store_put_run(p->store, o, 0);
        if (e < 0)
            log_debug_errno(e, "Failed to archive the list view of run %" PRId64 ": %m", id);
        if (!r && !(r = poller_find_or_add(p, id)))
            continue;
        poller_enqueue(p, r, FETCH_FINAL, bulk);
    }
}

/* Parses a 200 list page: its runs array (or NULL) and next page token. */
static int list_answer(const struct upstream_response *u, struct json_object **ret_page,
                       struct json_object **ret_runs, char **ret_token)
{
    struct json_error err;
    struct json_object *page = NULL, *runs = NULL;
    const char *token = NULL;
    if (u->status != 200)
        return -EPROTO;
    int r = json_parse_object(u->body, u->body_len, JSON_SIZE_MAX, JSON_DEPTH_MAX, &page, &err);
    if (r < 0)
        return r;
    if (json_get_array(page, "runs", JSON_NULLABLE, &runs, &err) < 0 ||
        json_get_string(page, "next_page_token", JSON_NULLABLE, &token, &err) < 0) {
        json_object_put(page);
        return -EBADMSG;
    }
    *ret_token = token && *token ? strdup(token) : NULL;
    *ret_runs = runs;
    *ret_page = page;
    return 0;
}

void poller_sweep_answer(struct poller *p, enum step_kind kind, const struct upstream_response *u)
{
    _cleanup_json_ struct json_object *page = NULL;
    struct json_object *runs = NULL;
    char *token = NULL;
    if (p->sweep_phase == SWEEP_IDLE)
        return;
    int r = list_answer(u, &page, &runs, &token);
    if (r < 0) {
        if (!poller_failed(u))
            log_warning("Poller: runs/list answered %d%s, the sweep stops here", u->status,
                        r == -EPROTO ? "" : " with a body that is not a run list");
        poller_sweep_failed(p);
        return;
    }
    bool batch = store_begin(p->store) >= 0;
    if (kind == STEP_ACTIVE_PAGE)
        active_page(p, runs);
    else
        finished_page(p, runs, false);
    if (batch && (r = store_commit(p->store)) < 0)
        log_warning_errno(r, "Failed to archive a page of runs, ignoring: %m");
    free(p->page_token);
    p->page_token = token;
    if (token)
        return;
    if (per_job(p) && p->sweep_job + 1 < p->s.n_jobs) {
        p->sweep_job++;
        return;
    }
    p->sweep_job = 0;
    if (kind == STEP_ACTIVE_PAGE) {
        sweep_vanished(p);
        p->sweep_phase = SWEEP_COMPLETED;
    } else
        sweep_done(p);
}

/* ---- the backfill ---- */

int poller_backfill(struct poller *p)
{
    if (p->backfill_running)
        return -EBUSY;
    if (p->s.track == POLLER_TRACK_LOCAL)
        return -EOPNOTSUPP;
    p->backfill_running = true;
    p->backfill_job = 0;
    free(p->backfill_token);
    p->backfill_token = NULL;
    p->backfill_from_ms = wall_ms() - (int64_t)p->s.backfill_days * 86400 * 1000;
    p->stats.backfill_pages = 0;
    p->stats.backfill_runs = 0;
    p->stats.backfill_oldest_ms = 0;
    p->stats.backfill_done = false;
    log_info("Poller: backfill of the last %u days started", p->s.backfill_days);
    poller_kick(p);
    return 0;
}

int poller_backfill_next(struct poller *p)
{
    char path[LIST_PATH_MAX], what[64];
    if (per_job(p) && p->s.n_jobs == 0) {
        p->backfill_running = false;
        return 0;
    }
    snprintf(what, sizeof(what), "start_time_from=%" PRId64, p->backfill_from_ms);
    int r = list_path(path, sizeof(path), what, per_job(p) ? p->s.jobs[p->backfill_job] : 0,
                      p->backfill_token);
    if (r < 0)
        return r;
    return poller_submit(p, STEP_BACKFILL_PAGE, path);
}

void poller_backfill_answer(struct poller *p, const struct upstream_response *u)
{
    _cleanup_json_ struct json_object *page = NULL;
    struct json_object *runs = NULL;
    char *token = NULL;
    if (!p->backfill_running)
        return;
    int r = list_answer(u, &page, &runs, &token);
    if (r < 0) {
        if (poller_failed(u)) {
            /* The same page again, after a while. */
            p->backfill_backoff_usec =
                p->backfill_backoff_usec ? MIN(p->backfill_backoff_usec * 2, SWEEP_BACKOFF_MAX_USEC)
                                         : p->s.interval_min_usec;
            p->backfill_not_before_usec = poller_now_usec() + p->backfill_backoff_usec;
            return;
        }
        log_warning("Poller: the backfill stops: runs/list answered %d", u->status);
        p->backfill_running = false;
        return;
    }
    p->stats.backfill_pages++;
    p->backfill_backoff_usec = 0;
    bool batch = store_begin(p->store) >= 0;
    finished_page(p, runs, true);
    if (batch && (r = store_commit(p->store)) < 0)
        log_warning_errno(r, "Failed to archive a page of runs, ignoring: %m");
    free(p->backfill_token);
    p->backfill_token = token;
    poller_notify_status(p);
    if (token)
        return;
    if (per_job(p) && p->backfill_job + 1 < p->s.n_jobs) {
        p->backfill_job++;
        return;
    }
    p->backfill_running = false;
    p->stats.backfill_done = true;
    r = store_state_set_int(p->store, STATE_BACKFILL_DONE, wall_ms());
    if (r < 0)
        log_warning_errno(r, "Failed to note the backfill as done, ignoring: %m");
    log_info("Poller: backfill listed %" PRIu64 " runs in %" PRIu64 " pages; %u left to archive",
             p->stats.backfill_runs, p->stats.backfill_pages, p->queues[QUEUE_BULK].n);
    p->status_sent_usec = 0;
    poller_notify_status(p);
}
