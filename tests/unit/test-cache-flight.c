/* Unit tests for the single-flight table of daemon/cache: one leader, every
 * waiter called exactly once with the same bytes, leaving, bounds, abort,
 * re-entrant callbacks, and stale-while-revalidate with the cache. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cache.h"
#include "proto/strutil.h"
#include "tests/tap.h"

#define SEC UINT64_C(1000000)
#define T0 (1000 * SEC)
#define N_JOIN 200

struct waiter_state {
    unsigned calls;
    int error;
    int status;
    struct cache_body *body; /* the ref the callback was given */
    struct cache_waiter *w;
};

static void on_result(const struct cache_flight_result *r, void *userdata)
{
    struct waiter_state *s = userdata;
    s->calls++;
    s->error = r->error;
    s->status = r->status;
    s->body = r->body; /* keeps the ref; released by the test */
    s->w = NULL;
}

static struct cache *cache_with(size_t max_flights, size_t max_waiters)
{
    struct cache_settings s;
    struct cache *c = NULL;
    cache_settings_default(&s);
    s.max_flights = max_flights;
    s.max_waiters = max_waiters;
    if (cache_new(&s, &c) < 0)
        abort();
    return c;
}

static void test_coalesce(void)
{
    _cleanup_(cache_freep) struct cache *c = cache_with(16, 1024);
    static struct waiter_state st[N_JOIN];
    struct cache_flight *leader = NULL;
    unsigned leaders = 0, joined = 0;

    memset(st, 0, sizeof(st));
    for (unsigned i = 0; i < N_JOIN; i++) {
        struct cache_flight *f = NULL;
        int r = cache_flight_join(c, "GET /api/2.2/jobs/runs/get?run_id=1", on_result, &st[i], &f,
                                  &st[i].w);
        if (r == CACHE_FLIGHT_LEADER) {
            leaders++;
            leader = f;
        } else if (r == CACHE_FLIGHT_JOINED)
            joined++;
    }
    is_int(leaders, 1, "%d joiners: one leader", N_JOIN);
    is_int(joined, N_JOIN - 1, "the others joined");
    is_int((int64_t)cache_flight_waiters(leader), N_JOIN - 1, "waiters counted");
    is_int(st[0].calls, 0, "nobody called before the result");

    struct cache_stats s;
    cache_get_stats(c, &s);
    is_int((int64_t)s.flights, 1, "1 flight");
    is_int((int64_t)s.flights_active, 1, "1 in the air");
    is_int((int64_t)s.coalesced, N_JOIN - 1, "coalesced waiters");

    /* A different key is its own flight. */
    struct cache_flight *other = NULL;
    is_int(cache_flight_join(c, "GET /api/2.2/jobs/runs/get?run_id=2", on_result, &st[0], &other,
                             &st[0].w),
           CACHE_FLIGHT_LEADER, "another key: another leader");

    const char bytes[] = "{\"run_id\":1,\"state\":{\"life_cycle_state\":\"TERMINATED\"}}";
    struct cache_body *b = NULL;
    is_int(cache_body_new("application/json", bytes, sizeof(bytes) - 1, &b), 0, "body");
    cache_flight_finish(c, leader, 200, b);

    unsigned once = 0, same = 0;
    for (unsigned i = 1; i < N_JOIN; i++) {
        once += st[i].calls == 1;
        same += st[i].body == b && st[i].status == 200 && st[i].error == 0 &&
                st[i].body->len == sizeof(bytes) - 1 &&
                memcmp(st[i].body->data, bytes, sizeof(bytes) - 1) == 0;
    }
    is_int(once, N_JOIN - 1, "every waiter called exactly once");
    is_int(same, N_JOIN - 1, "every waiter got the same bytes and status");
    is_int(b->n_ref, N_JOIN, "a ref for each waiter and the leader's own");
    for (unsigned i = 1; i < N_JOIN; i++)
        cache_body_unref_data(st[i].body->data);
    is_int(b->n_ref, 1, "waiters released theirs");
    cache_body_unref(b);

    cache_get_stats(c, &s);
    is_int((int64_t)s.flights_active, 1, "only the other flight left");
    struct cache_flight *again = NULL;
    is_int(cache_flight_join(c, "GET /api/2.2/jobs/runs/get?run_id=1", NULL, NULL, &again, NULL),
           CACHE_FLIGHT_LEADER, "after finish the key starts a new flight");
    cache_flight_abort(c, again, -ECANCELED);
    cache_flight_abort(c, other, -ECANCELED);
}

static void test_leave_and_bound(void)
{
    _cleanup_(cache_freep) struct cache *c = cache_with(16, 8);
    struct waiter_state st[10];
    struct cache_flight *f = NULL, *unused = NULL;

    memset(st, 0, sizeof(st));
    is_int(cache_flight_join(c, "k", NULL, NULL, &f, NULL), CACHE_FLIGHT_LEADER, "leader");
    for (unsigned i = 0; i < 8; i++)
        is_int(cache_flight_join(c, "k", on_result, &st[i], &unused, &st[i].w), CACHE_FLIGHT_JOINED,
               "waiter %u joins", i);
    is_int(cache_flight_join(c, "k", on_result, &st[8], &unused, &st[8].w), -EAGAIN,
           "the 9th waiter: -EAGAIN (list full)");
    ok(st[8].w == NULL && unused == NULL, "nothing returned with -EAGAIN");
    is_int(cache_flight_join(c, "k", NULL, NULL, &unused, NULL), CACHE_FLIGHT_BUSY,
           "no callback: BUSY, nothing joined");
    ok(unused == NULL, "BUSY returns no flight");

    /* Three clients go away; that makes room for one more. */
    cache_flight_leave(st[1].w);
    cache_flight_leave(st[4].w);
    cache_flight_leave(st[7].w);
    cache_flight_leave(NULL);
    is_int((int64_t)cache_flight_waiters(f), 5, "5 waiters left");
    is_int(cache_flight_join(c, "k", on_result, &st[9], &unused, &st[9].w), CACHE_FLIGHT_JOINED,
           "room again after leaving");

    _cleanup_(cache_body_unrefp) struct cache_body *b = NULL;
    is_int(cache_body_new(NULL, "x", 1, &b), 0, "body");
    cache_flight_finish(c, f, 200, b);
    unsigned wrong = 0;
    for (unsigned i = 0; i < 10; i++) {
        unsigned want = (i == 1 || i == 4 || i == 7 || i == 8) ? 0 : 1;
        if (st[i].calls != want) {
            wrong++;
            tap_diag("waiter %u called %u times", i, st[i].calls);
        }
        cache_body_unref(st[i].body);
    }
    is_int(wrong, 0, "leavers never called, the rest once");

    struct cache_stats s;
    cache_get_stats(c, &s);
    is_int((int64_t)s.waiters_rejected, 1, "1 waiter rejected");
    is_int((int64_t)s.flights_active, 0, "no flight left");
}

static void test_flight_bound_and_abort(void)
{
    _cleanup_(cache_freep) struct cache *c = cache_with(2, 8);
    struct cache_flight *f1 = NULL, *f2 = NULL, *f3 = NULL;
    struct waiter_state st[3];

    memset(st, 0, sizeof(st));
    is_int(cache_flight_join(c, "a", NULL, NULL, &f1, NULL), CACHE_FLIGHT_LEADER, "flight a");
    is_int(cache_flight_join(c, "b", NULL, NULL, &f2, NULL), CACHE_FLIGHT_LEADER, "flight b");
    is_int(cache_flight_join(c, "c", NULL, NULL, &f3, NULL), -ENOSPC, "a 3rd flight: -ENOSPC");
    ok(f3 == NULL, "no flight returned");
    for (unsigned i = 0; i < 3; i++)
        is_int(cache_flight_join(c, "a", on_result, &st[i], &f3, &st[i].w), CACHE_FLIGHT_JOINED,
               "join a");
    cache_flight_abort(c, f1, -ETIMEDOUT);
    unsigned right = 0;
    for (unsigned i = 0; i < 3; i++)
        right += st[i].calls == 1 && st[i].error == -ETIMEDOUT && st[i].body == NULL;
    is_int(right, 3, "abort wakes every waiter once with the error and no body");
    is_int(cache_flight_join(c, "c", NULL, NULL, &f3, NULL), CACHE_FLIGHT_LEADER,
           "room for another flight");

    /* An error that is not negative still reads as one. */
    memset(st, 0, sizeof(st));
    is_int(cache_flight_join(c, "b", on_result, &st[0], &f1, &st[0].w), CACHE_FLIGHT_JOINED,
           "join b");
    cache_flight_abort(c, f2, 0);
    ok(st[0].calls == 1 && st[0].error < 0, "abort(0) still reports an error (%d)", st[0].error);
    cache_flight_abort(c, f3, -ECANCELED);
}

/* Callbacks that re-enter: one joins the same key again (a new flight),
 * one leaves a waiter that comes later (never called). */
struct reenter {
    struct cache *c;
    struct waiter_state *victim;
    struct cache_flight *new_flight;
    int join_ret;
    unsigned calls;
};

static void on_reenter(const struct cache_flight_result *r, void *userdata)
{
    struct reenter *x = userdata;
    struct cache_flight *f = NULL;
    x->calls++;
    cache_body_unref(r->body);
    if (x->victim) {
        cache_flight_leave(x->victim->w);
        x->victim->w = NULL;
    }
    x->join_ret = cache_flight_join(x->c, "k", NULL, NULL, &f, NULL);
    x->new_flight = f;
}

static void test_reentrant(void)
{
    _cleanup_(cache_freep) struct cache *c = cache_with(4, 8);
    struct cache_flight *f = NULL, *unused = NULL;
    struct waiter_state victim = { 0 };
    struct reenter x = { .c = c, .victim = &victim };
    struct cache_waiter *w = NULL;

    is_int(cache_flight_join(c, "k", NULL, NULL, &f, NULL), CACHE_FLIGHT_LEADER, "leader");
    is_int(cache_flight_join(c, "k", on_reenter, &x, &unused, &w), CACHE_FLIGHT_JOINED, "joins");
    is_int(cache_flight_join(c, "k", on_result, &victim, &unused, &victim.w), CACHE_FLIGHT_JOINED,
           "victim joins");
    _cleanup_(cache_body_unrefp) struct cache_body *b = NULL;
    is_int(cache_body_new(NULL, "{}", 2, &b), 0, "body");
    cache_flight_finish(c, f, 200, b);
    is_int(x.calls, 1, "re-entering callback called once");
    is_int(victim.calls, 0, "a waiter left from a callback is never called");
    is_int(x.join_ret, CACHE_FLIGHT_LEADER, "joining from a callback starts a new flight");
    is_int(b->n_ref, 1, "no ref leaked");
    cache_flight_abort(c, x.new_flight, -ECANCELED);
}

/* A result without a body (204, or a HEAD): waiters get NULL and the status. */
static void test_no_body(void)
{
    _cleanup_(cache_freep) struct cache *c = cache_with(4, 8);
    struct cache_flight *f = NULL, *unused = NULL;
    struct waiter_state st = { 0 };

    is_int(cache_flight_join(c, "k", NULL, NULL, &f, NULL), CACHE_FLIGHT_LEADER, "leader");
    is_int(cache_flight_join(c, "k", on_result, &st, &unused, &st.w), CACHE_FLIGHT_JOINED,
           "waiter");
    cache_flight_finish(c, f, 204, NULL);
    ok(st.calls == 1 && st.status == 204 && st.error == 0 && st.body == NULL,
       "no body: status 204, body NULL, no error");
}

static void test_free_aborts(void)
{
    struct cache *c = cache_with(4, 8);
    struct cache_flight *f = NULL, *unused = NULL;
    struct waiter_state st = { 0 };

    is_int(cache_flight_join(c, "k", NULL, NULL, &f, NULL), CACHE_FLIGHT_LEADER, "leader");
    is_int(cache_flight_join(c, "k", on_result, &st, &unused, &st.w), CACHE_FLIGHT_JOINED,
           "waiter");
    cache_free(c);
    ok(st.calls == 1 && st.error == -ECANCELED, "cache_free wakes waiters with -ECANCELED");
}

/* Stale-while-revalidate: readers of an expired entry get the old copy at
 * once, one of them refreshes, and afterwards everyone sees the new copy. */
static void test_swr(void)
{
    _cleanup_(cache_freep) struct cache *c = cache_with(4, 8);
    const char *key = "GET /api/2.2/jobs/get?job_id=9";
    const struct cache_tags t = { .class = CACHE_JOB, .job_id = 9 };
    struct cache_body *old = NULL, *fresh = NULL;
    struct cache_hit hit = { 0 };
    struct cache_flight *f = NULL, *unused = NULL;

    is_int(cache_body_new(NULL, "old", 3, &old), 0, "old body");
    is_int(cache_store(c, key, 200, old, 10 * SEC, &t, T0), 1, "stored for 10 s");
    old = cache_body_unref(old);

    uint64_t now = T0 + 15 * SEC;
    is_int(cache_lookup(c, key, now, UINT64_MAX, &hit), CACHE_STALE, "reader 1: stale");
    ok(streq(hit.body->data, "old"), "reader 1 is served the old copy");
    hit.body = cache_body_unref(hit.body);
    is_int(cache_flight_join(c, key, NULL, NULL, &f, NULL), CACHE_FLIGHT_LEADER,
           "reader 1 refreshes in the background");

    unsigned busy = 0, served_old = 0;
    for (unsigned i = 0; i < 50; i++) {
        if (cache_lookup(c, key, now, UINT64_MAX, &hit) == CACHE_STALE &&
            streq(hit.body->data, "old"))
            served_old++;
        hit.body = cache_body_unref(hit.body);
        busy += cache_flight_join(c, key, NULL, NULL, &unused, NULL) == CACHE_FLIGHT_BUSY;
    }
    is_int(served_old, 50, "50 more readers served the old copy at once");
    is_int(busy, 50, "none of them starts a second refresh");

    uint64_t epoch = cache_epoch(c);
    is_int(cache_body_new(NULL, "new", 3, &fresh), 0, "new body");
    struct cache_tags t2 = t;
    t2.epoch = epoch;
    is_int(cache_store(c, key, 200, fresh, 10 * SEC, &t2, now + SEC), 1, "refresh stored");
    cache_flight_finish(c, f, 200, fresh);
    fresh = cache_body_unref(fresh);
    is_int(cache_lookup(c, key, now + SEC, UINT64_MAX, &hit), CACHE_FRESH, "then fresh");
    ok(streq(hit.body->data, "new"), "with the new copy");
    is_int((int64_t)hit.age_sec, 0, "age 0");
    hit.body = cache_body_unref(hit.body);
}

int main(void)
{
    test_coalesce();
    test_leave_and_bound();
    test_flight_bound_and_abort();
    test_reentrant();
    test_no_body();
    test_free_aborts();
    test_swr();
    return tap_done();
}
