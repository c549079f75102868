/* The simulated domain's shared control block and its vCPU (dirtier) loop.
 *
 * The control block lives at the start of the domain's `control` file and
 * is mapped by the domain process and by every toolstack process that acts
 * on the domain, like a hypervisor's per-domain state.  The log-dirty bitmap
 * follows it at XS_SIM_BITMAP_OFFSET.
 */
#ifndef XS_SIMDOMAIN_H
#define XS_SIMDOMAIN_H

#include <stdint.h>

#define XS_SIM_MAGIC 0x324D495354485358 /* "XSHTSIM2": with mem_offset */
#define XS_SIM_BITMAP_OFFSET 4096

enum { XS_SIM_RUNNING = 1, XS_SIM_PAUSED = 2 };
enum { XS_PATTERN_UNIFORM = 0, XS_PATTERN_HOT = 1, XS_PATTERN_SEQUENTIAL = 2 };

struct xs_sim_ctl {
    uint64_t magic;
    uint64_t npages;
    /* Requests from the toolstack: state and logdirty are written first,
     * then request_gen is bumped with release order. */
    uint32_t state;
    uint32_t logdirty;
    uint64_t request_gen;
    /* The vCPU thread's answer: it has seen request_gen and stopped or
     * started writing accordingly. */
    uint64_t acked_gen;
    uint32_t acked_state;
    uint32_t stop;
    /* Dirtying workload. */
    uint64_t rate;            /* bytes per second at full speed */
    uint32_t pattern;
    uint32_t hot_permille;    /* size of the hot set, per mille of memory */
    uint32_t throttle_permille; /* 1000 = full speed (auto-converge) */
    uint32_t doorbell;        /* futex word: bumped with every request */
    uint64_t seed;
    /* Counters. */
    uint64_t seq;             /* pages written so far */
    uint64_t heartbeat;       /* bumped by the vCPU loop, even when paused */
    /* Where guest memory starts in the `memory` file: 0 for a file of its
     * own, the region's byte offset when the file is the host's memory
     * pool (page-aligned; set once, before the memory file is linked). */
    uint64_t mem_offset;
};

void xs_sim_init(struct xs_sim_ctl *ctl, uint64_t npages);
int xs_sim_run(struct xs_sim_ctl *ctl, uint8_t *mem, uint64_t mem_len,
               uint64_t *bitmap, uint64_t bitmap_len);
uint64_t xs_sim_request(struct xs_sim_ctl *ctl, uint32_t state,
                        uint32_t logdirty);
void xs_sim_stop(struct xs_sim_ctl *ctl);
int xs_sim_acked(const struct xs_sim_ctl *ctl, uint64_t gen);

#endif
