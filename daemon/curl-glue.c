/* daemon/curl-glue.c: the multi-socket API on sd-event. curl tells us which
 * sockets to watch (socket callback) and when to wake it (timer callback);
 * we tell curl what happened (curl_multi_socket_action). Finished transfers
 * are read from curl_multi_info_read() by a defer source, at most
 * CURL_GLUE_DRAIN_MAX per loop iteration, so a wave of completions never
 * holds the loop for long. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "daemon/curl-glue.h"
#include "proto/log.h"

/* curl's wake-ups are in ms; 1 ms of slack lets sd-event coalesce without
 * the 250 ms default (loop-notes pitfall 3). */
#define GLUE_TIMER_ACCURACY_USEC 1000

struct glue_io {
    struct curl_glue *glue;
    curl_socket_t fd;
    sd_event_source *source;
    struct glue_io *prev, *next;
};

struct curl_glue {
    sd_event *event;
    CURLM *multi;
    sd_event_source *timer;
    sd_event_source *drain;
    struct glue_io *ios;
    unsigned running;
};

static void glue_io_free(struct glue_io *io)
{
    struct curl_glue *g = io->glue;
    if (io->prev)
        io->prev->next = io->next;
    else
        g->ios = io->next;
    if (io->next)
        io->next->prev = io->prev;
    sd_event_source_disable_unref(io->source);
    free(io);
}

static void glue_schedule_drain(struct curl_glue *g)
{
    (void)sd_event_source_set_enabled(g->drain, SD_EVENT_ONESHOT);
}

static int glue_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    struct glue_io *io = userdata;
    struct curl_glue *g = io->glue;
    int mask = 0, still = 0;

    if (revents & EPOLLIN)
        mask |= CURL_CSELECT_IN;
    if (revents & EPOLLOUT)
        mask |= CURL_CSELECT_OUT;
    if (revents & (EPOLLERR | EPOLLHUP))
        mask |= CURL_CSELECT_ERR;
    /* io may be freed in here (CURL_POLL_REMOVE); use only g afterwards. */
    if (curl_multi_socket_action(g->multi, fd, mask, &still) != CURLM_OK)
        log_debug("curl_multi_socket_action(fd %d) failed, ignoring", fd);
    glue_schedule_drain(g);
    return 0;
}

static int glue_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userdata, void *socketp)
{
    struct curl_glue *g = userdata;
    struct glue_io *io = socketp;
    uint32_t events = 0;

    if (what == CURL_POLL_REMOVE) {
        if (io)
            glue_io_free(io);
        return 0;
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= EPOLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= EPOLLOUT;

    if (io) {
        if (sd_event_source_set_io_events(io->source, events) < 0 ||
            sd_event_source_set_enabled(io->source, SD_EVENT_ON) < 0)
            return -1;
        return 0;
    }

    io = calloc(1, sizeof(*io));
    if (!io)
        return -1;
    io->glue = g;
    io->fd = fd;
    if (sd_event_add_io(g->event, &io->source, fd, events, glue_on_io, io) < 0) {
        free(io);
        return -1;
    }
    (void)sd_event_source_set_description(io->source, "curl-io");
    io->next = g->ios;
    if (g->ios)
        g->ios->prev = io;
    g->ios = io;
    if (curl_multi_assign(g->multi, fd, io) != CURLM_OK) {
        glue_io_free(io);
        return -1;
    }
    return 0;
}

static int glue_on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
    struct curl_glue *g = userdata;
    int still = 0;

    if (curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &still) != CURLM_OK)
        log_debug("curl_multi_socket_action(timeout) failed, ignoring");
    glue_schedule_drain(g);
    return 0;
}

static int glue_timer_cb(CURLM *multi, long timeout_ms, void *userdata)
{
    struct curl_glue *g = userdata;
    uint64_t now;

    if (timeout_ms < 0)
        return sd_event_source_set_enabled(g->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
    if (sd_event_now(g->event, CLOCK_MONOTONIC, &now) < 0)
        return -1;
    /* 0 means "now": the timer fires in the next iteration, never from
     * inside this callback (curl forbids re-entering socket_action). */
    if (sd_event_source_set_time(g->timer, now + (uint64_t)timeout_ms * 1000) < 0 ||
        sd_event_source_set_enabled(g->timer, SD_EVENT_ONESHOT) < 0)
        return -1;
    return 0;
}

static int glue_on_drain(sd_event_source *s, void *userdata)
{
    struct curl_glue *g = userdata;
    int left = 0;

    for (unsigned n = 0; n < CURL_GLUE_DRAIN_MAX; n++) {
        CURLMsg *m = curl_multi_info_read(g->multi, &left);
        if (!m)
            return 0;
        if (m->msg != CURLMSG_DONE)
            continue;
        /* m is invalid once the handle leaves the multi: copy first. */
        CURL *easy = m->easy_handle;
        CURLcode result = m->data.result;
        struct curl_glue_slot *slot = NULL;
        (void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&slot);
        if (!slot) {
            (void)curl_multi_remove_handle(g->multi, easy);
            continue;
        }
        curl_glue_remove(g, easy, slot);
        if (slot->done)
            slot->done(easy, result, slot->userdata);
    }
    if (left > 0)
        glue_schedule_drain(g);
    return 0;
}

int curl_glue_new(sd_event *e, struct curl_glue **ret)
{
    _cleanup_(curl_glue_freep) struct curl_glue *g = calloc(1, sizeof(*g));
    int r;

    if (!g)
        return -ENOMEM;
    g->event = sd_event_ref(e);
    g->multi = curl_multi_init();
    if (!g->multi)
        return -ENOMEM;
    if (curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, glue_socket_cb) != CURLM_OK ||
        curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g) != CURLM_OK ||
        curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, glue_timer_cb) != CURLM_OK ||
        curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g) != CURLM_OK)
        return -EIO;

    r = sd_event_add_time(e, &g->timer, CLOCK_MONOTONIC, UINT64_MAX, GLUE_TIMER_ACCURACY_USEC,
                          glue_on_timer, g);
    if (r < 0)
        return r;
    (void)sd_event_source_set_enabled(g->timer, SD_EVENT_OFF);
    (void)sd_event_source_set_description(g->timer, "curl-timer");

    r = sd_event_add_defer(e, &g->drain, glue_on_drain, g);
    if (r < 0)
        return r;
    (void)sd_event_source_set_enabled(g->drain, SD_EVENT_OFF);
    (void)sd_event_source_set_description(g->drain, "curl-drain");

    *ret = TAKE_PTR(g);
    return 0;
}

struct curl_glue *curl_glue_free(struct curl_glue *g)
{
    if (!g)
        return NULL;
    /* Cleanup closes the cached connections through the socket callback,
     * which frees their io entries; then drop whatever is left. */
    if (g->multi)
        curl_multi_cleanup(g->multi);
    g->multi = NULL;
    while (g->ios)
        glue_io_free(g->ios);
    sd_event_source_disable_unref(g->timer);
    sd_event_source_disable_unref(g->drain);
    sd_event_unref(g->event);
    free(g);
    return NULL;
}

CURLM *curl_glue_multi(struct curl_glue *g)
{
    return g->multi;
}

int curl_glue_add(struct curl_glue *g, CURL *easy, struct curl_glue_slot *slot)
{
    if (slot->in_multi)
        return -EBUSY;
    if (curl_easy_setopt(easy, CURLOPT_PRIVATE, slot) != CURLE_OK)
        return -EIO;
    if (curl_multi_add_handle(g->multi, easy) != CURLM_OK)
        return -EIO;
    slot->in_multi = true;
    g->running++;
    return 0;
}

void curl_glue_remove(struct curl_glue *g, CURL *easy, struct curl_glue_slot *slot)
{
    if (!slot->in_multi)
        return;
    (void)curl_multi_remove_handle(g->multi, easy);
    slot->in_multi = false;
    g->running--;
}

unsigned curl_glue_running(const struct curl_glue *g)
{
    return g->running;
}
