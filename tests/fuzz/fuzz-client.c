/* Fuzz target for what jobsctl reads from jobsd: the Server-Sent Events
 * parser (client/sse.c) fed the input in uneven pieces, each event's data as
 * a run event (client/runview.c), and the input as an answer to every
 * endpoint that has a table view (client/views.c), rendered as text at a
 * few widths and as CSV; plus the time arguments jobsctl parses.
 *
 * Checked beyond "no crash, no leak": feeding the stream in pieces gives the
 * same events as feeding it whole. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/format.h"
#include "client/runview.h"
#include "client/sse.h"
#include "client/table.h"
#include "client/views.h"
#include "proto/json.h"
#include "tests/fuzz/fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX (64 * KIB)

struct seen {
    struct buf log; /* every event, as id\0event\0data\0 */
    unsigned n;
};

static int on_event(const char *id, const char *event, const char *data, void *userdata)
{
    struct seen *s = userdata;
    s->n++;
    if (buf_append(&s->log, id, strlen(id) + 1) < 0 ||
        buf_append(&s->log, event, strlen(event) + 1) < 0 ||
        buf_append(&s->log, data, strlen(data) + 1) < 0)
        return -ENOMEM;
    _cleanup_json_ struct json_object *o = NULL;
    if (json_parse_object(data, strlen(data), JSON_SIZE_MAX, JSON_DEPTH_MAX, &o, NULL) == 0) {
        struct run_view v;
        char state[64];
        if (run_view_from_event(o, &v) == 0) {
            (void)run_view_state(&v, state, sizeof(state));
            (void)run_view_exit_status(&v);
            (void)run_view_elapsed(&v, 1700000000000, 1699999999000);
        }
    }
    return 0;
}

static int feed(const uint8_t *data, size_t size, size_t piece, struct seen *s)
{
    _cleanup_(sse_freep) struct sse *p = NULL;
    if (sse_new(on_event, s, &p) < 0)
        abort();
    int r = 0;
    for (size_t at = 0; at < size && r >= 0; at += piece)
        r = sse_feed(p, (const char *)data + at, MIN(piece, size - at));
    (void)strlen(sse_last_id(p));
    return r;
}

static void sse(const uint8_t *data, size_t size)
{
    struct seen whole = { .log = BUF_INIT(16 * MIB) }, pieces = { .log = BUF_INIT(16 * MIB) };
    int r1 = feed(data, size, size ? size : 1, &whole);
    size_t piece = 1 + (size ? data[0] % 7 : 0);
    int r2 = feed(data, size, piece, &pieces);
    if (r1 != r2 || whole.n != pieces.n || whole.log.len != pieces.log.len ||
        (whole.log.len && memcmp(whole.log.data, pieces.log.data, whole.log.len) != 0)) {
        fprintf(stderr, "fuzz-client: %u events whole (%d), %u in pieces of %zu (%d)\n", whole.n,
                r1, pieces.n, piece, r2);
        abort();
    }
    buf_done(&whole.log);
    buf_done(&pieces.log);
}

static void render(struct table *t)
{
    static const size_t widths[] = { 20, 80, 200 };
    struct buf out = BUF_INIT(16 * MIB);
    for (size_t i = 0; i < ELEMENTSOF(widths); i++) {
        buf_reset(&out);
        (void)table_render(t, widths[i], &out);
    }
    buf_reset(&out);
    (void)table_render_csv(t, &out);
    buf_done(&out);
}

static void views(struct json_object *o)
{
    for (enum endpoint_id id = 0; id < _ENDPOINT_MAX; id++) {
        struct table *t = NULL;
        if (view_table(id, o, &t) == 0) {
            render(t);
            table_free(t);
        }
        t = NULL;
        if (view_table_more(id, o, &t) == 0) {
            render(t);
            table_free(t);
        }
    }
    struct table *t = NULL;
    struct json_object *runs = NULL;
    if (json_get_array(o, "runs", JSON_OPTIONAL, &runs, NULL) > 0 && view_runs_table_new(&t) == 0) {
        (void)view_runs_add(t, runs);
        render(t);
        table_free(t);
    }
    struct buf text = BUF_INIT(16 * MIB);
    (void)view_output_text(o, 0, &text);
    buf_reset(&text);
    (void)view_output_text(o, 3, &text);
    buf_done(&text);
    struct run_view v;
    char state[64];
    if (run_view_from_run(o, &v) == 0)
        (void)run_view_state(&v, state, sizeof(state));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > INPUT_MAX)
        return 0;
    log_set_sink(fuzz_quiet, NULL);
    sse(data, size);

    _cleanup_json_ struct json_object *o = NULL;
    if (json_parse_object((const char *)data, size, JSON_SIZE_MAX, JSON_DEPTH_MAX, &o, NULL) == 0)
        views(o);

    /* A line of the input as a time argument and a cell. */
    _cleanup_free_ char *line = fuzz_strndup((const char *)data, MIN(size, (size_t)256));
    line[strcspn(line, "\n")] = 0;
    int64_t t;
    char when[64];
    if (parse_time_arg(line, 1700000000000, &t) == 0) {
        (void)format_time_iso(t, when, sizeof(when));
        (void)format_time_local(t, when, sizeof(when));
        (void)format_duration(t, when, sizeof(when));
    }
    (void)display_width(line);
    (void)display_prefix(line, 10);
    return 0;
}
