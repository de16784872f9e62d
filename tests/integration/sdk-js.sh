#!/bin/sh
# An unmodified official Databricks SDK (JavaScript) pointed at jobsd's TCP
# port with the local token: every Jobs method, the run waiters, iterators
# and error mapping work as they do against a workspace. ./check.sh installs
# the SDK under tests/sdk/node_modules with npm (tests/sdk/package-lock.json);
# without node or the SDK the test is skipped and says why.
. "$top_srcdir/tests/integration/lib.sh"

SDK=$top_srcdir/tests/sdk
command -v node >/dev/null 2>&1 || skip_all "node is not installed"
[ -d "$SDK/node_modules/@databricks/sdk-experimental" ] ||
    skip_all "the Databricks JS SDK is not installed (cd tests/sdk && npm ci)"

# JavaScript numbers are doubles: ids must stay below 2^53 here.
start_fakews ws --clock real --speed 20 --small-ids || { echo "Bail out! fakews did not start"; exit 1; }
DATABRICKS_HOST=http://127.0.0.1:$ws_PORT
DATABRICKS_TOKEN=$WS_TOKEN
SOCK=$T/jobsd.sock
start_jobsd d --socket "$SOCK" --tcp 127.0.0.1:0 --set upstream.rate=200 --set upstream.burst=200 ||
    { echo "Bail out! jobsd did not start"; cat "$T/d.log"; exit 1; }
port=$(http GET /jobsd/v1/status | sed -n 's/.*"tcp_port":\([0-9]*\).*/\1/p')

WS_URL=http://127.0.0.1:$ws_PORT WS_TOKEN=$WS_TOKEN \
JOBSD_URL=http://127.0.0.1:$port JOBSD_TOKEN=$(cat "$T/local-token") \
    timeout 300 node "$SDK/jobs.mjs" 2>"$T/node.err"
status=$?
[ -s "$T/node.err" ] && sed 's/^/# /' "$T/node.err" | grep -v EBADENGINE | head -n 20
exit $status
