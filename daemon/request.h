/* daemon/request.h: one local HTTP request and its response, independent of
 * libmicrohttpd. The server owns a request from its headers until the
 * response is sent or the client is gone; handlers read the request and fill
 * req->response, and never see MHD. A handler that answers later keeps the
 * request (request_hold) until it calls request_finish(). */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/endpoint.h"
#include "proto/localapi.h"
#include "proto/macro.h"
#include "proto/strutil.h"

enum listener_kind {
    LISTENER_UNIX,
    LISTENER_TCP,
};

#define PEER_GROUPS_MAX 64
struct peer {
    bool known; /* SO_PEERCRED worked (Unix socket) */
    pid_t pid;
    uid_t uid;
    gid_t gid;
    gid_t groups[PEER_GROUPS_MAX]; /* supplementary groups (SO_PEERGROUPS) */
    unsigned n_groups;
};

/* Query arguments as received, in order, decoded. */
#define REQUEST_QUERY_MAX 64
struct query_arg {
    char *key;
    char *value; /* "" for a key without '=' */
};

#define RESPONSE_HEADERS_MAX 8
struct response_header {
    const char *name; /* static */
    char *value;
};

struct response {
    int status; /* 0 until set */
    char *body; /* owned bytes, or NULL for an empty body */
    size_t body_len;
    void (*body_free)(void *); /* frees body; free() when NULL */
    const char *content_type;  /* static */
    enum jobsd_source source;
    int64_t age_s;          /* Age header when >= 0 */
    unsigned retry_after_s; /* Retry-After header when > 0 */
    char error_code[64];    /* of an error answer: ours or the workspace's */
    struct response_header headers[RESPONSE_HEADERS_MAX];
    size_t n_headers;
    /* A body made while it is sent (chunked): stream fills buf with up to
     * max bytes and returns how many, RESPONSE_STREAM_END when done or
     * RESPONSE_STREAM_ERROR to cut the answer short; stream_free(cls) runs
     * once the answer is over. Set with response_set_stream(). */
    ssize_t (*stream)(void *cls, uint64_t pos, char *buf, size_t max);
    void (*stream_free)(void *cls);
    void *stream_cls;
};

#define RESPONSE_STREAM_END ((ssize_t)-1)
#define RESPONSE_STREAM_ERROR ((ssize_t)-2)
/* Nothing to send now: the connection is suspended until
 * request_stream_wake(). */
#define RESPONSE_STREAM_WAIT ((ssize_t)0)

struct request;
typedef void (*request_cancel_t)(struct request *req, void *userdata);

struct request {
    /* Filled by the server before the router sees the request. */
    const char *method_raw;
    enum http_method method;
    char *path; /* decoded path, without the query */
    struct query_arg query[REQUEST_QUERY_MAX];
    size_t n_query;
    bool query_overflow;       /* more than REQUEST_QUERY_MAX arguments */
    const char *authorization; /* header values, borrowed from the server */
    const char *cache_control;
    const char *user_agent;
    const char *last_event_id; /* Server-Sent Events resumption */
    const char *workspace_id;
    const char *content_type;
    int64_t content_length; /* -1 when not sent */
    struct buf body;
    bool body_too_large;
    enum listener_kind listener;
    struct peer peer;
    uint64_t start_usec;
    uint64_t id; /* a counter, for log lines */

    /* Filled by the router. */
    struct endpoint_match match;
    bool matched;
    struct json_object *json; /* the parsed body of a write, or NULL */
    int64_t job_id;           /* the ids the request concerns (0: none), from the */
    int64_t run_id;           /* path, query or body; the proxy adds created ones */

    struct response response;

    /* Private to the server and request.c. */
    void *server_conn;
    struct server *server;
    bool held;
    bool finished;
    void *stream_conn;   /* the connection of a streamed answer */
    bool stream_waiting; /* suspended by RESPONSE_STREAM_WAIT */
    struct request *stream_prev, *stream_next;
    request_cancel_t cancel;
    void *cancel_userdata;
};

/* The first value of a query argument, or NULL. */
const char *request_query(const struct request *req, const char *key) _pure_;

/* A handler answers later: the server suspends the connection until
 * request_finish(). cancel (may be NULL) is called instead if the request
 * ends first (deadline, shutdown); after it the handler must not touch req. */
void request_hold(struct request *req, request_cancel_t cancel, void *userdata);
/* The same with a deadline of its own (CLOCK_MONOTONIC) instead of the
 * server's request timeout: for long polls, which answer before it. */
void request_hold_until(struct request *req, request_cancel_t cancel, void *userdata,
                        uint64_t deadline_usec);
/* A streamed answer that returned RESPONSE_STREAM_WAIT has more to send:
 * its stream function is called again soon. Harmless otherwise. */
void request_stream_wake(struct request *req);
/* The response is complete: send it. Only once, only after request_hold. */
void request_finish(struct request *req);

/* Response builders. Each replaces any body set before. Return 0 or -ENOMEM
 * (then the response is a bare 500). */
int response_set_json(struct response *r, int status, struct json_object *o);
int response_set_bytes(struct response *r, int status, const char *content_type, const void *data,
                       size_t len);
/* Takes ownership of body (freed with body_free, or free() when NULL). */
void response_take_body(struct response *r, int status, const char *content_type, char *body,
                        size_t len, void (*body_free)(void *));
int response_set_error(struct response *r, int status, const char *code, const char *format, ...)
    _printf_(4, 5);
int response_add_header(struct response *r, const char *name, const char *value);
/* A streamed body (see struct response); replaces any body set before. */
void response_set_stream(struct response *r, int status, const char *content_type,
                         ssize_t (*stream)(void *, uint64_t, char *, size_t),
                         void (*stream_free)(void *), void *cls);
void response_done(struct response *r);

void request_free_fields(struct request *req);
