/* daemon/metrics.h: GET /metrics in the Prometheus text format (0.0.4): the
 * counters and gauges of the router, proxy, upstream client, server and
 * archive, read when scraped. Owns nothing; registers its handler with the
 * manager as userdata. */
#pragma once

#include "daemon/manager.h"
#include "daemon/router.h"

void metrics_register(struct router *r, struct manager *m);
