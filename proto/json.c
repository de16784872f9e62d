#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto/json.h"
#include "proto/strutil.h"

static int json_fail(struct json_error *err, int r, const char *fmt, ...) _printf_(3, 4);
static int json_fail(struct json_error *err, int r, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return r;
}

static bool is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_delimiter(const char *p, const char *end)
{
    return p == end || is_json_space(*p) || *p == ',' || *p == ']' || *p == '}' || *p == ':';
}

/* Checks the tokens of RFC 8259 that json-c is lenient about even in strict
 * mode: single-quoted strings, raw control characters in strings, NaN and
 * Infinity, overlong or surrogate UTF-8, and integers beyond int64 (which it
 * would clamp). Nesting is left to the tokener. Returns 0 or -EBADMSG. */
static int json_lex_check(const char *buf, size_t len, struct json_error *err)
{
    const char *p = buf, *end = buf + len;

    while (p < end) {
        size_t off = (size_t)(p - buf);
        char c = *p;

        if (is_json_space(c) || c == '{' || c == '}' || c == '[' || c == ']' || c == ':' ||
            c == ',') {
            p++;
        } else if (c == '"') {
            for (p++;;) {
                if (p >= end)
                    return json_fail(err, -EBADMSG,
                                     "Invalid JSON at offset %zu: unterminated string", off);
                unsigned char u = (unsigned char)*p;
                if (u == '"') {
                    p++;
                    break;
                }
                if (u < 0x20)
                    return json_fail(err, -EBADMSG,
                                     "Invalid JSON at offset %zu: control character in a string",
                                     (size_t)(p - buf));
                if (u == '\\') {
                    if (p + 1 >= end)
                        return json_fail(err, -EBADMSG,
                                         "Invalid JSON at offset %zu: unterminated string", off);
                    char e = p[1];
                    if (e == 'u') {
                        if (end - p < 6 || unhexchar(p[2]) < 0 || unhexchar(p[3]) < 0 ||
                            unhexchar(p[4]) < 0 || unhexchar(p[5]) < 0)
                            return json_fail(err, -EBADMSG,
                                             "Invalid JSON at offset %zu: bad \\u escape",
                                             (size_t)(p - buf));
                        p += 6;
                    } else if (strchr("\"\\/bfnrt", e) && e) {
                        p += 2;
                    } else
                        return json_fail(err, -EBADMSG, "Invalid JSON at offset %zu: bad escape",
                                         (size_t)(p - buf));
                    continue;
                }
                size_t n = utf8_sequence(p, end);
                if (n == 0)
                    return json_fail(err, -EBADMSG, "Invalid JSON at offset %zu: invalid UTF-8",
                                     (size_t)(p - buf));
                p += n;
            }
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            const char *start = p;
            bool integer = true;
            if (*p == '-')
                p++;
            if (p < end && *p == '0')
                p++;
            else if (p < end && *p >= '1' && *p <= '9')
                while (p < end && *p >= '0' && *p <= '9')
                    p++;
            else
                return json_fail(err, -EBADMSG, "Invalid JSON at offset %zu: bad number", off);
            if (p < end && *p == '.') {
                integer = false;
                p++;
                if (p >= end || *p < '0' || *p > '9')
                    return json_fail(err, -EBADMSG, "Invalid JSON at offset %zu: bad number", off);
                while (p < end && *p >= '0' && *p <= '9')
                    p++;
            }
            if (p < end && (*p == 'e' || *p == 'E')) {
                integer = false;
                p++;
                if (p < end && (*p == '+' || *p == '-'))
                    p++;
                if (p >= end || *p < '0' || *p > '9')
                    return json_fail(err, -EBADMSG, "Invalid JSON at offset %zu: bad number", off);
                while (p < end && *p >= '0' && *p <= '9')
                    p++;
            }
            if (!is_delimiter(p, end))
                return json_fail(err, -EBADMSG, "Invalid JSON at offset %zu: bad number", off);
            if (integer) {
                char digits[24];
                int64_t v;
                size_t n = (size_t)(p - start);
                if (n >= sizeof(digits) ||
                    (memcpy(digits, start, n), digits[n] = 0, parse_int64(digits, &v) < 0))
                    return json_fail(err, -EBADMSG,
                                     "Invalid JSON at offset %zu: integer out of the 64-bit range",
                                     off);
            }
        } else if (c == 't' || c == 'f' || c == 'n') {
            const char *word = c == 't' ? "true" : c == 'f' ? "false" : "null";
            size_t n = strlen(word);
            if ((size_t)(end - p) < n || memcmp(p, word, n) != 0 || !is_delimiter(p + n, end))
                return json_fail(err, -EBADMSG, "Invalid JSON at offset %zu: unknown literal", off);
            p += n;
        } else
            return json_fail(err, -EBADMSG, "Invalid JSON at offset %zu: unexpected character",
                             off);
    }
    return 0;
}

int json_parse(const char *buf, size_t len, size_t max_size, int max_depth,
               struct json_object **ret, struct json_error *err)
{
    if (len > max_size || len > INT_MAX - 1)
        return json_fail(err, -EMSGSIZE, "JSON text of %zu bytes is larger than the limit of %zu",
                         len, max_size);
    if (max_depth < 1)
        max_depth = 1;
    int r = json_lex_check(buf, len, err);
    if (r < 0)
        return r;

    struct json_tokener *tok = json_tokener_new_ex(max_depth);
    if (!tok)
        return json_fail(err, -ENOMEM, "Out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

    struct json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue && len < 64) {
        /* A bare scalar at the very end is complete only once the tokener
         * sees a terminating NUL: give it one. */
        char copy[64];
        memcpy(copy, buf, len);
        copy[len] = 0;
        json_tokener_reset(tok);
        o = json_tokener_parse_ex(tok, copy, (int)len + 1);
        jerr = json_tokener_get_error(tok);
        end = MIN(json_tokener_get_parse_end(tok), len);
    }
    json_tokener_free(tok);

    if (jerr == json_tokener_continue || (jerr == json_tokener_success && !o && len == 0)) {
        json_object_put(o);
        return json_fail(err, -EBADMSG, "Invalid JSON: unexpected end of input");
    }
    if (jerr == json_tokener_error_depth) {
        json_object_put(o);
        return json_fail(err, -ELOOP, "Invalid JSON: nested deeper than %d levels", max_depth);
    }
    if (jerr != json_tokener_success) {
        json_object_put(o);
        return json_fail(err, -EBADMSG, "Invalid JSON at offset %zu: %s", MIN(end, len),
                         json_tokener_error_desc(jerr));
    }
    /* Strict mode already refuses trailing text; keep the check explicit. */
    for (size_t i = MIN(end, len); i < len; i++)
        if (!is_json_space(buf[i])) {
            json_object_put(o);
            return json_fail(err, -EBADMSG, "Invalid JSON at offset %zu: trailing characters", i);
        }
    *ret = o; /* a JSON "null" text is a NULL object */
    return 0;
}

int json_parse_object(const char *buf, size_t len, size_t max_size, int max_depth,
                      struct json_object **ret, struct json_error *err)
{
    struct json_object *o = NULL;
    int r = json_parse(buf, len, max_size, max_depth, &o, err);
    if (r < 0)
        return r;
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return json_fail(err, -EBADMSG, "Invalid JSON: expected an object");
    }
    *ret = o;
    return 0;
}

const char *json_dump(struct json_object *o, size_t *ret_len)
{
    size_t len = 0;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (ret_len)
        *ret_len = s ? len : 0;
    return s;
}

static const char *type_words(enum json_type t)
{
    switch (t) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_double:
        return "a number with a fraction or exponent";
    case json_type_int:
        return "an integer";
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    case json_type_string:
        return "a string";
    }
    return "a value";
}

/* Looks up field: 1 with *ret_v of type want, 0 absent (allowed), <0 error. */
static int field_lookup(struct json_object *o, const char *field, unsigned flags,
                        enum json_type want, struct json_object **ret_v, struct json_error *err)
{
    struct json_object *v = NULL;
    if (!json_object_is_type(o, json_type_object))
        return json_fail(err, -EINVAL, "Invalid request: expected a JSON object holding '%s'",
                         field);
    bool present = json_object_object_get_ex(o, field, &v);
    if (present && !v && (flags & JSON_NULLABLE))
        present = false;
    if (!present) {
        if (flags & JSON_REQUIRED)
            return json_fail(err, -EINVAL, "Missing required field: %s", field);
        return 0;
    }
    enum json_type got = json_object_get_type(v);
    if (got != want)
        return json_fail(err, -EINVAL, "Invalid value for field '%s': expected %s, got %s", field,
                         type_words(want), type_words(got));
    *ret_v = v;
    return 1;
}

int json_value_int64(struct json_object *v, int64_t *ret)
{
    if (!json_object_is_type(v, json_type_int))
        return -EINVAL;
    errno = 0;
    int64_t x = json_object_get_int64(v);
    /* json-c keeps integers above INT64_MAX as uint64 and clamps the int64
     * view; tell that apart from a real INT64_MAX. */
    if (x == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX)
        return -ERANGE;
    if (x == INT64_MIN && errno == ERANGE)
        return -ERANGE;
    *ret = x;
    return 0;
}

int json_get_int64(struct json_object *o, const char *field, unsigned flags, int64_t *ret,
                   struct json_error *err)
{
    struct json_object *v = NULL;
    int r = field_lookup(o, field, flags, json_type_int, &v, err);
    if (r <= 0)
        return r;
    int64_t x;
    if (json_value_int64(v, &x) < 0)
        return json_fail(err, -EINVAL, "Invalid value for field '%s': out of the 64-bit range",
                         field);
    *ret = x;
    return 1;
}

int json_get_id(struct json_object *o, const char *field, unsigned flags, int64_t *ret,
                struct json_error *err)
{
    int64_t x = 0;
    int r = json_get_int64(o, field, flags, &x, err);
    if (r <= 0)
        return r;
    if (x <= 0)
        return json_fail(err, -EINVAL, "Invalid value for field '%s': %lld is not a valid id",
                         field, (long long)x);
    *ret = x;
    return 1;
}

int json_get_bool(struct json_object *o, const char *field, unsigned flags, bool *ret,
                  struct json_error *err)
{
    struct json_object *v = NULL;
    int r = field_lookup(o, field, flags, json_type_boolean, &v, err);
    if (r <= 0)
        return r;
    *ret = json_object_get_boolean(v);
    return 1;
}

int json_get_string(struct json_object *o, const char *field, unsigned flags, const char **ret,
                    struct json_error *err)
{
    struct json_object *v = NULL;
    int r = field_lookup(o, field, flags, json_type_string, &v, err);
    if (r <= 0)
        return r;
    *ret = json_object_get_string(v);
    return 1;
}

int json_get_object(struct json_object *o, const char *field, unsigned flags,
                    struct json_object **ret, struct json_error *err)
{
    struct json_object *v = NULL;
    int r = field_lookup(o, field, flags, json_type_object, &v, err);
    if (r <= 0)
        return r;
    *ret = v;
    return 1;
}

int json_get_array(struct json_object *o, const char *field, unsigned flags,
                   struct json_object **ret, struct json_error *err)
{
    struct json_object *v = NULL;
    int r = field_lookup(o, field, flags, json_type_array, &v, err);
    if (r <= 0)
        return r;
    *ret = v;
    return 1;
}

int json_add(struct json_object *o, const char *key, struct json_object *v)
{
    if (!v)
        return -ENOMEM;
    if (json_object_object_add(o, key, v) < 0) {
        json_object_put(v);
        return -ENOMEM;
    }
    return 0;
}

int json_append(struct json_object *array, struct json_object *v)
{
    if (!v)
        return -ENOMEM;
    if (json_object_array_add(array, v) < 0) {
        json_object_put(v);
        return -ENOMEM;
    }
    return 0;
}

int json_add_int64(struct json_object *o, const char *key, int64_t v)
{
    return json_add(o, key, json_object_new_int64(v));
}

int json_add_bool(struct json_object *o, const char *key, bool v)
{
    return json_add(o, key, json_object_new_boolean(v));
}

int json_add_string(struct json_object *o, const char *key, const char *v)
{
    return json_add(o, key, json_object_new_string(v));
}

int json_add_stringn(struct json_object *o, const char *key, const char *v, size_t n)
{
    if (n > INT_MAX)
        return -EMSGSIZE;
    return json_add(o, key, json_object_new_string_len(v, (int)n));
}
