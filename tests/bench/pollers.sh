#!/bin/sh
# tests/bench/pollers.sh: 200 clients each polling one active run every
# second for 30 s through jobsd, as orchestrators' waiters do: how many
# requests reach the workspace. Target (issue 6): at most one per refresh
# interval (cache.run_ttl, 5 s), whatever the number of clients.
#   tests/bench/pollers.sh [builddir] [clients] [seconds]
B=${1:-build}
clients=${2:-200}
secs=${3:-30}
name=pollers
. "$(dirname "$0")/lib.sh"

bench_fakews '{"jobs":1,"runs":0}'
job=$(curl -s -X POST -H "Authorization: Bearer bench-token" "$base/api/2.2/jobs/create" \
    -d '{"name":"long","tasks":[{"task_key":"a","notebook_task":{"notebook_path":"/x","base_parameters":{"fake_duration_ms":"86400000"}}}]}' |
    sed -n 's/.*"job_id":\([0-9]*\).*/\1/p')
run=$(curl -s -X POST -H "Authorization: Bearer bench-token" "$base/api/2.2/jobs/run-now" \
    -d "{\"job_id\":$job}" | sed -n 's/.*"run_id":\([0-9]*\).*/\1/p')
curl -s -X POST "$base/__fake/clock" -d '{"advance_ms":5000}' >/dev/null
bench_jobsd
count() { curl -s "$base/__fake/counters" | sed -n 's/.*"get_run":\([0-9]*\).*/\1/p'; }
before=$(count)
"$B/tests/bench/pollers" "$tmp/jobsd.sock" "/api/2.2/jobs/runs/get?run_id=$run" "$clients" "$secs"
after=$(count)
upstream=$((${after:-0} - ${before:-0}))
echo "$clients clients x $secs s: $upstream runs/get reached the workspace" \
    "($(awk -v u="$upstream" -v s="$secs" 'BEGIN { printf "%.2f", u / (s / 5) }') per 5 s refresh interval; target <= 1)"
