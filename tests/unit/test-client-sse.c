/* Unit tests for client/sse: events split anywhere, CRLF, comments,
 * multi-line data, ids, and the line bound. */
#include <errno.h>
#include <string.h>

#include "client/sse.h"
#include "proto/strutil.h"
#include "tests/tap.h"

struct seen {
    struct buf log;
    int stop_after;
    int n;
};

static int on_event(const char *id, const char *event, const char *data, void *userdata)
{
    struct seen *s = userdata;
    s->n++;
    (void)buf_appendf(&s->log, "[%s|%s|%s]", id, event, data);
    return s->stop_after && s->n >= s->stop_after ? -ECANCELED : 0;
}

static const char stream[] =
    ": keepalive\n"
    "id: 1\nevent: run\ndata: {\"run_id\":5}\n\n"
    "data: line one\r\ndata: line two\r\n\r\n"
    "id: 7\r\nevent: run\r\ndata:{\"a\":1}\r\nretry: 100\r\nfoo: bar\r\n\r\n"
    "event: ignored-without-data\n\n"
    "data\n\n";

static const char expected[] = "[1|run|{\"run_id\":5}]"
                               "[1|message|line one\nline two]"
                               "[7|run|{\"a\":1}]"
                               "[7|message|]";

static void test_split(size_t chunk)
{
    struct seen s = { .log = BUF_INIT(64 * KIB) };
    _cleanup_(sse_freep) struct sse *p = NULL;
    is_int(sse_new(on_event, &s, &p), 0, "sse_new");
    int r = 0;
    for (size_t i = 0; r == 0 && i < sizeof(stream) - 1; i += chunk)
        r = sse_feed(p, stream + i, MIN(chunk, sizeof(stream) - 1 - i));
    is_int(r, 0, "fed in pieces of %zu", chunk);
    is_str(s.log.data, expected, "the same events in pieces of %zu", chunk);
    is_str(sse_last_id(p), "7", "the last id is kept");
    buf_done(&s.log);
}

static void test_stop_and_bound(void)
{
    struct seen s = { .log = BUF_INIT(64 * KIB), .stop_after = 1 };
    _cleanup_(sse_freep) struct sse *p = NULL, *q = NULL;
    sse_new(on_event, &s, &p);
    is_int(sse_feed(p, stream, sizeof(stream) - 1), -ECANCELED, "a callback error stops the feed");
    is_int(s.n, 1, "after one event");
    is_str(sse_last_id(p), "1", "last id of the stopped stream");
    buf_done(&s.log);

    struct seen t = { .log = BUF_INIT(64 * KIB) };
    sse_new(on_event, &t, &q);
    is_str(sse_last_id(q), "", "no id before any event");
    char big[4096];
    memset(big, 'x', sizeof(big));
    int r = 0;
    for (size_t i = 0; r == 0 && i < SSE_LINE_MAX / sizeof(big) + 2; i++)
        r = sse_feed(q, big, sizeof(big));
    is_int(r, -EMSGSIZE, "a line past SSE_LINE_MAX fails the stream");
    buf_done(&t.log);
}

int main(void)
{
    static const size_t chunks[] = { 1, 2, 3, 7, 64, 4096 };
    for (size_t i = 0; i < ELEMENTSOF(chunks); i++)
        test_split(chunks[i]);
    test_stop_and_bound();
    return tap_done();
}
