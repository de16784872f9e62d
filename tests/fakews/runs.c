/* tests/fakews/runs.c: run-now, runs/submit, runs/list, runs/get,
 * get-output, export, cancel, cancel-all and delete (reference §1.2,
 * §2.4-§2.6, §4, §5); repair is in repair.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "proto/cleanup.h"
#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/fakews/fakews.h"

#define RUNS_LIMIT_MAX 25
#define RUNS_LIMIT_DEFAULT 20
#define GET_OUTPUT_JOB_RUN                                                                         \
    "Retrieving the output of runs with multiple tasks is not supported. Please retrieve the "     \
    "output of each individual task run instead."

struct fw_task *runs_new_task(struct fakews *ws, struct fw_run *run, struct json_object *spec,
                              struct json_object *run_params)
{
    struct json_object *k;
    struct fw_task *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->run = run;
    t->run_id = fakews_next_id(ws, false);
    t->spec = json_object_get(spec);
    t->task_key =
        strdup(json_object_object_get_ex(spec, "task_key", &k) ? json_object_get_string(k) : "");
    if (!t->task_key) {
        json_object_put(t->spec);
        free(t);
        return NULL;
    }
    t->original_run_id = t->run_id;
    t->lc = LIFE_CYCLE_PENDING;
    sim_plan_task(t, run_params);
    return t;
}

static const char *spec_key(struct json_object *spec)
{
    struct json_object *k;
    return json_object_object_get_ex(spec, "task_key", &k) ? json_object_get_string(k) : "";
}

static ssize_t index_of(struct json_object *tasks, const char *key)
{
    for (size_t i = 0; i < json_object_array_length(tasks); i++)
        if (streq(spec_key(json_object_array_get_idx(tasks, i)), key))
            return (ssize_t)i;
    return -1;
}

static bool depends_on_key(struct json_object *spec, const char *key)
{
    struct json_object *deps, *k;
    if (!json_object_object_get_ex(spec, "depends_on", &deps) ||
        !json_object_is_type(deps, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(deps); i++)
        if (json_object_object_get_ex(json_object_array_get_idx(deps, i), "task_key", &k) &&
            streq(json_object_get_string(k), key))
            return true;
    return false;
}

/* Marks in sel the tasks run-now's `only` names: "k", "+k" (with every
 * upstream task), "k+" (with every downstream task), "+k+". -ENOENT with
 * *ret_missing set for a key the job does not have. */
static int select_only(struct json_object *tasks, struct json_object *only, bool *sel,
                       const char **ret_missing)
{
    size_t n = json_object_array_length(tasks);
    for (size_t j = 0; j < json_object_array_length(only); j++) {
        const char *o = json_object_get_string(json_object_array_get_idx(only, j));
        char key[256];
        bool up = o[0] == '+';
        if (strscpy(key, sizeof(key), o + up) < 0) {
            *ret_missing = o;
            return -ENOENT;
        }
        size_t len = strlen(key);
        bool down = len > 0 && key[len - 1] == '+';
        if (down)
            key[len - 1] = 0;
        ssize_t at = index_of(tasks, key);
        if (at < 0) {
            *ret_missing = o;
            return -ENOENT;
        }
        _cleanup_free_ bool *mark = calloc(n, sizeof(bool));
        if (!mark)
            return -ENOMEM;
        mark[at] = true;
        /* grow the upstream and downstream closures; n rounds suffice */
        for (size_t round = 0; round < n && (up || down); round++)
            for (size_t a = 0; a < n; a++)
                for (size_t b = 0; b < n; b++) {
                    struct json_object *sa = json_object_array_get_idx(tasks, a);
                    struct json_object *sb = json_object_array_get_idx(tasks, b);
                    if (!mark[a] || mark[b])
                        continue;
                    /* b upstream of a: a depends on b; downstream: b depends on a */
                    if ((up && depends_on_key(sa, spec_key(sb))) ||
                        (down && depends_on_key(sb, spec_key(sa))))
                        mark[b] = true;
                }
        for (size_t i = 0; i < n; i++)
            sel[i] = sel[i] || mark[i];
    }
    return 0;
}

/* Adds tasks (an array of Task settings) to run, only those `only` selects
 * when it is set. */
static int add_tasks(struct fakews *ws, struct fw_run *run, struct json_object *tasks,
                     struct json_object *only, struct json_object *run_params)
{
    size_t n = tasks ? json_object_array_length(tasks) : 0;
    const char *missing_key;
    if (n == 0)
        return 0;
    _cleanup_free_ bool *sel = calloc(n, sizeof(bool));
    run->tasks = calloc(n, sizeof(*run->tasks));
    if (!run->tasks || !sel)
        return -ENOMEM;
    if (only) {
        int r = select_only(tasks, only, sel, &missing_key);
        if (r < 0)
            return r;
    }
    for (size_t i = 0; i < n; i++) {
        if (only && !sel[i])
            continue;
        struct json_object *spec = json_object_array_get_idx(tasks, i);
        struct fw_task *t = runs_new_task(ws, run, spec, run_params);
        if (!t)
            return -ENOMEM;
        run->tasks[run->n_tasks++] = t;
    }
    return 0;
}

static struct fw_run *run_alloc(struct fakews *ws, const char *creator)
{
    struct fw_run *run = calloc(1, sizeof(*run));
    if (!run)
        return NULL;
    run->run_id = fakews_next_id(ws, false);
    run->creator = strdup(creator);
    run->start_time = ws->now_ms;
    run->heap_idx = SIZE_MAX;
    run->due = INT64_MAX;
    run->queue_override = -1;
    if (!run->creator)
        return fw_run_free(run);
    return run;
}

/* job_parameters [{name, default, value}] from the job's parameters and the
 * request's overrides; the string map that drives the simulation. */
static int resolve_params(struct fw_job *job, struct json_object *params, struct fw_run *run,
                          struct json_object **ret_sim)
{
    _cleanup_json_ struct json_object *sim = json_object_new_object();
    struct json_object *defs = NULL, *over = NULL, *v;
    if (!sim)
        return -ENOMEM;
    if (params)
        json_object_object_get_ex(params, "job_parameters", &over);
    if (json_object_object_get_ex(job->settings, "parameters", &defs) &&
        json_object_is_type(defs, json_type_array) && json_object_array_length(defs) > 0) {
        run->job_parameters = json_object_new_array();
        if (!run->job_parameters)
            return -ENOMEM;
        for (size_t i = 0; i < json_object_array_length(defs); i++) {
            struct json_object *d = json_object_array_get_idx(defs, i), *name, *def, *val;
            if (!json_object_object_get_ex(d, "name", &name) ||
                !json_object_object_get_ex(d, "default", &def))
                continue;
            val = def;
            if (over)
                json_object_object_get_ex(over, json_object_get_string(name), &val);
            struct json_object *p = json_object_new_object();
            if (!p || json_append(run->job_parameters, p) < 0 ||
                json_add(p, "name", json_object_get(name)) < 0 ||
                json_add(p, "default", json_object_get(def)) < 0 ||
                json_add(p, "value", json_object_get(val)) < 0 ||
                json_add(sim, json_object_get_string(name), json_object_get(val)) < 0)
                return -ENOMEM;
        }
    }
    static const char *const legacy[] = { "notebook_params",     "jar_params",
                                          "python_params",       "python_named_params",
                                          "spark_submit_params", "sql_params",
                                          "dbt_commands" };
    for (size_t i = 0; params && i < ELEMENTSOF(legacy); i++) {
        if (!json_object_object_get_ex(params, legacy[i], &v))
            continue;
        if (!run->overriding && !(run->overriding = json_object_new_object()))
            return -ENOMEM;
        if (json_add(run->overriding, legacy[i], json_object_get(v)) < 0)
            return -ENOMEM;
        if (json_object_is_type(v, json_type_object)) {
            json_object_object_foreach (v, key, val) {
                if (json_add(sim, key, json_object_get(val)) < 0)
                    return -ENOMEM;
            }
        }
    }
    if (over) {
        json_object_object_foreach (over, key, val) {
            if (json_add(sim, key, json_object_get(val)) < 0)
                return -ENOMEM;
        }
    }
    *ret_sim = TAKE_PTR(sim);
    return 0;
}

int runs_create_job_run(struct fakews *ws, struct fw_job *job, struct json_object *params,
                        const char *creator, struct fw_run **ret)
{
    struct fw_run *run = run_alloc(ws, creator);
    if (!run)
        return -ENOMEM;
    _cleanup_json_ struct json_object *sim = NULL;
    struct json_object *tasks = NULL, *only = NULL, *v;
    run->job_id = job->job_id;
    run->run_type = RUN_TYPE_JOB_RUN;
    if (json_object_object_get_ex(job->settings, "name", &v))
        run->run_name = strdup(json_object_get_string(v));
    if (json_object_object_get_ex(job->settings, "job_clusters", &v))
        run->job_clusters = json_object_get(v);
    struct json_object *q, *e;
    if (params && json_object_object_get_ex(params, "queue", &q) &&
        json_object_is_type(q, json_type_object) && json_object_object_get_ex(q, "enabled", &e) &&
        json_object_is_type(e, json_type_boolean))
        run->queue_override = json_object_get_boolean(e);
    if (json_object_object_get_ex(job->settings, "timeout_seconds", &v)) {
        int64_t t = 0;
        (void)json_value_int64(v, &t);
        run->timeout_ms = t * 1000;
    }
    if (!json_object_object_get_ex(job->settings, "tasks", &tasks) ||
        !json_object_is_type(tasks, json_type_array))
        tasks = NULL;
    if (params &&
        (!json_object_object_get_ex(params, "only", &only) ||
         !json_object_is_type(only, json_type_array) || json_object_array_length(only) == 0))
        only = NULL;
    if (resolve_params(job, params, run, &sim) < 0 || add_tasks(ws, run, tasks, only, sim) < 0) {
        fw_run_free(run);
        return -ENOMEM;
    }
    *ret = run;
    return 0;
}

/* A repeat of an idempotency token: 1 with the reply filled, 0 if new. */
static int idempotent_repeat(struct fakews *ws, const char *token, bool number,
                             struct fw_reply *reply)
{
    struct json_object *v;
    if (!token || !json_object_object_get_ex(ws->idempotency, token, &v))
        return 0;
    int64_t run_id = json_object_get_int64(v);
    if (!fakews_run(ws, run_id)) {
        int r = reply_error(reply, 400, "INVALID_STATE",
                            "The run %" PRId64 " created with this idempotency token was deleted.",
                            run_id);
        return r < 0 ? r : 1;
    }
    struct json_object *o = json_object_new_object();
    if (!o || json_add_int64(o, "run_id", run_id) < 0 ||
        (number && json_add_int64(o, "number_in_job", run_id) < 0)) {
        json_object_put(o);
        return -ENOMEM;
    }
    int r = reply_json(reply, o);
    return r < 0 ? r : 1;
}

static int read_token(struct fw_request *req, const char **ret, struct fw_reply *reply)
{
    struct json_error err = { { 0 } };
    int r = json_get_string(req->body, "idempotency_token", JSON_NULLABLE, ret, &err);
    if (r < 0) {
        r = reply_error(reply, 400, "INVALID_PARAMETER_VALUE", "%s", err.message);
        return r < 0 ? r : -EINVAL;
    }
    if (r > 0 && strlen(*ret) > FW_IDEMPOTENCY_TOKEN_MAX) {
        r = reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                        "Idempotency token must be at most 64 characters long.");
        return r < 0 ? r : -EINVAL;
    }
    return 0;
}

/* Registers and starts a new run, answers {run_id[, number_in_job]}. */
static int launch(struct fakews *ws, struct fw_run *run, struct fw_job *job, const char *token,
                  bool number, struct fw_reply *reply)
{
    int r;
    if (token && !(run->idempotency_token = strdup(token))) {
        fw_run_free(run);
        return -ENOMEM;
    }
    r = fakews_add_run(ws, run, false);
    if (r == -ENOSPC) {
        fw_run_free(run);
        return reply_error(reply, 400, "QUOTA_EXCEEDED", "The workspace holds too many runs.");
    }
    if (r < 0) {
        fw_run_free(run);
        return r;
    }
    if (token && json_add_int64(ws->idempotency, token, run->run_id) < 0)
        return -ENOMEM;
    r = sim_start_run(ws, run, job);
    if (r < 0)
        return r;
    struct json_object *o = json_object_new_object();
    if (!o || json_add_int64(o, "run_id", run->run_id) < 0 ||
        (number && json_add_int64(o, "number_in_job", run->run_id) < 0)) {
        json_object_put(o);
        return -ENOMEM;
    }
    return reply_json(reply, o);
}

int runs_run_now(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int64_t job_id = 0;
    const char *token = NULL;
    int r = fw_body_id(req, "job_id", true, reply, &job_id);
    if (r < 0)
        return r == -EINVAL ? 0 : r;
    if ((r = read_token(req, &token, reply)) < 0)
        return r == -EINVAL ? 0 : r;
    struct fw_job *job = fakews_job(ws, job_id);
    if (!job)
        return reply_no_job(reply, job_id);
    if (json_object_object_get_ex(req->body, "jar_params", NULL) &&
        json_object_object_get_ex(req->body, "notebook_params", NULL))
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                           "jar_params and notebook_params are mutually exclusive.");
    struct json_object *jp, *only;
    if (json_object_object_get_ex(req->body, "only", &only) && only &&
        (!json_object_is_type(only, json_type_array) || json_object_array_length(only) > 0)) {
        bool strings = json_object_is_type(only, json_type_array);
        for (size_t i = 0; strings && i < json_object_array_length(only); i++)
            strings = json_object_is_type(json_object_array_get_idx(only, i), json_type_string);
        if (!strings)
            return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                               "Invalid value for only: expected a list of task keys.");
        struct json_object *tasks;
        const char *missing_key = NULL;
        size_t n = json_object_object_get_ex(job->settings, "tasks", &tasks) &&
                           json_object_is_type(tasks, json_type_array)
                       ? json_object_array_length(tasks)
                       : 0;
        _cleanup_free_ bool *sel = calloc(MAX(n, (size_t)1), sizeof(bool));
        if (!sel)
            return -ENOMEM;
        r = n > 0 ? select_only(tasks, only, sel, &missing_key) : -ENOENT;
        if (r == -ENOMEM)
            return r;
        if (r < 0)
            return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                               "Task %s in only does not exist in job %" PRId64 ".",
                               missing_key ? missing_key : "", job_id);
    }
    if (json_object_object_get_ex(req->body, "job_parameters", &jp) &&
        !json_object_is_type(jp, json_type_object) && !json_object_is_type(jp, json_type_null))
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                           "Invalid value for job_parameters: expected an object.");
    if ((r = idempotent_repeat(ws, token, true, reply)) != 0)
        return r < 0 ? r : 0;
    struct fw_run *run = NULL;
    r = runs_create_job_run(ws, job, req->body, req->principal, &run);
    if (r < 0)
        return r;
    return launch(ws, run, job, token, true, reply);
}

int runs_submit(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    const char *token = NULL, *name = NULL;
    struct json_object *tasks = NULL;
    struct json_error err = { { 0 } };
    if (!req->body)
        return reply_missing(reply, "tasks");
    int r = read_token(req, &token, reply);
    if (r < 0)
        return r == -EINVAL ? 0 : r;
    r = jobs_check_settings(req->body, true, reply);
    if (r < 0)
        return r == -EINVAL ? 0 : r;
    if (json_get_array(req->body, "tasks", JSON_REQUIRED, &tasks, &err) < 0)
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE", "%s", err.message);
    if (json_object_array_length(tasks) == 0)
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                           "A run must have at least one task.");
    if ((r = idempotent_repeat(ws, token, false, reply)) != 0)
        return r < 0 ? r : 0;
    (void)json_get_string(req->body, "run_name", JSON_NULLABLE, &name, &err);
    struct fw_run *run = run_alloc(ws, req->principal);
    if (!run)
        return -ENOMEM;
    run->run_type = RUN_TYPE_SUBMIT_RUN;
    run->run_name = strdup(name ? name : "Untitled");
    struct json_object *v;
    if (json_object_object_get_ex(req->body, "timeout_seconds", &v)) {
        int64_t t = 0;
        (void)json_value_int64(v, &t);
        run->timeout_ms = t * 1000;
    }
    if (!run->run_name || add_tasks(ws, run, tasks, NULL, NULL) < 0) {
        fw_run_free(run);
        return -ENOMEM;
    }
    return launch(ws, run, NULL, token, false, reply);
}

struct list_filter {
    int64_t job_id;
    bool active_only, completed_only;
    int64_t from, to;
    const char *run_type;
};

static bool run_matches(const struct fw_run *run, const struct list_filter *f)
{
    if (f->job_id && run->job_id != f->job_id)
        return false;
    bool active = sim_run_is_active(run);
    if (f->active_only && !active)
        return false;
    if (f->completed_only && active)
        return false;
    if (run->start_time < f->from || run->start_time > f->to)
        return false;
    if (f->run_type && !streq(f->run_type, run_type_to_string(run->run_type)))
        return false;
    return true;
}

int runs_list(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    struct list_filter f = { .from = INT64_MIN, .to = INT64_MAX };
    int64_t limit = RUNS_LIMIT_DEFAULT, offset = 0;
    bool expand = false;
    int r;
    if ((r = fw_query_id(req, "job_id", reply, &f.job_id)) < 0 ||
        (r = fw_query_bool(req, "active_only", reply, &f.active_only)) < 0 ||
        (r = fw_query_bool(req, "completed_only", reply, &f.completed_only)) < 0 ||
        (r = fw_query_bool(req, "expand_tasks", reply, &expand)) < 0 ||
        (r = fw_query_limit(req, reply, RUNS_LIMIT_DEFAULT, RUNS_LIMIT_MAX, RUNS_LIMIT_MAX, &limit,
                            &offset)) < 0 ||
        (r = fw_query_int64(req, "start_time_from", reply, &f.from)) < 0 ||
        (r = fw_query_int64(req, "start_time_to", reply, &f.to)) < 0)
        return r == -EINVAL ? 0 : r;
    f.run_type = fw_query(req, "run_type");
    if (f.active_only && f.completed_only)
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                           "active_only and completed_only cannot both be true.");

    /* Newest first: walk ws->runs (ascending by start time, run id)
     * backwards from a 'n' token, or forwards from a 'p' token. */
    const char *token = fw_query(req, "page_token");
    int64_t ts = INT64_MAX, id = INT64_MAX;
    bool prev = false;
    if (!isempty(token)) {
        if (fw_token_decode(token, 'n', &ts, &id) < 0) {
            if (fw_token_decode(token, 'p', &ts, &id) < 0)
                return reply_error(reply, 400, "INVALID_PARAMETER_VALUE", "Invalid page token.");
            prev = true;
        }
    }
    struct fw_run *page[RUNS_LIMIT_MAX];
    size_t n = 0;
    bool more = false, earlier = !isempty(token);
    if (prev) {
        size_t i = fakews_runs_lower_bound(ws, ts, id);
        if (i < ws->n_runs && ws->runs[i]->start_time == ts && ws->runs[i]->run_id == id)
            i++;
        for (; i < ws->n_runs; i++) {
            if (!run_matches(ws->runs[i], &f))
                continue;
            if (n == (size_t)limit) {
                earlier = true;
                break;
            }
            page[n++] = ws->runs[i];
        }
        if (!(i < ws->n_runs))
            earlier = false;
        for (size_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) {
            struct fw_run *t = page[a];
            page[a] = page[b];
            page[b] = t;
        }
        more = true;
    } else {
        size_t i = ts == INT64_MAX ? ws->n_runs : fakews_runs_lower_bound(ws, ts, id);
        int64_t skip = offset;
        while (i-- > 0) {
            if (!run_matches(ws->runs[i], &f))
                continue;
            if (skip > 0) {
                skip--;
                earlier = true;
                continue;
            }
            if (n == (size_t)limit) {
                more = true;
                break;
            }
            page[n++] = ws->runs[i];
        }
    }

    _cleanup_json_ struct json_object *o = json_object_new_object();
    if (!o)
        return -ENOMEM;
    if (n > 0) {
        struct json_object *a = json_object_new_array_ext((int)n);
        if (!a || json_add(o, "runs", a) < 0)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
            struct json_object *j = NULL;
            if (runjson_run(ws, page[i], expand, false, 0, &j) < 0 || json_append(a, j) < 0)
                return -ENOMEM;
            if (expand) {
                /* A cut task list is marked has_more, with no token. */
                bool cut = json_object_object_get_ex(j, "next_page_token", NULL);
                json_object_object_del(j, "next_page_token");
                if (json_add_bool(j, "has_more", cut) < 0)
                    return -ENOMEM;
            }
        }
    }
    if (json_add_bool(o, "has_more", more) < 0)
        return -ENOMEM;
    if (more && n > 0) {
        _cleanup_free_ char *t = fw_token_encode('n', page[n - 1]->start_time, page[n - 1]->run_id);
        if (!t || json_add_string(o, "next_page_token", t) < 0)
            return -ENOMEM;
    }
    if (earlier && n > 0) {
        _cleanup_free_ char *t = fw_token_encode('p', page[0]->start_time, page[0]->run_id);
        if (!t || json_add_string(o, "prev_page_token", t) < 0)
            return -ENOMEM;
    }
    return reply_json(reply, TAKE_PTR(o));
}

/* The run_id query parameter (required). 1 when read, else 0 with the
 * reply filled, or -ENOMEM. */
static int query_run_id(struct fw_request *req, struct fw_reply *reply, int64_t *ret)
{
    int r = fw_query_id(req, "run_id", reply, ret);
    if (r == -EINVAL)
        return 0;
    if (r < 0)
        return r;
    if (r == 0) {
        r = reply_missing(reply, "run_id");
        return r < 0 ? r : 0;
    }
    return 1;
}

int runs_get(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int64_t run_id = 0, page = 0, tok_id;
    bool history = false, resolved = false;
    int r = query_run_id(req, reply, &run_id);
    if (r <= 0)
        return r;
    if ((r = fw_query_bool(req, "include_history", reply, &history)) < 0 ||
        (r = fw_query_bool(req, "include_resolved_values", reply, &resolved)) < 0)
        return r == -EINVAL ? 0 : r;
    const char *token = fw_query(req, "page_token");
    if (!isempty(token) && (fw_token_decode(token, 'g', &tok_id, &page) < 0 || tok_id != run_id ||
                            page < 0 || page > FW_PAGE_MAX))
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE", "Invalid page token.");
    struct json_object *o = NULL;
    struct fw_run *run = fakews_run(ws, run_id);
    if (run)
        r = runjson_run(ws, run, true, history, page, &o);
    else {
        struct fw_task *t = fakews_task(ws, run_id);
        if (!t)
            return reply_no_run(reply, run_id);
        r = runjson_task_as_run(ws, t, page, &o);
    }
    if (r < 0)
        return r;
    return reply_json(reply, o);
}

static bool has_task_type(const struct fw_task *t, const char *type)
{
    return json_object_object_get_ex(t->spec, type, NULL);
}

int runs_get_output(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int64_t run_id = 0;
    int r = query_run_id(req, reply, &run_id);
    if (r <= 0)
        return r;
    if (fakews_run(ws, run_id))
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE", GET_OUTPUT_JOB_RUN);
    struct fw_task *t = fakews_task(ws, run_id);
    if (!t)
        return reply_no_run(reply, run_id);
    _cleanup_json_ struct json_object *o = json_object_new_object();
    struct json_object *meta = NULL;
    if (!o || runjson_task_as_run(ws, t, 0, &meta) < 0 || json_add(o, "metadata", meta) < 0)
        return -ENOMEM;
    if (!life_cycle_is_terminal(t->lc))
        return reply_json(reply, TAKE_PTR(o));
    r = 0;
    const struct fw_output *out = &t->out;
    if (has_task_type(t, "notebook_task")) {
        struct json_object *nb = json_object_new_object();
        r |= json_add(o, "notebook_output", nb);
        if (nb) {
            r |= json_add_string(nb, "result", out->result_set ? out->result : "");
            r |= json_add_bool(nb, "truncated", out->result_truncated);
        }
    } else if (has_task_type(t, "spark_python_task") || has_task_type(t, "python_wheel_task") ||
               has_task_type(t, "spark_jar_task")) {
        char logs[256];
        snprintf(logs, sizeof(logs), "fakews: task %s ran for %" PRId64 " ms\n", t->task_key,
                 t->duration_ms);
        r |= json_add_string(o, "logs", out->logs_set ? out->logs : logs);
        r |= json_add_bool(o, "logs_truncated", out->logs_truncated);
    }
    if (t->child_run_id) {
        struct json_object *rj = json_object_new_object();
        r |= json_add(o, "run_job_output", rj);
        r |= rj ? json_add_int64(rj, "run_id", t->child_run_id) : -ENOMEM;
    }
    if (out->error_set) {
        r |= json_add_string(o, "error", out->error ? out->error : "");
        if (out->error_trace)
            r |= json_add_string(o, "error_trace", out->error_trace);
    } else if (t->rs == RESULT_FAILED) {
        r |= json_add_string(o, "error", "Exception: simulated failure (fakews)");
        r |= json_add_string(o, "error_trace",
                             "Traceback (most recent call last):\n  File \"<fakews>\", line 1, "
                             "in <module>\nException: simulated failure (fakews)");
    }
    if (r < 0)
        return -ENOMEM;
    return reply_json(reply, TAKE_PTR(o));
}

int runs_export(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int64_t run_id = 0;
    int r = query_run_id(req, reply, &run_id);
    if (r <= 0)
        return r;
    const char *views = fw_query(req, "views_to_export");
    if (!views)
        views = "CODE";
    if (!streq(views, "CODE") && !streq(views, "DASHBOARDS") && !streq(views, "ALL"))
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                           "Invalid value for views_to_export: %s", views);
    struct fw_task *t = fakews_task(ws, run_id);
    if (!t) {
        if (fakews_run(ws, run_id))
            return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                               "Export is only supported for notebook task runs.");
        return reply_no_run(reply, run_id);
    }
    const char *path = NULL;
    struct json_object *nb, *p;
    if (json_object_object_get_ex(t->spec, "notebook_task", &nb) &&
        json_object_object_get_ex(nb, "notebook_path", &p))
        path = json_object_get_string(p);
    if (!path)
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                           "Export is only supported for notebook task runs.");
    _cleanup_json_ struct json_object *o = json_object_new_object();
    if (!o)
        return -ENOMEM;
    if (!streq(views, "DASHBOARDS")) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        _cleanup_free_ char *html =
            strjoin("<html><head><title>", base, "</title></head><body><!-- fakews export of ",
                    path, " --></body></html>");
        struct json_object *a = json_object_new_array(), *v = json_object_new_object();
        if (!html || !a || !v || json_add(o, "views", a) < 0 || json_append(a, v) < 0 ||
            json_add_string(v, "content", html) < 0 || json_add_string(v, "name", base) < 0 ||
            json_add_string(v, "type", "NOTEBOOK") < 0)
            return -ENOMEM;
    }
    return reply_json(reply, TAKE_PTR(o));
}

int runs_cancel(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int64_t run_id = 0;
    int r = fw_body_id(req, "run_id", true, reply, &run_id);
    if (r < 0)
        return r == -EINVAL ? 0 : r;
    struct fw_run *run = fakews_run(ws, run_id);
    if (run)
        r = sim_cancel_run(ws, run, ws->now_ms);
    else {
        struct fw_task *t = fakews_task(ws, run_id);
        if (!t)
            return reply_no_run(reply, run_id);
        r = sim_cancel_task(ws, t, ws->now_ms);
    }
    if (r < 0)
        return r;
    return reply_empty(reply);
}

int runs_cancel_all(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int64_t job_id = 0;
    bool queued = false;
    struct json_error err = { { 0 } };
    int r = fw_body_id(req, "job_id", false, reply, &job_id);
    if (r < 0)
        return r == -EINVAL ? 0 : r;
    if (req->body && json_get_bool(req->body, "all_queued_runs", JSON_NULLABLE, &queued, &err) < 0)
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE", "%s", err.message);
    if (!job_id && !queued)
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                           "Either job_id or all_queued_runs must be set.");
    if (job_id && !fakews_job(ws, job_id))
        return reply_no_job(reply, job_id);
    for (size_t i = 0; i < ws->n_runs; i++) {
        struct fw_run *run = ws->runs[i];
        if (!sim_run_is_active(run) || (job_id && run->job_id != job_id))
            continue;
        if (queued && run->lc != LIFE_CYCLE_QUEUED)
            continue;
        if ((r = sim_cancel_run(ws, run, ws->now_ms)) < 0)
            return r;
    }
    return reply_empty(reply);
}

int runs_delete(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int64_t run_id = 0;
    int r = fw_body_id(req, "run_id", true, reply, &run_id);
    if (r < 0)
        return r == -EINVAL ? 0 : r;
    struct fw_run *run = fakews_run(ws, run_id);
    if (!run) {
        if (fakews_task(ws, run_id))
            return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                               "Run %" PRId64 " is a task run; delete its job run instead.",
                               run_id);
        return reply_no_run(reply, run_id);
    }
    if (sim_run_is_active(run))
        return reply_error(reply, 400, "INVALID_STATE",
                           "Run %" PRId64 " is active and cannot be deleted. Cancel it first.",
                           run_id);
    fakews_delete_run(ws, run);
    return reply_empty(reply);
}
