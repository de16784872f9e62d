/* tests/fakews/ws.c: the workspace state: clock, ids, jobs and runs by id
 * and in order, the heap of active runs, expiry; and the small request and
 * reply helpers every handler uses. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/apierror.h"
#include "proto/cleanup.h"
#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/fakews/fakews.h"

int64_t fw_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fakews_new(const struct fakews_config *cfg, struct fakews **ret)
{
    struct fakews *ws = calloc(1, sizeof(*ws));
    if (!ws)
        return -ENOMEM;
    ws->cfg = *cfg;
    ws->sim_base_ms = cfg->epoch_ms > 0 ? cfg->epoch_ms : wall_ms();
    ws->mono_base_ms = fw_mono_ms();
    ws->now_ms = ws->sim_base_ms;
    ws->next_job_id = cfg->small_ids ? 1001 : FW_JOB_ID_BASE;
    ws->next_run_id = cfg->small_ids ? 1000001 : FW_RUN_ID_BASE;
    ws->next_fault_id = 1;
    ws->idempotency = json_object_new_object();
    if (!ws->idempotency || idmap_new(&ws->jobs_by_id) < 0 || idmap_new(&ws->runs_by_id) < 0 ||
        idmap_new(&ws->tasks_by_id) < 0) {
        fakews_free(ws);
        return -ENOMEM;
    }
    *ret = ws;
    return 0;
}

void fw_log_entry_done(struct fw_log_entry *e)
{
    free(e->method);
    free(e->path);
    free(e->query);
    free(e->fault);
    free(e->idempotency_token);
    free(e->body);
    free(e->user_agent);
    free(e->workspace_id);
    *e = (struct fw_log_entry){ 0 };
}

void fw_output_done(struct fw_output *o)
{
    free(o->result);
    free(o->logs);
    free(o->error);
    free(o->error_trace);
    *o = (struct fw_output){ 0 };
}

struct fw_task *fw_task_free(struct fw_task *t)
{
    if (!t)
        return NULL;
    free(t->task_key);
    if (t->spec)
        json_object_put(t->spec);
    fw_output_done(&t->out);
    for (size_t i = 0; i < t->n_iters; i++)
        fw_task_free(t->iters[i]);
    free(t->iters);
    free(t);
    return NULL;
}

struct fw_run *fw_run_free(struct fw_run *run)
{
    if (!run)
        return NULL;
    for (size_t i = 0; i < run->n_tasks; i++)
        fw_task_free(run->tasks[i]);
    for (size_t i = 0; i < run->n_old; i++)
        fw_task_free(run->old[i]);
    free(run->tasks);
    free(run->old);
    for (size_t i = 0; i < run->n_repairs; i++)
        free(run->repairs[i].task_run_ids);
    free(run->repairs);
    free(run->run_name);
    free(run->creator);
    free(run->idempotency_token);
    free(run->trigger);
    free(run->message);
    if (run->job_clusters)
        json_object_put(run->job_clusters);
    if (run->job_parameters)
        json_object_put(run->job_parameters);
    if (run->overriding)
        json_object_put(run->overriding);
    free(run);
    return NULL;
}

struct fw_job *fw_job_free(struct fw_job *job)
{
    if (!job)
        return NULL;
    free(job->creator);
    if (job->settings)
        json_object_put(job->settings);
    perms_free_acl(job->acl, job->n_acl);
    free(job->queue);
    free(job);
    return NULL;
}

struct fakews *fakews_free(struct fakews *ws)
{
    if (!ws)
        return NULL;
    for (size_t i = 0; i < ws->n_runs; i++)
        fw_run_free(ws->runs[i]);
    free(ws->runs);
    for (size_t i = 0; i < ws->n_jobs; i++)
        fw_job_free(ws->jobs[i]);
    free(ws->jobs);
    free(ws->heap);
    idmap_free(ws->jobs_by_id);
    idmap_free(ws->runs_by_id);
    idmap_free(ws->tasks_by_id);
    if (ws->idempotency)
        json_object_put(ws->idempotency);
    for (size_t i = 0; i < ws->n_tokens; i++) {
        free(ws->tokens[i].token);
        free(ws->tokens[i].client_id);
    }
    for (size_t i = 0; i < ws->n_faults; i++)
        free(ws->faults[i].path_prefix);
    for (size_t i = 0; i < FW_LOG_MAX; i++)
        fw_log_entry_done(&ws->log[i]);
    free(ws);
    return NULL;
}

int64_t fakews_clock(const struct fakews *ws)
{
    int64_t t = ws->sim_base_ms + ws->offset_ms;
    if (!ws->cfg.manual_clock)
        t += (int64_t)((double)(fw_mono_ms() - ws->mono_base_ms) * ws->cfg.speed);
    /* The simulation never goes back. */
    return MAX(t, ws->now_ms);
}

static void run_unlink(struct fakews *ws, struct fw_run *run, bool forget_token);

static void expire_runs(struct fakews *ws, int64_t now)
{
    /* Runs are ordered by start time: the old ones are at the front. An
     * active run is kept whatever its age. One pass, one compaction. */
    size_t keep = 0, i = 0;
    while (i < ws->n_runs && ws->runs[i]->start_time + FW_RETENTION_MS <= now) {
        struct fw_run *run = ws->runs[i++];
        if (sim_run_is_active(run)) {
            ws->runs[keep++] = run;
            continue;
        }
        run_unlink(ws, run, true);
    }
    if (keep == i)
        return;
    memmove(ws->runs + keep, ws->runs + i, (ws->n_runs - i) * sizeof(*ws->runs));
    ws->n_runs -= i - keep;
}

void fakews_advance(struct fakews *ws)
{
    int64_t now = fakews_clock(ws);
    sim_advance(ws, now);
    ws->now_ms = now;
    expire_runs(ws, now);
}

int64_t fakews_next_id(struct fakews *ws, bool job)
{
    return job ? ws->next_job_id++ : ws->next_run_id++;
}

struct fw_job *fakews_job(struct fakews *ws, int64_t job_id)
{
    return idmap_get(ws->jobs_by_id, job_id);
}

struct fw_run *fakews_run(struct fakews *ws, int64_t run_id)
{
    return idmap_get(ws->runs_by_id, run_id);
}

struct fw_task *fakews_task(struct fakews *ws, int64_t run_id)
{
    return idmap_get(ws->tasks_by_id, run_id);
}

static int grow_array(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = MAX(*cap * 2, MAX(need, (size_t)64));
    void *q = realloc(*p, n * elem);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

int fakews_add_job(struct fakews *ws, struct fw_job *job)
{
    int r = grow_array((void **)&ws->jobs, &ws->cap_jobs, ws->n_jobs + 1, sizeof(*ws->jobs));
    if (r < 0)
        return r;
    r = idmap_put(ws->jobs_by_id, job->job_id, job);
    if (r < 0)
        return r;
    ws->jobs[ws->n_jobs++] = job;
    sim_schedule_job(ws, job);
    return 0;
}

void fakews_delete_job(struct fakews *ws, struct fw_job *job)
{
    /* Its runs stay (they are kept until they expire); queued ones lose
     * their queue. */
    for (size_t i = 0; i < ws->n_jobs; i++) {
        if (ws->jobs[i] == job) {
            memmove(ws->jobs + i, ws->jobs + i + 1, (ws->n_jobs - i - 1) * sizeof(*ws->jobs));
            ws->n_jobs--;
            break;
        }
    }
    idmap_remove(ws->jobs_by_id, job->job_id);
    if (job->next_fire > 0)
        ws->n_periodic--;
    fw_job_free(job);
}

static int run_cmp(const struct fw_run *a, int64_t start_time, int64_t run_id)
{
    if (a->start_time != start_time)
        return a->start_time < start_time ? -1 : 1;
    if (a->run_id != run_id)
        return a->run_id < run_id ? -1 : 1;
    return 0;
}

size_t fakews_runs_lower_bound(struct fakews *ws, int64_t start_time, int64_t run_id)
{
    size_t lo = 0, hi = ws->n_runs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (run_cmp(ws->runs[mid], start_time, run_id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int run_sort_cmp(const void *a, const void *b)
{
    const struct fw_run *x = *(struct fw_run *const *)a, *y = *(struct fw_run *const *)b;
    return run_cmp(x, y->start_time, y->run_id);
}

void fakews_sort_runs(struct fakews *ws)
{
    qsort(ws->runs, ws->n_runs, sizeof(*ws->runs), run_sort_cmp);
}

int fakews_add_run(struct fakews *ws, struct fw_run *run, bool append)
{
    if (ws->n_runs >= FW_RUNS_MAX)
        return -ENOSPC;
    int r = grow_array((void **)&ws->runs, &ws->cap_runs, ws->n_runs + 1, sizeof(*ws->runs));
    if (r < 0)
        return r;
    r = idmap_put(ws->runs_by_id, run->run_id, run);
    if (r < 0)
        return r;
    for (size_t i = 0; i < run->n_tasks; i++) {
        r = idmap_put(ws->tasks_by_id, run->tasks[i]->run_id, run->tasks[i]);
        if (r < 0) {
            for (size_t j = 0; j < i; j++)
                idmap_remove(ws->tasks_by_id, run->tasks[j]->run_id);
            idmap_remove(ws->runs_by_id, run->run_id);
            return r;
        }
    }
    size_t at = ws->n_runs;
    if (!append && at > 0 && run_cmp(ws->runs[at - 1], run->start_time, run->run_id) > 0) {
        at = fakews_runs_lower_bound(ws, run->start_time, run->run_id);
        memmove(ws->runs + at + 1, ws->runs + at, (ws->n_runs - at) * sizeof(*ws->runs));
    }
    ws->runs[at] = run;
    ws->n_runs++;
    run->heap_idx = SIZE_MAX;
    return 0;
}

static void heap_swap(struct fakews *ws, size_t a, size_t b)
{
    struct fw_run *t = ws->heap[a];
    ws->heap[a] = ws->heap[b];
    ws->heap[b] = t;
    ws->heap[a]->heap_idx = a;
    ws->heap[b]->heap_idx = b;
}

static void heap_up(struct fakews *ws, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (ws->heap[p]->due <= ws->heap[i]->due)
            break;
        heap_swap(ws, p, i);
        i = p;
    }
}

static void heap_down(struct fakews *ws, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < ws->n_heap && ws->heap[l]->due < ws->heap[m]->due)
            m = l;
        if (r < ws->n_heap && ws->heap[r]->due < ws->heap[m]->due)
            m = r;
        if (m == i)
            break;
        heap_swap(ws, i, m);
        i = m;
    }
}

static void heap_remove(struct fakews *ws, struct fw_run *run)
{
    size_t i = run->heap_idx;
    if (i == SIZE_MAX)
        return;
    ws->n_heap--;
    if (i != ws->n_heap) {
        ws->heap[i] = ws->heap[ws->n_heap];
        ws->heap[i]->heap_idx = i;
        heap_down(ws, i);
        heap_up(ws, i);
    }
    run->heap_idx = SIZE_MAX;
}

/* Puts run in the heap at its due time, or takes it out when it has none. */
int fakews_heap_update(struct fakews *ws, struct fw_run *run)
{
    if (run->due == INT64_MAX) {
        heap_remove(ws, run);
        return 0;
    }
    if (run->heap_idx == SIZE_MAX) {
        int r = grow_array((void **)&ws->heap, &ws->cap_heap, ws->n_heap + 1, sizeof(*ws->heap));
        if (r < 0)
            return r;
        run->heap_idx = ws->n_heap;
        ws->heap[ws->n_heap++] = run;
        heap_up(ws, run->heap_idx);
        return 0;
    }
    heap_down(ws, run->heap_idx);
    heap_up(ws, run->heap_idx);
    return 0;
}

void fakews_delete_run(struct fakews *ws, struct fw_run *run)
{
    size_t at = fakews_runs_lower_bound(ws, run->start_time, run->run_id);
    if (at < ws->n_runs && ws->runs[at] == run) {
        memmove(ws->runs + at, ws->runs + at + 1, (ws->n_runs - at - 1) * sizeof(*ws->runs));
        ws->n_runs--;
    }
    run_unlink(ws, run, false);
}

/* Everything of deleting a run but taking it out of ws->runs. */
static void run_unlink(struct fakews *ws, struct fw_run *run, bool forget_token)
{
    heap_remove(ws, run);
    idmap_remove(ws->runs_by_id, run->run_id);
    for (size_t i = 0; i < run->n_tasks + run->n_old; i++) {
        struct fw_task *t = i < run->n_tasks ? run->tasks[i] : run->old[i - run->n_tasks];
        idmap_remove(ws->tasks_by_id, t->run_id);
        for (size_t k = 0; k < t->n_iters; k++)
            idmap_remove(ws->tasks_by_id, t->iters[k]->run_id);
    }
    struct fw_job *job = run->job_id ? fakews_job(ws, run->job_id) : NULL;
    if (job) {
        for (size_t i = 0; i < job->n_queue; i++)
            if (job->queue[i] == run) {
                memmove(job->queue + i, job->queue + i + 1,
                        (job->n_queue - i - 1) * sizeof(*job->queue));
                job->n_queue--;
                break;
            }
        if (run->holds_slot && job->active_runs > 0)
            job->active_runs--;
    }
    /* A deleted run's token stays reserved (a repeat gets an error); an
     * expired run's token is forgotten, which bounds the token table by
     * the runs held. */
    if (forget_token && run->idempotency_token)
        json_object_object_del(ws->idempotency, run->idempotency_token);
    fw_run_free(run);
}

/* --- replies and request helpers --- */

int reply_error(struct fw_reply *r, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct json_object *o = NULL;
    int k = api_error_build(code ? code : api_error_code_for_status(status), msg, &o);
    if (k < 0)
        return k;
    if (r->json)
        json_object_put(r->json);
    r->json = o;
    r->status = status;
    return 0;
}

int reply_json(struct fw_reply *r, struct json_object *o)
{
    if (!o)
        return -ENOMEM;
    if (r->json)
        json_object_put(r->json);
    r->json = o;
    r->status = 200;
    return 0;
}

int reply_empty(struct fw_reply *r)
{
    return reply_json(r, json_object_new_object());
}

int reply_missing(struct fw_reply *r, const char *field)
{
    return reply_error(r, 400, "INVALID_PARAMETER_VALUE", "Missing required field: %s", field);
}

int reply_no_job(struct fw_reply *r, int64_t job_id)
{
    return reply_error(r, 400, "INVALID_PARAMETER_VALUE", "Job %" PRId64 " does not exist.",
                       job_id);
}

int reply_no_run(struct fw_reply *r, int64_t run_id)
{
    return reply_error(r, 400, "INVALID_PARAMETER_VALUE", "Run %" PRId64 " does not exist.",
                       run_id);
}

const char *fw_query(const struct fw_request *req, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < req->n_query; i++)
        if (streq(req->query[i].key, key))
            v = req->query[i].value;
    return v;
}

int fw_query_id(const struct fw_request *req, const char *key, struct fw_reply *r, int64_t *ret)
{
    const char *v = fw_query(req, key);
    if (!v)
        return 0;
    int64_t id;
    if (parse_id(v, &id) < 0) {
        int k = reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                            "Invalid value for parameter %s: '%s' is not a valid id.", key, v);
        return k < 0 ? k : -EINVAL;
    }
    *ret = id;
    return 1;
}

int fw_query_int64(const struct fw_request *req, const char *key, struct fw_reply *r, int64_t *ret)
{
    const char *v = fw_query(req, key);
    if (!v)
        return 0;
    int64_t n;
    if (parse_int64(v, &n) < 0) {
        int k = reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                            "Invalid value for parameter %s: '%s' is not a number.", key, v);
        return k < 0 ? k : -EINVAL;
    }
    *ret = n;
    return 1;
}

int fw_query_bool(const struct fw_request *req, const char *key, struct fw_reply *r, bool *ret)
{
    const char *v = fw_query(req, key);
    if (!v)
        return 0;
    bool b;
    if (parse_bool(v, &b) < 0) {
        int k = reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                            "Invalid value for parameter %s: '%s' is not a boolean.", key, v);
        return k < 0 ? k : -EINVAL;
    }
    *ret = b;
    return 1;
}

int fw_query_limit(const struct fw_request *req, struct fw_reply *r, int64_t dflt,
                   int64_t zero_means, int64_t max, int64_t *ret_limit, int64_t *ret_offset)
{
    int64_t limit = dflt, offset = 0;
    int k;
    if ((k = fw_query_int64(req, "limit", r, &limit)) < 0 ||
        (k = fw_query_int64(req, "offset", r, &offset)) < 0)
        return k;
    if (limit == 0)
        limit = zero_means;
    if (limit < 0 || limit > max) {
        k = reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                        limit < 0 ? "Invalid limit %" PRId64 " - it has to be greater than 0."
                                  : "Invalid limit %" PRId64 " - it has to be no more than %" PRId64
                                    ".",
                        limit, max);
        return k < 0 ? k : -EINVAL;
    }
    if (offset < 0) {
        k = reply_error(r, 400, "INVALID_PARAMETER_VALUE",
                        "Invalid offset %" PRId64 " - it has to be non-negative.", offset);
        return k < 0 ? k : -EINVAL;
    }
    *ret_limit = limit;
    *ret_offset = offset;
    return 0;
}

int fw_body_id(const struct fw_request *req, const char *field, bool required, struct fw_reply *r,
               int64_t *ret)
{
    struct json_error err = { { 0 } };
    if (!req->body) {
        if (!required)
            return 0;
        int k = reply_missing(r, field);
        return k < 0 ? k : -EINVAL;
    }
    int k = json_get_id(req->body, field, required ? JSON_REQUIRED : JSON_OPTIONAL, ret, &err);
    if (k < 0) {
        k = reply_error(r, 400, "INVALID_PARAMETER_VALUE", "%s", err.message);
        return k < 0 ? k : -EINVAL;
    }
    return k;
}

char *fw_token_encode(char kind, int64_t a, int64_t b)
{
    char text[64];
    int n = snprintf(text, sizeof(text), "%c:%" PRId64 ":%" PRId64, kind, a, b);
    if (n < 0 || (size_t)n >= sizeof(text))
        return NULL;
    return hexmem(text, (size_t)n);
}

int fw_token_decode(const char *token, char kind, int64_t *ret_a, int64_t *ret_b)
{
    char text[64];
    size_t n = strlen(token);
    if (n % 2 || n / 2 >= sizeof(text) || n < 2)
        return -EINVAL;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = unhexchar(token[2 * i]), lo = unhexchar(token[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        text[i] = (char)(hi * 16 + lo);
    }
    text[n / 2] = 0;
    if (text[0] != kind || text[1] != ':')
        return -EINVAL;
    char *sep = strchr(text + 2, ':');
    if (!sep)
        return -EINVAL;
    *sep = 0;
    int64_t a, b;
    if (parse_int64(text + 2, &a) < 0 || parse_int64(sep + 1, &b) < 0)
        return -EINVAL;
    *ret_a = a;
    *ret_b = b;
    return 0;
}
