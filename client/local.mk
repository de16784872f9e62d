# client/: jobsctl. Its modules form a convenience library so that unit
# tests link them alone; jobsctl.c is the program.
noinst_LIBRARIES += client/libjobsctl.a
client_libjobsctl_a_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(CURL_CFLAGS)
client_libjobsctl_a_SOURCES = \
	client/format.c client/format.h \
	client/table.c client/table.h \
	client/sse.c client/sse.h \
	client/runview.c client/runview.h \
	client/views.c client/views.h \
	client/transport.c client/transport.h \
	client/wait.c client/wait.h

JOBSCTL_LIBS = client/libjobsctl.a $(PROTO_LIBS) $(CURL_LIBS)

bin_PROGRAMS += client/jobsctl
client_jobsctl_SOURCES = client/jobsctl.c client/cli.h client/cli-output.c client/cli-request.c \
	client/cli-commands.c
client_jobsctl_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(CURL_CFLAGS)
client_jobsctl_LDADD = $(JOBSCTL_LIBS)

# bash completion (configure: --with-bashcompletiondir, else
# bash-completion's completionsdir, else $(datadir)/bash-completion/completions).
bashcompletiondir = $(BASH_COMPLETION_DIR)
dist_bashcompletion_DATA = client/completion/jobsctl

# Tests: pure modules alone, and jobsctl against jobsd + fakews.
check_PROGRAMS += tests/unit/test-client-format tests/unit/test-client-table \
	tests/unit/test-client-sse tests/unit/test-client-runview
CLIENT_UNIT_LDADD = tests/libtap.a client/libjobsctl.a $(PROTO_LIBS) $(CURL_LIBS)
tests_unit_test_client_format_SOURCES = tests/unit/test-client-format.c
tests_unit_test_client_format_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_client_format_LDADD = $(CLIENT_UNIT_LDADD)
tests_unit_test_client_table_SOURCES = tests/unit/test-client-table.c
tests_unit_test_client_table_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_client_table_LDADD = $(CLIENT_UNIT_LDADD)
tests_unit_test_client_sse_SOURCES = tests/unit/test-client-sse.c
tests_unit_test_client_sse_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_client_sse_LDADD = $(CLIENT_UNIT_LDADD)
tests_unit_test_client_runview_SOURCES = tests/unit/test-client-runview.c
tests_unit_test_client_runview_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS)
tests_unit_test_client_runview_LDADD = $(CLIENT_UNIT_LDADD)
TESTS += tests/unit/test-client-format tests/unit/test-client-table \
	tests/unit/test-client-sse tests/unit/test-client-runview

JOBSCTL_TESTS = tests/integration/jobsctl-commands.sh tests/integration/jobsctl-wait.sh \
	tests/integration/jobsctl-errors.sh tests/integration/jobsctl-events.sh \
	tests/integration/jobsctl-poller.sh
TESTS += $(JOBSCTL_TESTS)
EXTRA_DIST += $(JOBSCTL_TESTS) tests/integration/jobsctl-lib.sh tests/integration/jobsctl-stub.py \
	$(JOBSCTL_GOLDEN)
JOBSCTL_GOLDEN = \
	tests/integration/golden/help.txt \
	tests/integration/golden/export.csv \
	tests/integration/golden/history-get.txt \
	tests/integration/golden/history-output.txt \
	tests/integration/golden/history-success.csv \
	tests/integration/golden/history.txt \
	tests/integration/golden/jobs-get.json \
	tests/integration/golden/jobs-get.txt \
	tests/integration/golden/jobs-list-60.txt \
	tests/integration/golden/jobs-list.csv \
	tests/integration/golden/jobs-list.txt \
	tests/integration/golden/permissions-get.txt \
	tests/integration/golden/permissions-levels.txt \
	tests/integration/golden/permissions-update.txt \
	tests/integration/golden/runs-get.json \
	tests/integration/golden/runs-get.txt \
	tests/integration/golden/runs-list-active.txt \
	tests/integration/golden/runs-list.csv \
	tests/integration/golden/runs-list.txt \
	tests/integration/golden/runs-output.txt
