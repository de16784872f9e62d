#!/bin/sh
# jobsd's own doors and answers, without a workspace: readiness, the local
# API, Databricks-style errors for bad requests, the TCP token, the safe
# Unix socket, and a clean drain on SIGTERM.
. "$top_srcdir/tests/integration/lib.sh"

SOCK=$T/jobsd.sock
start_jobsd d --socket "$SOCK" --tcp 127.0.0.1:0 --set upstream.max_attempts=1
ok $? "jobsd starts and says READY=1"
like "$(cat "$T/d.notify")" '^READY=1' "READY=1 reached the notify socket"
is "$(stat -c %a "$SOCK")" 660 "the socket is mode 0660"

r=$(http GET /jobsd/v1/health)
is "$r" '200 {"status":"ok"}' "health answers"
is "$(header X-Jobsd-Source)" local "local answers are marked local"

r=$(http GET /jobsd/v1/status)
like "$r" '^200 \{"version":"[0-9.]+","api_version":1,' "status has version and api_version"
like "$r" '"uptime_s":[0-9]+' "status has the uptime"
port=$(printf '%s' "$r" | sed -n 's/.*"tcp_port":\([0-9]*\).*/\1/p')
like "$port" '^[0-9]+$' "status names the TCP port"

# Errors: Databricks-style bodies, right status, nothing upstream.
r=$(http GET /api/2.2/jobs/nope)
is "$r" "404 {\"error_code\":\"ENDPOINT_NOT_FOUND\",\"message\":\"No API found for 'GET /api/2.2/jobs/nope'\"}" "unknown path is 404"
r=$(http GET /api/2.0/clusters/list)
like "$r" '^404 \{"error_code":"ENDPOINT_NOT_FOUND"' "other workspace APIs are not proxied"
r=$(http POST /oidc/v1/token)
like "$r" '^404 ' "the workspace's OAuth endpoint is not served"
r=$(http POST /api/2.2/jobs/runs/get)
like "$r" '^405 \{"error_code":"METHOD_NOT_ALLOWED"' "wrong method is 405"
is "$(header Allow)" GET "405 names the allowed method"
r=$(http DELETE /api/2.0/permissions/jobs/5)
is "$(header Allow)" "GET, PUT, PATCH" "405 on permissions names GET, PUT, PATCH"

r=$(http POST /api/2.2/jobs/run-now -H 'Content-Type: application/json' -d '{"job_id": 1,')
like "$r" '^400 \{"error_code":"MALFORMED_REQUEST","message":"Invalid JSON given in the body of the request' "malformed JSON is 400"
r=$(http POST /api/2.2/jobs/run-now -d '[1]')
like "$r" '^400 \{"error_code":"MALFORMED_REQUEST"' "a JSON array body is 400"
r=$(http POST /api/2.2/jobs/run-now -d "{'job_id':1}")
like "$r" '^400 ' "single-quoted JSON is 400"

head -c 70000 /dev/zero | tr '\0' 'x' >"$T/big"
r=$(http POST /api/2.2/jobs/runs/cancel --data-binary @"$T/big")
like "$r" '^413 \{"error_code":"REQUEST_TOO_LARGE"' "a body over the row's bound is 413 (Content-Length)"
r=$(http POST /api/2.2/jobs/runs/cancel -H 'Transfer-Encoding: chunked' --data-binary @"$T/big")
like "$r" '^413 \{"error_code":"REQUEST_TOO_LARGE"' "a chunked body over the bound is 413"
r=$(http GET /jobsd/v1/health)
is "$r" '200 {"status":"ok"}' "the daemon still serves after bad requests"

# The workspace is not there (nothing listens on port 9): reads say so with
# a status SDKs retry, after jobsd's own retries.
r=$(http GET '/api/2.2/jobs/runs/get?run_id=1')
like "$r" '^503 \{"error_code":"TEMPORARILY_UNAVAILABLE","message":"The workspace refused the connection"' "an unreachable workspace is 503"
like "$(header Retry-After)" '^[0-9]+$' "503 carries Retry-After"
is "$(header X-Jobsd-Source)" local "and is marked local"
r=$(http GET /jobsd/v1/status)
like "$r" '"upstream":\{"reachable":false' "status says the workspace is unreachable"
like "$r" '"last_error":"Connection refused","last_error_time":[0-9]+' "with the last error and its time"
like "$r" '"auth":\{"type":"pat"\}' "status names the auth type, no secret"
ok $(printf '%s' "$r" | grep -q "$DATABRICKS_TOKEN"; [ $? -ne 0 ]; echo $?) "status never shows the workspace token"

# TCP: the local token, never the workspace's.
tok=$(cat "$T/local-token")
is "$(stat -c %a "$T/local-token")" 600 "the local token file is 0600"
like "$tok" '^[0-9a-f]{64}$' "the generated token is 32 random bytes in hex"
code=$(curl -s -o "$T/b" -w '%{http_code}' "http://127.0.0.1:$port/jobsd/v1/health")
is "$code" 401 "TCP without a token is 401"
like "$(cat "$T/b")" '"error_code":"UNAUTHENTICATED"' "401 has a Databricks-style body"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong$tok" "http://127.0.0.1:$port/jobsd/v1/health")
is "$code" 401 "TCP with a wrong token is 401"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/jobsd/v1/health")
is "$code" 200 "TCP with the local token is 200"
code=$(curl -s -o "$T/b" -w '%{http_code}' "http://127.0.0.1:$port/.well-known/databricks-config")
is "$code" 200 "host metadata needs no token (SDKs ask it first)"
like "$(cat "$T/b")" '"host_type":"WORKSPACE_HOST"' "host metadata says WORKSPACE_HOST"

# The socket is safe: a second daemon sees the live one and leaves it alone.
"$LAUNCH" --timeout 5 -- "$JOBSD" $JOBSD_COMMON --socket "$SOCK" >/dev/null 2>"$T/second.log"
ok $(($? == 0)) "a second jobsd on a live socket does not start"
like "$(cat "$T/second.log")" "Another jobsd already answers on $SOCK" "and says why"
r=$(http GET /jobsd/v1/health)
is "$r" '200 {"status":"ok"}' "the first daemon still answers on its socket"

: >"$T/not-a-socket"
"$LAUNCH" --timeout 5 -- "$JOBSD" $JOBSD_COMMON --socket "$T/not-a-socket" >/dev/null 2>"$T/third.log"
ok $(($? == 0)) "a path that is not a socket is refused"
ok $([ -f "$T/not-a-socket" ]; echo $?) "and left in place"

"$LAUNCH" --timeout 5 -- "$JOBSD" $JOBSD_COMMON --socket "$T/x.sock" --tcp 192.0.2.1:0 >/dev/null 2>"$T/fourth.log"
ok $(($? == 0)) "a non-loopback TCP address is refused"
like "$(cat "$T/fourth.log")" "is not a loopback address" "and says so"

is "$(stop d)" 0 "SIGTERM drains and exits 0"
like "$(cat "$T/d.notify")" '^STOPPING=1' "STOPPING=1 was sent"
ok $([ ! -e "$SOCK" ]; echo $?) "the socket is removed on exit"

# A socket left behind by a dead daemon is replaced.
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$SOCK" 2>/dev/null ||
    perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Local => $ARGV[0], Listen => 1)' "$SOCK"
ok $([ -S "$SOCK" ]; echo $?) "a stale socket file exists"
start_jobsd d2 --socket "$SOCK"
ok $? "jobsd replaces a stale socket"
r=$(http GET /jobsd/v1/health)
is "$r" '200 {"status":"ok"}' "and serves on it"
is "$(stop d2)" 0 "second daemon exits 0"

done_testing
