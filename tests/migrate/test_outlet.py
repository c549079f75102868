"""FramedOutlet: what goes on the wire for batches the Xen backend makes."""

from __future__ import annotations

import struct

from tests.migrate.recording import RecordingConnection
from xenshift.migrate import extension as ext
from xenshift.migrate.backend.xen_source import TypedPages
from xenshift.migrate.outlet import FramedOutlet, Tee
from xenshift.migrate.stream import libxc


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
