/* Unit tests for daemon/cache: invalidation for every write row of the
 * endpoint table and each INV_* flag, through the id indexes, and the epoch
 * that refuses to keep a read begun before a write. */
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

/* ---- invalidation: every write row of the endpoint table ---- */

#define J1 101
#define J2 102
#define R1 201 /* a run of J1 */
#define R2 202 /* a run of J2 */

static const struct fixture {
    const char *key;
    struct cache_tags tags;
} fixtures[] = {
    { "job J1", { CACHE_JOB, J1, 0, false, 0 } },
    { "job J2", { CACHE_JOB, J2, 0, false, 0 } },
    { "jobs list p1", { CACHE_JOB_LIST, 0, 0, false, 0 } },
    { "jobs list p2", { CACHE_JOB_LIST, 0, 0, false, 0 } },
    { "run R1", { CACHE_RUN, J1, R1, true, 0 } },
    { "run R2", { CACHE_RUN, J2, R2, false, 0 } },
    { "output R1", { CACHE_RUN_OUTPUT, J1, R1, true, 0 } },
    { "output R2", { CACHE_RUN_OUTPUT, J2, R2, false, 0 } },
    { "export R1", { CACHE_RUN_EXPORT, J1, R1, false, 0 } },
    { "export R2", { CACHE_RUN_EXPORT, J2, R2, true, 0 } },
    { "runs list", { CACHE_RUN_LIST, 0, 0, false, 0 } },
    { "runs list of J1", { CACHE_RUN_LIST, J1, 0, false, 0 } },
    { "runs list of J2", { CACHE_RUN_LIST, J2, 0, false, 0 } },
    { "permissions J1", { CACHE_PERMISSIONS, J1, 0, false, 0 } },
    { "permissions J2", { CACHE_PERMISSIONS, J2, 0, false, 0 } },
    { "levels J1", { CACHE_PERMISSION_LEVELS, J1, 0, false, 0 } },
    { "levels J2", { CACHE_PERMISSION_LEVELS, J2, 0, false, 0 } },
};

#define RUN_LISTS "runs list", "runs list of J1", "runs list of J2"
#define JOB_LISTS "jobs list p1", "jobs list p2"
#define R1_ALL "run R1", "output R1", "export R1"

/* What each write row must drop, written out by hand (the write names J1 or
 * R1 by its key). A row missing here fails the test. */
static const struct inv_expect {
    enum endpoint_id id;
    const char *gone[12];
} inv_expect[] = {
    { ENDPOINT_JOBS_CREATE, { JOB_LISTS } },
    { ENDPOINT_JOBS_RESET, { "job J1", JOB_LISTS } },
    { ENDPOINT_JOBS_UPDATE, { "job J1", JOB_LISTS } },
    { ENDPOINT_JOBS_DELETE,
      { "job J1", JOB_LISTS, R1_ALL, RUN_LISTS, "permissions J1", "levels J1" } },
    { ENDPOINT_RUN_NOW, { RUN_LISTS } },
    { ENDPOINT_RUNS_SUBMIT, { RUN_LISTS } },
    { ENDPOINT_RUNS_CANCEL, { R1_ALL, RUN_LISTS } },
    { ENDPOINT_RUNS_CANCEL_ALL, { R1_ALL, RUN_LISTS } },
    { ENDPOINT_RUNS_DELETE, { R1_ALL, RUN_LISTS } },
    { ENDPOINT_RUNS_REPAIR, { R1_ALL, RUN_LISTS } },
    { ENDPOINT_PERMISSIONS_SET, { "permissions J1", "levels J1" } },
    { ENDPOINT_PERMISSIONS_UPDATE, { "permissions J1", "levels J1" } },
};

static bool expect_gone(const struct inv_expect *x, const char *key)
{
    for (size_t i = 0; i < ELEMENTSOF(x->gone) && x->gone[i]; i++)
        if (streq(x->gone[i], key))
            return true;
    return false;
}

static void test_invalidate_table(void)
{
    _cleanup_(cache_body_unrefp) struct cache_body *b = body_of("{}");
    unsigned rows = 0;

    for (size_t i = 0; i < _ENDPOINT_MAX; i++) {
        const struct endpoint *e = &endpoint_table[i];
        if (e->access != ACCESS_WRITE || (e->scope != SCOPE_JOBS && e->scope != SCOPE_PERMISSIONS))
            continue;
        rows++;
        const struct inv_expect *x = NULL;
        for (size_t j = 0; j < ELEMENTSOF(inv_expect); j++)
            if (inv_expect[j].id == e->id)
                x = &inv_expect[j];
        if (!ok(x, "invalidation: row %s has an expectation", e->name))
            continue;

        _cleanup_(cache_freep) struct cache *c = cache_small(1 * MIB, 100);
        for (size_t j = 0; j < ELEMENTSOF(fixtures); j++)
            if (cache_store(c, fixtures[j].key, 200, b, 0, &fixtures[j].tags, T0) != 1)
                abort();
        int64_t job = e->key == KEY_JOB_ID ? J1 : 0, run = e->key == KEY_RUN_ID ? R1 : 0;
        int n = cache_invalidate(c, e->invalidates, job, run);

        unsigned wrong = 0, want = 0;
        for (size_t j = 0; j < ELEMENTSOF(fixtures); j++) {
            bool gone = !present(c, fixtures[j].key, T0),
                 want_gone = expect_gone(x, fixtures[j].key);
            want += want_gone;
            if (gone != want_gone) {
                wrong++;
                tap_diag("%s: %s %s", e->name, fixtures[j].key, gone ? "dropped" : "kept");
            }
        }
        is_int(wrong, 0, "invalidation: %s drops exactly what it should", e->name);
        is_int(n, want, "invalidation: %s returns the number dropped", e->name);
    }
    is_int(rows, ELEMENTSOF(inv_expect), "every write row was tried");

    /* Each flag alone, with both ids: and with no id, only the lists go. */
    struct {
        unsigned flags;
        int64_t job, run;
        const char *gone[8];
    } flags[] = {
        { INV_JOB, J2, R2, { "job J2" } },
        { INV_JOB_LIST, J2, R2, { JOB_LISTS } },
        { INV_RUN, J2, R2, { "run R2", "output R2", "export R2" } },
        { INV_RUN_LIST, J2, R2, { RUN_LISTS } },
        { INV_PERMISSIONS, J2, R2, { "permissions J2", "levels J2" } },
        { INV_JOB_RUNS, J2, R1, { "run R2", "output R2", "export R2" } },
        { INV_JOB | INV_RUN | INV_PERMISSIONS | INV_JOB_RUNS, 0, 0, { NULL } },
        { 0, J1, R1, { NULL } },
    };
    for (size_t i = 0; i < ELEMENTSOF(flags); i++) {
        _cleanup_(cache_freep) struct cache *c = cache_small(1 * MIB, 100);
        for (size_t j = 0; j < ELEMENTSOF(fixtures); j++)
            if (cache_store(c, fixtures[j].key, 200, b, 0, &fixtures[j].tags, T0) != 1)
                abort();
        cache_invalidate(c, flags[i].flags, flags[i].job, flags[i].run);
        unsigned wrong = 0;
        for (size_t j = 0; j < ELEMENTSOF(fixtures); j++) {
            bool want_gone = false;
            for (size_t g = 0; g < ELEMENTSOF(flags[i].gone) && flags[i].gone[g]; g++)
                want_gone |= streq(flags[i].gone[g], fixtures[j].key);
            if (present(c, fixtures[j].key, T0) == want_gone) {
                wrong++;
                tap_diag("flags 0x%x: %s", flags[i].flags, fixtures[j].key);
            }
        }
        is_int(wrong, 0, "flags 0x%x job %" PRId64 " run %" PRId64 ": exactly the matches",
               flags[i].flags, flags[i].job, flags[i].run);
    }

    /* invalidate_key */
    _cleanup_(cache_freep) struct cache *c = cache_small(1 * MIB, 100);
    is_int(cache_store(c, "x", 200, b, 0, &fixtures[0].tags, T0), 1, "store x");
    is_int(cache_invalidate_key(c, "x"), 1, "invalidate_key drops x");
    is_int(cache_invalidate_key(c, "x"), 0, "then finds nothing");
    struct cache_stats st;
    cache_get_stats(c, &st);
    is_int((int64_t)st.invalidations, 1, "1 invalidation counted");
}

/* Many entries of one job: invalidation finds them through the index. */
static void test_invalidate_index(void)
{
    _cleanup_(cache_freep) struct cache *c = cache_small(16 * MIB, 20000);
    _cleanup_(cache_body_unrefp) struct cache_body *b = body_of("{}");
    char key[32];

    for (unsigned i = 0; i < 10000; i++) {
        struct cache_tags t = { .class = CACHE_RUN, .job_id = i % 100 + 1, .run_id = i + 1 };
        (void)snprintf(key, sizeof(key), "r%u", i);
        if (cache_store(c, key, 200, b, 0, &t, T0) != 1)
            abort();
    }
    is_int(cache_invalidate(c, INV_JOB_RUNS, 7, 0), 100, "100 runs of job 7 dropped");
    is_int(cache_invalidate(c, INV_RUN, 0, 5007), 0, "run 5007 (job 7) was one of them");
    is_int(cache_invalidate(c, INV_RUN, 0, 5008), 1, "run 5008 (job 8) was not");
    struct cache_stats st;
    cache_get_stats(c, &st);
    is_int((int64_t)st.entries, 10000 - 101, "the rest kept");
    ok(!present(c, "r106", T0) && present(c, "r107", T0), "r106 (job 7) gone, r107 kept");
}

/* ---- the epoch: a read that began before a write is not kept ---- */

static void test_epoch(void)
{
    _cleanup_(cache_freep) struct cache *c = cache_small(1 * MIB, 100);
    _cleanup_(cache_body_unrefp) struct cache_body *b = body_of("{}");
    uint64_t e0 = cache_epoch(c);

    is_int((int64_t)e0, 1, "epoch starts at 1");
    struct cache_tags r5 = { .class = CACHE_RUN, .job_id = 1, .run_id = 5, .epoch = e0 };
    struct cache_tags r6 = { .class = CACHE_RUN, .job_id = 2, .run_id = 6, .epoch = e0 };
    is_int(cache_store(c, "r5", 200, b, 0, &r5, T0), 1, "no write since: kept");
    cache_invalidate(c, INV_RUN | INV_RUN_LIST, 0, 5);
    is_int((int64_t)cache_epoch(c), 2, "epoch bumped");
    is_int(cache_store(c, "r5", 200, b, 0, &r5, T0), -ESTALE, "run 5 read before its write");
    ok(!present(c, "r5", T0), "not kept");
    is_int(cache_store(c, "r6", 200, b, 0, &r6, T0), 1, "run 6 was not concerned");
    r5.epoch = cache_epoch(c);
    is_int(cache_store(c, "r5", 200, b, 0, &r5, T0), 1, "a read begun after the write: kept");
    for (int i = 0; i < CACHE_RECENT_INV; i++)
        cache_invalidate(c, INV_JOB_LIST, 0, 0);
    r5.epoch = e0;
    is_int(cache_store(c, "r5", 200, b, 0, &r5, T0), -ESTALE,
           "its write has left the ring: still refused");
    r6.epoch = e0;
    is_int(cache_store(c, "r6", 200, b, 0, &r6, T0), -ESTALE, "too long ago to tell: refused");
    r6.epoch = cache_epoch(c) - CACHE_RECENT_INV;
    is_int(cache_store(c, "r6", 200, b, 0, &r6, T0), 1, "just within the ring: unconcerned, kept");
    r6.epoch = 0;
    is_int(cache_store(c, "r6", 200, b, 0, &r6, T0), 1, "epoch 0: not checked");
}

int main(void)
{
    test_invalidate_table();
    test_invalidate_index();
    test_epoch();
    return tap_done();
}
