/* daemon/poller-private.h: the poller's state, shared by poller.c (the run
 * table, pacing, what changed), poller-sweep.c (sweeps and the backfill),
 * poller-fetch.c (archiving finished runs) and poller-wait.c (local waits).
 * Not for other modules. */
#pragma once

#include <json-c/json.h>

#include "daemon/poller.h"
#include "proto/runstate.h"
#include "proto/strutil.h"

/* Runs started this long before the newest start seen are listed again by
 * the completed pass: a run that started and ended between two sweeps is
 * found there. */
#define WATERMARK_SLACK_MS (5 * 60 * 1000)
/* The backfill lists no further while this many finished runs wait. */
#define BULK_QUEUE_HIGH 1000
/* Daemon state in the archive. */
#define STATE_WATERMARK "poller.watermark_ms"
#define STATE_BACKFILL_DONE "poller.backfill_done"

enum fetch_reason {
    FETCH_NONE,
    FETCH_FINAL,   /* finished (or gone from the active list): archive it */
    FETCH_PROBE,   /* unknown or local: look at it */
    FETCH_OUTPUTS, /* finished, its runs/get held: its task runs' outputs are due */
};

enum {
    QUEUE_STATE,   /* runs/get of finished, vanished, unknown runs */
    QUEUE_OUTPUTS, /* outputs of finished runs whose state is known */
    QUEUE_BULK,    /* the backfill's, both kinds */
    _QUEUE_MAX,
};
/* Finished runs whose runs/get is held until their outputs' turn; beyond,
 * outputs follow their runs/get at once. */
#define OUTPUTS_DEFERRED_MAX 512

enum step_kind {
    STEP_NONE,
    STEP_ACTIVE_PAGE,
    STEP_COMPLETED_PAGE,
    STEP_BACKFILL_PAGE,
    STEP_RUN_GET,
    STEP_OUTPUT,
    STEP_EXPORT,
};

enum sweep_phase {
    SWEEP_IDLE,
    SWEEP_ACTIVE,    /* runs/list active_only */
    SWEEP_COMPLETED, /* runs/list completed_only since the watermark */
};

struct waiter;
struct final;

/* A run the poller holds: tracked as active, queued for a fetch, or waited
 * on (or several of these). */
struct run {
    int64_t run_id;
    int64_t job_id;
    int64_t start_time;   /* ms, the workspace's clock; 0: unknown */
    int64_t expected_ms;  /* typical duration of its job; -1 not asked, -2 unknown */
    uint64_t fingerprint; /* of the last view; 0: none yet */
    uint64_t swept;       /* the sweep that last saw it active */
    uint64_t first_seen_usec;
    enum life_cycle_state life_cycle;
    bool active; /* in the tracked set */
    bool local;  /* started through jobsd */
    bool bulk;   /* queued by the backfill */
    bool refetch;
    enum fetch_reason fetch;
    unsigned failures;
    uint64_t not_before_usec;
    struct run *hnext;
    struct run *qprev, *qnext;
    struct final *held; /* FETCH_OUTPUTS: its runs/get pages and task runs */
    struct waiter *waiters;
};

struct fetch_queue {
    struct run *head, *tail;
    unsigned n;
};

/* The run being fetched and archived: its runs/get pages, then its task
 * runs' outputs and exports, written in one transaction at the end. */
struct final {
    struct json_object *pages; /* array of runs/get pages */
    char *page_token;
    int64_t *tasks; /* task run ids */
    size_t n_tasks, i_task;
    bool exporting;              /* outputs done, exports under way */
    struct json_object *outputs; /* array of [task run id, output] */
    struct json_object *exports; /* array of [task run id, export] */
    size_t held;
    bool terminal;
};

struct poller {
    sd_event *event;
    struct poller_settings s;
    char *export_views;
    struct upstream *upstream;
    struct store *store;
    struct cache *cache;
    struct events *events;
    struct limiter *limiter;
    sd_event_source *kick;
    sd_event_source *timer;
    struct upstream_transfer *transfer;
    enum step_kind step;
    bool stopping;
    bool failing;
    bool last_was_fetch;

    struct run **buckets;
    size_t n_buckets;
    size_t n_runs;
    unsigned n_active;
    struct fetch_queue queues[_QUEUE_MAX];
    struct run *cur; /* being fetched */
    struct final fin;

    /* Sweeps. */
    enum sweep_phase sweep_phase;
    uint64_t sweep_no;
    unsigned sweep_job; /* index into s.jobs for track=jobs */
    char *page_token;
    uint64_t sweep_started_usec;
    uint64_t next_sweep_usec;
    uint64_t sweep_period_usec; /* how long the last sweep took, at least interval_min */
    uint64_t sweep_backoff_usec;
    int64_t watermark_ms;
    int64_t newest_start_ms;
    int64_t sweep_newest_start_ms; /* newest_start_ms when this sweep began */

    /* The backfill. */
    bool backfill_running;
    unsigned backfill_job;
    char *backfill_token;
    int64_t backfill_from_ms;
    uint64_t backfill_backoff_usec;
    uint64_t backfill_not_before_usec;

    /* Waits. */
    unsigned n_waiters;

    struct poller_stats stats;
    uint64_t status_sent_usec;
};

uint64_t poller_now_usec(void);
struct run *poller_find(struct poller *p, int64_t run_id);
struct run *poller_find_or_add(struct poller *p, int64_t run_id);
void poller_release(struct poller *p, struct run *r);
void poller_enqueue(struct poller *p, struct run *r, enum fetch_reason why, bool bulk);
/* Out of its fetch queue (fetch becomes FETCH_NONE). */
void poller_dequeue(struct poller *p, struct run *r);
/* "&page_token=<token, percent-encoded>" */
int poller_append_token(struct buf *b, const char *token);
void poller_kick(struct poller *p);
int poller_submit(struct poller *p, enum step_kind kind, const char *path);
/* Hands an answer to the step that asked for it (on_done, and the fuzzer). */
void poller_answer(struct poller *p, enum step_kind kind, const struct upstream_response *u);
bool poller_failed(const struct upstream_response *u);
uint64_t poller_fingerprint(struct json_object *run, unsigned *ret_total, unsigned *ret_done);
enum life_cycle_state poller_life_cycle(struct json_object *run);
int poller_observe(struct poller *p, struct run *r, struct json_object *run, bool from_list);
void poller_seen_active(struct poller *p, struct run *r, struct json_object *run);
void poller_untrack(struct poller *p, struct run *r);
uint64_t poller_next_delay(const struct poller *p);
void poller_notify_status(struct poller *p);

/* poller-sweep.c */
void poller_sweep_begin(struct poller *p);
int poller_sweep_next(struct poller *p);
/* The sweep stops here; the next one comes after a backoff. */
void poller_sweep_failed(struct poller *p);
void poller_sweep_answer(struct poller *p, enum step_kind kind, const struct upstream_response *u);
int poller_backfill_next(struct poller *p);
void poller_backfill_answer(struct poller *p, const struct upstream_response *u);

/* poller-fetch.c */
int poller_fetch_begin(struct poller *p, struct run *r);
int poller_fetch_next(struct poller *p);
void poller_fetch_answer(struct poller *p, enum step_kind kind, const struct upstream_response *u);
/* The fetch in progress failed or was cut: r goes back to the queue (with
 * a backoff when failed). */
void poller_fetch_retry(struct poller *p, bool failed);
void poller_fetch_abort(struct poller *p);
struct final *poller_final_free(struct final *f);

/* poller-wait.c */
/* r is terminal (text: its runs/get), or gone (text NULL): answer its
 * waiters. */
void poller_wake(struct poller *p, struct run *r, const char *text, size_t len);
void poller_waiters_free(struct poller *p);
