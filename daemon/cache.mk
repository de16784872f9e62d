# daemon/cache.mk: the response cache and the single-flight table, a pure
# module (no MHD, curl or sd-event), as one convenience library, its tests
# and its micro-benchmark.
noinst_LIBRARIES += daemon/libcache.a
daemon_libcache_a_CFLAGS = $(AM_CFLAGS)
daemon_libcache_a_SOURCES = \
	daemon/cache.c daemon/cache.h \
	daemon/cache-key.c \
	daemon/cache-flight.c \
	daemon/cache-private.h

CACHE_LIBS = daemon/libcache.a $(PROTO_LIBS)

check_PROGRAMS += \
	tests/unit/test-cache \
	tests/unit/test-cache-model \
	tests/unit/test-cache-invalidate \
	tests/unit/test-cache-flight \
	tests/bench/cache-bench

tests_unit_test_cache_SOURCES = tests/unit/test-cache.c tests/unit/cache-testutil.h
tests_unit_test_cache_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_cache_LDADD = tests/libtap.a $(CACHE_LIBS)

tests_unit_test_cache_model_SOURCES = tests/unit/test-cache-model.c tests/unit/cache-testutil.h
tests_unit_test_cache_model_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_cache_model_LDADD = tests/libtap.a $(CACHE_LIBS)

tests_unit_test_cache_invalidate_SOURCES = tests/unit/test-cache-invalidate.c \
	tests/unit/cache-testutil.h
tests_unit_test_cache_invalidate_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_cache_invalidate_LDADD = tests/libtap.a $(CACHE_LIBS)

tests_unit_test_cache_flight_SOURCES = tests/unit/test-cache-flight.c
tests_unit_test_cache_flight_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_cache_flight_LDADD = tests/libtap.a $(CACHE_LIBS)

# Not a test: `tests/bench/cache-bench` prints ns/op; --smoke (below) only
# checks that it runs.
tests_bench_cache_bench_SOURCES = tests/bench/cache-bench.c
tests_bench_cache_bench_CFLAGS = $(AM_CFLAGS)
tests_bench_cache_bench_LDADD = $(CACHE_LIBS)

TESTS += \
	tests/unit/test-cache \
	tests/unit/test-cache-model \
	tests/unit/test-cache-invalidate \
	tests/unit/test-cache-flight \
	tests/bench/cache-bench-smoke.sh

EXTRA_DIST += tests/bench/cache-bench-smoke.sh
