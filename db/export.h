/* db/export.h: JSON Lines export and import of the archive (backup and
 * restore, merging by the rules of db/merge.h) and retention. One object per
 * line:
 *   {"kind":"job","job":{...},"forgotten_ms":N}
 *   {"kind":"run","run":{...},"outputs":[{"run_id":N,"output":{...}}],
 *    "exports":[{"run_id":N,"views":"CODE","export":{...}}],"forgotten_ms":N}
 * "forgotten_ms" only when set. struct store_export is an iterator owned by
 * the caller (store_export_free()); it holds no transaction between calls. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "db/store.h"
#include "proto/cleanup.h"
#include "proto/strutil.h"

/* Longest line import accepts. */
#define STORE_IMPORT_LINE_MAX (64 * MIB)

enum store_export_flags {
    STORE_EXPORT_NO_JOBS = 1 << 0, /* runs only */
};

struct store_export;

/* Runs whose start_time is in [from_ms, to_ms] (0: unbounded), oldest first,
 * after every job (unless STORE_EXPORT_NO_JOBS). */
int store_export_new(struct store *s, int64_t from_ms, int64_t to_ms, unsigned flags,
                     struct store_export **ret);
struct store_export *store_export_free(struct store_export *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct store_export *, store_export_free)
/* Appends the next lines to out, about max_bytes of them but at least one
 * (each ends with '\n'). Returns the number of lines, 0 at the end. */
int store_export_next(struct store_export *e, struct buf *out, size_t max_bytes);

/* The whole window to fd; *ret_lines (may be NULL) counts the lines. */
int store_export_to_fd(struct store *s, int64_t from_ms, int64_t to_ms, unsigned flags, int fd,
                       size_t *ret_lines);
/* Reads JSON Lines from fd and merges every line in, 256 lines per
 * transaction. -EBADMSG (and *ret_lines lines done) on a bad line. */
int store_import_fd(struct store *s, int fd, size_t *ret_lines);

/* Retention. Zero keeps forever / without limit. Never deletes a run that is
 * not terminal or that the poller tracks. */
struct store_retention {
    int64_t max_age_ms; /* by start_time, against now */
    uint64_t max_bytes; /* store_used_bytes() */
    size_t max_delete;  /* bound on runs deleted by one call; 0: 1000 */
};
/* Deletes the oldest runs (with their task runs, outputs and exports) that
 * break a limit. *ret_deleted (may be NULL) counts them. Returns 1 when the
 * bound stopped it before the limits were met, 0 when done. */
int store_retention(struct store *s, const struct store_retention *p, size_t *ret_deleted);
