/* Unit tests for daemon/cache: bodies, keys, store/lookup on a fake clock,
 * LRU and the byte bound (with a randomized run against a reference model),
 * invalidation for every write row of the endpoint table, refcounts. */
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

#define SEC UINT64_C(1000000)
#define T0 (1000 * SEC)

static struct cache_body *body_of(const char *s)
{
    struct cache_body *b = NULL;
    if (cache_body_new("application/json", s, strlen(s), &b) < 0)
        abort();
    return b;
}

static struct cache *cache_small(uint64_t max_bytes, size_t max_entries)
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

static bool present(struct cache *c, const char *key, uint64_t now)
{
    struct cache_hit hit = { 0 };
    enum cache_lookup_result r = cache_lookup(c, key, now, UINT64_MAX, &hit);
    cache_body_unref(hit.body);
    return r != CACHE_MISS;
}

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
    test_class_off();
    test_lru_entries();
    test_byte_bound();
    test_table_growth();
    randomized(48, 64 * KIB, 100000, true);
    randomized(1000, 192 * KIB, 100000, false);
    test_invalidate_table();
    test_invalidate_index();
    test_epoch();
    test_refs();
    return tap_done();
}
