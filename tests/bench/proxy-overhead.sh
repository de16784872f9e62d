#!/bin/sh
# tests/bench/proxy-overhead.sh: what passing through jobsd costs, side by
# side in one run. runs/get of 200 runs, first straight to fakews, then
# through jobsd's loopback TCP port, alternating rounds so that a noisy
# machine hurts both alike. One connection for latency (the added p50 is
# what a single script feels), 16 for throughput. Also jobsd's RSS idle and
# after the load.
#   tests/bench/proxy-overhead.sh [builddir] [seconds-per-round] [rounds]
# Targets (issue 5): added latency p50 <= 0.3 ms; idle RSS <= 8 MB.
set -u
B=${1:-build}
secs=${2:-5}
rounds=${3:-3}
for tool in wrk curl; do
    command -v $tool >/dev/null 2>&1 || { echo "proxy-overhead: $tool is not installed (apt-get install $tool)" >&2; exit 77; }
done
B=$(cd "$B" && pwd)
tmp=$(mktemp -d) || exit 1
fw=""
jd=""
cleanup() {
    [ -n "$jd" ] && kill -TERM "$jd" 2>/dev/null
    [ -n "$fw" ] && kill -TERM "$fw" 2>/dev/null
    sleep 0.2
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

out=$("$B/tests/harness/launch" --line LISTENING --log "$tmp/fw.out" -- \
    "$B/tests/fakews/fakews" --port 0 --token bench-token --clock manual 2>"$tmp/fw.err") ||
    { echo "fakews did not start" >&2; exit 1; }
fw=${out% *}
port=${out#* }
base="http://127.0.0.1:$port"
auth="Authorization: Bearer bench-token"
curl -s -X POST "$base/__fake/seed" -d '{"jobs":20,"runs":2000,"active":100}' >/dev/null

: >"$tmp/jobsd.conf"
chmod 600 "$tmp/jobsd.conf"
jd=$(HOME=$tmp DATABRICKS_HOST=$base DATABRICKS_TOKEN=bench-token "$B/tests/harness/launch" \
    --log "$tmp/jd.notify" -- "$B/daemon/jobsd" -c "$tmp/jobsd.conf" --socket "$tmp/jobsd.sock" \
    --tcp 127.0.0.1:0 --set server.socket_group= --set "daemon.state_dir=$tmp" \
    --set "daemon.runtime_dir=$tmp" --set upstream.rate=100000 --set upstream.burst=100000 \
    --set upstream.max_in_flight=64 --set upstream.queue_max=10000 2>"$tmp/jd.err") ||
    { echo "jobsd did not start" >&2; cat "$tmp/jd.err" >&2; exit 1; }
jport=$(curl -s --unix-socket "$tmp/jobsd.sock" http://x/jobsd/v1/status | sed -n 's/.*"tcp_port":\([0-9]*\).*/\1/p')
ltoken=$(cat "$tmp/local-token")
rss() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
idle_rss=$(rss "$jd")

ids=$(curl -s -H "$auth" "$base/api/2.2/jobs/runs/list?limit=25&completed_only=true" |
    grep -o '"run_id":[0-9]*' | sed 's/.*://' | tr '\n' ' ')
script() { # script TOKEN: a wrk script cycling over the run ids
    echo "local ids = {"
    for id in $ids; do echo "  \"$id\","; done
    echo "}"
    echo 'local i = 0'
    echo "wrk.headers[\"Authorization\"] = \"Bearer $1\""
    echo 'request = function()'
    echo '  i = i + 1'
    echo '  return wrk.format("GET", "/api/2.2/jobs/runs/get?run_id=" .. ids[(i % #ids) + 1])'
    echo 'end'
}
script bench-token >"$tmp/direct.lua"
script "$ltoken" >"$tmp/jobsd.lua"

# A wrk latency figure ("123.45us", "1.20ms") in microseconds.
us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n *= 1; else if (v ~ /ms$/) n *= 1000; else if (v ~ /s$/) n *= 1000000; printf "%.0f", n }'; }
run() { # run NAME URL CONNS: prints "rps p50us p99us"
    wrk -t1 -c"$3" -d"${secs}s" --latency -s "$tmp/$1.lua" "$2" >"$tmp/wrk.txt" 2>&1
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$tmp/wrk.txt")
    p50=$(us "$(awk '$1 == "50%" { print $2 }' "$tmp/wrk.txt")")
    p99=$(us "$(awk '$1 == "99%" { print $2 }' "$tmp/wrk.txt")")
    echo "${rps%.*} $p50 $p99"
}

printf '%-6s %-6s %5s | %10s %9s %9s | %10s %9s %9s | %11s %7s\n' round conns "" \
    "direct r/s" "p50 us" "p99 us" "jobsd r/s" "p50 us" "p99 us" "added p50" "ratio"
for r in $(seq 1 "$rounds"); do
    for c in 1 16; do
        set -- $(run direct "$base" "$c")
        d_rps=$1 d_p50=$2 d_p99=$3
        set -- $(run jobsd "http://127.0.0.1:$jport" "$c")
        j_rps=$1 j_p50=$2 j_p99=$3
        printf '%-6s %-6s %5s | %10s %9s %9s | %10s %9s %9s | %8s us %7s\n' "$r" "$c" "" \
            "$d_rps" "$d_p50" "$d_p99" "$j_rps" "$j_p50" "$j_p99" "$((j_p50 - d_p50))" \
            "$(awk -v a="$j_rps" -v b="$d_rps" 'BEGIN { printf "%.2f", a / b }')"
    done
done
echo
echo "jobsd RSS: idle ${idle_rss} MB, after the load $(rss "$jd") MB (target idle <= 8 MB)"
echo "upstream of jobsd: $(curl -s --unix-socket "$tmp/jobsd.sock" http://x/jobsd/v1/status | grep -o '"upstream":{[^}]*' | cut -c1-200)"
