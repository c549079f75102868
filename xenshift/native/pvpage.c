/* A 64-bit PV guest's pages in the migration stream; see pvpage.h. */
#include "pvpage.h"

#include <string.h>

#define PAGE_SIZE 4096
#define ENTRIES 512
#define PTE_PRESENT UINT64_C(0x1)
#define PTE_PSE UINT64_C(0x80)
/* Bits 12-51 of an entry hold the frame. */
#define PTE_FRAME_MASK UINT64_C(0x000ffffffffff000)
/* The hypervisor's part of a 64-bit guest's address space
 * (HYPERVISOR_VIRT_START/END in arch-x86/xen-x86_64.h) spans these L4
 * slots; the range is inclusive of the END slot, as Xen's own save
 * clears it. */
#define L4_SHIFT 39
#define XEN_L4_FIRST ((UINT64_C(0xFFFF800000000000) >> L4_SHIFT) & 511)
#define XEN_L4_LAST ((UINT64_C(0xFFFF880000000000) >> L4_SHIFT) & 511)

/* The guest pfn of `mfn`, or -1 unless the m2p and the guest's p2m agree
 * that the frame is the guest's. */
int64_t xs_pv_mfn_to_pfn(const struct xs_pv_maps *maps, uint64_t mfn)
{
    if (mfn >= maps->m2p_entries)
        return -1;
    uint64_t pfn = maps->m2p[mfn];
    if (pfn >= maps->p2m_entries || maps->p2m[pfn] != mfn)
        return -1;
    return (int64_t)pfn;
}

/* mfns[i] = the p2m's entry for pfns[i]; pfns beyond the p2m are invalid. */
void xs_pv_lookup(const struct xs_pv_maps *maps, const uint64_t *pfns,
                  size_t n, uint64_t *mfns)
{
    for (size_t i = 0; i < n; i++)
        mfns[i] = pfns[i] < maps->p2m_entries ? maps->p2m[pfns[i]]
                                               : XS_PV_INVALID_MFN;
}

/* Normalise one page table of `level` (1-4) in place.  On failure *bad is
 * the entry's index; the table is then partly rewritten. */
int xs_pv_normalise(uint64_t *table, unsigned int level,
                    const struct xs_pv_maps *maps, size_t *bad)
{
    for (size_t i = 0; i < ENTRIES; i++) {
        uint64_t pte = table[i];
        if (level == XS_PV_TYPE_L4TAB && i >= XEN_L4_FIRST && i <= XEN_L4_LAST)
            pte = 0;
        if (pte & PTE_PRESENT) {
            /* Bit 7 is PAT in an L1 entry, a superpage above. */
            if (level > 1 && (pte & PTE_PSE)) {
                *bad = i;
                return XS_PV_SUPERPAGE;
            }
            int64_t pfn = xs_pv_mfn_to_pfn(maps, (pte & PTE_FRAME_MASK) >> 12);
            if (pfn < 0) {
                *bad = i;
                return XS_PV_BAD_MFN;
            }
            pte = (pte & ~PTE_FRAME_MASK) | ((uint64_t)pfn << 12);
        }
        table[i] = pte;
    }
    return 0;
}

/* Assemble one PAGE_DATA batch of a PV guest.
 *
 * types[i] is the type Xen reports for pfns[i]'s frame (bits 28-31);
 * mapped holds, in batch order, the mapped_pages frames whose type carries
 * data (all but XTAB, XALLOC and BROKEN).  words[i] gets pfns[i] with its
 * type in bits 60-63; out gets the data pages, page tables normalised.
 * A page table that does not normalise while the guest runs is usually
 * caught mid-update: with `defer` it goes as XTAB without data and its pfn
 * is appended to deferred (*ndeferred of them), to be sent again once the
 * guest is suspended; without, it is an error.  Returns the number of
 * data pages in out, or an XS_PV_* error with *bad the batch index. */
int64_t xs_pv_batch(const uint8_t *mapped, size_t mapped_pages,
                    const uint64_t *pfns, const uint64_t *types, size_t n,
                    const struct xs_pv_maps *maps, int defer,
                    uint8_t *out, size_t out_cap, uint64_t *words,
                    uint64_t *deferred, size_t *ndeferred, size_t *bad)
{
    size_t in = 0, data = 0, entry;

    *ndeferred = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned int type = (unsigned int)(types[i] >> XS_PV_TYPE_SHIFT) & 0xf;
        unsigned int level = type & 7;

        *bad = i;
        if (type >= XS_PV_TYPE_BROKEN) {
            words[i] = pfns[i] | ((uint64_t)type << 60);
            continue;
        }
        if (level > XS_PV_TYPE_L4TAB || ((type & XS_PV_TYPE_PINNED) && !level))
            return XS_PV_BAD_TYPE;
        if (in >= mapped_pages || (data + 1) * PAGE_SIZE > out_cap)
            return XS_PV_OVERFLOW;
        uint8_t *page = out + data * PAGE_SIZE;
        memcpy(page, mapped + in * PAGE_SIZE, PAGE_SIZE);
        in++;
        if (level) {
            /* A copy: out need not be aligned for uint64_t. */
            uint64_t table[ENTRIES];
            memcpy(table, page, PAGE_SIZE);
            int rc = xs_pv_normalise(table, level, maps, &entry);
            if (rc == XS_PV_BAD_MFN && defer) {
                deferred[(*ndeferred)++] = pfns[i];
                words[i] = pfns[i] | ((uint64_t)XS_PV_TYPE_XTAB << 60);
                continue;
            }
            if (rc)
                return rc;
            memcpy(page, table, PAGE_SIZE);
        }
        words[i] = pfns[i] | ((uint64_t)type << 60);
        data++;
    }
    return (int64_t)data;
}
