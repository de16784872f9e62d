/* proto/log.h: leveled log lines to stderr (a terminal) or with journald
 * priority prefixes (under systemd), every line scrubbed of registered
 * secrets and of control characters. Owns the global log state: the level,
 * the target, an optional sink, and private copies of registered secrets. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <syslog.h>

#include "proto/macro.h"

enum log_target {
    LOG_TARGET_AUTO,    /* journal prefixes if stderr is the journal stream */
    LOG_TARGET_CONSOLE, /* "time ident level: message" */
    LOG_TARGET_JOURNAL, /* "<N>message", read by journald */
};

/* Longest line written; a longer message is cut and ends with "...". */
#define LOG_LINE_MAX 2048
/* How many secrets can be registered at once. */
#define LOG_SECRETS_MAX 16

void log_set_max_level(int level);
int log_get_max_level(void) _pure_;
void log_set_target(enum log_target target);
void log_set_ident(const char *ident);

/* Parses "debug", "info", "notice", "warning", "err"/"error", "crit" or a
 * number 0..7. Returns 0 or -EINVAL. */
int log_level_from_string(const char *s, int *ret);
const char *log_level_to_string(int level);

/* Every later line has each occurrence of secret replaced by "[redacted]".
 * The secret is copied. -EINVAL for a secret shorter than 4 bytes (it would
 * scrub ordinary text), -E2BIG when LOG_SECRETS_MAX are registered. */
int log_add_secret(const char *secret);
/* Forgets one secret (a token that was replaced). -ENOENT if unknown. */
int log_remove_secret(const char *secret);
void log_forget_secrets(void);

/* The one way to print a secret's presence: "(unset)" or "(redacted)". */
const char *redact(const char *secret) _pure_;

/* Replaces the output: each finished, scrubbed line is handed to sink.
 * NULL restores the default target. For tests and the daemon's own sinks. */
typedef void (*log_sink_t)(int level, const char *line, void *userdata);
void log_set_sink(log_sink_t sink, void *userdata);

/* Formats and writes one line. errno is set to `error` while formatting so
 * "%m" prints it. Returns -abs(error), so callers can `return log_...`. */
int log_internal(int level, int error, const char *func, const char *format, ...) _printf_(4, 5);

#define log_full_errno(level, error, ...)                                                          \
    ({                                                                                             \
        int _level_ = (level), _e_ = (error);                                                      \
        log_get_max_level() >= _level_ ? log_internal(_level_, _e_, __func__, __VA_ARGS__)         \
                                       : -abs(_e_);                                                \
    })

#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)
