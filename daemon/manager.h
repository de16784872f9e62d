/* daemon/manager.h: the daemon as a whole. Owns the sd-event loop, the
 * listening sockets, the server, the router and every module hung off them;
 * handles signals, readiness, the watchdog and shutdown. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

struct manager;

struct manager_settings {
    const char *socket_path; /* NULL: no Unix socket of our own */
    mode_t socket_mode;
    gid_t socket_gid; /* (gid_t)-1: keep */
    const char *tcp;  /* "127.0.0.1:8990" or NULL */
    bool tcp_allow_non_loopback;
    const char *state_dir;
    const char *local_token;      /* NULL: read or create <state_dir>/local-token */
    const char *local_token_file; /* NULL: <state_dir>/local-token */
    gid_t read_only_gid;
    unsigned max_connections;
    size_t connection_memory;
    uint64_t request_timeout_usec;
    uint64_t drain_timeout_usec;
    const char *workspace_host; /* for status and host metadata; no secret */
    const char *workspace_id;
};

int manager_new(const struct manager_settings *settings, struct manager **ret);
struct manager *manager_free(struct manager *m);

/* Opens or takes the sockets, starts serving, tells systemd READY=1. */
int manager_start(struct manager *m);
/* Runs the loop until SIGTERM/SIGINT and a drain; returns the exit code. */
int manager_run(struct manager *m);

/* For /jobsd/v1/status and host metadata. */
sd_event *manager_event(struct manager *m);
uint64_t manager_uptime_usec(struct manager *m);
unsigned manager_tcp_port(struct manager *m);
const struct manager_settings *manager_settings(struct manager *m);
struct server *manager_server(struct manager *m);
