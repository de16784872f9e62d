/* Unit tests for proto/apierror: every error shape parses to a code and a
 * message; status and code map both ways; retryable and not-found follow
 * the SDKs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/apierror.h"
#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/tap.h"

static void test_parse(void)
{
    static const struct {
        int status;
        const char *body;
        const char *code, *message;
        bool from_body;
    } cases[] = {
        { 400, "{\"error_code\":\"INVALID_PARAMETER_VALUE\",\"message\":\"Job 5 does not exist.\"}",
          "INVALID_PARAMETER_VALUE", "Job 5 does not exist.", true },
        { 403, "{\"error_code\": 403, \"message\": \"Invalid access token.\"}", "PERMISSION_DENIED",
          "Invalid access token.", false },
        { 404,
          "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"x\",\"details\":[{\"@type\":"
          "\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"r\"}]}",
          "RESOURCE_DOES_NOT_EXIST", "x", true },
        { 500, "{\"error\": \"legacy 1.2 error\"}", "INTERNAL_ERROR", "legacy 1.2 error", false },
        { 400, "INVALID_STATE: Run 7 is still running", "INVALID_STATE", "Run 7 is still running",
          true },
        { 403,
          "<html><head><title>Error 403 Invalid access token.</title></head><body><h2>HTTP ERROR "
          "403</h2><pre>Invalid access token.</pre></body></html>",
          "PERMISSION_DENIED", "Invalid access token.", false },
        { 502, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
          "BAD_GATEWAY", "502 Bad Gateway", false },
        { 503, "", "TEMPORARILY_UNAVAILABLE", "Service Unavailable", false },
        { 504, NULL, "DEADLINE_EXCEEDED", "Gateway Timeout", false },
        { 429, "{\"error_code\":\"REQUEST_LIMIT_EXCEEDED\",\"message\":\"slow down\"}",
          "REQUEST_LIMIT_EXCEEDED", "slow down", true },
        { 500, "upstream connect error or disconnect/reset before headers", "INTERNAL_ERROR",
          "upstream connect error or disconnect/reset before headers", false },
        { 400, "{\"message\":\"no code\"}", "INVALID_PARAMETER_VALUE", "no code", false },
        { 400, "{\"error_code\":\"\",\"message\":\"empty code\"}", "INVALID_PARAMETER_VALUE",
          "empty code", false },
        { 400, "[1,2]", "INVALID_PARAMETER_VALUE", "[1,2]", false },
        { 418, "{\"error_code\":\"TEAPOT\",\"message\":\"short and stout\"}", "TEAPOT",
          "short and stout", true },
        { 400, "{\"error_code\":\"X\",\"message\":\"trunc", "INVALID_PARAMETER_VALUE",
          "{\"error_code\":\"X\",\"message\":\"trunc", false },
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        struct api_error e;
        size_t len = cases[i].body ? strlen(cases[i].body) : 0;
        is_int(api_error_parse(cases[i].status, cases[i].body, len, &e), 0, "case %zu parses", i);
        is_int(e.status, cases[i].status, "case %zu status kept", i);
        is_str(e.code, cases[i].code, "case %zu code", i);
        is_str(e.message, cases[i].message, "case %zu message", i);
        is_int(e.code_from_body, cases[i].from_body, "case %zu code_from_body", i);
    }
    struct api_error e;
    is_int(api_error_parse(200, "{}", 2, &e), -EINVAL, "a 200 is not an error");

    /* A huge message is cut, never overflows. */
    size_t n = 10000;
    char *big = malloc(n + 64);
    memcpy(big, "{\"error_code\":\"X\",\"message\":\"", 29);
    memset(big + 29, 'm', n);
    memcpy(big + 29 + n, "\"}", 3);
    is_int(api_error_parse(400, big, strlen(big), &e), 0, "a 10 KB message parses");
    is_int(strlen(e.message), sizeof(e.message) - 1, "... cut to the buffer");
    free(big);
}

static void test_maps(void)
{
    static const int statuses[] = { 400, 401, 403, 404, 405, 409, 413,
                                    429, 499, 500, 501, 502, 503, 504 };
    for (size_t i = 0; i < ELEMENTSOF(statuses); i++) {
        const char *code = api_error_code_for_status(statuses[i]);
        is_int(api_error_status_for_code(code), statuses[i], "%d -> %s -> back", statuses[i], code);
        ok(!streq(http_status_reason(statuses[i]), "Unknown"), "%d has a reason phrase",
           statuses[i]);
    }
    is_int(api_error_status_for_code("RESOURCE_DOES_NOT_EXIST"), 404, "RESOURCE_DOES_NOT_EXIST");
    is_int(api_error_status_for_code("INVALID_STATE"), 400, "INVALID_STATE");
    is_int(api_error_status_for_code("RESOURCE_EXHAUSTED"), 429, "RESOURCE_EXHAUSTED");
    is_int(api_error_status_for_code("ALREADY_EXISTS"), 409, "ALREADY_EXISTS");
    is_int(api_error_status_for_code("DATA_LOSS"), 500, "DATA_LOSS");
    is_int(api_error_status_for_code("NOPE"), 0, "unknown code");
    is_int(api_error_status_for_code(NULL), 0, "NULL code");
    is_str(api_error_code_for_status(422), "INVALID_PARAMETER_VALUE", "other 4xx");
    is_str(api_error_code_for_status(599), "UNKNOWN", "other 5xx");
}

static void test_build(void)
{
    _cleanup_free_ char *body =
        api_error_body("ENDPOINT_NOT_FOUND", "No API found for '%s %s'", "GET", "/api/2.2/x\"y");
    is_str(body,
           "{\"error_code\":\"ENDPOINT_NOT_FOUND\",\"message\":\"No API found for 'GET "
           "/api/2.2/x\\\"y'\"}",
           "body is JSON with the quote escaped");
    struct api_error e;
    api_error_parse(404, body, strlen(body), &e);
    is_str(e.code, "ENDPOINT_NOT_FOUND", "built body parses back: code");
    is_str(e.message, "No API found for 'GET /api/2.2/x\"y'", "built body parses back: message");

    /* A path that is not UTF-8 (found by tests/fuzz/fuzz-router): the body
     * stays JSON, the bad bytes become '?', good ones stay. */
    _cleanup_free_ char *bad = api_error_body("ENDPOINT_NOT_FOUND", "No API found for '%s'",
                                              "/a\xff\xc3\xa9\xed\xa0\x80z");
    is_str(bad,
           "{\"error_code\":\"ENDPOINT_NOT_FOUND\",\"message\":\"No API found for "
           "'/a?\xc3\xa9???z'\"}",
           "invalid UTF-8 in a message is replaced");
    struct json_object *o = NULL;
    ok(json_parse_object(bad, strlen(bad), JSON_SIZE_MAX, JSON_DEPTH_MAX, &o, NULL) == 0,
       "the body with invalid UTF-8 replaced is strict JSON");
    json_object_put(o);
}

static void test_predicates(void)
{
    static const struct {
        int status;
        const char *code, *message;
        bool retry, missing;
    } cases[] = {
        { 429, "REQUEST_LIMIT_EXCEEDED", "x", true, false },
        { 503, "TEMPORARILY_UNAVAILABLE", "x", true, false },
        { 400, "REQUEST_LIMIT_EXCEEDED", "x", true, false },
        { 500, "INTERNAL_ERROR", "Unexpected error", true, false },
        { 400, "INVALID_STATE", "ClusterNotReadyException: not yet", true, false },
        { 500, "INTERNAL_ERROR", "boom", false, false },
        { 502, "BAD_GATEWAY", "x", false, false },
        { 504, "DEADLINE_EXCEEDED", "x", false, false },
        { 400, "INVALID_PARAMETER_VALUE", "Run 42 does not exist.", false, true },
        { 400, "INVALID_PARAMETER_VALUE", "Run: 1 in job: 2 doesn't exist", false, true },
        { 400, "INVALID_STATE", "Run 42 does not exist.", false, false },
        { 404, "RESOURCE_DOES_NOT_EXIST", "x", false, true },
        { 404, "NOT_FOUND", "Job 123 does not exist.", false, true },
        { 400, "INVALID_PARAMETER_VALUE", "limit too big", false, false },
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        struct api_error e = { .status = cases[i].status };
        strscpy(e.code, sizeof(e.code), cases[i].code);
        strscpy(e.message, sizeof(e.message), cases[i].message);
        is_int(api_error_is_retryable(&e), cases[i].retry, "%d %s '%s' retryable?", cases[i].status,
               cases[i].code, cases[i].message);
        is_int(api_error_is_not_found(&e), cases[i].missing, "%d %s '%s' not found?",
               cases[i].status, cases[i].code, cases[i].message);
    }
}

int main(void)
{
    test_parse();
    test_maps();
    test_build();
    test_predicates();
    return tap_done();
}
