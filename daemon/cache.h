/* daemon/cache.h: the response cache (upstream bytes by canonical key, with
 * TTLs, a stale grace, an LRU memory bound and invalidation by job and run)
 * and the single-flight table that lets identical concurrent reads share one
 * upstream request. Pure: no MHD, curl or sd-event; the clock comes in as
 * now_usec. The cache owns its entries, keys and flights; bodies are shared
 * by reference count: whoever holds a ref (the cache, a lookup's caller, a
 * flight's waiter, libmicrohttpd through cache_body_unref_data) releases it.
 * Single-threaded: everything runs on the one event loop.
 *
 * How a read is meant to use it (the proxy):
 *   key = cache_key_build(...);
 *   cache_lookup(key, now, max-age):
 *     FRESH  -> answer hit.body (source cache, Age hit.age_sec)
 *     STALE  -> answer hit.body at once (source stale); then
 *               cache_flight_join(key, NULL cb): LEADER refreshes in the
 *               background, BUSY means a refresh is already in the air.
 *               (A reader that sent max-age or no-cache wants newer
 *               bytes: it joins with a cb, as on a MISS.)
 *     MISS   -> cache_flight_join(key, cb): LEADER fetches (tags.epoch =
 *               cache_epoch() first), JOINED waits for cb
 *   leader done: cache_store() when cacheable, then cache_flight_finish();
 *   on 5xx/429/unreachable: cache_lookup(key, now, UINT64_MAX) for a STALE
 *   copy within the grace, cache_flight_abort() (or finish with the error
 *   response); a waiter woken with an error may do the same lookup.
 *   A write: cache_invalidate(row->invalidates, job_id, run_id). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/cleanup.h"
#include "proto/endpoint.h"
#include "proto/macro.h"

/* ---- bodies ---- */

/* An immutable byte buffer, exactly as upstream sent it, and its content
 * type. One allocation: the struct, then len bytes, a NUL, then the content
 * type, so that the struct is found again from the data pointer (what
 * libmicrohttpd hands back to its free callback). n_ref is private. */
struct cache_body {
    unsigned n_ref;
    size_t len;
    size_t alloc;             /* bytes of the whole allocation (accounting) */
    const char *content_type; /* inside this allocation, or NULL */
    char data[];              /* len bytes, then a NUL */
};

/* The largest body accepted, and the longest content type. */
#define CACHE_BODY_MAX (64 * MIB)
#define CACHE_CONTENT_TYPE_MAX 256

/* Copies data (len bytes) and content_type (may be NULL) into a new body
 * with one ref. -E2BIG past CACHE_BODY_MAX or CACHE_CONTENT_TYPE_MAX,
 * -ENOMEM. */
int cache_body_new(const char *content_type, const void *data, size_t len, struct cache_body **ret);
/* Adds a ref; returns b. */
struct cache_body *cache_body_ref(struct cache_body *b);
/* Drops a ref, freeing the body with the last; accepts NULL, returns NULL. */
struct cache_body *cache_body_unref(struct cache_body *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct cache_body *, cache_body_unref)
/* The same from b->data: the free callback given to libmicrohttpd with
 * response_take_body(r, status, ct, b->data, b->len, cache_body_unref_data)
 * after taking a ref for it. Accepts NULL. */
void cache_body_unref_data(void *data);

/* ---- keys ---- */

/* The longest key, and the most query arguments, cache_key_build accepts. */
#define CACHE_KEY_MAX 4096
#define CACHE_KEY_ARGS_MAX 64

/* The canonical key of a read: "GET /api/2.2/jobs/runs/get?a=1&b=2". The
 * query arguments (decoded names and values; a NULL value is "") are sorted
 * by name, then value, so that any order gives the same key; page_token and
 * every other argument are kept. Path, names and values are percent-encoded
 * where a byte is not unreserved (RFC 3986; '/' too in the path), so a key
 * is printable and unambiguous. Returns the key's length and a malloc'd key;
 * -EINVAL for an unknown method or a path not starting with '/', -E2BIG past
 * CACHE_KEY_ARGS_MAX or CACHE_KEY_MAX, -ENOMEM. */
int cache_key_build(enum http_method method, const char *path, const char *const *names,
                    const char *const *values, size_t n, char **ret);

/* ---- the cache ---- */

struct cache;

/* A TTL meaning "until invalidated or evicted". */
#define CACHE_TTL_FOREVER UINT64_MAX

struct cache_settings {
    uint64_t max_bytes;       /* bound on keys, bodies, entries and tables */
    size_t max_entries;       /* bound on the number of entries */
    unsigned max_entry_share; /* an entry above max_bytes / this is not kept */
    /* Default TTL per class when cache_store gets ttl_usec 0; a class whose
     * default is 0 is not kept (CACHE_NONE never is). */
    uint64_t ttl_usec[_CACHE_CLASS_MAX];
    uint64_t grace_usec; /* how long past its TTL an entry is kept for STALE */
    size_t max_flights;  /* flights at once */
    size_t max_waiters;  /* waiters per flight */
};

/* Defaults: 64 MiB, 65536 entries, 1/8 share, TTLs job 30 s, job list 10 s,
 * run (active) / output / export / run list 5 s, permissions 60 s,
 * permission levels 1 h; grace 1 h; 1024 flights of 1024 waiters. */
void cache_settings_default(struct cache_settings *ret);

/* -EINVAL for settings out of bounds: max_bytes 64 KiB..1 TiB, max_entries
 * 1..2^24 (whose tables must take at most a quarter of max_bytes),
 * max_entry_share 1..1024, max_flights 1..65536, max_waiters 1..65536. */
int cache_new(const struct cache_settings *s, struct cache **ret);
/* Frees every entry (bodies live on while others hold refs). Flights still
 * in the air are aborted with -ECANCELED first (their waiters are called);
 * their leaders must not touch them afterwards. Accepts NULL, returns NULL. */
struct cache *cache_free(struct cache *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct cache *, cache_free)

/* What an entry is about, so that invalidation finds it. */
struct cache_tags {
    enum cache_class class; /* the endpoint row's cache class */
    int64_t job_id;         /* 0: none */
    int64_t run_id;         /* 0: none */
    bool terminal;          /* a run in a terminal state: kept until a write */
    /* cache_epoch() taken before the upstream read began, or 0. When a
     * matching invalidation happened since, the store is refused (-ESTALE):
     * the bytes may predate a write. */
    uint64_t epoch;
};

/* Keeps body (the cache takes its own ref) under key, replacing an entry of
 * the same key. ttl_usec 0 takes the class default; tags->terminal means
 * CACHE_TTL_FOREVER. Evicts least-recently-used entries to stay within the
 * bounds. Returns 1 when kept, 0 when the class is not kept (its default
 * TTL is 0); -EINVAL (CACHE_NONE, a bad class, no body),
 * -EFBIG (bigger than max_bytes / max_entry_share; an older entry of the key
 * is dropped all the same), -ESTALE (see tags.epoch), -ENOMEM. */
int cache_store(struct cache *c, const char *key, int status, struct cache_body *body,
                uint64_t ttl_usec, const struct cache_tags *tags, uint64_t now_usec);

enum cache_lookup_result {
    CACHE_MISS,
    CACHE_FRESH, /* within its TTL and the reader's max-age */
    CACHE_STALE, /* past either, but within its TTL + grace */
};

struct cache_hit {
    struct cache_body *body; /* a ref: the caller releases it */
    int status;
    uint64_t age_sec;     /* for the Age header */
    uint64_t stored_usec; /* when it was kept */
};

/* Looks key up at now_usec. max_age_usec is the reader's bound on age
 * (Cache-Control: max-age) or UINT64_MAX. FRESH and STALE fill ret (with a
 * body ref) and move the entry to the head of the LRU; MISS leaves ret
 * untouched, and drops an entry that is past its grace. */
enum cache_lookup_result cache_lookup(struct cache *c, const char *key, uint64_t now_usec,
                                      uint64_t max_age_usec, struct cache_hit *ret);

/* Drops what a successful write makes stale (INV_* flags of its endpoint
 * row; job_id/run_id 0 when the write names none):
 *   INV_JOB          jobs/get of job_id
 *   INV_JOB_LIST     every jobs/list page
 *   INV_RUN          runs/get, get-output and export of run_id
 *   INV_RUN_LIST     every runs/list page
 *   INV_PERMISSIONS  permissions and permission levels of job_id
 *   INV_JOB_RUNS     runs/get, get-output and export of every run tagged
 *                    with job_id
 * Costs O(matches). Bumps cache_epoch(). Returns the number dropped. */
int cache_invalidate(struct cache *c, unsigned inv_flags, int64_t job_id, int64_t run_id);
/* The poller saw run_id unchanged: its runs/get entries (class CACHE_RUN,
 * not terminal) stay fresh until until_usec (never shortened). Their Age
 * keeps counting from when they were stored. Returns how many. */
int cache_extend_run(struct cache *c, int64_t run_id, uint64_t until_usec);
/* Drops one key: 1 if it was there, 0 if not. */
int cache_invalidate_key(struct cache *c, const char *key);
/* Counts invalidations; see cache_tags.epoch. Starts at 1. */
uint64_t cache_epoch(const struct cache *c) _pure_;

/* ---- single flight ---- */

struct cache_flight;
struct cache_waiter;

/* What a flight ends with. A waiter's callback owns body's ref (it unrefs
 * it or hands it on); body is NULL when error is set (-errno from
 * cache_flight_abort). */
struct cache_flight_result {
    int error;
    int status;
    struct cache_body *body;
};
/* Called once per waiter, from cache_flight_finish/abort (or cache_free).
 * It may call any cache function, except finishing or aborting the flight
 * it waited on. Its waiter handle is gone when it is called. */
typedef void (*cache_waiter_cb_t)(const struct cache_flight_result *r, void *userdata);

enum cache_flight_role {
    CACHE_FLIGHT_LEADER, /* fetch, then cache_flight_finish or _abort */
    CACHE_FLIGHT_JOINED, /* cb will be called once with the result */
    CACHE_FLIGHT_BUSY,   /* cb was NULL and a flight is in the air */
};

/* Joins the flight of key, or starts one. With no flight in the air the
 * caller becomes LEADER and gets *ret_flight. Otherwise, with a cb, the
 * caller becomes a waiter (JOINED, *ret_waiter for cache_flight_leave);
 * with cb NULL nothing is joined and BUSY is returned: stale-while-
 * revalidate serves the stale copy and refreshes only when LEADER.
 * -EAGAIN when the flight's waiter list is full, -ENOSPC when max_flights
 * are in the air (answer 503/429 or go upstream uncoalesced), -ENOMEM. */
int cache_flight_join(struct cache *c, const char *key, cache_waiter_cb_t cb, void *userdata,
                      struct cache_flight **ret_flight, struct cache_waiter **ret_waiter);
/* A waiter whose client went away: it is dropped and its cb never runs.
 * Accepts NULL. Only before its cb ran. */
void cache_flight_leave(struct cache_waiter *w);
/* The leader's result: each waiter gets its own ref of body (which the
 * leader keeps its own ref of) and status, in join order; then the flight is
 * freed. A key joined from a callback starts a new flight. */
void cache_flight_finish(struct cache *c, struct cache_flight *f, int status,
                         struct cache_body *body);
/* The leader gives up: each waiter is called with error (< 0), then the
 * flight is freed. */
void cache_flight_abort(struct cache *c, struct cache_flight *f, int error);
/* The number of waiters of a flight now. */
size_t cache_flight_waiters(const struct cache_flight *f) _pure_;

/* ---- metrics ---- */

struct cache_stats {
    uint64_t entries;
    uint64_t bytes; /* what the cache holds, within max_bytes */
    uint64_t max_bytes;
    uint64_t hits;       /* FRESH lookups */
    uint64_t stale_hits; /* STALE lookups */
    uint64_t misses;
    uint64_t stores;
    uint64_t store_refused; /* too big, or -ESTALE */
    uint64_t evictions;     /* dropped for the bounds */
    uint64_t expirations;   /* dropped past their grace */
    uint64_t invalidations; /* entries dropped by cache_invalidate*() */
    uint64_t extensions;    /* entries kept fresh by cache_extend_run() */
    uint64_t flights;       /* leaders */
    uint64_t flights_active;
    uint64_t coalesced;        /* waiters that joined a flight */
    uint64_t waiters_rejected; /* -EAGAIN */
};

void cache_get_stats(const struct cache *c, struct cache_stats *ret);
