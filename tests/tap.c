#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"

static int tap_count;
static int tap_failed;

static void tap_report(bool pass, const char *file, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static void tap_report(bool pass, const char *file, int line, const char *fmt, va_list ap)
{
    tap_count++;
    if (!pass)
        tap_failed++;
    printf("%s %d - ", pass ? "ok" : "not ok", tap_count);
    vprintf(fmt, ap);
    putchar('\n');
    if (!pass)
        printf("#   failed at %s:%d\n", file, line);
    fflush(stdout);
}

bool tap_ok_at(bool cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_report(cond, file, line, fmt, ap);
    va_end(ap);
    return cond;
}

bool tap_is_int_at(int64_t got, int64_t expected, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    bool pass = got == expected;
    va_start(ap, fmt);
    tap_report(pass, file, line, fmt, ap);
    va_end(ap);
    if (!pass)
        printf("#        got: %lld\n#   expected: %lld\n", (long long)got, (long long)expected);
    return pass;
}

bool tap_is_str_at(const char *got, const char *expected, const char *file, int line,
                   const char *fmt, ...)
{
    va_list ap;
    bool pass = (got && expected) ? strcmp(got, expected) == 0 : got == expected;
    va_start(ap, fmt);
    tap_report(pass, file, line, fmt, ap);
    va_end(ap);
    if (!pass)
        printf("#        got: %s%s%s\n#   expected: %s%s%s\n", got ? "'" : "", got ? got : "NULL",
               got ? "'" : "", expected ? "'" : "", expected ? expected : "NULL",
               expected ? "'" : "");
    return pass;
}

void tap_diag(const char *fmt, ...)
{
    va_list ap;
    fputs("# ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

void tap_skip(const char *fmt, ...)
{
    va_list ap;
    tap_count++;
    printf("ok %d # SKIP ", tap_count);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

int tap_done(void)
{
    printf("1..%d\n", tap_count);
    if (tap_count == 0) {
        printf("# no test ran\n");
        return 1;
    }
    return tap_failed ? 1 : 0;
}

void tap_skip_all(const char *reason)
{
    printf("1..0 # SKIP %s\n", reason);
    exit(0);
}
