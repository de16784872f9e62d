# tests/fuzz/: fuzz targets, each a tests/fuzz/fuzz-NAME.c defining
# LLVMFuzzerTestOneInput, with its seeds in tests/fuzz/corpus-NAME/ and its
# dictionary in tests/fuzz/NAME.dict.
#
# Always: tests/fuzz/fuzz-NAME, the target under the stand-in driver
# (fuzz-main.c: the corpus, then seconds of mutations), with any compiler.
# When configure found libFuzzer (clang): tests/fuzz/libfuzzer-NAME too,
# linked against copies of the modules built with coverage and ASan/UBSan;
# tests/fuzz/libfuzzer.sh runs each for a few seconds in make check and
# tests/fuzz/run-long for minutes.
FUZZ_MAIN_CFLAGS = -DTOP_SRCDIR='"$(abs_top_srcdir)"'
FUZZ_SERVER_CFLAGS = $(JSONC_CFLAGS) $(MHD_CFLAGS) $(CURL_CFLAGS) $(SYSTEMD_CFLAGS) \
	$(INIH_CFLAGS) $(SQLITE_CFLAGS) $(ZSTD_CFLAGS)

check_PROGRAMS += tests/fuzz/fuzz-config tests/fuzz/fuzz-json tests/fuzz/fuzz-router \
	tests/fuzz/fuzz-upstream tests/fuzz/fuzz-client
TESTS += tests/fuzz/fuzz-config tests/fuzz/fuzz-json tests/fuzz/fuzz-router \
	tests/fuzz/fuzz-upstream tests/fuzz/fuzz-client

tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz-config.c tests/fuzz/fuzz-main.c \
	tests/fuzz/fuzz-util.h
tests_fuzz_fuzz_config_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS) $(FUZZ_MAIN_CFLAGS) \
	-DFUZZ_TARGET='"config"'
tests_fuzz_fuzz_config_LDADD = $(CONFIG_LIBS)

tests_fuzz_fuzz_json_SOURCES = tests/fuzz/fuzz-json.c tests/fuzz/fuzz-main.c \
	tests/fuzz/fuzz-util.h
tests_fuzz_fuzz_json_CFLAGS = $(AM_CFLAGS) $(FUZZ_SERVER_CFLAGS) $(FUZZ_MAIN_CFLAGS) \
	-DFUZZ_TARGET='"json"'
tests_fuzz_fuzz_json_LDADD = $(DB_LIBS)

tests_fuzz_fuzz_router_SOURCES = tests/fuzz/fuzz-router.c tests/fuzz/fuzz-main.c \
	tests/fuzz/fuzz-util.h
tests_fuzz_fuzz_router_CFLAGS = $(AM_CFLAGS) $(FUZZ_SERVER_CFLAGS) $(FUZZ_MAIN_CFLAGS) \
	-DFUZZ_TARGET='"router"'
tests_fuzz_fuzz_router_LDADD = $(JOBSD_LIBS)

tests_fuzz_fuzz_upstream_SOURCES = tests/fuzz/fuzz-upstream.c tests/fuzz/fuzz-main.c \
	tests/fuzz/fuzz-util.h
tests_fuzz_fuzz_upstream_CFLAGS = $(AM_CFLAGS) $(FUZZ_SERVER_CFLAGS) $(FUZZ_MAIN_CFLAGS) \
	-DFUZZ_TARGET='"upstream"'
tests_fuzz_fuzz_upstream_LDADD = $(JOBSD_LIBS)

tests_fuzz_fuzz_client_SOURCES = tests/fuzz/fuzz-client.c tests/fuzz/fuzz-main.c \
	tests/fuzz/fuzz-util.h
tests_fuzz_fuzz_client_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(CURL_CFLAGS) $(FUZZ_MAIN_CFLAGS) \
	-DFUZZ_TARGET='"client"'
tests_fuzz_fuzz_client_LDADD = $(JOBSCTL_LIBS)

EXTRA_DIST += tests/fuzz/libfuzzer.sh tests/fuzz/run-long \
	tests/fuzz/corpus-config tests/fuzz/corpus-json tests/fuzz/corpus-router \
	tests/fuzz/corpus-upstream tests/fuzz/corpus-client \
	tests/fuzz/config.dict tests/fuzz/json.dict tests/fuzz/router.dict \
	tests/fuzz/upstream.dict tests/fuzz/client.dict tests/fuzz/upstream.flags

if LIBFUZZER
# The modules again, with coverage for libFuzzer (the same source lists).
check_LIBRARIES += tests/fuzz/libfz-proto.a tests/fuzz/libfz-server.a tests/fuzz/libfz-client.a
tests_fuzz_libfz_proto_a_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS) $(JSONC_CFLAGS)
tests_fuzz_libfz_proto_a_SOURCES = $(proto_libproto_a_SOURCES)
tests_fuzz_libfz_server_a_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS) $(FUZZ_SERVER_CFLAGS)
tests_fuzz_libfz_server_a_SOURCES = $(db_libdb_a_SOURCES) $(daemon_libconfig_a_SOURCES) \
	$(daemon_libupstream_a_SOURCES) $(daemon_libcache_a_SOURCES) $(daemon_libjobsd_a_SOURCES)
nodist_tests_fuzz_libfz_server_a_SOURCES = db/schema-sql.h
tests_fuzz_libfz_client_a_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS) $(JSONC_CFLAGS) $(CURL_CFLAGS)
tests_fuzz_libfz_client_a_SOURCES = $(client_libjobsctl_a_SOURCES)

FUZZ_PROTO_LIBS = tests/fuzz/libfz-proto.a $(JSONC_LIBS)
FUZZ_SERVER_LIBS = tests/fuzz/libfz-server.a $(FUZZ_PROTO_LIBS) $(INIH_LIBS) $(CURL_LIBS) \
	$(SYSTEMD_LIBS) $(MHD_LIBS) $(SQLITE_LIBS) $(ZSTD_LIBS) -lm
LIBFUZZER_LINK_FLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

check_PROGRAMS += tests/fuzz/libfuzzer-config tests/fuzz/libfuzzer-json \
	tests/fuzz/libfuzzer-router tests/fuzz/libfuzzer-upstream tests/fuzz/libfuzzer-client
TESTS += tests/fuzz/libfuzzer.sh

tests_fuzz_libfuzzer_config_SOURCES = tests/fuzz/fuzz-config.c tests/fuzz/fuzz-util.h
tests_fuzz_libfuzzer_config_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS) $(INIH_CFLAGS)
tests_fuzz_libfuzzer_config_LDFLAGS = $(LIBFUZZER_LINK_FLAGS)
tests_fuzz_libfuzzer_config_LDADD = $(FUZZ_SERVER_LIBS)

tests_fuzz_libfuzzer_json_SOURCES = tests/fuzz/fuzz-json.c tests/fuzz/fuzz-util.h
tests_fuzz_libfuzzer_json_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS) $(FUZZ_SERVER_CFLAGS)
tests_fuzz_libfuzzer_json_LDFLAGS = $(LIBFUZZER_LINK_FLAGS)
tests_fuzz_libfuzzer_json_LDADD = $(FUZZ_SERVER_LIBS)

tests_fuzz_libfuzzer_router_SOURCES = tests/fuzz/fuzz-router.c tests/fuzz/fuzz-util.h
tests_fuzz_libfuzzer_router_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS) $(FUZZ_SERVER_CFLAGS)
tests_fuzz_libfuzzer_router_LDFLAGS = $(LIBFUZZER_LINK_FLAGS)
tests_fuzz_libfuzzer_router_LDADD = $(FUZZ_SERVER_LIBS)

tests_fuzz_libfuzzer_upstream_SOURCES = tests/fuzz/fuzz-upstream.c tests/fuzz/fuzz-util.h
tests_fuzz_libfuzzer_upstream_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS) $(FUZZ_SERVER_CFLAGS)
tests_fuzz_libfuzzer_upstream_LDFLAGS = $(LIBFUZZER_LINK_FLAGS)
tests_fuzz_libfuzzer_upstream_LDADD = $(FUZZ_SERVER_LIBS)

tests_fuzz_libfuzzer_client_SOURCES = tests/fuzz/fuzz-client.c tests/fuzz/fuzz-util.h
tests_fuzz_libfuzzer_client_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS) $(JSONC_CFLAGS) $(CURL_CFLAGS)
tests_fuzz_libfuzzer_client_LDFLAGS = $(LIBFUZZER_LINK_FLAGS)
tests_fuzz_libfuzzer_client_LDADD = tests/fuzz/libfz-client.a $(FUZZ_PROTO_LIBS) $(CURL_LIBS)
endif
