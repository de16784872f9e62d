/* tests/fakews/test-fakews-perms.c: job permissions GET/PUT/PATCH and
 * permission levels on /api/2.0/permissions/jobs/{job_id}. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto/strutil.h"
#include "tests/fakews/fwtest.h"
#include "tests/tap.h"

static struct fwt *f;

/* The permission level of the entry with field=name, NULL if none. */
static const char *level_of(struct json_object *o, const char *field, const char *name)
{
    size_t n = fwt_len(o, "access_control_list");
    for (size_t i = 0; i < n; i++) {
        char p[96];
        snprintf(p, sizeof(p), "access_control_list.%zu.%s", i, field);
        if (streq_ptr(fwt_str(o, p), name)) {
            snprintf(p, sizeof(p), "access_control_list.%zu.all_permissions.0.permission_level", i);
            return fwt_str(o, p);
        }
    }
    return NULL;
}

static long call(const char *method, int64_t job, const char *suffix, const char *body,
                 struct fwt_resp *r)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/2.0/permissions/jobs/%" PRId64 "%s", job, suffix);
    return fwt_call(f, method, path, body, NULL, r);
}

int main(void)
{
    static const char *const args[] = { "--clock", "manual", NULL };
    struct fwt_resp r;
    f = fwt_start(args);
    int64_t job = fwt_create_job(f, "{\"name\":\"p\"}");

    call("GET", job, "", NULL, &r);
    is_int(r.status, 200, "GET permissions");
    char oid[64];
    snprintf(oid, sizeof(oid), "/jobs/%" PRId64, job);
    is_str(fwt_str(r.json, "object_id"), oid, "object_id /jobs/<id>");
    is_str(fwt_str(r.json, "object_type"), "job", "object_type job");
    is_str(level_of(r.json, "user_name", "fakews-user@example.com"), "IS_OWNER",
           "the creator is the owner");
    is_str(level_of(r.json, "group_name", "admins"), "CAN_MANAGE", "admins CAN_MANAGE");
    fwt_resp_done(&r);

    call("PATCH", job, "",
         "{\"access_control_list\":[{\"group_name\":\"data\",\"permission_level\":\"CAN_VIEW\"},"
         "{\"service_principal_name\":\"sp-1\",\"permission_level\":\"CAN_MANAGE_RUN\"}]}",
         &r);
    is_int(r.status, 200, "PATCH");
    is_str(level_of(r.json, "group_name", "data"), "CAN_VIEW", "PATCH adds a group");
    is_str(level_of(r.json, "service_principal_name", "sp-1"), "CAN_MANAGE_RUN", "and an SP");
    is_str(level_of(r.json, "user_name", "fakews-user@example.com"), "IS_OWNER",
           "and keeps the owner");
    fwt_resp_done(&r);
    call("PATCH", job, "",
         "{\"access_control_list\":[{\"group_name\":\"data\",\"permission_level\":"
         "\"CAN_MANAGE\"}]}",
         &r);
    is_str(level_of(r.json, "group_name", "data"), "CAN_MANAGE", "PATCH changes a grant");
    fwt_resp_done(&r);
    call("PATCH", job, "",
         "{\"access_control_list\":[{\"user_name\":\"x@y\",\"permission_level\":\"IS_OWNER\"}]}",
         &r);
    is_int(r.status, 400, "a second owner: 400");
    is_str(fwt_str(r.json, "message"), "The job must have exactly one owner.", "the exact message");
    fwt_resp_done(&r);

    call("PUT", job, "",
         "{\"access_control_list\":[{\"user_name\":\"new@owner\",\"permission_level\":"
         "\"IS_OWNER\"}]}",
         &r);
    is_int(r.status, 200, "PUT");
    is_str(level_of(r.json, "user_name", "new@owner"), "IS_OWNER", "PUT replaces the grants");
    ok(!level_of(r.json, "group_name", "data"), "the old grants are gone");
    is_str(level_of(r.json, "group_name", "admins"), "CAN_MANAGE", "the inherited one stays");
    fwt_resp_done(&r);
    call("PUT", job, "", "{\"access_control_list\":[]}", &r);
    is_int(r.status, 400, "PUT without an owner: 400");
    fwt_resp_done(&r);
    call("PUT", job, "",
         "{\"access_control_list\":[{\"user_name\":\"a\",\"group_name\":\"b\","
         "\"permission_level\":\"IS_OWNER\"}]}",
         &r);
    is_int(r.status, 400, "two principals in one entry: 400");
    fwt_resp_done(&r);
    call("PUT", job, "",
         "{\"access_control_list\":[{\"user_name\":\"a\",\"permission_level\":\"CAN_FLY\"}]}", &r);
    is_int(r.status, 400, "an unknown level: 400");
    fwt_resp_done(&r);
    call("PUT", job, "", "{}", &r);
    is_int(r.status, 400, "PUT without access_control_list: 400");
    fwt_resp_done(&r);

    call("GET", job, "/permissionLevels", NULL, &r);
    is_int(r.status, 200, "permissionLevels");
    is_int((int64_t)fwt_len(r.json, "permission_levels"), 4, "four levels");
    ok(fwt_str(r.json, "permission_levels.0.permission_level") &&
           fwt_str(r.json, "permission_levels.0.description"),
       "each with a description");
    fwt_resp_done(&r);

    call("GET", job + 99, "", NULL, &r);
    is_int(r.status, 403, "an unknown job: 403 (permission before existence)");
    is_str(fwt_str(r.json, "error_code"), "PERMISSION_DENIED", "PERMISSION_DENIED");
    fwt_resp_done(&r);
    fwt_get(f, &r, "/api/2.2/permissions/jobs/%" PRId64, job);
    is_int(r.status, 404, "permissions are only on /api/2.0");
    fwt_resp_done(&r);

    /* an access_control_list at create */
    int64_t j2 = fwt_create_job(f, "{\"name\":\"acl\",\"access_control_list\":[{\"group_name\":"
                                   "\"g\",\"permission_level\":\"CAN_VIEW\"}]}");
    call("GET", j2, "", NULL, &r);
    is_str(level_of(r.json, "group_name", "g"), "CAN_VIEW", "create's access_control_list");
    is_str(level_of(r.json, "user_name", "fakews-user@example.com"), "IS_OWNER",
           "plus the creator as owner");
    fwt_resp_done(&r);
    fwt_call(f, "POST", "/api/2.2/jobs/create",
             "{\"access_control_list\":[{\"user_name\":\"a\",\"permission_level\":\"IS_OWNER\"},"
             "{\"user_name\":\"b\",\"permission_level\":\"IS_OWNER\"}]}",
             NULL, &r);
    is_int(r.status, 400, "create with two owners: 400");
    fwt_resp_done(&r);

    is_int(fwt_stop(f), 0, "clean exit");
    return tap_done();
}
