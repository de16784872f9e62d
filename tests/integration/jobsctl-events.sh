#!/bin/sh
# jobsctl against the local API's contract for /jobsd/v1/events and
# /jobsd/v1/runs/{id}/wait (proto/localapi.h), served by a small stand-in
# (jobsctl-stub.py) until jobsd serves them: progress comes from the events,
# completion from the wait answer, and runs/get is never polled.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/jobsctl-lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed"
SOCK=$T/stub.sock
out=$("$LAUNCH" --line READY --log "$T/stub.out" -- python3 \
    "$top_srcdir/tests/integration/jobsctl-stub.py" "$SOCK" 2>>"$T/stub.log")
ok $? "the stand-in listens"
PIDS="$PIDS ${out% *}"

jc wait 1
is "$rc" 0 "wait for a run that succeeds: exit 0"
is "$(cat "$T/out")" "run 1 TERMINATED SUCCESS in 42s" "the final state from the wait answer"
stamp='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} run 1 "stub ok" '
like "$(sed -n 1p "$T/err")" "${stamp}RUNNING 0/2 tasks" "progress from the events: 0/2"
like "$(sed -n 2p "$T/err")" "${stamp}RUNNING 1/2 tasks" "1/2"
like "$(sed -n 3p "$T/err")" "${stamp}TERMINATED SUCCESS 2/2 tasks 42s$" "2/2, done"
is "$(wc -l <"$T/err")" 3 "one line per change"

jc wait 2 --tail 1
is "$rc" 1 "a failed run: exit 1"
like "$(cat "$T/err")" '^task boom \(run 201\) TERMINATED FAILED$' "the failed task"
like "$(cat "$T/err")" '^error: boom went the task$' "its error from get-output"
like "$(cat "$T/err")" '^  line 2$' "and the tail of its logs"

jc wait 3 --timeout 1s
is "$rc" 4 "a run still going at --timeout: exit 4"
like "$(cat "$T/err")" '^jobsctl: run 3 is still RUNNING after 1s$' "says so"
ok "$(grep '^REQUEST /jobsd/v1/runs/3/wait' "$T/stub.out" | grep -vc 'timeout=1$')" \
    "the wait never asked for more than the time left"

jc wait 1 2
is "$rc" 1 "two runs, one failed: exit 1"
jc wait 99
is "$rc" 6 "an unknown run: exit 6"
like "$(cat "$T/err")" '^jobsctl: RESOURCE_DOES_NOT_EXIST: Run 99 is not known \(HTTP 404\)$' "with the 404's code and message"

ok "$(grep -c '^REQUEST /api/2.2/jobs/runs/get?' "$T/stub.out")" "runs/get was never polled"

jc watch
is "$rc" 0 "watch follows the stream to its end"
is "$(wc -l <"$T/out")" 6 "a line per event"
like "$(sed -n 1p "$T/out")" '^2026-01-01 00:00:01 run 1 "stub ok" RUNNING 0/2 tasks' "each line at the event's time"
jc watch --json
like "$(sed -n 1p "$T/out")" '^\{"run_id": 1, "run_name": "stub ok", ' "watch --json prints each event's data"
jc watch --run 2 --job 5 --no-progress
like "$(grep '^REQUEST /jobsd/v1/events' "$T/stub.out" | tail -n 1)" 'events\?job_id=5&run_id=2$' "--job and --run filter the stream"

done_testing
