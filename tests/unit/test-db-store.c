/* tests/unit/test-db-store.c: opening, pragmas, migrations from every older
 * version, batches, daemon state and audit rows. */
#include <errno.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "db/runs.h"
#include "db/store.h"
#include "tests/unit/db-testutil.h"

static int64_t pragma_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static int exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static int64_t fake_now = 1700000000000;
static int64_t fake_clock(void *userdata)
{
    return fake_now;
}

struct audit_seen {
    int n;
    char endpoint[64];
    int64_t run_id;
    int status;
    uid_t uid;
};

static int audit_cb(const struct store_audit *a, void *userdata)
{
    struct audit_seen *seen = userdata;
    seen->n++;
    (void)snprintf(seen->endpoint, sizeof(seen->endpoint), "%s", a->endpoint);
    seen->run_id = a->run_id;
    seen->status = a->http_status;
    seen->uid = a->uid;
    return 0;
}

/* Data that every version since 1 can hold, checked after migrating. */
static void fill_v1(struct store *s)
{
    _cleanup_json_ struct json_object *run =
        J("{\"run_id\":11,\"job_id\":2,\"start_time\":5,\"state\":{\"life_cycle_state\":"
          "\"TERMINATED\",\"result_state\":\"SUCCESS\"},\"tasks\":[{\"run_id\":12,"
          "\"task_key\":\"t\"}]}");
    store_put_run(s, run, 0);
    store_state_set_int(s, "watermark", 99);
    store_track_run(s, 11, 2);
}

int main(void)
{
    test_dir_make();
    struct store *s = NULL;

    /* create: mode 0600, pragmas */
    const char *path = test_path("a.db");
    umask(022);
    is_int(store_open(path, 0, &s), -ENOENT, "no file without STORE_OPEN_CREATE");
    is_int(store_open(path, STORE_OPEN_CREATE, &s), 0, "create");
    struct stat st;
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "file mode %o is 0600",
       (unsigned)(st.st_mode & 0777));
    is_int(store_schema_version(s), STORE_SCHEMA_VERSION, "user_version");
    is_int(store_check_integrity(s), 0, "integrity_check");
    fill_v1(s);
    struct stat wst;
    ok(stat(test_path("a.db-wal"), &wst) == 0 && (wst.st_mode & 0777) == 0600,
       "WAL file mode is 0600");
    store_free(s);
    is_int(pragma_int(path, "PRAGMA journal_mode") >= 0, 1, "journal_mode readable");
    {
        sqlite3 *db = NULL;
        sqlite3_stmt *q = NULL;
        sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
        sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL);
        sqlite3_step(q);
        is_str((const char *)sqlite3_column_text(q, 0), "wal", "journal_mode is WAL");
        sqlite3_finalize(q);
        sqlite3_close(db);
    }
    is_int(pragma_int(path, "PRAGMA auto_vacuum"), 2, "auto_vacuum is INCREMENTAL");

    /* the per-connection pragmas, seen through a store's own handle */
    is_int(store_open(path, 0, &s), 0, "reopen");
    _cleanup_json_ struct json_object *again = NULL;
    is_int(store_get_run(s, 11, &again, NULL), 0, "data survives reopening");
    store_free(s);

    /* migrations: from every older version to the newest */
    for (int v = 0; v < STORE_SCHEMA_VERSION; v++) {
        char name[32];
        (void)snprintf(name, sizeof(name), "m%d.db", v);
        const char *p = test_path(name);
        is_int(store_open_at_version(p, v, &s), 0, "create at version %d", v);
        is_int(store_schema_version(s), v, "version %d", v);
        if (v >= 1)
            fill_v1(s);
        store_free(s);
        is_int(store_open(p, 0, &s), 0, "migrate %d -> %d", v, STORE_SCHEMA_VERSION);
        is_int(store_schema_version(s), STORE_SCHEMA_VERSION, "at the newest version");
        is_int(store_check_integrity(s), 0, "integrity after migrating from %d", v);
        if (v >= 1) {
            int64_t w = 0;
            is_int(store_state_get_int(s, "watermark", &w), 0, "state kept from %d", v);
            is_int(w, 99, "watermark kept");
        }
        fill_v1(s);
        _cleanup_json_ struct json_object *r = NULL;
        is_int(store_get_run(s, 11, &r, NULL), 0, "usable after migrating from %d", v);
        store_free(s);
    }

    /* refusals */
    const char *newer = test_path("newer.db");
    is_int(store_open(newer, STORE_OPEN_CREATE, &s), 0, "create newer.db");
    store_free(s);
    exec_sql(newer, "PRAGMA user_version = 999");
    is_int(store_open(newer, 0, &s), -EPROTO, "a newer schema is -EPROTO");
    const char *alien = test_path("alien.db");
    exec_sql(alien, "CREATE TABLE t (x)");
    is_int(store_open(alien, 0, &s), -EBADMSG, "someone else's database is -EBADMSG");
    const char *junk = test_path("junk.db");
    int fd = open(junk, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ok(write(fd, "this is not sqlite at all, not at all, no.......................................",
             80) == 80,
       "junk written");
    close(fd);
    ok(store_open(junk, 0, &s) < 0, "a junk file is refused");
    is_int(store_open("", STORE_OPEN_CREATE, &s), -EINVAL, "empty path");

    /* state, tracked runs, audit */
    is_int(store_open(test_path("b.db"), STORE_OPEN_CREATE, &s), 0, "create b.db");
    store_set_clock(s, fake_clock, NULL);
    int64_t iv = 0;
    _cleanup_free_ char *text = NULL;
    is_int(store_state_get_int(s, "nope", &iv), -ENOENT, "unset key is -ENOENT");
    is_int(store_state_set_int(s, "runs_list_watermark_ms", 1234567890123), 0, "set int");
    is_int(store_state_get_int(s, "runs_list_watermark_ms", &iv), 0, "get int");
    is_int(iv, 1234567890123, "int value");
    is_int(store_state_set_int(s, "runs_list_watermark_ms", 5), 0, "overwrite");
    store_state_get_int(s, "runs_list_watermark_ms", &iv);
    is_int(iv, 5, "overwritten value");
    is_int(store_state_set_text(s, "cursor", "abc"), 0, "set text");
    is_int(store_state_get_text(s, "cursor", &text), 0, "get text");
    is_str(text, "abc", "text value");
    is_int(store_state_get_int(s, "cursor", &iv), -EMEDIUMTYPE, "text read as int");
    is_int(store_state_delete(s, "cursor"), 0, "delete");
    is_int(store_state_get_int(s, "cursor", &iv), -ENOENT, "deleted");
    is_int(store_state_set_int(s, "", 1), -EINVAL, "empty key");

    is_int(store_track_run(s, 30, 3), 0, "track 30");
    is_int(store_track_run(s, 10, 1), 0, "track 10");
    is_int(store_track_run(s, 30, 3), 0, "track 30 again");
    is_int(store_track_run(s, 0, 3), -EINVAL, "track run 0");
    _cleanup_free_ int64_t *ids = NULL;
    size_t n = 0;
    is_int(store_tracked_runs(s, &ids, &n), 0, "tracked list");
    is_int(n, 2, "two tracked");
    ok(n == 2 && ids[0] == 10 && ids[1] == 30, "ascending ids");
    is_int(store_untrack_run(s, 10), 0, "untrack 10");

    struct store_audit a = {
        .uid = 1000,
        .gid = 100,
        .pid = 4242,
        .endpoint = "run_now",
        .job_id = 3,
        .run_id = 9007199254740993LL,
        .http_status = 200,
        .outcome = "ok",
    };
    is_int(store_audit_add(s, &a), 0, "audit row");
    a.endpoint = NULL;
    is_int(store_audit_add(s, &a), -EINVAL, "audit without endpoint");
    struct audit_seen seen = { 0 };
    is_int(store_audit_list(s, 0, 10, audit_cb, &seen), 1, "one audit row");
    is_str(seen.endpoint, "run_now", "audit endpoint");
    is_int(seen.run_id, 9007199254740993LL, "audit run id exact");
    is_int(seen.uid, 1000, "audit uid");
    is_int(store_audit_list(s, fake_now + 1, 10, audit_cb, &seen), 0, "none after now");

    /* batches */
    is_int(store_begin(s), 0, "begin");
    is_int(store_begin(s), -EBUSY, "nested begin is -EBUSY");
    store_state_set_int(s, "in_batch", 1);
    store_rollback(s);
    is_int(store_state_get_int(s, "in_batch", &iv), -ENOENT, "rollback drops the batch");
    is_int(store_begin(s), 0, "begin");
    store_state_set_int(s, "in_batch", 2);
    _cleanup_json_ struct json_object *bad = J("{\"no_run_id\":1}");
    is_int(store_put_run(s, bad, 0), -EINVAL, "bad run in a batch");
    is_int(store_commit(s), 0, "bad input does not poison the batch");
    is_int(store_state_get_int(s, "in_batch", &iv), 0, "committed");
    is_int(store_commit(s), -EINVAL, "commit without a batch");
    uint64_t used = 0;
    is_int(store_used_bytes(s, &used), 0, "used bytes");
    ok(used > 0, "%" PRIu64 " bytes used", used);
    is_int(store_checkpoint(s), 0, "checkpoint");
    store_free(s);

    /* a second process (connection) sees committed state: restart resumes */
    is_int(store_open(test_path("b.db"), 0, &s), 0, "reopen b.db");
    store_state_get_int(s, "runs_list_watermark_ms", &iv);
    is_int(iv, 5, "watermark after restart");
    free(ids);
    ids = NULL;
    store_tracked_runs(s, &ids, &n);
    ok(n == 1 && ids[0] == 30, "tracked set after restart");
    store_free(s);
    return tap_done();
}
