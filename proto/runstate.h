/* proto/runstate.h: the run-state model of reference §3 and §7.3. Life-cycle
 * state, result state, status.state and termination details as open enums:
 * an unknown value maps to *_UNKNOWN and its text is kept, never rejected.
 * struct run_state owns its strings; run_state_done() frees them. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "proto/json.h"
#include "proto/macro.h"

enum life_cycle_state {
    LIFE_CYCLE_NONE = 0, /* not present */
    LIFE_CYCLE_UNKNOWN,  /* present, not a value we know: see life_cycle_raw */
    LIFE_CYCLE_QUEUED,
    LIFE_CYCLE_PENDING,
    LIFE_CYCLE_RUNNING,
    LIFE_CYCLE_TERMINATING,
    LIFE_CYCLE_TERMINATED,
    LIFE_CYCLE_SKIPPED,
    LIFE_CYCLE_INTERNAL_ERROR,
    LIFE_CYCLE_BLOCKED,
    LIFE_CYCLE_WAITING_FOR_RETRY,
    _LIFE_CYCLE_MAX,
};

enum result_state {
    RESULT_NONE = 0,
    RESULT_UNKNOWN,
    RESULT_SUCCESS,
    RESULT_FAILED,
    RESULT_TIMEDOUT,
    RESULT_CANCELED,
    RESULT_MAXIMUM_CONCURRENT_RUNS_REACHED,
    RESULT_EXCLUDED,
    RESULT_SUCCESS_WITH_FAILURES,
    RESULT_UPSTREAM_FAILED,
    RESULT_UPSTREAM_CANCELED,
    RESULT_DISABLED,
    _RESULT_MAX,
};

/* status.state (RunLifecycleStateV2State). */
enum status_state {
    STATUS_NONE = 0,
    STATUS_UNKNOWN,
    STATUS_QUEUED,
    STATUS_PENDING,
    STATUS_RUNNING,
    STATUS_TERMINATING,
    STATUS_TERMINATED,
    STATUS_BLOCKED,
    STATUS_WAITING,
    _STATUS_MAX,
};

/* String <-> enum. *_to_string returns NULL for NONE/UNKNOWN;
 * *_from_string returns UNKNOWN for text it does not know, NONE for NULL. */
const char *life_cycle_state_to_string(enum life_cycle_state s) _const_;
enum life_cycle_state life_cycle_state_from_string(const char *s) _pure_;
const char *result_state_to_string(enum result_state s) _const_;
enum result_state result_state_from_string(const char *s) _pure_;
const char *status_state_to_string(enum status_state s) _const_;
enum status_state status_state_from_string(const char *s) _pure_;
/* Known TerminationCodeCode / TerminationTypeType values (reference §3). */
bool termination_code_is_known(const char *s) _pure_;
bool termination_type_is_known(const char *s) _pure_;

/* TERMINATED, SKIPPED, INTERNAL_ERROR. */
bool life_cycle_is_terminal(enum life_cycle_state s) _const_;
/* QUEUED, PENDING, RUNNING, TERMINATING, BLOCKED, WAITING_FOR_RETRY. */
bool life_cycle_is_active(enum life_cycle_state s) _const_;
/* Forward order of a run's life: QUEUED 1, PENDING/BLOCKED/WAITING_FOR_RETRY 2,
 * RUNNING 3, TERMINATING 4, terminal 5; NONE/UNKNOWN 0. A later read of the
 * same run attempt never has a lower rank. */
int life_cycle_rank(enum life_cycle_state s) _const_;
/* The status.state that goes with a life-cycle state (SKIPPED and
 * INTERNAL_ERROR show as TERMINATED; WAITING_FOR_RETRY as WAITING). */
enum status_state status_state_for_life_cycle(enum life_cycle_state s) _const_;
/* The termination code that goes with a terminal life cycle and result:
 * SUCCESS, USER_CANCELED, ..., or NULL when not terminal. */
const char *termination_code_for(enum life_cycle_state lc, enum result_state rs) _const_;
const char *termination_type_for(const char *termination_code) _pure_;

struct run_state {
    enum life_cycle_state life_cycle;
    enum result_state result;
    enum status_state status;
    char *life_cycle_raw; /* as sent, kept for unknown values */
    char *result_raw;
    char *status_raw;
    char *state_message;
    char *queue_reason;
    bool user_cancelled_or_timedout;
    char *termination_code;
    char *termination_type;
    char *termination_message;
    char *queue_code;
    char *queue_message;
};

void run_state_done(struct run_state *s);

/* Reads "state" and "status" of a run or task-run object. A run with
 * neither is -EBADMSG; a run with only "status" gets its life cycle derived
 * (TERMINATED + code SKIPPED -> SKIPPED, code INTERNAL_ERROR ->
 * INTERNAL_ERROR). Wrong field types are -EINVAL with err naming them. */
int run_state_from_json(struct json_object *run, struct run_state *ret, struct json_error *err);
/* Writes "state" and "status" objects into run, replacing them. */
int run_state_to_json(const struct run_state *s, struct json_object *run);

/* Life cycle, falling back on status.state when the life cycle is unknown. */
bool run_state_is_terminal(const struct run_state *s) _pure_;

/* The SDK waiter of reference §7.3. */
enum wait_outcome {
    WAIT_CONTINUE, /* not there yet: poll again */
    WAIT_DONE,     /* TERMINATED or SKIPPED, whatever the result */
    WAIT_FAILED,   /* INTERNAL_ERROR */
};
enum wait_outcome run_state_wait_outcome(const struct run_state *s) _pure_;
/* "failed to reach TERMINATED or SKIPPED, got INTERNAL_ERROR: <message>";
 * malloc'd, NULL on OOM. */
char *run_state_wait_error(const struct run_state *s);
