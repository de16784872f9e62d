/* jobsd: the local companion for the Databricks Jobs API.
 * main() parses the arguments, loads the configuration and runs the
 * manager; everything else lives in the modules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "daemon/config.h"
#include "daemon/manager.h"
#include "proto/log.h"

static int run(int argc, char **argv)
{
    struct config_args args = { 0 };
    struct config *c = NULL;
    _cleanup_(manager_freep) struct manager *m = NULL;
    int r;

    log_set_ident("jobsd");
    log_set_target(LOG_TARGET_AUTO);
    /* The workspace credentials live in this process's memory: no core
     * dump of it when it crashes, and no ptrace, /proc/PID/mem or environ
     * for other processes of its uid (root still can). */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        log_debug_errno(errno, "Failed to turn off core dumps, ignoring: %m");
    r = config_args_parse(argc, argv, &args);
    if (r < 0) {
        config_args_done(&args);
        return 2;
    }
    if (args.help) {
        config_args_usage(stdout, "jobsd");
        config_args_done(&args);
        return 0;
    }
    if (args.version) {
        printf("jobsd %s\n", PACKAGE_VERSION);
        config_args_done(&args);
        return 0;
    }
    if (args.check_only) {
        r = config_check(&args, NULL, stdout);
        config_args_done(&args);
        return r < 0 ? 1 : 0;
    }

    r = config_load(&args, NULL, &c);
    if (r < 0) {
        config_args_done(&args);
        return 1;
    }
    r = manager_new(c, &args, &m);
    if (r < 0) {
        config_free(c);
        config_args_done(&args);
        return log_error_errno(r, "Failed to set up: %m"), 1;
    }
    r = manager_start(m);
    if (r >= 0)
        r = manager_run(m);
    m = manager_free(m);
    config_args_done(&args);
    return r < 0 ? 1 : r;
}

int main(int argc, char **argv)
{
    return run(argc, argv);
}
