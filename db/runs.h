/* db/runs.h: runs, task runs, jobs, outputs and export views in the archive:
 * upsert by the rules of db/merge.h, reads in the upstream JSON shape, keyset
 * paged listing and counts by state. Objects passed in stay the caller's
 * (never modified); objects returned are new references for the caller. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "db/merge.h"
#include "db/store.h"
#include "proto/runstate.h"

/* What a put did (values >= 0). */
enum store_put_result {
    STORE_UNCHANGED = 0, /* nothing new: a stale or identical view */
    STORE_INSERTED = 1,
    STORE_UPDATED = 2,
};

enum store_put_flags {
    STORE_PUT_PAGE = 1 << 0, /* a later page of jobs/get (the request had page_token) */
};

/* A run as runs/get or a runs/list entry gives it (or an export line).
 * -EINVAL for a run without a valid run_id or with wrongly typed fields. */
int store_put_run(struct store *s, struct json_object *run, unsigned flags);
/* The same, given also the text run was parsed from (a runs/get body as the
 * workspace sent it): a new run is stored from that text, which saves
 * serializing run again. text must be the JSON of run. */
int store_put_run_text(struct store *s, struct json_object *run, const char *text, size_t len,
                       unsigned flags);
/* A job as jobs/get or a jobs/list entry gives it. */
int store_put_job(struct store *s, struct json_object *job, unsigned flags);
/* runs/get-output of task run run_id. A stale output (its metadata's life
 * cycle behind the stored one) changes nothing. */
int store_put_output(struct store *s, int64_t run_id, struct json_object *output);
/* runs/export of run_id for views_to_export `views` (CODE, DASHBOARDS, ALL). */
int store_put_export(struct store *s, int64_t run_id, const char *views,
                     struct json_object *export);

/* The workspace no longer has it (expired or deleted): it stays, marked.
 * Seeing it again clears the mark. 1 if newly marked, 0 if it was, -ENOENT. */
int store_forget_run(struct store *s, int64_t run_id, int64_t when_ms);
int store_forget_job(struct store *s, int64_t job_id, int64_t when_ms);
/* A repair of run_id was started through jobsd (runs/repair answered
 * repair_id): the next active view of the run is the repair, not stale. */
int store_note_repair(struct store *s, int64_t run_id, int64_t repair_id);
/* The run's final runs/get and the get-output of each of its task runs are
 * archived (RUN_DETAIL_FINAL in its meta.detail until a repair). -ENOENT. */
int store_mark_final(struct store *s, int64_t run_id);

/* What the archive knows of a run beside its JSON. Strings are borrowed. */
struct store_run_meta {
    int64_t run_id;
    int64_t job_id;
    int64_t start_time;
    int64_t end_time;
    enum life_cycle_state life_cycle;
    enum result_state result;
    const char *run_name;
    const char *trigger;
    const char *run_type;
    int64_t repair_count;
    unsigned detail; /* RUN_DETAIL_* */
    int64_t first_seen_ms;
    int64_t last_seen_ms;
    int64_t forgotten_ms; /* 0: the workspace still has it */
    int64_t raw_len;      /* bytes of its JSON */
    const char *text;     /* its JSON text, with STORE_LIST_TEXT only */
    size_t text_len;
};

/* One run in the upstream runs/get shape (with every task run seen).
 * -ENOENT if not archived. ret_meta may be NULL; its strings are NULL. */
int store_get_run(struct store *s, int64_t run_id, struct json_object **ret,
                  struct store_run_meta *ret_meta);
/* The same as stored text (compact JSON), for answering as is without a
 * parse: a new NUL-terminated allocation. */
int store_get_run_text(struct store *s, int64_t run_id, char **ret, size_t *ret_len,
                       struct store_run_meta *ret_meta);
/* The get-output answers of a job run's task runs, as an array ordered by
 * task run id (empty if none). */
int store_get_run_outputs(struct store *s, int64_t run_id, struct json_object **ret);
/* One task run's get-output answer. -ENOENT if not archived. */
int store_get_output(struct store *s, int64_t task_run_id, struct json_object **ret);
int store_get_export(struct store *s, int64_t run_id, const char *views, struct json_object **ret);
int store_get_job(struct store *s, int64_t job_id, struct json_object **ret,
                  int64_t *ret_forgotten_ms);

/* The job run that holds task run task_run_id. -ENOENT if not archived. */
int store_task_parent(struct store *s, int64_t task_run_id, int64_t *ret_job_run_id);

/* Filters of /jobsd/v1/runs; zero means "any". */
struct store_run_filter {
    int64_t job_id;
    enum life_cycle_state life_cycle; /* LIFE_CYCLE_NONE: any */
    enum result_state result;         /* RESULT_NONE: any */
    int64_t start_from;               /* ms inclusive, 0: unbounded */
    int64_t start_to;                 /* ms inclusive, 0: unbounded */
    const char *name_contains;        /* case-sensitive substring of run_name */
    const char *trigger;
    const char *run_type;
};

enum store_list_flags {
    STORE_LIST_JSON = 1 << 0, /* hand each run's JSON to the callback too */
    STORE_LIST_TEXT = 1 << 1, /* set m->text: the stored JSON text, no parse */
};

#define STORE_PAGE_TOKEN_MAX 64
#define STORE_LIST_LIMIT_MAX 1000

/* run is NULL without STORE_LIST_JSON; both are borrowed for the call. A
 * negative return stops the listing and is returned. */
typedef int (*store_run_cb)(const struct store_run_meta *m, struct json_object *run,
                            void *userdata);

/* Newest first by (start_time, run_id), limit rows from page_token (NULL:
 * the first page). *ret_next_token is a new token for the next page, or
 * NULL on the last. Stable under concurrent inserts: a token is a position,
 * not an offset. Returns the number of runs given to cb; -EINVAL for a bad
 * token or limit. */
int store_list_runs(struct store *s, const struct store_run_filter *f, const char *page_token,
                    size_t limit, unsigned flags, store_run_cb cb, void *userdata,
                    char **ret_next_token);

/* Runs by life cycle and result: of the whole archive (job_id 0, kept by
 * triggers: microseconds) or of one job (its rows: ~1 us each). */
struct store_counts {
    int64_t n[_LIFE_CYCLE_MAX][_RESULT_MAX];
    int64_t total;
};
int store_count_runs(struct store *s, int64_t job_id, struct store_counts *ret);
