/* tests/fakews/perms.c: job permissions GET/PUT/PATCH and permission
 * levels on /api/2.0/permissions/jobs/{job_id} (reference §1.2, §2.7). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/cleanup.h"
#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/fakews/fakews.h"

#define ACL_MAX 1000

static const struct {
    const char *level;
    const char *description;
} levels[] = {
    { "CAN_VIEW", "Can view the job and its runs" },
    { "CAN_MANAGE_RUN", "Can view the job and trigger or cancel its runs" },
    { "IS_OWNER", "Is the owner of the job" },
    { "CAN_MANAGE", "Can view, edit, run and delete the job and manage its permissions" },
};

static const char *const principal_field[] = {
    [PRINCIPAL_USER] = "user_name",
    [PRINCIPAL_GROUP] = "group_name",
    [PRINCIPAL_SERVICE_PRINCIPAL] = "service_principal_name",
};

void perms_free_acl(struct fw_acl_entry *acl, size_t n)
{
    for (size_t i = 0; acl && i < n; i++) {
        free(acl[i].name);
        free(acl[i].level);
    }
    free(acl);
}

static int invalid(struct fw_reply *r, const char *message)
{
    int k = reply_error(r, 400, "INVALID_PARAMETER_VALUE", "%s", message);
    return k < 0 ? k : -EINVAL;
}

int perms_parse_acl(struct json_object *list, struct fw_reply *reply, struct fw_acl_entry **ret,
                    size_t *ret_n)
{
    if (!json_object_is_type(list, json_type_array))
        return invalid(reply, "Invalid value for access_control_list: expected an array.");
    size_t n = json_object_array_length(list);
    if (n > ACL_MAX)
        return invalid(reply, "Too many entries in access_control_list.");
    struct fw_acl_entry *acl = calloc(MAX(n, (size_t)1), sizeof(*acl));
    if (!acl)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(list, i), *v;
        int found = 0;
        if (!json_object_is_type(e, json_type_object)) {
            perms_free_acl(acl, i);
            return invalid(reply, "Invalid access control entry: expected an object.");
        }
        for (size_t k = 0; k < ELEMENTSOF(principal_field); k++)
            if (json_object_object_get_ex(e, principal_field[k], &v) &&
                json_object_is_type(v, json_type_string)) {
                found++;
                acl[i].kind = (enum fw_principal_kind)k;
                free(acl[i].name);
                acl[i].name = strdup(json_object_get_string(v));
            }
        if (found != 1) {
            perms_free_acl(acl, i + 1);
            return invalid(reply, "An access control entry must name exactly one of user_name, "
                                  "group_name and service_principal_name.");
        }
        if (!json_object_object_get_ex(e, "permission_level", &v) ||
            !json_object_is_type(v, json_type_string)) {
            perms_free_acl(acl, i + 1);
            return invalid(reply, "Missing required field: permission_level");
        }
        bool known = false;
        for (size_t k = 0; k < ELEMENTSOF(levels); k++)
            known = known || streq(levels[k].level, json_object_get_string(v));
        if (!known) {
            char msg[256];
            snprintf(msg, sizeof(msg), "Permission level %s is not supported for jobs.",
                     json_object_get_string(v));
            perms_free_acl(acl, i + 1);
            return invalid(reply, msg);
        }
        acl[i].level = strdup(json_object_get_string(v));
        if (!acl[i].name || !acl[i].level) {
            perms_free_acl(acl, i + 1);
            return -ENOMEM;
        }
    }
    *ret = acl;
    *ret_n = n;
    return 0;
}

int perms_check_owner(const struct fw_acl_entry *acl, size_t n, struct fw_reply *reply)
{
    size_t owners = 0;
    for (size_t i = 0; i < n; i++)
        if (acl[i].level && streq(acl[i].level, "IS_OWNER"))
            owners++;
    if (owners == 1)
        return 0;
    return invalid(reply, "The job must have exactly one owner.");
}

/* The job named by the path; NULL with a 403 filled when there is none
 * (permission is checked before existence, reference §6.2). */
static struct fw_job *path_job(struct fakews *ws, struct fw_request *req, struct fw_reply *reply,
                               int *ret)
{
    struct fw_job *job = req->has_path_id ? fakews_job(ws, req->path_id) : NULL;
    *ret = 0;
    if (!job)
        *ret = reply_error(reply, 403, "PERMISSION_DENIED",
                           "User %s does not have View or Admin or Manage Run or Owner "
                           "permissions on job %" PRId64,
                           req->principal ? req->principal : "unknown", req->path_id);
    return job;
}

static struct json_object *permission(const char *level, bool inherited)
{
    struct json_object *p = json_object_new_object();
    if (!p || json_add_string(p, "permission_level", level) < 0 ||
        json_add_bool(p, "inherited", inherited) < 0) {
        json_object_put(p);
        return NULL;
    }
    if (inherited) {
        struct json_object *from = json_object_new_array();
        if (!from || json_add(p, "inherited_from_object", from) < 0 ||
            json_append(from, json_object_new_string("/jobs/")) < 0) {
            json_object_put(p);
            return NULL;
        }
    }
    return p;
}

static int reply_permissions(struct fw_job *job, struct fw_reply *reply)
{
    char object_id[64];
    snprintf(object_id, sizeof(object_id), "/jobs/%" PRId64, job->job_id);
    _cleanup_json_ struct json_object *o = json_object_new_object();
    struct json_object *list = json_object_new_array();
    if (!o || json_add_string(o, "object_id", object_id) < 0 ||
        json_add_string(o, "object_type", "job") < 0 || json_add(o, "access_control_list", list))
        return -ENOMEM;
    for (size_t i = 0; i <= job->n_acl; i++) {
        bool admins = i == job->n_acl;
        struct json_object *e = json_object_new_object(), *all = json_object_new_array();
        if (!e || json_append(list, e) < 0 || !all || json_add(e, "all_permissions", all) < 0)
            return -ENOMEM;
        int r = 0;
        if (admins) {
            /* what real workspaces list, inherited from /jobs/ */
            r |= json_add_string(e, "group_name", "admins");
            r |= json_append(all, permission("CAN_MANAGE", true));
        } else {
            const struct fw_acl_entry *a = &job->acl[i];
            r |= json_add_string(e, principal_field[a->kind], a->name);
            if (a->kind != PRINCIPAL_GROUP)
                r |= json_add_string(e, "display_name", a->name);
            r |= json_append(all, permission(a->level, false));
        }
        if (r < 0)
            return -ENOMEM;
    }
    return reply_json(reply, TAKE_PTR(o));
}

int perms_get(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int r;
    struct fw_job *job = path_job(ws, req, reply, &r);
    if (!job)
        return r;
    return reply_permissions(job, reply);
}

static int change(struct fakews *ws, struct fw_request *req, struct fw_reply *reply, bool replace)
{
    int r;
    struct fw_job *job = path_job(ws, req, reply, &r);
    if (!job)
        return r;
    struct json_object *list = NULL;
    if (!req->body || !json_object_object_get_ex(req->body, "access_control_list", &list) ||
        json_object_is_type(list, json_type_null))
        return reply_error(reply, 400, "INVALID_PARAMETER_VALUE",
                           "Missing required field: access_control_list");
    struct fw_acl_entry *given = NULL;
    size_t n_given = 0;
    r = perms_parse_acl(list, reply, &given, &n_given);
    if (r < 0)
        return r == -EINVAL ? 0 : r;

    struct fw_acl_entry *acl = given;
    size_t n = n_given;
    if (!replace) {
        /* PATCH: the current grants with the given ones added or changed. */
        acl = calloc(job->n_acl + n_given + 1, sizeof(*acl));
        if (!acl) {
            perms_free_acl(given, n_given);
            return -ENOMEM;
        }
        n = 0;
        for (size_t i = 0; i < job->n_acl; i++) {
            acl[n].kind = job->acl[i].kind;
            acl[n].name = strdup(job->acl[i].name);
            acl[n].level = strdup(job->acl[i].level);
            if (!acl[n].name || !acl[n].level) {
                perms_free_acl(acl, n + 1);
                perms_free_acl(given, n_given);
                return -ENOMEM;
            }
            n++;
        }
        for (size_t i = 0; i < n_given; i++) {
            size_t j = 0;
            while (j < n && !(acl[j].kind == given[i].kind && streq(acl[j].name, given[i].name)))
                j++;
            if (j == n)
                n++;
            else {
                free(acl[j].name);
                free(acl[j].level);
            }
            acl[j] = given[i];
            given[i] = (struct fw_acl_entry){ 0 };
        }
        perms_free_acl(given, n_given);
    }
    if (perms_check_owner(acl, n, reply) != 0) {
        perms_free_acl(acl, n);
        return 0;
    }
    perms_free_acl(job->acl, job->n_acl);
    job->acl = acl;
    job->n_acl = n;
    return reply_permissions(job, reply);
}

int perms_set(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    return change(ws, req, reply, true);
}

int perms_update(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    return change(ws, req, reply, false);
}

int perms_levels(struct fakews *ws, struct fw_request *req, struct fw_reply *reply)
{
    int r;
    struct fw_job *job = path_job(ws, req, reply, &r);
    if (!job)
        return r;
    _cleanup_json_ struct json_object *o = json_object_new_object();
    struct json_object *a = json_object_new_array();
    if (!o || json_add(o, "permission_levels", a) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
        struct json_object *l = json_object_new_object();
        if (!l || json_append(a, l) < 0 ||
            json_add_string(l, "permission_level", levels[i].level) ||
            json_add_string(l, "description", levels[i].description) < 0)
            return -ENOMEM;
    }
    return reply_json(reply, TAKE_PTR(o));
}
