/* tests/unit/test-db-crash.c: a child process writes batches of runs and
 * reports each committed batch through a pipe; it is SIGKILLed at a random
 * moment, CRASH_ROUNDS times. After each kill the archive must pass
 * integrity_check and hold every run the child reported committed. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "db/runs.h"
#include "db/store.h"
#include "tests/bench/rungen.h"
#include "tests/unit/db-testutil.h"

#define CRASH_ROUNDS 24
#define BATCH 50
#define ROUND_STRIDE 1000000

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The child: batch after batch until killed. Each batch inserts BATCH new
 * runs and sees ten of the previous batch again (the merge path); then it
 * reports the highest index committed. */
_noreturn_ static void child(const char *path, int round, int fd)
{
    struct store *s = NULL;
    if (store_open(path, STORE_OPEN_CREATE, &s) < 0)
        _exit(2);
    struct rungen g;
    rungen_init(&g, 99, ROUND_STRIDE);
    int64_t base = (int64_t)round * ROUND_STRIDE;
    for (int64_t i = 0; i + BATCH < ROUND_STRIDE; i += BATCH) {
        if (store_begin(s) < 0)
            _exit(3);
        for (int64_t k = i; k < i + BATCH; k++) {
            _cleanup_json_ struct json_object *o = rungen_run(&g, base + k);
            if (store_put_run(s, o, 0) < 0)
                _exit(4);
        }
        /* and the merge path: the previous batch seen again as list entries */
        for (int64_t k = i - BATCH; i > 0 && k < i - BATCH + 10; k++) {
            _cleanup_json_ struct json_object *o = rungen_run(&g, base + k);
            json_object_object_del(o, "tasks");
            if (store_put_run(s, o, 0) < 0)
                _exit(7);
        }
        if (store_commit(s) < 0)
            _exit(5);
        int64_t done = base + i + BATCH - 1;
        if (write(fd, &done, sizeof(done)) != sizeof(done))
            _exit(6);
    }
    _exit(0);
}

int main(void)
{
    test_dir_make();
    const char *path = test_path("crash.db");
    struct rungen g;
    rungen_init(&g, 99, ROUND_STRIDE);
    srandom((unsigned)time(NULL));
    int64_t committed_total = 0;

    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
            tap_skip_all("pipe2");
        pid_t pid = fork();
        if (pid < 0)
            tap_skip_all("fork");
        if (pid == 0) {
            close(p[0]);
            child(path, round, p[1]);
        }
        close(p[1]);
        int64_t deadline = monotonic_ms() + 20 + random() % 400;
        int64_t last = -1;
        bool killed = false;
        for (;;) {
            int64_t now = monotonic_ms();
            if (!killed && now >= deadline) {
                kill(pid, SIGKILL);
                killed = true;
            }
            struct pollfd pfd = { .fd = p[0], .events = POLLIN };
            int n = poll(&pfd, 1, killed ? 1000 : (int)MAX(deadline - now, 1));
            if (n <= 0)
                continue;
            int64_t v;
            ssize_t k = read(p[0], &v, sizeof(v));
            if (k == sizeof(v))
                last = v;
            else if (k == 0)
                break; /* the child is gone and the pipe drained */
        }
        close(p[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "round %d: child killed", round);

        struct store *s = NULL;
        is_int(store_open(path, 0, &s), 0, "round %d: reopens after the kill", round);
        if (!s)
            continue;
        is_int(store_check_integrity(s), 0, "round %d: integrity_check ok", round);
        int64_t base = (int64_t)round * ROUND_STRIDE, missing = 0;
        for (int64_t i = base; i <= last; i++) {
            struct store_run_meta m;
            _cleanup_json_ struct json_object *o = NULL;
            if (store_get_run(s, rungen_run_id(&g, i), &o, &m) < 0)
                missing++;
        }
        is_int(missing, 0, "round %d: all %" PRIi64 " committed runs are there", round,
               last >= base ? last - base + 1 : 0);
        committed_total += last >= base ? last - base + 1 : 0;
        store_free(s);
    }
    ok(committed_total > 0, "%" PRIi64 " committed runs checked in all", committed_total);
    return tap_done();
}
