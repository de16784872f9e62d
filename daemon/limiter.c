/* daemon/limiter.c: token bucket in micro-tokens, so refills are exact
 * integer arithmetic on microseconds: one token per second refills one
 * micro-token per microsecond. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "daemon/limiter.h"

#define UNITS_PER_TOKEN UINT64_C(1000000)

struct limiter {
    double rate;    /* tokens per second == micro-tokens per microsecond */
    uint64_t burst; /* in micro-tokens */
    uint64_t units; /* micro-tokens in the bucket */
    uint64_t last;  /* clock of the last refill */
};

static bool settings_valid(double rate, unsigned burst)
{
    return isfinite(rate) && rate > 0 && rate <= 1e6 && burst >= 1 && burst <= 1000000;
}

int limiter_new(double rate, unsigned burst, uint64_t now_usec, struct limiter **ret)
{
    if (!settings_valid(rate, burst))
        return -EINVAL;
    struct limiter *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->rate = rate;
    l->burst = burst * UNITS_PER_TOKEN;
    l->units = l->burst;
    l->last = now_usec;
    *ret = l;
    return 0;
}

struct limiter *limiter_free(struct limiter *l)
{
    free(l);
    return NULL;
}

static void refill(struct limiter *l, uint64_t now)
{
    if (now <= l->last)
        return; /* same instant, or a clock going backwards: nothing */
    uint64_t elapsed = now - l->last;
    l->last = now;
    double add = (double)elapsed * l->rate;
    uint64_t room = l->burst - l->units;
    if (add >= (double)room)
        l->units = l->burst;
    else
        l->units += (uint64_t)add;
}

int limiter_take(struct limiter *l, uint64_t now_usec, uint64_t *ret_wait_usec)
{
    refill(l, now_usec);
    if (l->units >= UNITS_PER_TOKEN) {
        l->units -= UNITS_PER_TOKEN;
        return 0;
    }
    if (ret_wait_usec) {
        double wait = ceil((double)(UNITS_PER_TOKEN - l->units) / l->rate);
        *ret_wait_usec = wait < 1 ? 1 : (uint64_t)wait;
    }
    return -EAGAIN;
}

void limiter_return(struct limiter *l)
{
    l->units = MIN(l->burst, l->units + UNITS_PER_TOKEN);
}

uint64_t limiter_tokens_milli(struct limiter *l, uint64_t now_usec)
{
    refill(l, now_usec);
    return l->units / (UNITS_PER_TOKEN / 1000);
}

int limiter_set(struct limiter *l, double rate, unsigned burst)
{
    if (!settings_valid(rate, burst))
        return -EINVAL;
    l->rate = rate;
    l->burst = burst * UNITS_PER_TOKEN;
    l->units = MIN(l->units, l->burst);
    return 0;
}
