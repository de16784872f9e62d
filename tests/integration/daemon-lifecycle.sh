#!/bin/sh
# jobsd's life as a service: journald priority prefixes, the watchdog,
# STATUS= lines, SIGHUP reloads (good and bad), the read-only group, and a
# SIGTERM that lets a request in flight finish.
. "$top_srcdir/tests/integration/lib.sh"

start_fakews ws --clock manual
ok $? "fakews starts"
DATABRICKS_HOST=http://127.0.0.1:$ws_PORT
DATABRICKS_TOKEN=$WS_TOKEN
SOCK=$T/jobsd.sock

# Under systemd: stderr is the journal stream, lines carry <N> priorities,
# and the watchdog is fed from the loop.
: >"$T/d.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/d.log")
WATCHDOG_USEC=200000
export JOURNAL_STREAM WATCHDOG_USEC
start_jobsd d --socket "$SOCK" --tcp 127.0.0.1:0 --set upstream.rate=5
ok $? "jobsd starts"
unset JOURNAL_STREAM WATCHDOG_USEC
like "$(head -n 1 "$T/d.log")" '^<6>' "log lines carry journald priority prefixes"
for _ in $(seq 1 100); do grep -q WATCHDOG=1 "$T/d.notify" && break; sleep 0.02; done
like "$(cat "$T/d.notify")" '^WATCHDOG=1$' "WATCHDOG=1 is sent when systemd asks for it"
like "$(cat "$T/d.notify")" 'STATUS=Serving' "STATUS= says it serves"

# SIGHUP with a valid change.
port=$(http GET /jobsd/v1/status | sed -n 's/.*"tcp_port":\([0-9]*\).*/\1/p')
old_token=$(cat "$T/local-token")
printf '[upstream]\nrate = 2\n[server]\nlocal_token = a-new-local-token-of-32-chars-xx\n' >"$T/jobsd.conf"
kill -HUP "$d_PID"
for _ in $(seq 1 100); do grep -q 'configuration reloaded' "$T/d.log" && break; sleep 0.02; done
like "$(cat "$T/d.log")" 'configuration reloaded, 1 option' "SIGHUP applies a valid configuration"
like "$(cat "$T/d.log")" 'server.local_token changed' "naming what changed, not its value"
like "$(cat "$T/d.notify")" '^RELOADING=1' "RELOADING=1 is sent"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer a-new-local-token-of-32-chars-xx" "http://127.0.0.1:$port/jobsd/v1/health")
is "$code" 200 "the new local token works at once"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $old_token" "http://127.0.0.1:$port/jobsd/v1/health")
is "$code" 401 "the old one no longer does"
ok $(grep -q 'a-new-local-token-of-32-chars-xx' "$T/d.log"; [ $? -ne 0 ]; echo $?) "the token is not in the log"

# SIGHUP with an invalid file: logged with file:line, the old config stays.
printf '[upstream]\nrate = fast\n' >"$T/jobsd.conf"
kill -HUP "$d_PID"
for _ in $(seq 1 100); do grep -q 'keeping the old one' "$T/d.log" && break; sleep 0.02; done
like "$(cat "$T/d.log")" "$T/jobsd.conf:2: upstream.rate" "a bad reload names file:line and option"
like "$(cat "$T/d.log")" 'keeping the old one' "and keeps the old configuration"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer a-new-local-token-of-32-chars-xx" "http://127.0.0.1:$port/jobsd/v1/health")
is "$code" 200 "the daemon serves on with the old configuration"

# A read-only group: its members read but may not write.
chmod 0755 "$T"
chmod 0666 "$SOCK"
nogroup=$(getent group nogroup | cut -d: -f3)
if command -v setpriv >/dev/null 2>&1 && [ -n "$nogroup" ] && [ "$(id -u)" -eq 0 ]; then
    printf '[server]\nread_only_group = nogroup\nlocal_token = a-new-local-token-of-32-chars-xx\n' >"$T/jobsd.conf"
    kill -HUP "$d_PID"
    for _ in $(seq 1 100); do [ "$(grep -c 'configuration reloaded' "$T/d.log")" -ge 2 ] && break; sleep 0.02; done
    as_nobody() {
        setpriv --reuid=65534 --regid="$nogroup" --clear-groups curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" "$@"
    }
    is "$(as_nobody http://x/jobsd/v1/health)" 200 "a read-only peer may read"
    is "$(as_nobody -X POST -d '{"job_id":1}' http://x/api/2.2/jobs/run-now)" 403 "but not write"
    is "$(http POST /api/2.2/jobs/run-now -d '{"job_id":1}' | cut -c1-3)" 400 "root still writes (and the workspace answers)"
    like "$(cat "$T/d.log")" 'POST /api/2.2/jobs/run-now by uid=65534 gid=[0-9]+ pid=[0-9]+ -> 403' "the refused write is logged with the peer"
    like "$(sqlite3 "$T/archive.db" "select uid, gid, http_status, outcome from audit where endpoint = 'run_now' order by id")" \
        "^65534\|$nogroup\|403\|PERMISSION_DENIED" "and stored in the archive's audit table"
else
    for i in 1 2 3 4 5; do echo "ok # SKIP needs root and setpriv"; tap_n=$((tap_n + 1)); done
fi

# SIGTERM with a request in flight: it finishes; then exit 0.
fw ws POST /__fake/faults -d '{"kind":"delay","delay_ms":1500,"path_prefix":"/api/2.2/jobs/list"}' >/dev/null
curl -s -o "$T/late" -w '%{http_code}' --unix-socket "$SOCK" http://x/api/2.2/jobs/list >"$T/late.status" &
cpid=$!
for _ in $(seq 1 100); do
    http GET /jobsd/v1/status | grep -q '"in_flight":1,"backing_off"' && break
    sleep 0.02
done
kill -TERM "$d_PID"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" http://x/jobsd/v1/health)
is "$code" 503 "while draining, new requests get 503"
wait "$cpid"
is "$(cat "$T/late.status")" 200 "the request in flight was answered"
is "$(stop d)" 0 "jobsd exits 0 after the drain"

done_testing
