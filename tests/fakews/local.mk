# tests/fakews/: the simulated Databricks workspace, built with `make` so the
# integration tests, benchmarks and demo can start it, and its own tests.
noinst_PROGRAMS += tests/fakews/fakews
tests_fakews_fakews_SOURCES = \
	tests/fakews/main.c \
	tests/fakews/server.c tests/fakews/server.h \
	tests/fakews/fakews.h \
	tests/fakews/ws.c \
	tests/fakews/idmap.c tests/fakews/idmap.h \
	tests/fakews/sim.c \
	tests/fakews/runjson.c \
	tests/fakews/jobs.c \
	tests/fakews/runs.c \
	tests/fakews/repair.c \
	tests/fakews/perms.c \
	tests/fakews/auth.c \
	tests/fakews/control.c
tests_fakews_fakews_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(JSONC_CFLAGS) -pthread
tests_fakews_fakews_LDADD = $(PROTO_LIBS) $(MHD_LIBS) -lpthread

# A client helper for the tests: starts fakews, speaks HTTP through libcurl.
check_LIBRARIES += tests/fakews/libfwtest.a
tests_fakews_libfwtest_a_SOURCES = tests/fakews/fwtest.c tests/fakews/fwtest.h
tests_fakews_libfwtest_a_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JSONC_CFLAGS)

FAKEWS_TEST_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JSONC_CFLAGS)
FAKEWS_TEST_LDADD = tests/fakews/libfwtest.a tests/libtap.a $(PROTO_LIBS) $(CURL_LIBS)

FAKEWS_TESTS = \
	tests/fakews/test-fakews-server \
	tests/fakews/test-fakews-jobs \
	tests/fakews/test-fakews-runs \
	tests/fakews/test-fakews-control \
	tests/fakews/test-fakews-perms \
	tests/fakews/test-fakews-scale \
	tests/fakews/test-fakews-robust

check_PROGRAMS += $(FAKEWS_TESTS) tests/fakews/test-idmap
tests_fakews_test_fakews_server_SOURCES = tests/fakews/test-fakews-server.c
tests_fakews_test_fakews_server_CFLAGS = $(FAKEWS_TEST_CFLAGS)
tests_fakews_test_fakews_server_LDADD = $(FAKEWS_TEST_LDADD)
tests_fakews_test_fakews_jobs_SOURCES = tests/fakews/test-fakews-jobs.c
tests_fakews_test_fakews_jobs_CFLAGS = $(FAKEWS_TEST_CFLAGS)
tests_fakews_test_fakews_jobs_LDADD = $(FAKEWS_TEST_LDADD)
tests_fakews_test_fakews_runs_SOURCES = tests/fakews/test-fakews-runs.c
tests_fakews_test_fakews_runs_CFLAGS = $(FAKEWS_TEST_CFLAGS)
tests_fakews_test_fakews_runs_LDADD = $(FAKEWS_TEST_LDADD)
tests_fakews_test_fakews_control_SOURCES = tests/fakews/test-fakews-control.c
tests_fakews_test_fakews_control_CFLAGS = $(FAKEWS_TEST_CFLAGS)
tests_fakews_test_fakews_control_LDADD = $(FAKEWS_TEST_LDADD)
tests_fakews_test_fakews_perms_SOURCES = tests/fakews/test-fakews-perms.c
tests_fakews_test_fakews_perms_CFLAGS = $(FAKEWS_TEST_CFLAGS)
tests_fakews_test_fakews_perms_LDADD = $(FAKEWS_TEST_LDADD)
tests_fakews_test_fakews_scale_SOURCES = tests/fakews/test-fakews-scale.c
tests_fakews_test_fakews_scale_CFLAGS = $(FAKEWS_TEST_CFLAGS)
tests_fakews_test_fakews_scale_LDADD = $(FAKEWS_TEST_LDADD)
tests_fakews_test_fakews_robust_SOURCES = tests/fakews/test-fakews-robust.c
tests_fakews_test_fakews_robust_CFLAGS = $(FAKEWS_TEST_CFLAGS)
tests_fakews_test_fakews_robust_LDADD = $(FAKEWS_TEST_LDADD)
tests_fakews_test_idmap_SOURCES = tests/fakews/test-idmap.c tests/fakews/idmap.c
tests_fakews_test_idmap_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
tests_fakews_test_idmap_LDADD = tests/libtap.a $(PROTO_LIBS)

# The tests find the binary through FAKEWS.
TESTS_ENVIRONMENT_FAKEWS = FAKEWS='$(abs_top_builddir)/tests/fakews/fakews'; export FAKEWS;
AM_TESTS_ENVIRONMENT += $(TESTS_ENVIRONMENT_FAKEWS)

TESTS += $(FAKEWS_TESTS) tests/fakews/test-idmap tests/fakews/test-fakews-cli.sh
EXTRA_DIST += tests/fakews/README.md tests/fakews/test-fakews-cli.sh tests/bench/fakews-runs-get.sh
