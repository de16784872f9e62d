/* db/runs.c: see runs.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/runs.h"
#include "db/store-internal.h"
#include "proto/log.h"

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : (store_errno(rc) ?: -EIO);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *t)
{
    if (t)
        sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_id_or_null(sqlite3_stmt *st, int i, int64_t id)
{
    if (id > 0)
        sqlite3_bind_int64(st, i, id);
    else
        sqlite3_bind_null(st, i);
}

/* The task_runs rows of a run's tasks[] and iterations[]. */
static int upsert_tasks(struct store *s, int64_t job_run_id, struct json_object *run)
{
    static const char *const fields[] = { "tasks", "iterations" };
    for (size_t f = 0; f < ELEMENTSOF(fields); f++) {
        struct json_object *a;
        if (!json_object_object_get_ex(run, fields[f], &a) ||
            !json_object_is_type(a, json_type_array))
            continue;
        size_t n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
            struct json_object *t = json_object_array_get_idx(a, i);
            struct run_view tv;
            struct json_error err;
            if (run_view_read(t, &tv, &err) < 0 || tv.run_id == job_run_id)
                continue; /* a task without its run id is only in the body */
            const char *key = NULL;
            struct json_object *k;
            if (json_object_object_get_ex(t, "task_key", &k) &&
                json_object_is_type(k, json_type_string))
                key = json_object_get_string(k);
            int r = 0;
            sqlite3_stmt *st = store_stmt(s, STMT_TASK_UPSERT, &r);
            if (!st)
                return r;
            sqlite3_bind_int64(st, 1, tv.run_id);
            sqlite3_bind_int64(st, 2, job_run_id);
            bind_text_or_null(st, 3, key);
            sqlite3_bind_int(st, 4, (int)tv.life_cycle);
            sqlite3_bind_int(st, 5, (int)tv.result);
            sqlite3_bind_int64(st, 6, tv.start_time);
            sqlite3_bind_int64(st, 7, tv.end_time);
            r = step_done(st);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static void bind_run_columns(struct store *s, sqlite3_stmt *st, const struct run_view *v,
                             int64_t repair_count, int64_t latest_repair_id, unsigned detail)
{
    sqlite3_bind_int64(st, 1, v->run_id);
    bind_id_or_null(st, 2, v->job_id);
    sqlite3_bind_int64(st, 3, v->start_time);
    sqlite3_bind_int64(st, 4, v->end_time);
    sqlite3_bind_int(st, 5, (int)v->life_cycle);
    sqlite3_bind_int(st, 6, (int)v->result);
    bind_text_or_null(st, 7, v->run_name);
    bind_text_or_null(st, 8, v->trigger);
    bind_text_or_null(st, 9, v->run_type);
    sqlite3_bind_int64(st, 10, repair_count);
    sqlite3_bind_int64(st, 11, latest_repair_id);
    sqlite3_bind_int(st, 12, (int)detail);
    sqlite3_bind_int64(st, 13, store_now_ms(s));
}

static int insert_run(struct store *s, struct json_object *run, const char *given, size_t len,
                      const struct run_view *in)
{
    _cleanup_json_ struct json_object *clean = NULL;
    int r = strip_paging(run, &clean);
    if (r < 0)
        return r;
    const char *text = given;
    if (!text || clean != run) /* no text, or paging fields to drop */
        text = json_dump(clean, &len);
    if (!text)
        return -ENOMEM;
    sqlite3_stmt *st = store_stmt(s, STMT_RUN_INSERT, &r);
    if (!st)
        return r;
    bind_run_columns(s, st, in, MAX(in->repair_count, 0), in->latest_repair_id, in->detail);
    r = store_bind_body(s, st, 16, 15, 14, text, len);
    if (r < 0)
        return r;
    r = step_done(st);
    if (r < 0)
        return r;
    if (sqlite3_changes(s->db) == 0)
        return -EEXIST; /* archived already: merge instead */
    if (in->detail & RUN_DETAIL_TASKS) {
        r = upsert_tasks(s, in->run_id, clean);
        if (r < 0)
            return r;
    }
    store_sample(s, text, len);
    return STORE_INSERTED;
}

struct stored_run {
    int64_t repair_count;
    int64_t latest_repair_id;
    unsigned detail;
    int64_t forgotten_ms;
    char *text;
    size_t len;
};

static int read_stored_run(struct store *s, int64_t run_id, struct stored_run *ret)
{
    int r = 0;
    sqlite3_stmt *st = store_stmt(s, STMT_RUN_GET, &r);
    if (!st)
        return r;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? -ENOENT : (store_errno(rc) ?: -EIO);
    }
    ret->repair_count = sqlite3_column_int64(st, 2);
    ret->latest_repair_id = sqlite3_column_int64(st, 3);
    ret->detail = (unsigned)sqlite3_column_int(st, 4);
    ret->forgotten_ms = sqlite3_column_int64(st, 5);
    r = store_column_body(s, st, 8, 7, &ret->text, &ret->len);
    sqlite3_reset(st);
    return r;
}

static int update_run(struct store *s, struct json_object *run, const struct run_view *in,
                      struct stored_run *sr)
{
    _cleanup_json_ struct json_object *stored = NULL, *merged = NULL;
    struct json_error err;
    struct run_view sv, mv;
    int r = json_parse_object(sr->text, sr->len, CODEC_TEXT_MAX, JSON_DEPTH_MAX, &stored, &err);
    if (r < 0)
        return r;
    r = run_view_read(stored, &sv, &err);
    if (r < 0)
        return r;
    sv.repair_count = MAX(sv.repair_count, sr->repair_count);
    sv.latest_repair_id = MAX(sv.latest_repair_id, sr->latest_repair_id);

    bool fresher = run_view_fresher(in, &sv, sr->detail);
    r = merge_run(fresher ? run : stored, fresher ? stored : run, !fresher, &merged);
    if (r < 0)
        return r;
    r = run_view_read(merged, &mv, &err);
    if (r < 0)
        return r;

    unsigned detail = mv.detail | (sr->detail & (RUN_DETAIL_TASKS | RUN_DETAIL_HISTORY));
    /* Partial: some pages never seen. The last page (or a whole view)
     * completes a run; a cut view (has_more) never undoes a complete one. */
    bool in_complete = (in->detail & RUN_DETAIL_TASKS) && !(in->detail & RUN_DETAIL_PARTIAL);
    bool st_complete = (sr->detail & RUN_DETAIL_TASKS) && !(sr->detail & RUN_DETAIL_PARTIAL);
    if (!in_complete && !st_complete && ((sr->detail | in->detail) & RUN_DETAIL_PARTIAL))
        detail |= RUN_DETAIL_PARTIAL;
    else
        detail &= ~(unsigned)RUN_DETAIL_PARTIAL;
    /* The noted repair is seen once a fresher view is active again, shows
     * it in its history, or ended after the stored end. */
    if ((sr->detail & RUN_DETAIL_REPAIR_PENDING) &&
        !(fresher && (in->rank < sv.rank || in->repair_count > sr->repair_count ||
                      (life_cycle_is_terminal(in->life_cycle) && in->end_time > sv.end_time))))
        detail |= RUN_DETAIL_REPAIR_PENDING;
    else
        detail &= ~(unsigned)RUN_DETAIL_REPAIR_PENDING;
    /* Archived final stays so until a repair makes the run active again. */
    if ((sr->detail & RUN_DETAIL_FINAL) && life_cycle_is_terminal(mv.life_cycle) &&
        !(detail & RUN_DETAIL_REPAIR_PENDING) && mv.repair_count <= sr->repair_count)
        detail |= RUN_DETAIL_FINAL;
    else
        detail &= ~(unsigned)RUN_DETAIL_FINAL;

    /* Equal JSON (key order aside): keep the stored text as it is. */
    if (json_object_equal(merged, stored) && detail == sr->detail && sr->forgotten_ms == 0) {
        sqlite3_stmt *st = store_stmt(s, STMT_RUN_SEEN, &r);
        if (!st)
            return r;
        sqlite3_bind_int64(st, 1, in->run_id);
        sqlite3_bind_int64(st, 2, store_now_ms(s));
        r = step_done(st);
        return r < 0 ? r : STORE_UNCHANGED;
    }
    size_t len = 0;
    const char *text = json_dump(merged, &len);
    if (!text)
        return -ENOMEM;
    sqlite3_stmt *st = store_stmt(s, STMT_RUN_UPDATE, &r);
    if (!st)
        return r;
    bind_run_columns(s, st, &mv, MAX(MAX(mv.repair_count, 0), sr->repair_count),
                     MAX(mv.latest_repair_id, sr->latest_repair_id), detail);
    r = store_bind_body(s, st, 16, 15, 14, text, len);
    if (r < 0)
        return r;
    r = step_done(st);
    if (r < 0)
        return r;
    if (mv.detail & RUN_DETAIL_TASKS) {
        r = upsert_tasks(s, mv.run_id, merged);
        if (r < 0)
            return r;
    }
    return STORE_UPDATED;
}

int store_put_run(struct store *s, struct json_object *run, unsigned flags)
{
    return store_put_run_text(s, run, NULL, 0, flags);
}

int store_put_run_text(struct store *s, struct json_object *run, const char *text, size_t len,
                       unsigned flags)
{
    if (text && len > CODEC_TEXT_MAX)
        return -EMSGSIZE;
    struct run_view in;
    struct json_error err;
    int r = run_view_read(run, &in, &err);
    if (r < 0) {
        log_debug("db: run not archived: %s", err.message);
        return -EINVAL;
    }
    r = store_write_begin(s);
    if (r < 0)
        return r;
    /* Most runs seen are new: try the insert first, merge if it exists. */
    r = insert_run(s, run, text, len, &in);
    if (r == -EEXIST) {
        struct stored_run sr = { 0 };
        r = read_stored_run(s, in.run_id, &sr);
        if (r >= 0)
            r = update_run(s, run, &in, &sr);
        free(sr.text);
    }
    return store_write_end(s, r);
}

static int run_update_simple(struct store *s, enum store_stmt id, int64_t run_id, int64_t a,
                             int64_t b, int nargs)
{
    int r = store_write_begin(s);
    if (r < 0)
        return r;
    sqlite3_stmt *st = store_stmt(s, id, &r);
    if (st) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int64(st, 2, a);
        if (nargs > 2)
            sqlite3_bind_int64(st, 3, b);
        r = step_done(st);
        if (r == 0)
            r = sqlite3_changes(s->db);
    }
    return store_write_end(s, r);
}

static int exists(struct store *s, const char *sql, int64_t id)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_errno(rc);
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_errno(rc);
}

int store_forget_run(struct store *s, int64_t run_id, int64_t when_ms)
{
    if (run_id <= 0 || when_ms <= 0)
        return -EINVAL;
    int r = run_update_simple(s, STMT_RUN_FORGET, run_id, when_ms, 0, 2);
    if (r == 0) {
        r = exists(s, "SELECT 1 FROM runs WHERE run_id = ?1", run_id);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
    }
    return r;
}

int store_forget_job(struct store *s, int64_t job_id, int64_t when_ms)
{
    if (job_id <= 0 || when_ms <= 0)
        return -EINVAL;
    int r = run_update_simple(s, STMT_JOB_FORGET, job_id, when_ms, 0, 2);
    if (r == 0) {
        r = exists(s, "SELECT 1 FROM jobs WHERE job_id = ?1", job_id);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
    }
    return r;
}

int store_note_repair(struct store *s, int64_t run_id, int64_t repair_id)
{
    if (run_id <= 0 || repair_id <= 0)
        return -EINVAL;
    int r = run_update_simple(s, STMT_RUN_REPAIR, run_id, repair_id, RUN_DETAIL_REPAIR_PENDING, 3);
    return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int store_mark_final(struct store *s, int64_t run_id)
{
    if (run_id <= 0)
        return -EINVAL;
    int r = run_update_simple(s, STMT_RUN_FINAL, run_id, RUN_DETAIL_FINAL, 0, 2);
    return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

/* ---- jobs, outputs, exports ---- */

int store_put_job(struct store *s, struct json_object *job, unsigned flags)
{
    int64_t job_id = 0, created = 0;
    const char *name = NULL;
    struct json_error err;
    struct json_object *settings = NULL;
    if (!json_object_is_type(job, json_type_object) ||
        json_get_id(job, "job_id", JSON_REQUIRED, &job_id, &err) < 0 ||
        json_get_int64(job, "created_time", JSON_NULLABLE, &created, &err) < 0 ||
        json_get_object(job, "settings", JSON_NULLABLE, &settings, &err) < 0 ||
        (settings && json_get_string(settings, "name", JSON_NULLABLE, &name, &err) < 0))
        return -EINVAL;

    int r = store_write_begin(s);
    if (r < 0)
        return r;
    _cleanup_json_ struct json_object *stored = NULL, *merged = NULL;
    sqlite3_stmt *st = store_stmt(s, STMT_JOB_GET, &r);
    if (!st)
        return store_write_end(s, r);
    sqlite3_bind_int64(st, 1, job_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        r = store_column_json(s, st, 3, 2, &stored);
    else if (rc != SQLITE_DONE)
        r = store_errno(rc) ?: -EIO;
    sqlite3_reset(st);
    if (r < 0)
        return store_write_end(s, r);

    if (stored)
        r = merge_job(job, stored, flags & STORE_PUT_PAGE, &merged);
    else
        r = strip_paging(job, &merged);
    if (r < 0)
        return store_write_end(s, r);
    size_t len = 0;
    const char *text = json_dump(merged, &len);
    st = store_stmt(s, STMT_JOB_UPSERT, &r);
    if (!text || !st)
        return store_write_end(s, text ? r : -ENOMEM);
    sqlite3_bind_int64(st, 1, job_id);
    bind_text_or_null(st, 2, name);
    sqlite3_bind_int64(st, 3, created);
    sqlite3_bind_int64(st, 4, store_now_ms(s));
    r = store_bind_body(s, st, 7, 6, 5, text, len);
    if (r == 0)
        r = step_done(st);
    return store_write_end(s, r < 0 ? r : stored ? STORE_UPDATED : STORE_INSERTED);
}

int store_put_output(struct store *s, int64_t run_id, struct json_object *output)
{
    if (run_id <= 0 || !json_object_is_type(output, json_type_object))
        return -EINVAL;
    struct run_view mv = { 0 };
    struct json_object *meta;
    struct json_error err;
    if (json_object_object_get_ex(output, "metadata", &meta) && run_view_read(meta, &mv, &err) < 0)
        return -EINVAL;
    int r = store_write_begin(s);
    if (r < 0)
        return r;
    sqlite3_stmt *st = store_stmt(s, STMT_OUTPUT_GET_LC, &r);
    if (!st)
        return store_write_end(s, r);
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    bool had = rc == SQLITE_ROW;
    int stored_rank = had ? life_cycle_rank((enum life_cycle_state)sqlite3_column_int(st, 0)) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_write_end(s, store_errno(rc) ?: -EIO);
    if (had && life_cycle_rank(mv.life_cycle) < stored_rank)
        return store_write_end(s, STORE_UNCHANGED);

    size_t len = 0;
    const char *text = json_dump(output, &len);
    st = store_stmt(s, STMT_OUTPUT_UPSERT, &r);
    if (!text || !st)
        return store_write_end(s, text ? r : -ENOMEM);
    sqlite3_bind_int64(st, 1, run_id);
    bind_id_or_null(st, 2, mv.job_run_id != run_id ? mv.job_run_id : 0);
    sqlite3_bind_int(st, 3, (int)mv.life_cycle);
    sqlite3_bind_int64(st, 4, store_now_ms(s));
    r = store_bind_body(s, st, 7, 6, 5, text, len);
    if (r == 0)
        r = step_done(st);
    return store_write_end(s, r < 0 ? r : had ? STORE_UPDATED : STORE_INSERTED);
}

#define VIEWS_MAX 32

int store_put_export(struct store *s, int64_t run_id, const char *views, struct json_object *export)
{
    if (run_id <= 0 || isempty(views) || strlen(views) > VIEWS_MAX ||
        !json_object_is_type(export, json_type_object))
        return -EINVAL;
    int r = store_write_begin(s);
    if (r < 0)
        return r;
    size_t len = 0;
    const char *text = json_dump(export, &len);
    sqlite3_stmt *st = store_stmt(s, STMT_EXPORT_UPSERT, &r);
    if (!text || !st)
        return store_write_end(s, text ? r : -ENOMEM);
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 3, views, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, store_now_ms(s));
    r = store_bind_body(s, st, 7, 6, 5, text, len);
    if (r == 0)
        r = step_done(st);
    return store_write_end(s, r < 0 ? r : STORE_UPDATED);
}

/* ---- reads ---- */

static int get_one_json(struct store *s, enum store_stmt id, int64_t key, const char *key2,
                        struct json_object **ret)
{
    int r = 0;
    sqlite3_stmt *st = store_stmt(s, id, &r);
    if (!st)
        return r;
    sqlite3_bind_int64(st, 1, key);
    if (key2)
        sqlite3_bind_text(st, 2, key2, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        r = store_column_json(s, st, 1, 0, ret);
    else
        r = rc == SQLITE_DONE ? -ENOENT : (store_errno(rc) ?: -EIO);
    sqlite3_reset(st);
    return r;
}

int store_get_output(struct store *s, int64_t task_run_id, struct json_object **ret)
{
    if (task_run_id <= 0)
        return -EINVAL;
    return get_one_json(s, STMT_OUTPUT_GET, task_run_id, NULL, ret);
}

int store_get_export(struct store *s, int64_t run_id, const char *views, struct json_object **ret)
{
    if (run_id <= 0 || isempty(views))
        return -EINVAL;
    return get_one_json(s, STMT_EXPORT_GET, run_id, views, ret);
}

int store_get_job(struct store *s, int64_t job_id, struct json_object **ret,
                  int64_t *ret_forgotten_ms)
{
    if (job_id <= 0)
        return -EINVAL;
    int r = 0;
    sqlite3_stmt *st = store_stmt(s, STMT_JOB_GET, &r);
    if (!st)
        return r;
    sqlite3_bind_int64(st, 1, job_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        r = store_column_json(s, st, 3, 2, ret);
        if (r == 0 && ret_forgotten_ms)
            *ret_forgotten_ms = sqlite3_column_int64(st, 0);
    } else {
        r = rc == SQLITE_DONE ? -ENOENT : (store_errno(rc) ?: -EIO);
    }
    sqlite3_reset(st);
    return r;
}

int store_get_run_outputs(struct store *s, int64_t run_id, struct json_object **ret)
{
    if (run_id <= 0)
        return -EINVAL;
    int r = 0;
    sqlite3_stmt *st = store_stmt(s, STMT_OUTPUTS_OF_RUN, &r);
    if (!st)
        return r;
    _cleanup_json_ struct json_object *a = json_object_new_array();
    if (!a)
        return -ENOMEM;
    sqlite3_bind_int64(st, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct json_object *o = NULL;
        r = store_column_json(s, st, 1, 0, &o);
        if (r < 0 || (r = json_append(a, o)) < 0)
            break;
    }
    if (r == 0 && rc != SQLITE_DONE)
        r = store_errno(rc) ?: -EIO;
    sqlite3_reset(st);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(a);
    return 0;
}

static void column_meta(sqlite3_stmt *st, struct store_run_meta *m)
{
    *m = (struct store_run_meta){
        .run_id = sqlite3_column_int64(st, 0),
        .job_id = sqlite3_column_int64(st, 1),
        .start_time = sqlite3_column_int64(st, 2),
        .end_time = sqlite3_column_int64(st, 3),
        .life_cycle = (enum life_cycle_state)sqlite3_column_int(st, 4),
        .result = (enum result_state)sqlite3_column_int(st, 5),
        .run_name = (const char *)sqlite3_column_text(st, 6),
        .trigger = (const char *)sqlite3_column_text(st, 7),
        .run_type = (const char *)sqlite3_column_text(st, 8),
        .repair_count = sqlite3_column_int64(st, 9),
        .detail = (unsigned)sqlite3_column_int(st, 10),
        .first_seen_ms = sqlite3_column_int64(st, 11),
        .last_seen_ms = sqlite3_column_int64(st, 12),
        .forgotten_ms = sqlite3_column_int64(st, 13),
        .raw_len = sqlite3_column_int64(st, 14),
    };
}

static int get_run(struct store *s, int64_t run_id, struct json_object **ret_json, char **ret_text,
                   size_t *ret_len, struct store_run_meta *ret_meta)
{
    if (run_id <= 0)
        return -EINVAL;
    int r = 0;
    sqlite3_stmt *st = store_stmt(s, STMT_RUN_META, &r);
    if (!st)
        return r;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (ret_json)
            r = store_column_json(s, st, 16, 15, ret_json);
        else
            r = store_column_body(s, st, 16, 15, ret_text, ret_len);
        if (r == 0 && ret_meta) {
            column_meta(st, ret_meta);
            ret_meta->run_name = ret_meta->trigger = ret_meta->run_type = NULL;
        }
    } else {
        r = rc == SQLITE_DONE ? -ENOENT : (store_errno(rc) ?: -EIO);
    }
    sqlite3_reset(st);
    return r;
}

int store_get_run(struct store *s, int64_t run_id, struct json_object **ret,
                  struct store_run_meta *ret_meta)
{
    if (!ret)
        return -EINVAL;
    return get_run(s, run_id, ret, NULL, NULL, ret_meta);
}

int store_get_run_text(struct store *s, int64_t run_id, char **ret, size_t *ret_len,
                       struct store_run_meta *ret_meta)
{
    if (!ret || !ret_len)
        return -EINVAL;
    return get_run(s, run_id, NULL, ret, ret_len, ret_meta);
}

int store_task_parent(struct store *s, int64_t task_run_id, int64_t *ret_job_run_id)
{
    if (task_run_id <= 0)
        return -EINVAL;
    int r = 0;
    sqlite3_stmt *st = store_stmt(s, STMT_TASK_PARENT, &r);
    if (!st)
        return r;
    sqlite3_bind_int64(st, 1, task_run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *ret_job_run_id = sqlite3_column_int64(st, 0);
    else
        r = rc == SQLITE_DONE ? -ENOENT : (store_errno(rc) ?: -EIO);
    sqlite3_reset(st);
    return r;
}

/* ---- listing ---- */

enum {
    F_JOB = 1 << 0,
    F_LIFE_CYCLE = 1 << 1,
    F_RESULT = 1 << 2,
    F_FROM = 1 << 3,
    F_TO = 1 << 4,
    F_NAME = 1 << 5,
    F_TRIGGER = 1 << 6,
    F_RUN_TYPE = 1 << 7,
    F_CURSOR = 1 << 8,
};

static int parse_token(const char *token, int64_t *ret_start, int64_t *ret_run)
{
    char buf[STORE_PAGE_TOKEN_MAX + 1];
    if (strscpy(buf, sizeof(buf), token) < 0)
        return -EINVAL;
    char *dot = strchr(buf, '.');
    if (!dot || buf[0] != 'k' || dot != buf + 1)
        return -EINVAL;
    char *sep = strchr(dot + 1, '.');
    if (!sep)
        return -EINVAL;
    *sep = 0;
    int64_t start, run;
    if (parse_int64(dot + 1, &start) < 0 || parse_id(sep + 1, &run) < 0)
        return -EINVAL;
    *ret_start = start;
    *ret_run = run;
    return 0;
}

static sqlite3_stmt *list_stmt(struct store *s, unsigned shape, int *ret_error)
{
    if (s->list_stmts[shape])
        return store_prepare_cached(s, &s->list_stmts[shape], NULL, ret_error);
    struct buf b = BUF_INIT(4096);
    int r = buf_appendf(&b, "SELECT " META_COLUMNS " FROM runs WHERE (detail & %d) = 0",
                        RUN_DETAIL_TASK_RUN);
    if (r == 0 && (shape & F_JOB))
        r = buf_appendf(&b, " AND job_id = ?1");
    if (r == 0 && (shape & F_LIFE_CYCLE))
        r = buf_appendf(&b, " AND life_cycle = ?2");
    if (r == 0 && (shape & F_RESULT))
        r = buf_appendf(&b, " AND result = ?3");
    if (r == 0 && (shape & F_FROM))
        r = buf_appendf(&b, " AND start_time >= ?4");
    if (r == 0 && (shape & F_TO))
        r = buf_appendf(&b, " AND start_time <= ?5");
    if (r == 0 && (shape & F_NAME))
        r = buf_appendf(&b, " AND instr(run_name, ?6) > 0");
    if (r == 0 && (shape & F_TRIGGER))
        r = buf_appendf(&b, " AND trigger = ?7");
    if (r == 0 && (shape & F_RUN_TYPE))
        r = buf_appendf(&b, " AND run_type = ?8");
    if (r == 0 && (shape & F_CURSOR))
        r = buf_appendf(&b, " AND start_time <= ?9 AND (start_time < ?9 OR run_id < ?10)");
    if (r == 0)
        r = buf_appendf(&b, " ORDER BY start_time DESC, run_id DESC LIMIT ?11");
    sqlite3_stmt *st = NULL;
    if (r == 0)
        st = store_prepare_cached(s, &s->list_stmts[shape], b.data, &r);
    buf_done(&b);
    if (!st)
        *ret_error = r ?: -ENOMEM;
    return st;
}

int store_list_runs(struct store *s, const struct store_run_filter *f, const char *page_token,
                    size_t limit, unsigned flags, store_run_cb cb, void *userdata,
                    char **ret_next_token)
{
    static const struct store_run_filter none = { 0 };
    if (!f)
        f = &none;
    if (limit == 0 || limit > STORE_LIST_LIMIT_MAX || !cb || f->job_id < 0)
        return -EINVAL;
    int64_t cur_start = 0, cur_run = 0;
    unsigned shape = 0;
    if (page_token) {
        if (parse_token(page_token, &cur_start, &cur_run) < 0)
            return -EINVAL;
        shape |= F_CURSOR;
    }
    shape |= f->job_id > 0 ? F_JOB : 0;
    shape |= f->life_cycle != LIFE_CYCLE_NONE ? F_LIFE_CYCLE : 0;
    shape |= f->result != RESULT_NONE ? F_RESULT : 0;
    shape |= f->start_from > 0 ? F_FROM : 0;
    shape |= f->start_to > 0 ? F_TO : 0;
    shape |= !isempty(f->name_contains) ? F_NAME : 0;
    shape |= !isempty(f->trigger) ? F_TRIGGER : 0;
    shape |= !isempty(f->run_type) ? F_RUN_TYPE : 0;

    int r = 0;
    sqlite3_stmt *st = list_stmt(s, shape, &r);
    if (!st)
        return r;
    if (shape & F_JOB)
        sqlite3_bind_int64(st, 1, f->job_id);
    if (shape & F_LIFE_CYCLE)
        sqlite3_bind_int(st, 2, (int)f->life_cycle);
    if (shape & F_RESULT)
        sqlite3_bind_int(st, 3, (int)f->result);
    if (shape & F_FROM)
        sqlite3_bind_int64(st, 4, f->start_from);
    if (shape & F_TO)
        sqlite3_bind_int64(st, 5, f->start_to);
    if (shape & F_NAME)
        sqlite3_bind_text(st, 6, f->name_contains, -1, SQLITE_STATIC);
    if (shape & F_TRIGGER)
        sqlite3_bind_text(st, 7, f->trigger, -1, SQLITE_STATIC);
    if (shape & F_RUN_TYPE)
        sqlite3_bind_text(st, 8, f->run_type, -1, SQLITE_STATIC);
    if (shape & F_CURSOR) {
        sqlite3_bind_int64(st, 9, cur_start);
        sqlite3_bind_int64(st, 10, cur_run);
    }
    sqlite3_bind_int64(st, 11, (sqlite3_int64)limit + 1);

    size_t n = 0;
    int64_t last_start = 0, last_run = 0;
    bool more = false;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            more = true;
            break;
        }
        struct store_run_meta m;
        column_meta(st, &m);
        _cleanup_json_ struct json_object *run = NULL;
        _cleanup_free_ char *text = NULL;
        if (flags & STORE_LIST_JSON) {
            r = store_column_json(s, st, 16, 15, &run);
            if (r < 0)
                break;
        }
        if (flags & STORE_LIST_TEXT) {
            r = store_column_body(s, st, 16, 15, &text, &m.text_len);
            if (r < 0)
                break;
            m.text = text;
        }
        r = cb(&m, run, userdata);
        if (r < 0)
            break;
        last_start = m.start_time;
        last_run = m.run_id;
        n++;
    }
    if (r >= 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
        r = store_errno(rc) ?: -EIO;
    sqlite3_reset(st);
    if (r < 0)
        return r;
    if (ret_next_token) {
        char *token = NULL;
        if (more) {
            char buf[STORE_PAGE_TOKEN_MAX];
            (void)snprintf(buf, sizeof(buf), "k.%" PRIi64 ".%" PRIi64, last_start, last_run);
            token = strdup(buf);
            if (!token)
                return -ENOMEM;
        }
        *ret_next_token = token;
    }
    return (int)n;
}

int store_count_runs(struct store *s, int64_t job_id, struct store_counts *ret)
{
    if (job_id < 0)
        return -EINVAL;
    int r = 0;
    sqlite3_stmt *st = store_stmt(s, job_id > 0 ? STMT_COUNTS_OF_JOB : STMT_COUNTS, &r);
    if (!st)
        return r;
    if (job_id > 0)
        sqlite3_bind_int64(st, 1, job_id);
    struct store_counts c = { 0 };
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int lc = sqlite3_column_int(st, 0), rs = sqlite3_column_int(st, 1);
        int64_t n = sqlite3_column_int64(st, 2);
        if (lc < 0 || lc >= _LIFE_CYCLE_MAX || rs < 0 || rs >= _RESULT_MAX)
            continue;
        c.n[lc][rs] += n;
        c.total += n;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_errno(rc) ?: -EIO;
    *ret = c;
    return 0;
}
