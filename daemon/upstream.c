/* daemon/upstream.c: queue -> limiter -> token -> curl -> classify -> retry.
 *
 * A transfer is in exactly one place: the queue (waiting for the pump), curl
 * (running) or its own timer (backing off). Everything that starts transfers
 * runs in the pump, a defer source, so done callbacks never run inside
 * upstream_submit() and completions never recurse into each other.
 *
 * What is retried (reference §7.1, issue 5):
 *   - connect failures (refused, unresolved, connect timeout): the request
 *     never left, so every retry class;
 *   - 429, 503 and what api_error_is_retryable() names; a connection reset
 *     or truncated answer after sending: RETRY_SAFE and RETRY_WITH_TOKEN
 *     only (a RETRY_NEVER request may have been delivered: maybe_delivered);
 *   - 401/403 "Invalid access token" with an OAuth token: one new token and
 *     one re-send, RETRY_SAFE and RETRY_WITH_TOKEN only.
 * RETRY_NEVER requests use a fresh connection (CURLOPT_FRESH_CONNECT): curl
 * re-sends by itself when a reused connection closes before any answer.
 * Attempt timeouts after sending are never retried: the time is spent. */
#include <errno.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/backoff.h"
#include "daemon/curl-glue.h"
#include "daemon/limiter.h"
#include "daemon/upstream.h"
#include "proto/apierror.h"
#include "proto/log.h"
#include "proto/strutil.h"

/* CURLOPT_PROTOCOLS_STR (7.85) and curl_easy_header() (7.83). */
#if LIBCURL_VERSION_NUM < 0x075500
#error "jobsd's upstream client needs libcurl >= 7.85"
#endif

#define TIMER_ACCURACY_USEC 1
#define HEADER_VALUE_MAX 1024
#define PATH_MAX_LEN 8192
/* Jitter added to a Retry-After wait, so throttled clients do not return in step. */
#define RETRY_AFTER_JITTER_USEC (250 * USEC_PER_MSEC)

enum transfer_state {
    T_QUEUED,
    T_RUNNING,
    T_BACKOFF,
    T_DONE,
};

struct upstream_transfer {
    struct upstream *u;
    enum transfer_state state;
    bool limiter_waited; /* counted once in limiter_waits for this attempt */
    struct upstream_transfer *prev, *next;

    enum http_method method;
    enum retry_class retry;
    char *url;
    char *body;
    size_t body_len;
    char *user_agent;
    char *workspace_id;
    uint64_t give_up_at; /* no attempt starts after this (deadline, budget) */
    uint64_t deadline;

    unsigned attempts;
    bool reauthed;
    unsigned generation;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_glue_slot slot;
    sd_event_source *timer;

    /* The last outcome, kept until the next attempt starts. */
    struct buf resp;
    bool too_big;
    int status;
    int error;
    char *content_type;
    unsigned retry_after_s;
    bool maybe_delivered;

    upstream_done_t done;
    void *userdata;
};

struct tlist {
    struct upstream_transfer *head, *tail;
    unsigned n;
};

struct upstream {
    sd_event *event;
    struct curl_glue *glue;
    struct limiter *limiter;
    struct auth *auth;
    struct backoff_rng rng;

    char *host;
    char *ca_file;
    char *user_agent;
    uint64_t connect_timeout_usec, attempt_timeout_usec, retry_budget_usec;
    uint64_t backoff_base_usec, backoff_cap_usec;
    unsigned max_attempts, max_in_flight, queue_max;
    size_t max_body;
    size_t max_held_bytes, held_bytes;
    double rate;

    struct tlist queue;  /* T_QUEUED, in order */
    struct tlist active; /* T_RUNNING and T_BACKOFF */
    unsigned running, backing_off;
    uint64_t paused_until; /* after a 429 with Retry-After, nothing starts before */

    sd_event_source *pump;
    sd_event_source *pump_timer;

    uint64_t submitted, completed, attempts, retries, rejected_full, reauths, limiter_waits;
    int last_error;
    uint64_t last_error_usec, last_answer_usec;
    bool reachable;
};

void upstream_settings_defaults(struct upstream_settings *s)
{
    *s = (struct upstream_settings){
        .auth = AUTH_PAT,
        .connect_timeout_usec = 10 * USEC_PER_SEC,
        .attempt_timeout_usec = 60 * USEC_PER_SEC,
        .retry_budget_usec = 300 * USEC_PER_SEC,
        .max_attempts = 8,
        .backoff_base_usec = 500 * USEC_PER_MSEC,
        .backoff_cap_usec = 30 * USEC_PER_SEC,
        .rate = 10,
        .burst = 20,
        .max_in_flight = 16,
        .queue_max = 1000,
        .max_body = 64 * MIB,
        .max_held_bytes = 64 * MIB,
        .token_margin_usec = 40 * USEC_PER_SEC,
    };
}

/* ---- lists ---- */

static void tlist_unlink(struct tlist *l, struct upstream_transfer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        l->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        l->tail = t->prev;
    t->prev = t->next = NULL;
    l->n--;
}

static void tlist_push_tail(struct tlist *l, struct upstream_transfer *t)
{
    t->next = NULL;
    t->prev = l->tail;
    if (l->tail)
        l->tail->next = t;
    else
        l->head = t;
    l->tail = t;
    l->n++;
}

static void tlist_push_head(struct tlist *l, struct upstream_transfer *t)
{
    t->prev = NULL;
    t->next = l->head;
    if (l->head)
        l->head->prev = t;
    else
        l->tail = t;
    l->head = t;
    l->n++;
}

/* ---- small helpers ---- */

static uint64_t now_mono(struct upstream *u)
{
    uint64_t now = 0;
    (void)sd_event_now(u->event, CLOCK_MONOTONIC, &now);
    return now;
}

static uint64_t now_real(struct upstream *u)
{
    uint64_t now = 0;
    (void)sd_event_now(u->event, CLOCK_REALTIME, &now);
    return now;
}

static bool header_value_ok(const char *s)
{
    if (strlen(s) > HEADER_VALUE_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            return false;
    return true;
}

static bool path_ok(const char *s)
{
    if (!s || s[0] != '/' || strlen(s) > PATH_MAX_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return false;
    return true;
}

static void schedule_pump(struct upstream *u)
{
    (void)sd_event_source_set_enabled(u->pump, SD_EVENT_ONESHOT);
}

static void note_error(struct upstream *u, int error)
{
    u->last_error = error;
    u->last_error_usec = now_real(u);
}

/* Logs only the changes, so an outage is two lines, not one per request. */
static void set_reachable(struct upstream *u, bool reachable, int error)
{
    if (reachable && !u->reachable && u->last_answer_usec > 0)
        log_info("Workspace %s reachable again", u->host);
    else if (!reachable && u->reachable)
        log_warning_errno(error, "Workspace %s unreachable: %m", u->host);
    u->reachable = reachable;
}

static void attempt_cleanup(struct upstream_transfer *t)
{
    if (t->easy) {
        curl_glue_remove(t->u->glue, t->easy, &t->slot);
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
    }
    curl_slist_free_all(t->headers);
    t->headers = NULL;
}

static void transfer_free(struct upstream_transfer *t)
{
    struct upstream *u = t->u;

    if (t->state == T_QUEUED)
        tlist_unlink(&u->queue, t);
    else if (t->state == T_RUNNING || t->state == T_BACKOFF) {
        tlist_unlink(&u->active, t);
        if (t->state == T_RUNNING)
            u->running--;
        else
            u->backing_off--;
    }
    if (t->state == T_RUNNING && u->queue.head)
        schedule_pump(u);
    t->state = T_DONE;
    attempt_cleanup(t);
    sd_event_source_disable_unref(t->timer);
    u->held_bytes -= t->body_len;
    buf_done(&t->resp);
    free(t->url);
    free(t->body);
    free(t->user_agent);
    free(t->workspace_id);
    free(t->content_type);
    free(t);
}

static void set_state(struct upstream_transfer *t, enum transfer_state s)
{
    struct upstream *u = t->u;

    if (t->state == T_QUEUED)
        tlist_unlink(&u->queue, t);
    else if (t->state == T_RUNNING || t->state == T_BACKOFF) {
        tlist_unlink(&u->active, t);
        if (t->state == T_RUNNING) {
            u->running--;
            if (u->queue.head)
                schedule_pump(u); /* a slot is free */
        } else
            u->backing_off--;
    }
    t->state = s;
    if (s == T_RUNNING || s == T_BACKOFF) {
        tlist_push_tail(&u->active, t);
        if (s == T_RUNNING)
            u->running++;
        else
            u->backing_off++;
    }
    /* T_QUEUED: the caller puts it at the head or the tail. */
}

/* Hands the last outcome to the caller and frees t. error < 0 overrides. */
static void complete(struct upstream_transfer *t, int error)
{
    struct upstream *u = t->u;

    if (error < 0) {
        t->error = error;
        t->status = 0;
        buf_reset(&t->resp);
    }
    struct upstream_response r = {
        .status = t->status,
        .error = t->status > 0 ? 0 : (t->error < 0 ? t->error : -EIO),
        .body = t->resp.data ? t->resp.data : "",
        .body_len = t->resp.len,
        .content_type = t->content_type,
        .retry_after_s = t->retry_after_s,
        .attempts = t->attempts,
        .maybe_delivered = t->maybe_delivered,
    };
    upstream_done_t done = t->done;
    void *userdata = t->userdata;

    if (r.error < 0)
        note_error(u, r.error);
    else if (r.status == 429 || r.status >= 500)
        note_error(u, r.status);

    /* Out of every list before the callback, which may submit or cancel. */
    set_state(t, T_DONE);
    attempt_cleanup(t);
    u->completed++;
    if (done)
        done(&r, userdata);
    transfer_free(t);
}

/* ---- timers ---- */

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

/* One timer per transfer; what it means depends on the state: in the queue
 * the give-up time (deadline, budget), in backoff the next attempt. */
static int arm_timer(struct upstream_transfer *t, uint64_t when)
{
    if (!t->timer) {
        int r = sd_event_add_time(t->u->event, &t->timer, CLOCK_MONOTONIC, when,
                                  TIMER_ACCURACY_USEC, on_timer, t);
        if (r < 0)
            return r;
        (void)sd_event_source_set_description(t->timer, "upstream-transfer");
        return 0;
    }
    int r = sd_event_source_set_time(t->timer, when);
    if (r >= 0)
        r = sd_event_source_set_enabled(t->timer, SD_EVENT_ONESHOT);
    return r;
}

static void disarm_timer(struct upstream_transfer *t)
{
    if (t->timer)
        (void)sd_event_source_set_enabled(t->timer, SD_EVENT_OFF);
}

static void enqueue(struct upstream_transfer *t, bool at_head)
{
    struct upstream *u = t->u;

    set_state(t, T_QUEUED);
    if (at_head)
        tlist_push_head(&u->queue, t);
    else
        tlist_push_tail(&u->queue, t);
    if (t->give_up_at != UINT64_MAX)
        (void)arm_timer(t, t->give_up_at);
    else
        disarm_timer(t);
    schedule_pump(u);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
    struct upstream_transfer *t = userdata;

    if (t->state == T_BACKOFF)
        enqueue(t, true); /* retries go first: they waited longest */
    else if (t->state == T_QUEUED)
        /* Out of deadline or budget: the last answer if any, else -ETIMEDOUT. */
        complete(t, t->status > 0 ? 0 : -ETIMEDOUT);
    return 0;
}

/* ---- one attempt ---- */

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
    struct upstream_transfer *t = userdata;
    int r = buf_append(&t->resp, p, n);
    if (r == -EMSGSIZE)
        t->too_big = true;
    return r < 0 ? 0 : n;
}

static int append_header(struct curl_slist **l, const char *name, const char *value)
{
    _cleanup_free_ char *h = value ? strjoin(name, ": ", value) : strdup(name);
    if (!h)
        return -ENOMEM;
    struct curl_slist *n = curl_slist_append(*l, h);
    explicit_bzero(h, strlen(h)); /* may be the Authorization header */
    if (!n)
        return -ENOMEM;
    *l = n;
    return 0;
}

static void on_attempt_done(CURL *easy, CURLcode result, void *userdata);

static int attempt_start(struct upstream_transfer *t, const char *auth_header, uint64_t now)
{
    struct upstream *u = t->u;
    int r;

    buf_reset(&t->resp);
    t->too_big = false;
    t->status = 0;
    t->error = 0;
    t->retry_after_s = 0;
    free(t->content_type);
    t->content_type = NULL;

    t->easy = curl_easy_init();
    if (!t->easy)
        return -ENOMEM;
    t->slot = (struct curl_glue_slot){ .done = on_attempt_done, .userdata = t };

    r = 0;
    t->headers = curl_slist_append(NULL, "Accept: application/json");
    if (!t->headers)
        return -ENOMEM;
    if (t->body)
        r = append_header(&t->headers, "Content-Type", "application/json");
    else if (t->method != HTTP_GET && t->method != HTTP_HEAD)
        r = append_header(&t->headers, "Content-Type:", NULL); /* not curl's form type */
    if (r >= 0)
        r = append_header(&t->headers, auth_header, NULL);
    if (r >= 0 && t->workspace_id)
        r = append_header(&t->headers, "X-Databricks-Workspace-Id", t->workspace_id);
    if (r >= 0)
        r = append_header(&t->headers, "Expect:", NULL);
    if (r < 0)
        return r;

    uint64_t timeout = u->attempt_timeout_usec;
    if (t->deadline)
        timeout = MIN(timeout, t->deadline - now);
    long timeout_ms = (long)MAX(timeout / USEC_PER_MSEC, (uint64_t)1);
    long connect_ms = (long)MAX(MIN(u->connect_timeout_usec, timeout) / USEC_PER_MSEC, (uint64_t)1);

    CURL *h = t->easy;
#define TRY(opt, val)                                                                              \
    if (curl_easy_setopt(h, (opt), (val)) != CURLE_OK)                                             \
    return -EIO
    TRY(CURLOPT_URL, t->url);
    TRY(CURLOPT_PROTOCOLS_STR, "http,https");
    TRY(CURLOPT_FOLLOWLOCATION, 0L);
    TRY(CURLOPT_NOSIGNAL, 1L);
    TRY(CURLOPT_SSL_VERIFYPEER, 1L);
    TRY(CURLOPT_SSL_VERIFYHOST, 2L);
    if (u->ca_file)
        TRY(CURLOPT_CAINFO, u->ca_file);
    TRY(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    TRY(CURLOPT_PIPEWAIT, 1L);
    TRY(CURLOPT_TCP_KEEPALIVE, 1L);
    /* On a reused connection that dies before any answer, curl silently
     * sends the request again on a new one. A write that must not repeat
     * gets a connection of its own, so no such re-send can happen. */
    if (t->retry == RETRY_NEVER)
        TRY(CURLOPT_FRESH_CONNECT, 1L);
    TRY(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    TRY(CURLOPT_TIMEOUT_MS, timeout_ms);
    TRY(CURLOPT_USERAGENT, t->user_agent ? t->user_agent : u->user_agent);
    TRY(CURLOPT_HTTPHEADER, t->headers);
    TRY(CURLOPT_WRITEFUNCTION, on_body);
    TRY(CURLOPT_WRITEDATA, t);
    TRY(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)u->max_body);
    switch (t->method) {
    case HTTP_GET:
        TRY(CURLOPT_HTTPGET, 1L);
        break;
    case HTTP_HEAD:
        TRY(CURLOPT_NOBODY, 1L);
        break;
    case HTTP_POST:
        TRY(CURLOPT_POST, 1L);
        break;
    default:
        TRY(CURLOPT_CUSTOMREQUEST, http_method_to_string(t->method));
        break;
    }
    if (t->method != HTTP_GET && t->method != HTTP_HEAD) {
        TRY(CURLOPT_POSTFIELDS, t->body ? t->body : "");
        TRY(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len);
    }
#undef TRY

    r = curl_glue_add(u->glue, h, &t->slot);
    if (r < 0)
        return r;
    disarm_timer(t);
    set_state(t, T_RUNNING);
    t->attempts++;
    u->attempts++;
    return 0;
}

/* ---- outcomes ---- */

static int errno_from_curl(CURLcode c, long status, bool sent)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return -EHOSTUNREACH;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_GOT_NOTHING:
        return -ECONNRESET;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        /* A close before any answer is a reset; after part of one, a truncation. */
        return status > 0 ? -EPROTO : -ECONNRESET;
    case CURLE_FILESIZE_EXCEEDED:
        return -EMSGSIZE;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_ABORTED_BY_CALLBACK:
        return -ECANCELED;
    default:
        return -EPROTO; /* partial file, HTTP/2 framing, TLS, weird answers */
    }
}

/* A 401, or a 403 saying "Invalid access token" (reference §6.1). */
static bool is_token_refused(struct upstream_transfer *t, CURL *easy)
{
    if (t->status == 401)
        return true;
    if (t->status != 403)
        return false;
    struct curl_header *h = NULL;
    if (curl_easy_header(easy, "X-Databricks-Reason-Phrase", 0, CURLH_HEADER, -1, &h) ==
            CURLHE_OK &&
        h && strstr(h->value, "Invalid access token"))
        return true;
    struct api_error e;
    (void)api_error_parse(t->status, t->resp.data, t->resp.len, &e);
    return strstr(e.message, "Invalid access token") != NULL;
}

static void retry_or_complete(struct upstream_transfer *t, uint64_t delay, uint64_t now)
{
    struct upstream *u = t->u;

    if (t->attempts >= u->max_attempts || now + delay > t->give_up_at) {
        log_debug("Giving up on %s after %u attempts", t->url, t->attempts);
        complete(t, 0);
        return;
    }
    attempt_cleanup(t);
    set_state(t, T_BACKOFF);
    u->retries++;
    if (arm_timer(t, now + delay) < 0)
        complete(t, 0);
}

static void on_attempt_done(CURL *easy, CURLcode result, void *userdata)
{
    struct upstream_transfer *t = userdata;
    struct upstream *u = t->u;
    uint64_t now = now_mono(u);
    long status = 0;
    curl_off_t sent_bytes = 0;
    const char *ct = NULL;
    struct curl_header *h = NULL;

    (void)curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    (void)curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &sent_bytes);
    if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) {
        t->content_type = strdup(ct);
        if (!t->content_type) {
            complete(t, -ENOMEM);
            return;
        }
    }
    if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h) {
        unsigned s;
        if (retry_after_parse(h->value, (time_t)(now_real(u) / USEC_PER_SEC), &s) >= 0)
            t->retry_after_s = s;
    }
    bool sent = sent_bytes > 0;
    bool may_retry_after_send = t->retry != RETRY_NEVER;

    if (result == CURLE_OK) {
        t->status = (int)status;
        set_reachable(u, true, 0);
        u->last_answer_usec = now_real(u);
        /* The workspace asked everyone to wait, whatever this request's class. */
        if (status == 429 && t->retry_after_s > 0)
            u->paused_until = MAX(u->paused_until, now + t->retry_after_s * USEC_PER_SEC);

        if (u->auth && !t->reauthed && may_retry_after_send && is_token_refused(t, easy) &&
            auth_reject(u->auth, t->generation)) {
            t->reauthed = true;
            u->reauths++;
            attempt_cleanup(t);
            enqueue(t, true);
            return;
        }
        if (t->retry == RETRY_NEVER && (status == 502 || status == 503 || status == 504))
            t->maybe_delivered = true; /* a gateway's answer: the write may have happened */
        if (status >= 400 && may_retry_after_send) {
            struct api_error e;
            (void)api_error_parse((int)status, t->resp.data, t->resp.len, &e);
            if (api_error_is_retryable(&e)) {
                uint64_t delay;
                if (t->retry_after_s > 0)
                    delay = t->retry_after_s * USEC_PER_SEC +
                            backoff_random(&u->rng) % (RETRY_AFTER_JITTER_USEC + 1);
                else
                    delay = backoff_delay_usec(u->backoff_base_usec, u->backoff_cap_usec,
                                               t->attempts, backoff_random(&u->rng));
                log_debug("%s answered %ld, retrying in %" PRIu64 " ms", t->url, status,
                          delay / USEC_PER_MSEC);
                retry_or_complete(t, delay, now);
                return;
            }
        }
        complete(t, 0);
        return;
    }

    int error = t->too_big ? -EMSGSIZE : errno_from_curl(result, status, sent);
    log_debug("%s failed: %s (%d bytes sent)", t->url, curl_easy_strerror(result), (int)sent_bytes);
    t->status = 0;
    t->error = error;
    buf_reset(&t->resp);
    if (error == -ECONNREFUSED || error == -EHOSTUNREACH || (error == -ETIMEDOUT && !sent))
        set_reachable(u, false, error);

    bool retry;
    if (!sent && (error == -ECONNREFUSED || error == -EHOSTUNREACH || error == -ETIMEDOUT ||
                  error == -ECONNRESET))
        retry = true; /* never left this machine: safe for every class */
    else if (error == -ECONNRESET || error == -EPROTO)
        retry = may_retry_after_send && result != CURLE_PEER_FAILED_VERIFICATION &&
                result != CURLE_SSL_CACERT_BADFILE && result != CURLE_SSL_CERTPROBLEM;
    else
        retry = false;

    if (!retry) {
        if (sent && t->retry == RETRY_NEVER)
            t->maybe_delivered = true;
        complete(t, 0);
        return;
    }
    retry_or_complete(t,
                      backoff_delay_usec(u->backoff_base_usec, u->backoff_cap_usec, t->attempts,
                                         backoff_random(&u->rng)),
                      now);
}

/* ---- the pump ---- */

static int on_pump(sd_event_source *s, void *userdata);

static int on_pump_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
    return on_pump(NULL, userdata);
}

static void arm_pump_timer(struct upstream *u, uint64_t when)
{
    if (sd_event_source_set_time(u->pump_timer, when) >= 0)
        (void)sd_event_source_set_enabled(u->pump_timer, SD_EVENT_ONESHOT);
}

/* Fails the transfers queued now (not ones their callbacks add). */
static void fail_queued(struct upstream *u, int error)
{
    for (unsigned n = u->queue.n; n > 0 && u->queue.head; n--)
        complete(u->queue.head, error);
}

static int on_pump(sd_event_source *s, void *userdata)
{
    struct upstream *u = userdata;
    uint64_t now = now_mono(u);

    while (u->queue.head && u->running < u->max_in_flight) {
        struct upstream_transfer *t = u->queue.head;
        const char *header = NULL;
        unsigned gen = 0;
        uint64_t wait = 0;
        int r;

        if (now < u->paused_until) {
            arm_pump_timer(u, u->paused_until);
            return 0;
        }
        if (t->deadline && now >= t->deadline) {
            complete(t, t->status > 0 ? 0 : -ETIMEDOUT);
            continue;
        }
        if (u->auth) {
            r = auth_header(u->auth, &header, &gen);
            if (r == -EAGAIN)
                return 0; /* the auth notify pumps again */
            if (r < 0) {
                fail_queued(u, r);
                return 0;
            }
        }
        if (limiter_take(u->limiter, now, &wait) < 0) {
            if (!t->limiter_waited) {
                t->limiter_waited = true;
                u->limiter_waits++;
            }
            arm_pump_timer(u, now + wait);
            return 0;
        }
        t->limiter_waited = false;
        t->generation = gen;
        r = attempt_start(t, header, now);
        if (r < 0) {
            limiter_return(u->limiter);
            complete(t, r);
        }
    }
    return 0;
}

static void on_auth_notify(int error, void *userdata)
{
    struct upstream *u = userdata;
    if (error < 0)
        note_error(u, error);
    schedule_pump(u);
}

/* ---- the API ---- */

static bool host_ok(const char *host)
{
    const char *rest = startswith(host, "https://");
    if (rest)
        return *rest && header_value_ok(host);
    /* Plain HTTP only to this machine (tests, an SSH tunnel): tokens never
     * cross a network in the clear. */
    rest = startswith(host, "http://");
    if (!rest)
        return false;
    static const char *const loopback[] = { "127.0.0.1", "localhost", "[::1]" };
    for (size_t i = 0; i < ELEMENTSOF(loopback); i++) {
        const char *p = startswith(rest, loopback[i]);
        if (p && (*p == '\0' || *p == ':' || *p == '/'))
            return header_value_ok(host);
    }
    return false;
}

int upstream_new(sd_event *e, const struct upstream_settings *s, struct upstream **ret)
{
    _cleanup_(upstream_freep) struct upstream *u = NULL;
    int r;

    if (!s->host || !host_ok(s->host) || s->max_attempts == 0 || s->max_in_flight == 0 ||
        s->queue_max == 0 || s->max_body == 0 || s->attempt_timeout_usec == 0 ||
        s->connect_timeout_usec == 0 || (s->user_agent && !header_value_ok(s->user_agent)))
        return -EINVAL;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -EIO;
    u = calloc(1, sizeof(*u));
    if (!u) {
        curl_global_cleanup();
        return -ENOMEM;
    }
    u->event = sd_event_ref(e);
    u->host = strdup(s->host);
    u->ca_file = s->ca_file ? strdup(s->ca_file) : NULL;
    u->user_agent = strdup(s->user_agent ? s->user_agent : "jobsd/" PACKAGE_VERSION);
    if (!u->host || (s->ca_file && !u->ca_file) || !u->user_agent)
        return -ENOMEM;
    size_t n = strlen(u->host);
    while (n > 0 && u->host[n - 1] == '/')
        u->host[--n] = '\0';

    u->connect_timeout_usec = s->connect_timeout_usec;
    u->attempt_timeout_usec = s->attempt_timeout_usec;
    u->retry_budget_usec = s->retry_budget_usec;
    u->backoff_base_usec = s->backoff_base_usec;
    u->backoff_cap_usec = s->backoff_cap_usec;
    u->max_attempts = s->max_attempts;
    u->max_in_flight = s->max_in_flight;
    u->queue_max = s->queue_max;
    u->max_body = s->max_body;
    u->max_held_bytes = s->max_held_bytes;
    u->rate = s->rate;
    backoff_seed(&u->rng);

    r = limiter_new(s->rate, s->burst, now_mono(u), &u->limiter);
    if (r < 0)
        return r;
    r = curl_glue_new(e, &u->glue);
    if (r < 0)
        return r;
    CURLM *m = curl_glue_multi(u->glue);
    if (curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX) != CURLM_OK ||
        curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)s->max_in_flight + 1) != CURLM_OK)
        return -EIO;

    _cleanup_free_ char *token_url = NULL;
    if (s->auth == AUTH_OAUTH_M2M && !s->token_url) {
        token_url = strjoin(u->host, "/oidc/v1/token");
        if (!token_url)
            return -ENOMEM;
    }
    struct auth_settings as = {
        .kind = s->auth,
        .token = s->token,
        .client_id = s->client_id,
        .client_secret = s->client_secret,
        .token_url = s->token_url ? s->token_url : token_url,
        .ca_file = s->ca_file,
        .user_agent = u->user_agent,
        .connect_timeout_usec = s->connect_timeout_usec,
        .timeout_usec = s->attempt_timeout_usec,
        .margin_usec = s->token_margin_usec,
        .retry_base_usec = s->backoff_base_usec,
        .retry_cap_usec = s->backoff_cap_usec,
    };
    r = auth_new(e, u->glue, &as, on_auth_notify, u, &u->auth);
    if (r < 0)
        return r;

    r = sd_event_add_defer(e, &u->pump, on_pump, u);
    if (r < 0)
        return r;
    (void)sd_event_source_set_enabled(u->pump, SD_EVENT_OFF);
    (void)sd_event_source_set_description(u->pump, "upstream-pump");
    r = sd_event_add_time(e, &u->pump_timer, CLOCK_MONOTONIC, UINT64_MAX, TIMER_ACCURACY_USEC,
                          on_pump_timer, u);
    if (r < 0)
        return r;
    (void)sd_event_source_set_enabled(u->pump_timer, SD_EVENT_OFF);
    (void)sd_event_source_set_description(u->pump_timer, "upstream-pace");

    *ret = TAKE_PTR(u);
    return 0;
}

struct upstream *upstream_free(struct upstream *u)
{
    if (!u)
        return NULL;
    while (u->queue.head)
        transfer_free(u->queue.head);
    while (u->active.head)
        transfer_free(u->active.head);
    auth_free(u->auth);
    curl_glue_free(u->glue);
    limiter_free(u->limiter);
    sd_event_source_disable_unref(u->pump);
    sd_event_source_disable_unref(u->pump_timer);
    free(u->host);
    free(u->ca_file);
    free(u->user_agent);
    sd_event_unref(u->event);
    free(u);
    curl_global_cleanup();
    return NULL;
}

int upstream_submit(struct upstream *u, const struct upstream_request *req, upstream_done_t done,
                    void *userdata, struct upstream_transfer **ret)
{
    if (!path_ok(req->path_and_query) || (req->body_len > 0 && !req->body) ||
        (req->user_agent && !header_value_ok(req->user_agent)) ||
        (req->workspace_id_header && !header_value_ok(req->workspace_id_header)) ||
        !http_method_to_string(req->method))
        return -EINVAL;
    /* Transfers waiting to retry count too: they return to the queue. */
    if (u->queue.n + u->backing_off >= u->queue_max ||
        req->body_len > u->max_held_bytes - u->held_bytes) {
        u->rejected_full++;
        return -EAGAIN;
    }

    struct upstream_transfer *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->u = u;
    t->state = T_DONE; /* in no list yet */
    t->method = req->method;
    t->retry = req->retry;
    t->done = done;
    t->userdata = userdata;
    t->resp = BUF_INIT(u->max_body);
    t->url = strjoin(u->host, req->path_and_query);
    if (req->body) {
        t->body = malloc(req->body_len + 1);
        if (t->body) {
            memcpy(t->body, req->body, req->body_len);
            t->body[req->body_len] = '\0';
        }
        t->body_len = req->body_len;
        u->held_bytes += t->body_len;
    }
    t->user_agent = req->user_agent ? strdup(req->user_agent) : NULL;
    t->workspace_id = req->workspace_id_header ? strdup(req->workspace_id_header) : NULL;
    if (!t->url || (req->body && !t->body) || (req->user_agent && !t->user_agent) ||
        (req->workspace_id_header && !t->workspace_id)) {
        transfer_free(t);
        return -ENOMEM;
    }

    uint64_t now = now_mono(u);
    t->deadline = req->deadline_usec;
    t->give_up_at = u->retry_budget_usec ? now + u->retry_budget_usec : UINT64_MAX;
    if (t->deadline)
        t->give_up_at = MIN(t->give_up_at, t->deadline);
    u->submitted++;
    enqueue(t, false);
    if (ret)
        *ret = t;
    return 0;
}

void upstream_cancel(struct upstream_transfer *t)
{
    if (!t || t->state == T_DONE)
        return;
    transfer_free(t);
}

int upstream_set_rate(struct upstream *u, double rate, unsigned burst)
{
    int r = limiter_set(u->limiter, rate, burst);
    if (r < 0)
        return r;
    u->rate = rate;
    schedule_pump(u);
    return 0;
}

unsigned upstream_retry_after_hint(struct upstream *u)
{
    double s = (double)(u->queue.n + u->running) / u->rate;
    if (s < 1)
        return 1;
    return s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : (unsigned)s + 1;
}

int upstream_get_stats(struct upstream *u, struct upstream_stats *ret)
{
    *ret = (struct upstream_stats){
        .queued = u->queue.n,
        .in_flight = u->running,
        .backing_off = u->backing_off,
        .limiter_tokens_milli = limiter_tokens_milli(u->limiter, now_mono(u)),
        .submitted = u->submitted,
        .completed = u->completed,
        .attempts = u->attempts,
        .retries = u->retries,
        .rejected_full = u->rejected_full,
        .limiter_waits = u->limiter_waits,
        .reauths = u->reauths,
        .last_error = u->last_error,
        .last_error_usec = u->last_error_usec,
        .last_answer_usec = u->last_answer_usec,
        .reachable = u->reachable,
    };
    auth_get_stats(u->auth, &ret->auth);
    return 0;
}
