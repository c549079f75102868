"""The native page core against plain Python reference computations."""

from __future__ import annotations

import os

import pytest

from xenshift.native import PAGE_SIZE, ffi, hash_buffer, lib


def pfns(values):
    return ffi.new("uint64_t[]", list(values) or [0])


def test_bitmap_collect_in_batches():
    nbits = 1000
    bitmap = ffi.new("uint64_t[]", (nbits + 63) // 64)
    want = [0, 1, 63, 64, 65, 500, 998, 999]
    for b in want:
        bitmap[b // 64] |= 1 << (b % 64)
    cursor = ffi.new("uint64_t *", 0)
    out = pfns([0] * 3)
    got = []
    while n := lib.xs_bitmap_collect(bitmap, nbits, cursor, out, 3):
        got += [out[i] for i in range(n)]
    assert got == want


def test_bitmap_fill_take_or_count():
    words = 3
    bm = ffi.new("uint64_t[]", words)
    lib.xs_bitmap_fill(bm, 130)
    assert lib.xs_bitmap_count(bm, words) == 130
    taken = ffi.new("uint64_t[]", words)
    assert lib.xs_bitmap_take(bm, taken, words) == 130
    assert lib.xs_bitmap_count(bm, words) == 0
    assert lib.xs_bitmap_or(bm, taken, words) == 130


def test_gather_scatter_bounds_and_zero_split():
    mem = bytearray(os.urandom(16 * PAGE_SIZE))
    mem[5 * PAGE_SIZE:6 * PAGE_SIZE] = bytes(PAGE_SIZE)
    order = [9, 5, 2, 15]
    out = bytearray(4 * PAGE_SIZE)
    assert lib.xs_gather(ffi.from_buffer(mem), 16, pfns(order), 4, ffi.from_buffer(out), len(out)) == 0
    assert out == b"".join(mem[p * PAGE_SIZE:(p + 1) * PAGE_SIZE] for p in order)
    assert lib.xs_gather(ffi.from_buffer(mem), 16, pfns([16]), 1, ffi.from_buffer(out), len(out)) == -1
    assert lib.xs_gather(ffi.from_buffer(mem), 16, pfns(order), 4, ffi.from_buffer(out), 100) == -1
    dest = bytearray(16 * PAGE_SIZE)
    assert lib.xs_scatter(ffi.from_buffer(dest), 16, pfns(order), 4, ffi.from_buffer(out), len(out)) == 0
    for p in order:
        assert dest[p * PAGE_SIZE:(p + 1) * PAGE_SIZE] == mem[p * PAGE_SIZE:(p + 1) * PAGE_SIZE]
    assert lib.xs_compare(ffi.from_buffer(dest), 16, pfns(order), 4, ffi.from_buffer(out), len(out)) == -1
    nz, nzp, zp = bytearray(4 * PAGE_SIZE), pfns([0] * 4), pfns([0] * 4)
    counts = ffi.new("size_t[2]")
    lib.xs_split_zero(ffi.from_buffer(out), pfns(order), 4, ffi.from_buffer(nz), len(nz), nzp, zp, counts)
    assert (counts[0], counts[1]) == (3, 1) and zp[0] == 5
    assert [nzp[i] for i in range(3)] == [9, 2, 15]


def test_pfn_words_checks():
    bad = ffi.new("size_t *")
    words = pfns([1, 2 | 0xF << 60, 3 | 0xE << 60, 4 | 1 << 60])
    assert lib.xs_pfns_check(words, 4, 10, bad) == 2
    assert lib.xs_pfns_check(pfns([1, 6 << 60]), 2, 10, bad) == -1 and bad[0] == 1
    assert lib.xs_pfns_check(pfns([1, 1 << 55]), 2, 10, bad) == -1  # reserved bits
    assert lib.xs_pfns_check(pfns([10]), 1, 10, bad) == -1
    assert lib.xs_pfns_run(pfns([4, 5, 99 | 0xF << 60, 6]), 4) == 4
    assert lib.xs_pfns_run(pfns([4, 6]), 2) == -1


def test_hash_is_deterministic_and_sensitive():
    data = bytearray(os.urandom(PAGE_SIZE * 3 + 5))
    h = hash_buffer(data)
    assert h == hash_buffer(bytes(data))
    data[PAGE_SIZE * 2 + 1] ^= 1
    assert hash_buffer(data) != h
    assert hash_buffer(data, 1) != hash_buffer(data, 2)


def test_self_checking_pages():
    mem = bytearray(8 * PAGE_SIZE)
    lib.xs_fill_memory(ffi.from_buffer(mem), 8, 2, 7)
    assert lib.xs_check_pages(ffi.from_buffer(mem), 8) == -1
    page = next(p for p in range(8) if any(mem[p * PAGE_SIZE:(p + 1) * PAGE_SIZE]))
    mem[page * PAGE_SIZE + 100] ^= 0xFF
    assert lib.xs_check_pages(ffi.from_buffer(mem), 8) == page


def test_zstd_round_trip_and_refusals():
    z = ffi.gc(lib.xs_zstd_new(1), lib.xs_zstd_free)
    src = os.urandom(PAGE_SIZE) + bytes(3 * PAGE_SIZE)
    dst = bytearray(lib.xs_zstd_bound(len(src)))
    n = lib.xs_zstd_compress(z, ffi.from_buffer(dst), len(dst), src, len(src))
    assert 0 < n < len(src)
    back = bytearray(len(src))
    assert lib.xs_zstd_decompress(z, ffi.from_buffer(back), len(back), ffi.from_buffer(dst), n) == len(src)
    assert back == src
    small = bytearray(len(src) - PAGE_SIZE)
    assert lib.xs_zstd_decompress(z, ffi.from_buffer(small), len(small), ffi.from_buffer(dst), n) == -1
    assert lib.xs_zstd_decompress(z, ffi.from_buffer(back), len(back), b"garbage!" * 4, 32) == -1
