#!/bin/sh
# tests/bench/soak.sh: the fault soak (issue 10). Mixed client load on
# jobsd's Unix socket (tests/bench/soakload: runs/get, jobs/get, lists,
# status, metrics, waits, event streams, run-now with and without a token,
# cancel) while fakews (real clock, seeded with jobs and active runs, the
# poller on) answers about 10 % of the API requests with 429, 500, 503,
# resets, hangs and truncated bodies, and enforces the same rate budget
# as jobsd's upstream.rate. Fails when jobsd dies, when a client request
# is not answered as documented (or not within its deadline), when the
# workspace counted a request over the budget, or when jobsd's RSS grows
# past its bound (sampled every few seconds).
#   tests/bench/soak.sh [minutes] [builddir]
# SOAK_SECONDS overrides the duration (make check: ~25 s); SOAK_VALGRIND=1
# runs jobsd under valgrind --leak-check=full (and fails on a definite leak
# or an invalid access).
set -u
minutes=${1:-10}
B=${2:-${B:-build}}
name=soak
seconds=${SOAK_SECONDS:-$((minutes * 60))}
rate=${SOAK_RATE:-20}
clients=${SOAK_CLIENTS:-16}
think=${SOAK_THINK_MS:-20}
rss_max_kb=${SOAK_RSS_MAX_KB:-262144}
valgrind=${SOAK_VALGRIND:-0}
[ "$valgrind" = 1 ] && rss_max_kb=${SOAK_RSS_MAX_KB:-1048576}
# The growth check (SOAK_GROWTH=0 turns it off): off under AddressSanitizer,
# whose quarantine of freed memory grows RSS by design.
growth=${SOAK_GROWTH:-1}
if grep -q -a __asan_init "$B/daemon/jobsd" 2>/dev/null; then
    growth=0
    rss_max_kb=${SOAK_RSS_MAX_KB:-1048576}
fi

command -v curl >/dev/null 2>&1 || { echo "$name: curl is not installed" >&2; exit 77; }
if [ "$valgrind" = 1 ] && ! command -v valgrind >/dev/null 2>&1; then
    echo "$name: valgrind is not installed (apt-get install valgrind)" >&2
    exit 77
fi
B=$(cd "$B" && pwd) || exit 1
tmp=$(mktemp -d) || exit 1
fw=""
jd=""
sampler=""
cleanup() {
    [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
    [ -n "$jd" ] && kill -TERM "$jd" 2>/dev/null
    [ -n "$fw" ] && kill -TERM "$fw" 2>/dev/null
    sleep 0.3
    [ -n "$jd" ] && kill -KILL "$jd" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

out=$("$B/tests/harness/launch" --line LISTENING --log "$tmp/fw.out" -- \
    "$B/tests/fakews/fakews" --port 0 --token soak-ws-token --clock real --speed 20 \
    2>"$tmp/fw.err") || { echo "$name: fakews did not start" >&2; exit 1; }
fw=${out% *}
base="http://127.0.0.1:${out#* }"
post() { curl -s -X POST "$base$1" -d "$2" >/dev/null; }
# 20 jobs, 200 finished runs, 40 active ones (a day long on a 20x clock:
# they stay active); run-now starts 10-s runs (30 s with setup, 1.5 s real).
post /__fake/seed '{"jobs":20,"runs":200,"active":40,"days":5}'
# The workspace's burst is larger than jobsd's (5): the margin absorbs
# fakews' own processing delays (one thread, faults, a 2-core machine), as
# in tests/bench/poller.sh; the rate itself is the same.
post /__fake/rate-limit "{\"rps\":$rate,\"burst\":$rate}"
# About 10 % of the API requests meet a fault, of every kind but drop_reply
# (jobsd's own tests cover it): per mille over the matching requests.
for f in '"kind":"status","status":429,"permille":25' \
    '"kind":"status","status":500,"permille":20' \
    '"kind":"status","status":503,"permille":20' \
    '"kind":"reset","permille":12' \
    '"kind":"hang","delay_ms":8000,"permille":8' \
    '"kind":"truncate","permille":15' \
    '"kind":"non_json","permille":5'; do
    post /__fake/faults "{$f,\"path_prefix\":\"/api/\",\"count\":1000000}"
done

: >"$tmp/jobsd.conf"
chmod 600 "$tmp/jobsd.conf"
set -- "$B/daemon/jobsd" -c "$tmp/jobsd.conf" --socket "$tmp/jobsd.sock" \
    --set server.socket_group= --set "daemon.state_dir=$tmp" --set "daemon.runtime_dir=$tmp" \
    --set upstream.rate="$rate" --set upstream.burst=5 --set upstream.timeout=5s \
    --set upstream.connect_timeout=2s --set upstream.retry_budget=20s \
    --set poller.enabled=yes --set poller.backfill=no --set poller.interval_min=500ms \
    --set poller.interval_max=2s --set poller.idle_interval=1s --set cache.run_ttl=2s
if [ "$valgrind" = 1 ]; then
    set -- valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite --error-exitcode=99 --log-file="$tmp/valgrind.log" "$@"
fi
jd=$(HOME=$tmp DATABRICKS_HOST=$base DATABRICKS_TOKEN=soak-ws-token "$B/tests/harness/launch" \
    --timeout 120 --log "$tmp/jd.notify" -- "$@" 2>"$tmp/jd.err") ||
    { echo "$name: jobsd did not start" >&2; tail -n 20 "$tmp/jd.err" >&2; exit 1; }

# RSS every few seconds (after the start-up; under valgrind the whole
# process, so only the growth check means anything).
interval=$((seconds >= 120 ? 10 : 2))
(
    while kill -0 "$jd" 2>/dev/null; do
        rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$jd/status" 2>/dev/null)
        [ -n "$rss" ] && echo "$(date +%s) $rss" >>"$tmp/rss"
        sleep "$interval"
    done
) &
sampler=$!

echo "$name: $seconds s, $clients clients (think ${think} ms), upstream budget $rate/s," \
    "~10 % of API requests faulted${valgrind:+, valgrind=$valgrind}"
t0=$(date +%s)
"$B/tests/bench/soakload" "$tmp/jobsd.sock" "$seconds" "$clients" "$think" >"$tmp/load.txt" \
    2>"$tmp/load.err"
load_rc=$?
t1=$(date +%s)
cat "$tmp/load.txt"
head -n 20 "$tmp/load.err"

fail=0
alive=1
kill -0 "$jd" 2>/dev/null || alive=0
if [ "$alive" = 1 ]; then
    echo "jobsd: alive after $((t1 - t0)) s"
else
    echo "$name: FAIL: jobsd died: $(cat "$tmp/jd.notify" | tail -n 1)"
    tail -n 20 "$tmp/jd.err"
    fail=1
fi
[ "$load_rc" -eq 0 ] || { echo "$name: FAIL: client requests not answered as documented"; fail=1; }

counters=$(curl -s "$base/__fake/counters")
limited=$(echo "$counters" | sed -n 's/.*"rate_limited":\([0-9]*\).*/\1/p')
faults=$(echo "$counters" | sed -n 's/.*"faults":\([0-9]*\).*/\1/p')
total=$(echo "$counters" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')
elapsed=$((t1 - t0 > 0 ? t1 - t0 : 1))
echo "upstream: $total requests ($(awk -v a="$total" -v b="$elapsed" 'BEGIN{printf "%.1f", a/b}')/s," \
    "budget $rate/s), $faults faulted ($(awk -v a="$faults" -v b="$total" 'BEGIN{printf "%.1f", b ? 100*a/b : 0}') %)," \
    "$limited over the budget"
[ "${limited:-1}" -eq 0 ] || { echo "$name: FAIL: $limited requests exceeded the rate budget"; fail=1; }

if [ -s "$tmp/rss" ]; then
    n=$(wc -l <"$tmp/rss")
    awk -v max="$rss_max_kb" -v n="$n" -v growth="$growth" '
        { r[NR] = $2; t[NR] = $1 }
        END {
            lo = r[1]; hi = r[1]
            for (i = 1; i <= NR; i++) { if (r[i] < lo) lo = r[i]; if (r[i] > hi) hi = r[i] }
            # the growth check: the last quarter against the second quarter
            q = int(NR / 4); a = 0; b = 0
            for (i = q + 1; i <= 2 * q; i++) if (r[i] > a) a = r[i]
            for (i = NR - q + 1; i <= NR; i++) if (r[i] > b) b = r[i]
            printf "rss: %d samples over %d s, min %d KiB, max %d KiB, last %d KiB", NR, t[NR] - t[1], lo, hi, r[NR]
            if (q >= 2) printf ", max of 2nd quarter %d KiB, of last quarter %d KiB", a, b
            printf "\n"
            line = ""
            for (i = 1; i <= NR; i += (NR > 12 ? int(NR / 12) : 1)) line = line " " int(r[i] / 1024)
            print "rss over time (MiB):" line
            if (hi > max) { print "soak: FAIL: RSS " hi " KiB over the bound " max " KiB"; exit 1 }
            if (growth && q >= 2 && b > a * 1.25 + 8192) { print "soak: FAIL: RSS keeps growing"; exit 1 }
            if (!growth) print "rss: the growth check is off (SOAK_GROWTH=0 or AddressSanitizer)"
        }' "$tmp/rss" || fail=1
fi

# A clean stop (and, under valgrind, its report).
if [ "$alive" = 1 ]; then
    kill "$sampler" 2>/dev/null
    sampler=""
    kill -TERM "$jd"
    for _ in $(seq 1 600); do
        grep -q '^EXIT=' "$tmp/jd.notify" 2>/dev/null && break
        sleep 0.1
    done
    code=$(sed -n 's/^EXIT=//p' "$tmp/jd.notify" | tail -n 1)
    jd=""
    echo "jobsd: exit status $code after SIGTERM"
    [ "$code" = 0 ] || { echo "$name: FAIL: jobsd exited with '$code'"; fail=1; }
    if [ "$valgrind" = 1 ]; then
        if grep -qE 'definitely lost|Invalid (read|write)|uninitialised|Invalid free' "$tmp/valgrind.log"; then
            echo "$name: FAIL: valgrind:"
            head -n 60 "$tmp/valgrind.log"
            fail=1
        else
            echo "valgrind: no definite leak, no invalid access ($(wc -l <"$tmp/valgrind.log") lines of report)"
        fi
    fi
fi
grep -c 'level=err\|<3>\|error' "$tmp/jd.err" >/dev/null 2>&1 &&
    echo "jobsd log: $(wc -l <"$tmp/jd.err") lines, $(grep -ci 'error' "$tmp/jd.err") mention an error"
[ "$fail" -eq 0 ] && echo "$name: PASS" || echo "$name: FAIL"
exit "$fail"
