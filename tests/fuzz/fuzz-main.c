/* A stand-in for libFuzzer's driver, so that `make check` exercises fuzz
 * targets with any compiler: runs the target over every file of the seed
 * corpus, then over deterministic mutations of them for a time budget.
 *
 *   fuzz-config [FILE...]            only these inputs
 *   fuzz-config                      corpus + mutations
 *   FUZZ_SECONDS=N (default 3), FUZZ_CORPUS=DIR (default the source tree's)
 * Prints TAP: one line for the corpus, one for the mutations. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/cleanup.h"
#include "proto/strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_config_cleanup(void);

#define FUZZ_MAX_INPUT (16 * 1024)
#define MAX_SEEDS 256

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static char *read_all(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    struct buf b = BUF_INIT(FUZZ_MAX_INPUT);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_append(&b, chunk, n) < 0)
            break;
    fclose(f);
    if (!b.data && buf_append(&b, "", 0) < 0)
        return NULL;
    return buf_steal(&b, ret_len);
}

/* Words that make mutations reach deeper than random bytes would. */
static const char *const dictionary[] = {
    "[server]\n",
    "[workspace]\n",
    "[upstream]\n",
    "[daemon]\n",
    "[archive]\n",
    "[DEFAULT]\n",
    "[__settings__]\n",
    " = ",
    "=",
    " #",
    " ;",
    "\"",
    "\n",
    "\r\n",
    "\xef\xbb\xbf",
    "tcp",
    "127.0.0.1:8080",
    "[::1]:1",
    "rate",
    "0.125/s",
    "socket_mode",
    "0777",
    "~/",
    "token",
    "client_id",
    "client_secret",
    "auth_type",
    "oauth-m2m",
    "pat",
    "host",
    "profile",
    "default_profile",
    "(redacted)",
    "(unset)",
    "connection_memory",
    "1M",
    "99999999999999999999",
    "request_timeout",
    "1500ms",
    "max_connections",
    "socket_group",
    "log_level",
    "debug",
};

static size_t mutate(char *buf, size_t len, size_t cap)
{
    unsigned n = 1 + (unsigned)(next_random() % 4);
    for (unsigned k = 0; k < n; k++) {
        size_t at = len ? (size_t)(next_random() % (len + 1)) : 0;
        switch (next_random() % 4) {
        case 0: /* flip a byte */
            if (len)
                buf[at % len] = (char)next_random();
            break;
        case 1: /* delete a run */
            if (len) {
                size_t want = (size_t)(next_random() % 16); /* MIN() evaluates twice */
                size_t del = MIN(want, len - at % len);
                memmove(buf + at % len, buf + at % len + del, len - at % len - del);
                len -= del;
            }
            break;
        default: { /* insert a dictionary word */
            const char *w = dictionary[next_random() % ELEMENTSOF(dictionary)];
            size_t wl = strlen(w);
            if (len + wl > cap)
                break;
            memmove(buf + at + wl, buf + at, len - at);
            memcpy(buf + at, w, wl);
            len += wl;
            break;
        }
        }
    }
    return len;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            size_t len;
            _cleanup_free_ char *d = read_all(argv[i], &len);
            if (!d) {
                fprintf(stderr, "%s: cannot read\n", argv[i]);
                return 1;
            }
            LLVMFuzzerTestOneInput((const uint8_t *)d, len);
        }
        fuzz_config_cleanup();
        return 0;
    }

    const char *corpus = getenv("FUZZ_CORPUS");
    if (isempty(corpus))
        corpus = TOP_SRCDIR "/tests/fuzz/corpus-config";
    const char *secs = getenv("FUZZ_SECONDS");
    int seconds = 3;
    if (!isempty(secs) && (parse_int(secs, &seconds) < 0 || seconds < 0))
        seconds = 3;

    char *seeds[MAX_SEEDS];
    size_t seed_len[MAX_SEEDS], n = 0;
    DIR *d = opendir(corpus);
    if (!d) {
        printf("1..0 # SKIP no corpus at %s\n", corpus);
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d)) && n < MAX_SEEDS) {
        if (de->d_name[0] == '.')
            continue;
        _cleanup_free_ char *path = strjoin(corpus, "/", de->d_name);
        if (path && (seeds[n] = read_all(path, &seed_len[n])))
            n++;
    }
    closedir(d);

    for (size_t i = 0; i < n; i++)
        LLVMFuzzerTestOneInput((const uint8_t *)seeds[i], seed_len[i]);
    printf("ok 1 - %zu corpus inputs\n", n);
    fflush(stdout);

    static char buf[FUZZ_MAX_INPUT];
    unsigned long runs = 0;
    time_t end = time(NULL) + seconds;
    while (n > 0 && time(NULL) < end) {
        size_t s = (size_t)(next_random() % n);
        size_t len = MIN(seed_len[s], sizeof(buf));
        memcpy(buf, seeds[s], len);
        for (int rounds = 0; rounds < 8; rounds++) {
            len = mutate(buf, len, sizeof(buf));
            LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
            runs++;
        }
    }
    printf("ok 2 - %lu mutated inputs in %d s\n1..2\n", runs, seconds);
    for (size_t i = 0; i < n; i++)
        free(seeds[i]);
    fuzz_config_cleanup();
    return 0;
}
