# daemon/: jobsd. The daemon's modules form a convenience library so that
# integration tests can link them; main.c is the program.
noinst_LIBRARIES += daemon/libjobsd.a
daemon_libjobsd_a_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(MHD_CFLAGS) $(CURL_CFLAGS) $(SYSTEMD_CFLAGS) \
	$(INIH_CFLAGS) $(SQLITE_CFLAGS)
daemon_libjobsd_a_SOURCES = \
	daemon/request.c daemon/request.h \
	daemon/server.c daemon/server.h \
	daemon/listen.c daemon/listen.h \
	daemon/router.c daemon/router.h \
	daemon/local.c daemon/local.h \
	daemon/proxy.c daemon/proxy.h \
	daemon/archiver.c daemon/archiver.h \
	daemon/history.c daemon/history.h \
	daemon/metrics.c daemon/metrics.h \
	daemon/events.c daemon/events.h \
	daemon/poller.c daemon/poller.h daemon/poller-private.h \
	daemon/poller-sweep.c daemon/poller-fetch.c daemon/poller-wait.c \
	daemon/manager.c daemon/manager.h

JOBSD_LIBS = daemon/libjobsd.a $(CONFIG_LIBS) $(UPSTREAM_LIBS) $(CACHE_LIBS) $(DB_LIBS) $(MHD_LIBS)

sbin_PROGRAMS += daemon/jobsd
daemon_jobsd_SOURCES = daemon/main.c
daemon_jobsd_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(SYSTEMD_CFLAGS)
daemon_jobsd_LDADD = $(JOBSD_LIBS)

check_PROGRAMS += tests/unit/test-poller-delay
tests_unit_test_poller_delay_SOURCES = tests/unit/test-poller-delay.c
tests_unit_test_poller_delay_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(SYSTEMD_CFLAGS) $(CURL_CFLAGS) \
	$(SQLITE_CFLAGS)
tests_unit_test_poller_delay_LDADD = tests/libtap.a $(JOBSD_LIBS)
TESTS += tests/unit/test-poller-delay
