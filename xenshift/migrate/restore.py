"""The receiving side: building a paused domain from a stream.

:class:`DomainBuilder` is the reader's page sink for a plain Xen stream;
:class:`FramedInlet` turns xenshift's framed extension back into the Xen
stream for the same reader, applying PAGES frames from the control and data
connections as they come and holding the stream at each round barrier.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from xenshift.migrate import extension as ext
from xenshift.migrate.backend.base import INCOMING_SUFFIX, Backend, DestDomain
from xenshift.migrate.errors import (
    DomainExistsError, MigrationError, StreamFormatError, VerifyMismatchError)
from xenshift.migrate.stream import libxc, libxc_pv
from xenshift.migrate.stream.framing import ExactReader
from xenshift.migrate.stream.writer import CpuPolicy
from xenshift.migrate.transport import Connection
from xenshift.native import PAGE_SIZE, ffi, lib

# The largest guest a stream may ask for: 16 TiB, Xen's own x86 limit.
MAX_GUEST_PAGES = 1 << 32
# How long a data thread may take to notice its connection closed.
JOIN_TIMEOUT = 10.0


def guest_name(config: dict[str, Any]) -> str:
    name = config.get("c_info", {}).get("name")
    if not isinstance(name, str) or not name or "/" in name:
        raise StreamFormatError("the stream's config names no valid domain", None, "xl config")
    return name


def guest_pages(config: dict[str, Any]) -> int:
    try:
        kib = int(config["b_info"]["max_memkb"])
    except (KeyError, TypeError, ValueError):
        raise StreamFormatError("the stream's config has no b_info.max_memkb", None,
                                "xl config") from None
    if not 0 < kib // 4 <= MAX_GUEST_PAGES:
        raise StreamFormatError(f"the stream's guest size of {kib} KiB is out of range",
                                None, "xl config")
    return kib // 4


class DomainBuilder:
    """Page sink that creates ``NAME--incoming`` and loads memory into it."""

    def __init__(self, backend: Backend, rename_to: str | None = None):
        self.backend = backend
        self.dest: DestDomain | None = None
        self.name = ""
        self.rename_to = rename_to
        self.pfns = ffi.new("uint64_t[]", libxc.MAX_BATCH_SIZE)
        self.verify_buf: bytearray | None = None  # only a --debug stream needs it
        self.pv = False

    def begin(self, config: dict[str, Any], domain: libxc.DomainHeader,
              policy: CpuPolicy) -> int:
        self.name = self.rename_to or guest_name(config)
        self.pv = domain.guest_type == libxc.DHDR_TYPE_X86_PV
        pages = guest_pages(config)
        if any(d.name == self.name for d in self.backend.list_domains()):
            raise DomainExistsError(f"a domain called {self.name} already runs on this host")
        self.dest = self.backend.create_incoming(config, self.name + INCOMING_SUFFIX, pages,
                                                 domain, policy)
        return self.dest.pfn_limit

    def p2m_frames(self, p2m: libxc_pv.P2mFrames) -> None:
        self.dest.p2m_frames(p2m)

    def page_data(self, head: libxc.PageDataHead, reader: ExactReader, verify: bool) -> None:
        if self.pv or self.dest.typed_words:
            # Page types and pages without data mean something only to Xen:
            # a destination that is Xen takes the record as it is.
            self.dest.receive_page_data(head, reader, verify)
            return
        words = ffi.cast("uint64_t *", ffi.from_buffer(head.pfn_words))
        n = lib.xs_pfns_data(words, head.count, self.pfns)
        if n == 0:
            return  # only holes: nothing to load
        if not verify:
            self.dest.receive_pages(self.pfns, n, reader)
            return
        if self.verify_buf is None:
            self.verify_buf = bytearray(libxc.MAX_BATCH_SIZE * PAGE_SIZE)
        data = memoryview(self.verify_buf)[:n * PAGE_SIZE]
        reader.read_into(data, "VERIFY page data")
        bad = self.dest.compare_buffer(self.pfns, n, data)
        if bad >= 0:
            raise VerifyMismatchError(f"VERIFY pass: page {bad} of a batch differs "
                                      "from what was loaded")

    def discard(self) -> None:
        if self.dest is not None:
            self.dest.destroy()
            self.dest = None


class _Channel:
    """Reads PAGES frames from one connection and applies them."""

    def __init__(self, conn: Connection, options: ext.Extensions):
        self.reader = ExactReader(conn, conn.name)
        self.options = options
        self.applied = 0  # frames
        self.pages = 0
        self.nz_pfns = ffi.new("uint64_t[]", ext.MAX_BATCH_SIZE)
        self.z_pfns = ffi.new("uint64_t[]", ext.MAX_BATCH_SIZE)
        self.data = bytearray(ext.MAX_BATCH_SIZE * PAGE_SIZE)
        self.zdata = bytearray(ext.ZSTD_MAX) if options.compress else None
        self.zstd = ffi.gc(lib.xs_zstd_new(1), lib.xs_zstd_free) if options.compress else None

    def apply(self, length: int, dest: DestDomain, gate=None) -> None:
        """Apply one PAGES frame; ``gate(round)`` may hold it back first."""
        self.pages += self._apply(length, dest, gate)
        self.applied += 1

    def _apply(self, length: int, dest: DestDomain, gate) -> int:
        r = self.reader
        at = r.offset
        flags, round_no, nz, nzero, size = r.unpack(ext.PAGES_HDR, "PAGES header")
        zstd = bool(flags & ext.FLAG_ZSTD)
        if flags & ext.FLAG_TYPED and not dest.typed_words:
            raise r.error(f"typed pages (PV page types, HVM holes) for {dest.name}, whose "
                          "backend takes plain pfns only", at)
        if (flags & ~(ext.FLAG_VERIFY | ext.FLAG_ZSTD | ext.FLAG_TYPED)
                or not 0 < nz + nzero <= ext.MAX_BATCH_SIZE
                or (zstd and not self.zstd) or size > (ext.ZSTD_MAX if zstd else nz * PAGE_SIZE)
                or (not zstd and size != nz * PAGE_SIZE)
                or length != ext.PAGES_HDR.size + 8 * (nz + nzero) + size):
            raise r.error("malformed PAGES frame", at)
        r.read_into(memoryview(ffi.buffer(self.nz_pfns, 8 * nz)), "PAGES pfns")
        r.read_into(memoryview(ffi.buffer(self.z_pfns, 8 * nzero)), "PAGES zero pfns")
        # Held back before its data is read, so plain pages can go straight
        # into guest memory: nothing of round N lands before round N-1 has.
        if gate is not None:
            gate(round_no)
        verify = bool(flags & ext.FLAG_VERIFY)
        data = memoryview(self.data)[:nz * PAGE_SIZE]
        if zstd:
            src = memoryview(self.zdata)[:size]
            r.read_into(src, "PAGES data")
            if nz and lib.xs_zstd_decompress(self.zstd, ffi.from_buffer(data), len(data),
                                             ffi.from_buffer(src), size) < 0:
                raise r.error("PAGES data does not decompress to its pages", at)
        elif verify:
            r.read_into(data, "PAGES data")
        elif nz:
            dest.receive_pages(self.nz_pfns, nz, r)
        if verify:
            if nzero or dest.compare_buffer(self.nz_pfns, nz, data) != -1:
                raise VerifyMismatchError("VERIFY pass: a page differs from what was loaded")
            return 0
        if zstd and nz:
            dest.write_pages(self.nz_pfns, nz, data)
        if nzero:
            dest.zero_pages(self.z_pfns, nzero)
        return nz + nzero


class FramedInlet:
    """A byte source for the stream reader over xenshift's framed wire."""

    def __init__(self, control: Connection, data: list[Connection],
                 options: ext.Extensions, builder: DomainBuilder):
        self.conns = [control, *data]
        # The receiver waits on its peer as long as the control connection does.
        self.silence = control.silence
        self.ctrl = _Channel(control, options)
        self.builder = builder
        self.channels = [_Channel(c, options) for c in data]
        self.pending = memoryview(b"")
        self.expected = [0] * len(self.channels)
        self.completed_round = -1
        self.cond = threading.Condition()
        self.error: Exception | None = None
        self.threads = [threading.Thread(target=self._serve, args=(ch,), daemon=True)
                        for ch in self.channels]
        for t in self.threads:
            t.start()

    def _serve(self, ch: _Channel) -> None:
        try:
            while True:
                kind, length = ch.reader.unpack(ext.FRAME, "frame header")
                if kind != ext.KIND_PAGES:
                    raise ch.reader.error(f"unexpected frame kind {kind} on a data connection")
                ch.apply(length, self._wait_dest(), self._wait_round)
                with self.cond:
                    self.cond.notify_all()
        except Exception as err:  # noqa: BLE001 - handed to the control thread
            with self.cond:
                if self.error is None:
                    self.error = err
                self.cond.notify_all()
            # Unblock the control thread and the sender: this migration is over.
            for conn in self.conns:
                conn.close()

    def _wait_dest(self) -> DestDomain:
        """Data connections may run ahead of the control one creating the domain."""
        deadline = time.monotonic() + self.silence
        while self.builder.dest is None:
            if self.error is not None or time.monotonic() > deadline:
                raise MigrationError("page data arrived but the domain was never created")
            time.sleep(0.001)
        return self.builder.dest

    def _dest(self, reader: ExactReader) -> DestDomain:
        if self.builder.dest is None:
            raise reader.error("page data before the stream's headers")
        return self.builder.dest

    def _wait_round(self, round_no: int) -> None:
        """Hold a page of round N until round N-1 is fully applied."""
        with self.cond:
            if not self.cond.wait_for(lambda: self.completed_round >= round_no - 1
                                      or self.error is not None, self.silence):
                raise MigrationError(f"round {round_no - 1} never completed")

    def _barrier(self, length: int) -> None:
        counts = ext.read_barrier(self.ctrl.reader, length, len(self.channels))
        self.expected = [e + n for e, n in zip(self.expected, counts)]
        with self.cond:
            ok = self.cond.wait_for(
                lambda: self.error is not None or all(
                    ch.applied >= n for ch, n in zip(self.channels, self.expected)), self.silence)
            if self.error is not None:
                raise self.error
            if not ok:
                raise MigrationError("data connections fell silent before the round ended")
            self.completed_round += 1
            self.cond.notify_all()

    def readinto(self, view: memoryview) -> int:
        try:
            return self._readinto(view)
        except MigrationError:
            self.check()
            raise

    def _readinto(self, view: memoryview) -> int:
        while not self.pending:
            r = self.ctrl.reader
            kind, length = r.unpack(ext.FRAME, "frame header")
            if kind == ext.KIND_XEN:
                if not 0 < length <= ext.XEN_FRAME_MAX:
                    raise r.error(f"XEN frame of {length} bytes")
                self.pending = memoryview(r.read(length, "XEN frame"))
            elif kind == ext.KIND_PAGES:
                self.ctrl.apply(length, self._dest(r))
            elif kind == ext.KIND_BARRIER:
                self._barrier(length)
            elif kind == ext.KIND_SYNC and self.ctrl.options.sync:
                # Frames on this connection are applied as they are read, and
                # a separate round's BARRIER came first: all is loaded.
                self.conns[0].send(ext.SYNC.pack(ext.read_sync(r, length)))
            else:
                raise r.error(f"unknown frame kind {kind}")
        n = min(len(view), len(self.pending))
        view[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    @property
    def pages(self) -> int:
        """Pages loaded from PAGES frames so far, on every connection."""
        return self.ctrl.pages + sum(ch.pages for ch in self.channels)

    def close(self) -> None:
        """End the data connections' threads and wait for them (bounded):
        the domain's memory may go back to the host's pool once this
        returns, so no page may land in it afterwards."""
        with self.cond:
            if self.error is None:
                self.error = MigrationError("the migration has ended")
            self.cond.notify_all()
        for conn in self.conns[1:]:
            conn.close()
        for t in self.threads:
            t.join(timeout=JOIN_TIMEOUT)

    def check(self) -> None:
        """Raise what a data connection ran into, if anything."""
        with self.cond:
            if self.error is not None:
                raise self.error
