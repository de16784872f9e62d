/* tests/fakews/server.h: the HTTP side of fakews: libmicrohttpd with its
 * own polling thread, routing through proto's endpoint table, faults, and
 * a timer thread that resumes delayed and hanging connections. Owns the MHD
 * daemon and the timer thread; the workspace stays the caller's. */
#pragma once

#include <stdint.h>

struct fakews;
struct server;

/* Serves ws on 127.0.0.1:port (0: any free port). */
int server_new(struct fakews *ws, uint16_t port, struct server **ret);
uint16_t server_port(const struct server *s);
/* Stops accepting, resumes and closes every suspended connection, stops. */
struct server *server_free(struct server *s);
