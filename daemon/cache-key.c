/* daemon/cache-key.c: the canonical key of a read. Built on the stack
 * within CACHE_KEY_MAX, then copied once. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cache.h"
#include "proto/strutil.h"

struct key_buf {
    char data[CACHE_KEY_MAX + 1];
    size_t len;
    bool overflow;
};

static void kb_add(struct key_buf *kb, const char *s, size_t n)
{
    if (kb->overflow || n > CACHE_KEY_MAX - kb->len) {
        kb->overflow = true;
        return;
    }
    memcpy(kb->data + kb->len, s, n);
    kb->len += n;
}

/* RFC 3986 unreserved: ALPHA DIGIT - . _ ~ */
static bool is_unreserved(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* Copies runs of bytes that need no encoding at once. */
static void kb_add_encoded(struct key_buf *kb, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;

    while (*p && !kb->overflow) {
        const unsigned char *run = p;
        while (*p && (is_unreserved(*p) || (keep_slash && *p == '/')))
            p++;
        if (p > run)
            kb_add(kb, (const char *)run, (size_t)(p - run));
        if (*p) {
            char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            kb_add(kb, e, 3);
            p++;
        }
    }
}

static int arg_cmp(const char *n1, const char *v1, const char *n2, const char *v2)
{
    int r = strcmp(n1, n2);
    return r != 0 ? r : strcmp(v1 ? v1 : "", v2 ? v2 : "");
}

int cache_key_build(enum http_method method, const char *path, const char *const *names,
                    const char *const *values, size_t n, char **ret)
{
    const char *m = http_method_to_string(method);
    size_t order[CACHE_KEY_ARGS_MAX];

    if (!m || !path || path[0] != '/' || (n > 0 && (!names || !values)))
        return -EINVAL;
    if (n > CACHE_KEY_ARGS_MAX)
        return -E2BIG;
    for (size_t i = 0; i < n; i++)
        if (!names[i])
            return -EINVAL;

    /* Insertion sort by name, then value: n is small. */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 &&
               arg_cmp(names[order[j - 1]], values[order[j - 1]], names[i], values[i]) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }

    struct key_buf kb = { .len = 0 };
    kb_add(&kb, m, strlen(m));
    kb_add(&kb, " ", 1);
    kb_add_encoded(&kb, path, true);
    for (size_t i = 0; i < n; i++) {
        kb_add(&kb, i == 0 ? "?" : "&", 1);
        kb_add_encoded(&kb, names[order[i]], false);
        kb_add(&kb, "=", 1);
        kb_add_encoded(&kb, values[order[i]] ? values[order[i]] : "", false);
    }
    if (kb.overflow)
        return -E2BIG;

    char *key = malloc(kb.len + 1);
    if (!key)
        return -ENOMEM;
    memcpy(key, kb.data, kb.len);
    key[kb.len] = 0;
    *ret = key;
    return (int)kb.len;
}
