/* client/wait.h: waiting for runs to finish, with progress. Completion
 * comes from GET /jobsd/v1/runs/{id}/wait and progress from GET
 * /jobsd/v1/events (proto/localapi.h); when jobsd does not serve them, the
 * waiter polls runs/get through jobsd instead. Progress goes to a FILE: on
 * a terminal one live line per run, otherwise one timestamped line per
 * change. struct waiter owns its transfers and the runs' last answers;
 * waiter_free() frees them. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "client/runview.h"
#include "client/transport.h"
#include "proto/apierror.h"
#include "proto/cleanup.h"

#define WAIT_POLL_S 2
#define WAIT_POLL_MS (WAIT_POLL_S * 1000)

struct wait_options {
    int64_t timeout_ms; /* 0: no limit */
    FILE *progress;     /* NULL: none */
    bool live;          /* progress is a terminal: redraw lines in place */
    size_t width;       /* its width: live lines are cut to fit (0: no limit) */
    int64_t poll_ms;    /* 0: WAIT_POLL_MS */
};

struct waiter;

int waiter_new(struct transport *t, const struct wait_options *o, struct waiter **ret);
struct waiter *waiter_free(struct waiter *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct waiter *, waiter_free)

int waiter_add(struct waiter *w, int64_t run_id);

/* Waits until every run is terminal or the timeout passes. Returns 0;
 * the transport's -errno when jobsd is unreachable; -EREMOTEIO with
 * *ret_error filled when jobsd answered an error. */
int waiter_run(struct waiter *w, struct api_error *ret_error);

/* After waiter_run(): run i's last answer as it came (NULL if none), its
 * view, and whether it finished. */
const char *waiter_text(const struct waiter *w, size_t i);
const struct run_view *waiter_view(const struct waiter *w, size_t i);
bool waiter_finished(const struct waiter *w, size_t i);
/* The exit status for all runs: run failed, else timed out, else
 * canceled, else 0. */
enum exit_status waiter_exit_status(const struct waiter *w);

/* One progress line without a terminal:
 * "2026-11-29 14:50:01 run 42 "name" RUNNING 1/3 tasks 12s" (local time). */
int progress_line(const struct run_view *v, int64_t now_ms, int64_t elapsed_ms, struct buf *out);
/* One live line: "run 42  RUNNING  1/3 tasks  12s  name". */
int progress_live_line(const struct run_view *v, int64_t elapsed_ms, struct buf *out);
