/* Fuzz target for a local request from its headers to its answer, without
 * sockets: the input is cut into a request as daemon/server.c builds one
 * from libmicrohttpd (method, URL-decoded path, query arguments, the
 * headers jobsd reads, the peer, the body) and goes through the router's
 * on_headers, on_request and on_complete, exactly in the server's order.
 * Behind the router: the proxy (its cache keys, Cache-Control, query
 * formatting, idempotency tokens, single flight; upstream is a client whose
 * loop never runs, so nothing leaves the process), the history API over a
 * small archive, the event stream, and a stub for the rest.
 *
 * Input lines: METHOD, then URL (path?query), then flags (t: TCP; p: a
 * known Unix peer; r: in the read-only group; 0: uid 0; and what the cache
 * holds for the request's key: c a fresh answer, s a stale one, f a fetch
 * in the air), then headers "Name: value" up to an empty line; the rest is
 * the body.
 *
 * Checked beyond "no crash, no leak": every answer has a status, an error
 * answer is a Databricks error body, and a request that passed the door
 * was allowed through it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <systemd/sd-event.h>

#include "daemon/cache.h"
#include "daemon/events.h"
#include "daemon/history.h"
#include "daemon/proxy.h"
#include "daemon/router.h"
#include "daemon/server.h"
#include "daemon/upstream.h"
#include "db/runs.h"
#include "db/store.h"
#include "proto/json.h"
#include "tests/fuzz/fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX (64 * KIB)
#define LOCAL_TOKEN "fuzz-local-token"
#define READ_ONLY_GID 4242

static sd_event *event;
static struct upstream *upstream;
static struct store *store;
static struct events *events;

static const char *const seed_runs[] = {
    "{\"run_id\":11,\"job_id\":7,\"run_name\":\"nightly\",\"start_time\":1700000000000,"
    "\"end_time\":1700000060000,\"trigger\":\"PERIODIC\",\"run_type\":\"JOB_RUN\","
    "\"state\":{\"life_cycle_state\":\"TERMINATED\",\"result_state\":\"SUCCESS\"},"
    "\"tasks\":[{\"run_id\":12,\"task_key\":\"a\",\"state\":{\"life_cycle_state\":"
    "\"TERMINATED\",\"result_state\":\"SUCCESS\"}}]}",
    "{\"run_id\":21,\"job_id\":7,\"run_name\":\"adhoc\",\"start_time\":1700000100000,"
    "\"state\":{\"life_cycle_state\":\"RUNNING\"}}",
    "{\"run_id\":31,\"job_id\":8,\"run_name\":\"failing\",\"start_time\":1700000200000,"
    "\"end_time\":1700000201000,\"state\":{\"life_cycle_state\":\"INTERNAL_ERROR\","
    "\"state_message\":\"boom\"}}",
};

static void teardown(void)
{
    events = events_free(events);
    upstream = upstream_free(upstream);
    store = store_free(store);
    event = sd_event_unref(event);
}

static void setup(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/archive.db", fuzz_scratch("router"));
    if (store_open(path, STORE_OPEN_CREATE | STORE_OPEN_NO_AUTODICT, &store) < 0)
        abort();
    for (size_t i = 0; i < ELEMENTSOF(seed_runs); i++) {
        _cleanup_json_ struct json_object *o = json_tokener_parse(seed_runs[i]);
        if (!o || store_put_run(store, o, 0) < 0)
            abort();
    }
    _cleanup_json_ struct json_object *out = json_tokener_parse(
        "{\"metadata\":{\"run_id\":12,\"job_id\":7,\"state\":{\"life_cycle_state\":"
        "\"TERMINATED\",\"result_state\":\"SUCCESS\"}},\"notebook_output\":{\"result\":\"42\"}}");
    if (!out || store_put_output(store, 12, out) < 0)
        abort();

    if (sd_event_new(&event) < 0 || events_new(event, &events) < 0)
        abort();
    for (int64_t i = 0; i < 3; i++) {
        _cleanup_json_ struct json_object *ev = json_object_new_object();
        if (!ev || json_add_int64(ev, "run_id", 11 + 10 * i) < 0 ||
            json_add_string(ev, "life_cycle_state", "RUNNING") < 0 ||
            events_publish(events, 11 + 10 * i, 7, ev) < 0)
            abort();
    }

    struct upstream_settings us;
    upstream_settings_defaults(&us);
    us.host = "http://127.0.0.1:9"; /* never reached: the loop never runs */
    us.token = "dapi-fuzz-token";
    us.queue_max = 4;
    if (upstream_new(event, &us, &upstream) < 0)
        abort();
    atexit(teardown);
}

/* libmicrohttpd's unescaping: %XX (a NUL ends the string), and '+' as a
 * space in the query. */
static char *unescape(const char *s, size_t n, bool plus)
{
    char *out = malloc(n + 1), *o = out;
    if (!out)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && unhexchar(s[i + 1]) >= 0 && unhexchar(s[i + 2]) >= 0) {
            *o++ = (char)(unhexchar(s[i + 1]) * 16 + unhexchar(s[i + 2]));
            i += 2;
        } else
            *o++ = plus && s[i] == '+' ? ' ' : s[i];
    }
    *o = 0;
    return out;
}

static void parse_query(struct request *req, const char *q)
{
    while (q && *q) {
        size_t n = strcspn(q, "&");
        if (n > 0) {
            if (req->n_query >= REQUEST_QUERY_MAX) {
                req->query_overflow = true;
                return;
            }
            const char *eq = memchr(q, '=', n);
            size_t kn = eq ? (size_t)(eq - q) : n;
            req->query[req->n_query].key = unescape(q, kn, true);
            req->query[req->n_query].value = eq ? unescape(eq + 1, n - kn - 1, true) : strdup("");
            if (!req->query[req->n_query].value)
                abort();
            req->n_query++;
        }
        q += n + (q[n] == '&');
    }
}

/* A stub for the rows no real handler serves here (health, status,
 * metrics, waits): it reads what a handler would and answers. */
static int stub(struct request *req, void *userdata)
{
    _cleanup_free_ char *key = NULL;
    const char *names[REQUEST_QUERY_MAX], *values[REQUEST_QUERY_MAX];
    for (size_t i = 0; i < req->n_query; i++) {
        names[i] = req->query[i].key;
        values[i] = req->query[i].value;
    }
    int r = cache_key_build(req->method ? req->method : HTTP_GET, req->path, names, values,
                            req->n_query, &key);
    if (r >= 0 && (size_t)r != strlen(key))
        abort();
    _cleanup_json_ struct json_object *o = json_object_new_object();
    if (!o || json_add_string(o, "key", key ? key : "") < 0 ||
        json_add_int64(o, "job_id", req->job_id) < 0 || json_add_int64(o, "run_id", req->run_id))
        abort();
    response_set_json(&req->response, 200, o);
    return 0;
}

static void audit(const struct request *req, void *userdata)
{
    if (!req->matched || req->match.endpoint->access != ACCESS_WRITE)
        abort();
}

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000u;
}

/* What the cache holds for the request's key before it comes, as earlier
 * requests would have left it. */
static void prime_cache(struct cache *cache, const struct request *req, const char *flags)
{
    const struct endpoint *e = req->match.endpoint;
    if (!flags || !strpbrk(flags, "csf") || e->cache == CACHE_NONE)
        return;
    const char *names[REQUEST_QUERY_MAX], *values[REQUEST_QUERY_MAX];
    for (size_t i = 0; i < req->n_query; i++) {
        names[i] = req->query[i].key;
        values[i] = req->query[i].value;
    }
    _cleanup_free_ char *key = NULL;
    if (cache_key_build(HTTP_GET, req->path, names, values, req->n_query, &key) < 0)
        return;
    if (strpbrk(flags, "cs")) {
        static const char answer[] = "{\"run_id\":11,\"job_id\":7}";
        struct cache_tags tags = { .class = e->cache, .job_id = 7, .run_id = 11 };
        struct cache_body *b = NULL;
        uint64_t ttl = 5 * USEC_PER_SEC, now = now_usec();
        if (cache_body_new("application/json", answer, sizeof(answer) - 1, &b) < 0)
            abort();
        (void)cache_store(cache, key, 200, b, ttl, &tags, strchr(flags, 's') ? now - 2 * ttl : now);
        cache_body_unref(b);
    }
    struct cache_flight *f = NULL;
    if (strchr(flags, 'f')) /* a leader that never lands: cache_free aborts it */
        (void)cache_flight_join(cache, key, NULL, NULL, &f, NULL);
}

/* Reads a streamed answer as the server would, a little of it. */
static void drain(struct request *req)
{
    char chunk[4096];
    uint64_t pos = 0;
    for (int i = 0; i < 64 && req->response.stream; i++) {
        ssize_t n = req->response.stream(req->response.stream_cls, pos, chunk, sizeof(chunk));
        if (n <= 0)
            break;
        pos += (uint64_t)n;
    }
}

static void check_answer(const struct request *req)
{
    const struct response *r = &req->response;
    if (r->status < 100 || r->status > 599) {
        fprintf(stderr, "fuzz-router: status %d\n", r->status);
        abort();
    }
    if (r->status >= 400 && r->source == JOBSD_SOURCE_LOCAL) {
        _cleanup_json_ struct json_object *o = NULL;
        struct json_error err;
        const char *code, *message;
        if (!r->body ||
            json_parse_object(r->body, r->body_len, JSON_SIZE_MAX, JSON_DEPTH_MAX, &o, &err) < 0 ||
            json_get_string(o, "error_code", JSON_REQUIRED, &code, &err) < 0 ||
            json_get_string(o, "message", JSON_REQUIRED, &message, &err) < 0) {
            fprintf(stderr, "fuzz-router: error %d without an error body: %.*s\n", r->status,
                    (int)r->body_len, r->body ? r->body : "");
            abort();
        }
    }
    if (r->status == 401 && req->listener != LISTENER_TCP)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!event)
        setup();
    if (size > INPUT_MAX)
        return 0;

    struct fuzz_reader in = { (const char *)data, size };
    _cleanup_free_ char *method = fuzz_line(&in), *url = fuzz_line(&in), *flags = fuzz_line(&in);
    char *headers[16];
    size_t n_headers = 0;
    for (char *h; n_headers < ELEMENTSOF(headers) && (h = fuzz_line(&in));) {
        if (!*h) {
            free(h);
            break;
        }
        headers[n_headers++] = h;
    }

    struct cache_settings cs;
    cache_settings_default(&cs);
    cs.max_bytes = 1 * MIB;
    cs.max_entries = 64;
    cs.max_flights = 4;
    cs.max_waiters = 4;
    struct cache *cache = NULL;
    struct proxy *proxy = NULL;
    struct router *router = NULL;
    struct server *server = NULL;
    struct router_settings rs = { .local_token = LOCAL_TOKEN, .read_only_gid = READ_ONLY_GID };
    struct proxy_settings ps = { .request_timeout_usec = 30 * USEC_PER_SEC,
                                 .workspace_id = "1234" };
    struct server_settings ss = { .max_connections = 4,
                                  .connection_memory = 64 * KIB,
                                  .request_timeout_usec = 30 * USEC_PER_SEC,
                                  .idle_timeout_s = 30 };
    if (cache_new(&cs, &cache) < 0 || proxy_new(upstream, NULL, cache, &ps, &proxy) < 0 ||
        router_new(&rs, &router) < 0)
        abort();
    history_register(router, store);
    events_register(events, router);
    proxy_register(proxy, router);
    for (enum endpoint_scope sc = SCOPE_JOBS; sc <= SCOPE_LOCAL; sc++)
        router_set_scope(router, sc, stub, NULL);
    router_set_audit(router, audit, NULL);
    struct server_handlers h = router_handlers(router);
    if (server_new(event, &ss, &h, &server) < 0)
        abort();

    /* The request as daemon/server.c's request_new() makes it. */
    struct request *req = calloc(1, sizeof(*req));
    if (!req)
        abort();
    const char *m = method ? method : "GET";
    req->server = server;
    req->method_raw = m;
    req->method = http_method_from_string(m);
    const char *u = url ? url : "/";
    const char *q = strchr(u, '?');
    req->path = unescape(u, q ? (size_t)(q - u) : strlen(u), false);
    parse_query(req, q ? q + 1 : NULL);
    req->response.age_s = -1;
    req->response.source = JOBSD_SOURCE_LOCAL;
    req->content_length = -1;
    req->listener = flags && strchr(flags, 't') ? LISTENER_TCP : LISTENER_UNIX;
    if (flags && strchr(flags, 'p')) {
        req->peer = (struct peer){ .known = true, .pid = 1, .uid = 1000, .gid = 1000 };
        if (strchr(flags, 'r'))
            req->peer.groups[req->peer.n_groups++] = READ_ONLY_GID;
        if (strchr(flags, '0'))
            req->peer.uid = 0;
    }
    for (size_t i = 0; i < n_headers; i++) {
        char *colon = strchr(headers[i], ':');
        if (!colon)
            continue;
        *colon = 0;
        const char *v = colon + 1 + strspn(colon + 1, " \t");
        const char *name = headers[i];
        if (strcasecmp(name, "Authorization") == 0)
            req->authorization = v;
        else if (strcasecmp(name, "Cache-Control") == 0)
            req->cache_control = v;
        else if (strcasecmp(name, "User-Agent") == 0)
            req->user_agent = v;
        else if (strcasecmp(name, "Last-Event-ID") == 0)
            req->last_event_id = v;
        else if (strcasecmp(name, JOBSD_HEADER_WORKSPACE_ID) == 0)
            req->workspace_id = v;
        else if (strcasecmp(name, "Content-Type") == 0)
            req->content_type = v;
        else if (strcasecmp(name, "Content-Length") == 0 &&
                 parse_int64(v, &req->content_length) < 0)
            req->content_length = -1;
    }
    if (req->content_length < 0 && in.left > 0)
        req->content_length = (int64_t)in.left;

    /* The server's order: headers, body, request, answer, completion. */
    ssize_t max = h.on_headers(req, h.userdata);
    if (max >= 0) {
        if (req->listener == LISTENER_TCP && req->match.endpoint->scope != SCOPE_META &&
            (!req->authorization || !strstr(req->authorization, LOCAL_TOKEN)))
            abort(); /* through the door without the token */
        prime_cache(cache, req, flags);
        req->body = BUF_INIT((size_t)max);
        if (in.left && !req->body_too_large && buf_append(&req->body, in.p, in.left) < 0)
            req->body_too_large = true;
        int r = h.on_request(req, h.userdata);
        if (r == 0) {
            req->finished = true;
            check_answer(req);
            drain(req);
        } else if (!req->held)
            abort(); /* the server would answer 500 "jobsd lost the request" */
    } else
        check_answer(req);

    /* A held request is answered 503 when the server stops (its cancel hook
     * runs first); then the proxy ends the calls still open. */
    server = server_free(server);
    h.on_complete(req, h.userdata);
    request_free_fields(req);
    free(req);
    proxy = proxy_free(proxy);
    cache = cache_free(cache);
    router = router_free(router);
    for (size_t i = 0; i < n_headers; i++)
        free(headers[i]);
    return 0;
}
