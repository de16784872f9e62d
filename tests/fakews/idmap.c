/* tests/fakews/idmap.c: linear probing with backward-shift deletion. */
#include <errno.h>
#include <stdlib.h>

#include "tests/fakews/idmap.h"

struct idmap_slot {
    int64_t key; /* 0: empty */
    void *value;
};

struct idmap {
    struct idmap_slot *slots;
    size_t cap; /* a power of two */
    size_t n;
};

static size_t slot_of(int64_t key, size_t cap)
{
    uint64_t h = (uint64_t)key;
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    return (size_t)(h & (cap - 1));
}

int idmap_new(struct idmap **ret)
{
    struct idmap *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->cap = 1024;
    m->slots = calloc(m->cap, sizeof(*m->slots));
    if (!m->slots) {
        free(m);
        return -ENOMEM;
    }
    *ret = m;
    return 0;
}

struct idmap *idmap_free(struct idmap *m)
{
    if (m) {
        free(m->slots);
        free(m);
    }
    return NULL;
}

static int grow(struct idmap *m)
{
    size_t cap = m->cap * 2;
    struct idmap_slot *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t j = slot_of(m->slots[i].key, cap);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int idmap_put(struct idmap *m, int64_t key, void *value)
{
    if (key == 0)
        return -EINVAL;
    if ((m->n + 1) * 2 > m->cap) {
        int r = grow(m);
        if (r < 0)
            return r;
    }
    size_t i = slot_of(key, m->cap);
    while (m->slots[i].key && m->slots[i].key != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->slots[i].key)
        m->n++;
    m->slots[i].key = key;
    m->slots[i].value = value;
    return 0;
}

void *idmap_get(const struct idmap *m, int64_t key)
{
    if (key == 0)
        return NULL;
    size_t i = slot_of(key, m->cap);
    while (m->slots[i].key) {
        if (m->slots[i].key == key)
            return m->slots[i].value;
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

void *idmap_remove(struct idmap *m, int64_t key)
{
    if (key == 0)
        return NULL;
    size_t mask = m->cap - 1, i = slot_of(key, m->cap);
    while (m->slots[i].key && m->slots[i].key != key)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        return NULL;
    void *value = m->slots[i].value;
    /* Backward-shift: pull later members of the probe chain into the hole. */
    size_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->slots[j].key)
            break;
        size_t home = slot_of(m->slots[j].key, m->cap);
        /* Move j into the hole unless its home lies cyclically in (hole, j]. */
        int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].key = 0;
    m->slots[hole].value = NULL;
    m->n--;
    return value;
}

size_t idmap_size(const struct idmap *m)
{
    return m->n;
}
