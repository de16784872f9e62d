/* daemon/auth.h: the workspace credential. A PAT is a fixed header; OAuth M2M
 * tokens are fetched from the token endpoint (client credentials, HTTP Basic
 * client auth), refreshed before they expire, one fetch in flight at a time
 * however many requests wait for it. Owns the token and its fetch; the loop
 * and the curl glue are borrowed and must outlive it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "daemon/curl-glue.h"
#include "proto/cleanup.h"

enum auth_kind {
    AUTH_PAT = 1,
    AUTH_OAUTH_M2M,
};

struct auth_settings {
    enum auth_kind kind;
    const char *token;         /* AUTH_PAT */
    const char *client_id;     /* AUTH_OAUTH_M2M */
    const char *client_secret; /* AUTH_OAUTH_M2M */
    const char *token_url;     /* AUTH_OAUTH_M2M: "{host}/oidc/v1/token" */
    const char *ca_file;       /* NULL: the system store */
    const char *user_agent;
    uint64_t connect_timeout_usec;
    uint64_t timeout_usec;
    uint64_t margin_usec;     /* never use a token with less left (0: 40 s) */
    uint64_t retry_base_usec; /* a failed fetch is retried after backoff from here (0: 1 s) */
    uint64_t retry_cap_usec;  /* ... up to here (0: 60 s) */
};

/* Called (from the loop, never from inside auth_header()) when a fetch ended:
 * error 0 when a new token is there, else why it failed. Waiters call
 * auth_header() again. */
typedef void (*auth_notify_t)(int error, void *userdata);

struct auth;

/* Copies what it needs from s and registers the secrets with log_add_secret().
 * -EINVAL for missing or malformed credentials. No fetch starts here. */
int auth_new(sd_event *e, struct curl_glue *g, const struct auth_settings *s, auth_notify_t notify,
             void *userdata, struct auth **ret);
struct auth *auth_free(struct auth *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct auth *, auth_free)

/* The header to send now, "Authorization: Bearer ...", owned by auth and
 * valid until the next call into auth, and the token's generation. Starts a
 * background refresh when the token enters its refresh window.
 * -EAGAIN: no usable token yet, a fetch is in flight or scheduled, notify
 * will run. Other -errno: the token endpoint keeps refusing or failing
 * (-EACCES refused, -ECONNREFUSED/-ETIMEDOUT/-EPROTO/... unreachable);
 * calls after the next retry time try again. */
int auth_header(struct auth *a, const char **ret_header, unsigned *ret_generation);

/* The workspace refused the token of this generation ("Invalid access
 * token"). For OAuth: drops it and starts one fetch unless a newer token
 * exists or a fetch is already running; returns true (re-send after the next
 * auth_header()). For a PAT: false, nothing to refresh. */
bool auth_reject(struct auth *a, unsigned generation);

/* For tests: takes status and body (len bytes, then a NUL) as the answer
 * of the token endpoint to an OAuth fetch, as the fetch's completion does:
 * 0 with a new token, -EACCES (refused), -EPROTO (another status),
 * -EBADMSG (an unusable token reply), -EINVAL (not OAuth). */
int auth_take_reply(struct auth *a, long status, const char *body, size_t len);

struct auth_stats {
    enum auth_kind kind;
    unsigned token_requests; /* fetches started */
    unsigned token_failures;
    unsigned generation;
    bool fetching;
    bool have_token;
    uint64_t expires_usec; /* CLOCK_MONOTONIC, 0 when no token */
    int last_error;
};
void auth_get_stats(struct auth *a, struct auth_stats *ret);
