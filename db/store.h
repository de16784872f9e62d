/* db/store.h: the SQLite run archive: opening (schema migration, pragmas),
 * batches (one transaction for many writes), daemon state and audit rows.
 * struct store owns the sqlite3 handle, its cached statements and the codec;
 * store_free() closes them. Every call is short and synchronous; errors are
 * -errno and db/ logs at most at debug. Runs, jobs and outputs: db/runs.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/cleanup.h"
#include "proto/macro.h"

#define STORE_SCHEMA_VERSION 1

enum store_open_flags {
    STORE_OPEN_CREATE = 1 << 0,      /* create the file, mode 0600, if missing */
    STORE_OPEN_NO_AUTODICT = 1 << 1, /* never train a zstd dictionary by itself */
};

struct store;

/* Opens (and with STORE_OPEN_CREATE creates) the archive at path and brings
 * its schema to STORE_SCHEMA_VERSION. -EPROTO when the file is from a newer
 * jobsd, -EBADMSG when it is not an archive, -EBUSY when locked too long. */
int store_open(const char *path, unsigned flags, struct store **ret);
struct store *store_free(struct store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct store *, store_free)

/* Migrates an open archive up to version `to` only (tests of old versions). */
int store_open_at_version(const char *path, int to, struct store **ret);
int store_schema_version(struct store *s);

/* Milliseconds "now" for first_seen/last_seen/audit rows. Tests set a fake
 * clock; NULL restores CLOCK_REALTIME. */
void store_set_clock(struct store *s, int64_t (*now_ms)(void *userdata), void *userdata);
int64_t store_now_ms(struct store *s);

/* A batch: every write between store_begin() and store_commit() is one
 * transaction. Outside a batch each write is its own transaction. -EBUSY
 * if a batch is already open. A failed write inside a batch poisons it:
 * store_commit() then rolls back and returns that error. */
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);
bool store_in_batch(struct store *s) _pure_;

/* Trains a zstd dictionary from the run JSON seen so far (or in the archive)
 * and uses it for new rows. Done once by itself after STORE_DICT_SAMPLES runs
 * unless STORE_OPEN_NO_AUTODICT; costs ~50-200 ms. Returns the dictionary id. */
#define STORE_DICT_SAMPLES 2000
#define STORE_DICT_SIZE (64 * 1024)
int store_train_dict(struct store *s);

/* PRAGMA integrity_check: 0 when "ok", -EUCLEAN otherwise. */
int store_check_integrity(struct store *s);
/* Bytes in use (pages minus free pages, times page size). */
int store_used_bytes(struct store *s, uint64_t *ret);
/* WAL checkpoint (TRUNCATE). For idle moments and after retention. */
int store_checkpoint(struct store *s);

/* Daemon state: named integers and text (watermarks, cursors). -ENOENT when
 * the key was never set. Keys are at most 128 bytes, text at most 64 KiB. */
int store_state_set_int(struct store *s, const char *key, int64_t value);
int store_state_get_int(struct store *s, const char *key, int64_t *ret);
int store_state_set_text(struct store *s, const char *key, const char *value);
int store_state_get_text(struct store *s, const char *key, char **ret);
int store_state_delete(struct store *s, const char *key);

/* The set of active runs the poller tracks. Tracking twice is not an error. */
#define STORE_TRACKED_MAX 100000
int store_track_run(struct store *s, int64_t run_id, int64_t job_id);
int store_untrack_run(struct store *s, int64_t run_id);
/* A new array of the tracked run ids, ascending; *ret_n of them. */
int store_tracked_runs(struct store *s, int64_t **ret_ids, size_t *ret_n);

/* One write made through the daemon. Strings are copied. */
struct store_audit {
    int64_t time_ms; /* 0: now */
    uid_t uid;       /* (uid_t)-1, (gid_t)-1, pid 0: an unidentified peer (TCP) */
    gid_t gid;
    pid_t pid;
    const char *endpoint; /* endpoint name from proto/endpoints.def */
    int64_t job_id;       /* 0: none */
    int64_t run_id;       /* 0: none */
    int http_status;
    const char *outcome; /* short text ("ok", an error_code), may be NULL */
};
int store_audit_add(struct store *s, const struct store_audit *a);
/* Calls cb for each audit row with time_ms >= since_ms, oldest first, at most
 * limit rows (strings borrowed for the call). A negative return from cb stops
 * and is returned. Returns the number of rows otherwise. */
typedef int (*store_audit_cb)(const struct store_audit *a, void *userdata);
int store_audit_list(struct store *s, int64_t since_ms, size_t limit, store_audit_cb cb,
                     void *userdata);
