/* daemon/config-private.h: what config.c shares with creds.c and the tests,
 * and nobody else: the per-option sources and small environment helpers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"

/* ---- the option table (config-table.c) ---- */

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

#define CONFIG_OPTIONS_MAX 128
extern const struct option_def config_options[];
extern const size_t config_n_options;

const struct option_def *config_find_option(const char *section, const char *key);
/* "server.socket" -> its row, or NULL. */
const struct option_def *config_find_option_dotted(const char *name);
bool config_section_known(const char *section);
size_t config_option_index(const struct option_def *o);
void *config_option_field(const struct config *c, const struct option_def *o);

/* Parses value into o's field of c (paths expand "~/" with envp). On
 * failure returns -EINVAL/-ERANGE and writes the reason, which never holds
 * a secret's value, into why. -ENOMEM. */
int config_parse_value(struct config *c, char *const *envp, const struct option_def *o,
                       const char *value, char *why, size_t why_size);
/* The canonical text of o's value in c; secrets as redact() shows them. */
void config_format_value(const struct config *c, const struct option_def *o, char *buf, size_t n);
bool config_value_equal(const struct config *a, const struct config *b, const struct option_def *o);
/* "host:port" or "[v6]:port" without DNS; the host part into ret_host. */
int config_parse_listen(const char *s, struct sockaddr_storage *ret_addr, socklen_t *ret_len,
                        char *ret_host, size_t host_size);
int config_set_string_field(char **f, const char *value);
/* Copies o's value from src to dst. 0 or -ENOMEM. */
int config_copy_value(struct config *dst, const struct config *src, const struct option_def *o);

/* ---- config.c, creds.c ---- */

/* log_add_secret() for a value just read: values shorter than 4 bytes are
 * skipped (proto refuses them); when the list is full it is started again
 * with this secret, since the newest secrets are the ones about to be used,
 * and the daemon re-registers its live ones with config_register_secrets(). */
void config_add_secret(const char *secret);

/* The value of name in envp, or NULL. Empty values are returned as "". */
const char *config_env_get(char *const *envp, const char *name);

/* Sets a string option ("section.key") and where it came from (copied;
 * NULL = default). Returns 0, -ENOENT for an unknown name or -ENOMEM. */
int config_set_string(struct config *c, const char *name, const char *value, const char *source);

/* Expands a leading "~/" with $HOME from envp (or the password database).
 * Returns 0, -EINVAL (no home) or -ENOMEM. */
int config_expand_home(const char *path, char *const *envp, char **ret);

/* creds.c: fills c->workspace from $CREDENTIALS_DIRECTORY, the DATABRICKS_*
 * variables in envp, the values jobsd's own sources put there, and a
 * ~/.databrickscfg profile; checks the method and normalises the host.
 * Errors are logged; returns 0, -EINVAL or -ENOMEM. */
int creds_resolve(struct config *c, char *const *envp);

/* "adb-1.azuredatabricks.net/" -> "https://adb-1.azuredatabricks.net".
 * Logs nothing; -EINVAL with *ret_why set to a static reason. */
int creds_normalize_host(const char *host, char **ret, const char **ret_why);

/* True for 127.0.0.0/8, ::1 and "localhost". */
bool config_host_is_loopback(const char *host);
