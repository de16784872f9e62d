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

#define DEFAULT_SOCKET "/run/jobsd/jobsd.sock"
#define DEFAULT_TOKEN_FILE "/var/lib/jobsd/local-token"
#define TOKEN_MAX 4096

struct cli_args arg = { .tail = VIEW_TAIL_LINES };

struct transport *transport;

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
        cli_fail("%s: not an id: %s", what, s);
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
                cli_fail("-o: table, csv or json, not %s", optarg);
                return -EINVAL;
            }
            break;
        case OPT_JSON:
            arg.output = OUT_JSON;
            break;
        case 'p':
        case OPT_QUERY:
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                cli_fail("%s: KEY=VALUE, not %s", c == 'p' ? "--param" : "--query", optarg);
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
                cli_fail("--timeout: a duration like 30s, 20m or 2h, not %s", optarg);
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
            cli_fail("cannot read the local token from %s: %m", path);
        return must ? -errno : 0;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n < 0) {
        cli_fail("cannot read the local token from %s: %m", path);
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
            cli_fail("wait: which runs? (jobsctl wait RUN_ID...)");
            return EXIT_USAGE;
        }
        if (!(ids = calloc((size_t)argc, sizeof(*ids))))
            return EXIT_LOCAL_ERROR;
        for (int i = 0; i < argc; i++)
            if (parse_id_arg("wait", argv[i], &ids[i]) < 0)
                return EXIT_USAGE;
        return cli_wait_runs(ids, (size_t)argc);
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
        cli_fail("%s: unexpected argument '%s'", e->cli, argv[0]);
        return EXIT_USAGE;
    }
    /* A write's body file may carry the id itself. */
    if (e->key != KEY_NONE && !have_id && !id_optional && !(arg.file && e->method != HTTP_GET)) {
        cli_fail("%s: which %s? (jobsctl %s %s)", e->cli, e->key == KEY_RUN_ID ? "run" : "job",
                 e->cli, e->key == KEY_RUN_ID ? "RUN_ID" : "JOB_ID");
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
        cli_fail("%s: cannot make the path of %s", e->cli, e->pattern);
        return EXIT_LOCAL_ERROR;
    }

    struct buf q = BUF_INIT(64 * KIB);
    int s = 0;
    if (e->method == HTTP_GET) {
        r = cli_build_query(e, id, have_id, &q);
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
        return cli_watch(e);
    if (e->id == ENDPOINT_LOCAL_EXPORT)
        return cli_export(e, full);
    if (e->id == ENDPOINT_JOBS_LIST || e->id == ENDPOINT_RUNS_LIST || e->id == ENDPOINT_LOCAL_RUNS)
        return cli_list_pages(e, full);

    struct xfer x = { 0 };
    if (e->method == HTTP_GET) {
        s = cli_call(&x, "GET", full, NULL, 0);
        if (s == 0 && e->id == ENDPOINT_LOCAL_HEALTH && arg.output != OUT_JSON) {
            _cleanup_json_ struct json_object *o = NULL;
            const char *st = NULL;
            if ((s = cli_parse_reply(&x, &o)) == 0)
                puts(json_get_string(o, "status", JSON_NULLABLE, &st, NULL) > 0 && st ? st : "?");
        } else if (s == 0 && e->id == ENDPOINT_RUNS_GET_OUTPUT && arg.output != OUT_JSON) {
            _cleanup_json_ struct json_object *o = NULL;
            struct buf b = BUF_INIT(REPLY_MAX);
            if ((s = cli_parse_reply(&x, &o)) == 0 && view_output_text(o, 0, &b) >= 0 && b.data)
                fputs(b.data, stdout);
            buf_done(&b);
        } else if (s == 0 && e->id == ENDPOINT_LOCAL_RUN_OUTPUT && arg.output != OUT_JSON) {
            _cleanup_json_ struct json_object *o = NULL;
            struct json_object *outs = NULL;
            struct buf b = BUF_INIT(REPLY_MAX);
            if ((s = cli_parse_reply(&x, &o)) == 0) {
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
            s = cli_show(e->id, &x);
        xfer_done(&x);
        return s;
    }

    _cleanup_json_ struct json_object *body = NULL;
    if ((s = cli_build_body(e, id, have_id, &body)) != 0)
        return s;
    size_t len;
    const char *text = json_dump(body, &len);
    s = cli_call(&x, http_method_to_string(e->method), full, text, len);
    if (s != 0) {
        xfer_done(&x);
        return s;
    }
    int64_t created = 0;
    if (e->id == ENDPOINT_JOBS_CREATE || e->id == ENDPOINT_RUN_NOW ||
        e->id == ENDPOINT_RUNS_SUBMIT || e->id == ENDPOINT_RUNS_REPAIR)
        s = cli_show_created(e, &x, &created);
    else if (arg.output == OUT_JSON)
        cli_print_raw(&x);
    else if (!arg.wait)
        s = cli_show(e->id, &x);
    xfer_done(&x);
    if (s != 0 || !arg.wait || !is_write_with_run(e->id))
        return s;
    /* A repair goes on in the original run. */
    int64_t run = e->id == ENDPOINT_RUN_NOW || e->id == ENDPOINT_RUNS_SUBMIT ? created : id;
    return cli_wait_runs(&run, 1);
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
        cli_fail("unknown command '%s' (jobsctl --help lists them)", argv[optind]);
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
        cli_fail("--wait: only with run-now, submit, runs repair and runs cancel");
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
        cli_fail("--url: http://HOST:PORT, not %s", arg.url ? arg.url : "");
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
