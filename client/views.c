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
    if (o && json_get_array(o, field, JSON_NULLABLE, &a, NULL) > 0)
        return a;
    return NULL;
}

static void cell_int(struct table *t, int64_t v)
{
    char b[32];
    snprintf(b, sizeof(b), "%" PRId64, v);
    table_cell(t, v ? b : "-", v ? NULL : "");
}

static void cell_time(struct table *t, int64_t ms)
{
    char a[FORMAT_MAX], b[FORMAT_MAX];
    table_cell(t, format_time_local(ms, a, sizeof(a)), format_time_iso(ms, b, sizeof(b)));
}

static void cell_str(struct table *t, const char *s)
{
    table_cell(t, *s ? s : "-", s);
}

/* Duration of a run or task run: run_duration when given, else end-start;
 * 0 while it is still going. */
static int64_t run_duration(struct json_object *run, const struct run_view *v)
{
    int64_t d = num(run, "run_duration");
    if (d <= 0 && v->end_ms > 0 && v->start_ms > 0)
        d = v->end_ms - v->start_ms;
    return MAX(d, 0);
}

/* STATE, RESULT, STARTED, DURATION: the cells every run row ends with. */
static void cells_run_state(struct table *t, struct json_object *run, const struct run_view *v)
{
    char a[FORMAT_MAX], b[FORMAT_MAX];
    int64_t d = run_duration(run, v);
    cell_str(t, v->life_cycle);
    cell_str(t, v->result);
    cell_time(t, v->start_ms);
    if (d > 0 || v->terminal)
        table_cell(t, format_duration(d, a, sizeof(a)), format_seconds(d, b, sizeof(b)));
    else
        table_cell(t, "-", "");
}

/* A new table; flexible is a column that may be cut, or SIZE_MAX. */
static int make(const char *const *headers, size_t flexible, struct table **ret)
{
    int r = table_new(headers, ret);
    if (r >= 0 && flexible != SIZE_MAX)
        r = table_set_flexible(*ret, flexible);
    return r;
}

/* Hands a filled table over, or frees it on its first error. */
static int done(struct table *t, struct table **ret)
{
    int r = table_error(t);
    if (r < 0) {
        table_free(t);
        return r;
    }
    *ret = t;
    return 0;
}

/* Each element of an array field of o. */
#define FOREACH_ITEM(item, o, field)                                                               \
    for (struct json_object *_a_##item = array(o, field), *item = NULL; _a_##item;                 \
         _a_##item = NULL)                                                                         \
        for (size_t _i_##item = 0; _i_##item < json_object_array_length(_a_##item) &&              \
                                   (item = json_object_array_get_idx(_a_##item, _i_##item));       \
             _i_##item++)

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
        table_add_row(t);
        cell_int(t, v.run_id);
        cell_int(t, num(run, "job_id"));
        cell_str(t, v.name);
        cells_run_state(t, run, &v);
    }
    return table_error(t);
}

static int jobs_table(struct json_object *o, struct table **ret)
{
    static const char *const h[] = { "JOB_ID", "NAME", "CREATOR", "CREATED", NULL };
    struct table *t = NULL;
    int r = make(h, 1, &t);
    if (r < 0 || (r = table_set_flexible(t, 2)) < 0)
        return table_free(t), r;
    FOREACH_ITEM(job, o, "jobs")
    {
        struct json_object *settings = NULL;
        (void)json_get_object(job, "settings", JSON_NULLABLE, &settings, NULL);
        table_add_row(t);
        cell_int(t, num(job, "job_id"));
        cell_str(t, settings ? str(settings, "name") : "");
        cell_str(t, str(job, "creator_user_name"));
        cell_time(t, num(job, "created_time"));
    }
    return done(t, ret);
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
    struct table *t = NULL;
    int r = make(h, 2, &t);
    if (r < 0)
        return r;
    (void)json_get_object(o, "settings", JSON_NULLABLE, &settings, NULL);
    FOREACH_ITEM(task, settings, "tasks")
    {
        struct buf b = BUF_INIT(64 * KIB);
        FOREACH_ITEM(dep, task, "depends_on")
        (void)buf_appendf(&b, "%s%s", b.len ? "," : "", str(dep, "task_key"));
        table_add_row(t);
        cell_str(t, str(task, "task_key"));
        cell_str(t, task_type(task));
        cell_str(t, b.data ? b.data : "");
        buf_done(&b);
    }
    return done(t, ret);
}

static int run_tasks_table(struct json_object *run, struct table **ret)
{
    static const char *const h[] = { "TASK",    "RUN_ID",   "STATE", "RESULT",
                                     "STARTED", "DURATION", NULL };
    struct table *t = NULL;
    int r = make(h, 0, &t);
    if (r < 0)
        return r;
    FOREACH_ITEM(task, run, "tasks")
    {
        struct run_view v;
        if (run_view_from_run(task, &v) < 0)
            continue;
        table_add_row(t);
        cell_str(t, str(task, "task_key"));
        cell_int(t, v.run_id);
        cells_run_state(t, task, &v);
    }
    return done(t, ret);
}

static int permissions_table(struct json_object *o, struct table **ret)
{
    static const char *const h[] = { "PRINCIPAL", "TYPE", "LEVEL", "INHERITED", NULL };
    static const struct {
        const char *field, *type;
    } kinds[] = {
        { "user_name", "user" },
        { "group_name", "group" },
        { "service_principal_name", "service_principal" },
    };
    struct table *t = NULL;
    int r = make(h, 0, &t);
    if (r < 0)
        return r;
    FOREACH_ITEM(e, o, "access_control_list")
    {
        const char *who = "", *type = "";
        for (size_t k = 0; k < ELEMENTSOF(kinds) && !*who; k++)
            if (*(who = str(e, kinds[k].field)))
                type = kinds[k].type;
        FOREACH_ITEM(p, e, "all_permissions")
        {
            bool inherited = false;
            struct json_object *from = array(p, "inherited_from_object");
            (void)json_get_bool(p, "inherited", JSON_NULLABLE, &inherited, NULL);
            const char *src = from && json_object_array_length(from) > 0
                                  ? json_object_get_string(json_object_array_get_idx(from, 0))
                                  : "yes";
            table_add_row(t);
            cell_str(t, who);
            cell_str(t, type);
            cell_str(t, str(p, "permission_level"));
            cell_str(t, inherited ? src : "");
        }
    }
    return done(t, ret);
}

static int levels_table(struct json_object *o, struct table **ret)
{
    static const char *const h[] = { "LEVEL", "DESCRIPTION", NULL };
    struct table *t = NULL;
    int r = make(h, 1, &t);
    if (r < 0)
        return r;
    FOREACH_ITEM(l, o, "permission_levels")
    {
        table_add_row(t);
        cell_str(t, str(l, "permission_level"));
        cell_str(t, str(l, "description"));
    }
    return done(t, ret);
}

static int views_table(struct json_object *o, struct table **ret)
{
    static const char *const h[] = { "NAME", "TYPE", "BYTES", NULL };
    struct table *t = NULL;
    int r = make(h, 0, &t);
    if (r < 0)
        return r;
    FOREACH_ITEM(v, o, "views")
    {
        table_add_row(t);
        cell_str(t, str(v, "name"));
        cell_str(t, str(v, "type"));
        cell_int(t, (int64_t)strlen(str(v, "content")));
    }
    return done(t, ret);
}

/* FIELD VALUE tables: a row per field that has a value. */
static void kv(struct table *t, const char *field, const char *text, const char *csv)
{
    if (!text || !*text)
        return;
    table_add_row(t);
    table_cell(t, field, NULL);
    table_cell(t, text, csv);
}

static void kv_int(struct table *t, const char *field, int64_t v)
{
    char b[32];
    snprintf(b, sizeof(b), "%" PRId64, v);
    kv(t, field, v ? b : NULL, NULL);
}

static void kv_time(struct table *t, const char *field, int64_t ms)
{
    char a[FORMAT_MAX], b[FORMAT_MAX];
    if (ms > 0)
        kv(t, field, format_time_local(ms, a, sizeof(a)), format_time_iso(ms, b, sizeof(b)));
}

static int kv_new(struct table **ret)
{
    static const char *const h[] = { "FIELD", "VALUE", NULL };
    return make(h, 1, ret);
}

static int run_kv(struct json_object *run, struct table **ret)
{
    struct run_view v;
    struct table *t = NULL;
    char a[FORMAT_MAX], b[FORMAT_MAX];
    int r = run_view_from_run(run, &v);
    if (r < 0 || (r = kv_new(&t)) < 0)
        return r;
    kv_int(t, "run_id", v.run_id);
    kv_int(t, "job_id", num(run, "job_id"));
    kv(t, "run_name", v.name, NULL);
    kv(t, "state", v.life_cycle, NULL);
    kv(t, "result", v.result, NULL);
    kv(t, "message", v.message, NULL);
    kv(t, "trigger", str(run, "trigger"), NULL);
    kv_time(t, "started", v.start_ms);
    kv_time(t, "ended", v.end_ms);
    int64_t d = run_duration(run, &v);
    if (d > 0)
        kv(t, "duration", format_duration(d, a, sizeof(a)), format_seconds(d, b, sizeof(b)));
    if (v.tasks_total) {
        snprintf(a, sizeof(a), "%d/%d done", v.tasks_done, v.tasks_total);
        kv(t, "tasks", a, NULL);
    }
    kv(t, "url", str(run, "run_page_url"), NULL);
    return done(t, ret);
}

static int job_kv(struct json_object *job, struct table **ret)
{
    struct json_object *settings = NULL, *tasks;
    struct table *t = NULL;
    int r = kv_new(&t);
    if (r < 0)
        return r;
    (void)json_get_object(job, "settings", JSON_NULLABLE, &settings, NULL);
    kv_int(t, "job_id", num(job, "job_id"));
    kv(t, "name", settings ? str(settings, "name") : "", NULL);
    kv(t, "creator", str(job, "creator_user_name"), NULL);
    kv(t, "run_as", str(job, "run_as_user_name"), NULL);
    kv_time(t, "created", num(job, "created_time"));
    if (settings && (tasks = array(settings, "tasks")))
        kv_int(t, "tasks", (int64_t)json_object_array_length(tasks));
    if (settings) {
        kv_int(t, "max_concurrent_runs", num(settings, "max_concurrent_runs"));
        kv_int(t, "timeout_seconds", num(settings, "timeout_seconds"));
    }
    return done(t, ret);
}

static int status_kv(struct json_object *o, struct table **ret)
{
    struct json_object *listen = NULL, *up = NULL, *auth = NULL, *server = NULL;
    struct table *t = NULL;
    char a[FORMAT_MAX];
    bool reachable = false;
    int r = kv_new(&t);
    if (r < 0)
        return r;
    (void)json_get_object(o, "listen", JSON_NULLABLE, &listen, NULL);
    (void)json_get_object(o, "upstream", JSON_NULLABLE, &up, NULL);
    (void)json_get_object(o, "server", JSON_NULLABLE, &server, NULL);
    kv(t, "version", str(o, "version"), NULL);
    kv_int(t, "api_version", num(o, "api_version"));
    kv_int(t, "pid", num(o, "pid"));
    kv(t, "uptime", format_duration(num(o, "uptime_s") * 1000, a, sizeof(a)), NULL);
    kv(t, "workspace", str(o, "workspace_host"), NULL);
    if (listen) {
        kv(t, "socket", str(listen, "unix"), NULL);
        kv_int(t, "tcp_port", num(listen, "tcp_port"));
    }
    if (server)
        kv_int(t, "requests", num(server, "requests"));
    if (up) {
        (void)json_get_bool(up, "reachable", JSON_NULLABLE, &reachable, NULL);
        kv(t, "upstream", reachable ? "reachable" : "unreachable", NULL);
        kv(t, "last_error", str(up, "last_error"), NULL);
        kv_time(t, "last_error_time", num(up, "last_error_time"));
        kv_int(t, "upstream_requests", num(up, "requests"));
        if (json_get_object(up, "auth", JSON_NULLABLE, &auth, NULL) > 0)
            kv(t, "auth", str(auth, "type"), NULL);
    }
    return done(t, ret);
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
