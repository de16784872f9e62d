/* client/table.h: a table of text cells, printed aligned to fit a width or
 * as CSV. struct table owns copies of every header and cell; table_free()
 * frees them. */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "proto/cleanup.h"
#include "proto/strutil.h"

#define TABLE_COLUMNS_MAX 16
/* A column is never squeezed below this many columns (or its header). */
#define TABLE_MIN_WIDTH 6

struct table;

/* headers: NULL-terminated, at most TABLE_COLUMNS_MAX. */
int table_new(const char *const *headers, struct table **ret);
struct table *table_free(struct table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct table *, table_free)

/* Marks a column that may be cut when the table is too wide (names,
 * messages); others (ids, states, times) are never cut. Several may be
 * marked; the widest is cut first. */
int table_set_flexible(struct table *t, size_t column);

/* Starts a row; then table_cell() once per column, in order. csv may be
 * NULL (the same as text). Missing cells print empty. The first failure
 * sticks: later calls return it and do nothing, and so do the renderers,
 * so a view may check once at the end (table_error()). */
int table_add_row(struct table *t);
int table_cell(struct table *t, const char *text, const char *csv);
int table_error(const struct table *t);
size_t table_rows(const struct table *t);

/* Aligned columns separated by two spaces, a header line first, no
 * trailing blanks. width 0: no limit; otherwise flexible columns are cut
 * (ending with "~") until each line fits, as far as TABLE_MIN_WIDTH
 * allows. Writes into out. */
int table_render(const struct table *t, size_t width, struct buf *out);
/* RFC 4180 CSV with a header line and CRLF-free "\n" line ends. */
int table_render_csv(const struct table *t, struct buf *out);
