"""Where the sender's stream goes: plain Xen on one connection, or
xenshift's framed extension over one or more connections; either way a
plain Xen copy can be teed to a file (``--save-stream``, ``--save``).

An outlet takes the stream as the pre-copy loop makes it: ``control`` for
Xen bytes other than page data, ``pages`` for one batch of mapped guest
pages (released once sent), ``end_round`` when a round is complete.
"""

from __future__ import annotations

import queue
import struct
import threading
from typing import BinaryIO

from xenshift.migrate import extension as ext
from xenshift.migrate.backend.base import MappedPages
from xenshift.migrate.errors import MigrationError, TransportError
from xenshift.migrate.stream import writer
from xenshift.migrate.stream.writer import pfn_bytes
from xenshift.migrate.transport import Connection
from xenshift.native import PAGE_SIZE, ffi, lib

QUEUE_DEPTH = 4  # batches queued per data connection: 16 MiB each at most


def xen_words(pfns, count: int, mapped: MappedPages) -> memoryview:
    """The PAGE_DATA pfn words of a batch: the backend's typed ones (PV),
    else the pfns themselves."""
    return mapped.words if mapped.words is not None else pfn_bytes(pfns, count)


class Tee:
    """A plain Xen copy of the stream, written to a file."""

    def __init__(self, file: BinaryIO | None):
        self.file = file

    def write(self, *parts) -> None:
        if self.file is not None:
            for part in parts:
                self.file.write(part)


class Outlet:
    def __init__(self, conns: list[Connection], tee: Tee):
        self.conns = conns
        self.tee = tee

    @property
    def wire_bytes(self) -> int:
        return sum(c.bytes_sent for c in self.conns)

    def control(self, data: bytes) -> None:
        raise NotImplementedError

    def pages(self, pfns, count: int, mapped: MappedPages, verify: bool) -> None:
        raise NotImplementedError

    def end_round(self) -> None:
        """Return once every batch handed over so far has reached the peer."""
        for c in self.conns:
            c.drain()

    def sync(self) -> None:
        """Return once the destination has loaded every page sent so far,
        where the wire can say so; Xen's own format cannot before READY,
        and there the pipe's backpressure is all there is."""

    def lift_limit(self) -> None:
        for c in self.conns:
            if c.limiter is not None:
                c.limiter.lift()

    def close(self) -> None:
        """Stop helper threads (connections are closed by their owner)."""


class XenOutlet(Outlet):
    """Xen's own format on one connection: what ``xl migrate-receive`` reads."""

    def __init__(self, conn: Connection | None, tee: Tee):
        super().__init__([conn] if conn is not None else [], tee)
        self.conn = conn

    def control(self, data: bytes) -> None:
        if self.conn is not None:
            self.conn.send(data)
        self.tee.write(data)

    def pages(self, pfns, count: int, mapped: MappedPages, verify: bool) -> None:
        with mapped:
            words = xen_words(pfns, count, mapped)
            head = writer.page_data_head(words, mapped.count)
            if self.conn is not None:
                self.conn.sendv([head, words, mapped.span or mapped.view])
            self.tee.write(head, words, mapped.view)


class _PageWorker(threading.Thread):
    """Packs and sends batches on one data connection (GIL released in C).

    Every worker takes batches from one shared queue, so a connection that
    is slow for a moment holds back only itself: the others go on with the
    next batches (the barrier tells the receiver how many went each way).
    """

    def __init__(self, conn: Connection, options: ext.Extensions, batches: queue.Queue):
        super().__init__(daemon=True, name=f"pages-{conn.name}")
        self.conn = conn
        self.options = options
        self.queue = batches
        self.error: Exception | None = None
        self.sent_in_round = 0  # counted by this thread, read after queue.join()
        cap = ext.MAX_BATCH_SIZE * PAGE_SIZE
        self.nz = bytearray(cap) if options.zero_pages else None
        self.nz_pfns = ffi.new("uint64_t[]", ext.MAX_BATCH_SIZE)
        self.z_pfns = ffi.new("uint64_t[]", ext.MAX_BATCH_SIZE)
        self.counts = ffi.new("size_t[2]")
        self.zbuf = bytearray(ext.ZSTD_MAX) if options.compress else None
        self.zstd = ffi.gc(lib.xs_zstd_new(1), lib.xs_zstd_free) if options.compress else None

    def run(self) -> None:
        while True:
            item = self.queue.get()
            try:
                if item is None:
                    return
                pfns, count, mapped, verify, round_no = item
                with mapped:
                    self.sent_in_round += 1
                    if self.error is None:
                        self._send(pfns, count, mapped, verify, round_no)
            except Exception as err:  # noqa: BLE001 - reported by end_round
                self.error = err
            finally:
                self.queue.task_done()

    def _send(self, pfns, count: int, mapped: MappedPages, verify: bool, round_no: int) -> None:
        data, nz, nzero = mapped.view, count, 0
        nz_words, z_words = pfn_bytes(pfns, count), b""
        if self.nz is not None and not verify:
            lib.xs_split_zero(ffi.from_buffer(mapped.view), pfns, count,
                              ffi.from_buffer(self.nz), len(self.nz),
                              self.nz_pfns, self.z_pfns, self.counts)
            nz, nzero = self.counts[0], self.counts[1]
            data = memoryview(self.nz)[:nz * PAGE_SIZE]
            nz_words, z_words = pfn_bytes(self.nz_pfns, nz), pfn_bytes(self.z_pfns, nzero)
        flags = (ext.FLAG_VERIFY if verify else 0) | (ext.FLAG_TYPED if mapped.words is not None else 0)
        if self.zstd is not None and nz:
            n = lib.xs_zstd_compress(self.zstd, ffi.from_buffer(self.zbuf), len(self.zbuf),
                                     ffi.from_buffer(data), len(data))
            if n < 0:
                raise MigrationError("zstd compression failed")
            data = memoryview(self.zbuf)[:n]
            flags |= ext.FLAG_ZSTD
        body = ext.PAGES_HDR.size + len(nz_words) + len(z_words) + len(data)
        # Untouched guest pages go from their file when the backend has one.
        payload = mapped.span if data is mapped.view and mapped.span else data
        self.conn.sendv([ext.FRAME.pack(ext.KIND_PAGES, body),
                         ext.PAGES_HDR.pack(flags, round_no, nz, nzero, len(data)),
                         nz_words, z_words, payload])


class FramedOutlet(Outlet):
    """xenshift's extension: XEN frames on the control connection, PAGES on
    ``data`` connections (the control one itself when there is one)."""

    def __init__(self, control: Connection, data: list[Connection],
                 options: ext.Extensions, tee: Tee):
        super().__init__([control] + [c for c in data if c is not control], tee)
        self.ctrl = control
        self.options = options
        self.separate = any(c is not control for c in data)
        self.batches: queue.Queue = queue.Queue(QUEUE_DEPTH * len(data))
        self.workers = [_PageWorker(c, options, self.batches) for c in data]
        for w in self.workers:
            w.start()
        self._round = 0

    def control(self, data: bytes) -> None:
        self.ctrl.sendv(ext.xen_frames(data))
        self.tee.write(data)

    def pages(self, pfns, count: int, mapped: MappedPages, verify: bool) -> None:
        if mapped.words is not None:
            if verify or mapped.count == 0:
                # A VERIFY pass, or words only (a stretch of an HVM guest's
                # MMIO hole): Xen's own PAGE_DATA, as it is.
                with mapped:
                    self.control(b"".join([writer.page_data_head(mapped.words, mapped.count),
                                           mapped.words, mapped.view]))
                return
            # A typed batch (PV page types, HVM holes): its words stand in for
            # the pfns, so its pages compress and split as plain ones do.
            # Words without data (holes, broken pages) go ahead as a
            # PAGE_DATA of words only.
            pfns = ffi.from_buffer("uint64_t[]", mapped.words)
            count = len(mapped.words) // 8
            if count != mapped.count:
                words = [pfns[i] for i in range(count)]
                holes = [w for w in words if w >> 60 >= lib.XS_PV_TYPE_BROKEN]
                holes_bytes = struct.pack(f"<{len(holes)}Q", *holes)
                self.control(writer.page_data_head(holes_bytes, 0) + holes_bytes)
                pfns = ffi.new("uint64_t[]", [w for w in words if w >> 60 < lib.XS_PV_TYPE_BROKEN])
            count = mapped.count
        if self.tee.file is not None:
            words = pfn_bytes(pfns, count)
            self.tee.write(writer.page_data_head(words, count), words, mapped.view)
        self._check()
        self.batches.put((pfns, count, mapped, verify, self._round))

    def _check(self) -> None:
        for w in self.workers:
            if w.error is not None:
                if isinstance(w.error, (MigrationError, TransportError)):
                    raise w.error
                raise MigrationError(f"page sender failed: {w.error}") from w.error

    def end_round(self) -> None:
        self.batches.join()
        self._check()
        if self.separate:
            self.ctrl.send(ext.barrier_frame(self._round, [w.sent_in_round for w in self.workers]))
        for w in self.workers:
            w.sent_in_round = 0
        self._round += 1
        super().end_round()

    def sync(self) -> None:
        if self.options.sync:
            # After end_round: the round numbered here is the one just ended.
            self.ctrl.send(ext.sync_frame(self._round - 1))
            ext.read_synced(self.ctrl, self._round - 1)

    def close(self) -> None:
        for _ in self.workers:
            try:
                self.batches.put(None, timeout=5)
            except queue.Full:
                pass  # stuck on a dead connection; it is a daemon thread
        for w in self.workers:
            w.join(timeout=5)
