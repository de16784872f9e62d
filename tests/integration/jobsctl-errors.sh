#!/bin/sh
# jobsctl's errors and doors: one clear line and exit 5 when jobsd is not
# there, exit 2 for usage errors, exit 6 for error answers; TCP with the
# local token; --help, the man page and the bash completion name every
# command of proto/endpoints.def.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/jobsctl-lib.sh"

# Not running.
SOCK=$T/none.sock
jc status
is "$rc" 5 "no jobsd: exit 5"
is "$(cat "$T/err")" "jobsctl: jobsd is not running at $T/none.sock (try: systemctl start jobsd.socket)" "no jobsd: one clear line"
: >"$T/stale.sock"
SOCK=$T/stale.sock
jc health
is "$rc" 5 "a file that is not a live socket: exit 5"
unset JOBSD_SOCKET
JOBSD_SOCKET= "$JOBSCTL" -s "$T/x.sock" health 2>"$T/err"
is "$?" 5 "-s names the socket"
like "$(cat "$T/err")" "not running at $T/x.sock " "-s is the socket tried"
"$JOBSCTL" --url http://127.0.0.1:9 health 2>"$T/err"
is "$?" 5 "nobody on the TCP port: exit 5"
is "$(cat "$T/err")" "jobsctl: jobsd is not listening on http://127.0.0.1:9 (is server.tcp set in jobsd.conf?)" "and says so"

# A jobsd without a workspace (nothing listens on port 9).
SOCK=$T/jobsd.sock
start_jobsd d --socket "$SOCK" --tcp 127.0.0.1:0 --set upstream.max_attempts=1
ok $? "jobsd starts"
jc health
is "$rc $(cat "$T/out")" "0 ok" "health over the socket"
jc jobs list
is "$rc" 6 "an error answer: exit 6"
like "$(cat "$T/err")" '^jobsctl: TEMPORARILY_UNAVAILABLE: The workspace refused the connection.* \(HTTP 503\)$' "one line: error_code, message, status"
ok "$(($(wc -l <"$T/err") - 1))" "and only one line"

# TCP: the local token, from --token-file or $JOBSD_LOCAL_TOKEN_FILE.
port=$(JOBSD_SOCKET=$SOCK "$JOBSCTL" status --json | sed -n 's/.*"tcp_port":\([0-9]*\).*/\1/p')
like "$port" '^[0-9]+$' "status --json names the TCP port"
"$JOBSCTL" --url "http://127.0.0.1:$port" --token-file "$T/local-token" health >"$T/out" 2>"$T/err"
is "$? $(cat "$T/out")" "0 ok" "--url with --token-file"
JOBSD_URL=http://127.0.0.1:$port JOBSD_LOCAL_TOKEN_FILE=$T/local-token "$JOBSCTL" health >"$T/out"
is "$? $(cat "$T/out")" "0 ok" "JOBSD_URL and JOBSD_LOCAL_TOKEN_FILE"
echo wrong-token-0123456789 >"$T/wrong"
"$JOBSCTL" --url "http://127.0.0.1:$port" --token-file "$T/wrong" status 2>"$T/err"
is "$?" 6 "a wrong token: exit 6"
like "$(cat "$T/err")" '^jobsctl: UNAUTHENTICATED: .* \(HTTP 401\)$' "jobsd's 401 in one line"
"$JOBSCTL" --url "http://127.0.0.1:$port" --token-file "$T/missing" health 2>"$T/err"
is "$?" 2 "an unreadable --token-file is a usage error"
ok $(grep -q "$(cat "$T/local-token")" "$T/err"; [ $? -ne 0 ]; echo $?) "the token is never printed"

# Usage errors: exit 2, one line.
usage() { # usage DESCRIPTION PATTERN ARGS...
    d=$1
    p=$2
    shift 2
    jc "$@"
    is "$rc" 2 "usage: $d"
    like "$(cat "$T/err")" "$p" "usage: $d says why"
}
usage "no command" '^Usage: jobsctl'
usage "unknown command" "^jobsctl: unknown command 'frobnicate'" frobnicate
usage "half a command" "^jobsctl: unknown command 'jobs'" jobs
usage "missing id" '^jobsctl: jobs get: which job\? \(jobsctl jobs get JOB_ID\)$' jobs get
usage "bad id" '^jobsctl: runs get: not an id: 12x$' runs get 12x
usage "extra argument" "^jobsctl: health: unexpected argument 'now'$" health now
usage "bad -o" '^jobsctl: -o: table, csv or json, not xml$' -o xml status
usage "bad --timeout" '^jobsctl: --timeout: ' wait 1 --timeout soon
usage "--wait where no run starts" '^jobsctl: --wait: ' jobs list --wait
usage "missing body file" "^jobsctl: cannot read $T/nope.json" jobs create -f "$T/nope.json"
echo '{"name": ' >"$T/broken.json"
usage "malformed body" "^jobsctl: $T/broken.json: not a JSON object" jobs create -f "$T/broken.json"
usage "bad --param" '^jobsctl: --param: KEY=VALUE, not x$' run-now 1 -p x
usage "wait without runs" '^jobsctl: wait: which runs' wait

# Every command of the endpoint table is in --help, the man page and the
# completion; the exit statuses are documented.
cmds=$(sed -n 's/.*, "\([a-z -]*\)")$/\1/p' "$top_srcdir/proto/endpoints.def")
ok $([ "$(printf '%s\n' "$cmds" | wc -l)" -ge 28 ]; echo $?) "endpoints.def names jobsctl's commands"
"$JOBSCTL" --help >"$T/help"
is "$?" 0 "--help exits 0"
"$JOBSCTL" --commands >"$T/commands"
is "$(cat "$T/commands")" "$cmds" "--commands lists the table's commands, in order"
missing=""
printf '%s\n' "$cmds" >"$T/cmds"
sed 's/\\-/-/g' "$top_srcdir/man/jobsctl.1" >"$T/man"
while read -r c; do
    grep -q "^  $c " "$T/help" || missing="$missing help:$c"
    grep -qE "^\\.B \"?$c\"?\$" "$T/man" || missing="$missing man:$c"
done <"$T/cmds"
is "$missing" "" "--help and jobsctl(1) name every command"
for code in 0 1 2 3 4 5 6 7; do
    grep -q "^  .*$code [a-z]" "$T/help" || missing="$missing help-exit:$code"
    grep -q "^\\.B $code\$" "$T/man" || missing="$missing man-exit:$code"
done
is "$missing" "" "--help and jobsctl(1) document exit statuses 0-7"
cp "$T/help" "$T/out"
golden help.txt "--help as it reads"
"$JOBSCTL" --version >"$T/out"
like "$(cat "$T/out")" '^jobsctl [0-9.]+$' "--version"

if command -v bash >/dev/null 2>&1; then
    comp() { # comp WORDS...: what completion offers for the last word
        bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _jobsctl; printf "%s\n" "${COMPREPLY[@]}"' \
            comp "$top_srcdir/client/completion/jobsctl" "$JOBSCTL" "$@" | sort | tr '\n' ' '
    }
    is "$(comp '')" "$(printf '%s\n' "$cmds" | cut -d' ' -f1 | sort -u | tr '\n' ' ')" "completion offers every first word"
    is "$(comp runs '')" "$(printf '%s\n' "$cmds" | sed -n 's/^runs //p' | sort | tr '\n' ' ')" "and every runs command"
    is "$(comp --json history '')" "get output " "skipping options"
    is "$(comp -o '')" "csv json table " "and the values of -o"
else
    tap_n=$((tap_n + 1))
    echo "ok $tap_n # SKIP bash is not installed"
fi

done_testing
