#!/bin/sh
# jobsd under the parts of jobsd.service's sandbox that need no service
# manager: NoNewPrivileges= and MemoryDenyWriteExecute= (PR_SET_MDWE, as
# systemd applies it where the kernel has it). It still serves, archives,
# reaches fakews, and speaks TLS through libcurl and OpenSSL to a workspace
# with a certificate of its own (openssl s_server).
. "$top_srcdir/tests/integration/lib.sh"

SANDBOX=$top_builddir/tests/harness/sandbox
out=$("$SANDBOX" -- "$SANDBOX" --try-wx 2>&1)
st=$?
[ $st -eq 77 ] && skip_all "no PR_SET_MDWE here (it needs Linux 6.3 or later): $out"
is "$st:$out" "0:refused: Permission denied" "the sandbox refuses writable and executable memory, after execve too"

start_fakews ws
ok $? "fakews starts"
DATABRICKS_HOST=http://127.0.0.1:$ws_PORT
DATABRICKS_TOKEN=$WS_TOKEN
SOCK=$T/jobsd.sock

# start_sandboxed NAME ARGS...: start_jobsd, with jobsd in the sandbox.
start_sandboxed() {
    name=$1
    shift
    # shellcheck disable=SC2086
    pid=$("$LAUNCH" --notify-log "$T/$name.notify" -- "$SANDBOX" -- "$JOBSD" $JOBSD_COMMON "$@" \
        2>>"$T/$name.log") || return 1
    PIDS="$PIDS $pid"
    eval "${name}_PID=$pid"
}

start_sandboxed d --socket "$SOCK"
ok $? "jobsd starts in the sandbox"
is "$(http GET /jobsd/v1/health)" '200 {"status":"ok"}' "health answers"
fw ws POST /api/2.2/jobs/create -d '{"name":"sandboxed"}' >/dev/null
r=$(http GET /api/2.2/jobs/list)
like "$r" '^200 \{"jobs":\[\{.*"sandboxed"' "jobs/list reaches the workspace"
run=$(fw ws POST /api/2.2/jobs/runs/submit -d '{"run_name":"sb","tasks":[{"task_key":"t","notebook_task":{"notebook_path":"/x"}}]}' |
    sed -n 's/.*"run_id":\([0-9]*\).*/\1/p')
like "$(http GET "/api/2.2/jobs/runs/get?run_id=$run")" '^200 ' "runs/get answers"
like "$(http GET "/jobsd/v1/runs/$run")" '^200 \{"run_id":' "and the archive has the run"
is "$(stop d)" 0 "jobsd stops cleanly"

# TLS: a workspace with a self-signed certificate, trusted with ca_file.
if command -v openssl >/dev/null 2>&1; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout "$T/tls.key" -out "$T/tls.crt" -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 >"$T/openssl.log" 2>&1
    ok $? "a certificate for 127.0.0.1"
    out=$("$LAUNCH" --line ACCEPT --log "$T/tls.out" -- openssl s_server -accept 0 -www \
        -cert "$T/tls.crt" -key "$T/tls.key" </dev/null 2>>"$T/tls.log")
    ok $? "openssl s_server listens"
    PIDS="$PIDS ${out%% *}"
    DATABRICKS_HOST=https://127.0.0.1:${out##*:}
    start_sandboxed t --socket "$T/tls.sock" --set "workspace.ca_file=$T/tls.crt" \
        --set upstream.max_attempts=1
    ok $? "jobsd starts in the sandbox with an https:// workspace"
    SOCK=$T/tls.sock
    r=$(http GET /api/2.2/jobs/list)
    like "$r" '^200 <HTML>' "an answer through libcurl and OpenSSL"
    like "$r" '^New, TLSv1\.[23], Cipher is ' "after a TLS handshake (s_server's page says which)"
    is "$(header X-Jobsd-Source)" upstream "from upstream"
    is "$(stop t)" 0 "jobsd stops cleanly"
else
    for i in 1 2 3 4 5 6 7; do
        tap_n=$((tap_n + 1))
        echo "ok $tap_n # SKIP openssl is missing"
    done
fi

done_testing
