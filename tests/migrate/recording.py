"""A Connection that keeps what is sent to it, for tests of what goes on the wire."""

from __future__ import annotations

import time

from xenshift.migrate.transport import Connection


class RecordingConnection(Connection):
    """Appends each part to ``out``; ``pause`` seconds after each, as a TLS
    send of one part at a time gives other threads their chance."""

    name = "recording"

    def __init__(self, pause: float = 0.0):
        super().__init__()
        self.out = bytearray()
        self.pause = pause

    def _sendv(self, parts) -> None:
        for p in parts:
            self.out += p
            if self.pause:
                time.sleep(self.pause)

    def _sendfile_fd(self):
        return None
