#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon/local.h"
#include "daemon/server.h"
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

static int on_status(struct request *req, void *userdata)
{
    struct manager *m = userdata;
    const struct manager_settings *s = manager_settings(m);
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
    if (s->workspace_host)
        r |= json_add_string(o, "workspace_host", s->workspace_host);
    if (s->socket_path)
        r |= json_add_string(listen, "unix", s->socket_path);
    if (manager_tcp_port(m))
        r |= json_add_int64(listen, "tcp_port", manager_tcp_port(m));
    r |= json_add_int64(server, "requests", (int64_t)st.requests);
    r |= json_add_int64(server, "in_flight", st.in_flight);
    r |= json_add_int64(server, "held", st.held);
    r |= json_add(o, "listen", TAKE_PTR(listen));
    r |= json_add(o, "server", TAKE_PTR(server));
    if (r < 0)
        return answer(req, NULL);
    return answer(req, TAKE_PTR(o));
}

/* SDKs ask this first, without a token (reference §8.5). Only what helps a
 * client start: never a secret. */
static int on_host_metadata(struct request *req, void *userdata)
{
    struct manager *m = userdata;
    const struct manager_settings *s = manager_settings(m);
    struct json_object *o = json_object_new_object();
    if (o && (json_add_string(o, "host_type", "WORKSPACE_HOST") < 0 ||
              (s->workspace_id && json_add_string(o, "workspace_id", s->workspace_id) < 0))) {
        json_object_put(o);
        o = NULL;
    }
    if (s->workspace_id)
        response_add_header(&req->response, JOBSD_HEADER_WORKSPACE_ID, s->workspace_id);
    return answer(req, o);
}

void local_register(struct router *r, struct manager *m)
{
    router_set(r, ENDPOINT_LOCAL_HEALTH, on_health, m);
    router_set(r, ENDPOINT_LOCAL_STATUS, on_status, m);
    router_set(r, ENDPOINT_HOST_METADATA, on_host_metadata, m);
}
