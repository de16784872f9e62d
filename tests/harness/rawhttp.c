/* tests/harness/rawhttp: sends its standard input, byte for byte, on a new
 * connection to a Unix socket (or 127.0.0.1:PORT), then prints what comes
 * back until the server closes or TIMEOUT seconds pass; exits 0 when the
 * server closed the connection, 1 when it was still open at the timeout,
 * 2 on a usage or connect error. For requests no well-behaved client
 * sends (tests/integration/security.sh).
 *   rawhttp SOCKET-PATH|PORT [TIMEOUT-S] <request */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/strutil.h"
#include "tests/bench/benchnet.h"

int main(int argc, char **argv)
{
    int timeout_s = 5, port = 0, fd;
    if (argc < 2 || (argc > 2 && parse_int(argv[2], &timeout_s) < 0)) {
        fprintf(stderr, "usage: rawhttp SOCKET-PATH|PORT [TIMEOUT-S] <request\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (parse_int(argv[1], &port) == 0) {
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            close(fd);
            fd = -errno;
        }
    } else
        fd = connect_unix(argv[1]);
    if (fd < 0) {
        fprintf(stderr, "rawhttp: cannot connect to %s: %s\n", argv[1], strerror(-fd));
        return 2;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
        if (write(fd, buf, (size_t)n) != n)
            break; /* the server may close early: read what it said */
    int64_t end = now_ms() + (int64_t)timeout_s * 1000;
    for (;;) {
        int64_t left = end - now_ms();
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return 1;
        n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return 0;
        fwrite(buf, 1, (size_t)n, stdout);
        fflush(stdout);
    }
}
