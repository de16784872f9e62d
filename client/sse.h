/* client/sse.h: a Server-Sent Events parser (the text/event-stream format
 * of proto/localapi.h's /jobsd/v1/events). Bytes go in as they arrive, in
 * any pieces; each complete event comes out through a callback. struct sse
 * owns its line and field buffers; sse_free() frees them. */
#pragma once

#include <stddef.h>

#include "proto/cleanup.h"

/* The longest line accepted; a longer one fails the stream (-EMSGSIZE). */
#define SSE_LINE_MAX (1 * 1024 * 1024)

/* id is the last id seen (may be ""), event "message" when none was named,
 * data the data lines joined by '\n'. A negative return stops parsing and
 * is returned by sse_feed(). */
typedef int (*sse_event_t)(const char *id, const char *event, const char *data, void *userdata);

struct sse;

int sse_new(sse_event_t cb, void *userdata, struct sse **ret);
struct sse *sse_free(struct sse *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sse *, sse_free)

/* Returns 0, the callback's error, -EMSGSIZE or -ENOMEM. */
int sse_feed(struct sse *s, const char *p, size_t n);
/* The id of the last event, for Last-Event-ID ("" before any). */
const char *sse_last_id(const struct sse *s);
