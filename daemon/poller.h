/* daemon/poller.h: the one client of the workspace that asks about run
 * state. Owns the tracked set (mirrored in the archive with the
 * watermarks, so a restart resumes), the sweeps, the queue of runs to
 * fetch (finished runs to archive with their outputs, unknown runs to
 * probe), the backfill and the local waiters of /jobsd/v1/runs/{id}/wait.
 * Borrows the upstream client, the store, the cache and the events ring;
 * makes at most one upstream request at a time, paced by its own share of
 * the upstream rate.
 *
 *   a sweep:   runs/list active_only (25 a page, tasks expanded), then
 *              runs/list completed_only since the watermark;
 *   changed:   the new view goes to the archive and the events, the run's
 *              cached runs/get is dropped; unchanged: it stays fresh;
 *   finished:  runs/get (every page, repair history) and get-output of each
 *              task run, archived in one transaction, waiters woken. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "daemon/cache.h"
#include "daemon/events.h"
#include "daemon/router.h"
#include "daemon/upstream.h"
#include "db/store.h"

struct poller;

enum poller_track {
    POLLER_TRACK_ALL,   /* every run of the workspace */
    POLLER_TRACK_JOBS,  /* runs of the listed jobs */
    POLLER_TRACK_LOCAL, /* runs started or waited for through jobsd */
};

#define POLLER_JOBS_MAX 64

struct poller_settings {
    enum poller_track track;
    int64_t jobs[POLLER_JOBS_MAX];
    unsigned n_jobs;
    uint64_t interval_min_usec;
    uint64_t interval_max_usec;
    uint64_t idle_interval_usec;
    double rate; /* requests per second the poller may make */
    bool backfill;
    unsigned backfill_days;
    bool outputs;
    const char *export_views; /* NULL or "": none; copied */
};

/* Parses "1,2,3" into s->jobs. -EINVAL (bad id), -E2BIG (too many). */
int poller_parse_jobs(const char *text, struct poller_settings *s);

/* u may be NULL (no workspace: nothing is polled). cache may be NULL. */
int poller_new(sd_event *e, const struct poller_settings *s, struct upstream *u,
               struct store *store, struct cache *cache, struct events *events,
               struct poller **ret);
struct poller *poller_free(struct poller *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct poller *, poller_free)

/* Loads the tracked set and watermarks and starts sweeping (and the
 * backfill, on first start when asked). */
int poller_start(struct poller *p);
/* A reload: new intervals, rate and archive options. */
int poller_set_settings(struct poller *p, const struct poller_settings *s);
/* New credentials: the request in flight is dropped and made again on u. */
void poller_set_upstream(struct poller *p, struct upstream *u);

/* A write went through jobsd (the proxy's hook): a run started (run-now,
 * submit, repair) is tracked at once and looked at soon; a cancel makes the
 * next sweep come sooner; a deleted run is no longer tracked. */
void poller_note_write(struct poller *p, enum endpoint_id id, int64_t job_id, int64_t run_id);

/* Starts a backfill now (POST /jobsd/v1/backfill). -EBUSY if one runs. */
int poller_backfill(struct poller *p);

/* Serves LOCAL_RUN_WAIT and LOCAL_BACKFILL. */
void poller_register(struct poller *p, struct router *r);

struct poller_stats {
    unsigned tracked;         /* active runs tracked */
    unsigned fetching;        /* runs queued for runs/get (finished, or unknown) */
    unsigned waiters;         /* local waits held */
    uint64_t sweeps;          /* complete sweeps */
    uint64_t requests;        /* upstream requests made */
    uint64_t failures;        /* of which failed (no answer, 5xx, 429) */
    uint64_t changes;         /* state changes seen */
    uint64_t archived;        /* runs archived final with their outputs */
    uint64_t outputs;         /* task outputs archived */
    uint64_t last_sweep_usec; /* CLOCK_REALTIME when the last sweep ended, 0: none */
    uint64_t last_sweep_duration_usec;
    uint64_t next_sweep_in_usec; /* 0: now or running */
    int64_t watermark_ms;
    /* The backfill. */
    bool backfill_running;
    bool backfill_done;
    uint64_t backfill_pages;
    uint64_t backfill_runs;
    int64_t backfill_from_ms;   /* start_time_from of the backfill */
    int64_t backfill_oldest_ms; /* the oldest start_time reached so far */
};
void poller_get_stats(const struct poller *p, struct poller_stats *ret);
/* "backfill 42% (1234 runs)", or "" when no backfill runs; for STATUS=. */
void poller_status_text(const struct poller *p, char *buf, size_t n);
