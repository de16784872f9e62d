/* daemon/config-private.h: what config.c shares with creds.c and the tests,
 * and nobody else: the per-option sources and small environment helpers. */
#pragma once

#include <stdbool.h>

#include "daemon/config.h"

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
