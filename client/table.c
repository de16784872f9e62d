#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "client/format.h"
#include "client/table.h"

struct cell {
    char *text;
    char *csv; /* NULL: the same as text */
};

struct table {
    size_t ncols;
    char *headers[TABLE_COLUMNS_MAX];
    bool flexible[TABLE_COLUMNS_MAX];
    struct cell *cells; /* rows * ncols */
    size_t rows;
    size_t cap;    /* rows allocated */
    size_t filled; /* cells of the last row set so far */
    int error;     /* the first failure of table_add_row() or table_cell() */
};

int table_new(const char *const *headers, struct table **ret)
{
    _cleanup_(table_freep) struct table *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    for (; headers[t->ncols]; t->ncols++) {
        if (t->ncols == TABLE_COLUMNS_MAX)
            return -E2BIG;
        if (!(t->headers[t->ncols] = strdup(headers[t->ncols])))
            return -ENOMEM;
    }
    if (t->ncols == 0)
        return -EINVAL;
    *ret = TAKE_PTR(t);
    return 0;
}

struct table *table_free(struct table *t)
{
    if (!t)
        return NULL;
    for (size_t i = 0; i < t->ncols; i++)
        free(t->headers[i]);
    for (size_t i = 0; i < t->rows * t->ncols; i++) {
        free(t->cells[i].text);
        free(t->cells[i].csv);
    }
    free(t->cells);
    free(t);
    return NULL;
}

int table_set_flexible(struct table *t, size_t column)
{
    if (column >= t->ncols)
        return -EINVAL;
    t->flexible[column] = true;
    return 0;
}

int table_add_row(struct table *t)
{
    if (t->error)
        return t->error;
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct cell *c = reallocarray(t->cells, cap * t->ncols, sizeof(*c));
        if (!c)
            return t->error = -ENOMEM;
        memset(c + t->cap * t->ncols, 0, (cap - t->cap) * t->ncols * sizeof(*c));
        t->cells = c;
        t->cap = cap;
    }
    t->rows++;
    t->filled = 0;
    return 0;
}

int table_cell(struct table *t, const char *text, const char *csv)
{
    if (t->error)
        return t->error;
    if (t->rows == 0 || t->filled == t->ncols)
        return t->error = -EINVAL;
    struct cell *c = &t->cells[(t->rows - 1) * t->ncols + t->filled];
    if (!(c->text = strdup(text ? text : "")) || (csv && !(c->csv = strdup(csv))))
        return t->error = -ENOMEM;
    t->filled++;
    return 0;
}

int table_error(const struct table *t)
{
    return t->error;
}

size_t table_rows(const struct table *t)
{
    return t->rows;
}

static const char *cell_text(const struct table *t, size_t row, size_t col)
{
    const char *s = t->cells[row * t->ncols + col].text;
    return s ? s : "";
}

/* Cuts the widest flexible column by one; false if none can be. */
static bool squeeze(const struct table *t, size_t *w)
{
    size_t best = t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        size_t min = MAX(TABLE_MIN_WIDTH, display_width(t->headers[c]));
        if (!t->flexible[c] || w[c] <= min)
            continue;
        if (best == t->ncols || w[c] > w[best])
            best = c;
    }
    if (best == t->ncols)
        return false;
    w[best]--;
    return true;
}

static int put_cell(struct buf *out, const char *s, size_t width, bool last)
{
    size_t dw = display_width(s);
    int r;
    if (dw > width) {
        r = buf_append(out, s, display_prefix(s, width - 1));
        if (r >= 0)
            r = buf_append(out, "~", 1);
        dw = width;
    } else
        r = buf_append(out, s, strlen(s));
    for (size_t i = dw; r >= 0 && !last && i < width + 2; i++)
        r = buf_append(out, " ", 1);
    return r;
}

static int put_line(const struct table *t, const size_t *w, struct buf *out, ssize_t row)
{
    /* The last cell that is not empty ends the line: no trailing blanks. */
    size_t last = 0;
    for (size_t c = 0; c < t->ncols; c++)
        if (*(row < 0 ? t->headers[c] : cell_text(t, (size_t)row, c)))
            last = c;
    int r = 0;
    for (size_t c = 0; r >= 0 && c <= last; c++)
        r = put_cell(out, row < 0 ? t->headers[c] : cell_text(t, (size_t)row, c), w[c], c == last);
    return r < 0 ? r : buf_append(out, "\n", 1);
}

int table_render(const struct table *t, size_t width, struct buf *out)
{
    size_t w[TABLE_COLUMNS_MAX];
    if (t->error)
        return t->error;
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = display_width(t->headers[c]);
        for (size_t row = 0; row < t->rows; row++)
            w[c] = MAX(w[c], display_width(cell_text(t, row, c)));
    }
    if (width > 0)
        for (;;) {
            size_t total = 2 * (t->ncols - 1);
            for (size_t c = 0; c < t->ncols; c++)
                total += w[c];
            if (total <= width || !squeeze(t, w))
                break;
        }
    int r = put_line(t, w, out, -1);
    for (size_t row = 0; r >= 0 && row < t->rows; row++)
        r = put_line(t, w, out, (ssize_t)row);
    return r;
}

int table_render_csv(const struct table *t, struct buf *out)
{
    int r = t->error;
    for (ssize_t row = -1; r >= 0 && row < (ssize_t)t->rows; row++)
        for (size_t c = 0; r >= 0 && c < t->ncols; c++) {
            const char *s = t->headers[c];
            if (row >= 0) {
                const struct cell *cell = &t->cells[(size_t)row * t->ncols + c];
                s = cell->csv ? cell->csv : cell->text ? cell->text : "";
            }
            r = csv_append_field(out, s);
            if (r >= 0)
                r = buf_append(out, c + 1 == t->ncols ? "\n" : ",", 1);
        }
    return r;
}
