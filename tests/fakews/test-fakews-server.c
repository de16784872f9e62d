/* tests/fakews/test-fakews-server.c: start-up, routing through the endpoint
 * table (every workspace endpoint is served), auth (PAT and OAuth M2M), the
 * door's errors (404, 405, 413, malformed JSON) and a clean SIGTERM. */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto/endpoint.h"
#include "proto/strutil.h"
#include "tests/fakews/fwtest.h"
#include "tests/tap.h"

static void test_every_endpoint(struct fwt *f)
{
    /* The fake serves every row the workspace has: an endpoint it does not
     * serve fails here. */
    for (size_t i = 0; i < _ENDPOINT_MAX; i++) {
        const struct endpoint *e = &endpoint_table[i];
        bool served = e->scope != SCOPE_LOCAL;
        unsigned versions = e->versions ? e->versions : 1;
        for (unsigned v = 1; v <= API_V22; v <<= 1) {
            if (!(versions & v))
                continue;
            char path[ENDPOINT_PATH_MAX];
            int n = endpoint_format_path(e, e->versions ? (enum api_version)v : 0, 12345, path,
                                         sizeof(path));
            if (n < 0) {
                ok(false, "format %s", e->name);
                continue;
            }
            struct fwt_resp r;
            const char *body = e->method == HTTP_GET ? NULL : "{}";
            fwt_call(f, http_method_to_string(e->method), path, body, NULL, &r);
            const char *code = fwt_str(r.json, "error_code");
            if (served)
                ok(r.status != 0 && r.status != 404 && r.status != 405 && r.json,
                   "%s %s is served (got %ld %s)", http_method_to_string(e->method), path, r.status,
                   code ? code : "");
            else
                is_int(r.status, 404, "%s %s (jobsd's own API) is not served",
                       http_method_to_string(e->method), path);
            fwt_resp_done(&r);
        }
    }
}

static void test_auth(struct fwt *f)
{
    struct fwt_resp r;
    static const char *const tokens[] = { "", "wrong-token" };
    for (size_t i = 0; i < 2; i++) {
        fwt_call(f, "GET", "/api/2.2/jobs/list", NULL, tokens[i], &r);
        is_int(r.status, 403, "%s token: 403", i ? "wrong" : "missing");
        is_str(r.body, "{\"error_code\":403,\"message\":\"Invalid access token.\"}",
               "the exact body of reference 6.1");
        is_str(r.reason_phrase, "Invalid access token.", "X-Databricks-Reason-Phrase");
        fwt_resp_done(&r);
    }
    fwt_call(f, "GET", "/api/2.2/jobs/list", NULL, NULL, &r);
    is_int(r.status, 200, "the right token: 200");
    is_str(r.content_type, "application/json", "JSON content type");
    fwt_resp_done(&r);
    fwt_call(f, "GET", "/.well-known/databricks-config", NULL, "", &r);
    is_int(r.status, 200, "host metadata needs no token");
    ok(fwt_str(r.json, "oidc_endpoint") && fwt_str(r.json, "workspace_id"),
       "host metadata has oidc_endpoint and workspace_id");
    fwt_resp_done(&r);
    fwt_call(f, "GET", "/api/2.0/permissions/jobs/1", NULL, "", &r);
    is_int(r.status, 403, "permissions need a token too");
    fwt_resp_done(&r);
}

static void test_door_errors(struct fwt *f)
{
    struct fwt_resp r;
    fwt_get(f, &r, "/api/2.2/jobs/nope");
    is_int(r.status, 404, "unknown path: 404");
    ok(fwt_str(r.json, "error_code") && fwt_str(r.json, "message"), "404 has an error body");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.0/jobs/list");
    is_int(r.status, 404, "jobs are not on /api/2.0");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.1/jobs/list");
    is_int(r.status, 200, "jobs are on /api/2.1");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/create");
    is_int(r.status, 405, "GET on a POST endpoint: 405");
    is_str(fwt_str(r.json, "error_code"), "METHOD_NOT_ALLOWED", "405 code");
    fwt_resp_done(&r);
    fwt_call(f, "POST", "/api/2.2/jobs/create", "{\"name\": ", NULL, &r);
    is_int(r.status, 400, "malformed JSON: 400");
    is_str(fwt_str(r.json, "error_code"), "MALFORMED_REQUEST", "MALFORMED_REQUEST");
    fwt_resp_done(&r);
    fwt_call(f, "POST", "/api/2.2/jobs/create", "[1]", NULL, &r);
    is_int(r.status, 400, "a JSON array body: 400");
    fwt_resp_done(&r);

    /* jobs/delete takes at most 64 KiB */
    static char big[80 * 1024];
    memset(big, ' ', sizeof(big) - 1);
    big[0] = '{';
    big[sizeof(big) - 2] = '}';
    fwt_call(f, "POST", "/api/2.2/jobs/delete", big, NULL, &r);
    is_int(r.status, 413, "a body over the row's max_body: 413");
    fwt_resp_done(&r);
    fwt_call(f, "POST", "/api/2.2/jobs/delete", "{}", NULL, &r);
    is_int(r.status, 400, "the connection still works after a 413");
    fwt_resp_done(&r);
}

static void test_oauth(void)
{
    static const char *const args[] = {
        "--clock", "manual",      "--client-id", "sp-1234", "--client-secret",
        "s3cret",  "--oauth-ttl", "60",          NULL
    };
    struct fwt *f = fwt_start(args);
    struct fwt_resp r;
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/oidc/v1/token", (unsigned)fwt_port(f));

    fwt_call(f, "GET", "/oidc/.well-known/oauth-authorization-server", NULL, "", &r);
    is_int(r.status, 200, "OIDC discovery");
    ok(fwt_str(r.json, "token_endpoint") &&
           strstr(fwt_str(r.json, "token_endpoint"), "/oidc/v1/token"),
       "token_endpoint is /oidc/v1/token");
    fwt_resp_done(&r);

    /* client_credentials with HTTP Basic, as the SDKs send it */
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Basic c3AtMTIzNDpzM2NyZXQ=");
    FILE *mem;
    char *out = NULL;
    size_t outlen = 0;
    mem = open_memstream(&out, &outlen);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "grant_type=client_credentials&scope=all-apis");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    fclose(mem);
    is_int(cc, CURLE_OK, "token request went through");
    is_int(status, 200, "client_credentials: 200");
    char token[128] = "";
    const char *at = out ? strstr(out, "\"access_token\":\"") : NULL;
    if (at) {
        at += strlen("\"access_token\":\"");
        size_t n = strcspn(at, "\"");
        if (n < sizeof(token)) {
            memcpy(token, at, n);
            token[n] = 0;
        }
    }
    ok(*token, "an access_token");
    ok(out && strstr(out, "\"expires_in\":60"), "expires_in is --oauth-ttl");
    ok(out && strstr(out, "\"token_type\":\"Bearer\""), "token_type Bearer");
    free(out);
    curl_slist_free_all(h);

    /* credentials in the form instead of Basic */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                     "grant_type=client_credentials&client_id=sp-1234&client_secret=s3cret");
    out = NULL;
    mem = open_memstream(&out, &outlen);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    fclose(mem);
    is_int(status, 200, "client_credentials in the form: 200");
    free(out);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "grant_type=client_credentials&scope=all-apis");

    /* a wrong secret */
    h = curl_slist_append(NULL, "Authorization: Basic c3AtMTIzNDp3cm9uZw==");
    out = NULL;
    mem = open_memstream(&out, &outlen);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    fclose(mem);
    is_int(status, 401, "a wrong client secret: 401");
    ok(out && strstr(out, "invalid_client"), "error invalid_client");
    free(out);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);

    fwt_call(f, "GET", "/api/2.2/jobs/list", NULL, token, &r);
    is_int(r.status, 200, "the OAuth token opens the Jobs API");
    fwt_resp_done(&r);
    fwt_call(f, "GET", "/__fake/requests", NULL, "", &r);
    ok(r.body && !strstr(r.body, "s3cret") && !strstr(r.body, token),
       "neither the client secret nor the token is in the request log");
    ok(r.body && strstr(r.body, "\"auth\":\"oauth\""), "the log says auth oauth");
    fwt_resp_done(&r);
    fwt_advance(f, 61 * 1000);
    fwt_call(f, "GET", "/api/2.2/jobs/list", NULL, token, &r);
    is_int(r.status, 403, "after its TTL on the simulated clock: 403");
    fwt_resp_done(&r);
    fwt_call(f, "GET", "/api/2.2/jobs/list", NULL, NULL, &r);
    is_int(r.status, 200, "the PAT still works");
    fwt_resp_done(&r);
    is_int(fwt_stop(f), 0, "SIGTERM: exit 0");
}

int main(void)
{
    static const char *const args[] = { "--clock", "manual", NULL };
    struct fwt *f = fwt_start(args);
    ok(fwt_port(f) > 0, "LISTENING with a port");
    test_every_endpoint(f);
    test_auth(f);
    test_door_errors(f);
    is_int(fwt_stop(f), 0, "SIGTERM: exit 0");
    test_oauth();
    return tap_done();
}
