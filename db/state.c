/* db/state.c: daemon state (named values, tracked runs) and audit rows of
 * store.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db/store-internal.h"

#define STATE_KEY_MAX 128
#define STATE_TEXT_MAX (64 * 1024)

static int state_key_ok(const char *key)
{
    return !isempty(key) && strlen(key) <= STATE_KEY_MAX;
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : (store_errno(rc) ?: -EIO);
}

static int state_set(struct store *s, const char *key, const char *text, int64_t value)
{
    if (!state_key_ok(key) || (text && strlen(text) > STATE_TEXT_MAX))
        return -EINVAL;
    int r = store_write_begin(s);
    if (r < 0)
        return r;
    sqlite3_stmt *st = store_stmt(s, STMT_STATE_SET, &r);
    if (st) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if (text)
            sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(st, 2, value);
        r = step_done(st);
    }
    return store_write_end(s, r);
}

int store_state_set_int(struct store *s, const char *key, int64_t value)
{
    return state_set(s, key, NULL, value);
}

int store_state_set_text(struct store *s, const char *key, const char *value)
{
    if (!value)
        return -EINVAL;
    return state_set(s, key, value, 0);
}

static int state_get(struct store *s, const char *key, int type, int64_t *ret_int, char **ret_text)
{
    if (!state_key_ok(key))
        return -EINVAL;
    int r = 0;
    sqlite3_stmt *st = store_stmt(s, STMT_STATE_GET, &r);
    if (!st)
        return r;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
    }
    if (sqlite3_column_type(st, 0) != type) {
        r = -EMEDIUMTYPE;
    } else if (ret_int) {
        *ret_int = sqlite3_column_int64(st, 0);
    } else {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        char *copy = t ? strdup(t) : NULL;
        if (!copy)
            r = -ENOMEM;
        else
            *ret_text = copy;
    }
    sqlite3_reset(st);
    return r;
}

int store_state_get_int(struct store *s, const char *key, int64_t *ret)
{
    return state_get(s, key, SQLITE_INTEGER, ret, NULL);
}

int store_state_get_text(struct store *s, const char *key, char **ret)
{
    return state_get(s, key, SQLITE_TEXT, NULL, ret);
}

int store_state_delete(struct store *s, const char *key)
{
    if (!state_key_ok(key))
        return -EINVAL;
    int r = store_write_begin(s);
    if (r < 0)
        return r;
    sqlite3_stmt *st = store_stmt(s, STMT_STATE_DELETE, &r);
    if (st) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        r = step_done(st);
    }
    return store_write_end(s, r);
}

int store_track_run(struct store *s, int64_t run_id, int64_t job_id)
{
    if (run_id <= 0 || job_id < 0)
        return -EINVAL;
    int r = store_write_begin(s);
    if (r < 0)
        return r;
    sqlite3_stmt *st = store_stmt(s, STMT_TRACK, &r);
    if (st) {
        sqlite3_bind_int64(st, 1, run_id);
        if (job_id > 0)
            sqlite3_bind_int64(st, 2, job_id);
        sqlite3_bind_int64(st, 3, store_now_ms(s));
        r = step_done(st);
    }
    return store_write_end(s, r);
}

int store_untrack_run(struct store *s, int64_t run_id)
{
    if (run_id <= 0)
        return -EINVAL;
    int r = store_write_begin(s);
    if (r < 0)
        return r;
    sqlite3_stmt *st = store_stmt(s, STMT_UNTRACK, &r);
    if (st) {
        sqlite3_bind_int64(st, 1, run_id);
        r = step_done(st);
    }
    return store_write_end(s, r);
}

int store_tracked_runs(struct store *s, int64_t **ret_ids, size_t *ret_n)
{
    int r = 0;
    sqlite3_stmt *st = store_stmt(s, STMT_TRACKED, &r);
    if (!st)
        return r;
    _cleanup_free_ int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n >= STORE_TRACKED_MAX) {
            r = -E2BIG;
            break;
        }
        if (n == cap) {
            size_t c = cap ? cap * 2 : 64;
            int64_t *p = realloc(ids, c * sizeof(*ids));
            if (!p) {
                r = -ENOMEM;
                break;
            }
            ids = p;
            cap = c;
        }
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    if (r == 0 && rc != SQLITE_DONE)
        r = store_errno(rc) ?: -EIO;
    sqlite3_reset(st);
    if (r < 0)
        return r;
    *ret_ids = TAKE_PTR(ids);
    *ret_n = n;
    return 0;
}

#define AUDIT_TEXT_MAX 256

int store_audit_add(struct store *s, const struct store_audit *a)
{
    if (!a || isempty(a->endpoint) || strlen(a->endpoint) > AUDIT_TEXT_MAX || a->job_id < 0 ||
        a->run_id < 0 || (a->outcome && strlen(a->outcome) > AUDIT_TEXT_MAX))
        return -EINVAL;
    int r = store_write_begin(s);
    if (r < 0)
        return r;
    sqlite3_stmt *st = store_stmt(s, STMT_AUDIT_ADD, &r);
    if (st) {
        sqlite3_bind_int64(st, 1, a->time_ms > 0 ? a->time_ms : store_now_ms(s));
        /* (uid_t)-1 and friends: a peer we could not identify (TCP). */
        if (a->uid != (uid_t)-1)
            sqlite3_bind_int64(st, 2, (sqlite3_int64)a->uid);
        if (a->gid != (gid_t)-1)
            sqlite3_bind_int64(st, 3, (sqlite3_int64)a->gid);
        if (a->pid > 0)
            sqlite3_bind_int64(st, 4, (sqlite3_int64)a->pid);
        sqlite3_bind_text(st, 5, a->endpoint, -1, SQLITE_STATIC);
        if (a->job_id > 0)
            sqlite3_bind_int64(st, 6, a->job_id);
        if (a->run_id > 0)
            sqlite3_bind_int64(st, 7, a->run_id);
        sqlite3_bind_int(st, 8, a->http_status);
        if (a->outcome)
            sqlite3_bind_text(st, 9, a->outcome, -1, SQLITE_STATIC);
        r = step_done(st);
    }
    return store_write_end(s, r);
}

int store_audit_list(struct store *s, int64_t since_ms, size_t limit, store_audit_cb cb,
                     void *userdata)
{
    if (!cb || limit == 0)
        return -EINVAL;
    int r = 0;
    sqlite3_stmt *st = store_stmt(s, STMT_AUDIT_LIST, &r);
    if (!st)
        return r;
    sqlite3_bind_int64(st, 1, since_ms);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)MIN(limit, (size_t)INT64_MAX));
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_audit a = {
            .time_ms = sqlite3_column_int64(st, 0),
            .uid = sqlite3_column_type(st, 1) == SQLITE_NULL ? (uid_t)-1
                                                             : (uid_t)sqlite3_column_int64(st, 1),
            .gid = sqlite3_column_type(st, 2) == SQLITE_NULL ? (gid_t)-1
                                                             : (gid_t)sqlite3_column_int64(st, 2),
            .pid = (pid_t)sqlite3_column_int64(st, 3),
            .endpoint = (const char *)sqlite3_column_text(st, 4),
            .job_id = sqlite3_column_int64(st, 5),
            .run_id = sqlite3_column_int64(st, 6),
            .http_status = sqlite3_column_int(st, 7),
            .outcome = (const char *)sqlite3_column_text(st, 8),
        };
        r = cb(&a, userdata);
        if (r < 0)
            break;
        n++;
    }
    if (r >= 0 && rc != SQLITE_DONE)
        r = store_errno(rc) ?: -EIO;
    sqlite3_reset(st);
    return r < 0 ? r : n;
}
