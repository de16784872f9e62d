/* Calls that tests/style.sh must accept. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>

int good(char *dst, size_t n, const char *src);
int good(char *dst, size_t n, const char *src)
{
    int fd = open(src,
                  O_RDONLY | O_CLOEXEC);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FILE *f = fopen(src, "re");
    return snprintf(dst, n, "%d", fd + s + (f != NULL));
}
