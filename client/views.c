#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client/format.h"
#include "client/runview.h"
#include "client/views.h"
#include "proto/json.h"

static const char *str(struct json_object *o, const char *field)
{
    const char *s = NULL;
    if (json_get_string(o, field, JSON_NULLABLE, &s, NULL) > 0 && s)
        return s;
    return "";
}

static int64_t num(struct json_object *o, const char *field)
{
    int64_t v = 0;
    (void)json_get_int64(o, field, JSON_NULLABLE, &v, NULL);
    return v;
}

static struct json_object *array(struct json_object *o, const char *field)
{
    struct json_object *a = NULL;
    if (json_get_array(o, field, JSON_NULLABLE, &a, NULL) > 0)
        return a;
    return NULL;
}

static int cell_int(struct table *t, int64_t v)
{
    char b[32];
    if (v == 0)
        return table_cell(t, "-", "");
    snprintf(b, sizeof(b), "%" PRId64, v);
    return table_cell(t, b, NULL);
}

static int cell_time(struct table *t, int64_t ms)
{
    char a[FORMAT_MAX], b[FORMAT_MAX];
    return table_cell(t, format_time_local(ms, a, sizeof(a)), format_time_iso(ms, b, sizeof(b)));
}

static int cell_duration(struct table *t, int64_t ms, bool known)
{
    char a[FORMAT_MAX], b[FORMAT_MAX];
    if (!known)
        return table_cell(t, "-", "");
    return table_cell(t, format_duration(ms, a, sizeof(a)), format_seconds(ms, b, sizeof(b)));
}

static int cell_str(struct table *t, const char *s)
{
    return table_cell(t, *s ? s : "-", s);
}

/* Duration of a run or task run: run_duration when given, else end-start,
 * else (still running) unknown. */
static int cell_run_duration(struct table *t, struct json_object *run, const struct run_view *v)
{
    int64_t d = num(run, "run_duration");
    if (d <= 0 && v->end_ms > 0 && v->start_ms > 0)
        d = v->end_ms - v->start_ms;
    return cell_duration(t, d, d > 0 || v->terminal);
}

static int make(const char *const *headers, size_t flexible, struct table **ret)
{
    int r = table_new(headers, ret);
    if (r >= 0 && flexible != SIZE_MAX)
        r = table_set_flexible(*ret, flexible);
    return r;
}

int view_runs_table_new(struct table **ret)
{
    static const char *const h[] = { "RUN_ID", "JOB_ID",  "NAME",     "STATE",
                                     "RESULT", "STARTED", "DURATION", NULL };
    return make(h, 2, ret);
}

int view_runs_add(struct table *t, struct json_object *runs)
{
    size_t n = runs ? json_object_array_length(runs) : 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *run = json_object_array_get_idx(runs, i);
        struct run_view v;
        if (run_view_from_run(run, &v) < 0)
            continue;
        int r = table_add_row(t);
        if (r >= 0)
            r = cell_int(t, v.run_id);
        if (r >= 0)
            r = cell_int(t, num(run, "job_id"));
        if (r >= 0)
            r = cell_str(t, v.name);
        if (r >= 0)
            r = cell_str(t, v.life_cycle);
        if (r >= 0)
            r = cell_str(t, v.result);
        if (r >= 0)
            r = cell_time(t, v.start_ms);
        if (r >= 0)
            r = cell_run_duration(t, run, &v);
        if (r < 0)
            return r;
    }
    return 0;
}

static int jobs_table(struct json_object *o, struct table **ret)
{
    static const char *const h[] = { "JOB_ID", "NAME", "CREATOR", "CREATED", NULL };
    struct table *t = NULL;
    int r = make(h, 1, &t);
    if (r >= 0)
        r = table_set_flexible(t, 2);
    struct json_object *jobs = array(o, "jobs");
    size_t n = jobs ? json_object_array_length(jobs) : 0;
    for (size_t i = 0; r >= 0 && i < n; i++) {
        struct json_object *job = json_object_array_get_idx(jobs, i), *settings = NULL;
        (void)json_get_object(job, "settings", JSON_NULLABLE, &settings, NULL);
        r = table_add_row(t);
        if (r >= 0)
            r = cell_int(t, num(job, "job_id"));
        if (r >= 0)
            r = cell_str(t, settings ? str(settings, "name") : "");
        if (r >= 0)
            r = cell_str(t, str(job, "creator_user_name"));
        if (r >= 0)
            r = cell_time(t, num(job, "created_time"));
    }
    if (r < 0) {
        table_free(t);
        return r;
    }
    *ret = t;
    return 0;
}

/* The task type: the one "*_task" object a task holds. */
static const char *task_type(struct json_object *task)
{
    json_object_object_foreach (task, k, v) {
        size_t n = strlen(k);
        if (n > 5 && streq(k + n - 5, "_task") && json_object_is_type(v, json_type_object))
            return k;
    }
    return "";
}

static int job_tasks_table(struct json_object *o, struct table **ret)
{
    static const char *const h[] = { "TASK", "TYPE", "DEPENDS_ON", NULL };
    struct json_object *settings = NULL;
    (void)json_get_object(o, "settings", JSON_NULLABLE, &settings, NULL);
    struct json_object *tasks = settings ? array(settings, "tasks") : NULL;
    struct table *t = NULL;
    int r = make(h, 2, &t);
    size_t n = tasks ? json_object_array_length(tasks) : 0;
    for (size_t i = 0; r >= 0 && i < n; i++) {
        struct json_object *task = json_object_array_get_idx(tasks, i);
        struct json_object *deps = array(task, "depends_on");
        struct buf b = BUF_INIT(64 * KIB);
        size_t nd = deps ? json_object_array_length(deps) : 0;
        for (size_t j = 0; r >= 0 && j < nd; j++)
            r = buf_appendf(&b, "%s%s", j ? "," : "",
                            str(json_object_array_get_idx(deps, j), "task_key"));
        if (r >= 0)
            r = table_add_row(t);
        if (r >= 0)
            r = cell_str(t, str(task, "task_key"));
        if (r >= 0)
            r = cell_str(t, task_type(task));
        if (r >= 0)
            r = cell_str(t, b.data ? b.data : "");
        buf_done(&b);
    }
    if (r < 0) {
        table_free(t);
        return r;
    }
    *ret = t;
    return 0;
}

static int run_tasks_table(struct json_object *run, struct table **ret)
{
    static const char *const h[] = { "TASK",    "RUN_ID",   "STATE", "RESULT",
                                     "STARTED", "DURATION", NULL };
    struct json_object *tasks = array(run, "tasks");
    struct table *t = NULL;
    int r = make(h, 0, &t);
    size_t n = tasks ? json_object_array_length(tasks) : 0;
    for (size_t i = 0; r >= 0 && i < n; i++) {
        struct json_object *task = json_object_array_get_idx(tasks, i);
        struct run_view v;
        if (run_view_from_run(task, &v) < 0)
            continue;
        r = table_add_row(t);
        if (r >= 0)
            r = cell_str(t, str(task, "task_key"));
        if (r >= 0)
            r = cell_int(t, v.run_id);
        if (r >= 0)
            r = cell_str(t, v.life_cycle);
        if (r >= 0)
            r = cell_str(t, v.result);
        if (r >= 0)
            r = cell_time(t, v.start_ms);
        if (r >= 0)
            r = cell_run_duration(t, task, &v);
    }
    if (r < 0) {
        table_free(t);
        return r;
    }
    *ret = t;
    return 0;
}

static int permissions_table(struct json_object *o, struct table **ret)
{
    static const char *const h[] = { "PRINCIPAL", "TYPE", "LEVEL", "INHERITED", NULL };
    static const char *const kinds[] = { "user_name", "group_name", "service_principal_name" };
    struct json_object *acl = array(o, "access_control_list");
    struct table *t = NULL;
    int r = make(h, 0, &t);
    size_t n = acl ? json_object_array_length(acl) : 0;
    for (size_t i = 0; r >= 0 && i < n; i++) {
        struct json_object *e = json_object_array_get_idx(acl, i);
        const char *who = "", *kind = "";
        for (size_t k = 0; k < ELEMENTSOF(kinds) && !*who; k++)
            if (*(who = str(e, kinds[k])))
                kind = kinds[k];
        struct json_object *perms = array(e, "all_permissions");
        size_t np = perms ? json_object_array_length(perms) : 0;
        for (size_t j = 0; r >= 0 && j < np; j++) {
            struct json_object *p = json_object_array_get_idx(perms, j), *from = NULL;
            bool inherited = false;
            (void)json_get_bool(p, "inherited", JSON_NULLABLE, &inherited, NULL);
            from = array(p, "inherited_from_object");
            const char *src = from && json_object_array_length(from) > 0
                                  ? json_object_get_string(json_object_array_get_idx(from, 0))
                                  : "yes";
            r = table_add_row(t);
            if (r >= 0)
                r = cell_str(t, who);
            if (r >= 0)
                r = table_cell(t,
                               strncmp(kind, "service", 7) == 0 ? "service_principal"
                               : *kind == 'g'                   ? "group"
                                                                : "user",
                               NULL);
            if (r >= 0)
                r = cell_str(t, str(p, "permission_level"));
            if (r >= 0)
                r = table_cell(t, inherited ? src : "-", inherited ? src : "");
        }
    }
    if (r < 0) {
        table_free(t);
        return r;
    }
    *ret = t;
    return 0;
}

static int levels_table(struct json_object *o, struct table **ret)
{
    static const char *const h[] = { "LEVEL", "DESCRIPTION", NULL };
    struct json_object *levels = array(o, "permission_levels");
    struct table *t = NULL;
    int r = make(h, 1, &t);
    size_t n = levels ? json_object_array_length(levels) : 0;
    for (size_t i = 0; r >= 0 && i < n; i++) {
        struct json_object *l = json_object_array_get_idx(levels, i);
        r = table_add_row(t);
        if (r >= 0)
            r = cell_str(t, str(l, "permission_level"));
        if (r >= 0)
            r = cell_str(t, str(l, "description"));
    }
    if (r < 0) {
        table_free(t);
        return r;
    }
    *ret = t;
    return 0;
}

static int views_table(struct json_object *o, struct table **ret)
{
    static const char *const h[] = { "NAME", "TYPE", "BYTES", NULL };
    struct json_object *views = array(o, "views");
    struct table *t = NULL;
    int r = make(h, 0, &t);
    size_t n = views ? json_object_array_length(views) : 0;
    for (size_t i = 0; r >= 0 && i < n; i++) {
        struct json_object *v = json_object_array_get_idx(views, i);
        r = table_add_row(t);
        if (r >= 0)
            r = cell_str(t, str(v, "name"));
        if (r >= 0)
            r = cell_str(t, str(v, "type"));
        if (r >= 0)
            r = cell_int(t, (int64_t)strlen(str(v, "content")));
    }
    if (r < 0) {
        table_free(t);
        return r;
    }
    *ret = t;
    return 0;
}

/* FIELD VALUE rows. */
struct kv {
    struct table *t;
    int r;
};

static void kv(struct kv *k, const char *field, const char *text, const char *csv)
{
    if (k->r < 0 || !text || !*text)
        return;
    k->r = table_add_row(k->t);
    if (k->r >= 0)
        k->r = table_cell(k->t, field, NULL);
    if (k->r >= 0)
        k->r = table_cell(k->t, text, csv);
}

static void kv_int(struct kv *k, const char *field, int64_t v)
{
    char b[32];
    snprintf(b, sizeof(b), "%" PRId64, v);
    kv(k, field, b, NULL);
}

static void kv_time(struct kv *k, const char *field, int64_t ms)
{
    char a[FORMAT_MAX], b[FORMAT_MAX];
    if (ms > 0)
        kv(k, field, format_time_local(ms, a, sizeof(a)), format_time_iso(ms, b, sizeof(b)));
}

static int kv_new(struct kv *k)
{
    static const char *const h[] = { "FIELD", "VALUE", NULL };
    *k = (struct kv){ 0 };
    return k->r = make(h, 1, &k->t);
}

static int kv_end(struct kv *k, struct table **ret)
{
    if (k->r < 0) {
        table_free(k->t);
        return k->r;
    }
    *ret = k->t;
    return 0;
}

static int run_kv(struct json_object *run, struct table **ret)
{
    struct run_view v;
    struct kv k;
    char a[FORMAT_MAX], b[FORMAT_MAX];
    int r = run_view_from_run(run, &v);
    if (r < 0 || kv_new(&k) < 0)
        return r < 0 ? r : k.r;
    kv_int(&k, "run_id", v.run_id);
    if (num(run, "job_id"))
        kv_int(&k, "job_id", num(run, "job_id"));
    kv(&k, "run_name", v.name, NULL);
    kv(&k, "state", v.life_cycle, NULL);
    kv(&k, "result", v.result, NULL);
    kv(&k, "message", v.message, NULL);
    kv(&k, "trigger", str(run, "trigger"), NULL);
    kv_time(&k, "started", v.start_ms);
    kv_time(&k, "ended", v.end_ms);
    int64_t d = num(run, "run_duration");
    if (d <= 0 && v.end_ms > v.start_ms && v.start_ms > 0)
        d = v.end_ms - v.start_ms;
    if (d > 0)
        kv(&k, "duration", format_duration(d, a, sizeof(a)), format_seconds(d, b, sizeof(b)));
    if (v.tasks_total) {
        snprintf(a, sizeof(a), "%d/%d done", v.tasks_done, v.tasks_total);
        kv(&k, "tasks", a, NULL);
    }
    kv(&k, "url", str(run, "run_page_url"), NULL);
    return kv_end(&k, ret);
}

static int job_kv(struct json_object *job, struct table **ret)
{
    struct json_object *settings = NULL, *tasks;
    struct kv k;
    if (kv_new(&k) < 0)
        return k.r;
    (void)json_get_object(job, "settings", JSON_NULLABLE, &settings, NULL);
    kv_int(&k, "job_id", num(job, "job_id"));
    kv(&k, "name", settings ? str(settings, "name") : "", NULL);
    kv(&k, "creator", str(job, "creator_user_name"), NULL);
    kv(&k, "run_as", str(job, "run_as_user_name"), NULL);
    kv_time(&k, "created", num(job, "created_time"));
    if (settings && (tasks = array(settings, "tasks")))
        kv_int(&k, "tasks", (int64_t)json_object_array_length(tasks));
    if (settings && num(settings, "max_concurrent_runs"))
        kv_int(&k, "max_concurrent_runs", num(settings, "max_concurrent_runs"));
    if (settings && num(settings, "timeout_seconds"))
        kv_int(&k, "timeout_seconds", num(settings, "timeout_seconds"));
    return kv_end(&k, ret);
}

static int status_kv(struct json_object *o, struct table **ret)
{
    struct json_object *listen = NULL, *up = NULL, *auth = NULL, *server = NULL;
    struct kv k;
    char a[FORMAT_MAX];
    bool reachable = false;
    if (kv_new(&k) < 0)
        return k.r;
    (void)json_get_object(o, "listen", JSON_NULLABLE, &listen, NULL);
    (void)json_get_object(o, "upstream", JSON_NULLABLE, &up, NULL);
    (void)json_get_object(o, "server", JSON_NULLABLE, &server, NULL);
    kv(&k, "version", str(o, "version"), NULL);
    kv_int(&k, "api_version", num(o, "api_version"));
    kv_int(&k, "pid", num(o, "pid"));
    kv(&k, "uptime", format_duration(num(o, "uptime_s") * 1000, a, sizeof(a)), NULL);
    kv(&k, "workspace", str(o, "workspace_host"), NULL);
    if (listen) {
        kv(&k, "socket", str(listen, "unix"), NULL);
        if (num(listen, "tcp_port"))
            kv_int(&k, "tcp_port", num(listen, "tcp_port"));
    }
    if (server)
        kv_int(&k, "requests", num(server, "requests"));
    if (up) {
        (void)json_get_bool(up, "reachable", JSON_NULLABLE, &reachable, NULL);
        kv(&k, "upstream", reachable ? "reachable" : "unreachable", NULL);
        kv(&k, "last_error", str(up, "last_error"), NULL);
        kv_time(&k, "last_error_time", num(up, "last_error_time"));
        kv_int(&k, "upstream_requests", num(up, "requests"));
        if (json_get_object(up, "auth", JSON_NULLABLE, &auth, NULL) > 0)
            kv(&k, "auth", str(auth, "type"), NULL);
    }
    return kv_end(&k, ret);
}

int view_table(enum endpoint_id id, struct json_object *o, struct table **ret)
{
    struct table *t = NULL;
    int r;
    switch (id) {
    case ENDPOINT_JOBS_LIST:
        return jobs_table(o, ret);
    case ENDPOINT_JOBS_GET:
        return job_kv(o, ret);
    case ENDPOINT_RUNS_LIST:
    case ENDPOINT_LOCAL_RUNS:
        if ((r = view_runs_table_new(&t)) < 0)
            return r;
        if ((r = view_runs_add(t, array(o, "runs"))) < 0) {
            table_free(t);
            return r;
        }
        *ret = t;
        return 0;
    case ENDPOINT_RUNS_GET:
    case ENDPOINT_LOCAL_RUN:
    case ENDPOINT_LOCAL_RUN_WAIT:
        return run_kv(o, ret);
    case ENDPOINT_RUNS_EXPORT:
        return views_table(o, ret);
    case ENDPOINT_PERMISSIONS_GET:
    case ENDPOINT_PERMISSIONS_SET:
    case ENDPOINT_PERMISSIONS_UPDATE:
        return permissions_table(o, ret);
    case ENDPOINT_PERMISSION_LEVELS:
        return levels_table(o, ret);
    case ENDPOINT_LOCAL_STATUS:
        return status_kv(o, ret);
    default:
        return -EOPNOTSUPP;
    }
}

int view_table_more(enum endpoint_id id, struct json_object *o, struct table **ret)
{
    switch (id) {
    case ENDPOINT_JOBS_GET:
        return job_tasks_table(o, ret);
    case ENDPOINT_RUNS_GET:
    case ENDPOINT_LOCAL_RUN:
    case ENDPOINT_LOCAL_RUN_WAIT:
        return run_tasks_table(o, ret);
    default:
        return -EOPNOTSUPP;
    }
}

int view_tail(const char *s, size_t n, const char *indent, struct buf *b)
{
    size_t len = strlen(s);
    while (len && s[len - 1] == '\n')
        len--;
    size_t start = 0, lines = 0;
    if (n > 0)
        for (size_t i = len; i > 0; i--)
            if (s[i - 1] == '\n' && ++lines == n) {
                start = i;
                break;
            }
    int r = 0;
    if (start > 0)
        r = buf_appendf(b, "%s[...]\n", indent);
    for (size_t i = start; r >= 0 && i < len;) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - s) : len;
        r = buf_appendf(b, "%s%.*s\n", indent, (int)(end - i), s + i);
        i = end + 1;
    }
    return r;
}

int view_output_text(struct json_object *out, size_t tail, struct buf *b)
{
    struct json_object *nb = NULL;
    int r = 0;
    const char *error = str(out, "error"), *trace = str(out, "error_trace"),
               *logs = str(out, "logs"), *info = str(out, "info");
    if (*error)
        r = buf_appendf(b, "error: %s\n", error);
    if (r >= 0 && *trace) {
        r = buf_append(b, "error_trace:\n", 13);
        if (r >= 0)
            r = view_tail(trace, tail, "  ", b);
    }
    if (r >= 0 && json_get_object(out, "notebook_output", JSON_NULLABLE, &nb, NULL) > 0 &&
        *str(nb, "result")) {
        r = buf_append(b, "result:\n", 8);
        if (r >= 0)
            r = view_tail(str(nb, "result"), tail, "  ", b);
    }
    if (r >= 0 && *logs) {
        r = buf_append(b, "logs:\n", 6);
        if (r >= 0)
            r = view_tail(logs, tail, "  ", b);
    }
    if (r >= 0 && *info)
        r = buf_appendf(b, "info: %s\n", info);
    return r;
}
