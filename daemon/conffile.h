/* daemon/conffile.h: reading configuration and credential files safely
 * (bounded, O_CLOEXEC, regular files only, ownership and mode checked on the
 * descriptor that was read) and splitting INI text into keys with inih.
 * conffile_read() hands the caller a buffer it frees. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "proto/macro.h"

/* The longest line inih is allowed to hand us (bytes + "\r\n\0"). */
#define CONFFILE_MAX_LINE ((int)(1 * MIB + 3))

/* Reads the whole regular file at path, at most max bytes, into a new
 * NUL-terminated buffer. ret_st receives fstat() of the descriptor read.
 * -ENOENT (not logged, callers decide), -EFBIG, -EISDIR/-EINVAL (not a
 * regular file), -EBADMSG (a NUL byte), other -errno. Only -ENOENT is left
 * for the caller to log; everything else is logged here with the path. */
int conffile_read(const char *path, size_t max, char **ret_data, size_t *ret_len,
                  struct stat *ret_st);

/* Refuses a file that another user could change or, when it holds a secret
 * (what names it, e.g. "workspace.token"), read: it must belong to root or
 * the running uid, not be writable by group or others, and with a secret not
 * be readable by them either. Logs a message that says how to fix it and
 * returns -EPERM, or 0. */
int conffile_check_access(const char *path, const struct stat *st, const char *what);

/* Called for each "key = value" line. section is "" before the first
 * [section]; value is NULL for a line without '='. The value has comments
 * (" #" or " ;" after a space) and one pair of surrounding double quotes
 * removed. Return 0 or a negative errno (the handler logs it). */
typedef int (*conffile_handler_t)(const char *section, const char *key, const char *value,
                                  unsigned line, void *userdata);

/* Splits INI text with inih (BOM allowed, no multi-line values, no length
 * limit on lines), calling handler for each key. Syntax errors are logged as
 * "path:line: ...". Returns 0, or -EINVAL if inih or any handler call failed. */
int conffile_parse_ini(const char *path, const char *data, conffile_handler_t handler,
                       void *userdata);

/* Removes comments and surrounding quotes from a raw INI value, in place.
 * Returns 0 or -EINVAL (text after a closing quote). */
int conffile_unquote(char *value);

/* True when a value must be quoted to read back unchanged. */
bool conffile_needs_quotes(const char *value);
