#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "daemon/listen.h"
#include "daemon/local.h"
#include "daemon/manager.h"
#include "daemon/router.h"
#include "daemon/server.h"
#include "proto/cleanup.h"
#include "proto/log.h"
#include "proto/strutil.h"

#define LOCAL_TOKEN_BYTES 32
#define LOCAL_TOKEN_MAX 256
#define DRAIN_POLL_USEC (20 * 1000)

struct manager {
    struct manager_settings settings;
    char *strings[8]; /* copies behind the settings' pointers */
    char *local_token;
    sd_event *event;
    sd_event_source *sig_term, *sig_int, *sig_hup, *drain_timer;
    struct router *router;
    struct server *server;
    uint64_t start_usec;
    uint64_t drain_deadline;
    unsigned tcp_port;
    bool own_socket; /* we created socket_path and remove it on exit */
    int exit_code;
};

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int keep_string(struct manager *m, const char **p)
{
    static const size_t n = ELEMENTSOF(((struct manager *)0)->strings);
    if (!*p)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!m->strings[i]) {
            m->strings[i] = strdup(*p);
            if (!m->strings[i])
                return -ENOMEM;
            *p = m->strings[i];
            return 0;
        }
    return -E2BIG;
}

int manager_new(const struct manager_settings *settings, struct manager **ret)
{
    struct manager *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->settings = *settings;
    struct manager_settings *s = &m->settings;
    const char **strings[] = { &s->socket_path,      &s->tcp,
                               &s->state_dir,        &s->local_token,
                               &s->local_token_file, &s->workspace_host,
                               &s->workspace_id };
    for (size_t i = 0; i < ELEMENTSOF(strings); i++)
        if (keep_string(m, strings[i]) < 0) {
            manager_free(m);
            return -ENOMEM;
        }
    m->start_usec = now_usec();
    *ret = m;
    return 0;
}

struct manager *manager_free(struct manager *m)
{
    if (!m)
        return NULL;
    m->server = server_free(m->server);
    m->router = router_free(m->router);
    sd_event_source_disable_unref(m->sig_term);
    sd_event_source_disable_unref(m->sig_int);
    sd_event_source_disable_unref(m->sig_hup);
    sd_event_source_disable_unref(m->drain_timer);
    sd_event_unref(m->event);
    if (m->own_socket && m->settings.socket_path)
        unlink(m->settings.socket_path);
    if (m->local_token) {
        explicit_bzero(m->local_token, strlen(m->local_token));
        free(m->local_token);
    }
    for (size_t i = 0; i < ELEMENTSOF(m->strings); i++)
        free(m->strings[i]);
    free(m);
    return NULL;
}

sd_event *manager_event(struct manager *m)
{
    return m->event;
}

uint64_t manager_uptime_usec(struct manager *m)
{
    return now_usec() - m->start_usec;
}

unsigned manager_tcp_port(struct manager *m)
{
    return m->tcp_port;
}

const struct manager_settings *manager_settings(struct manager *m)
{
    return &m->settings;
}

struct server *manager_server(struct manager *m)
{
    return m->server;
}

/* Reads the local token from path, which must be a regular file of ours
 * that nobody else can read. */
static int read_local_token(const char *path, char **ret)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    char buf[LOCAL_TOKEN_MAX + 1];

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return log_error_errno(EINVAL, "%s is not a regular file", path);
    if ((st.st_mode & 077) != 0 || st.st_uid != geteuid())
        return log_error_errno(EPERM,
                               "%s must be owned by uid %u and not readable by others "
                               "(chown %u %s; chmod 600 %s)",
                               path, (unsigned)geteuid(), (unsigned)geteuid(), path, path);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n < 0)
        return -errno;
    buf[n] = 0;
    buf[strcspn(buf, "\r\n")] = 0;
    if (strlen(buf) < 16)
        return log_error_errno(EINVAL, "%s holds no usable token (at least 16 characters)", path);
    char *t = strdup(buf);
    explicit_bzero(buf, sizeof(buf));
    if (!t)
        return -ENOMEM;
    *ret = t;
    return 0;
}

static int create_local_token(const char *path, char **ret)
{
    unsigned char raw[LOCAL_TOKEN_BYTES];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -EIO;
    _cleanup_free_ char *hex = hexmem(raw, sizeof(raw));
    explicit_bzero(raw, sizeof(raw));
    if (!hex)
        return -ENOMEM;
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    size_t len = strlen(hex);
    if (write(fd, hex, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
        int r = -errno;
        unlink(path);
        return r ? r : -EIO;
    }
    log_info("Created the local token for TCP clients in %s", path);
    *ret = TAKE_PTR(hex);
    return 0;
}

static int setup_local_token(struct manager *m)
{
    const struct manager_settings *s = &m->settings;
    _cleanup_free_ char *path = NULL;
    int r;

    if (s->local_token) {
        m->local_token = strdup(s->local_token);
        if (!m->local_token)
            return -ENOMEM;
    } else {
        if (s->local_token_file)
            path = strdup(s->local_token_file);
        else
            path = strjoin(s->state_dir ? s->state_dir : ".", "/local-token");
        if (!path)
            return -ENOMEM;
        r = read_local_token(path, &m->local_token);
        if (r == -ENOENT)
            r = create_local_token(path, &m->local_token);
        if (r < 0)
            return log_error_errno(r, "Failed to set up the local token in %s: %m", path);
    }
    log_add_secret(m->local_token);
    return 0;
}

static int open_listeners(struct manager *m)
{
    const struct manager_settings *s = &m->settings;
    int n = sd_listen_fds(1), r, fd;

    if (n < 0)
        return log_error_errno(n, "Failed to read the sockets systemd passed: %m");
    for (int i = 0; i < n; i++) {
        enum listener_kind kind;
        fd = SD_LISTEN_FDS_START + i;
        if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 || listen_kind(fd, &kind) < 0)
            return log_error_errno(EINVAL, "fd %d from systemd is not a listening stream socket",
                                   fd);
        if (kind == LISTENER_TCP) {
            m->tcp_port = listen_port(fd);
            if (!m->local_token && (r = setup_local_token(m)) < 0)
                return r;
        }
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        r = server_add_listener(m->server, fd, kind);
        if (r < 0)
            return r;
        log_info("Serving on a %s socket from systemd (fd %d)",
                 kind == LISTENER_UNIX ? "Unix" : "TCP", fd);
    }
    if (n > 0)
        return 0;

    if (s->socket_path) {
        r = listen_unix(s->socket_path, s->socket_mode, s->socket_gid, &fd);
        if (r == -EADDRINUSE)
            return log_error_errno(r, "Another jobsd already answers on %s", s->socket_path);
        if (r == -EEXIST)
            return log_error_errno(r, "%s exists and is not a socket; not touching it",
                                   s->socket_path);
        if (r < 0)
            return log_error_errno(r, "Failed to listen on %s: %m", s->socket_path);
        m->own_socket = true;
        r = server_add_listener(m->server, fd, LISTENER_UNIX);
        if (r < 0)
            return r;
        log_info("Listening on %s", s->socket_path);
    }
    if (s->tcp) {
        r = listen_tcp(s->tcp, s->tcp_allow_non_loopback, &fd, &m->tcp_port);
        if (r == -EPERM)
            return log_error_errno(r,
                                   "Refusing to listen on %s: not a loopback address "
                                   "(set tcp_allow_non_loopback = yes to allow it)",
                                   s->tcp);
        if (r < 0)
            return log_error_errno(r, "Failed to listen on %s: %m", s->tcp);
        r = server_add_listener(m->server, fd, LISTENER_TCP);
        if (r < 0)
            return r;
        log_info("Listening on TCP port %u", m->tcp_port);
    }
    if (!s->socket_path && !s->tcp)
        return log_error_errno(EINVAL, "Nothing to listen on: no socket, no TCP, no sockets "
                                       "from systemd");
    return 0;
}

static int on_drain_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
    struct manager *m = userdata;
    struct server_stats st;
    server_get_stats(m->server, &st);
    if (st.in_flight == 0 || now_usec() >= m->drain_deadline) {
        if (st.in_flight)
            log_warning("Stopping with %u requests unanswered after the drain timeout",
                        st.in_flight);
        sd_event_exit(m->event, m->exit_code);
        return 0;
    }
    sd_event_source_set_time_relative(src, DRAIN_POLL_USEC);
    sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
    return 0;
}

static int on_terminate(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
    struct manager *m = userdata;
    if (m->drain_timer) {
        log_notice("Second signal: stopping now");
        sd_event_exit(m->event, m->exit_code);
        return 0;
    }
    log_info("Received SIG%s, draining requests in flight", sigabbrev_np((int)si->ssi_signo));
    sd_notify(0, "STOPPING=1\nSTATUS=Draining requests in flight");
    server_drain(m->server);
    m->drain_deadline = now_usec() + m->settings.drain_timeout_usec;
    return sd_event_add_time_relative(m->event, &m->drain_timer, CLOCK_MONOTONIC, 0, 1000,
                                      on_drain_timer, m);
}

static int on_reload(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
    log_notice("SIGHUP: configuration reload is not available in this build, ignoring");
    return 0;
}

int manager_start(struct manager *m)
{
    const struct manager_settings *s = &m->settings;
    int r;

    r = sd_event_default(&m->event);
    if (r < 0)
        return log_error_errno(r, "Failed to create the event loop: %m");

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    if ((r = sd_event_add_signal(m->event, &m->sig_term, SIGTERM, on_terminate, m)) < 0 ||
        (r = sd_event_add_signal(m->event, &m->sig_int, SIGINT, on_terminate, m)) < 0 ||
        (r = sd_event_add_signal(m->event, &m->sig_hup, SIGHUP, on_reload, m)) < 0)
        return log_error_errno(r, "Failed to watch signals: %m");

    if (s->tcp && (r = setup_local_token(m)) < 0)
        return r;

    struct router_settings rs = { .local_token = m->local_token,
                                  .read_only_gid = s->read_only_gid };
    r = router_new(&rs, &m->router);
    if (r < 0)
        return log_error_errno(r, "Failed to set up the router: %m");
    local_register(m->router, m);

    struct server_settings ss = {
        .max_connections = s->max_connections,
        .connection_memory = s->connection_memory,
        .request_timeout_usec = s->request_timeout_usec,
        .idle_timeout_s = (unsigned)MAX(1, s->request_timeout_usec / 1000000u),
    };
    struct server_handlers h = router_handlers(m->router);
    r = server_new(m->event, &ss, &h, &m->server);
    if (r < 0)
        return log_error_errno(r, "Failed to set up the server: %m");
    r = open_listeners(m);
    if (r < 0)
        return r;

    /* Sends WATCHDOG=1 from the loop when systemd asks for it. */
    r = sd_event_set_watchdog(m->event, 1);
    if (r < 0)
        log_warning_errno(r, "Failed to enable the watchdog, ignoring: %m");

    sd_notify(0, "READY=1\nSTATUS=Serving");
    return 0;
}

int manager_run(struct manager *m)
{
    int r = sd_event_loop(m->event);
    if (r < 0)
        return log_error_errno(r, "Event loop failed: %m");
    return r;
}
