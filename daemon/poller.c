#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "daemon/limiter.h"
#include "daemon/poller-private.h"
#include "db/runs.h"
#include "proto/apierror.h"
#include "proto/log.h"
#include "proto/strutil.h"

/* The backfill lists no further while this many finished runs wait. */

uint64_t poller_now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000u;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int poller_parse_jobs(const char *text, struct poller_settings *s)
{
    s->n_jobs = 0;
    if (!text)
        return 0;
    const char *p = text;
    while (*p) {
        char word[32];
        size_t n = strcspn(p, ", ");
        if (n == 0) {
            p++;
            continue;
        }
        if (n >= sizeof(word))
            return -EINVAL;
        memcpy(word, p, n);
        word[n] = 0;
        if (s->n_jobs >= POLLER_JOBS_MAX)
            return -E2BIG;
        if (parse_id(word, &s->jobs[s->n_jobs]) < 0)
            return -EINVAL;
        s->n_jobs++;
        p += n;
    }
    return 0;
}

int poller_append_token(struct buf *b, const char *token)
{
    /* Page tokens are opaque: encode what is not unreserved. */
    int r = buf_append(b, "&page_token=", 12);
    return r < 0 ? r : buf_append_urlencoded(b, token);
}

/* ---- the run table ---- */

static size_t run_bucket(const struct poller *p, int64_t run_id)
{
    uint64_t h = (uint64_t)run_id * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & (p->n_buckets - 1);
}

struct run *poller_find(struct poller *p, int64_t run_id)
{
    for (struct run *r = p->buckets[run_bucket(p, run_id)]; r; r = r->hnext)
        if (r->run_id == run_id)
            return r;
    return NULL;
}

static int grow(struct poller *p)
{
    size_t n = p->n_buckets ? p->n_buckets * 2 : 1024;
    struct run **b = calloc(n, sizeof(*b));
    if (!b)
        return -ENOMEM;
    struct run **old = p->buckets;
    size_t old_n = p->n_buckets;
    p->buckets = b;
    p->n_buckets = n;
    for (size_t i = 0; i < old_n; i++)
        for (struct run *r = old[i], *next; r; r = next) {
            next = r->hnext;
            size_t k = run_bucket(p, r->run_id);
            r->hnext = b[k];
            b[k] = r;
        }
    free(old);
    return 0;
}

struct run *poller_find_or_add(struct poller *p, int64_t run_id)
{
    struct run *r = poller_find(p, run_id);
    if (r)
        return r;
    if (p->n_runs >= STORE_TRACKED_MAX)
        return NULL;
    if (p->n_runs >= p->n_buckets && grow(p) < 0)
        return NULL;
    r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->run_id = run_id;
    r->expected_ms = -1;
    size_t k = run_bucket(p, run_id);
    r->hnext = p->buckets[k];
    p->buckets[k] = r;
    p->n_runs++;
    return r;
}

/* Which queue a run waits in: what is still to learn of a run (its state)
 * before the outputs of finished ones, both before the backfill's. */
static struct fetch_queue *queue_of(struct poller *p, const struct run *r)
{
    return &p->queues[r->bulk                     ? QUEUE_BULK
                      : r->fetch == FETCH_OUTPUTS ? QUEUE_OUTPUTS
                                                  : QUEUE_STATE];
}

void poller_dequeue(struct poller *p, struct run *r)
{
    if (r->fetch == FETCH_NONE)
        return;
    struct fetch_queue *q = queue_of(p, r);
    if (r->qprev)
        r->qprev->qnext = r->qnext;
    else
        q->head = r->qnext;
    if (r->qnext)
        r->qnext->qprev = r->qprev;
    else
        q->tail = r->qprev;
    r->qprev = r->qnext = NULL;
    q->n--;
    r->fetch = FETCH_NONE;
    if (r->held) {
        poller_final_free(r->held);
        r->held = NULL;
    }
}

/* Frees r when nothing holds it any more: not tracked, not queued, not
 * being fetched, not waited on. */
void poller_release(struct poller *p, struct run *r)
{
    if (!r || r->active || r->fetch != FETCH_NONE || r->waiters || p->cur == r)
        return;
    struct run **pp = &p->buckets[run_bucket(p, r->run_id)];
    while (*pp && *pp != r)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = r->hnext;
    p->n_runs--;
    free(r);
}

/* Queues r for a fetch. A run queued already keeps its place (and moves
 * out of the backfill's queue when asked for urgently); one whose outputs
 * are due stays so. */
void poller_enqueue(struct poller *p, struct run *r, enum fetch_reason why, bool bulk)
{
    if (p->cur == r) {
        r->refetch = true;
        return;
    }
    if (r->fetch == FETCH_OUTPUTS)
        return;
    if (r->fetch != FETCH_NONE) {
        if (why == FETCH_FINAL)
            r->fetch = FETCH_FINAL;
        if (!r->bulk || bulk)
            return;
        enum fetch_reason keep = r->fetch;
        poller_dequeue(p, r);
        why = keep;
    }
    r->bulk = bulk;
    r->fetch = why;
    struct fetch_queue *q = queue_of(p, r);
    r->qnext = NULL;
    r->qprev = q->tail;
    if (q->tail)
        q->tail->qnext = r;
    else
        q->head = r;
    q->tail = r;
    q->n++;
    poller_kick(p);
}

static void track(struct poller *p, struct run *r, int64_t job_id)
{
    if (r->active)
        return;
    r->active = true;
    r->job_id = job_id ? job_id : r->job_id;
    r->first_seen_usec = poller_now_usec();
    r->swept = p->sweep_no;
    p->n_active++;
    int e = store_track_run(p->store, r->run_id, r->job_id);
    if (e < 0)
        log_warning_errno(e, "Failed to record run %" PRId64 " as tracked, ignoring: %m",
                          r->run_id);
}

static void untrack(struct poller *p, struct run *r)
{
    if (!r->active)
        return;
    r->active = false;
    p->n_active--;
    int e = store_untrack_run(p->store, r->run_id);
    if (e < 0 && e != -ENOENT)
        log_warning_errno(e, "Failed to drop run %" PRId64 " from the tracked set, ignoring: %m",
                          r->run_id);
}

/* ---- pacing and the one request in flight ---- */

static int on_kick(sd_event_source *s, void *userdata);

void poller_kick(struct poller *p)
{
    if (p->kick && !p->transfer)
        sd_event_source_set_enabled(p->kick, SD_EVENT_ONESHOT);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
    poller_kick(userdata);
    return 0;
}

static void arm_timer(struct poller *p, uint64_t at_usec)
{
    sd_event_source_set_time(p->timer, at_usec);
    sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
}

static void on_done(const struct upstream_response *u, void *userdata);

int poller_submit(struct poller *p, enum step_kind kind, const char *path)
{
    const struct upstream_request req = {
        .method = HTTP_GET,
        .path_and_query = path,
        .retry = RETRY_SAFE,
    };
    int r = upstream_submit(p->upstream, &req, on_done, p, &p->transfer);
    if (r < 0) {
        p->transfer = NULL;
        return r;
    }
    p->step = kind;
    p->stats.requests++;
    return 0;
}

bool poller_failed(const struct upstream_response *u)
{
    return u->status == 0 || u->status >= 500 || u->status == 429 || u->status == 401 ||
           u->status == 403;
}

void poller_answer(struct poller *p, enum step_kind kind, const struct upstream_response *u)
{
    switch (kind) {
    case STEP_ACTIVE_PAGE:
    case STEP_COMPLETED_PAGE:
        poller_sweep_answer(p, kind, u);
        break;
    case STEP_BACKFILL_PAGE:
        poller_backfill_answer(p, u);
        break;
    case STEP_RUN_GET:
    case STEP_OUTPUT:
    case STEP_EXPORT:
        poller_fetch_answer(p, kind, u);
        break;
    case STEP_NONE:
        break;
    }
}

static void on_done(const struct upstream_response *u, void *userdata)
{
    struct poller *p = userdata;
    enum step_kind kind = p->step;
    p->transfer = NULL;
    p->step = STEP_NONE;
    if (poller_failed(u)) {
        p->stats.failures++;
        if (!p->failing)
            log_warning("Poller: the workspace %s%s; polling goes on with backoff",
                        u->status ? "answered " : "did not answer",
                        u->status ? http_status_reason(u->status) : "");
        p->failing = true;
    } else if (u->status > 0)
        p->failing = false;
    poller_answer(p, kind, u);
    poller_kick(p);
}

/* The first queued run whose backoff has passed, urgent ones first; and
 * when none, the earliest time one will be ready. */
static struct run *ready_run(struct poller *p, uint64_t now, uint64_t *ret_next)
{
    for (int i = 0; i < _QUEUE_MAX; i++) {
        unsigned looked = 0;
        for (struct run *r = p->queues[i].head; r && looked < 256; r = r->qnext, looked++) {
            if (r->not_before_usec <= now)
                return r;
            *ret_next = MIN(*ret_next, r->not_before_usec);
        }
    }
    return NULL;
}

static int on_kick(sd_event_source *s, void *userdata)
{
    struct poller *p = userdata;
    if (!p->upstream || p->transfer || p->stopping)
        return 0;
    uint64_t now = poller_now_usec(), next = UINT64_MAX, wait = 0;
    if (p->sweep_phase == SWEEP_IDLE && now >= p->next_sweep_usec)
        poller_sweep_begin(p);
    struct run *ready = p->cur ? NULL : ready_run(p, now, &next);
    bool sweeping = p->sweep_phase == SWEEP_ACTIVE || p->sweep_phase == SWEEP_COMPLETED;
    bool backfill = p->backfill_running && p->queues[QUEUE_BULK].n < BULK_QUEUE_HIGH &&
                    now >= p->backfill_not_before_usec;
    if (!p->cur && !ready && !sweeping && !backfill) {
        next = MIN(next, p->next_sweep_usec);
        if (p->backfill_running && p->backfill_not_before_usec > now)
            next = MIN(next, p->backfill_not_before_usec);
        if (next != UINT64_MAX)
            arm_timer(p, next);
        return 0;
    }
    if (limiter_take(p->limiter, now, &wait) < 0) {
        arm_timer(p, now + wait);
        return 0;
    }
    int r;
    bool fetch = false, sweep = false;
    /* A run being archived goes first (its transaction waits); then queued
     * runs and sweep pages take turns, so neither starves; the backfill
     * takes what is left. */
    if (p->cur)
        r = poller_fetch_next(p), fetch = true;
    else if (ready && (!sweeping || !p->last_was_fetch)) {
        p->last_was_fetch = true;
        r = poller_fetch_begin(p, ready), fetch = true;
    } else if (sweeping) {
        p->last_was_fetch = false;
        r = poller_sweep_next(p), sweep = true;
    } else
        r = poller_backfill_next(p);
    if (r < 0) {
        limiter_return(p->limiter);
        /* The upstream queue is full or memory is short: try again soon. */
        if (r == -EAGAIN || r == -ENOMEM)
            arm_timer(p, now + p->s.interval_min_usec);
        else {
            /* Not to be made as it is (a page token too long, say): the run
             * goes back to its queue with a backoff, the sweep or the
             * backfill gives up; never the same step again at once. */
            log_warning_errno(r, "Poller: a request could not be made, ignoring: %m");
            if (fetch && p->cur)
                poller_fetch_retry(p, true);
            else if (sweep)
                poller_sweep_failed(p);
            else if (!fetch)
                p->backfill_running = false;
            poller_kick(p);
        }
    }
    return 0;
}

/* ---- life ---- */

static int settings_copy(struct poller *p, const struct poller_settings *s)
{
    char *views = NULL;
    if (s->export_views && *s->export_views && !(views = strdup(s->export_views)))
        return -ENOMEM;
    free(p->export_views);
    p->export_views = views;
    p->s = *s;
    p->s.export_views = p->export_views;
    return 0;
}

int poller_new(sd_event *e, const struct poller_settings *s, struct upstream *u,
               struct store *store, struct cache *cache, struct events *events, struct poller **ret)
{
    _cleanup_(poller_freep) struct poller *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->event = sd_event_ref(e);
    p->upstream = u;
    p->store = store;
    p->cache = cache;
    p->events = events;
    int r = settings_copy(p, s);
    if (r < 0)
        return r;
    r = limiter_new(s->rate > 0 ? s->rate : 1, 1, poller_now_usec(), &p->limiter);
    if (r < 0)
        return r;
    r = grow(p);
    if (r < 0)
        return r;
    r = sd_event_add_defer(e, &p->kick, on_kick, p);
    if (r < 0)
        return r;
    sd_event_source_set_enabled(p->kick, SD_EVENT_OFF);
    r = sd_event_add_time(e, &p->timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_timer, p);
    if (r < 0)
        return r;
    sd_event_source_set_enabled(p->timer, SD_EVENT_OFF);
    *ret = TAKE_PTR(p);
    return 0;
}

struct poller *poller_free(struct poller *p)
{
    if (!p)
        return NULL;
    p->stopping = true;
    upstream_cancel(p->transfer);
    p->transfer = NULL;
    poller_waiters_free(p);
    poller_fetch_abort(p);
    for (size_t i = 0; i < p->n_buckets; i++)
        for (struct run *r = p->buckets[i], *next; r; r = next) {
            next = r->hnext;
            poller_final_free(r->held);
            free(r);
        }
    free(p->buckets);
    free(p->page_token);
    free(p->backfill_token);
    free(p->export_views);
    limiter_free(p->limiter);
    sd_event_source_disable_unref(p->kick);
    sd_event_source_disable_unref(p->timer);
    sd_event_unref(p->event);
    free(p);
    return NULL;
}

int poller_start(struct poller *p)
{
    _cleanup_free_ int64_t *ids = NULL;
    size_t n = 0;
    int r = store_tracked_runs(p->store, &ids, &n);
    if (r < 0)
        return log_error_errno(r, "Failed to read the tracked runs from the archive: %m");
    for (size_t i = 0; i < n; i++) {
        struct run *run = poller_find_or_add(p, ids[i]);
        if (!run)
            return log_error_errno(ENOMEM, "Out of memory");
        struct store_run_meta meta;
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (store_get_run_text(p->store, ids[i], &text, &len, &meta) >= 0) {
            run->job_id = meta.job_id;
            run->start_time = meta.start_time;
            run->life_cycle = meta.life_cycle;
        }
        run->active = true;
        run->first_seen_usec = poller_now_usec();
        p->n_active++;
    }
    int64_t w;
    if (store_state_get_int(p->store, STATE_WATERMARK, &w) >= 0)
        p->watermark_ms = w;
    else
        p->watermark_ms = wall_ms() - WATERMARK_SLACK_MS;
    p->newest_start_ms = p->watermark_ms + WATERMARK_SLACK_MS;
    if (n > 0)
        log_info("Poller: resuming %zu tracked run%s", n, n == 1 ? "" : "s");
    int64_t done = 0;
    if (p->s.backfill && p->s.track != POLLER_TRACK_LOCAL &&
        store_state_get_int(p->store, STATE_BACKFILL_DONE, &done) < 0)
        (void)poller_backfill(p);
    p->next_sweep_usec = 0;
    poller_kick(p);
    return 0;
}

int poller_set_settings(struct poller *p, const struct poller_settings *s)
{
    enum poller_track track = p->s.track;
    struct poller_settings keep = p->s;
    int r = settings_copy(p, s);
    if (r < 0)
        return r;
    /* What needs a restart stays as it was. */
    p->s.track = track;
    memcpy(p->s.jobs, keep.jobs, sizeof(keep.jobs));
    p->s.n_jobs = keep.n_jobs;
    p->s.backfill = keep.backfill;
    r = limiter_set(p->limiter, s->rate > 0 ? s->rate : 1, 1);
    poller_kick(p);
    return r;
}

void poller_set_upstream(struct poller *p, struct upstream *u)
{
    if (p->upstream == u)
        return;
    if (p->transfer) {
        upstream_cancel(p->transfer);
        p->transfer = NULL;
        /* The step is made again on u: a sweep page from where it was, a
         * fetch from its start. */
        if (p->step == STEP_RUN_GET || p->step == STEP_OUTPUT || p->step == STEP_EXPORT)
            poller_fetch_retry(p, false);
        p->step = STEP_NONE;
    }
    p->upstream = u;
    poller_kick(p);
}

void poller_note_write(struct poller *p, enum endpoint_id id, int64_t job_id, int64_t run_id)
{
    uint64_t soon = poller_now_usec() + p->s.interval_min_usec;
    struct run *r;
    switch (id) {
    case ENDPOINT_RUN_NOW:
    case ENDPOINT_RUNS_SUBMIT:
    case ENDPOINT_RUNS_REPAIR:
        if (run_id <= 0 || !(r = poller_find_or_add(p, run_id)))
            return;
        r->local = true;
        track(p, r, job_id);
        if (p->s.track == POLLER_TRACK_LOCAL)
            poller_enqueue(p, r, FETCH_PROBE, false);
        break;
    case ENDPOINT_RUNS_CANCEL:
    case ENDPOINT_RUNS_CANCEL_ALL:
        break;
    case ENDPOINT_RUNS_DELETE:
        if (run_id > 0 && (r = poller_find(p, run_id))) {
            untrack(p, r);
            poller_dequeue(p, r);
            poller_release(p, r);
        }
        return;
    default:
        return;
    }
    if (soon < p->next_sweep_usec) {
        p->next_sweep_usec = soon;
        poller_kick(p);
    }
}

/* ---- what changed ---- */

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; s && *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    h ^= 0xff; /* a separator, so "ab"+"c" differs from "a"+"bc" */
    return h * 0x100000001b3ull;
}

static uint64_t fnv_state(uint64_t h, struct json_object *o)
{
    struct json_object *state = NULL, *status = NULL, *term = NULL;
    const char *lc = NULL, *rs = NULL, *st = NULL, *code = NULL;
    int64_t end = 0;
    char num[24];
    if (json_get_object(o, "state", JSON_NULLABLE, &state, NULL) > 0) {
        (void)json_get_string(state, "life_cycle_state", JSON_NULLABLE, &lc, NULL);
        (void)json_get_string(state, "result_state", JSON_NULLABLE, &rs, NULL);
    }
    if (json_get_object(o, "status", JSON_NULLABLE, &status, NULL) > 0) {
        (void)json_get_string(status, "state", JSON_NULLABLE, &st, NULL);
        if (json_get_object(status, "termination_details", JSON_NULLABLE, &term, NULL) > 0)
            (void)json_get_string(term, "code", JSON_NULLABLE, &code, NULL);
    }
    (void)json_get_int64(o, "end_time", JSON_NULLABLE, &end, NULL);
    snprintf(num, sizeof(num), "%" PRId64, end);
    h = fnv(h, lc);
    h = fnv(h, rs);
    h = fnv(h, st);
    h = fnv(h, code);
    return fnv(h, num);
}

uint64_t poller_fingerprint(struct json_object *run, unsigned *ret_total, unsigned *ret_done)
{
    uint64_t h = fnv_state(0xcbf29ce484222325ull, run);
    struct json_object *tasks = NULL, *history = NULL;
    unsigned total = 0, done = 0;
    if (json_get_array(run, "tasks", JSON_NULLABLE, &tasks, NULL) > 0) {
        size_t n = json_object_array_length(tasks);
        for (size_t i = 0; i < n; i++) {
            struct json_object *t = json_object_array_get_idx(tasks, i), *state = NULL;
            int64_t id = 0;
            const char *lc = NULL;
            char num[24];
            if (!json_object_is_type(t, json_type_object))
                continue;
            (void)json_get_id(t, "run_id", JSON_NULLABLE, &id, NULL);
            snprintf(num, sizeof(num), "%" PRId64, id);
            h = fnv_state(fnv(h, num), t);
            total++;
            if (json_get_object(t, "state", JSON_NULLABLE, &state, NULL) > 0 &&
                json_get_string(state, "life_cycle_state", JSON_NULLABLE, &lc, NULL) > 0 &&
                life_cycle_is_terminal(life_cycle_state_from_string(lc)))
                done++;
        }
    }
    if (json_get_array(run, "repair_history", JSON_NULLABLE, &history, NULL) > 0) {
        char num[24];
        snprintf(num, sizeof(num), "%zu", json_object_array_length(history));
        h = fnv(h, num);
    }
    if (ret_total)
        *ret_total = total;
    if (ret_done)
        *ret_done = done;
    return h ? h : 1;
}

enum life_cycle_state poller_life_cycle(struct json_object *run)
{
    struct run_state st = {};
    if (run_state_from_json(run, &st, NULL) < 0)
        return LIFE_CYCLE_NONE;
    enum life_cycle_state lc = st.life_cycle;
    if (!life_cycle_is_terminal(lc) && run_state_is_terminal(&st))
        lc = LIFE_CYCLE_TERMINATED;
    run_state_done(&st);
    return lc;
}

/* The event of a run's new view (fields of proto/localapi.h). */
static struct json_object *event_of(struct json_object *run, int64_t run_id, int64_t job_id,
                                    unsigned total, unsigned done)
{
    _cleanup_json_ struct json_object *ev = json_object_new_object();
    struct json_object *state = NULL, *status = NULL;
    const char *s = NULL;
    int64_t t = 0;
    int r = 0;
    if (!ev)
        return NULL;
    r |= json_add_int64(ev, JOBSD_EV_RUN_ID, run_id);
    if (job_id > 0)
        r |= json_add_int64(ev, JOBSD_EV_JOB_ID, job_id);
    if (json_get_string(run, "run_name", JSON_NULLABLE, &s, NULL) > 0)
        r |= json_add_string(ev, JOBSD_EV_RUN_NAME, s);
    enum life_cycle_state lc = poller_life_cycle(run);
    if (json_get_object(run, "state", JSON_NULLABLE, &state, NULL) > 0) {
        if (json_get_string(state, "life_cycle_state", JSON_NULLABLE, &s, NULL) > 0)
            r |= json_add_string(ev, JOBSD_EV_LIFE_CYCLE, s);
        if (json_get_string(state, "result_state", JSON_NULLABLE, &s, NULL) > 0)
            r |= json_add_string(ev, JOBSD_EV_RESULT, s);
        if (json_get_string(state, "state_message", JSON_NULLABLE, &s, NULL) > 0 && *s)
            r |= json_add_string(ev, JOBSD_EV_MESSAGE, s);
    }
    if (json_get_object(run, "status", JSON_NULLABLE, &status, NULL) > 0 &&
        json_get_string(status, "state", JSON_NULLABLE, &s, NULL) > 0)
        r |= json_add_string(ev, JOBSD_EV_STATUS, s);
    r |= json_add_int64(ev, JOBSD_EV_TASKS_TOTAL, total);
    r |= json_add_int64(ev, JOBSD_EV_TASKS_DONE, done);
    if (json_get_int64(run, "start_time", JSON_NULLABLE, &t, NULL) > 0 && t > 0)
        r |= json_add_int64(ev, JOBSD_EV_START_TIME, t);
    if (json_get_int64(run, "end_time", JSON_NULLABLE, &t, NULL) > 0 && t > 0)
        r |= json_add_int64(ev, JOBSD_EV_END_TIME, t);
    r |= json_add_int64(ev, JOBSD_EV_TIME, wall_ms());
    r |= json_add_bool(ev, JOBSD_EV_TERMINAL, life_cycle_is_terminal(lc));
    return r < 0 ? NULL : TAKE_PTR(ev);
}

struct typical {
    int64_t v[5];
    size_t n;
};

static int typical_cb(const struct store_run_meta *m, struct json_object *run, void *userdata)
{
    struct typical *t = userdata;
    if (m->end_time > m->start_time && m->start_time > 0 && t->n < ELEMENTSOF(t->v))
        t->v[t->n++] = m->end_time - m->start_time;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The typical duration of a job's runs: the median of its last five
 * successful ones in the archive, or -1. */
static int64_t typical_duration(struct poller *p, int64_t job_id)
{
    if (job_id <= 0)
        return -1;
    struct store_run_filter f = {
        .job_id = job_id,
        .life_cycle = LIFE_CYCLE_TERMINATED,
        .result = RESULT_SUCCESS,
    };
    struct typical t = {};
    _cleanup_free_ char *next = NULL;
    if (store_list_runs(p->store, &f, NULL, 5, 0, typical_cb, &t, &next) < 0 || t.n == 0)
        return -1;
    qsort(t.v, t.n, sizeof(t.v[0]), cmp_i64);
    return t.v[t.n / 2];
}

/* A view of an active or finished run (a list entry, or runs/get): note it,
 * and when it differs from the last one, archive it, tell the watchers and
 * drop the cached runs/get. Returns 1 when it changed. */
int poller_observe(struct poller *p, struct run *r, struct json_object *run, bool from_list)
{
    unsigned total = 0, done = 0;
    uint64_t fp = poller_fingerprint(run, &total, &done);
    int64_t v;
    if (json_get_id(run, "job_id", JSON_NULLABLE, &v, NULL) > 0)
        r->job_id = v;
    if (json_get_int64(run, "start_time", JSON_NULLABLE, &v, NULL) > 0 && v > 0) {
        r->start_time = v;
        p->newest_start_ms = MAX(p->newest_start_ms, v);
    }
    if (r->expected_ms == -1) {
        r->expected_ms = typical_duration(p, r->job_id);
        if (r->expected_ms == -1)
            r->expected_ms = -2; /* asked once */
    }
    if (fp == r->fingerprint) {
        if (p->cache)
            (void)cache_extend_run(p->cache, r->run_id,
                                   poller_now_usec() + p->sweep_period_usec + USEC_PER_SEC);
        return 0;
    }
    r->fingerprint = fp;
    r->life_cycle = poller_life_cycle(run);
    p->stats.changes++;
    if (from_list) {
        int e = store_put_run(p->store, run, 0);
        if (e < 0)
            log_warning_errno(e, "Failed to archive run %" PRId64 ", ignoring: %m", r->run_id);
    }
    if (p->cache)
        (void)cache_invalidate(p->cache, INV_RUN, 0, r->run_id);
    _cleanup_json_ struct json_object *ev = event_of(run, r->run_id, r->job_id, total, done);
    if (ev && p->events)
        (void)events_publish(p->events, r->run_id, r->job_id, ev);
    return 1;
}

/* An active run seen on a list page (or a probe): tracked, observed. */
void poller_seen_active(struct poller *p, struct run *r, struct json_object *run)
{
    int64_t job_id = 0;
    (void)json_get_id(run, "job_id", JSON_NULLABLE, &job_id, NULL);
    track(p, r, job_id);
    r->swept = p->sweep_no;
    (void)poller_observe(p, r, run, true);
}

void poller_untrack(struct poller *p, struct run *r)
{
    untrack(p, r);
}

/* ---- how soon the next sweep ---- */

static uint64_t run_delay(const struct poller *p, const struct run *r, int64_t now_ms)
{
    uint64_t lo = p->s.interval_min_usec, hi = MAX(p->s.interval_max_usec, lo);
    int64_t age = r->start_time > 0 && r->start_time <= now_ms
                      ? now_ms - r->start_time
                      : (int64_t)((poller_now_usec() - r->first_seen_usec) / USEC_PER_MSEC);
    if (age < 60 * 1000)
        return lo; /* just started */
    if (r->expected_ms > 0 && llabs(age - r->expected_ms) <= MAX(r->expected_ms / 10, 10 * 1000))
        return lo;                                   /* about to end */
    uint64_t d = (uint64_t)age * USEC_PER_MSEC / 10; /* a tenth of its age */
    return MIN(MAX(d, lo), hi);
}

uint64_t poller_next_delay(const struct poller *p)
{
    if (p->n_active == 0)
        return p->s.idle_interval_usec;
    uint64_t d = MAX(p->s.interval_max_usec, p->s.interval_min_usec);
    int64_t now = wall_ms();
    for (size_t i = 0; i < p->n_buckets && d > p->s.interval_min_usec; i++)
        for (const struct run *r = p->buckets[i]; r; r = r->hnext)
            if (r->active)
                d = MIN(d, run_delay(p, r, now));
    return d;
}

/* ---- status ---- */

void poller_get_stats(const struct poller *p, struct poller_stats *ret)
{
    *ret = p->stats;
    ret->tracked = p->n_active;
    ret->fetching = p->queues[QUEUE_STATE].n + p->queues[QUEUE_OUTPUTS].n +
                    p->queues[QUEUE_BULK].n + (p->cur ? 1 : 0);
    ret->waiters = p->n_waiters;
    ret->watermark_ms = p->watermark_ms;
    ret->backfill_running = p->backfill_running;
    ret->backfill_from_ms = p->backfill_from_ms;
    uint64_t now = poller_now_usec();
    ret->next_sweep_in_usec =
        p->sweep_phase == SWEEP_IDLE && p->next_sweep_usec > now ? p->next_sweep_usec - now : 0;
}

static unsigned backfill_percent(const struct poller *p)
{
    int64_t span = wall_ms() - p->backfill_from_ms;
    if (span <= 0 || p->stats.backfill_oldest_ms == 0)
        return 0;
    int64_t covered = wall_ms() - p->stats.backfill_oldest_ms;
    return (unsigned)MIN(99, MAX(0, covered * 100 / span));
}

void poller_status_text(const struct poller *p, char *buf, size_t n)
{
    if (p->backfill_running)
        snprintf(buf, n, "backfill %u%% (%" PRIu64 " runs listed, %u to archive)",
                 backfill_percent(p), p->stats.backfill_runs, p->queues[QUEUE_BULK].n);
    else
        snprintf(buf, n, "tracking %u active run%s", p->n_active, p->n_active == 1 ? "" : "s");
}

void poller_notify_status(struct poller *p)
{
    char text[128];
    uint64_t now = poller_now_usec();
    if (now < p->status_sent_usec + USEC_PER_SEC)
        return;
    p->status_sent_usec = now;
    poller_status_text(p, text, sizeof(text));
    (void)sd_notifyf(0, "STATUS=Serving; %s", text);
}
