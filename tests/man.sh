#!/bin/sh
# Every manual page renders without a warning from man/groff. Prints TAP.
set -u
src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
if ! command -v man >/dev/null 2>&1; then
    echo "1..0 # SKIP man is not installed"
    exit 0
fi
n=0
failed=0
for page in "$src"/man/*.[1-9]; do
    n=$((n + 1))
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
    if [ -z "$out" ]; then
        echo "ok $n - $(basename "$page") renders without warnings"
    else
        failed=$((failed + 1))
        echo "not ok $n - $(basename "$page") renders without warnings"
        printf '%s\n' "$out" | head -n 10 | sed 's/^/#   /'
    fi
done
echo "1..$n"
[ "$failed" -eq 0 ]
