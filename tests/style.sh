#!/bin/sh
# The style check of `make check`: banned calls, fds without CLOEXEC, and
# one clang-format. Prints TAP. Exceptions, each with its reason, live in
# tests/style-allow.txt as "path rule".
set -u
src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$src" || exit 1

files=${STYLE_FILES:-$(find proto db daemon client tests -name '*.[ch]' -not -path 'tests/style-fixtures/*' 2>/dev/null | sort)}
n=0
failed=0

result() { # result OK|FAIL description [details]
    n=$((n + 1))
    if [ "$1" = OK ]; then
        echo "ok $n - $2"
    else
        failed=$((failed + 1))
        echo "not ok $n - $2"
        printf '%s\n' "$3" | sed 's/^/#   /'
    fi
}

allowed() { # allowed path rule
    grep -qx "$1 $2" tests/style-allow.txt 2>/dev/null
}

# check RULE DESCRIPTION: runs the perl program in $prog over each file; it
# prints "line: text" for each violation.
check() {
    rule=$1
    desc=$2
    out=""
    for f in $files; do
        allowed "$f" "$rule" && continue
        hits=$(perl -0777 -ne "$prog" "$f")
        [ -n "$hits" ] && out="$out$(printf '%s\n' "$hits" | sed "s|^|$f:|")
"
    done
    if [ -z "$out" ]; then result OK "$desc"; else result FAIL "$desc" "$out"; fi
}

# Each program gets the whole file in $_ with comments and strings blanked,
# so that prose mentioning a banned name does not count.
comments='s{/\*.*?\*/}{my $c = $&; $c =~ s/[^\n]/ /g; $c}gse;'
strip="$comments"' s{"(?:[^"\\\n]|\\.)*"}{my $c = $&; $c =~ s/[^\n"]/ /g; $c}ge;'
report='my $ln = substr($_, 0, $-[0]) =~ tr/\n//; my ($m) = split /\n/, $&; print $ln + 1, ": $m\n";'

prog="$strip"' while (/\b(sprintf|vsprintf|strcpy|strcat|atoi|atol|atoll|gets|system)\s*\(/g) { '"$report"' }'
check banned "no sprintf, strcpy, strcat, atoi, gets or system"

prog="$strip"' while (/\bstrto(l|ll|ul|ull|imax|umax)\s*\(/g) { '"$report"' }'
check strtol "strtol and friends only in the checked parsers (proto/strutil.c)"

prog="$strip"' while (/\b(open|openat|open64)\s*\(([^;]*);/g) { my $a = $2; next if $a =~ /O_CLOEXEC/; '"$report"' } while (/\b(socket|socketpair|accept4?|pipe2?|dup2?|dup3|epoll_create1?|eventfd|timerfd_create|signalfd|inotify_init1?|memfd_create)\s*\(([^;]*);/g) { my ($f, $a) = ($1, $2); next if $a =~ /(SOCK|O|EPOLL|EFD|TFD|SFD|IN|MFD|F_DUPFD)_CLOEXEC/; next if $f eq "dup2" && $a =~ /,\s*STD(IN|OUT|ERR)_FILENO\s*\)\s*$/; '"$report"' }'
check cloexec "every fd is opened with CLOEXEC (dup2 onto stdio excepted)"

# Strings stay here: fopen's mode string must hold "e".
prog="$comments"' while (/\b(fopen|fdopen|popen)\s*\([^;]*?,\s*"([^"]*)"/g) { next if $2 =~ /e/; '"$report"' }'
check cloexec "every FILE is opened with mode \"e\" (CLOEXEC)"

if [ -z "${CLANG_FORMAT:-}" ]; then
    CLANG_FORMAT=$(command -v clang-format || true)
fi
if [ -z "$CLANG_FORMAT" ]; then
    n=$((n + 1))
    echo "ok $n # SKIP clang-format is not installed"
else
    out=$("$CLANG_FORMAT" --dry-run --Werror $files 2>&1 | grep -E '^[^ ].*: error:' | head -20)
    if [ -z "$out" ]; then
        result OK "clang-format --dry-run --Werror is clean"
    else
        result FAIL "clang-format --dry-run --Werror is clean (run clang-format -i)" "$out"
    fi
fi

echo "1..$n"
[ "$failed" -eq 0 ]
