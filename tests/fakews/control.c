/* tests/fakews/control.c: the /__fake/ control endpoints: the clock, the
 * request log and per-endpoint counters, faults, seeding, and setting a
 * task's outcome, duration or output. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/cleanup.h"
#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/fakews/fakews.h"

#define SEED_JOBS_MAX 1000
#define SEED_ACTIVE_MAX 20000
#define SEED_ACTIVE_DURATION_MS ((int64_t)24 * 3600 * 1000)
#define DAY_MS ((int64_t)24 * 3600 * 1000)
#define HANG_MAX_MS ((int64_t)600 * 1000)
#define LOG_HEADER_MAX 512
#define RATE_MAX 1000000
#define CLOCK_MAX_MS ((int64_t)7258118400000) /* 2200-01-01 */

static const char *const fault_names[_FAULT_KIND_MAX] = {
    [FAULT_STATUS] = "status",         [FAULT_DELAY] = "delay",
    [FAULT_RESET] = "reset",           [FAULT_HANG] = "hang",
    [FAULT_TRUNCATE] = "truncate",     [FAULT_NON_JSON] = "non_json",
    [FAULT_DROP_REPLY] = "drop_reply",
};

const char *fault_kind_to_string(enum fw_fault_kind k)
{
    return k < _FAULT_KIND_MAX ? fault_names[k] : "unknown";
}

static int bad(struct fw_reply *r, const char *message)
{
    return reply_error(r, 400, "INVALID_PARAMETER_VALUE", "%s", message);
}

static int field_error(struct fw_reply *r, const struct json_error *err)
{
    return reply_error(r, 400, "INVALID_PARAMETER_VALUE", "%s", err->message);
}

/* --- the request log --- */

static char *query_string(const struct fw_request *req)
{
    struct buf b = BUF_INIT(4096);
    for (size_t i = 0; i < req->n_query; i++)
        if (buf_appendf(&b, "%s%s=%s", i ? "&" : "", req->query[i].key,
                        req->query[i].value ? req->query[i].value : "") < 0)
            break;
    if (!b.data)
        return strdup("");
    return buf_steal(&b, NULL);
}

void control_log(struct fakews *ws, const struct fw_request *req, int status, const char *fault,
                 bool processed)
{
    ws->counter_total++;
    if (req->endpoint)
        ws->counters[req->endpoint->id]++;
    else
        ws->counter_unmatched++;

    struct fw_log_entry *e = &ws->log[ws->log_seq % FW_LOG_MAX];
    fw_log_entry_done(e);
    *e = (struct fw_log_entry){
        .seq = ++ws->log_seq,
        .time_ms = ws->now_ms,
        .endpoint = req->endpoint ? (int)req->endpoint->id : -1,
        .status = status,
        .processed = processed,
    };
    e->method = strdup(req->method);
    e->path = strdup(req->path);
    e->query = query_string(req);
    e->fault = fault ? strdup(fault) : NULL;
    e->user_agent = req->user_agent ? strndup(req->user_agent, LOG_HEADER_MAX) : NULL;
    e->workspace_id = req->workspace_id ? strndup(req->workspace_id, LOG_HEADER_MAX) : NULL;
    e->auth = auth_kind(ws, req->authorization);
    const char *token = NULL;
    struct json_error err;
    if (req->body &&
        json_get_string(req->body, "idempotency_token", JSON_NULLABLE, &token, &err) > 0)
        e->idempotency_token = strdup(token);
    /* the token endpoint's form may carry a client secret: never kept */
    if (req->raw_len > 0 && !(req->endpoint && req->endpoint->id == ENDPOINT_OIDC_TOKEN))
        e->body = strndup(req->raw_body, MIN(req->raw_len, (size_t)FW_LOG_BODY_MAX));
}

static int get_requests(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    const char *name = fw_query(req, "endpoint");
    int64_t since = 0;
    int r = fw_query_int64(req, "since", reply, &since);
    if (r < 0)
        return r == -EINVAL ? 0 : r;
    _cleanup_json_ struct json_object *o = json_object_new_object();
    struct json_object *a = json_object_new_array();
    if (!o || json_add(o, "requests", a) < 0)
        return -ENOMEM;
    int64_t first = ws->log_seq > FW_LOG_MAX ? ws->log_seq - FW_LOG_MAX + 1 : 1;
    for (int64_t seq = MAX(first, since + 1); seq <= ws->log_seq; seq++) {
        const struct fw_log_entry *e = &ws->log[(seq - 1) % FW_LOG_MAX];
        const char *ep = e->endpoint >= 0 ? endpoint_table[e->endpoint].name : NULL;
        if (name && !streq_ptr(ep, name))
            continue;
        struct json_object *j = json_object_new_object();
        if (!j || json_append(a, j) < 0)
            return -ENOMEM;
        r = 0;
        r |= json_add_int64(j, "seq", e->seq);
        r |= json_add_int64(j, "time_ms", e->time_ms);
        r |= json_add_string(j, "method", e->method ? e->method : "");
        r |= json_add_string(j, "path", e->path ? e->path : "");
        r |= json_add_string(j, "query", e->query ? e->query : "");
        if (ep)
            r |= json_add_string(j, "endpoint", ep);
        r |= json_add_int64(j, "status", e->status);
        r |= json_add_bool(j, "processed", e->processed);
        if (e->fault)
            r |= json_add_string(j, "fault", e->fault);
        if (e->idempotency_token)
            r |= json_add_string(j, "idempotency_token", e->idempotency_token);
        if (e->body)
            r |= json_add_string(j, "body", e->body);
        if (e->user_agent)
            r |= json_add_string(j, "user_agent", e->user_agent);
        if (e->workspace_id)
            r |= json_add_string(j, "workspace_id", e->workspace_id);
        r |= json_add_string(j, "auth", e->auth ? e->auth : "none");
        if (r < 0)
            return -ENOMEM;
    }
    if (json_add_int64(o, "last_seq", ws->log_seq) < 0)
        return -ENOMEM;
    return reply_json(reply, TAKE_PTR(o));
}

static int get_counters(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    _cleanup_json_ struct json_object *o = json_object_new_object();
    struct json_object *eps = json_object_new_object();
    if (!o || json_add(o, "endpoints", eps) < 0 ||
        json_add_int64(o, "total", (int64_t)ws->counter_total) < 0 ||
        json_add_int64(o, "unmatched", (int64_t)ws->counter_unmatched) < 0 ||
        json_add_int64(o, "faults", (int64_t)ws->counter_faults) < 0 ||
        json_add_int64(o, "rate_limited", (int64_t)ws->counter_rate_limited) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < _ENDPOINT_MAX; i++)
        if (ws->counters[i] &&
            json_add_int64(eps, endpoint_table[i].name, (int64_t)ws->counters[i]) < 0)
            return -ENOMEM;
    return reply_json(reply, TAKE_PTR(o));
}

static void clear_faults(struct fakews *ws)
{
    for (size_t i = 0; i < ws->n_faults; i++)
        free(ws->faults[i].path_prefix);
    ws->n_faults = 0;
}

static int post_reset(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    for (size_t i = 0; i < FW_LOG_MAX; i++)
        fw_log_entry_done(&ws->log[i]);
    ws->log_seq = 0;
    memset(ws->counters, 0, sizeof(ws->counters));
    ws->counter_total = ws->counter_unmatched = 0;
    ws->counter_faults = ws->counter_rate_limited = 0;
    clear_faults(ws);
    return reply_empty(reply);
}

/* --- the clock --- */

static int reply_clock(struct fakews *ws, struct fw_reply *reply)
{
    struct json_object *o = json_object_new_object();
    if (!o || json_add_int64(o, "now_ms", ws->now_ms) < 0 ||
        json_add_bool(o, "manual", ws->cfg.manual_clock) < 0) {
        json_object_put(o);
        return -ENOMEM;
    }
    return reply_json(reply, o);
}

static int get_clock(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    return reply_clock(ws, reply);
}

static int post_clock(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int64_t advance = 0, set = 0;
    struct json_error err = { { 0 } };
    if (!req->body)
        return bad(reply, "Give advance_ms or now_ms.");
    int a = json_get_int64(req->body, "advance_ms", JSON_NULLABLE, &advance, &err);
    if (a < 0)
        return field_error(reply, &err);
    int s = json_get_int64(req->body, "now_ms", JSON_NULLABLE, &set, &err);
    if (s < 0)
        return field_error(reply, &err);
    if (a + s != 1)
        return bad(reply, "Give exactly one of advance_ms and now_ms.");
    if (s && (set < ws->now_ms || set > CLOCK_MAX_MS))
        return bad(reply, "now_ms must not be before the current time (the clock only moves "
                          "forward) nor past the year 2200.");
    if (s)
        advance = set - ws->now_ms;
    if (advance < 0 || advance > CLOCK_MAX_MS - ws->now_ms)
        return bad(reply, "advance_ms must be between 0 and the year 2200.");
    ws->offset_ms += advance;
    fakews_advance(ws);
    return reply_clock(ws, reply);
}

/* --- faults --- */

int control_take_fault(struct fakews *ws, const char *method, const char *path,
                       struct fw_fault *ret)
{
    enum http_method m = http_method_from_string(method);
    for (size_t i = 0; i < ws->n_faults; i++) {
        struct fw_fault *f = &ws->faults[i];
        if (f->methods && !(f->methods & m))
            continue;
        if (f->path_prefix && !startswith(path, f->path_prefix))
            continue;
        if (f->permille && (unsigned)(random() % 1000) >= f->permille)
            continue;
        *ret = *f;
        ret->path_prefix = NULL;
        ws->counter_faults++;
        if (--f->remaining <= 0) {
            free(f->path_prefix);
            memmove(ws->faults + i, ws->faults + i + 1, (ws->n_faults - i - 1) * sizeof(*f));
            ws->n_faults--;
        }
        return 1;
    }
    return 0;
}

static int get_faults(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    _cleanup_json_ struct json_object *o = json_object_new_object();
    struct json_object *a = json_object_new_array();
    if (!o || json_add(o, "faults", a) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < ws->n_faults; i++) {
        const struct fw_fault *f = &ws->faults[i];
        struct json_object *j = json_object_new_object();
        char methods[64] = "";
        if (f->methods)
            (void)http_methods_format(f->methods, methods, sizeof(methods));
        if (!j || json_append(a, j) < 0 || json_add_int64(j, "fault_id", f->id) < 0 ||
            json_add_string(j, "kind", fault_kind_to_string(f->kind)) < 0 ||
            json_add_string(j, "method", methods) < 0 ||
            json_add_string(j, "path_prefix", f->path_prefix ? f->path_prefix : "") < 0 ||
            json_add_int64(j, "remaining", f->remaining) < 0 ||
            json_add_int64(j, "permille", f->permille ? f->permille : 1000) < 0)
            return -ENOMEM;
    }
    return reply_json(reply, TAKE_PTR(o));
}

static int delete_faults(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    clear_faults(ws);
    return reply_empty(reply);
}

static int post_fault(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    struct json_error err = { { 0 } };
    const char *kind = NULL, *method = NULL, *prefix = NULL;
    int64_t count = 1, status = 0, retry_after = -2, delay = 0, permille = 0;
    if (!req->body)
        return bad(reply, "Missing required field: kind");
    if (json_get_string(req->body, "kind", JSON_REQUIRED, &kind, &err) < 0 ||
        json_get_string(req->body, "method", JSON_NULLABLE, &method, &err) < 0 ||
        json_get_string(req->body, "path_prefix", JSON_NULLABLE, &prefix, &err) < 0 ||
        json_get_int64(req->body, "count", JSON_NULLABLE, &count, &err) < 0 ||
        json_get_int64(req->body, "status", JSON_NULLABLE, &status, &err) < 0 ||
        json_get_int64(req->body, "retry_after", JSON_NULLABLE, &retry_after, &err) < 0 ||
        json_get_int64(req->body, "delay_ms", JSON_NULLABLE, &delay, &err) < 0 ||
        json_get_int64(req->body, "permille", JSON_NULLABLE, &permille, &err) < 0)
        return field_error(reply, &err);
    int k = -1;
    for (int i = 0; i < _FAULT_KIND_MAX; i++)
        if (streq(kind, fault_names[i]))
            k = i;
    if (k < 0)
        return bad(reply, "Unknown fault kind; use status, delay, reset, hang, truncate, "
                          "non_json or drop_reply.");
    if (count < 1 || count > 1000000)
        return bad(reply, "count must be between 1 and 1000000.");
    if (permille < 0 || permille > 1000)
        return bad(reply, "permille must be between 0 and 1000.");
    if (k == FAULT_STATUS && (status < 400 || status > 599))
        return bad(reply, "A status fault needs a status between 400 and 599.");
    if (k == FAULT_NON_JSON && status == 0)
        status = 502;
    if ((k == FAULT_DELAY || k == FAULT_HANG) && (delay < 0 || delay > HANG_MAX_MS))
        return bad(reply, "delay_ms must be between 0 and 600000.");
    if (k == FAULT_DELAY && delay == 0)
        return bad(reply, "A delay fault needs delay_ms.");
    if (k == FAULT_HANG)
        delay = delay ? delay : HANG_MAX_MS;
    unsigned methods = 0;
    if (method && !isempty(method)) {
        methods = http_method_from_string(method);
        if (!methods)
            return bad(reply, "Unknown method.");
    }
    if (ws->n_faults >= FW_FAULTS_MAX)
        return reply_error(reply, 429, NULL, "Too many faults at once (%d).", FW_FAULTS_MAX);
    if (retry_after < -1 || retry_after > 86400) {
        /* absent: a Retry-After of 1 s on 429 and 503, as proxies expect */
        retry_after = (status == 429 || status == 503) ? 1 : -1;
    }
    struct fw_fault *f = &ws->faults[ws->n_faults];
    *f = (struct fw_fault){
        .id = ws->next_fault_id++,
        .kind = (enum fw_fault_kind)k,
        .methods = methods,
        .remaining = count,
        .permille = permille == 1000 ? 0 : (unsigned)permille,
        .status = (int)status,
        .retry_after = (int)retry_after,
        .delay_ms = delay,
    };
    if (prefix && !isempty(prefix) && !(f->path_prefix = strdup(prefix)))
        return -ENOMEM;
    ws->n_faults++;
    struct json_object *o = json_object_new_object();
    if (!o || json_add_int64(o, "fault_id", f->id) < 0) {
        json_object_put(o);
        return -ENOMEM;
    }
    return reply_json(reply, o);
}

/* --- seeding --- */

static struct json_object *seed_settings(size_t i)
{
    char name[64];
    snprintf(name, sizeof(name), "seed-job-%zu", i);
    struct json_object *s = json_object_new_object(), *tasks = json_object_new_array(),
                       *t = json_object_new_object(), *nb = json_object_new_object();
    if (!s || !tasks || !t || !nb || json_add_string(s, "name", name) < 0 ||
        json_add_int64(s, "max_concurrent_runs", 1000) < 0 || json_add(s, "tasks", tasks) < 0 ||
        json_append(tasks, t) < 0 || json_add_string(t, "task_key", "main") < 0 ||
        json_add(t, "notebook_task", nb) < 0 ||
        json_add_string(nb, "notebook_path", "/Workspace/Seed/main") < 0) {
        json_object_put(s);
        return NULL;
    }
    return s;
}

static void seed_finish(struct fw_run *run, int64_t start, bool failed)
{
    int64_t at = start + FW_RUN_PENDING_MS;
    for (size_t i = 0; i < run->n_tasks; i++) {
        struct fw_task *t = run->tasks[i];
        t->start_time = at;
        t->exec_time = at + t->setup_ms;
        t->end_time = t->exec_time + t->duration_ms;
        t->lc = LIFE_CYCLE_TERMINATED;
        t->rs = failed ? RESULT_FAILED : RESULT_SUCCESS;
        t->state_message = failed ? "Workload failed, see run output for details" : "";
        at = MAX(at, t->end_time);
    }
    run->start_time = start;
    run->exec_start = start + FW_RUN_PENDING_MS;
    run->end_time = at + FW_RUN_TERMINATING_MS;
    run->lc = LIFE_CYCLE_TERMINATED;
    run->rs = failed ? RESULT_FAILED : RESULT_SUCCESS;
    run->state_message = failed ? "Workload failed, see run output for details" : "";
    run->trigger = strdup("PERIODIC");
}

static int post_seed(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    struct json_error err = { { 0 } };
    int64_t n_jobs = 1, n_runs = 0, n_active = 0, days = 59;
    if (req->body && (json_get_int64(req->body, "jobs", JSON_NULLABLE, &n_jobs, &err) < 0 ||
                      json_get_int64(req->body, "runs", JSON_NULLABLE, &n_runs, &err) < 0 ||
                      json_get_int64(req->body, "active", JSON_NULLABLE, &n_active, &err) < 0 ||
                      json_get_int64(req->body, "days", JSON_NULLABLE, &days, &err) < 0))
        return field_error(reply, &err);
    if (n_jobs < 1 || n_jobs > SEED_JOBS_MAX || (size_t)n_jobs + ws->n_jobs > FW_JOBS_MAX)
        return bad(reply, "jobs must be between 1 and 1000, within the workspace's job quota.");
    if (n_runs < 0 || n_active < 0 || n_active > SEED_ACTIVE_MAX ||
        (size_t)(n_runs + n_active) + ws->n_runs > FW_RUNS_MAX)
        return bad(reply, "runs or active out of range.");
    if (days < 1 || days > 59)
        return bad(reply, "days must be between 1 and 59.");

    _cleanup_free_ struct fw_job **jobs = calloc((size_t)n_jobs, sizeof(*jobs));
    _cleanup_json_ struct json_object *o = json_object_new_object();
    struct json_object *ids = json_object_new_array();
    if (!jobs || !o || json_add(o, "job_ids", ids) < 0)
        return -ENOMEM;
    for (int64_t i = 0; i < n_jobs; i++) {
        struct json_object *s = seed_settings(ws->n_jobs);
        int r = s ? jobs_make(ws, s, ws->cfg.user, API_V22, &jobs[i]) : -ENOMEM;
        if (r < 0)
            return r;
        if ((r = fakews_add_job(ws, jobs[i])) < 0) {
            fw_job_free(jobs[i]);
            return r;
        }
        if (json_append(ids, json_object_new_int64(jobs[i]->job_id)) < 0)
            return -ENOMEM;
    }
    /* Historical runs, evenly over the last `days` days, oldest first. */
    int64_t span = days * DAY_MS, now = ws->now_ms;
    for (int64_t i = 0; i < n_runs; i++) {
        struct fw_run *run = NULL;
        int r = runs_create_job_run(ws, jobs[i % n_jobs], NULL, ws->cfg.user, &run);
        if (r < 0)
            return r;
        seed_finish(run, now - span + (span / n_runs) * i, i % 10 == 9);
        if ((r = fakews_add_run(ws, run, true)) < 0) {
            fw_run_free(run);
            fakews_sort_runs(ws);
            return r;
        }
    }
    fakews_sort_runs(ws);
    for (int64_t i = 0; i < n_active; i++) {
        struct fw_run *run = NULL;
        struct fw_job *job = jobs[i % n_jobs];
        int r = runs_create_job_run(ws, job, NULL, ws->cfg.user, &run);
        if (r < 0)
            return r;
        for (size_t t = 0; t < run->n_tasks; t++)
            run->tasks[t]->duration_ms = SEED_ACTIVE_DURATION_MS;
        if ((r = fakews_add_run(ws, run, false)) < 0) {
            fw_run_free(run);
            return r;
        }
        if ((r = sim_start_run(ws, run, job)) < 0)
            return r;
    }
    if (json_add_int64(o, "runs", n_runs) < 0 || json_add_int64(o, "active", n_active) < 0)
        return -ENOMEM;
    return reply_json(reply, TAKE_PTR(o));
}

/* --- a task's outcome, duration and output --- */

static int set_output(struct fw_task *t, struct json_object *out, struct fw_reply *reply)
{
    static const char *const fields[] = { "result", "logs", "error", "error_trace" };
    char **slots[] = { &t->out.result, &t->out.logs, &t->out.error, &t->out.error_trace };
    bool *flags[] = { &t->out.result_set, &t->out.logs_set, &t->out.error_set, &t->out.error_set };
    struct json_error err = { { 0 } };
    for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
        const char *v;
        int r = json_get_string(out, fields[i], JSON_NULLABLE, &v, &err);
        if (r < 0)
            return field_error(reply, &err) < 0 ? -ENOMEM : -EINVAL;
        if (r == 0)
            continue;
        if (strlen(v) > FW_OUTPUT_MAX)
            return bad(reply, "Output longer than 5 MB.") < 0 ? -ENOMEM : -EINVAL;
        char *c = strdup(v);
        if (!c)
            return -ENOMEM;
        free(*slots[i]);
        *slots[i] = c;
        *flags[i] = true;
    }
    if (json_get_bool(out, "truncated", JSON_NULLABLE, &t->out.result_truncated, &err) < 0 ||
        json_get_bool(out, "logs_truncated", JSON_NULLABLE, &t->out.logs_truncated, &err) < 0)
        return field_error(reply, &err) < 0 ? -ENOMEM : -EINVAL;
    return 0;
}

static int set_task(struct fakews *ws, struct fw_task *t, bool has_result, enum result_state rs,
                    int64_t duration, struct json_object *out, struct fw_reply *reply)
{
    if (has_result) {
        if (life_cycle_is_terminal(t->lc))
            t->rs = rs;
        else
            t->planned = rs;
    }
    if (duration > FW_DURATION_MAX_MS)
        return bad(reply, "duration_ms is too long.") < 0 ? -ENOMEM : -EINVAL;
    if (duration >= 0 && !life_cycle_is_terminal(t->lc)) {
        t->duration_ms = duration;
        /* Never end in the simulated past. */
        if (t->lc == LIFE_CYCLE_RUNNING && t->exec_time + duration < ws->now_ms)
            t->duration_ms = ws->now_ms - t->exec_time;
    }
    if (out)
        return set_output(t, out, reply);
    return 0;
}

static int post_run_set(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    struct json_error err = { { 0 } };
    int64_t run_id = 0, duration = -1;
    const char *task_key = NULL, *result = NULL;
    struct json_object *out = NULL;
    if (!req->body)
        return bad(reply, "Missing required field: run_id");
    if (json_get_id(req->body, "run_id", JSON_REQUIRED, &run_id, &err) < 0 ||
        json_get_string(req->body, "task_key", JSON_NULLABLE, &task_key, &err) < 0 ||
        json_get_string(req->body, "result_state", JSON_NULLABLE, &result, &err) < 0 ||
        json_get_int64(req->body, "duration_ms", JSON_NULLABLE, &duration, &err) < 0 ||
        json_get_object(req->body, "output", JSON_NULLABLE, &out, &err) < 0)
        return field_error(reply, &err);
    enum result_state rs = RESULT_NONE;
    if (result) {
        rs = result_state_from_string(result);
        if (rs == RESULT_NONE || rs == RESULT_UNKNOWN)
            return bad(reply, "Unknown result_state.");
    }
    struct fw_run *run = fakews_run(ws, run_id);
    struct fw_task *one = run ? NULL : fakews_task(ws, run_id);
    if (!run && !one)
        return reply_no_run(reply, run_id);
    int r = 0, hits = 0;
    if (one) {
        r = set_task(ws, one, result != NULL, rs, duration, out, reply);
        run = one->run;
        hits = 1;
    } else
        for (size_t i = 0; i < run->n_tasks && r >= 0; i++)
            if (!task_key || streq(task_key, run->tasks[i]->task_key)) {
                r = set_task(ws, run->tasks[i], result != NULL, rs, duration, out, reply);
                hits++;
            }
    if (r == -EINVAL)
        return 0;
    if (r < 0)
        return r;
    if (hits == 0)
        return bad(reply, "No task with this task_key in the run.");
    if ((r = sim_retime(ws, run)) < 0)
        return r;
    return reply_empty(reply);
}

static int get_state(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    struct json_object *o = json_object_new_object();
    if (!o || json_add_int64(o, "jobs", (int64_t)ws->n_jobs) < 0 ||
        json_add_int64(o, "runs", (int64_t)ws->n_runs) < 0 ||
        json_add_int64(o, "scheduled", (int64_t)ws->n_heap) < 0 ||
        json_add_int64(o, "now_ms", ws->now_ms) < 0) {
        json_object_put(o);
        return -ENOMEM;
    }
    return reply_json(reply, o);
}

/* --- the rate limit --- */

int control_rate_limited(struct fakews *ws, const char *path)
{
    if (ws->rate_rps <= 0 || !startswith(path, "/api/"))
        return 0;
    int64_t now = fw_mono_ms();
    ws->rate_tokens += (double)(now - ws->rate_last_ms) * (double)ws->rate_rps / 1000.0;
    ws->rate_tokens = MIN(ws->rate_tokens, (double)ws->rate_burst);
    ws->rate_last_ms = now;
    if (ws->rate_tokens < 1.0) {
        ws->counter_rate_limited++;
        return 1;
    }
    ws->rate_tokens -= 1.0;
    return 0;
}

static int reply_rate(struct fakews *ws, struct fw_reply *reply)
{
    struct json_object *o = json_object_new_object();
    if (!o || json_add_int64(o, "rps", ws->rate_rps) < 0 ||
        json_add_int64(o, "burst", ws->rate_burst) < 0) {
        json_object_put(o);
        return -ENOMEM;
    }
    return reply_json(reply, o);
}

static int get_rate(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    return reply_rate(ws, reply);
}

static int post_rate(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    struct json_error err = { { 0 } };
    int64_t rps = 0, burst = -1;
    if (!req->body)
        return bad(reply, "Missing required field: rps");
    if (json_get_int64(req->body, "rps", JSON_REQUIRED, &rps, &err) < 0 ||
        json_get_int64(req->body, "burst", JSON_NULLABLE, &burst, &err) < 0)
        return field_error(reply, &err);
    if (burst < 0)
        burst = rps;
    if (rps != 0 && (rps < 0 || rps > RATE_MAX || burst < 1 || burst > RATE_MAX))
        return bad(reply, "rps and burst must be between 1 and 1000000 (rps 0: off).");
    ws->rate_rps = rps;
    ws->rate_burst = burst;
    ws->rate_tokens = (double)burst;
    ws->rate_last_ms = fw_mono_ms();
    return reply_rate(ws, reply);
}

static const struct {
    enum http_method method;
    const char *path;
    fw_handler_t handler;
} control_table[] = {
    { HTTP_GET, "/__fake/clock", get_clock },
    { HTTP_POST, "/__fake/clock", post_clock },
    { HTTP_GET, "/__fake/requests", get_requests },
    { HTTP_GET, "/__fake/counters", get_counters },
    { HTTP_POST, "/__fake/reset", post_reset },
    { HTTP_GET, "/__fake/faults", get_faults },
    { HTTP_POST, "/__fake/faults", post_fault },
    { HTTP_DELETE, "/__fake/faults", delete_faults },
    { HTTP_POST, "/__fake/seed", post_seed },
    { HTTP_POST, "/__fake/runs/set", post_run_set },
    { HTTP_GET, "/__fake/state", get_state },
    { HTTP_GET, "/__fake/rate-limit", get_rate },
    { HTTP_POST, "/__fake/rate-limit", post_rate },
};

int control_dispatch(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    if (!startswith(req->path, "/__fake/"))
        return 0;
    enum http_method m = http_method_from_string(req->method);
    bool path_known = false;
    for (size_t i = 0; i < ELEMENTSOF(control_table); i++) {
        if (!streq(control_table[i].path, req->path))
            continue;
        path_known = true;
        if (control_table[i].method != m)
            continue;
        int r = control_table[i].handler(ws, req, reply);
        if (r < 0)
            (void)reply_error(reply, 500, NULL, "fakews: %s", strerror(-r));
        return 1;
    }
    if (path_known)
        (void)reply_error(reply, 405, NULL, "Method %s is not allowed on %s.", req->method,
                          req->path);
    else
        (void)reply_error(reply, 404, NULL, "No control endpoint %s.", req->path);
    return 1;
}
