#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/log.h"
#include "proto/strutil.h"

#define REDACTED "[redacted]"

static int log_max_level = LOG_INFO;
static enum log_target log_target = LOG_TARGET_AUTO;
static const char *log_ident = "jobsd";
static log_sink_t log_sink;
static void *log_sink_userdata;
static char *log_secrets[LOG_SECRETS_MAX];

static const char *const level_names[] = {
    [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit", [LOG_ERR] = "error",
    [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void log_set_max_level(int level)
{
    if (level >= LOG_EMERG && level <= LOG_DEBUG)
        log_max_level = level;
}

int log_get_max_level(void)
{
    return log_max_level;
}

/* journald passes "dev:ino" of the stream it reads in $JOURNAL_STREAM; when
 * stderr is that stream, it understands "<N>" priority prefixes. */
static bool stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    struct stat st;
    if (!e || fstat(STDERR_FILENO, &st) < 0)
        return false;
    char expected[64];
    snprintf(expected, sizeof(expected), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    return streq(e, expected);
}

void log_set_target(enum log_target target)
{
    if (target == LOG_TARGET_AUTO)
        target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_CONSOLE;
    log_target = target;
}

void log_set_ident(const char *ident)
{
    log_ident = ident ? ident : "jobsd";
}

int log_level_from_string(const char *s, int *ret)
{
    int n;
    if (!s)
        return -EINVAL;
    if (parse_int(s, &n) == 0) {
        if (n < LOG_EMERG || n > LOG_DEBUG)
            return -EINVAL;
        *ret = n;
        return 0;
    }
    if (streq(s, "err")) {
        *ret = LOG_ERR;
        return 0;
    }
    for (int i = LOG_EMERG; i <= LOG_DEBUG; i++)
        if (streq(s, level_names[i])) {
            *ret = i;
            return 0;
        }
    return -EINVAL;
}

const char *log_level_to_string(int level)
{
    return level >= LOG_EMERG && level <= LOG_DEBUG ? level_names[level] : NULL;
}

int log_add_secret(const char *secret)
{
    if (!secret || strlen(secret) < 4)
        return -EINVAL;
    for (size_t i = 0; i < LOG_SECRETS_MAX; i++)
        if (log_secrets[i] && streq(log_secrets[i], secret))
            return 0;
    for (size_t i = 0; i < LOG_SECRETS_MAX; i++)
        if (!log_secrets[i]) {
            log_secrets[i] = strdup(secret);
            return log_secrets[i] ? 0 : -ENOMEM;
        }
    return -E2BIG;
}

int log_remove_secret(const char *secret)
{
    for (size_t i = 0; secret && i < LOG_SECRETS_MAX; i++)
        if (log_secrets[i] && streq(log_secrets[i], secret)) {
            explicit_bzero(log_secrets[i], strlen(log_secrets[i]));
            free(log_secrets[i]);
            log_secrets[i] = NULL;
            return 0;
        }
    return -ENOENT;
}

void log_forget_secrets(void)
{
    for (size_t i = 0; i < LOG_SECRETS_MAX; i++) {
        if (!log_secrets[i])
            continue;
        explicit_bzero(log_secrets[i], strlen(log_secrets[i]));
        free(log_secrets[i]);
        log_secrets[i] = NULL;
    }
}

const char *redact(const char *secret)
{
    return isempty(secret) ? "(unset)" : "(redacted)";
}

void log_set_sink(log_sink_t sink, void *userdata)
{
    log_sink = sink;
    log_sink_userdata = userdata;
}

/* The earliest occurrence of any registered secret in s, and its length. */
static const char *find_secret(const char *s, size_t *ret_len)
{
    const char *best = NULL;
    for (size_t i = 0; i < LOG_SECRETS_MAX; i++) {
        if (!log_secrets[i])
            continue;
        const char *p = strstr(s, log_secrets[i]);
        if (p && (!best || p < best)) {
            best = p;
            *ret_len = strlen(log_secrets[i]);
        }
    }
    return best;
}

/* Copies msg into out (size n) with secrets replaced and control characters
 * escaped as \xNN, so neither a token nor a forged log line gets through. */
static bool scrub(const char *msg, char *out, size_t n)
{
    size_t o = 0;
    const char *p = msg;
    while (*p && o + 1 < n) {
        size_t slen = 0;
        const char *sec = find_secret(p, &slen);
        const char *stop = sec ? sec : p + strlen(p);
        for (; p < stop && o + 1 < n; p++) {
            unsigned char c = (unsigned char)*p;
            if (c < 0x20 || c == 0x7f) {
                if (o + 5 >= n)
                    goto done;
                snprintf(out + o, 5, "\\x%02x", c);
                o += 4;
            } else
                out[o++] = (char)c;
        }
        if (sec && p == sec) {
            if (o + sizeof(REDACTED) > n)
                goto done;
            memcpy(out + o, REDACTED, sizeof(REDACTED) - 1);
            o += sizeof(REDACTED) - 1;
            p += slen;
        }
    }
done:
    out[o] = 0;
    return *p == 0;
}

int log_internal(int level, int error, const char *func, const char *format, ...)
{
    char clean[LOG_LINE_MAX];
    char *raw = NULL;
    int saved = errno;
    va_list ap;

    /* Format the whole message before cutting it, so a secret that would
     * straddle the cut is still found and replaced whole. */
    errno = abs(error);
    va_start(ap, format);
    int n = vasprintf(&raw, format, ap);
    va_end(ap);
    if (n < 0) {
        raw = NULL;
        strscpy(clean, sizeof(clean), "(log message lost: out of memory)");
    } else {
        if (!scrub(raw, clean, sizeof(clean))) {
            size_t at = MIN(strlen(clean), sizeof(clean) - 4);
            memcpy(clean + at, "...", 4);
        }
        free(raw);
    }

    if (log_sink)
        log_sink(level, clean, log_sink_userdata);
    else {
        char line[LOG_LINE_MAX + 64];
        if (log_target == LOG_TARGET_AUTO)
            log_set_target(LOG_TARGET_AUTO);
        if (log_target == LOG_TARGET_JOURNAL)
            n = snprintf(line, sizeof(line), "<%d>%s\n", level, clean);
        else if (level <= LOG_WARNING)
            n = snprintf(line, sizeof(line), "%s: %s: %s\n", log_ident, log_level_to_string(level),
                         clean);
        else
            n = snprintf(line, sizeof(line), "%s: %s\n", log_ident, clean);
        if (n > 0) {
            size_t len = MIN((size_t)n, sizeof(line) - 1);
            /* One write per line, so concurrent writers do not interleave. */
            ssize_t w = write(STDERR_FILENO, line, len);
            (void)w;
        }
    }
    (void)func;
    errno = saved;
    return -abs(error);
}
