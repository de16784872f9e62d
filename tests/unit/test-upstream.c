/* Integration-style tests for daemon/upstream: the client runs on an
 * sd-event loop in this thread against a small workspace stand-in served by
 * libmicrohttpd in its own threads. Each fault the workspace can show
 * (429 with Retry-After in seconds or as a date, 503, reset, hang, truncated
 * body, non-JSON, a refused OAuth token) gives the documented answer. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/curl-glue.h"
#include "daemon/upstream.h"
#include "proto/log.h"
#include "proto/strutil.h"
#include "tests/tap.h"

#define MSEC UINT64_C(1000)
#define SEC UINT64_C(1000000)
#define PAT "pat-secret-1234"
#define CLIENT_ID "sp-client-1"
#define CLIENT_SECRET "sp-secret-5678"
#define MAX_KEYS 64
#define MAX_TOKENS 64

/* ------------------------------------------------------------------ */
/* The stand-in workspace. Everything below `lock` is shared with MHD's
 * threads. */

struct server {
    struct MHD_Daemon *d;
    uint16_t port;
    int quit_fd; /* eventfd: hanging handlers return when it is written */
    pthread_mutex_t lock;
    bool oauth;
    unsigned token_ttl_s;
    unsigned tokens_issued;
    unsigned token_requests;
    unsigned token_fail_n;    /* the next n token requests get a 503 */
    unsigned min_valid_token; /* tokens below this number are refused */
    unsigned token_uses[MAX_TOKENS];
    unsigned refused;
    unsigned connections;
    struct {
        char key[64];
        unsigned n;
    } counters[MAX_KEYS];
    char echo[1024];
};

static struct server srv;

struct req_ctx {
    struct buf body;
};

/* Bumps and returns the count of key (1 for the first request). */
static unsigned count_key(const char *key)
{
    unsigned n = 0;
    pthread_mutex_lock(&srv.lock);
    for (size_t i = 0; i < MAX_KEYS; i++) {
        if (srv.counters[i].key[0] == '\0')
            (void)strscpy(srv.counters[i].key, sizeof(srv.counters[i].key), key);
        if (streq(srv.counters[i].key, key)) {
            n = ++srv.counters[i].n;
            break;
        }
    }
    pthread_mutex_unlock(&srv.lock);
    return n;
}

static unsigned key_count(const char *key)
{
    unsigned n = 0;
    pthread_mutex_lock(&srv.lock);
    for (size_t i = 0; i < MAX_KEYS; i++)
        if (streq(srv.counters[i].key, key))
            n = srv.counters[i].n;
    pthread_mutex_unlock(&srv.lock);
    return n;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             const char *body, const char *h1, const char *v1)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    if (h1)
        MHD_add_response_header(r, h1, v1);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, const char *body)
{
    return reply(c, status, "application/json", body, NULL, NULL);
}

/* Blocks the connection's thread for ms (or until the test ends). */
static void wait_quit(int ms)
{
    struct pollfd p = { .fd = srv.quit_fd, .events = POLLIN };
    (void)poll(&p, 1, ms);
}

static ssize_t trunc_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    if (pos == 0 && max >= 10) {
        memcpy(buf, "{\"runs\": [", 10);
        return 10;
    }
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

static unsigned arg_uint(struct MHD_Connection *c, const char *name, unsigned def)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    int n;
    return v && parse_int(v, &n) >= 0 && n >= 0 ? (unsigned)n : def;
}

static const char *arg_str(struct MHD_Connection *c, const char *name, const char *def)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    return v ? v : def;
}

static enum MHD_Result serve_token(struct MHD_Connection *c, struct req_ctx *ctx)
{
    /* base64("sp-client-1:sp-secret-5678") */
    const char *want = "Basic c3AtY2xpZW50LTE6c3Atc2VjcmV0LTU2Nzg=";
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    char body[256];

    pthread_mutex_lock(&srv.lock);
    srv.token_requests++;
    bool fail = srv.token_fail_n > 0;
    if (fail)
        srv.token_fail_n--;
    unsigned ttl = srv.token_ttl_s;
    unsigned n = fail ? 0 : ++srv.tokens_issued;
    pthread_mutex_unlock(&srv.lock);

    if (fail)
        return reply(c, 503, "text/html", "<html>upstream connect error</html>", NULL, NULL);

    if (!auth || !streq(auth, want) || !ct ||
        !startswith(ct, "application/x-www-form-urlencoded") || !ctx->body.data ||
        !streq(ctx->body.data, "grant_type=client_credentials&scope=all-apis"))
        return reply_json(c, 401, "{\"error\":\"invalid_client\"}");
    snprintf(body, sizeof(body),
             "{\"access_token\":\"tok-%u-abcdef\",\"token_type\":\"Bearer\",\"expires_in\":%u,"
             "\"scope\":\"all-apis\"}",
             n, ttl);
    return reply_json(c, 200, body);
}

/* 0 when the request carries an acceptable credential. */
static bool authorized(struct MHD_Connection *c)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    bool good = false;

    pthread_mutex_lock(&srv.lock);
    if (!srv.oauth)
        good = auth && streq(auth, "Bearer " PAT);
    else if (auth && startswith(auth, "Bearer tok-")) {
        int n = 0;
        char num[16] = "";
        const char *p = auth + strlen("Bearer tok-");
        size_t len = strcspn(p, "-");
        if (len > 0 && len < sizeof(num)) {
            memcpy(num, p, len);
            if (parse_int(num, &n) >= 0 && n > 0 && n < MAX_TOKENS &&
                (unsigned)n >= srv.min_valid_token && (unsigned)n <= srv.tokens_issued) {
                good = true;
                srv.token_uses[n]++;
            }
        }
    }
    if (!good)
        srv.refused++;
    pthread_mutex_unlock(&srv.lock);
    return good;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    struct req_ctx *ctx = *con_cls;
    char body[1024];

    if (!ctx) {
        ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
            return MHD_NO;
        ctx->body = BUF_INIT(64 * KIB);
        *con_cls = ctx;
        /* A reset before any answer: close as soon as the request is in. */
        if (streq(url, "/api/test/reset")) {
            unsigned fails = arg_uint(c, "fails", 1000);
            if (count_key(arg_str(c, "key", "reset")) <= fails)
                return MHD_NO;
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        (void)buf_append(&ctx->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }

    if (streq(url, "/oidc/v1/token"))
        return serve_token(c, ctx);
    if (streq(url, "/api/test/reset"))
        return reply_json(c, 200, "{\"ok\":true}");
    if (!authorized(c))
        return reply(c, 403, "application/json",
                     "{\"error_code\":403,\"message\":\"Invalid access token.\"}",
                     "X-Databricks-Reason-Phrase", "Invalid access token.");

    if (streq(url, "/api/test/ok")) {
        snprintf(body, sizeof(body), "{\"ok\":true,\"n\":%u}", count_key(arg_str(c, "key", "ok")));
        return reply_json(c, 200, body);
    }
    if (streq(url, "/api/test/echo")) {
        const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
        const char *ac = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        const char *ws =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Databricks-Workspace-Id");
        const char *ex = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
        snprintf(body, sizeof(body), "%s|%s|%s|%s|%s|%s|%s", method, ua ? ua : "-", ac ? ac : "-",
                 ct ? ct : "-", ws ? ws : "-", ex ? ex : "-",
                 ctx->body.data ? ctx->body.data : "-");
        return reply_json(c, 200, body);
    }
    if (streq(url, "/api/test/flaky")) {
        unsigned fails = arg_uint(c, "fails", 1000), status = arg_uint(c, "status", 503);
        unsigned ra = arg_uint(c, "ra", 0);
        bool date = arg_uint(c, "date", 0) != 0;
        unsigned n = count_key(arg_str(c, "key", "flaky"));
        if (n > fails) {
            snprintf(body, sizeof(body), "{\"ok\":true,\"n\":%u}", n);
            return reply_json(c, 200, body);
        }
        char value[64] = "";
        if (date) {
            time_t t = time(NULL) + ra;
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(value, sizeof(value), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        } else if (ra)
            snprintf(value, sizeof(value), "%u", ra);
        snprintf(body, sizeof(body), "{\"error_code\":\"%s\",\"message\":\"try %u\"}",
                 status == 429 ? "REQUEST_LIMIT_EXCEEDED" : "TEMPORARILY_UNAVAILABLE", n);
        return reply(c, status, "application/json", body, value[0] ? "Retry-After" : NULL, value);
    }
    if (streq(url, "/api/test/drop")) {
        /* The request is processed, then the reply is lost. */
        (void)count_key(arg_str(c, "key", "drop"));
        return MHD_NO;
    }
    if (streq(url, "/api/test/hang")) {
        wait_quit(-1);
        return MHD_NO;
    }
    if (streq(url, "/api/test/slow")) {
        wait_quit((int)arg_uint(c, "ms", 100));
        snprintf(body, sizeof(body), "{\"ok\":true,\"n\":%u}",
                 count_key(arg_str(c, "key", "slow")));
        return reply_json(c, 200, body);
    }
    if (streq(url, "/api/test/trunc")) {
        unsigned fails = arg_uint(c, "fails", 1000);
        if (count_key(arg_str(c, "key", "trunc")) > fails)
            return reply_json(c, 200, "{\"runs\": []}");
        struct MHD_Response *r =
            MHD_create_response_from_callback(100, 1024, trunc_reader, NULL, NULL);
        MHD_add_response_header(r, "Content-Type", "application/json");
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (streq(url, "/api/test/html"))
        return reply(c, 200, "text/html", "<html><body>Bad gateway</body></html>", NULL, NULL);
    if (streq(url, "/api/test/big")) {
        size_t n = 2 * MIB;
        char *big = malloc(n);
        if (!big)
            return MHD_NO;
        memset(big, ' ', n);
        struct MHD_Response *r = MHD_create_response_from_buffer(n, big, MHD_RESPMEM_MUST_FREE);
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    return reply_json(c, 404, "{\"error_code\":\"NOT_FOUND\",\"message\":\"no such path\"}");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req_ctx *ctx = *con_cls;
    if (ctx) {
        buf_done(&ctx->body);
        free(ctx);
        *con_cls = NULL;
    }
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_lock(&srv.lock);
        srv.connections++;
        pthread_mutex_unlock(&srv.lock);
    }
}

static int server_start(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    pthread_mutex_init(&srv.lock, NULL);
    srv.quit_fd = eventfd(0, EFD_CLOEXEC);
    if (srv.quit_fd < 0)
        return -errno;
    srv.token_ttl_s = 3600;
    srv.d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                             NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                             MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
                             MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!srv.d)
        return -EIO;
    /* MHD_start_daemon() returns once the socket listens: ready, no waiting. */
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || info->port == 0)
        return -EIO;
    srv.port = info->port;
    return 0;
}

static void server_stop(void)
{
    uint64_t one = 1;
    if (write(srv.quit_fd, &one, sizeof(one)) < 0)
        tap_diag("eventfd write failed");
    MHD_stop_daemon(srv.d);
    close(srv.quit_fd);
    pthread_mutex_destroy(&srv.lock);
}

/* A self-signed certificate for IP 127.0.0.1 (valid until 2126) and its
 * key, made for this test only: the TLS server below uses them, and the
 * client trusts the certificate through ca_file. */
static const char test_cert[] = "-----BEGIN CERTIFICATE-----\n"
                                "MIIBkzCCATigAwIBAgIUTZizVpqr3BkpIH7xWpIFrD7QQ0AwCgYIKoZIzj0EAwIw\n"
                                "FTETMBEGA1UEAwwKam9ic2QgdGVzdDAgFw0yNjExMjkxMjI3NTZaGA8yMTI2MTEw\n"
                                "NTEyMjc1NlowFTETMBEGA1UEAwwKam9ic2QgdGVzdDBZMBMGByqGSM49AgEGCCqG\n"
                                "SM49AwEHA0IABGNlwHT/Onf6hAAc7q4zX5w+gjXVfm7ps2I11qANNjZogiwQ6w/b\n"
                                "9JQlFwiy1P+tGGffuIOdhW+WoGvANy722/ujZDBiMB0GA1UdDgQWBBRDOFU8x6uR\n"
                                "v5zfb7wIo3tKuP9HkDAfBgNVHSMEGDAWgBRDOFU8x6uRv5zfb7wIo3tKuP9HkDAP\n"
                                "BgNVHRMBAf8EBTADAQH/MA8GA1UdEQQIMAaHBH8AAAEwCgYIKoZIzj0EAwIDSQAw\n"
                                "RgIhAMv9MaTVstzM1owUhFU3l4EkhpqleUll5RYGabyNO4m1AiEAvO3SUB46LWlJ\n"
                                "wFqT4lAoc+V5y1HKpUKhJg96Pgeh71Q=\n"
                                "-----END CERTIFICATE-----\n";
static const char test_key[] = "-----BEGIN PRIVATE KEY-----\n"
                               "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgdV/l+eB4WJDEcne6\n"
                               "0gIFySQ0ulXB9HWRkWITEZ0/9EmhRANCAARjZcB0/zp3+oQAHO6uM1+cPoI11X5u\n"
                               "6bNiNdagDTY2aIIsEOsP2/SUJRcIstT/rRhn37iDnYVvlqBrwDcu9tv7\n"
                               "-----END PRIVATE KEY-----\n";

/* The same handler behind TLS; 0 when MHD has no TLS. */
static struct MHD_Daemon *tls_start(uint16_t *ret_port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return NULL;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL,
        NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_HTTPS_MEM_KEY, test_key,
        MHD_OPTION_HTTPS_MEM_CERT, test_cert, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!d)
        return NULL;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || info->port == 0) {
        MHD_stop_daemon(d);
        return NULL;
    }
    *ret_port = info->port;
    return d;
}

/* ------------------------------------------------------------------ */
/* The client side. */

static sd_event *loop;
static char base_url[64];

struct result {
    bool done;
    int status, error;
    char body[256];
    char content_type[64];
    size_t body_len;
    unsigned attempts, retry_after_s;
    bool maybe_delivered;
    uint64_t started, elapsed;
};

static uint64_t now_usec(void)
{
    uint64_t t = 0;
    (void)sd_event_now(loop, CLOCK_MONOTONIC, &t);
    return t;
}

static uint64_t clock_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec / 1000;
}

static void on_done(const struct upstream_response *r, void *userdata)
{
    struct result *res = userdata;
    res->done = true;
    res->status = r->status;
    res->error = r->error;
    res->body_len = r->body_len;
    (void)strscpy(res->body, sizeof(res->body), r->body);
    (void)strscpy(res->content_type, sizeof(res->content_type),
                  r->content_type ? r->content_type : "");
    res->attempts = r->attempts;
    res->retry_after_s = r->retry_after_s;
    res->maybe_delivered = r->maybe_delivered;
    res->elapsed = clock_usec() - res->started;
}

/* Runs the loop until *n reaches target, or 30 s. */
static bool loop_until(const unsigned *n, unsigned target)
{
    uint64_t end = clock_usec() + 30 * SEC;
    while (*n < target && clock_usec() < end)
        if (sd_event_run(loop, 100 * MSEC) < 0)
            return false;
    return *n >= target;
}

static unsigned done_count;

static void on_done_count(const struct upstream_response *r, void *userdata)
{
    struct result *res = userdata;
    on_done(r, userdata);
    (void)res;
    done_count++;
}

static struct result run(struct upstream *u, enum http_method m, const char *path,
                         enum retry_class retry, const char *body)
{
    struct result res = { .started = clock_usec() };
    struct upstream_request req = {
        .method = m,
        .path_and_query = path,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .retry = retry,
    };
    unsigned before = done_count;
    int r = upstream_submit(u, &req, on_done_count, &res, NULL);
    if (r < 0) {
        res.error = r;
        return res;
    }
    if (!loop_until(&done_count, before + 1))
        tap_diag("%s did not finish", path);
    return res;
}

static void settings_for_test(struct upstream_settings *s)
{
    upstream_settings_defaults(s);
    s->host = base_url;
    s->user_agent = "jobsd/0.1.0 test/1 os/linux auth/pat";
    s->auth = AUTH_PAT;
    s->token = PAT;
    s->backoff_base_usec = 50 * MSEC;
    s->backoff_cap_usec = 200 * MSEC;
    s->max_attempts = 3;
    s->attempt_timeout_usec = 2 * SEC;
    s->connect_timeout_usec = 1 * SEC;
    s->rate = 1000;
    s->burst = 100;
}

static struct upstream *new_upstream(const struct upstream_settings *s)
{
    struct upstream *u = NULL;
    int r = upstream_new(loop, s, &u);
    if (r < 0)
        tap_diag("upstream_new: %s", strerror(-r));
    return u;
}

/* ------------------------------------------------------------------ */

static void test_basic_and_headers(void)
{
    struct upstream_settings s;
    settings_for_test(&s);
    _cleanup_(upstream_freep) struct upstream *u = new_upstream(&s);
    if (!ok(u, "upstream_new"))
        return;

    struct result r = run(u, HTTP_GET, "/api/test/ok?key=basic", RETRY_SAFE, NULL);
    is_int(r.status, 200, "GET answered 200");
    is_int(r.error, 0, "no error");
    is_int(r.attempts, 1, "one attempt");
    is_str(r.body, "{\"ok\":true,\"n\":1}", "body passed through");
    is_str(r.content_type, "application/json", "content type passed through");

    r = run(u, HTTP_GET, "/api/test/echo", RETRY_SAFE, NULL);
    is_str(r.body, "GET|jobsd/0.1.0 test/1 os/linux auth/pat|application/json|-|-|-|-",
           "GET: UA, Accept, no Content-Type, no Expect");

    struct result res = { .started = clock_usec() };
    struct upstream_request req = {
        .method = HTTP_POST,
        .path_and_query = "/api/test/echo",
        .body = "{\"job_id\":1}",
        .body_len = 12,
        .retry = RETRY_WITH_TOKEN,
        .user_agent = "databricks-sdk-py/0.133.0 auth/pat",
        .workspace_id_header = "123456789",
    };
    unsigned before = done_count;
    is_int(upstream_submit(u, &req, on_done_count, &res, NULL), 0, "submit POST");
    is_int(res.done, false, "callback never runs inside submit");
    loop_until(&done_count, before + 1);
    is_str(res.body,
           "POST|databricks-sdk-py/0.133.0 auth/pat|application/json|application/json|123456789|-|"
           "{\"job_id\":1}",
           "POST: body, Content-Type, caller's UA, workspace id header");

    r = run(u, HTTP_POST, "/api/test/echo", RETRY_NEVER, NULL);
    is_str(r.body, "POST|jobsd/0.1.0 test/1 os/linux auth/pat|application/json|-|-|-|-",
           "POST without body: no form Content-Type");

    /* Bad input is refused before anything is queued. */
    struct upstream_request bad = { .method = HTTP_GET, .path_and_query = "api/x" };
    is_int(upstream_submit(u, &bad, on_done, &res, NULL), -EINVAL, "path without '/' refused");
    bad.path_and_query = "/api/x\r\nHost: evil";
    is_int(upstream_submit(u, &bad, on_done, &res, NULL), -EINVAL, "CRLF in path refused");
    bad.path_and_query = "/api/x";
    bad.workspace_id_header = "1\r\nX-Evil: 1";
    is_int(upstream_submit(u, &bad, on_done, &res, NULL), -EINVAL, "CRLF in header refused");

    /* Settings that would weaken TLS or are nonsense are refused. */
    struct upstream *v = NULL;
    struct upstream_settings t = s;
    t.host = "http://example.com";
    is_int(upstream_new(loop, &t, &v), -EINVAL, "plain http to a non-loopback host refused");
    t.host = "ftp://127.0.0.1";
    is_int(upstream_new(loop, &t, &v), -EINVAL, "non-http scheme refused");
    t = s;
    t.token = "";
    is_int(upstream_new(loop, &t, &v), -EINVAL, "empty PAT refused");
    t = s;
    t.auth = AUTH_OAUTH_M2M;
    t.client_id = CLIENT_ID;
    t.client_secret = NULL;
    is_int(upstream_new(loop, &t, &v), -EINVAL, "OAuth without a secret refused");
}

static void test_throttled(void)
{
    struct upstream_settings s;
    settings_for_test(&s);
    _cleanup_(upstream_freep) struct upstream *u = new_upstream(&s);
    if (!u)
        return;

    struct result r =
        run(u, HTTP_GET, "/api/test/flaky?key=ra1&fails=1&status=429&ra=1", RETRY_SAFE, NULL);
    is_int(r.status, 200, "429 Retry-After: 1, then 200");
    is_int(r.attempts, 2, "two attempts");
    ok(r.elapsed >= 1 * SEC && r.elapsed < 3 * SEC, "waited Retry-After: %" PRIu64 " ms",
       r.elapsed / MSEC);
    tap_diag("429 Retry-After 1 s: answered after %" PRIu64 " ms", r.elapsed / MSEC);

    r = run(u, HTTP_GET, "/api/test/flaky?key=rad&fails=1&status=429&ra=2&date=1", RETRY_SAFE,
            NULL);
    is_int(r.status, 200, "429 Retry-After HTTP-date, then 200");
    is_int(r.attempts, 2, "two attempts");
    ok(r.elapsed >= 900 * MSEC && r.elapsed < 4 * SEC, "waited for the date: %" PRIu64 " ms",
       r.elapsed / MSEC);
    tap_diag("429 Retry-After date +2 s: answered after %" PRIu64 " ms", r.elapsed / MSEC);

    r = run(u, HTTP_GET, "/api/test/flaky?key=b503&fails=2&status=503", RETRY_SAFE, NULL);
    is_int(r.status, 200, "503 twice, then 200");
    is_int(r.attempts, 3, "three attempts");
    ok(r.elapsed < 1 * SEC, "backoff is short without Retry-After: %" PRIu64 " ms",
       r.elapsed / MSEC);

    r = run(u, HTTP_GET, "/api/test/flaky?key=a503&status=503&ra=0", RETRY_SAFE, NULL);
    is_int(r.status, 503, "503 forever: the last 503 is the answer");
    is_int(r.attempts, 3, "max attempts (3)");
    ok(strstr(r.body, "TEMPORARILY_UNAVAILABLE") != NULL, "its body passed through");
    is_int(key_count("a503"), 3, "the workspace saw 3 requests");

    r = run(u, HTTP_POST, "/api/test/flaky?key=n503&status=503", RETRY_NEVER, "{}");
    is_int(r.status, 503, "RETRY_NEVER POST: the 503 is passed on");
    is_int(r.attempts, 1, "RETRY_NEVER: not retried after an answer");
    ok(r.maybe_delivered, "a gateway 503 on a write: maybe_delivered");
    is_int(key_count("n503"), 1, "the workspace saw 1 request");

    r = run(u, HTTP_POST, "/api/test/flaky?key=t429&fails=1&status=429&ra=1", RETRY_WITH_TOKEN,
            "{\"idempotency_token\":\"x\"}");
    is_int(r.status, 200, "RETRY_WITH_TOKEN POST retried after 429");
    is_int(r.attempts, 2, "two attempts");

    /* Budget: Retry-After beyond the budget is not waited for. */
    struct upstream_settings b = s;
    b.retry_budget_usec = 500 * MSEC;
    _cleanup_(upstream_freep) struct upstream *w = new_upstream(&b);
    r = run(w, HTTP_GET, "/api/test/flaky?key=budget&status=429&ra=5", RETRY_SAFE, NULL);
    is_int(r.status, 429, "Retry-After 5 s with a 0.5 s budget: the 429 at once");
    is_int(r.retry_after_s, 5, "Retry-After handed on (5 s)");
    is_int(r.attempts, 1, "one attempt");
    ok(r.elapsed < 400 * MSEC, "no waiting: %" PRIu64 " ms", r.elapsed / MSEC);
}

static void test_connection_faults(void)
{
    struct upstream_settings s;
    settings_for_test(&s);
    s.attempt_timeout_usec = 300 * MSEC;
    _cleanup_(upstream_freep) struct upstream *u = new_upstream(&s);
    if (!u)
        return;
    struct result r;

    /* Warm a connection first so the faults below happen on reused ones,
     * where curl's own re-send would show. */
    r = run(u, HTTP_GET, "/api/test/ok?key=warm", RETRY_SAFE, NULL);
    is_int(r.status, 200, "warm-up");

    r = run(u, HTTP_GET, "/api/test/reset?key=rs1&fails=1", RETRY_SAFE, NULL);
    is_int(r.status, 200, "GET reset once, then 200");
    is_int(key_count("rs1"), 2, "the workspace saw 2 requests");

    r = run(u, HTTP_GET, "/api/test/reset?key=rsa", RETRY_SAFE, NULL);
    is_int(r.error, -ECONNRESET, "GET reset every time: -ECONNRESET");
    is_int(r.status, 0, "no status");

    r = run(u, HTTP_POST, "/api/test/drop?key=drop1", RETRY_NEVER, "{\"run_id\":1}");
    is_int(r.error, -ECONNRESET, "RETRY_NEVER POST whose reply was dropped: -ECONNRESET");
    ok(r.maybe_delivered, "maybe_delivered");
    is_int(r.attempts, 1, "one attempt");
    is_int(key_count("drop1"), 1, "the workspace saw it exactly once (not re-sent)");

    r = run(u, HTTP_POST, "/api/test/drop?key=drop2", RETRY_WITH_TOKEN,
            "{\"idempotency_token\":\"abc\"}");
    is_int(r.error, -ECONNRESET, "RETRY_WITH_TOKEN POST dropped every time: -ECONNRESET");
    ok(!r.maybe_delivered, "with a token a repeat is safe: not flagged");
    is_int(key_count("drop2"), 3, "re-sent up to max attempts (same token)");

    r = run(u, HTTP_GET, "/api/test/hang", RETRY_SAFE, NULL);
    is_int(r.error, -ETIMEDOUT, "hang: -ETIMEDOUT");
    is_int(r.attempts, 1, "a timeout after sending is not retried");
    ok(r.elapsed >= 250 * MSEC && r.elapsed < 2 * SEC, "after the attempt timeout: %" PRIu64 " ms",
       r.elapsed / MSEC);
    tap_diag("hang with a 300 ms attempt timeout: -ETIMEDOUT after %" PRIu64 " ms",
             r.elapsed / MSEC);

    r = run(u, HTTP_POST, "/api/test/hang", RETRY_NEVER, "{}");
    is_int(r.error, -ETIMEDOUT, "hanging write: -ETIMEDOUT");
    ok(r.maybe_delivered, "hanging write: maybe_delivered");

    r = run(u, HTTP_GET, "/api/test/trunc?key=tr1&fails=1", RETRY_SAFE, NULL);
    is_int(r.status, 200, "truncated once, then 200");
    is_str(r.body, "{\"runs\": []}", "the whole second body");
    is_int(key_count("tr1"), 2, "two requests");

    r = run(u, HTTP_GET, "/api/test/trunc?key=tra", RETRY_SAFE, NULL);
    is_int(r.error, -EPROTO, "truncated every time: -EPROTO");
    is_int(r.attempts, 3, "after max attempts");

    r = run(u, HTTP_GET, "/api/test/html", RETRY_SAFE, NULL);
    is_int(r.status, 200, "non-JSON body: status kept");
    is_str(r.content_type, "text/html", "non-JSON body: content type kept for the router");
    is_str(r.body, "<html><body>Bad gateway</body></html>", "non-JSON body passed as is");

    struct upstream_settings small = s;
    small.max_body = 1 * MIB;
    _cleanup_(upstream_freep) struct upstream *v = new_upstream(&small);
    r = run(v, HTTP_GET, "/api/test/big", RETRY_SAFE, NULL);
    is_int(r.error, -EMSGSIZE, "body above max_body: -EMSGSIZE");
    is_int(r.attempts, 1, "not retried");

    /* The deadline cuts an attempt short. */
    struct upstream_settings slow = s;
    slow.attempt_timeout_usec = 5 * SEC;
    _cleanup_(upstream_freep) struct upstream *w = new_upstream(&slow);
    struct result res = { .started = clock_usec() };
    struct upstream_request req = {
        .method = HTTP_GET,
        .path_and_query = "/api/test/hang",
        .retry = RETRY_SAFE,
        .deadline_usec = now_usec() + 150 * MSEC,
    };
    unsigned before = done_count;
    upstream_submit(w, &req, on_done_count, &res, NULL);
    loop_until(&done_count, before + 1);
    is_int(res.error, -ETIMEDOUT, "deadline: -ETIMEDOUT");
    ok(res.elapsed >= 100 * MSEC && res.elapsed < 2 * SEC,
       "at the 150 ms deadline, not the 5 s attempt timeout: %" PRIu64 " ms", res.elapsed / MSEC);
}

static void test_refused(void)
{
    /* A port nobody listens on: bind one, learn it, close it. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        tap_skip("no loopback socket");
        return;
    }
    char host[64];
    snprintf(host, sizeof(host), "http://127.0.0.1:%u", ntohs(sa.sin_port));
    close(fd);

    struct upstream_settings s;
    settings_for_test(&s);
    s.host = host;
    _cleanup_(upstream_freep) struct upstream *u = new_upstream(&s);
    if (!u)
        return;

    struct result r = run(u, HTTP_GET, "/api/2.2/jobs/list", RETRY_SAFE, NULL);
    is_int(r.error, -ECONNREFUSED, "refused: -ECONNREFUSED");
    is_int(r.attempts, 3, "retried up to max attempts");
    ok(r.elapsed < 1 * SEC, "backoff 50..200 ms: %" PRIu64 " ms", r.elapsed / MSEC);

    r = run(u, HTTP_POST, "/api/2.2/jobs/runs/cancel", RETRY_NEVER, "{\"run_id\":1}");
    is_int(r.error, -ECONNREFUSED, "RETRY_NEVER refused: -ECONNREFUSED");
    is_int(r.attempts, 3, "RETRY_NEVER is retried when it never left");
    ok(!r.maybe_delivered, "and is known not delivered");

    struct upstream_stats st;
    upstream_get_stats(u, &st);
    ok(!st.reachable, "stats: unreachable");
    is_int(st.last_error, -ECONNREFUSED, "stats: last error");
    ok(st.last_error_usec > 0, "stats: time of the last error");
}

static void test_limiter_queue_cancel(void)
{
    struct upstream_settings s;
    settings_for_test(&s);
    s.rate = 20;
    s.burst = 1;
    s.queue_max = 10;
    _cleanup_(upstream_freep) struct upstream *u = new_upstream(&s);
    if (!u)
        return;

    struct result res[12] = { { 0 } };
    struct upstream_transfer *t[12] = { NULL };
    struct upstream_request req = {
        .method = HTTP_GET,
        .path_and_query = "/api/test/ok?key=paced",
        .retry = RETRY_SAFE,
    };
    uint64_t start = clock_usec();
    unsigned before = done_count;
    for (int i = 0; i < 10; i++) {
        res[i].started = start;
        is_int(upstream_submit(u, &req, on_done_count, &res[i], &t[i]), 0, "submit %d", i);
    }
    is_int(upstream_submit(u, &req, on_done_count, &res[10], &t[10]), -EAGAIN,
           "11th with queue_max 10: -EAGAIN");
    ok(upstream_retry_after_hint(u) >= 1, "a Retry-After hint for the 429 (%u s)",
       upstream_retry_after_hint(u));
    is_int(upstream_set_rate(u, 0, 1), -EINVAL, "set_rate refuses rate 0");

    /* Request bodies held are bounded too. */
    struct upstream_settings sb = s;
    sb.max_held_bytes = 100;
    _cleanup_(upstream_freep) struct upstream *v = new_upstream(&sb);
    char big[81];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct upstream_request post = {
        .method = HTTP_POST,
        .path_and_query = "/api/test/ok?key=held",
        .body = big,
        .body_len = 80,
        .retry = RETRY_SAFE,
    };
    struct upstream_transfer *tb = NULL;
    is_int(upstream_submit(v, &post, on_done, &res[11], &tb), 0, "80 of 100 bytes held");
    is_int(upstream_submit(v, &post, on_done, &res[11], NULL), -EAGAIN,
           "another 80 bytes: -EAGAIN");
    upstream_cancel(tb);
    is_int(upstream_submit(v, &post, on_done, &res[11], &tb), 0, "room again after a cancel");
    upstream_cancel(tb);

    upstream_cancel(t[9]);
    upstream_cancel(NULL);
    loop_until(&done_count, before + 9);
    uint64_t elapsed = clock_usec() - start;
    is_int(done_count - before, 9, "9 answered");
    ok(!res[9].done, "the cancelled one never called back");
    is_int(key_count("paced"), 9, "the workspace saw 9");
    /* burst 1 at 20/s: 9 requests need 8 refills = 400 ms. */
    ok(elapsed >= 380 * MSEC && elapsed < 3 * SEC, "paced at 20/s: 9 took %" PRIu64 " ms",
       elapsed / MSEC);
    tap_diag("limiter 20/s burst 1: 9 requests in %" PRIu64 " ms (ideal 400)", elapsed / MSEC);
    struct upstream_stats lst;
    upstream_get_stats(u, &lst);
    is_int(lst.limiter_waits, 8, "8 of the 9 waited for the limiter, each counted once");

    /* Cancel while running: the request is in curl, its callback never runs. */
    struct upstream_request slow = {
        .method = HTTP_GET,
        .path_and_query = "/api/test/slow?ms=300&key=slowc",
        .retry = RETRY_SAFE,
    };
    struct upstream_request fast = {
        .method = HTTP_GET,
        .path_and_query = "/api/test/slow?ms=400&key=fastc",
        .retry = RETRY_SAFE,
    };
    struct result a = { 0 }, b = { 0 };
    struct upstream_transfer *ta = NULL;
    before = done_count;
    upstream_submit(u, &slow, on_done_count, &a, &ta);
    upstream_submit(u, &fast, on_done_count, &b, NULL);
    /* Let both reach curl, then cancel the first. */
    struct upstream_stats st;
    uint64_t end = clock_usec() + 5 * SEC;
    do {
        sd_event_run(loop, 10 * MSEC);
        upstream_get_stats(u, &st);
    } while (st.in_flight < 2 && clock_usec() < end);
    is_int(st.in_flight, 2, "both in flight");
    upstream_cancel(ta);
    loop_until(&done_count, before + 1);
    ok(!a.done && b.done, "cancelled in flight: no callback; the other answered");
    upstream_get_stats(u, &st);
    is_int(st.in_flight, 0, "nothing left in flight");
    is_int(st.queued, 0, "nothing queued");
}

static void test_keepalive(void)
{
    struct upstream_settings s;
    settings_for_test(&s);
    s.max_in_flight = 4;
    _cleanup_(upstream_freep) struct upstream *u = new_upstream(&s);
    if (!u)
        return;

    pthread_mutex_lock(&srv.lock);
    unsigned conns_before = srv.connections;
    pthread_mutex_unlock(&srv.lock);

    struct result res[40];
    struct upstream_request req = {
        .method = HTTP_GET,
        .path_and_query = "/api/test/ok?key=ka",
        .retry = RETRY_SAFE,
    };
    unsigned before = done_count;
    uint64_t start = clock_usec();
    for (int i = 0; i < 40; i++) {
        res[i] = (struct result){ .started = start };
        upstream_submit(u, &req, on_done_count, &res[i], NULL);
    }
    loop_until(&done_count, before + 40);
    uint64_t elapsed = clock_usec() - start;
    unsigned good = 0;
    for (int i = 0; i < 40; i++)
        good += res[i].status == 200;
    is_int(good, 40, "40 requests, 4 in flight: all 200");
    pthread_mutex_lock(&srv.lock);
    unsigned conns = srv.connections - conns_before;
    pthread_mutex_unlock(&srv.lock);
    ok(conns <= 4, "connections reused: %u new connections for 40 requests", conns);
    tap_diag("keep-alive: 40 requests over %u connections in %" PRIu64 " ms", conns,
             elapsed / MSEC);
}

static unsigned token_uses_total(void)
{
    unsigned n = 0;
    for (size_t i = 0; i < MAX_TOKENS; i++)
        n += srv.token_uses[i];
    return n;
}

static void log_check_sink(int level, const char *line, void *userdata)
{
    unsigned *leaks = userdata;
    if (strstr(line, "tok-") || strstr(line, PAT) || strstr(line, CLIENT_SECRET) ||
        strstr(line, "[redacted]"))
        (*leaks)++;
}

static void test_oauth(void)
{
    struct upstream_settings s;
    settings_for_test(&s);
    s.auth = AUTH_OAUTH_M2M;
    s.token = NULL;
    s.client_id = CLIENT_ID;
    s.client_secret = CLIENT_SECRET;
    s.user_agent = "jobsd/0.1.0 test/1 os/linux auth/oauth-m2m";
    s.max_in_flight = 16;
    /* Tokens live 3 s; with a 2 s margin each is sent for 1 s only. */
    s.token_margin_usec = 2 * SEC;
    s.rate = 40;
    s.burst = 1;

    pthread_mutex_lock(&srv.lock);
    srv.oauth = true;
    srv.token_ttl_s = 3;
    srv.token_requests = 0;
    memset(srv.token_uses, 0, sizeof(srv.token_uses));
    pthread_mutex_unlock(&srv.lock);

    unsigned leaks = 0;
    log_set_max_level(LOG_DEBUG);
    log_set_sink(log_check_sink, &leaks);

    _cleanup_(upstream_freep) struct upstream *u = new_upstream(&s);
    if (!u)
        return;

    /* 50 requests at 40/s take 1.25 s; the first token stops being sent
     * after 1 s, in the middle of the burst. */
    struct result res[50];
    struct upstream_request req = {
        .method = HTTP_GET,
        .path_and_query = "/api/test/ok?key=oauth",
        .retry = RETRY_SAFE,
    };
    unsigned before = done_count;
    uint64_t start = clock_usec();
    for (int i = 0; i < 50; i++) {
        res[i] = (struct result){ .started = start };
        upstream_submit(u, &req, on_done_count, &res[i], NULL);
    }
    loop_until(&done_count, before + 50);
    uint64_t elapsed = clock_usec() - start;
    unsigned good = 0;
    for (int i = 0; i < 50; i++)
        good += res[i].status == 200;
    is_int(good, 50, "burst of 50 with OAuth: all 200");
    pthread_mutex_lock(&srv.lock);
    is_int(srv.token_requests, 2, "exactly 2 token requests: the first, one refresh mid-burst");
    ok(srv.token_uses[1] > 0 && srv.token_uses[2] > 0, "both tokens were used (%u + %u)",
       srv.token_uses[1], srv.token_uses[2]);
    is_int(token_uses_total(), 50, "50 authorized requests");
    is_int(srv.refused, 0, "no request refused");
    pthread_mutex_unlock(&srv.lock);
    tap_diag("OAuth burst: 50 requests in %" PRIu64 " ms", elapsed / MSEC);

    /* The workspace revokes the current token: 50 requests, 16 in flight,
     * all refused ones share one new token and are re-sent once. */
    struct upstream_settings s2 = s;
    s2.token_margin_usec = 40 * SEC;
    s2.rate = 1000;
    s2.burst = 100;
    pthread_mutex_lock(&srv.lock);
    srv.token_ttl_s = 3600;
    pthread_mutex_unlock(&srv.lock);
    _cleanup_(upstream_freep) struct upstream *v = new_upstream(&s2);
    struct result r = run(v, HTTP_GET, "/api/test/ok?key=oauth2", RETRY_SAFE, NULL);
    is_int(r.status, 200, "first request with a fresh token");
    pthread_mutex_lock(&srv.lock);
    unsigned tr_before = srv.token_requests;
    srv.min_valid_token = srv.tokens_issued + 1; /* revoke all issued so far */
    unsigned refused_before = srv.refused;
    pthread_mutex_unlock(&srv.lock);

    before = done_count;
    start = clock_usec();
    for (int i = 0; i < 50; i++) {
        res[i] = (struct result){ .started = start };
        upstream_submit(v, &req, on_done_count, &res[i], NULL);
    }
    loop_until(&done_count, before + 50);
    good = 0;
    unsigned max_attempts = 0;
    for (int i = 0; i < 50; i++) {
        good += res[i].status == 200;
        max_attempts = MAX(max_attempts, res[i].attempts);
    }
    is_int(good, 50, "revoked token: all 50 answered 200 after one refresh");
    is_int(max_attempts, 2, "each re-sent at most once");
    pthread_mutex_lock(&srv.lock);
    is_int(srv.token_requests - tr_before, 1, "exactly one token request for the revocation");
    ok(srv.refused - refused_before <= 16, "at most the 16 in flight were refused (%u)",
       srv.refused - refused_before);
    srv.min_valid_token = srv.tokens_issued + 1;
    pthread_mutex_unlock(&srv.lock);

    /* A write that may not repeat is not re-sent on a refused token. */
    r = run(v, HTTP_POST, "/api/test/ok?key=never", RETRY_NEVER, "{}");
    is_int(r.status, 403, "RETRY_NEVER with a refused token: the 403 is passed on");
    is_int(r.attempts, 1, "and not re-sent");

    struct upstream_stats st;
    upstream_get_stats(v, &st);
    ok(st.reauths >= 1, "stats count re-authentications (%" PRIu64 ")", st.reauths);
    is_int(st.auth.kind, AUTH_OAUTH_M2M, "stats: auth kind");

    /* Wrong client secret: the token endpoint refuses, requests fail fast. */
    struct upstream_settings s3 = s2;
    s3.client_secret = "wrong-secret";
    _cleanup_(upstream_freep) struct upstream *w = new_upstream(&s3);
    r = run(w, HTTP_GET, "/api/test/ok?key=badsecret", RETRY_SAFE, NULL);
    is_int(r.error, -EACCES, "refused client credentials: -EACCES");
    is_int(r.attempts, 0, "the request was never sent");

    log_set_sink(NULL, NULL);
    log_set_max_level(LOG_INFO);
    is_int(leaks, 0, "no log line carried a token or a secret");

    pthread_mutex_lock(&srv.lock);
    srv.oauth = false;
    pthread_mutex_unlock(&srv.lock);
}

static void test_tls(void)
{
    uint16_t port = 0;
    struct MHD_Daemon *d = tls_start(&port);
    if (!d) {
        tap_skip("libmicrohttpd without TLS");
        return;
    }
    char ca[] = "/tmp/test-upstream-ca-XXXXXX";
    int fd = mkostemp(ca, O_CLOEXEC);
    if (fd < 0 || write(fd, test_cert, strlen(test_cert)) != (ssize_t)strlen(test_cert)) {
        tap_skip("cannot write the CA file");
        MHD_stop_daemon(d);
        return;
    }
    close(fd);

    char host[64], named[64];
    snprintf(host, sizeof(host), "https://127.0.0.1:%u", port);
    snprintf(named, sizeof(named), "https://localhost:%u", port);
    struct upstream_settings s;
    settings_for_test(&s);
    s.host = host;
    s.ca_file = ca;
    {
        _cleanup_(upstream_freep) struct upstream *u = new_upstream(&s);
        struct result r = run(u, HTTP_GET, "/api/test/ok?key=tls", RETRY_SAFE, NULL);
        is_int(r.status, 200, "https with ca_file: 200");
        r = run(u, HTTP_GET, "/api/test/ok?key=tls", RETRY_SAFE, NULL);
        is_str(r.body, "{\"ok\":true,\"n\":2}", "https: second request");
    }
    {
        s.ca_file = NULL;
        _cleanup_(upstream_freep) struct upstream *u = new_upstream(&s);
        struct result r = run(u, HTTP_GET, "/api/test/ok?key=tls", RETRY_SAFE, NULL);
        is_int(r.error, -EPROTO, "https, certificate not trusted: -EPROTO");
        is_int(r.attempts, 1, "a verification failure is not retried");
    }
    {
        s.ca_file = ca;
        s.host = named;
        _cleanup_(upstream_freep) struct upstream *u = new_upstream(&s);
        struct result r = run(u, HTTP_GET, "/api/test/ok?key=tls", RETRY_SAFE, NULL);
        is_int(r.error, -EPROTO, "https, name not in the certificate: -EPROTO");
    }
    is_int(key_count("tls"), 2, "the workspace saw only the verified requests");
    unlink(ca);
    MHD_stop_daemon(d);
}

/* Runs the loop for about usec (waiting for a token to age, not for readiness). */
static void run_for(uint64_t usec)
{
    uint64_t end = clock_usec() + usec;
    while (clock_usec() < end)
        (void)sd_event_run(loop, (end - clock_usec()) + 1);
}

static void oauth_server(unsigned ttl_s)
{
    pthread_mutex_lock(&srv.lock);
    srv.oauth = true;
    srv.token_ttl_s = ttl_s;
    srv.token_fail_n = 0;
    srv.min_valid_token = srv.tokens_issued + 1; /* earlier tests' tokens are dead */
    pthread_mutex_unlock(&srv.lock);
}

static void oauth_settings(struct upstream_settings *s)
{
    settings_for_test(s);
    s->auth = AUTH_OAUTH_M2M;
    s->token = NULL;
    s->client_id = CLIENT_ID;
    s->client_secret = CLIENT_SECRET;
    s->user_agent = "jobsd/0.1.0 test/1 os/linux auth/oauth-m2m";
}

static void test_oauth_refresh(void)
{
    struct upstream_settings s;
    oauth_settings(&s);
    /* 3 s tokens, 1 s margin: sent until 2 s, refreshed in the background
     * from 1.5 s (TTL/2). */
    s.token_margin_usec = 1 * SEC;
    oauth_server(3);
    _cleanup_(upstream_freep) struct upstream *u = new_upstream(&s);
    if (!u)
        return;

    pthread_mutex_lock(&srv.lock);
    unsigned tr0 = srv.token_requests, first = srv.tokens_issued + 1;
    pthread_mutex_unlock(&srv.lock);
    struct result r = run(u, HTTP_GET, "/api/test/ok?key=bg", RETRY_SAFE, NULL);
    is_int(r.status, 200, "first request fetched a token");

    run_for(1600 * MSEC);
    uint64_t start = clock_usec();
    r = run(u, HTTP_GET, "/api/test/ok?key=bg", RETRY_SAFE, NULL);
    is_int(r.status, 200, "in the refresh window: answered");
    ok(clock_usec() - start < 500 * MSEC, "without waiting for the refresh");
    struct upstream_stats st;
    upstream_get_stats(u, &st);
    ok(st.auth.fetching || st.auth.generation == 2, "a background refresh started");
    uint64_t end = clock_usec() + 5 * SEC;
    while (st.auth.generation < 2 && clock_usec() < end) {
        sd_event_run(loop, 10 * MSEC);
        upstream_get_stats(u, &st);
    }
    r = run(u, HTTP_GET, "/api/test/ok?key=bg", RETRY_SAFE, NULL);
    is_int(r.status, 200, "after the refresh: answered");
    pthread_mutex_lock(&srv.lock);
    is_int(srv.token_requests - tr0, 2, "two token requests in all");
    is_int(srv.token_uses[first], 2, "the old token served until the new one came");
    is_int(srv.token_uses[first + 1], 1, "then the new one");
    pthread_mutex_unlock(&srv.lock);

    /* The token endpoint fails twice (503): requests wait, fetches back off. */
    struct upstream_settings s2;
    oauth_settings(&s2);
    oauth_server(3600);
    pthread_mutex_lock(&srv.lock);
    srv.token_fail_n = 2;
    tr0 = srv.token_requests;
    pthread_mutex_unlock(&srv.lock);
    _cleanup_(upstream_freep) struct upstream *v = new_upstream(&s2);
    start = clock_usec();
    r = run(v, HTTP_GET, "/api/test/ok?key=tf", RETRY_SAFE, NULL);
    is_int(r.status, 200, "token endpoint failing twice: the request still succeeds");
    is_int(r.attempts, 1, "sent once, with the third token fetch's token");
    pthread_mutex_lock(&srv.lock);
    is_int(srv.token_requests - tr0, 3, "three token requests");
    pthread_mutex_unlock(&srv.lock);
    tap_diag("token endpoint 503 twice: answered after %" PRIu64 " ms",
             (clock_usec() - start) / MSEC);

    /* Failing for good: after 3 failures waiting requests get the error. */
    pthread_mutex_lock(&srv.lock);
    srv.token_fail_n = 1000;
    pthread_mutex_unlock(&srv.lock);
    _cleanup_(upstream_freep) struct upstream *w = new_upstream(&s2);
    r = run(w, HTTP_GET, "/api/test/ok?key=tf2", RETRY_SAFE, NULL);
    is_int(r.error, -EPROTO, "token endpoint down: -EPROTO");
    is_int(r.attempts, 0, "never sent");
    upstream_get_stats(w, &st);
    ok(st.auth.token_failures >= 3, "stats: token failures (%u)", st.auth.token_failures);
    pthread_mutex_lock(&srv.lock);
    srv.token_fail_n = 0;
    srv.oauth = false;
    pthread_mutex_unlock(&srv.lock);
}

static void test_pause_after_429(void)
{
    struct upstream_settings s;
    settings_for_test(&s);
    _cleanup_(upstream_freep) struct upstream *u = new_upstream(&s);
    if (!u)
        return;

    struct result a = { .started = clock_usec() }, b = { 0 };
    struct upstream_request ra = {
        .method = HTTP_GET,
        .path_and_query = "/api/test/flaky?key=pause&fails=1&status=429&ra=1",
        .retry = RETRY_SAFE,
    };
    struct upstream_request rb = {
        .method = HTTP_GET,
        .path_and_query = "/api/test/ok?key=paused",
        .retry = RETRY_SAFE,
    };
    unsigned before = done_count;
    upstream_submit(u, &ra, on_done_count, &a, NULL);
    struct upstream_stats st;
    uint64_t end = clock_usec() + 5 * SEC;
    do {
        sd_event_run(loop, 10 * MSEC);
        upstream_get_stats(u, &st);
    } while (st.backing_off == 0 && clock_usec() < end);
    b.started = clock_usec();
    upstream_submit(u, &rb, on_done_count, &b, NULL);
    loop_until(&done_count, before + 2);
    is_int(b.status, 200, "a request during the 429 pause is answered");
    ok(b.elapsed >= 800 * MSEC, "but only after the pause: %" PRIu64 " ms", b.elapsed / MSEC);
    is_int(a.status, 200, "the throttled one too");
}

/* Many small transfers: loop CPU per transfer and the longest dispatch. */
static void test_throughput(void)
{
    struct upstream_settings s;
    settings_for_test(&s);
    s.rate = 100000;
    s.burst = 1000;
    s.queue_max = 1000;
    _cleanup_(upstream_freep) struct upstream *u = new_upstream(&s);
    if (!u)
        return;

    enum { N = 1000 };
    static struct result res[N];
    struct upstream_request req = {
        .method = HTTP_GET,
        .path_and_query = "/api/test/ok?key=bench",
        .retry = RETRY_SAFE,
    };
    struct timespec c0, c1;
    unsigned before = done_count;
    uint64_t start = clock_usec(), worst = 0;
    unsigned most = 0;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    for (int i = 0; i < N; i++) {
        res[i] = (struct result){ .started = start };
        upstream_submit(u, &req, on_done_count, &res[i], NULL);
    }
    while (done_count < before + N && clock_usec() < start + 60 * SEC) {
        int r = sd_event_prepare(loop);
        if (r == 0)
            r = sd_event_wait(loop, 100 * MSEC);
        if (r > 0) {
            uint64_t t0 = clock_usec();
            unsigned n0 = done_count;
            (void)sd_event_dispatch(loop);
            worst = MAX(worst, clock_usec() - t0);
            most = MAX(most, done_count - n0);
        }
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    uint64_t wall = clock_usec() - start;
    uint64_t cpu =
        (uint64_t)(c1.tv_sec - c0.tv_sec) * SEC + (uint64_t)((c1.tv_nsec - c0.tv_nsec) / 1000);
    unsigned good = 0;
    for (int i = 0; i < N; i++)
        good += res[i].status == 200;
    is_int(good, N, "1000 transfers, 16 in flight: all 200");
    ok(most <= CURL_GLUE_DRAIN_MAX, "at most %d completions per dispatch (%u)", CURL_GLUE_DRAIN_MAX,
       most);
    tap_diag("throughput: %d transfers in %" PRIu64 " ms (%" PRIu64 "/s), loop CPU %" PRIu64
             " us per transfer, longest dispatch %" PRIu64 " us",
             N, wall / MSEC, wall ? (uint64_t)N * SEC / wall : 0, cpu / N, worst);
}

int main(void)
{
    if (server_start() < 0)
        tap_skip_all("cannot start the test HTTP server on loopback");
    snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%u", srv.port);
    if (sd_event_new(&loop) < 0)
        tap_skip_all("no sd-event loop");

    test_basic_and_headers();
    test_throttled();
    test_connection_faults();
    test_refused();
    test_limiter_queue_cancel();
    test_keepalive();
    test_oauth();
    test_oauth_refresh();
    test_pause_after_429();
    test_throughput();
    test_tls();

    sd_event_unref(loop);
    server_stop();
    log_forget_secrets();
    return tap_done();
}
