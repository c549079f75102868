/* A 64-bit PV guest's pages in the migration stream, in plain C99.
 *
 * A PV guest's page tables hold machine frame numbers (mfns), which mean
 * nothing on another host, so the stream carries them "normalised": every
 * present entry's mfn replaced by the guest's own pfn for it, and Xen's
 * slots in an L4 cleared (the destination's Xen fills in its own).  The
 * translation needs the guest's p2m (pfn -> mfn) and Xen's m2p (mfn ->
 * pfn), which the caller maps and passes in; nothing here keeps state, so
 * callers may run it from several threads with the GIL released.
 */
#ifndef XS_PVPAGE_H
#define XS_PVPAGE_H

#include <stddef.h>
#include <stdint.h>

/* Page types as XEN_DOMCTL_getpageframeinfo3 reports them (bits 28-31);
 * the stream's PAGE_DATA words carry the same nibble in bits 60-63. */
#define XS_PV_TYPE_SHIFT 28
#define XS_PV_TYPE_L4TAB 4
#define XS_PV_TYPE_PINNED 8
#define XS_PV_TYPE_BROKEN 13
#define XS_PV_TYPE_XALLOC 14
#define XS_PV_TYPE_XTAB 15
#define XS_PV_INVALID_MFN 0xffffffffffffffff

/* Results other than a page count. */
enum xs_pv_error {
    XS_PV_BAD_MFN = -1,   /* a present entry names a frame not the guest's */
    XS_PV_SUPERPAGE = -2, /* a PSE entry above L1: not migratable */
    XS_PV_BAD_TYPE = -3,  /* a type Xen does not report for a page */
    XS_PV_OVERFLOW = -4   /* more data pages than mapped or than out holds */
};

struct xs_pv_maps {
    const uint64_t *m2p;      /* Xen's machine-to-phys table */
    uint64_t m2p_entries;
    const uint64_t *p2m;      /* the guest's phys-to-machine table */
    uint64_t p2m_entries;
};

int64_t xs_pv_mfn_to_pfn(const struct xs_pv_maps *maps, uint64_t mfn);
void xs_pv_lookup(const struct xs_pv_maps *maps, const uint64_t *pfns,
                  size_t n, uint64_t *mfns);
int xs_pv_normalise(uint64_t *table, unsigned int level,
                    const struct xs_pv_maps *maps, size_t *bad);
int64_t xs_pv_batch(const uint8_t *mapped, size_t mapped_pages,
                    const uint64_t *pfns, const uint64_t *types, size_t n,
                    const struct xs_pv_maps *maps, int defer,
                    uint8_t *out, size_t out_cap, uint64_t *words,
                    uint64_t *deferred, size_t *ndeferred, size_t *bad);

#endif
