/* daemon/server.h: the local HTTP server. Owns one libmicrohttpd daemon per
 * listening socket, driven from the sd-event loop in external-epoll mode,
 * and every struct request from its headers to its last byte. Requests that
 * wait (request_hold) are suspended and resumed in batches. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "daemon/request.h"

struct server;

struct server_handlers {
    /* Headers are in: match the request and return the largest body to
     * accept (0 for none), or -1 after filling req->response to answer at
     * once without reading the body. */
    ssize_t (*on_headers)(struct request *req, void *userdata);
    /* The whole request is in: fill req->response and return 0, or call
     * request_hold() and return 1 to answer later. */
    int (*on_request)(struct request *req, void *userdata);
    /* The response went out (or the client is gone): for metrics and logs. */
    void (*on_complete)(struct request *req, void *userdata);
    void *userdata;
};

struct server_settings {
    unsigned max_connections;      /* per listener */
    size_t connection_memory;      /* libmicrohttpd's per-connection pool */
    uint64_t request_timeout_usec; /* a held request is answered 504 after this */
    unsigned idle_timeout_s;       /* an idle or slow connection is closed */
};

struct server_stats {
    unsigned listeners;
    uint64_t requests;
    unsigned in_flight; /* requests not yet answered */
    unsigned held;      /* of which waiting on a handler */
};

int server_new(sd_event *event, const struct server_settings *settings,
               const struct server_handlers *handlers, struct server **ret);
/* Answers every held request 503 (its cancel hook runs), then stops. */
struct server *server_free(struct server *s);

/* Serves on fd, a listening socket (taken over in all cases). */
int server_add_listener(struct server *s, int fd, enum listener_kind kind);

/* From now on new requests are answered 503; held ones go on. */
void server_drain(struct server *s);
void server_get_stats(const struct server *s, struct server_stats *ret);
