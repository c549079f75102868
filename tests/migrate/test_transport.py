"""Connection.sendv: whole with respect to other threads' sends."""

from __future__ import annotations

import threading

from tests.migrate.recording import RecordingConnection


def test_sends_from_two_threads_do_not_interleave() -> None:
    conn = RecordingConnection(pause=0.001)
    frames = {b"A": [b"A"] * 20, b"B": [b"B"] * 20}

    def sender(parts):
        for _ in range(10):
            conn.sendv(parts)

    threads = [threading.Thread(target=sender, args=(p,)) for p in frames.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    out = bytes(conn.out)
    assert len(out) == 400 and conn.bytes_sent == 400
    assert all(len(set(out[i:i + 20])) == 1 for i in range(0, 400, 20))

