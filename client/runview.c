#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client/runview.h"
#include "proto/json.h"
#include "proto/localapi.h"
#include "proto/runstate.h"
#include "proto/strutil.h"

static void copy_field(struct json_object *o, const char *field, char *out, size_t n)
{
    const char *s = NULL;
    if (json_get_string(o, field, JSON_NULLABLE, &s, NULL) > 0 && s)
        strscpy(out, n, s);
}

int run_view_from_run(struct json_object *run, struct run_view *ret)
{
    struct run_view v = { 0 };
    struct run_state st = { 0 };
    struct json_object *tasks = NULL;
    if (!json_object_is_type(run, json_type_object))
        return -EBADMSG;
    if (json_get_id(run, "run_id", JSON_REQUIRED, &v.run_id, NULL) < 0)
        return -EBADMSG;
    int r = run_state_from_json(run, &st, NULL);
    if (r < 0)
        return r;
    const char *lc =
        st.life_cycle_raw ? st.life_cycle_raw : life_cycle_state_to_string(st.life_cycle);
    const char *rs = st.result_raw ? st.result_raw : result_state_to_string(st.result);
    strscpy(v.life_cycle, sizeof(v.life_cycle), lc ? lc : "");
    strscpy(v.result, sizeof(v.result), rs ? rs : "");
    strscpy(v.message, sizeof(v.message), st.state_message ? st.state_message : "");
    v.terminal = run_state_is_terminal(&st);
    run_state_done(&st);
    copy_field(run, "run_name", v.name, sizeof(v.name));
    (void)json_get_int64(run, "start_time", JSON_NULLABLE, &v.start_ms, NULL);
    (void)json_get_int64(run, "end_time", JSON_NULLABLE, &v.end_ms, NULL);
    if (json_get_array(run, "tasks", JSON_NULLABLE, &tasks, NULL) > 0) {
        size_t n = json_object_array_length(tasks);
        for (size_t i = 0; i < n; i++) {
            struct run_state ts = { 0 };
            v.tasks_total++;
            if (run_state_from_json(json_object_array_get_idx(tasks, i), &ts, NULL) >= 0 &&
                run_state_is_terminal(&ts))
                v.tasks_done++;
            run_state_done(&ts);
        }
    }
    *ret = v;
    return 0;
}

int run_view_from_event(struct json_object *ev, struct run_view *ret)
{
    struct run_view v = { 0 };
    int64_t n;
    bool b;
    if (!json_object_is_type(ev, json_type_object) ||
        json_get_id(ev, JOBSD_EV_RUN_ID, JSON_REQUIRED, &v.run_id, NULL) < 0)
        return -EBADMSG;
    copy_field(ev, JOBSD_EV_RUN_NAME, v.name, sizeof(v.name));
    copy_field(ev, JOBSD_EV_LIFE_CYCLE, v.life_cycle, sizeof(v.life_cycle));
    copy_field(ev, JOBSD_EV_RESULT, v.result, sizeof(v.result));
    copy_field(ev, JOBSD_EV_MESSAGE, v.message, sizeof(v.message));
    if (json_get_int64(ev, JOBSD_EV_TASKS_TOTAL, JSON_NULLABLE, &n, NULL) > 0)
        v.tasks_total = (int)MIN(MAX(n, 0), 1000000);
    if (json_get_int64(ev, JOBSD_EV_TASKS_DONE, JSON_NULLABLE, &n, NULL) > 0)
        v.tasks_done = (int)MIN(MAX(n, 0), 1000000);
    (void)json_get_int64(ev, JOBSD_EV_START_TIME, JSON_NULLABLE, &v.start_ms, NULL);
    (void)json_get_int64(ev, JOBSD_EV_END_TIME, JSON_NULLABLE, &v.end_ms, NULL);
    if (json_get_bool(ev, JOBSD_EV_TERMINAL, JSON_NULLABLE, &b, NULL) > 0)
        v.terminal = b;
    else
        v.terminal = life_cycle_is_terminal(life_cycle_state_from_string(v.life_cycle));
    *ret = v;
    return 0;
}

enum exit_status run_view_exit_status(const struct run_view *v)
{
    enum result_state r = result_state_from_string(v->result[0] ? v->result : NULL);
    if (r == RESULT_SUCCESS)
        return EXIT_OK;
    if (r == RESULT_CANCELED || r == RESULT_UPSTREAM_CANCELED)
        return EXIT_RUN_CANCELED;
    return EXIT_RUN_FAILED;
}

int64_t run_view_elapsed(const struct run_view *v, int64_t now_ms, int64_t first_seen_ms)
{
    if (v->terminal && v->end_ms > 0 && v->start_ms > 0)
        return MAX(v->end_ms - v->start_ms, 0);
    int64_t a = v->start_ms > 0 ? now_ms - v->start_ms : 0;
    int64_t b = first_seen_ms > 0 ? now_ms - first_seen_ms : 0;
    return MAX(MAX(a, b), 0);
}

const char *run_view_state(const struct run_view *v, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s", v->life_cycle[0] ? v->life_cycle : "UNKNOWN",
             v->result[0] ? " " : "", v->result);
    return buf;
}
