/* proto/cleanup.h: scope-bound ownership with __attribute__((cleanup)).
 * A variable marked _cleanup_xxx_ is freed when it goes out of scope unless
 * its value was moved out with TAKE_PTR()/TAKE_FD(). */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

/* Moves ownership out of a variable: returns its value and sets it to NULL. */
#define TAKE_PTR(p)                                                                                \
    ({                                                                                             \
        __typeof__(p) *_pp_ = &(p);                                                                \
        __typeof__(p) _p_ = *_pp_;                                                                 \
        *_pp_ = NULL;                                                                              \
        _p_;                                                                                       \
    })

/* The same for file descriptors: returns the fd and sets the variable to -1. */
#define TAKE_FD(fd)                                                                                \
    ({                                                                                             \
        int *_pfd_ = &(fd);                                                                        \
        int _fd_ = *_pfd_;                                                                         \
        *_pfd_ = -1;                                                                               \
        _fd_;                                                                                      \
    })

/* Declares a static inline `name(type *p)` that calls func(*p) when *p is set. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                    \
    static inline void func##p(type *p)                                                            \
    {                                                                                              \
        if (*p)                                                                                    \
            func(*p);                                                                              \
    }

static inline void freep(void *p)
{
    free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

/* close() that keeps errno and accepts -1. Returns -1 for `fd = safe_close(fd)`. */
static inline int safe_close(int fd)
{
    if (fd >= 0) {
        int saved = errno;
        (void)close(fd);
        errno = saved;
    }
    return -1;
}

static inline void closep(int *fd)
{
    safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
    if (*f)
        (void)fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Frees a NULL-terminated array of strings and the array itself. */
static inline void strv_free(char **v)
{
    if (!v)
        return;
    for (char **i = v; *i; i++)
        free(*i);
    free(v);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free)

static inline size_t strv_length(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)
