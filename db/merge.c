/* db/merge.c: see merge.h. */
#include <errno.h>
#include <string.h>

#include "db/merge.h"
#include "proto/strutil.h"

static const char *const paging_fields[] = { "next_page_token", "prev_page_token", "has_more" };

static bool is_paging_field(const char *key)
{
    for (size_t i = 0; i < ELEMENTSOF(paging_fields); i++)
        if (streq(key, paging_fields[i]))
            return true;
    return false;
}

static const char *string_field(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int64_t int_field(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return 0;
    return json_object_get_int64(v);
}

static int read_state(struct json_object *o, enum life_cycle_state *ret_lc,
                      enum result_state *ret_rs, struct json_error *err)
{
    struct json_object *state = NULL;
    /* A "state" that is no object is a wrong type, status or not: kept, it
     * would win a merge and leave a run no later view could be read with
     * (found by tests/fuzz/fuzz-json). */
    int k = json_get_object(o, "state", JSON_NULLABLE, &state, err);
    if (k < 0)
        return k;
    if (state) {
        const char *lc = string_field(state, "life_cycle_state");
        if (lc) {
            *ret_lc = life_cycle_state_from_string(lc);
            *ret_rs = result_state_from_string(string_field(state, "result_state"));
            return 0;
        }
    }
    if (!json_object_object_get_ex(o, "status", NULL)) {
        *ret_lc = LIFE_CYCLE_NONE;
        *ret_rs = RESULT_NONE;
        return 0;
    }
    /* Only the newer "status": let proto derive the life cycle. */
    struct run_state rs = { 0 };
    int r = run_state_from_json(o, &rs, err);
    if (r < 0) {
        run_state_done(&rs);
        return r;
    }
    *ret_lc = rs.life_cycle;
    *ret_rs = rs.result;
    run_state_done(&rs);
    return 0;
}

int run_view_read(struct json_object *run, struct run_view *ret, struct json_error *err)
{
    struct run_view v = { .repair_count = -1 };
    struct json_object *a;
    int r;

    if (!json_object_is_type(run, json_type_object))
        return -EINVAL;
    r = json_get_id(run, "run_id", JSON_REQUIRED, &v.run_id, err);
    if (r < 0)
        return r;
    if (json_get_id(run, "job_id", JSON_NULLABLE, &v.job_id, err) < 0 ||
        json_get_id(run, "job_run_id", JSON_NULLABLE, &v.job_run_id, err) < 0 ||
        json_get_int64(run, "start_time", JSON_NULLABLE, &v.start_time, err) < 0 ||
        json_get_int64(run, "end_time", JSON_NULLABLE, &v.end_time, err) < 0 ||
        json_get_string(run, "run_name", JSON_NULLABLE, &v.run_name, err) < 0 ||
        json_get_string(run, "trigger", JSON_NULLABLE, &v.trigger, err) < 0 ||
        json_get_string(run, "run_type", JSON_NULLABLE, &v.run_type, err) < 0)
        return -EINVAL;
    r = read_state(run, &v.life_cycle, &v.result, err);
    if (r < 0)
        return r;
    v.rank = life_cycle_rank(v.life_cycle);
    if (v.job_run_id > 0 && v.job_run_id != v.run_id)
        v.detail |= RUN_DETAIL_TASK_RUN;

    r = json_get_array(run, "tasks", JSON_NULLABLE, &a, err);
    if (r < 0)
        return r;
    if (r > 0) {
        v.detail |= RUN_DETAIL_TASKS;
        size_t n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
            int64_t id = int_field(json_object_array_get_idx(a, i), "run_id");
            v.max_task_run_id = MAX(v.max_task_run_id, id);
        }
    }
    r = json_get_array(run, "repair_history", JSON_NULLABLE, &a, err);
    if (r < 0)
        return r;
    if (r > 0) {
        v.detail |= RUN_DETAIL_HISTORY;
        v.repair_count = 0;
        size_t n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
            struct json_object *e = json_object_array_get_idx(a, i);
            if (!streq_ptr(string_field(e, "type"), "REPAIR"))
                continue;
            v.repair_count++;
            v.latest_repair_id = MAX(v.latest_repair_id, int_field(e, "id"));
            v.repair_start = MAX(v.repair_start, int_field(e, "start_time"));
        }
    }
    struct json_object *more;
    if (json_object_object_get_ex(run, "next_page_token", NULL) ||
        (json_object_object_get_ex(run, "has_more", &more) && json_object_get_boolean(more)))
        v.detail |= RUN_DETAIL_PARTIAL;
    *ret = v;
    return 0;
}

bool run_view_fresher(const struct run_view *in, const struct run_view *st, unsigned st_detail)
{
    /* A later repair generation wins whatever its life cycle: a repair makes
     * a terminal run active again. */
    if (in->repair_count >= 0) {
        int64_t stored = MAX(st->repair_count, 0);
        if (in->repair_count > stored)
            return true;
        if (in->repair_count < stored)
            return false;
        if (in->latest_repair_id != st->latest_repair_id && st->latest_repair_id > 0)
            return in->latest_repair_id > st->latest_repair_id;
    }
    /* Ended before the latest repair started: a read from before it. */
    if (in->end_time > 0 && st->repair_start > 0 && in->end_time < st->repair_start)
        return false;
    if (in->rank >= st->rank)
        return true;
    /* Lower rank: a stale read, unless it proves a repair: jobsd saw the
     * repair start, or it holds task runs newer than any stored. */
    if (st_detail & RUN_DETAIL_REPAIR_PENDING)
        return in->rank > 0;
    if (in->rank > 0 && in->max_task_run_id > 0 && st->max_task_run_id > 0 &&
        in->max_task_run_id > st->max_task_run_id)
        return true;
    return false;
}

/* ---- merging ---- */

enum key_kind {
    KEY_INT,
    KEY_STRING,
};

struct array_rule {
    const char *field;
    const char *key;
    enum key_kind kind;
    bool ranked; /* elements are task runs: keep the most advanced */
};

static const struct array_rule run_arrays[] = {
    { "tasks", "run_id", KEY_INT, true },
    { "iterations", "run_id", KEY_INT, true },
    { "job_clusters", "job_cluster_key", KEY_STRING, false },
    { "job_parameters", "name", KEY_STRING, false },
    { "repair_history", "id", KEY_INT, false },
};

static const struct array_rule job_arrays[] = {
    { "tasks", "task_key", KEY_STRING, false },
    { "job_clusters", "job_cluster_key", KEY_STRING, false },
    { "environments", "environment_key", KEY_STRING, false },
    { "parameters", "name", KEY_STRING, false },
};

static bool element_key(const struct array_rule *rule, struct json_object *e, int64_t *ret_int,
                        const char **ret_str)
{
    struct json_object *v;
    if (!json_object_is_type(e, json_type_object) || !json_object_object_get_ex(e, rule->key, &v))
        return false;
    if (rule->kind == KEY_INT) {
        if (!json_object_is_type(v, json_type_int))
            return false;
        *ret_int = json_object_get_int64(v);
        return true;
    }
    if (!json_object_is_type(v, json_type_string))
        return false;
    *ret_str = json_object_get_string(v);
    return true;
}

static bool same_key(const struct array_rule *rule, struct json_object *a, struct json_object *b)
{
    int64_t ia = 0, ib = 0;
    const char *sa = NULL, *sb = NULL;
    if (!element_key(rule, a, &ia, &sa) || !element_key(rule, b, &ib, &sb))
        return false;
    return rule->kind == KEY_INT ? ia == ib : streq(sa, sb);
}

static int element_rank(struct json_object *e)
{
    enum life_cycle_state lc = LIFE_CYCLE_NONE;
    enum result_state rs = RESULT_NONE;
    struct json_error err;
    if (read_state(e, &lc, &rs, &err) < 0)
        return 0;
    return life_cycle_rank(lc);
}

static bool all_keyed(const struct array_rule *rule, struct json_object *a)
{
    size_t n = json_object_array_length(a);
    for (size_t i = 0; i < n; i++) {
        int64_t k;
        const char *s;
        if (!element_key(rule, json_object_array_get_idx(a, i), &k, &s))
            return false;
    }
    return true;
}

/* fresh's elements win unless ranked and less advanced; old's order first,
 * then elements only fresh has. */
static int merge_array(const struct array_rule *rule, struct json_object *fresh,
                       struct json_object *old, struct json_object **ret)
{
    if (!all_keyed(rule, fresh) || !all_keyed(rule, old)) {
        struct json_object *pick =
            json_object_array_length(fresh) >= json_object_array_length(old) ? fresh : old;
        *ret = json_object_get(pick);
        return 0;
    }
    size_t nf = json_object_array_length(fresh), no = json_object_array_length(old);
    _cleanup_json_ struct json_object *out = json_object_new_array_ext((int)(nf + no));
    if (!out)
        return -ENOMEM;
    _cleanup_free_ bool *used = calloc(nf + 1, sizeof(bool));
    if (!used)
        return -ENOMEM;
    for (size_t i = 0; i < no; i++) {
        struct json_object *o = json_object_array_get_idx(old, i), *pick = o;
        for (size_t j = 0; j < nf; j++) {
            struct json_object *f = json_object_array_get_idx(fresh, j);
            if (used[j] || !same_key(rule, o, f))
                continue;
            used[j] = true;
            pick = (!rule->ranked || element_rank(f) >= element_rank(o)) ? f : o;
            break;
        }
        if (json_append(out, json_object_get(pick)) < 0)
            return -ENOMEM;
    }
    for (size_t j = 0; j < nf; j++)
        if (!used[j] && json_append(out, json_object_get(json_object_array_get_idx(fresh, j))) < 0)
            return -ENOMEM;
    *ret = TAKE_PTR(out);
    return 0;
}

static const struct array_rule *find_rule(const struct array_rule *rules, size_t n,
                                          const char *field)
{
    for (size_t i = 0; i < n; i++)
        if (streq(rules[i].field, field))
            return &rules[i];
    return NULL;
}

/* Top-level merge: fresh's keys (in its order, arrays merged by rules), then
 * keys only old has. With rules NULL, arrays are not merged. */
static int merge_object(struct json_object *fresh, struct json_object *old,
                        const struct array_rule *rules, size_t n_rules, bool old_stale,
                        struct json_object **ret)
{
    _cleanup_json_ struct json_object *out = json_object_new_object();
    if (!out)
        return -ENOMEM;
    json_object_object_foreach (fresh, key, val) {
        if (is_paging_field(key))
            continue;
        struct json_object *ov, *merged = NULL;
        const struct array_rule *rule = rules ? find_rule(rules, n_rules, key) : NULL;
        if (rule && json_object_is_type(val, json_type_array) &&
            json_object_object_get_ex(old, key, &ov) && json_object_is_type(ov, json_type_array)) {
            int r = merge_array(rule, val, ov, &merged);
            if (r < 0)
                return r;
        } else {
            merged = json_object_get(val);
        }
        if (json_add(out, key, merged) < 0)
            return -ENOMEM;
    }
    json_object_object_foreach (old, okey, oval) {
        if (is_paging_field(okey) || json_object_object_get_ex(fresh, okey, NULL))
            continue;
        if (old_stale && !json_object_is_type(oval, json_type_array) &&
            !json_object_is_type(oval, json_type_object))
            continue;
        if (json_add(out, okey, json_object_get(oval)) < 0)
            return -ENOMEM;
    }
    *ret = TAKE_PTR(out);
    return 0;
}

int merge_run(struct json_object *fresh, struct json_object *other, bool other_stale,
              struct json_object **ret)
{
    if (!json_object_is_type(fresh, json_type_object) ||
        !json_object_is_type(other, json_type_object))
        return -EINVAL;
    return merge_object(fresh, other, run_arrays, ELEMENTSOF(run_arrays), other_stale, ret);
}

int merge_job(struct json_object *incoming, struct json_object *stored, bool page,
              struct json_object **ret)
{
    if (!json_object_is_type(incoming, json_type_object) ||
        !json_object_is_type(stored, json_type_object))
        return -EINVAL;
    struct json_object *in_settings, *st_settings;
    _cleanup_json_ struct json_object *settings = NULL;
    if (json_object_object_get_ex(incoming, "settings", &in_settings) &&
        json_object_object_get_ex(stored, "settings", &st_settings) &&
        json_object_is_type(in_settings, json_type_object) &&
        json_object_is_type(st_settings, json_type_object)) {
        if (page) {
            int r = merge_object(in_settings, st_settings, job_arrays, ELEMENTSOF(job_arrays),
                                 false, &settings);
            if (r < 0)
                return r;
        } else {
            /* A full read replaces the settings (an update may remove
             * fields); only the arrays a list entry leaves out are kept. */
            settings = json_object_new_object();
            if (!settings)
                return -ENOMEM;
            json_object_object_foreach (in_settings, key, val) {
                if (json_add(settings, key, json_object_get(val)) < 0)
                    return -ENOMEM;
            }
            for (size_t i = 0; i < ELEMENTSOF(job_arrays); i++) {
                struct json_object *v;
                const char *f = job_arrays[i].field;
                if (!json_object_object_get_ex(in_settings, f, NULL) &&
                    json_object_object_get_ex(st_settings, f, &v) &&
                    json_add(settings, f, json_object_get(v)) < 0)
                    return -ENOMEM;
            }
        }
    }
    _cleanup_json_ struct json_object *out = NULL;
    int r = merge_object(incoming, stored, NULL, 0, false, &out);
    if (r < 0)
        return r;
    if (settings && json_add(out, "settings", TAKE_PTR(settings)) < 0)
        return -ENOMEM;
    *ret = TAKE_PTR(out);
    return 0;
}

int strip_paging(struct json_object *o, struct json_object **ret)
{
    bool has = false;
    for (size_t i = 0; i < ELEMENTSOF(paging_fields); i++)
        has = has || json_object_object_get_ex(o, paging_fields[i], NULL);
    if (!has) {
        *ret = json_object_get(o);
        return 0;
    }
    _cleanup_json_ struct json_object *out = json_object_new_object();
    if (!out)
        return -ENOMEM;
    json_object_object_foreach (o, key, val) {
        if (!is_paging_field(key) && json_add(out, key, json_object_get(val)) < 0)
            return -ENOMEM;
    }
    *ret = TAKE_PTR(out);
    return 0;
}
