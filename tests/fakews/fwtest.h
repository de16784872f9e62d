/* tests/fakews/fwtest.h: what the fakews tests share: start fakews (from
 * $FAKEWS) on a free port and wait for its LISTENING line, stop it, and
 * make HTTP requests with libcurl. A struct fwt owns the child process; a
 * struct fwt_resp owns its body and parsed JSON (fwt_resp_done). */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/macro.h"

#define FWT_TOKEN "test-token-0123"

struct fwt;

struct fwt_resp {
    long status;  /* 0 when the transfer failed */
    int curl_err; /* CURLcode */
    char *body;
    size_t len;
    struct json_object *json; /* NULL unless the body is JSON */
    char retry_after[32];
    char reason_phrase[128];
    char content_type[64];
    char source[16]; /* X-Jobsd-Source, from jobsd */
    char age[16];    /* Age, from jobsd */
};

/* Starts fakews with --port 0 --token FWT_TOKEN --die-with-parent and the
 * extra arguments (NULL-terminated). Exits the test (bail out) on failure.
 * The process is killed at exit whatever happens. */
struct fwt *fwt_start(const char *const *extra);
/* A client only, for jobsd: requests go to the Unix socket path, or to TCP
 * port with token as the default bearer token. Freed with fwt_client_free. */
struct fwt *fwt_client_unix(const char *path);
struct fwt *fwt_client_tcp(uint16_t port, const char *token);
void fwt_client_free(struct fwt *f);

/* SIGTERM, then waits; returns the exit status (or 128+signal). */
int fwt_stop(struct fwt *f);
uint16_t fwt_port(const struct fwt *f);
/* A new connection for every request (default: reuse). Note that libcurl
 * silently re-sends a request once when a reused connection closes without
 * an answer, so fault tests that drop connections want fresh ones. */
void fwt_set_fresh(struct fwt *f, bool fresh);
/* One extra request header ("Name: value") on every request; NULL: none.
 * Every request also carries User-Agent: fwtest/1.0. */
void fwt_set_header(struct fwt *f, const char *header);

/* method path [body]. token: NULL sends FWT_TOKEN, "" none, else that token.
 * Returns the HTTP status (0 on a transport error). */
long fwt_call(struct fwt *f, const char *method, const char *path, const char *body,
              const char *token, struct fwt_resp *ret);
/* The same with a printf-built path. */
long fwt_get(struct fwt *f, struct fwt_resp *ret, const char *fmt, ...) _printf_(3, 4);
long fwt_post(struct fwt *f, const char *path, struct fwt_resp *ret, const char *fmt, ...)
    _printf_(4, 5);
void fwt_resp_done(struct fwt_resp *r);

/* Field access on a response: "a.b.0.c" paths; arrays by index. */
struct json_object *fwt_path(struct json_object *o, const char *path);
int64_t fwt_int(struct json_object *o, const char *path);
const char *fwt_str(struct json_object *o, const char *path);
size_t fwt_len(struct json_object *o, const char *path);

/* fakews' count of requests to one endpoint (by its SDK name), 0 if none. */
int64_t fwt_counter(struct fwt *f, const char *endpoint);

/* Moves the manual clock. */
void fwt_advance(struct fwt *f, int64_t ms);
/* Creates a job from settings JSON; returns its id (0 on failure). */
int64_t fwt_create_job(struct fwt *f, const char *settings);
/* run-now of job; returns the run id (0 on failure). */
int64_t fwt_run_now(struct fwt *f, int64_t job_id);
/* runs/get's state.life_cycle_state of run (static buffer). */
const char *fwt_life_cycle(struct fwt *f, int64_t run_id);
