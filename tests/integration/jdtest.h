/* tests/integration/jdtest.h: starts jobsd for the C integration tests in a
 * temp dir of its own (own config file, state dir, socket, HOME), through
 * tests/harness/launch so the test waits for READY=1, and stops it. A
 * struct jd owns its dir (removed at jd_stop) and two fwt clients: one on
 * the Unix socket, one on TCP with the local token. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "tests/fakews/fwtest.h"

struct jd {
    char dir[256];
    char socket[300];
    char log[300];    /* jobsd's stderr */
    char notify[300]; /* notify messages, then EXIT=<status> */
    int pid;
    uint16_t tcp_port;
    char local_token[128];
    struct fwt *unix_client;
    struct fwt *tcp_client;
};

/* Starts jobsd against a workspace at ws_port (127.0.0.1) with the
 * DATABRICKS_* variables in env ("NAME=value", NULL-terminated; HOST is
 * set from ws_port) and the extra jobsd arguments. Bails out on failure. */
struct jd *jd_start(uint16_t ws_port, const char *const *env, const char *const *args);
/* SIGTERM; waits (bounded) for the exit; returns its status; frees jd. */
int jd_stop(struct jd *d);
/* The same, keeping jd and its dir (archive, config) for jd_restart. */
int jd_stop_keep(struct jd *d);
/* Stops jobsd (SIGTERM, or SIGKILL when kill9) and starts it again in the
 * same dir with these env and args. Returns d. */
struct jd *jd_restart(struct jd *d, uint16_t ws_port, const char *const *env,
                      const char *const *args, bool kill9);
/* Sends "METHOD path" (plus headers: "Name: value\r\n" lines, or NULL) on
 * a new connection to a Unix socket and returns the fd, so that many
 * requests can be in flight at once; -1 on failure. */
int jd_send_raw(const char *socket_path, const char *method, const char *path, const char *headers);
/* Reads the whole answer (at most 30 s of waiting), closes fd, and returns
 * the status; *ret gets the headers and body (malloc'd). */
int jd_read_raw(int fd, char **ret);

/* The whole of jobsd's log so far (malloc'd). */
char *jd_read_log(const struct jd *d);
