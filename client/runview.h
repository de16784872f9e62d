/* client/runview.h: what jobsctl shows of a run, read from a runs/get
 * answer or from a /jobsd/v1/events event, and the exit status a finished
 * run means. Plain data; owns nothing. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

/* jobsctl's exit statuses (jobsctl(1), EXIT STATUS). */
enum exit_status {
    EXIT_OK = 0,
    EXIT_RUN_FAILED = 1,
    EXIT_USAGE = 2,
    EXIT_RUN_CANCELED = 3,
    EXIT_TIMED_OUT = 4,
    EXIT_UNREACHABLE = 5,
    EXIT_API_ERROR = 6,
    EXIT_LOCAL_ERROR = 7,
};

struct run_view {
    int64_t run_id;
    char name[128];
    char life_cycle[32];
    char result[40];
    char message[256];
    int tasks_total;
    int tasks_done;
    int64_t start_ms;
    int64_t end_ms;
    bool terminal;
};

/* From a Run object (runs/get, the wait answer, a history entry). */
int run_view_from_run(struct json_object *run, struct run_view *ret);
/* From the JSON data of one "run" event. */
int run_view_from_event(struct json_object *ev, struct run_view *ret);

/* What a finished run means for the exit status: EXIT_OK for SUCCESS,
 * EXIT_RUN_CANCELED for CANCELED (and UPSTREAM_CANCELED), EXIT_RUN_FAILED
 * for anything else (FAILED, TIMEDOUT, SUCCESS_WITH_FAILURES, SKIPPED,
 * INTERNAL_ERROR, ...). */
enum exit_status run_view_exit_status(const struct run_view *v);

/* Milliseconds the run has taken: end - start once finished, otherwise
 * now - start, or now - first_seen when that is larger (a clock that runs
 * ahead of ours). */
int64_t run_view_elapsed(const struct run_view *v, int64_t now_ms, int64_t first_seen_ms);

/* "RUNNING", "TERMINATED SUCCESS": the state as one word or two. */
const char *run_view_state(const struct run_view *v, char *buf, size_t n);
