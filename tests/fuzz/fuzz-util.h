/* tests/fuzz/fuzz-util.h: what the fuzz targets share: silence for the
 * logs, a scratch directory under $TMPDIR removed at exit, and a reader
 * that cuts an input into lines. Header-only; owns nothing it does not free
 * itself. */
#pragma once

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "proto/strutil.h"

static inline void fuzz_quiet(int level, const char *line, void *userdata)
{
    (void)level;
    (void)line;
    (void)userdata;
}

static char fuzz_dir[256];

static inline void fuzz_dir_remove(void)
{
    DIR *d;
    struct dirent *de;
    if (!fuzz_dir[0] || !(d = opendir(fuzz_dir)))
        return;
    while ((de = readdir(d))) {
        char path[512];
        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
            continue;
        snprintf(path, sizeof(path), "%s/%s", fuzz_dir, de->d_name);
        (void)unlink(path);
    }
    closedir(d);
    (void)rmdir(fuzz_dir);
    fuzz_dir[0] = 0;
}

/* The scratch directory (made on the first call; flat, emptied and removed
 * at exit). Thousands of small writes a second: memory beats a journaled
 * disk, so /dev/shm when $TMPDIR is unset. */
static inline const char *fuzz_scratch(const char *name)
{
    if (fuzz_dir[0])
        return fuzz_dir;
    const char *base = getenv("TMPDIR");
    if (isempty(base))
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/jobsd-fuzz-%s.XXXXXX", base, name);
    if (!mkdtemp(fuzz_dir))
        abort();
    atexit(fuzz_dir_remove);
    log_set_sink(fuzz_quiet, NULL);
    return fuzz_dir;
}

/* strndup() for bytes that need not hold a NUL: ASan's strict string
 * checks (make check sets them) read strndup's source as a C string. Aborts
 * when out of memory. */
static inline char *fuzz_strndup(const char *p, size_t n)
{
    const char *nul = memchr(p, 0, n);
    if (nul)
        n = (size_t)(nul - p);
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* Reads an input a line at a time: each call returns the next line (a
 * malloc'd copy without its '\n') or NULL at the end; fuzz_rest() is what
 * is left, unsplit. */
struct fuzz_reader {
    const char *p;
    size_t left;
};

static inline char *fuzz_line(struct fuzz_reader *r)
{
    if (!r->left)
        return NULL;
    const char *nl = memchr(r->p, '\n', r->left);
    size_t n = nl ? (size_t)(nl - r->p) : r->left;
    char *s = fuzz_strndup(r->p, n);
    r->p += n + (nl ? 1 : 0);
    r->left -= n + (nl ? 1 : 0);
    return s;
}
