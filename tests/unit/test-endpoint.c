/* Unit tests for proto/endpoint: every row round-trips through the matcher,
 * wrong methods are 405, unknown paths 404, and the table is consistent. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/endpoint.h"
#include "proto/strutil.h"
#include "tests/tap.h"

#define BIG_ID 9007199254740993LL /* 2^53 + 1: lost by any trip through a double */

static const unsigned all_versions[] = { API_V20, API_V21, API_V22 };

static void test_round_trip(void)
{
    for (size_t i = 0; i < _ENDPOINT_MAX; i++) {
        const struct endpoint *e = &endpoint_table[i];
        bool has_id = strstr(e->pattern, "_id}") != NULL;
        unsigned tried = 0;

        is_int(e->id, (int64_t)i, "%s: row %zu has its own id", e->name, i);
        for (size_t v = 0; v < ELEMENTSOF(all_versions) + 1; v++) {
            unsigned version = v < ELEMENTSOF(all_versions) ? all_versions[v] : 0;
            if (version && !(e->versions & version))
                continue;
            if (!version && e->versions)
                continue;
            char path[ENDPOINT_PATH_MAX];
            int n = endpoint_format_path(e, version, has_id ? BIG_ID : 0, path, sizeof(path));
            if (!ok(n > 0, "%s v%s: formats a path", e->name,
                    version ? api_version_to_string(version) : "-"))
                continue;
            tried++;

            struct endpoint_match m = { 0 };
            unsigned allowed = 0;
            int r = endpoint_match(http_method_to_string(e->method), path, &m, &allowed);
            is_int(r, 0, "%s %s matches", http_method_to_string(e->method), path);
            ok(m.endpoint == e, "%s matches its own row (got %s)", path,
               m.endpoint ? m.endpoint->name : "none");
            is_int(m.version, version, "%s: version extracted", path);
            is_int(m.has_path_id, has_id, "%s: path id presence", path);
            if (has_id)
                is_int(m.path_id, BIG_ID, "%s: id above 2^53 survives", path);

            /* With a query string the match is the same. */
            char with_query[ENDPOINT_PATH_MAX + 32];
            snprintf(with_query, sizeof(with_query), "%s?run_id=1&x=y", path);
            r = endpoint_match(http_method_to_string(e->method), with_query, &m, NULL);
            ok(r == 0 && m.endpoint == e, "%s: the query string is ignored", with_query);

            /* Every other method: 405 naming the allowed ones, or another row. */
            for (unsigned meth = HTTP_GET; meth <= HTTP_HEAD; meth <<= 1) {
                if (meth == e->method)
                    continue;
                struct endpoint_match m2 = { 0 };
                allowed = 0;
                r = endpoint_match(http_method_to_string(meth), path, &m2, &allowed);
                if (r == 0)
                    ok(m2.endpoint != e && m2.endpoint->method == meth,
                       "%s %s: another row for the same path", http_method_to_string(meth), path);
                else {
                    is_int(r, -EOPNOTSUPP, "%s %s is 405", http_method_to_string(meth), path);
                    ok(allowed & e->method, "%s %s: Allow names %s", http_method_to_string(meth),
                       path, http_method_to_string(e->method));
                }
            }
        }
        ok(tried > 0, "%s: at least one concrete path tried", e->name);
    }
}

static void test_unknown_paths(void)
{
    static const struct {
        const char *method, *path;
    } cases[] = {
        { "GET", "" },
        { "GET", "api/2.2/jobs/list" },
        { "GET", "/" },
        { "GET", "/api" },
        { "GET", "/api/2.2" },
        { "GET", "/api/2.2/jobs" },
        { "GET", "/api/2.2/jobs/lists" },
        { "GET", "/api/2.2/jobs/list/" },
        { "GET", "//api/2.2/jobs/list" },
        { "GET", "/api//2.2/jobs/list" },
        { "GET", "/api/2.3/jobs/list" },
        { "GET", "/api/2.0/jobs/list" },
        { "GET", "/api/1.2/jobs/list" },
        { "GET", "/api/2.2/jobs/./list" },
        { "GET", "/api/2.2/jobs/../jobs/list" },
        { "GET", "/API/2.2/jobs/list" },
        { "GET", "/api/2.2/jobs/runs/get/" },
        { "GET", "/api/2.2/jobs/runs/getoutput" },
        { "GET", "/api/2.2/clusters/list" },
        { "GET", "/api/2.1/permissions/jobs/1" },
        { "GET", "/api/2.2/permissions/jobs/1" },
        { "GET", "/api/2.0/permissions/jobs/" },
        { "GET", "/api/2.0/permissions/jobs/abc" },
        { "GET", "/api/2.0/permissions/jobs/0" },
        { "GET", "/api/2.0/permissions/jobs/-1" },
        { "GET", "/api/2.0/permissions/jobs/+1" },
        { "GET", "/api/2.0/permissions/jobs/1e3" },
        { "GET", "/api/2.0/permissions/jobs/ 1" },
        { "GET", "/api/2.0/permissions/jobs/99999999999999999999" },
        { "GET", "/api/2.0/permissions/jobs/9223372036854775808" },
        { "GET", "/api/2.0/permissions/jobs/1/permissionlevels" },
        { "GET", "/api/2.0/permissions/jobs/1/permissionLevels/x" },
        { "GET", "/api/2.0/permissions/clusters/1" },
        { "GET", "/jobsd/v2/health" },
        { "GET", "/jobsd/v1" },
        { "GET", "/jobsd/v1/runs/" },
        { "GET", "/jobsd/v1/runs/x" },
        { "GET", "/jobsd/v1/runs/1/" },
        { "GET", "/jobsd/v1/runs/1/outputs" },
        { "GET", "/metrics/x" },
        { "GET", "/.well-known/databricks-config/" },
        { "GET", "/oidc/v1" },
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        struct endpoint_match m = { 0 };
        int r = endpoint_match(cases[i].method, cases[i].path, &m, NULL);
        is_int(r, -ENOENT, "%s '%s' is not found", cases[i].method, cases[i].path);
    }

    char longpath[ENDPOINT_PATH_MAX + 64];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = 0;
    is_int(endpoint_match("GET", longpath, &(struct endpoint_match){ 0 }, NULL), -ENOENT,
           "a path longer than ENDPOINT_PATH_MAX is not found");
    is_int(endpoint_match("GET", NULL, &(struct endpoint_match){ 0 }, NULL), -ENOENT,
           "a NULL path is not found");

    unsigned allowed = 0;
    is_int(endpoint_match("BREW", "/api/2.2/jobs/list", &(struct endpoint_match){ 0 }, &allowed),
           -EOPNOTSUPP, "an unknown method on a known path is 405");
    is_int(allowed, HTTP_GET, "... allowing GET");
    allowed = 0;
    is_int(endpoint_match("POST", "/api/2.0/permissions/jobs/7", &(struct endpoint_match){ 0 },
                          &allowed),
           -EOPNOTSUPP, "POST on permissions is 405");
    is_int(allowed, HTTP_GET | HTTP_PUT | HTTP_PATCH, "... allowing GET, PUT and PATCH");
    char methods[64];
    http_methods_format(allowed, methods, sizeof(methods));
    is_str(methods, "GET, PUT, PATCH", "Allow header text");
}

static void test_table(void)
{
    unsigned upstream = 0;
    for (size_t i = 0; i < _ENDPOINT_MAX; i++) {
        const struct endpoint *e = &endpoint_table[i];
        if (e->scope == SCOPE_JOBS || e->scope == SCOPE_PERMISSIONS)
            upstream++;
        ok(e->name && e->pattern && e->method, "%s: name, pattern and method set", e->name);
        if (e->method == HTTP_GET)
            ok(e->max_body == 0 && e->access == ACCESS_READ, "%s: a GET is a read without body",
               e->name);
        if (e->access == ACCESS_WRITE)
            ok(e->max_body > 0 && e->cache == CACHE_NONE &&
                   (e->scope != SCOPE_LOCAL || e->id == ENDPOINT_LOCAL_BACKFILL),
               "%s: a write takes a body, is never cached and goes upstream (or is the backfill)",
               e->name);
        if (e->retry == RETRY_WITH_TOKEN)
            ok(e->id == ENDPOINT_RUN_NOW || e->id == ENDPOINT_RUNS_SUBMIT,
               "%s: only run-now and submit take an idempotency token", e->name);
        if (e->scope == SCOPE_JOBS)
            is_int(e->versions, API_V21 | API_V22, "%s: Jobs rows accept 2.1 and 2.2", e->name);
        if (e->scope == SCOPE_PERMISSIONS)
            is_int(e->versions, API_V20, "%s: permission rows are on 2.0", e->name);
        ok(endpoint_by_name(e->name) == e, "%s: name is unique", e->name);
        for (size_t j = i + 1; j < _ENDPOINT_MAX; j++) {
            const struct endpoint *f = &endpoint_table[j];
            if (streq(e->pattern, f->pattern) && e->method == f->method)
                ok(false, "%s and %s share method and pattern", e->name, f->name);
            if (e->cli && f->cli && streq(e->cli, f->cli))
                ok(false, "%s and %s share a jobsctl command", e->name, f->name);
        }
    }
    is_int(upstream, 20, "the table has the 20 upstream endpoints of reference §1");
    ok(endpoint_get(_ENDPOINT_MAX) == NULL, "endpoint_get out of range is NULL");
    ok(endpoint_by_name("nope") == NULL, "endpoint_by_name unknown is NULL");
    is_int(endpoint_get(ENDPOINT_RUNS_GET)->key, KEY_RUN_ID, "runs/get is keyed by run_id");
    is_int(endpoint_get(ENDPOINT_RUN_NOW)->invalidates & INV_RUN_LIST, INV_RUN_LIST,
           "run-now invalidates run lists");
}

static void test_format_errors(void)
{
    char buf[ENDPOINT_PATH_MAX];
    const struct endpoint *runs_get = endpoint_get(ENDPOINT_RUNS_GET);
    const struct endpoint *perms = endpoint_get(ENDPOINT_PERMISSIONS_GET);

    is_int(endpoint_format_path(runs_get, API_V20, 0, buf, sizeof(buf)), -EINVAL,
           "runs/get has no 2.0 path");
    is_int(endpoint_format_path(perms, API_V20, 0, buf, sizeof(buf)), -EINVAL,
           "a path id is required where the pattern has one");
    is_int(endpoint_format_path(runs_get, API_V22, 0, buf, 10), -ENOBUFS,
           "a short buffer is -ENOBUFS");
    int n = endpoint_format_path(perms, API_V20, 42, buf, sizeof(buf));
    is_str(buf, "/api/2.0/permissions/jobs/42", "permissions path formatted");
    is_int(n, (int64_t)strlen(buf), "returns the length");
    endpoint_format_path(runs_get, API_V21, 0, buf, sizeof(buf));
    is_str(buf, "/api/2.1/jobs/runs/get", "2.1 path formatted");
}

static void test_methods(void)
{
    is_int(http_method_from_string("PATCH"), HTTP_PATCH, "PATCH parses");
    is_int(http_method_from_string("patch"), 0, "methods are case-sensitive");
    is_int(http_method_from_string(NULL), 0, "NULL method");
    is_str(http_method_to_string(HTTP_DELETE), "DELETE", "DELETE prints");
    is_str(api_version_to_string(API_V22), "2.2", "2.2 prints");
}

int main(void)
{
    test_round_trip();
    test_unknown_paths();
    test_table();
    test_format_errors();
    test_methods();
    return tap_done();
}
