#!/bin/sh
# tests/bench/fakews-runs-get.sh: runs/get throughput of tests/fakews under
# wrk on loopback, with 100,000 historical and 10,000 active runs held.
#   tests/bench/fakews-runs-get.sh [path/to/fakews] [seconds] [connections]
# Prints one table row per request mix; the goal is >= 10,000 req/s.
set -u
FAKEWS=${1:-${FAKEWS:-build/tests/fakews/fakews}}
secs=${2:-10}
conns=${3:-50}
for tool in wrk curl; do
    command -v $tool >/dev/null 2>&1 || { echo "fakews-runs-get: $tool is not installed" >&2; exit 77; }
done
tmp=$(mktemp -d) || exit 1
pid=""
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkfifo "$tmp/out"
"$FAKEWS" --port 0 --token bench-token --clock manual --die-with-parent >"$tmp/out" 2>"$tmp/err" &
pid=$!
exec 3<"$tmp/out"
read -r word port <&3
[ "$word" = LISTENING ] || { echo "fakews did not start" >&2; exit 1; }
base="http://127.0.0.1:$port"
auth="Authorization: Bearer bench-token"

curl -s -X POST "$base/__fake/seed" -d '{"jobs":100,"runs":100000,"active":10000}' >/dev/null
curl -s -X POST "$base/__fake/clock" -d '{"advance_ms":5000}' >/dev/null

# 200 run ids: 100 active, 100 historical, from list pages.
ids=""
for filter in active_only completed_only; do
    token=""
    for page in 1 2 3 4; do
        body=$(curl -s -H "$auth" "$base/api/2.2/jobs/runs/list?limit=25&$filter=true$token")
        ids="$ids $(printf '%s' "$body" | grep -o '"run_id":[0-9]*' | sed 's/.*://' | tr '\n' ' ')"
        next=$(printf '%s' "$body" | sed -n 's/.*"next_page_token":"\([0-9a-f]*\)".*/\1/p')
        token="&page_token=$next"
    done
done
{
    echo "local ids = {"
    for id in $ids; do echo "  \"$id\","; done
    echo "}"
    echo 'local i = 0'
    echo 'wrk.headers["Authorization"] = "Bearer bench-token"'
    echo 'request = function()'
    echo '  i = i + 1'
    echo '  return wrk.format("GET", "/api/2.2/jobs/runs/get?run_id=" .. ids[(i % #ids) + 1])'
    echo 'end'
} >"$tmp/runs-get.lua"
n_ids=$(echo $ids | wc -w)

wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$tmp/runs-get.lua" "$base" >"$tmp/wrk.txt" 2>&1
rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$tmp/wrk.txt")
p50=$(awk '$1 == "50%" { print $2 }' "$tmp/wrk.txt")
p99=$(awk '$1 == "99%" { print $2 }' "$tmp/wrk.txt")
errors=$(grep -E 'Non-2xx|Socket errors' "$tmp/wrk.txt" | tr '\n' ' ')
status=$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" \
    "$base/api/2.2/jobs/runs/get?run_id=$(echo $ids | cut -d' ' -f1)")

printf '%-34s %12s %10s %10s\n' "fakews (110,000 runs held)" "req/s" "p50" "p99"
printf '%-34s %12s %10s %10s\n' "runs/get, $n_ids ids, $conns conns" "$rps" "$p50" "$p99"
[ -n "$errors" ] && echo "wrk: $errors"
[ "$status" = 200 ] || { echo "runs/get answered $status after the run" >&2; exit 1; }
awk -v r="$rps" 'BEGIN { exit !(r + 0 >= 10000) }' || echo "below the 10,000 req/s goal"
exit 0
