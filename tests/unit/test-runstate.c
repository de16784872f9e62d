/* Unit tests for proto/runstate: open enums keep unknown values, the
 * terminal and active sets, forward ranks, and the SDK waiter semantics. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/runstate.h"
#include "proto/strutil.h"
#include "tests/tap.h"

static void test_enums(void)
{
    static const struct {
        const char *name;
        bool terminal, active;
        int rank;
        const char *status;
        enum wait_outcome wait;
    } lc[] = {
        { "QUEUED", false, true, 1, "QUEUED", WAIT_CONTINUE },
        { "PENDING", false, true, 2, "PENDING", WAIT_CONTINUE },
        { "RUNNING", false, true, 3, "RUNNING", WAIT_CONTINUE },
        { "TERMINATING", false, true, 4, "TERMINATING", WAIT_CONTINUE },
        { "TERMINATED", true, false, 5, "TERMINATED", WAIT_DONE },
        { "SKIPPED", true, false, 5, "TERMINATED", WAIT_DONE },
        { "INTERNAL_ERROR", true, false, 5, "TERMINATED", WAIT_FAILED },
        { "BLOCKED", false, true, 2, "BLOCKED", WAIT_CONTINUE },
        { "WAITING_FOR_RETRY", false, true, 2, "WAITING", WAIT_CONTINUE },
    };
    for (size_t i = 0; i < ELEMENTSOF(lc); i++) {
        enum life_cycle_state s = life_cycle_state_from_string(lc[i].name);
        ok(s != LIFE_CYCLE_UNKNOWN && s != LIFE_CYCLE_NONE, "%s is known", lc[i].name);
        is_str(life_cycle_state_to_string(s), lc[i].name, "%s round-trips", lc[i].name);
        is_int(life_cycle_is_terminal(s), lc[i].terminal, "%s terminal?", lc[i].name);
        is_int(life_cycle_is_active(s), lc[i].active, "%s active?", lc[i].name);
        is_int(life_cycle_rank(s), lc[i].rank, "%s rank", lc[i].name);
        is_str(status_state_to_string(status_state_for_life_cycle(s)), lc[i].status,
               "%s status.state", lc[i].name);
        struct run_state st = { .life_cycle = s };
        is_int(run_state_wait_outcome(&st), lc[i].wait, "%s waiter outcome", lc[i].name);
    }
    is_int(life_cycle_state_from_string("HIBERNATING"), LIFE_CYCLE_UNKNOWN,
           "an unknown life cycle is UNKNOWN, not an error");
    is_int(life_cycle_state_from_string(NULL), LIFE_CYCLE_NONE, "NULL is NONE");
    ok(life_cycle_state_to_string(LIFE_CYCLE_UNKNOWN) == NULL, "UNKNOWN has no name");
    ok(!life_cycle_is_terminal(LIFE_CYCLE_UNKNOWN) && !life_cycle_is_active(LIFE_CYCLE_UNKNOWN),
       "UNKNOWN is neither terminal nor active");

    static const char *const results[] = { "SUCCESS",
                                           "FAILED",
                                           "TIMEDOUT",
                                           "CANCELED",
                                           "MAXIMUM_CONCURRENT_RUNS_REACHED",
                                           "EXCLUDED",
                                           "SUCCESS_WITH_FAILURES",
                                           "UPSTREAM_FAILED",
                                           "UPSTREAM_CANCELED",
                                           "DISABLED" };
    for (size_t i = 0; i < ELEMENTSOF(results); i++)
        is_str(result_state_to_string(result_state_from_string(results[i])), results[i],
               "result %s round-trips", results[i]);
    is_int(result_state_from_string("PARTIAL"), RESULT_UNKNOWN, "unknown result kept as UNKNOWN");
    is_int(status_state_from_string("WAITING"), STATUS_WAITING, "status WAITING");
    is_int(status_state_from_string("SLEEPING"), STATUS_UNKNOWN, "unknown status");
    ok(termination_code_is_known("USER_CANCELED"), "USER_CANCELED is a known code");
    ok(termination_code_is_known("BUDGET_POLICY_LIMIT_EXCEEDED"), "newest code known");
    ok(!termination_code_is_known("NEW_CODE"), "new code unknown");
    ok(termination_type_is_known("CLOUD_FAILURE"), "CLOUD_FAILURE type known");
    is_str(termination_code_for(LIFE_CYCLE_TERMINATED, RESULT_SUCCESS), "SUCCESS", "code SUCCESS");
    is_str(termination_code_for(LIFE_CYCLE_TERMINATED, RESULT_CANCELED), "USER_CANCELED",
           "code USER_CANCELED");
    is_str(termination_code_for(LIFE_CYCLE_SKIPPED, RESULT_NONE), "SKIPPED", "code SKIPPED");
    ok(termination_code_for(LIFE_CYCLE_RUNNING, RESULT_NONE) == NULL, "no code while running");
    is_str(termination_type_for("RUN_EXECUTION_ERROR"), "CLIENT_ERROR", "type of a failure");
    is_str(termination_type_for("SUCCESS"), "SUCCESS", "type of success");
}

static int parse_run(const char *text, struct run_state *st, struct json_error *err)
{
    _cleanup_json_ struct json_object *o = NULL;
    int r = json_parse(text, strlen(text), JSON_SIZE_MAX, JSON_DEPTH_MAX, &o, err);
    if (r < 0)
        return r;
    return run_state_from_json(o, st, err);
}

static void test_json(void)
{
    struct run_state st = { 0 };
    struct json_error err = { { 0 } };

    is_int(parse_run("{\"state\":{\"life_cycle_state\":\"TERMINATED\",\"result_state\":"
                     "\"FAILED\",\"state_message\":\"boom\",\"user_cancelled_or_timedout\":false},"
                     "\"status\":{\"state\":\"TERMINATED\",\"termination_details\":{\"code\":"
                     "\"RUN_EXECUTION_ERROR\",\"type\":\"CLIENT_ERROR\",\"message\":\"x\"}}}",
                     &st, &err),
           0, "full run state parses");
    is_int(st.life_cycle, LIFE_CYCLE_TERMINATED, "life cycle");
    is_int(st.result, RESULT_FAILED, "result");
    is_int(st.status, STATUS_TERMINATED, "status");
    is_str(st.state_message, "boom", "state message");
    is_str(st.termination_code, "RUN_EXECUTION_ERROR", "termination code");
    is_int(run_state_wait_outcome(&st), WAIT_DONE, "a FAILED run still ends the waiter (DONE)");
    ok(run_state_is_terminal(&st), "terminal");

    /* Emit and parse again. */
    _cleanup_json_ struct json_object *out = json_object_new_object();
    is_int(run_state_to_json(&st, out), 0, "state emits");
    struct run_state st2 = { 0 };
    is_int(run_state_from_json(out, &st2, &err), 0, "emitted state parses");
    is_str(st2.life_cycle_raw, "TERMINATED", "life cycle survives");
    is_str(st2.result_raw, "FAILED", "result survives");
    is_str(st2.termination_type, "CLIENT_ERROR", "termination type survives");
    run_state_done(&st2);
    run_state_done(&st);

    is_int(
        parse_run("{\"state\":{\"life_cycle_state\":\"HIBERNATING\",\"result_state\":\"MAYBE\"}}",
                  &st, &err),
        0, "unknown values are accepted");
    is_int(st.life_cycle, LIFE_CYCLE_UNKNOWN, "unknown life cycle");
    is_str(st.life_cycle_raw, "HIBERNATING", "its text is kept");
    is_str(st.result_raw, "MAYBE", "unknown result text kept");
    is_int(run_state_wait_outcome(&st), WAIT_CONTINUE, "the waiter keeps polling on unknown");
    _cleanup_json_ struct json_object *out2 = json_object_new_object();
    run_state_to_json(&st, out2);
    ok(strstr(json_dump(out2, NULL), "\"life_cycle_state\":\"HIBERNATING\"") != NULL,
       "unknown value emitted unchanged");
    run_state_done(&st);

    static const struct {
        const char *json;
        enum life_cycle_state expect;
    } status_only[] = {
        { "{\"status\":{\"state\":\"RUNNING\"}}", LIFE_CYCLE_RUNNING },
        { "{\"status\":{\"state\":\"QUEUED\",\"queue_details\":{\"code\":"
          "\"MAX_CONCURRENT_RUNS_REACHED\"}}}",
          LIFE_CYCLE_QUEUED },
        { "{\"status\":{\"state\":\"TERMINATED\",\"termination_details\":{\"code\":\"SKIPPED\"}}}",
          LIFE_CYCLE_SKIPPED },
        { "{\"status\":{\"state\":\"TERMINATED\",\"termination_details\":{\"code\":"
          "\"INTERNAL_ERROR\"}}}",
          LIFE_CYCLE_INTERNAL_ERROR },
        { "{\"status\":{\"state\":\"TERMINATED\",\"termination_details\":{\"code\":\"SUCCESS\"}}}",
          LIFE_CYCLE_TERMINATED },
        { "{\"status\":{\"state\":\"WAITING\"}}", LIFE_CYCLE_WAITING_FOR_RETRY },
        { "{\"status\":{\"state\":\"NEWSTATE\"}}", LIFE_CYCLE_UNKNOWN },
    };
    for (size_t i = 0; i < ELEMENTSOF(status_only); i++) {
        is_int(parse_run(status_only[i].json, &st, &err), 0, "status-only #%zu parses", i);
        is_int(st.life_cycle, status_only[i].expect, "status-only #%zu derives the life cycle", i);
        run_state_done(&st);
    }
    is_int(parse_run("{\"status\":{\"state\":\"NEWSTATE\"}}", &st, &err), 0, "unknown status");
    ok(!run_state_is_terminal(&st), "unknown status is not terminal");
    run_state_done(&st);

    static const char *const bad[] = {
        "{}",
        "{\"run_id\":1}",
        "{\"state\":\"RUNNING\"}",
        "{\"state\":{\"life_cycle_state\":5}}",
        "{\"state\":{\"life_cycle_state\":\"RUNNING\",\"user_cancelled_or_timedout\":\"no\"}}",
        "{\"status\":{\"termination_details\":[]}}",
        "{\"status\":{\"state\":1}}",
    };
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        memset(&err, 0, sizeof(err));
        int r = parse_run(bad[i], &st, &err);
        ok(r == -EBADMSG || r == -EINVAL, "bad state #%zu refused: %s", i, err.message);
        ok(err.message[0] != 0, "bad state #%zu says why", i);
    }

    struct run_state ie = { .life_cycle = LIFE_CYCLE_INTERNAL_ERROR,
                            .state_message = (char *)"cluster died" };
    _cleanup_free_ char *msg = run_state_wait_error(&ie);
    is_str(msg, "failed to reach TERMINATED or SKIPPED, got INTERNAL_ERROR: cluster died",
           "the SDK's waiter error text");
}

int main(void)
{
    test_enums();
    test_json();
    return tap_done();
}
