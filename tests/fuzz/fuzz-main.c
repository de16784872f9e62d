/* A stand-in for libFuzzer's driver, so that `make check` exercises fuzz
 * targets with any compiler: runs the target over every file of its seed
 * corpus, then over deterministic mutations of them (flips, cuts, splices
 * and words of the target's libFuzzer dictionary) for a time budget.
 * Built once per target with FUZZ_TARGET set to its name ("config").
 *
 *   fuzz-NAME [FILE...]              only these inputs (a crash reproducer)
 *   fuzz-NAME                        corpus + mutations
 *   FUZZ_SECONDS=N (default 3), FUZZ_CORPUS=DIR (default
 *   tests/fuzz/corpus-NAME), FUZZ_DICT=FILE (default tests/fuzz/NAME.dict)
 * Prints TAP: one line for the corpus, one for the mutations. A target that
 * finds a bug aborts, which fails the test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/cleanup.h"
#include "proto/strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (16 * 1024)
#define MAX_SEEDS 512
#define MAX_WORDS 512
#define WORD_MAX 128

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

/* Words that make mutations reach deeper than random bytes would: the
 * quoted strings of a libFuzzer dictionary (name="value" or "value", with
 * \\, \" and \xNN escapes). */
struct word {
    char text[WORD_MAX];
    size_t len;
};
static struct word words[MAX_WORDS];
static size_t n_words;

static void load_dictionary(const char *path)
{
    FILE *f = fopen(path, "re");
    char line[1024];
    if (!f)
        return;
    while (n_words < MAX_WORDS && fgets(line, sizeof(line), f)) {
        const char *p = line + strspn(line, " \t");
        if (*p == '#')
            continue;
        p = strchr(p, '"');
        if (!p)
            continue;
        struct word *w = &words[n_words];
        w->len = 0;
        for (p++; *p && *p != '"' && w->len < WORD_MAX; p++) {
            char c = *p;
            if (c == '\\' && p[1] == 'x' && unhexchar(p[2]) >= 0 && unhexchar(p[3]) >= 0) {
                c = (char)(unhexchar(p[2]) * 16 + unhexchar(p[3]));
                p += 3;
            } else if (c == '\\' && p[1]) {
                c = *++p;
            }
            w->text[w->len++] = c;
        }
        if (*p == '"' && w->len > 0)
            n_words++;
    }
    fclose(f);
}

static size_t insert(char *buf, size_t len, size_t cap, size_t at, const char *w, size_t wl)
{
    if (len + wl > cap)
        return len;
    memmove(buf + at + wl, buf + at, len - at);
    memcpy(buf + at, w, wl);
    return len + wl;
}

static size_t mutate(char *buf, size_t len, size_t cap)
{
    unsigned n = 1 + (unsigned)(next_random() % 4);
    for (unsigned k = 0; k < n; k++) {
        size_t at = len ? (size_t)(next_random() % (len + 1)) : 0;
        switch (next_random() % 6) {
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
        case 2: /* copy a run of the input elsewhere */
            if (len) {
                char tmp[64];
                size_t from = (size_t)(next_random() % len);
                size_t want = 1 + (size_t)(next_random() % sizeof(tmp));
                size_t cp = MIN(want, len - from);
                memcpy(tmp, buf + from, cp);
                len = insert(buf, len, cap, at, tmp, cp);
            }
            break;
        default: /* insert a dictionary word */
            if (n_words) {
                const struct word *w = &words[next_random() % n_words];
                len = insert(buf, len, cap, at, w->text, w->len);
            }
            break;
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
        return 0;
    }

    const char *corpus = getenv("FUZZ_CORPUS");
    if (isempty(corpus))
        corpus = TOP_SRCDIR "/tests/fuzz/corpus-" FUZZ_TARGET;
    const char *dict = getenv("FUZZ_DICT");
    load_dictionary(isempty(dict) ? TOP_SRCDIR "/tests/fuzz/" FUZZ_TARGET ".dict" : dict);
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
    printf("ok 1 - %s: %zu corpus inputs\n", FUZZ_TARGET, n);
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
    printf("ok 2 - %s: %lu mutated inputs in %d s (%zu dictionary words)\n1..2\n", FUZZ_TARGET,
           runs, seconds, n_words);
    for (size_t i = 0; i < n; i++)
        free(seeds[i]);
    return 0;
}
