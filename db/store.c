/* db/store.c: see store.h. Opening, migrations, pragmas, the statement
 * cache, transactions and dictionary training. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db/merge.h"
#include "db/store-internal.h"
#include "proto/json.h"
#include "proto/log.h"

_Static_assert(RUN_DETAIL_FINAL == 32, "STMT_RUN_REPAIR clears it by value");

/* The schema, one string per version: schema.sql makes version 1 from an
 * empty file; migrate-N.sql (none yet) would take N-1 to N. */
static const char schema_v1[] =
#include "db/schema-sql.h"
    ;

static const char *const migrations[] = {
    NULL, /* version 0: empty */
    schema_v1,
};

_Static_assert(ELEMENTSOF(migrations) - 1 == STORE_SCHEMA_VERSION,
               "STORE_SCHEMA_VERSION must name the last migration");
_Static_assert(RUN_DETAIL_TASK_RUN == 16, "schema.sql and the statements below use 16");

static const char *const stmt_sql[_STMT_MAX] = {
    [STMT_RUN_GET] = "SELECT life_cycle, result, repair_count, latest_repair_id, detail, "
                     "forgotten_ms, raw_len, dict, body FROM runs WHERE run_id = ?1",
    [STMT_RUN_META] = "SELECT " META_COLUMNS " FROM runs WHERE run_id = ?1",
    [STMT_RUN_INSERT] = "INSERT INTO runs (run_id, job_id, start_time, end_time, life_cycle, "
                        "result, run_name, trigger, run_type, repair_count, latest_repair_id, "
                        "detail, first_seen_ms, last_seen_ms, raw_len, dict, body) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, "
                        "?14, ?15, ?16) ON CONFLICT (run_id) DO NOTHING",
    [STMT_RUN_UPDATE] = "UPDATE runs SET job_id = ?2, start_time = ?3, end_time = ?4, "
                        "life_cycle = ?5, result = ?6, run_name = ?7, trigger = ?8, "
                        "run_type = ?9, repair_count = ?10, latest_repair_id = ?11, "
                        "detail = ?12, last_seen_ms = ?13, forgotten_ms = 0, raw_len = ?14, "
                        "dict = ?15, body = ?16 WHERE run_id = ?1",
    [STMT_RUN_SEEN] = "UPDATE runs SET last_seen_ms = ?2, forgotten_ms = 0 WHERE run_id = ?1",
    [STMT_RUN_FORGET] = "UPDATE runs SET forgotten_ms = ?2 WHERE run_id = ?1 AND forgotten_ms = 0",
    /* A repair: its outputs are due again (32: RUN_DETAIL_FINAL). */
    [STMT_RUN_REPAIR] = "UPDATE runs SET latest_repair_id = max(latest_repair_id, ?2), "
                        "detail = (detail | ?3) & ~32 WHERE run_id = ?1",
    [STMT_RUN_FINAL] = "UPDATE runs SET detail = detail | ?2 WHERE run_id = ?1",
    [STMT_TASK_UPSERT] = "INSERT INTO task_runs (run_id, job_run_id, task_key, life_cycle, "
                         "result, start_time, end_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                         "ON CONFLICT (run_id) DO UPDATE SET job_run_id = ?2, task_key = ?3, "
                         "life_cycle = ?4, result = ?5, start_time = ?6, end_time = ?7",
    [STMT_TASK_PARENT] = "SELECT job_run_id FROM task_runs WHERE run_id = ?1",
    [STMT_JOB_GET] = "SELECT forgotten_ms, raw_len, dict, body, first_seen_ms, last_seen_ms "
                     "FROM jobs WHERE job_id = ?1",
    [STMT_JOB_UPSERT] = "INSERT INTO jobs (job_id, name, created_time, first_seen_ms, "
                        "last_seen_ms, raw_len, dict, body) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, "
                        "?7) ON CONFLICT (job_id) DO UPDATE SET name = ?2, created_time = ?3, "
                        "last_seen_ms = ?4, forgotten_ms = 0, raw_len = ?5, dict = ?6, body = ?7",
    [STMT_JOB_FORGET] = "UPDATE jobs SET forgotten_ms = ?2 WHERE job_id = ?1 AND forgotten_ms = 0",
    [STMT_OUTPUT_GET_LC] = "SELECT life_cycle FROM outputs WHERE run_id = ?1",
    [STMT_OUTPUT_UPSERT] = "INSERT INTO outputs (run_id, job_run_id, life_cycle, fetched_ms, "
                           "raw_len, dict, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                           "ON CONFLICT (run_id) DO UPDATE SET job_run_id = "
                           "coalesce(?2, job_run_id), life_cycle = ?3, fetched_ms = ?4, "
                           "raw_len = ?5, dict = ?6, body = ?7",
    [STMT_OUTPUT_GET] = "SELECT dict, body FROM outputs WHERE run_id = ?1",
    [STMT_OUTPUTS_OF_RUN] = "SELECT dict, body, run_id FROM outputs WHERE job_run_id = ?1 "
                            "ORDER BY run_id",
    [STMT_EXPORT_UPSERT] = "INSERT INTO exports (run_id, job_run_id, views, fetched_ms, raw_len, "
                           "dict, body) VALUES (?1, (SELECT job_run_id FROM task_runs WHERE "
                           "run_id = ?1), ?3, ?4, ?5, ?6, ?7) "
                           "ON CONFLICT (run_id, views) DO UPDATE SET job_run_id = "
                           "coalesce(excluded.job_run_id, job_run_id), fetched_ms = ?4, "
                           "raw_len = ?5, dict = ?6, body = ?7",
    [STMT_EXPORT_GET] = "SELECT dict, body FROM exports WHERE run_id = ?1 AND views = ?2",
    [STMT_EXPORTS_OF_RUN] = "SELECT run_id, views, dict, body FROM exports "
                            "WHERE job_run_id = ?1 OR run_id = ?1 ORDER BY run_id, views",
    [STMT_COUNTS] = "SELECT life_cycle, result, n FROM run_counts WHERE n > 0",
    [STMT_COUNTS_OF_JOB] = "SELECT life_cycle, result, count(*) FROM runs WHERE job_id = ?1 "
                           "AND (detail & 16) = 0 GROUP BY life_cycle, result",
    [STMT_STATE_SET] = "INSERT INTO state (key, value) VALUES (?1, ?2) "
                       "ON CONFLICT (key) DO UPDATE SET value = ?2",
    [STMT_STATE_GET] = "SELECT value FROM state WHERE key = ?1",
    [STMT_STATE_DELETE] = "DELETE FROM state WHERE key = ?1",
    [STMT_TRACK] = "INSERT INTO tracked (run_id, job_id, since_ms) VALUES (?1, ?2, ?3) "
                   "ON CONFLICT (run_id) DO NOTHING",
    [STMT_UNTRACK] = "DELETE FROM tracked WHERE run_id = ?1",
    [STMT_TRACKED] = "SELECT run_id FROM tracked ORDER BY run_id",
    [STMT_AUDIT_ADD] = "INSERT INTO audit (time_ms, uid, gid, pid, endpoint, job_id, run_id, "
                       "http_status, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [STMT_AUDIT_LIST] = "SELECT time_ms, uid, gid, pid, endpoint, job_id, run_id, http_status, "
                        "outcome FROM audit WHERE time_ms >= ?1 ORDER BY time_ms, id LIMIT ?2",
    [STMT_DICT_GET] = "SELECT data FROM dicts WHERE id = ?1",
    [STMT_EXPORT_JOBS] = "SELECT job_id, forgotten_ms, dict, body FROM jobs WHERE job_id > ?1 "
                         "ORDER BY job_id LIMIT ?2",
    [STMT_EXPORT_RUNS] = "SELECT run_id, start_time, forgotten_ms, dict, body FROM runs "
                         "WHERE start_time BETWEEN ?1 AND ?2 AND start_time >= ?3 AND "
                         "(start_time > ?3 OR run_id > ?4) ORDER BY start_time, run_id LIMIT ?5",
    /* +life_cycle: walk runs_by_start in order rather than sort */
    [STMT_RETENTION_OLDEST] = "SELECT run_id, start_time FROM runs WHERE +life_cycle IN "
                              "(?1, ?2, ?3) AND start_time < ?4 AND run_id NOT IN "
                              "(SELECT run_id FROM tracked) ORDER BY start_time, run_id LIMIT ?5",
    [STMT_DELETE_RUN] = "DELETE FROM runs WHERE run_id = ?1",
    [STMT_DELETE_OUTPUTS] = "DELETE FROM outputs WHERE job_run_id = ?1 OR run_id = ?1",
    [STMT_DELETE_EXPORTS] = "DELETE FROM exports WHERE job_run_id = ?1 OR run_id = ?1",
};

int store_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return -EBADMSG;
    case SQLITE_CONSTRAINT:
        return -EEXIST;
    case SQLITE_TOOBIG:
        return -EMSGSIZE;
    case SQLITE_INTERRUPT:
        return -EINTR;
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
    case SQLITE_MISUSE:
        return -EINVAL;
    default:
        return -EIO;
    }
}

static int64_t clock_realtime_ms(void *userdata)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void store_set_clock(struct store *s, int64_t (*now_ms)(void *userdata), void *userdata)
{
    s->now_ms = now_ms ? now_ms : clock_realtime_ms;
    s->now_userdata = userdata;
}

int64_t store_now_ms(struct store *s)
{
    return s->now_ms(s->now_userdata);
}

struct store *store_free(struct store *s)
{
    if (!s)
        return NULL;
    if (s->in_batch)
        store_rollback(s);
    for (size_t i = 0; i < _STMT_MAX; i++)
        sqlite3_finalize(s->stmts[i]);
    for (size_t i = 0; i < STORE_LIST_SHAPES; i++)
        sqlite3_finalize(s->list_stmts[i]);
    if (s->db && s->codec) /* opened fully: refresh the planner's statistics, cheaply */
        (void)sqlite3_exec(s->db, "PRAGMA analysis_limit = 400; PRAGMA optimize", NULL, NULL, NULL);
    sqlite3_close_v2(s->db);
    codec_free(s->codec);
    buf_done(&s->samples);
    free(s->sample_sizes);
    free(s);
    return NULL;
}

sqlite3_stmt *store_prepare_cached(struct store *s, sqlite3_stmt **slot, const char *sql,
                                   int *ret_error)
{
    if (!*slot) {
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        if (rc != SQLITE_OK) {
            log_debug("db: cannot prepare \"%s\": %s", sql, sqlite3_errmsg(s->db));
            *ret_error = store_errno(rc);
            return NULL;
        }
    } else {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
    }
    return *slot;
}

sqlite3_stmt *store_stmt(struct store *s, enum store_stmt id, int *ret_error)
{
    return store_prepare_cached(s, &s->stmts[id], stmt_sql[id], ret_error);
}

int store_exec(struct store *s, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        log_debug("db: \"%.60s...\" failed: %s", sql, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return store_errno(rc) ?: -EIO;
    }
    return 0;
}

static int store_maybe_train(struct store *s);

int store_begin(struct store *s)
{
    if (s->in_batch)
        return -EBUSY;
    int r = store_exec(s, "BEGIN IMMEDIATE");
    if (r < 0)
        return r;
    s->in_batch = true;
    s->batch_error = 0;
    return 0;
}

void store_rollback(struct store *s)
{
    if (!s->in_batch)
        return;
    (void)store_exec(s, "ROLLBACK");
    s->in_batch = false;
    s->batch_error = 0;
}

int store_commit(struct store *s)
{
    if (!s->in_batch)
        return -EINVAL;
    if (s->batch_error < 0) {
        int r = s->batch_error;
        store_rollback(s);
        return r;
    }
    int r = store_exec(s, "COMMIT");
    if (r < 0) {
        store_rollback(s);
        return r;
    }
    s->in_batch = false;
    (void)store_maybe_train(s);
    return 0;
}

bool store_in_batch(struct store *s)
{
    return s->in_batch;
}

int store_write_begin(struct store *s)
{
    if (s->in_batch)
        return s->batch_error;
    return store_exec(s, "BEGIN IMMEDIATE");
}

int store_write_end(struct store *s, int r)
{
    if (s->in_batch) {
        if (r < 0 && r != -EINVAL && r != -EBADMSG && s->batch_error == 0)
            s->batch_error = r; /* bad input changes nothing; SQLite errors do */
        return r;
    }
    if (r < 0) {
        (void)store_exec(s, "ROLLBACK");
        return r;
    }
    int q = store_exec(s, "COMMIT");
    if (q < 0) {
        (void)store_exec(s, "ROLLBACK");
        return q;
    }
    (void)store_maybe_train(s);
    return r;
}

int store_bind_body(struct store *s, sqlite3_stmt *st, int i_body, int i_dict, int i_raw_len,
                    const char *text, size_t len)
{
    const void *data;
    size_t n;
    int64_t dict;
    int r = codec_compress(s->codec, text, len, &data, &n, &dict);
    if (r < 0)
        return r;
    if (sqlite3_bind_blob64(st, i_body, data, n, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, i_dict, dict) != SQLITE_OK ||
        (i_raw_len > 0 && sqlite3_bind_int64(st, i_raw_len, (sqlite3_int64)len) != SQLITE_OK))
        return -ENOMEM;
    return 0;
}

static int store_load_dict(struct store *s, int64_t id)
{
    int r = 0;
    sqlite3_stmt *st = store_stmt(s, STMT_DICT_GET, &r);
    if (!st)
        return r;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? -ENOKEY : store_errno(rc);
    }
    r = codec_add_dict(s->codec, id, sqlite3_column_blob(st, 0),
                       (size_t)sqlite3_column_bytes(st, 0));
    sqlite3_reset(st);
    return r == -EEXIST ? 0 : r;
}

int store_column_body(struct store *s, sqlite3_stmt *st, int i_body, int i_dict, char **ret,
                      size_t *ret_len)
{
    int64_t dict = sqlite3_column_int64(st, i_dict);
    const void *p = sqlite3_column_blob(st, i_body);
    size_t n = (size_t)sqlite3_column_bytes(st, i_body);
    int r = codec_decompress(s->codec, dict, p, n, ret, ret_len);
    if (r == -ENOKEY) {
        /* written by another process since we opened: load it */
        r = store_load_dict(s, dict);
        if (r < 0)
            return r;
        p = sqlite3_column_blob(st, i_body);
        n = (size_t)sqlite3_column_bytes(st, i_body);
        r = codec_decompress(s->codec, dict, p, n, ret, ret_len);
    }
    return r;
}

int store_column_json(struct store *s, sqlite3_stmt *st, int i_body, int i_dict,
                      struct json_object **ret)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    struct json_error err;
    int r = store_column_body(s, st, i_body, i_dict, &text, &len);
    if (r < 0)
        return r;
    return json_parse_object(text, len, CODEC_TEXT_MAX, JSON_DEPTH_MAX, ret, &err);
}

/* ---- dictionaries ---- */

void store_sample(struct store *s, const char *text, size_t len)
{
    if (!s->dict_wanted || s->n_samples >= STORE_DICT_SAMPLES || len > 64 * KIB)
        return;
    if (!s->sample_sizes) {
        s->sample_sizes = calloc(STORE_DICT_SAMPLES, sizeof(size_t));
        if (!s->sample_sizes)
            return;
    }
    if (buf_append(&s->samples, text, len) < 0)
        return;
    s->sample_sizes[s->n_samples++] = len;
}

static int store_train_from(struct store *s, const void *samples, const size_t *sizes, size_t n)
{
    _cleanup_free_ void *dict = NULL;
    size_t len = 0;
    int r = codec_train(samples, sizes, n, STORE_DICT_SIZE, &dict, &len);
    if (r < 0)
        return r;
    r = store_exec(s, "BEGIN IMMEDIATE");
    if (r < 0)
        return r;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db, "INSERT INTO dicts (kind, created_ms, data) VALUES ('run', ?1, ?2)", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, store_now_ms(s));
        sqlite3_bind_blob64(st, 2, dict, len, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_DONE) {
        (void)store_exec(s, "ROLLBACK");
        return store_errno(rc) ?: -EIO;
    }
    int64_t id = sqlite3_last_insert_rowid(s->db);
    r = store_exec(s, "COMMIT");
    if (r < 0) {
        (void)store_exec(s, "ROLLBACK");
        return r;
    }
    r = codec_add_dict(s->codec, id, dict, len);
    if (r < 0)
        return r;
    r = codec_use_dict(s->codec, id);
    if (r < 0)
        return r;
    log_debug("db: trained dictionary %" PRIi64 " of %zu bytes from %zu runs", id, len, n);
    return (int)MIN(id, (int64_t)INT32_MAX);
}

static void store_drop_samples(struct store *s)
{
    buf_done(&s->samples);
    s->samples = BUF_INIT(8 * MIB);
    free(s->sample_sizes);
    s->sample_sizes = NULL;
    s->n_samples = 0;
}

int store_train_dict(struct store *s)
{
    if (s->in_batch)
        return -EBUSY;
    if (s->n_samples >= 8) {
        int r = store_train_from(s, s->samples.data, s->sample_sizes, s->n_samples);
        store_drop_samples(s);
        s->dict_wanted = false;
        return r;
    }
    /* Not enough seen since opening: sample the newest runs of the archive. */
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT dict, body FROM runs ORDER BY run_id DESC LIMIT ?1",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_errno(rc);
    sqlite3_bind_int(st, 1, STORE_DICT_SAMPLES);
    struct buf samples = BUF_INIT(8 * MIB);
    _cleanup_free_ size_t *sizes = calloc(STORE_DICT_SAMPLES, sizeof(size_t));
    size_t n = 0;
    int r = sizes ? 0 : -ENOMEM;
    while (r == 0 && n < STORE_DICT_SAMPLES && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        r = store_column_body(s, st, 1, 0, &text, &len);
        if (r < 0)
            break;
        if (buf_append(&samples, text, len) < 0)
            break;
        sizes[n++] = len;
    }
    sqlite3_finalize(st);
    if (r == 0)
        r = n >= 8 ? store_train_from(s, samples.data, sizes, n) : -ENODATA;
    buf_done(&samples);
    if (r >= 0)
        s->dict_wanted = false;
    return r;
}

static int store_maybe_train(struct store *s)
{
    if (!s->dict_wanted || s->n_samples < STORE_DICT_SAMPLES)
        return 0;
    int r = store_train_dict(s);
    if (r < 0)
        log_debug_errno(r, "db: cannot train a dictionary: %m, ignoring");
    return r;
}

static int store_load_dicts(struct store *s)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT id, data FROM dicts WHERE kind = 'run' ORDER BY id",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_errno(rc);
    int64_t last = 0;
    int r = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        r = codec_add_dict(s->codec, id, sqlite3_column_blob(st, 1),
                           (size_t)sqlite3_column_bytes(st, 1));
        if (r == -E2BIG)
            break; /* rows of older dictionaries load them on demand */
        if (r < 0)
            break;
        last = id;
    }
    sqlite3_finalize(st);
    if (r < 0 && r != -E2BIG)
        return r;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_errno(rc);
    if (last > 0) {
        s->dict_wanted = false;
        return codec_use_dict(s->codec, last);
    }
    return 0;
}

/* ---- opening and migrations ---- */

static int store_get_int(struct store *s, const char *sql, int64_t *ret)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_errno(rc);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *ret = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : (store_errno(rc) ?: -ENODATA);
}

int store_schema_version(struct store *s)
{
    int64_t v = 0;
    int r = store_get_int(s, "PRAGMA user_version", &v);
    return r < 0 ? r : (int)v;
}

static int store_migrate(struct store *s, int to)
{
    int64_t version = 0, objects = 0;
    int r = store_get_int(s, "PRAGMA user_version", &version);
    if (r < 0)
        return r;
    if (version > (int64_t)ELEMENTSOF(migrations) - 1)
        return -EPROTO;
    if (version >= to)
        return 0;
    r = store_exec(s, "BEGIN IMMEDIATE");
    if (r < 0)
        return r;
    if (version == 0) {
        r = store_get_int(s, "SELECT count(*) FROM sqlite_master", &objects);
        if (r == 0 && objects > 0)
            r = -EBADMSG; /* tables but no version: not ours */
    }
    for (int v = (int)version + 1; r == 0 && v <= to; v++) {
        char pragma[64];
        r = store_exec(s, migrations[v]);
        if (r < 0)
            break;
        (void)snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v);
        r = store_exec(s, pragma);
    }
    if (r < 0) {
        (void)store_exec(s, "ROLLBACK");
        return r;
    }
    r = store_exec(s, "COMMIT");
    if (r < 0)
        (void)store_exec(s, "ROLLBACK");
    return r;
}

/* WAL, or -EOPNOTSUPP where SQLite cannot use it (no shared memory). */
static int store_set_wal(struct store *s)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_errno(rc) ?: -EIO;
    rc = sqlite3_step(st);
    const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    int r = mode && streq(mode, "wal") ? 0 : rc == SQLITE_ROW ? -EOPNOTSUPP : store_errno(rc);
    sqlite3_finalize(st);
    return r;
}

static int store_open_internal(const char *path, unsigned flags, int to, struct store **ret)
{
    if (isempty(path))
        return -EINVAL;
    _cleanup_(store_freep) struct store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->flags = flags;
    s->now_ms = clock_realtime_ms;
    s->samples = BUF_INIT(8 * MIB);
    s->dict_wanted = !(flags & STORE_OPEN_NO_AUTODICT);

    if (flags & STORE_OPEN_CREATE) {
        /* SQLite would create the file by the umask; the archive holds
         * run outputs, so make it 0600 first. -wal and -shm copy its mode. */
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return -errno;
        safe_close(fd);
    }
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return store_errno(rc) ?: -EIO;
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 2000);

    /* Takes only on a new file (before WAL and tables): lets retention give
     * space back with incremental_vacuum. */
    int r = store_exec(s, "PRAGMA auto_vacuum = INCREMENTAL");
    if (r < 0)
        return r;
    r = store_set_wal(s);
    if (r < 0)
        return r;
    r = store_exec(s, "PRAGMA synchronous = NORMAL");
    if (r < 0)
        return r;
    r = store_exec(s, "PRAGMA foreign_keys = ON;"
                      "PRAGMA cache_size = -32768;"
                      "PRAGMA temp_store = MEMORY;"
                      "PRAGMA journal_size_limit = 67108864;"
                      "PRAGMA wal_autocheckpoint = 8192");
    if (r < 0)
        return r;
    r = store_migrate(s, to);
    if (r < 0)
        return r;
    r = codec_new(1, &s->codec);
    if (r < 0)
        return r;
    if (to >= 1) {
        r = store_load_dicts(s);
        if (r < 0)
            return r;
    }
    *ret = TAKE_PTR(s);
    return 0;
}

int store_open(const char *path, unsigned flags, struct store **ret)
{
    return store_open_internal(path, flags, (int)ELEMENTSOF(migrations) - 1, ret);
}

int store_open_at_version(const char *path, int to, struct store **ret)
{
    if (to < 0 || to > (int)ELEMENTSOF(migrations) - 1)
        return -EINVAL;
    return store_open_internal(path, STORE_OPEN_CREATE | STORE_OPEN_NO_AUTODICT, to, ret);
}

int store_check_integrity(struct store *s)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_errno(rc);
    int r = -EUCLEAN;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (t && streq(t, "ok"))
            r = 0;
        else
            log_debug("db: integrity_check: %s", t ? t : "(null)");
    }
    sqlite3_finalize(st);
    return r;
}

int store_used_bytes(struct store *s, uint64_t *ret)
{
    int64_t pages = 0, free_pages = 0, page_size = 0;
    int r = store_get_int(s, "PRAGMA page_count", &pages);
    if (r == 0)
        r = store_get_int(s, "PRAGMA freelist_count", &free_pages);
    if (r == 0)
        r = store_get_int(s, "PRAGMA page_size", &page_size);
    if (r < 0)
        return r;
    *ret = (uint64_t)(pages - free_pages) * (uint64_t)page_size;
    return 0;
}

int store_checkpoint(struct store *s)
{
    if (s->in_batch)
        return -EBUSY;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    return store_errno(rc);
}
