/* daemon/router.h: maps each request to its endpoint row and does, once, the
 * checks the row asks for: method, body size, JSON, the local token on TCP,
 * write access; then hands the request to the handler registered for the
 * row. Owns the handler table; handlers' userdata belongs to their modules. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "daemon/request.h"
#include "daemon/server.h"

struct router;

/* 0: req->response is filled. 1: the handler held the request. */
typedef int (*route_handler_t)(struct request *req, void *userdata);

struct router_settings {
    const char *local_token; /* required as a bearer token on TCP; copied */
    gid_t read_only_gid;     /* peers in this group may only read; (gid_t)-1: none */
};

int router_new(const struct router_settings *settings, struct router **ret);
/* A reload: a new local token and read-only group. */
int router_set_access(struct router *r, const struct router_settings *settings);
struct router *router_free(struct router *r);

/* Registers handler for one endpoint row (replacing any earlier one). */
void router_set(struct router *r, enum endpoint_id id, route_handler_t handler, void *userdata);
/* For every row of a scope that has no handler yet. */
void router_set_scope(struct router *r, enum endpoint_scope scope, route_handler_t handler,
                      void *userdata);

/* Called once for every write request when it ends (answered, refused or
 * abandoned): the audit trail. */
typedef void (*route_audit_t)(const struct request *req, void *userdata);
void router_set_audit(struct router *r, route_audit_t audit, void *userdata);

/* The server's callbacks, with the router as userdata. */
struct server_handlers router_handlers(struct router *r);

/* Peer-facing counters, for /metrics and status. */
/* Answers by endpoint row (_ENDPOINT_MAX: no row matched), source and
 * status class ([2] = 2xx; [0] = none sent). */
struct router_stats {
    uint64_t requests[_ENDPOINT_MAX + 1][_JOBSD_SOURCE_MAX][6];
    uint64_t rejected_auth;
    uint64_t rejected_body;
};
/* Borrowed; valid as long as the router. */
const struct router_stats *router_get_stats(const struct router *r);
