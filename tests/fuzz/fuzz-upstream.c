/* Fuzz target for what the workspace answers, fed to everything in jobsd
 * that reads it, without a network: the input is a script of answers, each
 * "STATUS[ endpoint-name]\n" and a body, separated by NUL bytes.
 *
 * Each answer goes, in turn, to:
 *   - the poller, as the answer to the request it has in the air (a sweep's
 *     runs/list page, a finished run's runs/get, a task run's get-output or
 *     export, a backfill page): its upstream requests go into a client whose
 *     loop never runs, and the answer is delivered as its completion would;
 *   - the archiver (what the proxy keeps of an answer, and what it answers
 *     from the archive instead of a failure), for the endpoint named or one
 *     in turn;
 *   - the error model (api_error_parse) and the OAuth token reply parser
 *     (auth_take_reply).
 *
 * The archive lives in the scratch directory; it is recreated every
 * RESET_EVERY inputs so that it stays small. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "daemon/archiver.h"
#include "daemon/auth.h"
#include "daemon/cache.h"
#include "daemon/events.h"
#include "daemon/poller-private.h"
#include "daemon/upstream.h"
#include "db/runs.h"
#include "db/store.h"
#include "proto/apierror.h"
#include "proto/json.h"
#include "tests/fuzz/fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX (128 * KIB)
#define ANSWERS_MAX 12
#define RESET_EVERY 2000

static sd_event *event;
static struct upstream *upstream;
static struct store *store;
static struct events *events;
static struct auth *auth;
static char store_path[512];
static unsigned inputs;

static void open_store(void)
{
    (void)unlink(store_path);
    if (store_open(store_path, STORE_OPEN_CREATE | STORE_OPEN_NO_AUTODICT, &store) < 0)
        abort();
}

static void teardown(void)
{
    auth = auth_free(auth);
    events = events_free(events);
    upstream = upstream_free(upstream);
    store = store_free(store);
    event = sd_event_unref(event);
}

static void setup(void)
{
    snprintf(store_path, sizeof(store_path), "%s/archive.db", fuzz_scratch("upstream"));
    open_store();
    if (sd_event_new(&event) < 0 || events_new(event, &events) < 0)
        abort();
    struct upstream_settings us;
    upstream_settings_defaults(&us);
    us.host = "http://127.0.0.1:9"; /* never reached: the loop never runs */
    us.token = "dapi-fuzz-token";
    if (upstream_new(event, &us, &upstream) < 0)
        abort();
    struct auth_settings as = {
        .kind = AUTH_OAUTH_M2M,
        .client_id = "fuzz-client",
        .client_secret = "fuzz-secret",
        .token_url = "http://127.0.0.1:9/oidc/v1/token",
    };
    if (auth_new(event, NULL, &as, NULL, NULL, &auth) < 0)
        abort();
    atexit(teardown);
}

struct answer {
    int status;
    const struct endpoint *endpoint; /* NULL: not named */
    char *body;                      /* NUL-terminated copy */
    size_t len;
};

/* "200 get_run\n{...}"; without a status line, a 200 of the whole text. */
static void read_answer(const char *p, size_t n, struct answer *ret)
{
    const char *nl = memchr(p, '\n', n);
    char line[64];
    int status = 200;
    *ret = (struct answer){ .status = 200 };
    if (nl && (size_t)(nl - p) < sizeof(line)) {
        memcpy(line, p, (size_t)(nl - p));
        line[nl - p] = 0;
        char *name = strchr(line, ' ');
        if (name)
            *name++ = 0;
        if (parse_int(line, &status) == 0 && status >= 0 && status < 1000) {
            ret->status = status;
            ret->endpoint = name ? endpoint_by_name(name) : NULL;
            n -= (size_t)(nl - p) + 1;
            p = nl + 1;
        }
    }
    ret->body = fuzz_strndup(p, n);
    ret->len = strlen(ret->body);
}

static const enum endpoint_id archived[] = {
    ENDPOINT_RUNS_GET,  ENDPOINT_RUNS_LIST,   ENDPOINT_RUNS_GET_OUTPUT, ENDPOINT_JOBS_GET,
    ENDPOINT_JOBS_LIST, ENDPOINT_RUNS_EXPORT, ENDPOINT_RUNS_DELETE,     ENDPOINT_RUNS_REPAIR,
};

static void to_archiver(struct archiver *a, const struct answer *in,
                        const struct upstream_response *u, unsigned i)
{
    struct archive_subject sub = {
        .endpoint = in->endpoint ? in->endpoint : endpoint_get(archived[i % ELEMENTSOF(archived)]),
        .job_id = 7,
        .run_id = 11 + i % 3,
        .page = i % 2,
        .views = "CODE",
    };
    if (archiver_wants(a, &sub, u))
        archiver_record(a, &sub, u, NULL);
    char *text = NULL;
    size_t len = 0;
    if (archiver_lookup(a, &sub, u, &text, &len) > 0) {
        /* What the archive answers is JSON of the upstream shape. */
        _cleanup_json_ struct json_object *o = NULL;
        if (json_parse_object(text, len, JSON_SIZE_MAX, JSON_DEPTH_MAX + 8, &o, NULL) < 0) {
            fprintf(stderr, "fuzz-upstream: the archive answered no JSON object: %s\n", text);
            abort();
        }
    }
    free(text);
}

/* What the poller's tick would ask next; false when it has nothing to ask. */
static bool poller_ask(struct poller *p, bool *swept)
{
    if (p->transfer)
        return true;
    if (p->sweep_phase == SWEEP_IDLE && !*swept) {
        *swept = true;
        poller_sweep_begin(p);
    }
    struct run *ready = NULL;
    for (int q = 0; q < _QUEUE_MAX && !ready; q++)
        ready = p->queues[q].head;
    bool sweeping = p->sweep_phase != SWEEP_IDLE;
    if (p->cur)
        (void)poller_fetch_next(p);
    else if (ready && (!sweeping || !p->last_was_fetch)) {
        p->last_was_fetch = true;
        (void)poller_fetch_begin(p, ready);
    } else if (sweeping) {
        p->last_was_fetch = false;
        (void)poller_sweep_next(p);
    } else if (p->backfill_running)
        (void)poller_backfill_next(p);
    return p->transfer != NULL;
}

/* The completion of the poller's request, as upstream's callback gives it. */
static void fuzz_answer(struct poller *p, const struct upstream_response *u)
{
    enum step_kind kind = p->step;
    upstream_cancel(p->transfer);
    p->transfer = NULL;
    p->step = STEP_NONE;
    poller_answer(p, kind, u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!event)
        setup();
    if (size > INPUT_MAX)
        return 0;
    if (++inputs % RESET_EVERY == 0) {
        store = store_free(store);
        open_store();
    }

    struct cache_settings cs;
    cache_settings_default(&cs);
    cs.max_bytes = 1 * MIB;
    cs.max_entries = 64;
    struct poller_settings ps = {
        .track = POLLER_TRACK_ALL,
        .interval_min_usec = USEC_PER_SEC,
        .interval_max_usec = 10 * USEC_PER_SEC,
        .idle_interval_usec = 60 * USEC_PER_SEC,
        .rate = 1000,
        .backfill = true,
        .backfill_days = 7,
        .outputs = true,
        .export_views = "CODE",
    };
    struct cache *cache = NULL;
    struct archiver *arch = NULL;
    struct poller *p = NULL;
    if (cache_new(&cs, &cache) < 0 || archiver_new(store, &arch) < 0 ||
        poller_new(event, &ps, upstream, store, cache, events, &p) < 0)
        abort();
    (void)poller_backfill(p);
    bool swept = false;

    const char *at = (const char *)data;
    size_t left = size;
    for (unsigned i = 0; i < ANSWERS_MAX && (left > 0 || i == 0); i++) {
        const char *nul = memchr(at, 0, left);
        size_t n = nul ? (size_t)(nul - at) : left;
        struct answer in;
        read_answer(at, n, &in);
        at += n + (nul ? 1 : 0);
        left -= n + (nul ? 1 : 0);

        struct upstream_response u = {
            .status = in.status,
            .error = in.status ? 0 : -ECONNREFUSED,
            .body = in.status ? in.body : NULL,
            .body_len = in.status ? in.len : 0,
            .content_type = "application/json",
            .attempts = 1,
        };
        struct api_error e;
        if (in.status >= 400 && (api_error_parse(in.status, in.body, in.len, &e) < 0 ||
                                 !memchr(e.message, 0, sizeof(e.message))))
            abort();
        (void)auth_take_reply(auth, in.status, in.body, in.len);
        to_archiver(arch, &in, &u, i);
        if (poller_ask(p, &swept))
            fuzz_answer(p, &u);
        free(in.body);
    }

    p = poller_free(p);
    arch = archiver_free(arch);
    cache = cache_free(cache);
    return 0;
}
