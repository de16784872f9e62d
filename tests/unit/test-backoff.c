/* Unit tests for daemon/backoff: full-jitter bounds and Retry-After. */
#include <curl/curl.h>
#include <errno.h>

#include "daemon/backoff.h"
#include "tests/tap.h"

#define MS UINT64_C(1000)

static void test_delay(void)
{
    /* The ceiling doubles from base and stops at cap; the draw is within it. */
    static const struct {
        unsigned attempt;
        uint64_t ceiling;
    } cases[] = {
        { 0, 100 * MS }, { 1, 100 * MS },  { 2, 200 * MS },   { 3, 400 * MS },
        { 4, 800 * MS }, { 5, 1000 * MS }, { 60, 1000 * MS }, { 4000000000u, 1000 * MS },
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        uint64_t top = backoff_delay_usec(100 * MS, 1000 * MS, cases[i].attempt, UINT64_MAX - 1);
        uint64_t ceiling = cases[i].ceiling;
        ok(top <= ceiling, "attempt %u: draw %llu <= ceiling %llu", cases[i].attempt,
           (unsigned long long)top, (unsigned long long)ceiling);
        is_int((int64_t)backoff_delay_usec(100 * MS, 1000 * MS, cases[i].attempt, ceiling),
               (int64_t)ceiling, "attempt %u: the ceiling itself is reachable", cases[i].attempt);
        is_int((int64_t)backoff_delay_usec(100 * MS, 1000 * MS, cases[i].attempt, 0), 0,
               "attempt %u: 0 is reachable (full jitter)", cases[i].attempt);
    }
    is_int((int64_t)backoff_delay_usec(0, 1000, 3, 12345), 0, "base 0 gives 0");
    is_int((int64_t)backoff_delay_usec(UINT64_MAX / 2 + 1, UINT64_MAX, 70, 42), 42,
           "no overflow near UINT64_MAX");

    struct backoff_rng rng;
    backoff_seed(&rng);
    uint64_t sum = 0, max = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t d = backoff_delay_usec(100 * MS, 1000 * MS, 3, backoff_random(&rng));
        sum += d;
        max = d > max ? d : max;
    }
    ok(max <= 400 * MS, "10000 draws stay <= 400 ms (max %llu)", (unsigned long long)max);
    ok(sum / 10000 > 150 * MS && sum / 10000 < 250 * MS, "mean of U[0,400ms] is ~200 ms (%llu)",
       (unsigned long long)(sum / 10000));
}

static void test_retry_after(void)
{
    /* Sun, 06 Nov 1994 08:49:37 GMT */
    const time_t now = 784111777;
    static const struct {
        const char *v;
        int r;
        unsigned s;
    } cases[] = {
        { "0", 0, 0 },
        { "1", 0, 1 },
        { " 120 ", 0, 120 },
        { "3600", 0, 3600 },
        { "86400", 0, RETRY_AFTER_MAX_S },
        { "99999999999999999999999", 0, RETRY_AFTER_MAX_S },
        { "Sun, 06 Nov 1994 08:49:47 GMT", 0, 10 },
        { "Sunday, 06-Nov-94 08:49:40 GMT", 0, 3 },
        { "Sun Nov  6 08:49:42 1994 GMT", 0, 5 },
        { "Sun, 06 Nov 1994 08:49:00 GMT", 0, 0 },
        { "Mon, 07 Nov 1994 08:49:37 GMT", 0, RETRY_AFTER_MAX_S },
        { "", -EINVAL, 0 },
        { "   ", -EINVAL, 0 },
        { "-1", -EINVAL, 0 },
        { "1.5", -EINVAL, 0 },
        { "12abc", -EINVAL, 0 },
        { "soon", -EINVAL, 0 },
        { "Sun, 06 Nov 1994 08:49:47", -EINVAL, 0 },
        { "Xyz, 99 Foo 1994 99:99:99 GMT", -EINVAL, 0 },
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        unsigned s = 777;
        is_int(retry_after_parse(cases[i].v, now, &s), cases[i].r, "Retry-After '%s'", cases[i].v);
        is_int(s, cases[i].r == 0 ? cases[i].s : 777, "Retry-After '%s' seconds", cases[i].v);
    }
    unsigned s;
    is_int(retry_after_parse(NULL, now, &s), -EINVAL, "NULL");
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_delay();
    test_retry_after();
    curl_global_cleanup();
    return tap_done();
}
