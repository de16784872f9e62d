/* tests/unit/cache-testutil.h: helpers shared by the daemon/cache tests:
 * a body from a string, a small cache with 10 s TTLs and a 60 s grace, and
 * whether a key is there. Each aborts on a failure that is not under test. */
#pragma once

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cache.h"

#define SEC UINT64_C(1000000)
#define T0 (1000 * SEC)

static inline struct cache_body *body_of(const char *s)
{
    struct cache_body *b = NULL;
    if (cache_body_new("application/json", s, strlen(s), &b) < 0)
        abort();
    return b;
}

static inline struct cache *cache_small(uint64_t max_bytes, size_t max_entries)
{
    struct cache_settings s;
    struct cache *c = NULL;

    cache_settings_default(&s);
    s.max_bytes = max_bytes;
    s.max_entries = max_entries;
    s.grace_usec = 60 * SEC;
    for (size_t i = 1; i < _CACHE_CLASS_MAX; i++)
        s.ttl_usec[i] = 10 * SEC;
    if (cache_new(&s, &c) < 0)
        abort();
    return c;
}

/* A lookup (which counts in the stats and moves the entry up the LRU). */
static inline bool present(struct cache *c, const char *key, uint64_t now)
{
    struct cache_hit hit = { 0 };
    enum cache_lookup_result r = cache_lookup(c, key, now, UINT64_MAX, &hit);
    cache_body_unref(hit.body);
    return r != CACHE_MISS;
}
