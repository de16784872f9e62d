#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/endpoint.h"
#include "proto/strutil.h"

const struct endpoint endpoint_table[_ENDPOINT_MAX] = {
#define ENDPOINT(id_, name_, method_, pattern_, versions_, scope_, access_, cache_, retry_, key_,  \
                 invalidates_, max_body_, cli_)                                                    \
    [ENDPOINT_##id_] = {                                                                           \
        .id = ENDPOINT_##id_,                                                                      \
        .name = name_,                                                                             \
        .method = method_,                                                                         \
        .pattern = pattern_,                                                                       \
        .versions = versions_,                                                                     \
        .scope = scope_,                                                                           \
        .access = access_,                                                                         \
        .cache = cache_,                                                                           \
        .retry = retry_,                                                                           \
        .key = key_,                                                                               \
        .invalidates = invalidates_,                                                               \
        .max_body = max_body_,                                                                     \
        .cli = cli_,                                                                               \
    },
#include "proto/endpoints.def"
#undef ENDPOINT
};

static const struct {
    enum http_method method;
    const char *name;
} methods[] = {
    { HTTP_GET, "GET" },     { HTTP_POST, "POST" },     { HTTP_PUT, "PUT" },
    { HTTP_PATCH, "PATCH" }, { HTTP_DELETE, "DELETE" }, { HTTP_HEAD, "HEAD" },
};

static const struct {
    enum api_version version;
    const char *name;
} versions[] = {
    { API_V20, "2.0" },
    { API_V21, "2.1" },
    { API_V22, "2.2" },
};

const struct endpoint *endpoint_get(enum endpoint_id id)
{
    return (unsigned)id < _ENDPOINT_MAX ? &endpoint_table[id] : NULL;
}

const struct endpoint *endpoint_by_name(const char *name)
{
    for (size_t i = 0; name && i < _ENDPOINT_MAX; i++)
        if (streq(endpoint_table[i].name, name))
            return &endpoint_table[i];
    return NULL;
}

const char *http_method_to_string(enum http_method m)
{
    for (size_t i = 0; i < ELEMENTSOF(methods); i++)
        if (methods[i].method == m)
            return methods[i].name;
    return NULL;
}

enum http_method http_method_from_string(const char *s)
{
    for (size_t i = 0; s && i < ELEMENTSOF(methods); i++)
        if (streq(methods[i].name, s))
            return methods[i].method;
    return 0;
}

const char *api_version_to_string(enum api_version v)
{
    for (size_t i = 0; i < ELEMENTSOF(versions); i++)
        if (versions[i].version == v)
            return versions[i].name;
    return NULL;
}

static enum api_version api_version_from_segment(const char *s, size_t n)
{
    for (size_t i = 0; i < ELEMENTSOF(versions); i++)
        if (strlen(versions[i].name) == n && memcmp(versions[i].name, s, n) == 0)
            return versions[i].version;
    return 0;
}

/* Compares path against pattern segment by segment. On a match fills the
 * version and id it found. */
static bool pattern_match(const struct endpoint *e, const char *path, size_t path_len,
                          struct endpoint_match *m)
{
    const char *p = path, *pend = path + path_len;
    const char *t = e->pattern;
    struct endpoint_match found = { .endpoint = e };

    while (*t && p < pend) {
        if (*t != '/' || *p != '/')
            return false;
        t++, p++;
        const char *tseg_end = strchrnul(t, '/');
        const char *pseg_end = memchr(p, '/', (size_t)(pend - p));
        if (!pseg_end)
            pseg_end = pend;
        size_t tn = (size_t)(tseg_end - t), pn = (size_t)(pseg_end - p);

        if (tn == 3 && memcmp(t, "{v}", 3) == 0) {
            enum api_version v = api_version_from_segment(p, pn);
            if (!v || !(e->versions & v))
                return false;
            found.version = v;
        } else if (t[0] == '{') {
            char id[24];
            if (pn == 0 || pn >= sizeof(id))
                return false;
            memcpy(id, p, pn);
            id[pn] = 0;
            if (parse_id(id, &found.path_id) < 0)
                return false;
            found.has_path_id = true;
        } else if (tn != pn || memcmp(t, p, pn) != 0)
            return false;
        t = tseg_end;
        p = pseg_end;
    }
    if (*t || p != pend)
        return false;
    *m = found;
    return true;
}

int endpoint_match(const char *method, const char *path, struct endpoint_match *ret,
                   unsigned *ret_allowed)
{
    if (!path || path[0] != '/')
        return -ENOENT;
    size_t len = strcspn(path, "?#");
    if (len > ENDPOINT_PATH_MAX)
        return -ENOENT;

    enum http_method m = http_method_from_string(method);
    unsigned allowed = 0;
    for (size_t i = 0; i < _ENDPOINT_MAX; i++) {
        const struct endpoint *e = &endpoint_table[i];
        struct endpoint_match found;
        if (!pattern_match(e, path, len, &found))
            continue;
        if (e->method == m) {
            *ret = found;
            return 0;
        }
        allowed |= e->method;
    }
    if (!allowed)
        return -ENOENT;
    if (ret_allowed)
        *ret_allowed = allowed;
    return -EOPNOTSUPP;
}

/* Hands what b holds to the caller's buffer and frees b: the length, r if
 * it is an error, or -ENOBUFS. */
static int copy_out(struct buf *b, int r, char *buf, size_t n)
{
    if (r >= 0 && b->len + 1 > n)
        r = -ENOBUFS;
    if (r >= 0) {
        memcpy(buf, b->data ? b->data : "", b->len + 1);
        r = (int)b->len;
    }
    buf_done(b);
    return r;
}

int endpoint_format_path(const struct endpoint *e, enum api_version version, int64_t id, char *buf,
                         size_t n)
{
    struct buf b = BUF_INIT(ENDPOINT_PATH_MAX);
    const char *t = e->pattern;
    int r = 0;

    while (*t && r >= 0) {
        const char *open = strchr(t, '{');
        if (!open) {
            r = buf_append(&b, t, strlen(t));
            break;
        }
        r = buf_append(&b, t, (size_t)(open - t));
        if (r < 0)
            break;
        const char *close = strchr(open, '}');
        if (!close) {
            r = -EINVAL;
            break;
        }
        if (strncmp(open, "{v}", 3) == 0) {
            const char *v = api_version_to_string(version);
            if (!v || !(e->versions & version))
                r = -EINVAL;
            else
                r = buf_append(&b, v, strlen(v));
        } else if (id <= 0)
            r = -EINVAL;
        else
            r = buf_appendf(&b, "%lld", (long long)id);
        t = close + 1;
    }
    return copy_out(&b, r, buf, n);
}

int http_methods_format(unsigned mask, char *buf, size_t n)
{
    struct buf b = BUF_INIT(128);
    int r = 0;
    for (size_t i = 0; i < ELEMENTSOF(methods) && r >= 0; i++)
        if (mask & methods[i].method)
            r = buf_appendf(&b, "%s%s", b.len ? ", " : "", methods[i].name);
    return copy_out(&b, r, buf, n);
}
