"""Record framing common to the libxc and libxl streams, and bounded reading.

A record is ``type u32, body_length u32`` (little-endian on x86), the body,
then zero padding to a multiple of 8.  Bit 31 of the type marks an optional
record.  Every read goes through :class:`ExactReader`, which knows its
offset, refuses short reads and never buffers more than one record.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO, Callable, Protocol

from xenshift.migrate.errors import StreamFormatError, TruncatedStreamError

RECORD_HEADER = struct.Struct("<II")
# The bounce buffer of read_into_file when the source cannot splice.
FILE_CHUNK = 1 << 20
OPTIONAL_BIT = 1 << 31
# libxc's REC_LENGTH_MAX: restore refuses longer records whatever the type.
REC_LENGTH_MAX = 128 << 20
_ZEROS = bytes(8)


def padding(length: int) -> int:
    """Bytes of zero padding after a body of ``length`` bytes."""
    return -length & 7


def record_bytes(rtype: int, body: bytes = b"") -> bytes:
    """One whole record: header, body and padding."""
    return RECORD_HEADER.pack(rtype, len(body)) + body + _ZEROS[:padding(len(body))]


class ByteSource(Protocol):
    """Anything with ``readinto``: a file, a socket file, a pipe, a demux."""

    def readinto(self, view: memoryview) -> int | None: ...


class ExactReader:
    """Exact-length reads from a byte source, with offset tracking.

    ``name`` is used in error messages.  A read that hits the end of the
    source raises :class:`TruncatedStreamError` naming what was being read.
    """

    def __init__(self, source: ByteSource | BinaryIO, name: str = "stream"):
        self._source = source
        self.name = name
        self.offset = 0

    def read_into(self, view: memoryview, what: str) -> None:
        """Fill ``view`` completely or raise."""
        self._take(len(view), what, lambda got: self._source.readinto(view[got:]))

    def read_into_file(self, fd: int, offset: int, size: int, what: str) -> None:
        """Write the next ``size`` bytes into file ``fd`` at ``offset``.

        A source with ``readinto_file`` (a plain socket or pipe) moves them
        in the kernel; others go through a small buffer and ``pwrite``.
        Either way no page of the file is faulted in through a mapping,
        which for fresh guest memory costs more than the copy itself.
        """
        splice = getattr(self._source, "readinto_file", None)
        bounce = _Bounce(self._source, fd, offset, size)

        def step(got: int) -> int | None:
            nonlocal splice
            n = splice(fd, offset + got, size - got) if splice is not None else None
            if n is None:
                splice = None
                return bounce.step(got)
            return n

        self._take(size, what, step)

    def _take(self, size: int, what: str, step: Callable[[int], int | None]) -> None:
        """Call ``step(bytes so far)`` until ``size`` bytes are in; it
        returns how many it moved, 0 or None at the end of the source."""
        got = 0
        while got < size:
            n = step(got)
            if not n:
                raise TruncatedStreamError(
                    f"stream ends inside {what} ({got} of {size} bytes)",
                    self.offset + got, self.name)
            got += n
        self.offset += size

    def read(self, size: int, what: str) -> bytes:
        """``size`` bytes as a new ``bytes`` object."""
        buf = bytearray(size)
        self.read_into(memoryview(buf), what)
        return bytes(buf)

    def unpack(self, fmt: struct.Struct, what: str) -> tuple:
        """Read and unpack one fixed-size structure."""
        return fmt.unpack(self.read(fmt.size, what))

    def skip_padding(self, length: int, what: str) -> None:
        """Consume the padding after a body of ``length`` bytes; it must be 0."""
        pad = padding(length)
        if pad:
            at = self.offset
            if self.read(pad, f"padding of {what}") != _ZEROS[:pad]:
                raise StreamFormatError(f"non-zero padding after {what}", at, self.name)

    def error(self, message: str, at: int | None = None) -> StreamFormatError:
        """A format error located at ``at`` (default: the current offset)."""
        return StreamFormatError(message, self.offset if at is None else at, self.name)


class _Bounce:
    """Reads into a small buffer and writes it to a file at an offset."""

    def __init__(self, source: ByteSource, fd: int, offset: int, size: int):
        self.source, self.fd, self.offset = source, fd, offset
        self.size = size
        self.buf: memoryview | None = None

    def step(self, got: int) -> int | None:
        if self.buf is None:
            self.buf = memoryview(bytearray(min(self.size, FILE_CHUNK)))
        n = self.source.readinto(self.buf[:self.size - got])
        done = 0
        while done < (n or 0):
            done += os.pwrite(self.fd, self.buf[done:n], self.offset + got + done)
        return n


def read_record_header(reader: ExactReader, layer: str) -> tuple[int, int, int]:
    """Read a record header; return ``(type, body_length, offset_of_record)``."""
    at = reader.offset
    rtype, length = reader.unpack(RECORD_HEADER, f"{layer} record header")
    if length > REC_LENGTH_MAX:
        raise reader.error(
            f"{layer} record type {rtype:#x} claims {length} bytes, over the "
            f"{REC_LENGTH_MAX}-byte limit", at)
    return rtype, length, at


def read_body(reader: ExactReader, length: int, cap: int, what: str, at: int) -> bytes:
    """Read a record body of ``length`` bytes and its padding, if within ``cap``."""
    if length > cap:
        raise reader.error(f"{what} record of {length} bytes is over its cap of {cap}", at)
    body = reader.read(length, what)
    reader.skip_padding(length, what)
    return body


def skip_body(reader: ExactReader, length: int, cap: int, what: str, at: int) -> None:
    """Consume an ignored record body in bounded pieces (optional records)."""
    if length > cap:
        raise reader.error(f"{what} record of {length} bytes is over its cap of {cap}", at)
    chunk = bytearray(min(length, 1 << 16) or 1)
    left = length
    while left:
        n = min(left, len(chunk))
        reader.read_into(memoryview(chunk)[:n], what)
        left -= n
    reader.skip_padding(length, what)
