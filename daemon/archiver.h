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

/* Records what a proxied request's answer says: a 200 of a read is stored,
 * a successful repair noted, a deleted run or job marked forgotten. */
void archiver_record(struct archiver *a, const struct request *req,
                     const struct upstream_response *u);

/* When the workspace did not give req a usable answer (u: no HTTP answer, a
 * 5xx, a 429, or "does not exist"): fills req->response from the archive
 * and returns true, or false when the archive has nothing for it. */
bool archiver_answer(struct archiver *a, struct request *req, const struct upstream_response *u);

struct archiver_stats {
    uint64_t stored;    /* rows written or merged */
    uint64_t unchanged; /* views that brought nothing new */
    uint64_t failed;    /* writes that failed (logged) */
    uint64_t answered;  /* answers from the archive */
};
const struct archiver_stats *archiver_get_stats(const struct archiver *a);
