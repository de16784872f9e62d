/* daemon/listen.h: the listening sockets. Creates the Unix socket safely (a
 * live daemon already answering on the path is detected, never unlinked),
 * the optional TCP socket (loopback only unless allowed), or takes the
 * sockets systemd passes. Returned fds belong to the caller. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "daemon/request.h"

/* Creates, binds and listens on a Unix socket at path with mode, owned by
 * group gid ((gid_t)-1 to keep). -EADDRINUSE if a daemon answers there,
 * -EEXIST if path is something other than a socket. */
int listen_unix(const char *path, mode_t mode, gid_t gid, int *ret_fd);

/* "127.0.0.1:8990", "[::1]:8990", "localhost:0". A non-loopback address is
 * -EPERM unless allow_non_loopback. ret_port gets the bound port. */
int listen_tcp(const char *address, bool allow_non_loopback, int *ret_fd, unsigned *ret_port);

/* Is fd a Unix or a TCP listening socket? */
int listen_kind(int fd, enum listener_kind *ret);

/* The bound port of a TCP socket (0 for others). */
unsigned listen_port(int fd);
