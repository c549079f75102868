"""The Xen backend: a dom0's domains through libxenctrl and
libxenforeignmemory (cffi, ``xenshift.native._xenctrl``).

It implements the source side of the save loop the way ``xg_sr_save.c``
does: the CPU policy, log-dirty through ``xc_shadow_control``/
``xc_logdirty_control``, batches mapped with ``xenforeignmemory_map``,
suspend, then the HVM context, TSC info and HVM params, and the device
model's state (xen_devicemodel) as libxl adds it.  On the receiving side
libxl builds the domain: xen_incoming replays the received stream, plain
whatever extensions carried it, into ``xl migrate-receive``.  A plain
stream can also go straight to ``xl migrate-receive``/``xl restore``.

Everything that touches the hypervisor goes through ``lib`` and ``ffi``, so
the unit tests pass a fake library at exactly that boundary; the few xl
and xenstore commands go through ``Toolstack``.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from xenshift.migrate.backend.base import (
    Backend, DestDomain, DomainInfo, DomainState, MappedPages, SourceDomain)
from xenshift.migrate.backend.xen_devicemodel import DeviceModel
from xenshift.migrate.backend.xen_incoming import XenIncoming
from xenshift.migrate.checksum import context_hash, format_checksum, memory_hash
from xenshift.migrate.errors import BackendError, DomainNotFoundError, NotXenHostError
from xenshift.migrate.stream import libxc
from xenshift.migrate.stream.libxl import DeviceModelState
from xenshift.migrate.stream.writer import CpuPolicy, StreamTail
from xenshift.native import PAGE_SIZE

CAPABILITIES = Path("/proc/xen/capabilities")

# public/domctl.h and sched.h
SHADOW_OP_OFF = 0
SHADOW_OP_ENABLE_LOGDIRTY = 2
SHADOW_OP_CLEAN = 11
SHADOW_LOGDIRTY_FINAL = 1 << 0
SHUTDOWN_SUSPEND = 2
PROT_READ = 1
SUSPEND_TIMEOUT = 30.0
# The HVM params xg_sr_save_x86_hvm.c saves (non-zero ones only).
SAVED_HVM_PARAMS = (1, 2, 4, 5, 6, 9, 10, 11, 12, 17, 19, 20, 21, 23, 24, 25)


def is_xen_host() -> bool:
    """Whether this machine is a Xen control domain (dom0)."""
    try:
        return "control_d" in CAPABILITIES.read_text()
    except OSError:
        return False


class Toolstack:
    """The xl and xenstore commands the backend needs besides libxenctrl."""

    def run(self, *args: str) -> str:
        """``xl ARGS``' output, or BackendError."""
        return self._command("xl", *args)

    def _command(self, *argv: str) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise BackendError(f"{' '.join(argv)}: {err}") from None
        if out.returncode:
            raise BackendError(f"{' '.join(argv)}: {out.stderr.strip()}")
        return out.stdout

    def migrate_receive(self, log: BinaryIO) -> subprocess.Popen:
        """``xl migrate-receive -p``: builds a domain, paused, from the xl
        stream on its stdin, speaking xl's handshake on its stdout; its
        messages go to ``log``."""
        try:
            return subprocess.Popen(["xl", "migrate-receive", "-p"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=log, bufsize=0)
        except OSError as err:
            raise BackendError(f"xl migrate-receive: {err.strerror}") from None

    def xenstore_list(self, path: str) -> list[str]:
        """The children of ``path``; none if it does not exist."""
        try:
            return self._command("xenstore-list", path).split()
        except BackendError:
            return []

    def xenstore_read(self, path: str) -> str | None:
        try:
            return self._command("xenstore-read", path).rstrip("\n")
        except BackendError:
            return None

    def domid(self, name: str) -> int:
        try:
            return int(name) if name.isdigit() else int(self.run("domid", name))
        except (BackendError, ValueError):
            raise DomainNotFoundError(f"no Xen domain called {name}") from None

    def name(self, domid: int) -> str:
        return self.run("domname", str(domid)).strip()

    def config(self, domid: int) -> dict[str, Any]:
        """libxl's JSON domain config, as xl migrate sends it."""
        data = json.loads(self.run("list", "-l", str(domid)))
        return data[0]["config"]

    def rename(self, domid: int, name: str) -> None:
        self.run("rename", str(domid), name)

    def destroy(self, domid: int) -> None:
        self.run("destroy", str(domid))


def _load_library():
    if not is_xen_host():
        raise NotXenHostError(
            "this is not a Xen host: /proc/xen/capabilities shows no control domain "
            "(dom0); use --backend sim here")
    try:
        from xenshift.native._xenctrl import ffi, lib
    except ImportError:
        raise NotXenHostError("xenshift was built without Xen's headers "
                              "(install libxen-dev and reinstall)") from None
    return ffi, lib


@dataclass(frozen=True)
class Handles:
    """Open libxenctrl and libxenforeignmemory handles plus the binding."""

    ffi: Any
    lib: Any
    xch: Any
    fmem: Any


class XenBackend(Backend):
    name = "xen"

    def __init__(self, ffi=None, lib=None, toolstack: Toolstack | None = None):
        if lib is None:
            ffi, lib = _load_library()
        xch = lib.xc_interface_open(ffi.NULL, ffi.NULL, 0)
        fmem = lib.xenforeignmemory_open(ffi.NULL, 0)
        if xch == ffi.NULL or fmem == ffi.NULL:
            raise NotXenHostError("cannot open libxenctrl/libxenforeignmemory: "
                                  "is this a Xen host, and are you root?")
        self.h = Handles(ffi, lib, xch, fmem)
        self.toolstack = toolstack or Toolstack()

    def dominfo(self, domid: int):
        info = self.h.ffi.new("struct xs_xen_dominfo[1]")
        if self.h.lib.xs_xen_dominfo(self.h.xch, domid, info, 1) != 1 or info[0].domid != domid:
            raise DomainNotFoundError(f"no Xen domain with id {domid}")
        return info[0]

    def list_domains(self) -> list[DomainInfo]:
        ffi, lib = self.h.ffi, self.h.lib
        out, first = [], 0
        buf = ffi.new("struct xs_xen_dominfo[64]")
        while True:
            n = lib.xs_xen_dominfo(self.h.xch, first, buf, 64)
            for i in range(max(n, 0)):
                d = buf[i]
                out.append(DomainInfo(self.toolstack.name(d.domid), d.domid,
                                      "paused" if d.paused else "running", d.nr_pages,
                                      d.max_vcpu_id + 1, "xen"))
            if n < 64:
                return out
            first = buf[n - 1].domid + 1

    def open_source(self, name: str) -> "XenSource":
        return XenSource(self, self.toolstack.domid(name), name)

    def create_incoming(self, config: dict[str, Any], name: str, pages: int,
                        domain: libxc.DomainHeader, policy: CpuPolicy) -> DestDomain:
        return XenIncoming(self, config, name, pages, domain, policy)


class _ForeignPages(MappedPages):
    def __init__(self, h: Handles, addr, count: int):
        self.h, self.addr, self.count = h, addr, count
        self.view = memoryview(h.ffi.buffer(addr, count * PAGE_SIZE))

    def release(self) -> None:
        if self.addr is not None:
            self.view.release()
            self.h.lib.xenforeignmemory_unmap(self.h.fmem, self.addr, self.count)
            self.addr = None


class XenSource(SourceDomain):
    def __init__(self, backend: XenBackend, domid: int, name: str):
        self.backend = backend
        self.h = backend.h
        self.domid = domid
        self.name = name
        info = backend.dominfo(domid)
        if not info.hvm:
            raise BackendError(f"{name} is a PV guest; this engine migrates HVM guests "
                               "(convert it first, or use xl migrate)")
        gpfn = self.h.ffi.new("xen_pfn_t *")
        if self.h.lib.xc_domain_maximum_gpfn(self.h.xch, domid, gpfn) < 0:
            raise BackendError(f"{name}: cannot read the highest guest pfn")
        self.pages = int(gpfn[0]) + 1
        self.device_model = DeviceModel(domid, backend.toolstack)
        self._device_saved = False
        self._device_state: DeviceModelState | None = None

    def _check(self, rc: int, what: str) -> None:
        if rc < 0:
            raise BackendError(f"{self.name}: {what} failed")

    def config(self) -> dict[str, Any]:
        return self.backend.toolstack.config(self.domid)

    def domain_header(self) -> libxc.DomainHeader:
        major, minor = self.h.ffi.new("uint32_t *"), self.h.ffi.new("uint32_t *")
        self._check(self.h.lib.xs_xen_version(self.h.xch, major, minor), "xc_version")
        return libxc.DomainHeader(libxc.DHDR_TYPE_X86_HVM, major[0], minor[0])

    def enable_logdirty(self) -> None:
        ffi, lib = self.h.ffi, self.h.lib
        if lib.xc_shadow_control(self.h.xch, self.domid, SHADOW_OP_ENABLE_LOGDIRTY,
                                 ffi.NULL, 0) < 0:
            # As xg_sr_save.c: VRAM tracking may hold shadow mode; off, then retry.
            lib.xc_shadow_control(self.h.xch, self.domid, SHADOW_OP_OFF, ffi.NULL, 0)
            self._check(lib.xc_shadow_control(self.h.xch, self.domid,
                                              SHADOW_OP_ENABLE_LOGDIRTY, ffi.NULL, 0),
                        "enabling log-dirty mode")

    def disable_logdirty(self) -> None:
        self.h.lib.xc_shadow_control(self.h.xch, self.domid, SHADOW_OP_OFF, self.h.ffi.NULL, 0)

    def clean_dirty(self, bitmap, final: bool = False) -> int:
        count = self.h.ffi.new("uint32_t *")
        rc = self.h.lib.xs_xen_logdirty(self.h.xch, self.domid, SHADOW_OP_CLEAN, bitmap,
                                        self.pages, SHADOW_LOGDIRTY_FINAL if final else 0, count)
        self._check(rc, "cleaning the log-dirty bitmap")
        return int(count[0])

    def map_pages(self, pfns, count: int) -> MappedPages:
        ffi, lib = self.h.ffi, self.h.lib
        err = ffi.new("int[]", count)
        addr = lib.xenforeignmemory_map(self.h.fmem, self.domid, PROT_READ, count,
                                        ffi.cast("xen_pfn_t *", pfns), err)
        if addr == ffi.NULL:
            raise BackendError(f"{self.name}: cannot map {count} guest pages")
        pages = _ForeignPages(self.h, addr, count)
        bad = [i for i in range(count) if err[i]]
        if bad:
            pages.release()
            raise BackendError(f"{self.name}: guest pfn {pfns[bad[0]]:#x} cannot be mapped")
        return pages

    def suspend(self) -> None:
        self._check(self.h.lib.xc_domain_shutdown(self.h.xch, self.domid, SHUTDOWN_SUSPEND),
                    "suspending")
        deadline = time.monotonic() + SUSPEND_TIMEOUT
        while not self.backend.dominfo(self.domid).shutdown:
            if time.monotonic() > deadline:
                raise BackendError(f"{self.name} did not suspend within {SUSPEND_TIMEOUT:.0f} s")
            time.sleep(0.001)

    def resume(self) -> None:
        if self.backend.dominfo(self.domid).shutdown:
            self._check(self.h.lib.xc_domain_resume(self.h.xch, self.domid, 1), "resuming")
        self.device_model.resume()
        self._device_saved, self._device_state = False, None

    def state(self) -> DomainState:
        ffi, lib, xch = self.h.ffi, self.h.lib, self.h.xch
        size = lib.xc_domain_hvm_getcontext(xch, self.domid, ffi.NULL, 0)
        self._check(size, "sizing the HVM context")
        buf = ffi.new("uint8_t[]", size)
        size = lib.xc_domain_hvm_getcontext(xch, self.domid, buf, size)
        self._check(size, "reading the HVM context")
        mode, khz, inc = (ffi.new("uint32_t *") for _ in range(3))
        nsec = ffi.new("uint64_t *")
        self._check(lib.xc_domain_get_tsc_info(xch, self.domid, mode, nsec, khz, inc),
                    "reading TSC info")
        params = []
        value = ffi.new("uint64_t *")
        for index in SAVED_HVM_PARAMS:
            self._check(lib.xc_hvm_param_get(xch, self.domid, index, value),
                        f"reading HVM param {index}")
            params.append((index, int(value[0])))
        tail = StreamTail(libxc.TscInfo(mode[0], khz[0], nsec[0], inc[0]),
                          bytes(ffi.buffer(buf, size)), libxc.HvmParams(tuple(params)),
                          self._device_model_state())
        return DomainState(self._cpu_policy(), tail)

    def _device_model_state(self) -> DeviceModelState | None:
        """QEMU's state, taken once the guest is suspended (before, the
        stream's prologue needs only the CPU policy)."""
        if not self._device_saved and self.backend.dominfo(self.domid).shutdown:
            self._device_state = self.device_model.save()
            self._device_saved = True
        return self._device_state

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

    def checksum(self) -> str:
        ffi = self.h.ffi

        def chunk(first: int, n: int) -> memoryview:
            pfns = ffi.new("uint64_t[]", list(range(first, first + n)))
            with self.map_pages(pfns, n) as pages:
                return memoryview(bytes(pages.view))

        return format_checksum(memory_hash(self.pages, chunk), context_hash(self.state().tail))

    def rename(self, name: str) -> None:
        self.backend.toolstack.rename(self.domid, name)
        self.name = name

    def destroy(self) -> None:
        self.backend.toolstack.destroy(self.domid)
