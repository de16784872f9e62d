#!/bin/sh
# jobsctl against jobsd + fakews on a manual clock: every Jobs and
# permissions command, jobsd's own (history, export, status, health), and
# their tables, CSV and JSON against golden files.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/jobsctl-lib.sh"

start_pair --clock manual --epoch-ms 1767225600000
ok $? "fakews and jobsd start"

jc health
is "$rc $(cat "$T/out")" "0 ok" "health"
jc status
like "$(cat "$T/out")" '^FIELD +VALUE' "status is a table"
like "$(cat "$T/out")" "socket +$SOCK" "status names the socket"
jc status --json
like "$(cat "$T/out")" '^\{"version":"[0-9.]+","api_version":1,' "status --json is jobsd's JSON"

# Jobs
cat >"$T/job.json" <<'JSON'
{"name": "nightly etl", "max_concurrent_runs": 3, "tasks": [
  {"task_key": "extract", "notebook_task": {"notebook_path": "/etl/extract"}},
  {"task_key": "transform", "depends_on": [{"task_key": "extract"}],
   "notebook_task": {"notebook_path": "/etl/transform", "base_parameters": {"fake_duration_ms": "30000"}}},
  {"task_key": "load", "depends_on": [{"task_key": "transform"}],
   "spark_python_task": {"python_file": "/etl/load.py"}}]}
JSON
jc jobs create -f "$T/job.json"
job=$(cat "$T/out")
is "$rc $job" "0 9007199254741993" "jobs create prints the job_id"
jc jobs create -f - <<'JSON'
{"name": "a job with a rather long name that will not fit a narrow terminal at all", "tasks": [
  {"task_key": "only", "notebook_task": {"notebook_path": "/x/fail-here"}}]}
JSON
job2=$(cat "$T/out")
is "$rc $job2" "0 9007199254741994" "jobs create reads stdin"
jc jobs list
golden jobs-list.txt "jobs list is a table"
jc jobs list -o csv
golden jobs-list.csv "jobs list -o csv"
COLUMNS=60 JOBSD_SOCKET=$SOCK "$JOBSCTL" jobs list >"$T/out"
golden jobs-list-60.txt "jobs list fits 60 columns"
ok "$(awk 'length > 60' "$T/out" | wc -l)" "no line is longer than 60"
jc jobs list --limit 1 --all
is "$(grep -c '^9007' "$T/out")" 2 "jobs list --all follows the pages"
jc jobs list --name "nightly etl" --json
like "$(cat "$T/out")" '^\{"jobs":\[\{"job_id":9007199254741993,' "jobs list --json is the API's JSON"
jc jobs get "$job"
golden jobs-get.txt "jobs get shows the job and its tasks"
jc jobs get "$job" --json
golden jobs-get.json "jobs get --json is the answer as it came"
echo "{\"job_id\": $job, \"new_settings\": {\"timeout_seconds\": 3600}}" >"$T/update.json"
jc jobs update -f "$T/update.json"
is "$rc $(cat "$T/out")" "0 " "jobs update prints nothing"
jc jobs get "$job"
like "$(cat "$T/out")" 'timeout_seconds +3600' "the update took"
echo '{"new_settings": {"name": "renamed", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/n/fail"}}]}}' >"$T/reset.json"
jc jobs reset "$job2" -f "$T/reset.json"
is "$rc" 0 "jobs reset JOB_ID -f FILE (the id from the argument)"
jc jobs get "$job2"
like "$(cat "$T/out")" 'name +renamed' "the reset took"

# Runs
jc run-now "$job" -p env=test --idempotency-token tok-1
run=$(cat "$T/out")
is "$rc $run" "0 9007199255740993" "run-now prints the run_id"
jc run-now "$job" --idempotency-token tok-1
is "$(cat "$T/out")" "$run" "the same idempotency token gives the same run"
fw ws GET '/__fake/requests?endpoint=run_now' >"$T/req"
like "$(cat "$T/req")" '\\"job_parameters\\":\{\\"env\\":\\"test\\"\}' "-p K=V becomes job_parameters"
jc runs list --active-only
golden runs-list-active.txt "runs list --active-only"
advance 60000
jc runs list
golden runs-list.txt "runs list after the run ended"
jc runs list "$job" -o csv
golden runs-list.csv "runs list JOB_ID -o csv"
jc runs get "$run"
golden runs-get.txt "runs get shows the run and its tasks"
jc runs get "$run" --json
golden runs-get.json "runs get --json"
task=$(sed -n 's/^load  *\([0-9]*\).*/\1/p' "$T/out")
task=$(JOBSD_SOCKET=$SOCK "$JOBSCTL" runs get "$run" | sed -n 's/^load  *\([0-9]*\).*/\1/p')
jc runs output "$task"
golden runs-output.txt "runs output of a task run"
jc runs output "$run"
is "$rc" 6 "runs output of a job run is an API error (exit 6)"
like "$(cat "$T/err")" '^jobsctl: INVALID_PARAMETER_VALUE: Retrieving the output of runs with multiple tasks is not supported' "and says why in one line"
etask=$(JOBSD_SOCKET=$SOCK "$JOBSCTL" runs get "$run" | sed -n 's/^extract  *\([0-9]*\).*/\1/p')
jc runs export "$etask"
like "$(cat "$T/out")" '^NAME +TYPE +BYTES' "runs export lists the views"
jc runs export "$etask" --views ALL --json
like "$(cat "$T/out")" '^\{"views":\[' "runs export --json"

jc run-now "$job2" --only t
run2=$(cat "$T/out")
advance 60000
jc runs repair "$run2" --task t
is "$rc" 0 "runs repair --task (the first repair)"
like "$(cat "$T/out")" '^[0-9]+$' "prints the repair_id"
advance 60000
jc runs repair "$run2" --all-failed
is "$rc" 0 "a second repair finds latest_repair_id itself"
advance 60000
jc runs get "$run2" --query include_history=true --json
is "$(grep -o '"type":"REPAIR"' "$T/out" | wc -l)" 2 "both repairs are in the run's history"

jc run-now "$job"
run3=$(cat "$T/out")
jc runs cancel "$run3"
is "$rc $(cat "$T/out")" "0 " "runs cancel"
jc run-now "$job"
run4=$(cat "$T/out")
jc runs cancel-all "$job"
is "$rc" 0 "runs cancel-all JOB_ID"
advance 10000
jc runs get "$run4"
like "$(cat "$T/out")" 'result +CANCELED' "cancel-all canceled the run"
jc runs delete "$run3"
is "$rc" 0 "runs delete"
jc runs get "$run3"
is "$rc" 6 "a deleted run is gone (exit 6)"

jc submit --run-name "one-off" -f - <<'JSON'
{"tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/one/off"}}]}
JSON
srun=$(cat "$T/out")
like "$rc $srun" '^0 [0-9]+$' "submit prints the run_id"
advance 60000
jc runs get "$srun"
like "$(cat "$T/out")" 'run_name +one-off' "--run-name names the run"

# Permissions
jc permissions get "$job"
golden permissions-get.txt "permissions get"
jc permissions levels "$job"
golden permissions-levels.txt "permissions levels"
echo '{"access_control_list": [{"group_name": "data-eng", "permission_level": "CAN_MANAGE_RUN"}]}' >"$T/acl.json"
jc permissions update "$job" -f "$T/acl.json"
golden permissions-update.txt "permissions update adds a grant"
echo '{"access_control_list": [{"user_name": "fakews-user@example.com", "permission_level": "IS_OWNER"}]}' >"$T/acl.json"
jc permissions set "$job" -f "$T/acl.json" --json
like "$rc $(cat "$T/out")" '^0 \{"object_id":"/jobs/9007199254741993"' "permissions set --json"
jc permissions get "$job"
ok "$(grep -c data-eng "$T/out")" "permissions set replaced the grants"

# jobsd's own: history and export from the archive
jc history
golden history.txt "history lists archived runs, newest first"
jc history --job "$job" --result SUCCESS -o csv
golden history-success.csv "history --job --result -o csv"
jc history --name one-off --json
like "$(cat "$T/out")" '^\{"runs":\[\{"run_id":' "history --json"
is "$(grep -o '"run_id":[0-9]*,"job_run_id' "$T/out" | wc -l)" 0 "history --name filters"
jc history --since 2026-01-01 --until "2026-01-01 00:00:30" --limit 1 --all
is "$(grep -c '^9007' "$T/out")" 1 "history --since/--until keep the first run only"
jc history --since yesterday
is "$rc" 2 "a bad --since is a usage error"
jc history get "$run"
golden history-get.txt "history get shows the archived run"
jc history output "$run"
golden history-output.txt "history output shows the archived task outputs"
jc export
ok $([ "$rc" -eq 0 ] && [ "$(grep -c '"kind":"job"' "$T/out")" -ge 2 ]; echo $?) "export streams JSON Lines with the jobs"
jc export --runs-only --json
is "$(grep -c '"kind":"job"' "$T/out")" 0 "export --runs-only leaves the jobs out"
jc export -o csv
golden export.csv "export -o csv: one row per archived run"

# jobs delete last: its runs stay in the archive
jc jobs delete "$job2"
is "$rc $(cat "$T/out")" "0 " "jobs delete"
jc jobs get "$job2"
is "$rc" 6 "a deleted job is an API error"
like "$(cat "$T/err")" "^jobsctl: INVALID_PARAMETER_VALUE: Job $job2 does not exist. \(HTTP 400\)$" "one line with error_code and message"

# A run the workspace no longer has: jobsd answers from its archive, and
# jobsctl says so.
jc runs delete "$run"
is "$rc" 0 "runs delete of an archived run"
jc runs get "$run"
is "$rc" 0 "runs get still answers, from the archive"
golden runs-get.txt "in the same shape as the workspace's"
is "$(cat "$T/err")" "jobsctl: note: from jobsd's archive: the workspace no longer gives it" "with a note on stderr"

done_testing
