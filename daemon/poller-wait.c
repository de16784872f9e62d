/* Local waits: GET /jobsd/v1/runs/{id}/wait?timeout=S holds the request
 * (a suspended connection, no thread, no upstream request of its own) until
 * the poller sees the run finished, or the deadline; and POST
 * /jobsd/v1/backfill. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/poller-private.h"
#include "db/runs.h"
#include "proto/log.h"
#include "proto/strutil.h"

/* A held wait is answered by the poller or its own timer; the server's
 * deadline comes this much later, as a backstop. */
#define WAIT_BACKSTOP_USEC (5 * USEC_PER_SEC)
/* A run nobody has heard of gets this long for a first answer when the
 * caller asked not to wait (timeout=0). */
#define WAIT_PROBE_USEC (10 * USEC_PER_SEC)

struct waiter {
    struct poller *p;
    struct request *req;
    struct run *run;
    sd_event_source *timer;
    struct waiter *prev, *next;
};

static void waiter_unlink(struct waiter *w)
{
    struct run *r = w->run;
    if (w->prev)
        w->prev->next = w->next;
    else
        r->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->p->n_waiters--;
    sd_event_source_disable_unref(w->timer);
}

static void waiter_free(struct waiter *w)
{
    struct poller *p = w->p;
    struct run *r = w->run;
    waiter_unlink(w);
    free(w);
    poller_release(p, r);
}

static void answer_text(struct request *req, const char *text, size_t len, const char *why)
{
    req->response.source = JOBSD_SOURCE_LOCAL;
    if (response_set_bytes(&req->response, 200, "application/json", text, len) >= 0)
        (void)response_add_header(&req->response, JOBSD_HEADER_WAIT, why);
}

static void answer_gone(struct request *req, int64_t run_id)
{
    req->response.source = JOBSD_SOURCE_LOCAL;
    response_set_error(&req->response, 404, "RESOURCE_DOES_NOT_EXIST",
                       "Run %" PRId64 " does not exist.", run_id);
}

void poller_wake(struct poller *p, struct run *r, const char *text, size_t len)
{
    while (r->waiters) {
        struct waiter *w = r->waiters;
        struct request *req = w->req;
        if (text)
            answer_text(req, text, len, JOBSD_WAIT_TERMINAL);
        else
            answer_gone(req, r->run_id);
        waiter_unlink(w);
        free(w);
        request_finish(req);
    }
}

/* The deadline: the latest view jobsd has of the run. */
static int on_wait_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
    struct waiter *w = userdata;
    struct request *req = w->req;
    struct run *r = w->run;
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    if (store_get_run_text(w->p->store, r->run_id, &text, &len, NULL) >= 0)
        answer_text(req, text, len, JOBSD_WAIT_DEADLINE);
    else {
        req->response.source = JOBSD_SOURCE_LOCAL;
        response_set_error(&req->response, 504, "DEADLINE_EXCEEDED",
                           "The workspace has not answered about run %" PRId64 " in time",
                           r->run_id);
        req->response.retry_after_s = 1;
    }
    waiter_free(w);
    request_finish(req);
    return 0;
}

/* The client went away, or the server stops. */
static void on_wait_cancel(struct request *req, void *userdata)
{
    waiter_free(userdata);
}

void poller_waiters_free(struct poller *p)
{
    for (size_t i = 0; i < p->n_buckets; i++)
        for (struct run *r = p->buckets[i]; r; r = r->hnext)
            while (r->waiters) {
                struct waiter *w = r->waiters;
                struct request *req = w->req;
                waiter_unlink(w);
                free(w);
                req->response.source = JOBSD_SOURCE_LOCAL;
                response_set_error(&req->response, 503, "TEMPORARILY_UNAVAILABLE",
                                   "jobsd is shutting down");
                req->response.retry_after_s = 1;
                request_finish(req);
            }
}

static int on_wait(struct request *req, void *userdata)
{
    struct poller *p = userdata;
    int64_t run_id = req->run_id;
    const char *t = request_query(req, JOBSD_Q_TIMEOUT);
    uint64_t timeout_s = JOBSD_WAIT_TIMEOUT_DEFAULT_S;
    req->response.source = JOBSD_SOURCE_LOCAL;
    if (t && (parse_uint64(t, &timeout_s) < 0 || timeout_s > JOBSD_WAIT_TIMEOUT_MAX_S)) {
        response_set_error(&req->response, 400, "INVALID_PARAMETER_VALUE",
                           "timeout must be a number of seconds from 0 to %d",
                           JOBSD_WAIT_TIMEOUT_MAX_S);
        return 0;
    }
    if (run_id <= 0) {
        response_set_error(&req->response, 400, "INVALID_PARAMETER_VALUE", "Invalid run_id");
        return 0;
    }

    /* Finished and archived: at once, without the workspace. */
    struct store_run_meta meta;
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    bool known = store_get_run_text(p->store, run_id, &text, &len, &meta) >= 0;
    struct run *r = poller_find(p, run_id);
    if (known && life_cycle_is_terminal(meta.life_cycle) &&
        !(meta.detail & RUN_DETAIL_REPAIR_PENDING) && !(r && r->active)) {
        answer_text(req, text, len, JOBSD_WAIT_TERMINAL);
        return 0;
    }
    if (known && meta.forgotten_ms > 0 && !life_cycle_is_terminal(meta.life_cycle)) {
        answer_gone(req, run_id);
        return 0;
    }
    if (timeout_s == 0 && known) {
        answer_text(req, text, len, JOBSD_WAIT_DEADLINE);
        return 0;
    }
    if (!p->upstream) {
        response_set_error(&req->response, 503, "TEMPORARILY_UNAVAILABLE",
                           "jobsd has no workspace to ask about run %" PRId64, run_id);
        return 0;
    }
    if (p->n_waiters >= JOBSD_WAITERS_MAX) {
        response_set_error(&req->response, 503, "TEMPORARILY_UNAVAILABLE", "Too many waits (%d)",
                           JOBSD_WAITERS_MAX);
        req->response.retry_after_s = 1;
        return 0;
    }
    if (!r && !(r = poller_find_or_add(p, run_id))) {
        response_set_error(&req->response, 503, "TEMPORARILY_UNAVAILABLE",
                           "jobsd holds too many runs");
        return 0;
    }
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w) {
        poller_release(p, r);
        response_set_error(&req->response, 500, "INTERNAL_ERROR", "Out of memory");
        return 0;
    }
    uint64_t deadline =
        poller_now_usec() + (timeout_s ? timeout_s * USEC_PER_SEC : WAIT_PROBE_USEC);
    if (sd_event_add_time(p->event, &w->timer, CLOCK_MONOTONIC, deadline, USEC_PER_MSEC,
                          on_wait_timer, w) < 0) {
        free(w);
        poller_release(p, r);
        response_set_error(&req->response, 500, "INTERNAL_ERROR", "Out of memory");
        return 0;
    }
    w->p = p;
    w->req = req;
    w->run = r;
    w->next = r->waiters;
    if (w->next)
        w->next->prev = w;
    r->waiters = w;
    p->n_waiters++;
    /* A run the poller does not follow yet is looked at once: it may be
     * unknown, outside what is tracked, or finished already. */
    if (!r->active && r->fetch == FETCH_NONE && p->cur != r) {
        if (p->s.track == POLLER_TRACK_LOCAL)
            r->local = true;
        poller_enqueue(p, r, FETCH_PROBE, false);
    }
    request_hold_until(req, on_wait_cancel, w, deadline + WAIT_BACKSTOP_USEC);
    return 1;
}

static int on_backfill(struct request *req, void *userdata)
{
    struct poller *p = userdata;
    int r = poller_backfill(p);
    req->response.source = JOBSD_SOURCE_LOCAL;
    if (r == -EBUSY)
        return response_set_error(&req->response, 409, "RESOURCE_CONFLICT",
                                  "A backfill is already running"),
               0;
    if (r == -EOPNOTSUPP)
        return response_set_error(&req->response, 400, "INVALID_STATE",
                                  "poller.track=local: there is nothing to backfill"),
               0;
    if (!p->upstream)
        return response_set_error(&req->response, 503, "TEMPORARILY_UNAVAILABLE",
                                  "jobsd has no workspace"),
               0;
    _cleanup_json_ struct json_object *o = json_object_new_object();
    if (!o || json_add_bool(o, "started", true) < 0 ||
        json_add_int64(o, "start_time_from", p->backfill_from_ms) < 0)
        return response_set_error(&req->response, 500, "INTERNAL_ERROR", "Out of memory"), 0;
    response_set_json(&req->response, 202, o);
    return 0;
}

void poller_register(struct poller *p, struct router *r)
{
    router_set(r, ENDPOINT_LOCAL_RUN_WAIT, on_wait, p);
    router_set(r, ENDPOINT_LOCAL_BACKFILL, on_backfill, p);
}
