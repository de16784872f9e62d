# systemd/: the units, sysusers.d and tmpfiles.d snippets. jobsd.service is
# made from jobsd.service.in with the installed path of jobsd.
SYSTEMD_UNITS = systemd/jobsd.service systemd/jobsd.socket systemd/jobsd-tcp.socket

systemd/jobsd.service: systemd/jobsd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	$(SED) -e 's|@sbindir[@]|$(sbindir)|g' $(srcdir)/systemd/jobsd.service.in >$@.tmp && \
	mv $@.tmp $@

all-local: systemd/jobsd.service
CLEANFILES += systemd/jobsd.service systemd/jobsd.service.tmp
EXTRA_DIST += systemd/jobsd.service.in systemd/jobsd.socket systemd/jobsd-tcp.socket \
	systemd/jobsd.sysusers systemd/jobsd.tmpfiles

if INSTALL_UNITS
systemdunitdir = $(systemdsystemunitdir)
systemdunit_DATA = systemd/jobsd.service
dist_systemdunit_DATA = systemd/jobsd.socket systemd/jobsd-tcp.socket
endif

# Installed as jobsd.conf, the name systemd-sysusers and systemd-tmpfiles
# expect (<package>.conf).
install-data-local:
if INSTALL_SYSUSERS
	$(MKDIR_P) '$(DESTDIR)$(sysusersdir)'
	$(INSTALL_DATA) $(srcdir)/systemd/jobsd.sysusers '$(DESTDIR)$(sysusersdir)/jobsd.conf'
endif
if INSTALL_TMPFILES
	$(MKDIR_P) '$(DESTDIR)$(tmpfilesdir)'
	$(INSTALL_DATA) $(srcdir)/systemd/jobsd.tmpfiles '$(DESTDIR)$(tmpfilesdir)/jobsd.conf'
endif

uninstall-local:
if INSTALL_SYSUSERS
	rm -f '$(DESTDIR)$(sysusersdir)/jobsd.conf'
endif
if INSTALL_TMPFILES
	rm -f '$(DESTDIR)$(tmpfilesdir)/jobsd.conf'
endif

# make distcheck installs as a user, under its own prefix.
AM_DISTCHECK_CONFIGURE_FLAGS = \
	--with-systemdsystemunitdir=$$dc_install_base/lib/systemd/system \
	--with-sysusersdir=$$dc_install_base/lib/sysusers.d \
	--with-tmpfilesdir=$$dc_install_base/lib/tmpfiles.d
