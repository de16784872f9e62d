/* daemon/backoff.c: backoff arithmetic and Retry-After. HTTP dates are read
 * by curl_getdate(), which knows the three formats of RFC 9110 §5.6.7. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "daemon/backoff.h"
#include "proto/macro.h"
#include "proto/strutil.h"

uint64_t backoff_delay_usec(uint64_t base_usec, uint64_t cap_usec, unsigned attempt,
                            uint64_t random)
{
    if (attempt == 0)
        attempt = 1;
    uint64_t ceiling = base_usec;
    for (unsigned i = 1; i < attempt && ceiling < cap_usec; i++)
        ceiling = ceiling > UINT64_MAX / 2 ? UINT64_MAX : ceiling * 2;
    ceiling = MIN(ceiling, cap_usec);
    if (ceiling == 0)
        return 0;
    if (ceiling == UINT64_MAX)
        return random;
    return random % (ceiling + 1);
}

int retry_after_parse(const char *value, time_t now, unsigned *ret_seconds)
{
    if (!value)
        return -EINVAL;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(value);
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    if (n == 0 || n > 64)
        return -EINVAL;
    char copy[65];
    memcpy(copy, value, n);
    copy[n] = '\0';

    if (isdigit((unsigned char)copy[0])) {
        uint64_t s;
        int r = parse_uint64(copy, &s);
        if (r == -ERANGE) {
            *ret_seconds = RETRY_AFTER_MAX_S;
            return 0;
        }
        if (r < 0)
            return r;
        *ret_seconds = (unsigned)MIN(s, (uint64_t)RETRY_AFTER_MAX_S);
        return 0;
    }

    /* An HTTP date starts with a day name; curl_getdate() is lenient about
     * the rest, so ask for the letters and the "GMT" the RFC requires. */
    if (!isalpha((unsigned char)copy[0]) || !strstr(copy, "GMT"))
        return -EINVAL;
    time_t t = curl_getdate(copy, NULL);
    if (t == (time_t)-1)
        return -EINVAL;
    if (t <= now) {
        *ret_seconds = 0;
        return 0;
    }
    uint64_t d = (uint64_t)(t - now);
    *ret_seconds = (unsigned)MIN(d, (uint64_t)RETRY_AFTER_MAX_S);
    return 0;
}

void backoff_seed(struct backoff_rng *r)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s))
        s = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)r;
    r->s = s ? s : UINT64_C(0x9E3779B97F4A7C15);
}

uint64_t backoff_random(struct backoff_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}
