#!/bin/sh
# jobsctl with jobsd's poller on: --wait and wait follow /jobsd/v1/events
# for progress and /jobsd/v1/runs/{id}/wait for completion (no runs/get
# polls), and watch prints the event stream. fakews runs 20 times faster
# than our clock.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/jobsctl-lib.sh"

JOBSD_ARGS="--set poller.enabled=yes --set poller.interval_min=100ms --set poller.interval_max=500ms --set poller.idle_interval=200ms --set poller.backfill=no"
start_pair --clock real --speed 20
ok $? "fakews and jobsd (with the poller) start"

jc jobs create -f - <<'JSON'
{"name": "p-ok", "max_concurrent_runs": 10, "tasks": [
  {"task_key": "a", "notebook_task": {"notebook_path": "/p/a"}},
  {"task_key": "b", "depends_on": [{"task_key": "a"}], "notebook_task": {"notebook_path": "/p/b"}}]}
JSON
good=$(cat "$T/out")
jc jobs create -f - <<'JSON'
{"name": "p-bad", "tasks": [{"task_key": "boom", "spark_python_task": {"python_file": "/p/fail.py"}}]}
JSON
bad=$(cat "$T/out")

# watch in the background while runs go by.
JOBSD_SOCKET=$SOCK "$JOBSCTL" watch --json >"$T/watch" 2>"$T/watch.err" &
watch_pid=$!
PIDS="$PIDS $watch_pid"

jc run-now "$good" --wait
is "$rc" 0 "run-now --wait exits 0"
like "$(cat "$T/out")" '^run [0-9]+ TERMINATED SUCCESS in 26s$' "the final state"
run=$(sed -n 's/^run \([0-9]*\) .*/\1/p' "$T/out")
like "$(tail -n 1 "$T/err")" "run $run \"p-ok\" TERMINATED SUCCESS 2/2 tasks 26s\$" "the last progress line"
ok "$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} run [0-9]+ "p-ok" [A-Z_ ]+ [0-2]/2 tasks' "$T/err")" \
    "every progress line is timestamped, with tasks"

jc run-now "$bad" --wait
is "$rc" 1 "a failed run exits 1"
like "$(cat "$T/err")" '^task boom \(run [0-9]+\) TERMINATED FAILED$' "names the failed task"
like "$(cat "$T/err")" '^error: Exception: simulated failure' "with its error"

jc run-now "$good"
slow=$(cat "$T/out")
jc wait "$slow" --timeout 100ms
is "$rc" 4 "wait --timeout 100ms on a fresh run exits 4"
jc wait "$slow"
is "$rc" 0 "wait then sees it finish"

metrics=$(curl -s --unix-socket "$SOCK" http://localhost/metrics)
like "$metrics" 'jobsd_requests_total\{endpoint="wait",code="2xx"' "jobsctl waited through /jobsd/v1/runs/{id}/wait"
ok $(printf '%s\n' "$metrics" | grep -q 'jobsd_requests_total{endpoint="get_run"'; [ $? -ne 0 ]; echo $?) \
    "and never polled runs/get"
like "$metrics" 'jobsd_requests_total\{endpoint="events",code="2xx"' "and followed /jobsd/v1/events"

kill "$watch_pid" 2>/dev/null
wait "$watch_pid" 2>/dev/null
like "$(cat "$T/watch")" "^\\{.*\"run_id\":$run," "watch --json printed the events of the runs"
like "$(cat "$T/watch")" "\"run_id\":$run,.*\"result_state\":\"SUCCESS\"" "up to the end"

done_testing
