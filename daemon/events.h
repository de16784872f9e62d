/* daemon/events.h: the run changes local clients watch. Owns a ring of the
 * last JOBSD_EVENTS_BACKLOG changes (as Server-Sent Events frames) and the
 * list of /jobsd/v1/events watchers; each watcher's state belongs to its
 * streamed response and is freed with it. The poller publishes. */
#pragma once

#include <json-c/json.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "daemon/router.h"
#include "proto/cleanup.h"

struct events;

int events_new(sd_event *e, struct events **ret);
/* Ends every stream (each reads its end), then frees the ring. */
struct events *events_free(struct events *ev);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct events *, events_free)

/* A run changed: data is the event's object (fields JOBSD_EV_* of
 * proto/localapi.h), copied as text. Wakes the watchers it matches. */
int events_publish(struct events *ev, int64_t run_id, int64_t job_id, struct json_object *data);

/* Serves LOCAL_EVENTS. */
void events_register(struct events *ev, struct router *r);

struct events_stats {
    uint64_t published;
    uint64_t last_seq;
    unsigned watchers;
};
void events_get_stats(const struct events *ev, struct events_stats *ret);
