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

enum opt_type {
    OPT_STRING,
    OPT_PATH,
    OPT_SECRET,
    OPT_GROUP,
    OPT_LISTEN,
    OPT_CHOICE,
    OPT_BOOL,
    OPT_INT,
    OPT_SIZE,
    OPT_DURATION,
    OPT_MODE,
    OPT_RATE,
    OPT_LOGLEVEL,
};

/* A path option that may be empty (= not used). */
#define OPT_F_EMPTY_OK 1u

struct option_def {
    const char *section;
    const char *key;
    enum opt_type type;
    size_t offset; /* of the field in struct config */
    /* As text, read by the same parser as any other source. "%S/" and "%t/"
     * stand for state_dir and runtime_dir, filled in after every source. */
    const char *def;
    int64_t min, max; /* INT, SIZE (bytes), DURATION (ms), RATE (1/1000 per s) */
    const char *const *choices;
    bool reloadable;
    unsigned flags;
    const char *doc;
};

static const char *const auth_types[] = { "", "pat", "oauth-m2m", NULL };

#define F(field) offsetof(struct config, field)
#define SEC(x) ((int64_t)(x)*1000)

/* One row per option; the man page jobsd.conf(5) follows this order, and
 * tests/unit/test-config-man checks that both list the same options. */
static const struct option_def options[] = {
    { "server", "socket", OPT_PATH, F(server.socket), "%t/jobsd.sock", 0, 0, NULL, false, 0,
      "Unix socket the local API listens on." },
    { "server", "socket_mode", OPT_MODE, F(server.socket_mode), "0660", 0, 0777, NULL, false, 0,
      "Permissions of the socket." },
    { "server", "socket_group", OPT_GROUP, F(server.socket_group), "jobsd", 0, 0, NULL, false, 0,
      "Group that owns the socket; empty keeps the daemon's group." },
    { "server", "tcp", OPT_LISTEN, F(server.tcp), "off", 0, 0, NULL, false, 0,
      "Also listen on this TCP address (host:port), with the local token." },
    { "server", "tcp_allow_non_loopback", OPT_BOOL, F(server.tcp_allow_non_loopback), "no", 0, 0,
      NULL, false, 0, "Allow tcp to name an address that is not loopback." },
    { "server", "local_token_file", OPT_PATH, F(server.local_token_file), "%S/local-token", 0, 0,
      NULL, true, 0, "File holding the local bearer token, created at first start." },
    { "server", "local_token", OPT_SECRET, F(server.local_token), "", 0, 0, NULL, true, 0,
      "Local bearer token for TCP clients; unset reads local_token_file." },
    { "server", "read_only_group", OPT_GROUP, F(server.read_only_group), "", 0, 0, NULL, true, 0,
      "Members of this group may only read." },
    { "server", "max_connections", OPT_INT, F(server.max_connections), "1024", 1, 65536, NULL,
      false, 0, "Most client connections at once." },
    { "server", "connection_memory", OPT_SIZE, F(server.connection_memory), "8K", 4 * 1024,
      1024 * 1024, NULL, false, 0, "Memory for each connection's request." },
    { "server", "request_timeout", OPT_DURATION, F(server.request_timeout_ms), "60s", SEC(1),
      SEC(3600), NULL, false, 0, "Idle time after which a client connection is closed." },
    { "server", "drain_timeout", OPT_DURATION, F(server.drain_timeout_ms), "10s", 0, SEC(600), NULL,
      true, 0, "How long a stopping daemon waits for requests in progress." },

    { "workspace", "host", OPT_STRING, F(workspace.host), "", 0, 0, NULL, false, 0,
      "Workspace URL, e.g. https://dbc-1234.cloud.databricks.com." },
    { "workspace", "profile", OPT_STRING, F(workspace.profile), "", 0, 0, NULL, false, 0,
      "Profile of config_file to read." },
    { "workspace", "config_file", OPT_PATH, F(workspace.config_file), "~/.databrickscfg", 0, 0,
      NULL, false, OPT_F_EMPTY_OK, "The Databricks configuration file." },
    { "workspace", "auth_type", OPT_CHOICE, F(workspace.auth_type), "", 0, 0, auth_types, true, 0,
      "pat or oauth-m2m; empty picks the one whose credentials are set." },
    { "workspace", "token", OPT_SECRET, F(workspace.token), "", 0, 0, NULL, true, 0,
      "Personal access token." },
    { "workspace", "client_id", OPT_STRING, F(workspace.client_id), "", 0, 0, NULL, true, 0,
      "OAuth M2M service principal's client id." },
    { "workspace", "client_secret", OPT_SECRET, F(workspace.client_secret), "", 0, 0, NULL, true, 0,
      "OAuth M2M client secret." },
    { "workspace", "workspace_id", OPT_STRING, F(workspace.workspace_id), "", 0, 0, NULL, false, 0,
      "Sent as X-Databricks-Workspace-Id." },
    { "workspace", "ca_file", OPT_PATH, F(workspace.ca_file), "", 0, 0, NULL, true, OPT_F_EMPTY_OK,
      "CA bundle to verify the workspace with; empty uses the system's." },

    { "upstream", "connect_timeout", OPT_DURATION, F(upstream.connect_timeout_ms), "10s", 100,
      SEC(300), NULL, true, 0, "Time to connect to the workspace." },
    { "upstream", "timeout", OPT_DURATION, F(upstream.timeout_ms), "60s", SEC(1), SEC(3600), NULL,
      true, 0, "Time for one upstream request." },
    { "upstream", "retry_budget", OPT_DURATION, F(upstream.retry_budget_ms), "300s", 0, SEC(86400),
      NULL, true, 0, "Total time spent retrying one request." },
    { "upstream", "max_attempts", OPT_INT, F(upstream.max_attempts), "6", 1, 20, NULL, true, 0,
      "Most attempts of one request." },
    { "upstream", "rate", OPT_RATE, F(upstream.rate), "10", 100, 1000000, NULL, true, 0,
      "Requests per second to the workspace (\"N\" or \"N/s\", 3 decimals)." },
    { "upstream", "burst", OPT_INT, F(upstream.burst), "20", 1, 1000, NULL, true, 0,
      "Requests that may go at once above rate." },
    { "upstream", "max_in_flight", OPT_INT, F(upstream.max_in_flight), "16", 1, 256, NULL, true, 0,
      "Most upstream requests at once." },
    { "upstream", "queue_max", OPT_INT, F(upstream.queue_max), "1000", 0, 100000, NULL, true, 0,
      "Most requests waiting for an upstream slot; more are answered 503." },
    { "upstream", "user_agent_extra", OPT_STRING, F(upstream.user_agent_extra), "", 0, 0, NULL,
      true, 0, "Extra key/value words for the User-Agent." },

    { "archive", "path", OPT_PATH, F(archive.path), "%S/archive.db", 0, 0, NULL, false, 0,
      "SQLite archive of runs." },

    { "daemon", "state_dir", OPT_PATH, F(daemon.state_dir), "/var/lib/jobsd", 0, 0, NULL, false, 0,
      "State directory; $STATE_DIRECTORY wins over the file." },
    { "daemon", "runtime_dir", OPT_PATH, F(daemon.runtime_dir), "/run/jobsd", 0, 0, NULL, false, 0,
      "Runtime directory; $RUNTIME_DIRECTORY wins over the file." },
    { "daemon", "log_level", OPT_LOGLEVEL, F(daemon.log_level), "info", 0, 0, NULL, true, 0,
      "Least important messages logged: debug, info, notice, warning, error." },
    { "daemon", "watchdog", OPT_BOOL, F(daemon.watchdog), "yes", 0, 0, NULL, false, 0,
      "Ping systemd's watchdog when WatchdogSec= is set." },
};

#define N_OPTIONS ELEMENTSOF(options)

struct config_meta {
    char *source[N_OPTIONS]; /* NULL = default */
    bool file_secret;        /* the config file set a secret */
    const char *file_secret_name;
};

/* ---- the table, for tests and the man page ---- */

const char *config_option_name(size_t i)
{
    static char names[N_OPTIONS][64];
    if (i >= N_OPTIONS)
        return NULL;
    if (!names[i][0])
        snprintf(names[i], sizeof(names[i]), "%s.%s", options[i].section, options[i].key);
    return names[i];
}

static void format_duration(uint64_t ms, char *buf, size_t n)
{
    if (ms % 1000)
        snprintf(buf, n, "%" PRIu64 "ms", ms);
    else
        snprintf(buf, n, "%" PRIu64 "s", ms / 1000);
}

static void format_size(uint64_t v, char *buf, size_t n)
{
    static const char units[] = "GMK";
    for (int i = 0; i < 3; i++) {
        uint64_t f = (uint64_t)1 << (10 * (3 - i));
        if (v >= f && v % f == 0) {
            snprintf(buf, n, "%" PRIu64 "%c", v / f, units[i]);
            return;
        }
    }
    snprintf(buf, n, "%" PRIu64, v);
}

/* Thousandths as a decimal without trailing zeros: 1500 -> "1.5". */
static void format_milli(int64_t v, char *buf, size_t n)
{
    if (v % 1000 == 0)
        snprintf(buf, n, "%" PRId64, v / 1000);
    else if (v % 100 == 0)
        snprintf(buf, n, "%" PRId64 ".%01" PRId64, v / 1000, (v % 1000) / 100);
    else if (v % 10 == 0)
        snprintf(buf, n, "%" PRId64 ".%02" PRId64, v / 1000, (v % 1000) / 10);
    else
        snprintf(buf, n, "%" PRId64 ".%03" PRId64, v / 1000, v % 1000);
}

/* "min..max" in the option's own units, for messages and the man page. */
static void format_bounds(const struct option_def *o, char *buf, size_t n)
{
    char a[32], b[32];
    switch (o->type) {
    case OPT_SIZE:
        format_size((uint64_t)o->min, a, sizeof(a));
        format_size((uint64_t)o->max, b, sizeof(b));
        break;
    case OPT_DURATION:
        format_duration((uint64_t)o->min, a, sizeof(a));
        format_duration((uint64_t)o->max, b, sizeof(b));
        break;
    case OPT_RATE:
        format_milli(o->min, a, sizeof(a));
        format_milli(o->max, b, sizeof(b));
        break;
    default:
        snprintf(a, sizeof(a), "%" PRId64, o->min);
        snprintf(b, sizeof(b), "%" PRId64, o->max);
        break;
    }
    snprintf(buf, n, "%s..%s", a, b);
}

const char *config_option_type(size_t i)
{
    static char types[N_OPTIONS][128];
    static const char *const names[] = {
        [OPT_STRING] = "string",      [OPT_PATH] = "path",       [OPT_SECRET] = "secret",
        [OPT_GROUP] = "group",        [OPT_LISTEN] = "address",  [OPT_CHOICE] = "choice",
        [OPT_BOOL] = "boolean",       [OPT_INT] = "integer",     [OPT_SIZE] = "size",
        [OPT_DURATION] = "duration",  [OPT_MODE] = "octal mode", [OPT_RATE] = "rate",
        [OPT_LOGLEVEL] = "log level",
    };
    if (i >= N_OPTIONS)
        return NULL;
    if (!types[i][0]) {
        const struct option_def *o = &options[i];
        char bounds[80];
        if (o->type == OPT_INT || o->type == OPT_SIZE || o->type == OPT_DURATION ||
            o->type == OPT_RATE) {
            format_bounds(o, bounds, sizeof(bounds));
            snprintf(types[i], sizeof(types[i]), "%s %s", names[o->type], bounds);
        } else
            snprintf(types[i], sizeof(types[i]), "%s", names[o->type]);
    }
    return types[i];
}

const char *config_option_default(size_t i)
{
    static char defs[N_OPTIONS][64];
    if (i >= N_OPTIONS)
        return NULL;
    const char *d = options[i].def;
    const char *rest;
    if ((rest = startswith(d, "%S/")))
        snprintf(defs[i], sizeof(defs[i]), "<state_dir>/%s", rest);
    else if ((rest = startswith(d, "%t/")))
        snprintf(defs[i], sizeof(defs[i]), "<runtime_dir>/%s", rest);
    else
        return d;
    return defs[i];
}

const char *config_option_doc(size_t i)
{
    return i < N_OPTIONS ? options[i].doc : NULL;
}

bool config_option_reloadable(size_t i)
{
    return i < N_OPTIONS && options[i].reloadable;
}

static const struct option_def *find_option(const char *section, const char *key)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (streq(options[i].section, section) && streq(options[i].key, key))
            return &options[i];
    return NULL;
}

static bool section_known(const char *section)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (streq(options[i].section, section))
            return true;
    return false;
}

/* "server.socket" -> its row, or NULL. */
static const struct option_def *find_option_dotted(const char *name)
{
    const char *dot = strchr(name, '.');
    char section[64];
    if (!dot || (size_t)(dot - name) >= sizeof(section))
        return NULL;
    memcpy(section, name, (size_t)(dot - name));
    section[dot - name] = 0;
    return find_option(section, dot + 1);
}

static size_t option_index(const struct option_def *o)
{
    return (size_t)(o - options);
}

static void *field(const struct config *c, const struct option_def *o)
{
    return (char *)c + o->offset;
}

/* ---- environment and home ---- */

const char *config_env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    if (!envp)
        return NULL;
    for (char *const *e = envp; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

int config_expand_home(const char *path, char *const *envp, char **ret)
{
    const char *rest = startswith(path, "~/");
    char *r;
    if (!rest) {
        r = strdup(path);
    } else {
        const char *home = config_env_get(envp, "HOME");
        char buf[4096];
        struct passwd pw, *result = NULL;
        if (isempty(home)) {
            if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &result) != 0 || !result ||
                isempty(result->pw_dir))
                return -EINVAL;
            home = result->pw_dir;
        }
        r = strjoin(home, streq(home, "/") ? "" : "/", rest);
    }
    if (!r)
        return -ENOMEM;
    *ret = r;
    return 0;
}

bool config_host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (streq(host, "localhost"))
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

/* ---- value parsers ---- */

/* Everything a parser needs to know about where a value comes from. */
struct load_ctx {
    struct config *config;
    char *const *envp;
    const char *where; /* "path:line", "environment X", "--set a.b" */
    unsigned errors;
    bool oom;
    /* the file being parsed, for duplicate keys */
    const char *path;
    unsigned first_line[N_OPTIONS];
};

static int parse_rate_milli(const char *s, int64_t *ret)
{
    /* "N", "N.D", "N.DD", "N.DDD", each optionally followed by "/s". A
     * parser of our own: strtod depends on the locale and rounds. */
    int64_t whole = 0, frac = 0;
    int digits = 0, fdigits = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (whole > 1000000)
            return -ERANGE;
        whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, fdigits++) {
            if (fdigits >= 3)
                return -EINVAL;
            frac = frac * 10 + (*p - '0');
        }
        if (fdigits == 0)
            return -EINVAL;
    }
    if (digits == 0 || (*p && !streq(p, "/s")))
        return -EINVAL;
    for (int i = fdigits; i < 3; i++)
        frac *= 10;
    *ret = whole * 1000 + frac;
    return 0;
}

static bool valid_group_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (i > 0 && ((c >= '0' && c <= '9') || c == '-' || c == '.')) ||
                  (i == n - 1 && i > 0 && c == '$');
        if (!ok)
            return false;
    }
    return true;
}

/* Splits "host:port" or "[v6]:port" and resolves it without DNS. */
static int parse_listen(const char *s, struct sockaddr_storage *ret_addr, socklen_t *ret_len,
                        char *ret_host, size_t host_size)
{
    const char *colon;
    const char *h = s;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s)))
            return -EINVAL;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= host_size)
        return -EINVAL;
    memcpy(ret_host, h, hlen);
    ret_host[hlen] = 0;

    int port;
    if (parse_int(colon + 1, &port) < 0 || port < 1 || port > 65535)
        return -ERANGE;

    struct sockaddr_storage ss = { 0 };
    socklen_t len;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    const char *lookup = streq(ret_host, "localhost") ? "127.0.0.1" : ret_host;
    if (inet_pton(AF_INET, lookup, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        len = sizeof(*in4);
    } else if (inet_pton(AF_INET6, lookup, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        len = sizeof(*in6);
    } else
        return -EADDRNOTAVAIL;
    if (ret_addr)
        *ret_addr = ss;
    if (ret_len)
        *ret_len = len;
    return 0;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

static int set_string_field(char **f, const char *value)
{
    char *d = strdup(value);
    if (!d)
        return -ENOMEM;
    free(*f);
    *f = d;
    return 0;
}

/* Parses value into o's field of c. On failure returns -EINVAL/-ERANGE and
 * writes the reason (never the value of a secret) into why. */
static int parse_value(struct load_ctx *ctx, const struct option_def *o, const char *value,
                       char *why, size_t why_size)
{
    struct config *c = ctx->config;
    void *f = field(c, o);
    char bounds[80];
    int r;

    if (has_control(value)) {
        snprintf(why, why_size, "the value contains a control character");
        return -EINVAL;
    }
    switch (o->type) {
    case OPT_STRING:
    case OPT_SECRET:
        return set_string_field(f, value);
    case OPT_PATH: {
        if (isempty(value)) {
            if (o->flags & OPT_F_EMPTY_OK)
                return set_string_field(f, "");
            snprintf(why, why_size, "needs a path");
            return -EINVAL;
        }
        _cleanup_free_ char *p = NULL;
        r = config_expand_home(value, ctx->envp, &p);
        if (r == -ENOMEM)
            return r;
        if (r < 0) {
            snprintf(why, why_size, "cannot expand '~': $HOME is not set");
            return -EINVAL;
        }
        if (p[0] != '/') {
            snprintf(why, why_size, "'%s' is not an absolute path", value);
            return -EINVAL;
        }
        return set_string_field(f, p);
    }
    case OPT_GROUP:
        if (!isempty(value) && !valid_group_name(value)) {
            snprintf(why, why_size, "'%s' is not a valid group name", value);
            return -EINVAL;
        }
        return set_string_field(f, value);
    case OPT_LISTEN: {
        char host[256];
        if (isempty(value) || streq(value, "off") || streq(value, "no"))
            return set_string_field(f, "off");
        r = parse_listen(value, NULL, NULL, host, sizeof(host));
        if (r == -EADDRNOTAVAIL) {
            snprintf(why, why_size, "'%s': the host must be an IP address or localhost", value);
            return -EINVAL;
        }
        if (r < 0) {
            snprintf(why, why_size, "'%s' is not off, host:port or [v6]:port (port 1..65535)",
                     value);
            return -EINVAL;
        }
        return set_string_field(f, value);
    }
    case OPT_CHOICE:
        for (const char *const *ch = o->choices; *ch; ch++)
            if (streq(*ch, value))
                return set_string_field(f, value);
        snprintf(why, why_size, "'%s' is not one of:", value);
        for (const char *const *ch = o->choices; *ch; ch++)
            if (**ch) {
                size_t n = strlen(why);
                snprintf(why + n, why_size - n, " %s", *ch);
            }
        return -EINVAL;
    case OPT_BOOL:
        if (parse_bool(value, f) < 0) {
            snprintf(why, why_size, "'%s' is not a boolean (yes/no, true/false, on/off, 1/0)",
                     value);
            return -EINVAL;
        }
        return 0;
    case OPT_INT: {
        int64_t v;
        r = parse_int64(value, &v);
        format_bounds(o, bounds, sizeof(bounds));
        if (r == -EINVAL) {
            snprintf(why, why_size, "'%s' is not an integer", value);
            return r;
        }
        if (r < 0 || v < o->min || v > o->max) {
            snprintf(why, why_size, "%s is out of range %s", value, bounds);
            return -ERANGE;
        }
        *(int64_t *)f = v;
        return 0;
    }
    case OPT_SIZE:
    case OPT_DURATION: {
        uint64_t v;
        bool size = o->type == OPT_SIZE;
        r = size ? parse_size(value, &v) : parse_duration_ms(value, &v);
        format_bounds(o, bounds, sizeof(bounds));
        if (r == -EINVAL) {
            snprintf(why, why_size,
                     size ? "'%s' is not a size (512, 64K, 8M, 2G)"
                          : "'%s' is not a duration (250ms, 30s, 5m, 2h, 1d)",
                     value);
            return r;
        }
        if (r < 0 || v < (uint64_t)o->min || v > (uint64_t)o->max) {
            snprintf(why, why_size, "%s is out of range %s", value, bounds);
            return -ERANGE;
        }
        *(uint64_t *)f = v;
        return 0;
    }
    case OPT_MODE: {
        unsigned v = 0;
        size_t n = strlen(value);
        bool ok = n >= 1 && n <= 4;
        for (size_t i = 0; ok && i < n; i++) {
            if (value[i] < '0' || value[i] > '7')
                ok = false;
            else
                v = v * 8 + (unsigned)(value[i] - '0');
        }
        if (!ok || v > (unsigned)o->max) {
            snprintf(why, why_size, "'%s' is not an octal mode 0000..%04o", value,
                     (unsigned)o->max);
            return -EINVAL;
        }
        *(unsigned *)f = v;
        return 0;
    }
    case OPT_RATE: {
        int64_t v;
        r = parse_rate_milli(value, &v);
        format_bounds(o, bounds, sizeof(bounds));
        if (r == -EINVAL) {
            snprintf(why, why_size, "'%s' is not a rate (10, 0.5, 2.25/s; at most 3 decimals)",
                     value);
            return r;
        }
        if (r < 0 || v < o->min || v > o->max) {
            snprintf(why, why_size, "%s is out of range %s", value, bounds);
            return -ERANGE;
        }
        *(double *)f = (double)v / 1000.0;
        return 0;
    }
    case OPT_LOGLEVEL: {
        int level;
        if (log_level_from_string(value, &level) < 0) {
            snprintf(why, why_size,
                     "'%s' is not a log level (debug, info, notice, warning, error, crit)", value);
            return -EINVAL;
        }
        *(int *)f = level;
        return 0;
    }
    }
    return -EINVAL;
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
    size_t i = option_index(o);

    if (o->type == OPT_SECRET && is_placeholder(value)) {
        /* What -nv printed in place of a secret: nothing is set here. */
        log_debug("%s: %s.%s is a placeholder for a secret, ignoring", ctx->where, o->section,
                  o->key);
        return 0;
    }
    why[0] = 0;
    int r = parse_value(ctx, o, value, why, sizeof(why));
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
    if (o->type == OPT_SECRET && strlen(value) >= 4)
        (void)log_add_secret(value);
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
    const struct option_def *o = find_option_dotted(name);
    if (!o)
        return -ENOENT;
    int r = set_string_field(field(c, o), value);
    if (r < 0)
        return r;
    char *s = source ? strdup(source) : NULL;
    if (source && !s)
        return -ENOMEM;
    free(c->meta->source[option_index(o)]);
    c->meta->source[option_index(o)] = s;
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
    const struct option_def *o = find_option(section, key);
    if (!o) {
        if (isempty(section))
            log_error("%s: %s: key outside of a [section]", where, key);
        else if (!section_known(section))
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
    size_t i = option_index(o);
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
        if (apply(ctx, find_option_dotted(systemd_dirs[i].option), first, where) < 0)
            return -ENOMEM;
    }

    for (size_t i = 0; i < N_OPTIONS; i++) {
        env_name(&options[i], name, sizeof(name));
        const char *v = config_env_get(ctx->envp, name);
        if (!v)
            continue;
        snprintf(where, sizeof(where), "environment %s", name);
        ctx->where = where;
        if (apply(ctx, &options[i], v, where) < 0)
            return -ENOMEM;
    }

    /* A misspelt JOBSD_<SECTION>_<KEY> would otherwise be ignored silently. */
    for (char *const *e = ctx->envp; e && *e; e++) {
        const char *rest = startswith(*e, "JOBSD_");
        if (!rest)
            continue;
        size_t n = strcspn(*e, "=");
        bool known = false, in_section = false;
        for (size_t i = 0; i < N_OPTIONS && !known; i++) {
            env_name(&options[i], name, sizeof(name));
            known = strlen(name) == n && strncmp(name, *e, n) == 0;
            char prefix[64];
            snprintf(prefix, sizeof(prefix), "%s_", options[i].section);
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
        const struct option_def *o = find_option_dotted(name);
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
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *o = &options[i];
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
        int r = set_string_field(field(c, o), p);
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
    if (parse_listen(c->server.tcp, &c->server.tcp_address, &c->server.tcp_address_len, host,
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

/* ---- the object ---- */

struct config *config_free(struct config *c)
{
    if (!c)
        return NULL;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *o = &options[i];
        switch (o->type) {
        case OPT_STRING:
        case OPT_PATH:
        case OPT_SECRET:
        case OPT_GROUP:
        case OPT_LISTEN:
        case OPT_CHOICE: {
            char **s = field(c, o);
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
    struct load_ctx ctx = { .config = c, .envp = envp, .where = "default" };
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *o = &options[i];
        char why[256];
        /* Derived defaults get their value once the directories are known. */
        const char *def = (startswith(o->def, "%S/") || startswith(o->def, "%t/")) ? "" : o->def;
        int r;
        if (o->type == OPT_PATH && isempty(def))
            r = set_string_field(field(c, o), "");
        else
            r = parse_value(&ctx, o, def, why, sizeof(why));
        if (r == -ENOMEM)
            return r;
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
    if (ctx.errors > 0) {
        log_debug("configuration has %u error(s)", ctx.errors);
        return -EINVAL;
    }
    *ret = TAKE_PTR(c);
    return 0;
}

const char *config_source(const struct config *c, const char *name)
{
    const struct option_def *o = find_option_dotted(name);
    if (!o)
        return NULL;
    const char *s = c->meta->source[option_index(o)];
    return s ? s : "default";
}

/* ---- printing and comparing ---- */

/* The canonical text of one value; secrets as redact() says. */
static void format_value(const struct config *c, const struct option_def *o, char *buf, size_t n)
{
    const void *f = field(c, o);
    switch (o->type) {
    case OPT_SECRET:
        snprintf(buf, n, "%s", redact(*(char *const *)f));
        break;
    case OPT_STRING:
    case OPT_PATH:
    case OPT_GROUP:
    case OPT_LISTEN:
    case OPT_CHOICE: {
        const char *s = *(char *const *)f;
        if (conffile_needs_quotes(s))
            snprintf(buf, n, "\"%s\"", s);
        else
            snprintf(buf, n, "%s", s);
        break;
    }
    case OPT_BOOL:
        snprintf(buf, n, "%s", *(const bool *)f ? "yes" : "no");
        break;
    case OPT_INT:
        snprintf(buf, n, "%" PRId64, *(const int64_t *)f);
        break;
    case OPT_SIZE:
        format_size(*(const uint64_t *)f, buf, n);
        break;
    case OPT_DURATION:
        format_duration(*(const uint64_t *)f, buf, n);
        break;
    case OPT_MODE:
        snprintf(buf, n, "%04o", *(const unsigned *)f);
        break;
    case OPT_RATE:
        /* Values are whole thousandths (parse_rate_milli), so rounding is exact. */
        format_milli((int64_t)(*(const double *)f * 1000.0 + 0.5), buf, n);
        break;
    case OPT_LOGLEVEL:
        snprintf(buf, n, "%s", log_level_to_string(*(const int *)f));
        break;
    }
}

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
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *o = &options[i];
        if (!section || !streq(section, o->section)) {
            fprintf(f, "\n[%s]\n", o->section);
            section = o->section;
        }
        if (c->meta->source[i])
            fprintf(f, "# from %s\n", c->meta->source[i]);
        format_value(c, o, buf, size);
        if (isempty(buf))
            fprintf(f, "%s =\n", o->key);
        else
            fprintf(f, "%s = %s\n", o->key, buf);
    }
    if (fflush(f) != 0 || ferror(f))
        return -EIO;
    return 0;
}

static bool value_equal(const struct config *a, const struct config *b, const struct option_def *o)
{
    const void *fa = field(a, o), *fb = field(b, o);
    switch (o->type) {
    case OPT_STRING:
    case OPT_PATH:
    case OPT_SECRET:
    case OPT_GROUP:
    case OPT_LISTEN:
    case OPT_CHOICE:
        return streq(*(char *const *)fa, *(char *const *)fb);
    case OPT_BOOL:
        return *(const bool *)fa == *(const bool *)fb;
    case OPT_INT:
        return *(const int64_t *)fa == *(const int64_t *)fb;
    case OPT_SIZE:
    case OPT_DURATION:
        return *(const uint64_t *)fa == *(const uint64_t *)fb;
    case OPT_MODE:
        return *(const unsigned *)fa == *(const unsigned *)fb;
    case OPT_RATE:
        return *(const double *)fa == *(const double *)fb;
    case OPT_LOGLEVEL:
        return *(const int *)fa == *(const int *)fb;
    }
    return false;
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
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (value_equal(old, new, &options[i]))
            continue;
        if (strv_push(&changed, &n_changed, config_option_name(i)) < 0)
            return -ENOMEM;
        if (!options[i].reloadable && strv_push(&restart, &n_restart, config_option_name(i)) < 0)
            return -ENOMEM;
    }
    if (ret_changed)
        *ret_changed = TAKE_PTR(changed);
    if (ret_restart)
        *ret_restart = TAKE_PTR(restart);
    return (int)n_changed;
}
