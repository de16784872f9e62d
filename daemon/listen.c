#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/listen.h"
#include "proto/cleanup.h"
#include "proto/log.h"
#include "proto/strutil.h"

#define LISTEN_BACKLOG 1024

static int unix_address(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
    *sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
    if (strscpy(sa->sun_path, sizeof(sa->sun_path), path) < 0)
        return -ENAMETOOLONG;
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
    return 0;
}

/* 0 if nothing answers at path (a stale socket may be removed), -EADDRINUSE
 * if a daemon does, -EEXIST if path is not a socket. */
static int probe_existing(const char *path, const struct sockaddr_un *sa, socklen_t len)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (const struct sockaddr *)sa, len) == 0 || errno == EAGAIN ||
        errno == EINPROGRESS)
        return -EADDRINUSE;
    if (errno != ECONNREFUSED && errno != ENOENT)
        return -errno;
    /* Nobody listens: a leftover of a daemon that died. */
    if (unlink(path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

int listen_unix(const char *path, mode_t mode, gid_t gid, int *ret_fd)
{
    struct sockaddr_un sa;
    socklen_t len;
    int r = unix_address(path, &sa, &len);
    if (r < 0)
        return r;
    r = probe_existing(path, &sa, len);
    if (r < 0)
        return r;

    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    /* Bind with a tight umask so the socket is never wider than asked, even
     * for the instant before chmod. */
    mode_t old = umask(0177);
    r = bind(fd, (struct sockaddr *)&sa, len);
    umask(old);
    if (r < 0)
        return -errno;
    if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) {
        r = -errno;
        unlink(path);
        return r;
    }
    if (chmod(path, mode) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        r = -errno;
        unlink(path);
        return r;
    }
    *ret_fd = TAKE_FD(fd);
    return 0;
}

static bool is_loopback(const struct sockaddr *sa, socklen_t len)
{
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof(in));
        return (ntohl(in.sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof(in6));
        return IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr);
    }
    return false;
}

/* Splits "host:port" or "[v6]:port". */
static int split_host_port(const char *address, char *host, size_t n, char *port, size_t pn)
{
    const char *colon;
    if (address[0] == '[') {
        const char *close = strchr(address, ']');
        if (!close || close[1] != ':' || (size_t)(close - address - 1) >= n)
            return -EINVAL;
        memcpy(host, address + 1, (size_t)(close - address - 1));
        host[close - address - 1] = 0;
        colon = close + 1;
    } else {
        colon = strrchr(address, ':');
        if (!colon || (size_t)(colon - address) >= n || colon == address)
            return -EINVAL;
        memcpy(host, address, (size_t)(colon - address));
        host[colon - address] = 0;
    }
    int p;
    if (parse_int(colon + 1, &p) < 0 || p < 0 || p > 65535)
        return -EINVAL;
    snprintf(port, pn, "%d", p);
    return 0;
}

int listen_tcp(const char *address, bool allow_non_loopback, int *ret_fd, unsigned *ret_port)
{
    char host[256], port[8];
    int r = split_host_port(address, host, sizeof(host), port, sizeof(port));
    if (r < 0)
        return r;

    /* Numeric addresses and "localhost" only: no DNS on the way up. */
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    if (!streq(host, "localhost"))
        hints.ai_flags |= AI_NUMERICHOST;
    struct addrinfo *res = NULL;
    r = getaddrinfo(host, port, &hints, &res);
    if (r != 0)
        return -EINVAL;
    if (!res) {
        return -EINVAL;
    }
    if (!is_loopback(res->ai_addr, res->ai_addrlen) && !allow_non_loopback) {
        freeaddrinfo(res);
        return -EPERM;
    }
    _cleanup_close_ int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return -errno;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    r = bind(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (r < 0 || listen(fd, LISTEN_BACKLOG) < 0)
        return -errno;
    if (ret_port)
        *ret_port = listen_port(fd);
    *ret_fd = TAKE_FD(fd);
    return 0;
}

int listen_kind(int fd, enum listener_kind *ret)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_UNIX)
        *ret = LISTENER_UNIX;
    else if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
        *ret = LISTENER_TCP;
    else
        return -EAFNOSUPPORT;
    return 0;
}

unsigned listen_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, &ss, sizeof(in));
        return ntohs(in.sin_port);
    }
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, &ss, sizeof(in6));
        return ntohs(in6.sin6_port);
    }
    return 0;
}
