# db/: the SQLite run archive. Depends on proto/, sqlite3 and zstd; knows
# nothing of HTTP or the event loop.
noinst_LIBRARIES += db/libdb.a
db_libdb_a_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(SQLITE_CFLAGS) $(ZSTD_CFLAGS)
db_libdb_a_SOURCES = \
	db/codec.c db/codec.h \
	db/merge.c db/merge.h \
	db/store.c db/store.h db/store-internal.h \
	db/state.c \
	db/runs.c db/runs.h \
	db/export.c db/export.h
nodist_db_libdb_a_SOURCES = db/schema-sql.h

DB_LIBS = db/libdb.a $(PROTO_LIBS) $(SQLITE_LIBS) $(ZSTD_LIBS)

# schema.sql becomes a C string literal, included by db/store.c.
db/schema-sql.h: $(srcdir)/db/schema.sql
	$(AM_V_GEN)$(MKDIR_P) db && \
	$(SED) -e '/^[[:space:]]*--/d' -e '/^[[:space:]]*$$/d' -e 's/\\/\\\\/g' -e 's/"/\\"/g' \
		-e 's/^/"/' -e 's/$$/\\n"/' $(srcdir)/db/schema.sql > $@.tmp && mv $@.tmp $@
BUILT_SOURCES += db/schema-sql.h
CLEANFILES += db/schema-sql.h
EXTRA_DIST += db/schema.sql

DB_TEST_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(SQLITE_CFLAGS) $(ZSTD_CFLAGS)
DB_TEST_LDADD = tests/libtap.a $(DB_LIBS)

check_PROGRAMS += \
	tests/unit/test-db-codec \
	tests/unit/test-db-merge \
	tests/unit/test-db-store \
	tests/unit/test-db-runs \
	tests/unit/test-db-export \
	tests/unit/test-db-crash \
	tests/bench/db-bench

tests_unit_test_db_codec_SOURCES = tests/unit/test-db-codec.c
tests_unit_test_db_codec_CFLAGS = $(DB_TEST_CFLAGS)
tests_unit_test_db_codec_LDADD = $(DB_TEST_LDADD)
tests_unit_test_db_merge_SOURCES = tests/unit/test-db-merge.c
tests_unit_test_db_merge_CFLAGS = $(DB_TEST_CFLAGS)
tests_unit_test_db_merge_LDADD = $(DB_TEST_LDADD)
tests_unit_test_db_store_SOURCES = tests/unit/test-db-store.c tests/unit/db-testutil.h
tests_unit_test_db_store_CFLAGS = $(DB_TEST_CFLAGS)
tests_unit_test_db_store_LDADD = $(DB_TEST_LDADD)
tests_unit_test_db_runs_SOURCES = tests/unit/test-db-runs.c tests/unit/db-testutil.h \
	tests/bench/rungen.c tests/bench/rungen.h
tests_unit_test_db_runs_CFLAGS = $(DB_TEST_CFLAGS)
tests_unit_test_db_runs_LDADD = $(DB_TEST_LDADD)
tests_unit_test_db_export_SOURCES = tests/unit/test-db-export.c tests/unit/db-testutil.h \
	tests/bench/rungen.c tests/bench/rungen.h
tests_unit_test_db_export_CFLAGS = $(DB_TEST_CFLAGS)
tests_unit_test_db_export_LDADD = $(DB_TEST_LDADD)
tests_unit_test_db_crash_SOURCES = tests/unit/test-db-crash.c tests/unit/db-testutil.h \
	tests/bench/rungen.c tests/bench/rungen.h
tests_unit_test_db_crash_CFLAGS = $(DB_TEST_CFLAGS)
tests_unit_test_db_crash_LDADD = $(DB_TEST_LDADD)
tests_bench_db_bench_SOURCES = tests/bench/db-bench.c tests/bench/rungen.c tests/bench/rungen.h
tests_bench_db_bench_CFLAGS = $(DB_TEST_CFLAGS)
tests_bench_db_bench_LDADD = $(DB_LIBS)

TESTS += \
	tests/unit/test-db-codec \
	tests/unit/test-db-merge \
	tests/unit/test-db-store \
	tests/unit/test-db-runs \
	tests/unit/test-db-export \
	tests/unit/test-db-crash \
	tests/bench/db-bench-smoke.sh

EXTRA_DIST += tests/bench/db-bench-smoke.sh tests/bench/db-bench.sh
