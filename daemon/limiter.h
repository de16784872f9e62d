/* daemon/limiter.h: a token bucket (rate per second, burst) on a clock the
 * caller passes in, so it is pure and testable. Owns only its own state;
 * limiter_free() frees it. One instance is shared by every upstream caller. */
#pragma once

#include <stdint.h>

#include "proto/cleanup.h"
#include "proto/macro.h"

struct limiter;

/* rate: tokens per second (> 0, at most 1e6); burst: bucket size (>= 1).
 * The bucket starts full at now_usec. -EINVAL for bad values, -ENOMEM. */
int limiter_new(double rate, unsigned burst, uint64_t now_usec, struct limiter **ret);
struct limiter *limiter_free(struct limiter *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct limiter *, limiter_free)

/* Takes one token: 0 if there was one. Otherwise -EAGAIN and *ret_wait_usec
 * (if given) is how long until one will be there (>= 1). A clock that goes
 * backwards refills nothing. */
int limiter_take(struct limiter *l, uint64_t now_usec, uint64_t *ret_wait_usec);

/* Gives back a token taken for a request that was not sent (never above burst). */
void limiter_return(struct limiter *l);

/* Tokens available at now_usec, in thousandths (1000 = one token). */
uint64_t limiter_tokens_milli(struct limiter *l, uint64_t now_usec);

/* Changes rate and burst (a reload), keeping the tokens (cut to the new burst). */
int limiter_set(struct limiter *l, double rate, unsigned burst);
