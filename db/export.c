/* db/export.c: see export.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/export.h"
#include "db/runs.h"
#include "db/store-internal.h"
#include "proto/json.h"
#include "proto/log.h"

#define EXPORT_CHUNK 64

enum export_phase {
    PHASE_JOBS,
    PHASE_RUNS,
    PHASE_DONE,
};

struct store_export {
    struct store *s;
    int64_t from, to;
    enum export_phase phase;
    int64_t last_job;
    int64_t last_start, last_run;
    bool started;
};

struct store_export *store_export_free(struct store_export *e)
{
    free(e);
    return NULL;
}

int store_export_new(struct store *s, int64_t from_ms, int64_t to_ms, unsigned flags,
                     struct store_export **ret)
{
    if (from_ms < 0 || to_ms < 0 || (to_ms > 0 && to_ms < from_ms))
        return -EINVAL;
    struct store_export *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->s = s;
    e->from = from_ms;
    e->to = to_ms > 0 ? to_ms : INT64_MAX;
    e->phase = (flags & STORE_EXPORT_NO_JOBS) ? PHASE_RUNS : PHASE_JOBS;
    *ret = e;
    return 0;
}

static int append_line(struct buf *out, struct json_object *line)
{
    size_t len = 0;
    const char *text = json_dump(line, &len);
    if (!text)
        return -ENOMEM;
    int r = buf_append(out, text, len);
    if (r == 0)
        r = buf_append(out, "\n", 1);
    return r;
}

static int export_jobs(struct store_export *e, struct buf *out, size_t max_bytes, int *ret_n)
{
    struct store *s = e->s;
    int r = 0;
    sqlite3_stmt *st = store_stmt(s, STMT_EXPORT_JOBS, &r);
    if (!st)
        return r;
    sqlite3_bind_int64(st, 1, e->last_job);
    sqlite3_bind_int(st, 2, EXPORT_CHUNK);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        _cleanup_json_ struct json_object *line = json_object_new_object(), *job = NULL;
        if (!line)
            return r = -ENOMEM;
        r = store_column_json(s, st, 3, 2, &job);
        if (r < 0)
            break;
        int64_t forgotten = sqlite3_column_int64(st, 1);
        if (json_add_string(line, "kind", "job") < 0 || json_add(line, "job", TAKE_PTR(job)) < 0 ||
            (forgotten > 0 && json_add_int64(line, "forgotten_ms", forgotten) < 0)) {
            r = -ENOMEM;
            break;
        }
        r = append_line(out, line);
        if (r < 0)
            break;
        e->last_job = sqlite3_column_int64(st, 0);
        (*ret_n)++;
        if (out->len >= max_bytes)
            break;
    }
    if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
        r = store_errno(rc) ?: -EIO;
    sqlite3_reset(st);
    if (r == 0 && rc == SQLITE_DONE)
        e->phase = PHASE_RUNS;
    return r;
}

/* The outputs and export views of a run, as export.h lays them out. */
static int run_extras(struct store *s, int64_t run_id, struct json_object *line)
{
    int r = 0;
    sqlite3_stmt *st = store_stmt(s, STMT_OUTPUTS_OF_RUN, &r);
    if (!st)
        return r;
    _cleanup_json_ struct json_object *outputs = json_object_new_array();
    _cleanup_json_ struct json_object *exports = json_object_new_array();
    if (!outputs || !exports)
        return -ENOMEM;
    sqlite3_bind_int64(st, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct json_object *o = NULL;
        struct json_object *item = json_object_new_object();
        if (!item) {
            r = -ENOMEM;
            break;
        }
        r = store_column_json(s, st, 1, 0, &o);
        if (r == 0 && json_add_int64(item, "run_id", sqlite3_column_int64(st, 2)) < 0) {
            json_object_put(o);
            r = -ENOMEM;
        }
        if (r == 0 && json_add(item, "output", o) < 0)
            r = -ENOMEM;
        if (r == 0)
            r = json_append(outputs, item);
        else
            json_object_put(item);
        if (r < 0)
            break;
    }
    if (r == 0 && rc != SQLITE_DONE)
        r = store_errno(rc) ?: -EIO;
    sqlite3_reset(st);
    if (r < 0)
        return r;
    st = store_stmt(s, STMT_EXPORTS_OF_RUN, &r);
    if (!st)
        return r;
    sqlite3_bind_int64(st, 1, run_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct json_object *o = NULL;
        struct json_object *item = json_object_new_object();
        if (!item) {
            r = -ENOMEM;
            break;
        }
        r = store_column_json(s, st, 3, 2, &o);
        if (r == 0 &&
            (json_add_int64(item, "run_id", sqlite3_column_int64(st, 0)) < 0 ||
             json_add_string(item, "views", (const char *)sqlite3_column_text(st, 1)) < 0)) {
            json_object_put(o);
            r = -ENOMEM;
        }
        if (r == 0 && json_add(item, "export", o) < 0)
            r = -ENOMEM;
        if (r == 0)
            r = json_append(exports, item);
        else
            json_object_put(item);
        if (r < 0)
            break;
    }
    if (r == 0 && rc != SQLITE_DONE)
        r = store_errno(rc) ?: -EIO;
    sqlite3_reset(st);
    if (r < 0)
        return r;
    if (json_object_array_length(outputs) > 0 && json_add(line, "outputs", TAKE_PTR(outputs)) < 0)
        return -ENOMEM;
    if (json_object_array_length(exports) > 0 && json_add(line, "exports", TAKE_PTR(exports)) < 0)
        return -ENOMEM;
    return 0;
}

static int export_runs(struct store_export *e, struct buf *out, size_t max_bytes, int *ret_n)
{
    struct store *s = e->s;
    int r = 0;
    sqlite3_stmt *st = store_stmt(s, STMT_EXPORT_RUNS, &r);
    if (!st)
        return r;
    sqlite3_bind_int64(st, 1, e->from);
    sqlite3_bind_int64(st, 2, e->to);
    sqlite3_bind_int64(st, 3, e->started ? e->last_start : INT64_MIN);
    sqlite3_bind_int64(st, 4, e->started ? e->last_run : 0);
    sqlite3_bind_int(st, 5, EXPORT_CHUNK);
    /* Collect the chunk's keys first: run_extras() uses other statements,
     * and this one must not stay open while they run. */
    int64_t ids[EXPORT_CHUNK], starts[EXPORT_CHUNK], forgotten[EXPORT_CHUNK];
    struct json_object *runs[EXPORT_CHUNK];
    int n = 0, rc = SQLITE_DONE;
    while (n < EXPORT_CHUNK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        runs[n] = NULL;
        r = store_column_json(s, st, 4, 3, &runs[n]);
        if (r < 0)
            break;
        ids[n] = sqlite3_column_int64(st, 0);
        starts[n] = sqlite3_column_int64(st, 1);
        forgotten[n] = sqlite3_column_int64(st, 2);
        n++;
    }
    if (r == 0 && n < EXPORT_CHUNK && rc != SQLITE_DONE)
        r = store_errno(rc) ?: -EIO;
    bool done = r == 0 && n < EXPORT_CHUNK;
    sqlite3_reset(st);
    int i = 0;
    for (; r == 0 && i < n; i++) {
        _cleanup_json_ struct json_object *line = json_object_new_object();
        if (!line || json_add_string(line, "kind", "run") < 0 ||
            json_add(line, "run", TAKE_PTR(runs[i])) < 0 ||
            (forgotten[i] > 0 && json_add_int64(line, "forgotten_ms", forgotten[i]) < 0)) {
            r = -ENOMEM;
            break;
        }
        r = run_extras(s, ids[i], line);
        if (r == 0)
            r = append_line(out, line);
        if (r < 0)
            break;
        e->started = true;
        e->last_start = starts[i];
        e->last_run = ids[i];
        (*ret_n)++;
        if (out->len >= max_bytes) {
            i++;
            done = false;
            break;
        }
    }
    for (int j = i; j < n; j++)
        json_object_put(runs[j]);
    if (r == 0 && done)
        e->phase = PHASE_DONE;
    return r;
}

int store_export_next(struct store_export *e, struct buf *out, size_t max_bytes)
{
    int n = 0;
    while (n == 0 && e->phase != PHASE_DONE) {
        int r = e->phase == PHASE_JOBS ? export_jobs(e, out, max_bytes, &n)
                                       : export_runs(e, out, max_bytes, &n);
        if (r < 0)
            return r;
    }
    return n;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int store_export_to_fd(struct store *s, int64_t from_ms, int64_t to_ms, unsigned flags, int fd,
                       size_t *ret_lines)
{
    _cleanup_(store_export_freep) struct store_export *e = NULL;
    int r = store_export_new(s, from_ms, to_ms, flags, &e);
    if (r < 0)
        return r;
    struct buf out = BUF_INIT(STORE_IMPORT_LINE_MAX * 2);
    size_t lines = 0;
    for (;;) {
        buf_reset(&out);
        r = store_export_next(e, &out, 256 * KIB);
        if (r <= 0)
            break;
        lines += (size_t)r;
        r = write_all(fd, out.data, out.len);
        if (r < 0)
            break;
    }
    buf_done(&out);
    if (r < 0)
        return r;
    if (ret_lines)
        *ret_lines = lines;
    return 0;
}

/* ---- import ---- */

static int import_line(struct store *s, const char *text, size_t len)
{
    _cleanup_json_ struct json_object *line = NULL;
    struct json_error err;
    const char *kind = NULL;
    int64_t forgotten = 0;
    int r = json_parse_object(text, len, STORE_IMPORT_LINE_MAX, JSON_DEPTH_MAX, &line, &err);
    if (r < 0)
        return -EBADMSG;
    if (json_get_string(line, "kind", JSON_REQUIRED, &kind, &err) < 0 ||
        json_get_int64(line, "forgotten_ms", JSON_OPTIONAL, &forgotten, &err) < 0)
        return -EBADMSG;
    if (streq(kind, "job")) {
        struct json_object *job;
        int64_t id = 0;
        if (json_get_object(line, "job", JSON_REQUIRED, &job, &err) < 0 ||
            json_get_id(job, "job_id", JSON_REQUIRED, &id, &err) < 0)
            return -EBADMSG;
        r = store_put_job(s, job, 0);
        if (r >= 0 && forgotten > 0)
            r = store_forget_job(s, id, forgotten);
        return r < 0 ? r : 0;
    }
    if (!streq(kind, "run"))
        return 0; /* a kind from a newer jobsd: skip */
    struct json_object *run, *a;
    int64_t id = 0;
    if (json_get_object(line, "run", JSON_REQUIRED, &run, &err) < 0 ||
        json_get_id(run, "run_id", JSON_REQUIRED, &id, &err) < 0)
        return -EBADMSG;
    r = store_put_run(s, run, 0);
    if (r < 0)
        return r;
    r = json_get_array(line, "outputs", JSON_OPTIONAL, &a, &err);
    for (size_t i = 0; r > 0 && i < json_object_array_length(a); i++) {
        struct json_object *item = json_object_array_get_idx(a, i), *o;
        int64_t tid = 0;
        if (json_get_id(item, "run_id", JSON_REQUIRED, &tid, &err) < 0 ||
            json_get_object(item, "output", JSON_REQUIRED, &o, &err) < 0)
            return -EBADMSG;
        int q = store_put_output(s, tid, o);
        if (q < 0)
            return q;
    }
    if (r < 0)
        return -EBADMSG;
    r = json_get_array(line, "exports", JSON_OPTIONAL, &a, &err);
    for (size_t i = 0; r > 0 && i < json_object_array_length(a); i++) {
        struct json_object *item = json_object_array_get_idx(a, i), *o;
        int64_t rid = 0;
        const char *views = NULL;
        if (json_get_id(item, "run_id", JSON_REQUIRED, &rid, &err) < 0 ||
            json_get_string(item, "views", JSON_REQUIRED, &views, &err) < 0 ||
            json_get_object(item, "export", JSON_REQUIRED, &o, &err) < 0)
            return -EBADMSG;
        int q = store_put_export(s, rid, views, o);
        if (q < 0)
            return q;
    }
    if (r < 0)
        return -EBADMSG;
    if (forgotten > 0) {
        r = store_forget_run(s, id, forgotten);
        if (r < 0)
            return r;
    }
    return 0;
}

#define IMPORT_BATCH 256

int store_import_fd(struct store *s, int fd, size_t *ret_lines)
{
    if (store_in_batch(s))
        return -EBUSY;
    struct buf in = BUF_INIT(STORE_IMPORT_LINE_MAX + 64 * KIB);
    size_t lines = 0, in_batch = 0, start = 0;
    bool eof = false;
    int r = 0;
    while (r == 0) {
        /* one line from in[start..) */
        char *nl = in.len > start ? memchr(in.data + start, '\n', in.len - start) : NULL;
        if (!nl && !eof) {
            if (start > 0) {
                memmove(in.data, in.data + start, in.len - start);
                in.len -= start;
                in.data[in.len] = 0;
                start = 0;
            }
            char chunk[64 * 1024];
            ssize_t k = read(fd, chunk, sizeof(chunk));
            if (k < 0) {
                if (errno == EINTR)
                    continue;
                r = -errno;
                break;
            }
            if (k == 0)
                eof = true;
            else
                r = buf_append(&in, chunk, (size_t)k) == -EMSGSIZE ? -EBADMSG : 0;
            continue;
        }
        size_t end = nl ? (size_t)(nl - in.data) : in.len;
        if (end == start && !nl)
            break; /* end of input */
        if (in_batch == 0) {
            r = store_begin(s);
            if (r < 0)
                break;
        }
        if (end > start) {
            r = import_line(s, in.data + start, end - start);
            if (r < 0) {
                store_rollback(s);
                in_batch = 0;
                break;
            }
            lines++;
            in_batch++;
        }
        start = nl ? end + 1 : in.len;
        if (in_batch >= IMPORT_BATCH || (!nl && eof)) {
            r = store_commit(s);
            in_batch = 0;
        }
    }
    if (in_batch > 0) {
        int q = store_commit(s);
        r = r ?: q;
    }
    buf_done(&in);
    if (ret_lines)
        *ret_lines = lines;
    return r;
}

/* ---- retention ---- */

static int delete_run(struct store *s, int64_t run_id)
{
    static const enum store_stmt order[] = { STMT_DELETE_OUTPUTS, STMT_DELETE_EXPORTS,
                                             STMT_DELETE_RUN };
    for (size_t i = 0; i < ELEMENTSOF(order); i++) {
        int r = 0;
        sqlite3_stmt *st = store_stmt(s, order[i], &r);
        if (!st)
            return r;
        sqlite3_bind_int64(st, 1, run_id);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return store_errno(rc) ?: -EIO;
    }
    return 0;
}

/* Deletes up to max of the oldest terminal untracked runs started before
 * cutoff. Returns how many. */
static int delete_oldest(struct store *s, int64_t cutoff, size_t max)
{
    int r = 0;
    sqlite3_stmt *st = store_stmt(s, STMT_RETENTION_OLDEST, &r);
    if (!st)
        return r;
    sqlite3_bind_int(st, 1, LIFE_CYCLE_TERMINATED);
    sqlite3_bind_int(st, 2, LIFE_CYCLE_SKIPPED);
    sqlite3_bind_int(st, 3, LIFE_CYCLE_INTERNAL_ERROR);
    sqlite3_bind_int64(st, 4, cutoff);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)max);
    _cleanup_free_ int64_t *ids = calloc(max, sizeof(int64_t));
    if (!ids) {
        sqlite3_reset(st);
        return -ENOMEM;
    }
    size_t n = 0;
    int rc;
    while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    r = store_write_begin(s);
    if (r < 0)
        return r;
    for (size_t i = 0; r == 0 && i < n; i++)
        r = delete_run(s, ids[i]);
    r = store_write_end(s, r);
    return r < 0 ? r : (int)n;
}

int store_retention(struct store *s, const struct store_retention *p, size_t *ret_deleted)
{
    if (!p || p->max_age_ms < 0)
        return -EINVAL;
    size_t budget = p->max_delete ? p->max_delete : 1000, deleted = 0;
    int r = 0;
    bool more = false;
    if (p->max_age_ms > 0) {
        int64_t cutoff = store_now_ms(s) - p->max_age_ms;
        while (budget > 0) {
            r = delete_oldest(s, cutoff, MIN(budget, (size_t)256));
            if (r <= 0)
                break;
            deleted += (size_t)r;
            budget -= (size_t)r;
        }
        more = r > 0 && budget == 0;
    }
    if (r >= 0 && p->max_bytes > 0) {
        for (;;) {
            uint64_t used = 0;
            r = store_used_bytes(s, &used);
            if (r < 0 || used <= p->max_bytes)
                break;
            if (budget == 0) {
                more = true;
                break;
            }
            r = delete_oldest(s, INT64_MAX, MIN(budget, (size_t)64));
            if (r <= 0)
                break; /* only active or tracked runs left */
            deleted += (size_t)r;
            budget -= (size_t)r;
        }
    }
    if (ret_deleted)
        *ret_deleted = deleted;
    if (r < 0)
        return r;
    if (deleted > 0 && !store_in_batch(s))
        (void)store_exec(s, "PRAGMA incremental_vacuum");
    return more ? 1 : 0;
}
