#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/events.h"
#include "proto/json.h"
#include "proto/log.h"
#include "proto/strutil.h"

/* The most job and run filters one watcher may give. */
#define WATCH_FILTERS_MAX 32
/* What a watcher holds before it is read: beyond, it waits for the client. */
#define WATCH_PENDING_MAX (64 * KIB)
#define EVENT_FRAME_MAX (64 * KIB)

struct event {
    uint64_t seq;
    int64_t run_id;
    int64_t job_id;
    char *frame; /* "id: N\nevent: run\ndata: {...}\n\n" */
    size_t len;
};

struct watcher {
    struct events *events; /* NULL once the events module is gone */
    struct request *req;
    struct watcher *prev, *next;
    int64_t job_ids[WATCH_FILTERS_MAX];
    int64_t run_ids[WATCH_FILTERS_MAX];
    unsigned n_jobs, n_runs;
    uint64_t next_seq; /* the first event not yet looked at */
    struct buf pending;
    size_t off;
    bool keepalive_due;
    bool waiting; /* its stream returned RESPONSE_STREAM_WAIT */
};

struct events {
    sd_event *event;
    sd_event_source *keepalive;
    struct event ring[JOBSD_EVENTS_BACKLOG];
    uint64_t next_seq; /* of the next event published; the first is 1 */
    struct watcher *watchers;
    unsigned n_watchers;
    uint64_t published;
};

static struct event *ring_slot(struct events *ev, uint64_t seq)
{
    return &ev->ring[seq % JOBSD_EVENTS_BACKLOG];
}

static uint64_t oldest_seq(const struct events *ev)
{
    return ev->next_seq > JOBSD_EVENTS_BACKLOG ? ev->next_seq - JOBSD_EVENTS_BACKLOG : 1;
}

static void watcher_wake(struct watcher *w)
{
    if (!w->waiting)
        return;
    w->waiting = false;
    request_stream_wake(w->req);
}

static int on_keepalive(sd_event_source *src, uint64_t usec, void *userdata)
{
    struct events *ev = userdata;
    for (struct watcher *w = ev->watchers; w; w = w->next) {
        w->keepalive_due = true;
        watcher_wake(w);
    }
    sd_event_source_set_time_relative(src, JOBSD_EVENTS_KEEPALIVE_S * USEC_PER_SEC);
    return 0;
}

int events_new(sd_event *e, struct events **ret)
{
    struct events *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return -ENOMEM;
    ev->event = sd_event_ref(e);
    ev->next_seq = 1;
    int r = sd_event_add_time_relative(e, &ev->keepalive, CLOCK_MONOTONIC,
                                       JOBSD_EVENTS_KEEPALIVE_S * USEC_PER_SEC, USEC_PER_SEC / 10,
                                       on_keepalive, ev);
    if (r < 0) {
        events_free(ev);
        return r;
    }
    sd_event_source_set_enabled(ev->keepalive, SD_EVENT_ON);
    *ret = ev;
    return 0;
}

static void watcher_unlink(struct watcher *w)
{
    struct events *ev = w->events;
    if (!ev)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        ev->watchers = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->events = NULL;
    ev->n_watchers--;
}

struct events *events_free(struct events *ev)
{
    if (!ev)
        return NULL;
    while (ev->watchers) {
        struct watcher *w = ev->watchers;
        watcher_unlink(w);
        w->waiting = true; /* read once more: the end */
        watcher_wake(w);
    }
    for (size_t i = 0; i < JOBSD_EVENTS_BACKLOG; i++)
        free(ev->ring[i].frame);
    sd_event_source_disable_unref(ev->keepalive);
    sd_event_unref(ev->event);
    free(ev);
    return NULL;
}

static bool watcher_matches(const struct watcher *w, int64_t run_id, int64_t job_id)
{
    bool job_ok = w->n_jobs == 0, run_ok = w->n_runs == 0;
    for (unsigned i = 0; !job_ok && i < w->n_jobs; i++)
        job_ok = w->job_ids[i] == job_id;
    for (unsigned i = 0; !run_ok && i < w->n_runs; i++)
        run_ok = w->run_ids[i] == run_id;
    return job_ok && run_ok;
}

int events_publish(struct events *ev, int64_t run_id, int64_t job_id, struct json_object *data)
{
    size_t len = 0;
    const char *text = json_dump(data, &len);
    if (!text)
        return -ENOMEM;
    struct buf b = BUF_INIT(EVENT_FRAME_MAX);
    int r = buf_appendf(
        &b, "id: %llu\nevent: " JOBSD_EVENT_RUN "\ndata: ", (unsigned long long)ev->next_seq);
    if (r >= 0)
        r = buf_append(&b, text, len);
    if (r >= 0)
        r = buf_append(&b, "\n\n", 2);
    if (r < 0) {
        buf_done(&b);
        return r;
    }
    struct event *e = ring_slot(ev, ev->next_seq);
    free(e->frame);
    *e = (struct event){ .seq = ev->next_seq, .run_id = run_id, .job_id = job_id };
    e->frame = buf_steal(&b, &e->len);
    ev->next_seq++;
    ev->published++;
    for (struct watcher *w = ev->watchers; w; w = w->next)
        if (watcher_matches(w, run_id, job_id))
            watcher_wake(w);
    return 0;
}

/* Moves what the watcher has not seen into its pending bytes. */
static void watcher_fill(struct watcher *w)
{
    struct events *ev = w->events;
    if (!ev)
        return;
    if (w->next_seq < oldest_seq(ev)) {
        (void)buf_appendf(&w->pending, ": %llu events were missed\n\n",
                          (unsigned long long)(oldest_seq(ev) - w->next_seq));
        w->next_seq = oldest_seq(ev);
    }
    while (w->next_seq < ev->next_seq && w->pending.len < WATCH_PENDING_MAX) {
        const struct event *e = ring_slot(ev, w->next_seq);
        if (watcher_matches(w, e->run_id, e->job_id) &&
            buf_append(&w->pending, e->frame, e->len) < 0)
            break;
        w->next_seq++;
    }
    if (w->keepalive_due && w->pending.len == 0)
        (void)buf_append(&w->pending, ": keepalive\n\n", 13);
    w->keepalive_due = false;
}

static ssize_t watcher_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct watcher *w = cls;
    if (w->off >= w->pending.len) {
        buf_reset(&w->pending);
        w->off = 0;
        watcher_fill(w);
    }
    if (w->pending.len == 0) {
        if (!w->events)
            return RESPONSE_STREAM_END;
        w->waiting = true;
        return RESPONSE_STREAM_WAIT;
    }
    size_t n = MIN(max, w->pending.len - w->off);
    memcpy(out, w->pending.data + w->off, n);
    w->off += n;
    return (ssize_t)n;
}

static void watcher_free(void *cls)
{
    struct watcher *w = cls;
    watcher_unlink(w);
    buf_done(&w->pending);
    free(w);
}

/* job_id and run_id, each repeatable. */
static int parse_filters(struct request *req, struct watcher *w)
{
    for (size_t i = 0; i < req->n_query; i++) {
        const struct query_arg *a = &req->query[i];
        bool job = streq(a->key, JOBSD_EV_JOB_ID), run = streq(a->key, JOBSD_EV_RUN_ID);
        int64_t id;
        if (!job && !run)
            continue;
        if (parse_id(a->value, &id) < 0) {
            response_set_error(&req->response, 400, "INVALID_PARAMETER_VALUE",
                               "Invalid %s: '%s' is not a positive integer", a->key, a->value);
            return -EINVAL;
        }
        if ((job ? w->n_jobs : w->n_runs) >= WATCH_FILTERS_MAX) {
            response_set_error(&req->response, 400, "INVALID_PARAMETER_VALUE",
                               "At most %d %s filters", WATCH_FILTERS_MAX, a->key);
            return -EINVAL;
        }
        if (job)
            w->job_ids[w->n_jobs++] = id;
        else
            w->run_ids[w->n_runs++] = id;
    }
    return 0;
}

static int on_events(struct request *req, void *userdata)
{
    struct events *ev = userdata;
    req->response.source = JOBSD_SOURCE_LOCAL;
    if (ev->n_watchers >= JOBSD_WATCHERS_MAX) {
        response_set_error(&req->response, 503, "TEMPORARILY_UNAVAILABLE",
                           "Too many event streams (%d)", JOBSD_WATCHERS_MAX);
        req->response.retry_after_s = 5;
        return 0;
    }
    struct watcher *w = calloc(1, sizeof(*w));
    if (!w) {
        response_set_error(&req->response, 500, "INTERNAL_ERROR", "Out of memory");
        return 0;
    }
    w->pending = BUF_INIT(WATCH_PENDING_MAX + EVENT_FRAME_MAX);
    if (parse_filters(req, w) < 0) {
        free(w);
        return 0;
    }
    /* Resume after the last event the client saw, if still kept; a new
     * watcher starts with what happens from now on. */
    const char *last =
        req->last_event_id ? req->last_event_id : request_query(req, "last_event_id");
    uint64_t seen;
    if (last && parse_uint64(last, &seen) >= 0 && seen < ev->next_seq)
        w->next_seq = seen + 1;
    else
        w->next_seq = ev->next_seq;
    (void)buf_appendf(&w->pending, "retry: 2000\n: jobsd events from %llu\n\n",
                      (unsigned long long)w->next_seq);
    w->req = req;
    w->events = ev;
    w->next = ev->watchers;
    if (w->next)
        w->next->prev = w;
    ev->watchers = w;
    ev->n_watchers++;
    response_set_stream(&req->response, 200, "text/event-stream", watcher_read, watcher_free, w);
    (void)response_add_header(&req->response, "Cache-Control", "no-cache");
    return 0;
}

void events_register(struct events *ev, struct router *r)
{
    router_set(r, ENDPOINT_LOCAL_EVENTS, on_events, ev);
}

void events_get_stats(const struct events *ev, struct events_stats *ret)
{
    *ret = (struct events_stats){
        .published = ev->published,
        .last_seq = ev->next_seq - 1,
        .watchers = ev->n_watchers,
    };
}
