/* tests/bench/rungen.c: see rungen.h. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto/json.h"
#include "tests/bench/rungen.h"

#define ID_STRIDE 8

static uint64_t next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n)
{
    return next(s) % n;
}

void rungen_init(struct rungen *g, uint64_t seed, int64_t n_runs)
{
    *g = (struct rungen){
        .state = seed,
        .first_run_id = 731500000000001LL,
        .t0_ms = 1764000000000LL,
        .spacing_ms = n_runs > 0 ? (60LL * 86400000LL) / n_runs : 60000,
        .n_jobs = 2000,
        .n_runs = n_runs,
        .active_tail = n_runs / 500 + 1,
    };
    if (g->spacing_ms < 1)
        g->spacing_ms = 1;
}

int64_t rungen_run_id(const struct rungen *g, int64_t i)
{
    return g->first_run_id + i * ID_STRIDE;
}

int64_t rungen_job_id(const struct rungen *g, int j)
{
    return 912000000000000LL + (int64_t)j * 7919;
}

static const char *const task_kinds[] = { "ingest", "clean", "transform", "aggregate", "publish" };
static const char *const users[] = { "alice@example.com", "bob@example.com", "etl-sp",
                                     "carol@example.com", "dave@example.com" };
static const char *const triggers[] = { "PERIODIC", "PERIODIC",     "PERIODIC", "ONE_TIME",
                                        "RETRY",    "FILE_ARRIVAL", "TABLE",    "RUN_JOB_TASK" };
static const char *const nodes[] = { "Standard_DS3_v2", "i3.xlarge", "m5d.2xlarge",
                                     "n2-highmem-4" };

struct outcome {
    const char *lc, *rs, *code, *type, *msg;
};

static const struct outcome outcomes[] = {
    { "TERMINATED", "SUCCESS", "SUCCESS", "SUCCESS", "" },
    { "TERMINATED", "FAILED", "RUN_EXECUTION_ERROR", "CLIENT_ERROR",
      "Task transform failed with message: Workload failed, see run output for details." },
    { "TERMINATED", "CANCELED", "USER_CANCELED", "SUCCESS", "Run cancelled by user." },
    { "SKIPPED", "CANCELED", "SKIPPED", "SUCCESS",
      "An active run of this job is already in progress." },
    { "INTERNAL_ERROR", "FAILED", "CLUSTER_ERROR", "CLOUD_FAILURE",
      "Cluster could not be created: cloud provider quota exceeded." },
    { "TERMINATED", "TIMEDOUT", "CANCELED", "CLIENT_ERROR", "Run timed out." },
};

static const struct outcome running = { "RUNNING", NULL, NULL, NULL, "" };

static void add_state(struct json_object *o, const struct outcome *oc)
{
    struct json_object *state = json_object_new_object();
    json_add_string(state, "life_cycle_state", oc->lc);
    if (oc->rs)
        json_add_string(state, "result_state", oc->rs);
    json_add_string(state, "state_message", oc->msg);
    json_add_bool(state, "user_cancelled_or_timedout", oc->code && strstr(oc->code, "CANCEL"));
    json_add(o, "state", state);
    struct json_object *status = json_object_new_object();
    json_add_string(status, "state", oc->rs ? "TERMINATED" : oc->lc);
    if (oc->code) {
        struct json_object *td = json_object_new_object();
        json_add_string(td, "code", oc->code);
        json_add_string(td, "type", oc->type);
        json_add_string(td, "message", oc->msg);
        json_add(status, "termination_details", td);
    }
    json_add(o, "status", status);
}

static const struct outcome *pick_outcome(uint64_t *s)
{
    uint64_t p = below(s, 100);
    if (p < 84)
        return &outcomes[0];
    if (p < 92)
        return &outcomes[1];
    if (p < 95)
        return &outcomes[2];
    if (p < 97)
        return &outcomes[3];
    if (p < 98)
        return &outcomes[4];
    return &outcomes[5];
}

static void add_url(struct json_object *o, int64_t job_id, int64_t run_id)
{
    char url[200];
    (void)snprintf(url, sizeof(url),
                   "https://adb-4417368402615382.2.azuredatabricks.net/?o=4417368402615382#job/"
                   "%" PRIi64 "/run/%" PRIi64,
                   job_id, run_id);
    json_add_string(o, "run_page_url", url);
}

struct json_object *rungen_run(struct rungen *g, int64_t i)
{
    uint64_t s = g->state ^ ((uint64_t)i * 0x2545f4914f6cdd1dULL);
    int j = (int)below(&s, (uint64_t)g->n_jobs);
    int64_t job_id = rungen_job_id(g, j);
    int64_t run_id = rungen_run_id(g, i);
    int64_t start = g->t0_ms + i * g->spacing_ms + (int64_t)below(&s, 1000);
    bool active = i >= g->n_runs - g->active_tail;
    const struct outcome *oc = active ? &running : pick_outcome(&s);
    int64_t queue = below(&s, 4) == 0 ? (int64_t)below(&s, 60000) : 0;
    int64_t dur = 60000 + (int64_t)below(&s, 3600000);
    char buf[128];

    struct json_object *r = json_object_new_object();
    json_add_int64(r, "job_id", job_id);
    json_add_int64(r, "run_id", run_id);
    json_add_string(r, "creator_user_name", users[j % ELEMENTSOF(users)]);
    json_add_int64(r, "number_in_job", run_id);
    json_add_int64(r, "original_attempt_run_id", run_id);
    add_state(r, oc);
    if (j % 3 == 0) {
        struct json_object *sch = json_object_new_object();
        (void)snprintf(buf, sizeof(buf), "0 %d %d * * ?", j % 60, j % 24);
        json_add_string(sch, "quartz_cron_expression", buf);
        json_add_string(sch, "timezone_id", j % 2 ? "UTC" : "Europe/Berlin");
        json_add_string(sch, "pause_status", "UNPAUSED");
        json_add(r, "schedule", sch);
    }
    json_add_int64(r, "start_time", start);
    json_add_int64(r, "setup_duration", 0);
    json_add_int64(r, "execution_duration", 0);
    json_add_int64(r, "cleanup_duration", 0);
    json_add_int64(r, "end_time", active ? 0 : start + queue + dur);
    json_add_int64(r, "run_duration", active ? 0 : queue + dur);
    json_add_int64(r, "queue_duration", queue);
    json_add_string(r, "trigger", triggers[below(&s, ELEMENTSOF(triggers))]);
    (void)snprintf(buf, sizeof(buf), "%s-%s-%04d", j % 2 ? "nightly" : "hourly",
                   task_kinds[j % ELEMENTSOF(task_kinds)], j);
    json_add_string(r, "run_name", buf);
    add_url(r, job_id, run_id);
    json_add_string(r, "run_type", below(&s, 20) == 0 ? "SUBMIT_RUN" : "JOB_RUN");
    json_add_string(r, "format", "MULTI_TASK");
    json_add_int64(r, "job_run_id", run_id);
    json_add_string(r, "effective_performance_target", "STANDARD");

    char cluster[40];
    (void)snprintf(cluster, sizeof(cluster), "1128-%06u-%08" PRIx64 "",
                   (unsigned)below(&s, 1000000), next(&s) & 0xffffffffu);
    int n_tasks = 1 + (int)((unsigned)j % 2);
    struct json_object *tasks = json_object_new_array();
    int64_t t_start = start + queue;
    for (int t = 0; t < n_tasks; t++) {
        struct json_object *task = json_object_new_object();
        const struct outcome *toc = oc;
        if (oc->rs && t < n_tasks - 1 && oc != &outcomes[0])
            toc = &outcomes[0];
        int64_t tid = run_id + 1 + t;
        json_add_int64(task, "run_id", tid);
        json_add_string(task, "task_key", task_kinds[t]);
        if (t > 0) {
            struct json_object *dep = json_object_new_array(), *d = json_object_new_object();
            json_add_string(d, "task_key", task_kinds[t - 1]);
            json_append(dep, d);
            json_add(task, "depends_on", dep);
        }
        json_add_string(task, "run_if", "ALL_SUCCESS");
        struct json_object *nb = json_object_new_object(), *bp = json_object_new_object();
        (void)snprintf(buf, sizeof(buf), "/Repos/data-eng/pipelines/job_%04d/%s", j, task_kinds[t]);
        json_add_string(nb, "notebook_path", buf);
        json_add_string(nb, "source", "WORKSPACE");
        (void)snprintf(buf, sizeof(buf), "%" PRIi64, start / 86400000);
        json_add_string(bp, "day", buf);
        json_add_string(bp, "env", "prod");
        json_add(nb, "base_parameters", bp);
        json_add(task, "notebook_task", nb);
        json_add_string(task, "job_cluster_key", "main_cluster");
        add_state(task, toc);
        add_url(task, job_id, tid);
        int64_t td = dur / n_tasks;
        json_add_int64(task, "start_time", t_start);
        json_add_int64(task, "setup_duration", (int64_t)below(&s, 200000));
        json_add_int64(task, "execution_duration", td);
        json_add_int64(task, "cleanup_duration", (int64_t)below(&s, 5000));
        json_add_int64(task, "end_time", toc->rs ? t_start + td : 0);
        t_start += td;
        struct json_object *ci = json_object_new_object();
        json_add_string(ci, "cluster_id", cluster);
        (void)snprintf(buf, sizeof(buf), "%" PRIu64, next(&s) >> 1);
        json_add_string(ci, "spark_context_id", buf);
        json_add(task, "cluster_instance", ci);
        json_add_int64(task, "attempt_number", 0);
        json_add_string(task, "effective_performance_target", "STANDARD");
        json_append(tasks, task);
    }
    json_add(r, "tasks", tasks);

    struct json_object *jcs = json_object_new_array(), *jc = json_object_new_object();
    struct json_object *nc = json_object_new_object(), *conf = json_object_new_object();
    json_add_string(jc, "job_cluster_key", "main_cluster");
    json_add_string(nc, "spark_version", j % 2 ? "15.4.x-scala2.12" : "14.3.x-scala2.12");
    json_add_string(nc, "node_type_id", nodes[j % ELEMENTSOF(nodes)]);
    json_add_int64(nc, "num_workers", 2 + j % 8);
    json_add_string(conf, "spark.sql.shuffle.partitions", "200");
    json_add(nc, "spark_conf", conf);
    json_add_string(nc, "data_security_mode", "SINGLE_USER");
    json_add(jc, "new_cluster", nc);
    json_append(jcs, jc);
    json_add(r, "job_clusters", jcs);

    struct json_object *params = json_object_new_array(), *p = json_object_new_object();
    json_add_string(p, "name", "env");
    json_add_string(p, "default", "prod");
    json_add_string(p, "value", "prod");
    json_append(params, p);
    json_add(r, "job_parameters", params);
    return r;
}

struct json_object *rungen_output(struct rungen *g, struct json_object *run, int t)
{
    struct json_object *tasks, *task;
    if (!json_object_object_get_ex(run, "tasks", &tasks))
        return NULL;
    task = json_object_array_get_idx(tasks, (size_t)t);
    if (!task)
        return NULL;
    struct json_object *out = json_object_new_object(), *meta = json_object_new_object();
    json_object_object_foreach (task, k, v) {
        json_add(meta, k, json_object_get(v));
    }
    struct json_object *jr;
    if (json_object_object_get_ex(run, "run_id", &jr))
        json_add(meta, "job_run_id", json_object_get(jr));
    json_add(out, "metadata", meta);
    struct json_object *nb = json_object_new_object();
    json_add_string(nb, "result", "{\"rows_written\": 18231, \"status\": \"ok\"}");
    json_add_bool(nb, "truncated", false);
    json_add(out, "notebook_output", nb);
    return out;
}
