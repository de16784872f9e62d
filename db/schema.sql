-- db/schema.sql: the jobsd run archive, schema version 1.
-- Compiled into libdb.a (db/local.mk turns it into a C string) and applied
-- by db/store.c to an empty database; later versions add db/migrate-N.sql.
--
-- Every archived object keeps the upstream JSON it came from in `body`,
-- compressed by db/codec.c: `dict` says how (-1 raw text, 0 zstd, N zstd
-- with the dictionary dicts.id = N), `raw_len` is the JSON's length.
-- Times are epoch milliseconds; ids are the upstream int64 ids.

CREATE TABLE dicts (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    data BLOB NOT NULL
);

CREATE TABLE jobs (
    job_id INTEGER PRIMARY KEY,
    name TEXT,
    created_time INTEGER NOT NULL DEFAULT 0,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    forgotten_ms INTEGER NOT NULL DEFAULT 0,
    raw_len INTEGER NOT NULL,
    dict INTEGER NOT NULL,
    body BLOB NOT NULL
);

-- One row per job run (or a task run fetched with runs/get on its own id).
-- life_cycle and result are enum life_cycle_state / enum result_state of
-- proto/runstate.h; detail is STORE_DETAIL_* of db/runs.h.
CREATE TABLE runs (
    run_id INTEGER PRIMARY KEY,
    job_id INTEGER,
    start_time INTEGER NOT NULL DEFAULT 0,
    end_time INTEGER NOT NULL DEFAULT 0,
    life_cycle INTEGER NOT NULL,
    result INTEGER NOT NULL,
    run_name TEXT,
    trigger TEXT,
    run_type TEXT,
    repair_count INTEGER NOT NULL DEFAULT 0,
    latest_repair_id INTEGER NOT NULL DEFAULT 0,
    detail INTEGER NOT NULL DEFAULT 0,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    forgotten_ms INTEGER NOT NULL DEFAULT 0,
    raw_len INTEGER NOT NULL,
    dict INTEGER NOT NULL,
    body BLOB NOT NULL
);
-- Keyset order is (start_time, run_id) descending; run_id is the rowid, so
-- each index below ends in it.
CREATE INDEX runs_by_start ON runs (start_time);
CREATE INDEX runs_by_job ON runs (job_id, start_time);
CREATE INDEX runs_by_life_cycle ON runs (life_cycle, start_time);
CREATE INDEX runs_by_result ON runs (result, start_time);

-- The task runs of a job run: an index into the parent's body, which holds
-- their JSON (tasks[]).
CREATE TABLE task_runs (
    run_id INTEGER PRIMARY KEY,
    job_run_id INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    task_key TEXT,
    life_cycle INTEGER NOT NULL,
    result INTEGER NOT NULL,
    start_time INTEGER NOT NULL DEFAULT 0,
    end_time INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX task_runs_by_parent ON task_runs (job_run_id);

-- runs/get-output of a task run. job_run_id comes from metadata.job_run_id;
-- the output may arrive before its run, so there is no foreign key.
CREATE TABLE outputs (
    run_id INTEGER PRIMARY KEY,
    job_run_id INTEGER,
    life_cycle INTEGER NOT NULL,
    fetched_ms INTEGER NOT NULL,
    raw_len INTEGER NOT NULL,
    dict INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX outputs_by_parent ON outputs (job_run_id);

-- runs/export views of a run, per views_to_export.
CREATE TABLE exports (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL,
    job_run_id INTEGER,
    views TEXT NOT NULL,
    fetched_ms INTEGER NOT NULL,
    raw_len INTEGER NOT NULL,
    dict INTEGER NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (run_id, views)
);
CREATE INDEX exports_by_parent ON exports (job_run_id);

-- Every write made through the daemon.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    uid INTEGER,
    gid INTEGER,
    pid INTEGER,
    endpoint TEXT NOT NULL,
    job_id INTEGER,
    run_id INTEGER,
    http_status INTEGER NOT NULL,
    outcome TEXT
);
CREATE INDEX audit_by_time ON audit (time_ms);

-- Daemon state: the active runs the poller tracks, and named values
-- (watermarks) so that a restart resumes where it stopped.
CREATE TABLE tracked (
    run_id INTEGER PRIMARY KEY,
    job_id INTEGER,
    since_ms INTEGER NOT NULL
);
CREATE TABLE state (
    key TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;

-- Counts by state, kept by triggers so that they cost nothing to read.
-- Rows with detail bit 16 (RUN_DETAIL_TASK_RUN: a task run fetched on its
-- own id) are not counted.
CREATE TABLE run_counts (
    life_cycle INTEGER NOT NULL,
    result INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (life_cycle, result)
) WITHOUT ROWID;

CREATE TRIGGER runs_count_insert AFTER INSERT ON runs WHEN (new.detail & 16) = 0 BEGIN
    INSERT INTO run_counts (life_cycle, result, n) VALUES (new.life_cycle, new.result, 1)
        ON CONFLICT (life_cycle, result) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER runs_count_delete AFTER DELETE ON runs WHEN (old.detail & 16) = 0 BEGIN
    UPDATE run_counts SET n = n - 1
        WHERE life_cycle = old.life_cycle AND result = old.result;
END;
CREATE TRIGGER runs_count_update AFTER UPDATE OF life_cycle, result ON runs
    WHEN (new.detail & 16) = 0
        AND (old.life_cycle IS NOT new.life_cycle OR old.result IS NOT new.result) BEGIN
    UPDATE run_counts SET n = n - 1
        WHERE life_cycle = old.life_cycle AND result = old.result;
    INSERT INTO run_counts (life_cycle, result, n) VALUES (new.life_cycle, new.result, 1)
        ON CONFLICT (life_cycle, result) DO UPDATE SET n = n + 1;
END;
