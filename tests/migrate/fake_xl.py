"""``xl migrate-receive -p`` for the xen backend's tests.

It speaks xl's handshake on stdout, reads the xl stream on stdin with
xenshift's strict reader and keeps a copy in OUT for Xen's verifier.
``python fake_xl.py OUT [fail-build|fail-report]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from xenshift.migrate import handover  # noqa: E402
from xenshift.migrate.restore import guest_pages  # noqa: E402
from xenshift.migrate.stream.framing import ExactReader  # noqa: E402
from xenshift.migrate.stream.reader import Format, read_stream  # noqa: E402


class Tee:
    def __init__(self, src, copy):
        self.src, self.copy = src, copy

    def readinto(self, view) -> int:
        n = self.src.readinto(view)
        self.copy.write(view[:n])
        return n


class Discard:
    def begin(self, config, domain, policy) -> int:
        guest_pages(config)  # checks the config as xl would
        # libxc's HVM restore takes pfns past the guest's size (its special
        # pages); only the pfn field bounds them.
        return 1 << 52

    def p2m_frames(self, p2m) -> None:
        pass

    def page_data(self, head, reader, verify) -> None:
        reader.read_into(memoryview(bytearray(head.data_pages * 4096)), "page data")


def main() -> int:
    out, mode = Path(sys.argv[1]), (sys.argv[2] if len(sys.argv) > 2 else "")
    send, recv = sys.stdout.buffer, sys.stdin.buffer
    send.write(handover.BANNER)
    send.flush()
    with open(out, "wb") as copy:
        read_stream(ExactReader(Tee(recv, copy), "stdin"), Discard(), Format.XL)
    if mode == "fail-build":
        print("libxl: error: the device model did not start", file=sys.stderr)
        return 1
    send.write(handover.READY)
    send.flush()
    if recv.read(len(handover.PERMISSION)) != handover.PERMISSION:
        return 3
    send.write(handover.REPORT + (b"\5" if mode == "fail-report" else b"\0"))
    send.flush()
    return 1 if mode == "fail-report" else 0


if __name__ == "__main__":
    sys.exit(main())
