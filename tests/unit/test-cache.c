/* Unit tests for daemon/cache: bodies, keys, settings, store/lookup on a
 * fake clock, LRU and the byte bound, table growth, refcounts. The
 * randomized run is test-cache-model.c, invalidation test-cache-invalidate.c. */
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

static void test_body(void)
{
    struct cache_body *b = NULL;

    is_int(cache_body_new("text/plain", "hello", 5, &b), 0, "body_new");
    is_int((int64_t)b->len, 5, "len");
    ok(memcmp(b->data, "hello", 6) == 0, "bytes and a NUL");
    is_str(b->content_type, "text/plain", "content type kept");
    is_int(b->n_ref, 1, "one ref");
    ok(cache_body_ref(b) == b, "ref returns the body");
    is_int(b->n_ref, 2, "two refs");
    cache_body_unref_data(b->data);
    is_int(b->n_ref, 1, "unref_data drops one ref");
    ok(cache_body_unref(b) == NULL, "unref returns NULL");
    ok(cache_body_unref(NULL) == NULL, "unref(NULL)");
    cache_body_unref_data(NULL);

    is_int(cache_body_new(NULL, "", 0, &b), 0, "empty body, no type");
    ok(b->content_type == NULL && b->len == 0 && b->data[0] == 0, "empty body is \"\"");
    cache_body_unref_data(b->data);

    char ct[CACHE_CONTENT_TYPE_MAX + 2];
    memset(ct, 'x', sizeof(ct) - 1);
    ct[sizeof(ct) - 1] = 0;
    static struct cache_body sentinel;
    struct cache_body *untouched = &sentinel;
    b = untouched;
    is_int(cache_body_new(ct, "x", 1, &b), -E2BIG, "content type too long");
    is_int(cache_body_new(NULL, "x", CACHE_BODY_MAX + 1, &b), -E2BIG, "body too long");
    is_int(cache_body_new(NULL, NULL, 3, &b), -EINVAL, "NULL data with a length");
    ok(b == untouched, "ret untouched on failure");
}

/* ---- keys ---- */

struct key_case {
    const char *name;
    enum http_method method;
    const char *path;
    size_t n;
    const char *names[6];
    const char *values[6];
    int ret;
    const char *key;
};

static const struct key_case key_cases[] = {
    { "no query",
      HTTP_GET,
      "/api/2.2/jobs/list",
      0,
      { NULL },
      { NULL },
      0,
      "GET /api/2.2/jobs/list" },
    { "sorted by name",
      HTTP_GET,
      "/api/2.2/jobs/runs/list",
      3,
      { "limit", "job_id", "offset" },
      { "25", "7", "0" },
      0,
      "GET /api/2.2/jobs/runs/list?job_id=7&limit=25&offset=0" },
    { "page_token kept",
      HTTP_GET,
      "/api/2.2/jobs/list",
      2,
      { "page_token", "limit" },
      { "CAEQ", "100" },
      0,
      "GET /api/2.2/jobs/list?limit=100&page_token=CAEQ" },
    { "same name sorted by value",
      HTTP_GET,
      "/p",
      3,
      { "a", "a", "a" },
      { "3", "1", "2" },
      0,
      "GET /p?a=1&a=2&a=3" },
    { "NULL value is empty", HTTP_GET, "/p", 2, { "b", "a" }, { NULL, "" }, 0, "GET /p?a=&b=" },
    { "reserved bytes encoded",
      HTTP_GET,
      "/p",
      2,
      { "a&b", "c" },
      { "x=y z", "%/?#+" },
      0,
      "GET /p?a%26b=x%3Dy%20z&c=%25%2F%3F%23%2B" },
    { "utf-8 and controls encoded",
      HTTP_GET,
      "/p",
      1,
      { "n" },
      { "\xc3\xa9\n" },
      0,
      "GET /p?n=%C3%A9%0A" },
    { "path slash kept, '?' encoded",
      HTTP_GET,
      "/a b/c?d",
      0,
      { NULL },
      { NULL },
      0,
      "GET /a%20b/c%3Fd" },
    { "unreserved kept", HTTP_GET, "/p", 1, { "A-z_0.9~" }, { "~.-_" }, 0, "GET /p?A-z_0.9~=~.-_" },
    { "HEAD is its own key", HTTP_HEAD, "/p", 0, { NULL }, { NULL }, 0, "HEAD /p" },
    { "unknown method", (enum http_method)0, "/p", 0, { NULL }, { NULL }, -EINVAL, NULL },
    { "relative path", HTTP_GET, "p", 0, { NULL }, { NULL }, -EINVAL, NULL },
    { "NULL name", HTTP_GET, "/p", 1, { NULL }, { "x" }, -EINVAL, NULL },
};

static void test_keys(void)
{
    for (size_t i = 0; i < ELEMENTSOF(key_cases); i++) {
        const struct key_case *t = &key_cases[i];
        char *key = NULL;
        int r = cache_key_build(t->method, t->path, t->names, t->values, t->n, &key);
        if (t->ret < 0) {
            is_int(r, t->ret, "key: %s", t->name);
            ok(key == NULL, "key: %s: ret untouched", t->name);
        } else {
            is_int(r, (int64_t)strlen(t->key), "key: %s: length", t->name);
            is_str(key, t->key, "key: %s", t->name);
        }
        free(key);
    }

    /* Every order of the same arguments gives the same key; another value
     * gives another key. */
    const char *n[4] = { "run_id", "include_history", "page_token", "x" };
    const char *v[4] = { "42", "true", "tok", "" };
    char *first = NULL;
    is_int(cache_key_build(HTTP_GET, "/r", n, v, 4, &first) > 0, 1, "key of 4 args");
    int same = 0, perms = 0;
    size_t idx[4] = { 0, 1, 2, 3 };
    /* All 24 permutations (Heap's algorithm, iteratively). */
    size_t cnt[4] = { 0 };
    for (size_t k = 0;;) {
        const char *pn[4], *pv[4];
        for (size_t j = 0; j < 4; j++) {
            pn[j] = n[idx[j]];
            pv[j] = v[idx[j]];
        }
        char *key = NULL;
        if (cache_key_build(HTTP_GET, "/r", pn, pv, 4, &key) > 0 && streq(key, first))
            same++;
        perms++;
        free(key);
        while (k < 4 && cnt[k] >= k) {
            cnt[k] = 0;
            k++;
        }
        if (k >= 4)
            break;
        size_t a = k % 2 ? cnt[k] : 0, tmp = idx[a];
        idx[a] = idx[k];
        idx[k] = tmp;
        cnt[k]++;
        k = 1;
    }
    is_int(perms, 24, "24 permutations tried");
    is_int(same, 24, "every order gives the same key");
    v[0] = "43";
    char *other = NULL;
    is_int(cache_key_build(HTTP_GET, "/r", n, v, 4, &other) > 0, 1, "key with another run_id");
    ok(!streq(first, other), "another value, another key (%s / %s)", first, other);
    free(first);
    free(other);

    /* Bounds: argument count and length. */
    const char *many_n[CACHE_KEY_ARGS_MAX + 1], *many_v[CACHE_KEY_ARGS_MAX + 1];
    for (size_t j = 0; j <= CACHE_KEY_ARGS_MAX; j++) {
        many_n[j] = "k";
        many_v[j] = "v";
    }
    char *key = NULL;
    is_int(cache_key_build(HTTP_GET, "/p", many_n, many_v, CACHE_KEY_ARGS_MAX, &key),
           (int64_t)strlen("GET /p") + CACHE_KEY_ARGS_MAX * 4, "CACHE_KEY_ARGS_MAX args fit");
    free(key);
    key = NULL;
    is_int(cache_key_build(HTTP_GET, "/p", many_n, many_v, CACHE_KEY_ARGS_MAX + 1, &key), -E2BIG,
           "one argument more is -E2BIG");

    /* "GET /p?k=" is 9 bytes: a value of CACHE_KEY_MAX - 9 fits exactly. */
    char *big = malloc(CACHE_KEY_MAX + 1);
    memset(big, 'v', CACHE_KEY_MAX);
    big[CACHE_KEY_MAX - 9] = 0;
    const char *bn[1] = { "k" }, *bv[1] = { big };
    is_int(cache_key_build(HTTP_GET, "/p", bn, bv, 1, &key), CACHE_KEY_MAX, "key of exactly max");
    free(key);
    key = NULL;
    big[CACHE_KEY_MAX - 9] = 'v';
    big[CACHE_KEY_MAX - 8] = 0;
    is_int(cache_key_build(HTTP_GET, "/p", bn, bv, 1, &key), -E2BIG, "one byte more is -E2BIG");
    /* Encoding triples a byte: a third of the bound in spaces overflows. */
    memset(big, ' ', CACHE_KEY_MAX / 3);
    big[CACHE_KEY_MAX / 3] = 0;
    is_int(cache_key_build(HTTP_GET, "/p", bn, bv, 1, &key), -E2BIG,
           "encoded length counts against the bound");
    ok(key == NULL, "ret untouched");
    free(big);
}

/* ---- settings ---- */

static void test_settings(void)
{
    struct {
        const char *name;
        uint64_t max_bytes;
        size_t max_entries;
        unsigned share;
        size_t flights, waiters;
        int ret;
    } cases[] = {
        { "defaults", 64 * MIB, 65536, 8, 1024, 1024, 0 },
        { "smallest", 64 * KIB, 1, 1, 1, 1, 0 },
        { "max_bytes too small", 64 * KIB - 1, 1, 1, 1, 1, -EINVAL },
        { "no entries", 64 * MIB, 0, 8, 1, 1, -EINVAL },
        { "tables too big for the bytes", 64 * KIB, 65536, 8, 1, 1, -EINVAL },
        { "share 0", 64 * MIB, 16, 0, 1, 1, -EINVAL },
        { "no flights", 64 * MIB, 16, 8, 0, 1, -EINVAL },
        { "no waiters", 64 * MIB, 16, 8, 1, 0, -EINVAL },
        { "too many waiters", 64 * MIB, 16, 8, 1, 65537, -EINVAL },
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        struct cache_settings s;
        struct cache *c = NULL;
        cache_settings_default(&s);
        s.max_bytes = cases[i].max_bytes;
        s.max_entries = cases[i].max_entries;
        s.max_entry_share = cases[i].share;
        s.max_flights = cases[i].flights;
        s.max_waiters = cases[i].waiters;
        is_int(cache_new(&s, &c), cases[i].ret, "settings: %s", cases[i].name);
        ok((c != NULL) == (cases[i].ret == 0), "settings: %s: ret set only on success",
           cases[i].name);
        c = cache_free(c);
    }
    ok(cache_free(NULL) == NULL, "cache_free(NULL)");
}

/* ---- store and lookup on a fake clock ---- */

static void test_store_lookup(void)
{
    _cleanup_(cache_freep) struct cache *c = cache_small(1 * MIB, 100);
    const struct cache_tags run = { .class = CACHE_RUN, .job_id = 1, .run_id = 10 };
    _cleanup_(cache_body_unrefp) struct cache_body *b = body_of("{\"run_id\":10}");
    struct cache_hit hit = { 0 };

    is_int(cache_lookup(c, "k", T0, UINT64_MAX, &hit), CACHE_MISS, "empty cache misses");
    ok(hit.body == NULL, "a miss fills nothing");
    is_int(cache_store(c, "k", 200, b, 0, &run, T0), 1, "store (class TTL 10 s, grace 60 s)");

    /* lookup time offset, max-age -> result, Age */
    struct {
        uint64_t at, max_age;
        enum cache_lookup_result r;
        int64_t age;
    } steps[] = {
        { 0, UINT64_MAX, CACHE_FRESH, 0 },
        { 9 * SEC + 999999, UINT64_MAX, CACHE_FRESH, 9 },
        { 5 * SEC, 5 * SEC, CACHE_FRESH, 5 },      /* age == max-age is fresh */
        { 5 * SEC + 1, 5 * SEC, CACHE_STALE, 5 },  /* older than max-age */
        { 1 * SEC, 0, CACHE_STALE, 1 },            /* max-age=0 */
        { 10 * SEC, UINT64_MAX, CACHE_STALE, 10 }, /* TTL is over */
        { 69 * SEC + 999999, UINT64_MAX, CACHE_STALE, 69 },
        { 70 * SEC, UINT64_MAX, CACHE_MISS, -1 }, /* past the grace: dropped */
        { 1 * SEC, UINT64_MAX, CACHE_MISS, -1 },  /* and gone for good */
    };
    for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
        hit = (struct cache_hit){ 0 };
        enum cache_lookup_result r = cache_lookup(c, "k", T0 + steps[i].at, steps[i].max_age, &hit);
        is_int(r, steps[i].r, "lookup at +%" PRIu64 " us, max-age %" PRIu64, steps[i].at,
               steps[i].max_age);
        if (steps[i].age >= 0) {
            is_int((int64_t)hit.age_sec, steps[i].age, "Age");
            ok(hit.body == b, "the stored body");
            is_int(hit.status, 200, "status");
            is_int((int64_t)hit.stored_usec, (int64_t)T0, "stored_usec");
        }
        hit.body = cache_body_unref(hit.body);
    }
    struct cache_stats st;
    cache_get_stats(c, &st);
    is_int((int64_t)st.hits, 3, "3 fresh hits");
    is_int((int64_t)st.stale_hits, 4, "4 stale hits");
    is_int((int64_t)st.misses, 3, "3 misses");
    is_int((int64_t)st.expirations, 1, "1 expiration");
    is_int((int64_t)st.entries, 0, "no entries");
    is_int(b->n_ref, 1, "the cache let go of its ref");

    /* A clock that goes backwards: age 0, still fresh. */
    is_int(cache_store(c, "k", 200, b, 0, &run, T0), 1, "store again");
    hit = (struct cache_hit){ 0 };
    is_int(cache_lookup(c, "k", T0 - SEC, UINT64_MAX, &hit), CACHE_FRESH, "earlier clock");
    is_int((int64_t)hit.age_sec, 0, "age 0");
    hit.body = cache_body_unref(hit.body);

    /* Terminal: forever, unless the reader's max-age says otherwise. */
    const struct cache_tags term = { .class = CACHE_RUN, .run_id = 11, .terminal = true };
    is_int(cache_store(c, "t", 200, b, 1, &term, T0), 1, "store terminal (ttl ignored)");
    is_int(cache_lookup(c, "t", T0 + 3650 * 86400 * SEC, UINT64_MAX, &hit), CACHE_FRESH,
           "terminal is fresh after 10 years");
    hit.body = cache_body_unref(hit.body);
    is_int(cache_lookup(c, "t", T0 + 3650 * 86400 * SEC, 60 * SEC, &hit), CACHE_STALE,
           "but stale for max-age=60");
    hit.body = cache_body_unref(hit.body);

    /* Explicit TTL. */
    const struct cache_tags job = { .class = CACHE_JOB, .job_id = 1 };
    is_int(cache_store(c, "j", 200, b, 2 * SEC, &job, T0), 1, "store with a 2 s TTL");
    is_int(cache_lookup(c, "j", T0 + 2 * SEC - 1, UINT64_MAX, &hit), CACHE_FRESH, "fresh < 2 s");
    hit.body = cache_body_unref(hit.body);
    is_int(cache_lookup(c, "j", T0 + 2 * SEC, UINT64_MAX, &hit), CACHE_STALE, "stale at 2 s");
    hit.body = cache_body_unref(hit.body);

    /* Replacing. */
    _cleanup_(cache_body_unrefp) struct cache_body *b2 = body_of("{\"run_id\":10,\"v\":2}");
    is_int(cache_store(c, "j", 404, b2, 0, &job, T0 + SEC), 1, "replace");
    is_int(cache_lookup(c, "j", T0 + SEC, UINT64_MAX, &hit), CACHE_FRESH, "replacement fresh");
    ok(hit.body == b2, "the new body");
    is_int(hit.status, 404, "the new status");
    is_str(hit.body->content_type, "application/json", "content type");
    hit.body = cache_body_unref(hit.body);
    cache_get_stats(c, &st);
    is_int((int64_t)st.entries, 3, "3 entries (k, t, j)");

    /* Refusals. */
    const struct cache_tags none = { .class = CACHE_NONE };
    const struct cache_tags bad = { .class = _CACHE_CLASS_MAX };
    const struct cache_tags neg = { .class = CACHE_JOB, .job_id = -1 };
    is_int(cache_store(c, "n", 200, b, 0, &none, T0), -EINVAL, "CACHE_NONE is refused");
    is_int(cache_store(c, "n", 200, b, 0, &bad, T0), -EINVAL, "a bad class is refused");
    is_int(cache_store(c, "n", 200, b, 0, &neg, T0), -EINVAL, "a negative id is refused");
    is_int(cache_store(c, "n", 200, NULL, 0, &job, T0), -EINVAL, "no body is refused");
}

/* The poller keeps an active run's runs/get fresh while it sees the run
 * unchanged: only CACHE_RUN entries of that run, never shortened, never a
 * terminal one. */
static void test_extend(void)
{
    _cleanup_(cache_freep) struct cache *c = cache_small(1 * MIB, 100);
    const struct cache_tags run = { .class = CACHE_RUN, .job_id = 1, .run_id = 10 };
    const struct cache_tags out = { .class = CACHE_RUN_OUTPUT, .job_id = 1, .run_id = 10 };
    const struct cache_tags other = { .class = CACHE_RUN, .job_id = 1, .run_id = 11 };
    _cleanup_(cache_body_unrefp) struct cache_body *b = body_of("{\"run_id\":10}");
    struct cache_hit hit = { 0 };

    cache_store(c, "run", 200, b, 0, &run, T0);
    cache_store(c, "out", 200, b, 0, &out, T0);
    cache_store(c, "other", 200, b, 0, &other, T0);
    is_int(cache_extend_run(c, 10, T0 + 30 * SEC), 1, "one entry extended");
    is_int(cache_lookup(c, "run", T0 + 20 * SEC, UINT64_MAX, &hit), CACHE_FRESH,
           "the run's runs/get is fresh past its TTL");
    is_int((int64_t)hit.age_sec, 20, "... and its Age still counts");
    hit.body = cache_body_unref(hit.body);
    is_int(cache_lookup(c, "out", T0 + 20 * SEC, UINT64_MAX, &hit), CACHE_STALE,
           "its get-output is not extended");
    hit.body = cache_body_unref(hit.body);
    is_int(cache_lookup(c, "other", T0 + 20 * SEC, UINT64_MAX, &hit), CACHE_STALE,
           "another run's is not");
    hit.body = cache_body_unref(hit.body);
    is_int(cache_extend_run(c, 10, T0 + 1 * SEC), 0, "never shortened");
    is_int(cache_extend_run(c, 0, T0 + 60 * SEC), 0, "run 0 is none");
    struct cache_stats st;
    cache_get_stats(c, &st);
    is_int((int64_t)st.extensions, 1, "counted");
}

static void test_class_off(void)
{
    struct cache_settings s;
    _cleanup_(cache_freep) struct cache *c = NULL;
    _cleanup_(cache_body_unrefp) struct cache_body *b = body_of("x");
    struct cache_hit hit = { 0 };

    cache_settings_default(&s);
    s.ttl_usec[CACHE_JOB_LIST] = 0;
    is_int(cache_new(&s, &c), 0, "cache with job lists off");
    const struct cache_tags jl = { .class = CACHE_JOB_LIST };
    is_int(cache_store(c, "l", 200, b, 5 * SEC, &jl, T0), 0, "a class that is off is not kept");
    is_int(cache_lookup(c, "l", T0, UINT64_MAX, &hit), CACHE_MISS, "and misses");
    const struct cache_tags perm = { .class = CACHE_PERMISSIONS, .job_id = 3 };
    is_int(cache_store(c, "p", 200, b, 0, &perm, T0), 1, "default permissions TTL 60 s");
    is_int(cache_lookup(c, "p", T0 + 59 * SEC, UINT64_MAX, &hit), CACHE_FRESH, "fresh at 59 s");
    hit.body = cache_body_unref(hit.body);
    is_int(cache_lookup(c, "p", T0 + 60 * SEC, UINT64_MAX, &hit), CACHE_STALE, "stale at 60 s");
    hit.body = cache_body_unref(hit.body);
}

/* ---- LRU and bounds ---- */

static void test_lru_entries(void)
{
    _cleanup_(cache_freep) struct cache *c = cache_small(1 * MIB, 3);
    _cleanup_(cache_body_unrefp) struct cache_body *b = body_of("x");
    const struct cache_tags t = { .class = CACHE_JOB_LIST };
    struct cache_hit hit = { 0 };

    is_int(cache_store(c, "a", 200, b, 0, &t, T0), 1, "store a");
    is_int(cache_store(c, "b", 200, b, 0, &t, T0), 1, "store b");
    is_int(cache_store(c, "c", 200, b, 0, &t, T0), 1, "store c");
    is_int(cache_lookup(c, "a", T0, UINT64_MAX, &hit), CACHE_FRESH, "touch a");
    hit.body = cache_body_unref(hit.body);
    is_int(cache_store(c, "d", 200, b, 0, &t, T0), 1, "store d: one over max_entries");
    /* Order now (head first): d a c; b was the least recently used. Check
     * with peeks in an order that keeps the verdicts independent. */
    ok(!present(c, "b", T0), "b evicted (least recently used)");
    ok(present(c, "c", T0) && present(c, "a", T0) && present(c, "d", T0), "a, c, d kept");
    /* LRU now: d a c (d looked up last). */
    is_int(cache_store(c, "e", 200, b, 0, &t, T0), 1, "store e");
    ok(!present(c, "c", T0), "c evicted next");
    is_int(cache_store(c, "a", 200, b, 0, &t, T0), 1, "replacing a makes it most recent");
    is_int(cache_store(c, "f", 200, b, 0, &t, T0), 1, "store f");
    ok(!present(c, "d", T0), "d evicted, not a");
    struct cache_stats st;
    cache_get_stats(c, &st);
    is_int((int64_t)st.evictions, 3, "3 evictions");
    is_int((int64_t)st.entries, 3, "3 entries");
}

static void test_byte_bound(void)
{
    /* max_bytes 64 KiB, share 8: an entry may be 8 KiB. */
    _cleanup_(cache_freep) struct cache *c = cache_small(64 * KIB, 64);
    const struct cache_tags t = { .class = CACHE_JOB, .job_id = 1 };
    char data[8 * KIB];
    memset(data, 'x', sizeof(data));

    _cleanup_(cache_body_unrefp) struct cache_body *big = NULL;
    is_int(cache_body_new(NULL, data, 8 * KIB, &big), 0, "an 8 KiB body");
    is_int(cache_store(c, "small", 200, big, 0, &t, T0), -EFBIG,
           "an entry over max_bytes / 8 is refused");
    ok(!present(c, "small", T0), "and not kept");

    _cleanup_(cache_body_unrefp) struct cache_body *mid = NULL;
    size_t body_len = 6 * KIB;
    is_int(cache_body_new(NULL, data, body_len, &mid), 0, "a 6 KiB body");
    uint64_t charge = cache_entry_charge(2, mid);
    uint64_t room = (64 * KIB - CACHE_MIN_TABLES_BYTES) / charge;
    char key[8];
    for (unsigned i = 0; i < 20; i++) {
        (void)snprintf(key, sizeof(key), "%02u", i);
        is_int(cache_store(c, key, 200, mid, 0, &t, T0), 1, "store %s", key);
        struct cache_stats st;
        cache_get_stats(c, &st);
        ok(st.bytes <= 64 * KIB, "bytes %" PRIu64 " within 64 KiB", st.bytes);
        is_int((int64_t)st.entries, (int64_t)MIN(i + 1, room), "entries");
        is_int((int64_t)st.bytes, (int64_t)(CACHE_MIN_TABLES_BYTES + st.entries * charge),
               "bytes = tables + entries x charge");
    }
    /* The oldest went first. */
    unsigned kept = 0, first_kept = 99;
    for (unsigned i = 0; i < 20; i++) {
        (void)snprintf(key, sizeof(key), "%02u", i);
        if (present(c, key, T0)) {
            kept++;
            first_kept = MIN(first_kept, i);
        }
    }
    is_int(kept, (int64_t)room, "the newest fit");
    is_int(first_kept, (int64_t)(20 - room), "the oldest were evicted");

    /* Too big a replacement drops the old copy all the same. */
    is_int(cache_store(c, "19", 200, big, 0, &t, T0), -EFBIG, "oversized replacement refused");
    ok(!present(c, "19", T0), "old copy of the key dropped");
    struct cache_stats st;
    cache_get_stats(c, &st);
    is_int((int64_t)st.stores, 20, "20 stores counted");
    is_int((int64_t)st.store_refused, 2, "2 refusals counted");
    is_int((int64_t)st.evictions, (int64_t)(20 - room), "evictions counted");
    is_int((int64_t)st.max_bytes, 64 * KIB, "max_bytes reported");
}

/* The tables grow with the entries and count against the bound. */
static void test_table_growth(void)
{
    _cleanup_(cache_freep) struct cache *c = cache_small(4 * MIB, 1000);
    _cleanup_(cache_body_unrefp) struct cache_body *b = body_of("{}");
    const struct cache_tags t = { .class = CACHE_JOB, .job_id = 1 };
    uint64_t charge = cache_entry_charge(4, b);
    char key[8];

    /* entries -> buckets: 64 until the 65th, then 128, 256, 512. */
    static const struct {
        unsigned entries;
        uint64_t buckets;
    } steps[] = { { 64, 64 }, { 65, 128 }, { 129, 256 }, { 500, 512 } };
    unsigned n = 0;
    for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
        for (; n < steps[i].entries; n++) {
            (void)snprintf(key, sizeof(key), "%04u", n);
            if (cache_store(c, key, 200, b, 0, &t, T0) != 1)
                abort();
        }
        struct cache_stats st;
        cache_get_stats(c, &st);
        is_int((int64_t)st.bytes,
               (int64_t)(3 * steps[i].buckets * sizeof(void *) + steps[i].entries * charge),
               "%u entries: %" PRIu64 " buckets x 3 + entries x charge", steps[i].entries,
               steps[i].buckets);
    }
    unsigned found = 0;
    for (unsigned i = 0; i < 500; i++) {
        (void)snprintf(key, sizeof(key), "%04u", i);
        found += present(c, key, T0);
    }
    is_int(found, 500, "every entry found after rehashing");
    is_int(cache_invalidate(c, INV_JOB, 1, 0), 500, "and through the job index");
}

/* ---- refcounts ---- */

static void test_refs(void)
{
    struct cache *c = cache_small(64 * KIB, 2);
    struct cache_body *b = body_of("{\"held\":true}");
    const struct cache_tags t = { .class = CACHE_RUN, .job_id = 1, .run_id = 1 };
    struct cache_hit h1 = { 0 }, h2 = { 0 }, h3 = { 0 };

    is_int(cache_store(c, "a", 200, b, 0, &t, T0), 1, "store a");
    is_int(b->n_ref, 2, "the cache holds a ref");
    cache_body_unref(b); /* only the cache holds it now */
    is_int(cache_lookup(c, "a", T0, UINT64_MAX, &h1), CACHE_FRESH, "lookup a");
    is_int(h1.body->n_ref, 2, "cache + reader");
    is_int(cache_lookup(c, "a", T0, UINT64_MAX, &h2), CACHE_FRESH, "lookup a again");
    is_int(h1.body->n_ref, 3, "cache + 2 readers");

    cache_invalidate(c, INV_RUN, 0, 1);
    is_int(h1.body->n_ref, 2, "invalidated: the readers' refs remain");
    ok(streq(h1.body->data, "{\"held\":true}"), "the bytes are still there");

    struct cache_body *b2 = body_of("second");
    is_int(cache_store(c, "b", 200, b2, 0, &t, T0), 1, "store b");
    is_int(cache_lookup(c, "b", T0, UINT64_MAX, &h3), CACHE_FRESH, "lookup b");
    cache_body_unref(b2);
    struct cache_body *b3 = body_of("third"), *b4 = body_of("fourth");
    is_int(cache_store(c, "c", 200, b3, 0, &t, T0), 1, "store c");
    is_int(cache_store(c, "d", 200, b4, 0, &t, T0), 1, "store d: evicts b");
    ok(!present(c, "b", T0), "b evicted");
    is_int(h3.body->n_ref, 1, "evicted: only the reader's ref");
    ok(streq(h3.body->data, "second"), "an evicted body still reads");

    /* As libmicrohttpd would: data pointer to the free callback. */
    cache_body_unref_data(h1.body->data);
    is_int(h2.body->n_ref, 1, "one reader left");
    cache_body_unref_data(h2.body->data);
    cache_body_unref_data(h3.body->data);

    /* Bodies outlive the cache. */
    struct cache_hit h4 = { 0 };
    is_int(cache_lookup(c, "c", T0, UINT64_MAX, &h4), CACHE_FRESH, "lookup c");
    c = cache_free(c);
    is_int(h4.body->n_ref, 2, "cache freed: reader + test's own ref of b3");
    ok(streq(h4.body->data, "third"), "the body outlives the cache");
    cache_body_unref(h4.body);
    cache_body_unref(b3);
    cache_body_unref(b4);
}

int main(void)
{
    test_body();
    test_keys();
    test_settings();
    test_store_lookup();
    test_extend();
    test_class_off();
    test_lru_entries();
    test_byte_bound();
    test_table_growth();
    test_refs();
    return tap_done();
}
