/* tests/fakews/main.c: fakews, a simulated Databricks workspace for tests,
 * benchmarks and demos. Parses arguments, serves until SIGTERM/SIGINT. */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "proto/log.h"
#include "proto/strutil.h"
#include "tests/fakews/fakews.h"
#include "tests/fakews/server.h"

static void help(void)
{
    printf("Usage: fakews [OPTIONS]\n"
           "A simulated Databricks workspace (Jobs API 2.2/2.1, job permissions, OAuth M2M)\n"
           "on 127.0.0.1. Prints \"LISTENING <port>\" once it serves.\n\n"
           "  --port N             TCP port on 127.0.0.1; 0 picks a free one (default 0)\n"
           "  --token T            the workspace's personal access token (required)\n"
           "  --user NAME          who the token belongs to (default fakews-user@example.com)\n"
           "  --client-id ID       OAuth M2M client id accepted by /oidc/v1/token\n"
           "  --client-secret S    OAuth M2M client secret\n"
           "  --oauth-ttl SECONDS  lifetime of issued OAuth tokens (default 3600)\n"
           "  --clock manual|real  manual: time moves only through /__fake/clock (default real)\n"
           "  --speed X            real clock: simulated seconds per second (default 1)\n"
           "  --epoch-ms MS        simulated time at start (default: now)\n"
           "  --workspace-id ID    workspace id in host metadata (default 1234567890123456)\n"
           "  --small-ids          ids from 1001, below 2^53 (for SDKs whose numbers are\n"
           "                       doubles, like JavaScript's); default: above 2^53\n"
           "  --die-with-parent    exit (as on SIGTERM) when the parent process dies\n"
           "  --help               this text\n\n"
           "Control endpoints (no token): /__fake/clock, /__fake/requests, /__fake/counters,\n"
           "/__fake/reset, /__fake/faults, /__fake/seed, /__fake/runs/set, /__fake/state.\n");
}

/* "2", "0.5", "100.25": a positive decimal without strtod's locale. */
static int parse_speed(const char *s, double *ret)
{
    char buf[32];
    if (strscpy(buf, sizeof(buf), s) < 0)
        return -EINVAL;
    char *dot = strchr(buf, '.');
    int64_t whole = 0, frac = 0, scale = 1;
    if (dot) {
        *dot = 0;
        const char *f = dot + 1;
        if (!*f || strlen(f) > 9 || parse_int64(f, &frac) < 0 || frac < 0 || *f == '-')
            return -EINVAL;
        for (size_t i = 0; i < strlen(f); i++)
            scale *= 10;
    }
    if (*buf && (parse_int64(buf, &whole) < 0 || whole < 0))
        return -EINVAL;
    double v = (double)whole + (double)frac / (double)scale;
    if (v <= 0 || v > 1e6)
        return -ERANGE;
    *ret = v;
    return 0;
}

int main(int argc, char **argv)
{
    enum {
        ARG_PORT = 0x100,
        ARG_TOKEN,
        ARG_USER,
        ARG_CLIENT_ID,
        ARG_CLIENT_SECRET,
        ARG_OAUTH_TTL,
        ARG_CLOCK,
        ARG_SPEED,
        ARG_EPOCH,
        ARG_WORKSPACE,
        ARG_SMALL_IDS,
        ARG_DIE_WITH_PARENT,
        ARG_HELP,
    };
    static const struct option options[] = {
        { "port", required_argument, NULL, ARG_PORT },
        { "token", required_argument, NULL, ARG_TOKEN },
        { "user", required_argument, NULL, ARG_USER },
        { "client-id", required_argument, NULL, ARG_CLIENT_ID },
        { "client-secret", required_argument, NULL, ARG_CLIENT_SECRET },
        { "oauth-ttl", required_argument, NULL, ARG_OAUTH_TTL },
        { "clock", required_argument, NULL, ARG_CLOCK },
        { "speed", required_argument, NULL, ARG_SPEED },
        { "epoch-ms", required_argument, NULL, ARG_EPOCH },
        { "workspace-id", required_argument, NULL, ARG_WORKSPACE },
        { "small-ids", no_argument, NULL, ARG_SMALL_IDS },
        { "die-with-parent", no_argument, NULL, ARG_DIE_WITH_PARENT },
        { "help", no_argument, NULL, ARG_HELP },
        {},
    };
    struct fakews_config cfg = {
        .user = "fakews-user@example.com",
        .oauth_ttl_s = 3600,
        .speed = 1.0,
        .workspace_id = "1234567890123456",
    };
    int64_t port = 0;
    bool die_with_parent = false;
    int c;

    log_set_ident("fakews");
    while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
        switch (c) {
        case ARG_PORT:
            if (parse_int64(optarg, &port) < 0 || port < 0 || port > 65535) {
                log_error("Invalid --port: %s", optarg);
                return 2;
            }
            break;
        case ARG_TOKEN:
            cfg.token = optarg;
            break;
        case ARG_USER:
            cfg.user = optarg;
            break;
        case ARG_CLIENT_ID:
            cfg.client_id = optarg;
            break;
        case ARG_CLIENT_SECRET:
            cfg.client_secret = optarg;
            break;
        case ARG_OAUTH_TTL:
            if (parse_int64(optarg, &cfg.oauth_ttl_s) < 0 || cfg.oauth_ttl_s < 1 ||
                cfg.oauth_ttl_s > 7 * 86400) {
                log_error("Invalid --oauth-ttl: %s", optarg);
                return 2;
            }
            break;
        case ARG_CLOCK:
            if (streq(optarg, "manual"))
                cfg.manual_clock = true;
            else if (streq(optarg, "real"))
                cfg.manual_clock = false;
            else {
                log_error("Invalid --clock: %s (manual or real)", optarg);
                return 2;
            }
            break;
        case ARG_SPEED:
            if (parse_speed(optarg, &cfg.speed) < 0) {
                log_error("Invalid --speed: %s", optarg);
                return 2;
            }
            break;
        case ARG_EPOCH:
            if (parse_int64(optarg, &cfg.epoch_ms) < 0 || cfg.epoch_ms <= 0 ||
                cfg.epoch_ms > INT64_C(4102444800000)) {
                log_error("Invalid --epoch-ms: %s", optarg);
                return 2;
            }
            break;
        case ARG_WORKSPACE:
            cfg.workspace_id = optarg;
            break;
        case ARG_SMALL_IDS:
            cfg.small_ids = true;
            break;
        case ARG_DIE_WITH_PARENT:
            die_with_parent = true;
            break;
        case ARG_HELP:
            help();
            return 0;
        default:
            return 2;
        }
    }
    if (optind < argc) {
        log_error("Unexpected argument: %s", argv[optind]);
        return 2;
    }
    if (isempty(cfg.token)) {
        log_error("--token is required (see --help).");
        return 2;
    }
    if (!cfg.client_id != !cfg.client_secret) {
        log_error("--client-id and --client-secret go together.");
        return 2;
    }
    (void)log_add_secret(cfg.token);
    if (cfg.client_secret)
        (void)log_add_secret(cfg.client_secret);

    /* Threads started below inherit this mask; only sigwait() sees them. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (die_with_parent) {
        /* A test that crashes leaves no fakews behind. */
        pid_t parent = getppid();
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
            return 1;
    }

    struct fakews *ws = NULL;
    struct server *srv = NULL;
    int r = fakews_new(&cfg, &ws);
    if (r < 0) {
        log_error_errno(r, "Cannot set up the workspace: %m");
        return 1;
    }
    r = server_new(ws, (uint16_t)port, &srv);
    if (r < 0) {
        log_error_errno(r, "Cannot listen on 127.0.0.1:%d: %m", (int)port);
        fakews_free(ws);
        return 1;
    }
    printf("LISTENING %u\n", (unsigned)server_port(srv));
    fflush(stdout);

    int sig = 0;
    while (sigwait(&mask, &sig) != 0)
        ;
    log_info("Signal %d, stopping.", sig);
    server_free(srv);
    fakews_free(ws);
    return 0;
}
