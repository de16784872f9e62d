/* Unit tests for daemon/cache: 100,000 random operations (store, lookup
 * with and without max-age, invalidation, time passing) against a reference
 * model, checking the bounds after every one. The exact model (at most 64
 * entries, so the tables stay at their smallest) predicts every eviction;
 * the loose one (growing tables) checks bounds and contents. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cache-private.h"
#include "daemon/cache.h"
#include "proto/endpoint.h"
#include "proto/strutil.h"
#include "tests/tap.h"
#include "tests/unit/cache-testutil.h"

/* ---- randomized run against a reference model ---- */

#define MODEL_KEYS 200

struct model_entry {
    bool present;
    unsigned version;
    uint64_t stored, expires; /* expires UINT64_MAX: forever */
    uint64_t stamp;           /* LRU: larger is more recent */
    uint64_t charge;
};

struct model {
    struct model_entry e[MODEL_KEYS];
    uint64_t stamp;
    uint64_t bytes;
    size_t n;
};

static uint64_t rng_state = 0x853c49e6748fea9bULL;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

static struct cache_tags model_tags(unsigned k)
{
    static const enum cache_class classes[] = {
        CACHE_JOB,        CACHE_JOB_LIST,   CACHE_RUN,         CACHE_RUN_LIST,
        CACHE_RUN_OUTPUT, CACHE_RUN_EXPORT, CACHE_PERMISSIONS, CACHE_PERMISSION_LEVELS,
    };
    struct cache_tags t = { .class = classes[k % ELEMENTSOF(classes)] };
    switch (t.class) {
    case CACHE_RUN:
    case CACHE_RUN_OUTPUT:
    case CACHE_RUN_EXPORT:
        t.run_id = k / 8 % 13 + 1;
        t.job_id = k / 8 % 5 + 1;
        break;
    case CACHE_JOB:
    case CACHE_PERMISSIONS:
    case CACHE_PERMISSION_LEVELS:
        t.job_id = k / 8 % 5 + 1;
        break;
    case CACHE_RUN_LIST:
        t.job_id = k % 3 ? 0 : k / 8 % 5 + 1; /* runs/list?job_id=... */
        break;
    default:
        break;
    }
    return t;
}

/* The model's own statement of the INV_* rules (header of cache.h). */
static bool model_invalidates(unsigned flags, int64_t job, int64_t run, const struct cache_tags *t)
{
    bool is_run =
        t->class == CACHE_RUN || t->class == CACHE_RUN_OUTPUT || t->class == CACHE_RUN_EXPORT;
    bool is_perm = t->class == CACHE_PERMISSIONS || t->class == CACHE_PERMISSION_LEVELS;
    if ((flags & INV_JOB) && t->class == CACHE_JOB && job && t->job_id == job)
        return true;
    if ((flags & INV_JOB_LIST) && t->class == CACHE_JOB_LIST)
        return true;
    if ((flags & INV_RUN) && is_run && run && t->run_id == run)
        return true;
    if ((flags & INV_RUN_LIST) && t->class == CACHE_RUN_LIST)
        return true;
    if ((flags & INV_PERMISSIONS) && is_perm && job && t->job_id == job)
        return true;
    if ((flags & INV_JOB_RUNS) && is_run && job && t->job_id == job)
        return true;
    return false;
}

static void model_drop(struct model *m, unsigned k)
{
    if (!m->e[k].present)
        return;
    m->e[k].present = false;
    m->bytes -= m->e[k].charge;
    m->n--;
}

static void randomized(size_t max_entries, uint64_t max_bytes, unsigned ops, bool exact)
{
    _cleanup_(cache_freep) struct cache *c = cache_small(max_bytes, max_entries);
    struct model *m = calloc(1, sizeof(*m));
    uint64_t now = T0;
    unsigned failures = 0, bound_failures = 0, lookups = 0, fresh = 0, stale = 0;
    unsigned first_failure = 0;
    static char data[16 * KIB];
    memset(data, 'd', sizeof(data));

    for (unsigned op = 0; op < ops; op++) {
        unsigned k = rnd() % MODEL_KEYS, what = rnd() % 100;
        char key[32];
        (void)snprintf(key, sizeof(key), "GET /k/%u", k);
        struct cache_tags t = model_tags(k);
        bool fail = false;

        if (what < 40) { /* store */
            char head[32];
            unsigned version = op;
            int hl = snprintf(head, sizeof(head), "%u:%u:", k, version);
            size_t len = (size_t)hl + rnd() % (rnd() % 8 == 0 ? 9 * KIB : 2 * KIB);
            memcpy(data, head, (size_t)hl);
            struct cache_body *b = NULL;
            if (cache_body_new(NULL, data, len, &b) < 0)
                abort();
            uint64_t ttl = rnd() % 10 == 0 ? 0 : (rnd() % 20 + 1) * SEC;
            t.terminal = rnd() % 10 == 0;
            int r = cache_store(c, key, 200, b, ttl, &t, now);

            /* Model: drop the old copy, refuse or evict, keep. */
            model_drop(m, k);
            uint64_t charge = cache_entry_charge(strlen(key), b);
            if (charge > max_bytes / 8) {
                fail |= r != -EFBIG;
            } else {
                if (exact)
                    while (m->n > 0 && (m->n >= max_entries ||
                                        CACHE_MIN_TABLES_BYTES + m->bytes + charge > max_bytes)) {
                        unsigned lru = MODEL_KEYS;
                        for (unsigned i = 0; i < MODEL_KEYS; i++)
                            if (m->e[i].present &&
                                (lru == MODEL_KEYS || m->e[i].stamp < m->e[lru].stamp))
                                lru = i;
                        model_drop(m, lru);
                    }
                fail |= r != 1;
                if (r == 1) {
                    if (ttl == 0)
                        ttl = 10 * SEC;
                    m->e[k] = (struct model_entry){
                        .present = true,
                        .version = version,
                        .stored = now,
                        .expires = t.terminal ? UINT64_MAX : now + ttl,
                        .stamp = ++m->stamp,
                        .charge = charge,
                    };
                    m->bytes += charge;
                    m->n++;
                }
            }
            cache_body_unref(b);
        } else if (what < 85) { /* lookup */
            struct cache_hit hit = { 0 };
            uint64_t max_age = rnd() % 4 == 0 ? (rnd() % 10) * SEC : UINT64_MAX;
            enum cache_lookup_result r = cache_lookup(c, key, now, max_age, &hit);
            struct model_entry *e = &m->e[k];
            lookups++;
            if (r == CACHE_FRESH)
                fresh++;
            if (r == CACHE_STALE)
                stale++;
            if (e->present && e->expires != UINT64_MAX && now >= e->expires + 60 * SEC)
                model_drop(m, k);
            if (!e->present) {
                /* Without the exact model an eviction may explain a miss. */
                fail |= r != CACHE_MISS;
            } else if (r == CACHE_MISS) {
                fail |= exact;
                if (!exact)
                    model_drop(m, k);
            } else {
                bool want_fresh = now < e->expires && now - e->stored <= max_age;
                char head[32];
                int hl = snprintf(head, sizeof(head), "%u:%u:", k, e->version);
                fail |= (r == CACHE_FRESH) != want_fresh;
                fail |= hit.body->len < (size_t)hl || memcmp(hit.body->data, head, (size_t)hl);
                e->stamp = ++m->stamp;
            }
            cache_body_unref(hit.body);
        } else if (what < 90) { /* invalidate */
            static const unsigned rows[] = {
                INV_JOB_LIST,
                INV_JOB | INV_JOB_LIST,
                INV_JOB | INV_JOB_LIST | INV_PERMISSIONS | INV_JOB_RUNS | INV_RUN_LIST,
                INV_RUN_LIST,
                INV_RUN | INV_RUN_LIST,
                INV_JOB_RUNS | INV_RUN_LIST,
                INV_PERMISSIONS,
                INV_RUN,
            };
            unsigned flags = rows[rnd() % ELEMENTSOF(rows)];
            int64_t job = rnd() % 6, run = rnd() % 14;
            int dropped = cache_invalidate(c, flags, job, run);
            int want = 0;
            for (unsigned i = 0; i < MODEL_KEYS; i++) {
                struct cache_tags ti = model_tags(i);
                if (m->e[i].present && model_invalidates(flags, job, run, &ti)) {
                    model_drop(m, i);
                    want++;
                }
            }
            if (exact)
                fail |= dropped != want;
        } else if (what < 92) { /* invalidate one key */
            int r = cache_invalidate_key(c, key);
            if (exact)
                fail |= r != (m->e[k].present ? 1 : 0);
            model_drop(m, k);
        } else { /* time passes */
            now += (rnd() % 3000) * 1000;
        }

        struct cache_stats st;
        cache_get_stats(c, &st);
        if (st.bytes > max_bytes || st.entries > max_entries)
            bound_failures++;
        if (exact)
            fail |= st.entries != m->n || st.bytes != CACHE_MIN_TABLES_BYTES + m->bytes;
        if (fail && failures++ == 0)
            first_failure = op;
    }
    is_int(bound_failures, 0, "randomized %u ops (%zu entries, %" PRIu64 " bytes): bounds held",
           ops, max_entries, max_bytes);
    is_int(failures, 0, "randomized: every result as the %s model says (first failure op %u)",
           exact ? "exact" : "loose", first_failure);
    ok(fresh > ops / 50 && stale > ops / 100, "randomized: fresh %u and stale %u of %u lookups",
       fresh, stale, lookups);
    struct cache_stats st;
    cache_get_stats(c, &st);
    ok(st.evictions > 0, "randomized: evictions happened (%" PRIu64 ")", st.evictions);
    free(m);
}

int main(void)
{
    randomized(48, 64 * KIB, 100000, true);
    randomized(1000, 192 * KIB, 100000, false);
    return tap_done();
}
