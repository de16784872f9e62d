/* tests/integration/jdtest.c: jobsd for the C integration tests. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/cleanup.h"
#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/integration/jdtest.h"
#include "tests/tap.h"

#define ARGS_MAX 64
#define STOP_WAIT_MS 15000

_noreturn_ static void bail(const char *what)
{
    printf("Bail out! %s\n", what);
    exit(1);
}

static char *read_file(const char *path)
{
    struct buf b = BUF_INIT(64 * MIB);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    char chunk[4096];
    ssize_t n;
    while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0)
        if (buf_append(&b, chunk, (size_t)n) < 0)
            break;
    return buf_steal(&b, NULL);
}

char *jd_read_log(const struct jd *d)
{
    return read_file(d->log);
}

static void clean_environment(void)
{
    static const char *const prefixes[] = { "DATABRICKS_", "JOBSD_",
                                            "CREDENTIALS_DIRECTORY=", "NOTIFY_SOCKET=", "LISTEN_" };
    for (bool again = true; again;) {
        again = false;
        for (char **e = environ; e && *e; e++)
            for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (startswith(*e, prefixes[i])) {
                    char name[128];
                    size_t n = strcspn(*e, "=");
                    if (n >= sizeof(name))
                        continue;
                    memcpy(name, *e, n);
                    name[n] = 0;
                    unsetenv(name);
                    again = true;
                    goto next;
                }
    next:;
    }
}

static void spawn(struct jd *d, uint16_t ws_port, const char *const *env, const char *const *args);

struct jd *jd_start(uint16_t ws_port, const char *const *env, const char *const *args)
{
    struct jd *d = calloc(1, sizeof(*d));
    if (!d)
        bail("out of memory");
    snprintf(d->dir, sizeof(d->dir), "/tmp/jdtest-XXXXXX");
    if (!mkdtemp(d->dir))
        bail("mkdtemp failed");
    snprintf(d->socket, sizeof(d->socket), "%s/jobsd.sock", d->dir);
    snprintf(d->log, sizeof(d->log), "%s/jobsd.log", d->dir);
    snprintf(d->notify, sizeof(d->notify), "%s/jobsd.notify", d->dir);
    spawn(d, ws_port, env, args);
    return d;
}

static void spawn(struct jd *d, uint16_t ws_port, const char *const *env, const char *const *args)
{
    const char *top = getenv("top_builddir");
    char launch[512], jobsd[512], conf[300], host[64];
    if (!top)
        bail("top_builddir is not set");
    snprintf(conf, sizeof(conf), "%s/jobsd.conf", d->dir);
    snprintf(launch, sizeof(launch), "%s/tests/harness/launch", top);
    snprintf(jobsd, sizeof(jobsd), "%s/daemon/jobsd", top);
    snprintf(host, sizeof(host), "http://127.0.0.1:%u", (unsigned)ws_port);
    int cfd = open(conf, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (cfd < 0)
        bail("cannot create jobsd.conf");
    close(cfd);

    clean_environment();
    setenv("HOME", d->dir, 1);
    setenv("DATABRICKS_HOST", host, 1);
    for (size_t i = 0; env && env[i]; i++)
        if (putenv((char *)env[i]) != 0)
            bail("putenv failed");

    char state[300], runtime[300];
    snprintf(state, sizeof(state), "daemon.state_dir=%s", d->dir);
    snprintf(runtime, sizeof(runtime), "daemon.runtime_dir=%s", d->dir);
    const char *argv[ARGS_MAX] = { launch,        "--timeout", "20",
                                   "--log",       d->notify,   "--",
                                   jobsd,         "-c",        conf,
                                   "--socket",    d->socket,   "--tcp",
                                   "127.0.0.1:0", "--set",     "server.socket_group=",
                                   "--set",       state,       "--set",
                                   runtime,       "--set",     "poller.enabled=no" };
    size_t n = 21;
    for (size_t i = 0; args && args[i] && n < ARGS_MAX - 1; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        bail("pipe2 failed");
    int logfd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, logfd, STDERR_FILENO);
    pid_t launcher;
    if (posix_spawn(&launcher, launch, &fa, NULL, (char *const *)argv, environ) != 0)
        bail("cannot run the launcher");
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    close(logfd);
    char line[64] = "";
    ssize_t k = read(p[0], line, sizeof(line) - 1);
    close(p[0]);
    int status;
    waitpid(launcher, &status, 0);
    if (k <= 0) {
        _cleanup_free_ char *log = jd_read_log(d);
        printf("# jobsd log:\n# %s\n", log ? log : "");
        bail("jobsd did not start");
    }
    line[k] = 0;
    line[strcspn(line, " \n")] = 0;
    if (parse_int(line, &d->pid) < 0)
        bail("the launcher printed no pid");

    /* The TCP port and the local token, as a client would learn them. */
    d->unix_client = fwt_client_unix(d->socket);
    struct fwt_resp r;
    fwt_call(d->unix_client, "GET", "/jobsd/v1/status", NULL, "", &r);
    d->tcp_port = (uint16_t)fwt_int(r.json, "listen.tcp_port");
    fwt_resp_done(&r);
    char tokpath[300];
    snprintf(tokpath, sizeof(tokpath), "%s/local-token", d->dir);
    _cleanup_free_ char *tok = read_file(tokpath);
    if (tok) {
        tok[strcspn(tok, "\n")] = 0;
        strscpy(d->local_token, sizeof(d->local_token), tok);
    }
    d->tcp_client = fwt_client_tcp(d->tcp_port, d->local_token);
}

/* Stops jobsd (SIGTERM, or SIGKILL) and waits; returns its exit status, or
 * 128 + the signal. The dir stays. */
static int halt(struct jd *d, bool kill9)
{
    int code = -1;
    if (kill9) {
        kill(d->pid, SIGKILL);
        for (int waited = 0; waited < STOP_WAIT_MS && kill(d->pid, 0) == 0; waited += 10) {
            struct timespec ts = { 0, 10 * 1000 * 1000 };
            nanosleep(&ts, NULL); /* the launcher's recorder reaps it */
        }
        code = 128 + SIGKILL;
    } else
        code = -2;
    fwt_client_free(d->unix_client);
    fwt_client_free(d->tcp_client);
    d->unix_client = d->tcp_client = NULL;
    return code;
}

struct jd *jd_restart(struct jd *d, uint16_t ws_port, const char *const *env,
                      const char *const *args, bool kill9)
{
    if (kill9)
        halt(d, true);
    else {
        int code = jd_stop_keep(d);
        if (code != 0)
            printf("# jobsd exited with %d before the restart\n", code);
    }
    unlink(d->notify);
    spawn(d, ws_port, env, args);
    return d;
}

int jd_stop(struct jd *d)
{
    int code = jd_stop_keep(d);
    /* The dir holds a few files and the socket. */
    static const char *const names[] = { "jobsd.sock",     "jobsd.log",     "jobsd.notify",
                                         "jobsd.conf",     "local-token",   "archive.db",
                                         "archive.db-wal", "archive.db-shm" };
    for (size_t i = 0; i < ELEMENTSOF(names); i++) {
        char path[400];
        snprintf(path, sizeof(path), "%s/%s", d->dir, names[i]);
        unlink(path);
    }
    rmdir(d->dir);
    free(d);
    return code;
}

int jd_stop_keep(struct jd *d)
{
    int code = -1;
    kill(d->pid, SIGTERM);
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    for (int waited = 0; waited < STOP_WAIT_MS; waited += 20) {
        _cleanup_free_ char *n = read_file(d->notify);
        const char *e = n ? strstr(n, "EXIT=") : NULL;
        if (e) {
            char digits[16];
            strscpy(digits, sizeof(digits), e + 5);
            digits[strcspn(digits, "\n")] = 0;
            if (parse_int(digits, &code) < 0)
                code = 255;
            break;
        }
        nanosleep(&ts, NULL);
    }
    if (code < 0)
        kill(d->pid, SIGKILL);
    halt(d, false);
    return code;
}

/* Sends a request on a new connection to a Unix socket and returns the fd,
 * so many can be in flight at once. */
int jd_send_raw(const char *socket_path, const char *method, const char *path, const char *headers)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strscpy(sa.sun_path, sizeof(sa.sun_path), socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -1;
    char req[512];
    int n =
        snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                 method, path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads a whole answer (bounded wait) and returns its status; the headers
 * and body go to ret (malloc'd). */
int jd_read_raw(int fd, char **ret)
{
    struct buf b = BUF_INIT(1 * MIB);
    char chunk[4096];
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 30000) <= 0)
            break;
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n <= 0 || buf_append(&b, chunk, (size_t)n) < 0)
            break;
    }
    close(fd);
    char *text = buf_steal(&b, NULL);
    int status = 0;
    if (text && startswith(text, "HTTP/1.1 ")) {
        char digits[4] = { text[9], text[10], text[11], 0 };
        parse_int(digits, &status);
    }
    *ret = text;
    return status;
}
