/* proto/localapi.h: jobsd's own HTTP API (/jobsd/v1) and the headers it adds
 * to proxied answers. Append-only: a field or value once published keeps its
 * meaning; an incompatible change is /jobsd/v2. Owns nothing. */
#pragma once

#include <stddef.h>

/* Bumped when something is appended; clients read it from /jobsd/v1/status. */
#define JOBSD_API_VERSION 1
#define JOBSD_API_PREFIX "/jobsd/v1"

/* Response headers on proxied answers. */
#define JOBSD_HEADER_SOURCE "X-Jobsd-Source"
#define JOBSD_HEADER_AGE "Age"
#define JOBSD_HEADER_WORKSPACE_ID "X-Databricks-Workspace-Id"

/* Where an answer came from: the value of X-Jobsd-Source. */
enum jobsd_source {
    JOBSD_SOURCE_UPSTREAM, /* fetched from the workspace for this request */
    JOBSD_SOURCE_CACHE,    /* a fresh cached copy (Age says how old) */
    JOBSD_SOURCE_STALE,    /* an expired copy, served because upstream failed */
    JOBSD_SOURCE_ARCHIVE,  /* the SQLite archive: the workspace no longer has it */
    JOBSD_SOURCE_LOCAL,    /* made by jobsd itself (errors, /jobsd/v1) */
    _JOBSD_SOURCE_MAX,
};

static inline const char *jobsd_source_to_string(enum jobsd_source s)
{
    static const char *const names[_JOBSD_SOURCE_MAX] = {
        [JOBSD_SOURCE_UPSTREAM] = "upstream", [JOBSD_SOURCE_CACHE] = "cache",
        [JOBSD_SOURCE_STALE] = "stale",       [JOBSD_SOURCE_ARCHIVE] = "archive",
        [JOBSD_SOURCE_LOCAL] = "local",
    };
    return (unsigned)s < _JOBSD_SOURCE_MAX ? names[s] : NULL;
}

/* GET /jobsd/v1/runs: archived runs, newest first, keyset paged.
 * Query parameters: */
#define JOBSD_Q_JOB_ID "job_id"
#define JOBSD_Q_LIFE_CYCLE "life_cycle_state"
#define JOBSD_Q_RESULT "result_state"
#define JOBSD_Q_SINCE "start_time_from" /* ms, inclusive */
#define JOBSD_Q_UNTIL "start_time_to"   /* ms, inclusive */
#define JOBSD_Q_NAME "run_name"         /* substring */
#define JOBSD_Q_TRIGGER "trigger"
#define JOBSD_Q_RUN_TYPE "run_type"
#define JOBSD_Q_LIMIT "limit"
#define JOBSD_Q_PAGE_TOKEN "page_token"
#define JOBSD_RUNS_LIMIT_DEFAULT 25
#define JOBSD_RUNS_LIMIT_MAX 1000

/* GET /jobsd/v1/export: JSON Lines of the archive (jobs, then runs with
 * their outputs and export views, oldest first): start_time_from,
 * start_time_to, and runs_only=true to leave the jobs out. */
#define JOBSD_Q_RUNS_ONLY "runs_only"

/* GET /jobsd/v1/runs/{id}/wait?timeout=S: long-poll until terminal. */
#define JOBSD_Q_TIMEOUT "timeout"
#define JOBSD_WAIT_TIMEOUT_DEFAULT_S 60
#define JOBSD_WAIT_TIMEOUT_MAX_S 3600
/* The answer to a wait is 200 with the run exactly as runs/get gives it
 * (jobsd's latest view: the poller's, or the archive's), terminal or not;
 * this header says why it returned: */
#define JOBSD_HEADER_WAIT "X-Jobsd-Wait"
#define JOBSD_WAIT_TERMINAL "terminal" /* the run reached a terminal state */
#define JOBSD_WAIT_DEADLINE "timeout"  /* the timeout passed first */
/* 404 RESOURCE_DOES_NOT_EXIST: neither the workspace nor the archive knows
 * the run. 503 TEMPORARILY_UNAVAILABLE: JOBSD_WAITERS_MAX waits already. */
#define JOBSD_WAITERS_MAX 10000

/* GET /jobsd/v1/events: Server-Sent Events (text/event-stream) of run state
 * changes seen by the poller, for as long as the client stays. Filters:
 * job_id and run_id (each repeatable; none = every run). Each change is
 *
 *   id: <sequence, increasing>
 *   event: run
 *   data: <one line of JSON, the fields below>
 *
 * and ": keepalive" comment lines are sent every JOBSD_EVENTS_KEEPALIVE_S.
 * A reconnecting client sends Last-Event-ID and gets the changes it missed,
 * as far as the last JOBSD_EVENTS_BACKLOG are kept. */
#define JOBSD_EVENT_RUN "run"
#define JOBSD_EV_RUN_ID "run_id"
#define JOBSD_EV_JOB_ID "job_id" /* absent for one-time submits */
#define JOBSD_EV_RUN_NAME "run_name"
#define JOBSD_EV_LIFE_CYCLE "life_cycle_state"
#define JOBSD_EV_RESULT "result_state" /* once terminal */
#define JOBSD_EV_STATUS "status"       /* status.state (RunStatus) */
#define JOBSD_EV_MESSAGE "state_message"
#define JOBSD_EV_TASKS_TOTAL "tasks_total"
#define JOBSD_EV_TASKS_DONE "tasks_done" /* tasks in a terminal state */
#define JOBSD_EV_START_TIME "start_time" /* ms */
#define JOBSD_EV_END_TIME "end_time"     /* ms, once terminal */
#define JOBSD_EV_TIME "time"             /* ms: when jobsd saw the change */
#define JOBSD_EV_TERMINAL "terminal"     /* bool */
#define JOBSD_EVENTS_KEEPALIVE_S 15
#define JOBSD_EVENTS_BACKLOG 4096
#define JOBSD_WATCHERS_MAX 1000
