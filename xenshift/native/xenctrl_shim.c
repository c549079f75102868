/* Wrappers over libxenctrl for what its headers give as macros or as
 * release-specific structures; see xenctrl_shim.h. */
#define __XEN_TOOLS__ 1
#include <string.h>
#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xenguest.h>

#include "xenctrl_shim.h"

int xs_xen_version(xc_interface *xch, uint32_t *major, uint32_t *minor)
{
    int v = xc_version(xch, XENVER_version, NULL);
    if (v < 0)
        return -1;
    *major = (uint32_t)v >> 16;
    *minor = (uint32_t)v & 0xffff;
    return 0;
}

/* Up to max domains from `first` on, flattened to xs_xen_dominfo. */
int xs_xen_dominfo(xc_interface *xch, uint32_t first,
                   struct xs_xen_dominfo *out, unsigned int max)
{
    xc_dominfo_t info[64];
    int n, i;

    if (max > 64)
        max = 64;
    n = xc_domain_getinfo(xch, first, max, info);
    for (i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        out[i].domid = info[i].domid;
        out[i].hvm = info[i].hvm;
        out[i].paused = info[i].paused;
        out[i].shutdown = info[i].shutdown;
        out[i].dying = info[i].dying;
        out[i].nr_pages = info[i].nr_pages;
        out[i].max_memkb = info[i].max_memkb;
        out[i].max_vcpu_id = info[i].max_vcpu_id;
        memcpy(out[i].handle, info[i].handle, 16);
    }
    return n;
}

_Static_assert(sizeof(xen_cpuid_leaf_t) == XS_CPUID_LEAF_SIZE, "cpuid leaf");
_Static_assert(sizeof(xen_msr_entry_t) == XS_MSR_ENTRY_SIZE, "msr entry");

/* The domain's CPUID and MSR policy, serialised into arrays whose
 * capacities (in entries) *nr_leaves and *nr_msrs give on entry and whose
 * counts they hold on return.  The policy object is opaque to callers, so
 * getting and serialising it happen together here. */
int xs_xen_cpu_policy(xc_interface *xch, uint32_t domid,
                      uint8_t *leaves, uint32_t *nr_leaves,
                      uint8_t *msrs, uint32_t *nr_msrs)
{
    xc_cpu_policy_t *policy = xc_cpu_policy_init();
    int rc = -1;

    if (!policy)
        return -1;
    if (xc_cpu_policy_get_domain(xch, domid, policy) == 0 &&
        xc_cpu_policy_serialise(xch, policy, (xen_cpuid_leaf_t *)leaves,
                                nr_leaves, (xen_msr_entry_t *)msrs,
                                nr_msrs) == 0)
        rc = 0;
    xc_cpu_policy_destroy(policy);
    return rc;
}

/* CLEAN or PEEK the log-dirty bitmap into the caller's buffer.  The
 * hypercall buffer must be allocated through libxenctrl's macros, which
 * cffi cannot call, so the copy happens here. */
long long xs_xen_logdirty(xc_interface *xch, uint32_t domid, unsigned int op,
                          uint64_t *bitmap, unsigned long pages,
                          unsigned int mode, uint32_t *dirty_count)
{
    size_t bytes = ((pages + 63) / 64) * 8;
    xc_shadow_op_stats_t stats = { 0 };
    long long rc;
    DECLARE_HYPERCALL_BUFFER(unsigned long, hbuf);

    hbuf = xc_hypercall_buffer_alloc_pages(
        xch, hbuf, (int)((bytes + XC_PAGE_SIZE - 1) / XC_PAGE_SIZE));
    if (!hbuf)
        return -1;
    rc = xc_logdirty_control(xch, domid, op, HYPERCALL_BUFFER(hbuf), pages,
                             mode, &stats);
    if (rc >= 0) {
        memcpy(bitmap, hbuf, bytes);
        *dirty_count = stats.dirty_count;
    }
    xc_hypercall_buffer_free_pages(
        xch, hbuf, (int)((bytes + XC_PAGE_SIZE - 1) / XC_PAGE_SIZE));
    return rc;
}
