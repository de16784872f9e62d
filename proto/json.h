/* proto/json.h: json-c helpers. Bounded parsing (size and depth), exact
 * 64-bit ids (never through double), and strict typed field access whose
 * errors name the field. Parsed objects belong to the caller
 * (json_object_put, or _cleanup_json_); getters return borrowed pointers. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/cleanup.h"
#include "proto/macro.h"

#define JSON_DEPTH_MAX 64
#define JSON_SIZE_MAX (16 * MIB)

static inline void json_object_putp(struct json_object **o)
{
    if (*o)
        json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Why a parse or a field check failed, in words fit for an API error. */
struct json_error {
    char message[256];
};

/* Parses exactly one JSON value filling all of buf[0..len) (whitespace may
 * follow). Strict: no comments, no single quotes, no trailing commas, valid
 * UTF-8 only, no NUL byte. Returns 0; -EMSGSIZE if len > max_size; -ELOOP if
 * nested deeper than max_depth; -EBADMSG if malformed. */
int json_parse(const char *buf, size_t len, size_t max_size, int max_depth,
               struct json_object **ret, struct json_error *err);
/* The same, and the value must be an object (-EBADMSG otherwise). */
int json_parse_object(const char *buf, size_t len, size_t max_size, int max_depth,
                      struct json_object **ret, struct json_error *err);

/* Compact text of o (no spaces, "/" not escaped); owned by o. */
const char *json_dump(struct json_object *o, size_t *ret_len);

enum json_flags {
    JSON_OPTIONAL = 0,
    JSON_REQUIRED = 1 << 0, /* absent: "Missing required field: <name>" */
    JSON_NULLABLE = 1 << 1, /* null counts as absent rather than a wrong type */
};

/* Typed field access. Return 1 when present (ret set), 0 when absent and not
 * required (ret untouched), or -EINVAL with err filled: the field has another
 * type, is out of range, or is required and missing. An integer field must be
 * a JSON integer: 1.0, 1e3 and "1" are wrong types, and an integer beyond
 * int64 is out of range. */
int json_get_int64(struct json_object *o, const char *field, unsigned flags, int64_t *ret,
                   struct json_error *err);
/* A positive int64 id: job_id, run_id, repair_id. */
int json_get_id(struct json_object *o, const char *field, unsigned flags, int64_t *ret,
                struct json_error *err);
int json_get_bool(struct json_object *o, const char *field, unsigned flags, bool *ret,
                  struct json_error *err);
int json_get_string(struct json_object *o, const char *field, unsigned flags, const char **ret,
                    struct json_error *err);
int json_get_object(struct json_object *o, const char *field, unsigned flags,
                    struct json_object **ret, struct json_error *err);
int json_get_array(struct json_object *o, const char *field, unsigned flags,
                   struct json_object **ret, struct json_error *err);

/* Value checks on a bare value rather than a field. */
int json_value_int64(struct json_object *v, int64_t *ret);

/* Builders: add key to an object. Return 0 or -ENOMEM (nothing leaks). */
int json_add_int64(struct json_object *o, const char *key, int64_t v);
int json_add_bool(struct json_object *o, const char *key, bool v);
int json_add_string(struct json_object *o, const char *key, const char *v);
int json_add_stringn(struct json_object *o, const char *key, const char *v, size_t n);
/* Takes the reference to v in all cases (put on failure). */
int json_add(struct json_object *o, const char *key, struct json_object *v);
/* Appends v to an array, taking the reference in all cases. */
int json_append(struct json_object *array, struct json_object *v);
