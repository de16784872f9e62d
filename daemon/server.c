#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "daemon/server.h"
#include "proto/cleanup.h"
#include "proto/log.h"

#define SERVER_LISTENERS_MAX 8

_Static_assert(RESPONSE_STREAM_END == MHD_CONTENT_READER_END_OF_STREAM, "stream end");
_Static_assert(RESPONSE_STREAM_ERROR == MHD_CONTENT_READER_END_WITH_ERROR, "stream error");
/* Accuracy for our timers: sd-event's default of 250 ms would stall MHD,
 * and even 1 ms adds up to milliseconds over the hops of one request. */
#define TIMER_ACCURACY_USEC 1

struct listener {
    struct server *server;
    struct MHD_Daemon *daemon;
    sd_event_source *io;
    sd_event_source *timer;
    enum listener_kind kind;
    bool resume_pending;
};

/* A client connection, from accept to close, so that one that takes more
 * than request_timeout to send a request (headers and body) is closed:
 * libmicrohttpd's own timeout is only for idleness, which a client sending
 * a byte a second never reaches. */
struct conn {
    struct listener *listener;
    int fd;
    uint64_t since_usec; /* its accept, or the end of its previous request */
    bool received;       /* the whole request is in: a handler or the answer's turn */
    struct conn *prev, *next;
};

struct held {
    struct request *req;
    sd_event_source *deadline;
    struct held *prev, *next;
};

struct server {
    sd_event *event;
    struct server_settings settings;
    struct server_handlers handlers;
    struct listener listeners[SERVER_LISTENERS_MAX];
    size_t n_listeners;
    sd_event_source *resume_defer;
    struct held *held_head;
    unsigned n_held;
    struct conn *conns;
    sd_event_source *slow_timer;     /* every second: closes slow senders */
    struct request *streams_waiting; /* suspended by RESPONSE_STREAM_WAIT */
    unsigned n_streams;
    unsigned in_flight;
    uint64_t requests;
    bool draining;
    bool stopping;
};

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Re-arms the listener's timer from MHD's own timeout. */
static void listener_update_timer(struct listener *l)
{
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (MHD_get_timeout(l->daemon, &ms) != MHD_YES) {
        sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
        return;
    }
    uint64_t now = 0;
    sd_event_now(l->server->event, CLOCK_MONOTONIC, &now);
    sd_event_source_set_time(l->timer, now + (uint64_t)ms * 1000u);
    sd_event_source_set_enabled(l->timer, SD_EVENT_ONESHOT);
}

static void listener_run(struct listener *l)
{
    l->resume_pending = false;
    if (MHD_run(l->daemon) != MHD_YES)
        log_debug("MHD_run failed, ignoring");
    listener_update_timer(l);
}

static int on_listener_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
    listener_run(userdata);
    return 0;
}

static int on_listener_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
    listener_run(userdata);
    return 0;
}

/* libmicrohttpd 0.9.75 has no wake-up of its own for resumed connections
 * without an internal thread: run it ourselves. The source has the idle
 * priority, so it runs once every event already pending (a wave of upstream
 * completions) was dispatched: a burst of resumes costs one walk of the
 * suspended list, and a lone resume waits for nothing. */
static int on_resume(sd_event_source *src, void *userdata)
{
    struct server *s = userdata;
    for (size_t i = 0; i < s->n_listeners; i++)
        if (s->listeners[i].resume_pending)
            listener_run(&s->listeners[i]);
    return 0;
}

static void schedule_resume(struct server *s, struct listener *l)
{
    l->resume_pending = true;
    sd_event_source_set_enabled(s->resume_defer, SD_EVENT_ONESHOT);
}

static void held_unlink(struct server *s, struct held *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else
        s->held_head = h->next;
    if (h->next)
        h->next->prev = h->prev;
    s->n_held--;
    sd_event_source_disable_unref(h->deadline);
    free(h);
}

static struct held *held_find(struct server *s, struct request *req)
{
    for (struct held *h = s->held_head; h; h = h->next)
        if (h->req == req)
            return h;
    return NULL;
}

/* Ends a held request early: its handler's cancel hook, then an error. */
static void held_abort(struct server *s, struct request *req, int status, const char *code,
                       const char *message)
{
    request_cancel_t cancel = req->cancel;
    req->cancel = NULL;
    if (cancel)
        cancel(req, req->cancel_userdata);
    response_set_error(&req->response, status, code, "%s", message);
    if (status == 503)
        req->response.retry_after_s = 1;
    request_finish(req);
}

static int on_deadline(sd_event_source *src, uint64_t usec, void *userdata)
{
    struct request *req = userdata;
    log_warning("request #%llu %s %s: no answer within %llu ms, answering 504",
                (unsigned long long)req->id, req->method_raw, req->path,
                (unsigned long long)(req->server->settings.request_timeout_usec / 1000));
    held_abort(req->server, req, 504, "DEADLINE_EXCEEDED",
               "jobsd gave up waiting for the workspace");
    return 0;
}

void request_hold(struct request *req, request_cancel_t cancel, void *userdata)
{
    request_hold_until(req, cancel, userdata,
                       req->start_usec + req->server->settings.request_timeout_usec);
}

void request_hold_until(struct request *req, request_cancel_t cancel, void *userdata,
                        uint64_t deadline_usec)
{
    struct server *s = req->server;
    req->held = true;
    req->cancel = cancel;
    req->cancel_userdata = userdata;

    struct held *h = calloc(1, sizeof(*h));
    if (!h)
        return; /* no deadline then: the handler still finishes it */
    h->req = req;
    if (sd_event_add_time(s->event, &h->deadline, CLOCK_MONOTONIC, deadline_usec,
                          TIMER_ACCURACY_USEC * 1000, on_deadline, req) < 0) {
        free(h);
        return;
    }
    h->next = s->held_head;
    if (h->next)
        h->next->prev = h;
    s->held_head = h;
    s->n_held++;
}

/* Resumes a suspended connection and has MHD look at it soon. */
static void connection_resume(struct server *s, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);
    MHD_resume_connection(c);
    for (size_t i = 0; ci && i < s->n_listeners; i++)
        if (s->listeners[i].daemon == ci->daemon)
            schedule_resume(s, &s->listeners[i]);
}

static void stream_unlink(struct server *s, struct request *req)
{
    if (!req->stream_waiting)
        return;
    req->stream_waiting = false;
    if (req->stream_prev)
        req->stream_prev->stream_next = req->stream_next;
    else
        s->streams_waiting = req->stream_next;
    if (req->stream_next)
        req->stream_next->stream_prev = req->stream_prev;
    req->stream_prev = req->stream_next = NULL;
    s->n_streams--;
}

void request_stream_wake(struct request *req)
{
    if (!req || !req->stream_waiting)
        return;
    stream_unlink(req->server, req);
    connection_resume(req->server, req->stream_conn);
}

/* libmicrohttpd's content reader for a streamed answer: the handler's
 * stream function, and a suspension when it has nothing yet (returning 0
 * without one would have MHD call again at once, a busy loop). */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct request *req = cls;
    struct server *s = req->server;
    if (s->stopping || !req->response.stream)
        return RESPONSE_STREAM_END;
    ssize_t n = req->response.stream(req->response.stream_cls, pos, buf, max);
    if (n != RESPONSE_STREAM_WAIT)
        return n;
    req->stream_waiting = true;
    req->stream_prev = NULL;
    req->stream_next = s->streams_waiting;
    if (req->stream_next)
        req->stream_next->stream_prev = req;
    s->streams_waiting = req;
    s->n_streams++;
    MHD_suspend_connection(req->stream_conn);
    return 0;
}

void request_finish(struct request *req)
{
    struct server *s = req->server;
    if (req->finished)
        return;
    req->finished = true;
    req->cancel = NULL;
    struct held *h = held_find(s, req);
    if (h)
        held_unlink(s, h);
    /* Suspended connections only: a request finished while its handler is
     * still on the stack is queued when on_request returns. */
    if (req->server_conn)
        connection_resume(s, req->server_conn);
}

static enum MHD_Result queue_response(struct server *s, struct MHD_Connection *c,
                                      struct request *req)
{
    struct response *r = &req->response;
    struct MHD_Response *resp;
    char num[32];

    if (r->status == 0)
        response_set_error(r, 500, "INTERNAL_ERROR", "jobsd produced no answer");
    if (r->stream) {
        /* The stream stays the request's (freed with it); MHD reads it
         * through stream_read. Our RESPONSE_STREAM_* values are MHD's. */
        req->stream_conn = c;
        resp =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, req, NULL);
    } else if (r->body) {
        /* The response takes the body; our free function runs when MHD is
         * done with it (cached bodies are refcounted by their owner). */
        void (*f)(void *) = r->body_free ? r->body_free : free;
        resp = MHD_create_response_from_buffer_with_free_callback(r->body_len, r->body, f);
        if (resp) {
            r->body = NULL;
            r->body_len = 0;
            r->body_free = NULL;
        }
    } else
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    if (r->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(resp, JOBSD_HEADER_SOURCE, jobsd_source_to_string(r->source));
    if (r->age_s >= 0 && (r->source == JOBSD_SOURCE_CACHE || r->source == JOBSD_SOURCE_STALE)) {
        snprintf(num, sizeof(num), "%lld", (long long)r->age_s);
        MHD_add_response_header(resp, JOBSD_HEADER_AGE, num);
    }
    if (r->retry_after_s > 0) {
        snprintf(num, sizeof(num), "%u", r->retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, num);
    }
    for (size_t i = 0; i < r->n_headers; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    (void)s;
    return ret;
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct request *req = cls;
    if (req->n_query >= REQUEST_QUERY_MAX) {
        req->query_overflow = true;
        return MHD_NO;
    }
    char *k = strdup(key ? key : "");
    char *v = strdup(value ? value : "");
    if (!k || !v) {
        free(k);
        free(v);
        req->query_overflow = true;
        return MHD_NO;
    }
    req->query[req->n_query].key = k;
    req->query[req->n_query].value = v;
    req->n_query++;
    return MHD_YES;
}

static void read_peer(struct MHD_Connection *c, struct request *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (req->listener != LISTENER_UNIX || !ci)
        return;
    if (getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
        len == sizeof(cred)) {
        req->peer.known = true;
        req->peer.pid = cred.pid;
        req->peer.uid = cred.uid;
        req->peer.gid = cred.gid;
        gid_t groups[PEER_GROUPS_MAX];
        len = sizeof(groups);
        if (getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
            req->peer.n_groups = MIN((unsigned)(len / sizeof(gid_t)), PEER_GROUPS_MAX);
            memcpy(req->peer.groups, groups, req->peer.n_groups * sizeof(gid_t));
        }
    }
}

static struct request *request_new(struct listener *l, struct MHD_Connection *c, const char *url,
                                   const char *method)
{
    struct server *s = l->server;
    struct request *req = calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    req->server = s;
    req->listener = l->kind;
    req->method_raw = method;
    req->method = http_method_from_string(method);
    req->path = strdup(url ? url : "/");
    req->start_usec = now_usec();
    req->id = ++s->requests;
    req->response.age_s = -1;
    req->response.source = JOBSD_SOURCE_LOCAL;
    if (!req->path) {
        free(req);
        return NULL;
    }
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, req);
    req->authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    req->cache_control = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cache-Control");
    req->user_agent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
    req->last_event_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    req->workspace_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, JOBSD_HEADER_WORKSPACE_ID);
    req->content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (!cl || parse_int64(cl, &req->content_length) < 0)
        req->content_length = -1;
    read_peer(c, req);
    s->in_flight++;
    return req;
}

struct framing {
    unsigned content_length, transfer_encoding, spaced_keys;
    const char *te;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct framing *f = cls;
    size_t n = key ? strlen(key) : 0;
    if (n && (key[n - 1] == ' ' || key[n - 1] == '\t'))
        f->spaced_keys++;
    if (key && strcasecmp(key, "Content-Length") == 0)
        f->content_length++;
    else if (key && strcasecmp(key, "Transfer-Encoding") == 0) {
        f->transfer_encoding++;
        f->te = value;
    }
    return MHD_YES;
}

/* Requests whose length two parsers could read two ways (request
 * smuggling): refused before anything else looks at them. NULL if fine. */
static const char *framing_error(struct MHD_Connection *c, const struct request *req)
{
    struct framing f = { 0 };
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
    if (f.content_length > 1)
        return "more than one Content-Length";
    if (f.transfer_encoding && f.content_length)
        return "both Transfer-Encoding and Content-Length";
    if (f.transfer_encoding > 1 || (f.te && strcasecmp(f.te, "chunked") != 0))
        return "a Transfer-Encoding other than chunked";
    if (f.content_length && req->content_length < 0)
        return "a Content-Length that is not a number";
    if (f.spaced_keys)
        return "white space before a header's colon";
    return NULL;
}

/* The connection's request is all in (true), or it waits for the next one. */
static void conn_mark(struct MHD_Connection *c, bool received)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn *k = ci ? ci->socket_context : NULL;
    if (!k)
        return;
    k->received = received;
    if (!received)
        k->since_usec = now_usec();
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct listener *l = cls;
    struct server *s = l->server;
    struct conn *k = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        k = calloc(1, sizeof(*k));
        if (!k || !ci) {
            free(k);
            return; /* untracked: only MHD's idle timeout then */
        }
        *k = (struct conn){ .listener = l, .fd = ci->connect_fd, .since_usec = now_usec() };
        k->next = s->conns;
        if (k->next)
            k->next->prev = k;
        s->conns = k;
        *socket_context = k;
        return;
    }
    if (code != MHD_CONNECTION_NOTIFY_CLOSED)
        return;
    /* At server.max_connections libmicrohttpd takes its listening socket out
     * of its epoll set, and puts it back only in a later MHD_run(): with
     * nothing else to do there would be none, and the door would stay shut
     * for good. A closed connection frees a slot: run it again soon. */
    if (!s->stopping)
        schedule_resume(s, l);
    if (!k)
        return;
    if (k->prev)
        k->prev->next = k->next;
    else
        s->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    free(k);
    *socket_context = NULL;
}

/* Shuts down the connections still sending a request after request_timeout;
 * libmicrohttpd then sees them closed and frees them. */
static int on_slow_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
    struct server *s = userdata;
    uint64_t now = now_usec();
    for (struct conn *k = s->conns; k; k = k->next) {
        if (k->received || k->fd < 0 || now - k->since_usec < s->settings.request_timeout_usec)
            continue;
        log_debug("a client took more than %llu ms to send its request, closing its connection",
                  (unsigned long long)(s->settings.request_timeout_usec / 1000));
        (void)shutdown(k->fd, SHUT_RDWR);
        k->fd = -1; /* once */
        schedule_resume(s, k->listener);
    }
    sd_event_source_set_time(src, usec + 1000000u);
    return 0;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct listener *l = cls;
    struct server *s = l->server;
    struct request *req = *con_cls;

    if (!req) {
        req = request_new(l, c, url, method);
        if (!req)
            return MHD_NO;
        *con_cls = req;
        const char *bad = framing_error(c, req);
        if (bad) {
            /* Closing is the point: the rest of the bytes are not framed. */
            response_set_error(&req->response, 400, "MALFORMED_REQUEST",
                               "Refused a request with %s", bad);
            response_add_header(&req->response, "Connection", "close");
            req->finished = true;
            return queue_response(s, c, req);
        }
        if (s->draining || s->stopping) {
            response_set_error(&req->response, 503, "TEMPORARILY_UNAVAILABLE",
                               "jobsd is shutting down");
            req->response.retry_after_s = 1;
            req->finished = true;
            return queue_response(s, c, req);
        }
        ssize_t max = s->handlers.on_headers(req, s->handlers.userdata);
        if (max < 0) {
            req->finished = true;
            return queue_response(s, c, req);
        }
        req->body = BUF_INIT((size_t)max);
        return MHD_YES;
    }

    if (req->finished)
        /* Resumed after request_finish(), or a body arriving after an early
         * answer: send (or keep) the response. */
        return *upload_data_size ? (*upload_data_size = 0, MHD_YES) : queue_response(s, c, req);

    if (*upload_data_size > 0) {
        if (!req->body_too_large && buf_append(&req->body, upload_data, *upload_data_size) < 0)
            req->body_too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (req->held)
        return MHD_YES; /* spurious call while suspended */
    conn_mark(c, true);

    int r = s->handlers.on_request(req, s->handlers.userdata);
    if (r == 0 || req->finished) {
        req->finished = true;
        return queue_response(s, c, req);
    }
    if (!req->held) {
        response_set_error(&req->response, 500, "INTERNAL_ERROR", "jobsd lost the request");
        req->finished = true;
        return queue_response(s, c, req);
    }
    req->server_conn = c;
    MHD_suspend_connection(c);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct listener *l = cls;
    struct server *s = l->server;
    struct request *req = *con_cls;

    if (!req)
        return;
    *con_cls = NULL;
    conn_mark(c, false);
    if (!req->finished && req->held) {
        /* The client went away while a handler worked on it. */
        request_cancel_t cancel = req->cancel;
        req->cancel = NULL;
        if (cancel)
            cancel(req, req->cancel_userdata);
        struct held *h = held_find(s, req);
        if (h)
            held_unlink(s, h);
    }
    stream_unlink(s, req);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        log_debug("request #%llu %s %s ended early (%d)", (unsigned long long)req->id,
                  req->method_raw, req->path, (int)toe);
    if (s->handlers.on_complete)
        s->handlers.on_complete(req, s->handlers.userdata);
    s->in_flight--;
    request_free_fields(req);
    free(req);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = 0;
    log_debug("libmicrohttpd: %s", line);
}

int server_new(sd_event *event, const struct server_settings *settings,
               const struct server_handlers *handlers, struct server **ret)
{
    struct server *s = calloc(1, sizeof(*s));
    int r;
    if (!s)
        return -ENOMEM;
    s->event = sd_event_ref(event);
    s->settings = *settings;
    s->handlers = *handlers;
    r = sd_event_add_defer(event, &s->resume_defer, on_resume, s);
    if (r >= 0)
        r = sd_event_source_set_priority(s->resume_defer, SD_EVENT_PRIORITY_IDLE);
    if (r < 0) {
        server_free(s);
        return r;
    }
    sd_event_source_set_enabled(s->resume_defer, SD_EVENT_OFF);
    r = sd_event_add_time_relative(event, &s->slow_timer, CLOCK_MONOTONIC, 1000000u, 100000u,
                                   on_slow_timer, s);
    if (r >= 0)
        r = sd_event_source_set_enabled(s->slow_timer, SD_EVENT_ON);
    if (r < 0) {
        server_free(s);
        return r;
    }
    *ret = s;
    return 0;
}

int server_add_listener(struct server *s, int fd, enum listener_kind kind)
{
    _cleanup_close_ int owned = fd;
    int r;
    if (s->n_listeners >= SERVER_LISTENERS_MAX)
        return -E2BIG;
    struct listener *l = &s->listeners[s->n_listeners];
    *l = (struct listener){ .server = s, .kind = kind };

    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    l->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
        MHD_OPTION_LISTEN_SOCKET, TAKE_FD(owned), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->settings.max_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        s->settings.connection_memory, MHD_OPTION_CONNECTION_TIMEOUT, s->settings.idle_timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, l, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        l, MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, MHD_OPTION_END);
    if (!l->daemon) {
        safe_close(fd);
        return log_error_errno(EINVAL, "Failed to start libmicrohttpd on fd %d", fd);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info) {
        MHD_stop_daemon(l->daemon);
        return -EINVAL;
    }
    r = sd_event_add_io(s->event, &l->io, info->epoll_fd, EPOLLIN, on_listener_io, l);
    if (r >= 0)
        r = sd_event_add_time(s->event, &l->timer, CLOCK_MONOTONIC, 0, TIMER_ACCURACY_USEC,
                              on_listener_timer, l);
    if (r < 0) {
        sd_event_source_disable_unref(l->io);
        MHD_stop_daemon(l->daemon);
        return r;
    }
    sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
    s->n_listeners++;
    return 0;
}

void server_drain(struct server *s)
{
    s->draining = true;
}

void server_get_stats(const struct server *s, struct server_stats *ret)
{
    *ret = (struct server_stats){
        .listeners = (unsigned)s->n_listeners,
        .requests = s->requests,
        .in_flight = s->in_flight,
        .held = s->n_held,
    };
}

struct server *server_free(struct server *s)
{
    if (!s)
        return NULL;
    s->stopping = true;
    /* Stopping MHD with suspended connections is not allowed: answer them. */
    while (s->held_head)
        held_abort(s, s->held_head->req, 503, "TEMPORARILY_UNAVAILABLE", "jobsd is shutting down");
    while (s->streams_waiting) /* they read the end of their stream */
        request_stream_wake(s->streams_waiting);
    for (size_t i = 0; i < s->n_listeners; i++) {
        struct listener *l = &s->listeners[i];
        MHD_run(l->daemon); /* let resumed connections see their answers */
        sd_event_source_disable_unref(l->io);
        sd_event_source_disable_unref(l->timer);
        MHD_stop_daemon(l->daemon);
    }
    sd_event_source_disable_unref(s->resume_defer);
    sd_event_source_disable_unref(s->slow_timer);
    sd_event_unref(s->event);
    free(s);
    return NULL;
}
