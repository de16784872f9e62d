/* The option table and the typed values: parsing one value, printing it,
 * comparing two. Loading from the sources is in config.c. */
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

static const char *const auth_types[] = { "", "pat", "oauth-m2m", NULL };
static const char *const track_modes[] = { "all", "jobs", "local", NULL };
static const char *const export_views[] = { "", "CODE", "DASHBOARDS", "ALL", NULL };

#define F(field) offsetof(struct config, field)
#define SEC(x) ((int64_t)(x)*1000)

/* One row per option; the man page jobsd.conf(5) follows this order, and
 * tests/unit/test-config-man checks that both list the same options. */
const struct option_def config_options[] = {
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
      "Bearer token for TCP clients, 16+ characters and no workspace credential; unset "
      "reads local_token_file." },
    { "server", "read_only_group", OPT_GROUP, F(server.read_only_group), "", 0, 0, NULL, true, 0,
      "Members of this group may only read." },
    { "server", "max_connections", OPT_INT, F(server.max_connections), "1024", 1, 65536, NULL,
      false, 0, "Most client connections at once." },
    { "server", "connection_memory", OPT_SIZE, F(server.connection_memory), "8K", 4 * 1024,
      1024 * 1024, NULL, false, 0, "Memory for each connection's request." },
    { "server", "request_timeout", OPT_DURATION, F(server.request_timeout_ms), "60s", SEC(1),
      SEC(3600), NULL, false, 0,
      "Idle time after which a client connection is closed; also the most a client may take to "
      "send a request." },
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
    { "upstream", "rate", OPT_RATE, F(upstream.rate), "10", 100, 100000000, NULL, true, 0,
      "Requests per second to the workspace (\"N\" or \"N/s\", 3 decimals)." },
    { "upstream", "burst", OPT_INT, F(upstream.burst), "20", 1, 100000, NULL, true, 0,
      "Requests that may go at once above rate." },
    { "upstream", "max_in_flight", OPT_INT, F(upstream.max_in_flight), "16", 1, 256, NULL, true, 0,
      "Most upstream requests at once." },
    { "upstream", "queue_max", OPT_INT, F(upstream.queue_max), "1000", 0, 100000, NULL, true, 0,
      "Most requests waiting for an upstream slot; more are answered 503." },
    { "upstream", "user_agent_extra", OPT_STRING, F(upstream.user_agent_extra), "", 0, 0, NULL,
      true, 0, "Extra key/value words for the User-Agent." },

    { "cache", "enabled", OPT_BOOL, F(cache.enabled), "yes", 0, 0, NULL, false, 0,
      "Answer reads from the response cache and coalesce identical ones." },
    { "cache", "max_size", OPT_SIZE, F(cache.max_size), "64M", 1024 * 1024,
      (int64_t)16 * 1024 * 1024 * 1024, NULL, false, 0,
      "Memory for cached answers; the least recently used go first." },
    { "cache", "job_ttl", OPT_DURATION, F(cache.job_ttl_ms), "30s", 0, SEC(86400), NULL, false, 0,
      "How long a jobs/get answer is fresh." },
    { "cache", "list_ttl", OPT_DURATION, F(cache.list_ttl_ms), "10s", 0, SEC(86400), NULL, false, 0,
      "How long a jobs/list or runs/list page is fresh." },
    { "cache", "run_ttl", OPT_DURATION, F(cache.run_ttl_ms), "5s", 0, SEC(86400), NULL, false, 0,
      "How long an active run's runs/get, get-output or export is fresh; a finished run's stays "
      "until a write changes it." },
    { "cache", "permissions_ttl", OPT_DURATION, F(cache.permissions_ttl_ms), "60s", 0, SEC(86400),
      NULL, false, 0, "How long a job's permissions are fresh." },
    { "cache", "stale_grace", OPT_DURATION, F(cache.stale_grace_ms), "1h", 0, SEC(7 * 86400), NULL,
      false, 0,
      "How long past fresh an answer is kept to serve, marked stale, while the workspace fails "
      "or the answer is refreshed." },

    { "archive", "path", OPT_PATH, F(archive.path), "%S/archive.db", 0, 0, NULL, false, 0,
      "SQLite archive of runs." },

    { "poller", "enabled", OPT_BOOL, F(poller.enabled), "yes", 0, 0, NULL, false, 0,
      "Track active runs in the background, wake local waiters and archive finished runs." },
    { "poller", "track", OPT_CHOICE, F(poller.track), "all", 0, 0, track_modes, false, 0,
      "Which runs: all of the workspace's, those of the jobs listed in jobs, or only local ones "
      "(started or waited for through jobsd)." },
    { "poller", "jobs", OPT_STRING, F(poller.jobs), "", 0, 0, NULL, false, 0,
      "Job ids for track=jobs, separated by commas." },
    { "poller", "interval_min", OPT_DURATION, F(poller.interval_min_ms), "2s", 100, SEC(3600), NULL,
      true, 0,
      "Shortest time between two sweeps: right after a start and near a run's expected end." },
    { "poller", "interval_max", OPT_DURATION, F(poller.interval_max_ms), "60s", 100, SEC(3600),
      NULL, true, 0, "Longest time between two sweeps while runs are active." },
    { "poller", "idle_interval", OPT_DURATION, F(poller.idle_interval_ms), "30s", 100, SEC(86400),
      NULL, true, 0, "Time between two sweeps while no run is active, to discover new ones." },
    { "poller", "share", OPT_INT, F(poller.share), "75", 1, 100, NULL, true, 0,
      "Percent of upstream.rate the poller may use; the rest stays for clients." },
    { "poller", "backfill", OPT_BOOL, F(poller.backfill), "yes", 0, 0, NULL, false, 0,
      "On first start, archive the runs the workspace still has (the last backfill_days)." },
    { "poller", "backfill_days", OPT_INT, F(poller.backfill_days), "60", 1, 60, NULL, true, 0,
      "How far back a backfill goes." },
    { "poller", "outputs", OPT_BOOL, F(poller.outputs), "yes", 0, 0, NULL, true, 0,
      "Archive the get-output of every task run of a finished run." },
    { "poller", "export_views", OPT_CHOICE, F(poller.export_views), "", 0, 0, export_views, true,
      OPT_F_EMPTY_OK, "Also archive runs/export of each task run with these views (empty: none)." },

    { "daemon", "state_dir", OPT_PATH, F(daemon.state_dir), "/var/lib/jobsd", 0, 0, NULL, false, 0,
      "State directory; $STATE_DIRECTORY wins over the file." },
    { "daemon", "runtime_dir", OPT_PATH, F(daemon.runtime_dir), "/run/jobsd", 0, 0, NULL, false, 0,
      "Runtime directory; $RUNTIME_DIRECTORY wins over the file." },
    { "daemon", "log_level", OPT_LOGLEVEL, F(daemon.log_level), "info", 0, 0, NULL, true, 0,
      "Least important messages logged: debug, info, notice, warning, error." },
    { "daemon", "watchdog", OPT_BOOL, F(daemon.watchdog), "yes", 0, 0, NULL, false, 0,
      "Ping systemd's watchdog when WatchdogSec= is set." },
};

const size_t config_n_options = ELEMENTSOF(config_options);
_Static_assert(ELEMENTSOF(config_options) <= CONFIG_OPTIONS_MAX, "raise CONFIG_OPTIONS_MAX");

/* ---- the table, for tests and the man page ---- */

const char *config_option_name(size_t i)
{
    static char names[CONFIG_OPTIONS_MAX][64];
    if (i >= config_n_options)
        return NULL;
    if (!names[i][0])
        snprintf(names[i], sizeof(names[i]), "%s.%s", config_options[i].section,
                 config_options[i].key);
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
    static char types[CONFIG_OPTIONS_MAX][128];
    static const char *const names[] = {
        [OPT_STRING] = "string",      [OPT_PATH] = "path",       [OPT_SECRET] = "secret",
        [OPT_GROUP] = "group",        [OPT_LISTEN] = "address",  [OPT_CHOICE] = "choice",
        [OPT_BOOL] = "boolean",       [OPT_INT] = "integer",     [OPT_SIZE] = "size",
        [OPT_DURATION] = "duration",  [OPT_MODE] = "octal mode", [OPT_RATE] = "rate",
        [OPT_LOGLEVEL] = "log level",
    };
    if (i >= config_n_options)
        return NULL;
    if (!types[i][0]) {
        const struct option_def *o = &config_options[i];
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
    static char defs[CONFIG_OPTIONS_MAX][64];
    if (i >= config_n_options)
        return NULL;
    const char *d = config_options[i].def;
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
    return i < config_n_options ? config_options[i].doc : NULL;
}

bool config_option_reloadable(size_t i)
{
    return i < config_n_options && config_options[i].reloadable;
}

const struct option_def *config_find_option(const char *section, const char *key)
{
    for (size_t i = 0; i < config_n_options; i++)
        if (streq(config_options[i].section, section) && streq(config_options[i].key, key))
            return &config_options[i];
    return NULL;
}

bool config_section_known(const char *section)
{
    for (size_t i = 0; i < config_n_options; i++)
        if (streq(config_options[i].section, section))
            return true;
    return false;
}

/* "server.socket" -> its row, or NULL. */
const struct option_def *config_find_option_dotted(const char *name)
{
    const char *dot = strchr(name, '.');
    char section[64];
    if (!dot || (size_t)(dot - name) >= sizeof(section))
        return NULL;
    memcpy(section, name, (size_t)(dot - name));
    section[dot - name] = 0;
    return config_find_option(section, dot + 1);
}

size_t config_option_index(const struct option_def *o)
{
    return (size_t)(o - config_options);
}

void *config_option_field(const struct config *c, const struct option_def *o)
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
int config_parse_listen(const char *s, struct sockaddr_storage *ret_addr, socklen_t *ret_len,
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
    if (parse_int(colon + 1, &port) < 0 || port < 0 || port > 65535)
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

int config_set_string_field(char **f, const char *value)
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
int config_parse_value(struct config *c, char *const *envp, const struct option_def *o,
                       const char *value, char *why, size_t why_size)
{
    void *f = config_option_field(c, o);
    char bounds[80];
    int r;

    if (has_control_chars(value)) {
        snprintf(why, why_size, "the value contains a control character");
        return -EINVAL;
    }
    switch (o->type) {
    case OPT_STRING:
    case OPT_SECRET:
        return config_set_string_field(f, value);
    case OPT_PATH: {
        if (isempty(value)) {
            if (o->flags & OPT_F_EMPTY_OK)
                return config_set_string_field(f, "");
            snprintf(why, why_size, "needs a path");
            return -EINVAL;
        }
        _cleanup_free_ char *p = NULL;
        r = config_expand_home(value, envp, &p);
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
        return config_set_string_field(f, p);
    }
    case OPT_GROUP:
        if (!isempty(value) && !valid_group_name(value)) {
            snprintf(why, why_size, "'%s' is not a valid group name", value);
            return -EINVAL;
        }
        return config_set_string_field(f, value);
    case OPT_LISTEN: {
        char host[256];
        if (isempty(value) || streq(value, "off") || streq(value, "no"))
            return config_set_string_field(f, "off");
        r = config_parse_listen(value, NULL, NULL, host, sizeof(host));
        if (r == -EADDRNOTAVAIL) {
            snprintf(why, why_size, "'%s': the host must be an IP address or localhost", value);
            return -EINVAL;
        }
        if (r < 0) {
            snprintf(why, why_size,
                     "'%s' is not off, host:port or [v6]:port (port 0..65535, 0 picks a free one)",
                     value);
            return -EINVAL;
        }
        return config_set_string_field(f, value);
    }
    case OPT_CHOICE:
        for (const char *const *ch = o->choices; *ch; ch++)
            if (streq(*ch, value))
                return config_set_string_field(f, value);
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

/* The canonical text of one value; secrets as redact() says. */
void config_format_value(const struct config *c, const struct option_def *o, char *buf, size_t n)
{
    const void *f = config_option_field(c, o);
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

bool config_value_equal(const struct config *a, const struct config *b, const struct option_def *o)
{
    const void *fa = config_option_field(a, o), *fb = config_option_field(b, o);
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

int config_copy_value(struct config *dst, const struct config *src, const struct option_def *o)
{
    void *fd = config_option_field(dst, o);
    const void *fs = config_option_field(src, o);
    switch (o->type) {
    case OPT_STRING:
    case OPT_PATH:
    case OPT_SECRET:
    case OPT_GROUP:
    case OPT_LISTEN:
    case OPT_CHOICE:
        return config_set_string_field(fd, *(char *const *)fs);
    case OPT_BOOL:
        *(bool *)fd = *(const bool *)fs;
        break;
    case OPT_INT:
        *(int64_t *)fd = *(const int64_t *)fs;
        break;
    case OPT_SIZE:
    case OPT_DURATION:
        *(uint64_t *)fd = *(const uint64_t *)fs;
        break;
    case OPT_MODE:
        *(unsigned *)fd = *(const unsigned *)fs;
        break;
    case OPT_RATE:
        *(double *)fd = *(const double *)fs;
        break;
    case OPT_LOGLEVEL:
        *(int *)fd = *(const int *)fs;
        break;
    }
    return 0;
}
