/* Golden files for "jobsd -nv": for each tests/config/NN.in, load it as
 * jobsd.conf with NN.env (one NAME=value a line), NN.args (one argv word a
 * line), NN.cfg (~/.databrickscfg) and NN.creds (name=value: files of
 * $CREDENTIALS_DIRECTORY), print the configuration (or, if loading fails,
 * the error lines) with the temporary directory shown as @TMP@, and compare
 * with NN.ok. A configuration that loads is printed, read back and printed
 * again: the settings must be a fixed point (comments, which name sources,
 * may differ). JOBSD_GOLDEN_UPDATE=1 rewrites the .ok files. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "daemon/config.h"
#include "proto/cleanup.h"
#include "proto/log.h"
#include "proto/strutil.h"
#include "tests/tap.h"
#include "tests/unit/config-testutil.h"

#define GOLDEN_DIR TOP_SRCDIR "/tests/config"

/* s with every occurrence of from replaced by to. */
static char *replace_all(const char *s, const char *from, const char *to)
{
    struct buf b = BUF_INIT(16 * MIB);
    size_t fl = strlen(from);
    const char *p;
    while ((p = strstr(s, from))) {
        buf_append(&b, s, (size_t)(p - s));
        buf_append(&b, to, strlen(to));
        s = p + fl;
    }
    buf_append(&b, s, strlen(s));
    return buf_steal(&b, NULL);
}

/* Splits text into lines (each @TMP@ replaced by dir), NULL-terminated. */
static char **lines_of(const char *text, const char *dir)
{
    if (!text)
        return calloc(1, sizeof(char *));
    _cleanup_free_ char *t = replace_all(text, "@TMP@", dir);
    size_t n = 0;
    char **v = calloc(strlen(t) + 2, sizeof(char *));
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n"))
        if (*line && *line != '#')
            v[n++] = strdup(line);
    return v;
}

/* The text without comment lines. */
static char *settings_of(const char *text)
{
    struct buf b = BUF_INIT(16 * MIB);
    while (*text) {
        size_t n = strcspn(text, "\n");
        if (text[0] != '#') {
            buf_append(&b, text, n);
            buf_append(&b, "\n", 1);
        }
        text += n + (text[n] ? 1 : 0);
    }
    return b.data ? buf_steal(&b, NULL) : strdup("");
}

static char *read_fixture(const char *name, const char *ext)
{
    _cleanup_free_ char *path = strjoin(GOLDEN_DIR "/", name, ext);
    return tu_read_file(path);
}

static void run_case(const char *name)
{
    const char *d = tu_tmpdir();
    _cleanup_free_ char *in = read_fixture(name, ".in");
    _cleanup_free_ char *env_text = read_fixture(name, ".env");
    _cleanup_free_ char *args_text = read_fixture(name, ".args");
    _cleanup_free_ char *cfg = read_fixture(name, ".cfg");
    _cleanup_free_ char *creds_text = read_fixture(name, ".creds");
    _cleanup_free_ char *expected = read_fixture(name, ".ok");
    _cleanup_strv_free_ char **env = lines_of(env_text, d);
    _cleanup_strv_free_ char **args = lines_of(args_text, d);
    _cleanup_strv_free_ char **creds = lines_of(creds_text, d);
    _cleanup_free_ char *in_tmp = replace_all(in ? in : "", "@TMP@", d);

    if (cfg)
        tu_write(d, ".databrickscfg", cfg, 0600);
    if (creds[0]) {
        const char *cdir = tu_path(d, "creds");
        mkdir(cdir, 0700);
        for (size_t i = 0; creds[i]; i++) {
            char *eq = strchr(creds[i], '=');
            if (!eq)
                continue;
            *eq = 0;
            tu_write(cdir, creds[i], eq + 1, 0400);
        }
        size_t n = 0;
        while (env[n])
            n++;
        env = realloc(env, (n + 2) * sizeof(char *));
        env[n] = strjoin("CREDENTIALS_DIRECTORY=", cdir);
        env[n + 1] = NULL;
    }

    struct config *c = NULL;
    int r = tu_load(d, in_tmp, (const char *const *)env, (const char *const *)args, &c);
    _cleanup_free_ char *raw = NULL;
    if (r == 0)
        raw = strdup(tu_print(c));
    else
        raw = strjoin(tu_log(), "\n");
    _cleanup_free_ char *got = replace_all(raw, d, "@TMP@");

    const char *update = getenv("JOBSD_GOLDEN_UPDATE");
    if (update && streq(update, "1")) {
        _cleanup_free_ char *path = strjoin(GOLDEN_DIR "/", name, ".ok");
        FILE *f = fopen(path, "we");
        if (f) {
            fputs(got, f);
            fclose(f);
        }
        tap_diag("%s.ok rewritten", name);
    } else
        is_str(got, expected ? expected : "(missing .ok)", "%s.in prints as %s.ok", name, name);

    /* No secret of the fixtures in the output or in any log line, even at
     * debug level: every value of a key or variable that names a secret. */
    {
        struct config *c3 = NULL;
        log_set_max_level(LOG_DEBUG);
        (void)tu_load(d, in_tmp, (const char *const *)env, (const char *const *)args, &c3);
        log_set_max_level(LOG_INFO);
        _cleanup_free_ char *all = strjoin(in_tmp, "\n", env_text ? env_text : "", "\n",
                                           cfg ? cfg : "", "\n", creds_text ? creds_text : "");
        _cleanup_strv_free_ char **lines = lines_of(all, d);
        const char *printed = c3 ? tu_print(c3) : "";
        size_t leaks = 0, checked = 0;
        for (size_t i = 0; lines[i]; i++) {
            if (!strstr(lines[i], "TOKEN") && !strstr(lines[i], "SECRET") &&
                !strstr(lines[i], "token") && !strstr(lines[i], "secret"))
                continue;
            char *eq = strchr(lines[i], '=');
            if (!eq)
                continue;
            char *v = eq + 1;
            while (*v == ' ')
                v++;
            v[strcspn(v, " ")] = 0;
            if (strlen(v) < 4 || strstr(lines[i], "token_file"))
                continue;
            checked++;
            if (strstr(tu_log(), v) || strstr(printed, v)) {
                tap_diag("%s: secret '%s' leaked", name, v);
                leaks++;
            }
        }
        is_int((int64_t)leaks, 0, "%s: none of %zu secrets in the output or the debug log", name,
               checked);
        config_free(c3);
    }

    if (r == 0) {
        /* print -> parse -> print */
        const char *first = tu_print(c);
        struct config *c2 = NULL;
        int r2 = tu_load(d, first, (const char *const *)env, (const char *const *)args, &c2);
        is_int(r2, 0, "%s: the printed configuration loads again", name);
        if (r2 == 0) {
            _cleanup_free_ char *a = settings_of(first), *b = settings_of(tu_print(c2));
            is_str(b, a, "%s: print -> parse -> print is a fixed point", name);
        } else
            tu_diag_log();
        config_free(c2);
    }
    config_free(c);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    tu_capture();
    log_set_max_level(LOG_INFO);

    DIR *dir = opendir(GOLDEN_DIR);
    if (!dir)
        tap_skip_all("no " GOLDEN_DIR);
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) && n < ELEMENTSOF(names)) {
        size_t len = strlen(de->d_name);
        if (len > 3 && streq(de->d_name + len - 3, ".in"))
            names[n++] = strndup(de->d_name, len - 3);
    }
    closedir(dir);
    qsort(names, n, sizeof(char *), by_name);
    ok(n > 0, "%zu golden cases", n);
    for (size_t i = 0; i < n; i++) {
        run_case(names[i]);
        free(names[i]);
    }
    return tap_done();
}
