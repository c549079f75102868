/* The part of libxenctrl/libxenforeignmemory (Xen 4.17) the xen backend
 * uses, plus small wrappers for what the headers only offer as macros
 * (hypercall buffers) or as structures that change between releases
 * (xc_dominfo_t).  The Python side sees only these declarations, which is
 * also the boundary its unit tests fake. */
#ifndef XS_XENCTRL_SHIM_H
#define XS_XENCTRL_SHIM_H

#include <stddef.h>
#include <stdint.h>

/* The library's own declarations, for cffi's cdef; C code includes
 * xenctrl.h and xenforeignmemory.h first and skips them. */
#ifndef XENCTRL_H
typedef unsigned long xen_pfn_t;
typedef struct xc_interface_core xc_interface;
typedef struct xenforeignmemory_handle xenforeignmemory_handle;
typedef struct xentoollog_logger xentoollog_logger;

xc_interface *xc_interface_open(xentoollog_logger *logger,
                                xentoollog_logger *dombuild_logger,
                                unsigned open_flags);
int xc_interface_close(xc_interface *xch);
xenforeignmemory_handle *xenforeignmemory_open(xentoollog_logger *logger,
                                               unsigned open_flags);
int xenforeignmemory_close(xenforeignmemory_handle *fmem);
void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom,
                           int prot, size_t pages, const xen_pfn_t arr[],
                           int err[]);
int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr,
                           size_t pages);

int xc_domain_pause(xc_interface *xch, uint32_t domid);
int xc_domain_unpause(xc_interface *xch, uint32_t domid);
int xc_domain_shutdown(xc_interface *xch, uint32_t domid, int reason);
int xc_domain_resume(xc_interface *xch, uint32_t domid, int fast);
int xc_domain_destroy(xc_interface *xch, uint32_t domid);
int xc_domain_maximum_gpfn(xc_interface *xch, uint32_t domid,
                           xen_pfn_t *gpfns);
int xc_shadow_control(xc_interface *xch, uint32_t domid, unsigned int sop,
                      unsigned int *mb, unsigned int mode);
int xc_domain_hvm_getcontext(xc_interface *xch, uint32_t domid,
                             uint8_t *ctxt_buf, uint32_t size);
int xc_hvm_param_get(xc_interface *handle, uint32_t dom, uint32_t param,
                     uint64_t *value);
int xc_domain_get_tsc_info(xc_interface *xch, uint32_t domid,
                           uint32_t *tsc_mode, uint64_t *elapsed_nsec,
                           uint32_t *gtsc_khz, uint32_t *incarnation);
int xc_cpu_policy_get_size(xc_interface *xch, uint32_t *nr_leaves,
                           uint32_t *nr_msrs);
int xc_domain_get_guest_width(xc_interface *xch, uint32_t domid,
                              unsigned int *guest_width);
#endif

/* Exported by libxenctrl but declared only in its private header: the
 * types (XEN_DOMCTL_PFINFO_*) of `num` frames, written over their mfns. */
int xc_get_pfn_type_batch(xc_interface *xch, uint32_t dom, unsigned int num,
                          xen_pfn_t *arr);

struct xs_xen_dominfo {
    uint32_t domid;
    int hvm;
    int paused;
    int shutdown;
    unsigned int shutdown_reason;  /* SHUTDOWN_* while shutdown is set */
    int dying;
    uint64_t nr_pages;
    uint64_t max_memkb;
    unsigned int max_vcpu_id;
    uint64_t shared_info_frame;  /* mfn of a PV guest's shared info page */
    uint8_t handle[16];
};

int xs_xen_version(xc_interface *xch, uint32_t *major, uint32_t *minor);
/* Write `value` at `path` in xenstore; 0, or -1 with errno set. */
int xs_xenstore_write(const char *path, const char *value);
int xs_xen_dominfo(xc_interface *xch, uint32_t first,
                   struct xs_xen_dominfo *out, unsigned int max);
/* Entry sizes of the serialised policy (xen_cpuid_leaf_t, xen_msr_entry_t),
 * which X86_CPUID_POLICY and X86_MSR_POLICY carry as they are (the stream
 * module's CPUID_ENTRY_SIZE and MSR_ENTRY_SIZE). */
#define XS_CPUID_LEAF_SIZE 24
#define XS_MSR_ENTRY_SIZE 16
int xs_xen_cpu_policy(xc_interface *xch, uint32_t domid,
                      uint8_t *leaves, uint32_t *nr_leaves,
                      uint8_t *msrs, uint32_t *nr_msrs);
long long xs_xen_logdirty(xc_interface *xch, uint32_t domid, unsigned int op,
                          uint64_t *bitmap, unsigned long pages,
                          unsigned int mode, uint32_t *dirty_count);

/* ---- PV guests ---- */
/* Xen's m2p, read-only: *entries mfns from 0 on; unmap with
 * xs_xen_unmap_m2p and the same count. */
uint64_t *xs_xen_map_m2p(xc_interface *xch, uint64_t *entries);
int xs_xen_unmap_m2p(uint64_t *m2p, uint64_t entries);
/* 1 if the vCPU is up, 0 if not, -1 on error. */
int xs_xen_vcpu_online(xc_interface *xch, uint32_t domid, uint32_t vcpu);
/* A 64-bit PV vCPU's vcpu_guest_context_x86_64, as the X86_PV_VCPU_BASIC
 * record carries it, and the offsets of the fields holding frames. */
#define XS_PV_CONTEXT_SIZE 5168
#define XS_PV_CONTEXT_RDX 616
#define XS_PV_CONTEXT_GDT_FRAMES 4832
#define XS_PV_CONTEXT_GDT_ENTS 4960
#define XS_PV_CONTEXT_CTRLREG 4984
#define XS_PV_GDT_ENTRIES_MAX 7168
int xs_xen_vcpu_context(xc_interface *xch, uint32_t domid, uint32_t vcpu,
                        uint8_t *buf);
/* XEN_DOMCTL_get_ext_vcpucontext: *size bytes (0: none) of at most
 * XS_PV_EXT_CONTEXT_MAX. */
#define XS_PV_EXT_CONTEXT_MAX 64
int xs_xen_vcpu_extended(xc_interface *xch, uint32_t domid, uint32_t vcpu,
                         uint8_t *buf, uint32_t *size);
/* XEN_DOMCTL_getvcpuextstate and XEN_DOMCTL_get_vcpu_msrs: with buf NULL
 * *size is set to what the state needs (0: the vCPU has none); with a
 * buffer of *size bytes it is filled and *size set to what was written. */
int xs_xen_vcpu_xsave(xc_interface *xch, uint32_t domid, uint32_t vcpu,
                      uint8_t *buf, uint64_t *size);
#define XS_PV_MSR_SIZE 16
int xs_xen_vcpu_msrs(xc_interface *xch, uint32_t domid, uint32_t vcpu,
                     uint8_t *buf, uint64_t *size);

#endif
