#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client/format.h"

const char *format_duration(int64_t ms, char *buf, size_t n)
{
    if (ms < 0) {
        snprintf(buf, n, "-");
        return buf;
    }
    int64_t s = ms / 1000;
    if (s == 0 && ms > 0)
        snprintf(buf, n, "%" PRId64 "ms", ms);
    else if (s < 60)
        snprintf(buf, n, "%" PRId64 "s", s);
    else if (s < 3600)
        snprintf(buf, n, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, n, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, n, "%" PRId64 "d%02" PRId64 "h", s / 86400, s % 86400 / 3600);
    return buf;
}

const char *format_time_local(int64_t ms, char *buf, size_t n)
{
    struct tm tm;
    time_t t = (time_t)(ms / 1000);
    if (ms <= 0 || !localtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(buf, n, "-");
    return buf;
}

const char *format_time_iso(int64_t ms, char *buf, size_t n)
{
    struct tm tm;
    time_t t = (time_t)(ms / 1000);
    if (ms <= 0 || !gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        buf[0] = 0;
    return buf;
}

const char *format_seconds(int64_t ms, char *buf, size_t n)
{
    if (ms < 0)
        ms = 0;
    snprintf(buf, n, "%" PRId64 ".%03" PRId64, ms / 1000, ms % 1000);
    return buf;
}

int csv_append_field(struct buf *b, const char *s)
{
    size_t len = strlen(s);
    bool quote = strpbrk(s, ",\"\r\n") || (len && (s[0] == ' ' || s[len - 1] == ' '));
    if (!quote)
        return buf_append(b, s, len);
    int r = buf_append(b, "\"", 1);
    for (const char *p = s; r >= 0 && *p; p++)
        r = *p == '"' ? buf_append(b, "\"\"", 2) : buf_append(b, p, 1);
    return r < 0 ? r : buf_append(b, "\"", 1);
}

size_t display_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80)
            w++;
    return w;
}

size_t display_prefix(const char *s, size_t cols)
{
    size_t w = 0, i = 0;
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) == 0x80)
            continue;
        if (w == cols)
            break;
        w++;
    }
    return i;
}

static int parse_fixed(const char **p, int digits, int *ret)
{
    int v = 0;
    for (int i = 0; i < digits; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -EINVAL;
        v = v * 10 + (c - '0');
    }
    *p += digits;
    *ret = v;
    return 0;
}

int parse_time_arg(const char *s, int64_t now_ms, int64_t *ret)
{
    uint64_t age;
    int64_t v;
    if (!s || !*s)
        return -EINVAL;
    if (strlen(s) >= 10 && parse_int64(s, &v) == 0 && v > 0) {
        *ret = v;
        return 0;
    }
    if (s[0] >= '0' && s[0] <= '9' && !strchr(s, '-') && parse_duration_ms(s, &age) == 0) {
        if ((int64_t)age < 0 || (int64_t)age > now_ms)
            return -EINVAL;
        *ret = now_ms - (int64_t)age;
        return 0;
    }

    struct tm tm = { .tm_isdst = -1 };
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (parse_fixed(&p, 4, &y) < 0 || *p++ != '-' || parse_fixed(&p, 2, &mo) < 0 || *p++ != '-' ||
        parse_fixed(&p, 2, &d) < 0)
        return -EINVAL;
    if (*p == ' ' || *p == 'T') {
        p++;
        if (parse_fixed(&p, 2, &h) < 0 || *p++ != ':' || parse_fixed(&p, 2, &mi) < 0)
            return -EINVAL;
        if (*p == ':' && (p++, parse_fixed(&p, 2, &sec) < 0))
            return -EINVAL;
    }
    bool utc = *p == 'Z';
    if (utc)
        p++;
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = utc ? timegm(&tm) : mktime(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    *ret = (int64_t)t * 1000;
    return 0;
}
