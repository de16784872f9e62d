#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/router.h"
#include "proto/json.h"
#include "proto/log.h"

struct route {
    route_handler_t fn;
    void *userdata;
};

struct router {
    struct route routes[_ENDPOINT_MAX];
    route_audit_t audit;
    void *audit_userdata;
    char *local_token;
    gid_t read_only_gid;
    struct router_stats stats;
};

static void forget_token(struct router *r)
{
    if (r->local_token) {
        explicit_bzero(r->local_token, strlen(r->local_token));
        free(r->local_token);
        r->local_token = NULL;
    }
}

int router_set_access(struct router *r, const struct router_settings *settings)
{
    char *t = NULL;
    if (settings->local_token && !(t = strdup(settings->local_token)))
        return -ENOMEM;
    forget_token(r);
    r->local_token = t;
    r->read_only_gid = settings->read_only_gid;
    return 0;
}

int router_new(const struct router_settings *settings, struct router **ret)
{
    struct router *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    if (router_set_access(r, settings) < 0) {
        free(r);
        return -ENOMEM;
    }
    *ret = r;
    return 0;
}

struct router *router_free(struct router *r)
{
    if (!r)
        return NULL;
    forget_token(r);
    free(r);
    return NULL;
}

void router_set(struct router *r, enum endpoint_id id, route_handler_t handler, void *userdata)
{
    if ((unsigned)id < _ENDPOINT_MAX)
        r->routes[id] = (struct route){ handler, userdata };
}

void router_set_scope(struct router *r, enum endpoint_scope scope, route_handler_t handler,
                      void *userdata)
{
    for (size_t i = 0; i < _ENDPOINT_MAX; i++)
        if (endpoint_table[i].scope == scope && !r->routes[i].fn)
            r->routes[i] = (struct route){ handler, userdata };
}

void router_set_audit(struct router *r, route_audit_t audit, void *userdata)
{
    r->audit = audit;
    r->audit_userdata = userdata;
}

const struct router_stats *router_get_stats(const struct router *r)
{
    return &r->stats;
}

/* Compares without an early exit, so the time taken says nothing of where a
 * guessed token first differs. */
static bool token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

static bool bearer_ok(const struct router *r, const struct request *req)
{
    const char *h = req->authorization, *t;
    if (!r->local_token || !h)
        return false;
    t = startswith(h, "Bearer ");
    if (!t)
        return false;
    while (*t == ' ')
        t++;
    return token_equal(t, r->local_token);
}

static bool peer_read_only(const struct router *r, const struct request *req)
{
    if (r->read_only_gid == (gid_t)-1 || !req->peer.known || req->peer.uid == 0)
        return false;
    if (req->peer.gid == r->read_only_gid)
        return true;
    for (unsigned i = 0; i < req->peer.n_groups; i++)
        if (req->peer.groups[i] == r->read_only_gid)
            return true;
    return false;
}

static ssize_t on_headers(struct request *req, void *userdata)
{
    struct router *r = userdata;
    struct response *resp = &req->response;
    unsigned allowed = 0;

    int k = endpoint_match(req->method_raw, req->path, &req->match, &allowed);
    if (k == -EOPNOTSUPP) {
        char methods[64];
        http_methods_format(allowed, methods, sizeof(methods));
        response_set_error(resp, 405, "METHOD_NOT_ALLOWED", "Method %s is not allowed on %s",
                           req->method_raw, req->path);
        response_add_header(resp, "Allow", methods);
        return -1;
    }
    if (k < 0 || req->match.endpoint->scope == SCOPE_AUTH) {
        /* jobsd is not a general workspace proxy. */
        response_set_error(resp, 404, "ENDPOINT_NOT_FOUND", "No API found for '%s %s'",
                           req->method_raw, req->path);
        return -1;
    }
    req->matched = true;
    const struct endpoint *e = req->match.endpoint;

    if (req->listener == LISTENER_TCP && e->scope != SCOPE_META && !bearer_ok(r, req)) {
        r->stats.rejected_auth++;
        response_set_error(resp, 401, "UNAUTHENTICATED",
                           "A valid local bearer token is required on jobsd's TCP port "
                           "(the one in jobsd's local-token file, not the workspace token)");
        response_add_header(resp, "WWW-Authenticate", "Bearer realm=\"jobsd\"");
        return -1;
    }
    if (e->access == ACCESS_WRITE && peer_read_only(r, req)) {
        r->stats.rejected_auth++;
        response_set_error(resp, 403, "PERMISSION_DENIED",
                           "uid %u is in jobsd's read-only group and may not call %s",
                           (unsigned)req->peer.uid, e->name);
        return -1;
    }
    if (req->content_length > (int64_t)e->max_body) {
        /* Read and drop the body, then answer 413: answering before it is
         * read makes the server close on a client still sending, which then
         * sees a reset instead of the answer. */
        req->body_too_large = true;
        return 0;
    }
    return (ssize_t)e->max_body;
}

/* The id named by the row's key: in the path, else the query (GET) or the
 * body. A malformed one stays 0: the workspace says what is wrong. */
static void find_ids(struct request *req)
{
    const struct endpoint *e = req->match.endpoint;
    const char *field = e->key == KEY_JOB_ID ? "job_id" : e->key == KEY_RUN_ID ? "run_id" : NULL;
    int64_t id = 0;
    if (!field)
        return;
    if (req->match.has_path_id)
        id = req->match.path_id;
    else if (req->json)
        (void)json_get_id(req->json, field, JSON_OPTIONAL, &id, NULL);
    else if (request_query(req, field))
        (void)parse_id(request_query(req, field), &id);
    if (e->key == KEY_JOB_ID)
        req->job_id = id;
    else
        req->run_id = id;
}

static int on_request(struct request *req, void *userdata)
{
    struct router *r = userdata;
    const struct endpoint *e = req->match.endpoint;
    struct response *resp = &req->response;

    if (req->body_too_large) {
        r->stats.rejected_body++;
        response_set_error(resp, 413, "REQUEST_TOO_LARGE",
                           "The request body is larger than the %zu bytes %s accepts", e->max_body,
                           e->name);
        return 0;
    }
    if (req->query_overflow) {
        response_set_error(resp, 400, "INVALID_PARAMETER_VALUE",
                           "Too many query parameters (at most %d)", REQUEST_QUERY_MAX);
        return 0;
    }
    if (req->body.len > 0) {
        struct json_error err = { { 0 } };
        int k = json_parse_object(req->body.data, req->body.len, e->max_body, JSON_DEPTH_MAX,
                                  &req->json, &err);
        if (k < 0) {
            r->stats.rejected_body++;
            response_set_error(resp, 400, "MALFORMED_REQUEST",
                               "Invalid JSON given in the body of the request - %s", err.message);
            return 0;
        }
    }
    find_ids(req);
    const struct route *route = &r->routes[e->id];
    if (!route->fn) {
        response_set_error(resp, 501, "NOT_IMPLEMENTED", "%s is not served by this jobsd",
                           e->pattern);
        return 0;
    }
    return route->fn(req, route->userdata);
}

static void on_complete(struct request *req, void *userdata)
{
    struct router *r = userdata;
    int status = req->response.status;
    uint64_t elapsed = 0;
    struct timespec ts;

    size_t row = req->matched ? (size_t)req->match.endpoint->id : _ENDPOINT_MAX;
    unsigned src = (unsigned)req->response.source < _JOBSD_SOURCE_MAX ? req->response.source : 0;
    r->stats.requests[row][src][status >= 100 && status < 600 ? status / 100 : 0]++;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    elapsed = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u - req->start_usec;

    bool write = req->matched && req->match.endpoint->access == ACCESS_WRITE;
    if (write && r->audit)
        r->audit(req, r->audit_userdata);
    if (write && req->peer.known)
        log_info("%s %s by uid=%u gid=%u pid=%d -> %d (%s, %llu.%03llu ms)", req->method_raw,
                 req->path, (unsigned)req->peer.uid, (unsigned)req->peer.gid, (int)req->peer.pid,
                 status, jobsd_source_to_string(req->response.source),
                 (unsigned long long)(elapsed / 1000), (unsigned long long)(elapsed % 1000));
    else if (write)
        log_info("%s %s over TCP -> %d (%s, %llu.%03llu ms)", req->method_raw, req->path, status,
                 jobsd_source_to_string(req->response.source), (unsigned long long)(elapsed / 1000),
                 (unsigned long long)(elapsed % 1000));
    else
        log_debug("%s %s -> %d (%s, %llu.%03llu ms)", req->method_raw, req->path, status,
                  jobsd_source_to_string(req->response.source),
                  (unsigned long long)(elapsed / 1000), (unsigned long long)(elapsed % 1000));
}

struct server_handlers router_handlers(struct router *r)
{
    return (struct server_handlers){
        .on_headers = on_headers,
        .on_request = on_request,
        .on_complete = on_complete,
        .userdata = r,
    };
}
