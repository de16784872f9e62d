/* daemon/history.h: jobsd's history API over the archive, answered without
 * the workspace: GET /jobsd/v1/runs (filters and keyset paging),
 * /jobsd/v1/runs/{id} (a run in the upstream shape) and
 * /jobsd/v1/runs/{id}/output (its task outputs). Owns nothing; registers
 * its handlers with the store as userdata. */
#pragma once

#include "daemon/router.h"
#include "db/store.h"

void history_register(struct router *r, struct store *s);
