/* Unit tests for daemon/limiter: a token bucket on a fake clock. */
#include <errno.h>

#include "daemon/limiter.h"
#include "tests/tap.h"

#define SEC UINT64_C(1000000)

static void test_burst_then_rate(void)
{
    _cleanup_(limiter_freep) struct limiter *l = NULL;
    uint64_t t = 1000 * SEC, wait = 0;

    is_int(limiter_new(10, 5, t, &l), 0, "new(10/s, burst 5)");
    for (int i = 0; i < 5; i++)
        is_int(limiter_take(l, t, NULL), 0, "burst token %d", i + 1);
    is_int(limiter_take(l, t, &wait), -EAGAIN, "6th at the same instant waits");
    is_int((int64_t)wait, 100000, "wait is 1/rate = 100 ms");
    is_int(limiter_take(l, t + 99999, &wait), -EAGAIN, "1 us early still waits");
    is_int((int64_t)wait, 1, "for 1 us");
    is_int(limiter_take(l, t + 100000, NULL), 0, "one token after 100 ms");

    /* Over 10 s at 10/s exactly 100 requests pass, whatever the polling. */
    unsigned passed = 0;
    for (uint64_t now = t + 100000; now <= t + 100000 + 10 * SEC; now += 7919)
        if (limiter_take(l, now, NULL) == 0)
            passed++;
    ok(passed >= 99 && passed <= 101, "10 s at 10/s passes ~100 (%u)", passed);

    /* A long idle fills to burst, never beyond. */
    uint64_t later = t + 3600 * SEC;
    is_int((int64_t)limiter_tokens_milli(l, later), 5000, "idle refills to burst only");
    limiter_return(l);
    is_int((int64_t)limiter_tokens_milli(l, later), 5000, "return never passes burst");
    is_int(limiter_take(l, later, NULL), 0, "take after idle");
    limiter_return(l);
    is_int((int64_t)limiter_tokens_milli(l, later), 5000, "return gives the token back");
}

static void test_clock_backwards_and_fractional(void)
{
    _cleanup_(limiter_freep) struct limiter *l = NULL;
    uint64_t t = 50 * SEC, wait = 0;

    is_int(limiter_new(0.5, 1, t, &l), 0, "new(0.5/s, burst 1)");
    is_int(limiter_take(l, t, NULL), 0, "first");
    is_int(limiter_take(l, t - SEC, &wait), -EAGAIN, "clock backwards: nothing refilled");
    is_int(limiter_take(l, t + SEC, &wait), -EAGAIN, "half a token after 1 s");
    is_int((int64_t)wait, 1000000, "one more second");
    is_int(limiter_take(l, t + 2 * SEC, NULL), 0, "a token after 2 s");
    is_int(limiter_set(l, 100, 3), 0, "set 100/s burst 3");
    is_int(limiter_take(l, t + 2 * SEC + 10000, NULL), 0, "new rate applies");
}

static void test_invalid(void)
{
    struct limiter *l = NULL;
    is_int(limiter_new(0, 1, 0, &l), -EINVAL, "rate 0 refused");
    is_int(limiter_new(-1, 1, 0, &l), -EINVAL, "negative rate refused");
    is_int(limiter_new(1, 0, 0, &l), -EINVAL, "burst 0 refused");
    is_int(limiter_new(1e9, 1, 0, &l), -EINVAL, "absurd rate refused");
    ok(l == NULL, "ret untouched on failure");
    ok(limiter_free(NULL) == NULL, "free(NULL)");
}

int main(void)
{
    test_burst_then_rate();
    test_clock_backwards_and_fractional();
    test_invalid();
    return tap_done();
}
