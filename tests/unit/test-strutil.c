/* Unit tests for proto/strutil: checked parsers refuse everything strtol
 * would quietly accept, and struct buf keeps its bound. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/cleanup.h"
#include "proto/strutil.h"
#include "tests/tap.h"

static void test_numbers(void)
{
    static const struct {
        const char *s;
        int r;
        int64_t v;
    } i64[] = {
        { "0", 0, 0 },
        { "42", 0, 42 },
        { "-7", 0, -7 },
        { "9223372036854775807", 0, INT64_MAX },
        { "-9223372036854775808", 0, INT64_MIN },
        { "9223372036854775808", -ERANGE, 0 },
        { "-9223372036854775809", -ERANGE, 0 },
        { "", -EINVAL, 0 },
        { "-", -EINVAL, 0 },
        { " 1", -EINVAL, 0 },
        { "1 ", -EINVAL, 0 },
        { "+1", -EINVAL, 0 },
        { "0x10", -EINVAL, 0 },
        { "1e3", -EINVAL, 0 },
        { "12abc", -EINVAL, 0 },
        { "--1", -EINVAL, 0 },
    };
    for (size_t i = 0; i < ELEMENTSOF(i64); i++) {
        int64_t v = 12345;
        is_int(parse_int64(i64[i].s, &v), i64[i].r, "parse_int64('%s')", i64[i].s);
        is_int(v, i64[i].r == 0 ? i64[i].v : 12345, "parse_int64('%s') value", i64[i].s);
    }
    int64_t v = 0;
    is_int(parse_int64(NULL, &v), -EINVAL, "parse_int64(NULL)");

    static const struct {
        const char *s;
        int r;
    } ids[] = {
        { "1", 0 },        { "9007199254740993", 0 }, { "0", -ERANGE },
        { "-1", -EINVAL }, { "abc", -EINVAL },        { "99999999999999999999", -ERANGE },
    };
    for (size_t i = 0; i < ELEMENTSOF(ids); i++)
        is_int(parse_id(ids[i].s, &v), ids[i].r, "parse_id('%s')", ids[i].s);
    parse_id("9007199254740993", &v);
    is_int(v, 9007199254740993LL, "id above 2^53 exact");

    uint64_t u = 0;
    is_int(parse_uint64("18446744073709551615", &u), 0, "UINT64_MAX parses");
    ok(u == UINT64_MAX, "UINT64_MAX value");
    is_int(parse_uint64("18446744073709551616", &u), -ERANGE, "UINT64_MAX+1 overflows");
    is_int(parse_uint64("-1", &u), -EINVAL, "no sign for unsigned");
    int n = 0;
    is_int(parse_int("2147483648", &n), -ERANGE, "int overflow");
    is_int(parse_int("-2147483648", &n), 0, "INT_MIN");

    static const struct {
        const char *s;
        int r;
        bool v;
    } bools[] = {
        { "true", 0, true }, { "TRUE", 0, true },   { "yes", 0, true },      { "on", 0, true },
        { "1", 0, true },    { "false", 0, false }, { "no", 0, false },      { "off", 0, false },
        { "0", 0, false },   { "", -EINVAL, 0 },    { "maybe", -EINVAL, 0 }, { "2", -EINVAL, 0 },
    };
    for (size_t i = 0; i < ELEMENTSOF(bools); i++) {
        bool b = !bools[i].v;
        is_int(parse_bool(bools[i].s, &b), bools[i].r, "parse_bool('%s')", bools[i].s);
        if (bools[i].r == 0)
            is_int(b, bools[i].v, "parse_bool('%s') value", bools[i].s);
    }

    static const struct {
        const char *s;
        int r;
        uint64_t v;
    } sizes[] = {
        { "512", 0, 512 },
        { "64K", 0, 65536 },
        { "8M", 0, 8388608 },
        { "2G", 0, 2147483648ULL },
        { "1MiB", 0, 1048576 },
        { "10B", 0, 10 },
        { "1T", -EINVAL, 0 },
        { "K", -EINVAL, 0 },
        { "-1K", -EINVAL, 0 },
        { "99999999999999999999G", -ERANGE, 0 },
        { "17179869184G", -ERANGE, 0 },
    };
    for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
        u = 0;
        is_int(parse_size(sizes[i].s, &u), sizes[i].r, "parse_size('%s')", sizes[i].s);
        if (sizes[i].r == 0)
            ok(u == sizes[i].v, "parse_size('%s') = %llu", sizes[i].s, (unsigned long long)u);
    }

    static const struct {
        const char *s;
        int r;
        uint64_t v;
    } durs[] = {
        { "30", 0, 30000 },     { "250ms", 0, 250 },   { "30s", 0, 30000 },  { "5m", 0, 300000 },
        { "2h", 0, 7200000 },   { "1d", 0, 86400000 }, { "1w", -EINVAL, 0 }, { "s", -EINVAL, 0 },
        { "1.5s", -EINVAL, 0 }, { "", -EINVAL, 0 },
    };
    for (size_t i = 0; i < ELEMENTSOF(durs); i++) {
        u = 0;
        is_int(parse_duration_ms(durs[i].s, &u), durs[i].r, "parse_duration_ms('%s')", durs[i].s);
        if (durs[i].r == 0)
            ok(u == durs[i].v, "parse_duration_ms('%s') = %llu", durs[i].s, (unsigned long long)u);
    }
}

static void test_strings(void)
{
    char small[8];
    is_int(strscpy(small, sizeof(small), "1234567"), 0, "7 chars fit in 8");
    is_int(strscpy(small, sizeof(small), "12345678"), -E2BIG, "8 chars do not");
    is_str(small, "1234567", "... cut and terminated");
    _cleanup_free_ char *j = strjoin("a", "/", "bc", "");
    is_str(j, "a/bc", "strjoin");
    _cleanup_free_ char *h = hexmem("\x00\xff\x10", 3);
    is_str(h, "00ff10", "hexmem");
    is_int(unhexchar('0'), 0, "unhexchar 0");
    is_int(unhexchar('f'), 15, "unhexchar f");
    is_int(unhexchar('A'), 10, "unhexchar A");
    is_int(unhexchar('g'), -1, "unhexchar g is not hex");
    ok(has_control_chars("a\tb") && has_control_chars("\x7f"), "tab and DEL are control chars");
    ok(!has_control_chars("plain é text"), "text without control chars");
    ok(startswith("/api/2.2/x", "/api/") != NULL, "startswith true");
    is_str(startswith("/api/2.2/x", "/api/"), "2.2/x", "startswith returns the rest");
    ok(startswith("/ap", "/api/") == NULL, "startswith false");
    ok(streq_ptr(NULL, NULL) && !streq_ptr("a", NULL), "streq_ptr");
    ok(isempty(NULL) && isempty("") && !isempty("x"), "isempty");
}

static void test_buf(void)
{
    struct buf b = BUF_INIT(10);
    is_int(buf_append(&b, "hello", 5), 0, "append 5");
    is_int(buf_appendf(&b, "%d", 12345), 0, "append 5 more (at the max)");
    is_str(b.data, "hello12345", "contents");
    is_int(buf_append(&b, "x", 1), -EMSGSIZE, "one past the max is refused");
    is_int(b.len, 10, "nothing appended");
    is_int(buf_appendf(&b, "%s", "y"), -EMSGSIZE, "appendf past the max is refused");
    buf_reset(&b);
    is_int(b.len, 0, "reset empties");
    struct buf big = BUF_INIT(1 << 20);
    for (int i = 0; i < 1000; i++)
        buf_appendf(&big, "%04d,", i);
    is_int(big.len, 5000, "many appends grow");
    ok(big.data[4999] == ',' && big.data[5000] == 0, "terminated");
    char long_line[600];
    memset(long_line, 'z', sizeof(long_line) - 1);
    long_line[sizeof(long_line) - 1] = 0;
    is_int(buf_appendf(&big, "[%s]", long_line), 0, "appendf longer than its scratch");
    is_int(big.len, 5000 + 601, "long appendf length");
    size_t len = 0;
    _cleanup_free_ char *s = buf_steal(&big, &len);
    is_int(len, 5601, "steal length");
    ok(s && s[5600] == 0x5d, "stolen data ends with the last append");
    ok(big.data == NULL && big.len == 0, "steal empties");
    buf_done(&b);
    buf_done(&big);
    struct buf empty = BUF_INIT(4);
    _cleanup_free_ char *e = buf_steal(&empty, &len);
    is_str(e, "", "steal of an empty buffer is an empty string");

    struct buf u = BUF_INIT(64);
    is_int(buf_append_urlencoded(&u, "a-Z_9.~ /+=&\xc3\xa9"), 0, "urlencode");
    is_str(u.data, "a-Z_9.~%20%2F%2B%3D%26%C3%A9", "only the unreserved stay as they are");
    buf_done(&u);
}

int main(void)
{
    test_numbers();
    test_strings();
    test_buf();
    return tap_done();
}
