"""xenshift's negotiated wire extension: parallel page streams, zstd,
zero-page skipping, checksums and paused hand-over.

Off by default: a sender that asks for none of these speaks plain xl, and
any xl receiver understands it.  When asked for, the sender answers xl's
banner with a hello (``HELLO_MAGIC``, which no xl stream starts with), the
receiver accepts or refuses, and the Xen stream then travels in frames:

* ``XEN`` frames carry the Xen stream bytes except page data;
* ``PAGES`` frames carry a batch: non-zero pfns, zero pfns, data (raw or one
  zstd frame), on the control connection or on ``streams`` extra ones;
* ``BARRIER`` ends a round: how many PAGES frames each data connection
  carried.  A receiver applies no page of round N+1 before every page of
  round N (a page dirtied twice must end with its later copy), and nothing
  after the last barrier before all rounds are in.
* ``SYNC`` (with ``sync``) follows a live round; the receiver answers with
  the round's number once it has applied every page sent before it.
  Compressed pages pile up in socket buffers and in the receiver: without
  the answer, the sender could suspend the guest while the destination
  still had seconds of earlier rounds to load, all of it downtime.

What ``--save-stream`` keeps is still the plain Xen stream.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import asdict, dataclass, replace

from xenshift.migrate.errors import HandoverError, StreamFormatError
from xenshift.migrate.stream.framing import ExactReader
from xenshift.migrate.stream.libxc import MAX_BATCH_SIZE
from xenshift.migrate.transport import Connection
from xenshift.native import PAGE_SIZE, lib

HELLO_MAGIC = b"xenshift-ext-v1\n"
DATA_MAGIC = b"xenshift-data-1\n"
HELLO = struct.Struct("<16sI12x")  # the same 32 bytes as xl's magic
REPLY = struct.Struct("<I")
DATA_HELLO = struct.Struct("<16s16sI")
JSON_MAX = 1 << 16

FRAME = struct.Struct("<II")
KIND_XEN, KIND_PAGES, KIND_BARRIER, KIND_SYNC = 1, 2, 3, 4
PAGES_HDR = struct.Struct("<IIIII")  # flags, round, non-zero count, zero count, data bytes
# FLAG_TYPED: the pfns are a PV guest's PAGE_DATA words, page types included.
FLAG_VERIFY, FLAG_ZSTD, FLAG_TYPED = 1, 2, 4
BARRIER_HDR = struct.Struct("<II")  # round, channels
SYNC = struct.Struct("<I")  # round, in the frame and in the answer
XEN_FRAME_MAX = 1 << 20
ZSTD_MAX = lib.xs_zstd_bound(MAX_BATCH_SIZE * PAGE_SIZE)
MAX_STREAMS = 16


@dataclass(frozen=True)
class Extensions:
    """What the sender asks for and the receiver agreed to."""

    compress: str | None = None
    zero_pages: bool = False
    streams: int = 1
    verify: bool = False
    paused: bool = False
    sync: bool = False  # not wanted alone: it only paces the others
    token: str = ""

    @property
    def wanted(self) -> bool:
        return bool(self.compress or self.zero_pages or self.streams > 1
                    or self.verify or self.paused)

    def with_token(self) -> "Extensions":
        return replace(self, token=os.urandom(16).hex())


def send_hello(conn: Connection, ext: Extensions) -> None:
    """Ask for the extensions; raise HandoverError if the receiver refuses."""
    body = json.dumps(asdict(ext)).encode()
    conn.sendv([HELLO.pack(HELLO_MAGIC, len(body)), body])
    try:
        (length,) = REPLY.unpack(conn.read_exact(REPLY.size, "the extension reply"))
        if length > JSON_MAX:
            raise ValueError("oversized reply")
        reply = json.loads(conn.read_exact(length, "the extension reply"))
    except Exception as err:  # noqa: BLE001 - any failure means no extensions
        raise HandoverError(f"the receiver does not speak xenshift's extensions "
                            f"(an xl receiver?): {err}") from None
    if not reply.get("accept"):
        raise HandoverError(f"the receiver refused the extensions: {reply.get('reason')}")


def read_hello(reader: ExactReader, first: bytes) -> Extensions:
    """Parse a hello whose first 32 bytes (``first``) are already read."""
    magic, length = HELLO.unpack(first)
    if magic != HELLO_MAGIC or length > JSON_MAX:
        raise reader.error("bad extension hello")
    try:
        data = json.loads(reader.read(length, "extension hello"))
        ext = Extensions(**data)
    except (ValueError, TypeError) as err:
        raise reader.error(f"bad extension hello: {err}") from None
    if ext.compress not in (None, "zstd") or not 1 <= ext.streams <= MAX_STREAMS:
        raise reader.error(f"unsupported extension request {data}")
    return ext


def send_reply(conn: Connection, accept: bool, reason: str = "") -> None:
    body = json.dumps({"accept": accept, "reason": reason}).encode()
    conn.sendv([REPLY.pack(len(body)), body])


def data_hello(token: str, index: int) -> bytes:
    return DATA_HELLO.pack(DATA_MAGIC, bytes.fromhex(token), index)


def read_data_hello(conn: Connection, token: str) -> int:
    """Check a data connection's hello; return its index."""
    magic, tok, index = DATA_HELLO.unpack(conn.read_exact(DATA_HELLO.size, "data hello"))
    if magic != DATA_MAGIC or tok != bytes.fromhex(token):
        raise HandoverError(f"{conn.name}: not a data connection of this migration")
    return index


def xen_frames(data: bytes) -> list[bytes]:
    """Xen stream bytes cut into ``XEN`` frames."""
    out = []
    for i in range(0, len(data), XEN_FRAME_MAX):
        chunk = data[i:i + XEN_FRAME_MAX]
        out += [FRAME.pack(KIND_XEN, len(chunk)), chunk]
    return out


def barrier_frame(round_no: int, counts: list[int]) -> bytes:
    body = BARRIER_HDR.pack(round_no, len(counts)) + struct.pack(f"<{len(counts)}Q", *counts)
    return FRAME.pack(KIND_BARRIER, len(body)) + body


def read_barrier(reader: ExactReader, length: int, channels: int) -> list[int]:
    at = reader.offset
    if length != BARRIER_HDR.size + 8 * channels:
        raise StreamFormatError("BARRIER frame of the wrong size", at, reader.name)
    _round, n = reader.unpack(BARRIER_HDR, "BARRIER")
    if n != channels:
        raise StreamFormatError(f"BARRIER for {n} channels, {channels} negotiated", at, reader.name)
    return list(struct.unpack(f"<{n}Q", reader.read(8 * n, "BARRIER counts")))


def sync_frame(round_no: int) -> bytes:
    return FRAME.pack(KIND_SYNC, SYNC.size) + SYNC.pack(round_no)


def read_sync(reader: ExactReader, length: int) -> int:
    """The round a SYNC frame (header read, ``length`` bytes) asks about."""
    if length != SYNC.size:
        raise StreamFormatError("SYNC frame of the wrong size", reader.offset, reader.name)
    (round_no,) = reader.unpack(SYNC, "SYNC")
    return round_no


def read_synced(conn: Connection, round_no: int) -> None:
    """Wait (as long as the connection's silence allows) for the
    receiver's answer that round ``round_no`` is applied."""
    (got,) = SYNC.unpack(conn.read_exact(SYNC.size, "the destination's sync answer"))
    if got != round_no:
        raise HandoverError(f"the destination answered sync {got}, not {round_no}")


def send_checksum(conn: Connection, checksum: str) -> None:
    """The destination's checksum, sent before xl's READY with ``verify``."""
    body = checksum.encode()
    conn.sendv([REPLY.pack(len(body)), body])


def read_checksum(conn: Connection) -> str:
    (length,) = REPLY.unpack(conn.read_exact(REPLY.size, "the destination checksum"))
    if length > 256:
        raise HandoverError("oversized checksum from the destination")
    return conn.read_exact(length, "the destination checksum").decode("ascii", "replace")
