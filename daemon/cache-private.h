/* daemon/cache-private.h: the structures shared by cache.c and
 * cache-flight.c, and the intrusive lists they are built of. Not for other
 * modules. Owns nothing by itself. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "daemon/cache.h"

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* A hash-chain link: a bucket is one pointer, removal is O(1). */
struct hnode {
    struct hnode *next;
    struct hnode **pprev;
};

static inline void hnode_add(struct hnode **head, struct hnode *n)
{
    n->next = *head;
    if (n->next)
        n->next->pprev = &n->next;
    *head = n;
    n->pprev = head;
}

static inline void hnode_del(struct hnode *n)
{
    if (!n->pprev)
        return;
    *n->pprev = n->next;
    if (n->next)
        n->next->pprev = n->pprev;
    n->next = NULL;
    n->pprev = NULL;
}

/* A circular doubly linked list with a sentinel head. */
struct dnode {
    struct dnode *prev;
    struct dnode *next;
};

static inline void dlist_init(struct dnode *head)
{
    head->prev = head->next = head;
}

static inline int dlist_empty(const struct dnode *head)
{
    return head->next == head;
}

static inline void dlist_add_head(struct dnode *head, struct dnode *n)
{
    n->prev = head;
    n->next = head->next;
    head->next->prev = n;
    head->next = n;
}

static inline void dlist_add_tail(struct dnode *head, struct dnode *n)
{
    dlist_add_head(head->prev, n);
}

static inline void dlist_del(struct dnode *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

/* Invalidations remembered for cache_tags.epoch: the last this many. */
#define CACHE_RECENT_INV 64

struct inv_record {
    unsigned flags;
    int64_t job_id;
    int64_t run_id;
};

struct cache {
    struct cache_settings s;
    uint64_t max_entry_bytes;

    /* Three hash tables of n_buckets each (a power of two): by key hash, by
     * job_id, by run_id. Every entry is in by_key, its class list and the
     * LRU; in by_job when it has a job_id, in by_run when it has a run_id. */
    struct hnode **by_key;
    struct hnode **by_job;
    struct hnode **by_run;
    size_t n_buckets;
    size_t max_buckets;
    struct dnode lru; /* head: most recently used */
    struct dnode by_class[_CACHE_CLASS_MAX];
    size_t n_entries;
    uint64_t bytes; /* entries' charges and the three tables */

    uint64_t epoch;
    struct inv_record recent[CACHE_RECENT_INV];

    /* Flights in the air, by key hash (a fixed table). */
    struct hnode **flights;
    size_t n_flight_buckets;
    size_t n_flights;

    struct cache_stats st;
};

uint64_t cache_hash_key(const char *key, size_t len) _pure_;
/* Aborts every flight in the air with error (cache_free). */
void cache_flights_abort_all(struct cache *c, int error);

/* For white-box tests: an entry's charge against max_bytes, and the bytes
 * of the tables at the smallest size (64 buckets, used while max_entries
 * <= 64). */
uint64_t cache_entry_charge(size_t key_len, const struct cache_body *b) _pure_;
#define CACHE_MIN_BUCKETS 64
#define CACHE_MIN_TABLES_BYTES (3 * CACHE_MIN_BUCKETS * sizeof(struct hnode *))
