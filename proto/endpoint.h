/* proto/endpoint.h: the endpoint table (proto/endpoints.def) and the matcher
 * that maps (method, path) to a row. The table is static and read-only;
 * matches point into it and own nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/macro.h"

enum http_method {
    HTTP_GET = 1 << 0,
    HTTP_POST = 1 << 1,
    HTTP_PUT = 1 << 2,
    HTTP_PATCH = 1 << 3,
    HTTP_DELETE = 1 << 4,
    HTTP_HEAD = 1 << 5,
};

enum api_version {
    API_V20 = 1 << 0,
    API_V21 = 1 << 1,
    API_V22 = 1 << 2,
};

enum endpoint_scope {
    SCOPE_JOBS,
    SCOPE_PERMISSIONS,
    SCOPE_META,
    SCOPE_AUTH,
    SCOPE_LOCAL,
};

enum endpoint_access {
    ACCESS_READ,
    ACCESS_WRITE,
};

enum cache_class {
    CACHE_NONE,
    CACHE_JOB,
    CACHE_JOB_LIST,
    CACHE_RUN,
    CACHE_RUN_LIST,
    CACHE_RUN_OUTPUT,
    CACHE_RUN_EXPORT,
    CACHE_PERMISSIONS,
    CACHE_PERMISSION_LEVELS,
    _CACHE_CLASS_MAX,
};

enum retry_class {
    RETRY_SAFE,
    RETRY_WITH_TOKEN,
    RETRY_NEVER,
};

enum endpoint_key {
    KEY_NONE,
    KEY_JOB_ID,
    KEY_RUN_ID,
};

enum invalidate_flags {
    INV_JOB = 1 << 0,         /* jobs/get of the key job */
    INV_JOB_LIST = 1 << 1,    /* every jobs/list page */
    INV_RUN = 1 << 2,         /* runs/get, get-output, export of the key run */
    INV_RUN_LIST = 1 << 3,    /* every runs/list page */
    INV_PERMISSIONS = 1 << 4, /* permissions of the key job */
    INV_JOB_RUNS = 1 << 5,    /* every run of the key job */
};

enum endpoint_id {
#define ENDPOINT(id, ...) ENDPOINT_##id,
#include "proto/endpoints.def"
#undef ENDPOINT
    _ENDPOINT_MAX,
};

struct endpoint {
    enum endpoint_id id;
    const char *name;
    enum http_method method;
    const char *pattern;
    unsigned versions;
    enum endpoint_scope scope;
    enum endpoint_access access;
    enum cache_class cache;
    enum retry_class retry;
    enum endpoint_key key;
    unsigned invalidates;
    size_t max_body;
    const char *cli;
};

extern const struct endpoint endpoint_table[_ENDPOINT_MAX];

/* NULL for an id out of range. */
const struct endpoint *endpoint_get(enum endpoint_id id) _pure_;
/* By the SDK operation name ("get_run"); NULL if none. */
const struct endpoint *endpoint_by_name(const char *name) _pure_;

const char *http_method_to_string(enum http_method m) _const_;
/* "GET" -> HTTP_GET; 0 for a method jobsd does not know. */
enum http_method http_method_from_string(const char *s) _pure_;
const char *api_version_to_string(enum api_version v) _const_;

#define ENDPOINT_PATH_MAX 512

struct endpoint_match {
    const struct endpoint *endpoint;
    enum api_version version; /* 0 for rows without "{v}" */
    bool has_path_id;
    int64_t path_id; /* {job_id} or {run_id}, when has_path_id */
};

/* Maps a request to its row. path is the URL path; a query string after '?'
 * is ignored. Paths are exact: no trailing '/', no empty or dot segments, at
 * most ENDPOINT_PATH_MAX bytes, and ids are decimal numbers 1..INT64_MAX.
 * Returns 0 with ret filled; -ENOENT when no row has this path (404);
 * -EOPNOTSUPP when rows have this path but not this method (405), with
 * *ret_allowed set to the HTTP_* methods they do allow. */
int endpoint_match(const char *method, const char *path, struct endpoint_match *ret,
                   unsigned *ret_allowed);

/* The concrete path of a row: "{v}" becomes version (which the row must
 * accept), the id placeholder becomes id. Returns the length, -EINVAL for a
 * version or id the row does not take, -ENOBUFS if n is too small. */
int endpoint_format_path(const struct endpoint *e, enum api_version version, int64_t id, char *buf,
                         size_t n);

/* "GET, POST" for a method mask, into buf. */
int http_methods_format(unsigned methods, char *buf, size_t n);
