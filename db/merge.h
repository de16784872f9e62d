/* db/merge.h: the rules that never lose information, on json-c objects:
 * what a view of a run says (run_view), which of two views is fresher, and
 * how two views of one run or one job merge. Pure functions: the caller owns
 * every object passed in; results are new references for the caller. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/json.h"
#include "proto/runstate.h"

/* What a stored run holds (runs.detail). */
enum run_detail {
    RUN_DETAIL_TASKS = 1 << 0,          /* tasks[] seen */
    RUN_DETAIL_HISTORY = 1 << 1,        /* repair_history[] seen */
    RUN_DETAIL_PARTIAL = 1 << 2,        /* only some pages of its arrays seen */
    RUN_DETAIL_REPAIR_PENDING = 1 << 3, /* a repair started through jobsd, not seen yet */
    RUN_DETAIL_TASK_RUN = 1 << 4,       /* runs/get of a task run id: kept, never listed
                                           or counted (schema.sql knows this value) */
    RUN_DETAIL_FINAL = 1 << 5,          /* terminal, and its final runs/get and every task
                                           run's get-output are archived (the poller's mark) */
};

struct run_view {
    int64_t run_id;
    int64_t job_id;     /* 0: none */
    int64_t job_run_id; /* 0: none */
    int64_t start_time;
    int64_t end_time;
    enum life_cycle_state life_cycle;
    enum result_state result;
    int rank;                 /* life_cycle_rank() */
    int64_t repair_count;     /* REPAIR entries of repair_history, -1 without history */
    int64_t latest_repair_id; /* largest REPAIR id, 0 if none */
    int64_t repair_start;     /* latest start_time of a REPAIR entry, 0 if none */
    int64_t max_task_run_id;  /* largest tasks[].run_id, 0 if none */
    unsigned detail;          /* RUN_DETAIL_* */
    const char *run_name;     /* borrowed from the object, may be NULL */
    const char *trigger;
    const char *run_type;
};

/* Reads a run object (runs/get, a runs/list entry, RunOutput.metadata).
 * -EINVAL with err filled when run_id is missing or a field has a wrong type;
 * a run without state or status has life cycle NONE. */
int run_view_read(struct json_object *run, struct run_view *ret, struct json_error *err);

/* Whether an incoming view of a run should win over the stored one: a later
 * repair generation wins; within one generation the life cycle only moves
 * forward (an equal rank is a newer read of the same moment and wins), and a
 * view that ended before the stored run's latest repair started is stale. */
bool run_view_fresher(const struct run_view *incoming, const struct run_view *stored,
                      unsigned stored_detail) _pure_;

/* Merges two views of one run: the fresher view's fields win, fields only
 * the other has are kept (only objects and arrays when the other is a stale
 * read: its scalars, like end_time, describe a moment that is over), and the
 * paged arrays (tasks, iterations, job_clusters, job_parameters,
 * repair_history) merge element by element by their keys (a task run keeps
 * its most advanced state). Paging fields (next_page_token, prev_page_token,
 * has_more) are dropped. */
int merge_run(struct json_object *fresh, struct json_object *other, bool other_stale,
              struct json_object **ret);

/* Merges a jobs/get or jobs/list view (incoming, always the newer read) into
 * the stored job: settings arrays that a list entry lacks are kept; with
 * page set (a later page of jobs/get) the arrays merge by key. */
int merge_job(struct json_object *incoming, struct json_object *stored, bool page,
              struct json_object **ret);

/* A copy of o without the paging fields, or a new reference to o if it has
 * none. */
int strip_paging(struct json_object *o, struct json_object **ret);
