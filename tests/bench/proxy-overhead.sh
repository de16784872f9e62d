#!/bin/sh
# tests/bench/proxy-overhead.sh: what passing through jobsd costs, side by
# side in one run. runs/get of 25 runs, first straight to fakews, then
# through jobsd's loopback TCP port (cache off: every request goes to the
# workspace), alternating rounds so that a noisy machine hurts both alike.
# One connection for latency (the added p50 is what a single script feels),
# 16 for throughput. Also jobsd's RSS idle and after the load.
#   tests/bench/proxy-overhead.sh [builddir] [seconds-per-round] [rounds]
# Targets (issue 5): added latency p50 <= 0.3 ms; idle RSS <= 8 MB.
B=${1:-build}
secs=${2:-5}
rounds=${3:-3}
name=proxy-overhead
. "$(dirname "$0")/lib.sh"

bench_fakews '{"jobs":20,"runs":2000,"active":100}'
bench_jobsd --set cache.enabled=no
rss() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
idle_rss=$(rss "$jd")

ids=$(curl -s -H "Authorization: Bearer bench-token" \
    "$base/api/2.2/jobs/runs/list?limit=25&completed_only=true" |
    grep -o '"run_id":[0-9]*' | sed 's/.*://' | tr '\n' ' ')
wrk_script "$tmp/direct.lua" bench-token "/api/2.2/jobs/runs/get?run_id=" "$ids"
wrk_script "$tmp/jobsd.lua" "$ltoken" "/api/2.2/jobs/runs/get?run_id=" "$ids"

printf '%-6s %-6s | %10s %9s %9s | %10s %9s %9s | %11s %7s\n' round conns \
    "direct r/s" "p50 us" "p99 us" "jobsd r/s" "p50 us" "p99 us" "added p50" "ratio"
for r in $(seq 1 "$rounds"); do
    for c in 1 16; do
        set -- $(wrk_run "$tmp/direct.lua" "$base" "$c" 1 "$secs")
        d_rps=$1 d_p50=$2 d_p99=$3
        set -- $(wrk_run "$tmp/jobsd.lua" "http://127.0.0.1:$jport" "$c" 1 "$secs")
        j_rps=$1 j_p50=$2 j_p99=$3
        printf '%-6s %-6s | %10s %9s %9s | %10s %9s %9s | %8s us %7s\n' "$r" "$c" \
            "$d_rps" "$d_p50" "$d_p99" "$j_rps" "$j_p50" "$j_p99" "$((j_p50 - d_p50))" \
            "$(ratio "$j_rps" "$d_rps")"
    done
done
echo
echo "jobsd RSS: idle ${idle_rss} MB, after the load $(rss "$jd") MB (target idle <= 8 MB)"
