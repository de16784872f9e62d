/* tests/unit/db-testutil.h: helpers shared by the db/ unit tests: a temp
 * directory removed at exit, and builders of run JSON. Header-only; every
 * function is static. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/json.h"
#include "tests/tap.h"

static char test_dir[256];

_unused_ static void test_dir_remove(void)
{
    if (!test_dir[0])
        return;
    DIR *d = opendir(test_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                (void)unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    (void)rmdir(test_dir);
    test_dir[0] = 0;
}

_unused_ static const char *test_dir_make(void)
{
    const char *tmp = getenv("TMPDIR");
    (void)snprintf(test_dir, sizeof(test_dir), "%s/jobsd-db-test.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(test_dir))
        tap_skip_all("mkdtemp failed");
    atexit(test_dir_remove);
    return test_dir;
}

_unused_ static char *test_path(const char *name)
{
    static char p[4][512];
    static int i;
    i = (i + 1) % 4;
    (void)snprintf(p[i], sizeof(p[i]), "%s/%s", test_dir, name);
    return p[i];
}

/* A run object from JSON text; aborts on bad text (a test bug). */
_unused_ static struct json_object *J(const char *text)
{
    struct json_object *o = NULL;
    struct json_error err;
    if (json_parse(text, strlen(text), JSON_SIZE_MAX, JSON_DEPTH_MAX, &o, &err) < 0) {
        fprintf(stderr, "bad test JSON: %s: %s\n", err.message, text);
        abort();
    }
    return o;
}

_unused_ static const char *dump(struct json_object *o)
{
    return json_dump(o, NULL);
}
