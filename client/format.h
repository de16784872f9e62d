/* client/format.h: how jobsctl writes values for people and for CSV:
 * durations, times (local or UTC), CSV fields, display widths. Pure
 * functions over caller buffers; owns nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/strutil.h"

/* Enough for every formatted time or duration. */
#define FORMAT_MAX 64

/* "850ms", "42s", "3m05s", "2h03m", "3d04h"; "-" for a negative value. */
const char *format_duration(int64_t ms, char *buf, size_t n);
/* "2026-11-29 14:50:01" in local time (TZ); "-" for 0 or less. */
const char *format_time_local(int64_t ms, char *buf, size_t n);
/* "2026-11-29T14:50:01Z"; "" for 0 or less. */
const char *format_time_iso(int64_t ms, char *buf, size_t n);
/* Milliseconds as seconds with three decimals: "14.250". */
const char *format_seconds(int64_t ms, char *buf, size_t n);

/* Appends s as one CSV field (RFC 4180: quoted when it holds a comma, a
 * quote, CR or LF, or starts or ends with a space; quotes doubled). */
int csv_append_field(struct buf *b, const char *s);

/* Columns s takes on a terminal: UTF-8 code points, control bytes as 1. */
size_t display_width(const char *s);
/* The byte length of the longest prefix of s that fits in cols columns. */
size_t display_prefix(const char *s, size_t cols);

/* Parses a time for --since/--until: epoch milliseconds (13+ digits),
 * "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS]" or with 'T' (local time, or UTC with
 * a trailing 'Z'), or an age such as "90m", "12h", "7d" meaning that long
 * before now_ms. Returns 0 or -EINVAL. */
int parse_time_arg(const char *s, int64_t now_ms, int64_t *ret);
