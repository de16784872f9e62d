/* jobsctl: the commands that take more than one call: waiting, paging,
 * watching, exporting. */
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

/* After a failed run: each failed task's error and the tail of its
 * output, from runs/get-output through jobsd. */
static void report_failures(const char *run_text)
{
    _cleanup_json_ struct json_object *run = NULL;
    struct json_object *tasks = NULL;
    if (!run_text ||
        json_parse_object(run_text, strlen(run_text), REPLY_MAX, JSON_DEPTH_MAX, &run, NULL) < 0 ||
        json_get_array(run, "tasks", JSON_NULLABLE, &tasks, NULL) <= 0)
        return;
    for (size_t i = 0; i < json_object_array_length(tasks); i++) {
        struct json_object *task = json_object_array_get_idx(tasks, i);
        struct run_view v;
        const char *key = NULL;
        if (run_view_from_run(task, &v) < 0 || !v.terminal)
            continue;
        if (!streq(v.result, "FAILED") && !streq(v.result, "TIMEDOUT") &&
            !streq(v.life_cycle, "INTERNAL_ERROR"))
            continue;
        (void)json_get_string(task, "task_key", JSON_NULLABLE, &key, NULL);
        fprintf(stderr, "task %s (run %" PRId64 ") %s%s%s\n", key ? key : "?", v.run_id,
                v.life_cycle, v.result[0] ? " " : "", v.result);
        char path[128];
        struct xfer x = { 0 };
        _cleanup_json_ struct json_object *out = NULL;
        struct buf b = BUF_INIT(REPLY_MAX);
        snprintf(path, sizeof(path), "/api/2.2/jobs/runs/get-output?run_id=%" PRId64, v.run_id);
        if (transport_call(transport, &x, "GET", path, NULL, 0) == 0 && x.status == 200 &&
            json_parse_object(x.body.data, x.body.len, REPLY_MAX, JSON_DEPTH_MAX, &out, NULL) >=
                0 &&
            view_output_text(out, arg.tail, &b) >= 0 && b.data)
            fputs(b.data, stderr);
        else if (v.message[0])
            fprintf(stderr, "error: %s\n", v.message);
        buf_done(&b);
        xfer_done(&x);
    }
}

static bool progress_is_live(size_t *ret_width)
{
    const char *term = getenv("TERM");
    struct winsize ws;
    *ret_width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
    return isatty(STDERR_FILENO) && !(term && streq(term, "dumb"));
}

/* Waits for runs, prints each final state, and returns the exit status. */
int cli_wait_runs(const int64_t *ids, size_t n)
{
    struct wait_options o = {
        .timeout_ms = arg.timeout_ms,
        .progress = arg.no_progress ? NULL : stderr,
    };
    o.live = progress_is_live(&o.width);
    _cleanup_(waiter_freep) struct waiter *w = NULL;
    struct api_error err;
    int r = waiter_new(transport, &o, &w);
    for (size_t i = 0; r >= 0 && i < n; i++)
        r = waiter_add(w, ids[i]);
    if (r < 0) {
        cli_fail("cannot wait: %s", strerror(-r));
        return EXIT_LOCAL_ERROR;
    }
    r = waiter_run(w, &err);
    if (r == -EREMOTEIO)
        return cli_api_failure(&err);
    if (r < 0)
        return cli_unreachable(r, NULL);
    for (size_t i = 0; i < n; i++) {
        const struct run_view *v = waiter_view(w, i);
        const char *text = waiter_text(w, i);
        char state[96], took[FORMAT_MAX];
        if (!waiter_finished(w, i)) {
            cli_fail("run %" PRId64 " is still %s after %s", ids[i],
                     v ? v->life_cycle : "not started",
                     format_duration(arg.timeout_ms, took, sizeof(took)));
            continue;
        }
        if (arg.output == OUT_JSON && text)
            printf("%s\n", text);
        else if (v)
            printf("run %" PRId64 " %s in %s\n", v->run_id, run_view_state(v, state, sizeof(state)),
                   format_duration(run_view_elapsed(v, 0, 0), took, sizeof(took)));
        if (v && run_view_exit_status(v) == EXIT_RUN_FAILED)
            report_failures(text);
    }
    return waiter_exit_status(w);
}

/* The id a write answered with (run_id, job_id, repair_id): printed alone
 * so scripts can take it. */
int cli_show_created(const struct endpoint *e, const struct xfer *x, int64_t *ret_id)
{
    _cleanup_json_ struct json_object *o = NULL;
    const char *field = e->id == ENDPOINT_JOBS_CREATE   ? "job_id"
                        : e->id == ENDPOINT_RUNS_REPAIR ? "repair_id"
                                                        : "run_id";
    int r = cli_parse_reply(x, &o);
    if (r)
        return r;
    if (json_get_id(o, field, JSON_REQUIRED, ret_id, NULL) < 0) {
        cli_fail("jobsd's answer has no %s", field);
        return EXIT_API_ERROR;
    }
    if (arg.output == OUT_JSON)
        cli_print_raw(x);
    else if (!arg.wait)
        printf("%" PRId64 "\n", *ret_id);
    return 0;
}

/* A list, page after page with --all: one table of every page's items, or
 * (--json) each page as it came, one a line. */
int cli_list_pages(const struct endpoint *e, const char *path0)
{
    _cleanup_json_ struct json_object *all = NULL;
    _cleanup_(table_freep) struct table *t = NULL;
    _cleanup_free_ char *token = arg.page_token ? strdup(arg.page_token) : NULL;
    const char *key = e->id == ENDPOINT_JOBS_LIST ? "jobs" : "runs";
    for (size_t page = 0; page < LIST_PAGES_MAX; page++) {
        struct buf path = BUF_INIT(64 * KIB);
        struct xfer x = { 0 };
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *items = NULL, *into = NULL;
        const char *next = NULL;
        int r = buf_append(&path, path0, strlen(path0));
        if (r >= 0 && token) {
            _cleanup_free_ char *v = curl_easy_escape(NULL, token, 0);
            r = v ? buf_appendf(&path, "%cpage_token=%s", strchr(path0, '?') ? '&' : '?', v)
                  : -ENOMEM;
        }
        r = r < 0 ? EXIT_LOCAL_ERROR : cli_call(&x, "GET", path.data, NULL, 0);
        buf_done(&path);
        if (r == 0 && arg.output == OUT_JSON)
            cli_print_raw(&x);
        if (r == 0)
            r = cli_parse_reply(&x, &o);
        xfer_done(&x);
        if (r)
            return r;
        if (!all)
            all = json_object_get(o);
        else if (json_get_array(o, key, JSON_NULLABLE, &items, NULL) > 0) {
            if (json_get_array(all, key, JSON_NULLABLE, &into, NULL) <= 0 &&
                (json_add(all, key, json_object_new_array()) < 0 ||
                 json_get_array(all, key, JSON_REQUIRED, &into, NULL) < 0))
                return EXIT_LOCAL_ERROR;
            for (size_t i = 0; i < json_object_array_length(items); i++)
                if (json_append(into, json_object_get(json_object_array_get_idx(items, i))) < 0)
                    return EXIT_LOCAL_ERROR;
        }
        free(token);
        token = NULL;
        if (!arg.all || json_get_string(o, "next_page_token", JSON_NULLABLE, &next, NULL) <= 0 ||
            isempty(next))
            break;
        if (!(token = strdup(next)))
            return EXIT_LOCAL_ERROR;
    }
    if (arg.output == OUT_JSON)
        return 0;
    if (view_table(e->id, all, &t) < 0 || cli_print_table(t) < 0)
        return EXIT_LOCAL_ERROR;
    if (!arg.all && json_object_object_get_ex(all, "next_page_token", NULL) &&
        arg.output == OUT_TABLE)
        fprintf(stderr, "(more: --all, or --page-token %s)\n",
                json_object_get_string(json_object_object_get(all, "next_page_token")));
    return 0;
}

/* watch: the event stream, one line per change (or each event's JSON). */
static int on_watch_event(const char *id, const char *event, const char *data, void *userdata)
{
    _cleanup_json_ struct json_object *o = NULL;
    struct run_view v;
    struct timespec ts;
    if (arg.output == OUT_JSON) {
        printf("%s\n", data);
        fflush(stdout);
        return 0;
    }
    if (!streq(event, JOBSD_EVENT_RUN) ||
        json_parse_object(data, strlen(data), JSON_SIZE_MAX, JSON_DEPTH_MAX, &o, NULL) < 0 ||
        run_view_from_event(o, &v) < 0)
        return 0;
    int64_t t = 0;
    (void)json_get_int64(o, JOBSD_EV_TIME, JSON_NULLABLE, &t, NULL);
    clock_gettime(CLOCK_REALTIME, &ts);
    if (t <= 0)
        t = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    struct buf b = BUF_INIT(64 * KIB);
    if (progress_line(&v, t, run_view_elapsed(&v, t, 0), &b) >= 0)
        printf("%s\n", b.data);
    fflush(stdout);
    buf_done(&b);
    return 0;
}

static int on_watch_data(const char *p, size_t n, void *userdata)
{
    return sse_feed(userdata, p, n);
}

int cli_watch(const struct endpoint *e)
{
    struct buf path = BUF_INIT(64 * KIB);
    struct xfer x = { 0 };
    _cleanup_(sse_freep) struct sse *sse = NULL;
    int r = buf_append(&path, e->pattern, strlen(e->pattern));
    if (r >= 0 && arg.job_id)
        r = buf_appendf(&path, "?%s=%" PRId64, JOBSD_EV_JOB_ID, arg.job_id);
    for (size_t i = 0; r >= 0 && i < arg.n_run_ids; i++)
        r = buf_appendf(&path, "%c%s=%" PRId64, strchr(path.data, '?') ? '&' : '?', JOBSD_EV_RUN_ID,
                        arg.run_ids[i]);
    if (r >= 0)
        r = sse_new(on_watch_event, NULL, &sse);
    if (r < 0) {
        buf_done(&path);
        return EXIT_LOCAL_ERROR;
    }
    x.on_data = on_watch_data;
    x.userdata = sse;
    r = cli_call(&x, "GET", path.data, NULL, 0);
    buf_done(&path);
    xfer_done(&x);
    return r;
}

/* export: JSON Lines as they come, or (-o csv) one row per archived run. */
#define EXPORT_CSV_HEADER                                                                          \
    "run_id,job_id,run_name,life_cycle_state,result_state,start_time,end_time,duration_s,tasks"

struct export_csv {
    struct buf line;
    bool header;
};

static int export_csv_line(struct export_csv *c, const char *line, size_t len)
{
    _cleanup_json_ struct json_object *o = NULL;
    struct json_object *run = NULL;
    const char *kind = NULL;
    struct run_view v;
    char a[FORMAT_MAX], b2[FORMAT_MAX], d[FORMAT_MAX];
    if (json_parse_object(line, len, REPLY_MAX, JSON_DEPTH_MAX, &o, NULL) < 0 ||
        json_get_string(o, "kind", JSON_REQUIRED, &kind, NULL) < 0 || !streq(kind, "run") ||
        json_get_object(o, "run", JSON_REQUIRED, &run, NULL) < 0 || run_view_from_run(run, &v) < 0)
        return 0;
    int64_t job = 0;
    (void)json_get_int64(run, "job_id", JSON_NULLABLE, &job, NULL);
    struct buf out = BUF_INIT(1 * MIB);
    int r = 0;
    if (!c->header)
        r = buf_appendf(&out, "%s\n", EXPORT_CSV_HEADER);
    c->header = true;
    if (r >= 0)
        r = buf_appendf(&out, "%" PRId64 ",", v.run_id);
    if (r >= 0 && job)
        r = buf_appendf(&out, "%" PRId64, job);
    if (r >= 0)
        r = buf_append(&out, ",", 1);
    if (r >= 0)
        r = csv_append_field(&out, v.name);
    if (r >= 0)
        r = buf_appendf(&out, ",%s,%s,%s,%s,%s,%d\n", v.life_cycle, v.result,
                        format_time_iso(v.start_ms, a, sizeof(a)),
                        format_time_iso(v.end_ms, b2, sizeof(b2)),
                        v.end_ms > v.start_ms && v.start_ms > 0
                            ? format_seconds(v.end_ms - v.start_ms, d, sizeof(d))
                            : "",
                        v.tasks_total);
    if (r >= 0)
        fputs(out.data, stdout);
    buf_done(&out);
    return r;
}

static int on_export_data(const char *p, size_t n, void *userdata)
{
    struct export_csv *c = userdata;
    if (!c)
        return fwrite(p, 1, n, stdout) == n ? 0 : -EIO;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n') {
            if (buf_append(&c->line, p + i, 1) < 0)
                return -EMSGSIZE;
            continue;
        }
        int r = export_csv_line(c, c->line.data ? c->line.data : "", c->line.len);
        buf_reset(&c->line);
        if (r < 0)
            return r;
    }
    return 0;
}

int cli_export(const struct endpoint *e, const char *path)
{
    struct export_csv c = { .line = BUF_INIT(REPLY_MAX) };
    struct xfer x = { .on_data = on_export_data, .userdata = arg.output == OUT_CSV ? &c : NULL };
    int r = cli_call(&x, "GET", path, NULL, 0);
    if (r == 0 && arg.output == OUT_CSV && c.line.len)
        r = export_csv_line(&c, c.line.data, c.line.len) < 0 ? EXIT_LOCAL_ERROR : 0;
    if (r == 0 && arg.output == OUT_CSV && !c.header)
        puts(EXPORT_CSV_HEADER);
    buf_done(&c.line);
    xfer_done(&x);
    return r;
}
