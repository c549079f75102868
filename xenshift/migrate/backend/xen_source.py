"""A Xen domain as the source of a save or migration, the way
``xg_sr_save.c`` drives it: the CPU policy, log-dirty through
``xc_shadow_control``/``xc_logdirty_control``, batches mapped with
``xenforeignmemory_map``, suspend, then the guest type's tail.

``XenSource`` holds what HVM and PV guests share; ``XenHvmSource`` adds an
HVM guest's memory by pfn, suspend through the hypervisor, the HVM context,
HVM params and the device model's state (xen_devicemodel); a PV guest is
``xen_pv.XenPvSource``.
"""

from __future__ import annotations

import struct
import time
from typing import Any

from xenshift.migrate.backend.base import DomainState, MappedPages, SourceDomain
from xenshift.migrate.backend.xen_devicemodel import DeviceModel
from xenshift.migrate.backend.xen_host import PROT_READ, Handles, Toolstack, dominfo
from xenshift.migrate.checksum import context_hash, format_checksum, memory_hash
from xenshift.migrate.errors import BackendError
from xenshift.migrate.stream import libxc
from xenshift.migrate.stream.libxl import DeviceModelState
from xenshift.migrate.stream.writer import CpuPolicy, StreamTail
from xenshift.native import PAGE_SIZE
from xenshift.native import lib as core

# public/domctl.h and sched.h
SHADOW_OP_OFF = 0
SHADOW_OP_ENABLE_LOGDIRTY = 2
SHADOW_OP_CLEAN = 11
SHADOW_LOGDIRTY_FINAL = 1 << 0
SHUTDOWN_SUSPEND = 2
SUSPEND_TIMEOUT = 30.0
# The HVM params xg_sr_save_x86_hvm.c saves (non-zero ones only), in its
# order: STORE_PFN, IOREQ_PFN, BUFIOREQ_PFN, PAGING/MONITOR/SHARING_RING_PFN,
# VM86_TSS_SIZED, CONSOLE_PFN, ACPI_IOPORTS_LOCATION, VIRIDIAN, IDENT_PT,
# VM_GENERATION_ID_ADDR, IOREQ_SERVER_PFN, NR_IOREQ_SERVER_PAGES,
# X87_FIP_WIDTH, MCA_CAP (public/hvm/params.h).  Xen 4.17 refuses to read
# deprecated ones such as PAE_ENABLED (4).
SAVED_HVM_PARAMS = (1, 5, 6, 27, 28, 29, 37, 17, 19, 9, 12, 34, 32, 33, 36, 38)
PFN_MASK = (1 << 52) - 1  # of a PAGE_DATA word
HVM_PARAM_CALLBACK_IRQ = 0
# STORE_PFN, CONSOLE_PFN, IOREQ_PFN, BUFIOREQ_PFN: pages libxc's restore clears.
CLEARED_BY_RESTORE = (1, 17, 5, 6)


class ForeignPages(MappedPages):
    """Guest frames mapped with ``xenforeignmemory_map``."""

    def __init__(self, h: Handles, addr, count: int):
        self.h, self.addr, self.count = h, addr, count
        self.view = memoryview(h.ffi.buffer(addr, count * PAGE_SIZE))

    def release(self) -> None:
        if self.addr is not None:
            self.view.release()
            self.h.lib.xenforeignmemory_unmap(self.h.fmem, self.addr, self.count)
            self.addr = None


class TypedPages(MappedPages):
    """Mapped pages of a batch with holes: the PAGE_DATA words of the whole
    batch, the data of those with some (``pages``' mapping)."""

    def __init__(self, words: memoryview, pages: MappedPages | None):
        self.words, self.pages = words, pages
        self.view = pages.view if pages else memoryview(b"")
        self.count = pages.count if pages else 0

    def release(self) -> None:
        if self.pages is not None:
            self.pages.release()


def map_frames(h: Handles, domid: int, frames, count: int, what: str) -> ForeignPages:
    """Map ``count`` frames (a ``xen_pfn_t``/``uint64_t`` array: pfns of an
    HVM guest, mfns of a PV one) read-only, or BackendError naming ``what``."""
    ffi, lib = h.ffi, h.lib
    err = ffi.new("int[]", count)
    addr = lib.xenforeignmemory_map(h.fmem, domid, PROT_READ, count,
                                    ffi.cast("xen_pfn_t *", frames), err)
    if addr == ffi.NULL:
        raise BackendError(f"cannot map {count} {what}")
    pages = ForeignPages(h, addr, count)
    bad = next((i for i in range(count) if err[i]), None)
    if bad is not None:
        pages.release()
        raise BackendError(f"{what}: frame {int(frames[bad]):#x} cannot be mapped")
    return pages


class XenSource(SourceDomain):
    """What saving any Xen guest takes, whatever its type."""

    def __init__(self, h: Handles, toolstack: Toolstack, domid: int, name: str):
        self.h = h
        self.toolstack = toolstack
        self.domid = domid
        self.name = name
        self.pages = 0  # set by the guest type

    def _check(self, rc: int, what: str) -> None:
        if rc < 0:
            raise BackendError(f"{self.name}: {what} failed")

    def _info(self):
        return dominfo(self.h, self.domid)

    def config(self) -> dict[str, Any]:
        return self.toolstack.config(self.domid)

    def _header(self, guest_type: int) -> libxc.DomainHeader:
        major, minor = self.h.ffi.new("uint32_t *"), self.h.ffi.new("uint32_t *")
        self._check(self.h.lib.xs_xen_version(self.h.xch, major, minor), "xc_version")
        return libxc.DomainHeader(guest_type, major[0], minor[0])

    def enable_logdirty(self) -> None:
        ffi, lib = self.h.ffi, self.h.lib
        if lib.xc_shadow_control(self.h.xch, self.domid, SHADOW_OP_ENABLE_LOGDIRTY,
                                 ffi.NULL, 0) < 0:
            # As xg_sr_save.c: VRAM tracking may hold shadow mode; off, then retry.
            lib.xc_shadow_control(self.h.xch, self.domid, SHADOW_OP_OFF, ffi.NULL, 0)
            if lib.xc_shadow_control(self.h.xch, self.domid, SHADOW_OP_ENABLE_LOGDIRTY,
                                     ffi.NULL, 0) < 0:
                self._logdirty_failed(ffi.errno)

    def _logdirty_failed(self, err: int) -> None:
        raise BackendError(f"{self.name}: enabling log-dirty mode failed")

    def disable_logdirty(self) -> None:
        self.h.lib.xc_shadow_control(self.h.xch, self.domid, SHADOW_OP_OFF, self.h.ffi.NULL, 0)

    def clean_dirty(self, bitmap, final: bool = False) -> int:
        count = self.h.ffi.new("uint32_t *")
        rc = self.h.lib.xs_xen_logdirty(self.h.xch, self.domid, SHADOW_OP_CLEAN, bitmap,
                                        self.pages, SHADOW_LOGDIRTY_FINAL if final else 0, count)
        self._check(rc, "cleaning the log-dirty bitmap")
        return int(count[0])

    def _ask_to_suspend(self) -> None:
        """libxl's cooperative suspend: the guest's PV drivers see
        ``control/shutdown`` say ``suspend``, quiesce, and suspend
        themselves, so that they reconnect wherever the domain resumes."""
        self.toolstack.xenstore_write(f"/local/domain/{self.domid}/control/shutdown", "suspend")
        self._wait_suspended()

    def _wait_suspended(self) -> None:
        """Until the domain is shut down for suspension (bounded)."""
        deadline = time.monotonic() + SUSPEND_TIMEOUT
        while True:
            info = self._info()
            if info.shutdown:
                if info.shutdown_reason != SHUTDOWN_SUSPEND:
                    raise BackendError(f"{self.name} shut down (reason "
                                       f"{info.shutdown_reason}) instead of suspending")
                return
            if time.monotonic() > deadline:
                raise BackendError(f"{self.name} did not suspend within {SUSPEND_TIMEOUT:.0f} s")
            time.sleep(0.001)

    def resume(self) -> None:
        if self._info().shutdown:
            # Fast (cooperative) resume: the guest sees its suspend hypercall
            # return as cancelled and goes on where it was.
            self._check(self.h.lib.xc_domain_resume(self.h.xch, self.domid, 1), "resuming")

    def _tsc(self) -> libxc.TscInfo:
        ffi, lib = self.h.ffi, self.h.lib
        mode, khz, inc = (ffi.new("uint32_t *") for _ in range(3))
        nsec = ffi.new("uint64_t *")
        self._check(lib.xc_domain_get_tsc_info(self.h.xch, self.domid, mode, nsec, khz, inc),
                    "reading TSC info")
        return libxc.TscInfo(mode[0], khz[0], nsec[0], inc[0])

    def _cpu_policy(self) -> CpuPolicy:
        """The CPUID and MSR policy the guest runs with: without it the
        destination would apply its own default, and the guest could see
        its CPU change under it."""
        ffi, lib, xch = self.h.ffi, self.h.lib, self.h.xch
        nr_leaves, nr_msrs = ffi.new("uint32_t *"), ffi.new("uint32_t *")
        self._check(lib.xc_cpu_policy_get_size(xch, nr_leaves, nr_msrs),
                    "sizing the CPU policy")
        leaf, msr = libxc.CPUID_ENTRY_SIZE, libxc.MSR_ENTRY_SIZE
        leaves = ffi.new("uint8_t[]", nr_leaves[0] * leaf)
        msrs = ffi.new("uint8_t[]", nr_msrs[0] * msr)
        self._check(lib.xs_xen_cpu_policy(xch, self.domid, leaves, nr_leaves, msrs, nr_msrs),
                    "reading the CPU policy")
        return CpuPolicy(bytes(ffi.buffer(leaves, nr_leaves[0] * leaf)),
                         bytes(ffi.buffer(msrs, nr_msrs[0] * msr)))

    def _chunk(self, first: int, n: int) -> memoryview:
        """The bytes ``checksum`` hashes for pfns ``first..first+n-1``: the
        pages' data, after their typed words when the batch has them (PV
        page types, holes); mfns differ between hosts, pfns do not."""
        pfns = self.h.ffi.new("uint64_t[]", list(range(first, first + n)))
        with self.map_pages(pfns, n) as pages:
            words = bytes(pages.words) if pages.words is not None else b""
            return memoryview(words + self._hashed_data(pages, first, n))

    def _hashed_data(self, pages: MappedPages, first: int, n: int) -> bytes:
        """The data of a chunk's pages as ``checksum`` hashes it."""
        return bytes(pages.view)

    def checksum(self) -> str:
        return format_checksum(memory_hash(self.pages, self._chunk),
                               context_hash(self.state().tail))

    def rename(self, name: str) -> None:
        self.toolstack.rename(self.domid, name)
        self.name = name

    def destroy(self) -> None:
        self.toolstack.destroy(self.domid)


class XenHvmSource(XenSource):
    """An HVM (or PVH) guest."""

    def __init__(self, h: Handles, toolstack: Toolstack, domid: int, name: str):
        super().__init__(h, toolstack, domid, name)
        gpfn = h.ffi.new("xen_pfn_t *")
        if h.lib.xc_domain_maximum_gpfn(h.xch, domid, gpfn) < 0:
            raise BackendError(f"{name}: cannot read the highest guest pfn")
        self.pages = int(gpfn[0]) + 1
        self.device_model = DeviceModel(domid, toolstack)
        self._cleared: set[int] | None = None
        self._device_saved = False
        self._device_state: DeviceModelState | None = None

    def domain_header(self) -> libxc.DomainHeader:
        return self._header(libxc.DHDR_TYPE_X86_HVM)

    def _hashed_data(self, pages: MappedPages, first: int, n: int) -> bytes:
        # libxc's restore clears the xenstore, console and ioreq pages (and
        # xenstored writes to the first again): they differ by design.
        if self._cleared is None:
            value = self.h.ffi.new("uint64_t *")
            self._cleared = set()
            for index in CLEARED_BY_RESTORE:
                self._check(self.h.lib.xc_hvm_param_get(self.h.xch, self.domid, index, value),
                            f"reading HVM param {index}")
                self._cleared.add(int(value[0]))
        data = bytearray(pages.view)
        if any(first <= pfn < first + n for pfn in self._cleared):
            held = (range(first, first + n) if pages.words is None else
                    [w & PFN_MASK for (w,) in struct.iter_unpack("<Q", pages.words)
                     if w >> 60 < core.XS_PV_TYPE_BROKEN])
            for i, pfn in enumerate(held):
                if pfn in self._cleared:
                    data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE] = bytes(PAGE_SIZE)
        return bytes(data)

    def map_pages(self, pfns, count: int) -> MappedPages:
        # As xg_sr_save.c does: the pages' types first, so that holes in the
        # physmap (VGA's at 0xa0-0xbf, MMIO below 4 GiB) go as XTAB words
        # without data instead of failing to map.
        ffi, lib = self.h.ffi, self.h.lib
        types = ffi.new("xen_pfn_t[]", count)
        ffi.memmove(types, pfns, 8 * count)
        self._check(lib.xc_get_pfn_type_batch(self.h.xch, self.domid, count, types),
                    "reading page types")
        kinds = [(types[i] >> core.XS_PV_TYPE_SHIFT) & 0xF for i in range(count)]
        what = f"pages of {self.name}"
        if not any(kinds):
            return map_frames(self.h, self.domid, pfns, count, what)
        with_data = [pfns[i] for i in range(count) if kinds[i] < core.XS_PV_TYPE_BROKEN]
        words = ffi.new("uint64_t[]", [pfns[i] | kinds[i] << 60 for i in range(count)])
        mapped = map_frames(self.h, self.domid, ffi.new("uint64_t[]", with_data),
                            len(with_data), what) if with_data else None
        return TypedPages(memoryview(ffi.buffer(words, 8 * count)), mapped)

    def suspend(self) -> None:
        # As libxl: a guest with PV drivers (its event channel callback set)
        # is asked through xenstore; suspended from outside, its PV console
        # and devices would stay bound to the source host's channels.
        value = self.h.ffi.new("uint64_t *")
        self._check(self.h.lib.xc_hvm_param_get(self.h.xch, self.domid, HVM_PARAM_CALLBACK_IRQ,
                                                value), "reading the PV callback")
        if value[0]:
            self._ask_to_suspend()
            return
        self._check(self.h.lib.xc_domain_shutdown(self.h.xch, self.domid, SHUTDOWN_SUSPEND),
                    "suspending")
        self._wait_suspended()

    def resume(self) -> None:
        super().resume()
        self.device_model.resume()
        self._device_saved, self._device_state = False, None

    def state(self) -> DomainState:
        ffi, lib, xch = self.h.ffi, self.h.lib, self.h.xch
        size = lib.xc_domain_hvm_getcontext(xch, self.domid, ffi.NULL, 0)
        self._check(size, "sizing the HVM context")
        buf = ffi.new("uint8_t[]", size)
        size = lib.xc_domain_hvm_getcontext(xch, self.domid, buf, size)
        self._check(size, "reading the HVM context")
        params = []
        value = ffi.new("uint64_t *")
        for index in SAVED_HVM_PARAMS:
            self._check(lib.xc_hvm_param_get(xch, self.domid, index, value),
                        f"reading HVM param {index}")
            params.append((index, int(value[0])))
        tail = StreamTail(self._tsc(), bytes(ffi.buffer(buf, size)),
                          libxc.HvmParams(tuple(params)), self._device_model_state())
        return DomainState(self._cpu_policy(), tail)

    def _device_model_state(self) -> DeviceModelState | None:
        """QEMU's state, taken once the guest is suspended (before, the
        stream's prologue needs only the CPU policy)."""
        if not self._device_saved and self._info().shutdown:
            self._device_state = self.device_model.save()
            self._device_saved = True
        return self._device_state
