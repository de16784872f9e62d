# Shared by the jobsctl-*.sh tests, sourced after lib.sh: jobsctl on the
# test's own socket, pinned output (TZ, COLUMNS), golden files, and one
# fakews + jobsd pair.
JOBSCTL=$top_builddir/client/jobsctl
GOLDEN=$top_srcdir/tests/integration/golden
TZ=UTC
COLUMNS=120
LC_ALL=C
export TZ COLUMNS LC_ALL

# jc ARGS...: jobsctl on this test's jobsd; stdout to $T/out, stderr to
# $T/err; sets $rc.
jc() {
    JOBSD_SOCKET=$SOCK "$JOBSCTL" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

# golden NAME DESCRIPTION: $T/out is tests/integration/golden/NAME
# (JOBSCTL_UPDATE_GOLDEN=1 rewrites the file instead).
golden() {
    # The fake's port (in run_page_url) changes from run to run.
    sed -i "s/127\.0\.0\.1:${ws_PORT:-0}/127.0.0.1:PORT/g" "$T/out"
    if [ "${JOBSCTL_UPDATE_GOLDEN:-0}" = 1 ]; then
        cp "$T/out" "$GOLDEN/$1"
    fi
    if cmp -s "$T/out" "$GOLDEN/$1"; then
        ok 0 "$2"
    else
        ok 1 "$2 (golden/$1)"
        diff -u "$GOLDEN/$1" "$T/out" | head -n 30 | sed 's/^/# /'
    fi
}

# start_pair CLOCK-ARGS...: fakews (its clock as given) and jobsd on $SOCK
# with nothing cached, so each read sees the fake's clock; $JOBSD_ARGS are
# added to jobsd's (e.g. the poller, off by default in tests).
start_pair() {
    start_fakews ws "$@" || return 1
    DATABRICKS_HOST=http://127.0.0.1:$ws_PORT
    DATABRICKS_TOKEN=$WS_TOKEN
    export DATABRICKS_HOST DATABRICKS_TOKEN
    SOCK=$T/jobsd.sock
    start_jobsd d --socket "$SOCK" --tcp 127.0.0.1:0 --set cache.run_ttl=0 \
        --set cache.list_ttl=0 --set cache.job_ttl=0 --set cache.permissions_ttl=0 ${JOBSD_ARGS:-}
}

# advance MS: moves fakews' manual clock.
advance() {
    fw ws POST /__fake/clock -d "{\"advance_ms\": $1}" >/dev/null
}
