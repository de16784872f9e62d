/* jobsctl: one call to jobsd, and how its answer or failure is shown. */
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

void cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("jobsctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* The one line for a transport failure; returns EXIT_UNREACHABLE. */
int cli_unreachable(int r, const struct xfer *x)
{
    const char *where = transport_where(transport);
    bool sock = transport_is_socket(transport);
    switch (r) {
    case -ENOENT:
    case -ECONNREFUSED:
        if (sock)
            cli_fail("jobsd is not running at %s (try: systemctl start jobsd.socket)", where);
        else
            cli_fail("jobsd is not listening on %s (is server.tcp set in jobsd.conf?)", where);
        break;
    case -EACCES:
        cli_fail("jobsd's socket %s is not open to you (join its group, usually jobsd)", where);
        break;
    case -ETIMEDOUT:
        cli_fail("jobsd at %s did not answer in time", where);
        break;
    default:
        cli_fail("cannot talk to jobsd at %s: %s", where,
                 x && x->error[0] ? x->error : strerror(-r));
    }
    return EXIT_UNREACHABLE;
}

int cli_api_failure(const struct api_error *e)
{
    cli_fail("%s: %s (HTTP %d)", e->code, e->message, e->status);
    return EXIT_API_ERROR;
}

static int reply_failure(const struct xfer *x)
{
    struct api_error e;
    api_error_parse((int)x->status, x->body.data, x->body.len, &e);
    return cli_api_failure(&e);
}

/* Runs one request; on success (2xx) returns 0 with x holding the answer,
 * otherwise prints the error and returns the exit status. */
int cli_call(struct xfer *x, const char *method, const char *path, const char *body, size_t len)
{
    int r = transport_call(transport, x, method, path, body, len);
    if (r == -ENOMEM || r == -EINVAL) {
        cli_fail("cannot prepare the request: %s", strerror(-r));
        return EXIT_LOCAL_ERROR;
    }
    if (r < 0)
        return cli_unreachable(r, x);
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

int cli_print_table(const struct table *t)
{
    struct buf b = BUF_INIT(REPLY_MAX);
    int r = arg.output == OUT_CSV ? table_render_csv(t, &b) : table_render(t, terminal_width(), &b);
    if (r >= 0 && b.data)
        fputs(b.data, stdout);
    buf_done(&b);
    return r;
}

void cli_print_raw(const struct xfer *x)
{
    if (x->body.len == 0)
        return;
    fwrite(x->body.data, 1, x->body.len, stdout);
    if (x->body.data[x->body.len - 1] != '\n')
        fputc('\n', stdout);
}

int cli_parse_reply(const struct xfer *x, struct json_object **ret)
{
    struct json_error err;
    if (json_parse_object(x->body.len ? x->body.data : "{}", x->body.len ? x->body.len : 2,
                          REPLY_MAX, JSON_DEPTH_MAX, ret, &err) < 0) {
        cli_fail("jobsd answered something that is not JSON: %s", err.message);
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
int cli_show(enum endpoint_id id, const struct xfer *x)
{
    _cleanup_json_ struct json_object *o = NULL;
    _cleanup_(table_freep) struct table *t = NULL, *more = NULL;
    if (arg.output == OUT_JSON) {
        cli_print_raw(x);
        return 0;
    }
    int r = cli_parse_reply(x, &o);
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
        r = cli_print_table(t);
    if (r >= 0 && arg.output == OUT_TABLE && view_table_more(id, o, &more) >= 0 &&
        table_rows(more) > 0) {
        putchar('\n');
        r = cli_print_table(more);
    }
    if (r < 0) {
        cli_fail("cannot show the answer: %s", strerror(-r));
        return EXIT_LOCAL_ERROR;
    }
    return 0;
}
