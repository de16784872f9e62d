/* jobsd: the local companion for the Databricks Jobs API. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/manager.h"
#include "proto/log.h"
#include "proto/strutil.h"

static void help(void)
{
    printf("Usage: jobsd [OPTIONS]\n\n"
           "  -s, --socket PATH       Unix socket (default /run/jobsd/jobsd.sock)\n"
           "  -t, --tcp ADDR:PORT     also listen on loopback TCP\n"
           "  -S, --state-dir DIR     state directory (default /var/lib/jobsd)\n"
           "  -l, --log-level LEVEL   debug, info, notice, warning, err\n"
           "  -h, --help              this text\n"
           "      --version           the version\n");
}

static int run(int argc, char **argv)
{
    struct manager_settings s = {
        .socket_path = "/run/jobsd/jobsd.sock",
        .socket_mode = 0660,
        .socket_gid = (gid_t)-1,
        .state_dir = "/var/lib/jobsd",
        .read_only_gid = (gid_t)-1,
        .max_connections = 1024,
        .connection_memory = 8 * 1024,
        .request_timeout_usec = 60 * 1000000ULL,
        .drain_timeout_usec = 10 * 1000000ULL,
    };
    static const struct option options[] = {
        { "socket", required_argument, NULL, 's' },
        { "tcp", required_argument, NULL, 't' },
        { "state-dir", required_argument, NULL, 'S' },
        { "log-level", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        {},
    };
    int c, level;

    log_set_ident("jobsd");
    log_set_target(LOG_TARGET_AUTO);
    while ((c = getopt_long(argc, argv, "s:t:S:l:h", options, NULL)) >= 0)
        switch (c) {
        case 's':
            s.socket_path = isempty(optarg) ? NULL : optarg;
            break;
        case 't':
            s.tcp = optarg;
            break;
        case 'S':
            s.state_dir = optarg;
            break;
        case 'l':
            if (log_level_from_string(optarg, &level) < 0) {
                fprintf(stderr, "jobsd: unknown log level '%s'\n", optarg);
                return 2;
            }
            log_set_max_level(level);
            break;
        case 'h':
            help();
            return 0;
        case 'V':
            printf("jobsd %s\n", PACKAGE_VERSION);
            return 0;
        default:
            return 2;
        }

    struct manager *m = NULL;
    int r = manager_new(&s, &m);
    if (r < 0) {
        log_error_errno(r, "Failed to set up: %m");
        return 1;
    }
    r = manager_start(m);
    if (r >= 0)
        r = manager_run(m);
    manager_free(m);
    return r < 0 ? 1 : r;
}

int main(int argc, char **argv)
{
    return run(argc, argv);
}
