/* jobsctl: the command-line client of jobsd. Commands come from
 * proto/endpoints.def (the cli column); this file holds the options, how
 * each command builds its request, and what it prints. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

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

#define DEFAULT_SOCKET "/run/jobsd/jobsd.sock"
#define DEFAULT_TOKEN_FILE "/var/lib/jobsd/local-token"
#define LIST_PAGES_MAX 10000
#define TOKEN_MAX 4096

enum output { OUT_TABLE, OUT_CSV, OUT_JSON };

/* Parsed arguments: the one global state. */
static struct {
    const char *socket;
    const char *url;
    const char *token_file;
    enum output output;
    const char *file;
    char **params; /* KEY=VALUE */
    size_t n_params;
    char **query;
    size_t n_query;
    char **only;
    size_t n_only;
    char **tasks;
    size_t n_tasks;
    const char *idempotency_token;
    const char *run_name;
    const char *name;
    const char *state;
    const char *result;
    const char *since;
    const char *until;
    const char *trigger;
    const char *run_type;
    const char *page_token;
    const char *views;
    int64_t job_id;
    int64_t latest_repair_id;
    int64_t *run_ids; /* --run for watch */
    size_t n_run_ids;
    int64_t limit;
    int64_t timeout_ms;
    size_t tail;
    bool wait;
    bool all;
    bool active_only;
    bool completed_only;
    bool expand_tasks;
    bool all_failed;
    bool all_queued;
    bool runs_only;
    bool no_progress;
} arg = { .tail = VIEW_TAIL_LINES };

static struct transport *transport;

static void fail(const char *fmt, ...) _printf_(1, 2);
static void fail(const char *fmt, ...)
{
    va_list ap;
    fputs("jobsctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* The one line for a transport failure; returns EXIT_UNREACHABLE. */
static int unreachable(int r, const struct xfer *x)
{
    const char *where = transport_where(transport);
    bool sock = transport_is_socket(transport);
    switch (r) {
    case -ENOENT:
    case -ECONNREFUSED:
        if (sock)
            fail("jobsd is not running at %s (try: systemctl start jobsd.socket)", where);
        else
            fail("jobsd is not listening on %s (is server.tcp set in jobsd.conf?)", where);
        break;
    case -EACCES:
        fail("jobsd's socket %s is not open to you (join its group, usually jobsd)", where);
        break;
    case -ETIMEDOUT:
        fail("jobsd at %s did not answer in time", where);
        break;
    default:
        fail("cannot talk to jobsd at %s: %s", where, x && x->error[0] ? x->error : strerror(-r));
    }
    return EXIT_UNREACHABLE;
}

static int api_failure(const struct api_error *e)
{
    fail("%s: %s (HTTP %d)", e->code, e->message, e->status);
    return EXIT_API_ERROR;
}

static int reply_failure(const struct xfer *x)
{
    struct api_error e;
    api_error_parse((int)x->status, x->body.data, x->body.len, &e);
    return api_failure(&e);
}

/* Runs one request; on success (2xx) returns 0 with x holding the answer,
 * otherwise prints the error and returns the exit status. */
static int call(struct xfer *x, const char *method, const char *path, const char *body, size_t len)
{
    int r = transport_call(transport, x, method, path, body, len);
    if (r == -ENOMEM || r == -EINVAL) {
        fail("cannot prepare the request: %s", strerror(-r));
        return EXIT_LOCAL_ERROR;
    }
    if (r < 0)
        return unreachable(r, x);
    if (x->status < 200 || x->status > 299)
        return reply_failure(x);
    return 0;
}

static size_t terminal_width(void)
{
    const char *c = getenv("COLUMNS");
    int n;
    struct winsize ws;
    if (c && parse_int(c, &n) == 0 && n > 0)
        return (size_t)n;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 0;
}

static int print_table(const struct table *t)
{
    struct buf b = BUF_INIT(REPLY_MAX);
    int r = arg.output == OUT_CSV ? table_render_csv(t, &b) : table_render(t, terminal_width(), &b);
    if (r >= 0 && b.data)
        fputs(b.data, stdout);
    buf_done(&b);
    return r;
}

static void print_raw(const struct xfer *x)
{
    if (x->body.len == 0)
        return;
    fwrite(x->body.data, 1, x->body.len, stdout);
    if (x->body.data[x->body.len - 1] != '\n')
        fputc('\n', stdout);
}

static int parse_reply(const struct xfer *x, struct json_object **ret)
{
    struct json_error err;
    if (json_parse_object(x->body.len ? x->body.data : "{}", x->body.len ? x->body.len : 2,
                          REPLY_MAX, JSON_DEPTH_MAX, ret, &err) < 0) {
        fail("jobsd answered something that is not JSON: %s", err.message);
        return EXIT_API_ERROR;
    }
    return 0;
}

/* Says on stderr when an answer is not the workspace's current one: a
 * stale copy (the workspace failed) or the archive's (it no longer has it). */
static void note_source(const struct xfer *x)
{
    int64_t age;
    char took[FORMAT_MAX];
    if (streq(x->source, "stale")) {
        if (parse_int64(x->age, &age) == 0)
            fprintf(stderr, "jobsctl: note: a stale copy, %s old: the workspace did not answer\n",
                    format_duration(age * 1000, took, sizeof(took)));
        else
            fputs("jobsctl: note: a stale copy: the workspace did not answer\n", stderr);
    } else if (streq(x->source, "archive"))
        fputs("jobsctl: note: from jobsd's archive: the workspace no longer gives it\n", stderr);
}

/* Shows an answer: as it came (--json), as a table, or as indented JSON. */
static int show(enum endpoint_id id, const struct xfer *x)
{
    _cleanup_json_ struct json_object *o = NULL;
    _cleanup_(table_freep) struct table *t = NULL, *more = NULL;
    if (arg.output == OUT_JSON) {
        print_raw(x);
        return 0;
    }
    int r = parse_reply(x, &o);
    if (r)
        return r;
    if (id < _ENDPOINT_MAX && endpoint_get(id)->scope != SCOPE_LOCAL)
        note_source(x);
    r = view_table(id, o, &t);
    if (r == -EOPNOTSUPP) {
        if (json_object_object_length(o) > 0)
            puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
    }
    if (r >= 0)
        r = print_table(t);
    if (r >= 0 && arg.output == OUT_TABLE && view_table_more(id, o, &more) >= 0 &&
        table_rows(more) > 0) {
        putchar('\n');
        r = print_table(more);
    }
    if (r < 0) {
        fail("cannot show the answer: %s", strerror(-r));
        return EXIT_LOCAL_ERROR;
    }
    return 0;
}

/* ---- requests ---- */

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
        fail("%s: not a time (YYYY-MM-DD[ HH:MM[:SS]][Z], epoch ms, or an age like 7d): %s", what,
             s);
        return -EINVAL;
    }
    return 0;
}

/* The query of a GET command, from its options. */
static int build_query(const struct endpoint *e, int64_t id, bool have_id, struct buf *q)
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
        fail("cannot read %s: %m", path);
        return -errno;
    }
    for (;;) {
        char chunk[64 * 1024];
        ssize_t n = read(in, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fail("cannot read %s: %m", path);
            buf_done(&b);
            return -EIO;
        }
        if (n == 0)
            break;
        if (buf_append(&b, chunk, (size_t)n) < 0) {
            fail("%s is too large", path);
            buf_done(&b);
            return -EMSGSIZE;
        }
    }
    int r =
        json_parse_object(b.data ? b.data : "", b.len, JSON_SIZE_MAX, JSON_DEPTH_MAX, ret, &err);
    buf_done(&b);
    if (r < 0)
        fail("%s: not a JSON object: %s", streq(path, "-") ? "stdin" : path, err.message);
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
    int r = call(&x, "GET", path, NULL, 0);
    if (r == 0)
        r = parse_reply(&x, &o);
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
static int build_body(const struct endpoint *e, int64_t id, bool have_id, struct json_object **ret)
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

/* ---- commands ---- */

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
static int wait_runs(const int64_t *ids, size_t n)
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
        fail("cannot wait: %s", strerror(-r));
        return EXIT_LOCAL_ERROR;
    }
    r = waiter_run(w, &err);
    if (r == -EREMOTEIO)
        return api_failure(&err);
    if (r < 0)
        return unreachable(r, NULL);
    for (size_t i = 0; i < n; i++) {
        const struct run_view *v = waiter_view(w, i);
        const char *text = waiter_text(w, i);
        char state[96], took[FORMAT_MAX];
        if (!waiter_finished(w, i)) {
            fail("run %" PRId64 " is still %s after %s", ids[i], v ? v->life_cycle : "not started",
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
static int show_created(const struct endpoint *e, const struct xfer *x, int64_t *ret_id)
{
    _cleanup_json_ struct json_object *o = NULL;
    const char *field = e->id == ENDPOINT_JOBS_CREATE   ? "job_id"
                        : e->id == ENDPOINT_RUNS_REPAIR ? "repair_id"
                                                        : "run_id";
    int r = parse_reply(x, &o);
    if (r)
        return r;
    if (json_get_id(o, field, JSON_REQUIRED, ret_id, NULL) < 0) {
        fail("jobsd's answer has no %s", field);
        return EXIT_API_ERROR;
    }
    if (arg.output == OUT_JSON)
        print_raw(x);
    else if (!arg.wait)
        printf("%" PRId64 "\n", *ret_id);
    return 0;
}

/* A list, page after page with --all: one table of every page's items, or
 * (--json) each page as it came, one a line. */
static int list_pages(const struct endpoint *e, const char *path0)
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
        r = r < 0 ? EXIT_LOCAL_ERROR : call(&x, "GET", path.data, NULL, 0);
        buf_done(&path);
        if (r == 0 && arg.output == OUT_JSON)
            print_raw(&x);
        if (r == 0)
            r = parse_reply(&x, &o);
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
    if (view_table(e->id, all, &t) < 0 || print_table(t) < 0)
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

static int cmd_watch(const struct endpoint *e)
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
    r = call(&x, "GET", path.data, NULL, 0);
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

static int cmd_export(const struct endpoint *e, const char *path)
{
    struct export_csv c = { .line = BUF_INIT(REPLY_MAX) };
    struct xfer x = { .on_data = on_export_data, .userdata = arg.output == OUT_CSV ? &c : NULL };
    int r = call(&x, "GET", path, NULL, 0);
    if (r == 0 && arg.output == OUT_CSV && c.line.len)
        r = export_csv_line(&c, c.line.data, c.line.len) < 0 ? EXIT_LOCAL_ERROR : 0;
    if (r == 0 && arg.output == OUT_CSV && !c.header)
        puts(EXPORT_CSV_HEADER);
    buf_done(&c.line);
    xfer_done(&x);
    return r;
}

/* ---- the command table ---- */

/* What jobsctl adds to a row of proto/endpoints.def: its arguments and a
 * line of help. A row with a cli name and nothing here still works: its
 * id as an argument, --query, --file, and the answer as JSON. */
struct command_help {
    const char *args;
    const char *summary;
};

static const struct command_help help_of[_ENDPOINT_MAX] = {
    [ENDPOINT_JOBS_CREATE] = { "-f FILE", "create a job from JobSettings JSON; prints its job_id" },
    [ENDPOINT_JOBS_LIST] = { "[--name N] [--all]", "list jobs" },
    [ENDPOINT_JOBS_GET] = { "JOB_ID", "show a job and its tasks" },
    [ENDPOINT_JOBS_RESET] = { "JOB_ID -f FILE",
                              "replace a job's settings ({\"new_settings\": ...})" },
    [ENDPOINT_JOBS_UPDATE] = { "JOB_ID -f FILE", "change some of a job's settings" },
    [ENDPOINT_JOBS_DELETE] = { "JOB_ID", "delete a job" },
    [ENDPOINT_RUN_NOW] = { "JOB_ID [-p K=V]... [--only T]... [--wait]",
                           "start a job run; prints its run_id" },
    [ENDPOINT_RUNS_SUBMIT] = { "-f FILE [--run-name N] [--wait]",
                               "submit a one-time run; prints its run_id" },
    [ENDPOINT_RUNS_LIST] = { "[JOB_ID] [--active-only|--completed-only] [--all]",
                             "list runs the workspace has" },
    [ENDPOINT_RUNS_GET] = { "RUN_ID", "show a run and its tasks" },
    [ENDPOINT_RUNS_GET_OUTPUT] = { "TASK_RUN_ID", "show a task run's output" },
    [ENDPOINT_RUNS_EXPORT] = { "TASK_RUN_ID [--views CODE|DASHBOARDS|ALL]",
                               "export a task run's views" },
    [ENDPOINT_RUNS_CANCEL] = { "RUN_ID [--wait]", "cancel a run" },
    [ENDPOINT_RUNS_CANCEL_ALL] = { "[JOB_ID] [--all-queued]", "cancel every run of a job" },
    [ENDPOINT_RUNS_DELETE] = { "RUN_ID", "delete a finished run" },
    [ENDPOINT_RUNS_REPAIR] = { "RUN_ID (--task T... | --all-failed) [--wait]",
                               "re-run tasks of a finished run" },
    [ENDPOINT_PERMISSIONS_GET] = { "JOB_ID", "show a job's access control list" },
    [ENDPOINT_PERMISSIONS_SET] = { "JOB_ID -f FILE", "replace a job's direct grants" },
    [ENDPOINT_PERMISSIONS_UPDATE] = { "JOB_ID -f FILE", "add or change grants" },
    [ENDPOINT_PERMISSION_LEVELS] = { "JOB_ID", "list the permission levels of a job" },
    [ENDPOINT_LOCAL_HEALTH] = { "", "whether jobsd answers" },
    [ENDPOINT_LOCAL_STATUS] = { "", "jobsd's version, listeners and workspace link" },
    [ENDPOINT_LOCAL_RUNS] = { "[--job J] [--state S] [--result R] [--since T] [--until T] "
                              "[--name N] [--all]",
                              "archived runs, newest first" },
    [ENDPOINT_LOCAL_RUN] = { "RUN_ID", "an archived run" },
    [ENDPOINT_LOCAL_RUN_OUTPUT] = { "RUN_ID", "archived outputs of a run's tasks" },
    [ENDPOINT_LOCAL_RUN_WAIT] = { "RUN_ID... [--timeout D]", "wait until runs finish" },
    [ENDPOINT_LOCAL_EVENTS] = { "[--job J] [--run R]...", "follow run state changes" },
    [ENDPOINT_LOCAL_BACKFILL] = { "[-f FILE]",
                                  "archive the runs the workspace still has, now ({\"days\": N})" },
    [ENDPOINT_LOCAL_EXPORT] = { "[--since T] [--until T] [--runs-only] [-o csv]",
                                "the archive as JSON Lines (or CSV of runs)" },
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: jobsctl [OPTIONS] COMMAND [ARGS]\n\nCommands:\n");
    for (size_t i = 0; i < _ENDPOINT_MAX; i++) {
        const struct endpoint *e = &endpoint_table[i];
        if (!e->cli)
            continue;
        const struct command_help *h = &help_of[e->id];
        fprintf(f, "  %-18s %s\n", e->cli, h->args ? h->args : "[ID] [--query K=V]... [-f FILE]");
        if (h->summary)
            fprintf(f, "  %-18s   %s\n", "", h->summary);
    }
    fputs("\nOptions:\n"
          "  -s, --socket PATH      jobsd's socket ($JOBSD_SOCKET, default " DEFAULT_SOCKET ")\n"
          "      --url URL          jobsd's TCP address instead ($JOBSD_URL)\n"
          "      --token-file FILE  the local token for --url ($JOBSD_LOCAL_TOKEN_FILE,\n"
          "                         default " DEFAULT_TOKEN_FILE ")\n"
          "  -o, --output FORMAT    table (default), csv, or json\n"
          "      --json             the same as -o json: the API's JSON as it came\n"
          "  -f, --file FILE        the request body (JSON; - for stdin)\n"
          "  -p, --param K=V        a job parameter (run-now, repair)\n"
          "      --only TASK        run only this task (run-now; repeat)\n"
          "      --idempotency-token T, --run-name NAME\n"
          "  -w, --wait             wait for the run, with progress (run-now, submit, repair,\n"
          "                         cancel)\n"
          "  -t, --timeout DUR      stop waiting after DUR (30s, 20m, 2h)\n"
          "      --no-progress      no progress lines while waiting\n"
          "      --job ID, --run ID, --state S, --result R, --since T, --until T, --name N,\n"
          "      --trigger T, --run-type T, --limit N, --page-token T, --all,\n"
          "      --active-only, --completed-only, --expand-tasks, --task KEY, --all-failed,\n"
          "      --latest-repair-id N, --all-queued, --views V, --runs-only, --tail N,\n"
          "      --query K=V        filters and fields; see jobsctl(1)\n"
          "  -h, --help             this text\n"
          "      --version          the version\n"
          "\nExit status:\n"
          "  0 success  1 run failed  2 usage error  3 run canceled  4 timed out waiting\n"
          "  5 jobsd unreachable  6 error answer from jobsd or the workspace  7 local error\n",
          f);
}

/* The row whose cli words start argv; *ret_used says how many. */
static const struct endpoint *find_command(char **argv, int argc, int *ret_used)
{
    const struct endpoint *best = NULL;
    int best_used = 0;
    for (size_t i = 0; i < _ENDPOINT_MAX; i++) {
        const struct endpoint *e = &endpoint_table[i];
        if (!e->cli)
            continue;
        const char *p = e->cli;
        int used = 0;
        while (*p && used < argc) {
            size_t n = strcspn(p, " ");
            if (strlen(argv[used]) != n || strncmp(argv[used], p, n) != 0)
                break;
            used++;
            p += n;
            p += *p == ' ';
        }
        if (!*p && used > best_used) {
            best = e;
            best_used = used;
        }
    }
    *ret_used = best_used;
    return best;
}

static int parse_id_arg(const char *what, const char *s, int64_t *ret)
{
    if (parse_id(s, ret) < 0) {
        fail("%s: not an id: %s", what, s);
        return -EINVAL;
    }
    return 0;
}

static int push(char ***v, size_t *n, char *s)
{
    char **a = reallocarray(*v, *n + 1, sizeof(char *));
    if (!a)
        return -ENOMEM;
    a[(*n)++] = s;
    *v = a;
    return 0;
}

enum {
    OPT_URL = 0x100,
    OPT_TOKEN_FILE,
    OPT_JSON,
    OPT_ONLY,
    OPT_IDEMPOTENCY,
    OPT_RUN_NAME,
    OPT_NO_PROGRESS,
    OPT_JOB,
    OPT_RUN,
    OPT_STATE,
    OPT_RESULT,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_NAME,
    OPT_TRIGGER,
    OPT_RUN_TYPE,
    OPT_LIMIT,
    OPT_PAGE_TOKEN,
    OPT_ALL,
    OPT_ACTIVE_ONLY,
    OPT_COMPLETED_ONLY,
    OPT_EXPAND_TASKS,
    OPT_TASK,
    OPT_ALL_FAILED,
    OPT_LATEST_REPAIR,
    OPT_ALL_QUEUED,
    OPT_VIEWS,
    OPT_RUNS_ONLY,
    OPT_TAIL,
    OPT_QUERY,
    OPT_VERSION,
    OPT_COMMANDS,
};

/* Options that only set a string or a flag. */
static const struct {
    int opt;
    const char **value;
} string_options[] = {
    { 's', &arg.socket },
    { OPT_URL, &arg.url },
    { OPT_TOKEN_FILE, &arg.token_file },
    { 'f', &arg.file },
    { OPT_IDEMPOTENCY, &arg.idempotency_token },
    { OPT_RUN_NAME, &arg.run_name },
    { OPT_STATE, &arg.state },
    { OPT_RESULT, &arg.result },
    { OPT_SINCE, &arg.since },
    { OPT_UNTIL, &arg.until },
    { OPT_NAME, &arg.name },
    { OPT_TRIGGER, &arg.trigger },
    { OPT_RUN_TYPE, &arg.run_type },
    { OPT_PAGE_TOKEN, &arg.page_token },
    { OPT_VIEWS, &arg.views },
};

static const struct {
    int opt;
    bool *flag;
} flag_options[] = {
    { 'w', &arg.wait },
    { OPT_NO_PROGRESS, &arg.no_progress },
    { OPT_ALL, &arg.all },
    { OPT_ACTIVE_ONLY, &arg.active_only },
    { OPT_COMPLETED_ONLY, &arg.completed_only },
    { OPT_EXPAND_TASKS, &arg.expand_tasks },
    { OPT_ALL_FAILED, &arg.all_failed },
    { OPT_ALL_QUEUED, &arg.all_queued },
    { OPT_RUNS_ONLY, &arg.runs_only },
};

/* Sets a string or flag option; false if c is another kind. */
static bool set_simple(int c)
{
    for (size_t i = 0; i < ELEMENTSOF(string_options); i++)
        if (string_options[i].opt == c) {
            *string_options[i].value = optarg;
            return true;
        }
    for (size_t i = 0; i < ELEMENTSOF(flag_options); i++)
        if (flag_options[i].opt == c) {
            *flag_options[i].flag = true;
            return true;
        }
    return false;
}

static int parse_args(int argc, char **argv, bool permute)
{
    static const struct option options[] = {
        { "socket", required_argument, NULL, 's' },
        { "url", required_argument, NULL, OPT_URL },
        { "token-file", required_argument, NULL, OPT_TOKEN_FILE },
        { "output", required_argument, NULL, 'o' },
        { "json", no_argument, NULL, OPT_JSON },
        { "file", required_argument, NULL, 'f' },
        { "param", required_argument, NULL, 'p' },
        { "only", required_argument, NULL, OPT_ONLY },
        { "idempotency-token", required_argument, NULL, OPT_IDEMPOTENCY },
        { "run-name", required_argument, NULL, OPT_RUN_NAME },
        { "wait", no_argument, NULL, 'w' },
        { "timeout", required_argument, NULL, 't' },
        { "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
        { "job", required_argument, NULL, OPT_JOB },
        { "run", required_argument, NULL, OPT_RUN },
        { "state", required_argument, NULL, OPT_STATE },
        { "result", required_argument, NULL, OPT_RESULT },
        { "since", required_argument, NULL, OPT_SINCE },
        { "until", required_argument, NULL, OPT_UNTIL },
        { "name", required_argument, NULL, OPT_NAME },
        { "trigger", required_argument, NULL, OPT_TRIGGER },
        { "run-type", required_argument, NULL, OPT_RUN_TYPE },
        { "limit", required_argument, NULL, OPT_LIMIT },
        { "page-token", required_argument, NULL, OPT_PAGE_TOKEN },
        { "all", no_argument, NULL, OPT_ALL },
        { "active-only", no_argument, NULL, OPT_ACTIVE_ONLY },
        { "completed-only", no_argument, NULL, OPT_COMPLETED_ONLY },
        { "expand-tasks", no_argument, NULL, OPT_EXPAND_TASKS },
        { "task", required_argument, NULL, OPT_TASK },
        { "all-failed", no_argument, NULL, OPT_ALL_FAILED },
        { "latest-repair-id", required_argument, NULL, OPT_LATEST_REPAIR },
        { "all-queued", no_argument, NULL, OPT_ALL_QUEUED },
        { "views", required_argument, NULL, OPT_VIEWS },
        { "runs-only", no_argument, NULL, OPT_RUNS_ONLY },
        { "tail", required_argument, NULL, OPT_TAIL },
        { "query", required_argument, NULL, OPT_QUERY },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
        { "commands", no_argument, NULL, OPT_COMMANDS },
        {},
    };
    int c;
    uint64_t u;
    int64_t id;
    while ((c = getopt_long(argc, argv, permute ? "s:o:f:p:wt:h" : "+s:o:f:p:wt:h", options,
                            NULL)) >= 0) {
        if (set_simple(c))
            continue;
        switch (c) {
        case 'o':
            if (streq(optarg, "table"))
                arg.output = OUT_TABLE;
            else if (streq(optarg, "csv"))
                arg.output = OUT_CSV;
            else if (streq(optarg, "json"))
                arg.output = OUT_JSON;
            else {
                fail("-o: table, csv or json, not %s", optarg);
                return -EINVAL;
            }
            break;
        case OPT_JSON:
            arg.output = OUT_JSON;
            break;
        case 'p':
        case OPT_QUERY:
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                fail("%s: KEY=VALUE, not %s", c == 'p' ? "--param" : "--query", optarg);
                return -EINVAL;
            }
            if (push(c == 'p' ? &arg.params : &arg.query, c == 'p' ? &arg.n_params : &arg.n_query,
                     optarg) < 0)
                return -ENOMEM;
            break;
        case OPT_ONLY:
            if (push(&arg.only, &arg.n_only, optarg) < 0)
                return -ENOMEM;
            break;
        case OPT_TASK:
            if (push(&arg.tasks, &arg.n_tasks, optarg) < 0)
                return -ENOMEM;
            break;
        case 't':
            if (parse_duration_ms(optarg, &u) < 0 || u == 0 || u > INT64_MAX / 2) {
                fail("--timeout: a duration like 30s, 20m or 2h, not %s", optarg);
                return -EINVAL;
            }
            arg.timeout_ms = (int64_t)u;
            break;
        case OPT_JOB:
            if (parse_id_arg("--job", optarg, &arg.job_id) < 0)
                return -EINVAL;
            break;
        case OPT_RUN: {
            int64_t *a = reallocarray(arg.run_ids, arg.n_run_ids + 1, sizeof(int64_t));
            if (!a)
                return -ENOMEM;
            arg.run_ids = a;
            if (parse_id_arg("--run", optarg, &a[arg.n_run_ids]) < 0)
                return -EINVAL;
            arg.n_run_ids++;
            break;
        }
        case OPT_LIMIT:
            if (parse_id_arg("--limit", optarg, &arg.limit) < 0)
                return -EINVAL;
            break;
        case OPT_LATEST_REPAIR:
            if (parse_id_arg("--latest-repair-id", optarg, &arg.latest_repair_id) < 0)
                return -EINVAL;
            break;
        case OPT_TAIL:
            if (parse_id_arg("--tail", optarg, &id) < 0)
                return -EINVAL;
            arg.tail = (size_t)id;
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_OK);
        case OPT_VERSION:
            puts("jobsctl " PACKAGE_VERSION);
            exit(EXIT_OK);
        case OPT_COMMANDS:
            /* For the bash completion: every command, one a line. */
            for (size_t i = 0; i < _ENDPOINT_MAX; i++)
                if (endpoint_table[i].cli)
                    puts(endpoint_table[i].cli);
            exit(EXIT_OK);
        default:
            return -EINVAL;
        }
    }
    return 0;
}

/* Reads the local token for --url: the file named, or jobsd's default one
 * when it is readable. NULL without a token (jobsd will say 401). */
static int read_token(char **ret)
{
    const char *path = arg.token_file ? arg.token_file : getenv("JOBSD_LOCAL_TOKEN_FILE");
    bool must = path != NULL;
    char buf[TOKEN_MAX];
    if (!path)
        path = DEFAULT_TOKEN_FILE;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *ret = NULL;
        if (must)
            fail("cannot read the local token from %s: %m", path);
        return must ? -errno : 0;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n < 0) {
        fail("cannot read the local token from %s: %m", path);
        return -errno;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = 0;
    *ret = n > 0 ? strdup(buf) : NULL;
    explicit_bzero(buf, sizeof(buf));
    return n > 0 && !*ret ? -ENOMEM : 0;
}

static bool is_write_with_run(enum endpoint_id id)
{
    return id == ENDPOINT_RUN_NOW || id == ENDPOINT_RUNS_SUBMIT || id == ENDPOINT_RUNS_REPAIR ||
           id == ENDPOINT_RUNS_CANCEL;
}

static int run_command(const struct endpoint *e, int argc, char **argv)
{
    int64_t id = 0;
    bool have_id = false;
    bool id_optional = e->id == ENDPOINT_RUNS_LIST || e->id == ENDPOINT_RUNS_CANCEL_ALL;
    _cleanup_free_ int64_t *ids = NULL;

    if (e->id == ENDPOINT_LOCAL_RUN_WAIT) {
        if (argc == 0) {
            fail("wait: which runs? (jobsctl wait RUN_ID...)");
            return EXIT_USAGE;
        }
        if (!(ids = calloc((size_t)argc, sizeof(*ids))))
            return EXIT_LOCAL_ERROR;
        for (int i = 0; i < argc; i++)
            if (parse_id_arg("wait", argv[i], &ids[i]) < 0)
                return EXIT_USAGE;
        return wait_runs(ids, (size_t)argc);
    }
    if (e->key != KEY_NONE && argc > 0) {
        if (parse_id_arg(e->cli, argv[0], &id) < 0)
            return EXIT_USAGE;
        have_id = true;
        argc--;
        argv++;
    } else if (e->key == KEY_JOB_ID && arg.job_id) {
        id = arg.job_id;
        have_id = true;
    }
    if (argc > 0) {
        fail("%s: unexpected argument '%s'", e->cli, argv[0]);
        return EXIT_USAGE;
    }
    /* A write's body file may carry the id itself. */
    if (e->key != KEY_NONE && !have_id && !id_optional && !(arg.file && e->method != HTTP_GET)) {
        fail("%s: which %s? (jobsctl %s %s)", e->cli, e->key == KEY_RUN_ID ? "run" : "job", e->cli,
             e->key == KEY_RUN_ID ? "RUN_ID" : "JOB_ID");
        return EXIT_USAGE;
    }
    if (e->id == ENDPOINT_LOCAL_EXPORT && arg.output == OUT_CSV)
        arg.runs_only = true; /* only runs make rows */

    char path[ENDPOINT_PATH_MAX];
    bool path_id = strstr(e->pattern, "{job_id}") || strstr(e->pattern, "{run_id}");
    enum api_version v = e->versions & API_V22 ? API_V22 : e->versions & API_V20 ? API_V20 : 0;
    if (!strstr(e->pattern, "{v}"))
        v = 0;
    int r = endpoint_format_path(e, v, path_id ? id : 0, path, sizeof(path));
    if (r < 0 && !v && !path_id)
        r = strscpy(path, sizeof(path), e->pattern);
    if (r < 0) {
        fail("%s: cannot make the path of %s", e->cli, e->pattern);
        return EXIT_LOCAL_ERROR;
    }

    struct buf q = BUF_INIT(64 * KIB);
    int s = 0;
    if (e->method == HTTP_GET) {
        r = build_query(e, id, have_id, &q);
        if (r == -EINVAL) {
            buf_done(&q);
            return EXIT_USAGE;
        }
        if (r < 0) {
            buf_done(&q);
            return EXIT_LOCAL_ERROR;
        }
    }
    _cleanup_free_ char *full = strjoin(path, q.data ? q.data : "");
    buf_done(&q);
    if (!full)
        return EXIT_LOCAL_ERROR;

    if (e->id == ENDPOINT_LOCAL_EVENTS)
        return cmd_watch(e);
    if (e->id == ENDPOINT_LOCAL_EXPORT)
        return cmd_export(e, full);
    if (e->id == ENDPOINT_JOBS_LIST || e->id == ENDPOINT_RUNS_LIST || e->id == ENDPOINT_LOCAL_RUNS)
        return list_pages(e, full);

    struct xfer x = { 0 };
    if (e->method == HTTP_GET) {
        s = call(&x, "GET", full, NULL, 0);
        if (s == 0 && e->id == ENDPOINT_LOCAL_HEALTH && arg.output != OUT_JSON) {
            _cleanup_json_ struct json_object *o = NULL;
            const char *st = NULL;
            if ((s = parse_reply(&x, &o)) == 0)
                puts(json_get_string(o, "status", JSON_NULLABLE, &st, NULL) > 0 && st ? st : "?");
        } else if (s == 0 && e->id == ENDPOINT_RUNS_GET_OUTPUT && arg.output != OUT_JSON) {
            _cleanup_json_ struct json_object *o = NULL;
            struct buf b = BUF_INIT(REPLY_MAX);
            if ((s = parse_reply(&x, &o)) == 0 && view_output_text(o, 0, &b) >= 0 && b.data)
                fputs(b.data, stdout);
            buf_done(&b);
        } else if (s == 0 && e->id == ENDPOINT_LOCAL_RUN_OUTPUT && arg.output != OUT_JSON) {
            _cleanup_json_ struct json_object *o = NULL;
            struct json_object *outs = NULL;
            struct buf b = BUF_INIT(REPLY_MAX);
            if ((s = parse_reply(&x, &o)) == 0) {
                if (json_get_array(o, "outputs", JSON_NULLABLE, &outs, NULL) > 0)
                    for (size_t i = 0; i < json_object_array_length(outs); i++) {
                        struct json_object *out = json_object_array_get_idx(outs, i), *md = NULL;
                        int64_t rid = 0;
                        const char *key = NULL;
                        if (json_get_object(out, "metadata", JSON_NULLABLE, &md, NULL) > 0) {
                            (void)json_get_string(md, "task_key", JSON_NULLABLE, &key, NULL);
                            (void)json_get_int64(md, "run_id", JSON_NULLABLE, &rid, NULL);
                        }
                        (void)buf_appendf(&b, "%s== task %s (run %" PRId64 ")\n", i ? "\n" : "",
                                          key ? key : "?", rid);
                        if (out)
                            (void)view_output_text(out, 0, &b);
                    }
                else
                    (void)view_output_text(o, 0, &b);
                if (b.data)
                    fputs(b.data, stdout);
            }
            buf_done(&b);
        } else if (s == 0)
            s = show(e->id, &x);
        xfer_done(&x);
        return s;
    }

    _cleanup_json_ struct json_object *body = NULL;
    if ((s = build_body(e, id, have_id, &body)) != 0)
        return s;
    size_t len;
    const char *text = json_dump(body, &len);
    s = call(&x, http_method_to_string(e->method), full, text, len);
    if (s != 0) {
        xfer_done(&x);
        return s;
    }
    int64_t created = 0;
    if (e->id == ENDPOINT_JOBS_CREATE || e->id == ENDPOINT_RUN_NOW ||
        e->id == ENDPOINT_RUNS_SUBMIT || e->id == ENDPOINT_RUNS_REPAIR)
        s = show_created(e, &x, &created);
    else if (arg.output == OUT_JSON)
        print_raw(&x);
    else if (!arg.wait)
        s = show(e->id, &x);
    xfer_done(&x);
    if (s != 0 || !arg.wait || !is_write_with_run(e->id))
        return s;
    /* A repair goes on in the original run. */
    int64_t run = e->id == ENDPOINT_RUN_NOW || e->id == ENDPOINT_RUNS_SUBMIT ? created : id;
    return wait_runs(&run, 1);
}

int main(int argc, char **argv)
{
    _cleanup_free_ char *token = NULL;
    int used;
    if (parse_args(argc, argv, false) < 0)
        return EXIT_USAGE;
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const struct endpoint *e = find_command(argv + optind, argc - optind, &used);
    if (!e) {
        fail("unknown command '%s' (jobsctl --help lists them)", argv[optind]);
        return EXIT_USAGE;
    }
    /* Options may also follow the command words. */
    int rest = optind + used;
    optind = 0;
    char **sub = argv + rest - 1;
    int subc = argc - rest + 1;
    if (parse_args(subc, sub, true) < 0)
        return EXIT_USAGE;
    if (arg.wait && !is_write_with_run(e->id)) {
        fail("--wait: only with run-now, submit, runs repair and runs cancel");
        return EXIT_USAGE;
    }
    if (!arg.url)
        arg.url = getenv("JOBSD_URL");
    if (isempty(arg.url))
        arg.url = NULL;
    if (!arg.socket)
        arg.socket = getenv("JOBSD_SOCKET");
    if (isempty(arg.socket))
        arg.socket = DEFAULT_SOCKET;
    if (arg.url && read_token(&token) < 0)
        return EXIT_USAGE;
    struct transport_options o = { .socket = arg.socket, .url = arg.url, .token = token };
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return EXIT_LOCAL_ERROR;
    int r = transport_new(&o, &transport);
    if (r < 0) {
        fail("--url: http://HOST:PORT, not %s", arg.url ? arg.url : "");
        return EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    r = run_command(e, subc - optind, sub + optind);
    transport = transport_free(transport);
    if (token)
        explicit_bzero(token, strlen(token));
    free(arg.params);
    free(arg.query);
    free(arg.only);
    free(arg.tasks);
    free(arg.run_ids);
    curl_global_cleanup();
    fflush(stdout);
    return r;
}
