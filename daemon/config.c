#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/conffile.h"
#include "daemon/config-private.h"
#include "daemon/config.h"
#include "proto/cleanup.h"
#include "proto/log.h"
#include "proto/strutil.h"

struct config_meta {
    char *source[CONFIG_OPTIONS_MAX]; /* NULL = default */
    bool file_secret;                 /* the config file set a secret */
    const char *file_secret_name;
};

/* Everything a parser needs to know about where a value comes from. */
struct load_ctx {
    struct config *config;
    char *const *envp;
    const char *where; /* "path:line", "environment X", "--set a.b" */
    unsigned errors;
    bool oom;
    /* the file being parsed, for duplicate keys */
    const char *path;
    unsigned first_line[CONFIG_OPTIONS_MAX];
};

void config_add_secret(const char *secret)
{
    if (!secret || strlen(secret) < 4)
        return;
    if (log_add_secret(secret) == -E2BIG) {
        log_forget_secrets();
        (void)log_add_secret(secret);
        log_debug("the list of secrets to scrub was full and was started again");
    }
}

int config_register_secrets(const struct config *c)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int r = 0;
        for (size_t i = 0; i < config_n_options && r >= 0; i++) {
            const struct option_def *o = &config_options[i];
            if (o->type != OPT_SECRET)
                continue; /* only secrets' fields are strings to read */
            const char *v = *(char *const *)config_option_field(c, o);
            if (!isempty(v) && strlen(v) >= 4)
                r = log_add_secret(v);
        }
        if (r != -E2BIG)
            return r < 0 ? r : 0;
        /* Keep what is live: start the list again with c's secrets. */
        log_forget_secrets();
    }
    return -E2BIG;
}

static bool is_placeholder(const char *value)
{
    return streq(value, redact(NULL)) || streq(value, redact("x"));
}

/* Applies one value from one source. Errors are logged with ctx->where and
 * counted; the return is for -ENOMEM only. */
static int apply(struct load_ctx *ctx, const struct option_def *o, const char *value,
                 const char *source)
{
    char why[512];
    size_t i = config_option_index(o);

    if (o->type == OPT_SECRET && is_placeholder(value)) {
        /* What -nv printed in place of a secret: nothing is set here. */
        log_debug("%s: %s.%s is a placeholder for a secret, ignoring", ctx->where, o->section,
                  o->key);
        return 0;
    }
    why[0] = 0;
    int r = config_parse_value(ctx->config, ctx->envp, o, value, why, sizeof(why));
    if (r == -ENOMEM) {
        ctx->oom = true;
        return r;
    }
    if (r < 0) {
        if (startswith(ctx->where, "--set ")) /* which names the option already */
            log_error("%s: %s", ctx->where, why);
        else
            log_error("%s: %s.%s: %s", ctx->where, o->section, o->key, why);
        ctx->errors++;
        return 0;
    }
    if (o->type == OPT_SECRET)
        config_add_secret(value);
    char *s = source ? strdup(source) : NULL;
    if (source && !s) {
        ctx->oom = true;
        return -ENOMEM;
    }
    free(ctx->config->meta->source[i]);
    ctx->config->meta->source[i] = s;
    return 0;
}

int config_set_string(struct config *c, const char *name, const char *value, const char *source)
{
    const struct option_def *o = config_find_option_dotted(name);
    if (!o)
        return -ENOENT;
    int r = config_set_string_field(config_option_field(c, o), value);
    if (r < 0)
        return r;
    char *s = source ? strdup(source) : NULL;
    if (source && !s)
        return -ENOMEM;
    free(c->meta->source[config_option_index(o)]);
    c->meta->source[config_option_index(o)] = s;
    return 0;
}

/* ---- sources ---- */

static int file_handler(const char *section, const char *key, const char *value, unsigned line,
                        void *userdata)
{
    struct load_ctx *ctx = userdata;
    char where[4200];

    snprintf(where, sizeof(where), "%s:%u", ctx->path, line);
    ctx->where = where;
    const struct option_def *o = config_find_option(section, key);
    if (!o) {
        if (isempty(section))
            log_error("%s: %s: key outside of a [section]", where, key);
        else if (!config_section_known(section))
            log_error("%s: [%s] is not a section of jobsd.conf", where, section);
        else
            log_error("%s: [%s] has no key '%s'", where, section, key);
        ctx->errors++;
        return 0;
    }
    if (!value) {
        log_error("%s: %s.%s: expected %s = value", where, section, key, key);
        ctx->errors++;
        return 0;
    }
    size_t i = config_option_index(o);
    if (ctx->first_line[i]) {
        log_error("%s: %s.%s is set twice (first on line %u)", where, section, key,
                  ctx->first_line[i]);
        ctx->errors++;
        return 0;
    }
    ctx->first_line[i] = line;
    if (o->type == OPT_SECRET && !isempty(value) && !is_placeholder(value) &&
        !ctx->config->meta->file_secret) {
        ctx->config->meta->file_secret = true;
        ctx->config->meta->file_secret_name = config_option_name(i);
    }
    return apply(ctx, o, value, where);
}

static int load_file(struct load_ctx *ctx, const char *path, bool explicit)
{
    _cleanup_free_ char *data = NULL;
    struct stat st;

    int r = conffile_read(path, CONFIG_FILE_MAX, &data, NULL, &st);
    if (r == -ENOENT) {
        if (!explicit) {
            log_debug("%s: does not exist, using the defaults", path);
            return 0;
        }
        log_error("%s: does not exist", path);
        ctx->errors++;
        return 0;
    }
    if (r == -ENOMEM)
        return r;
    if (r < 0) {
        ctx->errors++;
        return 0;
    }
    ctx->path = path;
    r = conffile_parse_ini(path, data, file_handler, ctx);
    explicit_bzero(data, strlen(data)); /* it may hold a secret */
    if (r == -ENOMEM)
        return r;
    if (r < 0 && ctx->errors == 0)
        ctx->errors++; /* a syntax error inih found */
    /* Checked on the descriptor that was read, after parsing, so that the
     * message can say which secret the file holds. */
    if (conffile_check_access(path, &st,
                              ctx->config->meta->file_secret ? ctx->config->meta->file_secret_name
                                                             : NULL) < 0)
        ctx->errors++;
    return 0;
}

static void env_name(const struct option_def *o, char *buf, size_t n)
{
    snprintf(buf, n, "JOBSD_%s_%s", o->section, o->key);
    for (char *p = buf; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
}

static int load_env(struct load_ctx *ctx)
{
    char name[128], where[160];

    /* systemd's directories first, so that JOBSD_DAEMON_* still wins. */
    static const struct {
        const char *var, *option;
    } systemd_dirs[] = {
        { "STATE_DIRECTORY", "daemon.state_dir" },
        { "RUNTIME_DIRECTORY", "daemon.runtime_dir" },
    };
    for (size_t i = 0; i < ELEMENTSOF(systemd_dirs); i++) {
        const char *v = config_env_get(ctx->envp, systemd_dirs[i].var);
        if (isempty(v))
            continue;
        /* Several directories are separated by ':'; ours is the first. */
        _cleanup_free_ char *first = strndup(v, strcspn(v, ":"));
        if (!first)
            return -ENOMEM;
        snprintf(where, sizeof(where), "environment %s", systemd_dirs[i].var);
        ctx->where = where;
        if (apply(ctx, config_find_option_dotted(systemd_dirs[i].option), first, where) < 0)
            return -ENOMEM;
    }

    for (size_t i = 0; i < config_n_options; i++) {
        env_name(&config_options[i], name, sizeof(name));
        const char *v = config_env_get(ctx->envp, name);
        if (!v)
            continue;
        snprintf(where, sizeof(where), "environment %s", name);
        ctx->where = where;
        if (apply(ctx, &config_options[i], v, where) < 0)
            return -ENOMEM;
    }

    /* A misspelt JOBSD_<SECTION>_<KEY> would otherwise be ignored silently. */
    for (char *const *e = ctx->envp; e && *e; e++) {
        const char *rest = startswith(*e, "JOBSD_");
        if (!rest)
            continue;
        size_t n = strcspn(*e, "=");
        bool known = false, in_section = false;
        for (size_t i = 0; i < config_n_options && !known; i++) {
            env_name(&config_options[i], name, sizeof(name));
            known = strlen(name) == n && strncmp(name, *e, n) == 0;
            char prefix[64];
            snprintf(prefix, sizeof(prefix), "%s_", config_options[i].section);
            for (char *p = prefix; *p; p++)
                if (*p >= 'a' && *p <= 'z')
                    *p = (char)(*p - 'a' + 'A');
            if (startswith(rest, prefix))
                in_section = true;
        }
        if (!known && in_section)
            log_warning("environment %.*s: no such option, ignoring", (int)n, *e);
    }
    return 0;
}

static int load_overrides(struct load_ctx *ctx, const struct config_args *args)
{
    char where[160];
    if (!args || !args->overrides)
        return 0;
    for (size_t i = 0; args->overrides[i]; i++) {
        const char *o_text = args->overrides[i];
        /* "FLAG\tsection.key=value" when a flag other than --set made it. */
        const char *tab = strchr(o_text, '\t');
        const char *flag = "--set";
        char flagbuf[32];
        if (tab) {
            snprintf(flagbuf, sizeof(flagbuf), "%.*s", (int)(tab - o_text), o_text);
            flag = flagbuf;
            o_text = tab + 1;
        }
        const char *eq = strchr(o_text, '=');
        char name[128];
        snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - o_text) : (int)strlen(o_text), o_text);
        if (streq(flag, "--set"))
            snprintf(where, sizeof(where), "--set %s", name);
        else
            snprintf(where, sizeof(where), "%s", flag);
        ctx->where = where;
        if (!eq) {
            log_error("%s: expected --set section.key=value", where);
            ctx->errors++;
            continue;
        }
        const struct option_def *o = config_find_option_dotted(name);
        if (!o) {
            log_error("%s: no such option (see jobsd.conf(5))", where);
            ctx->errors++;
            continue;
        }
        if (o->type == OPT_SECRET) {
            /* argv is readable by every local user in /proc. */
            log_error("%s: secrets are not taken from the command line, where other users can "
                      "read them; use $CREDENTIALS_DIRECTORY, the environment or a file of "
                      "mode 0600",
                      where);
            ctx->errors++;
            continue;
        }
        if (apply(ctx, o, eq + 1, where) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Fills "%S/..." and "%t/..." defaults from the final directories. */
static int fill_derived(struct config *c)
{
    for (size_t i = 0; i < config_n_options; i++) {
        const struct option_def *o = &config_options[i];
        const char *rest, *dir;
        if (c->meta->source[i])
            continue;
        if ((rest = startswith(o->def, "%S/")))
            dir = c->daemon.state_dir;
        else if ((rest = startswith(o->def, "%t/")))
            dir = c->daemon.runtime_dir;
        else
            continue;
        _cleanup_free_ char *p = strjoin(dir, streq(dir, "/") ? "" : "/", rest);
        if (!p)
            return -ENOMEM;
        int r = config_set_string_field(config_option_field(c, o), p);
        if (r < 0)
            return r;
    }
    return 0;
}

static int check_tcp(struct load_ctx *ctx)
{
    struct config *c = ctx->config;
    char host[256];
    const char *src = config_source(c, "server.tcp");

    c->server.tcp_enabled = false;
    if (streq(c->server.tcp, "off"))
        return 0;
    if (config_parse_listen(c->server.tcp, &c->server.tcp_address, &c->server.tcp_address_len, host,
                            sizeof(host)) < 0) {
        log_error("%s: server.tcp: '%s' is not an address", src, c->server.tcp);
        ctx->errors++;
        return 0;
    }
    if (!config_host_is_loopback(host) && !c->server.tcp_allow_non_loopback) {
        log_error("%s: server.tcp: %s is not a loopback address; the local API would be open to "
                  "the network. Set tcp_allow_non_loopback = yes if that is really meant",
                  src, c->server.tcp);
        ctx->errors++;
        return 0;
    }
    c->server.tcp_enabled = true;
    return 0;
}

/* The local token guards the TCP listener; it must be hard to guess and
 * must not be a workspace credential, which local clients never see. */
static void check_local_token(struct load_ctx *ctx)
{
    const struct config *c = ctx->config;
    const char *t = c->server.local_token;
    if (isempty(t))
        return;
    if (strlen(t) < 16) {
        log_error("%s: server.local_token: must be at least 16 characters",
                  config_source(c, "server.local_token"));
        ctx->errors++;
    } else if (streq_ptr(t, c->workspace.token) || streq_ptr(t, c->workspace.client_secret)) {
        log_error("%s: server.local_token: must not be a workspace credential; local clients "
                  "would learn it",
                  config_source(c, "server.local_token"));
        ctx->errors++;
    }
}

/* ---- the object ---- */

struct config *config_free(struct config *c)
{
    if (!c)
        return NULL;
    for (size_t i = 0; i < config_n_options; i++) {
        const struct option_def *o = &config_options[i];
        switch (o->type) {
        case OPT_STRING:
        case OPT_PATH:
        case OPT_SECRET:
        case OPT_GROUP:
        case OPT_LISTEN:
        case OPT_CHOICE: {
            char **s = config_option_field(c, o);
            if (*s && o->type == OPT_SECRET)
                explicit_bzero(*s, strlen(*s));
            free(*s);
            break;
        }
        default:
            break;
        }
        if (c->meta)
            free(c->meta->source[i]);
    }
    free(c->meta);
    free(c);
    return NULL;
}

static int config_new_defaults(char *const *envp, struct config **ret)
{
    _cleanup_(config_freep) struct config *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->meta = calloc(1, sizeof(*c->meta));
    if (!c->meta)
        return -ENOMEM;
    for (size_t i = 0; i < config_n_options; i++) {
        const struct option_def *o = &config_options[i];
        char why[256];
        /* Derived defaults get their value once the directories are known. */
        const char *def = (startswith(o->def, "%S/") || startswith(o->def, "%t/")) ? "" : o->def;
        int r;
        if (o->type == OPT_PATH && isempty(def))
            r = config_set_string_field(config_option_field(c, o), "");
        else
            r = config_parse_value(c, envp, o, def, why, sizeof(why));
        if (r == -ENOMEM)
            return r;
        if (r < 0 && (o->flags & OPT_F_EMPTY_OK)) {
            /* "~/.databrickscfg" with no home directory: not used. */
            log_debug("default of %s.%s: %s; leaving it empty", o->section, o->key, why);
            r = config_set_string_field(config_option_field(c, o), "");
            if (r < 0)
                return r;
        }
        if (r < 0) /* a broken table; test-config catches it */
            return log_error_errno(r, "default of %s.%s: %s", o->section, o->key, why);
    }
    *ret = TAKE_PTR(c);
    return 0;
}

int config_load(const struct config_args *args, char *const *envp, struct config **ret)
{
    _cleanup_(config_freep) struct config *c = NULL;
    if (!envp)
        envp = environ;

    int r = config_new_defaults(envp, &c);
    if (r < 0)
        return r;

    struct load_ctx ctx = { .config = c, .envp = envp };
    const char *path = args && args->config_file ? args->config_file : CONFIG_DEFAULT_FILE;
    r = load_file(&ctx, path, args && args->config_file);
    if (r >= 0)
        r = load_env(&ctx);
    if (r >= 0)
        r = load_overrides(&ctx, args);
    if (r >= 0)
        r = fill_derived(c);
    if (r >= 0)
        r = check_tcp(&ctx);
    if (r < 0 || ctx.oom)
        return log_error_errno(ENOMEM, "out of memory while loading the configuration");
    r = creds_resolve(c, envp);
    if (r == -ENOMEM)
        return log_error_errno(ENOMEM, "out of memory while loading the configuration");
    if (r < 0)
        ctx.errors++;
    check_local_token(&ctx);
    if (ctx.errors > 0) {
        log_debug("configuration has %u error(s)", ctx.errors);
        return -EINVAL;
    }
    *ret = TAKE_PTR(c);
    return 0;
}

const char *config_source(const struct config *c, const char *name)
{
    const struct option_def *o = config_find_option_dotted(name);
    if (!o)
        return NULL;
    const char *s = c->meta->source[config_option_index(o)];
    return s ? s : "default";
}

/* ---- printing and comparing ---- */

int config_print(const struct config *c, FILE *f)
{
    const char *section = NULL;
    /* Values may be as long as a line of the file. */
    size_t size = CONFIG_FILE_MAX + 3;
    _cleanup_free_ char *buf = malloc(size);
    if (!buf)
        return -ENOMEM;

    fputs("# jobsd's effective configuration, as \"jobsd -nv\" prints it; see jobsd.conf(5).\n"
          "# Secrets show as (redacted) or (unset); read back, they leave the value unset.\n",
          f);
    for (size_t i = 0; i < config_n_options; i++) {
        const struct option_def *o = &config_options[i];
        if (!section || !streq(section, o->section)) {
            fprintf(f, "\n[%s]\n", o->section);
            section = o->section;
        }
        if (c->meta->source[i])
            fprintf(f, "# from %s\n", c->meta->source[i]);
        config_format_value(c, o, buf, size);
        if (isempty(buf))
            fprintf(f, "%s =\n", o->key);
        else
            fprintf(f, "%s = %s\n", o->key, buf);
    }
    if (fflush(f) != 0 || ferror(f))
        return -EIO;
    return 0;
}

static int strv_push(char ***v, size_t *n, const char *s)
{
    char *d = strdup(s);
    if (!d)
        return -ENOMEM;
    char **nv = realloc(*v, (*n + 2) * sizeof(char *));
    if (!nv) {
        free(d);
        return -ENOMEM;
    }
    nv[(*n)++] = d;
    nv[*n] = NULL;
    *v = nv;
    return 0;
}

int config_diff(const struct config *old, const struct config *new, char ***ret_changed,
                char ***ret_restart)
{
    _cleanup_strv_free_ char **changed = NULL, **restart = NULL;
    size_t n_changed = 0, n_restart = 0;

    if (!(changed = calloc(1, sizeof(char *))) || !(restart = calloc(1, sizeof(char *))))
        return -ENOMEM;
    for (size_t i = 0; i < config_n_options; i++) {
        if (config_value_equal(old, new, &config_options[i]))
            continue;
        if (strv_push(&changed, &n_changed, config_option_name(i)) < 0)
            return -ENOMEM;
        if (!config_options[i].reloadable &&
            strv_push(&restart, &n_restart, config_option_name(i)) < 0)
            return -ENOMEM;
    }
    if (ret_changed)
        *ret_changed = TAKE_PTR(changed);
    if (ret_restart)
        *ret_restart = TAKE_PTR(restart);
    return (int)n_changed;
}

int config_reload(const struct config *live, const struct config_args *args, char *const *envp,
                  struct config **ret)
{
    _cleanup_(config_freep) struct config *c = NULL;
    _cleanup_strv_free_ char **changed = NULL, **restart = NULL;

    int r = config_load(args, envp, &c);
    if (r < 0)
        return log_error_errno(r, "reloading the configuration failed, keeping the old one");
    r = config_diff(live, c, &changed, &restart);
    if (r < 0)
        return log_error_errno(r, "reloading the configuration failed, keeping the old one: %m");

    /* What only a restart can change keeps its live value (and source), so
     * that the object describes what the daemon really does. */
    for (size_t i = 0; restart[i]; i++) {
        const struct option_def *o = config_find_option_dotted(restart[i]);
        size_t k = config_option_index(o);
        char *s = live->meta->source[k] ? strdup(live->meta->source[k]) : NULL;
        if (config_copy_value(c, live, o) < 0 || (live->meta->source[k] && !s)) {
            free(s);
            return log_error_errno(ENOMEM, "reloading the configuration failed: %m");
        }
        free(c->meta->source[k]);
        c->meta->source[k] = s;
        if (streq(restart[i], "server.tcp")) {
            c->server.tcp_enabled = live->server.tcp_enabled;
            c->server.tcp_address = live->server.tcp_address;
            c->server.tcp_address_len = live->server.tcp_address_len;
        }
        log_notice("configuration: %s changed; it needs a restart to take effect, keeping the "
                   "old value until then",
                   restart[i]);
    }
    for (size_t i = 0; changed[i]; i++) {
        bool later = false;
        for (size_t j = 0; restart[j] && !later; j++)
            later = streq(changed[i], restart[j]);
        if (!later)
            log_info("configuration: %s changed", changed[i]);
    }
    log_info("configuration reloaded, %d option(s) changed", r);
    *ret = TAKE_PTR(c);
    return 0;
}

int config_check(const struct config_args *args, char *const *envp, FILE *out)
{
    _cleanup_(config_freep) struct config *c = NULL;
    int r = config_load(args, envp, &c);
    if (r < 0)
        return r;
    if (args && args->verbose)
        return config_print(c, out);
    fputs("configuration OK\n", out);
    return fflush(out) == 0 ? 0 : -errno;
}
