/* client/views.h: how jobsctl shows each kind of answer as a table (or
 * text): jobs, runs, tasks, outputs, permissions, status. Each view reads a
 * parsed answer (borrowed) and fills a new table the caller owns, or
 * appends text to a buffer. */
#pragma once

#include <json-c/json.h>

#include "client/table.h"
#include "proto/endpoint.h"
#include "proto/strutil.h"

/* Lines of a task's logs or trace shown after a failure. */
#define VIEW_TAIL_LINES 20

/* The table view of an endpoint's answer. -EOPNOTSUPP when the endpoint
 * has none (show its JSON instead). */
int view_table(enum endpoint_id id, struct json_object *o, struct table **ret);
/* The second table some views print under the first (a job's or a run's
 * tasks); -EOPNOTSUPP when there is none. */
int view_table_more(enum endpoint_id id, struct json_object *o, struct table **ret);
/* Rows of a runs array into a run table made by view_runs_table_new(). */
int view_runs_table_new(struct table **ret);
int view_runs_add(struct table *t, struct json_object *runs);

/* A task run's get-output as text: error, trace, notebook result, logs (the
 * last tail lines of each; 0 for all). */
int view_output_text(struct json_object *out, size_t tail, struct buf *b);

/* The last n lines of s (all when n is 0) appended to b, each indented. */
int view_tail(const char *s, size_t n, const char *indent, struct buf *b);
