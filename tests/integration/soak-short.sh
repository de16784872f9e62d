#!/bin/sh
# make check's fault soak: tests/bench/soak.sh for 20 s (mixed client load,
# ~10 % of upstream requests faulted, the rate budget enforced by fakews):
# jobsd stays up, every client request is answered as documented, nothing
# goes over the budget, RSS stays under its bound, and jobsd stops cleanly.
# The ten-minute run and the valgrind run are tests/bench/soak.sh's.
: "${top_builddir:?}" "${top_srcdir:?}"
# 20 s is too short to tell growth from warm-up: the bound only (the long
# soak checks growth).
out=$(SOAK_SECONDS=${SOAK_SECONDS:-20} SOAK_GROWTH=${SOAK_GROWTH:-0} SOAK_CLIENTS=12 "$top_srcdir/tests/bench/soak.sh" 1 "$top_builddir" 2>&1)
rc=$?
if [ "$rc" -eq 77 ]; then
    echo "1..0 # SKIP $(printf '%s\n' "$out" | tail -n 1)"
    exit 0
fi
printf '%s\n' "$out" | sed 's/^/# /'
n=0
check() { # check PATTERN description
    n=$((n + 1))
    if printf '%s\n' "$out" | grep -qE -- "$1"; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
check '^jobsd: alive' "jobsd survives the faults"
check ', 0 not answered as documented' "every client request is answered as documented"
check ', 0 over the budget' "no upstream request over the rate budget"
check '^rss: ' "RSS sampled"
check '^jobsd: exit status 0 ' "jobsd stops cleanly"
check '^soak: PASS' "the soak passes"
echo "1..$n"
[ "$rc" -eq 0 ]
