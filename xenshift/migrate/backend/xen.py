"""The Xen backend: a dom0's domains through libxenctrl and
libxenforeignmemory (cffi, ``xenshift.native._xenctrl``).

Sources save the way libxenguest does (xen_source for what every guest
shares and HVM guests, xen_pv for 64-bit PV guests); on the receiving side
libxl builds the domain: xen_incoming replays the received stream, plain
whatever extensions carried it, into ``xl migrate-receive``.  A plain
stream can also go straight to ``xl migrate-receive``/``xl restore``.

Everything that touches the hypervisor goes through ``lib`` and ``ffi``, so
the unit tests pass a fake library at exactly that boundary; the few xl
and xenstore commands go through ``Toolstack`` (xen_host).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xenshift.migrate.backend.base import Backend, DestDomain, DomainInfo
from xenshift.migrate.backend.xen_host import Handles, Toolstack, dominfo
from xenshift.migrate.backend.xen_incoming import XenIncoming
from xenshift.migrate.backend.xen_pv import XenPvSource
from xenshift.migrate.backend.xen_source import XenHvmSource, XenSource
from xenshift.migrate.errors import NotXenHostError
from xenshift.migrate.stream import libxc
from xenshift.migrate.stream.writer import CpuPolicy

CAPABILITIES = Path("/proc/xen/capabilities")


def is_xen_host() -> bool:
    """Whether this machine is a Xen control domain (dom0)."""
    try:
        return "control_d" in CAPABILITIES.read_text()
    except OSError:
        return False


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
        self.toolstack = toolstack or Toolstack(ffi, lib)

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

    def open_source(self, name: str) -> XenSource:
        """An HVM/PVH guest or a 64-bit PV guest, by its type."""
        domid = self.toolstack.domid(name)
        info = dominfo(self.h, domid)
        if info.hvm:
            return XenHvmSource(self.h, self.toolstack, domid, name)
        return XenPvSource(self.h, self.toolstack, domid, name, info)

    def create_incoming(self, config: dict[str, Any], name: str, pages: int,
                        domain: libxc.DomainHeader, policy: CpuPolicy) -> DestDomain:
        return XenIncoming(self, self.h, self.toolstack, config, name, pages, domain, policy)
