#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon/events.h"
#include "daemon/local.h"
#include "daemon/poller.h"
#include "daemon/proxy.h"
#include "daemon/server.h"
#include "daemon/upstream.h"
#include "proto/json.h"
#include "proto/log.h"

static int answer(struct request *req, struct json_object *o)
{
    req->response.source = JOBSD_SOURCE_LOCAL;
    if (!o)
        return response_set_error(&req->response, 500, "INTERNAL_ERROR", "Out of memory"), 0;
    response_set_json(&req->response, 200, o);
    json_object_put(o);
    return 0;
}

static int on_health(struct request *req, void *userdata)
{
    struct json_object *o = json_object_new_object();
    if (o && json_add_string(o, "status", "ok") < 0) {
        json_object_put(o);
        o = NULL;
    }
    return answer(req, o);
}

/* The error text of upstream's last_error: -errno or an HTTP status. */
static const char *upstream_error_text(int e, char *buf, size_t n)
{
    if (e == 0)
        return NULL;
    if (e > 0)
        snprintf(buf, n, "HTTP %d", e);
    else
        snprintf(buf, n, "%s", strerror(-e));
    return buf;
}

static int add_upstream(struct json_object *o, struct manager *m)
{
    struct upstream_stats st;
    const struct proxy_stats *ps = proxy_get_stats(manager_proxy(m));
    char why[128];
    _cleanup_json_ struct json_object *u = json_object_new_object();
    _cleanup_json_ struct json_object *auth = json_object_new_object();
    if (!u || !auth || upstream_get_stats(manager_upstream(m), &st) < 0)
        return -ENOMEM;
    int r = 0;
    r |= json_add_bool(u, "reachable", st.reachable);
    if (st.last_answer_usec)
        r |= json_add_int64(u, "last_answer_time", (int64_t)(st.last_answer_usec / 1000));
    if (st.last_error) {
        r |= json_add_string(u, "last_error", upstream_error_text(st.last_error, why, sizeof(why)));
        r |= json_add_int64(u, "last_error_time", (int64_t)(st.last_error_usec / 1000));
    }
    r |= json_add_int64(u, "queued", st.queued);
    r |= json_add_int64(u, "in_flight", st.in_flight);
    r |= json_add_int64(u, "backing_off", st.backing_off);
    r |= json_add_int64(u, "limiter_tokens", (int64_t)(st.limiter_tokens_milli / 1000));
    r |= json_add_int64(u, "requests", (int64_t)st.submitted);
    r |= json_add_int64(u, "attempts", (int64_t)st.attempts);
    r |= json_add_int64(u, "retries", (int64_t)st.retries);
    r |= json_add_int64(u, "rejected_queue_full", (int64_t)st.rejected_full);
    r |= json_add_int64(u, "idempotency_tokens_added", (int64_t)ps->tokens_added);
    r |= json_add_string(auth, "type", st.auth.kind == AUTH_OAUTH_M2M ? "oauth-m2m" : "pat");
    if (st.auth.kind == AUTH_OAUTH_M2M) {
        r |= json_add_bool(auth, "have_token", st.auth.have_token);
        r |= json_add_int64(auth, "token_requests", st.auth.token_requests);
        r |= json_add_int64(auth, "token_failures", st.auth.token_failures);
    }
    r |= json_add(u, "auth", TAKE_PTR(auth));
    r |= json_add(o, "upstream", TAKE_PTR(u));
    return r < 0 ? -ENOMEM : 0;
}

static int add_poller(struct json_object *o, struct manager *m)
{
    struct poller *p = manager_poller(m);
    struct poller_stats st;
    struct events_stats es;
    char text[128];
    if (!p)
        return json_add_bool(o, "poller", false) < 0 ? -ENOMEM : 0;
    poller_get_stats(p, &st);
    events_get_stats(manager_events(m), &es);
    poller_status_text(p, text, sizeof(text));
    _cleanup_json_ struct json_object *po = json_object_new_object();
    _cleanup_json_ struct json_object *bf = json_object_new_object();
    if (!po || !bf)
        return -ENOMEM;
    int r = 0;
    r |= json_add_string(po, "status", text);
    r |= json_add_int64(po, "tracked_runs", st.tracked);
    r |= json_add_int64(po, "fetch_queue", st.fetching);
    r |= json_add_int64(po, "waiters", st.waiters);
    r |= json_add_int64(po, "watchers", es.watchers);
    r |= json_add_int64(po, "sweeps", (int64_t)st.sweeps);
    if (st.last_sweep_usec) {
        r |= json_add_int64(po, "last_sweep_time", (int64_t)(st.last_sweep_usec / 1000));
        r |= json_add_int64(po, "last_sweep_ms", (int64_t)(st.last_sweep_duration_usec / 1000));
    }
    r |= json_add_int64(po, "next_sweep_ms", (int64_t)(st.next_sweep_in_usec / 1000));
    r |= json_add_int64(po, "watermark", st.watermark_ms);
    r |= json_add_int64(po, "requests", (int64_t)st.requests);
    r |= json_add_int64(po, "failures", (int64_t)st.failures);
    r |= json_add_int64(po, "changes", (int64_t)st.changes);
    r |= json_add_int64(po, "archived_runs", (int64_t)st.archived);
    r |= json_add_int64(po, "archived_outputs", (int64_t)st.outputs);
    r |= json_add_string(bf, "state",
                         st.backfill_running ? "running"
                         : st.backfill_done  ? "done"
                                             : "idle");
    r |= json_add_int64(bf, "pages", (int64_t)st.backfill_pages);
    r |= json_add_int64(bf, "runs", (int64_t)st.backfill_runs);
    if (st.backfill_from_ms)
        r |= json_add_int64(bf, "start_time_from", st.backfill_from_ms);
    if (st.backfill_oldest_ms)
        r |= json_add_int64(bf, "oldest_start_time", st.backfill_oldest_ms);
    r |= json_add(po, "backfill", TAKE_PTR(bf));
    r |= json_add(o, "poller", TAKE_PTR(po));
    return r < 0 ? -ENOMEM : 0;
}

static int on_status(struct request *req, void *userdata)
{
    struct manager *m = userdata;
    const struct config *c = manager_config(m);
    struct server_stats st;
    _cleanup_json_ struct json_object *o = json_object_new_object();
    _cleanup_json_ struct json_object *server = json_object_new_object();
    _cleanup_json_ struct json_object *listen = json_object_new_object();

    if (!o || !server || !listen)
        return answer(req, NULL);
    server_get_stats(manager_server(m), &st);
    int r = 0;
    r |= json_add_string(o, "version", PACKAGE_VERSION);
    r |= json_add_int64(o, "api_version", JOBSD_API_VERSION);
    r |= json_add_int64(o, "pid", getpid());
    r |= json_add_int64(o, "uptime_s", (int64_t)(manager_uptime_usec(m) / 1000000u));
    if (!isempty(c->workspace.host))
        r |= json_add_string(o, "workspace_host", c->workspace.host);
    if (!isempty(c->server.socket))
        r |= json_add_string(listen, "unix", c->server.socket);
    if (manager_tcp_port(m))
        r |= json_add_int64(listen, "tcp_port", manager_tcp_port(m));
    r |= json_add_int64(server, "requests", (int64_t)st.requests);
    r |= json_add_int64(server, "in_flight", st.in_flight);
    r |= json_add_int64(server, "held", st.held);
    r |= json_add(o, "listen", TAKE_PTR(listen));
    r |= json_add(o, "server", TAKE_PTR(server));
    r |= add_upstream(o, m);
    r |= add_poller(o, m);
    if (r < 0)
        return answer(req, NULL);
    return answer(req, TAKE_PTR(o));
}

/* SDKs ask this first, without a token (reference §8.5). Only what helps a
 * client start: never a secret. */
static int on_host_metadata(struct request *req, void *userdata)
{
    struct manager *m = userdata;
    const char *id = manager_config(m)->workspace.workspace_id;
    struct json_object *o = json_object_new_object();
    if (o && (json_add_string(o, "host_type", "WORKSPACE_HOST") < 0 ||
              (!isempty(id) && json_add_string(o, "workspace_id", id) < 0))) {
        json_object_put(o);
        o = NULL;
    }
    if (!isempty(id))
        response_add_header(&req->response, JOBSD_HEADER_WORKSPACE_ID, id);
    return answer(req, o);
}

void local_register(struct router *r, struct manager *m)
{
    router_set(r, ENDPOINT_LOCAL_HEALTH, on_health, m);
    router_set(r, ENDPOINT_LOCAL_STATUS, on_status, m);
    router_set(r, ENDPOINT_HOST_METADATA, on_host_metadata, m);
}
