# daemon/upstream.mk: the upstream client (curl multi on sd-event, limiter,
# backoff, auth) as one convenience library, and its tests.
noinst_LIBRARIES += daemon/libupstream.a
daemon_libupstream_a_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(CURL_CFLAGS) $(SYSTEMD_CFLAGS)
daemon_libupstream_a_SOURCES = \
	daemon/curl-glue.c daemon/curl-glue.h \
	daemon/limiter.c daemon/limiter.h \
	daemon/backoff.c daemon/backoff.h \
	daemon/auth.c daemon/auth.h \
	daemon/upstream.c daemon/upstream.h

UPSTREAM_LIBS = daemon/libupstream.a $(PROTO_LIBS) $(CURL_LIBS) $(SYSTEMD_LIBS) -lm

check_PROGRAMS += \
	tests/unit/test-limiter \
	tests/unit/test-backoff \
	tests/unit/test-upstream

tests_unit_test_limiter_SOURCES = tests/unit/test-limiter.c
tests_unit_test_limiter_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_limiter_LDADD = tests/libtap.a daemon/libupstream.a -lm

tests_unit_test_backoff_SOURCES = tests/unit/test-backoff.c
tests_unit_test_backoff_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS)
tests_unit_test_backoff_LDADD = tests/libtap.a $(UPSTREAM_LIBS)

# Runs the client on a loop against a small HTTP server (libmicrohttpd in
# its own threads) that plays each fault.
tests_unit_test_upstream_SOURCES = tests/unit/test-upstream.c
tests_unit_test_upstream_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS) $(SYSTEMD_CFLAGS) $(MHD_CFLAGS) \
	-pthread
tests_unit_test_upstream_LDADD = tests/libtap.a $(UPSTREAM_LIBS) $(MHD_LIBS) -lpthread

TESTS += \
	tests/unit/test-limiter \
	tests/unit/test-backoff \
	tests/unit/test-upstream
