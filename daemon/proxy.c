#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "daemon/proxy.h"
#include "proto/apierror.h"
#include "proto/json.h"
#include "proto/log.h"

/* The upstream deadline ends this much before the server's, so a slow
 * workspace is reported by us (with what happened) rather than by the
 * server's generic 504. */
#define DEADLINE_MARGIN_USEC (500 * 1000)
#define IDEMPOTENCY_TOKEN_MAX 64

struct proxy {
    struct upstream *upstream;
    struct archiver *archiver;
    struct proxy_settings settings;
    char *workspace_id;
    struct proxy_stats stats;
};

struct call {
    struct proxy *proxy;
    struct request *req;
    struct upstream_transfer *transfer;
};

int proxy_new(struct upstream *u, struct archiver *archiver, const struct proxy_settings *s,
              struct proxy **ret)
{
    struct proxy *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->upstream = u;
    p->archiver = archiver;
    p->settings = *s;
    if (s->workspace_id && !(p->workspace_id = strdup(s->workspace_id))) {
        free(p);
        return -ENOMEM;
    }
    p->settings.workspace_id = p->workspace_id;
    *ret = p;
    return 0;
}

struct proxy *proxy_free(struct proxy *p)
{
    if (!p)
        return NULL;
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

static int append_encoded(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int r;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            r = buf_append(b, s, 1);
        else {
            char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
            r = buf_append(b, esc, 3);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

int proxy_format_query(const struct request *req, struct buf *b)
{
    int r = 0;
    for (size_t i = 0; i < req->n_query && r >= 0; i++) {
        r = buf_append(b, i == 0 ? "?" : "&", 1);
        if (r >= 0)
            r = append_encoded(b, req->query[i].key);
        if (r >= 0)
            r = buf_append(b, "=", 1);
        if (r >= 0)
            r = append_encoded(b, req->query[i].value);
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

static void answer_failure(struct request *req, const struct upstream_response *u)
{
    struct response *resp = &req->response;
    const char *what;
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
    if (u->maybe_delivered) {
        /* The write may have happened: never 429/503, which SDKs retry. */
        response_set_error(resp, 502, "BAD_GATEWAY",
                           "The workspace %s; the request may have been carried out (%s)", what,
                           req->match.endpoint->name);
        return;
    }
    if (u->error == -ETIMEDOUT) {
        response_set_error(resp, 504, "DEADLINE_EXCEEDED", "The workspace %s", what);
        return;
    }
    if (u->error == -EPROTO || u->error == -EMSGSIZE || u->error == -EACCES) {
        response_set_error(resp, 502, "BAD_GATEWAY", "The workspace %s", what);
        return;
    }
    response_set_error(resp, 503, "TEMPORARILY_UNAVAILABLE", "The workspace %s", what);
    resp->retry_after_s = 1;
}

/* For the audit trail: the workspace's error code, or the id a write made. */
static void note_outcome(struct request *req, const struct upstream_response *u)
{
    const struct endpoint *e = req->match.endpoint;
    if (u->status >= 400) {
        struct api_error err;
        if (api_error_parse(u->status, u->body, u->body_len, &err) == 0)
            strscpy(req->response.error_code, sizeof(req->response.error_code), err.code);
        return;
    }
    if (e->access != ACCESS_WRITE || (e->id != ENDPOINT_RUN_NOW && e->id != ENDPOINT_RUNS_SUBMIT &&
                                      e->id != ENDPOINT_JOBS_CREATE))
        return;
    _cleanup_json_ struct json_object *o = NULL;
    if (json_parse_object(u->body, u->body_len, 64 * KIB, 8, &o, NULL) < 0)
        return;
    if (e->id == ENDPOINT_JOBS_CREATE)
        (void)json_get_id(o, "job_id", JSON_OPTIONAL, &req->job_id, NULL);
    else
        (void)json_get_id(o, "run_id", JSON_OPTIONAL, &req->run_id, NULL);
}

static void on_upstream_done(const struct upstream_response *u, void *userdata)
{
    struct call *call = userdata;
    struct request *req = call->req;
    struct response *resp = &req->response;

    call->proxy->stats.answers[req->match.endpoint->id]
                              [u->status >= 100 && u->status < 600 ? u->status / 100 : 0]++;
    if (call->proxy->archiver && (u->status == 0 || u->status >= 400) &&
        archiver_answer(call->proxy->archiver, req, u)) {
        /* The workspace forgot the run or cannot answer: the archive can. */
    } else if (u->status > 0) {
        /* The workspace's own answer, byte for byte. */
        response_set_bytes(resp, u->status, NULL, u->body, u->body_len);
        if (u->content_type && startswith(u->content_type, "application/json"))
            resp->content_type = "application/json";
        else if (u->content_type)
            response_add_header(resp, "Content-Type", u->content_type);
        resp->source = JOBSD_SOURCE_UPSTREAM;
        if (u->retry_after_s && (u->status == 429 || u->status == 503))
            resp->retry_after_s = u->retry_after_s;
        note_outcome(req, u);
        if (call->proxy->archiver)
            archiver_record(call->proxy->archiver, req, u);
    } else {
        call->proxy->stats.failed++;
        log_warning("%s %s: the workspace %s after %u attempt%s: %s", req->method_raw, req->path,
                    u->maybe_delivered ? "may have received it, but failed" : "failed", u->attempts,
                    u->attempts == 1 ? "" : "s", strerror(-u->error));
        answer_failure(req, u);
    }
    free(call);
    request_finish(req);
}

static void on_cancel(struct request *req, void *userdata)
{
    struct call *call = userdata;
    upstream_cancel(call->transfer);
    free(call);
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

    r = buf_append(&path, req->path, strlen(req->path));
    if (r >= 0)
        r = proxy_format_query(req, &path);
    if (r < 0) {
        buf_done(&path);
        response_set_error(&req->response, 414, "REQUEST_TOO_LARGE", "The query is too long");
        return 0;
    }

    if (e->retry == RETRY_WITH_TOKEN) {
        r = ensure_idempotency_token(req, p);
        if (r < 0) {
            buf_done(&path);
            response_set_error(&req->response, 500, "INTERNAL_ERROR", "Out of memory");
            return 0;
        }
    }
    if (req->json && (e->retry == RETRY_WITH_TOKEN)) {
        body = json_dump(req->json, &body_len);
    } else if (req->body.len > 0) {
        body = req->body.data;
        body_len = req->body.len;
    }
    if (req->user_agent)
        ua = strjoin(req->user_agent, " jobsd/" PACKAGE_VERSION);

    struct call *call = calloc(1, sizeof(*call));
    if (!call) {
        buf_done(&path);
        response_set_error(&req->response, 500, "INTERNAL_ERROR", "Out of memory");
        return 0;
    }
    call->proxy = p;
    call->req = req;
    struct upstream_request ureq = {
        .method = e->method,
        .path_and_query = path.data,
        .body = body,
        .body_len = body_len,
        .retry = e->retry,
        .user_agent = ua,
        .workspace_id_header = req->workspace_id ? req->workspace_id : p->settings.workspace_id,
        .deadline_usec = req->start_usec + p->settings.request_timeout_usec -
                         MIN(DEADLINE_MARGIN_USEC, p->settings.request_timeout_usec / 2),
    };
    r = upstream_submit(p->upstream, &ureq, on_upstream_done, call, &call->transfer);
    buf_done(&path);
    if (r == -EAGAIN) {
        free(call);
        p->stats.queue_full++;
        response_set_error(&req->response, 429, "REQUEST_LIMIT_EXCEEDED",
                           "jobsd's queue to the workspace is full; retry later");
        req->response.retry_after_s = upstream_retry_after_hint(p->upstream);
        return 0;
    }
    if (r < 0) {
        free(call);
        response_set_error(&req->response, 400, "INVALID_PARAMETER_VALUE",
                           "jobsd could not forward this request: %s", strerror(-r));
        return 0;
    }
    p->stats.forwarded++;
    request_hold(req, on_cancel, call);
    return 1;
}

void proxy_register(struct proxy *p, struct router *r)
{
    router_set_scope(r, SCOPE_JOBS, proxy_handle, p);
    router_set_scope(r, SCOPE_PERMISSIONS, proxy_handle, p);
}
