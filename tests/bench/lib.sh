# Shared by the benchmark scripts: a private temp dir removed at exit, fakews
# and jobsd started through tests/harness/launch (never slept for), wrk
# scripts over a list of ids, and wrk's figures in plain numbers.
# Set B (the build dir) and name before sourcing.
set -u
for tool in wrk curl; do
    command -v $tool >/dev/null 2>&1 ||
        { echo "$name: $tool is not installed (apt-get install $tool)" >&2; exit 77; }
done
B=$(cd "$B" && pwd)
tmp=$(mktemp -d) || exit 1
fw=""
jd=""
bench_cleanup_extra() { :; }
cleanup() {
    bench_cleanup_extra
    [ -n "$jd" ] && kill -TERM "$jd" 2>/dev/null
    [ -n "$fw" ] && kill -TERM "$fw" 2>/dev/null
    sleep 0.3
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# bench_fakews SEED-JSON: fakews on a free port (manual clock), seeded; sets
# fw, fport, base.
bench_fakews() {
    out=$("$B/tests/harness/launch" --line LISTENING --log "$tmp/fw.out" -- \
        "$B/tests/fakews/fakews" --port 0 --token bench-token --clock manual 2>"$tmp/fw.err") ||
        { echo "$name: fakews did not start" >&2; exit 1; }
    fw=${out% *}
    fport=${out#* }
    base="http://127.0.0.1:$fport"
    curl -s -X POST "$base/__fake/seed" -d "$1" >/dev/null
}

# bench_jobsd [--set k=v ...]: jobsd against fakews on loopback TCP with an
# unbinding rate limit and no poller (unless the arguments turn it on);
# sets jd, jport, ltoken.
bench_jobsd() {
    : >"$tmp/jobsd.conf"
    chmod 600 "$tmp/jobsd.conf"
    jd=$(HOME=$tmp DATABRICKS_HOST=$base DATABRICKS_TOKEN=bench-token "$B/tests/harness/launch" \
        --log "$tmp/jd.notify" -- "$B/daemon/jobsd" -c "$tmp/jobsd.conf" \
        --socket "$tmp/jobsd.sock" --tcp 127.0.0.1:0 --set server.socket_group= \
        --set "daemon.state_dir=$tmp" --set "daemon.runtime_dir=$tmp" \
        --set upstream.rate=100000 --set upstream.burst=100000 --set upstream.max_in_flight=64 \
        --set upstream.queue_max=10000 --set poller.enabled=no "$@" 2>"$tmp/jd.err") ||
        { echo "$name: jobsd did not start" >&2; cat "$tmp/jd.err" >&2; exit 1; }
    jport=$(curl -s --unix-socket "$tmp/jobsd.sock" http://x/jobsd/v1/status |
        sed -n 's/.*"tcp_port":\([0-9]*\).*/\1/p')
    ltoken=$(cat "$tmp/local-token")
}

# wrk_script FILE TOKEN PATH-PREFIX IDS: a wrk script cycling over the ids
# (TOKEN empty: no Authorization header).
wrk_script() {
    {
        echo "local ids = {"
        for id in $4; do echo "  \"$id\","; done
        echo "}"
        echo 'local i = 0'
        [ -n "$2" ] && echo "wrk.headers[\"Authorization\"] = \"Bearer $2\""
        echo 'request = function()'
        echo '  i = i + 1'
        echo "  return wrk.format(\"GET\", \"$3\" .. ids[(i % #ids) + 1])"
        echo 'end'
    } >"$1"
}

# A wrk latency figure ("123.45us", "1.20ms", "2.00s") in microseconds.
us() {
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n *= 1; else if (v ~ /ms$/) n *= 1000;
                           else if (v ~ /s$/) n *= 1000000; printf "%.0f", n }'
}

# wrk_run LUA URL CONNECTIONS THREADS SECONDS: prints "rps p50us p99us".
wrk_run() {
    wrk -t"$4" -c"$3" -d"$5s" --latency -s "$1" "$2" >"$tmp/wrk.txt" 2>&1
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$tmp/wrk.txt")
    p50=$(us "$(awk '$1 == "50%" { print $2 }' "$tmp/wrk.txt")")
    p99=$(us "$(awk '$1 == "99%" { print $2 }' "$tmp/wrk.txt")")
    echo "${rps%.*} $p50 $p99"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
