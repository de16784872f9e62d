#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/transport.h"
#include "proto/localapi.h"

#define CONNECT_TIMEOUT_S 10L

struct transport {
    char *socket;
    char *base; /* "http://localhost" or the URL without a trailing '/' */
    char *auth; /* "Authorization: Bearer ..." or NULL */
};

int transport_new(const struct transport_options *o, struct transport **ret)
{
    _cleanup_(transport_freep) struct transport *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    if (o->url) {
        size_t n = strlen(o->url);
        while (n > 0 && o->url[n - 1] == '/')
            n--;
        if (!startswith(o->url, "http://") && !startswith(o->url, "https://"))
            return -EINVAL;
        t->base = strndup(o->url, n);
        if (!t->base)
            return -ENOMEM;
        if (o->token && !(t->auth = strjoin("Authorization: Bearer ", o->token)))
            return -ENOMEM;
    } else {
        if (isempty(o->socket))
            return -EINVAL;
        if (!(t->socket = strdup(o->socket)) || !(t->base = strdup("http://localhost")))
            return -ENOMEM;
    }
    *ret = TAKE_PTR(t);
    return 0;
}

struct transport *transport_free(struct transport *t)
{
    if (!t)
        return NULL;
    if (t->auth) {
        explicit_bzero(t->auth, strlen(t->auth));
        free(t->auth);
    }
    free(t->socket);
    free(t->base);
    free(t);
    return NULL;
}

const char *transport_where(const struct transport *t)
{
    return t->socket ? t->socket : t->base;
}

bool transport_is_socket(const struct transport *t)
{
    return t->socket != NULL;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *userdata)
{
    struct xfer *x = userdata;
    size_t n = size * nmemb;
    if (x->status == 0)
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->on_data && x->status == 200) {
        int r = x->on_data(p, n, x->userdata);
        if (r < 0) {
            x->stop = r;
            return 0;
        }
        return n;
    }
    return buf_append(&x->body, p, n) < 0 ? 0 : n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t outn)
{
    size_t k = strlen(name);
    if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return;
    const char *v = line + k + 1;
    size_t len = n - k - 1;
    while (len && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
        len--;
    if (len >= outn)
        len = outn - 1;
    memcpy(out, v, len);
    out[len] = 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *userdata)
{
    struct xfer *x = userdata;
    size_t n = size * nmemb;
    if (startswith(p, "HTTP/")) {
        /* A new answer (after a 100 Continue): forget the last one's. */
        x->source[0] = x->wait[0] = x->age[0] = 0;
        x->status = 0;
    }
    header_value(p, n, JOBSD_HEADER_SOURCE, x->source, sizeof(x->source));
    header_value(p, n, JOBSD_HEADER_WAIT, x->wait, sizeof(x->wait));
    header_value(p, n, JOBSD_HEADER_AGE, x->age, sizeof(x->age));
    return n;
}

int xfer_init(struct transport *t, struct xfer *x, const char *method, const char *path,
              const char *body, size_t len)
{
    /* What the caller set before: kept. */
    *x = (struct xfer){ .body = BUF_INIT(REPLY_MAX),
                        .on_data = x->on_data,
                        .userdata = x->userdata,
                        .cache_control = x->cache_control };
    _cleanup_free_ char *cc =
        x->cache_control ? strjoin("Cache-Control: ", x->cache_control) : NULL;
    _cleanup_free_ char *url = strjoin(t->base, path);
    if (!url || !(x->easy = curl_easy_init()))
        return -ENOMEM;
    CURL *e = x->easy;
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    if (h && body)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (h && t->auth)
        h = curl_slist_append(h, t->auth);
    if (h && x->cache_control)
        h = cc ? curl_slist_append(h, cc) : NULL;
    /* curl would wait a second for "100 Continue" on large bodies. */
    if (h)
        h = curl_slist_append(h, "Expect:");
    if (!h)
        return -ENOMEM;
    x->headers = h;
    int bad = 0;
    bad |= curl_easy_setopt(e, CURLOPT_URL, url);
    if (t->socket)
        bad |= curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, t->socket);
    bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        bad |= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
    }
    bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "jobsctl/" PACKAGE_VERSION);
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->error);
    bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    return bad ? -EINVAL : 0;
}

void xfer_done(struct xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    buf_done(&x->body);
    x->easy = NULL;
    x->headers = NULL;
}

int xfer_finish(struct transport *t, struct xfer *x, CURLcode code)
{
    struct stat st;
    if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && x->stop)) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
        return x->stop ? x->stop : 0;
    }
    if (code == CURLE_OPERATION_TIMEDOUT)
        return -ETIMEDOUT;
    if (code == CURLE_COULDNT_CONNECT) {
        if (!t->socket)
            return -ECONNREFUSED;
        if (stat(t->socket, &st) < 0)
            return errno == EACCES ? -EACCES : -ENOENT;
        if (access(t->socket, R_OK | W_OK) < 0 && errno == EACCES)
            return -EACCES;
        return -ECONNREFUSED;
    }
    if (!x->error[0])
        strscpy(x->error, sizeof(x->error), curl_easy_strerror(code));
    return -EIO;
}

int xfer_perform(struct transport *t, struct xfer *x)
{
    return xfer_finish(t, x, curl_easy_perform(x->easy));
}

int transport_call(struct transport *t, struct xfer *x, const char *method, const char *path,
                   const char *body, size_t len)
{
    int r = xfer_init(t, x, method, path, body, len);
    return r < 0 ? r : xfer_perform(t, x);
}
