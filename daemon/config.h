/* daemon/config.h: jobsd's configuration: one option table that parses
 * jobsd.conf, JOBSD_* variables and --set overrides, fills defaults, checks
 * bounds, resolves the workspace credentials and prints the result again.
 * config_load() returns a new struct config owned by the caller, who frees it
 * with config_free(); a loaded config is never changed afterwards, so the
 * daemon swaps whole objects on SIGHUP. Secrets are registered with
 * log_add_secret() as soon as they are read.
 *
 * In main():
 *     struct config_args args;
 *     if (config_args_parse(argc, argv, &args) < 0) return EXIT_FAILURE;
 *     if (args.help) ...; if (args.version) ...;
 *     if (args.check_only) return config_check(&args, NULL, stdout) < 0;
 *     r = config_load(&args, NULL, &cfg);          errors already logged
 *     log_set_max_level(cfg->daemon.log_level);
 *     config_register_secrets(cfg);
 * On SIGHUP:
 *     if (config_reload(m->config, &args, NULL, &new) >= 0) { swap; free old; }
 *     config_register_secrets(m->config);          whichever is live now */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "proto/cleanup.h"
#include "proto/macro.h"

#define CONFIG_DEFAULT_FILE "/etc/jobsd/jobsd.conf"
/* The biggest configuration or credential file read. */
#define CONFIG_FILE_MAX (1 * MIB)

struct config_meta;

/* The effective values. Durations are in milliseconds, sizes in bytes.
 * Strings are never NULL; "" means unset. */
struct config {
    struct {
        char *socket;
        unsigned socket_mode;
        char *socket_group; /* "" = keep the process' group */
        char *tcp;          /* "off" or "host:port" */
        bool tcp_allow_non_loopback;
        char *local_token_file;
        char *local_token; /* secret; "" = read or create local_token_file */
        char *read_only_group;
        int64_t max_connections;
        uint64_t connection_memory;
        uint64_t request_timeout_ms;
        uint64_t drain_timeout_ms;
        /* Derived from tcp: the address to bind when tcp_enabled. */
        bool tcp_enabled;
        struct sockaddr_storage tcp_address;
        socklen_t tcp_address_len;
    } server;
    struct {
        char *host;    /* normalised: "https://name" or "http://127.0.0.1:PORT" */
        char *profile; /* the ~/.databrickscfg profile used, or "" */
        char *config_file;
        char *auth_type; /* after resolution: "pat" or "oauth-m2m" */
        char *token;     /* secret */
        char *client_id;
        char *client_secret; /* secret */
        char *workspace_id;
        char *ca_file;
    } workspace;
    struct {
        uint64_t connect_timeout_ms;
        uint64_t timeout_ms;
        uint64_t retry_budget_ms;
        int64_t max_attempts;
        double rate; /* requests per second, at most 3 decimals */
        int64_t burst;
        int64_t max_in_flight;
        int64_t queue_max;
        char *user_agent_extra;
    } upstream;
    struct {
        bool enabled;
        uint64_t max_size;
        uint64_t job_ttl_ms;
        uint64_t list_ttl_ms;
        uint64_t run_ttl_ms;
        uint64_t permissions_ttl_ms;
        uint64_t stale_grace_ms;
    } cache;
    struct {
        char *path;
    } archive;
    struct {
        bool enabled;
        char *track; /* "all", "jobs" (those of jobs) or "local" (started through jobsd) */
        char *jobs;  /* job ids, comma-separated, for track=jobs */
        uint64_t interval_min_ms;
        uint64_t interval_max_ms;
        uint64_t idle_interval_ms;
        int64_t share; /* percent of upstream.rate the poller may use */
        bool backfill;
        int64_t backfill_days;
        bool outputs;
        char *export_views; /* "" (none), CODE, DASHBOARDS or ALL */
    } poller;
    struct {
        char *state_dir;
        char *runtime_dir;
        int log_level; /* a syslog priority, LOG_EMERG .. LOG_DEBUG */
        bool watchdog;
    } daemon;

    struct config_meta *meta; /* private: where each value came from */
};

/* What the command line asked for; see config_args_parse(). */
struct config_args {
    char *config_file;  /* -c/--config; NULL = CONFIG_DEFAULT_FILE, missing is fine */
    char **overrides;   /* "[FLAG\t]section.key=value", in command-line order */
    bool check_only;    /* -n */
    bool verbose;       /* -v: with -n print the configuration, else log at debug */
    bool help, version; /* -h, --version */
};

/* Parses jobsd's argv: -c FILE, -n, -v, -l LEVEL, --set S.K=V, --socket PATH,
 * --tcp ADDR, -h, --version. Values are checked later by config_load(), which
 * names the flag. Errors are logged; returns 0 or -EINVAL. */
int config_args_parse(int argc, char *const *argv, struct config_args *ret);
void config_args_done(struct config_args *a);
/* The usage text, for --help. */
void config_args_usage(FILE *f, const char *program);

/* Builds a configuration from defaults, the file, envp (NULL = environ) and
 * args (NULL = none). Every error is logged as "file:line: message",
 * "environment NAME: message" or "--set section.key: message", all of them
 * before returning -EINVAL. -ENOMEM on allocation failure. */
int config_load(const struct config_args *args, char *const *envp, struct config **ret);
struct config *config_free(struct config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct config *, config_free)

/* Writes the effective configuration as jobsd.conf text that config_load()
 * accepts again: every option, secrets as redact() output, and a comment
 * above each value that did not come from the defaults saying where it did.
 * Read back, a secret of "(redacted)" or "(unset)" means "not set here". */
int config_print(const struct config *c, FILE *f);

/* What "jobsd -n" does: loads the configuration and writes "configuration
 * OK" to out, or with args->verbose (-nv) the configuration as config_print()
 * does. Returns 0, or config_load()'s error (already logged). */
int config_check(const struct config_args *args, char *const *envp, FILE *out);

/* Names ("section.key") of the options whose values differ between old and
 * new, as a NULL-terminated array the caller frees with strv_free(); in
 * ret_restart those of them that take effect only after a restart. Either
 * out-parameter may be NULL. Returns the number of changed options. */
int config_diff(const struct config *old, const struct config *new, char ***ret_changed,
                char ***ret_restart);

/* For SIGHUP: loads a new configuration from the same sources. On failure
 * the errors are logged with "reloading the configuration failed, keeping
 * the old one" and *ret is untouched. On success *ret is a new object in
 * which every option that needs a restart still has live's value (each such
 * change is logged at notice level, naming the option, never a value); the
 * caller hands it to the modules and frees live when nothing uses it. */
int config_reload(const struct config *live, const struct config_args *args, char *const *envp,
                  struct config **ret);

/* Registers c's secrets with log_add_secret() again. config_load() does so
 * as it reads them; call this after choosing which object is live (at start
 * and after each SIGHUP, whether the reload worked or not), so that a full
 * list never leaves the live secrets out. Returns 0 or -errno. */
int config_register_secrets(const struct config *c);

/* Where one option's value came from, e.g. "/etc/jobsd/jobsd.conf:12",
 * "environment JOBSD_UPSTREAM_RATE", "default". NULL for an unknown name. */
const char *config_source(const struct config *c, const char *name);

/* The local bearer token for TCP clients: server.local_token when set, else
 * the content of server.local_token_file, which is created (mode 0600, 32
 * random bytes as hex) when missing. The token is registered as a secret.
 * Returns 0 or -errno (logged). */
int config_local_token(const struct config *c, char **ret);

/* For tests and the man page check: the table, one "section.key" at a time.
 * Returns NULL past the end. */
const char *config_option_name(size_t i);
/* Type and default as the man page shows them, e.g. "integer 1..65536", "1024". */
const char *config_option_type(size_t i);
const char *config_option_default(size_t i);
const char *config_option_doc(size_t i);
bool config_option_reloadable(size_t i);
