# proto/: the contract shared by daemon, client and fake workspace.
# Depends on json-c only.
noinst_LIBRARIES += proto/libproto.a
proto_libproto_a_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
proto_libproto_a_SOURCES = \
	proto/cleanup.h \
	proto/macro.h \
	proto/log.c proto/log.h \
	proto/strutil.c proto/strutil.h \
	proto/json.c proto/json.h \
	proto/apierror.c proto/apierror.h \
	proto/runstate.c proto/runstate.h \
	proto/endpoint.c proto/endpoint.h proto/endpoints.def \
	proto/localapi.h

PROTO_LIBS = proto/libproto.a $(JSONC_LIBS)
