/* tests/bench/rungen.h: a generator of realistic Databricks run JSON (runs/get
 * shape, ~2 KB with 1-5 tasks, job clusters and parameters) for the db/
 * benchmark and tests. Deterministic for a seed. Returned objects belong to
 * the caller. */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

struct rungen {
    uint64_t state;
    int64_t first_run_id;
    int64_t t0_ms;      /* start_time of run 0 */
    int64_t spacing_ms; /* between consecutive runs */
    int n_jobs;
    int64_t n_runs; /* runs of index >= n_runs - active_tail are still running */
    int64_t active_tail;
};

void rungen_init(struct rungen *g, uint64_t seed, int64_t n_runs);
/* Run number i (0-based): run_id first_run_id + i * 8 + (task run ids in
 * between), job of i, start_time t0 + i * spacing. */
struct json_object *rungen_run(struct rungen *g, int64_t i);
int64_t rungen_run_id(const struct rungen *g, int64_t i);
int64_t rungen_job_id(const struct rungen *g, int j);
/* A runs/get-output answer for task t of run i. */
struct json_object *rungen_output(struct rungen *g, struct json_object *run, int t);
