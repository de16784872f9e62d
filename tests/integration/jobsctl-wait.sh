#!/bin/sh
# jobsctl --wait and wait: progress lines without a terminal, a live line
# on one, the failed tasks' errors and output, and the exit statuses of a
# run that succeeded, failed, was canceled, or outlasted --timeout. fakews
# runs on a real clock 20 times faster than ours. While jobsd answers 501
# to /jobsd/v1/runs/{id}/wait and /jobsd/v1/events, jobsctl polls runs/get.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/jobsctl-lib.sh"

start_pair --clock real --speed 20
ok $? "fakews and jobsd start"

mkjob() { # mkjob NAME TASKS-JSON: prints the job_id
    printf '{"name": "%s", "max_concurrent_runs": 10, "tasks": %s}' "$1" "$2" |
        JOBSD_SOCKET=$SOCK "$JOBSCTL" jobs create -f -
}
good=$(mkjob w-ok '[{"task_key": "a", "notebook_task": {"notebook_path": "/w/a"}},
    {"task_key": "b", "depends_on": [{"task_key": "a"}], "notebook_task": {"notebook_path": "/w/b"}}]')
bad=$(mkjob w-bad '[{"task_key": "a", "notebook_task": {"notebook_path": "/w/a"}},
    {"task_key": "boom", "depends_on": [{"task_key": "a"}], "spark_python_task": {"python_file": "/w/fail.py"}}]')
slow=$(mkjob w-slow '[{"task_key": "s", "notebook_task": {"notebook_path": "/w/s",
    "base_parameters": {"fake_duration_ms": "3600000"}}}]')
like "$good $bad $slow" '^[0-9]+ [0-9]+ [0-9]+$' "three jobs"

# Success, without a terminal: one timestamped line per change on stderr.
jc run-now "$good" --wait
is "$rc" 0 "run-now --wait of a run that succeeds exits 0"
like "$(cat "$T/out")" '^run [0-9]+ TERMINATED SUCCESS in 26s$' "stdout: the final state and time"
stamp='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} run [0-9]+ "w-ok" '
ok "$(grep -cvE "$stamp(QUEUED|PENDING|RUNNING|TERMINATING|TERMINATED)" "$T/err")" \
    "every progress line is timestamped and names the run and its state"
like "$(head -n 1 "$T/err")" "$stamp(PENDING|RUNNING) [0-2]/2 tasks" "the first line shows the run starting"
like "$(tail -n 1 "$T/err")" "${stamp}TERMINATED SUCCESS 2/2 tasks 26s$" "the last line shows it done"
is "$(sort "$T/err" | uniq -d | wc -l)" 0 "no line is repeated (only changes are shown)"

# Failure: exit 1, and each failed task's error and the tail of its output.
jc run-now "$bad" --wait --tail 2
is "$rc" 1 "a failed run exits 1"
like "$(cat "$T/out")" '^run [0-9]+ TERMINATED FAILED in ' "stdout says FAILED"
like "$(cat "$T/err")" 'task boom \(run [0-9]+\) TERMINATED FAILED' "stderr names the failed task"
like "$(cat "$T/err")" '^error: Exception: simulated failure \(fakews\)$' "with its error"
like "$(cat "$T/err")" '^  \[\.\.\.\]$' "--tail cuts the trace"
like "$(cat "$T/err")" '^logs:$' "and its logs"
ok $(grep -q 'task a ' "$T/err"; [ $? -ne 0 ]; echo $?) "tasks that succeeded are not reported"
failed_run=$(sed -n 's/^run \([0-9]*\) .*/\1/p' "$T/out")

# JSON: the created id as it came, then the final run as it came.
jc run-now "$good" --wait --json --no-progress
is "$rc" 0 "--json --wait exits 0"
like "$(head -n 1 "$T/out")" '^\{"run_id":[0-9]+' "first line: run-now's answer"
like "$(tail -n 1 "$T/out")" '^\{.*"life_cycle_state":"TERMINATED","result_state":"SUCCESS"' "last line: the finished run"
is "$(wc -c <"$T/err")" 0 "--no-progress prints no progress"

# Timeout: exit 4; then cancel with --wait: exit 3.
jc run-now "$slow"
slow_run=$(cat "$T/out")
jc wait "$slow_run" --timeout 1s
is "$rc" 4 "wait --timeout on a run still going exits 4"
like "$(cat "$T/err")" "^jobsctl: run $slow_run is still (PENDING|RUNNING) after 1s$" "and says so"
jc runs cancel "$slow_run" --wait
is "$rc" 3 "runs cancel --wait exits 3 once the run is canceled"
like "$(cat "$T/out")" "^run $slow_run TERMINATED CANCELED in " "stdout says CANCELED"

# wait for several runs: the worst outcome wins.
a=$(JOBSD_SOCKET=$SOCK "$JOBSCTL" run-now "$good")
b=$(JOBSD_SOCKET=$SOCK "$JOBSCTL" run-now "$good")
jc wait "$a" "$b"
is "$rc" 0 "wait RUN RUN exits 0 when both succeed"
is "$(grep -c 'TERMINATED SUCCESS' "$T/out")" 2 "one final line per run"
jc wait "$a" "$failed_run"
is "$rc" 1 "a failed run among them exits 1"
jc wait 12345
is "$rc" 6 "waiting for a run nobody knows is an API error"
like "$(cat "$T/err")" '^jobsctl: INVALID_PARAMETER_VALUE: Run 12345 does not exist\. \(HTTP 400\)$' "one line with error_code and message"

# submit and repair with --wait.
jc submit --run-name w-submit --wait -f - <<'JSON'
{"tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/w/t"}}]}
JSON
is "$rc" 0 "submit --wait exits 0"
like "$(tail -n 1 "$T/err")" '"w-submit" TERMINATED SUCCESS 1/1 tasks' "with progress"
jc runs repair "$failed_run" --all-failed --wait
is "$rc" 1 "runs repair --wait follows the repaired run (it fails again)"
like "$(tail -n 1 "$T/out")" "^run $failed_run TERMINATED FAILED in " "on the original run_id"

# On a terminal: one live line per run, redrawn in place.
if command -v script >/dev/null 2>&1; then
    TERM=xterm JOBSD_SOCKET=$SOCK script -qec "$JOBSCTL run-now $good --wait" /dev/null \
        >"$T/tty" 2>&1 </dev/null
    is "$?" 0 "run-now --wait on a terminal exits 0"
    like "$(cat "$T/tty")" "$(printf '\033')\\[K?run [0-9]+  (PENDING|RUNNING)" "a live line with the state"
    like "$(cat "$T/tty")" "run [0-9]+  TERMINATED SUCCESS +2/2 tasks +26s +w-ok" "ends with the final state"
    ok $(grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2} ' "$T/tty"; [ $? -ne 0 ]; echo $?) "no timestamped lines"
    TERM=xterm JOBSD_SOCKET=$SOCK script -qec "stty cols 30; $JOBSCTL run-now $good --wait" \
        /dev/null >"$T/tty" 2>&1 </dev/null
    is "$?" 0 "on a narrow terminal too"
    is "$(tr '\r' '\n' <"$T/tty" | grep 'run [0-9]*  ' | sed 's/.*\[K//' | awk 'length > 29' | wc -l)" 0 \
        "live lines are cut to its width, so redrawing never wraps"
else
    tap_n=$((tap_n + 1))
    echo "ok $tap_n # SKIP script(1) is not installed"
fi

done_testing
