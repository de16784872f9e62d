#!/bin/sh
# The units of systemd/: systemd-analyze verify finds nothing to say about
# them, the sandbox rates at most 1.5 in systemd-analyze security, and the
# sysusers.d and tmpfiles.d snippets make the user and /run/jobsd.
. "$top_srcdir/tests/integration/lib.sh"

ANALYZE=$(command -v systemd-analyze) ||
    skip_all "systemd-analyze is missing (apt-get install systemd)"
MAX_EXPOSURE=1.5

# The units as installed, but with ExecStart= the jobsd of this build, so
# that verify finds the binary; their man pages where man(1) looks for them.
mkdir -p "$T/units" "$T/man/man5" "$T/man/man8"
sed "s|@sbindir@|$top_builddir/daemon|g" "$top_srcdir/systemd/jobsd.service.in" >"$T/units/jobsd.service"
cp "$top_srcdir/systemd/jobsd.socket" "$top_srcdir/systemd/jobsd-tcp.socket" "$T/units/"
cp "$top_srcdir/man/jobsd.8" "$T/man/man8/"
cp "$top_srcdir/man/jobsd.conf.5" "$T/man/man5/"
ok $(grep -q '@[a-z_]*@' "$T/units/jobsd.service"; [ $? -ne 0 ]; echo $?) "jobsd.service.in has no other @substitution@"
is "$(sed -n 's/^ExecStart=//p' "$T/units/jobsd.service")" "$top_builddir/daemon/jobsd" "ExecStart= is jobsd"

# verify: an exit status of 0 is not enough, since unknown keys and missing
# man pages are only warnings; it must print nothing at all. Without
# systemd as PID 1 it still loads and checks the units.
for u in jobsd.service jobsd.socket jobsd-tcp.socket; do
    out=$(cd "$T/units" && MANPATH="$T/man" SYSTEMD_LOG_COLOR=0 "$ANALYZE" verify "$T/units/$u" 2>&1)
    st=$?
    is "$st:$out" "0:" "systemd-analyze verify $u is silent"
done
# The check itself bites: an unknown key and a missing binary are reported.
sed 's|^ExecReload=.*|ExecReload=/nonexistent/kill|; s|^NoNewPrivileges=|NoNewPrivilegez=|' \
    "$T/units/jobsd.service" >"$T/units/broken.service"
out=$(cd "$T/units" && MANPATH="$T/man" "$ANALYZE" verify "$T/units/broken.service" 2>&1)
like "$out" "Unknown key 'NoNewPrivilegez'" "verify reports an unknown key"
like "$out" '/nonexistent/kill is not executable' "verify reports a missing binary"

# The sandbox.
out=$("$ANALYZE" security --offline=yes "$T/units/jobsd.service" 2>&1)
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for jobsd.service: \([0-9.]*\).*/\1/p')
like "$score" '^[0-9]+\.[0-9]+$' "systemd-analyze security rates jobsd.service"
echo "# exposure $score (at most $MAX_EXPOSURE)"
ok $(awk -v s="${score:-99}" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'; echo $?) \
    "the exposure, ${score:-none}, is at most $MAX_EXPOSURE"
[ "${score:-99}" = 99 ] && printf '%s\n' "$out" | tail -n 5 | sed 's/^/#   /'
for item in PrivateDevices ProtectSystem NoNewPrivileges MemoryDenyWriteExecute \
    'SystemCallFilter=~@privileged' 'RestrictAddressFamilies=~AF_PACKET' ProtectHome; do
    like "$(printf '%s\n' "$out" | grep -F "$item")" '✓' "$item is assessed as safe"
done
# It still may talk to the workspace: AF_INET and AF_INET6 are allowed.
like "$(sed -n 's/^RestrictAddressFamilies=//p' "$T/units/jobsd.service")" \
    'AF_INET AF_INET6' "the sandbox leaves Internet sockets for HTTPS to the workspace"

# The socket unit: the door README and DESIGN describe.
s=$T/units/jobsd.socket
is "$(sed -n 's/^ListenStream=//p' "$s")" /run/jobsd/jobsd.sock "ListenStream=/run/jobsd/jobsd.sock"
is "$(sed -n 's/^SocketMode=//p' "$s")" 0660 "SocketMode=0660"
is "$(sed -n 's/^SocketGroup=//p' "$s")" jobsd "SocketGroup=jobsd"
# The service keeps /run/jobsd when it stops: the socket lives there.
is "$(sed -n 's/^RuntimeDirectoryPreserve=//p' "$T/units/jobsd.service")" yes \
    "RuntimeDirectoryPreserve=yes keeps the socket unit's socket"
# Every credential the unit loads is one jobsd reads (daemon/creds.c).
for id in $(sed -n 's/^LoadCredential=\([^:]*\):.*/\1/p' "$T/units/jobsd.service"); do
    ok $(grep -q "\"$id\"" "$top_srcdir/daemon/creds.c"; echo $?) "credential $id is one jobsd reads"
done

# sysusers.d and tmpfiles.d, applied to an empty root.
if command -v systemd-sysusers >/dev/null 2>&1 && command -v systemd-tmpfiles >/dev/null 2>&1 &&
    [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$T/root/etc"
    systemd-sysusers --root="$T/root" "$top_srcdir/systemd/jobsd.sysusers" >"$T/sysusers.log" 2>&1
    ok $? "systemd-sysusers applies jobsd.sysusers"
    like "$(cat "$T/root/etc/passwd")" '^jobsd:x:[0-9]+:[0-9]+:[^:]*:/var/lib/jobsd:' "it makes the jobsd user, at home in /var/lib/jobsd"
    like "$(cat "$T/root/etc/group")" '^jobsd:x:[0-9]+:' "and the jobsd group"
    systemd-tmpfiles --root="$T/root" --create "$top_srcdir/systemd/jobsd.tmpfiles" >"$T/tmpfiles.log" 2>&1
    ok $? "systemd-tmpfiles applies jobsd.tmpfiles"
    uid=$(sed -n 's/^jobsd:x:\([0-9]*\):.*/\1/p' "$T/root/etc/passwd")
    is "$(stat -c '%a %u' "$T/root/run/jobsd")" "755 $uid" "/run/jobsd is 0755 and owned by jobsd"
else
    for i in 1 2 3 4 5; do
        tap_n=$((tap_n + 1))
        echo "ok $tap_n # SKIP needs root, systemd-sysusers and systemd-tmpfiles"
    done
fi

done_testing
