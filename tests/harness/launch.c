/* launch: starts a daemon and returns once it is ready, printing its pid.
 * Tests wait on readiness with it instead of sleeping.
 *
 *   launch [--timeout S] [--log FILE] [--line PREFIX] -- COMMAND [ARGS...]
 *
 * Ready means: the daemon sent READY=1 to the NOTIFY_SOCKET launch gives it
 * (jobsd), or, with --line, it printed a line starting with PREFIX on its
 * standard output (fakews' "LISTENING <port>"). Then launch prints
 * "<pid>" (or "<pid> <rest of that line>") and exits 0; if the command
 * exits or the timeout passes first, it exits 1 and says why on stderr.
 *
 * A recorder process stays behind as the daemon's parent while there is
 * something to record: with --log, every notify message and output line is
 * appended to FILE (one a line), and when the daemon exits a last line
 * EXIT=<status>; with --line, the daemon's further output is drained so it
 * never blocks or dies on a full pipe. */
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

#define LINE_MAX_BYTES 4096

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

struct recorder {
    FILE *log;
    const char *prefix;
    int status_fd; /* -1 once ready was reported */
    pid_t pid;
    char line[LINE_MAX_BYTES];
    size_t line_len;
};

static void report_ready(struct recorder *r, const char *rest)
{
    char out[LINE_MAX_BYTES + 32];
    int len = rest ? snprintf(out, sizeof(out), "%d %s\n", (int)r->pid, rest)
                   : snprintf(out, sizeof(out), "%d\n", (int)r->pid);
    if (r->status_fd < 0)
        return;
    if (write(r->status_fd, out, (size_t)MIN(len, (int)sizeof(out) - 1)) < 0)
        perror("launch: status pipe");
    close(r->status_fd);
    r->status_fd = -1;
}

/* One complete output line of the daemon. */
static void on_line(struct recorder *r, const char *line)
{
    record(r->log, line, strlen(line));
    if (r->prefix && r->status_fd >= 0 && strncmp(line, r->prefix, strlen(r->prefix)) == 0) {
        const char *rest = line + strlen(r->prefix);
        while (*rest == ' ')
            rest++;
        report_ready(r, rest);
    }
}

/* Returns what read() returned: 0 at the end of the output. */
static ssize_t read_output(struct recorder *r, int fd)
{
    char buf[LINE_MAX_BYTES];
    ssize_t n = read(fd, buf, sizeof(buf));
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n' || r->line_len + 1 >= sizeof(r->line)) {
            r->line[r->line_len] = 0;
            on_line(r, r->line);
            r->line_len = 0;
            if (buf[i] == '\n')
                continue;
        }
        r->line[r->line_len++] = buf[i];
    }
    return n;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "timeout", required_argument, NULL, 't' },
        { "log", required_argument, NULL, 'l' },
        { "notify-log", required_argument, NULL, 'l' },
        { "line", required_argument, NULL, 'p' },
        {},
    };
    struct recorder rec = { .status_fd = -1 };
    int timeout_s = 10, c;
    const char *log_path = NULL;
    while ((c = getopt_long(argc, argv, "+t:l:p:", options, NULL)) >= 0)
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
        case 'p':
            rec.prefix = optarg;
            break;
        default:
            return 2;
        }
    if (optind >= argc) {
        fprintf(stderr, "usage: launch [--timeout S] [--log FILE] [--line PREFIX] -- COMMAND...\n");
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
    if (log_path && !(rec.log = fopen(log_path, "ae"))) {
        perror("launch: log");
        return 1;
    }

    /* The recorder is the daemon's parent (it reaps it and records EXIT=);
     * we only wait on a pipe for what it sends when the daemon is ready, so
     * that a caller's $(launch ...) returns while the recorder stays. */
    int status_pipe[2], out_pipe[2] = { -1, -1 };
    if (pipe2(status_pipe, O_CLOEXEC) < 0 || (rec.prefix && pipe2(out_pipe, O_CLOEXEC) < 0)) {
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
        char buf[LINE_MAX_BYTES + 32];
        ssize_t n = read(status_pipe[0], buf, sizeof(buf) - 1);
        if (n <= 0)
            return 1;
        buf[n] = 0;
        fputs(buf, stdout);
        return 0;
    }
    close(status_pipe[0]);
    rec.status_fd = status_pipe[1];
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull >= 0) {
        dup3(devnull, STDOUT_FILENO, O_CLOEXEC);
        close(devnull);
    }

    rec.pid = fork();
    if (rec.pid < 0) {
        perror("launch: fork");
        return 1;
    }
    if (rec.pid == 0) {
        setenv("NOTIFY_SOCKET", sa.sun_path, 1);
        /* Never our caller's stdout: $(launch ...) must not wait for it. */
        if (rec.prefix)
            dup2(out_pipe[1], STDOUT_FILENO);
        else
            dup2(STDERR_FILENO, STDOUT_FILENO);
        execvp(argv[optind], argv + optind);
        fprintf(stderr, "launch: cannot run %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    if (rec.prefix)
        close(out_pipe[1]);

    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    bool ready = false;
    for (;;) {
        int status;
        ready = rec.status_fd < 0;
        pid_t w = waitpid(rec.pid, &status, WNOHANG);
        if (w == rec.pid) {
            char line[64];
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            /* What it printed last, up to the end of its output. */
            while (out_pipe[0] >= 0 &&
                   poll(&(struct pollfd){ .fd = out_pipe[0], .events = POLLIN }, 1, 0) > 0 &&
                   read_output(&rec, out_pipe[0]) > 0)
                ;
            snprintf(line, sizeof(line), "EXIT=%d", code);
            record(rec.log, line, strlen(line));
            if (!ready)
                fprintf(stderr, "launch: %s exited (status %d) before it was ready\n", argv[optind],
                        code);
            break;
        }
        if (ready && !rec.log && !rec.prefix)
            break;
        int64_t left = ready ? 200 : deadline - now_ms();
        if (!ready && left <= 0) {
            fprintf(stderr, "launch: %s was not ready within %d s\n", argv[optind], timeout_s);
            kill(rec.pid, SIGTERM);
            waitpid(rec.pid, NULL, 0);
            break;
        }
        struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
                               { .fd = out_pipe[0], .events = POLLIN } };
        if (poll(p, rec.prefix ? 2 : 1, (int)MIN(left, 200)) <= 0)
            continue;
        if (out_pipe[0] >= 0 && (p[1].revents & (POLLIN | POLLHUP)) &&
            read_output(&rec, out_pipe[0]) <= 0)
            out_pipe[0] = safe_close(out_pipe[0]); /* poll() skips a negative fd */
        if (!(p[0].revents & POLLIN))
            continue;
        char msg[LINE_MAX_BYTES];
        ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
        if (n <= 0)
            continue;
        msg[n] = 0;
        record(rec.log, msg, (size_t)n);
        if (!rec.prefix && (strncmp(msg, "READY=1", 7) == 0 || strstr(msg, "\nREADY=1")))
            report_ready(&rec, NULL);
    }
    unlink(sa.sun_path);
    rmdir(dir);
    if (rec.log)
        fclose(rec.log);
    return ready ? 0 : 1;
}
