/* daemon/backoff.h: when to try again. Exponential backoff with full jitter,
 * Retry-After (integer seconds or an HTTP date) and a small PRNG for the
 * jitter. Pure functions on values the caller passes in; owns nothing. */
#pragma once

#include <stdint.h>
#include <time.h>

/* Longest Retry-After jobsd honours; a longer one is cut to this. */
#define RETRY_AFTER_MAX_S 3600U

/* Full jitter: a uniform draw from [0, min(cap, base * 2^(attempt-1))],
 * attempt counting from 1. random is any 64-bit random value. */
uint64_t backoff_delay_usec(uint64_t base_usec, uint64_t cap_usec, unsigned attempt,
                            uint64_t random);

/* The wait a Retry-After value asks for, in whole seconds, cut to
 * RETRY_AFTER_MAX_S: "120" (digits, surrounding blanks allowed) or an HTTP
 * date ("Sun, 06 Nov 1994 08:49:37 GMT", and the two obsolete forms) compared
 * with now; a date in the past gives 0. -EINVAL for anything else. */
int retry_after_parse(const char *value, time_t now, unsigned *ret_seconds);

/* xorshift64* state; never 0. Seeded from getrandom() by backoff_seed(). */
struct backoff_rng {
    uint64_t s;
};
void backoff_seed(struct backoff_rng *r);
uint64_t backoff_random(struct backoff_rng *r);
