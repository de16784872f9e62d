/* tests/fakews/test-idmap.c: the id hash map against a plain array. */
#include <stdint.h>
#include <stdlib.h>

#include "tests/fakews/idmap.h"
#include "tests/tap.h"

#define N 20000

int main(void)
{
    struct idmap *m = NULL;
    static int64_t keys[N];
    static bool present[N];
    is_int(idmap_new(&m), 0, "idmap_new");
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        keys[i] = (int64_t)(x >> 1) | 1;
    }
    bool good = true;
    for (int i = 0; i < N; i++) {
        good = good && idmap_put(m, keys[i], &keys[i]) == 0;
        present[i] = true;
    }
    ok(good, "20000 inserts");
    is_int((int64_t)idmap_size(m), N, "size");
    /* remove every third, then check all */
    for (int i = 0; i < N; i += 3) {
        good = good && idmap_remove(m, keys[i]) == &keys[i];
        present[i] = false;
    }
    ok(good, "removals return the value");
    bool found = true;
    for (int i = 0; i < N; i++)
        found = found && (idmap_get(m, keys[i]) == (present[i] ? &keys[i] : NULL));
    ok(found, "every lookup right after removals (backward shift keeps probe chains)");
    ok(idmap_get(m, 0) == NULL, "key 0 is never present");
    is_int(idmap_put(m, 0, m), -22, "key 0 is refused");
    ok(idmap_remove(m, 12345) == NULL, "removing an absent key");
    idmap_put(m, keys[1], &keys[2]);
    ok(idmap_get(m, keys[1]) == &keys[2], "put replaces");
    idmap_free(m);
    return tap_done();
}
