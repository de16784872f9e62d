#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/conffile.h"
#include "proto/cleanup.h"
#include "proto/log.h"
#include "proto/strutil.h"

int conffile_read(const char *path, size_t max, char **ret_data, size_t *ret_len,
                  struct stat *ret_st)
{
    _cleanup_close_ int fd = -1;
    struct stat st;

    /* O_NONBLOCK so that a FIFO put in the file's place cannot hang us; the
     * type is checked on the descriptor, so what is checked is what is read. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return -ENOENT;
        return log_error_errno(errno, "%s: cannot open: %m", path);
    }
    if (fstat(fd, &st) < 0)
        return log_error_errno(errno, "%s: cannot stat: %m", path);
    if (S_ISDIR(st.st_mode))
        return log_error_errno(EISDIR, "%s: is a directory, not a file", path);
    if (!S_ISREG(st.st_mode))
        return log_error_errno(EINVAL, "%s: is not a regular file", path);
    if ((uint64_t)st.st_size > max)
        return log_error_errno(EFBIG, "%s: larger than %zu bytes", path, max);

    /* Sized by the file (and a byte to see it grew), not by max: reloads
     * and tests read small files often. */
    size_t cap = MIN((size_t)st.st_size, max) + 1;
    _cleanup_free_ char *data = malloc(cap + 1);
    if (!data)
        return -ENOMEM;
    size_t len = 0;
    for (;;) {
        if (len == cap) { /* it grew since fstat(), still within max */
            size_t more = MIN(cap * 2, max + 1);
            char *bigger = realloc(data, more + 1);
            if (!bigger)
                return -ENOMEM;
            data = bigger;
            cap = more;
        }
        ssize_t n = read(fd, data + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return log_error_errno(errno, "%s: cannot read: %m", path);
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max)
            return log_error_errno(EFBIG, "%s: larger than %zu bytes", path, max);
    }
    data[len] = 0;
    if (memchr(data, 0, len))
        return log_error_errno(EBADMSG, "%s: contains a NUL byte, not a text file", path);

    char *shrunk = realloc(data, len + 1);
    if (shrunk)
        data = shrunk;
    *ret_data = TAKE_PTR(data);
    if (ret_len)
        *ret_len = len;
    if (ret_st)
        *ret_st = st;
    return 0;
}

int conffile_check_access(const char *path, const struct stat *st, const char *what)
{
    uid_t uid = geteuid();

    if (st->st_uid != 0 && st->st_uid != uid)
        return log_error_errno(EPERM,
                               "%s: owned by uid %u, but only root or uid %u (which jobsd runs "
                               "as) may own it; run chown %u %s",
                               path, (unsigned)st->st_uid, (unsigned)uid, (unsigned)uid, path);
    if (what && (st->st_mode & 0077))
        return log_error_errno(EPERM,
                               "%s: holds a secret (%s) but is accessible by group or others "
                               "(mode %04o); run chmod 600 %s",
                               path, what, (unsigned)(st->st_mode & 07777), path);
    if (st->st_mode & 0022)
        return log_error_errno(EPERM,
                               "%s: writable by group or others (mode %04o), who could redirect "
                               "the workspace credentials; run chmod go-w %s",
                               path, (unsigned)(st->st_mode & 07777), path);
    return 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void strip_trailing_blanks(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && is_blank(s[n - 1]))
        s[--n] = 0;
}

int conffile_unquote(char *value)
{
    /* inih already removed the blanks around the value. */
    if (value[0] == '"') {
        char *close = strrchr(value + 1, '"');
        if (close) {
            const char *rest = close + 1;
            while (is_blank(*rest))
                rest++;
            if (*rest && *rest != '#' && *rest != ';')
                return -EINVAL;
            if (*rest && rest == close + 1)
                return -EINVAL; /* "a"#b: a comment needs a blank before it */
            size_t n = (size_t)(close - value - 1);
            memmove(value, value + 1, n);
            value[n] = 0;
            return 0;
        }
    }
    /* A comment starts at '#' or ';' after a blank, so secrets may hold both. */
    for (char *p = value; *p; p++)
        if ((*p == '#' || *p == ';') && p > value && is_blank(p[-1])) {
            *p = 0;
            break;
        }
    strip_trailing_blanks(value);
    return 0;
}

bool conffile_needs_quotes(const char *value)
{
    size_t n = strlen(value);
    if (n == 0)
        return false;
    if (is_blank(value[0]) || is_blank(value[n - 1]) || value[0] == '"')
        return true;
    for (size_t i = 1; i < n; i++)
        if ((value[i] == '#' || value[i] == ';') && is_blank(value[i - 1]))
            return true;
    return false;
}

struct ini_reader_state {
    const char *path;
    const char *pos;
    unsigned line;      /* the line being read */
    bool at_line_start; /* the last chunk ended a line */
    conffile_handler_t handler;
    void *userdata;
    int error;
};

/* fgets() over memory, counting lines, so that the handler (which inih
 * calls without a line number in Debian's build) can name the line. */
static char *mem_reader(char *str, int num, void *stream)
{
    struct ini_reader_state *s = stream;
    if (!*s->pos || num < 2)
        return NULL;
    if (s->at_line_start)
        s->line++;
    size_t i = 0;
    while (i + 1 < (size_t)num && s->pos[i]) {
        str[i] = s->pos[i];
        if (s->pos[i++] == '\n')
            break;
    }
    str[i] = 0;
    s->at_line_start = str[i - 1] == '\n';
    s->pos += i;
    return str;
}

static int key_handler(void *user, const char *section, const char *name, const char *value)
{
    struct ini_reader_state *s = user;
    _cleanup_free_ char *sec = strdup(section), *val = value ? strdup(value) : NULL;
    if (!sec || (value && !val)) {
        s->error = -ENOMEM;
        return 1;
    }
    /* "[ server ]" is "[server]". */
    char *p = sec;
    while (is_blank(*p))
        p++;
    memmove(sec, p, strlen(p) + 1);
    strip_trailing_blanks(sec);

    if (isempty(name)) {
        log_error("%s:%u: a line starting with '=' has no key", s->path, s->line);
        s->error = -EINVAL;
        return 1;
    }
    if (val && conffile_unquote(val) < 0) {
        log_error("%s:%u: %s: text after the closing quote", s->path, s->line, name);
        s->error = -EINVAL;
        return 1;
    }
    int r = s->handler(sec, name, val, s->line, s->userdata);
    if (r < 0 && s->error == 0)
        s->error = r;
    return 1;
}

int conffile_parse_ini(const char *path, const char *data, conffile_handler_t handler,
                       void *userdata)
{
    struct ini_reader_state s = {
        .path = path,
        .pos = data,
        .at_line_start = true,
        .handler = handler,
        .userdata = userdata,
    };

    /* Debian's libinih keeps its options in globals; set ours for this call
     * and put the old ones back. The daemon has one thread. */
    bool old_multiline = ini_allow_multiline, old_bom = ini_allow_bom,
         old_inline = ini_allow_inline_comments, old_no_value = ini_allow_no_value,
         old_stack = ini_use_stack, old_realloc = ini_allow_realloc,
         old_stop = ini_stop_on_first_error;
    int old_max = ini_max_line, old_initial = ini_initial_alloc;

    ini_allow_multiline = false;       /* an indented line is a line of its own */
    ini_allow_bom = true;              /* editors on other systems write one */
    ini_allow_inline_comments = false; /* conffile_unquote() does it, quote-aware */
    ini_allow_no_value = true;         /* so "key" alone is our error, with its line */
    ini_use_stack = false;
    ini_allow_realloc = true; /* no line limit below the file limit */
    ini_max_line = CONFFILE_MAX_LINE;
    ini_initial_alloc = 256;
    ini_stop_on_first_error = false;

    int r = ini_parse_stream(mem_reader, &s, key_handler, &s);

    ini_allow_multiline = old_multiline;
    ini_allow_bom = old_bom;
    ini_allow_inline_comments = old_inline;
    ini_allow_no_value = old_no_value;
    ini_use_stack = old_stack;
    ini_allow_realloc = old_realloc;
    ini_stop_on_first_error = old_stop;
    ini_max_line = old_max;
    ini_initial_alloc = old_initial;

    if (r == -2)
        return -ENOMEM;
    if (r != 0) {
        log_error("%s:%d: syntax error: expected [section], key = value or a comment", path, r);
        return -EINVAL;
    }
    return s.error == -ENOMEM ? -ENOMEM : s.error < 0 ? -EINVAL : 0;
}
