/* jobsd's command line. Flags that set an option become overrides that
 * config_load() applies last, with the flag's name in error messages. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "proto/cleanup.h"
#include "proto/log.h"
#include "proto/strutil.h"

enum {
    ARG_SET = 0x100,
    ARG_SOCKET,
    ARG_TCP,
    ARG_VERSION,
};

void config_args_usage(FILE *f, const char *program)
{
    fprintf(f,
            "Usage: %s [OPTIONS]\n"
            "A local daemon for the Databricks Jobs API.\n\n"
            "  -c, --config FILE        read FILE instead of " CONFIG_DEFAULT_FILE "\n"
            "  -n, --check              check the configuration and exit\n"
            "  -v, --verbose            with -n print the effective configuration;\n"
            "                           otherwise log at debug level\n"
            "  -l, --log-level LEVEL    debug, info, notice, warning, error\n"
            "      --set SECTION.KEY=VALUE\n"
            "                           set any option of jobsd.conf(5)\n"
            "      --socket PATH        same as --set server.socket=PATH\n"
            "      --tcp ADDR           same as --set server.tcp=ADDR\n"
            "  -h, --help               show this help\n"
            "      --version            show the version\n\n"
            "Flags win over JOBSD_<SECTION>_<KEY> variables, which win over the file.\n",
            program);
}

static int push(struct config_args *a, const char *flag, const char *assignment)
{
    size_t n = 0;
    while (a->overrides && a->overrides[n])
        n++;
    char **v = realloc(a->overrides, (n + 2) * sizeof(char *));
    if (!v)
        return -ENOMEM;
    a->overrides = v;
    /* "FLAG\tsection.key=value": config_load() names FLAG in its errors. */
    v[n] = flag ? strjoin(flag, "\t", assignment) : strdup(assignment);
    v[n + 1] = NULL;
    return v[n] ? 0 : -ENOMEM;
}

void config_args_done(struct config_args *a)
{
    if (!a)
        return;
    free(a->config_file);
    strv_free(a->overrides);
    *a = (struct config_args){ 0 };
}

int config_args_parse(int argc, char *const *argv, struct config_args *ret)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check", no_argument, NULL, 'n' },
        { "verbose", no_argument, NULL, 'v' },
        { "log-level", required_argument, NULL, 'l' },
        { "set", required_argument, NULL, ARG_SET },
        { "socket", required_argument, NULL, ARG_SOCKET },
        { "tcp", required_argument, NULL, ARG_TCP },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, ARG_VERSION },
        {},
    };
    struct config_args a = { 0 };
    _cleanup_free_ char *level = NULL;
    int c, r = 0;

    optind = 0; /* glibc: start afresh, so tests may call this again */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:nvl:h", longopts, NULL)) >= 0) {
        _cleanup_free_ char *assign = NULL;
        switch (c) {
        case 'c':
            free(a.config_file);
            a.config_file = strdup(optarg);
            if (!a.config_file)
                r = -ENOMEM;
            break;
        case 'n':
            a.check_only = true;
            break;
        case 'v':
            a.verbose = true;
            break;
        case 'l':
            free(level);
            level = strdup(optarg);
            if (!level)
                r = -ENOMEM;
            break;
        case ARG_SET:
            r = push(&a, NULL, optarg);
            break;
        case ARG_SOCKET:
            assign = strjoin("server.socket=", optarg);
            r = assign ? push(&a, "--socket", assign) : -ENOMEM;
            break;
        case ARG_TCP:
            assign = strjoin("server.tcp=", optarg);
            r = assign ? push(&a, "--tcp", assign) : -ENOMEM;
            break;
        case 'h':
            a.help = true;
            break;
        case ARG_VERSION:
            a.version = true;
            break;
        case ':':
            log_error("%s needs a value", argv[optind - 1]);
            r = -EINVAL;
            break;
        default:
            if (optopt)
                log_error("unknown option -%c; see --help", optopt);
            else
                log_error("unknown option %s; see --help", argv[optind - 1]);
            r = -EINVAL;
            break;
        }
        if (r < 0)
            break;
    }
    if (r >= 0 && optind < argc) {
        log_error("unexpected argument '%s'; see --help", argv[optind]);
        r = -EINVAL;
    }
    /* -l and -v go last, so that they win over --set daemon.log_level. */
    if (r >= 0 && a.verbose && !a.check_only)
        r = push(&a, "-v", "daemon.log_level=debug");
    if (r >= 0 && level) {
        _cleanup_free_ char *assign = strjoin("daemon.log_level=", level);
        r = assign ? push(&a, "-l", assign) : -ENOMEM;
    }
    if (r < 0) {
        config_args_done(&a);
        return r;
    }
    *ret = a;
    return 0;
}
