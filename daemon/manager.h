/* daemon/manager.h: the daemon as a whole. Owns the sd-event loop, the live
 * configuration, the listening sockets, the server, the router, the upstream
 * client and the proxy; handles signals (SIGHUP reloads), readiness, the
 * watchdog and the drain at shutdown. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "daemon/config.h"

struct manager;

/* Takes c. args must outlive the manager (SIGHUP reads the same sources). */
int manager_new(struct config *c, const struct config_args *args, struct manager **ret);
struct manager *manager_free(struct manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manager *, manager_free)

/* Opens or takes the sockets, starts serving, tells systemd READY=1. */
int manager_start(struct manager *m);
/* Runs the loop until SIGTERM/SIGINT and a drain; returns the exit code. */
int manager_run(struct manager *m);

/* For the local handlers. */
const struct config *manager_config(struct manager *m);
uint64_t manager_uptime_usec(struct manager *m);
unsigned manager_tcp_port(struct manager *m);
struct server *manager_server(struct manager *m);
struct upstream *manager_upstream(struct manager *m); /* NULL without a workspace */
struct proxy *manager_proxy(struct manager *m);
struct store *manager_store(struct manager *m);
struct router *manager_router(struct manager *m);
struct cache *manager_cache(struct manager *m);
struct archiver *manager_archiver(struct manager *m);
struct poller *manager_poller(struct manager *m); /* NULL with poller.enabled = no */
struct events *manager_events(struct manager *m);
