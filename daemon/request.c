#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/request.h"
#include "proto/apierror.h"
#include "proto/json.h"

const char *request_query(const struct request *req, const char *key)
{
    for (size_t i = 0; i < req->n_query; i++)
        if (streq(req->query[i].key, key))
            return req->query[i].value;
    return NULL;
}

static void response_clear_body(struct response *r)
{
    if (r->body)
        (r->body_free ? r->body_free : free)(r->body);
    r->body = NULL;
    r->body_len = 0;
    r->body_free = NULL;
}

void response_done(struct response *r)
{
    response_clear_body(r);
    if (r->stream_free && r->stream_cls)
        r->stream_free(r->stream_cls); /* never handed to the server */
    r->stream = NULL;
    r->stream_free = NULL;
    r->stream_cls = NULL;
    for (size_t i = 0; i < r->n_headers; i++)
        free(r->headers[i].value);
    r->n_headers = 0;
}

void response_take_body(struct response *r, int status, const char *content_type, char *body,
                        size_t len, void (*body_free)(void *))
{
    response_clear_body(r);
    r->status = status;
    r->content_type = content_type;
    r->body = body;
    r->body_len = body ? len : 0;
    r->body_free = body_free;
}

/* The last resort when even an error body cannot be allocated. */
static int response_oom(struct response *r)
{
    response_clear_body(r);
    r->status = 500;
    r->content_type = NULL;
    return -ENOMEM;
}

int response_set_bytes(struct response *r, int status, const char *content_type, const void *data,
                       size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return response_oom(r);
    if (len)
        memcpy(copy, data, len);
    copy[len] = 0;
    response_take_body(r, status, content_type, copy, len, NULL);
    return 0;
}

int response_set_json(struct response *r, int status, struct json_object *o)
{
    size_t len = 0;
    const char *text = json_dump(o, &len);
    if (!text)
        return response_oom(r);
    return response_set_bytes(r, status, "application/json", text, len);
}

int response_set_error(struct response *r, int status, const char *code, const char *format, ...)
{
    va_list ap;

    code = code ? code : api_error_code_for_status(status);
    va_start(ap, format);
    char *body = api_error_vbody(code, format, ap);
    va_end(ap);
    if (!body)
        return response_oom(r);
    response_take_body(r, status, "application/json", body, strlen(body), NULL);
    strscpy(r->error_code, sizeof(r->error_code), code);
    r->source = JOBSD_SOURCE_LOCAL;
    return 0;
}

void response_set_stream(struct response *r, int status, const char *content_type,
                         ssize_t (*stream)(void *, uint64_t, char *, size_t),
                         void (*stream_free)(void *), void *cls)
{
    response_clear_body(r);
    r->status = status;
    r->content_type = content_type;
    r->stream = stream;
    r->stream_free = stream_free;
    r->stream_cls = cls;
}

int response_add_header(struct response *r, const char *name, const char *value)
{
    if (r->n_headers >= RESPONSE_HEADERS_MAX)
        return -E2BIG;
    char *v = strdup(value);
    if (!v)
        return -ENOMEM;
    r->headers[r->n_headers].name = name;
    r->headers[r->n_headers].value = v;
    r->n_headers++;
    return 0;
}

void request_free_fields(struct request *req)
{
    free(req->path);
    req->path = NULL;
    for (size_t i = 0; i < req->n_query; i++) {
        free(req->query[i].key);
        free(req->query[i].value);
    }
    req->n_query = 0;
    buf_done(&req->body);
    json_object_put(req->json);
    req->json = NULL;
    response_done(&req->response);
}
