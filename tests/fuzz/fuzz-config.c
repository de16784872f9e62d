/* Fuzz target for the configuration parser: the input is used as jobsd.conf
 * and as ~/.databrickscfg (and, when it is no jobsd.conf, as the latter
 * beside an empty jobsd.conf). It must never crash, leak or hang, and whatever
 * loads must print as text that loads again to the same settings (unless the
 * input itself held a secret, which the printed text withholds).
 *
 * With clang -fsanitize=fuzzer this is a libFuzzer target (libfuzzer-config);
 * fuzz-main.c runs it over the seed corpus and a few seconds of simple
 * mutations under any compiler (fuzz-config). Both run in `make check`. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "proto/cleanup.h"
#include "proto/log.h"
#include "proto/strutil.h"
#include "tests/fuzz/fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char conf_path[300], cfg_path[300], printed_path[300], empty_path[300], home_env[300];

static int write_file(const char *path, const void *data, size_t size)
{
    /* A new file rather than O_TRUNC: ext4 flushes a truncated file on close. */
    (void)unlink(path);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (size && write(fd, data, size) != (ssize_t)size)
        return -EIO;
    return 0;
}

static void setup(void)
{
    const char *dir = fuzz_scratch("config");
    snprintf(conf_path, sizeof(conf_path), "%s/jobsd.conf", dir);
    snprintf(cfg_path, sizeof(cfg_path), "%s/.databrickscfg", dir);
    snprintf(printed_path, sizeof(printed_path), "%s/printed.conf", dir);
    snprintf(empty_path, sizeof(empty_path), "%s/empty.conf", dir);
    snprintf(home_env, sizeof(home_env), "HOME=%s", dir);
    if (write_file(empty_path, "", 0) < 0)
        abort();
}

static bool secret_from(const struct config *c, const char *path)
{
    static const char *const secrets[] = { "server.local_token", "workspace.token",
                                           "workspace.client_secret" };
    for (size_t i = 0; i < ELEMENTSOF(secrets); i++)
        if (startswith(config_source(c, secrets[i]), path))
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!conf_path[0])
        setup();
    if (size > 64 * 1024)
        return 0;
    if (write_file(conf_path, data, size) < 0 || write_file(cfg_path, data, size) < 0)
        abort();

    /* Once with a workspace from the environment, once from the input. */
    char *const env_ws[] = { home_env, (char *)"DATABRICKS_HOST=h.example.com",
                             (char *)"DATABRICKS_TOKEN=dapi-fuzz-token", NULL };
    char *const env_file[] = { home_env, NULL };
    char *const *envs[] = { env_ws, env_file };
    struct config_args args = { .config_file = conf_path };
    struct config_args cfg_only = { .config_file = empty_path };

    for (size_t e = 0; e < ELEMENTSOF(envs); e++) {
        _cleanup_(config_freep) struct config *c = NULL;
        /* Text that is no jobsd.conf may still be a ~/.databrickscfg: read
         * it as that alone, beside an empty jobsd.conf. */
        if (config_load(&args, envs[e], &c) < 0 &&
            (envs[e] != env_file || config_load(&cfg_only, envs[e], &c) < 0))
            continue;

        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
            abort();
        if (config_print(c, f) < 0)
            abort();
        fclose(f);
        if (secret_from(c, conf_path) || secret_from(c, cfg_path))
            continue;

        if (write_file(printed_path, text, len) < 0)
            abort();
        struct config_args again = { .config_file = printed_path };
        _cleanup_(config_freep) struct config *c2 = NULL;
        if (config_load(&again, envs[e], &c2) < 0) {
            fprintf(stderr, "fuzz-config: printed configuration does not load:\n%s\n", text);
            abort();
        }
        _cleanup_strv_free_ char **changed = NULL;
        if (config_diff(c, c2, &changed, NULL) != 0) {
            fprintf(stderr, "fuzz-config: %s changed in the round trip:\n%s\n", changed[0], text);
            abort();
        }
    }
    return 0;
}
