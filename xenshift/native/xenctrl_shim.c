/* Wrappers over libxenctrl for what its headers give as macros or as
 * release-specific structures; see xenctrl_shim.h. */
#define __XEN_TOOLS__ 1
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xenguest.h>
#include <xenstore.h>

#include "xenctrl_shim.h"

/* One xenstore write through the daemon's socket: what xenstore-write
 * does, without a process started inside a suspend's downtime. */
int xs_xenstore_write(const char *path, const char *value)
{
    struct xs_handle *xsh = xs_open(0);
    bool ok;

    if (!xsh)
        return -1;
    ok = xs_write(xsh, XBT_NULL, path, value, (unsigned int)strlen(value));
    xs_close(xsh);
    return ok ? 0 : -1;
}

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
        out[i].shutdown_reason = info[i].shutdown_reason;
        out[i].dying = info[i].dying;
        out[i].nr_pages = info[i].nr_pages;
        out[i].max_memkb = info[i].max_memkb;
        out[i].max_vcpu_id = info[i].max_vcpu_id;
        out[i].shared_info_frame = info[i].shared_info_frame;
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

/* ---------------------------------------------------------- PV guests */

/* xc_map_m2p maps whole 2 MiB chunks of the table; unmapping takes the
 * same length. */
#define M2P_CHUNK ((size_t)1 << 21)

static size_t m2p_bytes(uint64_t max_mfn)
{
    return ((max_mfn * sizeof(xen_pfn_t)) + M2P_CHUNK - 1) & ~(M2P_CHUNK - 1);
}

uint64_t *xs_xen_map_m2p(xc_interface *xch, uint64_t *entries)
{
    unsigned long max_mfn;
    xen_pfn_t *m2p;

    _Static_assert(sizeof(xen_pfn_t) == sizeof(uint64_t), "64-bit toolstack");
    if (xc_maximum_ram_page(xch, &max_mfn) < 0)
        return NULL;
    m2p = xc_map_m2p(xch, max_mfn, PROT_READ, NULL);
    if (!m2p)
        return NULL;
    *entries = (uint64_t)max_mfn + 1;
    return (uint64_t *)m2p;
}

int xs_xen_unmap_m2p(uint64_t *m2p, uint64_t entries)
{
    return munmap(m2p, m2p_bytes(entries - 1));
}

int xs_xen_vcpu_online(xc_interface *xch, uint32_t domid, uint32_t vcpu)
{
    xc_vcpuinfo_t info;

    if (xc_vcpu_getinfo(xch, domid, vcpu, &info) < 0)
        return -1;
    return info.online ? 1 : 0;
}

_Static_assert(sizeof(vcpu_guest_context_x86_64_t) == XS_PV_CONTEXT_SIZE, "ctx");
_Static_assert(offsetof(vcpu_guest_context_x86_64_t, user_regs.rdx) ==
               XS_PV_CONTEXT_RDX, "rdx");
_Static_assert(offsetof(vcpu_guest_context_x86_64_t, gdt_frames) ==
               XS_PV_CONTEXT_GDT_FRAMES, "gdt_frames");
_Static_assert(offsetof(vcpu_guest_context_x86_64_t, gdt_ents) ==
               XS_PV_CONTEXT_GDT_ENTS, "gdt_ents");
_Static_assert(offsetof(vcpu_guest_context_x86_64_t, ctrlreg) ==
               XS_PV_CONTEXT_CTRLREG, "ctrlreg");
_Static_assert(FIRST_RESERVED_GDT_ENTRY == XS_PV_GDT_ENTRIES_MAX, "gdt");
_Static_assert(sizeof(struct xen_domctl_ext_vcpucontext) <= XS_PV_EXT_CONTEXT_MAX,
               "ext context");
_Static_assert(sizeof(xen_domctl_vcpu_msr_t) == XS_PV_MSR_SIZE, "msr");

int xs_xen_vcpu_context(xc_interface *xch, uint32_t domid, uint32_t vcpu,
                        uint8_t *buf)
{
    vcpu_guest_context_any_t ctx;

    if (xc_vcpu_getcontext(xch, domid, vcpu, &ctx) < 0)
        return -1;
    memcpy(buf, &ctx.x64, sizeof(ctx.x64));
    return 0;
}

int xs_xen_vcpu_extended(xc_interface *xch, uint32_t domid, uint32_t vcpu,
                         uint8_t *buf, uint32_t *size)
{
    struct xen_domctl domctl = { .cmd = XEN_DOMCTL_get_ext_vcpucontext,
                                 .domain = domid };

    domctl.u.ext_vcpucontext.vcpu = vcpu;
    if (xc_domctl(xch, &domctl) < 0)
        return -1;
    *size = domctl.u.ext_vcpucontext.size;
    if (*size > sizeof(domctl.u.ext_vcpucontext))
        return -1;
    memcpy(buf, &domctl.u.ext_vcpucontext, *size);
    return 0;
}

int xs_xen_vcpu_xsave(xc_interface *xch, uint32_t domid, uint32_t vcpu,
                      uint8_t *buf, uint64_t *size)
{
    struct xen_domctl domctl = { .cmd = XEN_DOMCTL_getvcpuextstate,
                                 .domain = domid };
    DECLARE_HYPERCALL_BUFFER(void, hbuf);
    int rc = -1;

    domctl.u.vcpuextstate.vcpu = vcpu;
    if (xc_domctl(xch, &domctl) < 0)
        return -1;
    if (!buf) {
        /* No feature mask: the vCPU has no xsave state to save. */
        *size = domctl.u.vcpuextstate.xfeature_mask ? domctl.u.vcpuextstate.size : 0;
        return 0;
    }
    if (domctl.u.vcpuextstate.size > *size)
        return -1;
    hbuf = xc_hypercall_buffer_alloc(xch, hbuf, *size);
    if (!hbuf)
        return -1;
    domctl.u.vcpuextstate.size = *size;
    set_xen_guest_handle(domctl.u.vcpuextstate.buffer, hbuf);
    if (xc_domctl(xch, &domctl) == 0 && domctl.u.vcpuextstate.size <= *size) {
        *size = domctl.u.vcpuextstate.size;
        memcpy(buf, hbuf, *size);
        rc = 0;
    }
    xc_hypercall_buffer_free(xch, hbuf);
    return rc;
}

int xs_xen_vcpu_msrs(xc_interface *xch, uint32_t domid, uint32_t vcpu,
                     uint8_t *buf, uint64_t *size)
{
    struct xen_domctl domctl = { .cmd = XEN_DOMCTL_get_vcpu_msrs,
                                 .domain = domid };
    DECLARE_HYPERCALL_BUFFER(void, hbuf);
    uint32_t count = (uint32_t)(*size / XS_PV_MSR_SIZE);
    int rc = -1;

    domctl.u.vcpu_msrs.vcpu = vcpu;
    if (xc_domctl(xch, &domctl) < 0)
        return -1;
    if (!buf) {
        *size = (uint64_t)domctl.u.vcpu_msrs.msr_count * XS_PV_MSR_SIZE;
        return 0;
    }
    if (!count)
        return -1;
    hbuf = xc_hypercall_buffer_alloc(xch, hbuf, (size_t)count * XS_PV_MSR_SIZE);
    if (!hbuf)
        return -1;
    domctl.u.vcpu_msrs.msr_count = count;
    set_xen_guest_handle(domctl.u.vcpu_msrs.msrs, hbuf);
    if (xc_domctl(xch, &domctl) == 0 && domctl.u.vcpu_msrs.msr_count <= count) {
        *size = (uint64_t)domctl.u.vcpu_msrs.msr_count * XS_PV_MSR_SIZE;
        memcpy(buf, hbuf, *size);
        rc = 0;
    }
    xc_hypercall_buffer_free(xch, hbuf);
    return rc;
}
