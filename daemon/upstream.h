/* daemon/upstream.h: the client of the workspace. Requests wait in a bounded
 * local queue, pass one shared rate limiter, run on a libcurl multi handle on
 * the loop (keep-alive, HTTP/2 where offered, TLS always verified), and are
 * retried with backoff where that cannot double a write. Owns the queue,
 * the transfers, the curl glue, the limiter and the credential; a transfer
 * belongs to upstream until its callback ran or upstream_cancel(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "daemon/auth.h"
#include "proto/cleanup.h"
#include "proto/endpoint.h"

struct upstream_settings {
    const char *host;       /* "https://adb-1.2.azuredatabricks.net"; http:// only to loopback */
    const char *ca_file;    /* NULL: the system store */
    const char *user_agent; /* "jobsd/0.1.0 ... auth/pat" (reference §8.6) */
    enum auth_kind auth;
    const char *token;         /* AUTH_PAT */
    const char *client_id;     /* AUTH_OAUTH_M2M */
    const char *client_secret; /* AUTH_OAUTH_M2M */
    const char *token_url;     /* NULL: {host}/oidc/v1/token */
    uint64_t connect_timeout_usec;
    uint64_t attempt_timeout_usec; /* one attempt, connect to last byte */
    uint64_t retry_budget_usec;    /* from submit to the last retry's start */
    unsigned max_attempts;
    uint64_t backoff_base_usec; /* full jitter over base * 2^n ... (also failed token fetches) */
    uint64_t backoff_cap_usec;  /* ... cut to this */
    double rate;                /* requests per second to the workspace */
    unsigned burst;
    unsigned max_in_flight;
    unsigned queue_max;    /* queued + waiting to retry; beyond: -EAGAIN */
    size_t max_body;       /* largest response body; more is -EMSGSIZE */
    size_t max_held_bytes; /* request bodies held (queued, running, retrying); beyond: -EAGAIN */
    uint64_t token_margin_usec; /* OAuth: never send a token with less left */
};

/* Fills s with the defaults (every pointer NULL). */
void upstream_settings_defaults(struct upstream_settings *s);

struct upstream_request {
    enum http_method method;
    const char *path_and_query; /* "/api/2.2/jobs/runs/get?run_id=1" */
    const void *body;           /* JSON; copied */
    size_t body_len;
    enum retry_class retry;
    const char *user_agent;          /* NULL: the settings' */
    const char *workspace_id_header; /* X-Databricks-Workspace-Id value, or NULL */
    uint64_t deadline_usec;          /* CLOCK_MONOTONIC; 0: attempts and budget only */
};

struct upstream_response {
    int status; /* HTTP status of the final answer; 0: no HTTP answer */
    /* 0 with an HTTP answer (any status). Otherwise: -ETIMEDOUT (attempt
     * timeout or deadline), -ECONNREFUSED, -EHOSTUNREACH (name not resolved),
     * -ECONNRESET (closed before an answer), -EPROTO (truncated or malformed
     * answer, TLS failure), -EMSGSIZE (body above max_body), -ENOMEM.
     * With OAuth, a request that never got a token: -EACCES (the token
     * endpoint refused the client credentials) or, after repeated failures of
     * the token endpoint, what they were (-ECONNREFUSED, -ETIMEDOUT, -EPROTO
     * for a bad status or reply); attempts is 0 then. */
    int error;
    const char *body; /* NUL-terminated; valid during the callback only */
    size_t body_len;
    const char *content_type; /* NULL if none */
    unsigned retry_after_s;   /* from the final answer's Retry-After, 0 if none */
    unsigned attempts;        /* HTTP attempts made (0: never sent) */
    bool maybe_delivered;     /* a RETRY_NEVER request may have reached the workspace */
};

typedef void (*upstream_done_t)(const struct upstream_response *r, void *userdata);

struct upstream;
struct upstream_transfer;

int upstream_new(sd_event *e, const struct upstream_settings *s, struct upstream **ret);
/* Cancels every transfer; no callback runs. */
struct upstream *upstream_free(struct upstream *u);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct upstream *, upstream_free)

/* Queues req (everything in it is copied). done runs exactly once, from the
 * loop, never from inside upstream_submit(), unless upstream_cancel() comes
 * first; it may submit and cancel other transfers, but must not free u.
 * *ret (may be NULL) is valid until then. -EAGAIN: the queue (or max_held_bytes) is full (answer
 * 429 with Retry-After: upstream_retry_after_hint()); -EINVAL: a bad request
 * (path not starting with '/', control characters in headers). */
int upstream_submit(struct upstream *u, const struct upstream_request *req, upstream_done_t done,
                    void *userdata, struct upstream_transfer **ret);
/* The caller went away: stops the transfer, done never runs. NULL is fine. */
void upstream_cancel(struct upstream_transfer *t);

/* A reload: new rate and burst for the shared limiter. -EINVAL if bad. */
int upstream_set_rate(struct upstream *u, double rate, unsigned burst);

/* Seconds a client turned away with -EAGAIN should wait: the time the queue
 * needs to drain at the configured rate, at least 1. */
unsigned upstream_retry_after_hint(struct upstream *u);

struct upstream_stats {
    unsigned queued;      /* waiting for the limiter, a slot or a token */
    unsigned in_flight;   /* in curl */
    unsigned backing_off; /* waiting to retry */
    uint64_t limiter_tokens_milli;
    uint64_t submitted, completed, attempts, retries, rejected_full, reauths;
    uint64_t limiter_waits;    /* attempts that had to wait for the rate limiter */
    int last_error;            /* -errno or an HTTP status >= 500 or 429 as positive */
    uint64_t last_error_usec;  /* CLOCK_REALTIME of it, 0: never */
    uint64_t last_answer_usec; /* CLOCK_REALTIME of the last HTTP answer */
    bool reachable;            /* the last attempt got an HTTP answer (false before any) */
    struct auth_stats auth;
};
int upstream_get_stats(struct upstream *u, struct upstream_stats *ret);
