#!/bin/sh
# tests/bench/crash.sh: the crash-consistency test (tests/integration/
# test-crash: SIGKILL at random moments while the poller archives and
# clients send run-now; integrity_check, nothing archived lost, nothing
# tracked dropped, no run-now doubled) with more rounds than make check's 50.
#   tests/bench/crash.sh [rounds] [builddir]     (CRASH_SEED=N repeats a run)
rounds=${1:-500}
B=${2:-build}
B=$(cd "$B" && pwd) || exit 1
[ -x "$B/tests/integration/test-crash" ] || (cd "$B" && make tests/integration/test-crash) ||
    exit 1
FAKEWS=$B/tests/fakews/fakews top_builddir=$B CRASH_ROUNDS=$rounds "$B/tests/integration/test-crash" >"$B/crash-bench.log" 2>&1
rc=$?
grep -E '^# |^not ok' "$B/crash-bench.log"
echo "crash: $(grep -c '^ok' "$B/crash-bench.log") ok, $(grep -c '^not ok' "$B/crash-bench.log") not ok" \
    "($rounds rounds; the full TAP log is $B/crash-bench.log)"
exit $rc
