# Shared by the integration tests: TAP output, a private temp dir removed on
# every exit, and starting daemons that are waited for (READY=1 or the
# LISTENING line), never slept for.
set -u

: "${top_builddir:?}" "${top_srcdir:?}"
JOBSD=$top_builddir/daemon/jobsd
LAUNCH=$top_builddir/tests/harness/launch
FAKEWS=$top_builddir/tests/fakews/fakews

T=$(mktemp -d "${TMPDIR:-/tmp}/jobsd-test.XXXXXX")
# Nothing of the machine's own setup leaks in: no ~/.databrickscfg, no
# DATABRICKS_* or JOBSD_* variables, no /etc/jobsd/jobsd.conf.
HOME=$T
export HOME
for v in $(env | sed -n 's/^\(DATABRICKS_[A-Z_]*\|JOBSD_[A-Z_]*\|CREDENTIALS_DIRECTORY\|NOTIFY_SOCKET\|LISTEN_[A-Z]*\)=.*/\1/p'); do
    unset "$v"
done
: >"$T/jobsd.conf"
chmod 600 "$T/jobsd.conf"
# The options every test daemon shares: its own config file and directories,
# and no socket group (the test user may have no "jobsd" group). The poller
# is off unless a test turns it on (--set poller.enabled=yes), so that the
# other tests count only their own upstream requests.
JOBSD_COMMON="-c $T/jobsd.conf --set server.socket_group= --set daemon.state_dir=$T --set daemon.runtime_dir=$T --set poller.enabled=no"
# A workspace that is never there, for tests that do not reach upstream
# (tests with fakews set DATABRICKS_HOST/TOKEN to it instead).
DATABRICKS_HOST=http://127.0.0.1:9
DATABRICKS_TOKEN=dapi-test-never-used-0000
export DATABRICKS_HOST DATABRICKS_TOKEN
PIDS=""
tap_n=0
tap_failed=0

cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { # ok CONDITION-STATUS description
    tap_n=$((tap_n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $tap_n - $2"
    else
        tap_failed=$((tap_failed + 1))
        echo "not ok $tap_n - $2"
    fi
}

is() { # is GOT EXPECTED description
    tap_n=$((tap_n + 1))
    if [ "$1" = "$2" ]; then
        echo "ok $tap_n - $3"
    else
        tap_failed=$((tap_failed + 1))
        echo "not ok $tap_n - $3"
        echo "#        got: '$1'"
        echo "#   expected: '$2'"
    fi
}

like() { # like TEXT GREP-PATTERN description
    tap_n=$((tap_n + 1))
    if printf '%s\n' "$1" | grep -qE -- "$2"; then
        echo "ok $tap_n - $3"
    else
        tap_failed=$((tap_failed + 1))
        echo "not ok $tap_n - $3"
        printf '%s\n' "$1" | head -n 5 | sed 's/^/#   got: /'
        echo "#   expected to match: $2"
    fi
}

skip_all() {
    echo "1..0 # SKIP $1"
    trap - EXIT
    rm -rf "$T"
    exit 0
}

done_testing() {
    echo "1..$tap_n"
    [ "$tap_failed" -eq 0 ]
}

# start_jobsd NAME ARGS...: starts jobsd, waits for READY=1, sets
# ${NAME}_PID. The notify messages go to $T/NAME.notify, stderr to $T/NAME.log.
start_jobsd() {
    name=$1
    shift
    # shellcheck disable=SC2086
    pid=$("$LAUNCH" --notify-log "$T/$name.notify" -- "$JOBSD" $JOBSD_COMMON "$@" \
        2>>"$T/$name.log") || return 1
    PIDS="$PIDS $pid"
    eval "${name}_PID=$pid"
}

# start_fakews NAME ARGS...: starts fakews on a free port, waits for its
# LISTENING line, sets ${NAME}_PID and ${NAME}_PORT; fakews' output goes to
# $T/NAME.out, stderr to $T/NAME.log.
start_fakews() {
    name=$1
    shift
    out=$("$LAUNCH" --line LISTENING --log "$T/$name.out" -- "$FAKEWS" --port 0 \
        --token "$WS_TOKEN" "$@" 2>>"$T/$name.log") || return 1
    PIDS="$PIDS ${out% *}"
    eval "${name}_PID=${out% *} ${name}_PORT=${out#* }"
}

# fw NAME METHOD PATH [curl args]: a request to fakews NAME (control
# endpoints need no token); prints the body.
fw() {
    eval "port=\${${1}_PORT}"
    m=$2
    p=$3
    shift 3
    curl -s -X "$m" "http://127.0.0.1:$port$p" -H "Authorization: Bearer $WS_TOKEN" \
        -H 'Content-Type: application/json' "$@" 2>/dev/null | head -c 1000000
}

WS_TOKEN=dapi-fakews-token-0123456789

# stop NAME [SIGNAL]: signals the daemon started as NAME and waits (at most
# 10 s) for its launcher to record the exit; prints the exit status.
stop() {
    eval "pid=\${${1}_PID}"
    kill "-${2:-TERM}" "$pid" 2>/dev/null
    for _ in $(seq 1 200); do
        grep -q '^EXIT=' "$T/$1.notify" 2>/dev/null && break
        sleep 0.05
    done
    sed -n 's/^EXIT=//p' "$T/$1.notify" | tail -n 1
}

# http METHOD URL [curl args...] over the Unix socket $SOCK: prints
# "STATUS BODY"; headers go to $T/headers.
http() {
    method=$1
    url=$2
    shift 2
    curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --unix-socket "$SOCK" \
        -X "$method" "http://localhost$url" "$@" >"$T/status" 2>/dev/null
    printf '%s %s' "$(cat "$T/status")" "$(cat "$T/body")"
}

header() { # header NAME: the value of a header of the last http call
    tr -d '\r' <"$T/headers" | sed -n "s/^$1: //Ip" | head -n 1
}
