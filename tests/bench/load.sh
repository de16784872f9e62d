#!/bin/sh
# tests/bench/load.sh: the load test (tests/integration/test-load) at full
# size: UNIX connections at once on the Unix socket, each with a request;
# slow clients (partial headers, headers or a body a byte a second) closed
# after server.request_timeout while a normal client is answered; IDLE idle
# TCP connections against server.max_connections MAX, every one served or
# closed by jobsd, both doors answering meanwhile. Raises the open-file
# limit as far as the hard limit allows (skips, saying so, below it).
#   tests/bench/load.sh [builddir] [unix] [idle] [max_connections]
B=${1:-build}
B=$(cd "$B" && pwd) || exit 1
[ -x "$B/tests/integration/test-load" ] || (cd "$B" && make tests/integration/test-load) || exit 1
ulimit -n "$(ulimit -Hn)" 2>/dev/null
t0=$(date +%s)
FAKEWS=$B/tests/fakews/fakews top_builddir=$B LOAD_UNIX=${2:-1000} LOAD_IDLE=${3:-10000} LOAD_MAX_CONN=${4:-1024} \
    "$B/tests/integration/test-load" >"$B/load-bench.log" 2>&1
rc=$?
grep -E '^(ok|not ok|#|1\.\.)' "$B/load-bench.log"
echo "load: $(grep -c '^ok' "$B/load-bench.log") ok, $(grep -c '^not ok' "$B/load-bench.log") not ok in $(($(date +%s) - t0)) s"
exit $rc
