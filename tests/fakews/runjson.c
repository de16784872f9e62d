/* tests/fakews/runjson.c: the Run, RunTask and repair-history encoders
 * (reference §2.4), with the 100-element array paging of runs/get (§4). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "proto/cleanup.h"
#include "proto/json.h"
#include "tests/fakews/fakews.h"

const char *run_type_to_string(enum fw_run_type t)
{
    switch (t) {
    case RUN_TYPE_WORKFLOW_RUN:
        return "WORKFLOW_RUN";
    case RUN_TYPE_SUBMIT_RUN:
        return "SUBMIT_RUN";
    default:
        return "JOB_RUN";
    }
}

int runjson_state(enum life_cycle_state lc, enum result_state rs, const char *message,
                  bool user_cancelled, const char *queue_code, struct json_object *o)
{
    bool terminal = life_cycle_is_terminal(lc);
    const char *code = terminal ? termination_code_for(lc, rs) : NULL;
    /* run_state owns its strings when parsed; here they only point at
     * constants for the encoder and are never freed. */
    struct run_state s = {
        .life_cycle = lc,
        .result = terminal ? rs : RESULT_NONE,
        .status = status_state_for_life_cycle(lc),
        .state_message = (char *)(message ? message : ""),
        .user_cancelled_or_timedout = terminal && (user_cancelled || rs == RESULT_TIMEDOUT),
        .termination_code = (char *)code,
        .termination_type = (char *)(code ? termination_type_for(code) : NULL),
        .termination_message = (char *)(code ? (message ? message : "") : NULL),
        .queue_code = (char *)(lc == LIFE_CYCLE_QUEUED ? queue_code : NULL),
        .queue_message = (char *)(lc == LIFE_CYCLE_QUEUED && queue_code ? message : NULL),
        .queue_reason = (char *)(lc == LIFE_CYCLE_QUEUED && queue_code ? message : NULL),
    };
    return run_state_to_json(&s, o);
}

static int add_url(struct fakews *ws, struct json_object *o, int64_t job_id, int64_t run_id)
{
    char url[256];
    if (job_id)
        snprintf(url, sizeof(url), "%s/?o=%s#job/%" PRId64 "/run/%" PRId64, ws->base_url,
                 ws->cfg.workspace_id, job_id, run_id);
    else
        snprintf(url, sizeof(url), "%s/?o=%s#job/run/%" PRId64, ws->base_url, ws->cfg.workspace_id,
                 run_id);
    return json_add_string(o, "run_page_url", url);
}

/* A shallow copy of o: the values are shared by reference. */
static struct json_object *copy_shallow(struct json_object *o)
{
    struct json_object *c = json_object_new_object();
    if (!c)
        return NULL;
    json_object_object_foreach (o, key, val) {
        if (json_object_object_add(c, key, json_object_get(val)) < 0) {
            json_object_put(c);
            return NULL;
        }
    }
    return c;
}

static int add_task_times(struct json_object *o, const struct fw_task *t)
{
    bool terminal = life_cycle_is_terminal(t->lc);
    int64_t setup = 0, exec = 0;
    if (terminal) {
        setup = t->exec_time > t->start_time ? t->exec_time - t->start_time : 0;
        exec = t->end_time > t->exec_time ? t->end_time - t->exec_time : 0;
    }
    int r = 0;
    r |= json_add_int64(o, "start_time", t->start_time);
    r |= json_add_int64(o, "setup_duration", setup);
    r |= json_add_int64(o, "execution_duration", exec);
    r |= json_add_int64(o, "cleanup_duration", 0);
    r |= json_add_int64(o, "end_time", terminal ? t->end_time : 0);
    return r < 0 ? -ENOMEM : 0;
}

static struct json_object *task_json(struct fakews *ws, const struct fw_task *t)
{
    _cleanup_json_ struct json_object *o = copy_shallow(t->spec);
    if (!o)
        return NULL;
    int r = 0;
    r |= json_add_int64(o, "run_id", t->run_id);
    r |= json_add_int64(o, "attempt_number", t->attempt);
    r |= runjson_state(t->lc, t->rs, t->state_message, t->user_cancelled, NULL, o);
    r |= add_task_times(o, t);
    r |= add_url(ws, o, t->run->job_id, t->run_id);
    struct json_object *cond, *fe;
    if (t->iters && json_object_object_get_ex(t->spec, "for_each_task", &fe)) {
        /* for_each_task gains its iteration stats */
        int64_t active = 0, done = 0, ok = 0, failed = 0;
        for (size_t i = 0; i < t->n_iters; i++) {
            const struct fw_task *it = t->iters[i];
            bool end = life_cycle_is_terminal(it->lc);
            done += end;
            active += !end && it->start_time;
            ok += end && (it->rs == RESULT_SUCCESS || it->rs == RESULT_SUCCESS_WITH_FAILURES);
            failed += end && it->rs != RESULT_SUCCESS && it->rs != RESULT_SUCCESS_WITH_FAILURES;
        }
        struct json_object *c = copy_shallow(fe), *stats = json_object_new_object(),
                           *trs = json_object_new_object();
        if (!c || !stats || !trs) {
            json_object_put(c);
            json_object_put(stats);
            json_object_put(trs);
            return NULL;
        }
        r |= json_add_int64(trs, "total_iterations", (int64_t)t->n_iters);
        r |= json_add_int64(trs, "scheduled_iterations", (int64_t)t->n_iters - done);
        r |= json_add_int64(trs, "active_iterations", active);
        r |= json_add_int64(trs, "completed_iterations", done);
        r |= json_add_int64(trs, "succeeded_iterations", ok);
        r |= json_add_int64(trs, "failed_iterations", failed);
        r |= json_add(stats, "task_run_stats", trs);
        r |= json_add(c, "stats", stats);
        r |= json_add(o, "for_each_task", c);
    }
    if (t->outcome && json_object_object_get_ex(t->spec, "condition_task", &cond) &&
        life_cycle_is_terminal(t->lc)) {
        /* condition_task gains its outcome */
        struct json_object *c = copy_shallow(cond);
        r |= c ? json_add_string(c, "outcome", t->outcome) : -ENOMEM;
        r |= json_add(o, "condition_task", c);
    }
    if (r < 0)
        return NULL;
    return TAKE_PTR(o);
}

static int add_common(struct fakews *ws, const struct fw_run *run, struct json_object *o)
{
    int r = 0;
    if (run->job_id)
        r |= json_add_int64(o, "job_id", run->job_id);
    r |= json_add_int64(o, "run_id", run->run_id);
    r |= json_add_int64(o, "number_in_job", run->run_id);
    if (run->creator)
        r |= json_add_string(o, "creator_user_name", run->creator);
    r |= json_add_int64(o, "original_attempt_run_id", run->run_id);
    r |= runjson_state(run->lc, run->rs, run->state_message, run->user_cancelled, run->queue_code,
                       o);
    r |= json_add_int64(o, "start_time", run->start_time);
    r |= json_add_int64(o, "setup_duration", 0);
    r |= json_add_int64(o, "execution_duration", 0);
    r |= json_add_int64(o, "cleanup_duration", 0);
    bool terminal = life_cycle_is_terminal(run->lc);
    r |= json_add_int64(o, "end_time", terminal ? run->end_time : 0);
    r |= json_add_int64(o, "run_duration",
                        (terminal ? run->end_time : ws->now_ms) - run->start_time);
    if (run->queue_start)
        r |= json_add_int64(o, "queue_duration",
                            run->queue_duration +
                                (run->lc == LIFE_CYCLE_QUEUED ? ws->now_ms - run->queue_start : 0));
    r |= json_add_string(o, "trigger", run->trigger ? run->trigger : "ONE_TIME");
    r |= json_add_string(o, "run_name", run->run_name ? run->run_name : "Untitled");
    r |= add_url(ws, o, run->job_id, run->run_id);
    r |= json_add_string(o, "run_type", run_type_to_string(run->run_type));
    r |= json_add_string(o, "format", "MULTI_TASK");
    r |= json_add_int64(o, "attempt_number", 0);
    if (run->overriding)
        r |= json_add(o, "overriding_parameters", json_object_get(run->overriding));
    return r < 0 ? -ENOMEM : 0;
}

/* Adds array[page*100 .. page*100+100) of src as key; nothing when empty.
 * Sets *more when src goes on past this page. */
static int add_page(struct json_object *o, const char *key, struct json_object *src, int64_t page,
                    bool *more)
{
    size_t n = src ? json_object_array_length(src) : 0;
    size_t from = (size_t)page * FW_ARRAY_PAGE;
    if (from >= n)
        return 0;
    size_t to = MIN(n, from + FW_ARRAY_PAGE);
    if (to < n)
        *more = true;
    struct json_object *a = json_object_new_array_ext((int)(to - from));
    if (!a)
        return -ENOMEM;
    for (size_t i = from; i < to; i++)
        if (json_append(a, json_object_get(json_object_array_get_idx(src, i))) < 0) {
            json_object_put(a);
            return -ENOMEM;
        }
    return json_add(o, key, a);
}

static struct json_object *repair_json(const struct fw_run *run, const struct fw_repair *rep)
{
    _cleanup_json_ struct json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    int r = json_add_string(o, "type", rep->original ? "ORIGINAL" : "REPAIR");
    if (!rep->original)
        r |= json_add_int64(o, "id", rep->id);
    r |= json_add_int64(o, "start_time", rep->start_time);
    r |= json_add_int64(o, "end_time", rep->end_time);
    bool last = rep == &run->repairs[run->n_repairs - 1];
    enum life_cycle_state lc = last ? run->lc : rep->lc;
    enum result_state rs = last ? run->rs : rep->rs;
    r |= runjson_state(lc, rs, last ? run->state_message : "", run->user_cancelled, NULL, o);
    struct json_object *ids = json_object_new_array();
    for (size_t i = 0; ids && i < rep->n_task_run_ids; i++)
        r |= json_append(ids, json_object_new_int64(rep->task_run_ids[i]));
    r |= json_add(o, "task_run_ids", ids);
    if (r < 0)
        return NULL;
    return TAKE_PTR(o);
}

int runjson_run(struct fakews *ws, const struct fw_run *run, bool tasks, bool history, int64_t page,
                struct json_object **ret)
{
    _cleanup_json_ struct json_object *o = json_object_new_object();
    if (!o)
        return -ENOMEM;
    int r = add_common(ws, run, o);
    if (r < 0)
        return r;
    bool more = false;
    if (tasks) {
        _cleanup_json_ struct json_object *all = NULL;
        size_t from = (size_t)page * FW_ARRAY_PAGE;
        if (from < run->n_tasks) {
            size_t to = MIN(run->n_tasks, from + FW_ARRAY_PAGE);
            if (to < run->n_tasks)
                more = true;
            all = json_object_new_array_ext((int)(to - from));
            if (!all)
                return -ENOMEM;
            for (size_t i = from; i < to; i++) {
                struct json_object *t = task_json(ws, run->tasks[i]);
                if (!t || json_append(all, t) < 0)
                    return -ENOMEM;
            }
            r = json_add(o, "tasks", TAKE_PTR(all));
            if (r < 0)
                return r;
        }
        if (add_page(o, "job_clusters", run->job_clusters, page, &more) < 0 ||
            add_page(o, "job_parameters", run->job_parameters, page, &more) < 0)
            return -ENOMEM;
    } else if (run->job_parameters) {
        if (add_page(o, "job_parameters", run->job_parameters, 0, &more) < 0)
            return -ENOMEM;
    }
    if (history && run->n_repairs > 0) {
        size_t from = (size_t)page * FW_ARRAY_PAGE;
        if (from < run->n_repairs) {
            size_t to = MIN(run->n_repairs, from + FW_ARRAY_PAGE);
            if (to < run->n_repairs)
                more = true;
            struct json_object *a = json_object_new_array();
            if (!a)
                return -ENOMEM;
            for (size_t i = from; i < to; i++) {
                struct json_object *h = repair_json(run, &run->repairs[i]);
                if (!h || json_append(a, h) < 0) {
                    json_object_put(a);
                    return -ENOMEM;
                }
            }
            r = json_add(o, "repair_history", a);
            if (r < 0)
                return r;
        }
    }
    if (more) {
        _cleanup_free_ char *token = fw_token_encode('g', run->run_id, page + 1);
        if (!token || json_add_string(o, "next_page_token", token) < 0)
            return -ENOMEM;
    }
    *ret = TAKE_PTR(o);
    return 0;
}

int runjson_task_as_run(struct fakews *ws, const struct fw_task *t, int64_t page,
                        struct json_object **ret)
{
    const struct fw_run *run = t->run;
    _cleanup_json_ struct json_object *o = json_object_new_object();
    if (!o)
        return -ENOMEM;
    int r = 0;
    if (run->job_id)
        r |= json_add_int64(o, "job_id", run->job_id);
    r |= json_add_int64(o, "run_id", t->run_id);
    r |= json_add_int64(o, "job_run_id", run->run_id);
    r |= json_add_int64(o, "number_in_job", t->run_id);
    if (run->creator)
        r |= json_add_string(o, "creator_user_name", run->creator);
    r |= json_add_int64(o, "original_attempt_run_id", t->original_run_id);
    r |= runjson_state(t->lc, t->rs, t->state_message, t->user_cancelled, NULL, o);
    r |= add_task_times(o, t);
    bool terminal = life_cycle_is_terminal(t->lc);
    r |= json_add_int64(o, "run_duration",
                        t->start_time ? (terminal ? t->end_time : ws->now_ms) - t->start_time : 0);
    r |= json_add_string(o, "trigger", run->trigger ? run->trigger : "ONE_TIME");
    r |= json_add_string(o, "run_name", run->run_name ? run->run_name : "Untitled");
    r |= add_url(ws, o, run->job_id, t->run_id);
    r |= json_add_string(o, "run_type", run_type_to_string(run->run_type));
    r |= json_add_string(o, "format", "MULTI_TASK");
    r |= json_add_string(o, "task_key", t->task_key);
    r |= json_add_int64(o, "attempt_number", t->attempt);
    struct json_object *tj = task_json(ws, t), *a = json_object_new_array();
    if (!tj || !a) {
        json_object_put(tj);
        json_object_put(a);
        return -ENOMEM;
    }
    r |= json_append(a, tj);
    r |= json_add(o, "tasks", a);
    size_t from = (size_t)page * FW_ARRAY_PAGE;
    if (t->iters && from < t->n_iters) {
        /* a for-each task run: its iterations, 100 a page (reference §4) */
        size_t to = MIN(t->n_iters, from + FW_ARRAY_PAGE);
        struct json_object *its = json_object_new_array_ext((int)(to - from));
        r |= json_add(o, "iterations", its);
        for (size_t i = from; its && i < to; i++) {
            struct json_object *ij = task_json(ws, t->iters[i]);
            r |= ij ? json_append(its, ij) : -ENOMEM;
        }
        if (to < t->n_iters) {
            _cleanup_free_ char *token = fw_token_encode('g', t->run_id, page + 1);
            r |= token ? json_add_string(o, "next_page_token", token) : -ENOMEM;
        }
    }
    if (r < 0)
        return -ENOMEM;
    *ret = TAKE_PTR(o);
    return 0;
}
