#!/bin/sh
# A tiny run of db-bench for make check: it must ingest, query and pass
# integrity_check. Prints TAP.
set -u
out=$("${top_builddir:-.}/tests/bench/db-bench" --smoke --dir "${TMPDIR:-/tmp}" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
if [ "$rc" -eq 0 ]; then echo "ok 1 - db-bench --smoke"; else echo "not ok 1 - db-bench --smoke"; fi
echo "1..1"
