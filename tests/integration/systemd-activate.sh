#!/bin/sh
# jobsd as systemd starts it, without systemd: systemd-socket-activate
# listens on the Unix socket (and a TCP port) and starts jobsd on the first
# connection, passing the sockets; a NOTIFY_SOCKET of the test's own
# receives READY=1, STATUS=, WATCHDOG=1, RELOADING=1 and STOPPING=1; and the
# workspace host and token come only from $CREDENTIALS_DIRECTORY.
. "$top_srcdir/tests/integration/lib.sh"

ACTIVATE=$(command -v systemd-socket-activate) ||
    skip_all "systemd-socket-activate is missing (apt-get install systemd)"
NOTIFY_RECV=$top_builddir/tests/harness/notify-recv

# wait_for FILE PATTERN: until a line of FILE matches (at most 5 s).
wait_for() {
    for _ in $(seq 1 250); do
        grep -qE -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.02
    done
    return 1
}

# The NOTIFY_SOCKET, as the service manager would hold it.
out=$("$LAUNCH" --line LISTENING --log "$T/notify.log" -- "$NOTIFY_RECV" "$T/notify.sock" \
    2>>"$T/notify-recv.log")
ok $? "the test's NOTIFY_SOCKET listens"
PIDS="$PIDS ${out% *}"

start_fakews ws
ok $? "fakews starts"

# The credentials, as LoadCredential= leaves them: one file each, 0400, in
# a directory of their own (0500 under systemd; 0700 here, so that the
# cleanup can remove it without root). The environment has no workspace at
# all, and systemd-socket-activate passes on only what -E names.
mkdir "$T/creds"
printf 'http://127.0.0.1:%s\n' "$ws_PORT" >"$T/creds/databricks-host"
printf '%s\n' "$WS_TOKEN" >"$T/creds/databricks-token"
chmod 0400 "$T/creds/databricks-host" "$T/creds/databricks-token"
unset DATABRICKS_HOST DATABRICKS_TOKEN

# A free port for the TCP socket is not known in advance (port 0 is not
# accepted by systemd-socket-activate): a few are tried.
SOCK=$T/jobsd.sock
started=1
for try in 1 2 3 4 5; do
    TCP_PORT=$((20000 + ($$ * 7 + try * 7919) % 40000))
    rm -f "$SOCK"
    # WATCHDOG_PID=$$ of the shell that becomes systemd-socket-activate and
    # then jobsd, as systemd sets it to the main pid. Its messages (it logs
    # to stderr) and jobsd's go to $T/sa.log. The rest of the environment
    # is given with -E NAME=VALUE: launch sets NOTIFY_SOCKET to its own.
    # shellcheck disable=SC2016
    out=$("$LAUNCH" --line 'Listening on 127.0.0.1' --log "$T/sa.log" -- sh -c \
        'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$@" 2>&1' sh \
        "$ACTIVATE" -l "$SOCK" -l "127.0.0.1:$TCP_PORT" \
        -E NOTIFY_SOCKET="$T/notify.sock" -E WATCHDOG_USEC=200000 -E WATCHDOG_PID \
        -E CREDENTIALS_DIRECTORY="$T/creds" \
        "$JOBSD" $JOBSD_COMMON 2>>"$T/launch.log")
    started=$?
    [ $started -eq 0 ] && break
done
ok $started "systemd-socket-activate listens on the socket and 127.0.0.1:$TCP_PORT"
d_PID=${out%% *}
PIDS="$PIDS $d_PID"

ok $(grep -q READY= "$T/notify.log"; [ $? -ne 0 ]; echo $?) "jobsd is not started before a connection"
r=$(http GET /jobsd/v1/health)
is "$r" '200 {"status":"ok"}' "the first connection starts jobsd, which answers it on the socket it was given"
wait_for "$T/sa.log" 'Serving on a TCP socket'
like "$(cat "$T/sa.log")" 'Serving on a Unix socket from systemd \(fd 3\)' "jobsd serves the Unix socket from systemd"
like "$(cat "$T/sa.log")" 'Serving on a TCP socket from systemd \(fd 4\)' "and the TCP socket"
ok $(grep -q 'Listening on' "$T/sa.log" && ! grep -q "Listening on $SOCK\$" "$T/sa.log"; echo $?) \
    "jobsd opened no socket of its own"

# The notify socket: readiness and status, from the main pid.
wait_for "$T/notify.log" ' READY=1$'
is "$(sed -n 's/ READY=1$//p' "$T/notify.log" | head -n 1)" "$d_PID" "READY=1 comes from the main pid (NotifyAccess=main)"
like "$(cat "$T/notify.log")" "^$d_PID STATUS=Serving\$" "STATUS= says it serves"
wait_for "$T/notify.log" ' WATCHDOG=1$'
like "$(cat "$T/notify.log")" "^$d_PID WATCHDOG=1\$" "WATCHDOG=1 comes with WATCHDOG_USEC and WATCHDOG_PID set"
n=$(grep -c ' WATCHDOG=1$' "$T/notify.log")
for _ in $(seq 1 250); do
    [ "$(grep -c ' WATCHDOG=1$' "$T/notify.log")" -gt "$n" ] && break
    sleep 0.02
done
ok $(($(grep -c ' WATCHDOG=1$' "$T/notify.log") > n ? 0 : 1)) "and again while it runs"

# The workspace, reached with the credentials alone.
r=$(http GET /api/2.2/jobs/list)
like "$r" '^200 \{' "jobs/list reaches fakews with the token from the credential"
is "$(header X-Jobsd-Source)" upstream "from upstream"
r=$(http GET /jobsd/v1/status)
like "$r" "\"workspace_host\":\"http://127.0.0.1:$ws_PORT\"" "the host came from the credential"
tok=$(cat "$T/local-token")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" \
    "http://127.0.0.1:$TCP_PORT/api/2.2/jobs/list")
is "$code" 200 "TCP from systemd serves too, with the local token"

# The token is nowhere but in its credential file: not in argv, not in the
# environment, not in the log, the archive or any other file jobsd wrote.
ok $(tr '\0' '\n' <"/proc/$d_PID/cmdline" | grep -qF "$WS_TOKEN"; [ $? -ne 0 ]; echo $?) "the token is not in argv"
ok $(tr '\0' '\n' <"/proc/$d_PID/environ" | grep -qF "$WS_TOKEN"; [ $? -ne 0 ]; echo $?) "nor in the environment"
leaks=$(grep -rlF "$WS_TOKEN" "$T" 2>/dev/null | grep -v -e "^$T/creds/" -e "^$T/ws\.")
is "$leaks" "" "nor in any file but the credential (log, archive, local token)"

# SIGHUP: RELOADING=1, then READY=1 again.
kill -HUP "$d_PID"
wait_for "$T/notify.log" ' RELOADING=1$'
like "$(cat "$T/notify.log")" "^$d_PID RELOADING=1\$" "SIGHUP sends RELOADING=1"
for _ in $(seq 1 250); do
    [ "$(grep -c ' READY=1$' "$T/notify.log")" -ge 2 ] && break
    sleep 0.02
done
is "$(grep -c ' READY=1$' "$T/notify.log")" 2 "then READY=1 once reloaded"

# SIGTERM: STOPPING=1 and a status, then exit 0.
kill -TERM "$d_PID"
wait_for "$T/sa.log" '^EXIT='
like "$(cat "$T/notify.log")" "^$d_PID STOPPING=1\$" "SIGTERM sends STOPPING=1"
like "$(cat "$T/notify.log")" "^$d_PID STATUS=Draining" "with a STATUS= line"
is "$(sed -n 's/^EXIT=//p' "$T/sa.log")" 0 "jobsd exits 0"

done_testing
