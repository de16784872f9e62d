/* tests/fakews/test-fakews-jobs.c: jobs create/get/list/reset/update/delete:
 * defaults, validation errors, paging of lists and of jobs/get arrays. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/strutil.h"
#include "tests/fakews/fwtest.h"
#include "tests/tap.h"

static void expect_400(struct fwt *f, const char *method, const char *path, const char *body,
                       const char *what)
{
    struct fwt_resp r;
    fwt_call(f, method, path, body, NULL, &r);
    is_int(r.status, 400, "%s: 400", what);
    is_str(fwt_str(r.json, "error_code"), "INVALID_PARAMETER_VALUE", "%s: code", what);
    fwt_resp_done(&r);
}

static void test_create_get(struct fwt *f)
{
    struct fwt_resp r;
    int64_t id = fwt_create_job(f, "{}");
    ok(id > ((int64_t)1 << 48), "job ids are above 2^48 (%" PRId64 ")", id);
    ok((int64_t)(double)id != id || (int64_t)(double)(id + 1) != id + 1,
       "and past what a double holds exactly");
    fwt_get(f, &r, "/api/2.2/jobs/get?job_id=%" PRId64, id);
    is_int(r.status, 200, "jobs/get");
    is_int(fwt_int(r.json, "job_id"), id, "job_id round-trips as int64");
    is_str(fwt_str(r.json, "settings.name"), "Untitled", "default name");
    is_int(fwt_int(r.json, "settings.max_concurrent_runs"), 1, "default max_concurrent_runs");
    is_int(fwt_int(r.json, "settings.timeout_seconds"), 0, "default timeout_seconds");
    is_str(fwt_str(r.json, "settings.format"), "MULTI_TASK", "format");
    ok(fwt_path(r.json, "settings.queue.enabled") &&
           json_object_get_boolean(fwt_path(r.json, "settings.queue.enabled")),
       "created through 2.2: queue enabled");
    is_str(fwt_str(r.json, "creator_user_name"), "fakews-user@example.com", "creator");
    is_str(fwt_str(r.json, "run_as_user_name"), "fakews-user@example.com", "run_as_user_name");
    ok(fwt_int(r.json, "created_time") > 0, "created_time");
    ok(!fwt_path(r.json, "next_page_token"), "no next_page_token on a small job");
    fwt_resp_done(&r);

    fwt_call(f, "POST", "/api/2.1/jobs/create", "{\"name\":\"old\"}", NULL, &r);
    int64_t old = fwt_int(r.json, "job_id");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.1/jobs/get?job_id=%" PRId64, old);
    ok(!fwt_path(r.json, "settings.queue"), "created through 2.1: no queue");
    fwt_resp_done(&r);

    fwt_get(f, &r, "/api/2.2/jobs/get?job_id=%" PRId64, id + 1000);
    is_int(r.status, 400, "unknown job: 400");
    is_str(fwt_str(r.json, "error_code"), "INVALID_PARAMETER_VALUE", "INVALID_PARAMETER_VALUE");
    char msg[64];
    snprintf(msg, sizeof(msg), "Job %" PRId64 " does not exist.", id + 1000);
    is_str(fwt_str(r.json, "message"), msg, "the exact does-not-exist text");
    fwt_resp_done(&r);
    expect_400(f, "GET", "/api/2.2/jobs/get", NULL, "jobs/get without job_id");
    expect_400(f, "GET", "/api/2.2/jobs/get?job_id=abc", NULL, "jobs/get job_id=abc");
    expect_400(f, "GET", "/api/2.2/jobs/get?job_id=1.5", NULL, "jobs/get job_id=1.5");

    expect_400(f, "POST", "/api/2.2/jobs/create",
               "{\"tasks\":[{\"task_key\":\"a\"},{\"task_key\":\"a\"}]}", "duplicate task_key");
    expect_400(f, "POST", "/api/2.2/jobs/create", "{\"tasks\":[{\"notebook_task\":{}}]}",
               "a task without task_key");
    expect_400(f, "POST", "/api/2.2/jobs/create",
               "{\"tasks\":[{\"task_key\":\"a\",\"depends_on\":[{\"task_key\":\"zz\"}]}]}",
               "depends_on an unknown task");
    expect_400(f, "POST", "/api/2.2/jobs/create", "{\"max_concurrent_runs\":1001}",
               "max_concurrent_runs over 1000");
    expect_400(f, "POST", "/api/2.2/jobs/create", "{\"max_concurrent_runs\":\"1\"}",
               "max_concurrent_runs as a string");
    expect_400(f, "POST", "/api/2.2/jobs/create",
               "{\"tasks\":[{\"task_key\":\"a\",\"job_cluster_key\":\"c\"}]}",
               "an undefined job cluster");
    expect_400(f, "POST", "/api/2.2/jobs/create", "{\"parameters\":[{\"name\":\"p\"}]}",
               "a parameter without default");
}

static void test_list(struct fwt *f)
{
    struct fwt_resp r;
    int64_t ids[30];
    for (int i = 0; i < 30; i++) {
        char s[64];
        snprintf(s, sizeof(s), "{\"name\":\"%s-%d\"}", i % 3 ? "List" : "other", i);
        ids[i] = fwt_create_job(f, s);
    }
    expect_400(f, "GET", "/api/2.2/jobs/list?limit=101", NULL, "jobs/list limit=101");
    expect_400(f, "GET", "/api/2.2/jobs/list?limit=-1", NULL, "jobs/list limit=-1");
    expect_400(f, "GET", "/api/2.2/jobs/list?limit=x", NULL, "jobs/list limit=x");
    fwt_get(f, &r, "/api/2.2/jobs/list?limit=100");
    is_int(r.status, 200, "limit=100 is fine");
    fwt_resp_done(&r);

    fwt_get(f, &r, "/api/2.2/jobs/list");
    is_int((int64_t)fwt_len(r.json, "jobs"), 20, "default limit 20");
    is_int(fwt_int(r.json, "jobs.0.job_id"), ids[29], "newest first");
    ok(!fwt_path(r.json, "jobs.0.settings.tasks"), "no tasks without expand_tasks");
    fwt_resp_done(&r);

    /* Walk all pages of 7. */
    char token[256] = "", first_next[256] = "";
    size_t total = 0, pages = 0;
    bool last_has_no_token = false, all_have_more = true;
    int64_t prev_id = INT64_MAX;
    bool ordered = true;
    for (;;) {
        fwt_get(f, &r, "/api/2.2/jobs/list?limit=7%s%s", *token ? "&page_token=" : "", token);
        size_t n = fwt_len(r.json, "jobs");
        for (size_t i = 0; i < n; i++) {
            char p[48];
            snprintf(p, sizeof(p), "jobs.%zu.job_id", i);
            int64_t id = fwt_int(r.json, p);
            ordered = ordered && id < prev_id;
            prev_id = id;
        }
        total += n;
        pages++;
        const char *next = fwt_str(r.json, "next_page_token");
        if (pages == 1 && next)
            strscpy(first_next, sizeof(first_next), next);
        if (!next) {
            last_has_no_token = !json_object_get_boolean(fwt_path(r.json, "has_more"));
            fwt_resp_done(&r);
            break;
        }
        all_have_more = all_have_more && json_object_get_boolean(fwt_path(r.json, "has_more"));
        strscpy(token, sizeof(token), next);
        fwt_resp_done(&r);
        if (pages > 20)
            break;
    }
    is_int((int64_t)total, 32, "all 32 jobs over the pages");
    is_int((int64_t)pages, 5, "in 5 pages of 7");
    ok(ordered, "in strictly descending id order, no repeats");
    ok(all_have_more, "has_more on every page but the last");
    ok(last_has_no_token, "the last page: no next_page_token, has_more false");

    fwt_get(f, &r, "/api/2.2/jobs/list?limit=7&page_token=%s", first_next);
    const char *prev = fwt_str(r.json, "prev_page_token");
    ok(prev != NULL, "page 2 has a prev_page_token");
    char prevtok[256];
    strscpy(prevtok, sizeof(prevtok), prev ? prev : "");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/list?limit=7&page_token=%s", prevtok);
    is_int(fwt_int(r.json, "jobs.0.job_id"), ids[29], "prev_page_token leads back to page 1");
    is_int((int64_t)fwt_len(r.json, "jobs"), 7, "a full page 1");
    ok(!fwt_path(r.json, "prev_page_token"), "page 1 has no prev_page_token");
    fwt_resp_done(&r);
    expect_400(f, "GET", "/api/2.2/jobs/list?page_token=zz", NULL, "a bad page token");

    fwt_get(f, &r, "/api/2.2/jobs/list?name=list-4&limit=100");
    is_int((int64_t)fwt_len(r.json, "jobs"), 1, "name: exact, case-insensitive");
    is_int(fwt_int(r.json, "jobs.0.job_id"), ids[4], "the right job");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/list?name=nothing");
    ok(!fwt_path(r.json, "jobs"), "an empty list has no jobs key");
    ok(!fwt_path(r.json, "next_page_token"), "and no next_page_token");
    fwt_resp_done(&r);
}

static void test_array_paging(struct fwt *f)
{
    struct fwt_resp r;
    struct buf b = BUF_INIT(1 * MIB);
    buf_appendf(&b, "{\"name\":\"big\",\"tasks\":[");
    for (int i = 0; i < 150; i++)
        buf_appendf(&b, "%s{\"task_key\":\"t%03d\",\"notebook_task\":{\"notebook_path\":\"/n\"}}",
                    i ? "," : "", i);
    buf_appendf(&b, "]}");
    int64_t id = fwt_create_job(f, b.data);
    buf_done(&b);
    fwt_get(f, &r, "/api/2.2/jobs/get?job_id=%" PRId64, id);
    is_int((int64_t)fwt_len(r.json, "settings.tasks"), 100, "jobs/get: 100 tasks on page 1");
    const char *t = fwt_str(r.json, "next_page_token");
    ok(t != NULL, "with next_page_token");
    char token[256];
    strscpy(token, sizeof(token), t ? t : "");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/get?job_id=%" PRId64 "&page_token=%s", id, token);
    is_int((int64_t)fwt_len(r.json, "settings.tasks"), 50, "50 on page 2");
    is_str(fwt_str(r.json, "settings.tasks.0.task_key"), "t100", "continuing at t100");
    ok(!fwt_path(r.json, "next_page_token"), "no token on the last page");
    is_str(fwt_str(r.json, "settings.name"), "big", "scalars repeat");
    fwt_resp_done(&r);

    fwt_get(f, &r, "/api/2.2/jobs/list?expand_tasks=true&name=big");
    is_int((int64_t)fwt_len(r.json, "jobs.0.settings.tasks"), 100, "list expand_tasks: 100");
    ok(json_object_get_boolean(fwt_path(r.json, "jobs.0.has_more")), "and has_more on the job");
    fwt_resp_done(&r);
}

static void test_task_defaults(struct fwt *f)
{
    struct fwt_resp r;
    int64_t id = fwt_create_job(
        f, "{\"name\":\"d\",\"run_as\":{\"user_name\":\"someone@example.com\"},\"tasks\":["
           "{\"task_key\":\"z\"},{\"task_key\":\"a\"},{\"task_key\":\"m\",\"depends_on\":["
           "{\"task_key\":\"z\"},{\"task_key\":\"a\"}]}]}");
    fwt_get(f, &r, "/api/2.2/jobs/get?job_id=%" PRId64, id);
    is_str(fwt_str(r.json, "settings.tasks.0.run_if"), "ALL_SUCCESS", "task default run_if");
    is_int(fwt_int(r.json, "settings.tasks.0.timeout_seconds"), 0, "task default timeout_seconds");
    ok(fwt_path(r.json, "settings.tasks.0.email_notifications") != NULL,
       "task default email_notifications");
    is_str(fwt_str(r.json, "settings.tasks.2.depends_on.0.task_key"), "a",
           "depends_on comes back sorted by task_key");
    is_str(fwt_str(r.json, "run_as_user_name"), "someone@example.com",
           "run_as_user_name follows run_as");
    fwt_resp_done(&r);
    fwt_post(f, "/api/2.2/jobs/reset", &r,
             "{\"job_id\":%" PRId64 ",\"new_settings\":{\"name\":\"d2\"}}", id);
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/get?job_id=%" PRId64, id);
    is_str(fwt_str(r.json, "settings.run_as.user_name"), "someone@example.com",
           "reset without run_as keeps it (a cloud quirk)");
    fwt_resp_done(&r);
}

static void test_reset_update_delete(struct fwt *f)
{
    struct fwt_resp r;
    int64_t id =
        fwt_create_job(f, "{\"name\":\"u\",\"description\":\"d\",\"tasks\":["
                          "{\"task_key\":\"a\",\"notebook_task\":{\"notebook_path\":\"/a\"}},"
                          "{\"task_key\":\"b\",\"notebook_task\":{\"notebook_path\":\"/b\"}}]}");
    fwt_post(f, "/api/2.2/jobs/update", &r,
             "{\"job_id\":%" PRId64 ",\"new_settings\":{\"tasks\":["
             "{\"task_key\":\"b\",\"notebook_task\":{\"notebook_path\":\"/b2\"}},"
             "{\"task_key\":\"c\",\"notebook_task\":{\"notebook_path\":\"/c\"}}],"
             "\"max_concurrent_runs\":5},\"fields_to_remove\":[\"description\",\"tasks/a\"]}",
             id);
    is_int(r.status, 200, "jobs/update");
    is_str(r.body, "{}", "answers {}");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/get?job_id=%" PRId64, id);
    is_int((int64_t)fwt_len(r.json, "settings.tasks"), 2, "tasks merged by key, a removed");
    is_str(fwt_str(r.json, "settings.tasks.0.task_key"), "b", "b kept its place");
    is_str(fwt_str(r.json, "settings.tasks.0.notebook_task.notebook_path"), "/b2", "b replaced");
    is_str(fwt_str(r.json, "settings.tasks.1.task_key"), "c", "c appended");
    ok(!fwt_path(r.json, "settings.description"), "description removed");
    is_int(fwt_int(r.json, "settings.max_concurrent_runs"), 5, "a scalar replaced");
    is_str(fwt_str(r.json, "settings.name"), "u", "the rest unchanged");
    fwt_resp_done(&r);
    char body[160];
    snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 ",\"fields_to_remove\":[\"tasks/zz\"]}",
             id);
    expect_400(f, "POST", "/api/2.2/jobs/update", body, "removing a task that is not there");

    fwt_post(f, "/api/2.2/jobs/reset", &r,
             "{\"job_id\":%" PRId64 ",\"new_settings\":{\"name\":\"r\"}}", id);
    is_int(r.status, 200, "jobs/reset");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/get?job_id=%" PRId64, id);
    is_str(fwt_str(r.json, "settings.name"), "r", "reset replaced the name");
    ok(!fwt_path(r.json, "settings.tasks"), "and every other setting");
    is_int(fwt_int(r.json, "settings.max_concurrent_runs"), 1, "defaults again");
    fwt_resp_done(&r);
    snprintf(body, sizeof(body), "{\"job_id\":%" PRId64 "}", id);
    expect_400(f, "POST", "/api/2.2/jobs/reset", body, "reset without new_settings");
    expect_400(f, "POST", "/api/2.2/jobs/reset", "{\"job_id\":5,\"new_settings\":{}}",
               "reset of an unknown job");
    expect_400(f, "POST", "/api/2.2/jobs/update", "{\"job_id\":\"5\"}",
               "update with a string job_id");

    fwt_post(f, "/api/2.2/jobs/delete", &r, "{\"job_id\":%" PRId64 "}", id);
    is_int(r.status, 200, "jobs/delete");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/jobs/get?job_id=%" PRId64, id);
    is_int(r.status, 400, "a deleted job is gone");
    fwt_resp_done(&r);
    expect_400(f, "POST", "/api/2.2/jobs/delete", body, "deleting it again");
    expect_400(f, "POST", "/api/2.2/jobs/delete", "{}", "delete without job_id");
}

int main(void)
{
    static const char *const args[] = { "--clock", "manual", NULL };
    struct fwt *f = fwt_start(args);
    test_create_get(f);
    test_list(f);
    test_array_paging(f);
    test_task_defaults(f);
    test_reset_update_delete(f);
    is_int(fwt_stop(f), 0, "clean exit");
    return tap_done();
}
