/* daemon/proxy.h: the pass-through of the workspace's Jobs and job-permissions
 * API. Forwards a routed request to upstream with the same method, path,
 * query and body, gives run-now and runs/submit an idempotency token when
 * the caller gave none, and answers with the workspace's own status, body
 * and error. Owns one context per request in flight; the upstream client is
 * borrowed. */
#pragma once

#include <stdint.h>

#include "daemon/archiver.h"
#include "daemon/cache.h"
#include "daemon/router.h"
#include "daemon/upstream.h"

struct proxy;

struct proxy_settings {
    uint64_t request_timeout_usec; /* the server's deadline for held requests */
    const char *workspace_id;      /* sent as X-Databricks-Workspace-Id when set */
};

/* archiver (borrowed, may be NULL) keeps what passes and answers what the
 * workspace forgot or cannot give; cache (borrowed, may be NULL) answers
 * reads and coalesces identical ones into one upstream request. proxy_free
 * must come before upstream_free and cache_free: it ends the calls still in
 * flight (background refreshes, and fetches others wait on). */
int proxy_new(struct upstream *u, struct archiver *archiver, struct cache *cache,
              const struct proxy_settings *s, struct proxy **ret);
struct proxy *proxy_free(struct proxy *p);

/* New requests go to u from now on (a reload with new credentials); those in
 * flight finish on the old one. */
void proxy_set_upstream(struct proxy *p, struct upstream *u);

/* Called after each write the workspace accepted (2xx), with the ids the
 * request named or the answer created (0: none): the poller's cue. */
typedef void (*proxy_write_hook_t)(enum endpoint_id id, int64_t job_id, int64_t run_id,
                                   void *userdata);
void proxy_set_write_hook(struct proxy *p, proxy_write_hook_t hook, void *userdata);

/* Registers the proxy for every JOBS and PERMISSIONS row of the table. */
void proxy_register(struct proxy *p, struct router *r);

struct proxy_stats {
    /* Upstream answers by endpoint row and status class ([0]: no answer). */
    uint64_t answers[_ENDPOINT_MAX][6];
    uint64_t forwarded;
    uint64_t coalesced;    /* reads that waited on another's upstream request */
    uint64_t refreshes;    /* background refreshes of stale entries */
    uint64_t tokens_added; /* idempotency tokens jobsd generated */
    uint64_t queue_full;   /* answered 429 before reaching upstream */
    uint64_t failed;       /* no HTTP answer from the workspace */
};
/* Borrowed; valid as long as the proxy. */
const struct proxy_stats *proxy_get_stats(const struct proxy *p);
