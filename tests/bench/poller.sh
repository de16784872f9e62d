#!/bin/sh
# tests/bench/poller.sh: the poller tracking many active runs within a
# small upstream budget (issue 7). The workspace (fakews) is seeded with
# ACTIVE active runs and enforces the budget itself: a request above it
# would be answered 429 and counted. Measures:
#   - a sweep of the active runs (runs/list, 25 a page) and its duration;
#   - 100 runs finishing at once: when jobsd publishes each change, in
#     sweeps (target: every one within two);
#   - 1,000 local waits on 100 runs: upstream requests they add (target 0);
#   - the budget: 429s from the workspace (target 0), the average rate;
#   - jobsd's peak RSS (target <= 64 MB).
#   tests/bench/poller.sh [builddir] [active-runs] [rate]
B=${1:-build}
active=${2:-10000}
rate=${3:-20}
name=poller
. "$(dirname "$0")/lib.sh"

now_ms() { date +%s%3N; }
status() { curl -s --unix-socket "$tmp/jobsd.sock" http://x/jobsd/v1/status; }
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
total() { curl -s "$base/__fake/counters" | sed -n 's/.*"total":\([0-9]*\).*/\1/p'; }
# wait_for SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds.
wait_for() {
    limit=$(($(date +%s) + $1))
    shift
    until "$@"; do
        [ "$(date +%s)" -ge "$limit" ] && return 1
        sleep 0.2
    done
}

echo "seeding $active active runs..."
bench_fakews "{\"jobs\":100,\"runs\":0,\"active\":$active,\"days\":1}"
curl -s -X POST "$base/__fake/rate-limit" -d "{\"rps\":$rate,\"burst\":$rate}" >/dev/null
t_start=$(now_ms)
bench_jobsd --set poller.enabled=yes --set poller.backfill=no --set poller.share=100 \
    --set poller.interval_min=100ms --set poller.interval_max=100ms \
    --set upstream.rate="$rate" --set upstream.burst=2 --set upstream.max_in_flight=4
sweeps_at_least() { [ "$(status | field sweeps)" -ge "$1" ]; }
wait_for 900 sweeps_at_least 1 || { echo "$name: no sweep finished" >&2; exit 1; }
first=$(status | field last_sweep_ms)
wait_for 900 sweeps_at_least 2 || { echo "$name: no second sweep" >&2; exit 1; }
st=$(status)
tracked=$(echo "$st" | field tracked_runs)
sweep_ms=$(echo "$st" | field last_sweep_ms)
echo "tracking $tracked runs; first sweep (discovery, archiving every run) $first ms, a steady sweep $sweep_ms ms"

# 100 runs end at once; the event stream says when jobsd saw each.
ids=$(curl -s --unix-socket "$tmp/jobsd.sock" "http://x/jobsd/v1/runs?limit=200" |
    grep -o '"job_id":[0-9]*,"run_id":[0-9]*' | cut -d: -f3 | head -n 200)
ending=$(echo "$ids" | head -n 100)
waited=$(echo "$ids" | tail -n 100)
curl -s -N --unix-socket "$tmp/jobsd.sock" "http://x/jobsd/v1/events" >"$tmp/events.txt" &
sse=$!
bench_cleanup_extra() { kill "$sse" 2>/dev/null; }
wait_for 10 grep -q 'jobsd events' "$tmp/events.txt"
for id in $ending; do
    curl -s -X POST "$base/__fake/runs/set" -d "{\"run_id\":$id,\"duration_ms\":1}" >/dev/null
done
t0=$(now_ms)
curl -s -X POST "$base/__fake/clock" -d '{"advance_ms":60000}' >/dev/null
all_seen() {
    n=0
    for id in $ending; do
        grep -q "\"run_id\":$id,.*\"terminal\":true" "$tmp/events.txt" && n=$((n + 1))
    done
    [ "$n" -eq 100 ]
}
wait_for 600 all_seen || echo "$name: not every change was seen" >&2
latest=0
for id in $ending; do
    t=$(grep "\"run_id\":$id,.*\"terminal\":true" "$tmp/events.txt" | head -n 1 |
        sed -n 's/.*"time":\([0-9]*\).*/\1/p')
    [ -n "$t" ] && [ "$t" -gt "$latest" ] && latest=$t
done
lat=$((latest - t0))
echo "100 runs ended: the last change seen after $lat ms = $(ratio "$lat" "$sweep_ms") sweeps (target <= 2)"

# 1,000 local waits on 100 other runs.
before_ws=$(total)
before_poller=$(status | field requests)
"$B/tests/bench/waiters" "$tmp/jobsd.sock" 1000 600 $waited >"$tmp/waiters.txt" &
wpid=$!
held() { [ "$(status | field waiters)" -ge 1000 ]; }
wait_for 60 held || echo "$name: the waits were not all held" >&2
for id in $waited; do
    curl -s -X POST "$base/__fake/runs/set" -d "{\"run_id\":$id,\"duration_ms\":1}" >/dev/null
done
curl -s -X POST "$base/__fake/clock" -d '{"advance_ms":60000}' >/dev/null
wait "$wpid"
cat "$tmp/waiters.txt"
after_ws=$(total)
after_poller=$(status | field requests)
echo "the waits' upstream cost: $((after_ws - before_ws - (after_poller - before_poller))) requests" \
    "(workspace saw $((after_ws - before_ws)), the poller made $((after_poller - before_poller)); target 0 extra)"

t_end=$(now_ms)
all=$(total)
limited=$(curl -s "$base/__fake/requests?limit=10000" | grep -c '"fault":"rate_limit"')
echo "budget $rate req/s: $all requests in $(((t_end - t_start) / 1000)) s =" \
    "$(awk -v n="$all" -v ms="$((t_end - t_start))" 'BEGIN { printf "%.1f", n * 1000 / ms }') req/s;" \
    "answered 429 by the workspace: $limited (target 0)"
rss=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$jd/status")
echo "jobsd peak RSS: $rss MB (target <= 64)"
