/* daemon/auth.c: PAT and OAuth M2M (reference §8.4-8.5).
 *
 * OAuth timeline of one token obtained at t with lifetime ttl:
 *   refresh_at = t + ttl - min(ttl/2, 20 min): a background fetch starts on
 *                the first use after this;
 *   usable_to  = t + ttl - margin (40 s): after this the token is not sent,
 *                requests wait for the fetch.
 * Exactly one fetch runs at a time; everything else waits on its notify. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/auth.h"
#include "daemon/backoff.h"
#include "proto/log.h"
#include "proto/strutil.h"

#define TOKEN_BODY_MAX (64 * KIB)
#define TOKEN_MAX 8192
#define REFRESH_LEAD_MAX_USEC (20 * 60 * UINT64_C(1000000))
#define DEFAULT_TTL_S 3600
#define MAX_TTL_S 86400
#define FAILURES_BEFORE_ERROR 3
#define TIMER_ACCURACY_USEC 1000

struct auth {
    sd_event *event;
    struct curl_glue *glue;
    enum auth_kind kind;
    char *header; /* "Authorization: Bearer ..." */
    char *token;  /* the OAuth token in the header, to unregister when replaced */
    unsigned generation;
    uint64_t refresh_at, usable_to, expires_at;

    /* OAuth */
    char *token_url, *client_id, *client_secret, *ca_file, *user_agent;
    uint64_t connect_timeout_usec, timeout_usec, margin_usec, retry_base_usec, retry_cap_usec;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_glue_slot slot;
    struct buf body;
    bool fetching;
    bool wanted; /* someone got -EAGAIN since the last fetch ended */
    unsigned failures;
    uint64_t next_try;
    int last_error;
    sd_event_source *retry_timer;
    struct backoff_rng rng;
    unsigned token_requests, token_failures;
    bool secrets_full_warned;

    auth_notify_t notify;
    void *userdata;
};

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void register_secret(struct auth *a, const char *secret)
{
    int r = log_add_secret(secret);
    if (r == -E2BIG && !a->secrets_full_warned) {
        a->secrets_full_warned = true;
        log_warning("No room to register more secrets for log redaction, ignoring");
    }
}

static bool token_chars_ok(const char *t)
{
    if (isempty(t) || strlen(t) > TOKEN_MAX)
        return false;
    for (const char *p = t; *p; p++)
        if (*p <= ' ' || *p >= 0x7f)
            return false;
    return true;
}

static int set_header(struct auth *a, const char *type, const char *token)
{
    char *h = strjoin("Authorization: ", type, " ", token);
    if (!h)
        return -ENOMEM;
    free_secret(a->header);
    a->header = h;
    return 0;
}

static uint64_t now_usec(struct auth *a)
{
    uint64_t now = 0;
    (void)sd_event_now(a->event, CLOCK_MONOTONIC, &now);
    return now;
}

static void fetch_cleanup(struct auth *a)
{
    if (a->easy) {
        curl_glue_remove(a->glue, a->easy, &a->slot);
        curl_easy_cleanup(a->easy);
        a->easy = NULL;
    }
    curl_slist_free_all(a->headers);
    a->headers = NULL;
    if (a->body.data)
        explicit_bzero(a->body.data, a->body.len);
    buf_done(&a->body);
    a->fetching = false;
}

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
    struct auth *a = userdata;
    return buf_append(&a->body, p, n) < 0 ? 0 : n;
}

static void json_putp(struct json_object **o)
{
    json_object_put(*o);
}

/* Reads {"access_token", "token_type", "expires_in"}. */
static int parse_token(struct auth *a, const char *body, size_t len, uint64_t now)
{
    _cleanup_(json_putp) struct json_object *o = NULL;
    struct json_tokener *tok = json_tokener_new();
    if (!tok)
        return -ENOMEM;
    o = json_tokener_parse_ex(tok, body, (int)len);
    bool complete = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    if (!o || !complete || !json_object_is_type(o, json_type_object))
        return -EBADMSG;

    struct json_object *at = NULL, *tt = NULL, *ei = NULL;
    const char *token, *type = "Bearer";
    int64_t ttl = DEFAULT_TTL_S;

    if (!json_object_object_get_ex(o, "access_token", &at) ||
        !json_object_is_type(at, json_type_string))
        return -EBADMSG;
    token = json_object_get_string(at);
    if (!token_chars_ok(token))
        return -EBADMSG;
    if (json_object_object_get_ex(o, "token_type", &tt) &&
        json_object_is_type(tt, json_type_string)) {
        type = json_object_get_string(tt);
        if (strcasecmp(type, "bearer") == 0)
            type = "Bearer";
        else if (!token_chars_ok(type) || strlen(type) > 32)
            return -EBADMSG;
    }
    if (json_object_object_get_ex(o, "expires_in", &ei)) {
        if (json_object_is_type(ei, json_type_int))
            ttl = json_object_get_int64(ei);
        else if (!json_object_is_type(ei, json_type_string) ||
                 parse_int64(json_object_get_string(ei), &ttl) < 0)
            return -EBADMSG;
    }
    if (ttl <= 0)
        return -EBADMSG;
    ttl = MIN(ttl, (int64_t)MAX_TTL_S);

    register_secret(a, token);
    int r = set_header(a, type, token);
    if (r < 0)
        return r;
    /* The old token is no longer sent: free its place in the log's list, so
     * hourly refreshes never fill it. */
    char *copy = strdup(token);
    if (a->token) {
        if (!copy || !streq(a->token, token))
            (void)log_remove_secret(a->token);
        free_secret(a->token);
    }
    a->token = copy;

    uint64_t ttl_usec = (uint64_t)ttl * USEC_PER_SEC;
    a->generation++;
    a->expires_at = now + ttl_usec;
    a->refresh_at = now + ttl_usec - MIN(ttl_usec / 2, REFRESH_LEAD_MAX_USEC);
    if (ttl_usec > a->margin_usec)
        a->usable_to = now + ttl_usec - a->margin_usec;
    else {
        log_warning("Token endpoint gave a token for %" PRIi64 " s only, using it for half of that",
                    ttl);
        a->usable_to = now + ttl_usec / 2;
    }
    a->refresh_at = MIN(a->refresh_at, a->usable_to);
    return 0;
}

static int fetch_start(struct auth *a);

/* "error: error_description" of an OAuth error reply (RFC 6749 §5.2), for
 * the log; empty if the body has none. */
static void oauth_error(const char *body, size_t len, char *out, size_t n)
{
    _cleanup_(json_putp) struct json_object *o = NULL;
    struct json_object *e = NULL, *d = NULL;

    out[0] = '\0';
    if (!body || len == 0 || len > INT32_MAX)
        return;
    o = json_tokener_parse(body);
    if (!o || !json_object_is_type(o, json_type_object))
        return;
    if (json_object_object_get_ex(o, "error", &e) && json_object_is_type(e, json_type_string))
        (void)strscpy(out, n, json_object_get_string(e));
    if (json_object_object_get_ex(o, "error_description", &d) &&
        json_object_is_type(d, json_type_string)) {
        size_t used = strlen(out);
        if (used > 0 && used + 2 < n) {
            (void)strscpy(out + used, n - used, ": ");
            used += 2;
        }
        (void)strscpy(out + used, n - used, json_object_get_string(d));
    }
}

/* What the token endpoint's answer means: 0 with a new token in a, else
 * why it is of no use. body is NUL-terminated. */
static int take_reply(struct auth *a, long status, const char *body, size_t len, uint64_t now)
{
    int r;
    if (status == 400 || status == 401 || status == 403) {
        char why[256] = "";
        r = -EACCES;
        oauth_error(body, len, why, sizeof(why));
        log_error("OAuth token endpoint refused the client credentials (HTTP %ld%s%s)", status,
                  why[0] ? ": " : "", why);
    } else if (status != 200) {
        r = -EPROTO;
        log_warning("OAuth token endpoint answered HTTP %ld", status);
    } else {
        r = parse_token(a, body, len, now);
        if (r < 0)
            log_warning_errno(r, "OAuth token endpoint sent an unusable answer: %m");
    }
    return r;
}

int auth_take_reply(struct auth *a, long status, const char *body, size_t len)
{
    if (a->kind != AUTH_OAUTH_M2M || !body || body[len] != '\0')
        return -EINVAL;
    return take_reply(a, status, body, len, now_usec(a));
}

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
    struct auth *a = userdata;
    if (a->wanted && !a->fetching) {
        int r = fetch_start(a);
        if (r < 0 && a->notify)
            a->notify(r, a->userdata);
    }
    return 0;
}

static void fetch_failed(struct auth *a, int error, uint64_t now)
{
    a->failures++;
    a->token_failures++;
    a->last_error = error;
    uint64_t delay = backoff_delay_usec(a->retry_base_usec, a->retry_cap_usec, a->failures,
                                        backoff_random(&a->rng));
    /* Never hammer the endpoint: at least the base. */
    delay = MAX(delay, a->retry_base_usec);
    a->next_try = now + delay;
    if (!a->retry_timer) {
        if (sd_event_add_time(a->event, &a->retry_timer, CLOCK_MONOTONIC, a->next_try,
                              TIMER_ACCURACY_USEC, on_retry_timer, a) < 0)
            return;
        (void)sd_event_source_set_description(a->retry_timer, "auth-retry");
    } else {
        (void)sd_event_source_set_time(a->retry_timer, a->next_try);
        (void)sd_event_source_set_enabled(a->retry_timer, SD_EVENT_ONESHOT);
    }
}

static void on_fetch_done(CURL *easy, CURLcode result, void *userdata)
{
    struct auth *a = userdata;
    uint64_t now = now_usec(a);
    long status = 0;
    int r;

    (void)curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (result != CURLE_OK) {
        r = result == CURLE_OPERATION_TIMEDOUT     ? -ETIMEDOUT
            : result == CURLE_COULDNT_CONNECT      ? -ECONNREFUSED
            : result == CURLE_COULDNT_RESOLVE_HOST ? -EHOSTUNREACH
                                                   : -EPROTO;
        log_warning_errno(r, "OAuth token request failed: %s", curl_easy_strerror(result));
    } else
        r = take_reply(a, status, a->body.data ? a->body.data : "", a->body.len, now);
    fetch_cleanup(a);

    if (r < 0)
        fetch_failed(a, r, now);
    else {
        a->failures = 0;
        a->last_error = 0;
        a->next_try = 0;
        log_debug("OAuth token %u obtained, valid for %" PRIu64 " s", a->generation,
                  (a->expires_at - now) / USEC_PER_SEC);
    }
    a->wanted = false;
    if (a->notify)
        a->notify(r < 0 ? r : 0, a->userdata);
}

static int fetch_start(struct auth *a)
{
    static const char form[] = "grant_type=client_credentials&scope=all-apis";
    struct curl_slist *l;

    if (a->fetching)
        return 0;
    a->easy = curl_easy_init();
    if (!a->easy)
        return -ENOMEM;
    a->body = BUF_INIT(TOKEN_BODY_MAX);
    a->slot = (struct curl_glue_slot){ .done = on_fetch_done, .userdata = a };
    l = curl_slist_append(NULL, "Accept: application/json");
    if (l)
        a->headers = l;
    l = l ? curl_slist_append(l, "Content-Type: application/x-www-form-urlencoded") : NULL;
    l = l ? curl_slist_append(l, "Expect:") : NULL;
    if (!l) {
        fetch_cleanup(a);
        return -ENOMEM;
    }

    int r = -EIO;
    CURL *h = a->easy;
#define TRY(opt, val)                                                                              \
    if (curl_easy_setopt(h, (opt), (val)) != CURLE_OK)                                             \
    goto fail
    TRY(CURLOPT_URL, a->token_url);
    TRY(CURLOPT_PROTOCOLS_STR, "http,https");
    TRY(CURLOPT_FOLLOWLOCATION, 0L);
    TRY(CURLOPT_NOSIGNAL, 1L);
    TRY(CURLOPT_SSL_VERIFYPEER, 1L);
    TRY(CURLOPT_SSL_VERIFYHOST, 2L);
    if (a->ca_file)
        TRY(CURLOPT_CAINFO, a->ca_file);
    TRY(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    TRY(CURLOPT_CONNECTTIMEOUT_MS, (long)(a->connect_timeout_usec / 1000));
    TRY(CURLOPT_TIMEOUT_MS, (long)(a->timeout_usec / 1000));
    TRY(CURLOPT_USERAGENT, a->user_agent);
    TRY(CURLOPT_HTTPHEADER, a->headers);
    TRY(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    TRY(CURLOPT_USERNAME, a->client_id);
    TRY(CURLOPT_PASSWORD, a->client_secret);
    TRY(CURLOPT_POSTFIELDS, form);
    TRY(CURLOPT_POSTFIELDSIZE, (long)(sizeof(form) - 1));
    TRY(CURLOPT_WRITEFUNCTION, on_body);
    TRY(CURLOPT_WRITEDATA, a);
    TRY(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)TOKEN_BODY_MAX);
#undef TRY
    r = curl_glue_add(a->glue, h, &a->slot);
    if (r < 0)
        goto fail;
    a->fetching = true;
    a->token_requests++;
    log_debug("Requesting an OAuth token");
    return 0;
fail:
    fetch_cleanup(a);
    return r;
}

/* The client id and secret go into HTTP Basic form-urlencoded (RFC 6749 §2.3.1). */
static char *form_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (!e)
        return NULL;
    char *copy = strdup(e);
    explicit_bzero(e, strlen(e));
    curl_free(e);
    return copy;
}

int auth_new(sd_event *e, struct curl_glue *g, const struct auth_settings *s, auth_notify_t notify,
             void *userdata, struct auth **ret)
{
    _cleanup_(auth_freep) struct auth *a = NULL;
    int r;

    if (s->kind == AUTH_PAT) {
        if (!token_chars_ok(s->token))
            return -EINVAL;
    } else if (s->kind == AUTH_OAUTH_M2M) {
        if (isempty(s->client_id) || isempty(s->client_secret) || isempty(s->token_url) ||
            strchr(s->client_id, ':'))
            return -EINVAL;
    } else
        return -EINVAL;

    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->event = sd_event_ref(e);
    a->glue = g;
    a->kind = s->kind;
    a->notify = notify;
    a->userdata = userdata;

    if (s->kind == AUTH_PAT) {
        register_secret(a, s->token);
        r = set_header(a, "Bearer", s->token);
        if (r < 0)
            return r;
        a->generation = 1;
        *ret = TAKE_PTR(a);
        return 0;
    }

    register_secret(a, s->client_secret);
    a->token_url = strdup(s->token_url);
    a->client_id = form_escape(s->client_id);
    a->client_secret = form_escape(s->client_secret);
    a->ca_file = s->ca_file ? strdup(s->ca_file) : NULL;
    a->user_agent = strdup(s->user_agent ? s->user_agent : "jobsd");
    if (!a->token_url || !a->client_id || !a->client_secret || (s->ca_file && !a->ca_file) ||
        !a->user_agent)
        return -ENOMEM;
    a->connect_timeout_usec = s->connect_timeout_usec ?: 10 * USEC_PER_SEC;
    a->timeout_usec = s->timeout_usec ?: 30 * USEC_PER_SEC;
    a->margin_usec = s->margin_usec ?: 40 * USEC_PER_SEC;
    a->retry_base_usec = s->retry_base_usec ?: USEC_PER_SEC;
    a->retry_cap_usec = s->retry_cap_usec ?: 60 * USEC_PER_SEC;
    backoff_seed(&a->rng);
    *ret = TAKE_PTR(a);
    return 0;
}

struct auth *auth_free(struct auth *a)
{
    if (!a)
        return NULL;
    fetch_cleanup(a);
    sd_event_source_disable_unref(a->retry_timer);
    if (a->token) {
        (void)log_remove_secret(a->token);
        free_secret(a->token);
    }
    free_secret(a->header);
    free_secret(a->client_secret);
    free_secret(a->client_id);
    free(a->token_url);
    free(a->ca_file);
    free(a->user_agent);
    sd_event_unref(a->event);
    free(a);
    return NULL;
}

int auth_header(struct auth *a, const char **ret_header, unsigned *ret_generation)
{
    if (a->kind == AUTH_PAT) {
        *ret_header = a->header;
        *ret_generation = a->generation;
        return 0;
    }

    uint64_t now = now_usec(a);
    bool usable = a->header && now < a->usable_to;
    if (usable) {
        if (now >= a->refresh_at && !a->fetching && now >= a->next_try)
            (void)fetch_start(a); /* background; the old token serves meanwhile */
        *ret_header = a->header;
        *ret_generation = a->generation;
        return 0;
    }

    a->wanted = true;
    if (a->fetching)
        return -EAGAIN;
    if (now < a->next_try)
        return a->failures >= FAILURES_BEFORE_ERROR || a->last_error == -EACCES ? a->last_error
                                                                                : -EAGAIN;
    int r = fetch_start(a);
    return r < 0 ? r : -EAGAIN;
}

bool auth_reject(struct auth *a, unsigned generation)
{
    if (a->kind != AUTH_OAUTH_M2M)
        return false;
    if (generation == a->generation && a->header) {
        log_info("Workspace refused OAuth token %u, fetching a new one", generation);
        free_secret(a->header);
        a->header = NULL;
        a->usable_to = a->refresh_at = 0;
        a->next_try = 0;
        if (!a->fetching) {
            a->wanted = true;
            (void)fetch_start(a);
        }
    }
    return true;
}

void auth_get_stats(struct auth *a, struct auth_stats *ret)
{
    *ret = (struct auth_stats){
        .kind = a->kind,
        .token_requests = a->token_requests,
        .token_failures = a->token_failures,
        .generation = a->generation,
        .fetching = a->fetching,
        .have_token = a->header != NULL,
        .expires_usec = a->kind == AUTH_PAT ? 0 : a->expires_at,
        .last_error = a->last_error,
    };
}
