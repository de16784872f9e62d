/* client/transport.h: HTTP to jobsd with libcurl, over its Unix socket or
 * loopback TCP with the local bearer token. struct transport owns its
 * settings and a copy of the token; struct xfer is one request, owned by
 * its caller (xfer_done() frees what it holds). */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "proto/cleanup.h"
#include "proto/strutil.h"

/* The largest answer kept in memory (streamed answers are not kept). */
#define REPLY_MAX (256 * MIB)

struct transport_options {
    const char *socket; /* used when url is NULL */
    const char *url;    /* "http://127.0.0.1:8990" */
    const char *token;  /* the local token, with url */
};

struct transport;

int transport_new(const struct transport_options *o, struct transport **ret);
struct transport *transport_free(struct transport *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct transport *, transport_free)

/* The socket path or the URL, for messages. */
const char *transport_where(const struct transport *t);
bool transport_is_socket(const struct transport *t);

/* Called with each piece of a 200 answer's body, instead of keeping it.
 * A negative return stops the transfer. */
typedef int (*xfer_data_t)(const char *p, size_t n, void *userdata);

struct xfer {
    CURL *easy;
    struct curl_slist *headers;
    long status;
    struct buf body; /* the answer, unless streamed */
    char source[16]; /* X-Jobsd-Source */
    char wait[16];   /* X-Jobsd-Wait */
    char age[24];    /* Age in seconds, on cached and stale answers */
    xfer_data_t on_data;
    void *userdata;
    const char *cache_control; /* a Cache-Control request header, or NULL */
    int stop;                  /* the error on_data returned */
    char error[CURL_ERROR_SIZE];
};

/* Prepares a request: path holds the query string. body may be NULL. The
 * handle can go to curl_multi_add_handle() or xfer_perform(). */
int xfer_init(struct transport *t, struct xfer *x, const char *method, const char *path,
              const char *body, size_t len);
void xfer_done(struct xfer *x);
/* After the transfer ended with code: 0 when an HTTP answer came (any
 * status); -ENOENT (no socket there), -EACCES (not allowed to connect),
 * -ECONNREFUSED (nobody listens), -ETIMEDOUT, or -EIO (see x->error). */
int xfer_finish(struct transport *t, struct xfer *x, CURLcode code);
/* Runs the prepared request to its end: xfer_finish()'s answer. */
int xfer_perform(struct transport *t, struct xfer *x);

/* One request start to end; x is initialized here and must be
 * xfer_done() by the caller whatever the result. */
int transport_call(struct transport *t, struct xfer *x, const char *method, const char *path,
                   const char *body, size_t len);
