/* proto/strutil.h: checked number parsing, small string helpers and a
 * bounded growable buffer. The only place where strtol and friends are
 * called. struct buf owns its data; buf_done() frees it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/macro.h"

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0; end bounds it. */
size_t utf8_sequence(const char *s, const char *end) _pure_;
/* Replaces, in place, each byte of s that starts no well-formed UTF-8
 * sequence with '?', so that s may go into JSON (whose text is UTF-8). */
void utf8_scrub(char *s);

/* Decimal, optional leading '-', no spaces, no trailing text.
 * Return 0, -EINVAL (not a number) or -ERANGE; ret untouched on failure. */
int parse_int64(const char *s, int64_t *ret);
int parse_uint64(const char *s, uint64_t *ret);
int parse_int(const char *s, int *ret);
/* A positive id (job_id, run_id): 1..INT64_MAX, digits only. */
int parse_id(const char *s, int64_t *ret);
/* true/false, yes/no, on/off, 1/0. */
int parse_bool(const char *s, bool *ret);
/* "512", "64K", "8M", "2G" (powers of 1024). */
int parse_size(const char *s, uint64_t *ret);
/* "250ms", "30s", "5m", "2h", "1d"; a bare number is seconds. In ms. */
int parse_duration_ms(const char *s, uint64_t *ret);

static inline bool streq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static inline bool isempty(const char *s)
{
    return !s || !*s;
}

/* Returns the rest of s after prefix, or NULL if s does not start with it. */
static inline const char *startswith(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* Copies src into dst of size n, always terminated. -E2BIG if cut. */
int strscpy(char *dst, size_t n, const char *src);

/* Concatenates the strings up to a NULL into a new allocation. */
char *strjoin_internal(const char *first, ...) __attribute__((sentinel));
#define strjoin(...) strjoin_internal(__VA_ARGS__, NULL)

/* Hex of len bytes into a new string. */
char *hexmem(const void *p, size_t len);
/* The value of one hex digit, or -1. */
int unhexchar(char c) _const_;
/* Whether s holds a control character (below 0x20, or DEL). */
bool has_control_chars(const char *s) _pure_;

/* A growable byte buffer with a hard maximum. Always NUL-terminated. */
struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

#define BUF_INIT(maximum) ((struct buf){ .max = (maximum) })

/* -EMSGSIZE once len would pass max (nothing is appended), -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_appendf(struct buf *b, const char *fmt, ...) _printf_(2, 3);
/* Appends s percent-encoded: every byte but RFC 3986's unreserved ones
 * (ALPHA DIGIT - . _ ~) as %XX. */
int buf_append_urlencoded(struct buf *b, const char *s);
void buf_reset(struct buf *b);
void buf_done(struct buf *b);
/* Hands the data to the caller (who frees it) and empties the buffer. */
char *buf_steal(struct buf *b, size_t *ret_len);
