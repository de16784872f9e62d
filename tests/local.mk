# tests/: unit tests (one program per module, TAP), style check.
check_LIBRARIES = tests/libtap.a
tests_libtap_a_SOURCES = tests/tap.c tests/tap.h

UNIT_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
UNIT_LDADD = tests/libtap.a $(PROTO_LIBS)

check_PROGRAMS += \
	tests/unit/test-log \
	tests/unit/test-strutil \
	tests/unit/test-json \
	tests/unit/test-apierror \
	tests/unit/test-runstate \
	tests/unit/test-endpoint

tests_unit_test_log_SOURCES = tests/unit/test-log.c
tests_unit_test_log_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_log_LDADD = $(UNIT_LDADD)
tests_unit_test_strutil_SOURCES = tests/unit/test-strutil.c
tests_unit_test_strutil_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_strutil_LDADD = $(UNIT_LDADD)
tests_unit_test_json_SOURCES = tests/unit/test-json.c
tests_unit_test_json_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_json_LDADD = $(UNIT_LDADD)
tests_unit_test_apierror_SOURCES = tests/unit/test-apierror.c
tests_unit_test_apierror_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_apierror_LDADD = $(UNIT_LDADD)
tests_unit_test_runstate_SOURCES = tests/unit/test-runstate.c
tests_unit_test_runstate_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_runstate_LDADD = $(UNIT_LDADD)
tests_unit_test_endpoint_SOURCES = tests/unit/test-endpoint.c
tests_unit_test_endpoint_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_endpoint_LDADD = $(UNIT_LDADD)

TESTS += \
	tests/unit/test-log \
	tests/unit/test-strutil \
	tests/unit/test-json \
	tests/unit/test-apierror \
	tests/unit/test-runstate \
	tests/unit/test-endpoint \
	tests/style.sh \
	tests/style-selftest.sh \
	tests/man.sh

EXTRA_DIST += tests/bench/lib.sh tests/bench/proxy-overhead.sh tests/bench/cache-hits.sh tests/style.sh tests/style-selftest.sh tests/style-allow.txt tests/man.sh \
	tests/style-fixtures/bad.c tests/style-fixtures/good.c

# Integration tests: jobsd (+ fakews) started in a temp dir each, waited for
# through tests/harness/launch (READY=1), never slept for.
check_PROGRAMS += tests/harness/launch
tests_harness_launch_SOURCES = tests/harness/launch.c
tests_harness_launch_LDADD = $(PROTO_LIBS)

TESTS += tests/integration/daemon-basics.sh tests/integration/daemon-lifecycle.sh \
	tests/integration/sdk-js.sh
EXTRA_DIST += tests/integration/lib.sh tests/integration/daemon-basics.sh \
	tests/integration/daemon-lifecycle.sh tests/integration/sdk-js.sh \
	tests/sdk/package.json tests/sdk/package-lock.json tests/sdk/jobs.mjs

# C integration tests: fakews (tests/fakews/fwtest.h) + jobsd (jdtest.h).
check_LIBRARIES += tests/integration/libjdtest.a
tests_integration_libjdtest_a_SOURCES = tests/integration/jdtest.c tests/integration/jdtest.h
tests_integration_libjdtest_a_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JSONC_CFLAGS)
JD_TEST_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JSONC_CFLAGS) $(SQLITE_CFLAGS)
JD_TEST_LDADD = tests/integration/libjdtest.a tests/fakews/libfwtest.a tests/libtap.a \
	$(DB_LIBS) $(CURL_LIBS)

check_PROGRAMS += tests/integration/test-proxy
tests_integration_test_proxy_SOURCES = tests/integration/test-proxy.c
tests_integration_test_proxy_CFLAGS = $(JD_TEST_CFLAGS)
tests_integration_test_proxy_LDADD = $(JD_TEST_LDADD)
TESTS += tests/integration/test-proxy

check_PROGRAMS += tests/integration/test-proxy-faults
tests_integration_test_proxy_faults_SOURCES = tests/integration/test-proxy-faults.c
tests_integration_test_proxy_faults_CFLAGS = $(JD_TEST_CFLAGS)
tests_integration_test_proxy_faults_LDADD = $(JD_TEST_LDADD)
TESTS += tests/integration/test-proxy-faults

check_PROGRAMS += tests/integration/test-archive
tests_integration_test_archive_SOURCES = tests/integration/test-archive.c
tests_integration_test_archive_CFLAGS = $(JD_TEST_CFLAGS)
tests_integration_test_archive_LDADD = $(JD_TEST_LDADD)
TESTS += tests/integration/test-archive

check_PROGRAMS += tests/integration/test-cache
tests_integration_test_cache_SOURCES = tests/integration/test-cache.c
tests_integration_test_cache_CFLAGS = $(JD_TEST_CFLAGS)
tests_integration_test_cache_LDADD = $(JD_TEST_LDADD)
TESTS += tests/integration/test-cache

# Benchmarks' own programs (built with the tree, run by tests/bench/*.sh).
noinst_PROGRAMS += tests/bench/pollers
tests_bench_pollers_SOURCES = tests/bench/pollers.c
tests_bench_pollers_LDADD = $(PROTO_LIBS)
EXTRA_DIST += tests/bench/pollers.sh
noinst_PROGRAMS += tests/bench/waiters
tests_bench_waiters_SOURCES = tests/bench/waiters.c
tests_bench_waiters_LDADD = $(PROTO_LIBS)
EXTRA_DIST += tests/bench/poller.sh

check_PROGRAMS += tests/integration/test-poller
tests_integration_test_poller_SOURCES = tests/integration/test-poller.c
tests_integration_test_poller_CFLAGS = $(JD_TEST_CFLAGS)
tests_integration_test_poller_LDADD = $(JD_TEST_LDADD)
TESTS += tests/integration/test-poller

# systemd integration: the units (systemd-analyze verify and security), and
# jobsd under systemd-socket-activate with a NOTIFY_SOCKET of the test's own
# (tests/harness/notify-recv) and credentials in $CREDENTIALS_DIRECTORY.
check_PROGRAMS += tests/harness/notify-recv
tests_harness_notify_recv_SOURCES = tests/harness/notify-recv.c
tests_harness_notify_recv_LDADD = $(PROTO_LIBS)
TESTS += tests/integration/systemd-units.sh tests/integration/systemd-activate.sh
EXTRA_DIST += tests/integration/systemd-units.sh tests/integration/systemd-activate.sh
check_PROGRAMS += tests/harness/sandbox
tests_harness_sandbox_SOURCES = tests/harness/sandbox.c
TESTS += tests/integration/systemd-sandbox.sh
EXTRA_DIST += tests/integration/systemd-sandbox.sh

# Hardening (issue 10): crash consistency, fault soak, load, security.
# The short versions run here; tests/bench/{soak,load,crash}.sh run long ones.
noinst_PROGRAMS += tests/bench/soakload
tests_bench_soakload_SOURCES = tests/bench/soakload.c
tests_bench_soakload_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
tests_bench_soakload_LDADD = $(PROTO_LIBS)
TESTS += tests/integration/soak-short.sh
EXTRA_DIST += tests/integration/soak-short.sh tests/bench/soak.sh
check_PROGRAMS += tests/integration/test-crash
tests_integration_test_crash_SOURCES = tests/integration/test-crash.c
tests_integration_test_crash_CFLAGS = $(JD_TEST_CFLAGS)
tests_integration_test_crash_LDADD = $(JD_TEST_LDADD)
TESTS += tests/integration/test-crash
EXTRA_DIST += tests/bench/crash.sh
EXTRA_DIST += tests/bench/benchnet.h
check_PROGRAMS += tests/integration/test-load
tests_integration_test_load_SOURCES = tests/integration/test-load.c
tests_integration_test_load_CFLAGS = $(JD_TEST_CFLAGS)
tests_integration_test_load_LDADD = $(JD_TEST_LDADD)
TESTS += tests/integration/test-load
EXTRA_DIST += tests/bench/load.sh
check_PROGRAMS += tests/harness/rawhttp
tests_harness_rawhttp_SOURCES = tests/harness/rawhttp.c tests/bench/benchnet.h
tests_harness_rawhttp_LDADD = $(PROTO_LIBS)
TESTS += tests/integration/security.sh
EXTRA_DIST += tests/integration/security.sh
