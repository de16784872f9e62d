#!/bin/sh
# Proves that tests/style.sh catches what it claims to: it must fail on
# tests/style-fixtures/bad.c, naming each violation, and pass good.c.
set -u
src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
n=0
failed=0
check() { # check CONDITION-EXIT-CODE description
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else failed=$((failed + 1)); echo "not ok $n - $2"; fi
}

bad=$(cd "$src" && STYLE_FILES=tests/style-fixtures/bad.c CLANG_FORMAT=true sh tests/style.sh 2>&1)
status=$?
[ $status -ne 0 ]; check $? "style.sh fails on the bad fixture"
for pattern in 'bad.c:13: sprintf(' 'bad.c:14: strcpy(' 'bad.c:20: atoi(' 'bad.c:19: strtol(' \
    'bad.c:15: open(' 'bad.c:17: socket(' 'bad.c:18: fopen('; do
    printf '%s\n' "$bad" | grep -qF "$pattern"; check $? "finds $pattern"
done
printf '%s\n' "$bad" | grep -q 'bad.c:12:'; [ $? -ne 0 ]; check $? "a banned name inside a string is not reported"
printf '%s\n' "$bad" | grep -q 'bad.c:2:'; [ $? -ne 0 ]; check $? "a banned name inside a comment is not reported"

(cd "$src" && STYLE_FILES=tests/style-fixtures/good.c CLANG_FORMAT=true sh tests/style.sh >/dev/null 2>&1)
check $? "style.sh passes the good fixture"

echo "1..$n"
[ "$failed" -eq 0 ]
