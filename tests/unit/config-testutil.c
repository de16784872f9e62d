#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/cleanup.h"
#include "proto/log.h"
#include "proto/strutil.h"
#include "tests/tap.h"
#include "tests/unit/config-testutil.h"

#define TU_MAX_DIRS 64
#define TU_MAX_STRINGS 4096

static char *dirs[TU_MAX_DIRS];
static size_t n_dirs;
static char *strings[TU_MAX_STRINGS];
static size_t n_strings;
static struct buf logbuf = BUF_INIT(4 * MIB);

static const char *keep(char *s)
{
    if (!s || n_strings >= TU_MAX_STRINGS) {
        fprintf(stderr, "config-testutil: out of memory or string slots\n");
        abort();
    }
    strings[n_strings++] = s;
    return s;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        (void)rmdir(path);
    else
        (void)unlink(path);
    return 0;
}

static void cleanup_all(void)
{
    for (size_t i = 0; i < n_dirs; i++) {
        (void)nftw(dirs[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(dirs[i]);
    }
    for (size_t i = 0; i < n_strings; i++)
        free(strings[i]);
    buf_done(&logbuf);
}

const char *tu_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    if (n_dirs == 0)
        atexit(cleanup_all);
    char *t = strjoin(isempty(base) ? "/tmp" : base, "/jobsd-config-test.XXXXXX");
    if (!t || !mkdtemp(t) || n_dirs >= TU_MAX_DIRS) {
        fprintf(stderr, "config-testutil: mkdtemp failed\n");
        abort();
    }
    /* mkdtemp makes 0700; the directory itself plays no part in the checks. */
    dirs[n_dirs++] = t;
    return t;
}

const char *tu_path(const char *dir, const char *name)
{
    return keep(strjoin(dir, "/", name));
}

const char *tu_write(const char *dir, const char *name, const char *content, mode_t mode)
{
    const char *path = tu_path(dir, name);
    (void)unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "config-testutil: %s: %s\n", path, strerror(errno));
        abort();
    }
    size_t n = strlen(content);
    if (write(fd, content, n) != (ssize_t)n || fchmod(fd, mode) < 0) {
        fprintf(stderr, "config-testutil: %s: write failed\n", path);
        abort();
    }
    close(fd);
    return path;
}

static void sink(int level, const char *line, void *userdata)
{
    (void)level;
    (void)userdata;
    if (logbuf.len)
        (void)buf_append(&logbuf, "\n", 1);
    (void)buf_append(&logbuf, line, strlen(line));
}

void tu_capture(void)
{
    log_set_sink(sink, NULL);
}

const char *tu_log(void)
{
    return logbuf.data ? logbuf.data : "";
}

void tu_log_reset(void)
{
    buf_reset(&logbuf);
}

bool tu_log_has(const char *needle)
{
    return strstr(tu_log(), needle) != NULL;
}

int tu_load(const char *dir, const char *conf, const char *const *env, const char *const *argv,
            struct config **ret)
{
    const char *envp[64];
    const char *args[64];
    size_t n = 0, na = 0;
    bool home = false;

    for (size_t i = 0; env && env[i] && n < 60; i++) {
        envp[n++] = env[i];
        if (startswith(env[i], "HOME="))
            home = true;
    }
    if (!home)
        envp[n++] = keep(strjoin("HOME=", dir));
    envp[n] = NULL;

    args[na++] = "jobsd";
    args[na++] = "-c";
    args[na++] = tu_write(dir, "jobsd.conf", conf ? conf : "", 0600);
    for (size_t i = 0; argv && argv[i] && na < 62; i++)
        args[na++] = argv[i];
    args[na] = NULL;

    struct config_args a;
    tu_log_reset();
    int r = config_args_parse((int)na, (char *const *)args, &a);
    if (r < 0)
        return r;
    r = config_load(&a, (char *const *)envp, ret);
    config_args_done(&a);
    return r;
}

void tu_diag_log(void)
{
    const char *p = tu_log();
    while (*p) {
        size_t n = strcspn(p, "\n");
        printf("#   log: %.*s\n", (int)n, p);
        p += n;
        if (*p)
            p++;
    }
}

const char *tu_print(const struct config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        abort();
    int r = config_print(c, f);
    fclose(f);
    if (r < 0) {
        free(text);
        return keep(strdup("(config_print failed)"));
    }
    return keep(text);
}

char *tu_read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    struct buf b = BUF_INIT(16 * MIB);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_append(&b, chunk, n) < 0)
            break;
    fclose(f);
    if (!b.data)
        return strdup("");
    return buf_steal(&b, NULL);
}
