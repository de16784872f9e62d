/* daemon/archiver.h: the proxy's side of the archive. What passes through
 * (jobs, runs, list pages, task outputs, export views) is written to the
 * archive; what the workspace forgot (a run or output it says does not
 * exist) or cannot give (no answer, 5xx, 429) is answered from the archive
 * in the exact upstream shape, marked archive. Owns nothing: the store is
 * the manager's. */
#pragma once

#include <stdbool.h>

#include "daemon/request.h"
#include "daemon/upstream.h"
#include "db/store.h"

struct archiver;

int archiver_new(struct store *s, struct archiver **ret);
struct archiver *archiver_free(struct archiver *a);

/* What an answer is about: a proxied request, or a background refresh of
 * a cached read (which has no request). */
struct archive_subject {
    const struct endpoint *endpoint;
    int64_t job_id;
    int64_t run_id;
    bool page;         /* the request had a page_token */
    const char *views; /* runs/export's views_to_export, or NULL */
};
void archive_subject_from_request(const struct request *req, struct archive_subject *ret);

/* Whether archiver_record() has anything to do with this answer: false for
 * answers it never keeps, and for the very bytes it stored last time for
 * the same object (a run polled unchanged), which then cost neither a parse
 * nor an SQLite write. */
bool archiver_wants(struct archiver *a, const struct archive_subject *s,
                    const struct upstream_response *u);

/* Records what an answer says: a 200 of a read is stored, a successful
 * repair noted, a deleted run or job marked forgotten. parsed is the body
 * already parsed as a JSON object, or NULL (then it is parsed here if need
 * be). */
void archiver_record(struct archiver *a, const struct archive_subject *s,
                     const struct upstream_response *u, struct json_object *parsed);

/* When the workspace gave no usable answer to a runs/get or get-output (u:
 * none, a 5xx, a 429, or "does not exist"): the archive's JSON for it, in
 * the upstream shape (a new allocation). Returns 1 with it, 0 when the
 * archive has nothing, -errno. A run the workspace says does not exist is
 * marked forgotten. */
int archiver_lookup(struct archiver *a, const struct archive_subject *s,
                    const struct upstream_response *u, char **ret_text, size_t *ret_len);

struct archiver_stats {
    uint64_t stored;    /* rows written or merged */
    uint64_t unchanged; /* views that brought nothing new */
    uint64_t skipped;   /* the same bytes as last time: not even parsed */
    uint64_t failed;    /* writes that failed (logged) */
    uint64_t answered;  /* answers from the archive */
};
const struct archiver_stats *archiver_get_stats(const struct archiver *a);
