/* xenshift native page core; see pagecore.h for the contract. */
#include "pagecore.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define PFN_MASK ((UINT64_C(1) << 52) - 1)
#define TYPE_SHIFT 60

/* ---------------------------------------------------------------- bitmaps */

/* Append the set bits at or after *cursor to out (at most max_out of them);
 * *cursor moves past the last bit looked at so that a caller can fetch a
 * dirty set in batches of MAX_BATCH_SIZE pfns. */
size_t xs_bitmap_collect(const uint64_t *bitmap, uint64_t nbits,
                         uint64_t *cursor, uint64_t *out, size_t max_out)
{
    size_t n = 0;
    uint64_t bit = *cursor;

    while (bit < nbits && n < max_out) {
        uint64_t word = bitmap[bit >> 6] >> (bit & 63);
        if (!word) {
            bit = (bit | 63) + 1;
            continue;
        }
        bit += (uint64_t)__builtin_ctzll(word);
        if (bit >= nbits)
            break;
        out[n++] = bit++;
    }
    *cursor = bit < nbits ? bit : nbits;
    return n;
}

/* Fetch-and-clear each word of a bitmap that another thread or process is
 * setting bits in: like XEN_DOMCTL_SHADOW_OP_CLEAN, no set bit is lost. */
uint64_t xs_bitmap_take(uint64_t *shared, uint64_t *out, uint64_t nwords)
{
    uint64_t count = 0;
    for (uint64_t i = 0; i < nwords; i++) {
        uint64_t w = __atomic_load_n(&shared[i], __ATOMIC_RELAXED);
        if (w)
            w = __atomic_exchange_n(&shared[i], 0, __ATOMIC_ACQ_REL);
        out[i] = w;
        count += (uint64_t)__builtin_popcountll(w);
    }
    return count;
}

/* Copy without clearing, like XEN_DOMCTL_SHADOW_OP_PEEK. */
uint64_t xs_bitmap_peek(const uint64_t *shared, uint64_t *out, uint64_t nwords)
{
    uint64_t count = 0;
    for (uint64_t i = 0; i < nwords; i++) {
        out[i] = __atomic_load_n(&shared[i], __ATOMIC_ACQUIRE);
        count += (uint64_t)__builtin_popcountll(out[i]);
    }
    return count;
}

uint64_t xs_bitmap_or(uint64_t *dst, const uint64_t *src, uint64_t nwords)
{
    uint64_t count = 0;
    for (uint64_t i = 0; i < nwords; i++) {
        dst[i] |= src[i];
        count += (uint64_t)__builtin_popcountll(dst[i]);
    }
    return count;
}

void xs_bitmap_fill(uint64_t *bitmap, uint64_t nbits)
{
    uint64_t full = nbits >> 6;
    memset(bitmap, 0xff, (size_t)full * 8);
    if (nbits & 63)
        bitmap[full] = (UINT64_C(1) << (nbits & 63)) - 1;
}

uint64_t xs_bitmap_count(const uint64_t *bitmap, uint64_t nwords)
{
    uint64_t count = 0;
    for (uint64_t i = 0; i < nwords; i++)
        count += (uint64_t)__builtin_popcountll(bitmap[i]);
    return count;
}

/* ------------------------------------------------------- PAGE_DATA pfns */

/* Whether a pfn type (bits 63-60) is valid and whether it carries a page,
 * per XEN_DOMCTL_PFINFO_*: 0 NOTAB, 1-4 L1-L4TAB and 9-C pinned ones carry
 * data; D BROKEN, E XALLOC, F XTAB carry none; 5-8 are invalid. */
static int type_has_data(unsigned type)
{
    if (type <= 4 || (type >= 9 && type <= 0xC))
        return 1;
    if (type >= 0xD)
        return 0;
    return -1;
}

/* Validate pfn words: known type, zero reserved bits (59-52), pfn below
 * max_pfn.  Returns the number of data-carrying pages, or -1 with *bad set
 * to the index of the first offending word. */
int64_t xs_pfns_check(const uint64_t *words, size_t n, uint64_t max_pfn,
                      size_t *bad)
{
    int64_t pages = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t w = words[i];
        int data = type_has_data((unsigned)(w >> TYPE_SHIFT));
        if (data < 0 || (w & ~PFN_MASK & ~(UINT64_C(0xF) << TYPE_SHIFT)) ||
            (w & PFN_MASK) >= max_pfn) {
            *bad = i;
            return -1;
        }
        pages += data;
    }
    return pages;
}

/* If the data-carrying pfns are one ascending run, return its first pfn;
 * else -1.  Lets the receiver read a batch straight into guest memory. */
int64_t xs_pfns_run(const uint64_t *words, size_t n)
{
    int64_t first = -1;
    uint64_t next = 0;
    for (size_t i = 0; i < n; i++) {
        if (type_has_data((unsigned)(words[i] >> TYPE_SHIFT)) != 1)
            continue;
        uint64_t pfn = words[i] & PFN_MASK;
        if (first < 0)
            first = (int64_t)pfn;
        else if (pfn != next)
            return -1;
        next = pfn + 1;
    }
    return first;
}

/* Extract the pfns of data-carrying words, in order, into out. */
size_t xs_pfns_data(const uint64_t *words, size_t n, uint64_t *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (type_has_data((unsigned)(words[i] >> TYPE_SHIFT)) == 1)
            out[m++] = words[i] & PFN_MASK;
    return m;
}

/* ---------------------------------------------------------- page moving */

static int pfns_in_range(const uint64_t *pfns, size_t n, uint64_t mem_pages)
{
    for (size_t i = 0; i < n; i++)
        if (pfns[i] >= mem_pages)
            return 0;
    return 1;
}

/* Copy the pages named by pfns out of mem into out, in order. */
int xs_gather(const uint8_t *mem, uint64_t mem_pages, const uint64_t *pfns,
              size_t n, uint8_t *out, size_t out_len)
{
    if (out_len / XS_PAGE_SIZE < n || !pfns_in_range(pfns, n, mem_pages))
        return -1;
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * XS_PAGE_SIZE, mem + (pfns[i] << XS_PAGE_SHIFT),
               XS_PAGE_SIZE);
    return 0;
}

/* Copy n consecutive pages from in to the pages named by pfns in mem. */
int xs_scatter(uint8_t *mem, uint64_t mem_pages, const uint64_t *pfns,
               size_t n, const uint8_t *in, size_t in_len)
{
    if (in_len / XS_PAGE_SIZE < n || !pfns_in_range(pfns, n, mem_pages))
        return -1;
    for (size_t i = 0; i < n; i++)
        memcpy(mem + (pfns[i] << XS_PAGE_SHIFT), in + i * XS_PAGE_SIZE,
               XS_PAGE_SIZE);
    return 0;
}

int xs_zero_pages(uint8_t *mem, uint64_t mem_pages, const uint64_t *pfns,
                  size_t n)
{
    if (!pfns_in_range(pfns, n, mem_pages))
        return -1;
    for (size_t i = 0; i < n; i++)
        memset(mem + (pfns[i] << XS_PAGE_SHIFT), 0, XS_PAGE_SIZE);
    return 0;
}

/* Compare pages in `in` with the ones in mem (the VERIFY pass): returns the
 * index of the first differing page, -1 when all match, -2 on bad bounds. */
int64_t xs_compare(const uint8_t *mem, uint64_t mem_pages,
                   const uint64_t *pfns, size_t n, const uint8_t *in,
                   size_t in_len)
{
    if (in_len / XS_PAGE_SIZE < n || !pfns_in_range(pfns, n, mem_pages))
        return -2;
    for (size_t i = 0; i < n; i++)
        if (memcmp(mem + (pfns[i] << XS_PAGE_SHIFT), in + i * XS_PAGE_SIZE,
                   XS_PAGE_SIZE))
            return (int64_t)i;
    return -1;
}

int xs_is_zero(const uint8_t *p, size_t len)
{
    const uint64_t *w = (const uint64_t *)p;
    uint64_t acc = 0;
    size_t words = len / 8;
    /* OR in blocks so the common non-zero case exits early but the loop
     * still vectorises. */
    for (size_t i = 0; i < words; i += 64) {
        size_t end = i + 64 < words ? i + 64 : words;
        for (size_t j = i; j < end; j++)
            acc |= w[j];
        if (acc)
            return 0;
    }
    for (size_t i = words * 8; i < len; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Zero every whole page of mem[0, mem_len) that is not zero yet (scrubbing
 * freed guest memory, as Xen does before reusing it); returns how many it
 * wrote.  Pages already zero are only read, so a region that was never
 * used is not written again. */
uint64_t xs_scrub(uint8_t *mem, size_t mem_len)
{
    uint64_t written = 0, npages = mem_len / XS_PAGE_SIZE;
    for (uint64_t pfn = 0; pfn < npages; pfn++) {
        uint8_t *page = mem + (pfn << XS_PAGE_SHIFT);
        if (!xs_is_zero(page, XS_PAGE_SIZE)) {
            memset(page, 0, XS_PAGE_SIZE);
            written++;
        }
    }
    return written;
}

/* Split n consecutive pages into the non-zero ones (copied to nz_out, their
 * pfns to nz_pfns) and the zero ones (pfns to zero_pfns).  counts[0] gets
 * the non-zero count, counts[1] the zero count. */
int xs_split_zero(const uint8_t *pages, const uint64_t *pfns, size_t n,
                  uint8_t *nz_out, size_t nz_cap, uint64_t *nz_pfns,
                  uint64_t *zero_pfns, size_t *counts)
{
    size_t nz = 0, z = 0;
    if (nz_cap / XS_PAGE_SIZE < n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *page = pages + i * XS_PAGE_SIZE;
        if (xs_is_zero(page, XS_PAGE_SIZE)) {
            zero_pfns[z++] = pfns[i];
        } else {
            if (nz_out + nz * XS_PAGE_SIZE != page)
                memcpy(nz_out + nz * XS_PAGE_SIZE, page, XS_PAGE_SIZE);
            nz_pfns[nz++] = pfns[i];
        }
    }
    counts[0] = nz;
    counts[1] = z;
    return 0;
}

/* ------------------------------------------------------------- hashing */

static inline uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

/* A fast 64-bit non-cryptographic hash (four independent multiply-rotate
 * lanes, finalised with a murmur-style mixer).  Checksums compare copies of
 * the same memory, so speed matters more than resistance to attack. */
uint64_t xs_hash(const uint8_t *p, size_t len, uint64_t seed)
{
    const uint64_t k1 = UINT64_C(0x9E3779B185EBCA87);
    const uint64_t k2 = UINT64_C(0xC2B2AE3D27D4EB4F);
    uint64_t a = seed + k1, b = seed ^ k2, c = seed - k1, d = ~seed;
    size_t i = 0;
    uint64_t w[4];

    for (; i + 32 <= len; i += 32) {
        memcpy(w, p + i, 32);
        a = rotl(a + w[0] * k2, 31) * k1;
        b = rotl(b + w[1] * k2, 31) * k1;
        c = rotl(c + w[2] * k2, 31) * k1;
        d = rotl(d + w[3] * k2, 31) * k1;
    }
    uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18);
    for (; i + 8 <= len; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        h = rotl(h ^ (x * k2), 27) * k1;
    }
    for (; i < len; i++)
        h = rotl(h ^ (p[i] * k1), 11) * k2;
    return mix(h ^ (uint64_t)len);
}

/* -------------------------------------------- self-checking page contents */

static inline uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* A page the simulator writes names its pfn and a sequence number in its
 * first 16 bytes; the rest is generated from both.  Any page can then be
 * checked on its own, which is how tests tell intact memory from torn or
 * misplaced pages. */
void xs_fill_page(uint8_t *page, uint64_t pfn, uint64_t seq)
{
    uint64_t w[XS_PAGE_SIZE / 8];
    uint64_t state = mix(pfn * UINT64_C(0x100000001B3) ^ mix(seq + 1));
    w[0] = pfn;
    w[1] = seq;
    for (size_t i = 2; i < XS_PAGE_SIZE / 8; i++)
        w[i] = splitmix(&state);
    memcpy(page, w, XS_PAGE_SIZE);
}

/* mode 0: zero, 1: random (self-checking), 2: mixed (about every other
 * page zero, chosen by a hash of the pfn). */
void xs_fill_memory(uint8_t *mem, uint64_t npages, int mode, uint64_t seed)
{
    for (uint64_t pfn = 0; pfn < npages; pfn++) {
        uint8_t *page = mem + (pfn << XS_PAGE_SHIFT);
        if (mode == 0 || (mode == 2 && (mix(pfn ^ seed) & 1)))
            memset(page, 0, XS_PAGE_SIZE);
        else
            xs_fill_page(page, pfn, seed << 32);
    }
}

/* Index of the first page that is neither all zero nor a consistent
 * self-checking page for its own pfn; -1 when every page is intact. */
int64_t xs_check_pages(const uint8_t *mem, uint64_t npages)
{
    uint8_t expect[XS_PAGE_SIZE];
    for (uint64_t pfn = 0; pfn < npages; pfn++) {
        const uint8_t *page = mem + (pfn << XS_PAGE_SHIFT);
        uint64_t head[2];
        if (xs_is_zero(page, XS_PAGE_SIZE))
            continue;
        memcpy(head, page, 16);
        if (head[0] != pfn)
            return (int64_t)pfn;
        xs_fill_page(expect, pfn, head[1]);
        if (memcmp(expect, page, XS_PAGE_SIZE))
            return (int64_t)pfn;
    }
    return -1;
}

/* ---------------------------------------------------------------- zstd */

struct xs_zstd {
    ZSTD_CCtx *c;
    ZSTD_DCtx *d;
    int level;
};

/* One context per thread: compression keeps its tables between batches. */
xs_zstd *xs_zstd_new(int level)
{
    xs_zstd *z = calloc(1, sizeof(*z));
    if (!z)
        return NULL;
    z->c = ZSTD_createCCtx();
    z->d = ZSTD_createDCtx();
    z->level = level;
    if (!z->c || !z->d) {
        xs_zstd_free(z);
        return NULL;
    }
    return z;
}

void xs_zstd_free(xs_zstd *z)
{
    if (!z)
        return;
    ZSTD_freeCCtx(z->c);
    ZSTD_freeDCtx(z->d);
    free(z);
}

size_t xs_zstd_bound(size_t len)
{
    return ZSTD_compressBound(len);
}

int64_t xs_zstd_compress(xs_zstd *z, uint8_t *dst, size_t cap,
                         const uint8_t *src, size_t len)
{
    size_t r = ZSTD_compressCCtx(z->c, dst, cap, src, len, z->level);
    return ZSTD_isError(r) ? -1 : (int64_t)r;
}

/* Decompress a frame that must expand to exactly `expect` bytes: a peer
 * cannot make us write past dst or leave part of it stale. */
int64_t xs_zstd_decompress(xs_zstd *z, uint8_t *dst, size_t expect,
                           const uint8_t *src, size_t len)
{
    unsigned long long size = ZSTD_getFrameContentSize(src, len);
    if (size != expect)
        return -1;
    size_t r = ZSTD_decompressDCtx(z->d, dst, expect, src, len);
    if (ZSTD_isError(r) || r != expect)
        return -1;
    return (int64_t)r;
}
