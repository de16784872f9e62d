/* daemon/cache-flight.c: the single-flight table. A flight is one
 * allocation (the struct, then its key) in a fixed hash table by key; its
 * waiters are a bounded list of small allocations, each freed before its
 * callback runs. A flight leaves the table before its waiters are called, so
 * that a callback may join the key again (a new flight) or leave others. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cache-private.h"
#include "daemon/cache.h"

struct cache_flight {
    struct hnode by_key;
    struct cache *cache;
    uint64_t hash;
    struct dnode waiters;
    size_t n_waiters;
    size_t key_len;
    char key[];
};

struct cache_waiter {
    struct dnode node;
    struct cache_flight *flight;
    cache_waiter_cb_t cb;
    void *userdata;
};

static struct cache_flight *flight_find(struct cache *c, const char *key, size_t len, uint64_t hash)
{
    for (struct hnode *n = c->flights[hash & (c->n_flight_buckets - 1)]; n; n = n->next) {
        struct cache_flight *f = container_of(n, struct cache_flight, by_key);
        if (f->hash == hash && f->key_len == len && memcmp(f->key, key, len) == 0)
            return f;
    }
    return NULL;
}

int cache_flight_join(struct cache *c, const char *key, cache_waiter_cb_t cb, void *userdata,
                      struct cache_flight **ret_flight, struct cache_waiter **ret_waiter)
{
    if (!c || !key || !ret_flight || (cb && !ret_waiter))
        return -EINVAL;
    size_t len = strnlen(key, CACHE_KEY_MAX + 1);
    if (len > CACHE_KEY_MAX)
        return -EINVAL;
    uint64_t hash = cache_hash_key(key, len);

    struct cache_flight *f = flight_find(c, key, len, hash);
    if (f) {
        if (!cb)
            return CACHE_FLIGHT_BUSY;
        if (f->n_waiters >= c->s.max_waiters) {
            c->st.waiters_rejected++;
            return -EAGAIN;
        }
        struct cache_waiter *w = malloc(sizeof(*w));
        if (!w)
            return -ENOMEM;
        *w = (struct cache_waiter){ .flight = f, .cb = cb, .userdata = userdata };
        dlist_add_tail(&f->waiters, &w->node);
        f->n_waiters++;
        c->st.coalesced++;
        *ret_waiter = w;
        return CACHE_FLIGHT_JOINED;
    }

    if (c->n_flights >= c->s.max_flights)
        return -ENOSPC;
    f = malloc(sizeof(*f) + len + 1);
    if (!f)
        return -ENOMEM;
    *f = (struct cache_flight){ .cache = c, .hash = hash, .key_len = len };
    memcpy(f->key, key, len + 1);
    dlist_init(&f->waiters);
    hnode_add(&c->flights[hash & (c->n_flight_buckets - 1)], &f->by_key);
    c->n_flights++;
    c->st.flights++;
    *ret_flight = f;
    return CACHE_FLIGHT_LEADER;
}

void cache_flight_leave(struct cache_waiter *w)
{
    if (!w)
        return;
    dlist_del(&w->node);
    w->flight->n_waiters--;
    free(w);
}

/* Takes f out of the table, calls each waiter (freed first), frees f. */
static void flight_end(struct cache *c, struct cache_flight *f, int error, int status,
                       struct cache_body *body)
{
    hnode_del(&f->by_key);
    c->n_flights--;
    while (!dlist_empty(&f->waiters)) {
        struct cache_waiter *w = container_of(f->waiters.next, struct cache_waiter, node);
        cache_waiter_cb_t cb = w->cb;
        void *userdata = w->userdata;

        cache_flight_leave(w);
        struct cache_flight_result r = {
            .error = error,
            .status = status,
            .body = error < 0 ? NULL : cache_body_ref(body),
        };
        cb(&r, userdata);
    }
    free(f);
}

void cache_flight_finish(struct cache *c, struct cache_flight *f, int status,
                         struct cache_body *body)
{
    if (!c || !f)
        return;
    flight_end(c, f, 0, status, body);
}

void cache_flight_abort(struct cache *c, struct cache_flight *f, int error)
{
    if (!c || !f)
        return;
    flight_end(c, f, error < 0 ? error : -EIO, 0, NULL);
}

size_t cache_flight_waiters(const struct cache_flight *f)
{
    return f->n_waiters;
}

void cache_flights_abort_all(struct cache *c, int error)
{
    for (size_t i = 0; i < c->n_flight_buckets; i++)
        while (c->flights[i])
            flight_end(c, container_of(c->flights[i], struct cache_flight, by_key), error, 0, NULL);
}
