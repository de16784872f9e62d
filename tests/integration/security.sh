#!/bin/sh
# Security (issue 10):
#  - a uid outside the socket's group cannot connect (as root: the socket
#    is group "daemon", mode 0660; curl runs as nobody through setpriv,
#    without and with that group);
#  - TCP without the local token, with a wrong one or with the workspace
#    token gets 401, and none of those reaches the workspace;
#  - the workspace token is not in jobsd's log at debug level, the archive
#    (database, WAL), /proc/PID/cmdline, or a core file when jobsd crashes
#    (it makes itself non-dumpable); with the token from
#    $CREDENTIALS_DIRECTORY it is not in /proc/PID/environ either (from
#    DATABRICKS_TOKEN it is, by necessity: that is the environment the
#    process was given); the copies of it in the memory of a live jobsd
#    (gcore, as root) are counted and bounded;
#  - request-smuggling shapes are refused (400 or a closed connection,
#    nothing reaches the workspace): two Content-Length headers, chunked
#    with a Content-Length, a Transfer-Encoding other than chunked, invalid
#    and oversized chunk sizes, white space before a colon; obs-fold is
#    joined by libmicrohttpd 0.9.75 before jobsd sees the headers (one
#    parser, one framing: the bytes after the body are never a request).
. "$top_srcdir/tests/integration/lib.sh"
RAW=$top_builddir/tests/harness/rawhttp

start_fakews ws --clock manual || { echo "Bail out! fakews did not start"; exit 1; }
WS=http://127.0.0.1:$ws_PORT
DATABRICKS_HOST=$WS
DATABRICKS_TOKEN=$WS_TOKEN
export DATABRICKS_HOST DATABRICKS_TOKEN
counter() { fw ws GET /__fake/counters | sed -n "s/.*\"$1\":\\([0-9]*\\).*/\\1/p"; }

# The socket in a directory anyone may traverse, so that only the socket's
# own mode and group decide.
chmod 711 "$T"
mkdir -m 755 "$T/pub"
SOCK=$T/pub/jobsd.sock
group=daemon
getent group "$group" >/dev/null 2>&1 || group=""
if [ "$(id -u)" -eq 0 ] && [ -n "$group" ]; then
    sgroup=$group
else
    sgroup=""
fi
start_jobsd a -v --socket "$SOCK" --tcp 127.0.0.1:0 --set server.socket_group="$sgroup" \
    --set server.socket_mode=0660 || { echo "Bail out! jobsd did not start"; exit 1; }

# --- the socket's group ---
if [ "$(id -u)" -ne 0 ] || [ -z "$group" ] || ! command -v setpriv >/dev/null 2>&1 ||
    ! id nobody >/dev/null 2>&1; then
    echo "# skipped: the socket-group checks need root, setpriv, user nobody and group daemon"
else
    is "$(stat -c '%a %G' "$SOCK")" "660 $group" "the socket is mode 0660, group $group"
    as_nobody() { # as_nobody SETPRIV-GROUP-ARGS...: curl health as nobody; prints the status
        setpriv --reuid=nobody --regid=nogroup "$@" -- curl -s -o /dev/null -w '%{http_code}' \
            --unix-socket "$SOCK" http://localhost/jobsd/v1/health 2>/dev/null
        echo " $?"
    }
    is "$(as_nobody --clear-groups)" "000 7" "nobody, outside the group, cannot connect"
    is "$(as_nobody --groups="$group")" "200 0" "nobody in group $group can"
fi

# --- TCP and the local token ---
port=$(http GET /jobsd/v1/status | sed -n 's/.*"tcp_port":\([0-9]*\).*/\1/p')
ltoken=$(cat "$T/local-token")
tcp() { # tcp PATH [curl args]: the status over TCP
    p=$1
    shift
    curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$p" "$@"
}
before=$(counter total)
is "$(tcp /api/2.2/jobs/list)" 401 "TCP without a token: 401"
is "$(tcp /api/2.2/jobs/list -H 'Authorization: Bearer wrong-token')" 401 "TCP with a wrong token: 401"
is "$(tcp /api/2.2/jobs/list -H "Authorization: Bearer $WS_TOKEN")" 401 \
    "TCP with the workspace token (not the local one): 401"
is "$(tcp /api/2.2/jobs/list -H "Authorization: Basic $ltoken")" 401 "TCP with the token as Basic: 401"
is "$(tcp /metrics)" 401 "/metrics over TCP without a token: 401"
is "$(counter total)" "$before" "... none of them reached the workspace"
is "$(tcp /api/2.2/jobs/list -H "Authorization: Bearer $ltoken")" 200 "TCP with the local token: 200"

# --- where the workspace token must not be ---
job=$(http POST /api/2.2/jobs/create -d '{"name":"sec","tasks":[{"task_key":"a","notebook_task":{"notebook_path":"/n"}}]}' |
    sed -n 's/.*"job_id":\([0-9]*\).*/\1/p')
http POST /api/2.2/jobs/run-now -d "{\"job_id\":$job}" >/dev/null
fw ws POST /__fake/faults -d '{"kind":"status","status":403,"count":1}' >/dev/null
http GET "/api/2.2/jobs/get?job_id=$job" >/dev/null # a 403 from the workspace
http GET "/api/2.2/jobs/get?job_id=$job" >/dev/null
http GET /jobsd/v1/status >/dev/null
http GET /metrics >/dev/null
stop a >/dev/null
like "$(cat "$T/a.log")" 'debug|DEBUG|libmicrohttpd|GET /' "jobsd logged at debug level"
ok "$(grep -c -F "$WS_TOKEN" "$T/a.log")" "the token is not in the debug log"
found=0
for f in "$T"/archive.db*; do
    [ -f "$f" ] && grep -q -a -F "$WS_TOKEN" "$f" && found=1
done
ok $found "the token is not in the archive ($(ls "$T"/archive.db* | wc -l) files: database, WAL, shm)"

# A jobsd with the token from $CREDENTIALS_DIRECTORY, as under systemd.
mkdir -m 700 "$T/creds"
printf '%s' "$WS_TOKEN" >"$T/creds/databricks-token"
printf '%s' "$WS" >"$T/creds/databricks-host"
chmod 600 "$T/creds/databricks-token" "$T/creds/databricks-host"
mkdir -m 700 "$T/cwd"
(
    cd "$T/cwd" || exit 1
    ulimit -c unlimited 2>/dev/null
    unset DATABRICKS_TOKEN DATABRICKS_HOST
    CREDENTIALS_DIRECTORY=$T/creds start_jobsd b --socket "$T/b.sock" --set "daemon.state_dir=$T/cwd"
    echo "$b_PID" >"$T/b.pid"
)
b_PID=$(cat "$T/b.pid")
PIDS="$PIDS $b_PID"
SOCK=$T/b.sock
res=$(http GET "/api/2.2/jobs/get?job_id=$job")
is "${res%% *}" 200 "jobsd with the token in \$CREDENTIALS_DIRECTORY reaches the workspace"
ok "$(tr '\0' ' ' <"/proc/$b_PID/cmdline" | grep -c -F "$WS_TOKEN")" "the token is not in /proc/PID/cmdline"
ok "$(tr '\0' '\n' <"/proc/$b_PID/environ" | grep -c -F "$WS_TOKEN")" \
    "... nor in /proc/PID/environ (with DATABRICKS_TOKEN it would be: that is the environment given)"
if grep -q -a __asan_init "$JOBSD"; then
    echo "# skipped: counting the copies in memory under AddressSanitizer (its quarantine keeps freed ones; its shadow is terabytes)"
elif command -v gcore >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    gcore -o "$T/live" "$b_PID" >/dev/null 2>&1
    if [ -f "$T/live.$b_PID" ]; then
        copies=$(grep -a -o -F "$WS_TOKEN" "$T/live.$b_PID" | wc -l)
        echo "# the token in a live jobsd's memory (gcore as root): $copies copies"
        ok "$([ "$copies" -le 6 ] && echo 0 || echo 1)" "the token is not copied around in memory ($copies copies, at most 6)"
        rm -f "$T/live.$b_PID"
    else
        echo "# gcore produced no core file; memory copies not counted"
    fi
else
    echo "# skipped: counting the copies in memory needs root and gcore"
fi
pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null)
case "$pattern" in
'|'* | '') echo "# skipped: core_pattern ($pattern) is not a file in the process's directory" ;;
*)
    kill -ABRT "$b_PID"
    for _ in $(seq 1 100); do grep -q '^EXIT=' "$T/b.notify" 2>/dev/null && break; sleep 0.1; done
    cores=$(find "$T/cwd" / -maxdepth 1 -newer "$T/b.pid" -name 'core*' -type f 2>/dev/null)
    leaked=0
    for c in $cores; do grep -q -a -F "$WS_TOKEN" "$c" && leaked=1; done
    ok $leaked "a crash (SIGABRT, ulimit -c unlimited) leaves no core file with the token (${cores:-no core file})"
    ;;
esac

# --- request smuggling ---
start_jobsd c --socket "$T/c.sock" || { echo "Bail out! jobsd did not start"; exit 1; }
fw ws POST /__fake/reset >/dev/null
raw() { # raw NAME BYTES: sends BYTES; prints the status line's code or "closed"
    printf "$2" | "$RAW" "$T/c.sock" 5 >"$T/raw.out"
    rc=$?
    code=$(head -n 1 "$T/raw.out" | sed -n 's/^HTTP\/1\.1 \([0-9]*\).*/\1/p')
    [ -z "$code" ] && code=closed
    [ "$rc" -ne 0 ] && code="$code+open"
    echo "$code"
}
refused() { # refused NAME BYTES
    got=$(raw "$1" "$2")
    case "$got" in
    400 | 413 | 411 | 501 | closed) ok 0 "$1: refused ($got)" ;;
    *) ok 1 "$1: refused (got $got)" ;;
    esac
}
H='POST /api/2.2/jobs/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
B='{"name":"x"}'
refused "two Content-Length headers" "${H}Content-Length: 12\r\nContent-Length: 40\r\n\r\n$B"
refused "two equal Content-Length headers" "${H}Content-Length: 12\r\nContent-Length: 12\r\n\r\n$B"
refused "chunked with a Content-Length" "${H}Content-Length: 12\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n$B\r\n0\r\n\r\n"
refused "a Content-Length, then chunked" "${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nc\r\n$B\r\n0\r\n\r\n"
refused "two Transfer-Encoding headers" "${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\nc\r\n$B\r\n0\r\n\r\n"
refused "Transfer-Encoding: gzip, chunked" "${H}Transfer-Encoding: gzip, chunked\r\n\r\nc\r\n$B\r\n0\r\n\r\n"
refused "Transfer-Encoding: xchunked" "${H}Transfer-Encoding: xchunked\r\nContent-Length: 12\r\n\r\n$B"
refused "an invalid chunk size" "${H}Transfer-Encoding: chunked\r\n\r\nzz\r\n$B\r\n0\r\n\r\n"
refused "a chunk size past 64 bits" "${H}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n$B\r\n0\r\n\r\n"
refused "a negative Content-Length" "${H}Content-Length: -1\r\n\r\n$B"
refused "white space before a colon" "${H}Content-Length : 12\r\n\r\n$B"
refused "a smuggled second request behind two lengths" \
    "${H}Content-Length: 12\r\nContent-Length: 0\r\n\r\n${B}${H}Content-Length: 12\r\n\r\n$B"
is "$(counter total)" 0 "none of them reached the workspace"
got=$(raw "obs-fold" "${H}Content-Length: 1\r\n 2\r\nConnection: close\r\n\r\n${B}GET /api/2.2/jobs/list HTTP/1.1\r\nHost: x\r\n\r\n")
is "$(grep -c '^HTTP/1.1' "$T/raw.out")" 1 "obs-fold: one framing, one answer ($got); the bytes after it are no request"
is "$(counter list)" "" "... and no jobs/list reached the workspace"
is "$(raw "a well-formed chunked request" "${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nc\r\n$B\r\n0\r\n\r\n")" 200 \
    "a well-formed chunked request is served"
is "$(raw "a well-formed request" "${H}Content-Length: 12\r\nConnection: close\r\n\r\n$B")" 200 \
    "a well-formed request is served"
stop c >/dev/null
done_testing
