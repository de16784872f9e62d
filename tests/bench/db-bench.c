/* tests/bench/db-bench.c: the db/ benchmark of issue 4. Ingests N generated
 * runs (~2 KB of JSON each, with tasks) in batches, then times the queries
 * the local API makes and prints a table. Beside it, in the same run, the
 * same runs go into a naive SQLite table (the JSON as TEXT beside a few
 * indexed columns), so that the machine's noise cancels out in the ratios.
 * --smoke runs a tiny version for make check.
 * Usage: db-bench [--runs N] [--batch B] [--queries Q] [--dir D] [--smoke]
 *                 [--no-naive] [--keep] */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <sqlite3.h>
#include <unistd.h>

#include "db/runs.h"
#include "db/store.h"
#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/bench/rungen.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct timing {
    const char *name;
    double *samples;
    size_t n;
};

static void timing_report(struct timing *t, const char *target)
{
    qsort(t->samples, t->n, sizeof(double), cmp_double);
    double p50 = t->samples[t->n / 2] * 1e3;
    double p99 = t->samples[(t->n * 99) / 100] * 1e3;
    printf("| %-38s | %9.3f ms | %9.3f ms | %-10s |\n", t->name, p50, p99, target);
}

static int count_cb(const struct store_run_meta *m, struct json_object *run, void *userdata)
{
    (*(size_t *)userdata)++;
    return 0;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int rm_db(const char *dir, const char *path)
{
    char p[8192];
    unlink(path);
    (void)snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    (void)snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
    return rmdir(dir);
}

/* ---- the naive baseline: one table, JSON as TEXT ---- */

struct naive_result {
    double runs_per_s;
    uint64_t disk;
    double counts_ms;
};

static const char *str_at(struct json_object *o, const char *a, const char *b)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, a, &v) || !json_object_object_get_ex(v, b, &v))
        return NULL;
    return json_object_get_string(v);
}

static int64_t int_at(struct json_object *o, const char *a)
{
    struct json_object *v;
    return json_object_object_get_ex(o, a, &v) ? json_object_get_int64(v) : 0;
}

static int naive_run(const char *path, struct rungen *g, int64_t n_runs, int64_t batch,
                     struct naive_result *ret)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL, *cnt = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                     "PRAGMA cache_size = -32768;"
                     "CREATE TABLE runs (run_id INTEGER PRIMARY KEY, job_id INTEGER, "
                     "start_time INTEGER, life_cycle TEXT, result TEXT, json TEXT NOT NULL);"
                     "CREATE INDEX runs_job ON runs (job_id, start_time);"
                     "CREATE INDEX runs_start ON runs (start_time);",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO runs VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1,
                           &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT life_cycle, result, count(*) FROM runs GROUP BY 1, 2", -1,
                           &cnt, NULL) != SQLITE_OK) {
        fprintf(stderr, "naive: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    double t = 0;
    for (int64_t i = 0; i < n_runs; i += batch) {
        int64_t n = MIN(batch, n_runs - i);
        double t0 = now_s();
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        t += now_s() - t0;
        for (int64_t k = 0; k < n; k++) {
            struct json_object *o = rungen_run(g, i + k);
            t0 = now_s();
            size_t len = 0;
            const char *text = json_dump(o, &len);
            sqlite3_bind_int64(ins, 1, int_at(o, "run_id"));
            sqlite3_bind_int64(ins, 2, int_at(o, "job_id"));
            sqlite3_bind_int64(ins, 3, int_at(o, "start_time"));
            sqlite3_bind_text(ins, 4, str_at(o, "state", "life_cycle_state"), -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 5, str_at(o, "state", "result_state"), -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 6, text, (int)len, SQLITE_STATIC);
            sqlite3_step(ins);
            sqlite3_reset(ins);
            t += now_s() - t0;
            json_object_put(o);
        }
        t0 = now_s();
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        t += now_s() - t0;
    }
    sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    double best = 1e9;
    for (int q = 0; q < 5; q++) {
        double t0 = now_s();
        while (sqlite3_step(cnt) == SQLITE_ROW)
            ;
        sqlite3_reset(cnt);
        best = MIN(best, now_s() - t0);
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(cnt);
    sqlite3_close(db);
    ret->runs_per_s = (double)n_runs / t;
    ret->disk = file_size(path);
    ret->counts_ms = best * 1e3;
    return 0;
}

int main(int argc, char **argv)
{
    int64_t n_runs = 1000000;
    int64_t batch = 1000;
    int64_t queries = 2000;
    const char *dir_arg = NULL, *reuse = NULL;
    bool smoke = false, keep = false, naive = true, objects = false;
    static const struct option options[] = {
        { "runs", required_argument, NULL, 'n' },
        { "batch", required_argument, NULL, 'b' },
        { "dir", required_argument, NULL, 'd' },
        { "queries", required_argument, NULL, 'q' },
        { "smoke", no_argument, NULL, 's' },
        { "keep", no_argument, NULL, 'k' },
        { "no-naive", no_argument, NULL, 'N' },
        { "reuse", required_argument, NULL, 'r' },
        { "objects", no_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        {},
    };
    int c;
    while ((c = getopt_long(argc, argv, "n:b:d:q:skNr:oh", options, NULL)) >= 0) {
        switch (c) {
        case 'n':
            if (parse_int64(optarg, &n_runs) < 0 || n_runs < 100) {
                fprintf(stderr, "bad --runs\n");
                return 2;
            }
            break;
        case 'b':
            if (parse_int64(optarg, &batch) < 0 || batch < 1 || batch > 100000) {
                fprintf(stderr, "bad --batch\n");
                return 2;
            }
            break;
        case 'q':
            if (parse_int64(optarg, &queries) < 0 || queries < 10 || queries > 10000000) {
                fprintf(stderr, "bad --queries\n");
                return 2;
            }
            break;
        case 'd':
            dir_arg = optarg;
            break;
        case 's':
            smoke = true;
            break;
        case 'k':
            keep = true;
            break;
        case 'N':
            naive = false;
            break;
        case 'o':
            objects = true;
            break;
        case 'r':
            reuse = optarg; /* an archive kept by --keep with the same --runs: queries only */
            naive = false;
            keep = true;
            break;
        default:
            printf("usage: db-bench [--runs N] [--batch B] [--queries Q] [--dir D] [--smoke] "
                   "[--no-naive] [--objects] [--keep] [--reuse ARCHIVE]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (smoke) {
        n_runs = 3000;
        queries = 50;
    }

    char dir[4096], path[4200];
    (void)snprintf(dir, sizeof(dir), "%s/db-bench.XXXXXX", dir_arg ?: "/var/tmp");
    if (reuse) {
        (void)snprintf(path, sizeof(path), "%s", reuse);
    } else {
        if (!mkdtemp(dir)) {
            fprintf(stderr, "mkdtemp %s: %s\n", dir, strerror(errno));
            return 1;
        }
        (void)snprintf(path, sizeof(path), "%s/archive.db", dir);
    }

    struct store *s = NULL;
    int r = store_open(path, reuse ? 0 : STORE_OPEN_CREATE, &s);
    if (r < 0) {
        fprintf(stderr, "store_open: %s\n", strerror(-r));
        return 1;
    }
    struct rungen g;
    rungen_init(&g, 42, n_runs);

    /* Each run is made, then stored: only the store calls are timed, and
     * the generator's objects never pile up in memory. */
    uint64_t raw_bytes = 0;
    double t_store = 0, t_cpu = 0, t_all0 = now_s();
    for (int64_t i = 0; !reuse && i < n_runs; i += batch) {
        int64_t n = MIN(batch, n_runs - i);
        double t0 = now_s();
        r = store_begin(s);
        t_store += now_s() - t0;
        for (int64_t k = 0; r >= 0 && k < n; k++) {
            size_t len = 0;
            struct json_object *o = rungen_run(&g, i + k);
            const char *text = json_dump(o, &len);
            raw_bytes += len;
            t0 = now_s();
            double c0 = cpu_s();
            /* as the proxy does with a runs/get body; --objects: as with
             * runs/list entries, which the store serializes itself */
            r = objects ? store_put_run(s, o, 0) : store_put_run_text(s, o, text, len, 0);
            t_cpu += cpu_s() - c0;
            t_store += now_s() - t0;
            json_object_put(o);
        }
        t0 = now_s();
        double c0 = cpu_s();
        if (r >= 0)
            r = store_commit(s);
        else
            store_rollback(s);
        t_cpu += cpu_s() - c0;
        t_store += now_s() - t0;
        if (r < 0) {
            fprintf(stderr, "ingest at %" PRIi64 ": %s\n", i, strerror(-r));
            return 1;
        }
    }
    double t_all = now_s() - t_all0;
    if (reuse)
        raw_bytes = 1, t_store = t_cpu = t_all = 1e-9;
    (void)store_checkpoint(s);
    uint64_t disk = file_size(path);
    char wal[4300];
    (void)snprintf(wal, sizeof(wal), "%s-wal", path);
    disk += file_size(wal);

    size_t nq = (size_t)queries;
    struct timing t_id = { "run by id (stored JSON text)", calloc(nq, sizeof(double)), nq };
    struct timing t_idj = { "run by id, parsed to json-c", calloc(nq, sizeof(double)), nq };
    struct timing t_job = { "latest 25 runs of one job", calloc(nq, sizeof(double)), nq };
    struct timing t_jobj = { "latest 25 of one job, with JSON text", calloc(nq, sizeof(double)),
                             nq };
    struct timing t_day = { "100-run page of a one-day window", calloc(nq, sizeof(double)), nq };
    struct timing t_cnt = { "counts by state (whole archive)", calloc(nq, sizeof(double)), nq };
    if (!t_id.samples || !t_idj.samples || !t_job.samples || !t_jobj.samples || !t_day.samples ||
        !t_cnt.samples)
        return 1;
    uint64_t rs = 7;
    for (size_t q = 0; q < nq; q++) {
        rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t i = (int64_t)((rs >> 11) % (uint64_t)n_runs);
        struct json_object *run = NULL;
        char *text = NULL;
        size_t len = 0;
        double t0 = now_s();
        r = store_get_run_text(s, rungen_run_id(&g, i), &text, &len, NULL);
        t_id.samples[q] = now_s() - t0;
        free(text);
        if (r < 0) {
            fprintf(stderr, "get_run_text: %s\n", strerror(-r));
            return 1;
        }
        int64_t i2 = (i * 7 + 3) % n_runs;
        t0 = now_s();
        r = store_get_run(s, rungen_run_id(&g, i2), &run, NULL);
        t_idj.samples[q] = now_s() - t0;
        json_object_put(run);
        if (r < 0) {
            fprintf(stderr, "get_run: %s\n", strerror(-r));
            return 1;
        }

        struct store_run_filter f = { .job_id = rungen_job_id(&g, (int)(i % g.n_jobs)) };
        size_t got = 0;
        t0 = now_s();
        r = store_list_runs(s, &f, NULL, 25, 0, count_cb, &got, NULL);
        t_job.samples[q] = now_s() - t0;
        if (r < 0)
            return 1;
        t0 = now_s();
        r = store_list_runs(s, &f, NULL, 25, STORE_LIST_TEXT, count_cb, &got, NULL);
        t_jobj.samples[q] = now_s() - t0;
        if (r < 0)
            return 1;

        /* a page somewhere inside a random day: first page, then follow one token */
        int64_t day0 = g.t0_ms + (int64_t)((rs >> 20) % 59) * 86400000LL;
        struct store_run_filter w = { .start_from = day0, .start_to = day0 + 86400000LL - 1 };
        _cleanup_free_ char *token = NULL, *token2 = NULL;
        r = store_list_runs(s, &w, NULL, 100, 0, count_cb, &got, &token);
        if (r < 0)
            return 1;
        t0 = now_s();
        r = store_list_runs(s, &w, token, 100, 0, count_cb, &got, &token2);
        t_day.samples[q] = now_s() - t0;
        if (r < 0)
            return 1;

        struct store_counts counts;
        t0 = now_s();
        r = store_count_runs(s, 0, &counts);
        t_cnt.samples[q] = now_s() - t0;
        if (r < 0 || counts.total != n_runs) {
            fprintf(stderr, "counts: %s total %" PRIi64 "\n", strerror(-r), counts.total);
            return 1;
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r = store_check_integrity(s);
    store_free(s);
    if (r < 0) {
        fprintf(stderr, "integrity_check failed\n");
        return 1;
    }

    struct naive_result nv = { 0 };
    char naive_path[4300];
    (void)snprintf(naive_path, sizeof(naive_path), "%s/naive.db", dir);
    if (naive) {
        struct rungen g2;
        rungen_init(&g2, 42, n_runs);
        if (naive_run(naive_path, &g2, n_runs, batch, &nv) < 0)
            return 1;
    }

    printf("\n## db-bench: %" PRIi64 " runs, batches of %" PRIi64 ", %zu queries each, %s\n\n",
           n_runs, batch, nq,
           objects ? "runs given as json-c objects" : "runs given as objects with their text");
    printf("raw JSON: %.0f bytes per run on average (%.1f MB in all)\n\n",
           (double)raw_bytes / (double)n_runs, (double)raw_bytes / 1e6);
    printf("| %-38s | %12s | %12s | %8s | %-10s |\n", "measure", "db/", "naive table", "db/:naive",
           "target");
    printf("|%s|%s|%s|%s|%s|\n", "----------------------------------------", "--------------",
           "--------------", "----------", "------------");
    double rate = (double)n_runs / t_store;
    printf("| %-38s | %12.0f | %12.0f | %7.2fx | %-10s |\n", "ingest, runs/s (store calls)", rate,
           nv.runs_per_s, naive ? rate / nv.runs_per_s : 0.0, ">= 20000");
    printf("| %-38s | %12.0f | %12s | %8s | %-10s |\n", "ingest, runs per CPU second",
           (double)n_runs / t_cpu, "", "", "");
    printf("| %-38s | %12.0f | %12s | %8s | %-10s |\n", "ingest, runs/s (incl. making JSON)",
           (double)n_runs / t_all, "", "", "");
    printf("| %-38s | %12.0f | %12.0f | %7.2fx | %-10s |\n", "bytes on disk per run",
           (double)disk / (double)n_runs, (double)nv.disk / (double)n_runs,
           naive ? (double)disk / (double)nv.disk : 0.0, "");
    printf("| %-38s | %12.3f | %12.3f | %8s | %-10s |\n", "disk / raw JSON",
           (double)disk / (double)raw_bytes, (double)nv.disk / (double)raw_bytes, "", "<= 0.5");
    qsort(t_cnt.samples, t_cnt.n, sizeof(double), cmp_double);
    printf("| %-38s | %9.3f ms | %9.3f ms | %8s | %-10s |\n", "counts by state (p50 / best of 5)",
           t_cnt.samples[t_cnt.n / 2] * 1e3, nv.counts_ms, "", "<= 5 ms");
    printf("\n| %-38s | %12s | %12s | %-10s |\n", "query (db/)", "p50", "p99", "p99 target");
    printf("|%s|%s|%s|%s|\n", "----------------------------------------", "--------------",
           "--------------", "------------");
    timing_report(&t_id, "<= 0.1 ms");
    timing_report(&t_idj, "");
    timing_report(&t_job, "<= 1 ms");
    timing_report(&t_jobj, "");
    timing_report(&t_day, "<= 1 ms");
    timing_report(&t_cnt, "<= 5 ms");
    printf("| %-38s | %9.1f MB | %12s | %-10s |\n", "peak RSS (db/ phase)",
           (double)ru.ru_maxrss / 1024.0, "", "<= 64 MB");

    free(t_id.samples);
    free(t_idj.samples);
    free(t_job.samples);
    free(t_jobj.samples);
    free(t_day.samples);
    free(t_cnt.samples);
    if (!keep) {
        unlink(naive_path);
        (void)rm_db(dir, path);
    } else {
        printf("\narchive kept: %s\n", path);
    }
    return 0;
}
