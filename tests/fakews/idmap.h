/* tests/fakews/idmap.h: an open-addressing hash map from int64 ids to
 * pointers. Owns its slot array only; the values belong to the caller. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct idmap;

int idmap_new(struct idmap **ret);
struct idmap *idmap_free(struct idmap *m);
/* Inserts or replaces. Returns 0 or -ENOMEM. key must be non-zero. */
int idmap_put(struct idmap *m, int64_t key, void *value);
/* NULL when absent. */
void *idmap_get(const struct idmap *m, int64_t key);
/* Returns the removed value, NULL when absent. */
void *idmap_remove(struct idmap *m, int64_t key);
size_t idmap_size(const struct idmap *m);
