#!/bin/sh
# The end-to-end demo: a simulated workspace (tests/fakews), jobsd in front
# of it, and jobsctl. On a fresh Debian machine it installs what the build
# needs (./check.sh deps), builds into build-demo/, starts fakews and jobsd
# in a temporary directory, creates a multi-task job, runs it with live
# progress, shows a failing run and its archived output, lists the history,
# and stops everything.
#
#   ./demo.sh          the whole demo, then stop
#   ./demo.sh --keep   leave fakews and jobsd running and say how to reach them
set -u

cd "$(dirname "$0")" || exit 1
top=$(pwd)
keep=no
case "${1:-}" in
"") ;;
--keep) keep=yes ;;
*)
    echo "usage: $0 [--keep]" >&2
    exit 2
    ;;
esac

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
[ -t 1 ] || say() { printf '\n==> %s\n' "$*"; }
die() {
    echo "demo.sh: $*" >&2
    exit 1
}

# 1. What the build needs, then the build itself.
say "Checking build dependencies"
./check.sh deps || die "missing dependencies (see above)"
say "Building into build-demo/"
if [ ! -x build-demo/config.status ]; then
    autoreconf -fi >/dev/null 2>&1 || die "autoreconf failed (run: autoreconf -fi)"
    mkdir -p build-demo
    (cd build-demo && "$top/configure" >configure.out 2>&1) ||
        { tail -n 20 build-demo/configure.out; die "configure failed"; }
fi
jobs=$(nproc 2>/dev/null || echo 2)
(cd build-demo && make -j"$jobs" >make.out 2>&1 &&
    make -j"$jobs" tests/fakews/fakews tests/harness/launch >>make.out 2>&1) ||
    { grep -E 'error' build-demo/make.out | head -n 20; die "the build failed"; }
b=$top/build-demo
LAUNCH=$b/tests/harness/launch

# 2. A temporary directory with fakews and jobsd, each waited for (fakews'
# LISTENING line, jobsd's READY=1), never slept for.
T=$(mktemp -d "${TMPDIR:-/tmp}/jobsd-demo.XXXXXX") || die "mktemp failed"
PIDS=""
stop_all() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
    done
    rm -rf "$T"
}
trap stop_all EXIT
trap 'exit 1' INT TERM

say "Starting a simulated workspace (fakews, 10x real time) and jobsd in $T"
WS_TOKEN=dapi-demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
out=$("$LAUNCH" --line LISTENING --log "$T/fakews.out" -- "$b/tests/fakews/fakews" --port 0 \
    --token "$WS_TOKEN" --clock real --speed 10 2>"$T/fakews.log") ||
    die "fakews did not start: $(cat "$T/fakews.log")"
PIDS="${out% *}"
ws_port=${out#* }
: >"$T/jobsd.conf"
chmod 600 "$T/jobsd.conf"
# jobsd reads the workspace token from its environment, never argv.
pid=$(DATABRICKS_HOST=http://127.0.0.1:$ws_port DATABRICKS_TOKEN=$WS_TOKEN \
    "$LAUNCH" --notify-log "$T/jobsd.notify" -- "$b/daemon/jobsd" -c "$T/jobsd.conf" \
    --socket "$T/jobsd.sock" --tcp 127.0.0.1:0 --set server.socket_group= \
    --set daemon.state_dir="$T" --set daemon.runtime_dir="$T" 2>>"$T/jobsd.log") ||
    die "jobsd did not start: $(tail -n 5 "$T/jobsd.log")"
PIDS="$PIDS $pid"
JOBSD_SOCKET=$T/jobsd.sock
export JOBSD_SOCKET
PATH=$b/client:$PATH

run() { # run COMMAND...: shows it, then runs it
    printf '$ %s\n' "$*"
    "$@"
}

say "jobsd is up"
run jobsctl status

say "A job with four tasks: extract, then clean and enrich side by side, then load"
cat >"$T/etl.json" <<'JSON'
{
  "name": "nightly etl",
  "max_concurrent_runs": 4,
  "tasks": [
    {"task_key": "extract", "notebook_task": {"notebook_path": "/Repos/etl/extract"}},
    {"task_key": "clean", "depends_on": [{"task_key": "extract"}],
     "notebook_task": {"notebook_path": "/Repos/etl/clean",
                       "base_parameters": {"fake_duration_ms": "20000"}}},
    {"task_key": "enrich", "depends_on": [{"task_key": "extract"}],
     "spark_python_task": {"python_file": "/Repos/etl/enrich.py"}},
    {"task_key": "load", "depends_on": [{"task_key": "clean"}, {"task_key": "enrich"}],
     "spark_python_task": {"python_file": "/Repos/etl/load.py"}}
  ]
}
JSON
printf '$ jobsctl jobs create -f etl.json\n'
job=$(jobsctl jobs create -f "$T/etl.json") || die "jobs create failed"
echo "$job"
run jobsctl jobs get "$job"

say "Run it and wait, with live progress"
run jobsctl run-now "$job" -p env=demo --wait

say "A run that fails: its failed task's error and the tail of its output"
cat >"$T/broken.json" <<'JSON'
{
  "run_name": "ad-hoc backfill",
  "tasks": [
    {"task_key": "prepare", "notebook_task": {"notebook_path": "/Repos/etl/prepare"}},
    {"task_key": "backfill", "depends_on": [{"task_key": "prepare"}],
     "spark_python_task": {"python_file": "/Repos/etl/backfill_fail.py"}}
  ]
}
JSON
printf '$ jobsctl submit -f broken.json --wait\n'
jobsctl submit -f "$T/broken.json" --wait >"$T/failed.out"
status=$?
cat "$T/failed.out"
echo "(exit status $status: the run failed)"
failed=$(sed -n 's/^run \([0-9]*\) .*/\1/p' "$T/failed.out")

say "The workspace's view of it, through jobsd (which archives what passes)"
run jobsctl runs get "$failed"

say "The archive keeps it, and its output, after the workspace forgets it"
run jobsctl history get "$failed"
run jobsctl history output "$failed"

say "History: every run jobsd has seen, newest first"
run jobsctl history
run jobsctl history --result FAILED -o csv

if [ "$keep" = yes ]; then
    trap - EXIT INT TERM
    port=$(jobsctl status --json | sed -n 's/.*"tcp_port":\([0-9]*\).*/\1/p')
    say "Left running (--keep)"
    cat <<EOT
fakews   http://127.0.0.1:$ws_port   (a simulated workspace)
jobsd    socket $T/jobsd.sock, TCP 127.0.0.1:$port (local token in $T/local-token)

  export JOBSD_SOCKET=$T/jobsd.sock PATH=$b/client:\$PATH
  jobsctl history
  jobsctl run-now $job --wait
  curl --unix-socket $T/jobsd.sock 'http://localhost/api/2.2/jobs/list'
  jobsctl --url http://127.0.0.1:$port --token-file $T/local-token status

Stop them with:  kill $PIDS; rm -rf $T
EOT
    exit 0
fi
say "Stopping fakews and jobsd"
