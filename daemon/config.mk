# daemon/config.mk: the configuration and secrets library (daemon/config.h)
# and its tests. Kept apart from daemon/local.mk so both can grow freely.
noinst_LIBRARIES += daemon/libconfig.a
daemon_libconfig_a_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)
daemon_libconfig_a_SOURCES = \
	daemon/config.c daemon/config.h daemon/config-private.h \
	daemon/config-table.c \
	daemon/config-args.c \
	daemon/creds.c \
	daemon/conffile.c daemon/conffile.h

CONFIG_LIBS = daemon/libconfig.a $(PROTO_LIBS) $(INIH_LIBS)

CONFIG_TEST_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS) -DTOP_SRCDIR='"$(abs_top_srcdir)"'
CONFIG_TEST_LDADD = tests/libtap.a $(CONFIG_LIBS)

check_PROGRAMS += \
	tests/unit/test-config \
	tests/unit/test-config-creds \
	tests/unit/test-config-golden \
	tests/unit/test-config-man

tests_unit_test_config_SOURCES = tests/unit/test-config.c tests/unit/config-testutil.c \
	tests/unit/config-testutil.h
tests_unit_test_config_CFLAGS = $(CONFIG_TEST_CFLAGS)
tests_unit_test_config_LDADD = $(CONFIG_TEST_LDADD)
tests_unit_test_config_creds_SOURCES = tests/unit/test-config-creds.c \
	tests/unit/config-testutil.c tests/unit/config-testutil.h
tests_unit_test_config_creds_CFLAGS = $(CONFIG_TEST_CFLAGS)
tests_unit_test_config_creds_LDADD = $(CONFIG_TEST_LDADD)
tests_unit_test_config_golden_SOURCES = tests/unit/test-config-golden.c \
	tests/unit/config-testutil.c tests/unit/config-testutil.h
tests_unit_test_config_golden_CFLAGS = $(CONFIG_TEST_CFLAGS)
tests_unit_test_config_golden_LDADD = $(CONFIG_TEST_LDADD)
tests_unit_test_config_man_SOURCES = tests/unit/test-config-man.c \
	tests/unit/config-testutil.c tests/unit/config-testutil.h
tests_unit_test_config_man_CFLAGS = $(CONFIG_TEST_CFLAGS)
tests_unit_test_config_man_LDADD = $(CONFIG_TEST_LDADD)

TESTS += \
	tests/unit/test-config \
	tests/unit/test-config-creds \
	tests/unit/test-config-golden \
	tests/unit/test-config-man

# The golden files: NN.in (+ NN.env, NN.args, NN.cfg, NN.creds) -> NN.ok.
EXTRA_DIST += tests/config doc/internals/config.md

# Its fuzz target (tests/fuzz/fuzz-config.c) is built in tests/fuzz/local.mk.
