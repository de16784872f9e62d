/* tests/fakews/auth.c: bearer tokens (the --token PAT and OAuth M2M tokens
 * from /oidc/v1/token, reference §8.5), host metadata and OIDC discovery. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "proto/cleanup.h"
#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/fakews/fakews.h"

#define INVALID_TOKEN "Invalid access token."
#define FORM_FIELD_MAX 512

static bool token_valid(struct fakews *ws, const char *token, const char **ret_principal)
{
    if (ws->cfg.token && streq(token, ws->cfg.token)) {
        *ret_principal = ws->cfg.user;
        return true;
    }
    for (size_t i = 0; i < ws->n_tokens; i++)
        if (streq(ws->tokens[i].token, token)) {
            if (ws->tokens[i].expires_ms <= ws->now_ms)
                return false;
            *ret_principal = ws->tokens[i].client_id;
            return true;
        }
    return false;
}

const char *auth_kind(struct fakews *ws, const char *authorization)
{
    const char *token = authorization ? startswith(authorization, "Bearer ") : NULL;
    const char *principal;
    if (!authorization)
        return "none";
    if (!token || !token_valid(ws, token, &principal))
        return "invalid";
    return ws->cfg.token && streq(token, ws->cfg.token) ? "pat" : "oauth";
}

int auth_check(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    const char *token = req->authorization ? startswith(req->authorization, "Bearer ") : NULL;
    if (token && token_valid(ws, token, &req->principal))
        return 0;
    /* reference §6.1: an integer error_code on this front-door error */
    struct json_object *o = json_object_new_object();
    if (!o || json_add_int64(o, "error_code", 403) < 0 ||
        json_add_string(o, "message", INVALID_TOKEN) < 0) {
        json_object_put(o);
        return -ENOMEM;
    }
    int r = reply_json(reply, o);
    if (r < 0)
        return r;
    reply->status = 403;
    reply->reason_phrase = INVALID_TOKEN;
    return 1;
}

static void base_url(const struct fw_request *req, char *buf, size_t n)
{
    snprintf(buf, n, "http://%s", req->host ? req->host : "127.0.0.1");
}

int auth_host_metadata(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    char base[300], oidc[320];
    base_url(req, base, sizeof(base));
    snprintf(oidc, sizeof(oidc), "%s/oidc", base);
    struct json_object *o = json_object_new_object();
    if (!o || json_add_string(o, "oidc_endpoint", oidc) < 0 ||
        json_add_string(o, "workspace_id", ws->cfg.workspace_id) < 0 ||
        json_add_string(o, "cloud", "aws") < 0 ||
        json_add_string(o, "host_type", "WORKSPACE_HOST") < 0) {
        json_object_put(o);
        return -ENOMEM;
    }
    return reply_json(reply, o);
}

int auth_oidc_discovery(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    char base[300], issuer[320], authz[340], token[340];
    base_url(req, base, sizeof(base));
    snprintf(issuer, sizeof(issuer), "%s/oidc", base);
    snprintf(authz, sizeof(authz), "%s/oidc/v1/authorize", base);
    snprintf(token, sizeof(token), "%s/oidc/v1/token", base);
    struct json_object *o = json_object_new_object();
    if (!o || json_add_string(o, "issuer", issuer) < 0 ||
        json_add_string(o, "authorization_endpoint", authz) < 0 ||
        json_add_string(o, "token_endpoint", token) < 0) {
        json_object_put(o);
        return -ENOMEM;
    }
    return reply_json(reply, o);
}

static int oauth_error(struct fw_reply *reply, int status, const char *error,
                       const char *description)
{
    struct json_object *o = json_object_new_object();
    if (!o || json_add_string(o, "error", error) < 0 ||
        json_add_string(o, "error_description", description) < 0) {
        json_object_put(o);
        return -ENOMEM;
    }
    int r = reply_json(reply, o);
    reply->status = status;
    return r;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64 into buf (terminated). -EINVAL if malformed or too long. */
static int b64_decode(const char *s, char *buf, size_t n)
{
    size_t out = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        int v = b64_value(*s);
        if (v < 0)
            return -EINVAL;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out + 1 >= n)
                return -EINVAL;
            buf[out++] = (char)((acc >> bits) & 0xff);
        }
    }
    buf[out] = 0;
    return 0;
}

/* The url-decoded value of key in a form body, into buf; 0 when found. */
static int form_get(const char *body, size_t len, const char *key, char *buf, size_t n)
{
    size_t klen = strlen(key), i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        if (end - i > klen && strncmp(body + i, key, klen) == 0 && body[i + klen] == '=') {
            size_t out = 0;
            for (size_t j = i + klen + 1; j < end; j++) {
                char c = body[j];
                if (c == '+')
                    c = ' ';
                else if (c == '%' && j + 2 < end + 1 && fw_unhex(body[j + 1]) >= 0 &&
                         fw_unhex(body[j + 2]) >= 0) {
                    c = (char)(fw_unhex(body[j + 1]) * 16 + fw_unhex(body[j + 2]));
                    j += 2;
                }
                if (out + 1 >= n)
                    return -E2BIG;
                buf[out++] = c;
            }
            buf[out] = 0;
            return 0;
        }
        i = end + 1;
    }
    return -ENOENT;
}

int auth_oidc_token(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    char grant[64], id[FORM_FIELD_MAX] = "", secret[FORM_FIELD_MAX] = "", basic[2 * FORM_FIELD_MAX];
    const char *b64 = req->authorization ? startswith(req->authorization, "Basic ") : NULL;
    if (form_get(req->raw_body, req->raw_len, "grant_type", grant, sizeof(grant)) < 0)
        return oauth_error(reply, 400, "invalid_request", "Missing grant_type");
    if (!streq(grant, "client_credentials"))
        return oauth_error(reply, 400, "unsupported_grant_type",
                           "Only client_credentials is supported");
    if (b64) {
        char *colon;
        if (b64_decode(b64, basic, sizeof(basic)) < 0 || !(colon = strchr(basic, ':')))
            return oauth_error(reply, 401, "invalid_client", "Client authentication failed");
        *colon = 0;
        if (strscpy(id, sizeof(id), basic) < 0 || strscpy(secret, sizeof(secret), colon + 1) < 0)
            return oauth_error(reply, 401, "invalid_client", "Client authentication failed");
    } else {
        (void)form_get(req->raw_body, req->raw_len, "client_id", id, sizeof(id));
        (void)form_get(req->raw_body, req->raw_len, "client_secret", secret, sizeof(secret));
    }
    if (!ws->cfg.client_id || !ws->cfg.client_secret || !streq(id, ws->cfg.client_id) ||
        !streq(secret, ws->cfg.client_secret))
        return oauth_error(reply, 401, "invalid_client", "Client authentication failed");

    /* Forget expired tokens; when still full, the oldest goes. */
    size_t keep = 0;
    for (size_t i = 0; i < ws->n_tokens; i++) {
        if (ws->tokens[i].expires_ms > ws->now_ms) {
            ws->tokens[keep++] = ws->tokens[i];
            continue;
        }
        free(ws->tokens[i].token);
        free(ws->tokens[i].client_id);
    }
    ws->n_tokens = keep;
    if (ws->n_tokens == FW_TOKENS_MAX) {
        free(ws->tokens[0].token);
        free(ws->tokens[0].client_id);
        memmove(ws->tokens, ws->tokens + 1, (FW_TOKENS_MAX - 1) * sizeof(ws->tokens[0]));
        ws->n_tokens--;
    }
    unsigned char raw[16];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -EIO;
    _cleanup_free_ char *hex = hexmem(raw, sizeof(raw));
    struct fw_oauth_token *t = &ws->tokens[ws->n_tokens];
    t->token = hex ? strjoin("fakews-m2m-", hex) : NULL;
    t->client_id = strdup(id);
    t->expires_ms = ws->now_ms + ws->cfg.oauth_ttl_s * 1000;
    if (!t->token || !t->client_id) {
        free(t->token);
        free(t->client_id);
        return -ENOMEM;
    }
    ws->n_tokens++;
    struct json_object *o = json_object_new_object();
    if (!o || json_add_string(o, "access_token", t->token) < 0 ||
        json_add_string(o, "token_type", "Bearer") < 0 ||
        json_add_int64(o, "expires_in", ws->cfg.oauth_ttl_s) < 0 ||
        json_add_string(o, "scope", "all-apis") < 0) {
        json_object_put(o);
        return -ENOMEM;
    }
    return reply_json(reply, o);
}
