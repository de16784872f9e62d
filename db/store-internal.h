/* db/store-internal.h: what the db/ modules share and nobody else sees: the
 * layout of struct store, its cached statements and the write helpers.
 * Statements belong to the store (finalized by store_free()). */
#pragma once

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "db/codec.h"
#include "db/store.h"
#include "proto/strutil.h"

enum store_stmt {
    STMT_RUN_GET,
    STMT_RUN_META,
    STMT_RUN_INSERT,
    STMT_RUN_UPDATE,
    STMT_RUN_SEEN,
    STMT_RUN_FORGET,
    STMT_RUN_REPAIR,
    STMT_RUN_FINAL,
    STMT_TASK_UPSERT,
    STMT_TASK_PARENT,
    STMT_JOB_GET,
    STMT_JOB_UPSERT,
    STMT_JOB_FORGET,
    STMT_OUTPUT_GET_LC,
    STMT_OUTPUT_UPSERT,
    STMT_OUTPUT_GET,
    STMT_OUTPUTS_OF_RUN,
    STMT_EXPORT_UPSERT,
    STMT_EXPORT_GET,
    STMT_EXPORTS_OF_RUN,
    STMT_COUNTS,
    STMT_COUNTS_OF_JOB,
    STMT_STATE_SET,
    STMT_STATE_GET,
    STMT_STATE_DELETE,
    STMT_TRACK,
    STMT_UNTRACK,
    STMT_TRACKED,
    STMT_AUDIT_ADD,
    STMT_AUDIT_LIST,
    STMT_DICT_GET,
    STMT_EXPORT_JOBS,
    STMT_EXPORT_RUNS,
    STMT_RETENTION_OLDEST,
    STMT_DELETE_RUN,
    STMT_DELETE_OUTPUTS,
    STMT_DELETE_EXPORTS,
    _STMT_MAX,
};

/* The columns of struct store_run_meta, then dict and body (15, 16). */
#define META_COLUMNS                                                                               \
    "run_id, job_id, start_time, end_time, life_cycle, result, run_name, trigger, run_type, "      \
    "repair_count, detail, first_seen_ms, last_seen_ms, forgotten_ms, raw_len, dict, body"

/* Listing statements are built per filter combination. */
#define STORE_LIST_SHAPES 512

struct store {
    sqlite3 *db;
    unsigned flags;
    sqlite3_stmt *stmts[_STMT_MAX];
    sqlite3_stmt *list_stmts[STORE_LIST_SHAPES];
    struct codec *codec;
    int64_t (*now_ms)(void *userdata);
    void *now_userdata;
    bool in_batch;
    int batch_error;
    /* run JSON kept for training a dictionary, until one exists */
    struct buf samples;
    size_t *sample_sizes;
    size_t n_samples;
    bool dict_wanted;
};

/* The cached statement, reset and with bindings cleared; NULL on failure
 * (sets *ret_error). */
sqlite3_stmt *store_stmt(struct store *s, enum store_stmt id, int *ret_error);
sqlite3_stmt *store_prepare_cached(struct store *s, sqlite3_stmt **slot, const char *sql,
                                   int *ret_error);

/* SQLite result code to -errno. */
int store_errno(int rc);

/* A write: opens a transaction unless a batch is open. store_write_end()
 * commits (or rolls back when r < 0) and returns r, or the commit's error.
 * Inside a batch, a failure poisons the batch. */
int store_write_begin(struct store *s);
int store_write_end(struct store *s, int r);

/* Runs sql (no results) once. */
int store_exec(struct store *s, const char *sql);

/* Compresses text and binds it (and its dict id and length) to the three
 * given parameter positions. The bound blob stays valid until the next
 * compression, so step the statement before compressing again. */
int store_bind_body(struct store *s, sqlite3_stmt *st, int i_body, int i_dict, int i_raw_len,
                    const char *text, size_t len);
/* Reads column i_body with its dict column into a new NUL-terminated text. */
int store_column_body(struct store *s, sqlite3_stmt *st, int i_body, int i_dict, char **ret,
                      size_t *ret_len);
/* The same, parsed as a JSON object. */
int store_column_json(struct store *s, sqlite3_stmt *st, int i_body, int i_dict,
                      struct json_object **ret);

/* Offers a run's JSON as a dictionary training sample. */
void store_sample(struct store *s, const char *text, size_t len);
