#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/archiver.h"
#include "daemon/cache.h"
#include "daemon/metrics.h"
#include "daemon/poller.h"
#include "daemon/proxy.h"
#include "daemon/server.h"
#include "daemon/upstream.h"
#include "db/runs.h"
#include "proto/log.h"

#define METRICS_MAX (1 * MIB)

static const char *const classes[6] = { "none", "1xx", "2xx", "3xx", "4xx", "5xx" };

static int family(struct buf *b, const char *name, const char *type, const char *help)
{
    return buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int sample(struct buf *b, const char *name, const char *labels, uint64_t v)
{
    return buf_appendf(b, "%s%s%s%s %llu\n", name, labels ? "{" : "", labels ? labels : "",
                       labels ? "}" : "", (unsigned long long)v);
}

static const char *endpoint_label(size_t i)
{
    return i < _ENDPOINT_MAX ? endpoint_table[i].name : "unmatched";
}

static int write_requests(struct buf *b, const struct router_stats *rs)
{
    int r = family(b, "jobsd_requests_total", "counter",
                   "Local requests answered, by endpoint, status class and source.");
    for (size_t e = 0; e <= _ENDPOINT_MAX && r >= 0; e++)
        for (size_t s = 0; s < _JOBSD_SOURCE_MAX && r >= 0; s++)
            for (size_t c = 0; c < 6 && r >= 0; c++) {
                char labels[160];
                if (!rs->requests[e][s][c])
                    continue;
                snprintf(labels, sizeof(labels), "endpoint=\"%s\",code=\"%s\",source=\"%s\"",
                         endpoint_label(e), classes[c], jobsd_source_to_string(s));
                r = sample(b, "jobsd_requests_total", labels, rs->requests[e][s][c]);
            }
    if (r >= 0)
        r = family(b, "jobsd_requests_refused_total", "counter",
                   "Requests refused at the door, by reason.");
    if (r >= 0)
        r = sample(b, "jobsd_requests_refused_total", "reason=\"auth\"", rs->rejected_auth);
    if (r >= 0)
        r = sample(b, "jobsd_requests_refused_total", "reason=\"body\"", rs->rejected_body);
    return r;
}

struct metric_row {
    const char *name, *type, *help;
    uint64_t value;
};

static int write_rows(struct buf *b, const struct metric_row *rows, size_t n)
{
    int r = 0;
    for (size_t i = 0; i < n && r >= 0; i++) {
        r = family(b, rows[i].name, rows[i].type, rows[i].help);
        if (r >= 0)
            r = sample(b, rows[i].name, NULL, rows[i].value);
    }
    return r;
}

static int write_upstream(struct buf *b, struct manager *m)
{
    const struct proxy_stats *ps = proxy_get_stats(manager_proxy(m));
    struct upstream_stats us;
    int r = family(b, "jobsd_upstream_answers_total", "counter",
                   "Answers from the workspace to proxied requests, by endpoint and status class "
                   "(none: no HTTP answer).");
    for (size_t e = 0; e < _ENDPOINT_MAX && r >= 0; e++)
        for (size_t c = 0; c < 6 && r >= 0; c++) {
            char labels[128];
            if (!ps->answers[e][c])
                continue;
            snprintf(labels, sizeof(labels), "endpoint=\"%s\",code=\"%s\"", endpoint_table[e].name,
                     classes[c]);
            r = sample(b, "jobsd_upstream_answers_total", labels, ps->answers[e][c]);
        }
    if (r < 0 || upstream_get_stats(manager_upstream(m), &us) < 0)
        return r < 0 ? r : -EIO;

    const struct metric_row rows[] = {
        { "jobsd_upstream_requests_total", "counter", "Requests submitted to the workspace client.",
          us.submitted },
        { "jobsd_upstream_attempts_total", "counter", "HTTP attempts sent to the workspace.",
          us.attempts },
        { "jobsd_upstream_retries_total", "counter", "Attempts that were retries.", us.retries },
        { "jobsd_upstream_queue_full_total", "counter",
          "Requests turned away with 429 because the local queue was full.", us.rejected_full },
        { "jobsd_upstream_limiter_waits_total", "counter",
          "Upstream attempts that waited for the shared rate limiter.", us.limiter_waits },
        { "jobsd_upstream_reauth_total", "counter",
          "Requests sent again after the workspace refused an expired token.", us.reauths },
        { "jobsd_upstream_queued", "gauge",
          "Requests waiting for the rate limiter, a slot or a token.", us.queued },
        { "jobsd_upstream_in_flight", "gauge", "Requests on the wire.", us.in_flight },
        { "jobsd_upstream_backing_off", "gauge", "Requests waiting to be retried.",
          us.backing_off },
        { "jobsd_upstream_limiter_tokens", "gauge", "Tokens in the shared rate limiter.",
          us.limiter_tokens_milli / 1000 },
        { "jobsd_upstream_reachable", "gauge", "1 if the last attempt got an HTTP answer.",
          us.reachable },
        { "jobsd_upstream_token_requests_total", "counter", "OAuth token requests made.",
          us.auth.token_requests },
        { "jobsd_idempotency_tokens_added_total", "counter",
          "run-now and runs/submit requests given a jobsd idempotency token.", ps->tokens_added },
    };
    return r < 0 ? r : write_rows(b, rows, ELEMENTSOF(rows));
}

static int write_cache(struct buf *b, struct manager *m)
{
    struct cache_stats cs = { 0 };
    const struct proxy_stats *ps = proxy_get_stats(manager_proxy(m));
    if (manager_cache(m))
        cache_get_stats(manager_cache(m), &cs);
    const struct metric_row rows[] = {
        { "jobsd_cache_entries", "gauge", "Answers in the cache.", cs.entries },
        { "jobsd_cache_bytes", "gauge", "Bytes the cache holds.", cs.bytes },
        { "jobsd_cache_max_bytes", "gauge", "The cache's memory bound.", cs.max_bytes },
        { "jobsd_cache_hits_total", "counter", "Reads answered from a fresh cached copy.",
          cs.hits },
        { "jobsd_cache_stale_hits_total", "counter",
          "Reads answered from a stale copy (refreshing, or the workspace failing).",
          cs.stale_hits },
        { "jobsd_cache_misses_total", "counter", "Reads the cache could not answer.", cs.misses },
        { "jobsd_cache_evictions_total", "counter", "Entries dropped for the memory bound.",
          cs.evictions },
        { "jobsd_cache_invalidations_total", "counter", "Entries dropped by writes.",
          cs.invalidations },
        { "jobsd_cache_flights_total", "counter", "Upstream reads others could join.", cs.flights },
        { "jobsd_cache_coalesced_total", "counter",
          "Reads that waited on another's upstream request instead of sending their own.",
          ps->coalesced },
        { "jobsd_cache_refreshes_total", "counter", "Background refreshes of stale entries.",
          ps->refreshes },
    };
    return write_rows(b, rows, ELEMENTSOF(rows));
}

static int write_archive(struct buf *b, struct manager *m)
{
    const struct archiver_stats *as = archiver_get_stats(manager_archiver(m));
    int r = family(b, "jobsd_archive_writes_total", "counter",
                   "Answers offered to the archive, by what came of them.");
    if (r >= 0)
        r = sample(b, "jobsd_archive_writes_total", "result=\"stored\"", as->stored);
    if (r >= 0)
        r = sample(b, "jobsd_archive_writes_total", "result=\"unchanged\"", as->unchanged);
    if (r >= 0)
        r = sample(b, "jobsd_archive_writes_total", "result=\"skipped\"", as->skipped);
    if (r >= 0)
        r = sample(b, "jobsd_archive_writes_total", "result=\"failed\"", as->failed);
    if (r >= 0)
        r = family(b, "jobsd_archive_answers_total", "counter",
                   "Reads answered from the archive (the workspace forgot or failed).");
    if (r >= 0)
        r = sample(b, "jobsd_archive_answers_total", NULL, as->answered);
    return r;
}

static int write_daemon(struct buf *b, struct manager *m)
{
    struct server_stats ss;
    struct store_counts counts;
    server_get_stats(manager_server(m), &ss);
    int r = family(b, "jobsd_build_info", "gauge", "The jobsd version, as a label.");
    if (r >= 0)
        r = sample(b, "jobsd_build_info", "version=\"" PACKAGE_VERSION "\"", 1);
    if (r >= 0)
        r = family(b, "jobsd_uptime_seconds", "gauge", "Seconds since jobsd started.");
    if (r >= 0)
        r = sample(b, "jobsd_uptime_seconds", NULL, manager_uptime_usec(m) / 1000000u);
    if (r >= 0)
        r = family(b, "jobsd_requests_in_flight", "gauge", "Local requests not yet answered.");
    if (r >= 0)
        r = sample(b, "jobsd_requests_in_flight", NULL, ss.in_flight);
    if (r >= 0)
        r = family(b, "jobsd_requests_held", "gauge",
                   "Local requests waiting on the workspace or a run.");
    if (r >= 0)
        r = sample(b, "jobsd_requests_held", NULL, ss.held);
    if (r >= 0 && store_count_runs(manager_store(m), 0, &counts) >= 0) {
        r = family(b, "jobsd_archive_runs", "gauge",
                   "Runs kept in the archive, by life-cycle and result state.");
        for (int lc = 0; lc < _LIFE_CYCLE_MAX && r >= 0; lc++)
            for (int rs = 0; rs < _RESULT_MAX && r >= 0; rs++) {
                char labels[128];
                const char *l = life_cycle_state_to_string((enum life_cycle_state)lc);
                const char *s = result_state_to_string((enum result_state)rs);
                if (!counts.n[lc][rs])
                    continue;
                snprintf(labels, sizeof(labels), "life_cycle_state=\"%s\",result_state=\"%s\"",
                         l ? l : "OTHER", s ? s : "");
                r = sample(b, "jobsd_archive_runs", labels, (uint64_t)counts.n[lc][rs]);
            }
    }
    return r;
}

static int write_poller(struct buf *b, struct manager *m)
{
    struct poller_stats st = { 0 };
    struct events_stats es = { 0 };
    if (manager_poller(m))
        poller_get_stats(manager_poller(m), &st);
    if (manager_events(m))
        events_get_stats(manager_events(m), &es);
    const struct metric_row rows[] = {
        { "jobsd_poller_tracked_runs", "gauge", "Active runs the poller tracks.", st.tracked },
        { "jobsd_poller_fetch_queue", "gauge", "Runs waiting for a runs/get (finished or unknown).",
          st.fetching },
        { "jobsd_poller_sweeps_total", "counter", "Complete sweeps of the active runs.",
          st.sweeps },
        { "jobsd_poller_last_sweep_seconds", "gauge", "How long the last sweep took.",
          st.last_sweep_duration_usec / 1000000u },
        { "jobsd_poller_requests_total", "counter", "Upstream requests the poller made.",
          st.requests },
        { "jobsd_poller_failures_total", "counter", "Of those, the ones that failed.",
          st.failures },
        { "jobsd_poller_changes_total", "counter", "Run state changes seen.", st.changes },
        { "jobsd_poller_archived_runs_total", "counter",
          "Finished runs archived with their outputs.", st.archived },
        { "jobsd_poller_archived_outputs_total", "counter", "Task outputs archived.", st.outputs },
        { "jobsd_poller_backfill_runs_total", "counter", "Runs listed by the backfill.",
          st.backfill_runs },
        { "jobsd_waiters", "gauge", "Local waits held.", st.waiters },
        { "jobsd_event_watchers", "gauge", "Clients of /jobsd/v1/events.", es.watchers },
        { "jobsd_events_total", "counter", "Run state events published.", es.published },
    };
    return write_rows(b, rows, ELEMENTSOF(rows));
}

static int on_metrics(struct request *req, void *userdata)
{
    struct manager *m = userdata;
    struct buf b = BUF_INIT(METRICS_MAX);
    int r = write_requests(&b, router_get_stats(manager_router(m)));
    if (r >= 0)
        r = write_upstream(&b, m);
    if (r >= 0)
        r = write_cache(&b, m);
    if (r >= 0)
        r = write_archive(&b, m);
    if (r >= 0)
        r = write_poller(&b, m);
    if (r >= 0)
        r = write_daemon(&b, m);
    if (r < 0) {
        buf_done(&b);
        response_set_error(&req->response, 500, "INTERNAL_ERROR", "Metrics unavailable: %s",
                           strerror(-r));
        return 0;
    }
    size_t len = 0;
    char *text = buf_steal(&b, &len);
    if (!text)
        return response_set_error(&req->response, 500, "INTERNAL_ERROR", "Out of memory"), 0;
    response_take_body(&req->response, 200, "text/plain; version=0.0.4", text, len, NULL);
    req->response.source = JOBSD_SOURCE_LOCAL;
    return 0;
}

void metrics_register(struct router *r, struct manager *m)
{
    router_set(r, ENDPOINT_METRICS, on_metrics, m);
}
