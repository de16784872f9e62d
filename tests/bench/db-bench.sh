#!/bin/sh
# The db/ benchmark of issue 4: 1,000,000 runs (~2 KB of JSON each, with
# tasks) ingested in batches of 1,000, then 2,000 timings of each query.
# Prints a table. Usage (from a build tree):
#   ../tests/bench/db-bench.sh [--runs N] [--batch B] [--dir D]
# /usr/bin/time -v adds the process's peak RSS when it is installed.
set -eu
bin=${DB_BENCH:-./tests/bench/db-bench}
if [ ! -x "$bin" ]; then
    echo "db-bench.sh: build first (make -C build tests/bench/db-bench)" >&2
    exit 1
fi
if [ -x /usr/bin/time ]; then
    exec /usr/bin/time -f '| process peak RSS (time -v)             | %M KB |' "$bin" "$@"
fi
exec "$bin" "$@"
