"""A 64-bit PV guest as the source of a save or migration, as
``xg_sr_save_x86_pv.c`` saves one.

A PV guest addresses machine frames itself, so before anything else the
saver maps Xen's m2p (mfn -> pfn), the guest's shared info page and,
through the three-level frame list it publishes there, its p2m (pfn ->
mfn).  Pages are then mapped by mfn and sent by pfn with their page types;
page tables go normalised (pvpage.c), as do the frames named in each
vCPU's context.  Suspend is cooperative: the guest is asked through
xenstore and makes the suspend hypercall itself.
"""

from __future__ import annotations

import errno
import struct

from xenshift.migrate.backend.base import DomainState, MappedPages
from xenshift.migrate.backend.xen_host import Handles, Toolstack
from xenshift.migrate.backend.xen_source import XenSource, map_frames
from xenshift.migrate.errors import BackendError
from xenshift.migrate.stream import libxc, libxc_pv
from xenshift.migrate.stream.writer import CpuPolicy, PvTail
from xenshift.native import PAGE_SIZE
from xenshift.native import ffi as core_ffi
from xenshift.native import lib as core

# public/xen.h: struct arch_shared_info inside shared_info (64-bit layout).
SHINFO_MAX_PFN = 3088
SHINFO_FRAME_LIST_LIST = 3096
NO_SHADOW_PAGING = ("this hypervisor was built without shadow paging (CONFIG_SHADOW_PAGING), "
                    "which live migration of PV guests needs")
_ERRORS = {core.XS_PV_BAD_MFN: "names a frame that is not the guest's",
           core.XS_PV_SUPERPAGE: "maps a superpage, which PV migration cannot carry",
           core.XS_PV_BAD_TYPE: "has a page type Xen does not report",
           core.XS_PV_OVERFLOW: "does not match the frames mapped for it"}


class _PvBatch(MappedPages):
    """A batch assembled in our own buffer: its typed pfn words, and the
    data of the pages that carry some, page tables normalised."""

    def __init__(self, words: memoryview, view: memoryview, count: int):
        self.words, self.view, self.count = words, view, count


class XenPvSource(XenSource):
    """A 64-bit PV guest."""

    def __init__(self, h: Handles, toolstack: Toolstack, domid: int, name: str, info):
        super().__init__(h, toolstack, domid, name)
        width = h.ffi.new("unsigned int *")
        self._check(h.lib.xc_domain_get_guest_width(h.xch, domid, width), "reading the guest width")
        if width[0] != libxc_pv.GUEST_WIDTH:
            raise BackendError(f"{name} is a {width[0] * 8}-bit PV guest; only 64-bit PV "
                               "guests can be saved or migrated")
        self._suspended = False
        self._deferred: set[int] = set()
        self._map_m2p()
        frame = h.ffi.new("uint64_t[1]", [info.shared_info_frame])
        self._shinfo = map_frames(h, domid, frame, 1, f"the shared info page of {name}")
        self._map_p2m()

    # ---------------------------------------------------------- the maps
    def _map_m2p(self) -> None:
        entries = self.h.ffi.new("uint64_t *")
        m2p = self.h.lib.xs_xen_map_m2p(self.h.xch, entries)
        if m2p == self.h.ffi.NULL:
            raise BackendError(f"{self.name}: cannot map Xen's machine-to-phys table")
        self._m2p = self.h.ffi.gc(m2p, lambda p, n=int(entries[0]): self.h.lib.xs_xen_unmap_m2p(p, n))
        self.max_mfn = int(entries[0]) - 1
        self._maps = core_ffi.new("struct xs_pv_maps *")
        self._maps.m2p = core_ffi.cast("uint64_t *", self.h.ffi.cast("uintptr_t", self._m2p))
        self._maps.m2p_entries = int(entries[0])

    def _shinfo_u64(self, offset: int) -> int:
        return struct.unpack_from("<Q", self._shinfo.view, offset)[0]

    def _frame_list(self, mfns: list[int], entries: int, what: str) -> list[int]:
        """The first ``entries`` mfns held in the guest frames ``mfns``,
        each checked to be a plausible frame."""
        pages = map_frames(self.h, self.domid, self.h.ffi.new("uint64_t[]", mfns), len(mfns),
                           f"{what} of {self.name}")
        with pages:
            out = list(struct.unpack_from(f"<{entries}Q", pages.view))
        bad = next((m for m in out if m == 0 or m > self.max_mfn), None)
        if bad is not None:
            raise BackendError(f"{self.name}: bad mfn {bad:#x} in its {what}")
        return out

    def _map_p2m(self) -> None:
        """Walk the frame list list -> frame list -> p2m leaves the guest
        publishes in its shared info, and keep the leaves mapped."""
        max_pfn = self._shinfo_u64(SHINFO_MAX_PFN) - 1
        fll = self._shinfo_u64(SHINFO_FRAME_LIST_LIST)
        per = libxc_pv.P2M_PER_FRAME
        if fll == 0 or fll > self.max_mfn:
            raise BackendError(f"{self.name} publishes no p2m frame list in its shared info "
                               "(a kernel with only the virtual p2m list is not supported)")
        if not 0 <= max_pfn < per * per * per:
            raise BackendError(f"{self.name}: max_pfn {max_pfn:#x} does not fit a p2m tree")
        mids = self._frame_list([fll], max_pfn // (per * per) + 1, "p2m frame list list")
        # Trailing copies of one mid frame can only hold invalid entries
        # (a frame shared by several pfns would not survive migration):
        # stop the p2m where they start, as Xen's save does.
        last = max(i for i, m in enumerate(mids) if i == 0 or m != mids[i - 1])
        max_pfn = min(max_pfn, (last + 1) * per * per - 1)
        leaves = self._frame_list(mids[:max_pfn // (per * per) + 1], max_pfn // per + 1,
                                  "p2m frame list")
        self._p2m = map_frames(self.h, self.domid, self.h.ffi.new("uint64_t[]", leaves),
                               len(leaves), f"the p2m of {self.name}")
        self.pages = max_pfn + 1
        self._maps.p2m = core_ffi.cast("uint64_t *", self.h.ffi.cast("uintptr_t", self._p2m.addr))
        self._maps.p2m_entries = self.pages
        self._p2m_frames = libxc_pv.P2mFrames(
            0, max_pfn, tuple(self._pfn(m, "a p2m frame") for m in leaves))

    def _pfn(self, mfn: int, what: str) -> int:
        pfn = core.xs_pv_mfn_to_pfn(self._maps, mfn)
        if pfn < 0:
            raise BackendError(f"{self.name}: {what} (mfn {mfn:#x}) is not the guest's")
        return pfn

    # ------------------------------------------------------- the stream
    def domain_header(self) -> libxc.DomainHeader:
        return self._header(libxc.DHDR_TYPE_X86_PV)

    def p2m_frames(self) -> libxc_pv.P2mFrames:
        return self._p2m_frames

    def _logdirty_failed(self, err: int) -> None:
        if err in (errno.EINVAL, errno.EOPNOTSUPP):
            raise BackendError(f"{self.name}: enabling log-dirty mode failed: {NO_SHADOW_PAGING}")
        super()._logdirty_failed(err)

    def clean_dirty(self, bitmap, final: bool = False) -> int:
        count = super().clean_dirty(bitmap, final)
        if final:
            # Page tables caught mid-update in the live rounds go now.
            for pfn in self._deferred:
                if not bitmap[pfn // 64] >> (pfn % 64) & 1:
                    bitmap[pfn // 64] |= 1 << (pfn % 64)
                    count += 1
            self._deferred.clear()
        return count

    def map_pages(self, pfns, count: int) -> MappedPages:
        ffi, lib = self.h.ffi, self.h.lib
        pfns = core_ffi.cast("uint64_t *", ffi.cast("uintptr_t", pfns))
        mfns = core_ffi.new("uint64_t[]", count)
        core.xs_pv_lookup(self._maps, pfns, count, mfns)
        types = ffi.new("xen_pfn_t[]", list(mfns))
        self._check(lib.xc_get_pfn_type_batch(self.h.xch, self.domid, count, types),
                    "reading page types")
        with_data = [mfns[i] for i in range(count)
                     if (types[i] >> 28) & 0xf < core.XS_PV_TYPE_BROKEN]
        out = bytearray(len(with_data) * PAGE_SIZE)
        words = core_ffi.new("uint64_t[]", count)
        deferred = core_ffi.new("uint64_t[]", count)
        ndeferred, bad = core_ffi.new("size_t *"), core_ffi.new("size_t *")
        mapped = map_frames(self.h, self.domid, ffi.new("uint64_t[]", with_data),
                            len(with_data), f"pages of {self.name}") if with_data else None
        try:
            n = core.xs_pv_batch(
                core_ffi.from_buffer(mapped.view) if mapped else core_ffi.NULL, len(with_data),
                pfns, core_ffi.cast("uint64_t *", ffi.cast("uintptr_t", types)), count,
                self._maps, int(not self._suspended), core_ffi.from_buffer(out), len(out),
                words, deferred, ndeferred, bad)
        finally:
            if mapped:
                mapped.release()
        if n < 0:
            raise BackendError(f"{self.name}: the page table at pfn {pfns[bad[0]]:#x} "
                               f"{_ERRORS[n]}")
        self._deferred.update(deferred[i] for i in range(ndeferred[0]))
        return _PvBatch(memoryview(core_ffi.buffer(words, 8 * count)),
                        memoryview(out)[:n * PAGE_SIZE], n)

    def suspend(self) -> None:
        self._ask_to_suspend()
        self._suspended = True

    def resume(self) -> None:
        super().resume()
        self._suspended = False

    # xl's restore leaves a PV guest's p2m frame list unpublished until the
    # guest runs again, so the paused copy on the destination cannot be read
    # back by pfn for --verify.
    verifiable = False

    def cpu_policy(self) -> CpuPolicy:
        # Not through state(): a running PV guest's vCPU context names no
        # start info page yet (the guest puts it in rdx as it suspends).
        return self._cpu_policy()

    def state(self) -> DomainState:
        info = self._info()
        vcpus = tuple(self._vcpu(i) for i in range(info.max_vcpu_id + 1) if self._online(i))
        tail = PvTail(self._tsc(), bytes(self._shinfo.view), vcpus)
        return DomainState(self._cpu_policy(), tail)

    # ------------------------------------------------------------ vCPUs
    def _online(self, vcpu: int) -> bool:
        up = self.h.lib.xs_xen_vcpu_online(self.h.xch, self.domid, vcpu)
        self._check(up, f"reading vCPU {vcpu}'s state")
        return bool(up)

    def _vcpu(self, vcpu: int) -> libxc_pv.PvVcpu:
        ffi, lib, xch = self.h.ffi, self.h.lib, self.h.xch
        ctx = ffi.new("uint8_t[]", lib.XS_PV_CONTEXT_SIZE)
        self._check(lib.xs_xen_vcpu_context(xch, self.domid, vcpu, ctx),
                    f"reading vCPU {vcpu}'s context")
        basic = self._normalise_context(bytearray(ffi.buffer(ctx)), vcpu)
        ext = ffi.new("uint8_t[]", lib.XS_PV_EXT_CONTEXT_MAX)
        ext_size = ffi.new("uint32_t *")
        self._check(lib.xs_xen_vcpu_extended(xch, self.domid, vcpu, ext, ext_size),
                    f"reading vCPU {vcpu}'s extended context")
        return libxc_pv.PvVcpu(vcpu, basic, bytes(ffi.buffer(ext, ext_size[0])),
                               self._vcpu_blob(lib.xs_xen_vcpu_xsave, vcpu, "xsave state"),
                               self._vcpu_blob(lib.xs_xen_vcpu_msrs, vcpu, "MSRs"))

    def _vcpu_blob(self, call, vcpu: int, what: str) -> bytes:
        """A blob the hypervisor sizes first; empty when the vCPU has none."""
        ffi = self.h.ffi
        size = ffi.new("uint64_t *")
        self._check(call(self.h.xch, self.domid, vcpu, ffi.NULL, size),
                    f"sizing vCPU {vcpu}'s {what}")
        if not size[0]:
            return b""
        buf = ffi.new("uint8_t[]", size[0])
        self._check(call(self.h.xch, self.domid, vcpu, buf, size), f"reading vCPU {vcpu}'s {what}")
        return bytes(ffi.buffer(buf, size[0]))

    def _normalise_context(self, ctx: bytearray, vcpu: int) -> bytes:
        """The frames a vCPU context names, as pfns: the start info page
        (vCPU 0's rdx, by the suspend convention), the GDT frames, cr3 and
        the user page table in cr1."""
        lib = self.h.lib

        def field(offset: int, value: int | None = None) -> int:
            if value is not None:
                struct.pack_into("<Q", ctx, offset, value)
            return struct.unpack_from("<Q", ctx, offset)[0]

        if vcpu == 0:
            rdx = lib.XS_PV_CONTEXT_RDX
            field(rdx, self._pfn(field(rdx), "the start info page"))
        ents = field(lib.XS_PV_CONTEXT_GDT_ENTS)
        if ents > lib.XS_PV_GDT_ENTRIES_MAX:
            raise BackendError(f"{self.name}: vCPU {vcpu} has {ents} GDT entries, "
                               f"over Xen's {lib.XS_PV_GDT_ENTRIES_MAX}")
        for i in range((ents + 511) // 512):
            at = lib.XS_PV_CONTEXT_GDT_FRAMES + 8 * i
            field(at, self._pfn(field(at), f"vCPU {vcpu}'s GDT frame {i}"))
        cr3 = lib.XS_PV_CONTEXT_CTRLREG + 8 * 3
        field(cr3, self._pfn(field(cr3) >> 12, f"vCPU {vcpu}'s cr3") << 12)
        cr1 = lib.XS_PV_CONTEXT_CTRLREG + 8
        if field(cr1):
            field(cr1, 1 | self._pfn(field(cr1) >> 12, f"vCPU {vcpu}'s user page table") << 12)
        return bytes(ctx)
