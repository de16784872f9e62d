#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/runstate.h"
#include "proto/strutil.h"

static const char *const life_cycle_names[_LIFE_CYCLE_MAX] = {
    [LIFE_CYCLE_QUEUED] = "QUEUED",
    [LIFE_CYCLE_PENDING] = "PENDING",
    [LIFE_CYCLE_RUNNING] = "RUNNING",
    [LIFE_CYCLE_TERMINATING] = "TERMINATING",
    [LIFE_CYCLE_TERMINATED] = "TERMINATED",
    [LIFE_CYCLE_SKIPPED] = "SKIPPED",
    [LIFE_CYCLE_INTERNAL_ERROR] = "INTERNAL_ERROR",
    [LIFE_CYCLE_BLOCKED] = "BLOCKED",
    [LIFE_CYCLE_WAITING_FOR_RETRY] = "WAITING_FOR_RETRY",
};

static const char *const result_names[_RESULT_MAX] = {
    [RESULT_SUCCESS] = "SUCCESS",
    [RESULT_FAILED] = "FAILED",
    [RESULT_TIMEDOUT] = "TIMEDOUT",
    [RESULT_CANCELED] = "CANCELED",
    [RESULT_MAXIMUM_CONCURRENT_RUNS_REACHED] = "MAXIMUM_CONCURRENT_RUNS_REACHED",
    [RESULT_EXCLUDED] = "EXCLUDED",
    [RESULT_SUCCESS_WITH_FAILURES] = "SUCCESS_WITH_FAILURES",
    [RESULT_UPSTREAM_FAILED] = "UPSTREAM_FAILED",
    [RESULT_UPSTREAM_CANCELED] = "UPSTREAM_CANCELED",
    [RESULT_DISABLED] = "DISABLED",
};

static const char *const status_names[_STATUS_MAX] = {
    [STATUS_QUEUED] = "QUEUED",         [STATUS_PENDING] = "PENDING",
    [STATUS_RUNNING] = "RUNNING",       [STATUS_TERMINATING] = "TERMINATING",
    [STATUS_TERMINATED] = "TERMINATED", [STATUS_BLOCKED] = "BLOCKED",
    [STATUS_WAITING] = "WAITING",
};

static const char *const termination_codes[] = {
    "SUCCESS",
    "SUCCESS_WITH_FAILURES",
    "USER_CANCELED",
    "CANCELED",
    "SKIPPED",
    "DISABLED",
    "INTERNAL_ERROR",
    "DRIVER_ERROR",
    "CLUSTER_ERROR",
    "REPOSITORY_CHECKOUT_FAILED",
    "INVALID_CLUSTER_REQUEST",
    "WORKSPACE_RUN_LIMIT_EXCEEDED",
    "FEATURE_DISABLED",
    "CLUSTER_REQUEST_LIMIT_EXCEEDED",
    "STORAGE_ACCESS_ERROR",
    "RUN_EXECUTION_ERROR",
    "UNAUTHORIZED_ERROR",
    "LIBRARY_INSTALLATION_ERROR",
    "MAX_CONCURRENT_RUNS_EXCEEDED",
    "MAX_SPARK_CONTEXTS_EXCEEDED",
    "MAX_JOB_QUEUE_SIZE_EXCEEDED",
    "RESOURCE_NOT_FOUND",
    "INVALID_RUN_CONFIGURATION",
    "CLOUD_FAILURE",
    "BREAKING_CHANGE",
    "CLUSTER_TERMINATED_BY_USER",
    "BUDGET_POLICY_LIMIT_EXCEEDED",
};

static const char *const termination_types[] = {
    "SUCCESS",
    "INTERNAL_ERROR",
    "CLIENT_ERROR",
    "CLOUD_FAILURE",
};

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (names[i] && streq(names[i], s))
            return i;
    return -1;
}

const char *life_cycle_state_to_string(enum life_cycle_state s)
{
    return (unsigned)s < _LIFE_CYCLE_MAX ? life_cycle_names[s] : NULL;
}

enum life_cycle_state life_cycle_state_from_string(const char *s)
{
    if (!s)
        return LIFE_CYCLE_NONE;
    int i = lookup(life_cycle_names, _LIFE_CYCLE_MAX, s);
    return i < 0 ? LIFE_CYCLE_UNKNOWN : (enum life_cycle_state)i;
}

const char *result_state_to_string(enum result_state s)
{
    return (unsigned)s < _RESULT_MAX ? result_names[s] : NULL;
}

enum result_state result_state_from_string(const char *s)
{
    if (!s)
        return RESULT_NONE;
    int i = lookup(result_names, _RESULT_MAX, s);
    return i < 0 ? RESULT_UNKNOWN : (enum result_state)i;
}

const char *status_state_to_string(enum status_state s)
{
    return (unsigned)s < _STATUS_MAX ? status_names[s] : NULL;
}

enum status_state status_state_from_string(const char *s)
{
    if (!s)
        return STATUS_NONE;
    int i = lookup(status_names, _STATUS_MAX, s);
    return i < 0 ? STATUS_UNKNOWN : (enum status_state)i;
}

bool termination_code_is_known(const char *s)
{
    return s && lookup(termination_codes, (int)ELEMENTSOF(termination_codes), s) >= 0;
}

bool termination_type_is_known(const char *s)
{
    return s && lookup(termination_types, (int)ELEMENTSOF(termination_types), s) >= 0;
}

bool life_cycle_is_terminal(enum life_cycle_state s)
{
    return s == LIFE_CYCLE_TERMINATED || s == LIFE_CYCLE_SKIPPED || s == LIFE_CYCLE_INTERNAL_ERROR;
}

bool life_cycle_is_active(enum life_cycle_state s)
{
    switch (s) {
    case LIFE_CYCLE_QUEUED:
    case LIFE_CYCLE_PENDING:
    case LIFE_CYCLE_RUNNING:
    case LIFE_CYCLE_TERMINATING:
    case LIFE_CYCLE_BLOCKED:
    case LIFE_CYCLE_WAITING_FOR_RETRY:
        return true;
    default:
        return false;
    }
}

int life_cycle_rank(enum life_cycle_state s)
{
    switch (s) {
    case LIFE_CYCLE_QUEUED:
        return 1;
    case LIFE_CYCLE_PENDING:
    case LIFE_CYCLE_BLOCKED:
    case LIFE_CYCLE_WAITING_FOR_RETRY:
        return 2;
    case LIFE_CYCLE_RUNNING:
        return 3;
    case LIFE_CYCLE_TERMINATING:
        return 4;
    case LIFE_CYCLE_TERMINATED:
    case LIFE_CYCLE_SKIPPED:
    case LIFE_CYCLE_INTERNAL_ERROR:
        return 5;
    default:
        return 0;
    }
}

enum status_state status_state_for_life_cycle(enum life_cycle_state s)
{
    switch (s) {
    case LIFE_CYCLE_QUEUED:
        return STATUS_QUEUED;
    case LIFE_CYCLE_PENDING:
        return STATUS_PENDING;
    case LIFE_CYCLE_RUNNING:
        return STATUS_RUNNING;
    case LIFE_CYCLE_TERMINATING:
        return STATUS_TERMINATING;
    case LIFE_CYCLE_TERMINATED:
    case LIFE_CYCLE_SKIPPED:
    case LIFE_CYCLE_INTERNAL_ERROR:
        return STATUS_TERMINATED;
    case LIFE_CYCLE_BLOCKED:
        return STATUS_BLOCKED;
    case LIFE_CYCLE_WAITING_FOR_RETRY:
        return STATUS_WAITING;
    default:
        return STATUS_NONE;
    }
}

const char *termination_code_for(enum life_cycle_state lc, enum result_state rs)
{
    if (lc == LIFE_CYCLE_SKIPPED)
        return "SKIPPED";
    if (lc == LIFE_CYCLE_INTERNAL_ERROR)
        return "INTERNAL_ERROR";
    if (lc != LIFE_CYCLE_TERMINATED)
        return NULL;
    switch (rs) {
    case RESULT_SUCCESS:
        return "SUCCESS";
    case RESULT_SUCCESS_WITH_FAILURES:
        return "SUCCESS_WITH_FAILURES";
    case RESULT_CANCELED:
        return "USER_CANCELED";
    case RESULT_TIMEDOUT:
        return "CANCELED";
    case RESULT_MAXIMUM_CONCURRENT_RUNS_REACHED:
        return "MAX_CONCURRENT_RUNS_EXCEEDED";
    case RESULT_DISABLED:
    case RESULT_EXCLUDED:
        return "DISABLED";
    case RESULT_UPSTREAM_CANCELED:
        return "CANCELED";
    default:
        return "RUN_EXECUTION_ERROR";
    }
}

const char *termination_type_for(const char *code)
{
    if (!code)
        return NULL;
    if (streq(code, "SUCCESS") || streq(code, "SUCCESS_WITH_FAILURES") ||
        streq(code, "USER_CANCELED") || streq(code, "CANCELED") || streq(code, "SKIPPED") ||
        streq(code, "DISABLED"))
        return "SUCCESS";
    if (streq(code, "INTERNAL_ERROR"))
        return "INTERNAL_ERROR";
    if (streq(code, "CLOUD_FAILURE") || streq(code, "CLUSTER_ERROR"))
        return "CLOUD_FAILURE";
    return "CLIENT_ERROR";
}

void run_state_done(struct run_state *s)
{
    char **fields[] = { &s->life_cycle_raw,   &s->result_raw,          &s->status_raw,
                        &s->state_message,    &s->queue_reason,        &s->termination_code,
                        &s->termination_type, &s->termination_message, &s->queue_code,
                        &s->queue_message };
    for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
}

/* Reads an optional string field into a new copy. */
static int dup_field(struct json_object *o, const char *field, char **ret, struct json_error *err)
{
    const char *v = NULL;
    int r = json_get_string(o, field, JSON_NULLABLE, &v, err);
    if (r <= 0)
        return r;
    char *c = strdup(v);
    if (!c)
        return -ENOMEM;
    free(*ret);
    *ret = c;
    return 1;
}

int run_state_from_json(struct json_object *run, struct run_state *ret, struct json_error *err)
{
    struct run_state s = { 0 };
    struct json_object *state = NULL, *status = NULL, *td = NULL, *qd = NULL;
    int r;

    if ((r = json_get_object(run, "state", JSON_NULLABLE, &state, err)) < 0 ||
        (r = json_get_object(run, "status", JSON_NULLABLE, &status, err)) < 0)
        return r;
    if (!state && !status) {
        if (err)
            strscpy(err->message, sizeof(err->message),
                    "Invalid run: neither 'state' nor 'status' is present");
        return -EBADMSG;
    }

    if (state) {
        if ((r = dup_field(state, "life_cycle_state", &s.life_cycle_raw, err)) < 0 ||
            (r = dup_field(state, "result_state", &s.result_raw, err)) < 0 ||
            (r = dup_field(state, "state_message", &s.state_message, err)) < 0 ||
            (r = dup_field(state, "queue_reason", &s.queue_reason, err)) < 0 ||
            (r = json_get_bool(state, "user_cancelled_or_timedout", JSON_NULLABLE,
                               &s.user_cancelled_or_timedout, err)) < 0)
            goto fail;
    }
    if (status) {
        if ((r = dup_field(status, "state", &s.status_raw, err)) < 0 ||
            (r = json_get_object(status, "termination_details", JSON_NULLABLE, &td, err)) < 0 ||
            (r = json_get_object(status, "queue_details", JSON_NULLABLE, &qd, err)) < 0)
            goto fail;
        if (td && ((r = dup_field(td, "code", &s.termination_code, err)) < 0 ||
                   (r = dup_field(td, "type", &s.termination_type, err)) < 0 ||
                   (r = dup_field(td, "message", &s.termination_message, err)) < 0))
            goto fail;
        if (qd && ((r = dup_field(qd, "code", &s.queue_code, err)) < 0 ||
                   (r = dup_field(qd, "message", &s.queue_message, err)) < 0))
            goto fail;
    }

    s.life_cycle = life_cycle_state_from_string(s.life_cycle_raw);
    s.result = result_state_from_string(s.result_raw);
    s.status = status_state_from_string(s.status_raw);

    /* Only the newer form: derive the life cycle the waiters need. */
    if (s.life_cycle == LIFE_CYCLE_NONE && s.status != STATUS_NONE) {
        switch (s.status) {
        case STATUS_QUEUED:
            s.life_cycle = LIFE_CYCLE_QUEUED;
            break;
        case STATUS_PENDING:
            s.life_cycle = LIFE_CYCLE_PENDING;
            break;
        case STATUS_RUNNING:
            s.life_cycle = LIFE_CYCLE_RUNNING;
            break;
        case STATUS_TERMINATING:
            s.life_cycle = LIFE_CYCLE_TERMINATING;
            break;
        case STATUS_BLOCKED:
            s.life_cycle = LIFE_CYCLE_BLOCKED;
            break;
        case STATUS_WAITING:
            s.life_cycle = LIFE_CYCLE_WAITING_FOR_RETRY;
            break;
        case STATUS_TERMINATED:
            if (streq_ptr(s.termination_code, "SKIPPED"))
                s.life_cycle = LIFE_CYCLE_SKIPPED;
            else if (streq_ptr(s.termination_code, "INTERNAL_ERROR"))
                s.life_cycle = LIFE_CYCLE_INTERNAL_ERROR;
            else
                s.life_cycle = LIFE_CYCLE_TERMINATED;
            break;
        default:
            s.life_cycle = LIFE_CYCLE_UNKNOWN;
            break;
        }
    }
    *ret = s;
    return 0;

fail:
    run_state_done(&s);
    return r;
}

static int add_opt_string(struct json_object *o, const char *key, const char *v)
{
    return v ? json_add_string(o, key, v) : 0;
}

int run_state_to_json(const struct run_state *s, struct json_object *run)
{
    _cleanup_json_ struct json_object *state = json_object_new_object();
    _cleanup_json_ struct json_object *status = json_object_new_object();
    const char *lc =
        s->life_cycle_raw ? s->life_cycle_raw : life_cycle_state_to_string(s->life_cycle);
    const char *rs = s->result_raw ? s->result_raw : result_state_to_string(s->result);
    const char *st = s->status_raw ? s->status_raw : status_state_to_string(s->status);

    if (!state || !status)
        return -ENOMEM;
    if (add_opt_string(state, "life_cycle_state", lc) < 0 ||
        add_opt_string(state, "result_state", rs) < 0 ||
        json_add_string(state, "state_message", s->state_message ? s->state_message : "") < 0 ||
        json_add_bool(state, "user_cancelled_or_timedout", s->user_cancelled_or_timedout) < 0 ||
        add_opt_string(state, "queue_reason", s->queue_reason) < 0)
        return -ENOMEM;

    if (add_opt_string(status, "state", st) < 0)
        return -ENOMEM;
    if (s->termination_code || s->termination_type || s->termination_message) {
        _cleanup_json_ struct json_object *td = json_object_new_object();
        if (!td || add_opt_string(td, "code", s->termination_code) < 0 ||
            add_opt_string(td, "type", s->termination_type) < 0 ||
            add_opt_string(td, "message", s->termination_message) < 0 ||
            json_add(status, "termination_details", TAKE_PTR(td)) < 0)
            return -ENOMEM;
    }
    if (s->queue_code || s->queue_message) {
        _cleanup_json_ struct json_object *qd = json_object_new_object();
        if (!qd || add_opt_string(qd, "code", s->queue_code) < 0 ||
            add_opt_string(qd, "message", s->queue_message) < 0 ||
            json_add(status, "queue_details", TAKE_PTR(qd)) < 0)
            return -ENOMEM;
    }
    if (json_add(run, "state", TAKE_PTR(state)) < 0 ||
        json_add(run, "status", TAKE_PTR(status)) < 0)
        return -ENOMEM;
    return 0;
}

bool run_state_is_terminal(const struct run_state *s)
{
    if (s->life_cycle != LIFE_CYCLE_UNKNOWN && s->life_cycle != LIFE_CYCLE_NONE)
        return life_cycle_is_terminal(s->life_cycle);
    return s->status == STATUS_TERMINATED;
}

enum wait_outcome run_state_wait_outcome(const struct run_state *s)
{
    switch (s->life_cycle) {
    case LIFE_CYCLE_TERMINATED:
    case LIFE_CYCLE_SKIPPED:
        return WAIT_DONE;
    case LIFE_CYCLE_INTERNAL_ERROR:
        return WAIT_FAILED;
    default:
        return WAIT_CONTINUE;
    }
}

char *run_state_wait_error(const struct run_state *s)
{
    char *m = NULL;
    const char *lc =
        s->life_cycle_raw ? s->life_cycle_raw : life_cycle_state_to_string(s->life_cycle);
    if (asprintf(&m, "failed to reach TERMINATED or SKIPPED, got %s: %s", lc ? lc : "UNKNOWN",
                 s->state_message ? s->state_message : "") < 0)
        return NULL;
    return m;
}
