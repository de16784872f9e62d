/* tests/fakews/fakews.h: the simulated workspace's shared internals: the
 * workspace state (jobs, runs, task runs, tokens, the request log, faults),
 * the request/reply shapes every handler works on, and the verbs of each
 * role file (jobs.c, runs.c, repair.c, sim.c, runjson.c, perms.c, auth.c,
 * control.c).
 * All of it is touched only from the HTTP thread. struct fakews owns every
 * job, run and task run; a reply owns its JSON until the server sends it. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/endpoint.h"
#include "proto/macro.h"
#include "proto/runstate.h"
#include "tests/fakews/idmap.h"

/* Ids start above 2^53, so truncation to 32 bits or through a double shows. */
#define FW_JOB_ID_BASE (((int64_t)1 << 53) + 1001)
#define FW_RUN_ID_BASE (((int64_t)1 << 53) + 1000001)
#define FW_RETENTION_MS ((int64_t)60 * 24 * 3600 * 1000)
#define FW_ARRAY_PAGE 100       /* array paging of jobs/get and runs/get */
#define FW_LOG_MAX 10000        /* request log entries kept */
#define FW_LOG_BODY_MAX 2048    /* request body bytes kept per log entry */
#define FW_FAULTS_MAX 64        /* fault rules at once */
#define FW_QUERY_MAX 32         /* query parameters read per request */
#define FW_JOBS_MAX 10000       /* saved jobs per workspace (reference §5) */
#define FW_RUNS_MAX 400000      /* job runs held in memory */
#define FW_TASKS_WRITE_MAX 1000 /* tasks per job on write */
#define FW_JOB_QUEUE_MAX 1000   /* queued runs per job */
#define FW_TOKENS_MAX 1000      /* OAuth tokens outstanding */
#define FW_IDEMPOTENCY_TOKEN_MAX 64
#define FW_OUTPUT_MAX (5 * MIB)                              /* notebook result / logs kept */
#define FW_DURATION_MAX_MS ((int64_t)366 * 24 * 3600 * 1000) /* a duration, a timeout */
#define FW_PAGE_MAX 100000                                   /* array page numbers in tokens */
#define FW_RETRIES_MAX 100     /* attempts of one task, max_retries -1 included */
#define FW_REPAIRS_MAX 1000    /* repairs of one run */
#define FW_ITERATIONS_MAX 5000 /* iterations of one for_each_task */

/* Simulated durations (ms) unless a task says otherwise. */
#define FW_RUN_PENDING_MS 1000
#define FW_TASK_SETUP_MS 2000
#define FW_TASK_RUN_MS 10000
#define FW_RUN_TERMINATING_MS 1000

struct fw_query_param {
    const char *key;
    const char *value;
};

struct fw_request {
    const char *method;
    const char *path;
    const struct endpoint *endpoint; /* NULL for control endpoints */
    enum api_version version;
    bool has_path_id;
    int64_t path_id;
    struct fw_query_param query[FW_QUERY_MAX];
    size_t n_query;
    struct json_object *body; /* the parsed object, NULL for an empty body */
    const char *raw_body;
    size_t raw_len;
    const char *authorization;
    const char *host;
    const char *user_agent;
    const char *workspace_id;
    const char *principal; /* who the token belongs to, set by auth */
};

struct fw_reply {
    int status;
    struct json_object *json; /* owned; sent compact */
    char *raw;                /* owned; sent as is when json is NULL */
    size_t raw_len;
    const char *content_type;
    int retry_after; /* seconds; < 0: no header */
    const char *reason_phrase;
};

/* Fills an error reply {"error_code": code, "message": ...}; code NULL means
 * the default for status. Returns 0, or -ENOMEM. */
int reply_error(struct fw_reply *r, int status, const char *code, const char *fmt, ...)
    _printf_(4, 5);
/* 200 with o (taken in all cases). */
int reply_json(struct fw_reply *r, struct json_object *o);
/* 200 {}. */
int reply_empty(struct fw_reply *r);
/* The workspace's own 400 INVALID_PARAMETER_VALUE texts (reference §6.2). */
int reply_missing(struct fw_reply *r, const char *field);
int reply_no_job(struct fw_reply *r, int64_t job_id);
int reply_no_run(struct fw_reply *r, int64_t run_id);

/* CLOCK_MONOTONIC in ms. */
int64_t fw_mono_ms(void);

/* The query parameter, NULL when absent (the last one wins). */
const char *fw_query(const struct fw_request *req, const char *key);
/* Typed query parameters. Return 1 when present (ret set), 0 when absent,
 * or -EINVAL with an INVALID_PARAMETER_VALUE reply filled. */
int fw_query_id(const struct fw_request *req, const char *key, struct fw_reply *r, int64_t *ret);
int fw_query_int64(const struct fw_request *req, const char *key, struct fw_reply *r, int64_t *ret);
int fw_query_bool(const struct fw_request *req, const char *key, struct fw_reply *r, bool *ret);
/* limit and offset of a list: an absent limit means dflt, 0 means
 * zero_means; 1..max and offset >= 0 are accepted, anything else is 400
 * (-EINVAL, reply filled) in the words a workspace uses ("Invalid limit 27
 * - it has to be no more than 25."). */
int fw_query_limit(const struct fw_request *req, struct fw_reply *r, int64_t dflt,
                   int64_t zero_means, int64_t max, int64_t *ret_limit, int64_t *ret_offset);
/* A typed body field; the same returns, the error reply names the field. */
int fw_body_id(const struct fw_request *req, const char *field, bool required, struct fw_reply *r,
               int64_t *ret);

/* Opaque page tokens: a kind letter and up to two numbers, hex-encoded. */
char *fw_token_encode(char kind, int64_t a, int64_t b);
int fw_token_decode(const char *token, char kind, int64_t *ret_a, int64_t *ret_b);

enum fw_principal_kind {
    PRINCIPAL_USER,
    PRINCIPAL_GROUP,
    PRINCIPAL_SERVICE_PRINCIPAL,
};

struct fw_acl_entry {
    enum fw_principal_kind kind;
    char *name;
    char *level;
};

struct fw_job {
    int64_t job_id;
    int64_t created_time;
    char *creator;
    struct json_object *settings;
    enum api_version created_version;
    struct fw_acl_entry *acl;
    size_t n_acl;
    size_t active_runs;    /* runs holding a max_concurrent_runs slot */
    struct fw_run **queue; /* QUEUED runs, oldest first */
    size_t n_queue;
    int64_t next_fire; /* trigger.periodic: the next run starts then; 0: none */
};

struct fw_output {
    char *result;
    char *logs;
    char *error;
    char *error_trace;
    bool result_truncated;
    bool logs_truncated;
    bool result_set, logs_set, error_set;
};

struct fw_task {
    int64_t run_id;
    struct fw_run *run;
    char *task_key;
    struct json_object *spec; /* the Task settings this attempt runs */
    int attempt;
    int64_t original_run_id; /* the first attempt's run_id (self when not a retry) */
    int64_t retry_at;        /* WAITING_FOR_RETRY until then */
    const char *outcome;     /* a condition task's "true"/"false" */
    int64_t child_run_id;    /* a run_job_task's job run */
    struct fw_task **iters;  /* a for_each_task's iterations (owned) */
    size_t n_iters;
    size_t concurrency; /* of the iterations */
    int64_t repair_id;  /* 0: the original run */
    enum life_cycle_state lc;
    enum result_state rs;
    const char *state_message;
    bool user_cancelled;
    int64_t start_time; /* PENDING from here */
    int64_t exec_time;  /* RUNNING from here */
    int64_t end_time;
    int64_t setup_ms;
    int64_t duration_ms;
    enum result_state planned; /* the result once it ends */
    struct fw_output out;
    bool superseded; /* replaced by a repair's attempt */
};

struct fw_repair {
    int64_t id; /* the run_id for the ORIGINAL entry */
    bool original;
    int64_t start_time;
    int64_t end_time;
    enum life_cycle_state lc;
    enum result_state rs;
    int64_t *task_run_ids;
    size_t n_task_run_ids;
};

enum fw_run_type {
    RUN_TYPE_JOB_RUN,
    RUN_TYPE_WORKFLOW_RUN,
    RUN_TYPE_SUBMIT_RUN,
};

struct fw_run {
    int64_t run_id;
    int64_t job_id; /* 0 for runs/submit */
    enum fw_run_type run_type;
    char *run_name;
    char *creator;
    char *idempotency_token;
    char *trigger;
    int64_t start_time;
    int64_t end_time;
    int64_t queue_start;    /* when it entered QUEUED, 0 if never */
    int64_t queue_duration; /* time spent QUEUED */
    int64_t pending_until;  /* PENDING -> RUNNING */
    int64_t term_until;     /* TERMINATING -> TERMINATED */
    int64_t timeout_ms;     /* 0: none */
    int64_t exec_start;     /* when this attempt (original or repair) started running */
    enum life_cycle_state lc;
    enum result_state rs;
    const char *state_message;
    const char *queue_code;
    bool user_cancelled;
    bool holds_slot;
    int queue_override;     /* run-now's queue.enabled (0/1), -1: the job's setting */
    int64_t parent_task_id; /* the run_job_task that started this run, 0 if none */
    char *message;          /* owned text state_message may point at */
    struct fw_task **tasks; /* current attempts, in task order */
    size_t n_tasks;
    struct fw_task **old; /* attempts replaced by repairs */
    size_t n_old;
    struct json_object *job_clusters;   /* array or NULL */
    struct json_object *job_parameters; /* [{name, default, value}] or NULL */
    struct json_object *overriding;     /* legacy *_params or NULL */
    struct fw_repair *repairs;          /* ORIGINAL + REPAIR entries once repaired */
    size_t n_repairs;
    size_t heap_idx; /* position in the active heap, SIZE_MAX when not in it */
    int64_t due;     /* next transition, INT64_MAX when none */
};

enum fw_fault_kind {
    FAULT_STATUS,
    FAULT_DELAY,
    FAULT_RESET,
    FAULT_HANG,
    FAULT_TRUNCATE,
    FAULT_NON_JSON,
    FAULT_DROP_REPLY,
    _FAULT_KIND_MAX,
};

struct fw_fault {
    int64_t id;
    enum fw_fault_kind kind;
    unsigned methods; /* HTTP_* mask, 0: any */
    char *path_prefix;
    int64_t remaining; /* requests still to hit */
    unsigned permille; /* 1..999: hits that share of the matching requests; 0: every one */
    int status;
    int retry_after; /* < 0: no header */
    int64_t delay_ms;
};

struct fw_log_entry {
    int64_t seq;
    int64_t time_ms;
    char *method;
    char *path;
    char *query;
    int endpoint; /* enum endpoint_id, -1 when unmatched */
    int status;
    char *fault;
    char *idempotency_token;
    char *body;
    char *user_agent;
    char *workspace_id; /* the X-Databricks-Workspace-Id header */
    const char *auth;   /* "pat", "oauth", "invalid" or "none"; never the token */
    bool processed;
};

struct fw_oauth_token {
    char *token;
    char *client_id;
    int64_t expires_ms;
};

struct fakews_config {
    const char *token;
    const char *user;
    const char *client_id;
    const char *client_secret;
    int64_t oauth_ttl_s;
    bool manual_clock;
    double speed;
    int64_t epoch_ms; /* the simulated time at start; 0: the wall clock */
    const char *workspace_id;
    bool small_ids; /* ids from 1001 (below 2^53), for SDKs that read numbers as doubles */
};

struct fakews {
    struct fakews_config cfg;
    char base_url[64]; /* http://127.0.0.1:<port>, for run_page_url */
    /* clock */
    int64_t sim_base_ms;  /* simulated time at mono_base_ms */
    int64_t mono_base_ms; /* CLOCK_MONOTONIC at start (real mode) */
    int64_t offset_ms;    /* added by /__fake/clock */
    int64_t now_ms;       /* the simulation has been advanced to here */
    int64_t next_job_id;
    int64_t next_run_id;
    /* jobs, by id and in creation order */
    struct idmap *jobs_by_id;
    struct fw_job **jobs;
    size_t n_jobs, cap_jobs;
    /* job runs and task runs by run_id (value: struct fw_run or fw_task,
     * told apart through run_ids) */
    struct idmap *runs_by_id;
    struct idmap *tasks_by_id;
    /* job runs ordered by (start_time, run_id) */
    struct fw_run **runs;
    size_t n_runs, cap_runs;
    /* active runs as a min-heap on due */
    struct fw_run **heap;
    size_t n_heap, cap_heap;
    /* idempotency_token -> run_id */
    struct json_object *idempotency;
    /* issued OAuth tokens */
    struct fw_oauth_token tokens[FW_TOKENS_MAX];
    size_t n_tokens;
    /* control state */
    struct fw_fault faults[FW_FAULTS_MAX];
    size_t n_faults;
    int64_t next_fault_id;
    struct fw_log_entry log[FW_LOG_MAX];
    int64_t log_seq; /* entries ever logged; the ring holds the last FW_LOG_MAX */
    uint64_t counters[_ENDPOINT_MAX];
    uint64_t counter_unmatched;
    uint64_t counter_total;
    uint64_t counter_faults;       /* requests a fault hit */
    uint64_t counter_rate_limited; /* requests over the rate limit */
    size_t n_periodic;             /* jobs with a next_fire */
    /* a workspace rate limit on /api/ (a token bucket on the real clock) */
    int64_t rate_rps; /* 0: off */
    int64_t rate_burst;
    double rate_tokens;
    int64_t rate_last_ms;
};

/* ws.c: state, clock, ids, lookups */
int fakews_new(const struct fakews_config *cfg, struct fakews **ret);
struct fakews *fakews_free(struct fakews *ws);
int64_t fakews_clock(const struct fakews *ws);
/* Moves the simulation to the clock's now: transitions, queues, expiry. */
void fakews_advance(struct fakews *ws);
int64_t fakews_next_id(struct fakews *ws, bool job);
struct fw_job *fakews_job(struct fakews *ws, int64_t job_id);
struct fw_run *fakews_run(struct fakews *ws, int64_t run_id);
struct fw_task *fakews_task(struct fakews *ws, int64_t run_id);
int fakews_add_job(struct fakews *ws, struct fw_job *job);
void fakews_delete_job(struct fakews *ws, struct fw_job *job);
/* Registers run; append skips the ordering (call fakews_sort_runs after a
 * batch). -ENOSPC past FW_RUNS_MAX. */
int fakews_add_run(struct fakews *ws, struct fw_run *run, bool append);
void fakews_delete_run(struct fakews *ws, struct fw_run *run);
/* The index of the first run ordered at or after (start_time, run_id). */
size_t fakews_runs_lower_bound(struct fakews *ws, int64_t start_time, int64_t run_id);
void fakews_sort_runs(struct fakews *ws);
struct fw_job *fw_job_free(struct fw_job *job);
struct fw_run *fw_run_free(struct fw_run *run);
struct fw_task *fw_task_free(struct fw_task *t);
void fw_output_done(struct fw_output *o);
int fakews_heap_update(struct fakews *ws, struct fw_run *run);

/* runs.c: a new task attempt of run, planned from spec (not registered). */
struct fw_task *runs_new_task(struct fakews *ws, struct fw_run *run, struct json_object *spec,
                              struct json_object *run_params);

/* Frees what a request log entry holds and empties it. */
void fw_log_entry_done(struct fw_log_entry *e);

/* sim.c: the run state machine */
/* Plans a task attempt (outcome and durations from its settings). */
void sim_plan_task(struct fw_task *t, struct json_object *run_params);
/* Puts a new run in motion: QUEUED, SKIPPED or PENDING per the job's limit. */
int sim_start_run(struct fakews *ws, struct fw_run *run, struct fw_job *job);
/* Runs every transition due up to now. */
void sim_advance(struct fakews *ws, int64_t now);
int sim_cancel_run(struct fakews *ws, struct fw_run *run, int64_t now);
int sim_cancel_task(struct fakews *ws, struct fw_task *t, int64_t now);
/* A repair has set some tasks back to the start. */
int sim_restart_run(struct fakews *ws, struct fw_run *run, int64_t now);
/* Re-plans the due time of a task after its duration or outcome changed. */
int sim_retime(struct fakews *ws, struct fw_run *run);
bool sim_run_is_active(const struct fw_run *run);
/* (Re)computes job's periodic trigger after its settings changed. */
void sim_schedule_job(struct fakews *ws, struct fw_job *job);
/* A trigger.periodic period in ms, 0 when none or paused; -EINVAL when
 * the trigger is malformed. */
int64_t sim_periodic_ms(struct json_object *settings);

/* runjson.c: run and task-run encoders */
int runjson_state(enum life_cycle_state lc, enum result_state rs, const char *message,
                  bool user_cancelled, const char *queue_code, struct json_object *o);
/* A job run: page is the array page (0-based); full adds tasks, clusters,
 * parameters (runs/get) or up to 100 tasks (runs/list expand_tasks). */
int runjson_run(struct fakews *ws, const struct fw_run *run, bool tasks, bool history, int64_t page,
                struct json_object **ret);
/* A task run as a Run object (runs/get of a task run, get-output metadata);
 * a for_each_task's run lists its iterations, page by page. */
int runjson_task_as_run(struct fakews *ws, const struct fw_task *t, int64_t page,
                        struct json_object **ret);
const char *run_type_to_string(enum fw_run_type t) _const_;

/* Handlers, one per endpoint. Each fills reply; returns 0 or -ENOMEM. */
typedef int (*fw_handler_t)(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);

int jobs_create(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int jobs_list(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int jobs_get(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int jobs_reset(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int jobs_update(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int jobs_delete(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
/* Builds a job with settings (taken); used by create and the seeder. */
/* The checks a workspace makes on JobSettings (or a runs/submit body):
 * 0, or -EINVAL with a 400 reply filled. */
int jobs_check_settings(struct json_object *s, bool submit, struct fw_reply *reply);
int jobs_make(struct fakews *ws, struct json_object *settings, const char *creator,
              enum api_version version, struct fw_job **ret);

int runs_run_now(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int runs_submit(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int runs_list(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int runs_get(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int runs_get_output(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int runs_export(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int runs_cancel(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int runs_cancel_all(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int runs_delete(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int runs_repair(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
/* Creates a job run of job (run-now and the seeder). */
int runs_create_job_run(struct fakews *ws, struct fw_job *job, struct json_object *params,
                        const char *creator, struct fw_run **ret);

int perms_get(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int perms_set(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int perms_update(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int perms_levels(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
/* Reads an access_control_list into entries; fills reply on a bad list. */
int perms_parse_acl(struct json_object *list, struct fw_reply *reply, struct fw_acl_entry **ret,
                    size_t *ret_n);
void perms_free_acl(struct fw_acl_entry *acl, size_t n);
/* 400 unless exactly one IS_OWNER. */
int perms_check_owner(const struct fw_acl_entry *acl, size_t n, struct fw_reply *reply);

/* auth.c */
/* 0 when the request carries a valid token (req->principal set), else a
 * 403 reply is filled and 1 returned. */
int auth_check(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
/* What kind of credential a request carried: "pat", "oauth", "invalid" or
 * "none" (for the request log). */
const char *auth_kind(struct fakews *ws, const char *authorization);
int auth_host_metadata(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int auth_oidc_discovery(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
int auth_oidc_token(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);

/* control.c: /__fake/ */
/* 1 when path is a control path (handled and reply filled), else 0. */
int control_dispatch(struct fakews *ws, struct fw_request *req, struct fw_reply *reply);
/* The first fault matching method and path, its count taken: 1 with ret
 * filled (path_prefix NULL), or 0 when none matches. */
int control_take_fault(struct fakews *ws, const char *method, const char *path,
                       struct fw_fault *ret);
void control_log(struct fakews *ws, const struct fw_request *req, int status, const char *fault,
                 bool processed);
const char *fault_kind_to_string(enum fw_fault_kind k) _const_;
/* 1 when a request to path is over the rate limit (it takes a token
 * otherwise), 0 when it may go on. */
int control_rate_limited(struct fakews *ws, const char *path);
