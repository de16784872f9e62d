# man/: the manual pages.
dist_man5_MANS = man/jobsd.conf.5
