#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/format.h"
#include "client/sse.h"
#include "client/wait.h"
#include "proto/json.h"
#include "proto/localapi.h"

enum feed {
    FEED_TRYING, /* asked; not known yet */
    FEED_ON,
    FEED_OFF, /* not served (501) or gone: poll instead */
};

struct watched {
    int64_t run_id;
    struct xfer x;
    bool busy;
    bool polling;
    bool asked_wait; /* the transfer in flight is a wait, not a runs/get */
    bool finished;
    int64_t next_poll;  /* monotonic ms */
    int64_t first_seen; /* wall ms */
    bool have_view;
    struct run_view view;
    char *text; /* the last answer */
    char shown[512];
};

struct waiter {
    struct transport *transport;
    struct wait_options o;
    CURLM *multi;
    struct watched *runs;
    size_t n;
    struct xfer events;
    struct sse *sse;
    enum feed feed;
    size_t live_lines;
    int64_t deadline; /* monotonic ms, 0: none */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int waiter_new(struct transport *t, const struct wait_options *o, struct waiter **ret)
{
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->transport = t;
    w->o = *o;
    if (w->o.poll_ms <= 0)
        w->o.poll_ms = WAIT_POLL_MS;
    if (!(w->multi = curl_multi_init())) {
        free(w);
        return -ENOMEM;
    }
    *ret = w;
    return 0;
}

static void stop_xfer(struct waiter *w, struct xfer *x)
{
    if (x->easy)
        curl_multi_remove_handle(w->multi, x->easy);
    xfer_done(x);
}

struct waiter *waiter_free(struct waiter *w)
{
    if (!w)
        return NULL;
    for (size_t i = 0; i < w->n; i++) {
        stop_xfer(w, &w->runs[i].x);
        free(w->runs[i].text);
    }
    stop_xfer(w, &w->events);
    sse_free(w->sse);
    curl_multi_cleanup(w->multi);
    free(w->runs);
    free(w);
    return NULL;
}

int waiter_add(struct waiter *w, int64_t run_id)
{
    struct watched *r = reallocarray(w->runs, w->n + 1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    w->runs = r;
    w->runs[w->n++] = (struct watched){ .run_id = run_id };
    return 0;
}

const char *waiter_text(const struct waiter *w, size_t i)
{
    return i < w->n ? w->runs[i].text : NULL;
}

const struct run_view *waiter_view(const struct waiter *w, size_t i)
{
    return i < w->n && w->runs[i].have_view ? &w->runs[i].view : NULL;
}

bool waiter_finished(const struct waiter *w, size_t i)
{
    return i < w->n && w->runs[i].finished;
}

enum exit_status waiter_exit_status(const struct waiter *w)
{
    bool timed_out = false, canceled = false;
    for (size_t i = 0; i < w->n; i++) {
        if (!w->runs[i].finished) {
            timed_out = true;
            continue;
        }
        enum exit_status e = run_view_exit_status(&w->runs[i].view);
        if (e == EXIT_RUN_FAILED)
            return e;
        canceled |= e == EXIT_RUN_CANCELED;
    }
    return timed_out ? EXIT_TIMED_OUT : canceled ? EXIT_RUN_CANCELED : EXIT_OK;
}

int progress_line(const struct run_view *v, int64_t now_ms, int64_t elapsed_ms, struct buf *out)
{
    char when[FORMAT_MAX], took[FORMAT_MAX], state[96];
    int r = buf_appendf(out, "%s run %" PRId64, format_time_local(now_ms, when, sizeof(when)),
                        v->run_id);
    if (r >= 0 && v->name[0])
        r = buf_appendf(out, " \"%s\"", v->name);
    if (r >= 0)
        r = buf_appendf(out, " %s", run_view_state(v, state, sizeof(state)));
    if (r >= 0 && v->tasks_total > 0)
        r = buf_appendf(out, " %d/%d tasks", v->tasks_done, v->tasks_total);
    if (r >= 0)
        r = buf_appendf(out, " %s", format_duration(elapsed_ms, took, sizeof(took)));
    return r;
}

int progress_live_line(const struct run_view *v, int64_t elapsed_ms, struct buf *out)
{
    char took[FORMAT_MAX], state[96];
    int r = buf_appendf(out, "run %" PRId64 "  %-18s", v->run_id,
                        run_view_state(v, state, sizeof(state)));
    if (r >= 0 && v->tasks_total > 0)
        r = buf_appendf(out, "  %d/%d tasks", v->tasks_done, v->tasks_total);
    if (r >= 0)
        r = buf_appendf(out, "  %-6s", format_duration(elapsed_ms, took, sizeof(took)));
    if (r >= 0 && v->name[0])
        r = buf_appendf(out, "  %s", v->name);
    return r;
}

/* Redraws every run's line in place. */
static void draw_live(struct waiter *w)
{
    struct buf b = BUF_INIT(1 * MIB);
    int64_t now = wall_ms();
    if (w->live_lines)
        (void)buf_appendf(&b, "\033[%zuA", w->live_lines);
    for (size_t i = 0; i < w->n; i++) {
        struct watched *r = &w->runs[i];
        struct buf line = BUF_INIT(64 * KIB);
        if (r->have_view)
            (void)progress_live_line(&r->view, run_view_elapsed(&r->view, now, r->first_seen),
                                     &line);
        else
            (void)buf_appendf(&line, "run %" PRId64 "  waiting for jobsd", r->run_id);
        /* A line that wrapped would break the redraw: cut it to fit. */
        size_t len = line.data ? line.len : 0;
        if (w->o.width > 1 && len)
            len = display_prefix(line.data, w->o.width - 1);
        (void)buf_append(&b, "\r\033[K", 4);
        (void)buf_append(&b, line.data ? line.data : "", len);
        (void)buf_append(&b, "\n", 1);
        buf_done(&line);
    }
    w->live_lines = w->n;
    if (b.data)
        fputs(b.data, w->o.progress);
    fflush(w->o.progress);
    buf_done(&b);
}

/* A new view of run r: a line when something shown changed. */
static void update(struct waiter *w, struct watched *r, const struct run_view *v)
{
    if (r->finished)
        return;
    if (!r->first_seen)
        r->first_seen = wall_ms();
    r->view = *v;
    r->have_view = true;
    if (!w->o.progress || w->o.live)
        return;
    char key[512];
    snprintf(key, sizeof(key), "%s %s %d/%d", v->life_cycle, v->result, v->tasks_done,
             v->tasks_total);
    if (streq(key, r->shown))
        return;
    strscpy(r->shown, sizeof(r->shown), key);
    struct buf b = BUF_INIT(64 * KIB);
    int64_t now = wall_ms();
    if (progress_line(v, now, run_view_elapsed(v, now, r->first_seen), &b) >= 0) {
        fprintf(w->o.progress, "%s\n", b.data);
        fflush(w->o.progress);
    }
    buf_done(&b);
}

static struct watched *find(struct waiter *w, int64_t run_id)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->runs[i].run_id == run_id)
            return &w->runs[i];
    return NULL;
}

static int on_event(const char *id, const char *event, const char *data, void *userdata)
{
    struct waiter *w = userdata;
    _cleanup_json_ struct json_object *o = NULL;
    struct run_view v;
    if (!streq(event, JOBSD_EVENT_RUN) ||
        json_parse_object(data, strlen(data), JSON_SIZE_MAX, JSON_DEPTH_MAX, &o, NULL) < 0 ||
        run_view_from_event(o, &v) < 0)
        return 0; /* not ours to judge: skip it */
    struct watched *r = find(w, v.run_id);
    if (r)
        update(w, r, &v);
    return 0;
}

static int on_events_data(const char *p, size_t n, void *userdata)
{
    struct waiter *w = userdata;
    w->feed = FEED_ON;
    return sse_feed(w->sse, p, n);
}

static int start(struct waiter *w, struct xfer *x, const char *path)
{
    int r = xfer_init(w->transport, x, "GET", path, NULL, 0);
    if (r < 0 || curl_multi_add_handle(w->multi, x->easy) != CURLM_OK) {
        xfer_done(x);
        return r < 0 ? r : -ENOMEM;
    }
    return 0;
}

static int start_events(struct waiter *w)
{
    struct buf path = BUF_INIT(64 * KIB);
    int r = buf_appendf(&path, "%s/events", JOBSD_API_PREFIX);
    for (size_t i = 0; r >= 0 && i < w->n; i++)
        r = buf_appendf(&path, "%c%s=%" PRId64, i ? '&' : '?', JOBSD_EV_RUN_ID, w->runs[i].run_id);
    if (r >= 0)
        r = sse_new(on_event, w, &w->sse);
    if (r >= 0) {
        w->events.on_data = on_events_data;
        w->events.userdata = w;
        r = start(w, &w->events, path.data);
    }
    buf_done(&path);
    return r;
}

static int start_run(struct waiter *w, struct watched *r)
{
    char path[256];
    if (r->polling)
        snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get?run_id=%" PRId64, r->run_id);
    else {
        int64_t t = JOBSD_WAIT_TIMEOUT_MAX_S;
        if (w->deadline)
            t = MIN(t, MAX((w->deadline - mono_ms() + 999) / 1000, 1));
        snprintf(path, sizeof(path), "%s/runs/%" PRId64 "/wait?%s=%" PRId64, JOBSD_API_PREFIX,
                 r->run_id, JOBSD_Q_TIMEOUT, t);
    }
    /* A poll may take jobsd's cached copy, but not one older than a poll. */
    r->x.cache_control = r->polling ? "max-age=" STRINGIFY(WAIT_POLL_S) : NULL;
    int e = start(w, &r->x, path);
    r->busy = e >= 0;
    r->asked_wait = !r->polling;
    return e;
}

/* Jobsd does not serve wait or events: every run is polled from now on. */
static void fall_back(struct waiter *w)
{
    w->feed = FEED_OFF;
    for (size_t i = 0; i < w->n; i++)
        w->runs[i].polling = true;
}

static int run_done(struct waiter *w, struct watched *r, struct api_error *ret_error)
{
    struct xfer *x = &r->x;
    r->busy = false;
    if (x->status == 501 && r->asked_wait) {
        fall_back(w);
        stop_xfer(w, x);
        return start_run(w, r);
    }
    if (x->status != 200) {
        api_error_parse((int)x->status, x->body.data, x->body.len, ret_error);
        return -EREMOTEIO;
    }
    _cleanup_json_ struct json_object *o = NULL;
    struct run_view v;
    struct json_error err;
    if (json_parse_object(x->body.data, x->body.len, REPLY_MAX, JSON_DEPTH_MAX, &o, &err) < 0 ||
        run_view_from_run(o, &v) < 0) {
        *ret_error = (struct api_error){ .status = (int)x->status };
        strscpy(ret_error->code, sizeof(ret_error->code), "MALFORMED_RESPONSE");
        strscpy(ret_error->message, sizeof(ret_error->message),
                "jobsd answered something that is not a run");
        return -EREMOTEIO;
    }
    free(r->text);
    r->text = buf_steal(&x->body, NULL);
    update(w, r, &v);
    stop_xfer(w, x);
    if (v.terminal || streq(x->wait, JOBSD_WAIT_TERMINAL)) {
        r->finished = true;
        return 0;
    }
    if (r->polling) {
        r->next_poll = mono_ms() + w->o.poll_ms;
        return 0;
    }
    return start_run(w, r);
}

static int drain(struct waiter *w, struct api_error *ret_error)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(w->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        int r = xfer_finish(w->transport, x, m->data.result);
        if (x == &w->events) {
            /* The stream ended or was never served: completion still comes
             * from the waits, progress from polling. */
            stop_xfer(w, x);
            fall_back(w);
            continue;
        }
        if (r < 0)
            return r;
        struct watched *run = NULL;
        for (size_t i = 0; i < w->n && !run; i++)
            if (&w->runs[i].x == x)
                run = &w->runs[i];
        if (run && (r = run_done(w, run, ret_error)) < 0)
            return r;
    }
    return 0;
}

int waiter_run(struct waiter *w, struct api_error *ret_error)
{
    int r;
    if (w->o.timeout_ms > 0)
        w->deadline = mono_ms() + w->o.timeout_ms;
    if ((r = start_events(w)) < 0)
        return r;
    for (size_t i = 0; i < w->n; i++)
        if ((r = start_run(w, &w->runs[i])) < 0)
            return r;
    for (;;) {
        int running;
        if (curl_multi_perform(w->multi, &running) != CURLM_OK)
            return -EIO;
        if ((r = drain(w, ret_error)) < 0)
            return r;
        int64_t now = mono_ms(), wake = now + 1000;
        bool all = true;
        for (size_t i = 0; i < w->n; i++) {
            struct watched *run = &w->runs[i];
            if (run->finished)
                continue;
            all = false;
            if (!run->busy && run->polling && run->next_poll <= now && (r = start_run(w, run)) < 0)
                return r;
            if (!run->busy)
                wake = MIN(wake, run->next_poll);
        }
        if (w->o.progress && w->o.live)
            draw_live(w);
        if (all || (w->deadline && now >= w->deadline))
            return 0;
        if (w->deadline)
            wake = MIN(wake, w->deadline);
        int ms = (int)MAX(wake - now, 0);
        if (curl_multi_poll(w->multi, NULL, 0, ms, NULL) != CURLM_OK)
            return -EIO;
    }
}
