/* The simulated domain's vCPU: writes pages at a set rate and pattern and
 * keeps the log-dirty bitmap the way the hypervisor's shadow code does. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep under -std=c99 */
#define _DEFAULT_SOURCE         /* syscall() for the futex */
#include "simdomain.h"
#include "pagecore.h"

#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void xs_sim_init(struct xs_sim_ctl *ctl, uint64_t npages)
{
    memset(ctl, 0, sizeof(*ctl));
    ctl->magic = XS_SIM_MAGIC;
    ctl->npages = npages;
    ctl->state = XS_SIM_PAUSED;
    ctl->acked_state = XS_SIM_PAUSED;
    ctl->throttle_permille = 1000;
}

/* Wake the vCPU thread if it sleeps on the doorbell (shared futex: the
 * control block is mapped by several processes). */
static void ring(struct xs_sim_ctl *ctl)
{
    __atomic_add_fetch(&ctl->doorbell, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &ctl->doorbell, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Post a new state; returns the generation to wait for with xs_sim_acked. */
uint64_t xs_sim_request(struct xs_sim_ctl *ctl, uint32_t state,
                        uint32_t logdirty)
{
    __atomic_store_n(&ctl->state, state, __ATOMIC_RELAXED);
    __atomic_store_n(&ctl->logdirty, logdirty, __ATOMIC_RELAXED);
    uint64_t gen = __atomic_add_fetch(&ctl->request_gen, 1, __ATOMIC_ACQ_REL);
    ring(ctl);
    return gen;
}

/* Make xs_sim_run return (within one batch of writes). */
void xs_sim_stop(struct xs_sim_ctl *ctl)
{
    __atomic_store_n(&ctl->stop, 1, __ATOMIC_RELEASE);
    ring(ctl);
}

int xs_sim_acked(const struct xs_sim_ctl *ctl, uint64_t gen)
{
    return __atomic_load_n(&ctl->acked_gen, __ATOMIC_ACQUIRE) >= gen;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void nap(long usec)
{
    struct timespec ts = { 0, usec * 1000L };
    nanosleep(&ts, NULL);
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static uint64_t pick_pfn(const struct xs_sim_ctl *ctl, uint64_t *rng,
                         uint64_t *cursor)
{
    uint64_t npages = ctl->npages;
    switch (ctl->pattern) {
    case XS_PATTERN_HOT: {
        uint64_t hot = npages * ctl->hot_permille / 1000;
        return xorshift(rng) % (hot ? hot : 1);
    }
    case XS_PATTERN_SEQUENTIAL:
        return (*cursor)++ % npages;
    default:
        return xorshift(rng) % npages;
    }
}

/* Run the vCPU until ctl->stop is set.  Every millisecond tick it writes
 * the pages its rate allows, page first and dirty bit after, so a page
 * whose bit the toolstack has just cleared is either copied with its new
 * contents or marked again.  Acknowledging a request happens only between
 * writes, so once acked_gen covers a pause no write is in flight. */
int xs_sim_run(struct xs_sim_ctl *ctl, uint8_t *mem, uint64_t mem_len,
               uint64_t *bitmap, uint64_t bitmap_len)
{
    uint64_t npages = ctl->npages;
    uint64_t rng = ctl->seed | 1, cursor = 0;
    double start = now(), budget = 0;

    if (mem_len / XS_PAGE_SIZE < npages || bitmap_len * 64 < npages ||
        npages == 0)
        return -1;

    while (!__atomic_load_n(&ctl->stop, __ATOMIC_ACQUIRE)) {
        uint32_t bell = __atomic_load_n(&ctl->doorbell, __ATOMIC_ACQUIRE);
        uint64_t gen = __atomic_load_n(&ctl->request_gen, __ATOMIC_ACQUIRE);
        uint32_t state = __atomic_load_n(&ctl->state, __ATOMIC_RELAXED);
        uint32_t logdirty = __atomic_load_n(&ctl->logdirty, __ATOMIC_RELAXED);

        __atomic_store_n(&ctl->acked_state, state, __ATOMIC_RELAXED);
        __atomic_store_n(&ctl->acked_gen, gen, __ATOMIC_RELEASE);
        __atomic_add_fetch(&ctl->heartbeat, 1, __ATOMIC_RELAXED);

        uint64_t rate = __atomic_load_n(&ctl->rate, __ATOMIC_RELAXED);
        uint32_t throttle = __atomic_load_n(&ctl->throttle_permille,
                                            __ATOMIC_RELAXED);
        if (state != XS_SIM_RUNNING || rate == 0) {
            /* Nothing to write: sleep until the next request (a bell rung
             * since `bell` was read returns at once), not in a poll loop
             * that costs an idle domain CPU time. */
            struct timespec limit = { 1, 0 };
            syscall(SYS_futex, &ctl->doorbell, FUTEX_WAIT, bell, &limit, NULL, 0);
            start = now();
            budget = 0;
            continue;
        }
        double t = now();
        budget += (t - start) * (double)rate * throttle / 1000.0;
        start = t;
        /* Never carry more than 50 ms of backlog: a vCPU that was held up
         * does not catch up in one burst. */
        if (budget > (double)rate * 0.05 + XS_PAGE_SIZE)
            budget = (double)rate * 0.05 + XS_PAGE_SIZE;
        /* Write at most 64 pages between looks at the request word, so a
         * pause is acknowledged within tens of microseconds. */
        for (int i = 0; i < 64 && budget >= XS_PAGE_SIZE; i++) {
            uint64_t pfn = pick_pfn(ctl, &rng, &cursor);
            uint64_t seq = __atomic_add_fetch(&ctl->seq, 1, __ATOMIC_RELAXED);
            xs_fill_page(mem + (pfn << XS_PAGE_SHIFT), pfn, seq);
            if (logdirty)
                __atomic_fetch_or(&bitmap[pfn >> 6],
                                  UINT64_C(1) << (pfn & 63), __ATOMIC_RELEASE);
            budget -= XS_PAGE_SIZE;
        }
        if (budget < XS_PAGE_SIZE)
            nap(500);
    }
    return 0;
}
