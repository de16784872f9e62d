#!/bin/sh
# tests/fakews/test-fakews-cli.sh: fakews's command line: --help, bad
# arguments, LISTENING, the real clock with --speed, SIGTERM. Prints TAP.
set -u
FAKEWS=${FAKEWS:-tests/fakews/fakews}
command -v curl >/dev/null 2>&1 || { echo "1..0 # SKIP curl(1) is not installed"; exit 0; }
tmp=$(mktemp -d) || exit 1
pid=""
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
n=0
failed=0
check() { # check CONDITION-EXIT-STATUS DESCRIPTION
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else failed=$((failed + 1)); echo "not ok $n - $2"; fi
}

"$FAKEWS" --help >"$tmp/help" 2>&1
check $? "--help exits 0"
grep -q -- '--port' "$tmp/help" && grep -q -- '--clock manual|real' "$tmp/help"
check $? "--help names the options"
"$FAKEWS" --port 0 >/dev/null 2>&1
[ $? -eq 2 ]
check $? "no --token: exit 2"
"$FAKEWS" --token T --clock sometimes >/dev/null 2>&1
[ $? -eq 2 ]
check $? "a bad --clock: exit 2"
"$FAKEWS" --token T --speed fast >/dev/null 2>&1
[ $? -eq 2 ]
check $? "a bad --speed: exit 2"
"$FAKEWS" --token T --port 70000 >/dev/null 2>&1
[ $? -eq 2 ]
check $? "a bad --port: exit 2"

# Real clock, 100x: a 14 s run takes 0.14 s.
mkfifo "$tmp/out"
"$FAKEWS" --port 0 --token T --clock real --speed 100 --die-with-parent >"$tmp/out" 2>"$tmp/err" &
pid=$!
exec 3<"$tmp/out"
read -r word port <&3
[ "$word" = LISTENING ] && [ "$port" -gt 0 ]
check $? "prints LISTENING <port> ($word $port)"
base="http://127.0.0.1:$port"
auth="Authorization: Bearer T"
job=$(curl -s -H "$auth" "$base/api/2.2/jobs/create" \
    -d '{"name":"cli","tasks":[{"task_key":"t","notebook_task":{"notebook_path":"/n"}}]}' |
    sed -n 's/.*"job_id":\([0-9]*\).*/\1/p')
[ -n "$job" ]
check $? "jobs/create over curl(1)"
run=$(curl -s -H "$auth" "$base/api/2.2/jobs/run-now" -d "{\"job_id\":$job}" |
    sed -n 's/.*"run_id":\([0-9]*\),.*/\1/p')
[ -n "$run" ]
check $? "run-now"
# Wait for the condition (bounded), not for a fixed time.
state=""
i=0
while [ $i -lt 500 ]; do
    state=$(curl -s -H "$auth" "$base/api/2.2/jobs/runs/get?run_id=$run" |
        sed -n 's/.*"state":{"life_cycle_state":"\([A-Z_]*\)".*/\1/p' | head -n 1)
    [ "$state" = TERMINATED ] && break
    i=$((i + 1))
done
[ "$state" = TERMINATED ]
check $? "the real clock at --speed 100 finishes a run ($i polls)"
kill -TERM "$pid"
wait "$pid"
check $? "SIGTERM: exit 0"
pid=""
echo "1..$n"
[ "$failed" -eq 0 ]
