/* client/cli.h: what the parts of the jobsctl program share (jobsctl.c:
 * options and the command table; cli-output.c: calls and what they print;
 * cli-request.c: building requests; cli-commands.c: the commands that do
 * more than one call). The parsed arguments and the transport are the
 * program's only globals; jobsctl.c owns them. Not a library. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "client/runview.h"
#include "client/table.h"
#include "client/transport.h"
#include "proto/apierror.h"
#include "proto/endpoint.h"
#include "proto/json.h"

#define LIST_PAGES_MAX 10000

enum output { OUT_TABLE, OUT_CSV, OUT_JSON };

/* Parsed arguments: the one global state (jobsctl.c). */
struct cli_args {
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
};
extern struct cli_args arg;
extern struct transport *transport;

void cli_fail(const char *fmt, ...) _printf_(1, 2);
int cli_unreachable(int r, const struct xfer *x);
int cli_api_failure(const struct api_error *e);
int cli_call(struct xfer *x, const char *method, const char *path, const char *body, size_t len);
int cli_print_table(const struct table *t);
void cli_print_raw(const struct xfer *x);
int cli_parse_reply(const struct xfer *x, struct json_object **ret);
int cli_show(enum endpoint_id id, const struct xfer *x);
int cli_build_query(const struct endpoint *e, int64_t id, bool have_id, struct buf *q);
int cli_build_body(const struct endpoint *e, int64_t id, bool have_id, struct json_object **ret);
int cli_wait_runs(const int64_t *ids, size_t n);
int cli_show_created(const struct endpoint *e, const struct xfer *x, int64_t *ret_id);
int cli_list_pages(const struct endpoint *e, const char *path0);
int cli_watch(const struct endpoint *e);
int cli_export(const struct endpoint *e, const char *path);
