/* xenshift native page core: the per-byte work of migration, in plain C99.
 *
 * Every function works on buffers the caller owns, checks bounds against the
 * sizes it is given and keeps no state between calls, so Python can call
 * them from several threads with the GIL released.  Pages are 4096 bytes;
 * pfn arrays are host-order uint64_t (little-endian on x86, which is also the
 * byte order of PAGE_DATA pfn words).
 */
#ifndef XS_PAGECORE_H
#define XS_PAGECORE_H

#include <stddef.h>
#include <stdint.h>

#define XS_PAGE_SHIFT 12
#define XS_PAGE_SIZE 4096

/* ---- dirty bitmaps (one bit per pfn, 64 per word) ---- */
size_t xs_bitmap_collect(const uint64_t *bitmap, uint64_t nbits,
                         uint64_t *cursor, uint64_t *out, size_t max_out);
uint64_t xs_bitmap_take(uint64_t *shared, uint64_t *out, uint64_t nwords);
uint64_t xs_bitmap_peek(const uint64_t *shared, uint64_t *out, uint64_t nwords);
uint64_t xs_bitmap_or(uint64_t *dst, const uint64_t *src, uint64_t nwords);
void xs_bitmap_fill(uint64_t *bitmap, uint64_t nbits);
uint64_t xs_bitmap_count(const uint64_t *bitmap, uint64_t nwords);

/* ---- PAGE_DATA pfn words ---- */
int64_t xs_pfns_check(const uint64_t *words, size_t n, uint64_t max_pfn,
                      size_t *bad);
int64_t xs_pfns_run(const uint64_t *words, size_t n);
size_t xs_pfns_data(const uint64_t *words, size_t n, uint64_t *out);

/* ---- moving pages ---- */
int xs_gather(const uint8_t *mem, uint64_t mem_pages, const uint64_t *pfns,
              size_t n, uint8_t *out, size_t out_len);
int xs_scatter(uint8_t *mem, uint64_t mem_pages, const uint64_t *pfns,
               size_t n, const uint8_t *in, size_t in_len);
int xs_zero_pages(uint8_t *mem, uint64_t mem_pages, const uint64_t *pfns,
                  size_t n);
int64_t xs_compare(const uint8_t *mem, uint64_t mem_pages,
                   const uint64_t *pfns, size_t n, const uint8_t *in,
                   size_t in_len);
int xs_split_zero(const uint8_t *pages, const uint64_t *pfns, size_t n,
                  uint8_t *nz_out, size_t nz_cap, uint64_t *nz_pfns,
                  uint64_t *zero_pfns, size_t *counts);
int xs_is_zero(const uint8_t *p, size_t len);
uint64_t xs_scrub(uint8_t *mem, size_t mem_len);

/* ---- hashing and self-checking page contents ---- */
uint64_t xs_hash(const uint8_t *p, size_t len, uint64_t seed);
void xs_fill_page(uint8_t *page, uint64_t pfn, uint64_t seq);
void xs_fill_memory(uint8_t *mem, uint64_t npages, int mode, uint64_t seed);
int64_t xs_check_pages(const uint8_t *mem, uint64_t npages);

/* ---- zstd ---- */
typedef struct xs_zstd xs_zstd;
xs_zstd *xs_zstd_new(int level);
void xs_zstd_free(xs_zstd *z);
size_t xs_zstd_bound(size_t len);
int64_t xs_zstd_compress(xs_zstd *z, uint8_t *dst, size_t cap,
                         const uint8_t *src, size_t len);
int64_t xs_zstd_decompress(xs_zstd *z, uint8_t *dst, size_t expect,
                           const uint8_t *src, size_t len);

#endif
