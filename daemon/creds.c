/* Workspace credentials: which host and which secret jobsd uses upstream.
 * Sources, first that sets an attribute wins (reference/jobs-api.md §8):
 *   1. $CREDENTIALS_DIRECTORY (systemd LoadCredential=), files named
 *      databricks-host, databricks-token, databricks-client-id,
 *      databricks-client-secret, databricks-auth-type, databricks-workspace-id;
 *   2. DATABRICKS_HOST, _TOKEN, _CLIENT_ID, _CLIENT_SECRET, _AUTH_TYPE,
 *      _WORKSPACE_ID, _CONFIG_PROFILE, _CONFIG_FILE;
 *   3. [workspace] of jobsd's own configuration (file, JOBSD_WORKSPACE_*, --set);
 *   4. a ~/.databrickscfg profile, read only when a profile was asked for or
 *      nothing above set a host or a credential (the SDKs' rule). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "daemon/conffile.h"
#include "daemon/config-private.h"
#include "proto/cleanup.h"
#include "proto/log.h"
#include "proto/strutil.h"

enum {
    A_HOST,
    A_TOKEN,
    A_CLIENT_ID,
    A_CLIENT_SECRET,
    A_AUTH_TYPE,
    A_WORKSPACE_ID,
    A_PROFILE,
    A_CONFIG_FILE,
    N_ATTRS,
};

static const struct attr_def {
    const char *key; /* in [workspace] and in ~/.databrickscfg */
    const char *env;
    const char *credential; /* file name in $CREDENTIALS_DIRECTORY */
    bool secret;
    bool in_profile; /* read from a ~/.databrickscfg profile */
} attrs[N_ATTRS] = {
    [A_HOST] = { "host", "DATABRICKS_HOST", "databricks-host", false, true },
    [A_TOKEN] = { "token", "DATABRICKS_TOKEN", "databricks-token", true, true },
    [A_CLIENT_ID] = { "client_id", "DATABRICKS_CLIENT_ID", "databricks-client-id", false, true },
    [A_CLIENT_SECRET] = { "client_secret", "DATABRICKS_CLIENT_SECRET", "databricks-client-secret",
                          true, true },
    [A_AUTH_TYPE] = { "auth_type", "DATABRICKS_AUTH_TYPE", "databricks-auth-type", false, true },
    [A_WORKSPACE_ID] = { "workspace_id", "DATABRICKS_WORKSPACE_ID", "databricks-workspace-id",
                         false, true },
    [A_PROFILE] = { "profile", "DATABRICKS_CONFIG_PROFILE", NULL, false, false },
    [A_CONFIG_FILE] = { "config_file", "DATABRICKS_CONFIG_FILE", NULL, false, false },
};

struct resolved {
    char *value[N_ATTRS];
    char *source[N_ATTRS];
};

static void resolved_done(struct resolved *r)
{
    for (size_t i = 0; i < N_ATTRS; i++) {
        if (r->value[i] && attrs[i].secret)
            explicit_bzero(r->value[i], strlen(r->value[i]));
        free(r->value[i]);
        free(r->source[i]);
    }
}

/* Sets attribute i unless an earlier source set it. Takes nothing. */
static int offer(struct resolved *r, size_t i, const char *value, const char *source)
{
    if (r->value[i] || isempty(value))
        return 0;
    r->value[i] = strdup(value);
    r->source[i] = strdup(source);
    if (!r->value[i] || !r->source[i])
        return -ENOMEM;
    if (attrs[i].secret)
        config_add_secret(value);
    return 0;
}

/* Removes the blanks and the newline that `echo` or an editor leave around
 * a credential. */
static char *strip(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

static unsigned le16_at(const unsigned char *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

/* Where the file system has ACLs, systemd lets the service's user read a
 * credential through an ACL entry (user:<uid>:r) on a 0400 file that root
 * owns, so stat() shows the ACL's mask in the group bits (0440) although no
 * group may read it. True if that is all the group bits of path say: its
 * access ACL gives nothing to a group, to others or to another user. */
static bool group_bits_are_acl_mask(const char *path)
{
    /* linux/posix_acl_xattr.h: a version (2), then 8-byte entries of tag,
     * permissions and id, little-endian. */
    enum { TAG_USER = 0x02, TAG_GROUP_OBJ = 0x04, TAG_GROUP = 0x08, TAG_OTHER = 0x20 };
    unsigned char buf[4 + 8 * 32];
    ssize_t n = lgetxattr(path, "system.posix_acl_access", buf, sizeof(buf));
    if (n < 4 || (n - 4) % 8 != 0 || le16_at(buf) != 2 || le16_at(buf + 2) != 0)
        return false;
    for (ssize_t i = 4; i < n; i += 8) {
        unsigned tag = le16_at(buf + i), perm = le16_at(buf + i + 2);
        uint32_t id = (uint32_t)le16_at(buf + i + 4) | (uint32_t)le16_at(buf + i + 6) << 16;
        if (perm != 0 && (tag == TAG_GROUP_OBJ || tag == TAG_GROUP || tag == TAG_OTHER ||
                          (tag == TAG_USER && id != (uint32_t)geteuid())))
            return false;
    }
    return true;
}

static int from_credentials(struct resolved *r, char *const *envp, unsigned *errors)
{
    const char *dir = config_env_get(envp, "CREDENTIALS_DIRECTORY");
    if (isempty(dir))
        return 0;
    for (size_t i = 0; i < N_ATTRS; i++) {
        if (!attrs[i].credential)
            continue;
        _cleanup_free_ char *path = strjoin(dir, "/", attrs[i].credential);
        _cleanup_free_ char *data = NULL;
        size_t len;
        struct stat st;
        if (!path)
            return -ENOMEM;
        int k = conffile_read(path, 64 * KIB, &data, &len, &st);
        if (k == -ENOENT)
            continue;
        if (k == -ENOMEM)
            return k;
        if (k < 0) {
            (*errors)++;
            continue;
        }
        char *v = strip(data);
        if (attrs[i].secret)
            config_add_secret(v);
        struct stat checked = st;
        if ((st.st_mode & 0070) == 0040 && group_bits_are_acl_mask(path))
            checked.st_mode &= ~(mode_t)0070;
        if (conffile_check_access(path, &checked, attrs[i].secret ? attrs[i].credential : NULL) <
            0) {
            (*errors)++;
            continue;
        }
        if (has_control_chars(v)) {
            log_error("%s: more than one line; a credential file holds one value", path);
            (*errors)++;
            continue;
        }
        _cleanup_free_ char *source = strjoin("credential ", attrs[i].credential);
        if (!source || offer(r, i, v, source) < 0)
            return -ENOMEM;
        explicit_bzero(data, len);
    }
    return 0;
}

static int from_environment(struct resolved *r, char *const *envp)
{
    for (size_t i = 0; i < N_ATTRS; i++) {
        const char *v = config_env_get(envp, attrs[i].env);
        if (isempty(v))
            continue;
        _cleanup_free_ char *source = strjoin("environment ", attrs[i].env);
        if (!source || offer(r, i, v, source) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int from_jobsd(struct resolved *r, const struct config *c)
{
    const char *values[N_ATTRS] = {
        [A_HOST] = c->workspace.host,           [A_TOKEN] = c->workspace.token,
        [A_CLIENT_ID] = c->workspace.client_id, [A_CLIENT_SECRET] = c->workspace.client_secret,
        [A_AUTH_TYPE] = c->workspace.auth_type, [A_WORKSPACE_ID] = c->workspace.workspace_id,
        [A_PROFILE] = c->workspace.profile,     [A_CONFIG_FILE] = c->workspace.config_file,
    };
    for (size_t i = 0; i < N_ATTRS; i++) {
        char name[64];
        snprintf(name, sizeof(name), "workspace.%s", attrs[i].key);
        const char *src = config_source(c, name);
        if (streq(src, "default"))
            continue;
        if (offer(r, i, values[i], src) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* ---- ~/.databrickscfg ---- */

struct cfg_entry {
    char *section, *key, *value;
    unsigned line;
};

struct cfg_file {
    const char *path;
    struct cfg_entry *entries;
    size_t n;
    int error;
};

static int cfg_handler(const char *section, const char *key, const char *value, unsigned line,
                       void *userdata)
{
    struct cfg_file *f = userdata;
    if (!value)
        return 0; /* the SDKs would not read it either; we use none of it */
    struct cfg_entry *n = realloc(f->entries, (f->n + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    f->entries = n;
    struct cfg_entry *e = &f->entries[f->n];
    *e = (struct cfg_entry){ strdup(section), strdup(key), strdup(value), line };
    f->n++;
    if (!e->section || !e->key || !e->value)
        return -ENOMEM;
    /* Go's reader, which the databricks CLI writes for, strips quotes too;
     * conffile_parse_ini() did that. The secrets of the profile used are
     * registered by offer(); the others never leave this buffer. */
    return 0;
}

static void cfg_file_done(struct cfg_file *f)
{
    for (size_t i = 0; i < f->n; i++) {
        if (f->entries[i].value)
            explicit_bzero(f->entries[i].value, strlen(f->entries[i].value));
        free(f->entries[i].section);
        free(f->entries[i].key);
        free(f->entries[i].value);
    }
    free(f->entries);
}

static const struct cfg_entry *cfg_find(const struct cfg_file *f, const char *section,
                                        const char *key)
{
    /* The last one wins, as in Go's reader. */
    const struct cfg_entry *found = NULL;
    for (size_t i = 0; i < f->n; i++)
        if (streq(f->entries[i].section, section) && (!key || streq(f->entries[i].key, key)))
            found = &f->entries[i];
    return found;
}

static int from_databrickscfg(struct resolved *r, const struct config *c, char *const *envp,
                              unsigned *errors)
{
    bool asked = r->value[A_PROFILE] != NULL;
    bool any =
        r->value[A_HOST] || r->value[A_TOKEN] || r->value[A_CLIENT_ID] || r->value[A_CLIENT_SECRET];
    if (!asked && any) {
        log_debug("workspace: host or credentials set and no profile asked for; not reading %s",
                  r->value[A_CONFIG_FILE] ? r->value[A_CONFIG_FILE] : c->workspace.config_file);
        return 0;
    }

    _cleanup_free_ char *path = NULL;
    if (r->value[A_CONFIG_FILE]) {
        int k = config_expand_home(r->value[A_CONFIG_FILE], envp, &path);
        if (k == -ENOMEM)
            return k;
        if (k < 0 || path[0] != '/') {
            log_error("%s: workspace.config_file: '%s' is not an absolute path",
                      r->source[A_CONFIG_FILE], r->value[A_CONFIG_FILE]);
            (*errors)++;
            return 0;
        }
        /* Shown expanded, as the table's own paths are. */
        char *shown = strdup(path);
        if (!shown)
            return -ENOMEM;
        free(r->value[A_CONFIG_FILE]);
        r->value[A_CONFIG_FILE] = shown;
    } else if (isempty(c->workspace.config_file))
        return 0;
    else if (!(path = strdup(c->workspace.config_file)))
        return -ENOMEM;

    _cleanup_free_ char *data = NULL;
    struct stat st;
    int k = conffile_read(path, CONFIG_FILE_MAX, &data, NULL, &st);
    if (k == -ENOENT) {
        log_debug("%s: does not exist, ignoring", path);
        return 0;
    }
    if (k == -ENOMEM)
        return k;
    if (k < 0) {
        (*errors)++;
        return 0;
    }

    struct cfg_file f = { .path = path };
    k = conffile_parse_ini(path, data, cfg_handler, &f);
    explicit_bzero(data, strlen(data));
    if (k < 0) {
        cfg_file_done(&f);
        if (k == -ENOMEM)
            return k;
        (*errors)++;
        return 0;
    }

    /* Which profile (§8.2): the one asked for, else [__settings__]
     * default_profile, else [DEFAULT]; DEFAULT is never merged into others. */
    const char *profile, *why, *secret = NULL;
    int ret = 0;
    const struct cfg_entry *dp = cfg_find(&f, "__settings__", "default_profile");
    if (asked) {
        profile = r->value[A_PROFILE];
        why = r->source[A_PROFILE];
    } else if (dp && !isempty(dp->value)) {
        profile = dp->value;
        why = "[__settings__] default_profile";
    } else {
        profile = "DEFAULT";
        why = NULL;
    }
    if (streq(profile, "__settings__")) {
        log_error("%s: [__settings__] holds settings and cannot be used as a profile (asked for "
                  "by %s)",
                  path, why);
        (*errors)++;
        goto done;
    }
    if (!cfg_find(&f, profile, NULL)) {
        if (why) {
            log_error("%s has no %s profile configured (asked for by %s)", path, profile, why);
            (*errors)++;
        } else
            log_debug("%s: no [DEFAULT] profile and none asked for, ignoring the file", path);
        goto done;
    }

    for (size_t i = 0; i < N_ATTRS; i++) {
        if (!attrs[i].in_profile)
            continue;
        const struct cfg_entry *e = cfg_find(&f, profile, attrs[i].key);
        if (!e || isempty(e->value))
            continue;
        if (attrs[i].secret && !secret)
            secret = attrs[i].key;
        char source[4200];
        snprintf(source, sizeof(source), "%s:%u [%s]", path, e->line, profile);
        if (offer(r, i, e->value, source) < 0) {
            ret = -ENOMEM;
            goto done;
        }
    }
    /* Even without a secret: whoever can write the file can point the host,
     * and with it a token from elsewhere, at a server of their own. */
    char what[300];
    snprintf(what, sizeof(what), "%s of profile %s", secret ? secret : "", profile);
    if (conffile_check_access(path, &st, secret ? what : NULL) < 0)
        (*errors)++;
    /* Name the profile used, so that -nv shows it and reads back the same. */
    if (!asked) {
        char source[4200];
        snprintf(source, sizeof(source), "%s (%s)", path,
                 why ? why : "the default profile, none asked for");
        if (offer(r, A_PROFILE, profile, source) < 0)
            ret = -ENOMEM;
    }
done:
    cfg_file_done(&f);
    return ret;
}

/* ---- the host ---- */

int creds_normalize_host(const char *host, char **ret, const char **ret_why)
{
    _cleanup_free_ char *scheme = NULL;
    const char *rest = strstr(host, "://");
    if (rest) {
        scheme = strndup(host, (size_t)(rest - host));
        rest += 3;
    } else {
        scheme = strdup("https");
        rest = host;
    }
    if (!scheme)
        return -ENOMEM;
    for (char *p = scheme; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    bool https = streq(scheme, "https");
    if (!https && !streq(scheme, "http")) {
        *ret_why = "the scheme must be https:// (or http:// on loopback)";
        return -EINVAL;
    }

    /* Only scheme and authority are kept; a path, query or fragment goes. */
    size_t alen = strcspn(rest, "/?#");
    _cleanup_free_ char *authority = strndup(rest, alen);
    if (!authority)
        return -ENOMEM;
    if (isempty(authority)) {
        *ret_why = "it names no host";
        return -EINVAL;
    }
    if (strchr(authority, '@')) {
        *ret_why = "a user name or password in the URL is not supported";
        return -EINVAL;
    }
    for (const char *p = authority; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '\\' || *p == '"' || (unsigned char)*p >= 0x7f) {
            *ret_why = "the host name has a character that URLs do not allow";
            return -EINVAL;
        }

    /* Split off the port. */
    char name[256];
    const char *port = NULL;
    if (authority[0] == '[') {
        char *close = strchr(authority, ']');
        if (!close || (close[1] && close[1] != ':')) {
            *ret_why = "an IPv6 address must be written [addr] or [addr]:port";
            return -EINVAL;
        }
        snprintf(name, sizeof(name), "%.*s", (int)(close - authority - 1), authority + 1);
        if (close[1] == ':')
            port = close + 2;
    } else {
        char *colon = strchr(authority, ':');
        snprintf(name, sizeof(name), "%.*s",
                 colon ? (int)(colon - authority) : (int)strlen(authority), authority);
        if (colon)
            port = colon + 1;
    }
    if (isempty(name)) {
        *ret_why = "it names no host";
        return -EINVAL;
    }
    if (port) {
        int p;
        if (parse_int(port, &p) < 0 || p < 1 || p > 65535) {
            *ret_why = "the port must be a number 1..65535";
            return -EINVAL;
        }
        /* The SDKs drop the scheme's own port. */
        if ((https && p == 443) || (!https && p == 80))
            authority[port - authority - 1] = 0;
    }
    if (!https && !config_host_is_loopback(name)) {
        *ret_why = "http:// would send the token in clear text; use https:// (http:// is "
                   "accepted on loopback only, for tests)";
        return -EINVAL;
    }
    char *r = strjoin(scheme, "://", authority);
    if (!r)
        return -ENOMEM;
    *ret = r;
    return 0;
}

/* ---- putting it together ---- */

static int check_and_store(struct resolved *r, struct config *c, unsigned *errors)
{
    char *const *v = r->value;
    const char *auth = v[A_AUTH_TYPE] ? v[A_AUTH_TYPE] : "";
    const char *method_source = r->source[A_AUTH_TYPE];
    char detected[80];

    if (!streq(auth, "") && !streq(auth, "pat") && !streq(auth, "oauth-m2m")) {
        log_error("%s: auth_type '%s' is not supported by jobsd; use pat or oauth-m2m",
                  r->source[A_AUTH_TYPE], auth);
        (*errors)++;
        return 0;
    }
    if (!v[A_HOST]) {
        log_error("workspace: no host configured; set DATABRICKS_HOST, a databricks-host "
                  "credential, host in [workspace] of jobsd.conf or in a ~/.databrickscfg "
                  "profile%s%s%s",
                  v[A_PROFILE] ? " (profile " : "", v[A_PROFILE] ? v[A_PROFILE] : "",
                  v[A_PROFILE] ? " was asked for, but gave no host)" : "");
        (*errors)++;
        return 0;
    }

    bool pat = v[A_TOKEN] != NULL;
    bool m2m = v[A_CLIENT_ID] || v[A_CLIENT_SECRET];
    if (streq(auth, "")) {
        if (pat && m2m) {
            log_error("workspace: more than one authorization method configured: oauth and pat "
                      "(token from %s, client_id/client_secret from %s); set auth_type to pat or "
                      "oauth-m2m, or remove one",
                      r->source[A_TOKEN],
                      r->source[A_CLIENT_ID] ? r->source[A_CLIENT_ID] : r->source[A_CLIENT_SECRET]);
            (*errors)++;
            return 0;
        }
        if (!pat && !m2m) {
            log_error("workspace: no credentials for %s: set a token (DATABRICKS_TOKEN, a "
                      "databricks-token credential, ...) or client_id and client_secret for "
                      "OAuth M2M",
                      v[A_HOST]);
            (*errors)++;
            return 0;
        }
        auth = pat ? "pat" : "oauth-m2m";
        snprintf(detected, sizeof(detected), "detection: only %s set",
                 pat ? "a token is" : "client_id/client_secret are");
        method_source = detected;
    }
    if (streq(auth, "pat") && !pat) {
        log_error("%s: auth_type is pat, but no token is set", method_source);
        (*errors)++;
        return 0;
    }
    if (streq(auth, "oauth-m2m") && (!v[A_CLIENT_ID] || !v[A_CLIENT_SECRET])) {
        log_error("%s: OAuth M2M needs both client_id and client_secret; %s is missing",
                  method_source, v[A_CLIENT_ID] ? "client_secret" : "client_id");
        (*errors)++;
        return 0;
    }

    _cleanup_free_ char *host = NULL;
    const char *why = NULL;
    int k = creds_normalize_host(v[A_HOST], &host, &why);
    if (k == -ENOMEM)
        return k;
    if (k < 0) {
        log_error("%s: host '%s': %s", r->source[A_HOST], v[A_HOST], why);
        (*errors)++;
        return 0;
    }
    free(r->value[A_HOST]);
    r->value[A_HOST] = TAKE_PTR(host);
    /* auth and method_source may point into r; copy before freeing. */
    char *auth_copy = strdup(auth), *source_copy = strdup(method_source);
    if (!auth_copy || !source_copy) {
        free(auth_copy);
        free(source_copy);
        return -ENOMEM;
    }
    free(r->value[A_AUTH_TYPE]);
    free(r->source[A_AUTH_TYPE]);
    r->value[A_AUTH_TYPE] = auth_copy;
    r->source[A_AUTH_TYPE] = source_copy;

    for (size_t i = 0; i < N_ATTRS; i++) {
        char name[64];
        if (!r->value[i])
            continue;
        snprintf(name, sizeof(name), "workspace.%s", attrs[i].key);
        if (config_set_string(c, name, r->value[i], r->source[i]) < 0)
            return -ENOMEM;
    }
    return 0;
}

int creds_resolve(struct config *c, char *const *envp)
{
    struct resolved r = { 0 };
    unsigned errors = 0;
    int k = from_credentials(&r, envp, &errors);
    if (k >= 0)
        k = from_environment(&r, envp);
    if (k >= 0)
        k = from_jobsd(&r, c);
    if (k >= 0)
        k = from_databrickscfg(&r, c, envp, &errors);
    if (k >= 0 && errors == 0)
        k = check_and_store(&r, c, &errors);
    resolved_done(&r);
    if (k < 0)
        return k;
    return errors ? -EINVAL : 0;
}

/* ---- the local bearer token ---- */

#define LOCAL_TOKEN_BYTES 32

static int read_local_token(const char *path, char **ret)
{
    _cleanup_free_ char *data = NULL;
    size_t len;
    struct stat st;
    int r = conffile_read(path, 4 * KIB, &data, &len, &st);
    if (r < 0)
        return r;
    char *v = strip(data);
    config_add_secret(v);
    r = conffile_check_access(path, &st, "server.local_token_file");
    if (r < 0)
        return r;
    if (strlen(v) < 16 || has_control_chars(v))
        return log_error_errno(
            EINVAL, "%s: the local token must be one line of at least 16 characters", path);
    char *t = strdup(v);
    explicit_bzero(data, len);
    if (!t)
        return -ENOMEM;
    *ret = t;
    return 0;
}

int config_local_token(const struct config *c, char **ret)
{
    if (!isempty(c->server.local_token)) {
        char *t = strdup(c->server.local_token);
        if (!t)
            return -ENOMEM;
        *ret = t;
        return 0;
    }
    const char *path = c->server.local_token_file;
    for (int attempt = 0; attempt < 2; attempt++) {
        int r = read_local_token(path, ret);
        if (r != -ENOENT)
            return r;

        unsigned char raw[LOCAL_TOKEN_BYTES];
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
            return log_error_errno(errno ? errno : EIO, "cannot get random bytes: %m");
        _cleanup_free_ char *hex = hexmem(raw, sizeof(raw));
        explicit_bzero(raw, sizeof(raw));
        if (!hex)
            return -ENOMEM;
        config_add_secret(hex);

        /* O_EXCL: never write through a link or over a file another process
         * made in the meantime; then read that one instead. */
        _cleanup_close_ int fd =
            open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return log_error_errno(errno, "%s: cannot create the local token file: %m", path);
        size_t n = strlen(hex);
        hex[n] = '\n';
        ssize_t w = write(fd, hex, n + 1);
        hex[n] = 0;
        if (w != (ssize_t)(n + 1) || fsync(fd) < 0) {
            r = log_error_errno(w < 0 || errno ? errno : EIO, "%s: cannot write: %m", path);
            (void)unlink(path);
            return r;
        }
        log_info("%s: created a new local token for TCP clients", path);
        *ret = TAKE_PTR(hex);
        return 0;
    }
    return log_error_errno(EEXIST, "%s: keeps appearing and disappearing", path);
}
