#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "proto/strutil.h"

/* Digits only (after an optional '-' for signed parses): strtoll accepts
 * leading spaces, '+', and "0x" with base 0; none of that is a number here. */
static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

int parse_int64(const char *s, int64_t *ret)
{
    if (!s || !all_digits(s[0] == '-' ? s + 1 : s))
        return -EINVAL;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (errno != 0 || !end || *end)
        return -EINVAL;
    *ret = (int64_t)v;
    return 0;
}

int parse_uint64(const char *s, uint64_t *ret)
{
    if (!s || !all_digits(s))
        return -EINVAL;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (errno != 0 || !end || *end)
        return -EINVAL;
    *ret = (uint64_t)v;
    return 0;
}

int parse_int(const char *s, int *ret)
{
    int64_t v;
    int r = parse_int64(s, &v);
    if (r < 0)
        return r;
    if (v < INT_MIN || v > INT_MAX)
        return -ERANGE;
    *ret = (int)v;
    return 0;
}

int parse_id(const char *s, int64_t *ret)
{
    int64_t v;
    if (!s || !all_digits(s))
        return -EINVAL;
    int r = parse_int64(s, &v);
    if (r < 0)
        return r;
    if (v <= 0)
        return -ERANGE;
    *ret = v;
    return 0;
}

int parse_bool(const char *s, bool *ret)
{
    static const char *const yes[] = { "1", "true", "yes", "on" };
    static const char *const no[] = { "0", "false", "no", "off" };
    if (!s)
        return -EINVAL;
    for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* Splits "123abc" into 123 and "abc". */
static int split_number(const char *s, uint64_t *ret_n, const char **ret_unit)
{
    char digits[32];
    size_t i = 0;
    if (!s)
        return -EINVAL;
    while (s[i] >= '0' && s[i] <= '9') {
        if (i + 1 >= sizeof(digits))
            return -ERANGE;
        digits[i] = s[i];
        i++;
    }
    digits[i] = 0;
    int r = parse_uint64(digits, ret_n);
    if (r < 0)
        return r;
    *ret_unit = s + i;
    return 0;
}

static int scale(uint64_t n, uint64_t factor, uint64_t *ret)
{
    if (factor && n > UINT64_MAX / factor)
        return -ERANGE;
    *ret = n * factor;
    return 0;
}

int parse_size(const char *s, uint64_t *ret)
{
    static const struct {
        const char *unit;
        uint64_t factor;
    } units[] = {
        { "", 1 },        { "B", 1 },         { "K", 1024 },    { "KiB", 1024 },
        { "M", 1 << 20 }, { "MiB", 1 << 20 }, { "G", 1 << 30 }, { "GiB", 1 << 30 },
    };
    uint64_t n;
    const char *unit;
    int r = split_number(s, &n, &unit);
    if (r < 0)
        return r;
    for (size_t i = 0; i < ELEMENTSOF(units); i++)
        if (streq(unit, units[i].unit))
            return scale(n, units[i].factor, ret);
    return -EINVAL;
}

int parse_duration_ms(const char *s, uint64_t *ret)
{
    static const struct {
        const char *unit;
        uint64_t factor;
    } units[] = {
        { "", 1000 },     { "ms", 1 },      { "s", 1000 },     { "m", 60 * 1000 },
        { "min", 60000 }, { "h", 3600000 }, { "d", 86400000 },
    };
    uint64_t n;
    const char *unit;
    int r = split_number(s, &n, &unit);
    if (r < 0)
        return r;
    for (size_t i = 0; i < ELEMENTSOF(units); i++)
        if (streq(unit, units[i].unit))
            return scale(n, units[i].factor, ret);
    return -EINVAL;
}

int strscpy(char *dst, size_t n, const char *src)
{
    if (n == 0)
        return -E2BIG;
    size_t len = strnlen(src, n);
    if (len >= n) {
        memcpy(dst, src, n - 1);
        dst[n - 1] = 0;
        return -E2BIG;
    }
    memcpy(dst, src, len + 1);
    return 0;
}

char *strjoin_internal(const char *first, ...)
{
    va_list ap;
    size_t total = 0;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *)) {
        size_t l = strlen(s);
        if (total + l < total) {
            va_end(ap);
            return NULL;
        }
        total += l;
    }
    va_end(ap);

    char *out = malloc(total + 1);
    if (!out)
        return NULL;
    char *p = out;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *)) {
        size_t l = strlen(s);
        memcpy(p, s, l);
        p += l;
    }
    va_end(ap);
    *p = 0;
    return out;
}

char *hexmem(const void *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *b = p;
    if (len > (SIZE_MAX - 1) / 2)
        return NULL;
    char *out = malloc(len * 2 + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[len * 2] = 0;
    return out;
}

int unhexchar(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool has_control_chars(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

static int buf_reserve(struct buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return -EMSGSIZE;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    int r = buf_reserve(b, n);
    if (r < 0)
        return r;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int buf_append_urlencoded(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int r;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            r = buf_append(b, s, 1);
        else {
            char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
            r = buf_append(b, esc, 3);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

int buf_appendf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n < sizeof(small))
        return buf_append(b, small, (size_t)n);

    int r = buf_reserve(b, (size_t)n);
    if (r < 0)
        return r;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}

void buf_done(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *buf_steal(struct buf *b, size_t *ret_len)
{
    char *p = b->data;
    if (!p) {
        p = strdup("");
        if (!p)
            return NULL;
    }
    if (ret_len)
        *ret_len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

size_t utf8_sequence(const char *s, const char *end)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if ((size_t)(end - s) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

void utf8_scrub(char *s)
{
    char *end = s + strlen(s);
    while (s < end) {
        size_t n = utf8_sequence(s, end);
        if (n == 0) {
            *s++ = '?';
            continue;
        }
        s += n;
    }
}
