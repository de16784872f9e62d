# man/: the manual pages.
dist_man1_MANS = man/jobsctl.1
dist_man5_MANS = man/jobsd.conf.5
dist_man8_MANS = man/jobsd.8
