/* The poller's next sweep: interval_min right after a start and near a
 * run's typical duration, a tenth of a run's age up to interval_max
 * otherwise, idle_interval with nothing active; and poller_parse_jobs. */
#include <stdlib.h>
#include <time.h>

#include "daemon/poller-private.h"
#include "tests/tap.h"

#define SEC USEC_PER_SEC

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct run *active(struct poller *p, int64_t id, int64_t age_ms, int64_t expected_ms)
{
    struct run *r = poller_find_or_add(p, id);
    r->active = true;
    r->start_time = wall_ms() - age_ms;
    r->expected_ms = expected_ms;
    r->first_seen_usec = poller_now_usec();
    p->n_active++;
    return r;
}

static void forget(struct poller *p, struct run *r)
{
    r->active = false;
    p->n_active--;
    poller_release(p, r);
}

int main(void)
{
    sd_event *e = NULL;
    if (sd_event_default(&e) < 0)
        tap_skip_all("no event loop");
    struct poller_settings s = {
        .interval_min_usec = 2 * SEC,
        .interval_max_usec = 60 * SEC,
        .idle_interval_usec = 30 * SEC,
        .rate = 10,
    };
    struct poller *p = NULL;
    is_int(poller_new(e, &s, NULL, NULL, NULL, NULL, &p), 0, "a poller without a workspace");

    is_int((int64_t)poller_next_delay(p), (int64_t)(30 * SEC), "nothing active: idle_interval");
    struct run *young = active(p, 1, 10 * 1000, -2);
    is_int((int64_t)poller_next_delay(p), (int64_t)(2 * SEC), "a run just started: interval_min");
    forget(p, young);
    struct run *mid = active(p, 2, 200 * 1000, -2);
    is_int((int64_t)(poller_next_delay(p) / SEC), 20, "a run 200 s old: a tenth of its age");
    struct run *old = active(p, 3, 3600 * 1000, -2);
    is_int((int64_t)(poller_next_delay(p) / SEC), 20, "the quickest run sets the pace");
    forget(p, mid);
    is_int((int64_t)poller_next_delay(p), (int64_t)(60 * SEC), "an old run: interval_max");
    old->expected_ms = 3600 * 1000 + 5000;
    is_int((int64_t)poller_next_delay(p), (int64_t)(2 * SEC),
           "an old run about to reach its typical duration: interval_min");
    old->expected_ms = 600 * 1000;
    is_int((int64_t)poller_next_delay(p), (int64_t)(60 * SEC), "long past it: interval_max");
    forget(p, old);

    struct poller_settings j = { 0 };
    is_int(poller_parse_jobs("1, 2,3", &j), 0, "a list of job ids");
    is_int(j.n_jobs, 3, "... three");
    is_int(j.jobs[2], 3, "... in order");
    is_int(poller_parse_jobs("1,x", &j), -EINVAL, "a bad id");
    is_int(poller_parse_jobs("0", &j), -EINVAL, "id 0");
    is_int(poller_parse_jobs("", &j), 0, "empty");
    is_int(j.n_jobs, 0, "... none");

    poller_free(p);
    sd_event_unref(e);
    return tap_done();
}
