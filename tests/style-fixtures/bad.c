/* Violations that tests/style-selftest.sh expects tests/style.sh to find.
 * Comments and strings mentioning sprintf( or atoi( do not count. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int bad(char *dst, const char *src);
int bad(char *dst, const char *src)
{
    const char *doc = "sprintf(x) in a string is fine";
    sprintf(dst, "%s", src);
    strcpy(dst, doc);
    int fd = open("/tmp/x",
                  O_RDONLY);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    FILE *f = fopen("/tmp/y", "r");
    long v = strtol(src, NULL, 10);
    return atoi(src) + fd + s + (f != NULL) + (int)v;
}
