"""xl's migration handshake (tools/xl/xl_migrate.c), byte for byte.

receiver → ``BANNER``; sender → stream; receiver builds ``NAME--incoming``
paused → ``READY``; sender renames itself ``NAME--migratedaway`` →
``PERMISSION``; receiver renames, unpauses → ``REPORT`` + one status byte.
Status 0: the sender destroys its copy.  Otherwise the receiver destroys
its copy and sends ``PERMISSION`` back, and the sender resumes.
"""

from __future__ import annotations

from xenshift.migrate.errors import HandoverError, TransportError
from xenshift.migrate.transport import Connection

BANNER = b"xl migration receiver ready, send binary domain data.\n"
READY = b"domain received, ready to unpause\0"
PERMISSION = b"domain is yours, you are cleared to unpause\0"
REPORT = b"my copy unpause results are as follows\0"


def expect(conn: Connection, message: bytes, what: str) -> None:
    """Read exactly ``message`` from the peer or raise HandoverError."""
    try:
        got = conn.read_exact(len(message), what)
    except TransportError as err:
        raise HandoverError(f"{what}: {err}") from None
    if got != message:
        raise HandoverError(f"{what}: the peer sent {got[:40]!r}, not xl's message")


def read_report(conn: Connection) -> int:
    """The destination's unpause status after ``REPORT``."""
    expect(conn, REPORT, "the destination's unpause report")
    try:
        return conn.read_exact(1, "the unpause status")[0]
    except TransportError as err:
        raise HandoverError(f"the unpause status: {err}") from None
