/* jobsd.conf(5) and the option table agree: every option of the table has
 * an entry under OPTIONS with its type, default and reload behaviour, and
 * the page documents no option the table lacks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "proto/cleanup.h"
#include "proto/strutil.h"
#include "tests/tap.h"
#include "tests/unit/config-testutil.h"

#define MAN_PAGE TOP_SRCDIR "/man/jobsd.conf.5"
#define MAX_ENTRIES 256

struct entry {
    char name[128];
    char line[512];
    char doc[1024]; /* the text after ".br", lines joined */
    bool matched;
};

/* roff's "\-" is a plain '-' here. */
static void unescape(char *s)
{
    char *o = s;
    for (const char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] == '-')
            p++;
        *o++ = *p;
    }
    *o = 0;
}

int main(void)
{
    _cleanup_free_ char *text = tu_read_file(MAN_PAGE);
    if (!text)
        tap_skip_all("cannot read " MAN_PAGE);

    static struct entry entries[MAX_ENTRIES];
    size_t n = 0;
    char section[64] = "";
    bool in_options = false;
    /* Lines, as an array, so an entry can look ahead. */
    char *lines[8192];
    size_t nl = 0;
    for (char *l = strtok(text, "\n"); l && nl < ELEMENTSOF(lines); l = strtok(NULL, "\n"))
        lines[nl++] = l;

    for (size_t i = 0; i < nl; i++) {
        const char *rest;
        if ((rest = startswith(lines[i], ".SH "))) {
            in_options = streq(rest, "OPTIONS");
            continue;
        }
        if (!in_options)
            continue;
        if ((rest = startswith(lines[i], ".SS \"[")) && strlen(rest) >= 2) {
            snprintf(section, sizeof(section), "%.*s", (int)(strlen(rest) - 2), rest);
            continue;
        }
        if (streq(lines[i], ".TP") && i + 2 < nl && (rest = startswith(lines[i + 1], ".B ")) &&
            n < MAX_ENTRIES) {
            snprintf(entries[n].name, sizeof(entries[n].name), "%s.%s", section, rest);
            unescape(entries[n].name);
            snprintf(entries[n].line, sizeof(entries[n].line), "%s", lines[i + 2]);
            unescape(entries[n].line);
            /* ".br" then the table's doc line, perhaps wrapped, then more prose. */
            size_t k = i + 3;
            if (k < nl && streq(lines[k], ".br"))
                for (k++; k < nl && lines[k][0] != '.'; k++) {
                    size_t len = strlen(entries[n].doc);
                    snprintf(entries[n].doc + len, sizeof(entries[n].doc) - len, "%s%s",
                             len ? " " : "", lines[k]);
                }
            unescape(entries[n].doc);
            n++;
        }
    }
    ok(n > 0, "the page documents %zu options", n);

    for (size_t i = 0; config_option_name(i); i++) {
        const char *name = config_option_name(i);
        const char *def = config_option_default(i);
        char want[512];
        snprintf(want, sizeof(want), "%s; default %s; %s.", config_option_type(i),
                 isempty(def) ? "empty" : def,
                 config_option_reloadable(i) ? "reloaded on SIGHUP" : "needs a restart");
        struct entry *e = NULL;
        for (size_t j = 0; j < n; j++)
            if (streq(entries[j].name, name))
                e = &entries[j];
        if (!ok(e != NULL, "%s is in jobsd.conf(5)", name))
            continue;
        e->matched = true;
        is_str(e->line, want, "%s: type, default and reload as in the table", name);
        if (!ok(startswith(e->doc, config_option_doc(i)) != NULL,
                "%s: the page starts with the table's doc line", name))
            tap_diag("page: %s | table: %s", e->doc, config_option_doc(i));
    }
    for (size_t j = 0; j < n; j++)
        ok(entries[j].matched, "%s of jobsd.conf(5) is in the table", entries[j].name);
    return tap_done();
}
