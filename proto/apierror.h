/* proto/apierror.h: the Databricks error model. Builds
 * {"error_code": "...", "message": "..."} bodies, parses every error shape the
 * workspace and gateways send (string or integer error_code, {"error": ...},
 * HTML, "CODE: message", empty), and maps HTTP status <-> error code.
 * struct api_error is plain data; built bodies are malloc'd for the caller. */
#pragma once

#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "proto/macro.h"

struct api_error {
    int status;          /* HTTP status */
    char code[64];       /* error_code, or the default for status when none was sent */
    char message[1024];  /* may be cut; always terminated */
    bool code_from_body; /* the body carried a string error_code */
};

/* The code a locally made error with this status carries:
 * 400 INVALID_PARAMETER_VALUE, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED,
 * 404 NOT_FOUND, 405 METHOD_NOT_ALLOWED, 409 RESOURCE_CONFLICT,
 * 413 REQUEST_TOO_LARGE, 429 REQUEST_LIMIT_EXCEEDED, 499 CANCELLED,
 * 500 INTERNAL_ERROR, 501 NOT_IMPLEMENTED, 502 BAD_GATEWAY,
 * 503 TEMPORARILY_UNAVAILABLE, 504 DEADLINE_EXCEEDED; else UNKNOWN. */
const char *api_error_code_for_status(int status) _const_;
/* The HTTP status the SDKs give a code (reference §6.2); 0 if unknown. */
int api_error_status_for_code(const char *code) _pure_;
/* "Bad Request", "Not Found", ...; "Unknown" for others. */
const char *http_status_reason(int status) _const_;

/* {"error_code": code, "message": message}. Returns 0 or -ENOMEM. */
int api_error_build(const char *code, const char *message, struct json_object **ret);
/* The same, serialized; NULL on OOM. The caller frees. */
char *api_error_body(const char *code, const char *format, ...) _printf_(2, 3);
char *api_error_vbody(const char *code, const char *format, va_list ap) _printf_(2, 0);

/* Reads any error response. Always fills ret (status kept, code defaulted
 * from the status, message from whatever the body offers, else the reason
 * phrase). Returns 0, or -EINVAL if status is not an error (< 400). */
int api_error_parse(int status, const char *body, size_t len, struct api_error *ret);

/* What the official SDKs retry (reference §7.1): 429 and 503, a code meaning
 * "too many requests", or one of the known transient messages. */
bool api_error_is_retryable(const struct api_error *e) _pure_;
/* 404, or 400 INVALID_PARAMETER_VALUE saying "... does not exist"/"doesn't exist". */
bool api_error_is_not_found(const struct api_error *e) _pure_;
