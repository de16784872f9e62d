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
