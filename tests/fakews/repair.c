/* tests/fakews/repair.c: runs/repair (reference §1.2): rerun some tasks of
 * a finished run inside it, with the job's current settings, keeping
 * repair_history and requiring latest_repair_id after the first repair. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "proto/cleanup.h"
#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/fakews/fakews.h"

static bool in_set(struct fw_task **set, size_t n, const struct fw_task *t)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == t)
            return true;
    return false;
}

static struct fw_task *task_by_key(struct fw_run *run, const char *key)
{
    for (size_t i = 0; i < run->n_tasks; i++)
        if (streq(run->tasks[i]->task_key, key))
            return run->tasks[i];
    return NULL;
}

static bool depends_on_any(const struct fw_task *t, struct fw_task **set, size_t n)
{
    struct json_object *deps, *k;
    if (!json_object_object_get_ex(t->spec, "depends_on", &deps))
        return false;
    for (size_t i = 0; i < json_object_array_length(deps); i++) {
        if (!json_object_object_get_ex(json_object_array_get_idx(deps, i), "task_key", &k))
            continue;
        for (size_t j = 0; j < n; j++)
            if (streq(set[j]->task_key, json_object_get_string(k)))
                return true;
    }
    return false;
}

/* The spec a repaired task runs: the job's current settings (reference
 * §1.2), or the old one when the job or the task is gone. */
static struct json_object *current_spec(struct fakews *ws, struct fw_run *run, struct fw_task *t)
{
    struct fw_job *job = run->job_id ? fakews_job(ws, run->job_id) : NULL;
    struct json_object *tasks, *k;
    if (job && json_object_object_get_ex(job->settings, "tasks", &tasks) &&
        json_object_is_type(tasks, json_type_array))
        for (size_t i = 0; i < json_object_array_length(tasks); i++) {
            struct json_object *s = json_object_array_get_idx(tasks, i);
            if (json_object_object_get_ex(s, "task_key", &k) &&
                streq(json_object_get_string(k), t->task_key))
                return s;
        }
    return t->spec;
}

static int repair_entry(struct fw_repair *e, bool original, int64_t id, int64_t start,
                        struct fw_task **tasks, size_t n)
{
    *e = (struct fw_repair){ .id = id, .original = original, .start_time = start };
    e->task_run_ids = calloc(MAX(n, (size_t)1), sizeof(int64_t));
    if (!e->task_run_ids)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        e->task_run_ids[i] = tasks[i]->run_id;
    e->n_task_run_ids = n;
    return 0;
}

int runs_repair(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int64_t run_id = 0, latest = 0;
    bool all_failed = false, dependents = false;
    struct json_object *rerun = NULL;
    struct json_error err = { { 0 } };
    int r = fw_body_id(req, "run_id", true, reply, &run_id);
    if (r < 0)
        return r == -EINVAL ? 0 : r;
    if (json_get_array(req->body, "rerun_tasks", JSON_NULLABLE, &rerun, &err) < 0 ||
        json_get_bool(req->body, "rerun_all_failed_tasks", JSON_NULLABLE, &all_failed, &err) < 0 ||
        json_get_bool(req->body, "rerun_dependent_tasks", JSON_NULLABLE, &dependents, &err) < 0 ||
        json_get_id(req->body, "latest_repair_id", JSON_NULLABLE, &latest, &err) < 0)
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE", "%s", err.message);
    struct fw_run *run = fakews_run(ws, run_id);
    if (!run)
        return reply_no_run(reply, run_id);
    if (sim_run_is_active(run))
        return reply_error(reply, 400, "INVALID_STATE",
                           "Run %" PRId64 " is still active and cannot be repaired.", run_id);
    if ((rerun && json_object_array_length(rerun) > 0) == all_failed)
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                           "Exactly one of rerun_tasks and rerun_all_failed_tasks must be set.");
    if (run->n_repairs > FW_REPAIRS_MAX)
        return reply_error(reply, 400, "QUOTA_EXCEEDED",
                           "Run %" PRId64 " has been repaired %d times, the most fakews allows.",
                           run_id, FW_REPAIRS_MAX);
    int64_t last = run->n_repairs > 0 ? run->repairs[run->n_repairs - 1].id : 0;
    if (run->n_repairs > 1 && latest == 0)
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                           "latest_repair_id must be set: the run was repaired before.");
    if (latest != 0 && (run->n_repairs < 2 || latest != last))
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                           "latest_repair_id %" PRId64 " is not the latest repair of run %" PRId64
                           ".",
                           latest, run_id);

    _cleanup_free_ struct fw_task **set = calloc(MAX(run->n_tasks, (size_t)1), sizeof(*set));
    size_t n = 0;
    if (!set)
        return -ENOMEM;
    if (rerun) {
        for (size_t i = 0; i < json_object_array_length(rerun); i++) {
            struct json_object *k = json_object_array_get_idx(rerun, i);
            struct fw_task *t = json_object_is_type(k, json_type_string)
                                    ? task_by_key(run, json_object_get_string(k))
                                    : NULL;
            if (!t)
                return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                                   "Task %s does not exist in run %" PRId64 ".",
                                   json_object_get_string(k), run_id);
            if (!in_set(set, n, t))
                set[n++] = t;
        }
    } else {
        for (size_t i = 0; i < run->n_tasks; i++) {
            enum result_state rs = run->tasks[i]->rs;
            if (rs != RESULT_SUCCESS && rs != RESULT_SUCCESS_WITH_FAILURES &&
                rs != RESULT_EXCLUDED && rs != RESULT_DISABLED)
                set[n++] = run->tasks[i];
        }
        if (n == 0)
            return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                               "Run %" PRId64 " has no failed tasks to repair.", run_id);
    }
    if (dependents)
        for (bool grew = true; grew;) {
            grew = false;
            for (size_t i = 0; i < run->n_tasks; i++)
                if (!in_set(set, n, run->tasks[i]) && depends_on_any(run->tasks[i], set, n)) {
                    set[n++] = run->tasks[i];
                    grew = true;
                }
        }

    /* History: the ORIGINAL entry on the first repair, then this one. */
    size_t add = run->n_repairs == 0 ? 2 : 1;
    struct fw_repair *reps = realloc(run->repairs, (run->n_repairs + add) * sizeof(*reps));
    struct fw_task **old = realloc(run->old, (run->n_old + n) * sizeof(*old));
    if (reps)
        run->repairs = reps;
    if (old)
        run->old = old;
    if (!reps || !old)
        return -ENOMEM;
    if (run->n_repairs == 0) {
        if (repair_entry(&reps[0], true, run->run_id, run->start_time, run->tasks, run->n_tasks) <
            0)
            return -ENOMEM;
        reps[0].end_time = run->end_time;
        reps[0].lc = run->lc;
        reps[0].rs = run->rs;
        run->n_repairs = 1;
    } else {
        struct fw_repair *prev = &reps[run->n_repairs - 1];
        prev->lc = run->lc;
        prev->rs = run->rs;
        prev->end_time = run->end_time;
    }
    int64_t repair_id = fakews_next_id(ws, false);
    struct fw_task **fresh = calloc(n, sizeof(*fresh));
    if (!fresh)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        fresh[i] = runs_new_task(ws, run, current_spec(ws, run, set[i]), NULL);
        if (!fresh[i] || idmap_put(ws->tasks_by_id, fresh[i]->run_id, fresh[i]) < 0) {
            for (size_t j = 0; j <= i; j++) {
                if (fresh[j])
                    idmap_remove(ws->tasks_by_id, fresh[j]->run_id);
                fw_task_free(fresh[j]);
            }
            free(fresh);
            return -ENOMEM;
        }
        fresh[i]->repair_id = repair_id;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < run->n_tasks; j++)
            if (run->tasks[j] == set[i]) {
                set[i]->superseded = true;
                run->old[run->n_old++] = set[i];
                run->tasks[j] = fresh[i];
            }
    }
    r = repair_entry(&run->repairs[run->n_repairs], false, repair_id, ws->now_ms, fresh, n);
    free(fresh);
    if (r < 0)
        return r;
    run->n_repairs++;
    r = sim_restart_run(ws, run, ws->now_ms);
    if (r < 0)
        return r;
    struct json_object *o = json_object_new_object();
    if (!o || json_add_int64(o, "repair_id", repair_id) < 0) {
        json_object_put(o);
        return -ENOMEM;
    }
    return reply_json(reply, o);
}
