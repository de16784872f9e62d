/* Unit tests for the workspace credentials (daemon/creds.c): the order of
 * $CREDENTIALS_DIRECTORY, DATABRICKS_*, jobsd.conf and ~/.databrickscfg, the
 * SDKs' profile rules (reference/jobs-api.md §8.2), PAT and OAuth M2M, host
 * normalisation, file permissions and secrets kept out of logs and output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "daemon/config-private.h"
#include "daemon/config.h"
#include "proto/cleanup.h"
#include "proto/log.h"
#include "proto/strutil.h"
#include "tests/tap.h"
#include "tests/unit/config-testutil.h"

#define CRED_TOKEN "dapi-from-credential-000001"
#define ENV_TOKEN "dapi-from-environment-00002"
#define CONF_TOKEN "dapi-from-jobsd-conf-000003"
#define CFG_TOKEN "dapi-from-databrickscfg-004"

static void test_order(void)
{
    const char *d = tu_tmpdir();
    const char *creds = tu_path(d, "creds");
    struct config *c = NULL;
    mkdir(creds, 0700);
    tu_write(creds, "databricks-host", "https://cred.cloud.databricks.com\n", 0400);
    tu_write(creds, "databricks-token", CRED_TOKEN "\n", 0400);
    tu_write(d, ".databrickscfg",
             "[DEFAULT]\nhost = cfg.cloud.databricks.com\ntoken = " CFG_TOKEN "\n", 0600);
    const char *conf = "[workspace]\nhost = conf.cloud.databricks.com\ntoken = " CONF_TOKEN "\n";
    _cleanup_free_ char *cred_env = strjoin("CREDENTIALS_DIRECTORY=", creds);
    const char *env_all[] = { cred_env, "DATABRICKS_HOST=env.cloud.databricks.com",
                              "DATABRICKS_TOKEN=" ENV_TOKEN, NULL };

    is_int(tu_load(d, conf, env_all, NULL, &c), 0, "all four sources");
    is_str(c ? c->workspace.host : "", "https://cred.cloud.databricks.com", "credential host");
    is_str(c ? c->workspace.token : "", CRED_TOKEN, "credential token, newline stripped");
    is_str(config_source(c, "workspace.token"), "credential databricks-token", "its source");
    c = config_free(c);

    tu_write(creds, "databricks-token", "", 0400);
    is_int(tu_load(d, conf, env_all, NULL, &c), 0, "empty credential file");
    is_str(c ? c->workspace.token : "", ENV_TOKEN, "then the environment's token");
    is_str(c ? c->workspace.host : "", "https://cred.cloud.databricks.com",
           "attributes are taken one by one");
    c = config_free(c);

    const char *env_none[] = { NULL };
    is_int(tu_load(d, conf, env_none, NULL, &c), 0, "jobsd.conf only");
    is_str(c ? c->workspace.host : "", "https://conf.cloud.databricks.com", "jobsd.conf host");
    is_str(c ? c->workspace.token : "", CONF_TOKEN, "jobsd.conf token");
    is_str(c ? c->workspace.profile : "", "", "~/.databrickscfg was not read");
    c = config_free(c);

    is_int(tu_load(d, NULL, env_none, NULL, &c), 0, "~/.databrickscfg only");
    is_str(c ? c->workspace.host : "", "https://cfg.cloud.databricks.com", "[DEFAULT] host");
    is_str(c ? c->workspace.token : "", CFG_TOKEN, "[DEFAULT] token");
    is_str(c ? c->workspace.profile : "", "DEFAULT", "the profile used is shown");
    _cleanup_free_ char *src = strjoin(tu_path(d, ".databrickscfg"), ":3 [DEFAULT]");
    is_str(config_source(c, "workspace.token"), src, "source names file, line and profile");
    c = config_free(c);

    /* A host from the environment and no profile asked: the file is skipped
     * entirely (§8.1), so its token is not used. */
    const char *env_host[] = { "DATABRICKS_HOST=env.cloud.databricks.com", NULL };
    is_int(tu_load(d, NULL, env_host, NULL, &c), -EINVAL, "host set, file skipped");
    ok_log(tu_log_has("no credentials for env.cloud.databricks.com"), "so no credentials");

    /* Asking for a profile reads the file even then; earlier sources win. */
    const char *env_prof[] = { "DATABRICKS_HOST=env.cloud.databricks.com",
                               "DATABRICKS_CONFIG_PROFILE=DEFAULT", NULL };
    is_int(tu_load(d, NULL, env_prof, NULL, &c), 0, "profile asked");
    is_str(c ? c->workspace.host : "", "https://env.cloud.databricks.com", "env host wins");
    is_str(c ? c->workspace.token : "", CFG_TOKEN, "token from the profile");
    c = config_free(c);
}

static void test_profiles(void)
{
    const char *d = tu_tmpdir();
    struct config *c = NULL;
    const char *cfg = tu_path(d, ".databrickscfg");
    const char *env_none[] = { NULL };

    /* The profile asked for is missing: an error naming file and profile. */
    tu_write(d, ".databrickscfg", "[DEFAULT]\nhost = a.com\ntoken = " CFG_TOKEN "\n", 0600);
    const char *env_missing[] = { "DATABRICKS_CONFIG_PROFILE=prod", NULL };
    is_int(tu_load(d, NULL, env_missing, NULL, &c), -EINVAL, "missing profile");
    _cleanup_free_ char *want = strjoin(cfg, " has no prod profile configured");
    ok_log(tu_log_has(want), "error names file and profile");
    is_int(tu_load(d, "[workspace]\nprofile = prod\n", env_none, NULL, &c), -EINVAL,
           "missing profile asked by jobsd.conf");
    ok_log(tu_log_has(want) && tu_log_has("jobsd.conf:2"), "names the asking line too");

    /* [__settings__] default_profile. */
    tu_write(d, ".databrickscfg",
             "[__settings__]\ndefault_profile = sp\n\n[DEFAULT]\nhost = default.com\ntoken = "
             "dapi-default-token-0000\n\n[sp]\nhost = sp.com\nclient_id = 1234-abcd\n"
             "client_secret = dose-secret-5678\n",
             0600);
    is_int(tu_load(d, NULL, env_none, NULL, &c), 0, "default_profile");
    is_str(c ? c->workspace.host : "", "https://sp.com", "sp's host");
    is_str(c ? c->workspace.auth_type : "", "oauth-m2m", "M2M detected");
    is_str(c ? c->workspace.client_secret : "", "dose-secret-5678", "client secret");
    is_str(c ? c->workspace.token : "", "", "DEFAULT's token is not merged");
    is_str(c ? c->workspace.profile : "", "sp", "profile shown");
    c = config_free(c);

    /* DEFAULT keys are not merged into the profile asked for. */
    tu_write(d, ".databrickscfg", "[DEFAULT]\nhost = default.com\n[p]\ntoken = " CFG_TOKEN "\n",
             0600);
    const char *env_p[] = { "DATABRICKS_CONFIG_PROFILE=p", NULL };
    is_int(tu_load(d, NULL, env_p, NULL, &c), -EINVAL, "profile without host");
    ok_log(tu_log_has("no host configured"), "DEFAULT's host is not used");

    /* No DEFAULT and nothing asked: nothing loaded, no error about the file. */
    tu_write(d, ".databrickscfg", "[other]\nhost = o.com\ntoken = " CFG_TOKEN "\n", 0600);
    is_int(tu_load(d, NULL, env_none, NULL, &c), -EINVAL, "no DEFAULT");
    ok_log(tu_log_has("no host configured") && !tu_log_has("profile configured"),
           "only the missing host is reported");

    /* __settings__ is never a profile. */
    const char *env_s[] = { "DATABRICKS_CONFIG_PROFILE=__settings__", NULL };
    is_int(tu_load(d, NULL, env_s, NULL, &c), -EINVAL, "__settings__ asked");
    ok_log(tu_log_has("cannot be used as a profile"), "refused");

    /* A missing file is ignored. */
    const char *env_nofile[] = { "DATABRICKS_CONFIG_FILE=~/nope.cfg", NULL };
    is_int(tu_load(d, NULL, env_nofile, NULL, &c), -EINVAL, "missing file");
    ok_log(tu_log_has("nope.cfg: does not exist, ignoring") && tu_log_has("no host configured"),
           "ignored, only the host is missing");

    /* Secrets may hold '#' and ';'; a comment needs a blank before it;
     * quotes go, as in Go's reader. */
    tu_write(d, "other.cfg",
             "[DEFAULT]\nhost = \"h.com\" ; quoted\ntoken = dapi#se;cret#1 # comment\n"
             "workspace_id = 42;43\n",
             0600);
    const char *env_file[] = { "DATABRICKS_CONFIG_FILE=~/other.cfg", NULL };
    is_int(tu_load(d, NULL, env_file, NULL, &c), 0, "secret with # and ;");
    is_str(c ? c->workspace.token : "", "dapi#se;cret#1", "token kept whole");
    is_str(c ? c->workspace.host : "", "https://h.com", "quotes and comment removed");
    is_str(c ? c->workspace.workspace_id : "", "42;43", "';' inside a value kept");
    is_str(c ? c->workspace.config_file : "", tu_path(d, "other.cfg"), "~ expanded");
    c = config_free(c);

    /* Readable by others: refused, with the fix. */
    tu_write(d, "other.cfg", "[DEFAULT]\nhost = h.com\ntoken = " CFG_TOKEN "\n", 0644);
    is_int(tu_load(d, NULL, env_file, NULL, &c), -EINVAL, "0644 databrickscfg refused");
    _cleanup_free_ char *fix = strjoin("run chmod 600 ", tu_path(d, "other.cfg"));
    ok_log(tu_log_has(fix) && tu_log_has("token of profile DEFAULT"), "says chmod 600");
    ok(!tu_log_has(CFG_TOKEN), "without the token");

    /* Without a secret, readable is fine but writable by others is not. */
    tu_write(d, "other.cfg", "[DEFAULT]\nhost = h.com\n", 0644);
    const char *env_file_tok[] = { "DATABRICKS_CONFIG_FILE=~/other.cfg",
                                   "DATABRICKS_TOKEN=" ENV_TOKEN,
                                   "DATABRICKS_CONFIG_PROFILE=DEFAULT", NULL };
    is_int(tu_load(d, NULL, env_file_tok, NULL, &c), 0, "0644 profile with a host only");
    c = config_free(c);
    tu_write(d, "other.cfg", "[DEFAULT]\nhost = h.com\n", 0666);
    is_int(tu_load(d, NULL, env_file_tok, NULL, &c), -EINVAL, "0666 profile refused");
    ok_log(tu_log_has("writable by group or others"), "could redirect the token");

    /* A syntax error names the line. */
    tu_write(d, "other.cfg", "[DEFAULT]\nhost = h.com\n[broken\n", 0600);
    is_int(tu_load(d, NULL, env_file, NULL, &c), -EINVAL, "broken databrickscfg");
    _cleanup_free_ char *line = strjoin(tu_path(d, "other.cfg"), ":3: syntax error");
    ok_log(tu_log_has(line), "file:line");
}

static void test_methods(void)
{
    const char *d = tu_tmpdir();
    struct config *c = NULL;
    const char *both[] = { "DATABRICKS_HOST=h.com", "DATABRICKS_TOKEN=" ENV_TOKEN,
                           "DATABRICKS_CLIENT_ID=abc-id", "DATABRICKS_CLIENT_SECRET=dose-s3cret",
                           NULL };
    is_int(tu_load(d, NULL, both, NULL, &c), -EINVAL, "two methods");
    ok_log(tu_log_has("more than one authorization method configured: oauth and pat"),
           "the SDK's error");
    is_int(tu_load(d, "[workspace]\nauth_type = pat\n", both, NULL, &c), 0, "auth_type = pat");
    is_str(c ? c->workspace.auth_type : "", "pat", "pat");
    c = config_free(c);
    const char *both_m2m[] = {
        "DATABRICKS_HOST=h.com",          "DATABRICKS_TOKEN=" ENV_TOKEN,
        "DATABRICKS_CLIENT_ID=abc-id",    "DATABRICKS_CLIENT_SECRET=dose-s3cret",
        "DATABRICKS_AUTH_TYPE=oauth-m2m", NULL
    };
    is_int(tu_load(d, NULL, both_m2m, NULL, &c), 0, "DATABRICKS_AUTH_TYPE=oauth-m2m");
    is_str(c ? c->workspace.auth_type : "", "oauth-m2m", "m2m");
    is_str(config_source(c, "workspace.auth_type"), "environment DATABRICKS_AUTH_TYPE", "source");
    c = config_free(c);

    const char *half[] = { "DATABRICKS_HOST=h.com", "DATABRICKS_CLIENT_ID=abc-id", NULL };
    is_int(tu_load(d, NULL, half, NULL, &c), -EINVAL, "client_id alone");
    ok_log(tu_log_has("needs both client_id and client_secret; client_secret is missing"),
           "says what is missing");
    const char *pat_none[] = { "DATABRICKS_HOST=h.com", "DATABRICKS_AUTH_TYPE=pat",
                               "DATABRICKS_CLIENT_ID=abc-id", NULL };
    is_int(tu_load(d, NULL, pat_none, NULL, &c), -EINVAL, "pat without token");
    ok_log(tu_log_has("environment DATABRICKS_AUTH_TYPE: auth_type is pat, but no token is set"),
           "said so");
    const char *other[] = { "DATABRICKS_HOST=h.com", "DATABRICKS_AUTH_TYPE=azure-cli",
                            "DATABRICKS_TOKEN=" ENV_TOKEN, NULL };
    is_int(tu_load(d, NULL, other, NULL, &c), -EINVAL, "unsupported auth type");
    ok_log(tu_log_has("auth_type 'azure-cli' is not supported by jobsd"), "said so");
    const char *bad_host[] = { "DATABRICKS_HOST=http://evil.example.com",
                               "DATABRICKS_TOKEN=" ENV_TOKEN, NULL };
    is_int(tu_load(d, NULL, bad_host, NULL, &c), -EINVAL, "plain http off loopback");
    ok_log(tu_log_has("environment DATABRICKS_HOST: host 'http://evil.example.com'"),
           "names the source");
}

static void test_hosts(void)
{
    static const struct {
        const char *in, *out;
    } good[] = {
        { "dbc-1.cloud.databricks.com", "https://dbc-1.cloud.databricks.com" },
        { "https://dbc-1.cloud.databricks.com/", "https://dbc-1.cloud.databricks.com" },
        { "https://dbc-1.cloud.databricks.com:443", "https://dbc-1.cloud.databricks.com" },
        { "https://dbc-1.cloud.databricks.com:443/", "https://dbc-1.cloud.databricks.com" },
        { "https://adb-1.2.azuredatabricks.net/?o=123#x", "https://adb-1.2.azuredatabricks.net" },
        { "HTTPS://Upper.example.com", "https://Upper.example.com" },
        { "https://h.example.com:8443/", "https://h.example.com:8443" },
        { "http://127.0.0.1:8080", "http://127.0.0.1:8080" },
        { "http://127.0.0.1:80/", "http://127.0.0.1" },
        { "http://localhost:9/", "http://localhost:9" },
        { "http://[::1]:8080", "http://[::1]:8080" },
        { "https://[2001:db8::1]:443", "https://[2001:db8::1]" },
    };
    static const char *const bad[] = {
        "http://example.com",    "ftp://x.com",         "https://",
        "https://user:pw@x.com", "https://x.com:99999", "https://x.com:ab",
        "https://[::1",          "https://a b.com",     "https://:443",
    };
    for (size_t i = 0; i < ELEMENTSOF(good); i++) {
        char *out = NULL;
        const char *why = NULL;
        is_int(creds_normalize_host(good[i].in, &out, &why), 0, "%s accepted", good[i].in);
        is_str(out, good[i].out, "%s normalised", good[i].in);
        free(out);
    }
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        char *out = NULL;
        const char *why = NULL;
        is_int(creds_normalize_host(bad[i], &out, &why), -EINVAL, "%s refused (%s)", bad[i],
               why ? why : "");
        free(out);
    }
}

static void test_credential_files(void)
{
    const char *d = tu_tmpdir();
    const char *creds = tu_path(d, "creds");
    struct config *c = NULL;
    mkdir(creds, 0700);
    _cleanup_free_ char *cred_env = strjoin("CREDENTIALS_DIRECTORY=", creds);
    const char *env[] = { cred_env, NULL };

    tu_write(creds, "databricks-host", "h.com\n", 0644);
    tu_write(creds, "databricks-client-id", "sp-id\n", 0400);
    tu_write(creds, "databricks-client-secret", "dose-cred-secret\n", 0644);
    is_int(tu_load(d, NULL, env, NULL, &c), -EINVAL, "0644 secret credential refused");
    _cleanup_free_ char *fix = strjoin("run chmod 600 ", creds, "/databricks-client-secret");
    ok_log(tu_log_has(fix), "with the fix");
    ok(!tu_log_has("dose-cred-secret"), "and without the secret");

    tu_write(creds, "databricks-client-secret", "dose-cred-secret\n", 0400);
    is_int(tu_load(d, NULL, env, NULL, &c), 0, "a 0644 host file is fine");
    is_str(c ? c->workspace.auth_type : "", "oauth-m2m", "M2M from credentials");
    is_str(c ? c->workspace.client_id : "", "sp-id", "client id");
    const char *printed = tu_print(c);
    ok(!strstr(printed, "dose-cred-secret"), "the secret is not printed");
    ok(strstr(printed, "# from credential databricks-client-secret\nclient_secret = (redacted)") !=
           NULL,
       "its source is");
    tu_log_reset();
    log_warning("upstream said: bad secret dose-cred-secret");
    ok_log(!tu_log_has("dose-cred-secret"), "credential secret registered for scrubbing");
    c = config_free(c);

    tu_write(creds, "databricks-host", "h.com\nsecond-line\n", 0400);
    is_int(tu_load(d, NULL, env, NULL, &c), -EINVAL, "two lines refused");
    ok_log(tu_log_has("more than one line"), "said so");
}

/* Sets path's access ACL: owner r, user uid r, owning group group_perm,
 * mask r, others nothing (the xattr format of linux/posix_acl_xattr.h). */
static int set_acl(const char *path, uint32_t uid, unsigned group_perm)
{
    const uint32_t none = UINT32_MAX;
    const struct {
        uint16_t tag, perm;
        uint32_t id;
    } e[] = { { 0x01, 4, none },
              { 0x02, 4, uid },
              { 0x04, (uint16_t)group_perm, none },
              { 0x10, 4, none },
              { 0x20, 0, none } };
    unsigned char buf[4 + sizeof(e)];
    uint32_t version = 2;
    memcpy(buf, &version, 4); /* little-endian, as x86 and arm64 are */
    memcpy(buf + 4, e, sizeof(e));
    return lsetxattr(path, "system.posix_acl_access", buf, sizeof(buf), 0) < 0 ? -errno : 0;
}

/* systemd (with ACLs on its credentials file system) makes a credential
 * 0400 owned by root and lets the service's user read it through an ACL:
 * stat() then says 0440. */
static void test_credential_acl(void)
{
    const char *d = tu_tmpdir();
    const char *creds = tu_path(d, "creds-acl");
    struct config *c = NULL;
    mkdir(creds, 0700);
    _cleanup_free_ char *cred_env = strjoin("CREDENTIALS_DIRECTORY=", creds);
    const char *env[] = { cred_env, NULL };
    tu_write(creds, "databricks-host", "h.com\n", 0400);
    const char *token = tu_write(creds, "databricks-token", "dapi-acl-token-0001\n", 0400);

    int r = set_acl(token, (uint32_t)geteuid(), 0);
    if (r == -EOPNOTSUPP || r == -EPERM) {
        tap_skip("no ACLs where the tests write (%s)", strerror(-r));
        tap_skip("no ACLs");
        tap_skip("no ACLs");
        return;
    }
    struct stat st;
    is_int(r == 0 && stat(token, &st) == 0 ? (int)(st.st_mode & 0777) : -1, 0440,
           "an ACL for our user shows as 0440");
    is_int(tu_load(d, NULL, env, NULL, &c), 0, "and the credential is accepted");
    c = config_free(c);
    set_acl(token, (uint32_t)geteuid(), 4);
    is_int(tu_load(d, NULL, env, NULL, &c), -EINVAL, "but not when its group may read it");
    c = config_free(c);
    set_acl(token, (uint32_t)geteuid() + 1, 0);
    is_int(tu_load(d, NULL, env, NULL, &c), -EINVAL, "nor when another user may");
    c = config_free(c);
}

int main(void)
{
    tu_capture();
    log_set_max_level(LOG_DEBUG);
    test_order();
    test_profiles();
    test_methods();
    test_hosts();
    test_credential_files();
    test_credential_acl();
    return tap_done();
}
