#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "daemon/proxy.h"
#include "proto/apierror.h"
#include "proto/runstate.h"
#include "proto/json.h"
#include "proto/log.h"

/* The upstream deadline ends this much before the server's, so a slow
 * workspace is reported by us (with what happened) rather than by the
 * server's generic 504. */
#define DEADLINE_MARGIN_USEC (500 * 1000)

/* Bodies parsed for the archive and for the cache's "terminal" tag. */
#define PARSE_MAX (64 * MIB)

struct call;

struct proxy {
    struct upstream *upstream;
    struct archiver *archiver;
    struct cache *cache;
    struct proxy_settings settings;
    char *workspace_id;
    struct proxy_stats stats;
    struct call *calls; /* every call in flight, to end them at proxy_free */
    proxy_write_hook_t write_hook;
    void *write_hook_userdata;
    /* How the result a leader hands to its flight's waiters came about: set
     * around cache_flight_finish(), which calls the waiters at once. */
    enum jobsd_source flight_source;
    int64_t flight_age;
    unsigned flight_retry_after;
};

/* One request to the workspace, or one wait on another's (a flight). */
struct call {
    struct proxy *proxy;
    struct request *req; /* NULL: a background refresh, or its client left */
    struct upstream_transfer *transfer;
    struct archive_subject subject;
    char *views;                 /* the subject's copy */
    char *key;                   /* the cache key of a cacheable read */
    struct cache_flight *flight; /* the flight this call leads */
    struct cache_waiter *waiter; /* the flight this call waits on */
    uint64_t epoch;              /* cache_epoch() before the read */
    struct call *prev, *next;
};

int proxy_new(struct upstream *u, struct archiver *archiver, struct cache *cache,
              const struct proxy_settings *s, struct proxy **ret)
{
    struct proxy *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->upstream = u;
    p->archiver = archiver;
    p->cache = cache;
    p->settings = *s;
    if (s->workspace_id && !(p->workspace_id = strdup(s->workspace_id))) {
        free(p);
        return -ENOMEM;
    }
    p->settings.workspace_id = p->workspace_id;
    *ret = p;
    return 0;
}

static struct call *call_new(struct proxy *p, struct request *req)
{
    struct call *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->proxy = p;
    c->req = req;
    if (req) {
        archive_subject_from_request(req, &c->subject);
        if (c->subject.views && !(c->views = strdup(c->subject.views))) {
            free(c);
            return NULL;
        }
        c->subject.views = c->views;
    }
    c->next = p->calls;
    if (c->next)
        c->next->prev = c;
    p->calls = c;
    return c;
}

static void call_free(struct call *c)
{
    struct proxy *p = c->proxy;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->key);
    free(c->views);
    free(c);
}

struct proxy *proxy_free(struct proxy *p)
{
    if (!p)
        return NULL;
    /* Calls whose clients are gone (the server answered them at its stop):
     * refreshes, and leaders kept for their flights. */
    while (p->calls) {
        struct call *c = p->calls;
        upstream_cancel(c->transfer);
        if (c->flight)
            cache_flight_abort(p->cache, c->flight, -ECANCELED);
        cache_flight_leave(c->waiter);
        call_free(c);
    }
    free(p->workspace_id);
    free(p);
    return NULL;
}

void proxy_set_upstream(struct proxy *p, struct upstream *u)
{
    p->upstream = u;
}

const struct proxy_stats *proxy_get_stats(const struct proxy *p)
{
    return &p->stats;
}

/* Appends the query of req, percent-encoded, to b ("?k=v&..."). */
static int proxy_format_query(const struct request *req, struct buf *b)
{
    int r = 0;
    for (size_t i = 0; i < req->n_query && r >= 0; i++) {
        r = buf_append(b, i == 0 ? "?" : "&", 1);
        if (r >= 0)
            r = buf_append_urlencoded(b, req->query[i].key);
        if (r >= 0)
            r = buf_append(b, "=", 1);
        if (r >= 0)
            r = buf_append_urlencoded(b, req->query[i].value);
    }
    return r;
}

/* run-now and runs/submit: a repeat after a lost reply must find the same
 * run, so a request without a token gets one of ours. Returns 1 if the body
 * was changed. */
static int ensure_idempotency_token(struct request *req, struct proxy *p)
{
    const char *token = NULL;
    struct json_error err;
    if (!req->json) {
        req->json = json_object_new_object();
        if (!req->json)
            return -ENOMEM;
    }
    int r = json_get_string(req->json, "idempotency_token", JSON_NULLABLE, &token, &err);
    if (r < 0)
        return 0; /* a wrong type: the workspace says what is wrong */
    if (r > 0 && !isempty(token))
        return 0;

    unsigned char raw[16];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -EIO;
    _cleanup_free_ char *hex = hexmem(raw, sizeof(raw));
    _cleanup_free_ char *value = hex ? strjoin("jobsd-", hex) : NULL;
    if (!value)
        return -ENOMEM;
    if (json_add_string(req->json, "idempotency_token", value) < 0)
        return -ENOMEM;
    p->stats.tokens_added++;
    return 1;
}

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* An answer made by jobsd when the workspace gave none: its status, body
 * and error code. */
static struct cache_body *failure_body(const struct endpoint *e, const struct upstream_response *u,
                                       int *ret_status, const char **ret_code)
{
    const char *what, *code;
    int status;
    switch (u->error) {
    case -ETIMEDOUT:
        what = "did not answer in time";
        break;
    case -ECONNREFUSED:
        what = "refused the connection";
        break;
    case -EHOSTUNREACH:
        what = "could not be resolved or reached";
        break;
    case -ECONNRESET:
        what = "closed the connection before answering";
        break;
    case -EPROTO:
        what = "sent a truncated or malformed answer";
        break;
    case -EMSGSIZE:
        what = "sent an answer larger than jobsd accepts";
        break;
    case -EACCES:
        what = "refused jobsd's client credentials";
        break;
    default:
        what = "could not be reached";
        break;
    }
    _cleanup_free_ char *text = NULL;
    if (u->maybe_delivered) {
        /* The write may have happened: never 429/503, which SDKs retry. */
        status = 502, code = "BAD_GATEWAY";
        text = api_error_body(code, "The workspace %s; the request may have been carried out (%s)",
                              what, e->name);
    } else if (u->error == -ETIMEDOUT) {
        status = 504, code = "DEADLINE_EXCEEDED";
        text = api_error_body(code, "The workspace %s", what);
    } else if (u->error == -EPROTO || u->error == -EMSGSIZE || u->error == -EACCES) {
        status = 502, code = "BAD_GATEWAY";
        text = api_error_body(code, "The workspace %s", what);
    } else {
        status = 503, code = "TEMPORARILY_UNAVAILABLE";
        text = api_error_body(code, "The workspace %s", what);
    }
    struct cache_body *b = NULL;
    if (!text || cache_body_new("application/json", text, strlen(text), &b) < 0)
        return NULL;
    *ret_status = status;
    *ret_code = code;
    return b;
}

/* req answers with b (a ref of its own goes to libmicrohttpd). */
static void answer_body(struct request *req, int status, struct cache_body *b,
                        enum jobsd_source source, int64_t age, unsigned retry_after)
{
    struct response *resp = &req->response;
    if (!b) {
        response_set_error(resp, 500, "INTERNAL_ERROR", "Out of memory");
        return;
    }
    response_take_body(resp, status, NULL, cache_body_ref(b)->data, b->len, cache_body_unref_data);
    if (b->content_type && startswith(b->content_type, "application/json"))
        resp->content_type = "application/json";
    else if (b->content_type)
        response_add_header(resp, "Content-Type", b->content_type);
    resp->source = source;
    resp->age_s = (source == JOBSD_SOURCE_CACHE || source == JOBSD_SOURCE_STALE) ? age : -1;
    resp->retry_after_s = retry_after;
}

/* For the audit trail: the workspace's error code, or the id a write made. */
static void note_outcome(struct request *req, const struct upstream_response *u,
                         struct json_object *parsed)
{
    const struct endpoint *e = req->match.endpoint;
    if (u->status >= 400) {
        struct api_error err;
        if (api_error_parse(u->status, u->body, u->body_len, &err) == 0)
            strscpy(req->response.error_code, sizeof(req->response.error_code), err.code);
        return;
    }
    if (!parsed || e->access != ACCESS_WRITE)
        return;
    if (e->id == ENDPOINT_JOBS_CREATE)
        (void)json_get_id(parsed, "job_id", JSON_OPTIONAL, &req->job_id, NULL);
    else if (e->id == ENDPOINT_RUN_NOW || e->id == ENDPOINT_RUNS_SUBMIT)
        (void)json_get_id(parsed, "run_id", JSON_OPTIONAL, &req->run_id, NULL);
}

/* A run (runs/get) or a task output (its metadata) that will not change
 * again until a write through jobsd (repair, delete) or expiry. */
static bool answer_is_terminal(const struct endpoint *e, struct json_object *o)
{
    struct json_object *run = o, *state = NULL;
    const char *lc = NULL;
    if (!o)
        return false;
    if (e->cache == CACHE_RUN_OUTPUT &&
        json_get_object(o, "metadata", JSON_NULLABLE, &run, NULL) <= 0)
        return false;
    if (e->cache != CACHE_RUN && e->cache != CACHE_RUN_OUTPUT)
        return false;
    if (json_get_object(run, "state", JSON_NULLABLE, &state, NULL) <= 0 ||
        json_get_string(state, "life_cycle_state", JSON_NULLABLE, &lc, NULL) <= 0)
        return false;
    return life_cycle_is_terminal(life_cycle_state_from_string(lc));
}

/* The job a run answer belongs to (the request names only the run), so
 * that a write to the job (cancel-all, delete) finds its runs' entries. */
static int64_t answer_job_id(const struct endpoint *e, struct json_object *o, int64_t fallback)
{
    struct json_object *run = o;
    int64_t id = 0;
    if (!o || (e->cache != CACHE_RUN && e->cache != CACHE_RUN_OUTPUT))
        return fallback;
    if (e->cache == CACHE_RUN_OUTPUT &&
        json_get_object(o, "metadata", JSON_NULLABLE, &run, NULL) <= 0)
        return fallback;
    return json_get_id(run, "job_id", JSON_NULLABLE, &id, NULL) > 0 ? id : fallback;
}

/* The workspace gave no usable answer: none, a 5xx, a 429, or (for a run
 * or task output) "does not exist". */
static bool answer_failed(const struct endpoint *e, const struct upstream_response *u)
{
    if (u->status == 0 || u->status >= 500 || u->status == 429)
        return true;
    if (u->status < 400 || (e->id != ENDPOINT_RUNS_GET && e->id != ENDPOINT_RUNS_GET_OUTPUT))
        return false;
    struct api_error err;
    return api_error_parse(u->status, u->body, u->body_len, &err) == 0 &&
           api_error_is_not_found(&err);
}

/* A stale copy within the grace, or the archive's: for a read whose
 * workspace answer failed. Returns a body ref, or NULL. */
static struct cache_body *fallback(struct proxy *p, const struct call *c,
                                   const struct upstream_response *u, int *ret_status,
                                   enum jobsd_source *ret_source, int64_t *ret_age)
{
    struct cache_hit hit;
    if (c->key && p->cache &&
        cache_lookup(p->cache, c->key, now_usec(), UINT64_MAX, &hit) != CACHE_MISS) {
        *ret_status = hit.status;
        *ret_source = JOBSD_SOURCE_STALE;
        *ret_age = (int64_t)hit.age_sec;
        return hit.body;
    }
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    struct cache_body *b = NULL;
    if (p->archiver && archiver_lookup(p->archiver, &c->subject, u, &text, &len) > 0 &&
        cache_body_new("application/json", text, len, &b) >= 0) {
        *ret_status = 200;
        *ret_source = JOBSD_SOURCE_ARCHIVE;
        *ret_age = -1;
        return b;
    }
    return NULL;
}

static void on_upstream_done(const struct upstream_response *u, void *userdata)
{
    struct call *c = userdata;
    struct proxy *p = c->proxy;
    struct request *req = c->req;
    const struct endpoint *e = c->subject.endpoint;
    _cleanup_json_ struct json_object *parsed = NULL;
    _cleanup_(cache_body_unrefp) struct cache_body *body = NULL;
    enum jobsd_source source = JOBSD_SOURCE_UPSTREAM;
    int64_t age = -1;
    unsigned retry_after = 0;
    int status = u->status;
    const char *code = NULL;

    c->transfer = NULL;
    p->stats.answers[e->id][u->status >= 100 && u->status < 600 ? u->status / 100 : 0]++;
    /* Parse once, and only for what needs it: the archive (unless these
     * are the bytes it stored last time), the cache's tags, a write's ids. */
    bool archive = p->archiver && archiver_wants(p->archiver, &c->subject, u);
    bool tag = c->key && u->status == 200;
    bool ids = req && e->access == ACCESS_WRITE;
    if (u->status >= 200 && u->status < 300 && u->body_len > 0 && (archive || tag || ids))
        (void)json_parse_object(u->body, u->body_len, PARSE_MAX, JSON_DEPTH_MAX, &parsed, NULL);
    if (archive)
        archiver_record(p->archiver, &c->subject, u, parsed);
    if (u->status >= 200 && u->status < 300 && e->access == ACCESS_WRITE && p->cache)
        cache_invalidate(p->cache, e->invalidates, c->subject.job_id, c->subject.run_id);

    if (e->access == ACCESS_READ && answer_failed(e, u) &&
        (body = fallback(p, c, u, &status, &source, &age))) {
        /* The workspace forgot the run or cannot answer: a stale copy or
         * the archive can. */
    } else if (u->status > 0) {
        /* The workspace's own answer, byte for byte. */
        if (cache_body_new(u->content_type, u->body, u->body_len, &body) < 0)
            body = NULL;
        if (u->retry_after_s && (u->status == 429 || u->status == 503))
            retry_after = u->retry_after_s;
        if (body && c->key && u->status == 200) {
            struct cache_tags tags = {
                .class = e->cache,
                .job_id = answer_job_id(e, parsed, c->subject.job_id),
                .run_id = c->subject.run_id,
                .terminal = answer_is_terminal(e, parsed),
                .epoch = c->epoch,
            };
            (void)cache_store(p->cache, c->key, 200, body, 0, &tags, now_usec());
        }
    } else {
        p->stats.failed++;
        log_warning("%s: the workspace %s after %u attempt%s: %s", e->name,
                    u->maybe_delivered ? "may have received it, but failed" : "failed", u->attempts,
                    u->attempts == 1 ? "" : "s", strerror(-u->error));
        body = failure_body(e, u, &status, &code);
        source = JOBSD_SOURCE_LOCAL;
        retry_after = status == 503 ? 1 : 0;
    }

    if (req) {
        answer_body(req, status, body, source, age, retry_after);
        if (code)
            strscpy(req->response.error_code, sizeof(req->response.error_code), code);
        else if (source == JOBSD_SOURCE_UPSTREAM)
            note_outcome(req, u, parsed);
        if (p->write_hook && e->access == ACCESS_WRITE && source == JOBSD_SOURCE_UPSTREAM &&
            u->status >= 200 && u->status < 300)
            p->write_hook(e->id, req->job_id, req->run_id, p->write_hook_userdata);
        c->req = NULL;
        request_finish(req);
    }
    if (c->flight) {
        struct cache_flight *f = TAKE_PTR(c->flight);
        p->flight_source = source;
        p->flight_age = age;
        p->flight_retry_after = retry_after;
        if (body)
            cache_flight_finish(p->cache, f, status, body);
        else
            cache_flight_abort(p->cache, f, -ENOMEM);
    }
    call_free(c);
}

/* A waiter's turn: the leader's answer, shared. */
static void on_flight_done(const struct cache_flight_result *r, void *userdata)
{
    struct call *c = userdata;
    struct proxy *p = c->proxy;
    struct request *req = c->req;
    _cleanup_(cache_body_unrefp) struct cache_body *body = r->body;

    c->waiter = NULL;
    if (r->error == 0 && body)
        answer_body(req, r->status, body, p->flight_source, p->flight_age, p->flight_retry_after);
    else {
        /* The leader gave up (a full queue, no memory, a stop). */
        struct upstream_response none = { .error = r->error };
        int status = 503;
        enum jobsd_source source;
        int64_t age;
        _cleanup_(cache_body_unrefp) struct cache_body *fb =
            fallback(p, c, &none, &status, &source, &age);
        if (fb)
            answer_body(req, status, fb, source, age, 0);
        else if (r->error == -EAGAIN) {
            response_set_error(&req->response, 429, "REQUEST_LIMIT_EXCEEDED",
                               "jobsd's queue to the workspace is full; retry later");
            req->response.retry_after_s = upstream_retry_after_hint(p->upstream);
        } else {
            response_set_error(&req->response, 503, "TEMPORARILY_UNAVAILABLE",
                               "jobsd could not ask the workspace: %s", strerror(-r->error));
            req->response.retry_after_s = 1;
        }
    }
    c->req = NULL;
    request_finish(req);
    call_free(c);
}

static void on_cancel(struct request *req, void *userdata)
{
    struct call *c = userdata;
    c->req = NULL;
    if (c->waiter) {
        cache_flight_leave(TAKE_PTR(c->waiter));
        call_free(c);
        return;
    }
    if (c->flight)
        return; /* others wait on this answer: let it come */
    upstream_cancel(c->transfer);
    call_free(c);
}

/* Sends c's request upstream. For a client: 0 when held, else the answer
 * is in req->response. */
static int start_upstream(struct call *c, const char *path_and_query, const char *body,
                          size_t body_len, const char *user_agent, const char *workspace_id,
                          uint64_t start_usec)
{
    struct proxy *p = c->proxy;
    const struct endpoint *e = c->subject.endpoint;
    if (p->cache)
        c->epoch = cache_epoch(p->cache);
    struct upstream_request ureq = {
        .method = e->method,
        .path_and_query = path_and_query,
        .body = body,
        .body_len = body_len,
        .retry = e->retry,
        .user_agent = user_agent,
        .workspace_id_header = workspace_id,
        .deadline_usec = start_usec + p->settings.request_timeout_usec -
                         MIN(DEADLINE_MARGIN_USEC, p->settings.request_timeout_usec / 2),
    };
    int r = upstream_submit(p->upstream, &ureq, on_upstream_done, c, &c->transfer);
    if (r >= 0) {
        p->stats.forwarded++;
        return 0;
    }
    if (r == -EAGAIN)
        p->stats.queue_full++;
    if (c->flight)
        cache_flight_abort(p->cache, TAKE_PTR(c->flight), r);
    if (c->req && r == -EAGAIN) {
        response_set_error(&c->req->response, 429, "REQUEST_LIMIT_EXCEEDED",
                           "jobsd's queue to the workspace is full; retry later");
        c->req->response.retry_after_s = upstream_retry_after_hint(p->upstream);
    } else if (c->req)
        response_set_error(&c->req->response, 400, "INVALID_PARAMETER_VALUE",
                           "jobsd could not forward this request: %s", strerror(-r));
    return r;
}

/* A stale entry is being served: refresh it in the background, once. */
static void refresh(struct proxy *p, const struct request *req, const char *key)
{
    struct cache_flight *f = NULL;
    if (cache_flight_join(p->cache, key, NULL, NULL, &f, NULL) != CACHE_FLIGHT_LEADER)
        return;
    struct call *c = call_new(p, NULL);
    if (c) {
        archive_subject_from_request(req, &c->subject);
        c->views = c->subject.views ? strdup(c->subject.views) : NULL;
        c->subject.views = c->views;
        c->key = strdup(key);
    }
    if (!c || !c->key) {
        if (c)
            call_free(c);
        cache_flight_abort(p->cache, f, -ENOMEM);
        return;
    }
    c->flight = f;
    p->stats.refreshes++;
    /* The key is the canonical request line: "GET /path?query". */
    if (start_upstream(c, key + strlen("GET "), NULL, 0, NULL, p->settings.workspace_id,
                       now_usec()) < 0)
        call_free(c);
}

/* Cache-Control of a read: no-cache, or max-age=N (seconds). */
static void cache_control(const struct request *req, bool *ret_no_cache, uint64_t *ret_max_age)
{
    const char *h = req->cache_control;
    *ret_no_cache = false;
    *ret_max_age = UINT64_MAX;
    for (const char *t = h; t && *t;) {
        t += strspn(t, " ,\t");
        size_t n = strcspn(t, ",");
        if (n >= 8 && strncasecmp(t, "no-cache", 8) == 0)
            *ret_no_cache = true;
        else if (n > 8 && strncasecmp(t, "max-age=", 8) == 0) {
            char digits[24];
            uint64_t v;
            snprintf(digits, sizeof(digits), "%.*s", (int)MIN(n - 8, sizeof(digits) - 1), t + 8);
            digits[strcspn(digits, " \t")] = 0;
            if (parse_uint64(digits, &v) == 0)
                *ret_max_age = v > UINT64_MAX / 1000000u ? UINT64_MAX : v * 1000000u;
        }
        t += n;
    }
}

static char *read_key(const struct request *req)
{
    const char *names[REQUEST_QUERY_MAX], *values[REQUEST_QUERY_MAX];
    char *key = NULL;
    for (size_t i = 0; i < req->n_query; i++) {
        names[i] = req->query[i].key;
        values[i] = req->query[i].value;
    }
    if (cache_key_build(HTTP_GET, req->path, names, values, req->n_query, &key) < 0)
        return NULL;
    return key;
}

static int proxy_handle(struct request *req, void *userdata)
{
    struct proxy *p = userdata;
    const struct endpoint *e = req->match.endpoint;
    struct buf path = BUF_INIT(ENDPOINT_PATH_MAX + 64 * KIB);
    _cleanup_free_ char *ua = NULL;
    const char *body = NULL;
    size_t body_len = 0;
    int r;

    struct call *c = call_new(p, req);
    if (!c) {
        response_set_error(&req->response, 500, "INTERNAL_ERROR", "Out of memory");
        return 0;
    }

    if (p->cache && e->method == HTTP_GET && e->cache != CACHE_NONE && (c->key = read_key(req))) {
        bool no_cache;
        uint64_t max_age;
        struct cache_hit hit;
        cache_control(req, &no_cache, &max_age);
        enum cache_lookup_result found =
            no_cache ? CACHE_MISS : cache_lookup(p->cache, c->key, now_usec(), max_age, &hit);
        if (found == CACHE_FRESH || (found == CACHE_STALE && max_age == UINT64_MAX)) {
            /* A stale copy goes out at once while one refresh runs. */
            answer_body(req, hit.status, hit.body,
                        found == CACHE_FRESH ? JOBSD_SOURCE_CACHE : JOBSD_SOURCE_STALE,
                        (int64_t)hit.age_sec, 0);
            cache_body_unref(hit.body);
            if (found == CACHE_STALE)
                refresh(p, req, c->key);
            call_free(c);
            return 0;
        }
        if (found == CACHE_STALE)
            cache_body_unref(hit.body);
        if (!no_cache) {
            r = cache_flight_join(p->cache, c->key, on_flight_done, c, &c->flight, &c->waiter);
            if (r == CACHE_FLIGHT_JOINED) {
                p->stats.coalesced++;
                request_hold(req, on_cancel, c);
                return 1;
            }
            /* LEADER: fetch for everyone; an error: fetch alone. */
        }
    }

    r = buf_append(&path, req->path, strlen(req->path));
    if (r >= 0)
        r = proxy_format_query(req, &path);
    if (r < 0) {
        buf_done(&path);
        if (c->flight)
            cache_flight_abort(p->cache, TAKE_PTR(c->flight), -E2BIG);
        call_free(c);
        response_set_error(&req->response, 414, "REQUEST_TOO_LARGE", "The query is too long");
        return 0;
    }
    if (e->retry == RETRY_WITH_TOKEN && ensure_idempotency_token(req, p) < 0) {
        buf_done(&path);
        call_free(c);
        response_set_error(&req->response, 500, "INTERNAL_ERROR", "Out of memory");
        return 0;
    }
    if (req->json && e->retry == RETRY_WITH_TOKEN)
        body = json_dump(req->json, &body_len);
    else if (req->body.len > 0) {
        body = req->body.data;
        body_len = req->body.len;
    }
    if (req->user_agent)
        ua = strjoin(req->user_agent, " jobsd/" PACKAGE_VERSION);

    r = start_upstream(c, path.data, body, body_len, ua,
                       req->workspace_id ? req->workspace_id : p->settings.workspace_id,
                       req->start_usec);
    buf_done(&path);
    if (r < 0) {
        call_free(c);
        return 0;
    }
    request_hold(req, on_cancel, c);
    return 1;
}

void proxy_set_write_hook(struct proxy *p, proxy_write_hook_t hook, void *userdata)
{
    p->write_hook = hook;
    p->write_hook_userdata = userdata;
}

void proxy_register(struct proxy *p, struct router *r)
{
    router_set_scope(r, SCOPE_JOBS, proxy_handle, p);
    router_set_scope(r, SCOPE_PERMISSIONS, proxy_handle, p);
}
