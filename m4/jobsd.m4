# JOBSD_REQUIRE_PKG(VARIABLE-PREFIX, MODULES, DEBIAN-PACKAGE)
# Like PKG_CHECK_MODULES, but a missing library stops configure with a
# message that names the Debian package to install.
AC_DEFUN([JOBSD_REQUIRE_PKG], [
	PKG_CHECK_MODULES([$1], [$2], [],
		[AC_MSG_ERROR([$2 was not found by pkg-config. Install it with: apt-get install $3])])
])

# JOBSD_CC_FLAG(FLAG, ACTION-IF-SUPPORTED)
# Runs ACTION when the C compiler accepts FLAG without a warning.
AC_DEFUN([JOBSD_CC_FLAG], [
	AC_MSG_CHECKING([whether $CC accepts $1])
	jobsd_save_CFLAGS="$CFLAGS"
	CFLAGS="$CFLAGS -Werror $1"
	AC_COMPILE_IFELSE([AC_LANG_SOURCE([[int main(void) { return 0; }]])],
		[AC_MSG_RESULT([yes]); $2], [AC_MSG_RESULT([no])])
	CFLAGS="$jobsd_save_CFLAGS"
])
