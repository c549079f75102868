"""FramedOutlet: what goes on the wire for batches the Xen backend makes."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from types import SimpleNamespace

from tests.migrate.recording import RecordingConnection
from xenshift.migrate import extension as ext
from xenshift.migrate.backend.base import MappedPages
from xenshift.migrate.backend.xen_source import TypedPages
from xenshift.migrate.errors import MigrationError
from xenshift.migrate.outlet import FramedOutlet, Tee
from xenshift.migrate.restore import FramedInlet
from xenshift.migrate.stream import libxc
from xenshift.migrate.transport import SocketConnection
from xenshift.native import PAGE_SIZE, ffi


def test_a_batch_of_holes_only_goes_as_words_without_a_pages_frame() -> None:
    """A stretch of an HVM guest's MMIO hole: PAGE_DATA of XTAB words, no
    empty PAGES frame (which a receiver must refuse)."""
    conn = RecordingConnection()
    outlet = FramedOutlet(conn, [conn], ext.Extensions(compress="zstd"), Tee(None))
    try:
        words = struct.pack("<4Q", *(0xF << 60 | pfn for pfn in range(0x9000, 0x9004)))
        outlet.pages(None, 4, TypedPages(memoryview(words), None), verify=False)
        outlet.end_round()
    finally:
        outlet.close()
    kind, length = ext.FRAME.unpack_from(conn.out)
    assert kind == ext.KIND_XEN and len(conn.out) == ext.FRAME.size + length
    record = bytes(conn.out[ext.FRAME.size:])
    assert struct.unpack_from("<II", record) == (libxc.REC_PAGE_DATA, 8 + 32)
    assert record[16:] == words


class _Pages(MappedPages):
    def __init__(self, data: bytes):
        self.view, self.count = memoryview(data), len(data) // PAGE_SIZE


class _SlowDest:
    """A destination that takes its time over each batch, as xl's restore
    does under load."""

    typed_words = False
    name = "slow"

    def __init__(self):
        self.loaded: list[int] = []

    def write_pages(self, pfns, count: int, data) -> None:
        time.sleep(0.3)
        self.loaded += [pfns[i] for i in range(count)]

    def zero_pages(self, pfns, count: int) -> None:
        self.write_pages(pfns, count, None)


def test_a_synced_round_ends_once_the_destination_has_loaded_it() -> None:
    """The sender must not suspend the guest while pages it sent still sit
    in socket buffers or wait in the receiver: that backlog is downtime."""
    a, b = socket.socketpair()
    options = ext.Extensions(compress="zstd", sync=True)
    dest = _SlowDest()
    inlet = FramedInlet(SocketConnection(b, "receiver"), [], options,
                        SimpleNamespace(dest=dest))

    def read_until_closed() -> None:
        with contextlib.suppress(MigrationError):  # the sender's close ends it
            inlet.readinto(memoryview(bytearray(1)))

    reader = threading.Thread(target=read_until_closed, daemon=True)
    reader.start()
    control = SocketConnection(a, "sender")
    outlet = FramedOutlet(control, [control], options, Tee(None))
    try:
        for first in (0, 16):
            pfns = ffi.new("uint64_t[]", list(range(first, first + 16)))
            outlet.pages(pfns, 16, _Pages(b"page" * (16 * PAGE_SIZE // 4)), verify=False)
        outlet.end_round()
        outlet.sync()
        assert dest.loaded == list(range(32))
        # The receiver answered and reads on: the connection holds nothing more.
        assert reader.is_alive()
    finally:
        outlet.close()
        a.close()
        reader.join(10)
        b.close()
