#!/bin/sh
# tests/bench/cache-hits.sh: cache hits of runs/get through jobsd and
# through nginx's proxy_cache in front of the same fakews, side by side in
# alternating rounds (wrk, loopback TCP). Then the same while entries keep
# expiring and refreshing under load (jobs/get with a 1 s TTL; nginx with
# proxy_cache_lock, use_stale updating and background_update).
#   tests/bench/cache-hits.sh [builddir] [seconds-per-round] [rounds] [connections] [wrk-threads]
# Targets (issue 6): jobsd >= 1.3x nginx's requests/s; p99 <= 2 ms, also
# while entries refresh. Installs nginx-light with apt-get when missing.
# One wrk thread by default: on two cores a second one would take the core
# the single-threaded jobsd (or nginx's second worker) needs.
B=${1:-build}
secs=${2:-5}
rounds=${3:-3}
conns=${4:-50}
threads=${5:-1}
name=cache-hits
if ! command -v nginx >/dev/null 2>&1 && [ -x /usr/sbin/nginx ]; then PATH=$PATH:/usr/sbin; fi
if ! command -v nginx >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null 2>&1
    PATH=$PATH:/usr/sbin
fi
command -v nginx >/dev/null 2>&1 ||
    { echo "cache-hits: nginx is not installed (apt-get install nginx-light)" >&2; exit 77; }
. "$(dirname "$0")/lib.sh"
bench_cleanup_extra() { [ -f "$tmp/nginx.pid" ] && kill -QUIT "$(cat "$tmp/nginx.pid")" 2>/dev/null; }

bench_fakews '{"jobs":100,"runs":5000}'
bench_jobsd --set cache.job_ttl=1s

# nginx with proxy_cache in front of the same fakews, on a free port.
nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + $$ % 20000)))
mkdir -p "$tmp/ncache" "$tmp/nlogs"
nuser=""
[ "$(id -u)" -eq 0 ] && nuser="user root;" # workers must write the cache in our 0700 temp dir
cat >"$tmp/nginx.conf" <<NGINX
$nuser
worker_processes auto;
pid $tmp/nginx.pid;
error_log $tmp/nlogs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    proxy_cache_path $tmp/ncache keys_zone=jobs:16m max_size=256m inactive=1h;
    upstream fakews { server 127.0.0.1:$fport; keepalive 64; }
    server {
        listen 127.0.0.1:$nport;
        location / {
            proxy_pass http://fakews;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "Bearer bench-token";
            proxy_cache jobs;
            proxy_cache_key \$request_uri;
            proxy_cache_valid 200 10m;
            proxy_ignore_headers Cache-Control Expires Set-Cookie;
            proxy_cache_lock on;
            proxy_cache_use_stale updating error timeout http_500 http_502 http_503;
            proxy_cache_background_update on;
            add_header X-Cache \$upstream_cache_status;
            location /api/2.2/jobs/get {
                proxy_pass http://fakews;
                proxy_http_version 1.1;
                proxy_set_header Connection "";
                proxy_set_header Authorization "Bearer bench-token";
                proxy_cache jobs;
                proxy_cache_key \$request_uri;
                proxy_cache_valid 200 1s;
                proxy_cache_lock on;
                proxy_cache_use_stale updating;
                proxy_cache_background_update on;
            }
        }
    }
}
NGINX
nginx -c "$tmp/nginx.conf" -p "$tmp" 2>"$tmp/nginx.err" || { cat "$tmp/nginx.err" >&2; exit 1; }
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$nport/" && break; sleep 0.05; done

ids=$(for p in 1 2 3 4 5 6 7 8; do
    curl -s -H "Authorization: Bearer bench-token" "$base/api/2.2/jobs/runs/list?limit=25&completed_only=true&offset=$(( (p - 1) * 25 ))" |
        grep -o '"run_id":[0-9]*' | sed 's/.*://'
done | sort -u | tr '\n' ' ')
jobs=$(curl -s -H "Authorization: Bearer bench-token" "$base/api/2.2/jobs/list?limit=100" |
    grep -o '"job_id":[0-9]*' | sed 's/.*://' | sort -u | tr '\n' ' ')
wrk_script "$tmp/j-runs.lua" "$ltoken" "/api/2.2/jobs/runs/get?run_id=" "$ids"
wrk_script "$tmp/n-runs.lua" "" "/api/2.2/jobs/runs/get?run_id=" "$ids"
wrk_script "$tmp/j-jobs.lua" "$ltoken" "/api/2.2/jobs/get?job_id=" "$jobs"
wrk_script "$tmp/n-jobs.lua" "" "/api/2.2/jobs/get?job_id=" "$jobs"

# Warm both caches, and make sure nginx really caches.
wrk -t1 -c4 -d2s -s "$tmp/j-runs.lua" "http://127.0.0.1:$jport" >/dev/null 2>&1
wrk -t1 -c4 -d2s -s "$tmp/n-runs.lua" "http://127.0.0.1:$nport" >/dev/null 2>&1
first=$(echo $ids | cut -d' ' -f1)
hit=$(curl -s -D - -o /dev/null "http://127.0.0.1:$nport/api/2.2/jobs/runs/get?run_id=$first" | tr -d '\r' | sed -n 's/^X-Cache: //p')
[ "$hit" = HIT ] || { echo "cache-hits: nginx does not cache (X-Cache: $hit)" >&2; exit 1; }
before=$(curl -s "$base/__fake/counters" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')

printf '%-24s %-5s | %10s %8s %8s | %10s %8s %8s | %6s\n' phase round "nginx r/s" "p50 us" "p99 us" \
    "jobsd r/s" "p50 us" "p99 us" "ratio"
for phase in runs jobs; do
    for r in $(seq 1 "$rounds"); do
        set -- $(wrk_run "$tmp/n-$phase.lua" "http://127.0.0.1:$nport" "$conns" "$threads" "$secs")
        n_rps=$1 n_p50=$2 n_p99=$3
        set -- $(wrk_run "$tmp/j-$phase.lua" "http://127.0.0.1:$jport" "$conns" "$threads" "$secs")
        j_rps=$1 j_p50=$2 j_p99=$3
        label="runs/get hits"
        [ "$phase" = jobs ] && label="jobs/get, 1 s TTL"
        printf '%-24s %-5s | %10s %8s %8s | %10s %8s %8s | %6s\n' "$label" "$r" "$n_rps" "$n_p50" \
            "$n_p99" "$j_rps" "$j_p50" "$j_p99" \
            "$(ratio "$j_rps" "$n_rps")"
    done
done
after=$(curl -s "$base/__fake/counters" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')
echo
echo "fakews requests during the measured rounds (both proxies): $((after - before))"
echo "jobsd: $(curl -s --unix-socket "$tmp/jobsd.sock" http://x/metrics | grep -E '^jobsd_cache_(hits|stale_hits|misses|refreshes|coalesced)_total' | tr '\n' ' ')"
