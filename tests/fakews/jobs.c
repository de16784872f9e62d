/* tests/fakews/jobs.c: jobs create/get/list/reset/update/delete with the
 * settings checks, defaults, update merges and paging of reference §1-§4. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/cleanup.h"
#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/fakews/fakews.h"

#define NAME_MAX_BYTES 4096
#define DESCRIPTION_MAX 27700
#define TAGS_MAX 25
#define MAX_CONCURRENT_RUNS_MAX 1000
#define LIST_LIMIT_MAX 100
#define LIST_LIMIT_DEFAULT 20

_printf_(2, 3) static int bad(struct fw_reply *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int k = reply_error(r, 400, "INVALID_PARAMETER_VALUE", "%s", msg);
    return k < 0 ? k : -EINVAL;
}

/* Checks that every element of array field has a unique string key. */
static int check_keyed(struct json_object *settings, const char *field, const char *key, size_t max,
                       struct fw_reply *r)
{
    struct json_object *a, *k;
    if (!json_object_object_get_ex(settings, field, &a) || json_object_is_type(a, json_type_null))
        return 0;
    if (!json_object_is_type(a, json_type_array))
        return bad(r, "Invalid value for %s: expected an array.", field);
    size_t n = json_object_array_length(a);
    if (n > max)
        return bad(r, "Too many elements in %s.", field);
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(a, i);
        if (!json_object_is_type(e, json_type_object))
            return bad(r, "Invalid value for %s: expected an object.", field);
        if (!json_object_object_get_ex(e, key, &k) || !json_object_is_type(k, json_type_string) ||
            isempty(json_object_get_string(k)))
            return bad(r, "Missing required field: %s.%s", field, key);
        for (size_t j = 0; j < i; j++) {
            struct json_object *o = json_object_array_get_idx(a, j), *ok;
            if (json_object_object_get_ex(o, key, &ok) &&
                streq(json_object_get_string(ok), json_object_get_string(k)))
                return bad(r, "%s '%s' is not unique.", key, json_object_get_string(k));
        }
    }
    return 0;
}

static bool has_keyed(struct json_object *settings, const char *field, const char *key,
                      const char *value)
{
    struct json_object *a, *k;
    if (!json_object_object_get_ex(settings, field, &a) || !json_object_is_type(a, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(a); i++)
        if (json_object_object_get_ex(json_object_array_get_idx(a, i), key, &k) &&
            streq(json_object_get_string(k), value))
            return true;
    return false;
}

/* The checks a workspace makes on JobSettings (create, reset, update). */
int jobs_check_settings(struct json_object *s, bool submit, struct fw_reply *r)
{
    struct json_object *v, *tasks;
    struct json_error err = { { 0 } };
    const char *str;
    int64_t n;
    int k;

    if ((k = json_get_string(s, submit ? "run_name" : "name", JSON_NULLABLE, &str, &err)) < 0)
        return bad(r, "%s", err.message);
    if (k > 0 && strlen(str) > NAME_MAX_BYTES)
        return bad(r, "The %s exceeds the maximum length of 4096 bytes.",
                   submit ? "run name" : "job name");
    if ((k = json_get_string(s, "description", JSON_NULLABLE, &str, &err)) < 0)
        return bad(r, "%s", err.message);
    if (k > 0 && strlen(str) > DESCRIPTION_MAX)
        return bad(r, "The description exceeds the maximum length of 27700 characters.");
    if ((k = json_get_int64(s, "max_concurrent_runs", JSON_NULLABLE, &n, &err)) < 0)
        return bad(r, "%s", err.message);
    if (k > 0 && (n < 0 || n > MAX_CONCURRENT_RUNS_MAX))
        return bad(r, "max_concurrent_runs must be between 0 and 1000.");
    if ((k = json_get_int64(s, "timeout_seconds", JSON_NULLABLE, &n, &err)) < 0)
        return bad(r, "%s", err.message);
    if (k > 0 && (n < 0 || n > FW_DURATION_MAX_MS / 1000))
        return bad(r, "timeout_seconds must be between 0 and %" PRId64 ".",
                   FW_DURATION_MAX_MS / 1000);
    if (json_object_object_get_ex(s, "tags", &v) && json_object_is_type(v, json_type_object) &&
        json_object_object_length(v) > TAGS_MAX)
        return bad(r, "A job can have at most 25 tags.");
    if (!submit && sim_periodic_ms(s) < 0)
        return bad(r, "Invalid trigger: periodic needs an interval of 1 to 10000 and a unit of "
                      "MINUTES, HOURS, DAYS or WEEKS.");
    if (submit && json_object_object_get_ex(s, "job_clusters", &v))
        return bad(r, "job_clusters is not supported in runs/submit.");
    if ((k = check_keyed(s, "tasks", "task_key", FW_TASKS_WRITE_MAX, r)) < 0 ||
        (k = check_keyed(s, "job_clusters", "job_cluster_key", FW_TASKS_WRITE_MAX, r)) < 0 ||
        (k = check_keyed(s, "environments", "environment_key", FW_TASKS_WRITE_MAX, r)) < 0)
        return k;
    if (json_object_object_get_ex(s, "parameters", &v) && !json_object_is_type(v, json_type_null) &&
        !json_object_is_type(v, json_type_array))
        return bad(r, "Invalid value for parameters: expected an array.");
    if (json_object_object_get_ex(s, "parameters", &v) && json_object_is_type(v, json_type_array))
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            struct json_object *p = json_object_array_get_idx(v, i), *x;
            if (!json_object_object_get_ex(p, "name", &x))
                return bad(r, "Missing required field: %s.%s", "parameters", "name");
            if (!json_object_object_get_ex(p, "default", &x))
                return bad(r, "Missing required field: %s.%s", "parameters", "default");
        }
    if (!json_object_object_get_ex(s, "tasks", &tasks) ||
        !json_object_is_type(tasks, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(tasks); i++) {
        struct json_object *t = json_object_array_get_idx(tasks, i), *deps, *x;
        const char *key = json_object_get_string(json_object_object_get(t, "task_key"));
        if (submit && json_object_object_get_ex(t, "job_cluster_key", &x))
            return bad(r, "Task %s: job_cluster_key is not supported in runs/submit.", key);
        if (json_object_object_get_ex(t, "job_cluster_key", &x) &&
            !has_keyed(s, "job_clusters", "job_cluster_key", json_object_get_string(x)))
            return bad(r, "Task %s refers to job cluster '%s' which is not defined in the job.",
                       key, json_object_get_string(x));
        if (!json_object_object_get_ex(t, "depends_on", &deps))
            continue;
        if (!json_object_is_type(deps, json_type_array))
            return bad(r, "Invalid value for %s.depends_on of task %s.", "tasks", key);
        for (size_t j = 0; j < json_object_array_length(deps); j++) {
            struct json_object *d = json_object_array_get_idx(deps, j), *dk;
            if (!json_object_object_get_ex(d, "task_key", &dk) ||
                !json_object_is_type(dk, json_type_string))
                return bad(r, "Missing required field: %s.%s", "depends_on", "task_key");
            if (streq(json_object_get_string(dk), key))
                return bad(r, "Task %s depends on itself.", key);
            if (!has_keyed(s, "tasks", "task_key", json_object_get_string(dk)))
                return bad(r, "Task %s depends on %s, which is not defined in the job.", key,
                           json_object_get_string(dk));
        }
    }
    return 0;
}

static int set_default(struct json_object *s, const char *key, struct json_object *v)
{
    if (!v)
        return -ENOMEM;
    if (json_object_object_get_ex(s, key, NULL)) {
        json_object_put(v);
        return 0;
    }
    return json_add(s, key, v);
}

static int by_task_key(const void *a, const void *b)
{
    struct json_object *x = *(struct json_object *const *)a, *y = *(struct json_object *const *)b;
    struct json_object *kx = NULL, *ky = NULL;
    json_object_object_get_ex(x, "task_key", &kx);
    json_object_object_get_ex(y, "task_key", &ky);
    return strcmp(kx ? json_object_get_string(kx) : "", ky ? json_object_get_string(ky) : "");
}

/* What a workspace adds to each task: run_if, timeout_seconds,
 * email_notifications, and depends_on sorted by task_key. */
static int task_defaults(struct json_object *s)
{
    struct json_object *tasks, *deps;
    int r = 0;
    if (!json_object_object_get_ex(s, "tasks", &tasks) ||
        !json_object_is_type(tasks, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(tasks); i++) {
        struct json_object *t = json_object_array_get_idx(tasks, i);
        if (!json_object_is_type(t, json_type_object))
            continue;
        r |= set_default(t, "run_if", json_object_new_string("ALL_SUCCESS"));
        r |= set_default(t, "timeout_seconds", json_object_new_int64(0));
        r |= set_default(t, "email_notifications", json_object_new_object());
        if (json_object_object_get_ex(t, "depends_on", &deps) &&
            json_object_is_type(deps, json_type_array))
            json_object_array_sort(deps, by_task_key);
    }
    return r < 0 ? -ENOMEM : 0;
}

static int apply_defaults(struct json_object *s, enum api_version version)
{
    int r = task_defaults(s);
    r |= set_default(s, "name", json_object_new_string("Untitled"));
    r |= set_default(s, "email_notifications", json_object_new_object());
    r |= set_default(s, "webhook_notifications", json_object_new_object());
    r |= set_default(s, "timeout_seconds", json_object_new_int64(0));
    r |= set_default(s, "max_concurrent_runs", json_object_new_int64(1));
    /* format is ignored on write and always MULTI_TASK */
    r |= json_add_string(s, "format", "MULTI_TASK");
    if (version == API_V22) {
        /* jobs created through 2.2 queue by default (reference §2.2) */
        struct json_object *q = json_object_new_object();
        if (q && json_add_bool(q, "enabled", true) < 0)
            q = NULL;
        r |= set_default(s, "queue", q);
    }
    return r < 0 ? -ENOMEM : 0;
}

int jobs_make(struct fakews *ws, struct json_object *settings, const char *creator,
              enum api_version version, struct fw_job **ret)
{
    _cleanup_json_ struct json_object *s = settings;
    struct fw_job *job = calloc(1, sizeof(*job));
    if (!job)
        return -ENOMEM;
    job->creator = strdup(creator);
    job->acl = calloc(1, sizeof(*job->acl));
    if (!job->creator || !job->acl || apply_defaults(s, version) < 0) {
        fw_job_free(job);
        return -ENOMEM;
    }
    job->acl[0].kind = PRINCIPAL_USER;
    job->acl[0].name = strdup(creator);
    job->acl[0].level = strdup("IS_OWNER");
    job->n_acl = 1;
    if (!job->acl[0].name || !job->acl[0].level) {
        fw_job_free(job);
        return -ENOMEM;
    }
    job->job_id = fakews_next_id(ws, true);
    job->created_time = ws->now_ms;
    job->created_version = version;
    job->settings = TAKE_PTR(s);
    *ret = job;
    return 0;
}

/* A copy of the request body without the keys that are not settings. */
static struct json_object *settings_from_body(struct json_object *body)
{
    struct json_object *s = json_object_new_object();
    if (!s)
        return NULL;
    json_object_object_foreach (body, key, val) {
        /* null counts as absent */
        if (streq(key, "access_control_list") || !val)
            continue;
        struct json_object *c = NULL;
        if (json_object_deep_copy(val, &c, NULL) < 0 || json_add(s, key, c) < 0) {
            json_object_put(s);
            return NULL;
        }
    }
    return s;
}

int jobs_create(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    _cleanup_json_ struct json_object *empty = NULL;
    struct json_object *body = req->body;
    if (!body)
        body = empty = json_object_new_object();
    if (!body)
        return -ENOMEM;
    int r = jobs_check_settings(body, false, reply);
    if (r < 0)
        return r == -EINVAL ? 0 : r;
    if (ws->n_jobs >= FW_JOBS_MAX)
        return reply_error(reply, 400, "QUOTA_EXCEEDED",
                           "The quota for the number of jobs has been reached. The current quota "
                           "is %d.",
                           FW_JOBS_MAX);

    struct fw_acl_entry *acl = NULL;
    size_t n_acl = 0;
    struct json_object *list;
    if (json_object_object_get_ex(body, "access_control_list", &list) &&
        !json_object_is_type(list, json_type_null)) {
        r = perms_parse_acl(list, reply, &acl, &n_acl);
        if (r < 0)
            return r == -EINVAL ? 0 : r;
    }

    struct json_object *settings = settings_from_body(body);
    if (!settings) {
        perms_free_acl(acl, n_acl);
        return -ENOMEM;
    }
    struct fw_job *job = NULL;
    r = jobs_make(ws, settings, req->principal, req->version, &job);
    if (r < 0) {
        perms_free_acl(acl, n_acl);
        return r;
    }
    if (n_acl > 0) {
        /* The given grants plus the creator as owner unless one is named. */
        bool owner = false;
        for (size_t i = 0; i < n_acl; i++)
            owner = owner || streq(acl[i].level, "IS_OWNER");
        struct fw_acl_entry *all = realloc(acl, (n_acl + 1) * sizeof(*all));
        if (!all) {
            perms_free_acl(acl, n_acl);
            fw_job_free(job);
            return -ENOMEM;
        }
        acl = all;
        if (!owner) {
            acl[n_acl] = job->acl[0];
            job->acl[0] = (struct fw_acl_entry){ 0 };
            n_acl++;
        }
        if (perms_check_owner(acl, n_acl, reply) != 0) {
            perms_free_acl(acl, n_acl);
            fw_job_free(job);
            return 0;
        }
        perms_free_acl(job->acl, job->n_acl);
        job->acl = acl;
        job->n_acl = n_acl;
    }
    r = fakews_add_job(ws, job);
    if (r < 0) {
        fw_job_free(job);
        return r;
    }
    struct json_object *o = json_object_new_object();
    if (!o || json_add_int64(o, "job_id", job->job_id) < 0) {
        json_object_put(o);
        return -ENOMEM;
    }
    return reply_json(reply, o);
}

/* Settings with the paged arrays cut to page (jobs/get) or to the first
 * 100 (jobs/list expand_tasks), or dropped (jobs/list). */
static struct json_object *settings_view(struct json_object *s, bool arrays, int64_t page,
                                         bool *more)
{
    static const char *const paged[] = { "tasks", "job_clusters", "environments", "parameters" };
    struct json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_foreach (s, key, val) {
        bool is_paged = false;
        for (size_t i = 0; i < ELEMENTSOF(paged); i++)
            is_paged = is_paged || streq(key, paged[i]);
        is_paged = is_paged && json_object_is_type(val, json_type_array);
        if (!is_paged) {
            if (json_object_object_add(o, key, json_object_get(val)) < 0)
                goto fail;
            continue;
        }
        bool list_drop = !arrays && (streq(key, "tasks") || streq(key, "job_clusters"));
        if (list_drop)
            continue;
        size_t n = json_object_array_length(val), from = (size_t)page * FW_ARRAY_PAGE;
        if (from >= n)
            continue;
        size_t to = MIN(n, from + FW_ARRAY_PAGE);
        if (to < n)
            *more = true;
        struct json_object *a = json_object_new_array_ext((int)(to - from));
        if (!a)
            goto fail;
        for (size_t i = from; i < to; i++)
            json_object_array_add(a, json_object_get(json_object_array_get_idx(val, i)));
        if (json_add(o, key, a) < 0)
            goto fail;
    }
    return o;
fail:
    json_object_put(o);
    return NULL;
}

static const char *run_as_of(const struct fw_job *job)
{
    struct json_object *ra, *v;
    if (json_object_object_get_ex(job->settings, "run_as", &ra)) {
        if (json_object_object_get_ex(ra, "user_name", &v) ||
            json_object_object_get_ex(ra, "service_principal_name", &v))
            return json_object_get_string(v);
    }
    return job->creator;
}

int jobs_get(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int64_t job_id = 0, page = 0, tok_id;
    int r = fw_query_id(req, "job_id", reply, &job_id);
    if (r < 0)
        return r == -EINVAL ? 0 : r;
    if (r == 0)
        return reply_missing(reply, "job_id");
    const char *token = fw_query(req, "page_token");
    if (!isempty(token) && (fw_token_decode(token, 'j', &tok_id, &page) < 0 || tok_id != job_id ||
                            page < 0 || page > FW_PAGE_MAX))
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE", "Invalid page token.");
    struct fw_job *job = fakews_job(ws, job_id);
    if (!job)
        return reply_no_job(reply, job_id);

    bool more = false;
    _cleanup_json_ struct json_object *o = json_object_new_object();
    struct json_object *s = settings_view(job->settings, true, page, &more);
    if (!o || !s) {
        json_object_put(s);
        return -ENOMEM;
    }
    r = 0;
    r |= json_add_int64(o, "job_id", job->job_id);
    if (job->creator)
        r |= json_add_string(o, "creator_user_name", job->creator);
    r |= json_add_string(o, "run_as_user_name", run_as_of(job));
    r |= json_add_int64(o, "created_time", job->created_time);
    r |= json_add(o, "settings", s);
    if (more) {
        _cleanup_free_ char *next = fw_token_encode('j', job_id, page + 1);
        r |= next ? json_add_string(o, "next_page_token", next) : -ENOMEM;
    }
    if (r < 0)
        return -ENOMEM;
    return reply_json(reply, TAKE_PTR(o));
}

int jobs_list(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int64_t limit = LIST_LIMIT_DEFAULT, offset = 0;
    bool expand = false;
    int r;
    if ((r = fw_query_limit(req, reply, LIST_LIMIT_DEFAULT, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX,
                            &limit, &offset)) < 0 ||
        (r = fw_query_bool(req, "expand_tasks", reply, &expand)) < 0)
        return r == -EINVAL ? 0 : r;
    const char *name = fw_query(req, "name");

    /* Newest first: ws->jobs is in creation order, so walk it backwards.
     * 'n' tokens continue below a job id, 'p' tokens go back above one. */
    int64_t below = INT64_MAX, above = 0, dummy;
    const char *token = fw_query(req, "page_token");
    if (!isempty(token) && fw_token_decode(token, 'n', &below, &dummy) < 0 &&
        fw_token_decode(token, 'p', &above, &dummy) < 0)
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE", "Invalid page token.");

    struct fw_job *page[LIST_LIMIT_MAX];
    size_t n = 0;
    bool more = false, earlier = false;
    if (above > 0) {
        /* A previous page: the `limit` matching jobs just newer than above. */
        size_t i = 0;
        while (i < ws->n_jobs && ws->jobs[i]->job_id <= above)
            i++;
        for (; i < ws->n_jobs; i++) {
            struct fw_job *j = ws->jobs[i];
            if (name &&
                strcasecmp(json_object_get_string(json_object_object_get(j->settings, "name")),
                           name) != 0)
                continue;
            if (n == (size_t)limit) {
                earlier = true;
                break;
            }
            page[n++] = j;
        }
        for (size_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) {
            struct fw_job *t = page[a];
            page[a] = page[b];
            page[b] = t;
        }
        more = true;
    } else {
        int64_t skip = offset;
        for (size_t i = ws->n_jobs; i-- > 0;) {
            struct fw_job *j = ws->jobs[i];
            if (j->job_id >= below)
                continue;
            if (name &&
                strcasecmp(json_object_get_string(json_object_object_get(j->settings, "name")),
                           name) != 0)
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
            page[n++] = j;
        }
        earlier = earlier || below != INT64_MAX;
    }

    _cleanup_json_ struct json_object *o = json_object_new_object();
    if (!o)
        return -ENOMEM;
    if (n > 0) {
        struct json_object *a = json_object_new_array_ext((int)n);
        if (!a || json_add(o, "jobs", a) < 0)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
            bool cut = false;
            struct json_object *j = json_object_new_object();
            struct json_object *s = settings_view(page[i]->settings, expand, 0, &cut);
            if (!j || !s || json_append(a, j) < 0) {
                json_object_put(s);
                return -ENOMEM;
            }
            r = 0;
            r |= json_add_int64(j, "job_id", page[i]->job_id);
            if (page[i]->creator)
                r |= json_add_string(j, "creator_user_name", page[i]->creator);
            r |= json_add_int64(j, "created_time", page[i]->created_time);
            r |= json_add(j, "settings", s);
            if (expand)
                r |= json_add_bool(j, "has_more", cut);
            if (r < 0)
                return -ENOMEM;
        }
    }
    if (json_add_bool(o, "has_more", more) < 0)
        return -ENOMEM;
    if (more && n > 0) {
        _cleanup_free_ char *t = fw_token_encode('n', page[n - 1]->job_id, 0);
        if (!t || json_add_string(o, "next_page_token", t) < 0)
            return -ENOMEM;
    }
    if (earlier && n > 0) {
        _cleanup_free_ char *t = fw_token_encode('p', page[0]->job_id, 0);
        if (!t || json_add_string(o, "prev_page_token", t) < 0)
            return -ENOMEM;
    }
    return reply_json(reply, TAKE_PTR(o));
}

/* job_id of a body that must name an existing job. NULL with the reply
 * filled otherwise. */
static struct fw_job *body_job(struct fakews *ws, struct fw_request *req, struct fw_reply *reply,
                               int *ret)
{
    int64_t job_id = 0;
    int r = fw_body_id(req, "job_id", true, reply, &job_id);
    *ret = r == -EINVAL ? 0 : r;
    if (r < 0)
        return NULL;
    struct fw_job *job = fakews_job(ws, job_id);
    if (!job)
        *ret = reply_no_job(reply, job_id);
    return job;
}

static void apply_timeout(struct fakews *ws, struct fw_job *job)
{
    /* A new timeout_seconds also hits active runs (reference §1.2). */
    int64_t t = 0;
    struct json_object *v;
    if (json_object_object_get_ex(job->settings, "timeout_seconds", &v))
        (void)json_value_int64(v, &t);
    for (size_t i = 0; i < ws->n_runs; i++) {
        struct fw_run *run = ws->runs[i];
        if (run->job_id == job->job_id && sim_run_is_active(run)) {
            run->timeout_ms = t * 1000;
            (void)sim_retime(ws, run);
        }
    }
}

int jobs_reset(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int r;
    struct fw_job *job = body_job(ws, req, reply, &r);
    if (!job)
        return r;
    struct json_object *ns;
    if (!json_object_object_get_ex(req->body, "new_settings", &ns) ||
        json_object_is_type(ns, json_type_null))
        return reply_missing(reply, "new_settings");
    if (!json_object_is_type(ns, json_type_object))
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                           "Invalid value for new_settings: expected an object.");
    r = jobs_check_settings(ns, false, reply);
    if (r < 0)
        return r == -EINVAL ? 0 : r;
    struct json_object *s = settings_from_body(ns), *run_as;
    if (!s || apply_defaults(s, job->created_version) < 0) {
        json_object_put(s);
        return -ENOMEM;
    }
    /* A cloud quirk Databricks' testserver mirrors: reset without run_as
     * keeps the previous identity. */
    if (!json_object_object_get_ex(s, "run_as", NULL) &&
        json_object_object_get_ex(job->settings, "run_as", &run_as) &&
        json_add(s, "run_as", json_object_get(run_as)) < 0) {
        json_object_put(s);
        return -ENOMEM;
    }
    json_object_put(job->settings);
    job->settings = s;
    sim_schedule_job(ws, job);
    apply_timeout(ws, job);
    return reply_empty(reply);
}

/* Merges src's elements into dst by key (replace or append). */
static int merge_keyed(struct json_object *dst, struct json_object *src, const char *key)
{
    for (size_t i = 0; i < json_object_array_length(src); i++) {
        struct json_object *e = json_object_array_get_idx(src, i), *k, *c = NULL;
        if (!json_object_object_get_ex(e, key, &k))
            continue;
        if (json_object_deep_copy(e, &c, NULL) < 0)
            return -ENOMEM;
        bool replaced = false;
        for (size_t j = 0; j < json_object_array_length(dst) && !replaced; j++) {
            struct json_object *d = json_object_array_get_idx(dst, j), *dk;
            if (json_object_object_get_ex(d, key, &dk) &&
                streq(json_object_get_string(dk), json_object_get_string(k))) {
                json_object_array_put_idx(dst, j, c);
                replaced = true;
            }
        }
        if (!replaced && json_append(dst, c) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int remove_keyed(struct json_object *s, const char *field, const char *key,
                        const char *value)
{
    struct json_object *a, *k;
    if (!json_object_object_get_ex(s, field, &a) || !json_object_is_type(a, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(a); i++)
        if (json_object_object_get_ex(json_object_array_get_idx(a, i), key, &k) &&
            streq(json_object_get_string(k), value)) {
            json_object_array_del_idx(a, i, 1);
            return 1;
        }
    return 0;
}

int jobs_update(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int r;
    struct fw_job *job = body_job(ws, req, reply, &r);
    if (!job)
        return r;
    struct json_object *ns = NULL, *remove = NULL;
    struct json_error err = { { 0 } };
    if (json_get_object(req->body, "new_settings", JSON_NULLABLE, &ns, &err) < 0 ||
        json_get_array(req->body, "fields_to_remove", JSON_NULLABLE, &remove, &err) < 0)
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE", "%s", err.message);

    _cleanup_json_ struct json_object *s = NULL;
    if (json_object_deep_copy(job->settings, &s, NULL) < 0)
        return -ENOMEM;
    for (size_t i = 0; remove && i < json_object_array_length(remove); i++) {
        struct json_object *f = json_object_array_get_idx(remove, i);
        if (!json_object_is_type(f, json_type_string))
            return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                               "Invalid value for fields_to_remove: expected strings.");
        const char *name = json_object_get_string(f), *rest;
        if ((rest = startswith(name, "tasks/")))
            r = remove_keyed(s, "tasks", "task_key", rest);
        else if ((rest = startswith(name, "job_clusters/")))
            r = remove_keyed(s, "job_clusters", "job_cluster_key", rest);
        else if (strchr(name, '/'))
            return reply_error(reply, 400, "INVALID_PARAMETER_VALUE", "Invalid field to remove: %s",
                               name);
        else {
            json_object_object_del(s, name);
            r = 1;
        }
        if (r == 0)
            return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                               "Cannot remove %s: it does not exist in the job settings.", name);
    }
    if (ns) {
        json_object_object_foreach (ns, key, val) {
            struct json_object *cur;
            if (!val)
                continue;
            bool keyed = streq(key, "tasks") || streq(key, "job_clusters");
            if (keyed && json_object_is_type(val, json_type_array) &&
                json_object_object_get_ex(s, key, &cur) &&
                json_object_is_type(cur, json_type_array)) {
                if (merge_keyed(cur, val, streq(key, "tasks") ? "task_key" : "job_cluster_key") < 0)
                    return -ENOMEM;
                continue;
            }
            struct json_object *c = NULL;
            if (json_object_deep_copy(val, &c, NULL) < 0 || json_add(s, key, c) < 0)
                return -ENOMEM;
        }
    }
    r = jobs_check_settings(s, false, reply);
    if (r < 0)
        return r == -EINVAL ? 0 : r;
    if (apply_defaults(s, job->created_version) < 0)
        return -ENOMEM;
    json_object_put(job->settings);
    job->settings = TAKE_PTR(s);
    if ((ns && json_object_object_get_ex(ns, "trigger", NULL)) ||
        (job->next_fire > 0) != (sim_periodic_ms(job->settings) > 0))
        sim_schedule_job(ws, job);
    if (ns && json_object_object_get_ex(ns, "timeout_seconds", NULL))
        apply_timeout(ws, job);
    return reply_empty(reply);
}

int jobs_delete(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int r;
    struct fw_job *job = body_job(ws, req, reply, &r);
    if (!job)
        return r;
    /* Active runs of a deleted job are cancelled; finished ones stay until
     * they expire. */
    for (size_t i = 0; i < ws->n_runs; i++)
        if (ws->runs[i]->job_id == job->job_id && sim_run_is_active(ws->runs[i])) {
            ws->runs[i]->holds_slot = false;
            (void)sim_cancel_run(ws, ws->runs[i], ws->now_ms);
        }
    fakews_delete_job(ws, job);
    return reply_empty(reply);
}
