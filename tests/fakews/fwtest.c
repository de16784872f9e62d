/* tests/fakews/fwtest.c: fakews test helpers. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/cleanup.h"
#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/fakews/fwtest.h"
#include "tests/tap.h"

#define START_TIMEOUT_MS 20000
#define ARGS_MAX 32
#define RESP_MAX (64 * MIB)

struct fwt {
    pid_t pid;
    int out;
    uint16_t port;
    bool fresh;
    char header[256];
    CURL *curl;
    char *unix_path;     /* a client of a Unix socket (jobsd), no process */
    char *default_token; /* sent when fwt_call gets token NULL */
};

static struct fwt *instances[8];

static void kill_all(void)
{
    for (size_t i = 0; i < ELEMENTSOF(instances); i++)
        if (instances[i] && instances[i]->pid > 0) {
            kill(instances[i]->pid, SIGKILL);
            (void)waitpid(instances[i]->pid, NULL, 0);
            instances[i]->pid = 0;
        }
}

struct fwt *fwt_start(const char *const *extra)
{
    static bool registered;
    const char *bin = getenv("FAKEWS");
    if (!bin)
        bin = "tests/fakews/fakews";
    if (!registered) {
        atexit(kill_all);
        curl_global_init(CURL_GLOBAL_ALL);
        registered = true;
    }
    const char *argv[ARGS_MAX] = { bin, "--port", "0", "--token", FWT_TOKEN, "--die-with-parent" };
    size_t n = 6;
    for (size_t i = 0; extra && extra[i] && n < ARGS_MAX - 1; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;

    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        tap_skip_all("pipe2 failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
    struct fwt *f = calloc(1, sizeof(*f));
    if (!f)
        abort();
    if (posix_spawn(&f->pid, bin, &fa, NULL, (char *const *)argv, environ) != 0) {
        printf("Bail out! cannot start %s\n", bin);
        exit(1);
    }
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    f->out = p[0];
    for (size_t i = 0; i < ELEMENTSOF(instances); i++)
        if (!instances[i]) {
            instances[i] = f;
            break;
        }

    /* Wait for "LISTENING <port>\n", never for a fixed time. */
    char line[64];
    size_t len = 0;
    while (len < sizeof(line) - 1) {
        struct pollfd pfd = { .fd = f->out, .events = POLLIN };
        if (poll(&pfd, 1, START_TIMEOUT_MS) <= 0)
            break;
        ssize_t k = read(f->out, line + len, 1);
        if (k <= 0)
            break;
        if (line[len++] == '\n')
            break;
    }
    line[len] = 0;
    int64_t port;
    char *nl = strchr(line, '\n');
    if (nl)
        *nl = 0;
    const char *rest = startswith(line, "LISTENING ");
    if (!rest || parse_int64(rest, &port) < 0 || port <= 0 || port > 65535) {
        printf("Bail out! fakews did not print LISTENING (got '%s')\n", line);
        exit(1);
    }
    f->port = (uint16_t)port;
    f->curl = curl_easy_init();
    return f;
}

static struct fwt *client_new(uint16_t port, const char *unix_path, const char *token)
{
    struct fwt *f = calloc(1, sizeof(*f));
    if (!f)
        abort();
    f->out = -1;
    f->port = port;
    f->unix_path = unix_path ? strdup(unix_path) : NULL;
    f->default_token = strdup(token ? token : "");
    f->curl = curl_easy_init();
    if ((unix_path && !f->unix_path) || !f->default_token || !f->curl)
        abort();
    return f;
}

struct fwt *fwt_client_unix(const char *path)
{
    curl_global_init(CURL_GLOBAL_ALL);
    return client_new(0, path, "");
}

struct fwt *fwt_client_tcp(uint16_t port, const char *token)
{
    curl_global_init(CURL_GLOBAL_ALL);
    return client_new(port, NULL, token);
}

void fwt_client_free(struct fwt *f)
{
    if (!f)
        return;
    curl_easy_cleanup(f->curl);
    free(f->unix_path);
    free(f->default_token);
    free(f);
}

int fwt_stop(struct fwt *f)
{
    int status = 0;
    kill(f->pid, SIGTERM);
    if (waitpid(f->pid, &status, 0) < 0)
        status = -1;
    for (size_t i = 0; i < ELEMENTSOF(instances); i++)
        if (instances[i] == f)
            instances[i] = NULL;
    close(f->out);
    curl_easy_cleanup(f->curl);
    free(f->unix_path);
    free(f->default_token);
    free(f);
    if (status < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

uint16_t fwt_port(const struct fwt *f)
{
    return f->port;
}

void fwt_set_fresh(struct fwt *f, bool fresh)
{
    f->fresh = fresh;
}

void fwt_set_header(struct fwt *f, const char *header)
{
    strscpy(f->header, sizeof(f->header), header ? header : "");
}

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
    struct fwt_resp *r = userdata;
    size_t add = size * n;
    if (r->len + add > RESP_MAX)
        return 0;
    char *b = realloc(r->body, r->len + add + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, p, add);
    r->body = b;
    r->len += add;
    r->body[r->len] = 0;
    return add;
}

static void header_value(const char *line, size_t n, const char *name, char *dst, size_t dn)
{
    size_t k = strlen(name);
    if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return;
    const char *v = line + k + 1;
    while (*v == ' ')
        v++;
    size_t len = (size_t)(line + n - v);
    while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n'))
        len--;
    len = MIN(len, dn - 1);
    memcpy(dst, v, len);
    dst[len] = 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *userdata)
{
    struct fwt_resp *r = userdata;
    header_value(p, size * n, "Retry-After", r->retry_after, sizeof(r->retry_after));
    header_value(p, size * n, "X-Databricks-Reason-Phrase", r->reason_phrase,
                 sizeof(r->reason_phrase));
    header_value(p, size * n, "Content-Type", r->content_type, sizeof(r->content_type));
    header_value(p, size * n, "X-Jobsd-Source", r->source, sizeof(r->source));
    header_value(p, size * n, "Age", r->age, sizeof(r->age));
    return size * n;
}

long fwt_call(struct fwt *f, const char *method, const char *path, const char *body,
              const char *token, struct fwt_resp *ret)
{
    char url[1024], auth[512];
    *ret = (struct fwt_resp){ 0 };
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)f->port, path);
    CURL *c = f->curl;
    curl_easy_reset(c);
    struct curl_slist *h = NULL;
    if (!token)
        token = f->default_token ? f->default_token : FWT_TOKEN;
    if (*token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (body)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (*f->header)
        h = curl_slist_append(h, f->header);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "fwtest/1.0");
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (f->unix_path)
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, f->unix_path);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (streq(method, "GET"))
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, ret);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, ret);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    if (f->fresh)
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
    CURLcode cc = curl_easy_perform(c);
    curl_slist_free_all(h);
    ret->curl_err = (int)cc;
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->status);
    if (cc == CURLE_OK && ret->body) {
        struct json_error err;
        (void)json_parse(ret->body, ret->len, RESP_MAX, JSON_DEPTH_MAX, &ret->json, &err);
    }
    return ret->status;
}

long fwt_get(struct fwt *f, struct fwt_resp *ret, const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return fwt_call(f, "GET", path, NULL, NULL, ret);
}

long fwt_post(struct fwt *f, const char *path, struct fwt_resp *ret, const char *fmt, ...)
{
    _cleanup_free_ char *body = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&body, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    return fwt_call(f, "POST", path, body, NULL, ret);
}

void fwt_resp_done(struct fwt_resp *r)
{
    free(r->body);
    if (r->json)
        json_object_put(r->json);
    *r = (struct fwt_resp){ 0 };
}

struct json_object *fwt_path(struct json_object *o, const char *path)
{
    char buf[256];
    if (strscpy(buf, sizeof(buf), path) < 0)
        return NULL;
    char *save = NULL;
    for (char *part = strtok_r(buf, ".", &save); part && o; part = strtok_r(NULL, ".", &save)) {
        int64_t idx;
        if (json_object_is_type(o, json_type_array) && parse_int64(part, &idx) == 0)
            o = idx >= 0 && (size_t)idx < json_object_array_length(o)
                    ? json_object_array_get_idx(o, (size_t)idx)
                    : NULL;
        else if (!json_object_is_type(o, json_type_object) ||
                 !json_object_object_get_ex(o, part, &o))
            o = NULL;
    }
    return o;
}

int64_t fwt_int(struct json_object *o, const char *path)
{
    struct json_object *v = fwt_path(o, path);
    int64_t n = INT64_MIN;
    if (v)
        (void)json_value_int64(v, &n);
    return n;
}

const char *fwt_str(struct json_object *o, const char *path)
{
    struct json_object *v = fwt_path(o, path);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

size_t fwt_len(struct json_object *o, const char *path)
{
    struct json_object *v = fwt_path(o, path);
    return v && json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
}

void fwt_advance(struct fwt *f, int64_t ms)
{
    struct fwt_resp r;
    fwt_post(f, "/__fake/clock", &r, "{\"advance_ms\": %" PRId64 "}", ms);
    if (r.status != 200)
        tap_diag("advancing the clock failed: %ld %s", r.status, r.body ? r.body : "");
    fwt_resp_done(&r);
}

int64_t fwt_counter(struct fwt *f, const char *endpoint)
{
    struct fwt_resp r;
    char key[96];
    fwt_get(f, &r, "/__fake/counters");
    snprintf(key, sizeof(key), "endpoints.%s", endpoint);
    int64_t n = fwt_int(r.json, key);
    fwt_resp_done(&r);
    return n > 0 ? n : 0; /* an endpoint never called has no counter */
}

int64_t fwt_create_job(struct fwt *f, const char *settings)
{
    struct fwt_resp r;
    fwt_call(f, "POST", "/api/2.2/jobs/create", settings, NULL, &r);
    int64_t id = r.status == 200 ? fwt_int(r.json, "job_id") : 0;
    if (!id)
        tap_diag("jobs/create failed: %ld %s", r.status, r.body ? r.body : "");
    fwt_resp_done(&r);
    return id;
}

int64_t fwt_run_now(struct fwt *f, int64_t job_id)
{
    struct fwt_resp r;
    fwt_post(f, "/api/2.2/jobs/run-now", &r, "{\"job_id\": %" PRId64 "}", job_id);
    int64_t id = r.status == 200 ? fwt_int(r.json, "run_id") : 0;
    if (!id)
        tap_diag("run-now failed: %ld %s", r.status, r.body ? r.body : "");
    fwt_resp_done(&r);
    return id;
}

const char *fwt_life_cycle(struct fwt *f, int64_t run_id)
{
    static char buf[64];
    struct fwt_resp r;
    fwt_get(f, &r, "/api/2.2/jobs/runs/get?run_id=%" PRId64, run_id);
    const char *s = fwt_str(r.json, "state.life_cycle_state");
    strscpy(buf, sizeof(buf), s ? s : "(none)");
    fwt_resp_done(&r);
    return buf;
}
