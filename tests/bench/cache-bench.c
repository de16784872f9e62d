/* tests/bench/cache-bench.c: the micro-benchmark of daemon/cache. Times,
 * in ns per operation on one core:
 *   hit          lookup + ref + unref of a FRESH entry (N entries of S bytes)
 *   key          snprintf of a run id + cache_key_build of a 2-argument
 *                query (unsorted) + free
 *   key+hit      the same, then the hit
 *   miss         lookup of an absent key
 *   store/evict  storing new keys into a full cache (each store evicts)
 *   replace      storing an existing key again
 *   flight       join as leader, 8 waiters join, finish (per request)
 *   invalidate   INV_RUN of one run among N
 * The daemon's target is >= 50k hits/s in all, so a hit should cost well
 * under 1 us. --smoke runs a tiny version for make check.
 * Usage: cache-bench [--entries N] [--size BYTES] [--ops M] [--smoke] */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/cache.h"
#include "proto/strutil.h"

#define SEC UINT64_C(1000000)

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void report(const char *name, double ns, uint64_t ops)
{
    printf("| %-12s | %10" PRIu64 " | %9.1f | %12.0f |\n", name, ops, ns / (double)ops,
           1e9 * (double)ops / ns);
}

static char *key_of(uint64_t run_id)
{
    char id[24];
    char *key = NULL;
    const char *names[2] = { "run_id", "include_history" };
    const char *values[2] = { id, "true" };

    (void)snprintf(id, sizeof(id), "%" PRIu64, run_id);
    if (cache_key_build(HTTP_GET, "/api/2.2/jobs/runs/get", names, values, 2, &key) < 0)
        abort();
    return key;
}

static void on_result(const struct cache_flight_result *r, void *userdata)
{
    unsigned *n = userdata;
    (*n)++;
    cache_body_unref(r->body);
}

int main(int argc, char **argv)
{
    uint64_t entries = 10000, size = 2048, ops = 2000000;
    bool smoke = false;
    static const struct option options[] = {
        { "entries", required_argument, NULL, 'n' },
        { "size", required_argument, NULL, 's' },
        { "ops", required_argument, NULL, 'o' },
        { "smoke", no_argument, NULL, 'S' },
        {},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0) {
        switch (opt) {
        case 'n':
            if (parse_uint64(optarg, &entries) < 0 || entries < 1 || entries > 1000000)
                return fprintf(stderr, "bad --entries\n"), 2;
            break;
        case 's':
            if (parse_uint64(optarg, &size) < 0 || size > 1 * MIB)
                return fprintf(stderr, "bad --size\n"), 2;
            break;
        case 'o':
            if (parse_uint64(optarg, &ops) < 0 || ops < 1)
                return fprintf(stderr, "bad --ops\n"), 2;
            break;
        case 'S':
            smoke = true;
            break;
        default:
            return 2;
        }
    }
    if (smoke) {
        entries = 200;
        ops = 20000;
    }

    struct cache_settings s;
    cache_settings_default(&s);
    s.max_entries = (size_t)entries;
    s.max_bytes = MAX((uint64_t)64 * MIB, entries * (size + 1024) * 2);
    struct cache *c = NULL;
    if (cache_new(&s, &c) < 0)
        return fprintf(stderr, "cache_new failed\n"), 1;

    char *data = malloc(size + 1);
    memset(data, 'x', size);
    char **keys = calloc(entries, sizeof(char *));
    const uint64_t t0 = 1000 * SEC;
    for (uint64_t i = 0; i < entries; i++) {
        struct cache_body *b = NULL;
        struct cache_tags t = { .class = CACHE_RUN,
                                .job_id = (int64_t)(i % 100 + 1),
                                .run_id = (int64_t)(i + 1),
                                .terminal = true };
        keys[i] = key_of(i + 1);
        if (cache_body_new("application/json", data, size, &b) < 0 ||
            cache_store(c, keys[i], 200, b, 0, &t, t0) != 1)
            return fprintf(stderr, "store failed\n"), 1;
        cache_body_unref(b);
    }
    uint32_t *order = malloc(ops * sizeof(uint32_t));
    for (uint64_t i = 0; i < ops; i++)
        order[i] = rnd() % (uint32_t)entries;

    printf("cache-bench: %" PRIu64 " entries of %" PRIu64 " bytes\n", entries, size);
    printf("| %-12s | %10s | %9s | %12s |\n", "operation", "ops", "ns/op", "ops/s");
    printf("|--------------|------------|-----------|--------------|\n");

    /* hit */
    uint64_t sum = 0, bad = 0;
    double t = now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        struct cache_hit hit;
        if (cache_lookup(c, keys[order[i]], t0 + SEC, UINT64_MAX, &hit) != CACHE_FRESH) {
            bad++;
            continue;
        }
        sum += hit.body->len;
        cache_body_unref_data(hit.body->data);
    }
    report("hit", now_ns() - t, ops);

    /* key alone, then key + hit */
    const char *names[2] = { "run_id", "include_history" };
    char id[24];
    const char *values[2] = { id, "true" };
    t = now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        char *key = NULL;
        (void)snprintf(id, sizeof(id), "%" PRIu32, order[i] + 1);
        if (cache_key_build(HTTP_GET, "/api/2.2/jobs/runs/get", names, values, 2, &key) < 0)
            abort();
        sum += (uint64_t)key[30];
        free(key);
    }
    report("key", now_ns() - t, ops);

    t = now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        struct cache_hit hit;
        char *key = NULL;
        (void)snprintf(id, sizeof(id), "%" PRIu32, order[i] + 1);
        if (cache_key_build(HTTP_GET, "/api/2.2/jobs/runs/get", names, values, 2, &key) < 0)
            abort();
        if (cache_lookup(c, key, t0 + SEC, UINT64_MAX, &hit) == CACHE_FRESH) {
            sum += hit.body->len;
            cache_body_unref(hit.body);
        } else
            bad++;
        free(key);
    }
    report("key+hit", now_ns() - t, ops);

    /* miss */
    t = now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        struct cache_hit hit;
        /* A key of the same shape that was never stored. */
        keys[order[i]][5] ^= 0x20;
        bad += cache_lookup(c, keys[order[i]], t0 + SEC, UINT64_MAX, &hit) != CACHE_MISS;
        keys[order[i]][5] ^= 0x20;
    }
    report("miss", now_ns() - t, ops);

    /* replace */
    struct cache_body *b = NULL;
    if (cache_body_new("application/json", data, size, &b) < 0)
        abort();
    uint64_t n_store = MIN(ops, (uint64_t)500000);
    t = now_ns();
    for (uint64_t i = 0; i < n_store; i++) {
        struct cache_tags tg = { .class = CACHE_RUN,
                                 .job_id = order[i] % 100 + 1,
                                 .run_id = order[i] + 1,
                                 .terminal = true };
        bad += cache_store(c, keys[order[i]], 200, b, 0, &tg, t0) != 1;
    }
    report("replace", now_ns() - t, n_store);

    /* store/evict: new keys into the full cache */
    char **fresh = calloc(n_store, sizeof(char *));
    for (uint64_t i = 0; i < n_store; i++)
        fresh[i] = key_of(entries + 1 + i);
    struct cache_stats st0, st1;
    cache_get_stats(c, &st0);
    t = now_ns();
    for (uint64_t i = 0; i < n_store; i++) {
        struct cache_tags tg = { .class = CACHE_RUN,
                                 .job_id = (int64_t)(i % 100 + 1),
                                 .run_id = (int64_t)(entries + 1 + i),
                                 .terminal = true };
        bad += cache_store(c, fresh[i], 200, b, 0, &tg, t0) != 1;
    }
    report("store/evict", now_ns() - t, n_store);
    cache_get_stats(c, &st1);
    if (st1.evictions - st0.evictions < n_store)
        bad++;

    /* flight: a leader and 8 waiters, per request */
    uint64_t n_flight = ops / 9;
    unsigned called = 0;
    t = now_ns();
    for (uint64_t i = 0; i < n_flight; i++) {
        struct cache_flight *f = NULL, *unused = NULL;
        struct cache_waiter *w;
        const char *k = fresh[i % n_store];
        if (cache_flight_join(c, k, NULL, NULL, &f, NULL) != CACHE_FLIGHT_LEADER)
            bad++;
        for (int j = 0; j < 8; j++)
            bad += cache_flight_join(c, k, on_result, &called, &unused, &w) != CACHE_FLIGHT_JOINED;
        cache_flight_finish(c, f, 200, b);
    }
    report("flight/req", now_ns() - t, n_flight * 9);
    if (called != n_flight * 8)
        bad++;

    /* invalidate one run */
    uint64_t n_inv = MIN(n_store, (uint64_t)100000);
    t = now_ns();
    for (uint64_t i = 0; i < n_inv; i++)
        sum += (uint64_t)cache_invalidate(c, INV_RUN, 0, (int64_t)(entries + 1 + i));
    report("invalidate", now_ns() - t, n_inv);

    struct cache_stats st;
    cache_get_stats(c, &st);
    printf("entries %" PRIu64 ", bytes %" PRIu64 " of %" PRIu64 ", evictions %" PRIu64
           ", checksum %" PRIu64 "\n",
           st.entries, st.bytes, st.max_bytes, st.evictions, sum);

    cache_body_unref(b);
    cache_free(c);
    for (uint64_t i = 0; i < entries; i++)
        free(keys[i]);
    for (uint64_t i = 0; i < n_store; i++)
        free(fresh[i]);
    free(fresh);
    free(keys);
    free(order);
    free(data);
    if (bad) {
        fprintf(stderr, "cache-bench: %" PRIu64 " unexpected results\n", bad);
        return 1;
    }
    return 0;
}
