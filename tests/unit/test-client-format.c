/* Unit tests for client/format: durations, times, CSV fields, display
 * widths and the --since/--until parser. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/format.h"
#include "tests/tap.h"

static void test_durations(void)
{
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        { 0, "0s" },          { 1, "1ms" },         { 850, "850ms" },      { 1000, "1s" },
        { 59999, "59s" },     { 60000, "1m00s" },   { 185000, "3m05s" },   { 3599000, "59m59s" },
        { 3600000, "1h00m" }, { 7380000, "2h03m" }, { 86400000, "1d00h" }, { 273600000, "3d04h" },
        { -1, "-" },
    };
    char buf[FORMAT_MAX];
    for (size_t i = 0; i < ELEMENTSOF(cases); i++)
        is_str(format_duration(cases[i].ms, buf, sizeof(buf)), cases[i].text, "duration %lld ms",
               (long long)cases[i].ms);
    is_str(format_seconds(14250, buf, sizeof(buf)), "14.250", "seconds with three decimals");
    is_str(format_seconds(5, buf, sizeof(buf)), "0.005", "seconds below one");
}

static void test_times(void)
{
    char buf[FORMAT_MAX];
    setenv("TZ", "UTC", 1);
    tzset();
    is_str(format_time_local(1767225600000, buf, sizeof(buf)), "2026-01-01 00:00:00",
           "local time in UTC");
    is_str(format_time_iso(1767225601999, buf, sizeof(buf)), "2026-01-01T00:00:01Z", "ISO 8601");
    is_str(format_time_local(0, buf, sizeof(buf)), "-", "no time is '-'");
    is_str(format_time_iso(0, buf, sizeof(buf)), "", "no time is empty in CSV");
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    is_str(format_time_local(1767225600000, buf, sizeof(buf)), "2026-01-01 01:00:00",
           "local time follows TZ");
    setenv("TZ", "UTC", 1);
    tzset();
}

static void test_csv(void)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        { "plain", "plain" },
        { "", "" },
        { "a,b", "\"a,b\"" },
        { "say \"hi\"", "\"say \"\"hi\"\"\"" },
        { "two\nlines", "\"two\nlines\"" },
        { "cr\rhere", "\"cr\rhere\"" },
        { " lead", "\" lead\"" },
        { "trail ", "\"trail \"" },
        { "in side", "in side" },
        { "ünïcode", "ünïcode" },
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        struct buf b = BUF_INIT(1024);
        is_int(csv_append_field(&b, cases[i].in), 0, "csv field %zu", i);
        is_str(b.data ? b.data : "", cases[i].out, "csv of '%s'", cases[i].in);
        buf_done(&b);
    }
    struct buf small = BUF_INIT(4);
    is_int(csv_append_field(&small, "a,bcdef"), -EMSGSIZE, "a field past the bound is refused");
    buf_done(&small);
}

static void test_widths(void)
{
    is_int(display_width("abc"), 3, "ASCII width");
    is_int(display_width("ünï"), 3, "UTF-8 counts code points");
    is_int(display_width(""), 0, "empty");
    is_int(display_prefix("abcdef", 3), 3, "prefix of ASCII");
    is_int(display_prefix("üüü", 2), 4, "prefix stops at a code point boundary");
    is_int(display_prefix("ab", 5), 2, "prefix of a short string is all of it");
}

static void test_time_args(void)
{
    const int64_t now = 1767225600000; /* 2026-01-01T00:00:00Z */
    static const struct {
        const char *s;
        int r;
        int64_t v;
    } cases[] = {
        { "1767225600000", 0, 1767225600000 },
        { "2026-01-01", 0, 1767225600000 },
        { "2026-01-01 00:01", 0, 1767225660000 },
        { "2026-01-01T00:01:30", 0, 1767225690000 },
        { "2026-01-01T00:01:30Z", 0, 1767225690000 },
        { "7d", 0, 1767225600000 - 7 * 86400000LL },
        { "90m", 0, 1767225600000 - 90 * 60000LL },
        { "12h", 0, 1767225600000 - 12 * 3600000LL },
        { "yesterday", -EINVAL, 0 },
        { "2026-13-01", -EINVAL, 0 },
        { "2026-01-01 25:00", -EINVAL, 0 },
        { "2026-01-01x", -EINVAL, 0 },
        { "", -EINVAL, 0 },
    };
    setenv("TZ", "UTC", 1);
    tzset();
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        int64_t v = -1;
        is_int(parse_time_arg(cases[i].s, now, &v), cases[i].r, "parse_time_arg('%s')", cases[i].s);
        if (cases[i].r == 0)
            is_int(v, cases[i].v, "parse_time_arg('%s') value", cases[i].s);
        else
            is_int(v, -1, "parse_time_arg('%s') leaves ret alone", cases[i].s);
    }
}

int main(void)
{
    test_durations();
    test_times();
    test_csv();
    test_widths();
    test_time_args();
    return tap_done();
}
