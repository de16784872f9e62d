/* tests/fakews/server.c: requests in, replies out. Every workspace request
 * runs on MHD's one polling thread: advance the clock, apply a fault,
 * route through the endpoint table, check the body and the token, call the
 * handler, log it, send. Delays and hangs suspend the connection; the timer
 * thread resumes it (MHD_ALLOW_SUSPEND_RESUME brings the ITC that wakes the
 * polling thread, see reference/loop-notes.md §1). */
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/apierror.h"
#include "proto/cleanup.h"
#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/fakews/fakews.h"
#include "tests/fakews/server.h"

#define CONNECTIONS_MAX 4096
#define TIMERS_MAX 4096
#define CONTROL_BODY_MAX (1 * MIB)
#define UNMATCHED_BODY_MAX (64 * KIB)
#define SHUTDOWN_WAIT_MS 3000
#define LISTEN_BACKLOG 1024
#define CONNECTION_MEMORY (16 * KIB) /* MHD zeroes it per request (loop-notes §4) */

enum phase {
    PHASE_NEW,
    PHASE_DELAYED, /* suspended by a delay fault */
    PHASE_HUNG,    /* suspended by a hang fault */
    PHASE_RESUMED, /* back from a delay: process, no new fault */
};

struct conn {
    enum phase phase;
    struct buf body;
    bool too_large;
    bool has_fault;
    struct fw_fault fault;
};

struct timer_entry {
    int64_t deadline; /* CLOCK_MONOTONIC ms */
    struct MHD_Connection *connection;
};

struct server {
    struct fakews *ws;
    struct MHD_Daemon *daemon;
    uint16_t port;
    atomic_int suspended;
    atomic_bool stopping;
    pthread_t timer_thread;
    bool timer_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct timer_entry timers[TIMERS_MAX];
    size_t n_timers;
    bool timer_stop;
};

static const fw_handler_t handlers[_ENDPOINT_MAX] = {
    [ENDPOINT_JOBS_CREATE] = jobs_create,
    [ENDPOINT_JOBS_LIST] = jobs_list,
    [ENDPOINT_JOBS_GET] = jobs_get,
    [ENDPOINT_JOBS_RESET] = jobs_reset,
    [ENDPOINT_JOBS_UPDATE] = jobs_update,
    [ENDPOINT_JOBS_DELETE] = jobs_delete,
    [ENDPOINT_RUN_NOW] = runs_run_now,
    [ENDPOINT_RUNS_SUBMIT] = runs_submit,
    [ENDPOINT_RUNS_LIST] = runs_list,
    [ENDPOINT_RUNS_GET] = runs_get,
    [ENDPOINT_RUNS_GET_OUTPUT] = runs_get_output,
    [ENDPOINT_RUNS_EXPORT] = runs_export,
    [ENDPOINT_RUNS_CANCEL] = runs_cancel,
    [ENDPOINT_RUNS_CANCEL_ALL] = runs_cancel_all,
    [ENDPOINT_RUNS_DELETE] = runs_delete,
    [ENDPOINT_RUNS_REPAIR] = runs_repair,
    [ENDPOINT_PERMISSIONS_GET] = perms_get,
    [ENDPOINT_PERMISSIONS_SET] = perms_set,
    [ENDPOINT_PERMISSIONS_UPDATE] = perms_update,
    [ENDPOINT_PERMISSION_LEVELS] = perms_levels,
    [ENDPOINT_HOST_METADATA] = auth_host_metadata,
    [ENDPOINT_OIDC_DISCOVERY] = auth_oidc_discovery,
    [ENDPOINT_OIDC_TOKEN] = auth_oidc_token,
};

/* --- the timer thread --- */

static void *timer_main(void *userdata)
{
    struct server *s = userdata;
    pthread_mutex_lock(&s->lock);
    while (!s->timer_stop) {
        int64_t now = fw_mono_ms(), next = INT64_MAX;
        for (size_t i = 0; i < s->n_timers;) {
            if (s->timers[i].deadline <= now) {
                MHD_resume_connection(s->timers[i].connection);
                s->timers[i] = s->timers[--s->n_timers];
                continue;
            }
            next = MIN(next, s->timers[i].deadline);
            i++;
        }
        if (next == INT64_MAX) {
            pthread_cond_wait(&s->cond, &s->lock);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wait = next - now;
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    }
    /* Stopping: every suspended connection comes back (and is closed). */
    for (size_t i = 0; i < s->n_timers; i++)
        MHD_resume_connection(s->timers[i].connection);
    s->n_timers = 0;
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Suspends c until delay_ms from now. -ENOSPC when too many wait. */
static int suspend_for(struct server *s, struct MHD_Connection *c, int64_t delay_ms)
{
    pthread_mutex_lock(&s->lock);
    if (s->n_timers >= TIMERS_MAX || s->timer_stop) {
        pthread_mutex_unlock(&s->lock);
        return -ENOSPC;
    }
    MHD_suspend_connection(c);
    atomic_fetch_add(&s->suspended, 1);
    s->timers[s->n_timers++] = (struct timer_entry){ fw_mono_ms() + delay_ms, c };
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* --- replies --- */

static void reply_done(struct fw_reply *r)
{
    if (r->json)
        json_object_put(r->json);
    free(r->raw);
    *r = (struct fw_reply){ 0 };
}

struct truncated {
    char *data;
    size_t cut;
};

static ssize_t truncated_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct truncated *t = cls;
    if (pos >= t->cut)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = MIN(max, t->cut - (size_t)pos);
    memcpy(buf, t->data + pos, n);
    return (ssize_t)n;
}

static void truncated_free(void *cls)
{
    struct truncated *t = cls;
    free(t->data);
    free(t);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct fw_reply *r, bool truncate)
{
    const char *body = r->raw;
    size_t len = r->raw_len;
    if (r->json)
        body = json_dump(r->json, &len);
    if (!body) {
        body = "";
        len = 0;
    }
    struct MHD_Response *resp;
    if (truncate) {
        /* Announce the whole length, send half, then close. */
        struct truncated *t = calloc(1, sizeof(*t));
        if (!t || !(t->data = malloc(len + 1))) {
            free(t);
            return MHD_NO;
        }
        memcpy(t->data, body, len);
        t->cut = len / 2;
        resp = MHD_create_response_from_callback(len, 4096, truncated_read, t, truncated_free);
        if (!resp)
            truncated_free(t);
    } else
        resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type",
                            r->content_type ? r->content_type : "application/json");
    if (r->retry_after >= 0) {
        char v[24];
        snprintf(v, sizeof(v), "%d", r->retry_after);
        MHD_add_response_header(resp, "Retry-After", v);
    }
    if (r->reason_phrase)
        MHD_add_response_header(resp, "X-Databricks-Reason-Phrase", r->reason_phrase);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* --- requests --- */

struct query_ctx {
    struct fw_request *req;
    bool overflow;
};

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct query_ctx *q = cls;
    if (q->req->n_query >= FW_QUERY_MAX) {
        q->overflow = true;
        return MHD_NO;
    }
    q->req->query[q->req->n_query++] = (struct fw_query_param){ key, value ? value : "" };
    return MHD_YES;
}

static size_t max_body_for(const char *method, const char *url)
{
    struct endpoint_match m;
    unsigned allowed;
    if (startswith(url, "/__fake/"))
        return CONTROL_BODY_MAX;
    if (endpoint_match(method, url, &m, &allowed) == 0)
        return m.endpoint->max_body;
    return UNMATCHED_BODY_MAX;
}

static void reset_connection(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) {
        struct linger l = { .l_onoff = 1, .l_linger = 0 };
        (void)setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
}

/* Routes req and runs it: 0 with reply filled, or -ENOMEM. parse is what
 * parsing the body gave (0 when it is empty or an object), perr why not. */
static int dispatch(struct fakews *ws, struct fw_request *req, struct conn *cn, int parse,
                    const struct json_error *perr, struct fw_reply *reply)
{
    struct endpoint_match m;
    unsigned allowed = 0;
    int r = endpoint_match(req->method, req->path, &m, &allowed);
    if (r == -EOPNOTSUPP) {
        char methods[64] = "";
        (void)http_methods_format(allowed, methods, sizeof(methods));
        return reply_error(reply, 405, NULL, "Method %s is not allowed on %s. Allowed: %s.",
                           req->method, req->path, methods);
    }
    if (r < 0 || !handlers[m.endpoint->id])
        return reply_error(reply, 404, "ENDPOINT_NOT_FOUND", "No API found for '%s %s'",
                           req->method, req->path);
    req->endpoint = m.endpoint;
    req->version = m.version;
    req->has_path_id = m.has_path_id;
    req->path_id = m.path_id;
    if (cn->too_large)
        return reply_error(reply, 413, NULL, "The request body is larger than %zu bytes.",
                           m.endpoint->max_body);
    if (m.endpoint->scope != SCOPE_META && m.endpoint->scope != SCOPE_AUTH) {
        r = auth_check(ws, req, reply);
        if (r != 0)
            return r < 0 ? r : 0;
    }
    if (parse < 0 && m.endpoint->id != ENDPOINT_OIDC_TOKEN)
        return reply_error(reply, 400, "MALFORMED_REQUEST",
                           "Invalid JSON given in the body of the request - %s", perr->message);
    return handlers[m.endpoint->id](ws, req, reply);
}

static enum MHD_Result handle(struct server *s, struct MHD_Connection *c, struct conn *cn,
                              const char *url, const char *method)
{
    struct fakews *ws = s->ws;
    struct fw_request req = {
        .method = method,
        .path = url,
        .raw_body = cn->body.data ? cn->body.data : "",
        .raw_len = cn->body.len,
    };
    struct fw_reply reply = { .retry_after = -1 };
    struct query_ctx q = { .req = &req };
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, &q);
    req.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    req.host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    req.user_agent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
    req.workspace_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Databricks-Workspace-Id");

    fakews_advance(ws);

    if (q.overflow) {
        /* Answered at the door, like a malformed request. */
        (void)reply_error(&reply, 400, "INVALID_PARAMETER_VALUE",
                          "Too many query parameters (at most %d).", FW_QUERY_MAX);
        enum MHD_Result ret = send_reply(c, &reply, false);
        reply_done(&reply);
        return ret;
    }
    if (startswith(url, "/__fake/")) {
        struct json_error err = { { 0 } };
        if (cn->too_large)
            (void)reply_error(&reply, 413, NULL, "The request body is too large.");
        else if (req.raw_len > 0 && json_parse_object(req.raw_body, req.raw_len, CONTROL_BODY_MAX,
                                                      JSON_DEPTH_MAX, &req.body, &err) < 0)
            (void)reply_error(&reply, 400, "MALFORMED_REQUEST", "Invalid JSON: %s", err.message);
        else
            (void)control_dispatch(ws, &req, &reply);
        enum MHD_Result ret = send_reply(c, &reply, false);
        reply_done(&reply);
        if (req.body)
            json_object_put(req.body);
        return ret;
    }

    /* Parsed once up front, so that the log shows the idempotency token of
     * requests that a fault answers too. */
    struct json_error perr = { { 0 } };
    int parse = 0;
    if (req.raw_len > 0 && !cn->too_large)
        parse = json_parse_object(req.raw_body, req.raw_len, JSON_SIZE_MAX, JSON_DEPTH_MAX,
                                  &req.body, &perr);

    if (cn->phase == PHASE_NEW)
        cn->has_fault = control_take_fault(ws, method, url, &cn->fault) > 0;
    const struct fw_fault *f = cn->has_fault ? &cn->fault : NULL;
    enum fw_fault_kind kind = f ? f->kind : _FAULT_KIND_MAX;
    const char *fault_name = f ? fault_kind_to_string(kind) : NULL;

    if (kind == FAULT_DELAY && cn->phase == PHASE_NEW) {
        if (suspend_for(s, c, f->delay_ms) == 0) {
            cn->phase = PHASE_DELAYED;
            json_object_put(req.body);
            return MHD_YES;
        }
    }
    if (kind == FAULT_HANG || kind == FAULT_RESET || kind == FAULT_STATUS ||
        kind == FAULT_NON_JSON) {
        /* The workspace never sees these: they are answered at the door. */
        struct endpoint_match m;
        unsigned allowed;
        if (endpoint_match(method, url, &m, &allowed) == 0)
            req.endpoint = m.endpoint;
        int status = kind == FAULT_STATUS || kind == FAULT_NON_JSON ? f->status : 0;
        control_log(ws, &req, status, fault_name, false);
        json_object_put(req.body);
        req.body = NULL;
        if (kind == FAULT_HANG) {
            if (suspend_for(s, c, f->delay_ms) == 0) {
                cn->phase = PHASE_HUNG;
                return MHD_YES;
            }
            return MHD_NO;
        }
        if (kind == FAULT_RESET) {
            reset_connection(c);
            return MHD_NO;
        }
        if (kind == FAULT_STATUS) {
            (void)reply_error(&reply, f->status, NULL, "fakews: injected %d", f->status);
            reply.retry_after = f->retry_after;
        } else {
            static const char html[] =
                "<html><head><title>Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
                "<p>fakews: injected non-JSON body</p></body></html>\n";
            reply.status = f->status;
            reply.raw = strdup(html);
            reply.raw_len = reply.raw ? strlen(html) : 0;
            reply.content_type = "text/html";
        }
        enum MHD_Result ret = send_reply(c, &reply, false);
        reply_done(&reply);
        return ret;
    }

    if (control_rate_limited(ws, url)) {
        /* over the workspace's rate: refused at the door, like a fault */
        struct endpoint_match m;
        unsigned allowed;
        if (endpoint_match(method, url, &m, &allowed) == 0)
            req.endpoint = m.endpoint;
        (void)reply_error(&reply, 429, "REQUEST_LIMIT_EXCEEDED",
                          "Too many requests. Please wait a moment and try again.");
        reply.retry_after = 1;
        control_log(ws, &req, 429, "rate_limit", false);
        enum MHD_Result ret = send_reply(c, &reply, false);
        reply_done(&reply);
        json_object_put(req.body);
        return ret;
    }
    int r = dispatch(ws, &req, cn, parse, &perr, &reply);
    if (r < 0)
        (void)reply_error(&reply, 500, "INTERNAL_ERROR", "fakews: %s", strerror(-r));
    control_log(ws, &req, reply.status, fault_name, true);
    enum MHD_Result ret;
    if (kind == FAULT_DROP_REPLY) {
        reset_connection(c);
        ret = MHD_NO;
    } else
        ret = send_reply(c, &reply, kind == FAULT_TRUNCATE);
    reply_done(&reply);
    if (req.body)
        json_object_put(req.body);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct server *s = cls;
    struct conn *cn = *con_cls;
    if (!cn) {
        cn = calloc(1, sizeof(*cn));
        if (!cn)
            return MHD_NO;
        cn->body = BUF_INIT(max_body_for(method, url));
        *con_cls = cn;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!cn->too_large && buf_append(&cn->body, upload_data, *upload_data_size) < 0) {
            cn->too_large = true;
            buf_done(&cn->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (cn->phase == PHASE_DELAYED || cn->phase == PHASE_HUNG) {
        atomic_fetch_sub(&s->suspended, 1);
        if (cn->phase == PHASE_HUNG || atomic_load(&s->stopping))
            return MHD_NO;
        cn->phase = PHASE_RESUMED;
    }
    if (atomic_load(&s->stopping))
        return MHD_NO;
    return handle(s, c, cn, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn *cn = *con_cls;
    if (!cn)
        return;
    buf_done(&cn->body);
    free(cn);
    *con_cls = NULL;
}

int server_new(struct fakews *ws, uint16_t port, struct server **ret)
{
    struct server *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->ws = ws;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->timer_thread, NULL, timer_main, s) != 0) {
        server_free(s);
        return -EAGAIN;
    }
    s->timer_started = true;

    /* Our own listening socket: its port is known (for run_page_url)
     * before MHD's thread serves anything. */
    struct sockaddr_in sa = {
        .sin_family = AF_INET,
        .sin_port = htons(port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    socklen_t len = sizeof(sa);
    int one = 1;
    _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, LISTEN_BACKLOG) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        int r = -errno;
        server_free(s);
        return r;
    }
    s->port = ntohs(sa.sin_port);
    snprintf(ws->base_url, sizeof(ws->base_url), "http://127.0.0.1:%u", (unsigned)s->port);
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
        on_request, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)CONNECTIONS_MAX, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_END);
    if (!s->daemon) {
        server_free(s);
        return -EADDRINUSE;
    }
    TAKE_FD(fd); /* MHD's now; quiesced and closed in server_free() */
    *ret = s;
    return 0;
}

uint16_t server_port(const struct server *s)
{
    return s->port;
}

struct server *server_free(struct server *s)
{
    if (!s)
        return NULL;
    atomic_store(&s->stopping, true);
    if (s->daemon) {
        MHD_socket fd = MHD_quiesce_daemon(s->daemon);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
    if (s->timer_started) {
        pthread_mutex_lock(&s->lock);
        s->timer_stop = true;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->timer_thread, NULL);
    }
    /* Resumed connections close on MHD's thread; stopping with one still
     * suspended is not allowed (loop-notes §7). */
    for (int64_t end = fw_mono_ms() + SHUTDOWN_WAIT_MS;
         atomic_load(&s->suspended) > 0 && fw_mono_ms() < end;) {
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}
