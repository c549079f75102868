"""The xen backend's save loop with libxenctrl faked at the cffi boundary."""

from __future__ import annotations

import errno
import io
import json
import os
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from xenshift.migrate.backend import xen, xen_devicemodel, xen_host, xen_source
from xenshift.migrate import session
from xenshift.migrate.errors import (
    BackendError, DomainNotFoundError, MigrationError, NotXenHostError)
from xenshift.migrate.transport import SocketConnection
from xenshift.migrate.outlet import Tee, XenOutlet
from xenshift.migrate.policy import XenPolicy
from xenshift.migrate.precopy import Precopy
from xenshift.migrate.stream import hvm_context, libxc, libxc_pv, libxl
from xenshift.migrate.stream.framing import ExactReader
from xenshift.migrate.stream.libxl import DeviceModelState
from xenshift.migrate.stream.reader import Format, read_stream
from xenshift.migrate.stream.writer import CpuPolicy
from xenshift.migrate.telemetry import Telemetry

xenctrl = pytest.importorskip("xenshift.native._xenctrl", reason="built without libxen-dev")
ffi = xenctrl.ffi
PAGES = 300
DOMID = 7
HOLES = range(0xa0, 0xc0)  # the VGA hole of an HVM guest's physmap: no RAM there
VERIFIER = Path("/usr/lib/xen-4.17/bin/verify-stream-v2")


class FakeXen:
    """A hypervisor with one HVM guest whose memory changes between rounds."""

    def __init__(self):
        self.mem = bytearray(os.urandom(PAGES * 4096))
        self.mem[HOLES.start * 4096:HOLES.stop * 4096] = bytes(len(HOLES) * 4096)
        self.dirty = set()
        self.calls = []
        self.shutdown = False
        self.logdirty = False
        self.maps = {}
        self.writes_per_clean = [120, 60, 10]

    def guest_writes(self, n):
        for pfn in os.urandom(n):
            pfn = pfn % PAGES
            if pfn in HOLES:
                continue
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
        out[0].shutdown_reason = xen_source.SHUTDOWN_SUSPEND if self.shutdown else 0
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
        self.logdirty = op == xen_source.SHADOW_OP_ENABLE_LOGDIRTY
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
            err[i] = -14 if p in HOLES else 0  # EFAULT, as Xen says for a hole
        self.maps[int(ffi.cast("uintptr_t", buf))] = buf
        return buf

    def xc_get_pfn_type_batch(self, xch, domid, n, arr):
        for i in range(n):
            if arr[i] in HOLES:
                arr[i] = 0xF << 28  # XTAB
        return 0

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

    def xc_domain_unpause(self, xch, domid):
        self.calls.append(("unpause", domid))
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
        if index == 4:  # PAE_ENABLED: deprecated, and Xen 4.17 refuses to read it
            return -1
        value[0] = {1: PAGES - 1, 17: PAGES - 2}.get(index, 0)
        return 0


class FakeToolstack(xen_host.Toolstack):
    DM = f"/local/domain/0/device-model/{DOMID}"
    XENSTORE = {f"{DM}/physmap/f0000000/start_addr": "f0000000",
                f"{DM}/physmap/f0000000/size": "800000",
                f"{DM}/physmap/f0000000/name": "vga.vram"}

    def __init__(self):
        self.calls = []

    def run(self, *args):
        self.calls.append(args)
        return ""

    def domid(self, name):
        return DOMID

    def xenstore_list(self, path):
        prefix = path + "/"
        return sorted({k[len(prefix):].split("/")[0] for k in self.XENSTORE
                       if k.startswith(prefix)})

    def xenstore_read(self, path):
        return self.XENSTORE.get(path)

    def config(self, domid):
        # As on real Xen, the special pages (xenstore's, the console's) sit
        # past the guest's RAM, at the top of its pfn space.
        return {"c_info": {"type": "hvm", "name": "guest"},
                "b_info": {"max_vcpus": 1, "max_memkb": (PAGES - 8) * 4}}


class Memory:
    def __init__(self):
        self.mem = bytearray(PAGES * 4096)

    def begin(self, config, domain, policy):
        assert (domain.xen_major, domain.xen_minor) == (4, 17)
        return PAGES

    def page_data(self, head, reader, verify):
        words = [int.from_bytes(head.pfn_words[i:i + 8], "little") for i in range(0, 8 * head.count, 8)]
        for word in words:
            if word >> 60 == 0xF:
                assert word & 0xFFFFFFFFF in HOLES
                continue  # XTAB: a hole, no data
            p = word
            self.mem[p * 4096:(p + 1) * 4096] = reader.read(4096, "page")


class FakeQemu(threading.Thread):
    """The guest's QEMU as libxl runs it: a QMP socket in the run dir."""

    STATE = b"QEVM\0\0\0\3" + bytes(range(256)) * 8  # the file format's magic, then devices

    def __init__(self, run_dir, fail=None):
        super().__init__(daemon=True)
        self.commands = []
        self.fail = fail  # a command to answer with an error
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(str(run_dir / f"qmp-libxl-{DOMID}"))
        self.srv.listen(4)
        self.srv.settimeout(10)
        self.start()

    def run(self):
        for _ in range(4):  # save, then perhaps cont: bounded
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            with conn, conn.makefile("rwb") as f:
                f.write(b'{"QMP": {"version": {"qemu": {"major": 7, "minor": 2}}}}\r\n')
                f.flush()
                for line in f:
                    f.write(self.answer(json.loads(line)))
                    f.flush()

    def answer(self, req):
        cmd = req["execute"]
        self.commands.append((cmd, req.get("arguments")))
        if cmd == self.fail:
            return b'{"error": {"class": "GenericError", "desc": "no space left"}}\r\n'
        if cmd == "query-version":
            return b'{"return": {"qemu": {"major": 7, "minor": 2, "micro": 0}}}\r\n'
        if cmd == "xen-save-devices-state":
            Path(req["arguments"]["filename"]).write_bytes(self.STATE)
        reply = b'{"return": {}}\r\n'
        # QEMU sends events whenever it likes; the answer may come after one.
        return b'{"event": "STOP", "data": {}}\r\n' + reply if cmd == "stop" else reply


@pytest.fixture
def qemu_dirs(tmp_path, monkeypatch):
    run, save = tmp_path / "run", tmp_path / "save"
    run.mkdir()
    save.mkdir()
    monkeypatch.setattr(xen_devicemodel, "RUN_DIR", run)
    monkeypatch.setattr(xen_devicemodel, "SAVE_DIR", save)
    return run, save


def test_save_loop_against_fake_libxenctrl(qemu_dirs):
    fake = FakeXen()
    backend = xen.XenBackend(ffi, fake, FakeToolstack())
    source = backend.open_source("guest")
    out = io.BytesIO()
    pre = Precopy(source, XenOutlet(None, Tee(out)), XenPolicy(), Telemetry(bar=False))
    pre.send_prologue()
    result = pre.run()
    assert fake.shutdown and not fake.maps  # suspended; every mapping released
    ops = [c for c in fake.calls if c[0] != "logdirty"]
    assert ops[0] == ("shadow", xen_source.SHADOW_OP_ENABLE_LOGDIRTY)
    cleans = [c for c in fake.calls if c[0] == "logdirty"]
    assert all(c[1] == xen_source.SHADOW_OP_CLEAN for c in cleans)
    assert cleans[-1][2] == xen_source.SHADOW_LOGDIRTY_FINAL and cleans[0][2] == 0
    assert ("shutdown", xen_source.SHUTDOWN_SUSPEND) in fake.calls
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
    assert contents.tail.device_model is None  # no QEMU (a PVH guest): nothing to save
    source.resume()
    assert not fake.shutdown


def _save_with_qemu(qemu_dirs, fail=None):
    qemu = FakeQemu(qemu_dirs[0], fail)
    backend = xen.XenBackend(ffi, FakeXen(), FakeToolstack())
    source = backend.open_source("guest")
    out = io.BytesIO()
    pre = Precopy(source, XenOutlet(None, Tee(out)), XenPolicy(), Telemetry(bar=False))
    pre.send_prologue()
    pre.run()
    return qemu, source, out.getvalue()


def test_device_model_state_follows_the_libxc_stream(qemu_dirs):
    qemu, source, data = _save_with_qemu(qemu_dirs)
    assert [c for c, _ in qemu.commands] == [
        "qmp_capabilities", "query-version", "stop", "xen-save-devices-state"]
    assert qemu.commands[-1][1]["live"] is True
    assert not any(qemu_dirs[1].iterdir())  # the state file is not left behind
    contents = read_stream(ExactReader(io.BytesIO(data)), Memory(), Format.XL)
    physmap = tuple((f"physmap/f0000000/{k}", v) for k, v in
                    (("start_addr", "f0000000"), ("size", "800000"), ("name", "vga.vram")))
    assert contents.tail.device_model == DeviceModelState(FakeQemu.STATE, physmap,
                                                          libxl.EMULATOR_QEMU_UPSTREAM, 0)
    # Abandoned after QEMU was stopped: resuming the guest continues QEMU too.
    source.resume()
    assert qemu.commands[-1] == ("cont", None)


@pytest.mark.skipif(not VERIFIER.exists(), reason="xen-utils-4.17 is not installed")
def test_xen_verifier_accepts_the_device_model_records(qemu_dirs, tmp_path, monkeypatch):
    # Xen 4.17's verifier compares a byte with a str when it checks
    # EMULATOR_XENSTORE_DATA, so under Python 3 it rejects every non-empty
    # one; a guest without physmap keys has only EMULATOR_CONTEXT, which it
    # checks properly.
    monkeypatch.setattr(FakeToolstack, "XENSTORE", {})
    data = _save_with_qemu(qemu_dirs)[2]
    saved = tmp_path / "with-qemu.xl"
    saved.write_bytes(data)
    check = subprocess.run([str(VERIFIER), "-v", "-f", "xl", "-i", str(saved)],
                           capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONPATH": "/usr/lib/xen-4.17/lib/python"})
    assert check.returncode == 0, check.stderr
    assert "Index 0, type Qemu Upstream" in check.stdout


def test_device_model_refusing_to_save_is_an_error_naming_it(qemu_dirs):
    with pytest.raises(BackendError, match="device model refused xen-save-devices-state: "
                                           "no space left"):
        _save_with_qemu(qemu_dirs, fail="xen-save-devices-state")


def test_not_a_xen_host(monkeypatch, tmp_path):
    monkeypatch.setattr(xen, "CAPABILITIES", tmp_path / "missing")
    with pytest.raises(NotXenHostError, match="this is not a Xen host"):
        xen.XenBackend()


FAKE_XL = Path(__file__).resolve().parent / "fake_xl.py"


class DestToolstack(FakeToolstack):
    """A destination dom0 whose ``xl migrate-receive`` is fake_xl.py."""

    def __init__(self, out, mode=""):
        super().__init__()
        self.out, self.mode = out, mode
        self.domains = set()

    def migrate_receive(self, log):
        self.domains.add("guest--incoming")  # xl creates it as the stream comes in
        return subprocess.Popen([sys.executable, str(FAKE_XL), str(self.out), self.mode],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                bufsize=0)

    def domid(self, name):
        if name not in self.domains:
            raise DomainNotFoundError(f"no Xen domain called {name}")
        return DOMID + 1


def _verify_with_xen(path):
    if VERIFIER.exists():
        check = subprocess.run([str(VERIFIER), "-f", "xl", "-i", str(path)], capture_output=True,
                               text=True, timeout=120,
                               env={**os.environ, "PYTHONPATH": "/usr/lib/xen-4.17/lib/python"})
        assert check.returncode == 0, check.stderr


def test_restore_into_xen_replays_the_stream_into_xl(qemu_dirs, tmp_path, monkeypatch):
    monkeypatch.setattr(FakeToolstack, "XENSTORE", {})  # see the verifier test above
    FakeQemu(qemu_dirs[0])
    fake = FakeXen()
    source = xen.XenBackend(ffi, fake, FakeToolstack()).open_source("guest")
    saved = tmp_path / "guest.xl"
    session.save(source, saved, Telemetry(bar=False))
    dest = DestToolstack(tmp_path / "replayed.xl")
    summary = session.restore(saved, xen.XenBackend(ffi, FakeXen(), dest))
    assert summary.domain == "guest"
    # xl got the guest as saved, memory, CPU policy and device model included.
    _verify_with_xen(dest.out)
    mine = read_stream(ExactReader(io.BytesIO(saved.read_bytes())), Memory(), Format.XL)
    sink = Memory()
    theirs = read_stream(ExactReader(io.BytesIO(dest.out.read_bytes())), sink, Format.XL)
    assert sink.mem == fake.mem
    assert theirs.policy == mine.policy and theirs.tail == mine.tail
    assert theirs.tail.device_model.context == FakeQemu.STATE
    assert ("unpause", "guest") in dest.calls and ("destroy", str(DOMID + 1)) not in dest.calls


def _migrate_into_xen(tmp_path, mode="", fake=None, src_tools=None, **options):
    if fake is None:
        fake = FakeXen()
        for pfn in (3, 4, 5, 200):  # zero pages, which the extension sends as pfns only
            fake.mem[pfn * 4096:(pfn + 1) * 4096] = bytes(4096)
    src_tools = src_tools or FakeToolstack()
    source = xen.XenBackend(ffi, fake, src_tools).open_source("guest")
    dest = DestToolstack(tmp_path / "got.xl", mode)
    a, b = socket.socketpair()
    received = {}

    def receive():
        try:
            received["summary"] = session.receive(SocketConnection(b, "receiver"),
                                                  xen.XenBackend(ffi, FakeXen(), dest), None)
        except MigrationError as err:
            received["error"] = err
        finally:
            b.close()  # as a receiver process's exit would

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    try:
        summary = session.migrate(source, lambda limiter: SocketConnection(a, "sender", limiter),
                                  None, session.MigrateOptions(XenPolicy(), **options),
                                  Telemetry(bar=False))
    finally:
        thread.join(60)
        a.close()
    return fake, src_tools, dest, summary, received


def test_migration_with_extensions_arrives_in_xl_as_a_plain_stream(tmp_path):
    fake, src_tools, dest, summary, received = _migrate_into_xen(
        tmp_path, compress="zstd", zero_pages=True)
    assert summary.extensions["compress"] == "zstd" and received["summary"].domain == "guest"
    # The downtime's parts are consecutive and make up the whole of it.
    phases = summary.downtime_phases
    parts = (phases.suspend_ms, phases.last_round_ms, phases.destination_ms, phases.handover_ms)
    assert min(parts) >= 0 and sum(parts) == pytest.approx(summary.downtime_ms, abs=0.01)
    assert received["summary"].restore_ms >= 0
    _verify_with_xen(dest.out)
    sink = Memory()
    read_stream(ExactReader(io.BytesIO(dest.out.read_bytes())), sink, Format.XL)
    assert sink.mem == fake.mem
    # Handed over: the destination unpaused its copy, the source destroyed its own.
    assert ("unpause", "guest") in dest.calls
    assert ("destroy", str(DOMID)) in src_tools.calls


@pytest.mark.parametrize("mode", ["fail-build", "fail-report"])
def test_xl_failing_to_build_or_start_leaves_the_source_running(tmp_path, mode):
    fake = FakeXen()
    tools = FakeToolstack()
    source = xen.XenBackend(ffi, fake, tools).open_source("guest")
    dest = DestToolstack(tmp_path / "got.xl", mode)
    a, b = socket.socketpair()
    errors = []

    def receive():
        try:
            session.receive(SocketConnection(b, "receiver"), xen.XenBackend(ffi, FakeXen(), dest),
                            None)
        except MigrationError as err:
            errors.append(err)
        finally:
            b.close()

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    with pytest.raises(MigrationError):
        session.migrate(source, lambda limiter: SocketConnection(a, "sender", limiter), None,
                        session.MigrateOptions(XenPolicy(), compress="zstd"), Telemetry(bar=False))
    thread.join(60)
    a.close()
    assert "xl" in str(errors[0])
    # The source runs on under its own name; the destination destroyed its copy.
    assert not fake.shutdown and ("destroy", str(DOMID)) not in tools.calls
    renames = [c for c in tools.calls if c[0] == "rename"]
    assert not renames or renames[-1] == ("rename", str(DOMID), "guest")
    assert ("destroy", str(DOMID + 1)) in dest.calls


# ---------------------------------------------------------------- PV guests
PV_PAGES = 64
XEN_MFN = 0x3000  # a frame of Xen's: the shared info page, Xen's L4 slot
M2P_ENTRIES = 0x2100
L1, L2, L3, L4 = 0x1 << 28, 0x2 << 28, 0x3 << 28, 0x4 << 28
PINNED, XTAB = 0x8 << 28, 0xF << 28
PT_PFNS = {4: L4 | PINNED, 5: L3, 6: L2, 7: L1}


def pv_mfn(pfn):
    return 0x2000 + (PV_PAGES - 1 - pfn)  # reversed, so no pfn equals its mfn


class FakePvXen(FakeXen):
    """One 64-bit PV guest: p2m in a three-level frame list, page tables
    whose entries name mfns, and a guest that suspends when asked."""

    def __init__(self, width=8, shadow=True):
        super().__init__()
        self.width, self.shadow = width, shadow
        self.writes_per_clean = []
        self.p2m = [pv_mfn(p) if p < 60 else (1 << 64) - 1 for p in range(PV_PAGES)]
        self.frames = {m: bytearray(os.urandom(4096)) for m in self.p2m if m < 1 << 63}
        page = lambda pfn: self.frames[pv_mfn(pfn)]  # noqa: E731
        for pfn in range(1, 8):
            page(pfn)[:] = bytes(4096)
        struct.pack_into("<Q", page(1), 0, pv_mfn(2))  # frame list list -> frame list
        struct.pack_into("<Q", page(2), 0, pv_mfn(3))  # frame list -> the p2m leaf
        struct.pack_into(f"<{PV_PAGES}Q", page(3), 0, *self.p2m)
        struct.pack_into("<Q", page(4), 0, pv_mfn(5) << 12 | 0x67)
        struct.pack_into("<Q", page(4), 256 * 8, XEN_MFN << 12 | 0x63)  # Xen's slot
        struct.pack_into("<Q", page(5), 0, pv_mfn(6) << 12 | 0x67)
        struct.pack_into("<Q", page(6), 0, pv_mfn(7) << 12 | 0x67)
        for i in range(60):
            struct.pack_into("<Q", page(7), 8 * i, pv_mfn(i) << 12 | 0x63)
        struct.pack_into("<Q", page(7), 8 * 100, 0xdead000)  # not present: left alone
        # Mid-update while the guest runs: a frame of someone else's.
        struct.pack_into("<Q", page(7), 8 * 200, (XEN_MFN + 5) << 12 | 0x63)
        self.shinfo = bytearray(4096)
        struct.pack_into("<QQ", self.shinfo, 3088, PV_PAGES, pv_mfn(1))
        self.frames[XEN_MFN] = self.shinfo
        m2p = [(1 << 64) - 1] * M2P_ENTRIES
        for pfn, mfn in enumerate(self.p2m[:60]):
            m2p[mfn] = pfn
        self.m2p = ffi.new("uint64_t[]", m2p)
        self.context = bytearray(5168)
        struct.pack_into("<Q", self.context, 616, pv_mfn(0))  # rdx: start info
        struct.pack_into("<Q", self.context, 4832, pv_mfn(8))  # GDT frame 0
        struct.pack_into("<Q", self.context, 4960, 512)  # GDT entries
        struct.pack_into("<Q", self.context, 4984 + 24, pv_mfn(4) << 12)  # cr3
        self.xenstore = []

    def __getattr__(self, name):
        if name.startswith("XS_"):  # the shim's constants are the real ones
            return getattr(xenctrl.lib, name)
        raise AttributeError(name)

    def guest_suspends(self):
        struct.pack_into("<Q", self.frames[pv_mfn(7)], 8 * 200, 0)  # update finished
        self.shutdown = True

    def xs_xen_dominfo(self, xch, first, out, n):
        got = super().xs_xen_dominfo(xch, first, out, n)
        out[0].hvm, out[0].shared_info_frame, out[0].max_vcpu_id = 0, XEN_MFN, 1
        return got

    def xc_domain_get_guest_width(self, xch, domid, width):
        width[0] = self.width
        return 0

    def xc_shadow_control(self, xch, domid, op, mb, mode):
        if op == xen_source.SHADOW_OP_ENABLE_LOGDIRTY and not self.shadow:
            ffi.errno = errno.EOPNOTSUPP
            return -1
        return super().xc_shadow_control(xch, domid, op, mb, mode)

    def xs_xen_map_m2p(self, xch, entries):
        entries[0] = M2P_ENTRIES
        return ffi.cast("uint64_t *", self.m2p)

    def xs_xen_unmap_m2p(self, m2p, entries):
        return 0

    def xenforeignmemory_map(self, fmem, domid, prot, n, mfns, err):
        buf = ffi.new("uint8_t[]", n * 4096)
        for i in range(n):
            frame = self.frames.get(mfns[i])
            err[i] = 0 if frame is not None else -errno.EINVAL
            if frame is not None:
                ffi.memmove(buf + i * 4096, bytes(frame), 4096)
        self.maps[int(ffi.cast("uintptr_t", buf))] = buf
        return buf

    def xc_get_pfn_type_batch(self, xch, domid, n, arr):
        pfn_of = {m: p for p, m in enumerate(self.p2m)}
        for i in range(n):
            pfn = pfn_of.get(arr[i])
            arr[i] = XTAB if pfn is None or pfn >= 60 else PT_PFNS.get(pfn, 0)
        return 0

    def xs_xen_vcpu_online(self, xch, domid, vcpu):
        return int(vcpu == 0)

    def xs_xen_vcpu_context(self, xch, domid, vcpu, buf):
        ffi.memmove(buf, bytes(self.context), len(self.context))
        return 0

    def xs_xen_vcpu_extended(self, xch, domid, vcpu, buf, size):
        size[0] = 0  # none: the record is left out, as Xen does
        return 0

    def xs_xen_vcpu_xsave(self, xch, domid, vcpu, buf, size):
        size[0] = 0
        return 0

    MSRS = struct.pack("<IIQ", 0xc0000103, 0, 7) * 2

    def xs_xen_vcpu_msrs(self, xch, domid, vcpu, buf, size):
        if buf != ffi.NULL:
            ffi.memmove(buf, self.MSRS, len(self.MSRS))
        size[0] = len(self.MSRS)
        return 0


class PvToolstack(FakeToolstack):
    def __init__(self, fake):
        super().__init__()
        self.fake = fake

    def xenstore_write(self, path, value):
        self.fake.xenstore.append((path, value))
        if value == "suspend":
            self.fake.guest_suspends()

    def config(self, domid):
        return {"c_info": {"type": "pv", "name": "guest"},
                "b_info": {"max_vcpus": 2, "max_memkb": PV_PAGES * 4}}


class PvMemory:
    """A sink that keeps a PV stream's pages and their types by pfn."""

    def __init__(self):
        self.pages, self.types, self.p2m = {}, {}, None

    def begin(self, config, domain, policy):
        assert domain.guest_type == libxc.DHDR_TYPE_X86_PV
        return PV_PAGES

    def p2m_frames(self, p2m):
        self.p2m = p2m

    def page_data(self, head, reader, verify):
        for (word,) in struct.iter_unpack("<Q", head.pfn_words):
            pfn, kind = word & ((1 << 52) - 1), word >> 60
            self.types[pfn] = kind
            if kind < 0xD:
                self.pages[pfn] = reader.read(4096, "page")


def _save_pv(fake, out):
    source = xen.XenBackend(ffi, fake, PvToolstack(fake)).open_source("guest")
    pre = Precopy(source, XenOutlet(None, Tee(out)), XenPolicy(), Telemetry(bar=False))
    pre.send_prologue()
    pre.run()
    return source


def test_pv_guest_saves_with_normalised_page_tables(tmp_path):
    fake = FakePvXen()
    out = io.BytesIO()
    source = _save_pv(fake, out)
    assert fake.xenstore == [(f"/local/domain/{DOMID}/control/shutdown", "suspend")]
    saved = tmp_path / "pv.xl"
    saved.write_bytes(out.getvalue())
    _verify_with_xen(saved)
    sink = PvMemory()
    contents = read_stream(ExactReader(io.BytesIO(out.getvalue())), sink, Format.XL)
    # The p2m leaf is pfn 3; pfns past the p2m's valid entries have no data.
    assert sink.p2m == libxc_pv.P2mFrames(0, PV_PAGES - 1, (3,))
    assert all(sink.types[p] == 0xF and p not in sink.pages for p in range(60, PV_PAGES))
    assert sink.types[4] == 0xC and sink.types[7] == 0x1 and sink.types[9] == 0
    l4 = struct.unpack("<512Q", sink.pages[4])
    assert l4[0] == 5 << 12 | 0x67 and l4[256] == 0
    l1 = struct.unpack("<512Q", sink.pages[7])
    assert l1[:60] == tuple(i << 12 | 0x63 for i in range(60))
    assert l1[100] == 0xdead000 and l1[200] == 0  # resent once the guest settled
    assert sink.pages[9] == bytes(fake.frames[pv_mfn(9)])
    tail = contents.tail
    assert tail.shared_info == bytes(fake.shinfo)
    (vcpu,) = tail.vcpus
    assert (vcpu.vcpu_id, vcpu.extended, vcpu.xsave, vcpu.msrs) == (0, b"", b"", FakePvXen.MSRS)
    rdx, gdt, cr3 = (struct.unpack_from("<Q", vcpu.basic, at)[0] for at in (616, 4832, 5008))
    assert (rdx, gdt, cr3) == (0, 8, 4 << 12)
    assert source.checksum() == source.checksum()


def test_pv_stream_replays_into_xl_unchanged(tmp_path):
    fake = FakePvXen()
    saved = tmp_path / "pv.xl"
    source = xen.XenBackend(ffi, fake, PvToolstack(fake)).open_source("guest")
    session.save(source, saved, Telemetry(bar=False))
    dest = DestToolstack(tmp_path / "replayed.xl")
    dest_xen = FakeXen()
    session.restore(saved, xen.XenBackend(ffi, dest_xen, dest))
    assert dest.out.read_bytes() == saved.read_bytes()
    # No device model to resume: unpaused through libxenctrl, not by an xl process.
    assert ("unpause", DOMID + 1) in dest_xen.calls and ("unpause", "guest") not in dest.calls


def test_32bit_pv_guest_is_refused():
    fake = FakePvXen(width=4)
    with pytest.raises(BackendError, match="is a 32-bit PV guest; only 64-bit PV guests"):
        xen.XenBackend(ffi, fake, PvToolstack(fake)).open_source("guest")


def test_pv_live_migration_without_shadow_paging_names_it():
    fake = FakePvXen(shadow=False)
    with pytest.raises(BackendError, match=r"without shadow paging \(CONFIG_SHADOW_PAGING\)"):
        _save_pv(fake, io.BytesIO())


def test_pv_pages_compress_and_split_with_their_types_kept(tmp_path, monkeypatch):
    """PAGES frames carry a PV guest's typed words: compressed, zero pages as
    words only, and xl still gets page tables and holes as Xen sends them."""
    from xenshift.migrate import outlet
    typed = []
    send = outlet._PageWorker._send
    monkeypatch.setattr(outlet._PageWorker, "_send", lambda self, pfns, count, mapped, *rest: (
        typed.append([pfns[i] >> 60 for i in range(count)]) if mapped.words is not None
        else None, send(self, pfns, count, mapped, *rest))[1])
    plain = PvMemory()
    saved = io.BytesIO()
    _save_pv(FakePvXen(), saved)
    read_stream(ExactReader(io.BytesIO(saved.getvalue())), plain, Format.XL)
    fake = FakePvXen()
    _, _, dest, summary, received = _migrate_into_xen(
        tmp_path, fake=fake, src_tools=PvToolstack(fake), compress="zstd", zero_pages=True)
    assert summary.extensions["compress"] == "zstd" and "error" not in received
    _verify_with_xen(dest.out)
    got = PvMemory()
    read_stream(ExactReader(io.BytesIO(dest.out.read_bytes())), got, Format.XL)
    # Typed PAGES frames: the first round's pages (its holes went ahead as a
    # PAGE_DATA of words), then the L1 table deferred to the last round.
    assert [sorted(set(kinds)) for kinds in typed] == [[0, 0x2, 0x3, 0xC], [0x1]]
    assert got.types == plain.types and got.p2m == plain.p2m
    assert got.pages.keys() == plain.pages.keys()
    for pfn, kind in got.types.items():
        if kind == 0:   # ordinary pages: this guest's own data
            assert got.pages[pfn] == bytes(fake.frames[pv_mfn(pfn)]), pfn
        elif pfn in got.pages:   # page tables, normalised the same way
            assert got.pages[pfn] == plain.pages[pfn], pfn


def test_pv_pages_for_an_hvm_only_destination_are_refused():
    from xenshift.migrate import extension as ext
    from xenshift.migrate.restore import _Channel

    class HvmOnly:
        name, typed_words = "hvm-dest", False

    frame = ext.PAGES_HDR.pack(ext.FLAG_TYPED, 0, 1, 0, 4096) + (1 << 60 | 7).to_bytes(8, "little")
    a, b = socket.socketpair()
    try:
        a.sendall(frame + bytes(4096))
        channel = _Channel(SocketConnection(b, "receiver"), ext.Extensions())
        with pytest.raises(MigrationError, match="typed pages .* for hvm-dest"):
            channel.apply(len(frame) + 4096, HvmOnly())
    finally:
        a.close()
        b.close()


def test_hvm_checksum_leaves_out_what_restore_rewrites_and_time():
    """--verify on real Xen: libxc's restore clears the xenstore and console
    pages, and time moves on between the two readings (each vCPU's TSC)."""
    fake = FakeXen()
    source = xen.XenBackend(ffi, fake, FakeToolstack()).open_source("guest")
    before = source.checksum()
    for pfn in (PAGES - 1, PAGES - 2):   # STORE_PFN, CONSOLE_PFN
        fake.mem[pfn * 4096:(pfn + 1) * 4096] = os.urandom(4096)
    cpu = bytearray(hvm_context.walk(FakeXen.CONTEXT)[1].data)
    cpu[hvm_context.CPU_TSC_OFFSET:hvm_context.CPU_TSC_OFFSET + 8] = os.urandom(8)
    fake.CONTEXT = hvm_context.build([hvm_context.header_entry(),
                                      hvm_context.Entry(hvm_context.CODE_CPU, 0, bytes(cpu))])
    again = xen.XenBackend(ffi, fake, FakeToolstack()).open_source("guest")
    assert again.checksum() == before
    fake.mem[9 * 4096] ^= 1
    assert xen.XenBackend(ffi, fake, FakeToolstack()).open_source("guest").checksum() != before


def test_hvm_guest_with_pv_drivers_is_asked_to_suspend_through_xenstore():
    """As libxl: then its PV drivers reconnect on the destination."""

    class PvDriversXen(FakeXen):
        def xc_hvm_param_get(self, xch, domid, index, value):
            if index == xen_source.HVM_PARAM_CALLBACK_IRQ:
                value[0] = 1 << 56 | 28  # a vector callback
                return 0
            return super().xc_hvm_param_get(xch, domid, index, value)

    class AskingToolstack(FakeToolstack):
        def xenstore_write(self, path, value):
            self.calls.append(("xenstore", path, value))
            fake.shutdown = True  # the guest's drivers suspend it

    fake = PvDriversXen()
    tools = AskingToolstack()
    xen.XenBackend(ffi, fake, tools).open_source("guest").suspend()
    assert ("xenstore", f"/local/domain/{DOMID}/control/shutdown", "suspend") in tools.calls
    assert not [c for c in fake.calls if c[0] == "shutdown"]


def test_the_suspend_request_goes_through_libxenstore_not_a_process(monkeypatch):
    """Given the binding, a xenstore write is a library call: no
    xenstore-write process inside the suspend's downtime."""
    class XenstoreLib:
        def __init__(self, rc):
            self.rc, self.writes = rc, []

        def xs_xenstore_write(self, path, value):
            self.writes.append((path, value))
            return self.rc

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail(f"ran {a}"))
    lib = XenstoreLib(0)
    xen_host.Toolstack(ffi, lib).xenstore_write("/local/domain/7/control/shutdown", "suspend")
    assert lib.writes == [(b"/local/domain/7/control/shutdown", b"suspend")]
    with pytest.raises(BackendError, match="xenstore write of /local/domain/7/control/shutdown"):
        xen_host.Toolstack(ffi, XenstoreLib(-1)).xenstore_write(
            "/local/domain/7/control/shutdown", "suspend")
