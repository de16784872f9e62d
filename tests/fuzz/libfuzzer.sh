#!/bin/sh
# make check's short run of the libFuzzer targets (built when configure
# found clang's libFuzzer): each tests/fuzz/libfuzzer-NAME for
# FUZZ_SECONDS (default 3) over its seed corpus and dictionary, new inputs
# going to a scratch directory. Prints TAP, one line per target with its
# executions and coverage; a crash, leak or timeout fails the line, and its
# log and reproducer are shown. tests/fuzz/run-long is the long version.
set -u
src=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${top_builddir:-.}
seconds=${FUZZ_SECONDS:-3}
targets=${FUZZ_TARGETS:-"config json router upstream client"}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/jobsd-libfuzzer.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT INT TERM
# The targets' own scratch files too, even those of a run that crashed.
TMPDIR=$scratch
export TMPDIR

n=0
for t in $targets; do
    n=$((n + 1))
    bin="$build/tests/fuzz/libfuzzer-$t"
    if [ ! -x "$bin" ]; then
        echo "ok $n - $t # SKIP $bin not built"
        continue
    fi
    mkdir -p "$scratch/$t"
    log="$scratch/$t.log"
    flags=$(grep -v '^#' "$src/tests/fuzz/$t.flags" 2>/dev/null)
    # The scratch corpus first: libFuzzer writes new inputs there only.
    # shellcheck disable=SC2086
    (cd "$scratch" && "$bin" $flags -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$scratch/$t-" \
        -dict="$src/tests/fuzz/$t.dict" "$scratch/$t" "$src/tests/fuzz/corpus-$t" >"$log" 2>&1)
    status=$?
    stats=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(printf '%s\n' "$stats" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$stats" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    if [ "$status" -eq 0 ]; then
        echo "ok $n - $t: ${runs:-?} runs, ${speed:-?} exec/s, cov ${cov:-?} ft ${ft:-?}"
    else
        echo "not ok $n - $t: libFuzzer exited $status"
        grep -v '^#[0-9]' "$log" | tail -n 60 | sed 's/^/# /'
        for a in "$scratch/$t"-*; do
            [ -f "$a" ] && echo "# reproducer: $(od -An -c "$a" | head -n 20 | tr -s ' ')"
        done
    fi
done
echo "1..$n"
