#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/sse.h"
#include "proto/strutil.h"

struct sse {
    sse_event_t cb;
    void *userdata;
    struct buf line;
    struct buf data;
    char *event;
    char *id;
    char *last_id;
    bool have_data;
    bool after_cr; /* the last byte was CR: a following LF belongs to it */
};

int sse_new(sse_event_t cb, void *userdata, struct sse **ret)
{
    struct sse *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->cb = cb;
    s->userdata = userdata;
    s->line = BUF_INIT(SSE_LINE_MAX);
    s->data = BUF_INIT(SSE_LINE_MAX);
    *ret = s;
    return 0;
}

struct sse *sse_free(struct sse *s)
{
    if (!s)
        return NULL;
    buf_done(&s->line);
    buf_done(&s->data);
    free(s->event);
    free(s->id);
    free(s->last_id);
    free(s);
    return NULL;
}

const char *sse_last_id(const struct sse *s)
{
    return s->last_id ? s->last_id : "";
}

static int set_str(char **p, const char *v)
{
    char *c = strdup(v);
    if (!c)
        return -ENOMEM;
    free(*p);
    *p = c;
    return 0;
}

static int dispatch(struct sse *s)
{
    int r = 0;
    if (s->id && (r = set_str(&s->last_id, s->id)) < 0)
        return r;
    if (s->have_data)
        r = s->cb(sse_last_id(s), s->event ? s->event : "message", s->data.data ? s->data.data : "",
                  s->userdata);
    buf_reset(&s->data);
    s->have_data = false;
    free(s->event);
    s->event = NULL;
    return r;
}

/* One line, without its end. */
static int on_line(struct sse *s, const char *line)
{
    if (!*line)
        return dispatch(s);
    if (*line == ':')
        return 0; /* a comment: keepalive */
    const char *colon = strchr(line, ':');
    size_t klen = colon ? (size_t)(colon - line) : strlen(line);
    const char *v = colon ? colon + 1 : "";
    if (*v == ' ')
        v++;
    if (klen == 4 && strncmp(line, "data", 4) == 0) {
        int r = s->have_data ? buf_append(&s->data, "\n", 1) : 0;
        if (r >= 0)
            r = buf_append(&s->data, v, strlen(v));
        s->have_data = true;
        return r;
    }
    if (klen == 5 && strncmp(line, "event", 5) == 0)
        return set_str(&s->event, v);
    if (klen == 2 && strncmp(line, "id", 2) == 0)
        return set_str(&s->id, v);
    return 0; /* retry and unknown fields */
}

int sse_feed(struct sse *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\n' && s->after_cr) {
            s->after_cr = false;
            continue;
        }
        s->after_cr = c == '\r';
        if (c == '\r' || c == '\n') {
            int r = on_line(s, s->line.data ? s->line.data : "");
            buf_reset(&s->line);
            if (r < 0)
                return r;
            continue;
        }
        int r = buf_append(&s->line, &c, 1);
        if (r < 0)
            return r;
    }
    return 0;
}
