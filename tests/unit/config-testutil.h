/* tests/unit/config-testutil.h: helpers shared by the config tests: a
 * private temporary directory per test, files with a given mode, the log
 * captured into one string, and loading a configuration from text. Every
 * string returned is owned by the helpers until tu_cleanup(). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "daemon/config.h"

/* A new directory from mkdtemp(), removed with everything in it at exit. */
const char *tu_tmpdir(void);
/* Writes content to dir/name with mode; returns the path. Aborts on error. */
const char *tu_write(const char *dir, const char *name, const char *content, mode_t mode);
/* A path in dir (not created). */
const char *tu_path(const char *dir, const char *name);

/* Log lines from now on are collected (and not printed); tu_log() returns
 * them joined with '\n'. tu_log_reset() empties the collection. */
void tu_capture(void);
const char *tu_log(void);
void tu_log_reset(void);
bool tu_log_has(const char *needle);

/* Loads with config file text (written as dir/jobsd.conf, mode 0600; NULL =
 * an empty file), environment entries "NAME=value" (NULL-terminated; HOME=dir is
 * added unless given) and extra argv words (NULL-terminated or NULL).
 * Returns config_load()'s result; the log is reset first. */
int tu_load(const char *dir, const char *conf, const char *const *env, const char *const *argv,
            struct config **ret);
/* config_print() into a string. */
const char *tu_print(const struct config *c);

/* Prints the captured log as TAP diagnostics. */
void tu_diag_log(void);
/* ok() that shows the captured log when it fails. */
#define ok_log(cond, ...)                                                                          \
    do {                                                                                           \
        if (!ok(cond, __VA_ARGS__))                                                                \
            tu_diag_log();                                                                         \
    } while (0)

/* Reads a whole file into a string; NULL if missing. */
char *tu_read_file(const char *path);
