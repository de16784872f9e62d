/* daemon/cache.c: bodies, entries, store, lookup, LRU eviction and
 * invalidation. An entry is one allocation (the struct, then its key) and
 * holds one ref of its body. Its charge (struct, key, whole body allocation)
 * plus the hash tables is what max_bytes bounds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cache-private.h"
#include "daemon/cache.h"

/* ---- bodies ---- */

int cache_body_new(const char *content_type, const void *data, size_t len, struct cache_body **ret)
{
    size_t ct_len = content_type ? strlen(content_type) : 0;

    if (len > CACHE_BODY_MAX || ct_len > CACHE_CONTENT_TYPE_MAX)
        return -E2BIG;
    if (!data && len > 0)
        return -EINVAL;

    size_t alloc = sizeof(struct cache_body) + len + 1 + (content_type ? ct_len + 1 : 0);
    struct cache_body *b = malloc(alloc);
    if (!b)
        return -ENOMEM;
    b->n_ref = 1;
    b->len = len;
    b->alloc = alloc;
    if (len > 0)
        memcpy(b->data, data, len);
    b->data[len] = 0;
    if (content_type) {
        char *ct = b->data + len + 1;
        memcpy(ct, content_type, ct_len + 1);
        b->content_type = ct;
    } else
        b->content_type = NULL;
    *ret = b;
    return 0;
}

struct cache_body *cache_body_ref(struct cache_body *b)
{
    if (b)
        b->n_ref++;
    return b;
}

struct cache_body *cache_body_unref(struct cache_body *b)
{
    if (b && --b->n_ref == 0)
        free(b);
    return NULL;
}

void cache_body_unref_data(void *data)
{
    if (data)
        cache_body_unref(container_of(data, struct cache_body, data));
}

/* ---- hashing ---- */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

uint64_t cache_hash_key(const char *key, size_t len)
{
    const uint64_t k = UINT64_C(0x9e3779b97f4a7c15);
    uint64_t h = UINT64_C(0x6a09e667f3bcc909) ^ (len * k);
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, key + i, 8);
        h = (h ^ (w * k)) * UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    memcpy(&tail, key + i, len - i);
    h = (h ^ (tail * k)) * UINT64_C(0xbf58476d1ce4e5b9);
    return mix64(h);
}

static inline size_t id_bucket(const struct cache *c, int64_t id)
{
    return (size_t)(mix64((uint64_t)id) & (c->n_buckets - 1));
}

/* ---- entries ---- */

/* What a hit reads comes first, to touch few cache lines. */
struct entry {
    struct hnode by_key;
    uint64_t hash;
    size_t key_len;
    uint64_t stored_usec;
    uint64_t expires_usec; /* UINT64_MAX: never */
    struct cache_body *body;
    struct dnode lru;
    int status;
    struct hnode by_job;
    struct hnode by_run;
    struct dnode by_class;
    uint64_t charge;
    struct cache_tags tags;
    char key[];
};

uint64_t cache_entry_charge(size_t key_len, const struct cache_body *b)
{
    return sizeof(struct entry) + key_len + 1 + b->alloc;
}

static uint64_t tables_bytes(size_t n_buckets)
{
    return 3 * (uint64_t)n_buckets * sizeof(struct hnode *);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static struct entry *entry_find(struct cache *c, const char *key, size_t len, uint64_t hash)
{
    for (struct hnode *n = c->by_key[hash & (c->n_buckets - 1)]; n; n = n->next) {
        struct entry *e = container_of(n, struct entry, by_key);
        if (e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    }
    return NULL;
}

static void entry_link(struct cache *c, struct entry *e)
{
    size_t mask = c->n_buckets - 1;

    hnode_add(&c->by_key[e->hash & mask], &e->by_key);
    if (e->tags.job_id != 0)
        hnode_add(&c->by_job[id_bucket(c, e->tags.job_id)], &e->by_job);
    if (e->tags.run_id != 0)
        hnode_add(&c->by_run[id_bucket(c, e->tags.run_id)], &e->by_run);
}

static void entry_unlink_tables(struct entry *e)
{
    hnode_del(&e->by_key);
    hnode_del(&e->by_job);
    hnode_del(&e->by_run);
}

static void entry_drop(struct cache *c, struct entry *e)
{
    entry_unlink_tables(e);
    dlist_del(&e->lru);
    dlist_del(&e->by_class);
    c->n_entries--;
    c->bytes -= e->charge;
    cache_body_unref(e->body);
    free(e);
}

/* Doubles the tables (rehashing every entry), up to max_buckets. Failing
 * to grow only makes chains longer. */
static void tables_grow(struct cache *c)
{
    size_t n = c->n_buckets * 2;
    if (n > c->max_buckets)
        return;
    struct hnode **k = calloc(n, sizeof(*k)), **j = calloc(n, sizeof(*j)),
                 **r = calloc(n, sizeof(*r));
    if (!k || !j || !r) {
        free(k);
        free(j);
        free(r);
        return;
    }
    free(c->by_key);
    free(c->by_job);
    free(c->by_run);
    c->by_key = k;
    c->by_job = j;
    c->by_run = r;
    c->bytes += tables_bytes(n) - tables_bytes(c->n_buckets);
    c->n_buckets = n;
    for (size_t i = 0; i < _CACHE_CLASS_MAX; i++)
        for (struct dnode *d = c->by_class[i].next; d != &c->by_class[i]; d = d->next) {
            struct entry *e = container_of(d, struct entry, by_class);
            e->by_key.pprev = e->by_job.pprev = e->by_run.pprev = NULL;
            entry_link(c, e);
        }
}

/* ---- the cache ---- */

void cache_settings_default(struct cache_settings *ret)
{
    const uint64_t sec = UINT64_C(1000000);

    *ret = (struct cache_settings){
        .max_bytes = 64 * MIB,
        .max_entries = 65536,
        .max_entry_share = 8,
        .grace_usec = 3600 * sec,
        .max_flights = 1024,
        .max_waiters = 1024,
    };
    ret->ttl_usec[CACHE_JOB] = 30 * sec;
    ret->ttl_usec[CACHE_JOB_LIST] = 10 * sec;
    ret->ttl_usec[CACHE_RUN] = 5 * sec;
    ret->ttl_usec[CACHE_RUN_LIST] = 5 * sec;
    ret->ttl_usec[CACHE_RUN_OUTPUT] = 5 * sec;
    ret->ttl_usec[CACHE_RUN_EXPORT] = 5 * sec;
    ret->ttl_usec[CACHE_PERMISSIONS] = 60 * sec;
    ret->ttl_usec[CACHE_PERMISSION_LEVELS] = 3600 * sec;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p *= 2;
    return p;
}

int cache_new(const struct cache_settings *s, struct cache **ret)
{
    if (!s || s->max_bytes < 64 * KIB || s->max_bytes > ((uint64_t)1 << 40) || s->max_entries < 1 ||
        s->max_entries > ((size_t)1 << 24) || s->max_entry_share < 1 || s->max_entry_share > 1024 ||
        s->max_flights < 1 || s->max_flights > 65536 || s->max_waiters < 1 ||
        s->max_waiters > 65536)
        return -EINVAL;
    size_t max_buckets = MAX(pow2_at_least(s->max_entries), (size_t)CACHE_MIN_BUCKETS);
    if (tables_bytes(max_buckets) > s->max_bytes / 4)
        return -EINVAL;

    _cleanup_(cache_freep) struct cache *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->s = *s;
    c->s.ttl_usec[CACHE_NONE] = 0;
    c->max_entry_bytes = s->max_bytes / s->max_entry_share;
    c->max_buckets = max_buckets;
    c->n_buckets = CACHE_MIN_BUCKETS;
    dlist_init(&c->lru);
    for (size_t i = 0; i < _CACHE_CLASS_MAX; i++)
        dlist_init(&c->by_class[i]);
    c->epoch = 1;
    c->by_key = calloc(c->n_buckets, sizeof(*c->by_key));
    c->by_job = calloc(c->n_buckets, sizeof(*c->by_job));
    c->by_run = calloc(c->n_buckets, sizeof(*c->by_run));
    c->n_flight_buckets = pow2_at_least(s->max_flights * 2);
    c->flights = calloc(c->n_flight_buckets, sizeof(*c->flights));
    if (!c->by_key || !c->by_job || !c->by_run || !c->flights)
        return -ENOMEM;
    c->bytes = tables_bytes(c->n_buckets);
    *ret = TAKE_PTR(c);
    return 0;
}

struct cache *cache_free(struct cache *c)
{
    if (!c)
        return NULL;
    if (c->flights)
        cache_flights_abort_all(c, -ECANCELED);
    for (size_t i = 0; i < _CACHE_CLASS_MAX; i++)
        while (c->by_class[i].next && !dlist_empty(&c->by_class[i]))
            entry_drop(c, container_of(c->by_class[i].next, struct entry, by_class));
    free(c->by_key);
    free(c->by_job);
    free(c->by_run);
    free(c->flights);
    free(c);
    return NULL;
}

static void evict_lru(struct cache *c)
{
    struct entry *e = container_of(c->lru.prev, struct entry, lru);
    entry_drop(c, e);
    c->st.evictions++;
}

static bool inv_matches(unsigned flags, int64_t job_id, int64_t run_id, const struct cache_tags *t)
{
    switch (t->class) {
    case CACHE_JOB:
        return (flags & INV_JOB) && job_id != 0 && t->job_id == job_id;
    case CACHE_JOB_LIST:
        return flags & INV_JOB_LIST;
    case CACHE_RUN:
    case CACHE_RUN_OUTPUT:
    case CACHE_RUN_EXPORT:
        return ((flags & INV_RUN) && run_id != 0 && t->run_id == run_id) ||
               ((flags & INV_JOB_RUNS) && job_id != 0 && t->job_id == job_id);
    case CACHE_RUN_LIST:
        return flags & INV_RUN_LIST;
    case CACHE_PERMISSIONS:
    case CACHE_PERMISSION_LEVELS:
        return (flags & INV_PERMISSIONS) && job_id != 0 && t->job_id == job_id;
    default:
        return false;
    }
}

/* Whether an invalidation since epoch (exclusive) may concern tags; true
 * when it is too long ago to tell. */
static bool invalidated_since(const struct cache *c, uint64_t epoch, const struct cache_tags *t)
{
    if (epoch == 0 || epoch >= c->epoch)
        return false;
    if (c->epoch - epoch > CACHE_RECENT_INV)
        return true;
    for (uint64_t e = epoch + 1; e <= c->epoch; e++) {
        const struct inv_record *r = &c->recent[e % CACHE_RECENT_INV];
        if (inv_matches(r->flags, r->job_id, r->run_id, t))
            return true;
    }
    return false;
}

int cache_store(struct cache *c, const char *key, int status, struct cache_body *body,
                uint64_t ttl_usec, const struct cache_tags *tags, uint64_t now_usec)
{
    if (!c || !key || !body || !tags || tags->class <= CACHE_NONE ||
        tags->class >= _CACHE_CLASS_MAX || tags->job_id < 0 || tags->run_id < 0)
        return -EINVAL;
    size_t len = strnlen(key, CACHE_KEY_MAX + 1);
    if (len > CACHE_KEY_MAX)
        return -EINVAL;

    uint64_t hash = cache_hash_key(key, len);
    struct entry *old = entry_find(c, key, len, hash);
    if (old)
        entry_drop(c, old); /* whatever happens next, it is outdated */

    if (c->s.ttl_usec[tags->class] == 0)
        return 0; /* the class is not kept */
    if (ttl_usec == 0)
        ttl_usec = c->s.ttl_usec[tags->class];
    if (tags->terminal)
        ttl_usec = CACHE_TTL_FOREVER;

    uint64_t charge = cache_entry_charge(len, body);
    if (charge > c->max_entry_bytes) {
        c->st.store_refused++;
        return -EFBIG;
    }
    if (invalidated_since(c, tags->epoch, tags)) {
        c->st.store_refused++;
        return -ESTALE;
    }

    struct entry *e = malloc(sizeof(*e) + len + 1);
    if (!e)
        return -ENOMEM;
    *e = (struct entry){
        .hash = hash,
        .stored_usec = now_usec,
        .expires_usec = ttl_usec == CACHE_TTL_FOREVER ? UINT64_MAX : sat_add(now_usec, ttl_usec),
        .charge = charge,
        .tags = *tags,
        .status = status,
        .key_len = len,
    };
    e->tags.epoch = 0;
    memcpy(e->key, key, len + 1);

    if (c->n_entries + 1 > c->n_buckets)
        tables_grow(c);
    while (!dlist_empty(&c->lru) &&
           (c->n_entries >= c->s.max_entries || c->bytes + charge > c->s.max_bytes))
        evict_lru(c);
    if (c->bytes + charge > c->s.max_bytes) {
        free(e);
        c->st.store_refused++;
        return -EFBIG;
    }

    e->body = cache_body_ref(body);
    entry_link(c, e);
    dlist_add_head(&c->lru, &e->lru);
    dlist_add_tail(&c->by_class[e->tags.class], &e->by_class);
    c->n_entries++;
    c->bytes += charge;
    c->st.stores++;
    return 1;
}

enum cache_lookup_result cache_lookup(struct cache *c, const char *key, uint64_t now_usec,
                                      uint64_t max_age_usec, struct cache_hit *ret)
{
    if (!c || !key || !ret)
        return CACHE_MISS;
    size_t len = strnlen(key, CACHE_KEY_MAX + 1);
    struct entry *e =
        len <= CACHE_KEY_MAX ? entry_find(c, key, len, cache_hash_key(key, len)) : NULL;
    if (!e) {
        c->st.misses++;
        return CACHE_MISS;
    }

    uint64_t age = now_usec > e->stored_usec ? now_usec - e->stored_usec : 0;
    if (e->expires_usec != UINT64_MAX && now_usec >= sat_add(e->expires_usec, c->s.grace_usec)) {
        entry_drop(c, e);
        c->st.expirations++;
        c->st.misses++;
        return CACHE_MISS;
    }

    enum cache_lookup_result r;
    if (now_usec < e->expires_usec && age <= max_age_usec) {
        r = CACHE_FRESH;
        c->st.hits++;
    } else {
        r = CACHE_STALE;
        c->st.stale_hits++;
    }

    /* To the head of the LRU. */
    if (c->lru.next != &e->lru) {
        dlist_del(&e->lru);
        dlist_add_head(&c->lru, &e->lru);
    }
    *ret = (struct cache_hit){
        .body = cache_body_ref(e->body),
        .status = e->status,
        .age_sec = age / UINT64_C(1000000),
        .stored_usec = e->stored_usec,
    };
    return r;
}

static unsigned drop_class(struct cache *c, enum cache_class class)
{
    unsigned n = 0;
    while (!dlist_empty(&c->by_class[class])) {
        entry_drop(c, container_of(c->by_class[class].next, struct entry, by_class));
        n++;
    }
    return n;
}

int cache_extend_run(struct cache *c, int64_t run_id, uint64_t until_usec)
{
    unsigned n = 0;
    if (run_id == 0)
        return 0;
    for (struct hnode *h = c->by_run[id_bucket(c, run_id)]; h; h = h->next) {
        struct entry *e = container_of(h, struct entry, by_run);
        if (e->tags.run_id == run_id && e->tags.class == CACHE_RUN && !e->tags.terminal &&
            e->expires_usec < until_usec) {
            e->expires_usec = until_usec;
            n++;
        }
    }
    c->st.extensions += n;
    return (int)MIN(n, (unsigned)INT32_MAX);
}

int cache_invalidate(struct cache *c, unsigned inv_flags, int64_t job_id, int64_t run_id)
{
    unsigned n = 0;

    c->epoch++;
    c->recent[c->epoch % CACHE_RECENT_INV] = (struct inv_record){
        .flags = inv_flags,
        .job_id = job_id,
        .run_id = run_id,
    };

    if (inv_flags & INV_JOB_LIST)
        n += drop_class(c, CACHE_JOB_LIST);
    if (inv_flags & INV_RUN_LIST)
        n += drop_class(c, CACHE_RUN_LIST);

    if (job_id != 0 && (inv_flags & (INV_JOB | INV_PERMISSIONS | INV_JOB_RUNS))) {
        struct hnode *next;
        for (struct hnode *h = c->by_job[id_bucket(c, job_id)]; h; h = next) {
            struct entry *e = container_of(h, struct entry, by_job);
            next = h->next;
            if (inv_matches(inv_flags, job_id, run_id, &e->tags)) {
                entry_drop(c, e);
                n++;
            }
        }
    }
    if (run_id != 0 && (inv_flags & INV_RUN)) {
        struct hnode *next;
        for (struct hnode *h = c->by_run[id_bucket(c, run_id)]; h; h = next) {
            struct entry *e = container_of(h, struct entry, by_run);
            next = h->next;
            if (inv_matches(inv_flags & INV_RUN, 0, run_id, &e->tags)) {
                entry_drop(c, e);
                n++;
            }
        }
    }
    c->st.invalidations += n;
    return (int)MIN(n, (unsigned)INT32_MAX);
}

int cache_invalidate_key(struct cache *c, const char *key)
{
    size_t len = strnlen(key, CACHE_KEY_MAX + 1);
    struct entry *e =
        len <= CACHE_KEY_MAX ? entry_find(c, key, len, cache_hash_key(key, len)) : NULL;
    if (!e)
        return 0;
    entry_drop(c, e);
    c->st.invalidations++;
    return 1;
}

uint64_t cache_epoch(const struct cache *c)
{
    return c->epoch;
}

void cache_get_stats(const struct cache *c, struct cache_stats *ret)
{
    *ret = c->st;
    ret->entries = c->n_entries;
    ret->bytes = c->bytes;
    ret->max_bytes = c->s.max_bytes;
    ret->flights_active = c->n_flights;
}
