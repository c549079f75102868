"""Native hot paths (C through cffi, API mode; built at install).

``_pagecore`` holds the page work (bitmaps, gather/scatter, zero test,
hashing, zstd) and the simulated domain's vCPU loop; ``_xenctrl`` the
libxenctrl binding, present only where Xen's headers were at build time.
Calls into both release the GIL.
"""

from __future__ import annotations

from xenshift.native._pagecore import ffi, lib

PAGE_SIZE = lib.XS_PAGE_SIZE
PAGE_SHIFT = lib.XS_PAGE_SHIFT


def u64_array(n: int):
    """A zeroed ``uint64_t[n]`` owned by Python (pfn lists, bitmaps)."""
    return ffi.new("uint64_t[]", max(n, 1))


def u64_view(buf):
    """``buf`` (any writable or read-only buffer) seen as ``uint64_t *``."""
    return ffi.cast("uint64_t *", ffi.from_buffer(buf))


def byte_ptr(buf, writable: bool = False):
    """``buf`` seen as ``uint8_t *`` without copying."""
    return ffi.cast("uint8_t *", ffi.from_buffer(buf, require_writable=writable))


def hash_buffer(buf, seed: int = 0) -> int:
    """64-bit hash of a whole buffer (domain memory, a context blob)."""
    return lib.xs_hash(byte_ptr(buf), len(buf), seed)
