/* Unit tests for daemon/config: defaults, precedence (file < environment <
 * flags), every type's parse errors with file:line, bounds, the command line,
 * TCP rules, systemd directories, file safety, printing, diff, local token. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon/conffile.h"
#include "daemon/config.h"
#include "proto/cleanup.h"
#include "proto/log.h"
#include "proto/strutil.h"
#include "tests/tap.h"
#include "tests/unit/config-testutil.h"

#define HOST_ENV "DATABRICKS_HOST=https://dbc-1.cloud.databricks.com"
#define TOKEN "dapi-unit-test-0123456789abcdef"
#define TOKEN_ENV "DATABRICKS_TOKEN=" TOKEN

static const char *const ws_env[] = { HOST_ENV, TOKEN_ENV, NULL };

static void test_defaults(void)
{
    const char *d = tu_tmpdir();
    _cleanup_(config_freep) struct config *c = NULL;

    is_int(tu_load(d, NULL, ws_env, NULL, &c), 0, "defaults load");
    if (!c)
        return;
    is_str(c->server.socket, "/run/jobsd/jobsd.sock", "socket default");
    is_int(c->server.socket_mode, 0660, "socket_mode default");
    is_str(c->server.socket_group, "jobsd", "socket_group default");
    is_str(c->server.tcp, "off", "tcp default");
    ok(!c->server.tcp_enabled, "tcp off");
    is_str(c->server.local_token_file, "/var/lib/jobsd/local-token", "local_token_file derived");
    is_str(c->server.local_token, "", "local_token unset");
    is_int(c->server.max_connections, 1024, "max_connections");
    is_int((int64_t)c->server.connection_memory, 8192, "connection_memory 8K");
    is_int((int64_t)c->server.request_timeout_ms, 60000, "request_timeout 60s");
    is_int((int64_t)c->server.drain_timeout_ms, 10000, "drain_timeout 10s");
    is_str(c->workspace.config_file, tu_path(d, ".databrickscfg"), "config_file is ~/...");
    is_int((int64_t)c->upstream.connect_timeout_ms, 10000, "connect_timeout");
    is_int((int64_t)c->upstream.timeout_ms, 60000, "timeout");
    is_int((int64_t)c->upstream.retry_budget_ms, 300000, "retry_budget");
    is_int(c->upstream.max_attempts, 6, "max_attempts");
    ok(c->upstream.rate == 10.0, "rate 10");
    is_int(c->upstream.burst, 20, "burst");
    is_int(c->upstream.max_in_flight, 16, "max_in_flight");
    is_int(c->upstream.queue_max, 1000, "queue_max");
    is_str(c->archive.path, "/var/lib/jobsd/archive.db", "archive path derived");
    is_str(c->daemon.state_dir, "/var/lib/jobsd", "state_dir");
    is_str(c->daemon.runtime_dir, "/run/jobsd", "runtime_dir");
    is_int(c->daemon.log_level, LOG_INFO, "log_level info");
    ok(c->daemon.watchdog, "watchdog yes");
    is_str(config_source(c, "upstream.rate"), "default", "source of a default");
    ok(config_source(c, "no.such") == NULL, "source of an unknown option");
}

static void test_precedence(void)
{
    const char *d = tu_tmpdir();
    const char *conf = "[upstream]\nrate = 5\nburst = 30\n";
    const char *env[] = { HOST_ENV, TOKEN_ENV, "JOBSD_UPSTREAM_RATE=6", NULL };
    const char *argv[] = { "--set", "upstream.rate=7.5", NULL };
    struct config *c = NULL;

    is_int(tu_load(d, conf, env, argv, &c), 0, "file + env + flag load");
    ok(c && c->upstream.rate == 7.5, "the flag wins");
    is_str(config_source(c, "upstream.rate"), "--set upstream.rate", "source is the flag");
    is_int(c->upstream.burst, 30, "the file sets what nobody else does");
    is_str(config_source(c, "upstream.burst"), tu_path(d, "jobsd.conf:3"), "source file:line");
    c = config_free(c);

    is_int(tu_load(d, conf, env, NULL, &c), 0, "file + env load");
    ok(c && c->upstream.rate == 6.0, "the environment wins over the file");
    is_str(config_source(c, "upstream.rate"), "environment JOBSD_UPSTREAM_RATE", "env source");
    c = config_free(c);

    is_int(tu_load(d, conf, ws_env, NULL, &c), 0, "file load");
    ok(c && c->upstream.rate == 5.0, "the file wins over the default");
    c = config_free(c);

    /* The short flags are overrides too, applied in order, -l last. */
    const char *argv2[] = { "--socket", "/tmp/x.sock", "--tcp", "127.0.0.1:8099",
                            "-l",       "debug",       "--set", "daemon.log_level=error",
                            NULL };
    is_int(tu_load(d, NULL, ws_env, argv2, &c), 0, "short flags load");
    is_str(c ? c->server.socket : "", "/tmp/x.sock", "--socket");
    is_str(config_source(c, "server.socket"), "--socket", "--socket named as source");
    ok(c && c->server.tcp_enabled, "--tcp enables tcp");
    is_int(c ? c->daemon.log_level : -1, LOG_DEBUG, "-l wins over --set");
    c = config_free(c);
}

struct bad_case {
    const char *text;
    const char *error; /* after "PATH:" */
};

static void test_parse_errors(void)
{
    static const struct bad_case cases[] = {
        { "[upstream]\nrate = abc\n", "2: upstream.rate: 'abc' is not a rate" },
        { "[upstream]\nrate = 0.09\n", "2: upstream.rate: 0.09 is out of range 0.1..1000" },
        { "[upstream]\nrate = 1000.5\n", "2: upstream.rate: 1000.5 is out of range 0.1..1000" },
        { "[upstream]\nrate = 1.2345\n", "2: upstream.rate: '1.2345' is not a rate" },
        { "[upstream]\nrate = 5/min\n", "2: upstream.rate: '5/min' is not a rate" },
        { "[upstream]\nmax_attempts = 21\n", "2: upstream.max_attempts: 21 is out of range 1..20" },
        { "[upstream]\nmax_attempts = 0\n", "2: upstream.max_attempts: 0 is out of range 1..20" },
        { "[upstream]\nmax_attempts = six\n", "2: upstream.max_attempts: 'six' is not an integer" },
        { "[upstream]\nburst = 1001\n", "2: upstream.burst: 1001 is out of range 1..1000" },
        { "[upstream]\nqueue_max = -1\n", "2: upstream.queue_max: -1 is out of range 0..100000" },
        { "[upstream]\ntimeout = 5x\n", "2: upstream.timeout: '5x' is not a duration" },
        { "[upstream]\ntimeout = 2h\n", "2: upstream.timeout: 2h is out of range 1s..3600s" },
        { "[server]\nmax_connections = 65537\n",
          "2: server.max_connections: 65537 is out of range 1..65536" },
        { "[server]\nmax_connections = 99999999999999999999\n",
          "2: server.max_connections: 99999999999999999999 is out of range" },
        { "[server]\nconnection_memory = 4095\n",
          "2: server.connection_memory: 4095 is out of range 4K..1M" },
        { "[server]\nconnection_memory = 2M\n",
          "2: server.connection_memory: 2M is out of range 4K..1M" },
        { "[server]\nconnection_memory = lots\n",
          "2: server.connection_memory: 'lots' is not a size" },
        { "[server]\nsocket_mode = 0888\n", "2: server.socket_mode: '0888' is not an octal mode" },
        { "[server]\nsocket_mode = 1777\n", "2: server.socket_mode: '1777' is not an octal mode" },
        { "[server]\nsocket_group = bad group\n",
          "2: server.socket_group: 'bad group' is not a valid group name" },
        { "[server]\nsocket = relative.sock\n",
          "2: server.socket: 'relative.sock' is not an absolute path" },
        { "[server]\nsocket =\n", "2: server.socket: needs a path" },
        { "[server]\ntcp = 127.0.0.1\n", "2: server.tcp: '127.0.0.1' is not off, host:port" },
        { "[server]\ntcp = 127.0.0.1:65536\n", "2: server.tcp: '127.0.0.1:65536' is not off" },
        { "[server]\ntcp = example.com:80\n", "2: server.tcp: 'example.com:80': the host must be" },
        { "[server]\ntcp_allow_non_loopback = maybe\n",
          "2: server.tcp_allow_non_loopback: 'maybe' is not a boolean" },
        { "[workspace]\nauth_type = basic\n",
          "2: workspace.auth_type: 'basic' is not one of: pat oauth-m2m" },
        { "[daemon]\nlog_level = loud\n", "2: daemon.log_level: 'loud' is not a log level" },
        { "[daemon]\nwatchdog = 2\n", "2: daemon.watchdog: '2' is not a boolean" },
        { "[nope]\nx = 1\n", "2: [nope] is not a section of jobsd.conf" },
        { "[server]\nsockett = /x\n", "2: [server] has no key 'sockett'" },
        { "socket = /x\n", "1: socket: key outside of a [section]" },
        { "[server]\nsocket\n", "2: server.socket: expected socket = value" },
        { "[server]\n= x\n", "2: a line starting with '=' has no key" },
        { "[server]\nsocket = /a\nsocket = /b\n",
          "3: server.socket is set twice (first on line 2)" },
        { "[server]\n[oops\n", "2: syntax error" },
        { "[server]\nsocket = \"/a\" x\n", "2: socket: text after the closing quote" },
        { "\n\n# c\n; c\n[upstream]\n\nrate = x\n", "7: upstream.rate" },
    };
    const char *d = tu_tmpdir();
    const char *path = tu_path(d, "jobsd.conf");

    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        struct config *c = NULL;
        _cleanup_free_ char *want = strjoin(path, ":", cases[i].error);
        int r = tu_load(d, cases[i].text, ws_env, NULL, &c);
        is_int(r, -EINVAL, "case %zu refused", i);
        ok_log(tu_log_has(want), "case %zu: log has '%s'", i, want);
        config_free(c);
    }

    /* Every error of a file is reported, not only the first. */
    struct config *c = NULL;
    is_int(tu_load(d, "[upstream]\nrate = x\nburst = y\n[server]\nmax_connections = z\n", ws_env,
                   NULL, &c),
           -EINVAL, "three errors");
    ok_log(tu_log_has(":2: upstream.rate") && tu_log_has(":3: upstream.burst") &&
               tu_log_has(":5: server.max_connections"),
           "all three reported");

    /* Environment and flags name themselves. */
    const char *env[] = { HOST_ENV, TOKEN_ENV, "JOBSD_UPSTREAM_BURST=abc", NULL };
    is_int(tu_load(d, NULL, env, NULL, &c), -EINVAL, "bad environment value");
    ok_log(tu_log_has("environment JOBSD_UPSTREAM_BURST: upstream.burst: 'abc' is not an integer"),
           "environment error named");
    const char *argv[] = { "--set", "upstream.burst=0", NULL };
    is_int(tu_load(d, NULL, ws_env, argv, &c), -EINVAL, "bad --set value");
    ok_log(tu_log_has("--set upstream.burst: 0 is out of range 1..1000"), "flag error named");
    const char *argv2[] = { "--set", "upstream.nope=1", "--set", "novalue", NULL };
    is_int(tu_load(d, NULL, ws_env, argv2, &c), -EINVAL, "unknown --set option");
    ok_log(tu_log_has("--set upstream.nope: no such option"), "unknown option named");
    ok_log(tu_log_has("--set novalue: expected --set section.key=value"), "missing '='");
    const char *argv3[] = { "--tcp", "10.0.0.1:80", NULL };
    is_int(tu_load(d, NULL, ws_env, argv3, &c), -EINVAL, "non-loopback --tcp");
    ok_log(tu_log_has("--tcp: server.tcp: 10.0.0.1:80 is not a loopback address"), "--tcp named");

    /* A misspelt variable is worth a warning, not an error. */
    const char *env2[] = { HOST_ENV, TOKEN_ENV, "JOBSD_UPSTREAM_RAET=1", "JOBSD_OTHER=1", NULL };
    is_int(tu_load(d, NULL, env2, NULL, &c), 0, "unknown JOBSD_ variable is not fatal");
    ok_log(tu_log_has("environment JOBSD_UPSTREAM_RAET: no such option, ignoring"), "warned");
    ok(!tu_log_has("JOBSD_OTHER"), "variables outside our sections are left alone");
    c = config_free(c);
}

static void test_good_values(void)
{
    const char *d = tu_tmpdir();
    struct config *c = NULL;
    const char *conf = "\xef\xbb\xbf# jobsd.conf with a BOM\n"
                       "[ server ]\n"
                       "socket_mode = 600\n"
                       "socket_group =\n"
                       "connection_memory = 1M ; inline comment\n"
                       "request_timeout = 1500ms # another\n"
                       "max_connections = 65536\n"
                       "tcp = [::1]:8443\n"
                       "read_only_group = \"readers\"\n"
                       "[upstream]\n"
                       "rate = 0.1\n"
                       "burst = 1\n"
                       "user_agent_extra = \"  spaced #not-a-comment \"\n"
                       "connect_timeout = 100ms\n"
                       "[daemon]\n"
                       "log_level = 3\n"
                       "watchdog = off\n";
    is_int(tu_load(d, conf, ws_env, NULL, &c), 0, "good values load");
    if (!c)
        return;
    is_int(c->server.socket_mode, 0600, "mode without leading 0");
    is_str(c->server.socket_group, "", "empty group keeps");
    is_int((int64_t)c->server.connection_memory, 1 << 20, "1M, comment stripped");
    is_int((int64_t)c->server.request_timeout_ms, 1500, "1500ms");
    is_int(c->server.max_connections, 65536, "upper bound inclusive");
    ok(c->server.tcp_enabled && c->server.tcp_address.ss_family == AF_INET6, "[::1] is IPv6");
    is_str(c->server.read_only_group, "readers", "quotes stripped");
    ok(c->upstream.rate == 0.1, "rate lower bound");
    is_str(c->upstream.user_agent_extra, "  spaced #not-a-comment ", "quoted value kept whole");
    is_int(c->daemon.log_level, LOG_ERR, "numeric log level");
    ok(!c->daemon.watchdog, "watchdog off");

    /* Printing it and reading it back gives the same values. */
    const char *printed = tu_print(c);
    ok(strstr(printed, "user_agent_extra = \"  spaced #not-a-comment \"") != NULL,
       "printer quotes what needs it");
    ok(strstr(printed, "request_timeout = 1500ms") != NULL, "ms kept");
    ok(strstr(printed, "connection_memory = 1M") != NULL, "size in its unit");
    ok(strstr(printed, "rate = 0.1\n") != NULL, "rate decimal");
    ok(strstr(printed, "socket_mode = 0600") != NULL, "mode in octal");
    struct config *c2 = NULL;
    is_int(tu_load(d, printed, ws_env, NULL, &c2), 0, "printed text loads");
    char **changed = NULL;
    is_int(c2 ? config_diff(c, c2, &changed, NULL) : -1, 0, "and has the same values");
    if (changed && changed[0])
        tap_diag("changed: %s", changed[0]);
    strv_free(changed);
    config_free(c2);
    config_free(c);

    is_int(tu_load(d, "[upstream]\nrate = 1000/s\n", ws_env, NULL, &c), 0, "N/s form");
    ok(c && c->upstream.rate == 1000.0, "1000/s");
    c = config_free(c);
    is_int(tu_load(d, "[server]\ntcp = 0.0.0.0:8080\ntcp_allow_non_loopback = yes\n", ws_env, NULL,
                   &c),
           0, "non-loopback allowed when asked");
    ok(c && c->server.tcp_enabled, "and enabled");
    c = config_free(c);
    is_int(tu_load(d, "[server]\ntcp = localhost:8080\n", ws_env, NULL, &c), 0, "localhost ok");
    c = config_free(c);
    is_int(tu_load(d, "[server]\ntcp = 127.1.2.3:1\n", ws_env, NULL, &c), 0, "127/8 ok");
    c = config_free(c);
    is_int(tu_load(d, "[server]\ntcp = 0.0.0.0:8080\n", ws_env, NULL, &c), -EINVAL,
           "0.0.0.0 refused by default");
    ok_log(tu_log_has("tcp_allow_non_loopback = yes"), "the message says how");
}

static void test_systemd_dirs(void)
{
    const char *d = tu_tmpdir();
    struct config *c = NULL;
    const char *env[] = { HOST_ENV, TOKEN_ENV, "STATE_DIRECTORY=/srv/state:/srv/other",
                          "RUNTIME_DIRECTORY=/run/j2", NULL };
    is_int(tu_load(d, "[daemon]\nstate_dir = /file/state\n", env, NULL, &c), 0, "load");
    is_str(c ? c->daemon.state_dir : "", "/srv/state", "$STATE_DIRECTORY wins over the file");
    is_str(c ? c->archive.path : "", "/srv/state/archive.db", "archive follows state_dir");
    is_str(c ? c->server.local_token_file : "", "/srv/state/local-token", "token file follows");
    is_str(c ? c->server.socket : "", "/run/j2/jobsd.sock", "socket follows runtime_dir");
    c = config_free(c);

    const char *env2[] = { HOST_ENV, TOKEN_ENV, "STATE_DIRECTORY=/srv/state",
                           "JOBSD_DAEMON_STATE_DIR=/explicit", NULL };
    is_int(tu_load(d, "[archive]\npath = /db/a.db\n", env2, NULL, &c), 0, "load");
    is_str(c ? c->daemon.state_dir : "", "/explicit", "JOBSD_DAEMON_STATE_DIR wins");
    is_str(c ? c->archive.path : "", "/db/a.db", "an explicit path is not derived");
    c = config_free(c);
}

static void test_file_safety(void)
{
    const char *d = tu_tmpdir();
    struct config *c = NULL;
    const char *path = tu_path(d, "jobsd.conf");
    const char *with_secret = "[workspace]\nhost = dbc-9.cloud.databricks.com\ntoken = " TOKEN "\n";
    const char *args[] = { "jobsd", "-c", path, NULL };
    const char *env[] = { "HOME=/nonexistent", NULL };
    struct config_args a;

    tu_write(d, "jobsd.conf", with_secret, 0644);
    is_int(config_args_parse(3, (char *const *)args, &a), 0, "args");
    tu_log_reset();
    is_int(config_load(&a, (char *const *)env, &c), -EINVAL, "0644 with a token is refused");
    _cleanup_free_ char *want = strjoin("run chmod 600 ", path);
    ok_log(tu_log_has(want) && tu_log_has("workspace.token"), "message says how to fix it");
    ok(!tu_log_has(TOKEN), "and does not show the token");

    tu_write(d, "jobsd.conf", with_secret, 0640);
    tu_log_reset();
    is_int(config_load(&a, (char *const *)env, &c), -EINVAL, "0640 with a token is refused");
    tu_write(d, "jobsd.conf", with_secret, 0600);
    is_int(config_load(&a, (char *const *)env, &c), 0, "0600 with a token is fine");
    is_str(c ? c->workspace.token : "", TOKEN, "token read");
    is_str(c ? c->workspace.host : "", "https://dbc-9.cloud.databricks.com", "host normalised");
    c = config_free(c);
    tu_write(d, "jobsd.conf", with_secret, 0400);
    is_int(config_load(&a, (char *const *)env, &c), 0, "0400 is fine too");
    c = config_free(c);

    tu_write(d, "jobsd.conf", "[upstream]\nrate = 3\n", 0644);
    const char *wenv[] = { HOST_ENV, TOKEN_ENV, NULL };
    is_int(config_load(&a, (char *const *)wenv, &c), 0, "0644 without secrets is fine");
    c = config_free(c);
    tu_write(d, "jobsd.conf", "[upstream]\nrate = 3\n", 0664);
    tu_log_reset();
    is_int(config_load(&a, (char *const *)wenv, &c), -EINVAL, "group-writable is refused");
    _cleanup_free_ char *want2 = strjoin("run chmod go-w ", path);
    ok_log(tu_log_has(want2), "message says chmod go-w");

    /* Another user's file could be changed under us. */
    if (geteuid() == 0) {
        tu_write(d, "jobsd.conf", "[upstream]\nrate = 3\n", 0644);
        ok(chown(path, 65534, 65534) == 0, "chown to nobody");
        tu_log_reset();
        is_int(config_load(&a, (char *const *)wenv, &c), -EINVAL, "another user's file refused");
        ok_log(tu_log_has("owned by uid 65534") && tu_log_has("run chown 0 "), "with the fix");
        ok(chown(path, 0, 0) == 0, "chown back");
    } else
        tap_skip("not root: cannot make a file of another user");

    /* A placeholder is not a secret: -nv output with 0644 is fine. */
    tu_write(d, "jobsd.conf", "[workspace]\ntoken = (redacted)\nclient_secret = (unset)\n", 0644);
    is_int(config_load(&a, (char *const *)wenv, &c), 0, "placeholders load from a 0644 file");
    is_str(c ? c->workspace.token : "", TOKEN, "a placeholder leaves the token to others");
    is_str(c ? config_source(c, "workspace.token") : "", "environment DATABRICKS_TOKEN",
           "which came from the environment");
    c = config_free(c);

    /* Not a file, too big, binary. */
    const char *dargs[] = { "jobsd", "-c", d, NULL };
    struct config_args da;
    config_args_parse(3, (char *const *)dargs, &da);
    tu_log_reset();
    is_int(config_load(&da, (char *const *)wenv, &c), -EINVAL, "a directory is refused");
    ok_log(tu_log_has("is a directory"), "said so");
    config_args_done(&da);

    char *big = malloc(CONFIG_FILE_MAX + 2);
    memset(big, '#', CONFIG_FILE_MAX + 1);
    big[CONFIG_FILE_MAX + 1] = 0;
    tu_write(d, "jobsd.conf", big, 0600);
    free(big);
    tu_log_reset();
    is_int(config_load(&a, (char *const *)wenv, &c), -EINVAL, "a file over 1 MiB is refused");
    ok_log(tu_log_has("larger than"), "said so");

    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    ok(fd >= 0 && write(fd, "[server]\n\0x", 11) == 11, "binary file written");
    close(fd);
    tu_log_reset();
    is_int(config_load(&a, (char *const *)wenv, &c), -EINVAL, "a NUL byte is refused");

    const char *margs[] = { "jobsd", "-c", tu_path(d, "missing.conf"), NULL };
    struct config_args ma;
    config_args_parse(3, (char *const *)margs, &ma);
    tu_log_reset();
    is_int(config_load(&ma, (char *const *)wenv, &c), -EINVAL, "a missing -c file is an error");
    ok_log(tu_log_has("missing.conf: does not exist"), "said so");
    config_args_done(&ma);

    /* A very long line (a long secret) is read whole. */
    char *line = malloc(20000);
    memcpy(line, "[upstream]\nuser_agent_extra = ", 30);
    memset(line + 30, 'u', 19000);
    line[19030] = 0;
    tu_write(d, "jobsd.conf", line, 0600);
    free(line);
    is_int(config_load(&a, (char *const *)wenv, &c), 0, "a 19000-byte value loads");
    is_int(c ? (int64_t)strlen(c->upstream.user_agent_extra) : 0, 19000, "whole");
    c = config_free(c);
    config_args_done(&a);
}

static void test_secrets_hidden(void)
{
    const char *d = tu_tmpdir();
    struct config *c = NULL;
    const char *secret = "local-secret-token-0123456789";
    _cleanup_free_ char *conf = strjoin("[server]\nlocal_token = ", secret, "\n");
    is_int(tu_load(d, conf, ws_env, NULL, &c), 0, "load with a local token");
    const char *printed = tu_print(c);
    ok(!strstr(printed, secret) && !strstr(printed, TOKEN), "no secret in the printed text");
    ok(strstr(printed, "local_token = (redacted)") != NULL, "local token redacted");
    ok(strstr(printed, "token = (redacted)") != NULL, "workspace token redacted");
    ok(strstr(printed, "client_secret = (unset)") != NULL, "unset secret says so");
    tu_log_reset();
    log_error("token %s and local %s", TOKEN, secret);
    ok_log(!tu_log_has(TOKEN) && !tu_log_has(secret) && tu_log_has("[redacted]"),
           "both are scrubbed from log lines");

    config_free(c);
    c = NULL;
    is_int(tu_load(d, "[server]\nlocal_token = short-token\n", ws_env, NULL, &c), -EINVAL,
           "a short local token");
    ok_log(tu_log_has("jobsd.conf:2: server.local_token: must be at least 16 characters"),
           "refused with file:line");
    _cleanup_free_ char *same = strjoin("[server]\nlocal_token = ", TOKEN, "\n");
    is_int(tu_load(d, same, ws_env, NULL, &c), -EINVAL, "the workspace token as local token");
    ok_log(tu_log_has("must not be a workspace credential"), "refused");
    ok(!tu_log_has(TOKEN), "without showing it");

    /* No home directory: ~/.databrickscfg is simply not used. */
    const char *nohome[] = { HOST_ENV, TOKEN_ENV, "HOME=", NULL };
    if (getpwuid(geteuid()) == NULL) {
        is_int(tu_load(d, NULL, nohome, NULL, &c), 0, "no HOME and no passwd entry");
        is_str(c ? c->workspace.config_file : "x", "", "config_file left empty");
        config_free(c);
        c = NULL;
    } else
        tap_skip("this uid has a passwd entry");

    /* A full list of secrets to scrub does not leave new ones out. */
    char dummy[32];
    for (int i = 0; i < LOG_SECRETS_MAX + 2; i++) {
        snprintf(dummy, sizeof(dummy), "old-secret-%04d", i);
        (void)log_add_secret(dummy);
    }
    config_free(c);
    c = NULL;
    const char *env3[] = { HOST_ENV, "DATABRICKS_TOKEN=dapi-after-the-list-is-full", NULL };
    is_int(tu_load(d, NULL, env3, NULL, &c), 0, "load with a full list of secrets");
    tu_log_reset();
    log_info("t=dapi-after-the-list-is-full");
    ok_log(!tu_log_has("dapi-after"), "the new token is scrubbed");
    is_int(config_register_secrets(c), 0, "register the live secrets");
    log_info("t=dapi-after-the-list-is-full");
    ok_log(!tu_log_has("dapi-after"), "still scrubbed");

    /* Not on the command line, where every user can read argv. */
    const char *argv[] = { "--set", "workspace.token=dapi-from-argv-123", NULL };
    config_free(c);
    c = NULL;
    is_int(tu_load(d, NULL, ws_env, argv, &c), -EINVAL, "secret in argv refused");
    ok_log(tu_log_has("--set workspace.token: secrets are not taken from the command line"),
           "said why");
}

static void test_args(void)
{
    struct config_args a;
    const char *argv[] = { "jobsd", "-nv", "-c", "/x.conf", "--set", "a.b=c", NULL };
    is_int(config_args_parse(6, (char *const *)argv, &a), 0, "-nv -c --set");
    ok(a.check_only && a.verbose, "-n and -v");
    is_str(a.config_file, "/x.conf", "-c");
    is_str(a.overrides ? a.overrides[0] : "", "a.b=c", "--set kept");
    ok(a.overrides && !a.overrides[1], "-v with -n sets no log level");
    config_args_done(&a);

    const char *argv2[] = { "jobsd", "-v", NULL };
    is_int(config_args_parse(2, (char *const *)argv2, &a), 0, "-v alone");
    is_str(a.overrides ? a.overrides[0] : "", "-v\tdaemon.log_level=debug", "-v is debug");
    config_args_done(&a);

    tu_log_reset();
    const char *argv3[] = { "jobsd", "--bogus", NULL };
    is_int(config_args_parse(2, (char *const *)argv3, &a), -EINVAL, "unknown flag");
    ok_log(tu_log_has("unknown option --bogus"), "named");
    const char *argv4[] = { "jobsd", "-c", NULL };
    is_int(config_args_parse(2, (char *const *)argv4, &a), -EINVAL, "missing value");
    ok_log(tu_log_has("-c needs a value"), "named");
    const char *argv5[] = { "jobsd", "extra", NULL };
    is_int(config_args_parse(2, (char *const *)argv5, &a), -EINVAL, "stray argument");
    const char *argv6[] = { "jobsd", "-h", "--version", NULL };
    is_int(config_args_parse(3, (char *const *)argv6, &a), 0, "-h --version");
    ok(a.help && a.version, "flags set");
    config_args_done(&a);
}

static void test_check(void)
{
    const char *d = tu_tmpdir();
    _cleanup_free_ char *home = strjoin("HOME=", d);
    const char *env[] = { HOST_ENV, TOKEN_ENV, home, NULL };
    const char *path = tu_write(d, "jobsd.conf", "[upstream]\nburst = 3\n", 0600);
    struct config_args a = { .config_file = (char *)path, .check_only = true };
    char *text = NULL;
    size_t len = 0;

    FILE *f = open_memstream(&text, &len);
    is_int(config_check(&a, (char *const *)env, f), 0, "-n");
    fclose(f);
    is_str(text, "configuration OK\n", "-n says OK");
    free(text);

    a.verbose = true;
    f = open_memstream(&text, &len);
    is_int(config_check(&a, (char *const *)env, f), 0, "-nv");
    fclose(f);
    ok(text && strstr(text, "[upstream]") && strstr(text, "burst = 3") &&
           strstr(text, "token = (redacted)") && !strstr(text, TOKEN),
       "-nv prints the configuration, token redacted");
    free(text);

    tu_write(d, "jobsd.conf", "[upstream]\nburst = x\n", 0600);
    f = open_memstream(&text, &len);
    tu_log_reset();
    is_int(config_check(&a, (char *const *)env, f), -EINVAL, "-n of a broken file");
    fclose(f);
    is_str(text, "", "prints nothing");
    ok_log(tu_log_has(":2: upstream.burst"), "the error is logged");
    free(text);
}

static void test_diff(void)
{
    const char *d = tu_tmpdir();
    struct config *a = NULL, *b = NULL;
    is_int(tu_load(d, "[upstream]\nrate = 5\n", ws_env, NULL, &a), 0, "old");
    is_int(tu_load(d, "[upstream]\nrate = 6\n[server]\nsocket = /tmp/new.sock\n", ws_env, NULL, &b),
           0, "new");
    char **changed = NULL, **restart = NULL;
    is_int(config_diff(a, b, &changed, &restart), 2, "two options changed");
    is_str(changed[0], "server.socket", "socket changed");
    is_str(changed[1], "upstream.rate", "rate changed");
    is_str(restart[0], "server.socket", "socket needs a restart");
    ok(restart[1] == NULL, "rate does not");
    strv_free(changed);
    strv_free(restart);
    is_int(config_diff(a, a, NULL, NULL), 0, "no change");
    config_free(a);
    config_free(b);

    /* Options and their flags: the loaded objects stay as they were. */
    size_t n = 0;
    while (config_option_name(n))
        n++;
    ok(n >= 35, "the table has %zu options", n);
    is_str(config_option_type(8), "integer 1..65536", "type of max_connections");
    is_str(config_option_default(5), "<state_dir>/local-token", "derived default shown");
}

static void test_reload(void)
{
    const char *d = tu_tmpdir();
    struct config *live = NULL, *next = NULL;
    _cleanup_free_ char *home = strjoin("HOME=", d);
    const char *env[] = { HOST_ENV, TOKEN_ENV, home, NULL };
    const char *path = tu_write(d, "jobsd.conf", "[upstream]\nrate = 5\n", 0600);
    struct config_args a = { .config_file = (char *)path };

    is_int(config_load(&a, (char *const *)env, &live), 0, "live configuration");
    tu_write(d, "jobsd.conf",
             "[upstream]\nrate = 6\n[server]\nsocket = /tmp/new.sock\ntcp = 127.0.0.1:9\n", 0600);
    tu_log_reset();
    is_int(config_reload(live, &a, (char *const *)env, &next), 0, "reload");
    ok(next && next->upstream.rate == 6.0, "a reloadable option takes the new value");
    is_str(next ? next->server.socket : "", "/run/jobsd/jobsd.sock", "socket keeps the live one");
    is_str(next ? config_source(next, "server.socket") : "", "default", "and its source");
    ok(next && !next->server.tcp_enabled, "tcp stays off until a restart");
    ok_log(tu_log_has("server.socket changed; it needs a restart") &&
               tu_log_has("server.tcp changed; it needs a restart") &&
               tu_log_has("configuration: upstream.rate changed") &&
               tu_log_has("3 option(s) changed"),
           "changes logged");
    ok(live->upstream.rate == 5.0, "the live object is untouched");

    tu_write(d, "jobsd.conf", "[upstream]\nrate = 6\nburst = many\n", 0600);
    struct config *bad = NULL;
    tu_log_reset();
    is_int(config_reload(next, &a, (char *const *)env, &bad), -EINVAL, "a broken file");
    ok(bad == NULL, "gives no new object");
    _cleanup_free_ char *want = strjoin(path, ":3: upstream.burst");
    ok_log(tu_log_has(want) && tu_log_has("keeping the old one"), "file:line and kept");
    config_free(next);
    config_free(live);
}

static void test_local_token(void)
{
    const char *d = tu_tmpdir();
    struct config *c = NULL;
    _cleanup_free_ char *env_state = strjoin("STATE_DIRECTORY=", d);
    const char *env[] = { HOST_ENV, TOKEN_ENV, env_state, NULL };
    char *t1 = NULL, *t2 = NULL;

    is_int(tu_load(d, NULL, env, NULL, &c), 0, "load");
    is_int(config_local_token(c, &t1), 0, "token created");
    is_int(t1 ? (int64_t)strlen(t1) : 0, 64, "32 random bytes in hex");
    struct stat st;
    const char *path = tu_path(d, "local-token");
    ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "file is 0600");
    is_int(config_local_token(c, &t2), 0, "token read again");
    is_str(t2, t1, "the same token");
    tu_log_reset();
    log_info("t=%s", t1);
    ok(!tu_log_has(t1), "and it is a registered secret");
    free(t1);
    free(t2);

    ok(chmod(path, 0644) == 0, "chmod 0644");
    tu_log_reset();
    t1 = NULL;
    is_int(config_local_token(c, &t1), -EPERM, "a readable token file is refused");
    ok_log(tu_log_has("chmod 600"), "with the fix");
    config_free(c);

    is_int(tu_load(d, "[server]\nlocal_token = configured-token-0123\n", env, NULL, &c), 0,
           "load with local_token");
    is_int(config_local_token(c, &t1), 0, "configured token");
    is_str(t1, "configured-token-0123", "wins over the file");
    free(t1);
    config_free(c);
}

static void test_conffile(void)
{
    char v1[] = "abc#def;ghi", v2[] = "abc #c", v3[] = "\"a b\" # c", v4[] = "\"x\"y",
         v5[] = "x\t;c", v6[] = "\"unclosed";
    is_int(conffile_unquote(v1), 0, "unquote 1");
    is_str(v1, "abc#def;ghi", "# and ; inside a word are kept");
    conffile_unquote(v2);
    is_str(v2, "abc", "' #' starts a comment");
    conffile_unquote(v3);
    is_str(v3, "a b", "quotes then a comment");
    is_int(conffile_unquote(v4), -EINVAL, "text after a closing quote");
    conffile_unquote(v5);
    is_str(v5, "x", "tab before ;");
    conffile_unquote(v6);
    is_str(v6, "\"unclosed", "an unclosed quote is text");
    ok(conffile_needs_quotes(" a") && conffile_needs_quotes("a #b") &&
           conffile_needs_quotes("\"a") && !conffile_needs_quotes("a#b") &&
           !conffile_needs_quotes(""),
       "needs_quotes");
}

int main(void)
{
    tu_capture();
    log_set_max_level(LOG_DEBUG);
    test_defaults();
    test_precedence();
    test_parse_errors();
    test_good_values();
    test_systemd_dirs();
    test_file_safety();
    test_secrets_hidden();
    test_args();
    test_check();
    test_diff();
    test_reload();
    test_local_token();
    test_conffile();
    return tap_done();
}
