#!/bin/sh
# A tiny run of cache-bench for make check: every operation must give the
# expected result. Prints TAP.
set -u
out=$("${top_builddir:-.}/tests/bench/cache-bench" --smoke 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
if [ "$rc" -eq 0 ]; then echo "ok 1 - cache-bench --smoke"; else echo "not ok 1 - cache-bench --smoke"; fi
echo "1..1"
