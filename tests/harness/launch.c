/* launch: starts a daemon with a NOTIFY_SOCKET of its own and returns once
 * the daemon said READY=1, printing its pid. Tests wait on readiness with it
 * instead of sleeping.
 *
 *   launch [--timeout SECONDS] [--notify-log FILE] -- COMMAND [ARGS...]
 *
 * Exit 0 with the pid on stdout once READY=1 arrived; 1 if the command
 * exited or the timeout passed first (its exit status is reported). With
 * --notify-log, every message the daemon sends is appended to FILE, one a
 * line, until the daemon exits (the launcher stays behind to record them),
 * and then a last line EXIT=<status>. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/cleanup.h"
#include "proto/strutil.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void record(FILE *log, const char *msg, size_t len)
{
    if (!log)
        return;
    for (size_t i = 0; i < len; i++)
        fputc(msg[i] == '\n' ? ' ' : msg[i], log);
    fputc('\n', log);
    fflush(log);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "timeout", required_argument, NULL, 't' },
        { "notify-log", required_argument, NULL, 'l' },
        {},
    };
    int timeout_s = 10, c;
    const char *log_path = NULL;
    while ((c = getopt_long(argc, argv, "+t:l:", options, NULL)) >= 0)
        switch (c) {
        case 't':
            if (parse_int(optarg, &timeout_s) < 0 || timeout_s <= 0) {
                fprintf(stderr, "launch: bad timeout\n");
                return 2;
            }
            break;
        case 'l':
            log_path = optarg;
            break;
        default:
            return 2;
        }
    if (optind >= argc) {
        fprintf(stderr, "usage: launch [--timeout S] [--notify-log FILE] -- COMMAND...\n");
        return 2;
    }

    char dir[] = "/tmp/launch-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("launch: mkdtemp");
        return 1;
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("launch: notify socket");
        return 1;
    }
    FILE *log = NULL;
    if (log_path && !(log = fopen(log_path, "ae"))) {
        perror("launch: notify log");
        return 1;
    }

    /* The recorder is the daemon's parent (it reaps it and records EXIT=);
     * we only wait on a pipe for the pid it sends at READY=1, so that a
     * caller's $(launch ...) returns while the recorder stays behind. */
    int status_pipe[2];
    if (pipe2(status_pipe, O_CLOEXEC) < 0) {
        perror("launch: pipe");
        return 1;
    }
    pid_t recorder = fork();
    if (recorder < 0) {
        perror("launch: fork");
        return 1;
    }
    if (recorder > 0) {
        close(status_pipe[1]);
        char buf[32];
        ssize_t n = read(status_pipe[0], buf, sizeof(buf) - 1);
        if (n <= 0)
            return 1;
        buf[n] = 0;
        fputs(buf, stdout);
        return 0;
    }
    close(status_pipe[0]);
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull >= 0) {
        dup3(devnull, STDOUT_FILENO, O_CLOEXEC);
        close(devnull);
    }

    pid_t pid = fork();
    if (pid < 0) {
        perror("launch: fork");
        return 1;
    }
    if (pid == 0) {
        setenv("NOTIFY_SOCKET", sa.sun_path, 1);
        /* Not our stdout: $(launch ...) must not wait for the daemon. */
        dup2(STDERR_FILENO, STDOUT_FILENO);
        close(status_pipe[1]);
        execvp(argv[optind], argv + optind);
        fprintf(stderr, "launch: cannot run %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }

    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    bool ready = false;
    for (;;) {
        int status;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            char line[64];
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            snprintf(line, sizeof(line), "EXIT=%d", code);
            record(log, line, strlen(line));
            if (!ready)
                fprintf(stderr, "launch: %s exited (status %d) before READY=1\n", argv[optind],
                        code);
            break;
        }
        int64_t left = ready ? 200 : deadline - now_ms();
        if (!ready && left <= 0) {
            fprintf(stderr, "launch: no READY=1 within %d s\n", timeout_s);
            kill(pid, SIGTERM);
            waitpid(pid, NULL, 0);
            break;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, (int)MIN(left, 200)) <= 0)
            continue;
        char msg[4096];
        ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
        if (n <= 0)
            continue;
        msg[n] = 0;
        record(log, msg, (size_t)n);
        if (!ready && (strncmp(msg, "READY=1", 7) == 0 || strstr(msg, "\nREADY=1"))) {
            char line[32];
            int len = snprintf(line, sizeof(line), "%d\n", (int)pid);
            ready = true;
            if (write(status_pipe[1], line, (size_t)len) != len)
                perror("launch: status pipe");
            close(status_pipe[1]);
            if (!log)
                break;
        }
    }
    unlink(sa.sun_path);
    rmdir(dir);
    if (log)
        fclose(log);
    return ready ? 0 : 1;
}
