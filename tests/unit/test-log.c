/* Unit tests for proto/log: levels, secrets scrubbed from every line,
 * control characters escaped, long lines cut, %m and the return value. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/log.h"
#include "proto/strutil.h"
#include "tests/tap.h"

static char last[LOG_LINE_MAX + 16];
static int last_level = -1;
static unsigned lines;

static void sink(int level, const char *line, void *userdata)
{
    (void)userdata;
    strscpy(last, sizeof(last), line);
    last_level = level;
    lines++;
}

int main(void)
{
    log_set_sink(sink, NULL);
    log_set_max_level(LOG_INFO);

    log_debug("hidden %d", 1);
    is_int(lines, 0, "debug is filtered at level info");
    log_info("shown %d", 2);
    is_str(last, "shown 2", "info line");
    is_int(last_level, LOG_INFO, "info level");

    is_int(log_error_errno(ENOENT, "open %s: %m", "x"), -ENOENT, "returns -errno");
    is_str(last, "open x: No such file or directory", "%m prints the error");
    is_int(log_warning_errno(-EIO, "w"), -EIO, "negative errno also returns -errno");
    errno = 77;
    log_info("keep errno");
    is_int(errno, 77, "errno is preserved");
    is_int(log_debug_errno(EPERM, "filtered"), -EPERM, "a filtered line still returns -errno");

    const char *token = "dapi0123456789abcdef";
    is_int(log_add_secret(token), 0, "secret registered");
    is_int(log_add_secret("abc"), -EINVAL, "short secrets refused");
    is_int(log_add_secret(token), 0, "registering twice is fine");
    log_info("Authorization: Bearer %s and again %s.", token, token);
    is_str(last, "Authorization: Bearer [redacted] and again [redacted].", "token scrubbed twice");
    ok(strstr(last, "dapi") == NULL, "no part of the token");

    /* A secret straddling the line's cut is still scrubbed. */
    char pad[LOG_LINE_MAX];
    memset(pad, 'p', sizeof(pad) - 1);
    pad[LOG_LINE_MAX - 10] = 0;
    log_info("%s%s", pad, token);
    ok(strstr(last, "dapi") == NULL, "a token at the cut leaves no prefix");
    ok(strlen(last) < LOG_LINE_MAX, "long line is cut to LOG_LINE_MAX");
    ok(strlen(last) >= 3 && streq(last + strlen(last) - 3, "..."), "cut line ends with ...");

    log_info("line\ninjected\x1b[31m");
    is_str(last, "line\\x0ainjected\\x1b[31m", "control characters escaped");

    is_int(log_remove_secret(token), 0, "a secret can be removed");
    is_int(log_remove_secret(token), -ENOENT, "removing it twice is -ENOENT");
    log_info("%s", token);
    is_str(last, token, "a removed secret is no longer scrubbed");
    log_add_secret(token);
    log_forget_secrets();
    log_info("%s", token);
    is_str(last, token, "forgotten secrets are no longer scrubbed");
    for (int i = 0; i < LOG_SECRETS_MAX; i++) {
        char s[32];
        snprintf(s, sizeof(s), "secret-%02d", i);
        log_add_secret(s);
    }
    is_int(log_add_secret("one-too-many"), -E2BIG, "the secret table is bounded");
    log_forget_secrets();

    is_str(redact(NULL), "(unset)", "redact(NULL)");
    is_str(redact(""), "(unset)", "redact empty");
    is_str(redact(token), "(redacted)", "redact a token");

    int level = -1;
    is_int(log_level_from_string("warning", &level), 0, "parse warning");
    is_int(level, LOG_WARNING, "warning = 4");
    is_int(log_level_from_string("err", &level), 0, "parse err");
    is_int(level, LOG_ERR, "err = 3");
    is_int(log_level_from_string("7", &level), 0, "parse 7");
    is_int(log_level_from_string("8", &level), -EINVAL, "8 is not a level");
    is_int(log_level_from_string("loud", &level), -EINVAL, "unknown name");
    is_str(log_level_to_string(LOG_DEBUG), "debug", "debug name");
    log_set_max_level(LOG_DEBUG);
    is_int(log_get_max_level(), LOG_DEBUG, "level set");
    log_set_max_level(99);
    is_int(log_get_max_level(), LOG_DEBUG, "an invalid level is ignored");
    return tap_done();
}
