/* Crash consistency (issue 10): jobsd is SIGKILLed at a random moment,
 * CRASH_ROUNDS times (50; $CRASH_ROUNDS overrides it, tests/bench/crash.sh
 * runs more), while its poller archives runs that finish in the workspace
 * (fakews on a manual clock, moved every round) and clients send run-now
 * through it, with and without an idempotency token. After each kill, on
 * the archive left behind:
 *   - PRAGMA integrity_check is ok;
 *   - every run archived before the kill is still there, and still final
 *     if it was final;
 *   - every run tracked before the kill is still tracked, unless it is now
 *     archived final;
 * and jobsd restarts on the same state dir. At the end, no run-now was
 * doubled: every run-now jobsd sent carried a token, the workspace made
 * one run per token, no more runs than the clients asked for, and no more
 * jobsd-made tokens than run-nows sent without one. Some rounds delay the
 * workspace's answers to run-now or drop one (jobsd retries it with the
 * same token), so that kills land while writes are in flight. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "db/merge.h"
#include "db/store.h"
#include "proto/strutil.h"
#include "tests/fakews/fwtest.h"
#include "tests/integration/jdtest.h"
#include "tests/tap.h"

#define IDS_MAX 20000
#define WRITERS 4 /* client run-nows per round */
#define CLIENT_JOB                                                                                 \
    "{\"name\":\"crash-client\",\"max_concurrent_runs\":1000,\"tasks\":["                          \
    "{\"task_key\":\"a\",\"notebook_task\":{\"notebook_path\":\"/ok\"}}]}"
#define BG_JOB                                                                                     \
    "{\"name\":\"crash-bg\",\"max_concurrent_runs\":1000,\"tasks\":["                              \
    "{\"task_key\":\"a\",\"notebook_task\":{\"notebook_path\":\"/ok\"}},"                          \
    "{\"task_key\":\"b\",\"depends_on\":[{\"task_key\":\"a\"}],"                                   \
    "\"notebook_task\":{\"notebook_path\":\"/will/fail\"}},"                                       \
    "{\"task_key\":\"c\",\"notebook_task\":{\"notebook_path\":\"/ok\","                            \
    "\"base_parameters\":{\"fake_duration_ms\":\"3000\"}}}]}"

static const char *const env[] = { "DATABRICKS_TOKEN=" FWT_TOKEN, NULL };
static const char *const args[] = {
    "--set", "poller.enabled=yes",        "--set", "poller.interval_min=100ms",
    "--set", "poller.interval_max=200ms", "--set", "poller.idle_interval=100ms",
    "--set", "poller.backfill=no",        "--set", "poller.share=100",
    "--set", "upstream.rate=1000",        "--set", "upstream.burst=1000",
    NULL
};

/* What the archive holds: archived runs (with their final mark) and the
 * tracked set, ids ascending. */
struct snapshot {
    int64_t runs[IDS_MAX];
    bool final[IDS_MAX];
    size_t n_runs;
    int64_t tracked[IDS_MAX];
    size_t n_tracked;
};

static struct snapshot before, after;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Reads the archive with a connection of its own (read-only while jobsd
 * runs, read-write after a kill so that SQLite recovers its WAL as jobsd
 * would). Returns 0 or -EIO. */
static int snapshot_take(const char *path, bool readonly, struct snapshot *s)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    s->n_runs = s->n_tracked = 0;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        tap_diag("cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return -EIO;
    }
    sqlite3_busy_timeout(db, 5000);
    int r = -EIO;
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_prepare_v2(db, "SELECT run_id, detail FROM runs ORDER BY run_id", -1, &st, NULL) !=
        SQLITE_OK)
        goto out;
    while (sqlite3_step(st) == SQLITE_ROW && s->n_runs < IDS_MAX) {
        s->runs[s->n_runs] = sqlite3_column_int64(st, 0);
        s->final[s->n_runs++] = (sqlite3_column_int64(st, 1) & RUN_DETAIL_FINAL) != 0;
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT run_id FROM tracked ORDER BY run_id", -1, &st, NULL) !=
        SQLITE_OK)
        goto out;
    while (sqlite3_step(st) == SQLITE_ROW && s->n_tracked < IDS_MAX)
        s->tracked[s->n_tracked++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    r = 0;
out:
    if (r < 0)
        tap_diag("reading %s: %s", path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return r;
}

static ssize_t find(const int64_t *ids, size_t n, int64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] == id)
            return (ssize_t)mid;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* A run-now on jobsd's socket, sent at once and not waited for. */
static int send_run_now(const char *sock, int64_t job, const char *token)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strscpy(sa.sun_path, sizeof(sa.sun_path), sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char body[160], req[512];
    if (token)
        snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 ",\"idempotency_token\":\"%s\"}", job,
                 token);
    else
        snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 "}", job);
    int n = snprintf(req, sizeof(req),
                     "POST /api/2.2/jobs/run-now HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The runs the workspace holds for a job (runs/list, every page). */
static int64_t count_runs(struct fwt *ws, int64_t job)
{
    char token[256] = "";
    int64_t n = 0;
    for (int page = 0; page < 1000; page++) {
        struct fwt_resp r;
        if (*token)
            fwt_get(ws, &r, "/api/2.2/jobs/runs/list?limit=25&job_id=%" PRId64 "&page_token=%s",
                    job, token);
        else
            fwt_get(ws, &r, "/api/2.2/jobs/runs/list?limit=25&job_id=%" PRId64, job);
        n += (int64_t)fwt_len(r.json, "runs");
        const char *next = fwt_str(r.json, "next_page_token");
        bool more = next && *next && strlen(next) < sizeof(token);
        if (more)
            strscpy(token, sizeof(token), next);
        fwt_resp_done(&r);
        if (!more)
            break;
    }
    return n;
}

/* The run-nows jobsd sent, read from fakews' request log (a ring of the
 * last 10,000 requests, so read every round): the distinct tokens of those
 * the workspace processed. */
static char *tokens[IDS_MAX];
static size_t from_jobsd, without, foreign, distinct, distinct_jobsd;
static int64_t log_seq;

static void collect_run_nows(struct fwt *ws)
{
    struct fwt_resp r;
    fwt_get(ws, &r, "/__fake/requests?endpoint=run_now&since=%" PRId64, log_seq);
    size_t n = fwt_len(r.json, "requests");
    for (size_t i = 0; i < n; i++) {
        char p[96];
        snprintf(p, sizeof(p), "requests.%zu.seq", i);
        log_seq = MAX(log_seq, fwt_int(r.json, p));
        snprintf(p, sizeof(p), "requests.%zu.user_agent", i);
        const char *ua = fwt_str(r.json, p);
        if (!ua || !strstr(ua, "jobsd"))
            continue; /* the test's own run-nows of the background job */
        from_jobsd++;
        snprintf(p, sizeof(p), "requests.%zu.idempotency_token", i);
        const char *tok = fwt_str(r.json, p);
        snprintf(p, sizeof(p), "requests.%zu.processed", i);
        struct json_object *processed = fwt_path(r.json, p);
        if (!tok || !*tok) {
            without++;
            continue;
        }
        if (!startswith(tok, "crash-") && !startswith(tok, "jobsd-"))
            foreign++;
        if (!processed || !json_object_get_boolean(processed))
            continue;
        bool seen = false;
        for (size_t k = 0; k < distinct && !seen; k++)
            seen = streq(tokens[k], tok);
        if (!seen && distinct < IDS_MAX && (tokens[distinct] = strdup(tok))) {
            distinct_jobsd += startswith(tok, "jobsd-") != NULL;
            distinct++;
        }
    }
    fwt_resp_done(&r);
}

int main(void)
{
    int rounds = 50;
    const char *e = getenv("CRASH_ROUNDS");
    if (e && (parse_int(e, &rounds) < 0 || rounds < 1))
        rounds = 50;
    uint64_t seed = (uint64_t)time(NULL);
    e = getenv("CRASH_SEED");
    if (e)
        (void)parse_uint64(e, &seed);
    srandom((unsigned)seed);
    tap_diag("%d rounds, CRASH_SEED=%" PRIu64, rounds, seed);

    const char *const fw_args[] = { "--clock", "manual", NULL };
    struct fwt *ws = fwt_start(fw_args);
    int64_t client_job = fwt_create_job(ws, CLIENT_JOB), bg_job = fwt_create_job(ws, BG_JOB);
    ok(client_job > 0 && bg_job > 0, "two jobs: one for the clients, one started in the workspace");
    struct jd *jd = jd_start(fwt_port(ws), env, args);
    char archive[400];
    snprintf(archive, sizeof(archive), "%s/archive.db", jd->dir);

    int64_t sent_tokenless = 0, sent_total = 0, answered = 0, t_start = mono_ms();
    size_t lost_total = 0, unfinal_total = 0, untracked_total = 0, bad_integrity = 0;
    size_t max_archived = 0, max_final = 0, max_tracked = 0;
    for (int round = 0; round < rounds; round++) {
        /* Runs that finish over time: three new ones a round, each lasting
         * one to two rounds of the clock. */
        for (int i = 0; i < 3; i++)
            (void)fwt_run_now(ws, bg_job);
        fwt_advance(ws, 8000);

        /* Some run-nows are slow to answer, or lose their answer (jobsd
         * retries them), so that kills land while they are in flight. */
        struct fwt_resp fr;
        char fault[160];
        if (random() % 2) {
            snprintf(fault, sizeof(fault),
                     "{\"kind\":\"delay\",\"delay_ms\":%ld,\"count\":2,"
                     "\"path_prefix\":\"/api/2.2/jobs/run-now\"}",
                     50 + random() % 300);
            fwt_call(ws, "POST", "/__fake/faults", fault, "", &fr);
            fwt_resp_done(&fr);
        }
        if (random() % 4 == 0) {
            fwt_call(ws, "POST", "/__fake/faults",
                     "{\"kind\":\"drop_reply\",\"path_prefix\":\"/api/2.2/jobs/run-now\"}", "",
                     &fr);
            fwt_resp_done(&fr);
        }

        /* Writers, half of them with a token of their own. */
        int fds[WRITERS];
        for (int i = 0; i < WRITERS; i++) {
            char token[64];
            bool with = i % 2 == 0;
            snprintf(token, sizeof(token), "crash-%" PRIu64 "-%d-%d", seed, round, i);
            fds[i] = send_run_now(jd->socket, client_job, with ? token : NULL);
            sent_total++;
            sent_tokenless += !with;
        }

        /* The kill, at a random moment of the poller's work. */
        sleep_ms(20 + random() % 230);
        if (snapshot_take(archive, true, &before) < 0)
            before.n_runs = before.n_tracked = 0;
        kill(jd->pid, SIGKILL);
        for (int i = 0; i < 500 && kill(jd->pid, 0) == 0; i++)
            sleep_ms(10);
        for (int i = 0; i < WRITERS; i++) {
            if (fds[i] < 0)
                continue;
            _cleanup_free_ char *a = NULL;
            answered += jd_read_raw(fds[i], &a) == 200;
        }

        /* The archive as the crash left it. */
        struct store *s = NULL;
        int integrity = store_open(archive, 0, &s);
        if (integrity >= 0)
            integrity = store_check_integrity(s);
        store_free(s);
        bad_integrity += integrity < 0;
        size_t lost = 0, unfinal = 0, untracked = 0;
        if (snapshot_take(archive, false, &after) < 0)
            after.n_runs = after.n_tracked = 0;
        for (size_t i = 0; i < before.n_runs; i++) {
            ssize_t k = find(after.runs, after.n_runs, before.runs[i]);
            if (k < 0) {
                lost++;
                tap_diag("round %d: run %" PRId64 " was archived and is gone", round,
                         before.runs[i]);
            } else if (before.final[i] && !after.final[k]) {
                unfinal++;
                tap_diag("round %d: run %" PRId64 " was final and is not", round, before.runs[i]);
            }
        }
        for (size_t i = 0; i < before.n_tracked; i++) {
            if (find(after.tracked, after.n_tracked, before.tracked[i]) >= 0)
                continue;
            ssize_t k = find(after.runs, after.n_runs, before.tracked[i]);
            if (k >= 0 && after.final[k])
                continue;
            untracked++;
            tap_diag("round %d: run %" PRId64 " was tracked, is not, and is not archived final",
                     round, before.tracked[i]);
        }
        lost_total += lost;
        unfinal_total += unfinal;
        untracked_total += untracked;
        size_t finals = 0, finals_before = 0;
        for (size_t i = 0; i < after.n_runs; i++)
            finals += after.final[i];
        for (size_t i = 0; i < before.n_runs; i++)
            finals_before += before.final[i];
        max_archived = MAX(max_archived, after.n_runs);
        max_final = MAX(max_final, finals);
        max_tracked = MAX(max_tracked, after.n_tracked);
        ok(integrity >= 0 && lost == 0 && unfinal == 0 && untracked == 0,
           "round %d: integrity %s; %zu archived (%zu final), %zu tracked before the kill; "
           "%zu lost, %zu no longer final, %zu no longer tracked",
           round, integrity >= 0 ? "ok" : "FAILED", before.n_runs, finals_before, before.n_tracked,
           lost, unfinal, untracked);

        fwt_call(ws, "DELETE", "/__fake/faults", NULL, "", &fr);
        fwt_resp_done(&fr);
        collect_run_nows(ws);
        jd = jd_restart(jd, fwt_port(ws), env, args, true);
    }
    tap_diag("%d rounds in %" PRId64 " ms", rounds, mono_ms() - t_start);
    is_int(bad_integrity, 0, "integrity_check ok after every kill");
    is_int(lost_total, 0, "no archived run lost (up to %zu archived, %zu final)", max_archived,
           max_final);
    is_int(unfinal_total, 0, "no final run made not final");
    is_int(untracked_total, 0, "no tracked run dropped (up to %zu tracked at a kill)", max_tracked);

    /* The poller goes on: the runs finish and are archived final. */
    fwt_advance(ws, 60000);
    size_t final_now = 0;
    for (int64_t end = mono_ms() + 20000; mono_ms() < end;) {
        struct fwt_resp r;
        fwt_call(jd->unix_client, "GET", "/jobsd/v1/status", NULL, "", &r);
        int64_t tracked = fwt_int(r.json, "poller.tracked_runs");
        fwt_resp_done(&r);
        if (tracked == 0)
            break;
        sleep_ms(100);
    }
    if (snapshot_take(archive, true, &after) == 0)
        for (size_t i = 0; i < after.n_runs; i++)
            final_now += after.final[i];
    is_int((int64_t)after.n_tracked, 0, "after the last restart every run ends and is untracked");
    is_int((int64_t)final_now, (int64_t)after.n_runs, "... and every archived run is final (%zu)",
           after.n_runs);

    /* No run-now doubled. */
    collect_run_nows(ws);
    int64_t runs = count_runs(ws, client_job);
    tap_diag("%" PRId64 " run-nows sent (%" PRId64 " without a token), %" PRId64
             " answered 200 before a kill; jobsd sent %zu, %zu distinct tokens (%zu its own); "
             "%" PRId64 " runs",
             sent_total, sent_tokenless, answered, from_jobsd, distinct, distinct_jobsd, runs);
    ok(from_jobsd > 0, "jobsd sent run-nows (%zu)", from_jobsd);
    is_int(without, 0, "every run-now jobsd sent carried an idempotency token");
    is_int(foreign, 0, "... the client's or one of jobsd's own (jobsd-<hex>)");
    ok(distinct_jobsd <= (size_t)sent_tokenless,
       "no more jobsd tokens (%zu) than run-nows sent without one (%" PRId64 ")", distinct_jobsd,
       sent_tokenless);
    is_int(runs, (int64_t)distinct, "one run per token: no run-now doubled");
    ok(runs <= sent_total, "no more runs (%" PRId64 ") than run-nows sent (%" PRId64 ")", runs,
       sent_total);
    ok(runs >= answered, "every run-now answered 200 made its run (%" PRId64 " >= %" PRId64 ")",
       runs, answered);
    for (size_t k = 0; k < distinct; k++)
        free(tokens[k]);

    is_int(jd_stop(jd), 0, "jobsd stops cleanly");
    fwt_stop(ws);
    return tap_done();
}
