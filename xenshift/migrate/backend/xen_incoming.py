"""The xen backend's destination: a domain that xl builds on this host.

Building an HVM or PVH domain takes libxl (devices, QEMU, xenstore), so the
engine does not build it with libxenctrl: it replays what it receives,
however it travelled (parallel streams, zstd, zero pages), as a plain xl
stream into ``xl migrate-receive -p``, and relays xl's side of the
handshake.  xl builds ``NAME--incoming`` paused and says READY once the
stream's END is in; the source's PERMISSION is passed on, and xl renames
the domain and reports; then it starts: an HVM guest by ``xl unpause``
(libxl resumes its device model first), a PV or PVH guest, which has none,
by libxenctrl's unpause, as libxl's is for them: an xl process costs a few
hundred ms of the guest's downtime on a busy dom0.  Whatever fails before
that, xl is stopped and the half-built domain destroyed.

A PV guest's stream is passed on record for record: its PAGE_DATA words
carry page types (and pages without data) that the pfn-only path would
lose, and its p2m frames and vCPU records go as they came.
"""

from __future__ import annotations

import os
import select
import subprocess
import tempfile
import threading
import time
from typing import Any

from xenshift.migrate import handover
from xenshift.migrate.backend.base import INCOMING_SUFFIX, Backend, DestDomain, DomainState
from xenshift.migrate.backend.xen_host import Handles, Toolstack
from xenshift.migrate.errors import BackendError, MigrationError
from xenshift.migrate.stream import libxc, libxc_pv, writer
from xenshift.migrate.stream.framing import ExactReader
from xenshift.migrate.stream.writer import CpuPolicy
from xenshift.native import PAGE_SIZE

# Building the domain (QEMU, devices) happens between the stream's END and
# xl's READY; libxl's own timeouts are of this order.
BUILD_TIMEOUT = 300.0
XL_TIMEOUT = 60.0


class XenIncoming(DestDomain):
    """A domain ``xl migrate-receive`` builds from the stream written to it.

    Every batch becomes a PAGE_DATA record whose pfn words are the pfns as
    given, so a PV guest's typed words pass through as Xen wrote them.
    """

    typed_words = True

    @property
    def pfn_limit(self) -> int:
        # xl loads an HVM guest's pages wherever the stream puts them: its
        # special pages sit just below 4 GiB and its RAM goes on above the
        # MMIO hole, far past its size.  The pfn field's width bounds them.
        return 1 << 52

    def __init__(self, backend: Backend, h: Handles, toolstack: Toolstack,
                 config: dict[str, Any], name: str, pages: int, domain: libxc.DomainHeader,
                 policy: CpuPolicy):
        self.backend = backend
        self.h = h
        self.toolstack = toolstack
        self.name = name
        self.pages = pages
        self.final = name.removesuffix(INCOMING_SUFFIX)
        self._lock = threading.Lock()  # parallel data channels write whole records
        self._local = threading.local()
        self._verifying = False
        self._handed = False  # PERMISSION passed to xl: the domain has its final name
        self._device_model = config.get("c_info", {}).get("type") == "hvm"
        self._domid: int | None = None
        config = {**config, "c_info": {**config.get("c_info", {}), "name": self.final}}
        self.log = tempfile.TemporaryFile()
        self.proc = toolstack.migrate_receive(self.log)
        try:
            self._expect(handover.BANNER, "xl's banner", XL_TIMEOUT)
            self._write(writer.prologue(config, domain, policy))
        except BaseException:
            self.destroy()
            raise
        # Learnt while the pages stream in, not in the downtime.
        self._finder = threading.Thread(target=self._find_domid, args=(name,), daemon=True)
        self._finder.start()

    def _find_domid(self, name: str) -> None:
        """The domid of the domain xl builds, once it exists (bounded)."""
        deadline = time.monotonic() + BUILD_TIMEOUT
        while self.proc.poll() is None and time.monotonic() < deadline:
            try:
                self._domid = self.toolstack.domid(name)
                return
            except MigrationError:
                time.sleep(0.2)

    # ------------------------------------------------------------ memory
    def _batch_buffer(self, count: int) -> memoryview:
        # One batch buffer per receiving thread (data channels run in parallel).
        buf = getattr(self._local, "buf", None)
        if buf is None:
            buf = self._local.buf = bytearray(libxc.MAX_BATCH_SIZE * PAGE_SIZE)
        return memoryview(buf)[:count * PAGE_SIZE]

    def receive_pages(self, pfns, count: int, reader: ExactReader) -> None:
        data = self._batch_buffer(count)
        reader.read_into(data, "page data")
        self.write_pages(pfns, count, data)

    def p2m_frames(self, p2m: libxc_pv.P2mFrames) -> None:
        self._write(writer.p2m_frames(p2m))

    def receive_page_data(self, head: libxc.PageDataHead, reader: ExactReader,
                          verify: bool) -> None:
        data = self._batch_buffer(head.data_pages)
        reader.read_into(data, "page data")
        with self._lock:
            if verify:
                self._start_verify()
            self._write(writer.page_data_head(head.pfn_words, head.data_pages),
                        head.pfn_words, data)

    def write_pages(self, pfns, count: int, data) -> None:
        self._page_data(pfns, count, data)

    def zero_pages(self, pfns, count: int) -> None:
        # Written out: a page zero now may have held data an earlier round sent.
        self._page_data(pfns, count, bytes(count * PAGE_SIZE))

    def compare_buffer(self, pfns, count: int, data) -> int:
        """Pass the VERIFY pass on: Xen's restore compares the pages with
        what it loaded and fails the build on a difference."""
        with self._lock:
            self._start_verify()
        self._page_data(pfns, count, data)
        return -1

    def _start_verify(self) -> None:
        if not self._verifying:
            self._write(writer.verify_marker())
            self._verifying = True

    def _page_data(self, pfns, count: int, data) -> None:
        words = writer.pfn_bytes(pfns, count)
        with self._lock:
            self._write(writer.page_data_head(words, count), words, data)

    # ------------------------------------------------------------- state
    def restore_state(self, state: DomainState) -> None:
        self._write(writer.epilogue(state.tail))
        self._expect(handover.READY, "xl's READY (the domain built, paused)", BUILD_TIMEOUT)

    def checksum(self) -> str:
        return self.backend.open_source(self.name).checksum()

    # --------------------------------------------------------- hand-over
    def rename(self, name: str) -> None:
        """Give xl the source's permission: it renames the domain (and,
        started with -p, leaves it paused) and reports."""
        self._write(handover.PERMISSION)
        self._handed = True
        self._expect(handover.REPORT, "xl's report", XL_TIMEOUT)
        status = self._read(1, "xl's report status", XL_TIMEOUT)[0]
        if status:
            raise BackendError(f"xl could not take over {name} (status {status}): "
                               f"{self._stderr()}")
        self.name = name

    def unpause(self) -> None:
        self._finder.join(XL_TIMEOUT)
        if self._device_model or self._domid is None:
            self.toolstack.run("unpause", self.name)
            return
        if self.h.lib.xc_domain_unpause(self.h.xch, self._domid) < 0:
            raise BackendError(f"unpausing {self.name} (domain {self._domid}) failed")

    def commit(self) -> None:
        try:
            rc = self.proc.wait(timeout=XL_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise BackendError("xl migrate-receive did not finish after the hand-over") from None
        if rc:
            raise BackendError(f"xl migrate-receive failed after the hand-over: {self._stderr()}")

    def destroy(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        # xl destroys its copy on its own failures, not when it is killed.
        for name in {self.name, self.final + INCOMING_SUFFIX}:
            try:
                domid = self.toolstack.domid(name)
            except MigrationError:
                continue
            self.toolstack.destroy(domid)

    # ---------------------------------------------------------- xl pipes
    def _write(self, *parts) -> None:
        fd = self.proc.stdin.fileno()
        try:
            for part in parts:
                view = memoryview(part).cast("B")
                while view:
                    view = view[os.write(fd, view):]
        except OSError:
            raise BackendError(f"xl migrate-receive stopped reading: {self._stderr()}") from None

    def _expect(self, message: bytes, what: str, timeout: float) -> None:
        got = self._read(len(message), what, timeout)
        if got != message:
            raise BackendError(f"{what}: xl sent {got[:40]!r}")

    def _read(self, n: int, what: str, timeout: float) -> bytes:
        out = self.proc.stdout
        got = b""
        deadline = time.monotonic() + timeout
        while len(got) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                raise BackendError(f"{what}: xl said nothing for {timeout:.0f} s")
            chunk = os.read(out.fileno(), n - len(got))
            if not chunk:
                raise BackendError(f"{what}: xl migrate-receive ended: {self._stderr()}")
            got += chunk
        return got

    def _stderr(self) -> str:
        """The end of xl's messages (kept in a file: a pipe could fill)."""
        self.log.seek(0)
        text = self.log.read().decode("utf-8", "replace").strip()
        return text[-500:] or "no messages"
