/* Unit tests for client/table: alignment, no trailing blanks, fitting a
 * width by cutting flexible columns only, and CSV. */
#include <errno.h>
#include <string.h>

#include "client/table.h"
#include "tests/tap.h"

static struct table *sample(void)
{
    static const char *const h[] = { "ID", "NAME", "STATE", NULL };
    static const char *const rows[][3] = {
        { "1", "short", "RUNNING" },
        { "22", "a much longer name here", "" },
        { "333", "ünïcode name", "TERMINATED" },
    };
    struct table *t = NULL;
    if (table_new(h, &t) < 0 || table_set_flexible(t, 1) < 0)
        return NULL;
    for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
        table_add_row(t);
        for (size_t c = 0; c < 3; c++)
            table_cell(t, rows[i][c], c == 0 ? NULL : rows[i][c]);
    }
    return t;
}

static void test_render(void)
{
    _cleanup_(table_freep) struct table *t = sample();
    struct buf b = BUF_INIT(64 * KIB);
    ok(t != NULL, "a table is made");
    is_int(table_rows(t), 3, "three rows");
    is_int(table_render(t, 0, &b), 0, "render without a width");
    is_str(b.data,
           "ID   NAME                     STATE\n"
           "1    short                    RUNNING\n"
           "22   a much longer name here\n"
           "333  ünïcode name             TERMINATED\n",
           "aligned, two spaces apart, no trailing blanks");
    buf_reset(&b);
    is_int(table_render(t, 30, &b), 0, "render into 30 columns");
    is_str(b.data,
           "ID   NAME           STATE\n"
           "1    short          RUNNING\n"
           "22   a much longe~\n"
           "333  ünïcode name   TERMINATED\n",
           "the flexible column is cut with '~' to fit");
    buf_reset(&b);
    is_int(table_render(t, 10, &b), 0, "render into too few columns");
    ok(strstr(b.data, "NAME    STATE") && strstr(b.data, "a muc~"),
       "a flexible column stops at its minimum width");
    ok(strstr(b.data, "TERMINATED") != NULL, "other columns are never cut");
    buf_reset(&b);
    is_int(table_render_csv(t, &b), 0, "render CSV");
    is_str(b.data,
           "ID,NAME,STATE\n1,short,RUNNING\n22,a much longer name here,\n"
           "333,ünïcode name,TERMINATED\n",
           "CSV has every cell");
    buf_done(&b);
}

static void test_cells(void)
{
    static const char *const h[] = { "WHEN", "NOTE", NULL };
    _cleanup_(table_freep) struct table *t = NULL;
    struct buf b = BUF_INIT(64 * KIB);
    is_int(table_new(h, &t), 0, "table_new");
    table_add_row(t);
    table_cell(t, "2026-01-01 00:00:00", "2026-01-01T00:00:00Z");
    table_cell(t, "a \"quoted\", note", NULL);
    is_int(table_error(t), 0, "no error so far");
    table_add_row(t);
    table_cell(t, "-", "");
    is_int(table_render_csv(t, &b), 0, "CSV");
    is_str(b.data, "WHEN,NOTE\n2026-01-01T00:00:00Z,\"a \"\"quoted\"\", note\"\n,\n",
           "CSV takes the csv text, quotes, and fills missing cells");
    buf_reset(&b);
    is_int(table_render(t, 0, &b), 0, "table");
    is_str(b.data, "WHEN                 NOTE\n2026-01-01 00:00:00  a \"quoted\", note\n-\n",
           "the table takes the display text");
    buf_done(&b);

    _cleanup_(table_freep) struct table *e1 = NULL, *e2 = NULL;
    table_new(h, &e1);
    is_int(table_cell(e1, "x", NULL), -EINVAL, "a cell before any row is refused");
    is_int(table_add_row(e1), -EINVAL, "and the error sticks");
    is_int(table_render(e1, 0, &b), -EINVAL, "render returns it");
    is_int(table_render_csv(e1, &b), -EINVAL, "so does CSV");
    table_new(h, &e2);
    table_add_row(e2);
    table_cell(e2, "a", NULL);
    table_cell(e2, "b", NULL);
    is_int(table_cell(e2, "extra", NULL), -EINVAL, "a cell past the last column is refused");
    is_int(table_error(e2), -EINVAL, "table_error says so");
    buf_done(&b);

    static const char *const none[] = { NULL };
    struct table *bad = NULL;
    is_int(table_new(none, &bad), -EINVAL, "a table needs a column");
    is_int(table_set_flexible(t, 5), -EINVAL, "no such column to mark");
}

int main(void)
{
    test_render();
    test_cells();
    return tap_done();
}
