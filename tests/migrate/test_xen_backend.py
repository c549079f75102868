"""The xen backend's save loop with libxenctrl faked at the cffi boundary."""

from __future__ import annotations

import io
import os
import struct

import pytest

from xenshift.migrate.backend import xen
from xenshift.migrate.errors import NotXenHostError
from xenshift.migrate.outlet import Tee, XenOutlet
from xenshift.migrate.policy import XenPolicy
from xenshift.migrate.precopy import Precopy
from xenshift.migrate.stream import hvm_context
from xenshift.migrate.stream.framing import ExactReader
from xenshift.migrate.stream.reader import Format, read_stream
from xenshift.migrate.stream.writer import CpuPolicy
from xenshift.migrate.telemetry import Telemetry

xenctrl = pytest.importorskip("xenshift.native._xenctrl", reason="built without libxen-dev")
ffi = xenctrl.ffi
PAGES = 300
DOMID = 7


class FakeXen:
    """A hypervisor with one HVM guest whose memory changes between rounds."""

    def __init__(self):
        self.mem = bytearray(os.urandom(PAGES * 4096))
        self.dirty = set()
        self.calls = []
        self.shutdown = False
        self.logdirty = False
        self.maps = {}
        self.writes_per_clean = [120, 60, 10]

    def guest_writes(self, n):
        for pfn in os.urandom(n):
            pfn = pfn % PAGES
            self.mem[pfn * 4096:(pfn + 1) * 4096] = os.urandom(4096)
            if self.logdirty:
                self.dirty.add(pfn)

    # ---- the cffi surface the backend uses
    def xc_interface_open(self, *a):
        return ffi.cast("xc_interface *", 1)

    def xenforeignmemory_open(self, *a):
        return ffi.cast("xenforeignmemory_handle *", 2)

    def xs_xen_dominfo(self, xch, first, out, n):
        if first > DOMID:
            return 0
        out[0].domid, out[0].hvm, out[0].shutdown = DOMID, 1, int(self.shutdown)
        out[0].nr_pages, out[0].max_vcpu_id = PAGES, 0
        return 1

    def xc_domain_maximum_gpfn(self, xch, domid, gpfn):
        gpfn[0] = PAGES - 1
        return 0

    def xs_xen_version(self, xch, major, minor):
        major[0], minor[0] = 4, 17
        return 0

    def xc_shadow_control(self, xch, domid, op, mb, mode):
        self.calls.append(("shadow", op))
        self.logdirty = op == xen.SHADOW_OP_ENABLE_LOGDIRTY
        return 0

    def xs_xen_logdirty(self, xch, domid, op, bitmap, pages, mode, count):
        self.calls.append(("logdirty", op, mode))
        if not self.shutdown and self.writes_per_clean:
            self.guest_writes(self.writes_per_clean.pop(0))
        for w in range((pages + 63) // 64):
            bitmap[w] = 0
        for pfn in self.dirty:
            bitmap[pfn // 64] |= 1 << (pfn % 64)
        count[0] = len(self.dirty)
        self.dirty.clear()
        return 0

    def xenforeignmemory_map(self, fmem, domid, prot, n, pfns, err):
        buf = ffi.new("uint8_t[]", n * 4096)
        for i in range(n):
            p = pfns[i]
            ffi.memmove(buf + i * 4096, self.mem[p * 4096:(p + 1) * 4096], 4096)
            err[i] = 0
        self.maps[int(ffi.cast("uintptr_t", buf))] = buf
        return buf

    def xenforeignmemory_unmap(self, fmem, addr, n):
        del self.maps[int(ffi.cast("uintptr_t", addr))]
        return 0

    def xc_domain_shutdown(self, xch, domid, reason):
        self.calls.append(("shutdown", reason))
        self.shutdown = True
        return 0

    def xc_domain_resume(self, xch, domid, fast):
        self.shutdown = False
        return 0

    CONTEXT = hvm_context.build([hvm_context.header_entry(),
                                 hvm_context.Entry(hvm_context.CODE_CPU, 0, bytes(1032))])

    def xc_domain_hvm_getcontext(self, xch, domid, buf, size):
        if buf == ffi.NULL:
            return len(self.CONTEXT)
        ffi.memmove(buf, self.CONTEXT, len(self.CONTEXT))
        return len(self.CONTEXT)

    def xc_domain_get_tsc_info(self, xch, domid, mode, nsec, khz, inc):
        mode[0], nsec[0], khz[0], inc[0] = 0, 5, 3000000, 1
        return 0

    # Three CPUID leaves and two MSRs, as xc_cpu_policy_serialise lays them out.
    LEAVES = struct.pack("<6I", 0, 0xffffffff, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69) + \
        struct.pack("<6I", 1, 0xffffffff, 0x806f8, 0x800, 0xfffa3203, 0x178bfbff) + \
        struct.pack("<6I", 7, 0, 0, 0x219c07ab, 0, 0)
    MSRS = struct.pack("<IIQ", 0xce, 0, 1 << 31) + struct.pack("<IIQ", 0x10a, 0, 0)

    def xc_cpu_policy_get_size(self, xch, nr_leaves, nr_msrs):
        nr_leaves[0], nr_msrs[0] = 8, 4  # room for more than the guest has
        return 0

    def xs_xen_cpu_policy(self, xch, domid, leaves, nr_leaves, msrs, nr_msrs):
        assert domid == DOMID
        assert nr_leaves[0] * 24 >= len(self.LEAVES) and nr_msrs[0] * 16 >= len(self.MSRS)
        ffi.memmove(leaves, self.LEAVES, len(self.LEAVES))
        ffi.memmove(msrs, self.MSRS, len(self.MSRS))
        nr_leaves[0], nr_msrs[0] = len(self.LEAVES) // 24, len(self.MSRS) // 16
        return 0

    def xc_hvm_param_get(self, xch, domid, index, value):
        value[0] = {1: PAGES - 1, 17: PAGES - 2}.get(index, 0)
        return 0


class FakeToolstack(xen.Toolstack):
    def domid(self, name):
        return DOMID

    def config(self, domid):
        return {"c_info": {"type": "hvm", "name": "guest"},
                "b_info": {"max_vcpus": 1, "max_memkb": PAGES * 4}}


class Memory:
    def __init__(self):
        self.mem = bytearray(PAGES * 4096)

    def begin(self, config, domain):
        assert (domain.xen_major, domain.xen_minor) == (4, 17)
        return PAGES

    def page_data(self, head, reader, verify):
        words = [int.from_bytes(head.pfn_words[i:i + 8], "little") for i in range(0, 8 * head.count, 8)]
        for p in words:
            self.mem[p * 4096:(p + 1) * 4096] = reader.read(4096, "page")


def test_save_loop_against_fake_libxenctrl():
    fake = FakeXen()
    backend = xen.XenBackend(ffi, fake, FakeToolstack())
    source = backend.open_source("guest")
    out = io.BytesIO()
    pre = Precopy(source, XenOutlet(None, Tee(out)), XenPolicy(), Telemetry(bar=False))
    pre.send_prologue()
    result = pre.run()
    assert fake.shutdown and not fake.maps  # suspended; every mapping released
    ops = [c for c in fake.calls if c[0] != "logdirty"]
    assert ops[0] == ("shadow", xen.SHADOW_OP_ENABLE_LOGDIRTY)
    cleans = [c for c in fake.calls if c[0] == "logdirty"]
    assert all(c[1] == xen.SHADOW_OP_CLEAN for c in cleans)
    assert cleans[-1][2] == xen.SHADOW_LOGDIRTY_FINAL and cleans[0][2] == 0
    assert ("shutdown", xen.SHUTDOWN_SUSPEND) in fake.calls
    assert [r.dirty_pages for r in result.rounds][0] > 0
    # The stream, read back, rebuilds the guest as it was at suspension.
    sink = Memory()
    contents = read_stream(ExactReader(io.BytesIO(out.getvalue())), sink, Format.XL)
    assert contents.config["c_info"]["name"] == "guest"
    assert sink.mem == fake.mem
    assert contents.tail.hvm_context == FakeXen.CONTEXT
    assert dict(contents.tail.hvm_params.params) == {1: PAGES - 1, 17: PAGES - 2}
    # The guest's CPU policy travels, so the destination does not impose its own.
    assert contents.policy == CpuPolicy(FakeXen.LEAVES, FakeXen.MSRS)
    source.resume()
    assert not fake.shutdown


def test_not_a_xen_host(monkeypatch, tmp_path):
    monkeypatch.setattr(xen, "CAPABILITIES", tmp_path / "missing")
    with pytest.raises(NotXenHostError, match="this is not a Xen host"):
        xen.XenBackend()
