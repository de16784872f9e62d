/* notify-recv: a NOTIFY_SOCKET of the test's own, as systemd would hold it.
 *
 *   notify-recv PATH
 *
 * Binds a datagram socket at PATH, prints "LISTENING", then prints every
 * field of every message it receives on a line of its own, after the pid
 * the kernel vouches sent it (SCM_CREDENTIALS, which systemd uses for
 * NotifyAccess=main):
 *
 *   1234 READY=1
 *   1234 STATUS=Serving
 *
 * It runs until it is killed; tests start it with tests/harness/launch
 * --line LISTENING --log FILE, which records the lines. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/cleanup.h"
#include "proto/strutil.h"

#define MESSAGE_MAX 4096

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: notify-recv PATH\n");
        return 2;
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strscpy(sa.sun_path, sizeof(sa.sun_path), argv[1]) < 0) {
        fprintf(stderr, "notify-recv: %s: path too long\n", argv[1]);
        return 2;
    }
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "notify-recv: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    printf("LISTENING\n");
    fflush(stdout);

    for (;;) {
        char buf[MESSAGE_MAX + 1];
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(struct ucred))];
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = MESSAGE_MAX };
        struct msghdr mh = { .msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = &control,
                             .msg_controllen = sizeof(control) };
        ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "notify-recv: recvmsg: %s\n", strerror(errno));
            return 1;
        }
        buf[n] = 0;
        pid_t pid = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
                struct ucred uc;
                memcpy(&uc, CMSG_DATA(c), sizeof(uc));
                pid = uc.pid;
            }
        /* sd_notify() separates fields with newlines; systemd ignores
         * empty ones, and so do we. */
        for (char *field = buf, *next; field && *field; field = next) {
            next = strchr(field, '\n');
            if (next)
                *next++ = 0;
            if (*field)
                printf("%d %s\n", (int)pid, field);
        }
        fflush(stdout);
    }
}
