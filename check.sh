#!/bin/sh
# The one test command (README, .ci/run). On a fresh Debian machine it
# installs what the build and the tests need, then builds and runs
# `make check` twice: a plain pass (clang, every warning an error) and a
# sanitizer pass (gcc, ASan + UBSan, every warning an error). The last line
# is "N passed, M failed" over both passes, counted from automake's logs.
#
#   ./check.sh               both passes
#   ./check.sh plain         only the plain pass
#   ./check.sh sanitizers    only the sanitizer pass
#   ./check.sh deps          only install what is missing (demo.sh uses it)
set -u

cd "$(dirname "$0")" || exit 1
top=$(pwd)
passes=${1:-"plain sanitizers"}
case "$passes" in
plain | sanitizers | "plain sanitizers" | deps) ;;
*)
    echo "usage: $0 [plain|sanitizers|deps]" >&2
    exit 2
    ;;
esac

# Build and test dependencies, by Debian package name. The systemd tests
# use systemd (systemd-analyze, systemd-socket-activate, systemd-sysusers,
# systemd-tmpfiles), procps (/bin/kill, which the unit's ExecReload= names)
# and openssl (a TLS workspace); libclang-rt-dev is clang's libFuzzer (only
# recommended by clang), for the fuzz targets of the plain pass.
packages="autoconf automake make pkg-config gcc clang libclang-rt-dev clang-format perl curl man-db \
libmicrohttpd-dev libcurl4-openssl-dev libjson-c-dev libsqlite3-dev \
libsystemd-dev libzstd-dev libinih-dev sqlite3 systemd procps openssl"

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "check.sh: missing packages:$missing" >&2
        echo "check.sh: install them as root with:" >&2
        echo "  apt-get update && apt-get install -y$missing" >&2
        exit 1
    fi
    echo "check.sh: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || {
        echo "check.sh: apt-get update failed" >&2
        exit 1
    }
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
        echo "check.sh: apt-get install failed for:$missing" >&2
        exit 1
    }
fi

[ "$passes" = deps ] && exit 0

# The official Databricks SDK for JavaScript, for tests/integration/sdk-js.sh
# (skipped, saying why, when node or npm is missing or the install fails).
if command -v npm >/dev/null 2>&1 && [ ! -d tests/sdk/node_modules/@databricks/sdk-experimental ]; then
    (cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1) ||
        echo "check.sh: npm ci in tests/sdk failed; the SDK test will be skipped" >&2
fi

jobs=$(nproc 2>/dev/null || echo 2)
autoreconf -fi >/dev/null 2>&1 || {
    autoreconf -fi
    echo "check.sh: autoreconf failed" >&2
    echo "0 passed, 1 failed"
    exit 1
}

total_pass=0
total_fail=0
total_skip=0

# count LOG FIELD: the number automake's test-suite.log gives for FIELD.
count() {
    sed -n "s/^# $2: *\\([0-9]*\\)\$/\\1/p" "$1" | head -n 1
}

run_pass() { # run_pass NAME CC CONFIGURE-FLAGS...
    name=$1
    cc=$2
    shift 2
    dir="$top/build-check/$name"
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "=== $name: CC=$cc ./configure $*"
    if ! (cd "$dir" && CC=$cc "$top/configure" "$@" >configure.out 2>&1); then
        tail -n 30 "$dir/configure.out"
        echo "=== $name: configure FAILED"
        total_fail=$((total_fail + 1))
        return
    fi
    if ! (cd "$dir" && make -j"$jobs" >make.out 2>&1); then
        grep -E 'error|warning' "$dir/make.out" | head -n 40
        echo "=== $name: build FAILED"
        total_fail=$((total_fail + 1))
        return
    fi
    (cd "$dir" && make -k -j"$jobs" check >check.out 2>&1)
    status=$?
    log="$dir/test-suite.log"
    if [ ! -f "$log" ]; then
        tail -n 40 "$dir/check.out"
        echo "=== $name: make check did not run the tests"
        total_fail=$((total_fail + 1))
        return
    fi
    pass=$(($(count "$log" PASS) + $(count "$log" XFAIL)))
    fail=$(($(count "$log" FAIL) + $(count "$log" XPASS) + $(count "$log" ERROR)))
    skip=$(count "$log" SKIP)
    if [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then
        fail=1 # make check failed outside the tests themselves
        tail -n 40 "$dir/check.out"
    fi
    grep -E '^(FAIL|ERROR|XPASS|SKIP):' "$dir/check.out" | head -n 50
    if [ "$fail" -ne 0 ]; then
        # The failing tests' own logs say why.
        for f in $(sed -n 's/^\(FAIL\|ERROR\|XPASS\): \([^ ]*\).*/\2/p' "$dir/check.out" | sort -u); do
            [ -f "$dir/$f.log" ] && { echo "--- $f.log"; grep -v '^ok ' "$dir/$f.log" | tail -n 40; }
        done
    fi
    echo "=== $name: $pass passed, $fail failed, $skip skipped"
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
    total_skip=$((total_skip + skip))
}

for p in $passes; do
    case $p in
    plain) run_pass plain clang --enable-debug ;;
    sanitizers) run_pass sanitizers gcc --enable-debug --enable-sanitizers ;;
    esac
done

if [ "$total_pass" -eq 0 ] && [ "$total_fail" -eq 0 ]; then
    echo "check.sh: no test ran" >&2
    total_fail=1
fi
[ "$total_skip" -ne 0 ] && echo "($total_skip skipped)"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
