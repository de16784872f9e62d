/* daemon/local.h: the handlers jobsd answers itself: /jobsd/v1/health,
 * /jobsd/v1/status and the host metadata SDKs ask for first. Owns nothing;
 * registers its handlers on the router with the manager as userdata. */
#pragma once

#include "daemon/manager.h"
#include "daemon/router.h"

void local_register(struct router *r, struct manager *m);
