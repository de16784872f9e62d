/* jobsctl: a command's query string and JSON body, from its arguments. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "client/cli.h"
#include "client/format.h"
#include "client/runview.h"
#include "client/sse.h"
#include "client/table.h"
#include "client/transport.h"
#include "client/views.h"
#include "client/wait.h"
#include "proto/apierror.h"
#include "proto/endpoint.h"
#include "proto/json.h"
#include "proto/localapi.h"

static int query_add(struct buf *q, const char *key, const char *value)
{
    _cleanup_free_ char *v = curl_easy_escape(NULL, value, 0);
    if (!v)
        return -ENOMEM;
    return buf_appendf(q, "%c%s=%s", q->len ? '&' : '?', key, v);
}

static int query_add_int(struct buf *q, const char *key, int64_t v)
{
    char b[32];
    snprintf(b, sizeof(b), "%" PRId64, v);
    return query_add(q, key, b);
}

static int time_arg(const char *what, const char *s, int64_t *ret)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (parse_time_arg(s, (int64_t)ts.tv_sec * 1000, ret) < 0) {
        cli_fail("%s: not a time (YYYY-MM-DD[ HH:MM[:SS]][Z], epoch ms, or an age like 7d): %s",
                 what, s);
        return -EINVAL;
    }
    return 0;
}

/* The query of a GET command, from its options. */
int cli_build_query(const struct endpoint *e, int64_t id, bool have_id, struct buf *q)
{
    int r = 0;
    int64_t t;
    bool path_id = strstr(e->pattern, "{job_id}") || strstr(e->pattern, "{run_id}");
    if (have_id && !path_id)
        r = query_add_int(q, e->key == KEY_RUN_ID ? "run_id" : "job_id", id);
    switch (e->id) {
    case ENDPOINT_JOBS_LIST:
        if (r >= 0 && arg.name)
            r = query_add(q, "name", arg.name);
        break;
    case ENDPOINT_RUNS_LIST:
        if (r >= 0 && arg.active_only)
            r = query_add(q, "active_only", "true");
        if (r >= 0 && arg.completed_only)
            r = query_add(q, "completed_only", "true");
        if (r >= 0 && arg.run_type)
            r = query_add(q, "run_type", arg.run_type);
        if (r >= 0 && arg.since && (r = time_arg("--since", arg.since, &t)) >= 0)
            r = query_add_int(q, "start_time_from", t);
        if (r >= 0 && arg.until && (r = time_arg("--until", arg.until, &t)) >= 0)
            r = query_add_int(q, "start_time_to", t);
        break;
    case ENDPOINT_RUNS_EXPORT:
        if (r >= 0 && arg.views)
            r = query_add(q, "views_to_export", arg.views);
        break;
    case ENDPOINT_LOCAL_RUNS:
        if (r >= 0 && arg.state)
            r = query_add(q, JOBSD_Q_LIFE_CYCLE, arg.state);
        if (r >= 0 && arg.result)
            r = query_add(q, JOBSD_Q_RESULT, arg.result);
        if (r >= 0 && arg.name)
            r = query_add(q, JOBSD_Q_NAME, arg.name);
        if (r >= 0 && arg.trigger)
            r = query_add(q, JOBSD_Q_TRIGGER, arg.trigger);
        if (r >= 0 && arg.run_type)
            r = query_add(q, JOBSD_Q_RUN_TYPE, arg.run_type);
        __attribute__((fallthrough));
    case ENDPOINT_LOCAL_EXPORT:
        if (r >= 0 && arg.since && (r = time_arg("--since", arg.since, &t)) >= 0)
            r = query_add_int(q, JOBSD_Q_SINCE, t);
        if (r >= 0 && arg.until && (r = time_arg("--until", arg.until, &t)) >= 0)
            r = query_add_int(q, JOBSD_Q_UNTIL, t);
        if (r >= 0 && e->id == ENDPOINT_LOCAL_EXPORT && arg.runs_only)
            r = query_add(q, JOBSD_Q_RUNS_ONLY, "true");
        break;
    default:
        break;
    }
    if (e->id == ENDPOINT_JOBS_LIST || e->id == ENDPOINT_RUNS_LIST ||
        e->id == ENDPOINT_LOCAL_RUNS) {
        if (r >= 0 && arg.limit)
            r = query_add_int(q, "limit", arg.limit);
        if (r >= 0 && arg.expand_tasks && e->id != ENDPOINT_LOCAL_RUNS)
            r = query_add(q, "expand_tasks", "true");
    }
    for (size_t i = 0; r >= 0 && i < arg.n_query; i++) {
        char *eq = strchr(arg.query[i], '=');
        *eq = 0;
        r = query_add(q, arg.query[i], eq + 1);
        *eq = '=';
    }
    return r;
}

static int read_body_file(const char *path, struct json_object **ret)
{
    _cleanup_close_ int fd = streq(path, "-") ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    int in = streq(path, "-") ? STDIN_FILENO : fd;
    struct buf b = BUF_INIT(JSON_SIZE_MAX);
    struct json_error err;
    if (in < 0) {
        cli_fail("cannot read %s: %m", path);
        return -errno;
    }
    for (;;) {
        char chunk[64 * 1024];
        ssize_t n = read(in, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_fail("cannot read %s: %m", path);
            buf_done(&b);
            return -EIO;
        }
        if (n == 0)
            break;
        if (buf_append(&b, chunk, (size_t)n) < 0) {
            cli_fail("%s is too large", path);
            buf_done(&b);
            return -EMSGSIZE;
        }
    }
    int r =
        json_parse_object(b.data ? b.data : "", b.len, JSON_SIZE_MAX, JSON_DEPTH_MAX, ret, &err);
    buf_done(&b);
    if (r < 0)
        cli_fail("%s: not a JSON object: %s", streq(path, "-") ? "stdin" : path, err.message);
    return r;
}

/* KEY=VALUE pairs into an object. */
static int params_object(char **kv, size_t n, struct json_object **ret)
{
    _cleanup_json_ struct json_object *o = json_object_new_object();
    if (!o)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        _cleanup_free_ char *k = strndup(kv[i], (size_t)(eq - kv[i]));
        if (!k || json_add_string(o, k, eq + 1) < 0)
            return -ENOMEM;
    }
    *ret = TAKE_PTR(o);
    return 0;
}

static int strings_array(char **v, size_t n, struct json_object **ret)
{
    _cleanup_json_ struct json_object *a = json_object_new_array();
    if (!a)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (json_append(a, json_object_new_string(v[i])) < 0)
            return -ENOMEM;
    *ret = TAKE_PTR(a);
    return 0;
}

/* The latest repair of a run (its last REPAIR in repair_history), 0 if
 * none: repair needs it after the first. */
static int latest_repair(int64_t run_id, int64_t *ret)
{
    char path[128];
    struct xfer x = { 0 };
    _cleanup_json_ struct json_object *o = NULL;
    struct json_object *h = NULL;
    snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get?run_id=%" PRId64 "&include_history=true",
             run_id);
    int r = cli_call(&x, "GET", path, NULL, 0);
    if (r == 0)
        r = cli_parse_reply(&x, &o);
    xfer_done(&x);
    if (r)
        return r;
    *ret = 0;
    if (json_get_array(o, "repair_history", JSON_NULLABLE, &h, NULL) > 0)
        for (size_t i = 0; i < json_object_array_length(h); i++) {
            struct json_object *item = json_object_array_get_idx(h, i);
            int64_t id;
            const char *type = NULL;
            if (json_get_string(item, "type", JSON_NULLABLE, &type, NULL) > 0 && type &&
                streq(type, "REPAIR") && json_get_id(item, "id", JSON_NULLABLE, &id, NULL) > 0)
                *ret = id;
        }
    return 0;
}

/* The body of a write command: the file (or {}), then the options. Returns
 * 0 or an exit status. */
int cli_build_body(const struct endpoint *e, int64_t id, bool have_id, struct json_object **ret)
{
    _cleanup_json_ struct json_object *o = NULL;
    struct json_object *v = NULL;
    bool path_id = strstr(e->pattern, "{job_id}") != NULL;
    int r;
    if (arg.file) {
        if (read_body_file(arg.file, &o) < 0)
            return EXIT_USAGE;
    } else if (!(o = json_object_new_object()))
        return EXIT_LOCAL_ERROR;
    r = 0;
    if (have_id && !path_id)
        r = json_add_int64(o, e->key == KEY_RUN_ID ? "run_id" : "job_id", id);
    if (r >= 0 && arg.idempotency_token && e->retry == RETRY_WITH_TOKEN)
        r = json_add_string(o, "idempotency_token", arg.idempotency_token);
    if (r >= 0 && arg.run_name && e->id == ENDPOINT_RUNS_SUBMIT)
        r = json_add_string(o, "run_name", arg.run_name);
    if (r >= 0 && arg.n_params && (e->id == ENDPOINT_RUN_NOW || e->id == ENDPOINT_RUNS_REPAIR)) {
        r = params_object(arg.params, arg.n_params, &v);
        if (r >= 0)
            r = json_add(o, "job_parameters", v);
    }
    if (r >= 0 && arg.n_only && e->id == ENDPOINT_RUN_NOW) {
        r = strings_array(arg.only, arg.n_only, &v);
        if (r >= 0)
            r = json_add(o, "only", v);
    }
    if (e->id == ENDPOINT_RUNS_REPAIR) {
        if (r >= 0 && arg.n_tasks) {
            r = strings_array(arg.tasks, arg.n_tasks, &v);
            if (r >= 0)
                r = json_add(o, "rerun_tasks", v);
        }
        if (r >= 0 && arg.all_failed)
            r = json_add_bool(o, "rerun_all_failed_tasks", true);
        if (r >= 0 && !json_object_object_get_ex(o, "latest_repair_id", NULL)) {
            int64_t latest = arg.latest_repair_id;
            if (!latest && have_id) {
                int s = latest_repair(id, &latest);
                if (s)
                    return s;
            }
            if (latest)
                r = json_add_int64(o, "latest_repair_id", latest);
        }
    }
    if (r >= 0 && e->id == ENDPOINT_RUNS_CANCEL_ALL && arg.all_queued)
        r = json_add_bool(o, "all_queued_runs", true);
    if (r < 0)
        return EXIT_LOCAL_ERROR;
    *ret = TAKE_PTR(o);
    return 0;
}
