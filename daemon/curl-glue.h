/* daemon/curl-glue.h: one libcurl multi handle driven by an sd-event loop
 * (sockets as io sources, one timer, completions drained a few per loop
 * iteration). Owns the CURLM and its loop sources; the easy handles and the
 * slots stay with the caller, who removes them before curl_glue_free(). */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "proto/cleanup.h"

/* Completions handed out per loop iteration; more wait for the next one. */
#define CURL_GLUE_DRAIN_MAX 8

struct curl_glue;

/* Called once per finished transfer, after the easy handle left the multi,
 * so the callee may free it, re-add it or add others. */
typedef void (*curl_glue_done_t)(CURL *easy, CURLcode result, void *userdata);

/* Caller-owned (usually embedded in the caller's transfer); must live until
 * done runs or curl_glue_remove() returns. */
struct curl_glue_slot {
    curl_glue_done_t done;
    void *userdata;
    bool in_multi; /* kept by the glue */
};

int curl_glue_new(sd_event *e, struct curl_glue **ret);
struct curl_glue *curl_glue_free(struct curl_glue *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_glue *, curl_glue_free)

/* The multi handle, for curl_multi_setopt() of policy (pipelining, limits). */
CURLM *curl_glue_multi(struct curl_glue *g);

/* Starts easy. Sets CURLOPT_PRIVATE to slot. -EIO if curl refuses. */
int curl_glue_add(struct curl_glue *g, CURL *easy, struct curl_glue_slot *slot);
/* Stops the transfer of slot if it runs; its done callback will not run. */
void curl_glue_remove(struct curl_glue *g, CURL *easy, struct curl_glue_slot *slot);
/* Transfers in the multi. */
unsigned curl_glue_running(const struct curl_glue *g);
