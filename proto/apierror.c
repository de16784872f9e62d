#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/apierror.h"
#include "proto/json.h"
#include "proto/strutil.h"

/* Error bodies are small; a larger one is a gateway page or garbage. */
#define ERROR_BODY_MAX (256 * KIB)

static const struct {
    int status;
    const char *code;
    const char *reason;
} status_table[] = {
    { 400, "INVALID_PARAMETER_VALUE", "Bad Request" },
    { 401, "UNAUTHENTICATED", "Unauthorized" },
    { 403, "PERMISSION_DENIED", "Forbidden" },
    { 404, "NOT_FOUND", "Not Found" },
    { 405, "METHOD_NOT_ALLOWED", "Method Not Allowed" },
    { 408, "DEADLINE_EXCEEDED", "Request Timeout" },
    { 409, "RESOURCE_CONFLICT", "Conflict" },
    { 411, "INVALID_PARAMETER_VALUE", "Length Required" },
    { 413, "REQUEST_TOO_LARGE", "Payload Too Large" },
    { 414, "REQUEST_TOO_LARGE", "URI Too Long" },
    { 415, "INVALID_PARAMETER_VALUE", "Unsupported Media Type" },
    { 429, "REQUEST_LIMIT_EXCEEDED", "Too Many Requests" },
    { 431, "REQUEST_TOO_LARGE", "Request Header Fields Too Large" },
    { 499, "CANCELLED", "Client Closed Request" },
    { 500, "INTERNAL_ERROR", "Internal Server Error" },
    { 501, "NOT_IMPLEMENTED", "Not Implemented" },
    { 502, "BAD_GATEWAY", "Bad Gateway" },
    { 503, "TEMPORARILY_UNAVAILABLE", "Service Unavailable" },
    { 504, "DEADLINE_EXCEEDED", "Gateway Timeout" },
};

/* reference §6.2: the codes the SDKs map, and the ones the platform sends. */
static const struct {
    const char *code;
    int status;
} code_table[] = {
    { "INVALID_PARAMETER_VALUE", 400 },
    { "INVALID_STATE", 400 },
    { "BAD_REQUEST", 400 },
    { "MALFORMED_REQUEST", 400 },
    { "QUOTA_EXCEEDED", 400 },
    { "UNAUTHENTICATED", 401 },
    { "PERMISSION_DENIED", 403 },
    { "NOT_FOUND", 404 },
    { "RESOURCE_DOES_NOT_EXIST", 404 },
    { "ENDPOINT_NOT_FOUND", 404 },
    { "METHOD_NOT_ALLOWED", 405 },
    { "ABORTED", 409 },
    { "ALREADY_EXISTS", 409 },
    { "RESOURCE_ALREADY_EXISTS", 409 },
    { "RESOURCE_CONFLICT", 409 },
    { "REQUEST_TOO_LARGE", 413 },
    { "REQUEST_LIMIT_EXCEEDED", 429 },
    { "RESOURCE_EXHAUSTED", 429 },
    { "TOO_MANY_REQUESTS", 429 },
    { "CANCELLED", 499 },
    { "UNKNOWN", 500 },
    { "DATA_LOSS", 500 },
    { "INTERNAL_ERROR", 500 },
    { "NOT_IMPLEMENTED", 501 },
    { "BAD_GATEWAY", 502 },
    { "TEMPORARILY_UNAVAILABLE", 503 },
    { "DEADLINE_EXCEEDED", 504 },
};

/* Messages the SDKs retry whatever the status (reference §7.1). */
static const char *const transient_messages[] = {
    "com.databricks.backend.manager.util.UnknownWorkerEnvironmentException",
    "does not have any associated worker environments",
    "There is no worker environment with id",
    "Unknown worker environment",
    "ClusterNotReadyException",
    "Unexpected error",
    "Please try again later or try a faster operation.",
    "RPC token bucket limit has been exceeded",
};

const char *api_error_code_for_status(int status)
{
    for (size_t i = 0; i < ELEMENTSOF(status_table); i++)
        if (status_table[i].status == status)
            return status_table[i].code;
    if (status >= 400 && status < 500)
        return "INVALID_PARAMETER_VALUE";
    return "UNKNOWN";
}

int api_error_status_for_code(const char *code)
{
    if (!code)
        return 0;
    for (size_t i = 0; i < ELEMENTSOF(code_table); i++)
        if (streq(code_table[i].code, code))
            return code_table[i].status;
    return 0;
}

const char *http_status_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    }
    for (size_t i = 0; i < ELEMENTSOF(status_table); i++)
        if (status_table[i].status == status)
            return status_table[i].reason;
    return "Unknown";
}

int api_error_build(const char *code, const char *message, struct json_object **ret)
{
    /* Messages quote what clients sent (a path, a query value) and cut
     * what the workspace said: keep the body UTF-8, as JSON must be. */
    _cleanup_free_ char *c = strdup(code ? code : ""), *m = strdup(message ? message : "");
    _cleanup_json_ struct json_object *o = json_object_new_object();
    if (!c || !m || !o)
        return -ENOMEM;
    utf8_scrub(c);
    utf8_scrub(m);
    if (json_add_string(o, "error_code", c) < 0 || json_add_string(o, "message", m) < 0)
        return -ENOMEM;
    *ret = TAKE_PTR(o);
    return 0;
}

char *api_error_vbody(const char *code, const char *format, va_list ap)
{
    _cleanup_free_ char *message = NULL;
    _cleanup_json_ struct json_object *o = NULL;

    if (vasprintf(&message, format, ap) < 0) {
        message = NULL;
        return NULL;
    }
    if (api_error_build(code, message, &o) < 0)
        return NULL;
    const char *s = json_dump(o, NULL);
    return s ? strdup(s) : NULL;
}

char *api_error_body(const char *code, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    char *body = api_error_vbody(code, format, ap);
    va_end(ap);
    return body;
}

/* Copies a run of text into dst, with whitespace runs folded to one space
 * and the ends trimmed. */
static void copy_folded(char *dst, size_t n, const char *src, size_t len)
{
    size_t o = 0;
    bool space = false;
    for (size_t i = 0; i < len && o + 1 < n; i++) {
        unsigned char c = (unsigned char)src[i];
        if (isspace(c) || c < 0x20) {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < n)
            dst[o++] = ' ';
        space = false;
        dst[o++] = (char)c;
    }
    dst[o] = 0;
}

/* The text between <tag> and </tag>, case-insensitively, if any. */
static bool html_element(const char *body, size_t len, const char *tag, char *dst, size_t n)
{
    char open[16], close[16];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *a = NULL, *b = NULL;
    size_t lo = strlen(open), lc = strlen(close);
    for (size_t i = 0; i + lo <= len; i++)
        if (strncasecmp(body + i, open, lo) == 0) {
            a = body + i + lo;
            break;
        }
    if (!a)
        return false;
    for (const char *p = a; p + lc <= body + len; p++)
        if (strncasecmp(p, close, lc) == 0) {
            b = p;
            break;
        }
    if (!b)
        return false;
    copy_folded(dst, n, a, (size_t)(b - a));
    return *dst != 0;
}

/* "SOME_CODE: message" — the plain-text shape the SDKs also accept. */
static bool parse_code_colon(const char *body, size_t len, struct api_error *e)
{
    size_t i = 0;
    while (i < len && i < sizeof(e->code) - 1 &&
           (isupper((unsigned char)body[i]) || body[i] == '_' || isdigit((unsigned char)body[i])))
        i++;
    if (i < 2 || i + 1 >= len || body[i] != ':' || body[i + 1] != ' ')
        return false;
    memcpy(e->code, body, i);
    e->code[i] = 0;
    e->code_from_body = true;
    copy_folded(e->message, sizeof(e->message), body + i + 2, len - i - 2);
    return true;
}

static void parse_json_error(struct json_object *o, struct api_error *e)
{
    struct json_object *code = NULL, *msg = NULL, *legacy = NULL;

    if (json_object_object_get_ex(o, "error_code", &code) &&
        json_object_is_type(code, json_type_string) && *json_object_get_string(code)) {
        strscpy(e->code, sizeof(e->code), json_object_get_string(code));
        e->code_from_body = true;
    }
    /* An integer error_code (403 on a bad token) carries no more than the
     * status: keep the default code. */
    if (json_object_object_get_ex(o, "message", &msg) && json_object_is_type(msg, json_type_string))
        strscpy(e->message, sizeof(e->message), json_object_get_string(msg));
    else if (json_object_object_get_ex(o, "error", &legacy) &&
             json_object_is_type(legacy, json_type_string))
        strscpy(e->message, sizeof(e->message), json_object_get_string(legacy));
}

int api_error_parse(int status, const char *body, size_t len, struct api_error *ret)
{
    struct api_error e = { .status = status };

    if (status < 400)
        return -EINVAL;
    strscpy(e.code, sizeof(e.code), api_error_code_for_status(status));
    if (!body)
        len = 0;
    len = MIN(len, ERROR_BODY_MAX);

    _cleanup_json_ struct json_object *o = NULL;
    if (len > 0 && json_parse(body, len, ERROR_BODY_MAX, JSON_DEPTH_MAX, &o, NULL) == 0 &&
        json_object_is_type(o, json_type_object))
        parse_json_error(o, &e);
    else if (len > 0 && !parse_code_colon(body, len, &e)) {
        if (!html_element(body, len, "pre", e.message, sizeof(e.message)) &&
            !html_element(body, len, "title", e.message, sizeof(e.message)) &&
            memchr(body, '<', len) == NULL)
            copy_folded(e.message, sizeof(e.message), body, MIN(len, sizeof(e.message) - 1));
    }
    if (!*e.message)
        strscpy(e.message, sizeof(e.message), http_status_reason(status));
    *ret = e;
    return 0;
}

bool api_error_is_retryable(const struct api_error *e)
{
    if (e->status == 429 || e->status == 503)
        return true;
    if (streq(e->code, "REQUEST_LIMIT_EXCEEDED") || streq(e->code, "TOO_MANY_REQUESTS") ||
        streq(e->code, "TEMPORARILY_UNAVAILABLE"))
        return true;
    for (size_t i = 0; i < ELEMENTSOF(transient_messages); i++)
        if (strstr(e->message, transient_messages[i]))
            return true;
    return false;
}

bool api_error_is_not_found(const struct api_error *e)
{
    if (e->status == 404)
        return true;
    if (e->status != 400 || !streq(e->code, "INVALID_PARAMETER_VALUE"))
        return false;
    return strstr(e->message, "does not exist") || strstr(e->message, "doesn't exist");
}
