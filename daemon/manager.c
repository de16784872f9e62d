#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "daemon/events.h"
#include "daemon/history.h"
#include "daemon/listen.h"
#include "daemon/local.h"
#include "daemon/manager.h"
#include "daemon/metrics.h"
#include "daemon/poller.h"
#include "daemon/proxy.h"
#include "daemon/router.h"
#include "daemon/server.h"
#include "daemon/upstream.h"
#include "db/store.h"
#include "proto/cleanup.h"
#include "proto/log.h"
#include "proto/strutil.h"

#define DRAIN_POLL_USEC (20 * 1000)
#define RETIRE_POLL_USEC (500 * 1000)
#define RETIRED_MAX 4

struct manager {
    struct config *config;
    const struct config_args *args;
    char *local_token;
    sd_event *event;
    sd_event_source *sig_term, *sig_int, *sig_hup, *drain_timer, *retire_timer;
    struct router *router;
    struct server *server;
    struct upstream *upstream;
    struct upstream *retired[RETIRED_MAX]; /* replaced by a reload, finishing */
    struct proxy *proxy;
    struct store *store;
    struct archiver *archiver;
    struct cache *cache;
    struct events *events;
    struct poller *poller;
    uint64_t start_usec;
    uint64_t drain_deadline;
    unsigned tcp_port;
    bool own_socket; /* we created the socket and remove it on exit */
    int exit_code;
};

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int manager_new(struct config *c, const struct config_args *args, struct manager **ret)
{
    struct manager *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->config = c;
    m->args = args;
    m->start_usec = now_usec();
    *ret = m;
    return 0;
}

struct manager *manager_free(struct manager *m)
{
    if (!m)
        return NULL;
    /* The server first: it answers held requests, whose cancel hooks reach
     * into the proxy and upstream. */
    m->server = server_free(m->server);
    m->poller = poller_free(m->poller);
    m->events = events_free(m->events);
    m->proxy = proxy_free(m->proxy);
    m->archiver = archiver_free(m->archiver);
    m->upstream = upstream_free(m->upstream);
    for (size_t i = 0; i < RETIRED_MAX; i++)
        m->retired[i] = upstream_free(m->retired[i]);
    m->cache = cache_free(m->cache);
    m->router = router_free(m->router);
    m->store = store_free(m->store);
    sd_event_source_disable_unref(m->sig_term);
    sd_event_source_disable_unref(m->sig_int);
    sd_event_source_disable_unref(m->sig_hup);
    sd_event_source_disable_unref(m->drain_timer);
    sd_event_source_disable_unref(m->retire_timer);
    sd_event_unref(m->event);
    if (m->own_socket)
        unlink(m->config->server.socket);
    if (m->local_token) {
        explicit_bzero(m->local_token, strlen(m->local_token));
        free(m->local_token);
    }
    config_free(m->config);
    free(m);
    return NULL;
}

const struct config *manager_config(struct manager *m)
{
    return m->config;
}

uint64_t manager_uptime_usec(struct manager *m)
{
    return now_usec() - m->start_usec;
}

unsigned manager_tcp_port(struct manager *m)
{
    return m->tcp_port;
}

struct server *manager_server(struct manager *m)
{
    return m->server;
}

struct upstream *manager_upstream(struct manager *m)
{
    return m->upstream;
}

struct proxy *manager_proxy(struct manager *m)
{
    return m->proxy;
}

struct store *manager_store(struct manager *m)
{
    return m->store;
}

struct router *manager_router(struct manager *m)
{
    return m->router;
}

struct cache *manager_cache(struct manager *m)
{
    return m->cache;
}

struct archiver *manager_archiver(struct manager *m)
{
    return m->archiver;
}

struct poller *manager_poller(struct manager *m)
{
    return m->poller;
}

struct events *manager_events(struct manager *m)
{
    return m->events;
}

/* The poller's settings from c (its rate: a share of the upstream's). */
static int poller_settings(const struct config *c, struct poller_settings *ret)
{
    *ret = (struct poller_settings){
        .track = streq(c->poller.track, "jobs")    ? POLLER_TRACK_JOBS
                 : streq(c->poller.track, "local") ? POLLER_TRACK_LOCAL
                                                   : POLLER_TRACK_ALL,
        .interval_min_usec = c->poller.interval_min_ms * 1000,
        .interval_max_usec = c->poller.interval_max_ms * 1000,
        .idle_interval_usec = c->poller.idle_interval_ms * 1000,
        .rate = c->upstream.rate * (double)c->poller.share / 100.0,
        .backfill = c->poller.backfill,
        .backfill_days = (unsigned)c->poller.backfill_days,
        .outputs = c->poller.outputs,
        .export_views = c->poller.export_views,
    };
    int r = poller_parse_jobs(c->poller.jobs, ret);
    if (r < 0)
        return log_error_errno(r, "poller.jobs: '%s' is not a list of at most %d job ids",
                               c->poller.jobs, POLLER_JOBS_MAX);
    if (ret->track == POLLER_TRACK_JOBS && ret->n_jobs == 0)
        return log_error_errno(EINVAL, "poller.track = jobs needs poller.jobs");
    return 0;
}

static void on_write(enum endpoint_id id, int64_t job_id, int64_t run_id, void *userdata)
{
    struct manager *m = userdata;
    if (m->poller)
        poller_note_write(m->poller, id, job_id, run_id);
}

/* Every write made through jobsd leaves a row: who, what, on which ids,
 * and how it ended. One short insert; writes are rare next to reads. */
static void on_audit(const struct request *req, void *userdata)
{
    struct manager *m = userdata;
    const struct response *resp = &req->response;
    struct store_audit a = {
        .uid = req->peer.known ? req->peer.uid : (uid_t)-1,
        .gid = req->peer.known ? req->peer.gid : (gid_t)-1,
        .pid = req->peer.known ? req->peer.pid : 0,
        .endpoint = req->match.endpoint->name,
        .job_id = req->job_id,
        .run_id = req->run_id,
        .http_status = resp->status,
        .outcome = resp->status == 0            ? "abandoned"
                   : !isempty(resp->error_code) ? resp->error_code
                                                : "ok",
    };
    int r = store_audit_add(m->store, &a);
    if (r < 0)
        log_warning_errno(r, "Failed to write the audit row of %s %s, ignoring: %m",
                          req->method_raw, req->path);
}

/* A group name to its gid; "" is (gid_t)-1. Start-up and reload only: it
 * may ask NSS. */
static int resolve_group(const char *name, const char *option, gid_t *ret)
{
    if (isempty(name)) {
        *ret = (gid_t)-1;
        return 0;
    }
    char buf[4096];
    struct group gr, *res = NULL;
    int r = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
    if (r != 0 || !res)
        return log_error_errno(r ? r : ENOENT, "%s: no group '%s' (create it, or set %s =)", option,
                               name, option);
    *ret = res->gr_gid;
    return 0;
}

static int access_settings(struct manager *m, const struct config *c, struct router_settings *rs)
{
    gid_t ro;
    int r = resolve_group(c->server.read_only_group, "server.read_only_group", &ro);
    if (r < 0)
        return r;
    *rs = (struct router_settings){ .local_token = m->local_token, .read_only_gid = ro };
    return 0;
}

static char *make_user_agent(const struct config *c)
{
    struct utsname u;
    const char *os = uname(&u) == 0 ? u.sysname : "linux";
    char lower[32];
    size_t i;
    for (i = 0; os[i] && i + 1 < sizeof(lower); i++)
        lower[i] = (char)(os[i] >= 'A' && os[i] <= 'Z' ? os[i] + 32 : os[i]);
    lower[i] = 0;
    return strjoin("jobsd/" PACKAGE_VERSION " os/", lower,
                   isempty(c->upstream.user_agent_extra) ? "" : " ", c->upstream.user_agent_extra,
                   " auth/", streq(c->workspace.auth_type, "oauth-m2m") ? "oauth-m2m" : "pat");
}

/* A new upstream client from c (config_load() made sure a host is set). */
static int make_upstream(struct manager *m, const struct config *c, struct upstream **ret)
{
    struct upstream_settings s;
    _cleanup_free_ char *ua = make_user_agent(c);
    if (!ua)
        return -ENOMEM;
    upstream_settings_defaults(&s);
    s.host = c->workspace.host;
    s.ca_file = isempty(c->workspace.ca_file) ? NULL : c->workspace.ca_file;
    s.user_agent = ua;
    if (streq(c->workspace.auth_type, "oauth-m2m")) {
        s.auth = AUTH_OAUTH_M2M;
        s.client_id = c->workspace.client_id;
        s.client_secret = c->workspace.client_secret;
    } else {
        s.auth = AUTH_PAT;
        s.token = c->workspace.token;
    }
    s.connect_timeout_usec = c->upstream.connect_timeout_ms * 1000;
    s.attempt_timeout_usec = c->upstream.timeout_ms * 1000;
    s.retry_budget_usec = c->upstream.retry_budget_ms * 1000;
    s.max_attempts = (unsigned)c->upstream.max_attempts;
    s.rate = c->upstream.rate;
    s.burst = (unsigned)c->upstream.burst;
    s.max_in_flight = (unsigned)c->upstream.max_in_flight;
    s.queue_max = (unsigned)c->upstream.queue_max;
    int r = upstream_new(m->event, &s, ret);
    if (r < 0)
        return log_error_errno(r, "Failed to set up the client for %s: %m", c->workspace.host);
    return 0;
}

static int open_listeners(struct manager *m)
{
    const struct config *c = m->config;
    int n = sd_listen_fds(1), r, fd;

    if (n < 0)
        return log_error_errno(n, "Failed to read the sockets systemd passed: %m");
    for (int i = 0; i < n; i++) {
        enum listener_kind kind;
        fd = SD_LISTEN_FDS_START + i;
        if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 || listen_kind(fd, &kind) < 0)
            return log_error_errno(EINVAL, "fd %d from systemd is not a listening stream socket",
                                   fd);
        if (kind == LISTENER_TCP)
            m->tcp_port = listen_port(fd);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        r = server_add_listener(m->server, fd, kind);
        if (r < 0)
            return r;
        log_info("Serving on a %s socket from systemd (fd %d)",
                 kind == LISTENER_UNIX ? "Unix" : "TCP", fd);
    }
    if (n > 0)
        return 0;

    if (!isempty(c->server.socket)) {
        gid_t gid;
        r = resolve_group(c->server.socket_group, "server.socket_group", &gid);
        if (r < 0)
            return r;
        r = listen_unix(c->server.socket, (mode_t)c->server.socket_mode, gid, &fd);
        if (r == -EADDRINUSE)
            return log_error_errno(r, "Another jobsd already answers on %s", c->server.socket);
        if (r == -EEXIST)
            return log_error_errno(r, "%s exists and is not a socket; not touching it",
                                   c->server.socket);
        if (r < 0)
            return log_error_errno(r, "Failed to listen on %s: %m", c->server.socket);
        m->own_socket = true;
        r = server_add_listener(m->server, fd, LISTENER_UNIX);
        if (r < 0)
            return r;
        log_info("Listening on %s", c->server.socket);
    }
    if (c->server.tcp_enabled) {
        r = listen_tcp(c->server.tcp, c->server.tcp_allow_non_loopback, &fd, &m->tcp_port);
        if (r < 0)
            return log_error_errno(r, "Failed to listen on %s: %m", c->server.tcp);
        r = server_add_listener(m->server, fd, LISTENER_TCP);
        if (r < 0)
            return r;
        log_info("Listening on TCP port %u", m->tcp_port);
    }
    if (isempty(c->server.socket) && !c->server.tcp_enabled)
        return log_error_errno(EINVAL, "Nothing to listen on: no socket, no TCP, no sockets "
                                       "from systemd");
    return 0;
}

static int on_drain_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
    struct manager *m = userdata;
    struct server_stats st;
    server_get_stats(m->server, &st);
    if (st.in_flight == 0 || now_usec() >= m->drain_deadline) {
        if (st.in_flight)
            log_warning("Stopping with %u requests unanswered after the drain timeout",
                        st.in_flight);
        sd_event_exit(m->event, m->exit_code);
        return 0;
    }
    sd_event_source_set_time_relative(src, DRAIN_POLL_USEC);
    sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
    return 0;
}

static int on_terminate(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
    struct manager *m = userdata;
    if (m->drain_timer) {
        log_notice("Second signal: stopping now");
        sd_event_exit(m->event, m->exit_code);
        return 0;
    }
    log_info("Received SIG%s, draining requests in flight", sigabbrev_np((int)si->ssi_signo));
    sd_notify(0, "STOPPING=1\nSTATUS=Draining requests in flight");
    server_drain(m->server);
    m->drain_deadline = now_usec() + m->config->server.drain_timeout_ms * 1000;
    return sd_event_add_time_relative(m->event, &m->drain_timer, CLOCK_MONOTONIC, 0, 1000,
                                      on_drain_timer, m);
}

/* Frees upstream clients replaced by a reload once nothing runs on them. */
static int on_retire_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
    struct manager *m = userdata;
    bool left = false;
    for (size_t i = 0; i < RETIRED_MAX; i++) {
        struct upstream_stats st;
        if (!m->retired[i])
            continue;
        if (upstream_get_stats(m->retired[i], &st) >= 0 &&
            st.queued + st.in_flight + st.backing_off == 0)
            m->retired[i] = upstream_free(m->retired[i]);
        else
            left = true;
    }
    if (left) {
        sd_event_source_set_time_relative(src, RETIRE_POLL_USEC);
        sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
    }
    return 0;
}

static int retire_upstream(struct manager *m, struct upstream *old)
{
    if (!old)
        return 0;
    for (size_t i = 0; i < RETIRED_MAX; i++)
        if (!m->retired[i]) {
            m->retired[i] = old;
            if (!m->retire_timer)
                return sd_event_add_time_relative(m->event, &m->retire_timer, CLOCK_MONOTONIC,
                                                  RETIRE_POLL_USEC, 1000, on_retire_timer, m);
            sd_event_source_set_time_relative(m->retire_timer, RETIRE_POLL_USEC);
            return sd_event_source_set_enabled(m->retire_timer, SD_EVENT_ONESHOT);
        }
    /* Too many reloads in a row: the oldest goes now, cancelling its work. */
    log_warning("Reloaded too often while requests were running; cancelling the oldest");
    upstream_free(m->retired[0]);
    memmove(m->retired, m->retired + 1, sizeof(m->retired[0]) * (RETIRED_MAX - 1));
    m->retired[RETIRED_MAX - 1] = old;
    return 0;
}

static bool changed(char **names, const char *prefix)
{
    for (char **n = names; n && *n; n++)
        if (startswith(*n, prefix))
            return true;
    return false;
}

/* SIGHUP: parse everything again; apply it only if all of it is valid. */
static int on_reload(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
    struct manager *m = userdata;
    struct config *new = NULL;
    _cleanup_strv_free_ char **names = NULL;
    int r;

    sd_notify(0, "RELOADING=1\nSTATUS=Reloading the configuration");
    r = config_reload(m->config, m->args, NULL, &new);
    if (r < 0) {
        config_register_secrets(m->config);
        sd_notify(0, "READY=1\nSTATUS=Serving (the last reload failed)");
        return 0;
    }
    config_diff(m->config, new, &names, NULL);

    struct upstream *fresh = NULL;
    struct router_settings rs;
    _cleanup_free_ char *token = NULL;
    if (changed(names, "server.local_token") && new->server.tcp_enabled &&
        (r = config_local_token(new, &token)) < 0)
        goto fail;
    if (token) {
        free(m->local_token);
        m->local_token = TAKE_PTR(token);
    }
    if ((r = access_settings(m, new, &rs)) < 0)
        goto fail;
    if (changed(names, "workspace.") || changed(names, "upstream.max_") ||
        changed(names, "upstream.queue_max") || changed(names, "upstream.connect_timeout") ||
        changed(names, "upstream.timeout") || changed(names, "upstream.retry_budget")) {
        if ((r = make_upstream(m, new, &fresh)) < 0)
            goto fail;
        retire_upstream(m, m->upstream);
        m->upstream = fresh;
        proxy_set_upstream(m->proxy, fresh);
        if (m->poller)
            poller_set_upstream(m->poller, fresh);
    } else if (m->upstream && (changed(names, "upstream.rate") || changed(names, "upstream.burst")))
        upstream_set_rate(m->upstream, new->upstream.rate, (unsigned)new->upstream.burst);
    if (m->poller) {
        struct poller_settings pset;
        if ((r = poller_settings(new, &pset)) < 0 ||
            (r = poller_set_settings(m->poller, &pset)) < 0)
            goto fail;
    }
    router_set_access(m->router, &rs);
    log_set_max_level(new->daemon.log_level);

    config_free(m->config);
    m->config = new;
    config_register_secrets(m->config); /* config_reload() logged what changed */
    sd_notify(0, "READY=1\nSTATUS=Serving");
    return 0;

fail:
    log_error("Reloading the configuration failed, keeping the old one");
    config_free(new);
    config_register_secrets(m->config);
    sd_notify(0, "READY=1\nSTATUS=Serving (the last reload failed)");
    return 0;
}

int manager_start(struct manager *m)
{
    const struct config *c = m->config;
    int r;

    log_set_max_level(c->daemon.log_level);
    r = sd_event_default(&m->event);
    if (r < 0)
        return log_error_errno(r, "Failed to create the event loop: %m");

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    if ((r = sd_event_add_signal(m->event, &m->sig_term, SIGTERM, on_terminate, m)) < 0 ||
        (r = sd_event_add_signal(m->event, &m->sig_int, SIGINT, on_terminate, m)) < 0 ||
        (r = sd_event_add_signal(m->event, &m->sig_hup, SIGHUP, on_reload, m)) < 0)
        return log_error_errno(r, "Failed to watch signals: %m");

    /* TCP clients need the local token; so may sockets systemd passes. */
    if ((c->server.tcp_enabled || sd_listen_fds(0) > 0) &&
        (r = config_local_token(c, &m->local_token)) < 0)
        return r;

    r = store_open(c->archive.path, STORE_OPEN_CREATE, &m->store);
    if (r == -EPROTO)
        return log_error_errno(r, "%s was written by a newer jobsd; not touching it",
                               c->archive.path);
    if (r < 0)
        return log_error_errno(r, "Failed to open the archive %s: %m", c->archive.path);

    struct router_settings rs;
    if ((r = access_settings(m, c, &rs)) < 0)
        return r;
    r = router_new(&rs, &m->router);
    if (r < 0)
        return log_error_errno(r, "Failed to set up the router: %m");
    local_register(m->router, m);
    metrics_register(m->router, m);
    history_register(m->router, m->store);
    router_set_audit(m->router, on_audit, m);

    if ((r = make_upstream(m, c, &m->upstream)) < 0)
        return r;
    struct proxy_settings ps = {
        .request_timeout_usec = c->server.request_timeout_ms * 1000,
        .workspace_id = isempty(c->workspace.workspace_id) ? NULL : c->workspace.workspace_id,
    };
    if (c->cache.enabled) {
        struct cache_settings cs;
        cache_settings_default(&cs);
        cs.max_bytes = c->cache.max_size;
        cs.ttl_usec[CACHE_JOB] = c->cache.job_ttl_ms * 1000;
        cs.ttl_usec[CACHE_JOB_LIST] = cs.ttl_usec[CACHE_RUN_LIST] = c->cache.list_ttl_ms * 1000;
        cs.ttl_usec[CACHE_RUN] = cs.ttl_usec[CACHE_RUN_OUTPUT] = cs.ttl_usec[CACHE_RUN_EXPORT] =
            c->cache.run_ttl_ms * 1000;
        cs.ttl_usec[CACHE_PERMISSIONS] = c->cache.permissions_ttl_ms * 1000;
        cs.grace_usec = c->cache.stale_grace_ms * 1000;
        r = cache_new(&cs, &m->cache);
        if (r < 0)
            return log_error_errno(r, "Failed to set up the cache (cache.max_size too small?): %m");
    }
    r = archiver_new(m->store, &m->archiver);
    if (r >= 0)
        r = proxy_new(m->upstream, m->archiver, m->cache, &ps, &m->proxy);
    if (r < 0)
        return log_error_errno(r, "Failed to set up the proxy: %m");
    proxy_register(m->proxy, m->router);

    r = events_new(m->event, &m->events);
    if (r < 0)
        return log_error_errno(r, "Failed to set up the event stream: %m");
    events_register(m->events, m->router);
    if (c->poller.enabled) {
        struct poller_settings pset;
        if ((r = poller_settings(c, &pset)) < 0)
            return r;
        r = poller_new(m->event, &pset, m->upstream, m->store, m->cache, m->events, &m->poller);
        if (r < 0)
            return log_error_errno(r, "Failed to set up the poller: %m");
        poller_register(m->poller, m->router);
        proxy_set_write_hook(m->proxy, on_write, m);
    }

    struct server_settings ss = {
        .max_connections = (unsigned)c->server.max_connections,
        .connection_memory = c->server.connection_memory,
        .request_timeout_usec = c->server.request_timeout_ms * 1000,
        .idle_timeout_s = (unsigned)MAX(1, c->server.request_timeout_ms / 1000),
    };
    struct server_handlers h = router_handlers(m->router);
    r = server_new(m->event, &ss, &h, &m->server);
    if (r < 0)
        return log_error_errno(r, "Failed to set up the server: %m");
    r = open_listeners(m);
    if (r < 0)
        return r;

    if (c->daemon.watchdog) {
        /* Sends WATCHDOG=1 from the loop when systemd asks for it. */
        r = sd_event_set_watchdog(m->event, 1);
        if (r < 0)
            log_warning_errno(r, "Failed to enable the watchdog, ignoring: %m");
    }
    if (m->poller && (r = poller_start(m->poller)) < 0)
        return r;
    config_register_secrets(c);
    sd_notify(0, "READY=1\nSTATUS=Serving");
    return 0;
}

int manager_run(struct manager *m)
{
    int r = sd_event_loop(m->event);
    if (r < 0)
        return log_error_errno(r, "Event loop failed: %m");
    return r;
}
