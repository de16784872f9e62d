/* tests/fakews/sim.c: the run state machine on the simulated clock.
 * A job run goes QUEUED (when its job is at max_concurrent_runs and queues)
 * -> PENDING -> RUNNING -> TERMINATING -> TERMINATED. Inside RUNNING each
 * task waits BLOCKED on its depends_on, is decided by its run_if, then goes
 * PENDING (setup) -> RUNNING (its duration) -> TERMINATED with its planned
 * result. Every transition happens at an exact simulated time: the run's
 * next one is its heap key, and sim_advance() replays them in order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/fakews/fakews.h"

bool sim_run_is_active(const struct fw_run *run)
{
    return !life_cycle_is_terminal(run->lc);
}

static bool task_terminal(const struct fw_task *t)
{
    return life_cycle_is_terminal(t->lc);
}

static bool task_started(const struct fw_task *t)
{
    return t->start_time != 0 || task_terminal(t) || t->lc == LIFE_CYCLE_WAITING_FOR_RETRY;
}

static bool contains_fail(const char *s)
{
    return s && strstr(s, "fail") != NULL;
}

/* A string field of a task-type object, NULL when absent. */
static const char *sub_string(struct json_object *spec, const char *obj, const char *field)
{
    struct json_object *o, *v;
    if (!json_object_object_get_ex(spec, obj, &o) || !json_object_is_type(o, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(o, field, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* fake_duration_ms / fake_result in a string map. */
static void read_param_map(struct json_object *map, int64_t *duration, enum result_state *result)
{
    struct json_object *v;
    if (!map || !json_object_is_type(map, json_type_object))
        return;
    if (json_object_object_get_ex(map, "fake_duration_ms", &v)) {
        int64_t n;
        if (((json_object_is_type(v, json_type_string) &&
              parse_int64(json_object_get_string(v), &n) == 0) ||
             json_value_int64(v, &n) == 0) &&
            n >= 0 && n <= FW_DURATION_MAX_MS)
            *duration = n;
    }
    if (json_object_object_get_ex(map, "fake_result", &v) &&
        json_object_is_type(v, json_type_string)) {
        enum result_state rs = result_state_from_string(json_object_get_string(v));
        if (rs != RESULT_UNKNOWN && rs != RESULT_NONE)
            *result = rs;
    }
}

/* "--fake-duration-ms=N" / "--fake-result=X" in a parameters list. */
static void read_param_list(struct json_object *list, int64_t *duration, enum result_state *result)
{
    if (!list || !json_object_is_type(list, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *v = json_object_array_get_idx(list, i);
        if (!json_object_is_type(v, json_type_string))
            continue;
        const char *s = json_object_get_string(v), *rest;
        int64_t n;
        if ((rest = startswith(s, "--fake-duration-ms=")) && parse_int64(rest, &n) == 0 && n >= 0 &&
            n <= FW_DURATION_MAX_MS)
            *duration = n;
        else if ((rest = startswith(s, "--fake-result="))) {
            enum result_state rs = result_state_from_string(rest);
            if (rs != RESULT_UNKNOWN && rs != RESULT_NONE)
                *result = rs;
        }
    }
}

/* Compares as integers when both sides are integers, else as strings. */
static bool condition_outcome(struct json_object *cond)
{
    const char *op = "", *left = "", *right = "";
    struct json_object *v;
    if (json_object_object_get_ex(cond, "op", &v) && json_object_is_type(v, json_type_string))
        op = json_object_get_string(v);
    if (json_object_object_get_ex(cond, "left", &v) && json_object_is_type(v, json_type_string))
        left = json_object_get_string(v);
    if (json_object_object_get_ex(cond, "right", &v) && json_object_is_type(v, json_type_string))
        right = json_object_get_string(v);
    int64_t a, b;
    int cmp;
    if (parse_int64(left, &a) == 0 && parse_int64(right, &b) == 0)
        cmp = a < b ? -1 : a > b;
    else
        cmp = strcmp(left, right);
    if (streq(op, "EQUAL_TO"))
        return cmp == 0;
    if (streq(op, "NOT_EQUAL"))
        return cmp != 0;
    if (streq(op, "GREATER_THAN"))
        return cmp > 0;
    if (streq(op, "GREATER_THAN_OR_EQUAL"))
        return cmp >= 0;
    if (streq(op, "LESS_THAN"))
        return cmp < 0;
    if (streq(op, "LESS_THAN_OR_EQUAL"))
        return cmp <= 0;
    return false;
}

void sim_plan_task(struct fw_task *t, struct json_object *run_params)
{
    static const char *const path_fields[][2] = {
        { "notebook_task", "notebook_path" },    { "spark_python_task", "python_file" },
        { "python_wheel_task", "package_name" }, { "python_wheel_task", "entry_point" },
        { "spark_jar_task", "main_class_name" }, { "spark_jar_task", "jar_uri" },
        { "pipeline_task", "pipeline_id" },      { "dbt_task", "project_directory" },
    };
    static const char *const map_fields[][2] = {
        { "notebook_task", "base_parameters" },
        { "python_wheel_task", "named_parameters" },
        { "sql_task", "parameters" },
        { "run_job_task", "job_parameters" },
    };
    static const char *const list_fields[][2] = {
        { "spark_python_task", "parameters" },
        { "python_wheel_task", "parameters" },
        { "spark_jar_task", "parameters" },
        { "spark_submit_task", "parameters" },
    };
    int64_t duration = FW_TASK_RUN_MS;
    enum result_state result = RESULT_SUCCESS;
    struct json_object *o, *v;

    for (size_t i = 0; i < ELEMENTSOF(path_fields); i++)
        if (contains_fail(sub_string(t->spec, path_fields[i][0], path_fields[i][1])))
            result = RESULT_FAILED;
    const char *sql_path = NULL;
    if (json_object_object_get_ex(t->spec, "sql_task", &o) &&
        json_object_object_get_ex(o, "file", &v))
        sql_path = sub_string(o, "file", "path");
    if (contains_fail(sql_path))
        result = RESULT_FAILED;
    for (size_t i = 0; i < ELEMENTSOF(map_fields); i++)
        if (json_object_object_get_ex(t->spec, map_fields[i][0], &o) &&
            json_object_object_get_ex(o, map_fields[i][1], &v))
            read_param_map(v, &duration, &result);
    for (size_t i = 0; i < ELEMENTSOF(list_fields); i++)
        if (json_object_object_get_ex(t->spec, list_fields[i][0], &o) &&
            json_object_object_get_ex(o, list_fields[i][1], &v))
            read_param_list(v, &duration, &result);
    /* run-now's notebook_params / job_parameters win (reference §2.3). */
    if (run_params)
        read_param_map(run_params, &duration, &result);

    int64_t timeout_s = 0;
    if (json_object_object_get_ex(t->spec, "timeout_seconds", &v) &&
        json_value_int64(v, &timeout_s) == 0 && timeout_s > 0 &&
        timeout_s <= FW_DURATION_MAX_MS / 1000 && duration > timeout_s * 1000) {
        duration = timeout_s * 1000;
        result = RESULT_TIMEDOUT;
    }
    t->setup_ms = FW_TASK_SETUP_MS;
    t->duration_ms = duration;
    t->planned = result;
    if (json_object_object_get_ex(t->spec, "condition_task", &o) &&
        json_object_is_type(o, json_type_object)) {
        /* evaluated at once, no cluster */
        t->setup_ms = 0;
        t->duration_ms = 0;
        t->planned = RESULT_SUCCESS;
        t->outcome = condition_outcome(o) ? "true" : "false";
    }
}

static const char *message_for(enum result_state rs)
{
    switch (rs) {
    case RESULT_SUCCESS:
        return "";
    case RESULT_FAILED:
        return "Workload failed, see run output for details";
    case RESULT_TIMEDOUT:
        return "Run timed out.";
    case RESULT_CANCELED:
        return "Run cancelled.";
    case RESULT_UPSTREAM_FAILED:
        return "Upstream task(s) failed.";
    case RESULT_UPSTREAM_CANCELED:
        return "Upstream task(s) were cancelled.";
    case RESULT_EXCLUDED:
        return "Excluded by its run_if condition.";
    case RESULT_DISABLED:
        return "This task is disabled.";
    case RESULT_MAXIMUM_CONCURRENT_RUNS_REACHED:
        return "Skipped because the maximum number of concurrent runs was reached.";
    default:
        return "";
    }
}

static void task_finish(struct fw_task *t, int64_t at, enum result_state rs)
{
    /* a for_each_task that ends takes its unfinished iterations along */
    for (size_t i = 0; i < t->n_iters; i++)
        if (!life_cycle_is_terminal(t->iters[i]->lc))
            task_finish(t->iters[i], at, RESULT_CANCELED);
    t->lc = LIFE_CYCLE_TERMINATED;
    t->rs = rs;
    t->end_time = at;
    if (t->start_time == 0)
        t->start_time = at;
    if (t->exec_time == 0)
        t->exec_time = at;
    t->state_message = message_for(rs);
}

static struct fw_task *find_task(struct fw_run *run, const char *key)
{
    for (size_t i = 0; i < run->n_tasks; i++)
        if (streq(run->tasks[i]->task_key, key))
            return run->tasks[i];
    return NULL;
}

static bool is_success(enum result_state rs)
{
    return rs == RESULT_SUCCESS || rs == RESULT_SUCCESS_WITH_FAILURES;
}

static bool is_failure(enum result_state rs)
{
    return rs == RESULT_FAILED || rs == RESULT_TIMEDOUT || rs == RESULT_UPSTREAM_FAILED;
}

static bool is_cancel(enum result_state rs)
{
    return rs == RESULT_CANCELED || rs == RESULT_UPSTREAM_CANCELED;
}

/* Decides a not-yet-started task at time at: 1 when it changed. */
static int task_decide(struct fw_run *run, struct fw_task *t, int64_t at)
{
    struct json_object *deps = NULL, *v;
    size_t n_deps = 0, n_present = 0, n_ok = 0, n_fail = 0, n_cancel = 0;

    if (json_object_object_get_ex(t->spec, "disabled", &v) && json_object_get_boolean(v)) {
        task_finish(t, at, RESULT_DISABLED);
        return 1;
    }
    if (json_object_object_get_ex(t->spec, "depends_on", &deps) &&
        json_object_is_type(deps, json_type_array))
        n_deps = json_object_array_length(deps);
    for (size_t i = 0; i < n_deps; i++) {
        struct json_object *d = json_object_array_get_idx(deps, i), *k;
        if (!json_object_object_get_ex(d, "task_key", &k))
            continue;
        struct fw_task *up = find_task(run, json_object_get_string(k));
        struct json_object *want;
        if (!up)
            continue; /* not in this run (run-now's only): no condition */
        n_present++;
        if (!task_terminal(up)) {
            if (t->lc != LIFE_CYCLE_BLOCKED) {
                t->lc = LIFE_CYCLE_BLOCKED;
                t->state_message = "Waiting for upstream tasks.";
                return 1;
            }
            return 0;
        }
        if (json_object_object_get_ex(d, "outcome", &want) && up->outcome) {
            /* a condition's branch: taken or not, never a failure */
            if (is_success(up->rs) && streq(json_object_get_string(want), up->outcome))
                n_ok++;
            continue;
        }
        if (is_success(up->rs))
            n_ok++;
        else if (is_failure(up->rs))
            n_fail++;
        else if (is_cancel(up->rs))
            n_cancel++;
    }

    const char *run_if = "ALL_SUCCESS";
    if (json_object_object_get_ex(t->spec, "run_if", &v) &&
        json_object_is_type(v, json_type_string))
        run_if = json_object_get_string(v);
    bool go;
    enum result_state otherwise = RESULT_EXCLUDED;
    if (n_fail > 0)
        otherwise = RESULT_UPSTREAM_FAILED;
    else if (n_cancel > 0)
        otherwise = RESULT_UPSTREAM_CANCELED;
    if (n_present == 0 || streq(run_if, "ALL_DONE"))
        go = true;
    else if (streq(run_if, "AT_LEAST_ONE_SUCCESS"))
        go = n_ok > 0;
    else if (streq(run_if, "NONE_FAILED"))
        go = n_fail == 0 && n_cancel == 0;
    else if (streq(run_if, "AT_LEAST_ONE_FAILED")) {
        go = n_fail > 0;
        otherwise = RESULT_EXCLUDED;
    } else if (streq(run_if, "ALL_FAILED")) {
        go = n_fail == n_present;
        otherwise = RESULT_EXCLUDED;
    } else
        go = n_ok == n_present;

    if (!go) {
        task_finish(t, at, otherwise);
        return 1;
    }
    t->lc = LIFE_CYCLE_PENDING;
    t->state_message = "Waiting for cluster";
    t->start_time = at;
    t->exec_time = at + t->setup_ms;
    return 1;
}

static enum result_state run_result(struct fw_run *run)
{
    size_t n_fail = 0, n_cancel = 0, n_leaf_ok = 0, n_leaf = 0;
    enum result_state worst = RESULT_FAILED;
    for (size_t i = 0; i < run->n_tasks; i++) {
        struct fw_task *t = run->tasks[i];
        if (is_failure(t->rs)) {
            n_fail++;
            if (t->rs == RESULT_TIMEDOUT)
                worst = RESULT_TIMEDOUT;
        }
        if (is_cancel(t->rs))
            n_cancel++;
        bool leaf = true;
        for (size_t j = 0; j < run->n_tasks && leaf; j++) {
            struct json_object *deps;
            if (!json_object_object_get_ex(run->tasks[j]->spec, "depends_on", &deps))
                continue;
            for (size_t k = 0; k < json_object_array_length(deps); k++) {
                struct json_object *key;
                if (json_object_object_get_ex(json_object_array_get_idx(deps, k), "task_key",
                                              &key) &&
                    streq(json_object_get_string(key), t->task_key))
                    leaf = false;
            }
        }
        if (leaf) {
            n_leaf++;
            if (is_success(t->rs) || t->rs == RESULT_EXCLUDED || t->rs == RESULT_DISABLED)
                n_leaf_ok++;
        }
    }
    if (n_cancel > 0)
        return RESULT_CANCELED;
    if (n_fail == 0)
        return RESULT_SUCCESS;
    if (n_leaf > 0 && n_leaf_ok == n_leaf)
        return RESULT_SUCCESS_WITH_FAILURES;
    return worst;
}

/* A failed attempt with retries left is followed by a new attempt, which
 * waits min_retry_interval_millis (reference §2.3). */
static void maybe_retry(struct fakews *ws, struct fw_run *run, size_t i, int64_t at)
{
    struct fw_task *t = run->tasks[i];
    struct json_object *v;
    int64_t max = 0, interval = 0;
    bool on_timeout = false;
    if (json_object_object_get_ex(t->spec, "max_retries", &v))
        (void)json_value_int64(v, &max);
    if (json_object_object_get_ex(t->spec, "min_retry_interval_millis", &v))
        (void)json_value_int64(v, &interval);
    if (json_object_object_get_ex(t->spec, "retry_on_timeout", &v))
        on_timeout = json_object_get_boolean(v);
    bool retryable = t->rs == RESULT_FAILED || (t->rs == RESULT_TIMEDOUT && on_timeout);
    if (!retryable || max == 0 || (max > 0 && t->attempt >= max) ||
        t->attempt + 1 >= FW_RETRIES_MAX)
        return;
    interval = MAX(0, MIN(interval, FW_DURATION_MAX_MS));
    struct fw_task **old = realloc(run->old, (run->n_old + 1) * sizeof(*old));
    if (!old)
        return;
    run->old = old;
    struct fw_task *n = runs_new_task(ws, run, t->spec, NULL);
    if (!n)
        return;
    if (idmap_put(ws->tasks_by_id, n->run_id, n) < 0) {
        fw_task_free(n);
        return;
    }
    /* the same plan as the failed attempt (a set outcome sticks too) */
    n->setup_ms = t->setup_ms;
    n->duration_ms = t->duration_ms;
    n->planned = t->planned;
    n->attempt = t->attempt + 1;
    n->original_run_id = t->original_run_id;
    n->repair_id = t->repair_id;
    n->lc = LIFE_CYCLE_WAITING_FOR_RETRY;
    n->state_message = "Waiting for retry";
    n->retry_at = at + interval;
    t->superseded = true;
    run->old[run->n_old++] = t;
    run->tasks[i] = n;
}

static void compute_due(struct fw_run *run)
{
    int64_t due = INT64_MAX;
    switch (run->lc) {
    case LIFE_CYCLE_PENDING:
        due = run->pending_until;
        break;
    case LIFE_CYCLE_TERMINATING:
        due = run->term_until;
        break;
    case LIFE_CYCLE_RUNNING:
        for (size_t i = 0; i < run->n_tasks; i++) {
            struct fw_task *t = run->tasks[i];
            if (t->lc == LIFE_CYCLE_PENDING && t->start_time)
                due = MIN(due, t->exec_time);
            else if (t->lc == LIFE_CYCLE_RUNNING)
                due = MIN(due, t->exec_time + t->duration_ms);
            else if (t->lc == LIFE_CYCLE_WAITING_FOR_RETRY)
                due = MIN(due, t->retry_at);
            for (size_t k = 0; t->lc == LIFE_CYCLE_RUNNING && k < t->n_iters; k++) {
                struct fw_task *it = t->iters[k];
                if (it->lc == LIFE_CYCLE_PENDING && it->start_time)
                    due = MIN(due, it->exec_time);
                else if (it->lc == LIFE_CYCLE_RUNNING)
                    due = MIN(due, it->exec_time + it->duration_ms);
            }
        }
        if (run->timeout_ms > 0)
            due = MIN(due, run->exec_start + run->timeout_ms);
        break;
    default:
        break;
    }
    run->due = due;
}

static void start_queued(struct fakews *ws, struct fw_job *job, int64_t at);

/* A run started by a run_job_task has ended: so has the task. */
static void child_ended(struct fakews *ws, struct fw_run *child, int64_t at)
{
    struct fw_task *t = child->parent_task_id ? fakews_task(ws, child->parent_task_id) : NULL;
    if (!t || task_terminal(t) || t->child_run_id != child->run_id)
        return;
    enum result_state rs = RESULT_FAILED;
    if (is_success(child->rs))
        rs = RESULT_SUCCESS;
    else if (is_cancel(child->rs))
        rs = RESULT_CANCELED;
    task_finish(t, at, rs);
    t->run->due = at;
    (void)fakews_heap_update(ws, t->run);
}

/* A for_each_task starts running: one iteration of its task per element
 * of inputs (a JSON array), `concurrency` at a time. */
static void start_iterations(struct fakews *ws, struct fw_task *t, int64_t at)
{
    struct json_object *fe, *v, *inner;
    _cleanup_json_ struct json_object *inputs = NULL;
    struct json_error err;
    int64_t concurrency = 1;
    if (!json_object_object_get_ex(t->spec, "for_each_task", &fe) ||
        !json_object_is_type(fe, json_type_object))
        return;
    const char *text = json_object_object_get_ex(fe, "inputs", &v) ? json_object_get_string(v) : "";
    if (!json_object_object_get_ex(fe, "task", &inner) ||
        !json_object_is_type(inner, json_type_object) || !text ||
        json_parse(text, strlen(text), JSON_SIZE_MAX, JSON_DEPTH_MAX, &inputs, &err) < 0 ||
        !json_object_is_type(inputs, json_type_array) ||
        json_object_array_length(inputs) > FW_ITERATIONS_MAX) {
        /* references like {{tasks.x.values}} are not resolved here */
        task_finish(t, at, RESULT_FAILED);
        return;
    }
    if (json_object_object_get_ex(fe, "concurrency", &v))
        (void)json_value_int64(v, &concurrency);
    size_t n = json_object_array_length(inputs);
    t->iters = calloc(MAX(n, (size_t)1), sizeof(*t->iters));
    if (!t->iters) {
        task_finish(t, at, RESULT_FAILED);
        return;
    }
    t->concurrency = (size_t)MAX(1, MIN(concurrency, (int64_t)FW_ITERATIONS_MAX));
    for (size_t i = 0; i < n; i++) {
        struct fw_task *it = runs_new_task(ws, t->run, inner, NULL);
        if (!it || idmap_put(ws->tasks_by_id, it->run_id, it) < 0) {
            fw_task_free(it);
            break;
        }
        it->lc = LIFE_CYCLE_BLOCKED;
        it->state_message = "Waiting for earlier iterations.";
        t->iters[t->n_iters++] = it;
    }
    /* it ends with its iterations, not after a duration of its own */
    t->duration_ms = FW_DURATION_MAX_MS;
}

/* Moves a running for_each_task's iterations along at time at. */
static void step_iterations(struct fw_task *t, int64_t at)
{
    size_t active = 0, done = 0, ok = 0;
    for (size_t i = 0; i < t->n_iters; i++) {
        struct fw_task *it = t->iters[i];
        if (it->lc == LIFE_CYCLE_PENDING && it->start_time && at >= it->exec_time) {
            it->lc = LIFE_CYCLE_RUNNING;
            it->state_message = "In run";
        }
        if (it->lc == LIFE_CYCLE_RUNNING && at >= it->exec_time + it->duration_ms)
            task_finish(it, at, it->planned);
        if (task_terminal(it)) {
            done++;
            ok += is_success(it->rs);
        } else if (it->start_time)
            active++;
    }
    for (size_t i = 0; i < t->n_iters && active < t->concurrency; i++) {
        struct fw_task *it = t->iters[i];
        if (it->start_time || task_terminal(it))
            continue;
        it->lc = LIFE_CYCLE_PENDING;
        it->state_message = "Waiting for cluster";
        it->start_time = at;
        it->exec_time = at + it->setup_ms;
        active++;
    }
    if (done == t->n_iters)
        task_finish(t, at, ok == done ? RESULT_SUCCESS : RESULT_FAILED);
}

/* A run_job_task starts running: it runs its job and ends with that run. */
static void start_child(struct fakews *ws, struct fw_task *t, int64_t at)
{
    struct json_object *rjt, *v;
    int64_t job_id = 0;
    struct fw_run *child = NULL;
    if (!json_object_object_get_ex(t->spec, "run_job_task", &rjt) ||
        !json_object_is_type(rjt, json_type_object))
        return;
    if (json_object_object_get_ex(rjt, "job_id", &v))
        (void)json_value_int64(v, &job_id);
    struct fw_job *job = fakews_job(ws, job_id);
    if (!job || runs_create_job_run(ws, job, rjt, t->run->creator, &child) < 0) {
        task_finish(t, at, RESULT_FAILED);
        return;
    }
    free(child->trigger);
    child->trigger = strdup("RUN_JOB_TASK");
    child->parent_task_id = t->run_id;
    if (fakews_add_run(ws, child, false) < 0) {
        fw_run_free(child);
        task_finish(t, at, RESULT_FAILED);
        return;
    }
    t->child_run_id = child->run_id;
    /* it ends with its child, not after a duration of its own */
    t->duration_ms = FW_DURATION_MAX_MS;
    if (sim_start_run(ws, child, job) < 0 || !sim_run_is_active(child))
        child_ended(ws, child, at);
}

static void run_set_terminated(struct fakews *ws, struct fw_run *run, int64_t at)
{
    run->lc = LIFE_CYCLE_TERMINATED;
    if (run->rs == RESULT_NONE)
        run->rs = run_result(run);
    run->end_time = at;
    run->state_message = message_for(run->rs);
    for (size_t i = 0; run->rs == RESULT_FAILED && i < run->n_tasks; i++)
        if (run->tasks[i]->rs == RESULT_FAILED) {
            /* as a workspace words it (measured by Databricks' testserver) */
            free(run->message);
            run->message = strjoin("Task ", run->tasks[i]->task_key,
                                   " failed with message: ", message_for(RESULT_FAILED), ".");
            if (run->message)
                run->state_message = run->message;
            break;
        }
    if (run->n_repairs > 0) {
        struct fw_repair *last = &run->repairs[run->n_repairs - 1];
        last->end_time = at;
        last->lc = run->lc;
        last->rs = run->rs;
    }
    if (run->holds_slot) {
        run->holds_slot = false;
        struct fw_job *job = fakews_job(ws, run->job_id);
        if (job) {
            if (job->active_runs > 0)
                job->active_runs--;
            start_queued(ws, job, at);
        }
    }
    if (run->parent_task_id)
        child_ended(ws, run, at);
}

/* Every transition of run at exactly time at. */
static void run_step(struct fakews *ws, struct fw_run *run, int64_t at)
{
    if (run->lc == LIFE_CYCLE_PENDING && at >= run->pending_until) {
        run->lc = LIFE_CYCLE_RUNNING;
        run->state_message = "In run";
        run->exec_start = at;
    }
    if (run->lc == LIFE_CYCLE_RUNNING) {
        bool timed_out = run->timeout_ms > 0 && at >= run->exec_start + run->timeout_ms;
        for (size_t i = 0; i < run->n_tasks; i++) {
            struct fw_task *t = run->tasks[i];
            if (timed_out && !task_terminal(t)) {
                task_finish(t, at, task_started(t) ? RESULT_TIMEDOUT : RESULT_UPSTREAM_FAILED);
                continue;
            }
            if (t->lc == LIFE_CYCLE_PENDING && t->start_time && at >= t->exec_time) {
                t->lc = LIFE_CYCLE_RUNNING;
                t->state_message = "In run";
                start_child(ws, t, at);
                start_iterations(ws, t, at);
            }
            if (t->lc == LIFE_CYCLE_RUNNING && t->iters)
                step_iterations(t, at);
            if (t->lc == LIFE_CYCLE_WAITING_FOR_RETRY && at >= t->retry_at) {
                t->lc = LIFE_CYCLE_PENDING;
                t->state_message = "Waiting for cluster";
                t->start_time = at;
                t->exec_time = at + t->setup_ms;
            }
            if (t->lc == LIFE_CYCLE_RUNNING && at >= t->exec_time + t->duration_ms) {
                task_finish(t, at, t->planned);
                maybe_retry(ws, run, i, at);
            }
        }
        if (timed_out)
            run->rs = RESULT_TIMEDOUT;
        /* Decide waiting tasks until nothing changes (a decision can
         * unblock the next). Bounded by the task count. */
        for (size_t round = 0; round <= run->n_tasks; round++) {
            int changed = 0;
            for (size_t i = 0; i < run->n_tasks; i++) {
                struct fw_task *t = run->tasks[i];
                if (!task_started(t))
                    changed |= task_decide(run, t, at);
            }
            if (!changed)
                break;
        }
        bool all = true;
        for (size_t i = 0; i < run->n_tasks && all; i++)
            all = task_terminal(run->tasks[i]);
        if (all) {
            run->lc = LIFE_CYCLE_TERMINATING;
            run->state_message = "Terminating";
            run->term_until = at + FW_RUN_TERMINATING_MS;
        }
    }
    if (run->lc == LIFE_CYCLE_TERMINATING && at >= run->term_until)
        run_set_terminated(ws, run, at);
    compute_due(run);
    (void)fakews_heap_update(ws, run);
}

static void run_to_pending(struct fakews *ws, struct fw_run *run, int64_t at)
{
    if (run->lc == LIFE_CYCLE_QUEUED && run->queue_start)
        run->queue_duration += at - run->queue_start;
    run->lc = LIFE_CYCLE_PENDING;
    run->state_message = "Waiting for cluster";
    run->queue_code = NULL;
    run->pending_until = at + FW_RUN_PENDING_MS;
    for (size_t i = 0; i < run->n_tasks; i++)
        if (!task_terminal(run->tasks[i]))
            run->tasks[i]->lc = LIFE_CYCLE_PENDING;
    compute_due(run);
    (void)fakews_heap_update(ws, run);
}

static int64_t job_max_concurrent(struct fw_job *job)
{
    struct json_object *v;
    int64_t n = 1;
    if (json_object_object_get_ex(job->settings, "max_concurrent_runs", &v))
        (void)json_value_int64(v, &n);
    return n;
}

static bool job_queues(struct fw_job *job)
{
    struct json_object *q, *e;
    return json_object_object_get_ex(job->settings, "queue", &q) &&
           json_object_object_get_ex(q, "enabled", &e) && json_object_get_boolean(e);
}

static void start_queued(struct fakews *ws, struct fw_job *job, int64_t at)
{
    int64_t max = job_max_concurrent(job);
    while (job->n_queue > 0 && (int64_t)job->active_runs < max) {
        struct fw_run *run = job->queue[0];
        memmove(job->queue, job->queue + 1, (job->n_queue - 1) * sizeof(*job->queue));
        job->n_queue--;
        run->holds_slot = true;
        job->active_runs++;
        run_to_pending(ws, run, at);
    }
}

static void run_skip(struct fw_run *run, int64_t at, enum result_state rs, const char *message)
{
    run->lc = LIFE_CYCLE_SKIPPED;
    run->rs = rs;
    run->end_time = at;
    run->state_message = message;
    for (size_t i = 0; i < run->n_tasks; i++) {
        task_finish(run->tasks[i], at, rs);
        run->tasks[i]->lc = LIFE_CYCLE_SKIPPED;
    }
    run->due = INT64_MAX;
}

int sim_start_run(struct fakews *ws, struct fw_run *run, struct fw_job *job)
{
    int64_t now = ws->now_ms;
    run->due = INT64_MAX;
    if (!job) {
        run_to_pending(ws, run, now);
        return 0;
    }
    if ((int64_t)job->active_runs < job_max_concurrent(job)) {
        run->holds_slot = true;
        job->active_runs++;
        run_to_pending(ws, run, now);
        return 0;
    }
    if (run->queue_override == 0 || (run->queue_override < 0 && !job_queues(job))) {
        run_skip(run, now, RESULT_MAXIMUM_CONCURRENT_RUNS_REACHED,
                 "Skipped because the maximum number of concurrent runs was reached.");
        return 0;
    }
    if (job->n_queue >= FW_JOB_QUEUE_MAX) {
        run_skip(run, now, RESULT_MAXIMUM_CONCURRENT_RUNS_REACHED,
                 "Skipped because the job queue is full.");
        run->queue_code = "MAX_JOB_QUEUE_SIZE_EXCEEDED";
        return 0;
    }
    struct fw_run **q = realloc(job->queue, (job->n_queue + 1) * sizeof(*q));
    if (!q)
        return -ENOMEM;
    job->queue = q;
    job->queue[job->n_queue++] = run;
    run->lc = LIFE_CYCLE_QUEUED;
    run->queue_start = now;
    run->queue_code = "MAX_CONCURRENT_RUNS_REACHED";
    run->state_message = "Queued due to reaching maximum concurrent runs.";
    for (size_t i = 0; i < run->n_tasks; i++)
        run->tasks[i]->lc = LIFE_CYCLE_QUEUED;
    return 0;
}

int64_t sim_periodic_ms(struct json_object *settings)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {
        { "MINUTES", 60 * 1000 },
        { "HOURS", 3600 * 1000 },
        { "DAYS", 24 * 3600 * 1000 },
        { "WEEKS", 7 * 24 * 3600 * 1000 },
    };
    struct json_object *trigger, *periodic, *v;
    if (!json_object_object_get_ex(settings, "trigger", &trigger) || !trigger)
        return 0;
    if (!json_object_is_type(trigger, json_type_object))
        return -EINVAL;
    if (!json_object_object_get_ex(trigger, "periodic", &periodic) || !periodic)
        return 0;
    int64_t interval = 0;
    if (!json_object_is_type(periodic, json_type_object) ||
        !json_object_object_get_ex(periodic, "interval", &v) ||
        json_value_int64(v, &interval) < 0 || interval < 1 || interval > 10000 ||
        !json_object_object_get_ex(periodic, "unit", &v) ||
        !json_object_is_type(v, json_type_string))
        return -EINVAL;
    int64_t ms = 0;
    for (size_t i = 0; i < ELEMENTSOF(units); i++)
        if (streq(json_object_get_string(v), units[i].unit))
            ms = units[i].ms * interval;
    if (ms == 0)
        return -EINVAL;
    if (json_object_object_get_ex(trigger, "pause_status", &v) &&
        json_object_is_type(v, json_type_string) && streq(json_object_get_string(v), "PAUSED"))
        return 0;
    return ms;
}

void sim_schedule_job(struct fakews *ws, struct fw_job *job)
{
    int64_t period = sim_periodic_ms(job->settings);
    bool had = job->next_fire > 0;
    job->next_fire = period > 0 ? ws->now_ms + period : 0;
    if (had && job->next_fire == 0)
        ws->n_periodic--;
    else if (!had && job->next_fire > 0)
        ws->n_periodic++;
}

/* The job whose periodic trigger is due first, NULL when none is. */
static struct fw_job *next_trigger(struct fakews *ws)
{
    struct fw_job *first = NULL;
    if (ws->n_periodic == 0)
        return NULL;
    for (size_t i = 0; i < ws->n_jobs; i++)
        if (ws->jobs[i]->next_fire > 0 && (!first || ws->jobs[i]->next_fire < first->next_fire))
            first = ws->jobs[i];
    return first;
}

/* A periodic trigger fires: a run with trigger PERIODIC, queued or skipped
 * like any other at the job's limit. */
static void fire(struct fakews *ws, struct fw_job *job)
{
    int64_t period = sim_periodic_ms(job->settings);
    struct fw_run *run = NULL;
    job->next_fire = period > 0 ? job->next_fire + period : 0;
    if (period <= 0)
        ws->n_periodic--;
    if (runs_create_job_run(ws, job, NULL, job->creator, &run) < 0)
        return;
    free(run->trigger);
    run->trigger = strdup("PERIODIC");
    if (fakews_add_run(ws, run, false) < 0) {
        fw_run_free(run);
        return;
    }
    (void)sim_start_run(ws, run, job);
}

void sim_advance(struct fakews *ws, int64_t now)
{
    for (;;) {
        struct fw_job *job = next_trigger(ws);
        struct fw_run *run = ws->n_heap > 0 ? ws->heap[0] : NULL;
        int64_t t_job = job ? job->next_fire : INT64_MAX;
        int64_t t_run = run ? run->due : INT64_MAX;
        if (MIN(t_job, t_run) > now)
            break;
        if (t_job <= t_run) {
            ws->now_ms = MAX(ws->now_ms, t_job);
            fire(ws, job);
        } else {
            ws->now_ms = MAX(ws->now_ms, t_run);
            run_step(ws, run, t_run);
        }
    }
}

/* Cancels an unfinished task and the run a run_job_task started. */
static void cancel_task(struct fakews *ws, struct fw_task *t, int64_t now)
{
    if (task_terminal(t))
        return;
    task_finish(t, now, RESULT_CANCELED);
    t->user_cancelled = true;
    struct fw_run *child = t->child_run_id ? fakews_run(ws, t->child_run_id) : NULL;
    if (child)
        (void)sim_cancel_run(ws, child, now);
}

int sim_cancel_run(struct fakews *ws, struct fw_run *run, int64_t now)
{
    switch (run->lc) {
    case LIFE_CYCLE_QUEUED: {
        struct fw_job *job = fakews_job(ws, run->job_id);
        for (size_t i = 0; job && i < job->n_queue; i++)
            if (job->queue[i] == run) {
                memmove(job->queue + i, job->queue + i + 1,
                        (job->n_queue - i - 1) * sizeof(*job->queue));
                job->n_queue--;
                break;
            }
        run->queue_duration += now - run->queue_start;
        run->user_cancelled = true;
        run->rs = RESULT_CANCELED;
        for (size_t i = 0; i < run->n_tasks; i++)
            task_finish(run->tasks[i], now, RESULT_CANCELED);
        run->lc = LIFE_CYCLE_TERMINATED;
        run->end_time = now;
        run->state_message = message_for(RESULT_CANCELED);
        run->due = INT64_MAX;
        return 0;
    }
    case LIFE_CYCLE_PENDING:
    case LIFE_CYCLE_RUNNING:
    case LIFE_CYCLE_BLOCKED:
    case LIFE_CYCLE_WAITING_FOR_RETRY:
        for (size_t i = 0; i < run->n_tasks; i++)
            cancel_task(ws, run->tasks[i], now);
        run->user_cancelled = true;
        run->rs = RESULT_CANCELED;
        run->lc = LIFE_CYCLE_TERMINATING;
        run->state_message = "Terminating";
        run->term_until = now + FW_RUN_TERMINATING_MS;
        compute_due(run);
        return fakews_heap_update(ws, run);
    default:
        return 0; /* finished or already terminating: a no-op */
    }
}

int sim_cancel_task(struct fakews *ws, struct fw_task *t, int64_t now)
{
    if (task_terminal(t))
        return 0;
    struct fw_run *run = t->run;
    if (run->lc != LIFE_CYCLE_RUNNING)
        return sim_cancel_run(ws, run, now);
    cancel_task(ws, t, now);
    run->due = now;
    return fakews_heap_update(ws, run);
}

int sim_restart_run(struct fakews *ws, struct fw_run *run, int64_t now)
{
    run->rs = RESULT_NONE;
    run->end_time = 0;
    run->user_cancelled = false;
    run_to_pending(ws, run, now);
    return 0;
}

int sim_retime(struct fakews *ws, struct fw_run *run)
{
    if (!sim_run_is_active(run) || run->lc == LIFE_CYCLE_QUEUED)
        return 0;
    compute_due(run);
    return fakews_heap_update(ws, run);
}
